/**
 * POST/DELETE /feedback and GET /feedback/accuracy over real HTTP on loopback: a fastify app with only the
 * feedback plugin and a real SQLite store in a temp dir. Every bad input gets its status, code and exact
 * message checked; then the happy path, read back through the accuracy route.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { ApiAuth, newApiKey, protect } from '../../src/http/auth';
import { feedbackRoutes } from '../../src/http/feedback-route';
import { createLogger } from '../../src/log';
import { openSqliteStore } from '../../src/store/sqlite';
import type { Store, StoredPrediction } from '../../src/store/types';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const JSON_HEADERS = { 'content-type': 'application/json' };
const MAX_BODY = 1024;

const PREDICTION: StoredPrediction = {
  id: '3f2a9c1e-5b7d-4e21-9a0c-1d2e3f405162',
  kind: 'api',
  text: 'my bag is lost again',
  label: 'negative',
  probabilities: { negative: 0.9, neutral: 0.07, positive: 0.03 },
  modelVersion: 'bilstm-2026.01',
  createdAt: '2026-01-01T00:00:00.000Z',
};
const MENTION_ID = '569587140490866689';

// Two API keys with the feedback scope: each is one voter (api:<name>); a third without it.
const AGENT_7 = newApiKey('agent-7', ['feedback']);
const DASHBOARD = newApiKey('dashboard', ['feedback', 'predict']);
const SCORER_ONLY = newApiKey('scorer', ['predict']);
const AUTH = ApiAuth.fromEntries([AGENT_7.entry, DASHBOARD.entry, SCORER_ONLY.entry]);
const as = (key: { key: string }) => ({ ...JSON_HEADERS, authorization: `Bearer ${key.key}` });

interface Running {
  app: FastifyInstance;
  url: string;
  logs: () => Record<string, unknown>[];
}

async function start(store: Store): Promise<Running> {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const app = fastify({ loggerInstance: createLogger('info', { stream }) });
  protect(app as unknown as FastifyInstance, { auth: AUTH, perMinute: 10_000 });
  await app.register(feedbackRoutes, { store, maxBodyBytes: MAX_BODY });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return {
    app: app as unknown as FastifyInstance,
    url: `http://127.0.0.1:${port}`,
    logs: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
  };
}

let dir: string;
let store: Store;
let server: Running;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sentinel-feedback-http-'));
  store = openSqliteStore(join(dir, 'sentinel.db'));
  await store.migrate();
  await store.savePredictions([PREDICTION]);
  await store.saveMentions([
    {
      id: MENTION_ID,
      stream: 'airparadis',
      createdAt: '2015-02-24T11:35:52.000Z',
      text: '@AirParadis thanks for the upgrade!',
      prediction: {
        label: 'positive',
        confidence: 0.8,
        probabilities: { negative: 0.1, neutral: 0.1, positive: 0.8 },
        modelVersion: 'bilstm-2025.12',
      },
    },
  ]);
  server = await start(store);
});

afterAll(async () => {
  await server?.app.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** As agent-7 unless told otherwise; `headers` without a content type still carry the key. */
