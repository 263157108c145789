/**
 * The X read budget with real parts: the X source through twitter-api-v2 against the loopback X server, the
 * shipped model, a SQLite file. Reads are counted as X bills them (every post returned), kept per month in
 * the store, announced at 80 % and 100 %, and a spent budget holds the poller to its floor.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Poller } from '../../src/mentions/poller';
import { XSource } from '../../src/mentions/x-source';
import { ReadBudget, readsKey } from '../../src/ops/read-budget';
import { loadScorer } from '../../src/sentiment/load';
import type { Scorer } from '../../src/sentiment/types';
import { openSqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';
import { startXServer, type XServer, type XTweet } from '../helpers/x-server';

const ROOT = resolve(__dirname, '../..');

let scorer: Scorer;
let store: Store;
let server: XServer;

const tweet = (n: number): XTweet => ({
  id: String(570000000000000000n + BigInt(n)),
  text: `@AirParadis flight ${n} delayed again, no answer from anyone`,
  created_at: new Date(Date.UTC(2026, 11, 1, 8, 0, n)).toISOString(),
  author_id: '42',
});

beforeAll(async () => {
  scorer = await loadScorer(join(ROOT, 'models/sentinel-bilstm'));
});
afterAll(() => scorer.dispose());

beforeEach(async () => {
  store = openSqliteStore(join(mkdtempSync(join(tmpdir(), 'sentinel-budget-')), 'sentinel.db'));
  await store.migrate();
  server = await startXServer({ token: 'right-token', users: [{ id: '42', username: 'traveller' }] });
});
afterEach(async () => {
  await server.close();
  await store.close();
});

const DEC = () => new Date('2026-12-15T10:00:00Z');

test('reads counted as billed, per month, announced once at 80 % and once at 100 %, kept across a restart', async () => {
  const notices: string[] = [];
  const budget = new ReadBudget({
    store,
    monthlyBudget: 10,
    costPerRead: 0.005,
    floorDescription: 'once an hour',
    notify: (t) => notices.push(t),
    now: DEC,
  });
  const x = new XSource({
    bearerToken: 'right-token',
    apiUrl: server.url,
    agent: server.agent,
    maxResults: 10,
    onUsage: (u) => void budget.record(u.tweetsRead),
  });
  const poller = new Poller({ streams: [{ source: x, stream: 'AirParadis' }], scorer, store });

  server.addTweets(...[1, 2, 3, 4, 5, 6, 7].map(tweet));
  await poller.pollOnce();
  await budget.record(0); // waits for the queued count
  expect(budget.state()).toEqual({
    month: '2026-12',
    reads: 7,
    costUsd: 0.04,
    budget: 10,
    share: 0.7,
    exhausted: false,
  });
  expect(notices).toEqual([]);

  server.addTweets(tweet(8));
  await poller.pollOnce();
  await budget.record(0);
  expect(notices).toEqual([
    'X read budget at 80 %: 8 of 10 posts read from X in 2026-12 (≈ $0.04). At 100 % polling slows to once an hour until the month ends.',
  ]);
  server.addTweets(tweet(9));
  await poller.pollOnce();
  await budget.record(0);
  expect(notices).toHaveLength(1); // 90 %: already said

  server.addTweets(tweet(10), tweet(11));
  await poller.pollOnce();
  await budget.record(0);
  expect(budget.exhausted()).toBe(true);
  expect(notices[1]).toBe(
    'X read budget spent: 11 of 10 posts read from X in 2026-12 (≈ $0.06). Polling slowed to once an hour until the month ends; raise X_MONTHLY_READ_BUDGET to poll at the usual pace.',
  );

  // A new leader (or a restart) reads the month's count back and says nothing twice.
  const again: string[] = [];
  const next = new ReadBudget({
    store,
    monthlyBudget: 10,
    costPerRead: 0.005,
    floorDescription: 'once an hour',
    notify: (t) => again.push(t),
    now: DEC,
  });
  expect(await next.load()).toMatchObject({ reads: 11, exhausted: true });
  await next.record(3);
  expect(again).toEqual([]);
  expect(JSON.parse((await store.getCheckpoint(readsKey('2026-12')))!)).toEqual({ reads: 14, warned: 100 });
  // A new month starts from zero.
  const january = new ReadBudget({
    store,
    monthlyBudget: 10,
    costPerRead: 0.005,
    floorDescription: 'once an hour',
    notify: () => undefined,
    now: () => new Date('2027-01-01T00:00:01Z'),
  });
  expect(await january.load()).toMatchObject({ month: '2027-01', reads: 0, exhausted: false });
  // Metrics an operator graphs.
  const metrics = await next.registry.metrics();
  expect(metrics).toMatch(/^sentinel_x_reads_month 14$/m);
  expect(metrics).toMatch(/^sentinel_x_read_cost_usd_month 0.07$/m);
  expect(metrics).toMatch(/^sentinel_x_read_budget 10$/m);
});

test('a spent budget holds the poller to its floor: the interval polls nothing, the floor polls', async () => {
  server.addTweets(tweet(1));
  let spent = false;
  const x = new XSource({ bearerToken: 'right-token', apiUrl: server.url, agent: server.agent });
  const poller = new Poller({
    streams: [{ source: x, stream: 'AirParadis' }],
    scorer,
    store,
    interval: 1,
    pollOnStart: false,
    floor: { interval: 2, active: () => spent, description: 'every 2 s' },
  });
  const searchesAfter = async (ms: number) => {
    const before = server.searches().length;
    await new Promise((r) => setTimeout(r, ms));
    return server.searches().length - before;
  };
  poller.start();
  try {
    expect(await searchesAfter(3_200)).toBeGreaterThanOrEqual(2); // every second
    spent = true;
    await searchesAfter(1_100); // a poll in flight finishes
    const slowed = await searchesAfter(4_100);
    expect(slowed).toBeGreaterThanOrEqual(1); // the floor still polls…
    expect(slowed).toBeLessThanOrEqual(3); // …every 2 s, not every second
    spent = false;
    await searchesAfter(1_100);
    expect(await searchesAfter(3_200)).toBeGreaterThanOrEqual(2);
  } finally {
    await poller.stop();
  }
});

test('a budget that is not a whole number of posts is refused', () => {
  expect(
    () =>
      new ReadBudget({ store, monthlyBudget: 0, costPerRead: 0.005, floorDescription: 'x', notify: () => undefined }),
  ).toThrow(/expected a whole number of posts ≥ 1, got 0/);
});
