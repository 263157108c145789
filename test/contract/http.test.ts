/**
 * The HTTP API over real HTTP on loopback (fetch against a listening server, not fastify.inject).
 * Every bad input gets its status and specific message checked, against a server without a model and
 * against one serving the shipped model; then the happy path with the real model, and the process
 * (src/main.ts) itself: bad config, missing model, graceful shutdown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../config/schema';
import { buildServer } from '../../src/http/server';
import { ApiAuth } from '../../src/http/auth';

/** No API keys: the API is open, as in local mode on loopback. */
const OPEN_API = ApiAuth.fromEntries([]);
import { createLogger, type Logger } from '../../src/log';
import { loadScorer } from '../../src/sentiment/load';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import { LABELS, type Explained, type Prediction, type Scorer } from '../../src/sentiment/types';
import { UDHR } from '../helpers/languages';

const ROOT = resolve(__dirname, '../..');
const MODEL_DIR = join(ROOT, 'models/sentinel-bilstm');
const JSON_HEADERS = { 'content-type': 'application/json' };

/** Response bodies are checked field by field against exact expectations. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const json = (res: Response): Promise<Json> => res.json();

interface Running {
  app: FastifyInstance;
  url: string;
}

async function start(slot: ScorerSlot, opts: { config?: Partial<Config>; logger?: Logger } = {}): Promise<Running> {
  const config = { ...loadConfig({}), ...opts.config };
  const app = buildServer({ auth: OPEN_API, slot, config, logger: opts.logger ?? createLogger('silent') });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}` };
}

/** A slot that failed the way main.ts fails it: with the real loader's reason. */
async function failedSlot(dir: string): Promise<ScorerSlot> {
  const slot = new ScorerSlot();
  try {
    slot.set(await loadScorer(dir));
    throw new Error(`expected loading ${dir} to fail`);
  } catch (err) {
    slot.fail(`cannot load the model from ${dir}: ${(err as Error).message}`);
  }
  return slot;
}

function capture(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    logger: createLogger('info', { stream }),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = JSON_HEADERS,
): Promise<{ status: number; json: Json; headers: Headers }> {
  const res = await fetch(`${url}/predict`, {
    method: 'POST',
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Json) : undefined, headers: res.headers };
}

// ---------------------------------------------------------------------------------------------------
// Every bad input, as a table run against both servers (without and with a model).

interface BadCase {
  name: string;
  send: (url: string) => Promise<{ status: number; json: Json }>;
  status: number;
  code: string;
  message: RegExp | string;
}