function send(method: string, path: string, body?: unknown, headers: Record<string, string> = as(AGENT_7)) {
  return fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: as(AGENT_7).authorization, ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function expectError(res: Response, status: number, code: string, message: string | RegExp): Promise<void> {
  const body: Json = await res.json();
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  if (typeof message === 'string') expect(body.error.message).toBe(message);
  else expect(body.error.message).toMatch(message);
  expect(Object.keys(body)).toEqual(['error']);
}

const VOTE = { prediction_id: PREDICTION.id, correct: true };
const VOTE_EXAMPLE =
  'send {"prediction_id": "...", "correct": true or false, "true_label": "negative" | "neutral" | "positive" (optional)}';

describe('POST /feedback: bad input', () => {
  test.each<[string, unknown, number, string, string | RegExp]>([
    ['an array body', [VOTE], 400, 'invalid_body', `request body must be a JSON object: ${VOTE_EXAMPLE}; got an array`],
    [
      'a string body',
      '"hello"',
      400,
      'invalid_body',
      `request body must be a JSON object: ${VOTE_EXAMPLE}; got a string`,
    ],
    ['null', 'null', 400, 'invalid_body', `request body must be a JSON object: ${VOTE_EXAMPLE}; got null`],
    [
      'an unknown field',
      { ...VOTE, label: 'negative' },
      400,
      'unknown_field',
      'unknown field "label"; allowed: prediction_id, correct, true_label',
    ],
    [
      'two unknown fields',
      { ...VOTE, a: 1, b: 2 },
      400,
      'unknown_field',
      'unknown fields "a", "b"; allowed: prediction_id, correct, true_label',
    ],
    ['no prediction_id', { correct: true }, 400, 'missing_field', `"prediction_id" is missing: ${VOTE_EXAMPLE}`],
    [
      'a voter named in the body',
      { ...VOTE, user: 'U123' },
      400,
      'user_not_accepted',
      '"user" is not accepted: the vote is counted for the API key that sends it; remove the field',
    ],
    ['no correct', { prediction_id: 'p' }, 400, 'missing_field', `"correct" is missing: ${VOTE_EXAMPLE}`],
    [
      'a numeric prediction_id (a tweet id sent as a number loses digits)',
      '{"prediction_id": 569587140490866689, "correct": true}',
      400,
      'invalid_prediction_id',
      '"prediction_id" must be a string, got a number',
    ],
    [
      'an empty prediction_id',
      { ...VOTE, prediction_id: '' },
      400,
      'invalid_prediction_id',
      '"prediction_id" is empty',
    ],
    [
      'a too long prediction_id',
      { ...VOTE, prediction_id: 'p'.repeat(201) },
      400,
      'invalid_prediction_id',
      '"prediction_id" is 201 characters long; the limit is 200',
    ],
    [
      'correct as a string',
      { ...VOTE, correct: 'true' },
      400,
      'invalid_correct',
      '"correct" must be true or false, got "true"',
    ],
    ['correct as 1', { ...VOTE, correct: 1 }, 400, 'invalid_correct', '"correct" must be true or false, got a number'],
    [
      'an unknown true_label',
      { ...VOTE, correct: false, true_label: 'angry' },
      400,
      'invalid_true_label',
      '"true_label" must be one of "negative", "neutral", "positive"; got "angry"',
    ],
    [
      'a capitalised true_label',
      { ...VOTE, correct: false, true_label: 'Neutral' },
      400,
      'invalid_true_label',
      '"true_label" must be one of "negative", "neutral", "positive"; got "Neutral"',
    ],
    [
      'a numeric true_label',
      { ...VOTE, correct: false, true_label: 2 },
      400,
      'invalid_true_label',
      '"true_label" must be one of "negative", "neutral", "positive"; got a number',
    ],
    [
      'correct: true with another label',
      { ...VOTE, correct: true, true_label: 'positive' },
      400,
      'label_contradicts_vote',
      'the vote says the prediction "negative" is correct but gives the true label "positive"; ' +
        'send correct: false to say it should have been another label',
    ],
    [
      'correct: false with the predicted label',
      { ...VOTE, correct: false, true_label: 'negative' },
      400,
      'label_contradicts_vote',
      'the vote says the prediction is wrong but gives its own label "negative" as the true label; ' +
        'give one of neutral, positive, or send correct: true',
    ],
    [
      'an unknown prediction',
      { ...VOTE, prediction_id: 'no-such-id' },
      404,
      'unknown_prediction',
      'no prediction with id "no-such-id": use the id returned with the prediction',
    ],
  ])('%s', async (_name, body, status, code, message) => {
    await expectError(await send('POST', '/feedback', body), status, code, message);
  });

  test('malformed JSON says where it breaks, without echoing the body', async () => {
    await expectError(
      await send('POST', '/feedback', '{"prediction_id": secret'),
      400,
      'malformed_json',
      /^request body is not valid JSON: Unexpected token/,
    );
  });

  test('an empty body', async () => {
    await expectError(await send('POST', '/feedback', ''), 400, 'missing_body', /^request body is (empty|missing)/);
  });

  test('no body at all', async () => {
    await expectError(await send('POST', '/feedback', undefined, {}), 400, 'missing_body', /^request body is missing/);
  });

  test('a body that is not JSON is a 415', async () => {
    await expectError(
      await send('POST', '/feedback', 'correct=true', { 'content-type': 'application/x-www-form-urlencoded' }),
      415,
      'unsupported_media_type',
      'Content-Type must be application/json, got "application/x-www-form-urlencoded"',
    );
  });

  test('a body over the limit is a 413 naming the limit', async () => {
    const body = JSON.stringify({ ...VOTE, prediction_id: 'p'.repeat(MAX_BODY) });
    await expectError(
      await send('POST', '/feedback', body),
      413,
      'body_too_large',
      `request body is larger than the limit of ${MAX_BODY} bytes (got ${Buffer.byteLength(body)} bytes)`,
    );
  });

  test('nothing was recorded by any of the refused requests', async () => {
    const res = await send('GET', '/feedback/accuracy', undefined, {});
    const body: Json = await res.json();
    expect(body.models.filter((m: Json) => m.model_version === PREDICTION.modelVersion)).toEqual([]);
  });
});

describe('DELETE /feedback: bad input', () => {
  const EXAMPLE = 'send {"prediction_id": "..."}';
  test.each<[string, unknown, number, string, string]>([
    ['a vote field', { ...VOTE }, 400, 'unknown_field', 'unknown field "correct"; allowed: prediction_id'],
    [
      'a voter named in the body',
      { prediction_id: PREDICTION.id, user: 'U123' },
      400,
      'user_not_accepted',
      '"user" is not accepted: the vote is counted for the API key that sends it; remove the field',
    ],
    ['no prediction_id', {}, 400, 'missing_field', `"prediction_id" is missing: ${EXAMPLE}`],
    [
      'an unknown prediction',
      { prediction_id: 'nope' },
      404,
      'unknown_prediction',
      'no prediction with id "nope": use the id returned with the prediction',
    ],
  ])('%s', async (_name, body, status, code, message) => {
    await expectError(await send('DELETE', '/feedback', body), status, code, message);
  });

  test('no body', async () => {
    await expectError(
      await send('DELETE', '/feedback', undefined, {}),
      400,
      'missing_body',
      `request body is missing: ${EXAMPLE} with Content-Type: application/json`,
    );
  });
});

describe('methods', () => {
  test.each([
    ['PUT', '/feedback', 'PUT is not allowed on /feedback; use POST or DELETE', 'POST, DELETE'],
    ['GET', '/feedback', 'GET is not allowed on /feedback; use POST or DELETE', 'POST, DELETE'],
    ['POST', '/feedback/accuracy', 'POST is not allowed on /feedback/accuracy; use GET', 'GET'],
  ])('%s %s is a 405', async (method, path, message, allow) => {
    const res = await send(method, path, method === 'GET' ? undefined : {});
    expect(res.headers.get('allow')).toBe(allow);
    await expectError(res, 405, 'method_not_allowed', message);
  });
});

describe('the happy path', () => {
  test('vote, change the vote, vote with another key, read accuracy, retract', async () => {
    let res = await send('POST', '/feedback', VOTE);
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ recorded: true });

    // The same user changes their mind: still one vote.
    res = await send('POST', '/feedback', { ...VOTE, correct: false, true_label: 'neutral' });
    expect(res.status).toBe(201);
    res = await send('POST', '/feedback', { ...VOTE, correct: true, true_label: null }, as(DASHBOARD));
    expect(res.status).toBe(201);
    // A mention's prediction, by its "x:<tweet id>" id; correct with the same label is accepted.
    res = await send('POST', '/feedback', {
      prediction_id: `x:${MENTION_ID}`,
      correct: true,
      true_label: 'positive',
    });
    expect(res.status).toBe(201);

    res = await send('GET', '/feedback/accuracy', undefined, {});
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      models: [
        { model_version: 'bilstm-2025.12', votes: 1, correct: 1, accuracy: 1 },
        { model_version: 'bilstm-2026.01', votes: 2, correct: 1, accuracy: 0.5 },
      ],
    });
    expect(await store.feedbackExamples()).toEqual([
      { text: '@AirParadis thanks for the upgrade!', label: 'positive' },
    ]);

    res = await send('DELETE', '/feedback', { prediction_id: PREDICTION.id });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ retracted: true });
    res = await send('DELETE', '/feedback', { prediction_id: PREDICTION.id });
    expect(await res.json()).toEqual({ retracted: false });

    res = await send('GET', '/feedback/accuracy', undefined, {});
    expect(((await res.json()) as Json).models[1]).toEqual({
      model_version: 'bilstm-2026.01',
      votes: 1,
      correct: 1,
      accuracy: 1,
    });
  });
});

