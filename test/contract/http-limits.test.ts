/**
 * What a stranger on the network meets (issue: security): credentials on /predict and /metrics, per-key
 * rate limits, and a server that slow or greedy clients cannot hold — over real HTTP and raw sockets on
 * loopback, with the shipped model.
 */
import { connect, type AddressInfo, type Socket } from 'node:net';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../config/schema';
import { ApiAuth, newApiKey } from '../../src/http/auth';
import { buildServer } from '../../src/http/server';
import { createLogger } from '../../src/log';
import { loadScorer } from '../../src/sentiment/load';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import { PredictionLog } from '../../src/feedback/prediction-log';
import { HealthBoard } from '../../src/ops/health';
import { openSqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';

const MODEL_DIR = join(resolve(__dirname, '../..'), 'models/sentinel-bilstm');
const PREDICTOR = newApiKey('predictor', ['predict']);
const PROMETHEUS = newApiKey('prometheus', ['metrics']);
const OTHER = newApiKey('other-app', ['predict']);
const bearer = (k: { key: string }) => ({ authorization: `Bearer ${k.key}` });
const JSON_HEADERS = { 'content-type': 'application/json' };

let slot: ScorerSlot;

beforeAll(async () => {
  slot = new ScorerSlot();
  slot.set(await loadScorer(MODEL_DIR));
});

afterAll(() => {
  const s = slot.current();
  if (s.ready) s.scorer.dispose();
});

async function start(
  config: Partial<Config>,
  auth: ApiAuth,
): Promise<{ app: FastifyInstance; url: string; port: number }> {
  const app = buildServer({ auth, slot, config: { ...loadConfig({}), ...config }, logger: createLogger('silent') });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, port };
}

const predict = (url: string, headers: Record<string, string>): Promise<Response> =>
  fetch(`${url}/predict`, {
    method: 'POST',
    headers: { ...JSON_HEADERS, ...headers },
    body: JSON.stringify({ text: 'lost my bag again' }),
  });