const longText = 'a'.repeat(1001);
const BAD_INPUTS: BadCase[] = [
  {
    name: 'no body at all',
    send: (u) => post(u, undefined, {}),
    status: 400,
    code: 'missing_body',
    message:
      /request body is missing: send \{"text": "\.\.\."\} or \{"texts": \["\.\.\.", \.\.\.\]\} with Content-Type: application\/json/,
  },
  {
    name: 'empty JSON body',
    send: (u) => post(u, ''),
    status: 400,
    code: 'missing_body',
    message: /request body is empty/,
  },
  {
    name: 'malformed JSON',
    send: (u) => post(u, '{"text": "hello"'),
    status: 400,
    code: 'malformed_json',
    message: /^request body is not valid JSON: /,
  },
  {
    name: 'JSON with a bare word',
    send: (u) => post(u, '{"text": hello}'),
    status: 400,
    code: 'malformed_json',
    message: /^request body is not valid JSON: Unexpected token/,
  },
  {
    name: 'whitespace-only JSON body',
    send: (u) => post(u, '   '),
    status: 400,
    code: 'malformed_json',
    message: /not valid JSON/,
  },
  {
    name: 'text/plain',
    send: (u) => post(u, 'I love this airline', { 'content-type': 'text/plain' }),
    status: 415,
    code: 'unsupported_media_type',
    message: 'Content-Type must be application/json, got "text/plain"',
  },
  {
    name: 'form-urlencoded',
    send: (u) => post(u, 'text=hello', { 'content-type': 'application/x-www-form-urlencoded' }),
    status: 415,
    code: 'unsupported_media_type',
    message: 'Content-Type must be application/json, got "application/x-www-form-urlencoded"',
  },
  {
    name: 'a body without Content-Type',
    send: async (u) => {
      // fetch sends a byte body without Content-Type (a string body would get text/plain).
      const res = await fetch(`${u}/predict`, { method: 'POST', body: new TextEncoder().encode('{"text":"hi"}') });
      return { status: res.status, json: await json(res) };
    },
    status: 415,
    code: 'unsupported_media_type',
    message: 'Content-Type must be application/json, got none',
  },
  {
    name: 'body over MAX_BODY_BYTES (Content-Length)',
    send: (u) => post(u, { text: 'x'.repeat(70_000) }),
    status: 413,
    code: 'body_too_large',
    message: /^request body is larger than the limit of 65536 bytes \(got 70011 bytes\)$/,
  },
  {
    name: 'body over MAX_BODY_BYTES (chunked, no Content-Length)',
    send: async (u) => {
      const chunk = new TextEncoder().encode('x'.repeat(16_384));
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent === 0) controller.enqueue(new TextEncoder().encode('{"text": "'));
          if (sent++ < 8) controller.enqueue(chunk);
          else {
            controller.enqueue(new TextEncoder().encode('"}'));
            controller.close();
          }
        },
      });
      const res = await fetch(`${u}/predict`, {
        method: 'POST',
        headers: JSON_HEADERS,
        body,
        duplex: 'half',
      } as RequestInit);
      return { status: res.status, json: await json(res) };
    },
    status: 413,
    code: 'body_too_large',
    message: /^request body is larger than the limit of 65536 bytes$/,
  },
  {
    name: 'a JSON array',
    send: (u) => post(u, ['hi']),
    status: 400,
    code: 'invalid_body',
    message: /^request body must be a JSON object: .*; got an array$/,
  },
  { name: 'JSON null', send: (u) => post(u, 'null'), status: 400, code: 'invalid_body', message: /got null$/ },
  {
    name: 'a JSON string',
    send: (u) => post(u, '"I hate delays"'),
    status: 400,
    code: 'invalid_body',
    message: /got a string$/,
  },
  {
    name: 'neither text nor texts',
    send: (u) => post(u, {}),
    status: 400,
    code: 'missing_text',
    message: /^request body has neither "text" nor "texts"/,
  },
  {
    name: 'both text and texts',
    send: (u) => post(u, { text: 'a', texts: ['b'] }),
    status: 400,
    code: 'ambiguous_input',
    message: 'request body has both "text" and "texts": send one or the other',
  },
  {
    name: 'text a number',
    send: (u) => post(u, { text: 42 }),
    status: 400,
    code: 'invalid_text',
    message: '"text" must be a string, got a number',
  },
  {
    name: 'text null',
    send: (u) => post(u, { text: null }),
    status: 400,
    code: 'invalid_text',
    message: '"text" must be a string, got null',
  },
  {
    name: 'text an object',
    send: (u) => post(u, { text: { a: 1 } }),
    status: 400,
    code: 'invalid_text',
    message: '"text" must be a string, got an object',
  },
  {
    name: 'text empty',
    send: (u) => post(u, { text: '' }),
    status: 400,
    code: 'empty_text',
    message: '"text" is empty or only whitespace',
  },
  {
    name: 'text whitespace only',
    send: (u) => post(u, { text: ' \n\t ' }),
    status: 400,
    code: 'empty_text',
    message: '"text" is empty or only whitespace',
  },
  {
    name: 'text over MAX_TEXT_CHARS',
    send: (u) => post(u, { text: longText }),
    status: 400,
    code: 'text_too_long',
    message: '"text" is 1001 characters long; the limit is 1000',
  },
  {
    name: 'text over MAX_TEXT_CHARS counted in characters, not UTF-16 units',
    send: (u) => post(u, { text: '😡'.repeat(1001) }),
    status: 400,
    code: 'text_too_long',
    message: '"text" is 1001 characters long; the limit is 1000',
  },
  {
    name: 'texts a string',
    send: (u) => post(u, { texts: 'hello' }),
    status: 400,
    code: 'invalid_texts',
    message: '"texts" must be an array of strings, got a string',
  },
  {
    name: 'texts an object',
    send: (u) => post(u, { texts: { 0: 'a' } }),
    status: 400,
    code: 'invalid_texts',
    message: '"texts" must be an array of strings, got an object',
  },
  {
    name: 'texts empty',
    send: (u) => post(u, { texts: [] }),
    status: 400,
    code: 'empty_texts',
    message: '"texts" is empty; send 1 to 256 texts',
  },
  {
    name: 'texts over MAX_TEXTS',
    send: (u) => post(u, { texts: Array.from({ length: 257 }, (_, i) => `t${i}`) }),
    status: 400,
    code: 'too_many_texts',
    message: '"texts" has 257 items; the limit is 256',
  },
  {
    name: 'a non-string element',
    send: (u) => post(u, { texts: ['fine', 'also fine', 7] }),
    status: 400,
    code: 'invalid_text',
    message: 'texts[2] must be a string, got a number',
  },
  {
    name: 'a null element',
    send: (u) => post(u, { texts: [null] }),
    status: 400,
    code: 'invalid_text',
    message: 'texts[0] must be a string, got null',
  },
  {
    name: 'an empty element',
    send: (u) => post(u, { texts: ['fine', '  '] }),
    status: 400,
    code: 'empty_text',
    message: 'texts[1] is empty or only whitespace',
  },
  {
    name: 'an element over MAX_TEXT_CHARS',
    send: (u) => post(u, { texts: ['fine', longText] }),
    status: 400,
    code: 'text_too_long',
    message: 'texts[1] is 1001 characters long; the limit is 1000',
  },
  {
    name: 'an unknown field',
    send: (u) => post(u, { text: 'hi', lang: 'en' }),
    status: 400,
    code: 'unknown_field',
    message: 'unknown field "lang"; allowed: text, texts, explain, keep_text',
  },
  {
    name: 'several unknown fields',
    send: (u) => post(u, { txt: 'hi', model: 'x' }),
    status: 400,
    code: 'unknown_field',
    message: 'unknown fields "txt", "model"; allowed: text, texts, explain, keep_text',
  },
  {
    name: 'a __proto__ key',
    send: (u) => post(u, '{"text": "hi", "__proto__": {"admin": true}}'),
    status: 400,
    code: 'unknown_field',
    message: 'unknown field "__proto__"; allowed: text, texts, explain, keep_text',
  },
  {
    name: 'explain not a boolean',
    send: (u) => post(u, { text: 'hi', explain: 'yes' }),
    status: 400,
    code: 'invalid_explain',
    message: '"explain" must be true or false, got a string',
  },
  {
    name: 'explain with texts',
    send: (u) => post(u, { texts: ['hi'], explain: true }),
    status: 400,
    code: 'explain_needs_text',
    message: '"explain" works with a single "text", not with "texts"',
  },
  {
    name: 'GET /predict',
    send: async (u) => {
      const res = await fetch(`${u}/predict`);
      expect(res.headers.get('allow')).toBe('POST');
      return { status: res.status, json: await json(res) };
    },
    status: 405,
    code: 'method_not_allowed',
    message: 'GET is not allowed on /predict; use POST',
  },
  {
    name: 'POST /health',
    send: async (u) => {
      const res = await fetch(`${u}/health`, { method: 'POST', headers: JSON_HEADERS, body: '{}' });
      return { status: res.status, json: await json(res) };
    },
    status: 405,
    code: 'method_not_allowed',
    message: 'POST is not allowed on /health; use GET',
  },
  {
    name: 'an unknown route',
    send: async (u) => {
      const res = await fetch(`${u}/nope?token=xoxb-not-echoed`);
      return { status: res.status, json: await json(res) };
    },
    status: 404,
    code: 'not_found',
    message: 'no route for GET /nope; routes: POST /predict, GET /health, GET /ready, GET /metrics',
  },
];

