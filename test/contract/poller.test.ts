/**
 * The poller with real parts: the shipped model, a SQLite file, the CSV replay source and the X source
 * against the loopback X server. Scheduling goes through node-cron for real (1-second ticks).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log';
import { Poller, ScoringError, type PollerError } from '../../src/mentions/poller';
import { ReplaySource } from '../../src/mentions/replay-source';
import { toCronExpression } from '../../src/schedule';
import type { FetchResult, MentionSource, ScoredMention } from '../../src/mentions/types';
import { XSource } from '../../src/mentions/x-source';
import { loadScorer } from '../../src/sentiment/load';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import type { Scorer } from '../../src/sentiment/types';
import { openSqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';
import { startXServer, type XServer } from '../helpers/x-server';

const ROOT = resolve(__dirname, '../..');
const SAMPLE = join(ROOT, 'test/fixtures/airline_stream_sample.csv');

let scorer: Scorer;
let store: Store;
let scoreCalls: number[];

/** The real scorer, counting its batches. */
function counting(s: Scorer): Scorer {
  return {
    info: s.info,
    score: (texts) => {
      scoreCalls.push(texts.length);
      return s.score(texts);
    },
    explain: (t) => s.explain(t),
    unreadable: (t) => s.unreadable(t),
    dispose: () => undefined,
  };
}

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { logger: createLogger('debug', { stream }), lines };
}

/** A source that takes `ms` per fetch and records how many fetches overlap. */
class SlowSource implements MentionSource {
  readonly name = 'slow';
  active = 0;
  maxActive = 0;
  fetches = 0;
  constructor(
    private readonly inner: MentionSource,
    private readonly ms: number,
  ) {}
  async fetch(stream: string, checkpoint: string | null): Promise<FetchResult> {
    this.fetches++;
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await new Promise((r) => setTimeout(r, this.ms));
      return await this.inner.fetch(stream, checkpoint);
    } finally {
      this.active--;
    }
  }
}

/** A source that finds nothing while closed (a replay that has ended, a quiet night on X). */
class GatedSource implements MentionSource {
  readonly name: string;
  open = false;
  constructor(private readonly inner: MentionSource) {
    this.name = inner.name;
  }
  async fetch(stream: string, checkpoint: string | null): Promise<FetchResult> {
    return this.open ? this.inner.fetch(stream, checkpoint) : { mentions: [], checkpoint };
  }
}

beforeAll(async () => {
  scorer = await loadScorer(join(ROOT, 'models/sentinel-bilstm'));
});
afterAll(() => scorer.dispose());

beforeEach(async () => {
  scoreCalls = [];
  store = openSqliteStore(join(mkdtempSync(join(tmpdir(), 'sentinel-poller-')), 'sentinel.db'));
  await store.migrate();
});
afterEach(async () => {
  await store.close();
});

test('fetch → score (one batch) → store → checkpoint → onScored, per stream, until the replay is done', async () => {
  const replay = new ReplaySource({ path: SAMPLE, chunkSize: 8 });
  const scored: Array<[string, ScoredMention[]]> = [];
  const poller = new Poller({
    streams: replay.allStreams().map((stream) => ({ source: replay, stream })),
    scorer: counting(scorer),
    store,
    onScored: (stream, mentions) => {
      scored.push([stream, mentions]);
    },
  });
  for (;;) {
    const reports = await poller.pollOnce();
    if (reports.every((r) => r.fetched === 0)) break;
    for (const r of reports.filter((x) => x.fetched > 0)) {
      expect(r).toMatchObject({ source: 'replay', result: 'ok', stored: r.fetched });
      expect(await store.getCheckpoint(`replay:${r.stream}`)).toBe(r.checkpoint);
    }
  }
  expect(await store.countMentions()).toBe(replay.stats.accepted);
  expect(scoreCalls.every((n) => n <= 8)).toBe(true);
  expect(scoreCalls.reduce((a, b) => a + b, 0)).toBe(replay.stats.accepted); // one batch per fetch, each text once
  for (const stream of replay.allStreams()) {
    const mine = scored.filter(([s]) => s === stream).flatMap(([, m]) => m);
    expect(mine).toHaveLength(replay.stats.streams[stream]);
    const t = mine.map((m) => Date.parse(m.createdAt));
    expect(t).toEqual([...t].sort((a, b) => a - b));
    expect(mine.every((m) => m.prediction?.modelVersion === scorer.info.version)).toBe(true);
    // Each scored mention says whether the model could read it (the trend counts only those it could):
    // every real tweet of the sample can be read.
    expect(mine.map((m) => m.unreadable)).toEqual(mine.map(() => null));
  }
  const metrics = await poller.registry.metrics();
  expect(metrics).toMatch(
    new RegExp(`sentinel_mentions_stored_total\\{stream="Delta"\\} ${replay.stats.streams.Delta}`),
  );
  expect(metrics).toMatch(/sentinel_polls_total\{stream="Delta",result="ok"\} \d+/);
  // What /sentiment status shows: the last poll of each stream (the final one found nothing new).
  expect(poller.lastPolls().map((p) => [p.stream, p.result, p.fetched])).toEqual(
    replay.allStreams().map((stream) => [stream, 'ok', 0]),
  );
  expect(poller.lastPolls().every((p) => Date.now() - Date.parse(p.at) < 60_000)).toBe(true);
});