describe('credentials', () => {
  let server: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    server = await start({}, ApiAuth.fromEntries([PREDICTOR.entry, PROMETHEUS.entry]));
  });
  afterAll(() => server.app.close());

  test('/predict needs a key with the predict scope', async () => {
    let res = await predict(server.url, {});
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="sentinel"');
    expect((await res.json()) as Json).toEqual({
      error: { code: 'unauthorized', message: 'this endpoint needs an API key: send "Authorization: Bearer <key>"' },
    });
    expect((await predict(server.url, { authorization: 'Basic dXNlcjpwdw==' })).status).toBe(401);
    expect((await predict(server.url, { authorization: `Bearer ${PREDICTOR.key}x` })).status).toBe(401);
    res = await predict(server.url, bearer(PROMETHEUS));
    expect(res.status).toBe(403);
    expect(((await res.json()) as Json).error.message).toBe(
      'the API key "prometheus" may not use predict (its scopes: metrics)',
    );
    res = await predict(server.url, bearer(PREDICTOR));
    expect(res.status).toBe(200);
    expect(((await res.json()) as Json).prediction.label).toBe('negative');
  });

  test('/metrics needs the metrics scope; /health and /ready stay open for the platform probes', async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${server.url}/metrics`, { headers: bearer(PREDICTOR) })).status).toBe(403);
    const res = await fetch(`${server.url}/metrics`, { headers: bearer(PROMETHEUS) });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('sentinel_http_requests_total');
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);
  });

  test('the credential is checked before the body is read: a refused request never reaches the scorer', async () => {
    const res = await fetch(`${server.url}/predict`, { method: 'POST', headers: JSON_HEADERS, body: '{not json' });
    expect(res.status).toBe(401); // not 400: nothing of the body was looked at
  });
});

describe('rate limits per credential', () => {
  test('the n+1-th request in a minute is a 429 with Retry-After; another key is not slowed', async () => {
    const server = await start({ apiRateLimit: 3 }, ApiAuth.fromEntries([PREDICTOR.entry, OTHER.entry]));
    try {
      for (let i = 0; i < 3; i++) expect((await predict(server.url, bearer(PREDICTOR))).status).toBe(200);
      const res = await predict(server.url, bearer(PREDICTOR));
      expect(res.status).toBe(429);
      const retryAfter = Number(res.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(((await res.json()) as Json).error).toEqual({
        code: 'rate_limited',
        message: `more than 3 requests in a minute for predictor: retry in ${retryAfter} s`,
      });
      expect((await predict(server.url, bearer(OTHER))).status).toBe(200);
      expect((await fetch(`${server.url}/health`)).status).toBe(200); // probes are never limited
    } finally {
      await server.app.close();
    }
  });
});

/** A raw socket and everything the server sends until it closes the connection. */
function rawClient(port: number): { socket: Socket; closed: Promise<{ data: string; afterMs: number }> } {
  const started = Date.now();
  const socket = connect(port, '127.0.0.1');
  let data = '';
  socket.on('data', (d) => (data += d));
  socket.on('error', () => undefined);
  const closed = new Promise<{ data: string; afterMs: number }>((ok) =>
    socket.on('close', () => ok({ data, afterMs: Date.now() - started })),
  );
  return { socket, closed };
}

describe('slow and greedy clients', () => {
  test('a body declared 60,000 bytes and sent 14 is cut off after the request timeout (408)', async () => {
    const server = await start({ httpRequestTimeoutMs: 1000 }, ApiAuth.fromEntries([]));
    try {
      const client = rawClient(server.port);
      client.socket.write(
        'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{"text": "slow',
      );
      const { data, afterMs } = await client.closed;
      expect(data).toMatch(/^HTTP\/1\.1 408 /);
      expect(afterMs).toBeLessThan(5_000);
      // and the server still answers everyone else
      expect((await predict(server.url, {})).status).toBe(200);
    } finally {
      await server.app.close();
    }
  });

  test('headers that never finish are cut off too', async () => {
    const server = await start({ httpRequestTimeoutMs: 1000 }, ApiAuth.fromEntries([]));
    try {
      const client = rawClient(server.port);
      client.socket.write('GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: a');
      const { afterMs } = await client.closed;
      expect(afterMs).toBeLessThan(5_000);
    } finally {
      await server.app.close();
    }
  });

  test('connections beyond the cap are refused, and served again once others close', async () => {
    const server = await start({ httpMaxConnections: 2 }, ApiAuth.fromEntries([]));
    const held = [rawClient(server.port), rawClient(server.port)];
    try {
      await Promise.all(held.map((c) => new Promise((ok) => c.socket.once('connect', ok))));
      await new Promise((r) => setTimeout(r, 100));
      const third = rawClient(server.port);
      third.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
      const { data } = await third.closed;
      expect(data).toBe(''); // dropped without an answer
      for (const c of held) c.socket.destroy();
      await Promise.all(held.map((c) => c.closed));
      await new Promise((r) => setTimeout(r, 100));
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
    } finally {
      for (const c of held) c.socket.destroy();
      await server.app.close();
    }
  });
});

describe('nothing to read is not an opinion', () => {
  let server: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    server = await start({}, ApiAuth.fromEntries([]));
  });
  afterAll(() => server.app.close());

  const post = (body: unknown) =>
    fetch(`${server.url}/predict`, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) });

  test.each([
    ['zero-width characters only', '\u200b\u200c\u200d\u2060'],
    ['a NUL', '\u0000'],
    ['a lone surrogate', '\ud800'],
    ['the braille blank', '\u2800\u2800'],
    ['a thousand @', '@'.repeat(1000)],
    ['only a mention and a link', '@AirParadis https://t.co/abc'],
  ])('%s: 400 nothing_to_read, no prediction and no id', async (_name, text) => {
    const res = await post({ text });
    expect(res.status).toBe(400);
    const body = (await res.json()) as Json;
    expect(body.error.code).toBe('nothing_to_read');
    expect(body.error.message).toMatch(/^"text" has nothing the model can read: \S/);
  });

  test('in a batch, the message names the text', async () => {
    const res = await post({ texts: ['my bag is lost', '\u200b'] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Json).error.message).toMatch(/^texts\[1\] has nothing the model can read: /);
  });
});

describe('a store that stops taking writes', () => {
  test('/ready says so, an id handed out stays votable (503 to retry, never 404), and all recovers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-full-disk-'));
    const store = openSqliteStore(join(dir, 's.db'));
    await store.migrate();
    const full = Object.create(store) as Store;
    let diskFull = true;
    full.savePredictions = async (ps) => {
      if (diskFull) throw new Error('SQLITE_FULL: database or disk is full');
      return store.savePredictions(ps);
    };
    const predictionLog = new PredictionLog(full, { retryMs: 50, maxRetryMs: 100 });
    const app = buildServer({
      auth: ApiAuth.fromEntries([]),
      slot,
      config: loadConfig({}),
      logger: createLogger('silent'),
      store: full,
      predictionLog,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const vote = (id: string) =>
      fetch(`${url}/feedback`, {
        method: 'POST',
        headers: JSON_HEADERS,
        body: JSON.stringify({ prediction_id: id, correct: true }),
      });
    try {
      const res = await predict(url, {});
      expect(res.status).toBe(200);
      const id = ((await res.json()) as Json).prediction.id as string;
      await new Promise((r) => setTimeout(r, 200));
      const ready = await fetch(`${url}/ready`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as Json).reason).toContain('SQLITE_FULL');
      const early = await vote(id);
      expect(early.status).toBe(503);
      expect(early.headers.get('retry-after')).toBe('5');
      expect(((await early.json()) as Json).error.code).toBe('prediction_pending');

      // "keep_text": false keeps the prediction (votable) without the text.
      const quiet = await fetch(`${url}/predict`, {
        method: 'POST',
        headers: JSON_HEADERS,
        body: JSON.stringify({ text: 'my private complaint about seat 12A', keep_text: false }),
      });
      const quietId = ((await quiet.json()) as Json).prediction.id as string;

      diskFull = false;
      await new Promise((r) => setTimeout(r, 400));
      expect((await fetch(`${url}/ready`)).status).toBe(200);
      expect((await vote(id)).status).toBe(201);
      expect(await store.getPrediction(id)).not.toBeNull();
      expect(await store.getPrediction(quietId)).toMatchObject({ text: '', label: 'negative' });
    } finally {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('/ready tells the truth about each dependency', () => {
  test('a dependency down is reported with 200 (the replica still serves); no model is a 503', async () => {
    const board = new HealthBoard();
    board.register('slack', () => ({
      status: 'down',
      reason: 'cannot reach the Slack Web API',
      since: '2026-12-02T18:00:00.000Z',
    }));
    board.register('mentions', () => ({ status: 'degraded', reason: 'x:AirParadis: waiting for the rate limit' }));
    board.register('teams', () => null); // not configured: not listed
    const app = buildServer({
      auth: ApiAuth.fromEntries([]),
      slot,
      config: loadConfig({}),
      logger: createLogger('silent'),
      health: board,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      const res = await fetch(`${url}/ready`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as Json;
      expect(body.status).toBe('down');
      expect(body.dependencies).toEqual({
        model: { status: 'ok' },
        slack: { status: 'down', reason: 'cannot reach the Slack Web API', since: '2026-12-02T18:00:00.000Z' },
        mentions: { status: 'degraded', reason: 'x:AirParadis: waiting for the rate limit' },
      });
    } finally {
      await app.close();
    }

    const empty = buildServer({
      auth: ApiAuth.fromEntries([]),
      slot: new ScorerSlot('the model is still loading from models/sentinel-bilstm'),
      config: loadConfig({}),
      logger: createLogger('silent'),
      health: board,
    });
    await empty.listen({ port: 0, host: '127.0.0.1' });
    try {
      const res = await fetch(`http://127.0.0.1:${(empty.server.address() as AddressInfo).port}/ready`);
      expect(res.status).toBe(503);
      expect(((await res.json()) as Json).dependencies.model).toEqual({
        status: 'down',
        reason: 'the model is still loading from models/sentinel-bilstm',
      });
    } finally {
      await empty.close();
    }
  });
});