function badInputSuite(getUrl: () => string): void {
  it.each(BAD_INPUTS.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const { status, json } = await c.send(getUrl());
    expect({ status, code: json?.error?.code }).toEqual({ status: c.status, code: c.code });
    expect(Object.keys(json)).toEqual(['error']);
    expect(Object.keys(json.error).sort()).toEqual(['code', 'message']);
    if (typeof c.message === 'string') expect(json.error.message).toBe(c.message);
    else expect(json.error.message).toMatch(c.message);
  });

  it('never echoes the body of a malformed request', async () => {
    const { status, json } = await post(getUrl(), '{"text": "xoxb-1234-SECRET-TOKEN is mine", oops}');
    expect(status).toBe(400);
    expect(JSON.stringify(json)).not.toContain('SECRET');
  });
}

// ---------------------------------------------------------------------------------------------------

describe('without a model (not ready)', () => {
  let server: Running;
  beforeAll(async () => {
    server = await start(await failedSlot(join(ROOT, 'models/does-not-exist')));
  });
  afterAll(() => server.app.close());

  describe('bad input is a 4xx with a specific message, before readiness is considered', () => {
    badInputSuite(() => server.url);
  });

  it('a text in another language needs no model: answered as not read, 200', async () => {
    const { status, json } = await post(server.url, { texts: [UDHR.fr, UDHR.es] });
    expect(status).toBe(200);
    expect(json).toEqual({
      predictions: [
        { language: 'fr', supported: false },
        { language: 'es', supported: false },
      ],
    });
    expect((await post(server.url, { texts: [UDHR.fr, 'the crew was lovely today'] })).status).toBe(503);
  });

  it('GET /health is 200 while the process serves', async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ status: 'ok' });
  });

  it('GET /ready is 503 with the reason the model is not loaded', async () => {
    const res = await fetch(`${server.url}/ready`);
    expect(res.status).toBe(503);
    const body = await json(res);
    expect(body).toEqual({
      ready: false,
      reason: expect.stringContaining('cannot load the model from'),
      dependencies: { model: { status: 'down', reason: body.reason } },
    });
    expect(body.reason).toContain('does-not-exist');
  });

  it('POST /predict with a valid body is 503 with the reason, never an answer', async () => {
    for (const body of [{ text: 'the flight was great' }, { texts: ['a', 'b'] }, { text: 'why', explain: true }]) {
      const { status, json } = await post(server.url, body);
      expect(status).toBe(503);
      expect(json.error.code).toBe('not_ready');
      expect(json.error.message).toMatch(/^the model is not ready: cannot load the model from .*does-not-exist/);
    }
  });

  it('accepts application/json with a charset and 1000 emoji (1000 characters, 2000 UTF-16 units)', async () => {
    const { status, json } = await post(
      server.url,
      { text: '😡'.repeat(1000) },
      { 'content-type': 'application/json; charset=utf-8' },
    );
    expect(status).toBe(503); // passed validation; only the missing model stops it
    expect(json.error.code).toBe('not_ready');
  });

  it('GET /metrics reports readiness 0 and requests by route and status', async () => {
    await post(server.url, { text: 'x' });
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^sentinel_scorer_ready 0$/m);
    expect(text).toMatch(/^sentinel_http_requests_total\{method="POST",route="\/predict",status="503"\} \d+$/m);
    expect(text).toMatch(/^sentinel_http_requests_total\{method="GET",route="unmatched",status="404"\} \d+$/m);
    expect(text).toMatch(
      /^sentinel_http_request_duration_seconds_bucket\{le="0\.005",method="POST",route="\/predict",status="400"\} \d+$/m,
    );
    expect(text).toContain('process_cpu_user_seconds_total');
  });
});

