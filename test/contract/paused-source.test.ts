/**
 * A source that refuses Sentinel is paused, told once, tried again on a schedule and resumed without a
 * restart; an untrusted certificate says how to fix it. The real X source against the loopback X server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Poller, type PollerError } from '../../src/mentions/poller';
import { XSource, XTrustError } from '../../src/mentions/x-source';
import { RESUME_REQUEST_KEY, requestResume, resumeReply } from '../../src/mentions/resume';
import { openSqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';
import type { Prediction, Scorer } from '../../src/sentiment/types';
import { LABELS } from '../../src/sentiment/types';
import { startXServer, tweetsFrom, type XServer } from '../helpers/x-server';

// A scorer that labels everything neutral: the poller's job here is fetching and pausing, not scoring.
const scorer: Scorer = {
  info: { name: 'fixed', version: 'test', backend: 'none', labels: LABELS, maxLength: 32 },
  score: async (texts) =>
    texts.map((): Prediction => ({
      label: 'neutral',
      confidence: 1,
      probabilities: { negative: 0, neutral: 1, positive: 0 },
      modelVersion: 'test',
    })),
  explain: () => Promise.reject(new Error('not used')),
  unreadable: () => null,
  dispose: () => undefined,
};

const TWEETS = tweetsFrom(
  [
    { id: '569000000000000001', createdAt: '2015-02-22T10:00:00-08:00', text: '@AirParadis lost my bag' },
    { id: '569000000000000002', createdAt: '2015-02-22T10:01:00-08:00', text: '@AirParadis thanks for the help' },
  ],
  [{ id: '1', username: 'flyer' }],
);

let server: XServer;
let dir: string;
let store: Store;

beforeEach(async () => {
  server = await startXServer({ token: 'good-token', tweets: TWEETS });
  dir = mkdtempSync(join(tmpdir(), 'sentinel-paused-'));
  store = openSqliteStore(join(dir, 's.db'));
  await store.migrate();
});

/** The X source, trusting the loopback server's certificate. */
const xSource = () =>
  new XSource({
    bearerToken: 'good-token',
    apiUrl: server.url,
    agent: server.agent,
    streams: { AirParadis: '@AirParadis' },
  });

afterEach(async () => {
  await store.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('401: paused and told once, tried again after the period, resumed when X answers again', async () => {
  let now = 1_000_000;
  const errors: PollerError[] = [];
  const resumed: string[] = [];
  const x = xSource();
  const poller = new Poller({
    streams: [{ source: x, stream: 'AirParadis' }],
    scorer,
    store,
    now: () => now,
    pausedRetryMs: 15 * 60_000,
    onError: (e) => errors.push(e),
    onResume: (s) => resumed.push(s),
  });
  server.failNext({ status: 401 });
  expect((await poller.pollOnce())[0].result).toBe('paused');
  expect(errors.map((e) => e.paused)).toEqual([true]);
  expect(poller.pausedSources()).toEqual([
    expect.objectContaining({ source: 'x', retryAt: new Date(now + 15 * 60_000).toISOString() }),
  ]);

  // Within the period: not tried (no request reaches X).
  const requests = server.requests.length;
  now += 60_000;
  expect((await poller.pollOnce())[0].result).toBe('paused');
  expect(server.requests.length).toBe(requests);

  // After it, still refused: paused again, quietly (one report per outage).
  now += 15 * 60_000;
  server.failNext({ status: 401 });
  expect((await poller.pollOnce())[0].result).toBe('paused');
  expect(errors).toHaveLength(1);

  // resume() (the token was fixed): tried at once, works, reported as resumed, mentions stored.
  poller.resume('x');
  const report = (await poller.pollOnce())[0];
  expect(report).toMatchObject({ result: 'ok', fetched: 2, stored: 2 });
  expect(resumed).toEqual(['x']);
  expect(poller.pausedSources()).toEqual([]);
  expect(await store.countMentions()).toBe(2);
});

test('an untrusted certificate is not retried as a network blip: paused, with the fix in the message', async () => {
  const errors: PollerError[] = [];
  // No agent: the loopback server's self-signed certificate is not trusted, as a TLS-intercepting proxy's is not.
  const x = new XSource({ bearerToken: 'good-token', apiUrl: server.url, streams: { AirParadis: '@AirParadis' } });
  const poller = new Poller({
    streams: [{ source: x, stream: 'AirParadis' }],
    scorer,
    store,
    onError: (e) => errors.push(e),
  });
  const report = (await poller.pollOnce())[0];
  expect(report.result).toBe('paused');
  expect(errors[0].error).toBeInstanceOf(XTrustError);
  expect(errors[0].error.message).toMatch(
    /^X API's TLS certificate at https:\/\/127\.0\.0\.1:\d+\/2\/ is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\): if a proxy or a private CA signs it, give its CA certificate with NODE_EXTRA_CA_CERTS=\/path\/to\/ca\.pem$/,
  );
  expect(server.requests).toHaveLength(0); // the handshake failed: nothing was read, nothing billed
});

test('/sentiment resume on another replica: the request is stored and the leader tries the source at its next poll', async () => {
  let now = 1_000_000;
  const resumed: string[] = [];
  const x = xSource();
  const poller = new Poller({
    streams: [{ source: x, stream: 'AirParadis' }],
    scorer,
    store,
    now: () => now,
    onResume: (s) => resumed.push(s),
  });
  server.failNext({ status: 403 });
  expect((await poller.pollOnce())[0].result).toBe('paused');

  // A request older than the pause does not end it.
  await store.setCheckpoint(RESUME_REQUEST_KEY, new Date(now - 60_000).toISOString());
  now += 60_000;
  expect((await poller.pollOnce())[0].result).toBe('paused');

  // A follower (no poller of its own) records the request; the answer says the leader will act on it.
  const outcome = await requestResume({
    store,
    leader: () => ({ role: 'follower', holder: 'replica-b', token: 7, since: null }),
    poller: () => undefined,
    now: () => now,
  });
  expect(outcome).toEqual({ polledBy: 'leader', paused: [] });
  expect(resumeReply(outcome)).toMatch(/^Asked the leading replica to try every paused source again/);
  now += 1_000;
  expect((await poller.pollOnce())[0]).toMatchObject({ result: 'ok', stored: 2 });
  expect(resumed).toEqual(['x']);
});

test('/sentiment resume on the leader lists what was paused and why', async () => {
  const x = xSource();
  const poller = new Poller({ streams: [{ source: x, stream: 'AirParadis' }], scorer, store });
  const leader = () => ({ role: 'single' as const, holder: null, token: null, since: null });
  expect(resumeReply(await requestResume({ store, leader, poller: () => poller }))).toBe(
    'No source is paused: nothing to resume.',
  );
  server.failNext({ status: 401 });
  await poller.pollOnce();
  const reply = resumeReply(await requestResume({ store, leader, poller: () => poller }));
  expect(reply).toMatch(/^Trying again at the next poll: x \(paused since \d{4}-\d\d-\d\d \d\d:\d\d UTC: .*401.*\)\./);
  expect((await poller.pollOnce())[0].result).toBe('ok');
});