test('the checkpoint stays put when storing fails; the next poll stores the same mentions', async () => {
  const replay = new ReplaySource({ path: SAMPLE, chunkSize: 5 });
  let fail = true;
  const flaky = new Proxy(store, {
    get(target, prop) {
      if (prop === 'saveMentions' && fail) return async () => Promise.reject(new Error('disk full'));
      const v = Reflect.get(target, prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const errors: PollerError[] = [];
  const poller = new Poller({
    streams: [{ source: replay, stream: 'Delta' }],
    scorer,
    store: flaky,
    onError: (e) => errors.push(e),
  });
  const [r1] = await poller.pollOnce();
  expect(r1).toMatchObject({ result: 'error', error: 'disk full', stored: 0, checkpoint: null });
  expect(await store.getCheckpoint('replay:Delta')).toBeNull();
  expect(errors).toEqual([expect.objectContaining({ stream: 'Delta', paused: false })]);
  fail = false;
  const [r2] = await poller.pollOnce();
  expect(r2).toMatchObject({ result: 'ok', fetched: 5, stored: 5 });
  const first5 = (await new ReplaySource({ path: SAMPLE, chunkSize: 5 }).fetch('Delta', null)).mentions.map(
    (m) => m.id,
  );
  expect(r2.checkpoint).toBe(first5[4]);
});

describe('with the X source', () => {
  let server: XServer;
  beforeEach(async () => {
    server = await startXServer({ token: 'right-token' });
  });
  afterEach(async () => {
    await server.close();
  });

  test('401: the X source is paused and reported once; the replay goes on', async () => {
    const { logger, lines } = capture();
    const x = new XSource({ bearerToken: 'wrong-token', apiUrl: server.url, agent: server.agent });
    const replay = new ReplaySource({ path: SAMPLE, chunkSize: 3 });
    const errors: PollerError[] = [];
    const poller = new Poller({
      streams: [
        { source: x, stream: 'AirParadis' },
        { source: replay, stream: 'United' },
      ],
      scorer,
      store,
      logger,
      onError: (e) => errors.push(e),
    });
    const results: string[][] = [];
    for (let i = 0; i < 3; i++) results.push((await poller.pollOnce()).map((r) => r.result));
    expect(results).toEqual([
      ['paused', 'ok'],
      ['paused', 'ok'],
      ['paused', 'ok'],
    ]);
    expect(server.searches()).toHaveLength(1); // no request while paused
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ source: 'x', stream: 'AirParadis', paused: true });
    expect(errors[0].error.name).toBe('XAuthError');
    const reported = lines.filter((l) => l.level === 50);
    expect(reported).toHaveLength(1);
    expect(reported[0].msg).toMatch(
      /^X API refused the credentials \(HTTP 401.*Source x PAUSED \(streams AirParadis\), tried again in 15 min; the others go on\.$/,
    );
    expect(await store.countMentions('United')).toBe(9);
    expect(poller.pausedSources()).toEqual([
      expect.objectContaining({ source: 'x', reason: expect.stringContaining('HTTP 401') }),
    ]);
    expect(JSON.stringify(lines)).not.toContain('wrong-token');
  });

  test('stop() during a rate-limit wait aborts the wait and leaves the checkpoint alone', async () => {
    server.failNext({ status: 429, reset: Math.floor(Date.now() / 1000) + 600 });
    const x = new XSource({ bearerToken: 'right-token', apiUrl: server.url, agent: server.agent });
    const poller = new Poller({ streams: [{ source: x, stream: 'AirParadis' }], scorer, store });
    const poll = poller.pollOnce();
    while (server.searches().length === 0) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await poller.stop();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await poll).toEqual([expect.objectContaining({ result: 'aborted' })]);
    expect(await store.getCheckpoint('x:AirParadis')).toBeNull();
  });
});

test('no model yet (slot not ready): nothing is fetched', async () => {
  const replay = new SlowSource(new ReplaySource({ path: SAMPLE }), 0);
  const slot = new ScorerSlot('the model is still loading');
  const poller = new Poller({ streams: [{ source: replay, stream: 'Delta' }], scorer: slot, store });
  expect(await poller.pollOnce()).toEqual([expect.objectContaining({ result: 'not_ready', fetched: 0 })]);
  expect(replay.fetches).toBe(0);
  slot.set(scorer);
  expect(await poller.pollOnce()).toEqual([expect.objectContaining({ result: 'ok' })]);
});

test('the model failing on fetched mentions is a scoring error: reported as such, checkpoint unchanged, retried', async () => {
  const errors: PollerError[] = [];
  let broken = true;
  const failing: Scorer = {
    ...counting(scorer),
    score: (texts) => (broken ? Promise.reject(new Error('tensor shape mismatch')) : scorer.score(texts)),
  };
  const replay = new ReplaySource({ path: SAMPLE, chunkSize: 3 });
  const poller = new Poller({
    streams: [{ source: replay, stream: 'Delta' }],
    scorer: failing,
    store,
    onError: (e) => errors.push(e),
  });
  expect(await poller.pollOnce()).toEqual([
    expect.objectContaining({ result: 'error', error: 'scoring failed: tensor shape mismatch' }),
  ]);
  expect(errors.map((e) => [e.error.name, e.paused])).toEqual([['ScoringError', false]]);
  expect(errors[0].error).toBeInstanceOf(ScoringError);
  expect(await store.getCheckpoint('replay:Delta')).toBeNull();
  broken = false;
  expect(await poller.pollOnce()).toEqual([expect.objectContaining({ result: 'ok', stored: 3 })]);
});

test('node-cron schedule: ticks every second, never overlapping; stop() waits for the poll in flight', async () => {
  const slow = new SlowSource(new ReplaySource({ path: SAMPLE, chunkSize: 2 }), 1600);
  const poller = new Poller({ streams: [{ source: slow, stream: 'Delta' }], scorer, store, interval: 1 });
  expect(poller.cronExpression).toBe('* * * * * *');
  poller.start();
  await new Promise((r) => setTimeout(r, 3500));
  expect(slow.fetches).toBeGreaterThanOrEqual(2);
  expect(slow.maxActive).toBe(1);
  while (!poller.busy()) await new Promise((r) => setTimeout(r, 20));
  await poller.stop();
  expect(poller.busy()).toBe(false);
  const fetches = slow.fetches;
  // Every fetch that started, the one in flight at stop() included, has been stored and checkpointed.
  const cp = await store.getCheckpoint('slow:Delta');
  expect(await store.countMentions()).toBe(fetches * 2);
  expect(cp).not.toBeNull();
  await new Promise((r) => setTimeout(r, 1500));
  expect(slow.fetches).toBe(fetches); // no tick after stop
}, 20_000);

test('logs: one line per poll that fetched something; idle polls said once, then summarised at most hourly', async () => {
  const { logger, lines } = capture();
  const gate = new GatedSource(new ReplaySource({ path: SAMPLE, chunkSize: 4 }));
  let now = Date.parse('2026-03-02T17:04:00Z');
  const poller = new Poller({ streams: [{ source: gate, stream: 'Delta' }], scorer, store, logger, now: () => now });
  const info = () => lines.filter((l) => l.level === 30).map((l) => String(l.msg));
  const poll = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await poller.pollOnce();
      now += 10_000; // a poll every 10 s
    }
  };

  gate.open = true;
  await poll(2); // two chunks of 4
  gate.open = false;
  await poll(1000); // 10,000 s idle: 2 h 46 min
  expect(info()).toEqual([
    'polled replay:Delta: 4 mention(s), 4 new',
    'polled replay:Delta: 4 mention(s), 4 new',
    'replay:Delta: no new mentions (the next ones are logged when they arrive)',
    'replay:Delta: still no new mentions after 1 h 00 min (361 polls)',
    'replay:Delta: still no new mentions after 2 h 00 min (721 polls)',
  ]);
  const summary = lines.find((l) => String(l.msg).includes('after 2 h'))!;
  expect(summary).toMatchObject({ stream: 'Delta', idlePolls: 721, idleSince: '2026-03-02T17:04:20.000Z' });
  // Every idle poll is still there at debug level, for whoever asks for it.
  expect(lines.filter((l) => l.level === 20 && l.msg === 'polled replay:Delta: no new mentions')).toHaveLength(997);

  // Mentions again: one line (saying how long it was quiet), then the next quiet spell is said once more.
  gate.open = true;
  await poll(1);
  gate.open = false;
  await poll(3);
  expect(info().slice(5)).toEqual([
    'polled replay:Delta: 4 mention(s), 4 new',
    'replay:Delta: no new mentions (the next ones are logged when they arrive)',
  ]);
  expect(lines.find((l) => l.msg === 'polled replay:Delta: 4 mention(s), 4 new' && l.idlePolls)).toMatchObject({
    idlePolls: 1000,
  });
});

