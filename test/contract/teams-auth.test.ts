/**
 * Teams with MicrosoftAppId set, against real Bot Framework tokens: RS256 JWTs signed with a key this test
 * publishes the way login.botframework.com publishes the Bot Framework's (an OpenID configuration and its
 * JWKS, with the channels each key is endorsed for), on loopback. botbuilder's own validation runs on
 * them; only the metadata URL points here (TeamsDeps.openIdMetadata).
 *
 * A token that is forged (another key), meant for another bot, expired, unsigned, for another serviceUrl
 * or signed by an unknown key is answered 401 in ONE warn line, with nothing written to the console (where
 * botbuilder would print a stack trace or the signing key); an activity whose serviceUrl is not the Bot
 * Framework's is a 403 whatever its token; a good token with a Teams serviceUrl runs its turn. With the keys
 * out of reach (the OpenID metadata down, answering 500, or its JWKS down) a token only the keys can judge
 * is a 503 in ONE error line — never a 500 — and one refused for a reason that needs no key still a 401.
 */
import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../config/schema';
import { startTeams } from '../../adapters/teams';
import { refusedWithoutKeys } from '../../adapters/teams/http';
import { PredictionLog } from '../../src/feedback/prediction-log';
import { ApiAuth } from '../../src/http/auth';
import { buildServer } from '../../src/http/server';
import { createLogger } from '../../src/log';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import { openSqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const APP_ID = '0b5d6e5c-1c1a-4a8e-9f3e-2d0c6c1b7a10';
const TEAMS_URL = 'https://smba.trafficmanager.net/emea/';
const KID = 'sentinel-test-key';

const signing = generateKeyPairSync('rsa', { modulusLength: 2048 });
const forger = generateKeyPairSync('rsa', { modulusLength: 2048 });

let dir: string;
let store: Store;
let app: FastifyInstance;
let url: string;
let keys: Server;
let keyRequests = 0;
const logLines: Json[] = [];

const b64url = (x: string | Buffer) => Buffer.from(x).toString('base64url');

function jwt(claims: Json, opts: { key?: KeyObject; kid?: string; alg?: string } = {}): string {
  const header = b64url(JSON.stringify({ alg: opts.alg ?? 'RS256', typ: 'JWT', kid: opts.kid ?? KID }));
  const payload = b64url(JSON.stringify(claims));
  if (opts.alg === 'none') return `${header}.${payload}.`;
  const signature = createSign('RSA-SHA256')
    .update(`${header}.${payload}`)
    .sign(opts.key ?? signing.privateKey);
  return `${header}.${payload}.${b64url(signature)}`;
}

/** The claims the Bot Framework puts in a token for this bot and this activity's serviceUrl. */
function claims(extra: Json = {}): Json {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: 'https://api.botframework.com',
    aud: APP_ID,
    serviceurl: TEAMS_URL,
    nbf: now - 60,
    iat: now - 60,
    exp: now + 3600,
    ...extra,
  };
}

function activity(fields: Json = {}): Json {
  return {
    type: 'typing',
    id: `a-${Math.random().toString(36).slice(2)}`,
    channelId: 'msteams',
    serviceUrl: TEAMS_URL,
    from: { id: '29:alice', name: 'Alice', aadObjectId: 'aad-alice' },
    recipient: { id: `28:${APP_ID}`, name: 'Sentinel' },
    conversation: { id: 'a:1personal', conversationType: 'personal', tenantId: 'tenant-1' },
    channelData: { tenant: { id: 'tenant-1' } },
    ...fields,
  };
}