describe('a failing store', () => {
  test('is a logged 500 with a generic message, and the server keeps serving', async () => {
    const broken = Object.create(store) as Store;
    broken.getPrediction = async () => {
      throw new Error('disk I/O error');
    };
    const other = await start(broken);
    try {
      const res = await fetch(`${other.url}/feedback`, {
        method: 'POST',
        headers: as(AGENT_7),
        body: JSON.stringify(VOTE),
      });
      await expectError(
        res,
        500,
        'storage_failed',
        /^could not record the vote; the error was logged with request id \S+$/,
      );
      const line = other.logs().find((l) => l.msg === 'feedback: record the vote failed');
      expect((line?.err as Json)?.message).toBe('disk I/O error');
      const ok = await fetch(`${other.url}/feedback/accuracy`, { headers: as(AGENT_7) });
      expect(ok.status).toBe(200);
    } finally {
      await other.app.close();
    }
  });
});

describe("credentials: every vote is its key's, and only its key can change it", () => {
  const vote = { prediction_id: `x:${MENTION_ID}`, correct: false, true_label: 'negative' };

  test('no key, an unknown key, a key without the feedback scope', async () => {
    const res = await fetch(`${server.url}/feedback`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify(vote),
    });
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="sentinel"');
    await expectError(res, 401, 'unauthorized', 'this endpoint needs an API key: send "Authorization: Bearer <key>"');
    await expectError(
      await send('POST', '/feedback', vote, { ...JSON_HEADERS, authorization: 'Bearer snt_forged' }),
      401,
      'unauthorized',
      'unknown API key',
    );
    await expectError(
      await send('GET', '/feedback/accuracy', undefined, as(SCORER_ONLY)),
      403,
      'forbidden',
      'the API key "scorer" may not use feedback (its scopes: predict)',
    );
  });

  test('a key retracts only its own vote; fifty requests from one key are one vote', async () => {
    expect((await send('POST', '/feedback', vote)).status).toBe(201); // agent-7
    for (let i = 0; i < 50; i++) expect((await send('POST', '/feedback', vote, as(DASHBOARD))).status).toBe(201);
    const before: Json = await (await send('GET', '/feedback/accuracy')).json();
    const mention = () => (before.models as Json[]).find((m) => m.model_version === 'bilstm-2025.12');
    const votes = mention().votes;
    // agent-7 retracts its own vote, once; the dashboard's stays.
    expect(await (await send('DELETE', '/feedback', { prediction_id: vote.prediction_id })).json()).toEqual({
      retracted: true,
    });
    expect(await (await send('DELETE', '/feedback', { prediction_id: vote.prediction_id })).json()).toEqual({
      retracted: false,
    });
    const after: Json = await (await send('GET', '/feedback/accuracy')).json();
    const row = (after.models as Json[]).find((m) => m.model_version === 'bilstm-2025.12');
    expect(row.votes).toBe(votes - 1); // the dashboard's vote is still there
  });
});