test('logs on the real schedule: a replay that has ended is not a line a second', async () => {
  const { logger, lines } = capture();
  const replay = new ReplaySource({ path: SAMPLE, chunkSize: 1000 });
  const poller = new Poller({ streams: [{ source: replay, stream: 'Delta' }], scorer, store, logger, interval: 1 });
  poller.start();
  await new Promise((r) => setTimeout(r, 4500));
  await poller.stop();
  const polls = lines.filter((l) => l.stream === 'Delta' && typeof l.fetched === 'number');
  expect(polls.length).toBeGreaterThanOrEqual(4); // the first poll and ≥ 3 ticks
  expect(polls.filter((l) => l.level === 30).map((l) => l.msg)).toEqual([
    `polled replay:Delta: ${replay.stats.streams.Delta} mention(s), ${replay.stats.streams.Delta} new`,
    'replay:Delta: no new mentions (the next ones are logged when they arrive)',
  ]);
}, 20_000);

test('poll interval: seconds or a cron expression, clear errors otherwise', () => {
  expect(toCronExpression(60)).toBe('0 * * * * *');
  expect(toCronExpression('30')).toBe('*/30 * * * * *');
  expect(toCronExpression(300)).toBe('0 */5 * * * *');
  expect(toCronExpression(7200)).toBe('0 0 */2 * * *');
  expect(toCronExpression('*/2 * * * *')).toBe('*/2 * * * *');
  expect(() => toCronExpression(90)).toThrow(
    'poll interval: 90 s cannot be scheduled evenly by cron; use a divisor of 60 s, of 60 min or of 24 h (e.g. 30, 60, 300), or a cron expression',
  );
  expect(() => toCronExpression(0)).toThrow(/expected a whole number of seconds ≥ 1 or a cron expression, got 0/);
  expect(() => toCronExpression('every minute')).toThrow(
    'poll interval: "every minute" is neither a number of seconds nor a valid cron expression',
  );
  expect(() => toCronExpression(90, 'model check interval')).toThrow(/^model check interval: 90 s cannot be/);
  expect(() => new Poller({ streams: [], scorer, store })).toThrow('Poller: no stream to poll');
});