async function post(body: Json, token?: string): Promise<{ status: number; body: Json; lines: Json[] }> {
  const before = logLines.length;
  const res = await fetch(`${url}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text ? JSON.parse(text) : undefined,
    lines: logLines.slice(before).filter((l) => l.level >= 30), // the access log line is debug
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sentinel-teams-auth-'));
  store = openSqliteStore(join(dir, 'sentinel.db'));
  await store.migrate();
  // The OpenID configuration and the JWKS, as login.botframework.com serves them.
  const jwk = signing.publicKey.export({ format: 'jwk' });
  keys = createServer((req, res) => {
    keyRequests++;
    const base = `http://127.0.0.1:${(keys.address() as AddressInfo).port}`;
    res.setHeader('content-type', 'application/json');
    if (req.url === '/v1/.well-known/openidconfiguration') {
      res.end(JSON.stringify({ issuer: 'https://api.botframework.com', jwks_uri: `${base}/v1/.well-known/keys` }));
    } else if (req.url === '/v1/.well-known/keys') {
      res.end(JSON.stringify({ keys: [{ ...jwk, kid: KID, use: 'sig', endorsements: ['msteams', 'emulator'] }] }));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((ok) => keys.listen(0, '127.0.0.1', ok));
  const metadata = `http://127.0.0.1:${(keys.address() as AddressInfo).port}/v1/.well-known/openidconfiguration`;

  const logger = createLogger('debug', {
    stream: new Writable({
      write(chunk: Buffer, _e, done) {
        for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line));
        done();
      },
    }),
  });
  const config = loadConfig({ MicrosoftAppId: APP_ID, MicrosoftAppPassword: 'not-a-real-secret' });
  const slot = new ScorerSlot();
  const predictionLog = new PredictionLog(store, { logger });
  app = buildServer({ auth: ApiAuth.fromEntries([]), slot, config, logger, store, predictionLog });
  startTeams({ config, app, slot, store, predictionLog, logger, openIdMetadata: { channel: metadata } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app?.close();
  await new Promise((ok) => keys?.close(ok));
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

let consoleSpies: jest.SpyInstance[] = [];
beforeEach(() => {
  consoleSpies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) => jest.spyOn(console, level));
});
afterEach(() => consoleSpies.forEach((s) => s.mockRestore()));

function expectNothingOnTheConsole(): void {
  for (const spy of consoleSpies) expect(spy).not.toHaveBeenCalled();
}

it('runs the turn of an activity with a good Bot Framework token and a Teams serviceUrl', async () => {
  const res = await post(activity(), jwt(claims()));
  expect(res.status).toBe(200);
  expect(keyRequests).toBe(2); // the OpenID configuration, then the keys: the signature was checked
  expect(res.lines.filter((l) => l.level >= 40)).toEqual([]);
  expectNothingOnTheConsole();
});

it.each([
  ['forged (signed with another key)', () => jwt(claims(), { key: forger.privateKey }), /invalid signature/],
  ['meant for another bot', () => jwt(claims({ aud: '11111111-2222-3333-4444-555555555555' })), /Invalid AppId/],
  [
    'expired an hour ago',
    () => jwt(claims({ exp: Math.floor(Date.now() / 1000) - 3600, nbf: Math.floor(Date.now() / 1000) - 7200 })),
    /expired/,
  ],
  ['unsigned (alg none)', () => jwt(claims(), { alg: 'none' }), /./],
  [
    'signed by a key nobody published',
    () => jwt(claims(), { kid: 'unknown-key' }),
    /Signing Key could not be retrieved/,
  ],
  ['for another serviceUrl', () => jwt(claims({ serviceurl: 'https://smba.trafficmanager.net/amer/' })), /ServiceUrl/],
  ['from another issuer', () => jwt(claims({ iss: 'https://evil.example' })), /./],
  ['garbage', () => 'not.a.jwt', /./],
])('refuses a token %s: 401, one warn line without a stack, nothing on the console', async (_name, token, reason) => {
  const res = await post(activity({ type: 'message', text: 'sentiment hello' }), token());
  expect(res.status).toBe(401);
  expect(res.body.error.code).toBe('unauthorized');
  expect(res.lines).toEqual([
    expect.objectContaining({
      level: 40,
      msg: expect.stringMatching(/^teams: activity refused \(401\): the Bot Framework token is not valid: /),
      reason: expect.stringMatching(reason),
    }),
  ]);
  expect(res.lines[0]).not.toHaveProperty('err');
  expect(res.lines[0]).not.toHaveProperty('stack');
  expect(String(res.lines[0].reason)).not.toMatch(/\n|BEGIN| {4}at /);
  expectNothingOnTheConsole();
});

it('refuses an activity without a token: 401 in one warn line', async () => {
  const res = await post(activity());
  expect(res.status).toBe(401);
  expect(res.lines).toEqual([
    expect.objectContaining({ level: 40, msg: expect.stringContaining('without a Bot Framework token') }),
  ]);
});

it("refuses a serviceUrl that is not the Bot Framework's (403), even with a good token, before checking it", async () => {
  const before = keyRequests;
  for (const serviceUrl of [
    'https://evil.example/',
    'http://127.0.0.1:9/',
    'https://smba.trafficmanager.net.evil.example/',
  ]) {
    const res = await post(activity({ serviceUrl }), jwt(claims({ serviceurl: serviceUrl })));
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('service_url_not_allowed');
    expect(res.lines).toEqual([expect.objectContaining({ level: 40, serviceUrl })]);
  }
  expect(keyRequests).toBe(before);
});

describe("the Bot Framework's OpenID keys cannot be fetched", () => {
  /** A Teams endpoint like the one above, whose OpenID metadata URL is `metadata`. */
  async function endpoint(metadata: string) {
    const lines: Json[] = [];
    const logger = createLogger('debug', {
      stream: new Writable({
        write(chunk: Buffer, _e, done) {
          for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
          done();
        },
      }),
    });
    const config = loadConfig({ MicrosoftAppId: APP_ID, MicrosoftAppPassword: 'not-a-real-secret' });
    const slot = new ScorerSlot();
    const predictionLog = new PredictionLog(store, { logger });
    const server = buildServer({ auth: ApiAuth.fromEntries([]), slot, config, logger, store, predictionLog });
    startTeams({ config, app: server, slot, store, predictionLog, logger, openIdMetadata: { channel: metadata } });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
    return {
      close: () => server.close(),
      async post(body: Json, token: string) {
        const before = lines.length;
        const res = await fetch(`${base}/api/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify(body),
        });
        const text = await res.text();
        return {
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          body: text ? JSON.parse(text) : undefined,
          lines: lines.slice(before).filter((l) => l.level >= 30),
        };
      },
    };
  }

  /** A loopback port nothing listens on: connection refused. */
  async function closedPort(): Promise<number> {
    const s = createServer();
    await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
    const { port } = s.address() as AddressInfo;
    await new Promise((ok) => s.close(ok));
    return port;
  }

  /** The key source in three states: down, answering 500, and its metadata up with the JWKS down. */
  let failing: Server;
  let failingRequests = 0;
  let refused: number;
  beforeAll(async () => {
    refused = await closedPort();
    failing = createServer((req, res) => {
      failingRequests++;
      res.setHeader('content-type', 'application/json');
      if (req.url === '/half/v1/.well-known/openidconfiguration') {
        res.end(
          JSON.stringify({ issuer: 'https://api.botframework.com', jwks_uri: `http://127.0.0.1:${refused}/keys` }),
        );
      } else {
        res.statusCode = 500;
        res.end('{"error":"internal"}');
      }
    });
    await new Promise<void>((ok) => failing.listen(0, '127.0.0.1', ok));
  });
  afterAll(() => new Promise((ok) => failing?.close(ok)));

  const sources: Array<[string, () => string]> = [
    ['down (connection refused)', () => `http://127.0.0.1:${refused}/v1/.well-known/openidconfiguration`],
    [
      'answering 500',
      () => `http://127.0.0.1:${(failing.address() as AddressInfo).port}/v1/.well-known/openidconfiguration`,
    ],
    [
      'up, its keys (JWKS) down',
      () => `http://127.0.0.1:${(failing.address() as AddressInfo).port}/half/v1/.well-known/openidconfiguration`,
    ],
  ];

  it.each(sources)(
    'key source %s: a token only the keys could judge is a 503 (forged or not), in one error line',
    async (_name, metadata) => {
      const e = await endpoint(metadata());
      const asked = failingRequests;
      try {
        for (const token of [jwt(claims(), { key: forger.privateKey }), jwt(claims())]) {
          const res = await e.post(activity({ type: 'message', text: 'sentiment hello' }), token);
          expect(res.status).toBe(503);
          expect(res.retryAfter).toBe('30');
          expect(res.body.error.code).toBe('unavailable');
          expect(res.lines).toEqual([
            expect.objectContaining({
              level: 50,
              msg: expect.stringMatching(
                /^teams: activity not checked \(503\): the Bot Framework's OpenID keys cannot be fetched, so its token cannot be verified: (request to .* failed, reason: connect ECONNREFUSED|Failed to load openID config: 500)/,
              ),
            }),
          ]);
          expect(res.lines[0]).not.toHaveProperty('err');
          expect(res.lines[0]).not.toHaveProperty('stack');
          expect(String(res.lines[0].msg)).not.toMatch(/\n| {4}at /);
        }
        if (!metadata().includes(String(refused))) expect(failingRequests).toBeGreaterThan(asked);
        expectNothingOnTheConsole();
      } finally {
        await e.close();
      }
    },
  );

  it.each(sources)(
    'key source %s: a token refused for a reason that needs no key is still a 401',
    async (_name, metadata) => {
      const e = await endpoint(metadata());
      const now = Math.floor(Date.now() / 1000);
      try {
        for (const [token, reason] of [
          [jwt(claims({ exp: now - 3600, nbf: now - 7200 })), /expired/],
          [jwt(claims(), { alg: 'none' }), /not signed with RS256/],
          [jwt(claims({ iss: 'https://evil.example' })), /./],
          ['not.a.jwt', /./],
        ] as const) {
          const res = await e.post(activity({ type: 'message', text: 'sentiment hello' }), token);
          expect(res.status).toBe(401);
          expect(res.body.error.code).toBe('unauthorized');
          expect(res.lines).toEqual([
            expect.objectContaining({
              level: 40,
              msg: expect.stringMatching(/^teams: activity refused \(401\): the Bot Framework token is not valid: /),
              reason: expect.stringMatching(reason),
            }),
          ]);
          expect(String(res.lines[0].reason)).not.toMatch(/\n| {4}at /);
        }
        expectNothingOnTheConsole();
      } finally {
        await e.close();
      }
    },
  );

  it('what needs no key: not a JWT, unsigned, expired, not yet valid, for another bot', () => {
    const now = Date.now();
    const t = Math.floor(now / 1000);
    expect(refusedWithoutKeys(jwt(claims()), APP_ID, now)).toBeNull();
    expect(refusedWithoutKeys(jwt(claims(), { key: forger.privateKey }), APP_ID, now)).toBeNull(); // only the keys can tell
    expect(refusedWithoutKeys(jwt(claims({ exp: t - 240 })), APP_ID, now)).toBeNull(); // within botbuilder's 5 min
    expect(refusedWithoutKeys(jwt(claims({ exp: t - 400 })), APP_ID, now)).toBe('expired');
    expect(refusedWithoutKeys(jwt(claims({ nbf: t + 400 })), APP_ID, now)).toBe('not valid yet');
    expect(refusedWithoutKeys(jwt(claims(), { alg: 'none' }), APP_ID, now)).toMatch(
      /^not signed with RS256\/RS384\/RS512/,
    );
    expect(refusedWithoutKeys(jwt(claims(), { alg: 'HS256' }), APP_ID, now)).toMatch(/^not signed with/);
    expect(refusedWithoutKeys('not.a.jwt', APP_ID, now)).toBe('not a JWT');
    expect(refusedWithoutKeys('abc', APP_ID, now)).toBe('not a JWT');
    const other = jwt(claims({ aud: '11111111-2222-3333-4444-555555555555' }));
    expect(refusedWithoutKeys(other, APP_ID, now)).toBe('for another bot (audience)');
    expect(refusedWithoutKeys(other, undefined, now)).toBeNull(); // without the app id, undecided
    // The Emulator's tokens name the bot in appid (v1.0) or azp (v2.0).
    expect(refusedWithoutKeys(jwt(claims({ aud: 'api://x', appid: APP_ID, ver: '1.0' })), APP_ID, now)).toBeNull();
  });
});