describe('the real loader refuses a broken model directory (the slot says why)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sentinel-model-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('an empty directory', async () => {
    const slot = await failedSlot(dir);
    const server = await start(slot);
    try {
      const res = await fetch(`${server.url}/ready`);
      expect(res.status).toBe(503);
      const body = await json(res);
      expect(body.reason).toContain(dir);
    } finally {
      await server.app.close();
    }
  });

  it('a corrupt manifest', async () => {
    writeFileSync(join(dir, 'manifest.json'), '{ not json');
    const slot = await failedSlot(dir);
    const state = slot.current();
    expect(state.ready).toBe(false);
    expect(!state.ready && state.reason).toContain('manifest.json');
  });
});

describe('a scorer that throws', () => {
  // A failure injector for the 500 path: it never answers, so it is no stand-in for the model.
  const exploding: Scorer = {
    info: { name: 'exploding', version: 'test', backend: 'none', labels: LABELS, maxLength: 10 },
    score: () => Promise.reject(new Error('kernel exploded: internal detail')),
    explain: () => {
      throw new Error('synchronous kernel failure: internal detail');
    },
    unreadable: () => null,
    dispose: () => undefined,
  };
  let server: Running;
  let logs: () => Record<string, unknown>[];
  beforeAll(async () => {
    const slot = new ScorerSlot();
    slot.set(exploding);
    const c = capture();
    logs = c.lines;
    server = await start(slot, { logger: c.logger });
  });
  afterAll(() => server.app.close());

  it('gives a 500 with a generic message, logs the cause, and keeps serving', async () => {
    for (const body of [{ text: 'hello' }, { texts: ['a', 'b'] }, { text: 'hello', explain: true }]) {
      const { status, json } = await post(server.url, body);
      expect(status).toBe(500);
      expect(json.error.code).toBe('scoring_failed');
      expect(json.error.message).toMatch(
        /^the model failed to score this request; the error was logged with request id \S+$/,
      );
      expect(JSON.stringify(json)).not.toContain('internal detail');
    }
    const errors = logs().filter((l) => l.msg === 'scorer failed');
    expect(errors).toHaveLength(3);
    expect(JSON.stringify(errors[0].err)).toContain('kernel exploded');
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------------
// The happy path, with the shipped model through the real loader.

describe('with the shipped model', () => {
  let server: Running;
  let scorer: Scorer;
  beforeAll(async () => {
    scorer = await loadScorer(MODEL_DIR, { maxBatch: 64 });
    const slot = new ScorerSlot();
    slot.set(scorer);
    server = await start(slot);
  });
  afterAll(async () => {
    await server?.app.close();
    scorer?.dispose();
  });

  function expectPrediction(p: Prediction): void {
    expect(LABELS).toContain(p.label);
    expect(Object.keys(p.probabilities).sort()).toEqual([...LABELS].sort());
    const sum = Object.values(p.probabilities).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 3);
    expect(p.confidence).toBeCloseTo(p.probabilities[p.label], 6);
    expect(p.confidence).toBe(Math.max(...Object.values(p.probabilities)));
    expect(p.modelVersion).toBe(scorer.info.version);
  }

  it('GET /ready is 200 with the model name, version and backend', async () => {
    const res = await fetch(`${server.url}/ready`);
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toEqual({
      ready: true,
      status: 'ok',
      model: {
        name: scorer.info.name,
        version: scorer.info.version,
        backend: scorer.info.backend,
        labels: [...LABELS],
        maxLength: scorer.info.maxLength,
      },
      dependencies: { model: { status: 'ok' } },
    });
    expect(body.model.name).toBe('sentinel-bilstm');
    expect(['tensorflow', 'wasm', 'cpu']).toContain(body.model.backend);
  });

  it('POST /predict {text} scores one text', async () => {
    const { status, json } = await post(server.url, {
      text: '@united worst airline ever, lost my bag and cancelled my flight. never again',
    });
    expect(status).toBe(200);
    expect(Object.keys(json)).toEqual(['prediction']);
    expectPrediction(json.prediction);
    expect(json.prediction.label).toBe('negative');
    expect(json.prediction).not.toHaveProperty('words');
  });

  it('POST /predict {texts} scores a batch, in order, the same as one by one', async () => {
    const texts = [
      '@JetBlue thank you so much, the crew was amazing and the flight was perfect!',
      '@united worst airline ever, lost my bag and cancelled my flight. never again',
      '@SouthwestAir what time does the 5pm flight to Denver board?',
    ];
    const { status, json } = await post(server.url, { texts });
    expect(status).toBe(200);
    expect(Object.keys(json)).toEqual(['predictions']);
    expect(json.predictions).toHaveLength(3);
    json.predictions.forEach(expectPrediction);
    expect(json.predictions[0].label).toBe('positive');
    expect(json.predictions[1].label).toBe('negative');
    for (let i = 0; i < texts.length; i++) {
      const one = await post(server.url, { text: texts[i] });
      expect(one.json.prediction.label).toBe(json.predictions[i].label);
      for (const l of LABELS)
        expect(one.json.prediction.probabilities[l]).toBeCloseTo(json.predictions[i].probabilities[l], 4);
    }
  });

  it('accepts the largest batch (256 texts of 1000 characters would exceed the body limit, so 256 tweets)', async () => {
    const texts = Array.from({ length: 256 }, (_, i) => `@united flight ${i} delayed again, this is ridiculous`);
    const { status, json } = await post(server.url, { texts });
    expect(status).toBe(200);
    expect(json.predictions).toHaveLength(256);
  });

  it('accepts a text of exactly MAX_TEXT_CHARS', async () => {
    const { status, json } = await post(server.url, { text: 'great flight '.repeat(100).slice(0, 1000) });
    expect(status).toBe(200);
    expectPrediction(json.prediction);
  });

  it('POST /predict {text, explain: true} adds the words that pushed the prediction', async () => {
    const { status, json } = await post(server.url, {
      text: '@united you lost my bag, terrible service',
      explain: true,
    });
    expect(status).toBe(200);
    const p = json.prediction as Explained;
    expectPrediction(p);
    expect(p.label).toBe('negative');
    expect(Array.isArray(p.words)).toBe(true);
    expect(p.words.length).toBeGreaterThan(0);
    for (const w of p.words) {
      expect(typeof w.word).toBe('string');
      expect(typeof w.weight).toBe('number');
    }
    const plain = await post(server.url, { text: '@united you lost my bag, terrible service', explain: false });
    expect(plain.json.prediction).not.toHaveProperty('words');
  });

  it('close() (what SIGTERM does) lets an in-flight request finish, then refuses new ones', async () => {
    // The real scorer, slowed down so the request is surely in flight when the server closes.
    let started!: () => void;
    const inFlight = new Promise<void>((r) => (started = r));
    const slow: Scorer = {
      info: scorer.info,
      score: async (texts) => {
        started();
        await new Promise((r) => setTimeout(r, 300));
        return scorer.score(texts);
      },
      explain: (text) => scorer.explain(text),
      unreadable: (text) => scorer.unreadable(text),
      dispose: () => undefined,
    };
    const slot = new ScorerSlot();
    slot.set(slow);
    const other = await start(slot);
    const pending = post(other.url, { text: 'delayed again, unbelievable' });
    await inFlight;
    await other.app.close();
    const { status, json } = await pending;
    expect(status).toBe(200);
    expect(json.prediction.label).toBe('negative');
    await expect(fetch(`${other.url}/health`)).rejects.toThrow();
  });

  describe('bad input is still a 4xx with a specific message when a model is serving', () => {
    badInputSuite(() => server.url);
  });

  it('keeps serving after bad input', async () => {
    for (const c of BAD_INPUTS) await c.send(server.url);
    const { status, json } = await post(server.url, { text: 'thanks for the upgrade, lovely crew' });
    expect(status).toBe(200);
    expectPrediction(json.prediction);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  describe('languages (issue 14): a text the model does not read gets no label', () => {
    it('a French text: its language, "supported": false, nothing else (no label, no probabilities, no id)', async () => {
      const { status, json } = await post(server.url, { text: `@AirParadis ${UDHR.fr}` });
      expect(status).toBe(200);
      expect(json).toEqual({ prediction: { language: 'fr', supported: false } });
      // explain asks for words that drove a label: there is none
      const explained = await post(server.url, { text: UDHR.es, explain: true });
      expect(explained.json).toEqual({ prediction: { language: 'es', supported: false } });
    });

    it('an English text says so beside its label; a short one is undetermined and read as English', async () => {
      const { json } = await post(server.url, {
        text: '@AirParadis 3 hours on the tarmac and no one tells us anything',
      });
      expectPrediction(json.prediction);
      expect(json.prediction).toMatchObject({ language: 'en', supported: true });
      const short = await post(server.url, { text: '@AirParadis thanks!' });
      expectPrediction(short.json.prediction);
      expect(short.json.prediction).toMatchObject({ language: 'und', supported: true });
    });

    it('a batch mixing languages: the English ones scored as ever, the others answered in their place', async () => {
      const english = ['@AirParadis thanks, the crew was lovely', '@AirParadis where is my bag, 2 hours already'];
      const mixed = await post(server.url, { texts: [english[0], UDHR.de, english[1], UDHR.pt] });
      const alone = await post(server.url, { texts: english });
      expect(mixed.status).toBe(200);
      const [a, de, b, pt] = mixed.json.predictions;
      expect(de).toEqual({ language: 'de', supported: false });
      expect(pt).toEqual({ language: 'pt', supported: false });
      for (const [p, same] of [
        [a, alone.json.predictions[0]],
        [b, alone.json.predictions[1]],
      ]) {
        expectPrediction(p);
        expect(p).toMatchObject({ language: 'en', supported: true, label: same.label });
        expect(p.confidence).toBeCloseTo(same.confidence, 4);
      }
    });

    it('the English texts of a batch are still checked: one with nothing to read fails the request', async () => {
      const { status, json } = await post(server.url, { texts: [UDHR.fr, '@AirParadis https://t.co/x'] });
      expect(status).toBe(400);
      expect(json.error.code).toBe('nothing_to_read');
      expect(json.error.message).toMatch(/^texts\[1\] has nothing the model can read/);
    });

    it('GET /metrics counts the texts by language', async () => {
      await post(server.url, { texts: [UDHR.it, UDHR.nl, 'I love it, the best flight I ever had'] });
      const text = await (await fetch(`${server.url}/metrics`)).text();
      expect(text).toMatch(/^sentinel_predict_texts_by_language_total\{language="it"\} [1-9]\d*$/m);
      expect(text).toMatch(/^sentinel_predict_texts_by_language_total\{language="nl"\} [1-9]\d*$/m);
      expect(text).toMatch(/^sentinel_predict_texts_by_language_total\{language="en"\} [1-9]\d*$/m);
    });
  });

  it('GET /metrics counts predictions by label and reports the model', async () => {
    await post(server.url, { texts: ['I love it', 'I hate it'] });
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/^sentinel_scorer_ready 1$/m);
    expect(text).toMatch(
      new RegExp(
        `^sentinel_scorer_info\\{name="sentinel-bilstm",version="${scorer.info.version}",backend="${scorer.info.backend}"\\} 1$`,
        'm',
      ),
    );
    expect(text).toMatch(/^sentinel_predictions_total\{label="negative"\} \d+$/m);
    expect(text).toMatch(/^sentinel_http_requests_total\{method="POST",route="\/predict",status="200"\} \d+$/m);
  });
});

// ---------------------------------------------------------------------------------------------------
// The process: src/main.ts as `npm start` runs it.

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => ok(port));
    });
  });
}

interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function run(env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    // BUNDLED_REPLAY=false: no local-mode replay here (test/contract/local-mode.test.ts covers it).
    // A database of its own: SQLite is one process per file (and never the working tree's data/).
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      BUNDLED_REPLAY: 'false',
      SQLITE_PATH: join(mkdtempSync(join(tmpdir(), 'sentinel-http-proc-')), 'sentinel.db'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Polls `url` until `accept(status, body)` holds (the server may not be listening yet); `accept` may throw to give up. */
async function waitFor(
  url: string,
  accept: (status: number, body: Json) => boolean,
  timeoutMs = 30_000,
): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    let answer: { status: number; body: Json } | undefined;
    try {
      const res = await fetch(url);
      answer = { status: res.status, body: await json(res) };
    } catch (err) {
      last = (err as Error).message;
    }
    if (answer) {
      if (accept(answer.status, answer.body)) return answer.body;
      last = `${answer.status} ${JSON.stringify(answer.body)}`;
    }
    if (Date.now() > deadline) throw new Error(`${url} not as expected after ${timeoutMs} ms (last: ${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the process (src/main.ts)', () => {
  const running: Proc[] = [];
  afterAll(() => {
    for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  });

  it('refuses to start on an invalid setting, naming it, with exit code 1', async () => {
    const p = run({ PORT: 'abc', LOG_LEVEL: 'loud' });
    running.push(p);
    expect(await p.exited).toBe(1);
    expect(p.stderr()).toContain('PORT: expected an integer between 1 and 65535, got "abc"');
    expect(p.stderr()).toContain(
      'LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    );
  });

  it('without a model: serves /health, /ready 503 with the reason, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const p = run({ PORT: String(port), HOST: '127.0.0.1', MODEL_DIR: 'models/not-there' });
    running.push(p);
    const base = `http://127.0.0.1:${port}`;
    const body = await waitFor(`${base}/ready`, (s, b) => s === 503 && !b.reason.includes('still loading'));
    expect(body).toMatchObject({
      ready: false,
      reason: expect.stringMatching(/^cannot load the model from models\/not-there: /),
      dependencies: { model: { status: 'down' }, store: { status: 'ok' }, leader: { status: 'ok', role: 'single' } },
    });
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect((await post(base, { text: 'hello' })).status).toBe(503);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    const logs = p.stdout();
    expect(logs).toContain('NOT READY');
    expect(logs).toContain('"msg":"stopped"');
  });

  it('with the shipped model: becomes ready, answers, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const p = run({ PORT: String(port), HOST: '127.0.0.1' });
    running.push(p);
    const base = `http://127.0.0.1:${port}`;
    const ready = await waitFor(`${base}/ready`, (s, b) => {
      if (s === 503 && !b.reason.includes('still loading')) throw new Error(`the model did not load: ${b.reason}`);
      return s === 200;
    });
    expect(ready.model.name).toBe('sentinel-bilstm');
    const { status, json } = await post(base, { text: 'the crew was lovely, thank you' });
    expect(status).toBe(200);
    expect(LABELS).toContain(json.prediction.label);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.stdout()).toContain('"msg":"stopped"');
  });
});
