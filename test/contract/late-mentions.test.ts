/**
 * Late mentions end to end: the real Delta stream of 20–22 February 2015 (test/fixtures/delta_2015-02-20_22.csv)
 * served by the loopback X server as it would have arrived, polled through the real twitter-api-v2 client
 * (XSource), scored by the shipped model, stored in SQLite and judged by the trend monitor.
 *
 * In a burst with X serving 10 tweets a page and 2 pages a poll (X_MAX_RESULTS=10, X_MAX_PAGES_PER_POLL=2),
 * a poll leaves the older rest for the next one; the buckets it fills were judged already. They are judged
 * again, so the alert opens at the data time it opens with an unlimited page size: 22 Feb 19:00 UTC (before
 * re-judging: 21:00 with an hourly poll, and no alert at all with a poll every two hours).
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { Poller } from '../../src/mentions/poller';
import { XSource } from '../../src/mentions/x-source';
import { loadScorer } from '../../src/sentiment/load';
import type { Scorer } from '../../src/sentiment/types';
import { openStore } from '../../src/store/open';
import type { AlertContent } from '../../src/trends/content';
import { TrendMonitor, type TrendAlertData } from '../../src/trends/monitor';
import type { ChatSink } from '../../src/trends/sink';
import { startXServer, tweetsFrom } from '../helpers/x-server';

const ROOT = resolve(__dirname, '../..');
const FIXTURE = join(ROOT, 'test/fixtures/delta_2015-02-20_22.csv');
const START = Date.parse('2015-02-20T00:00:00Z');
const END = Date.parse('2015-02-23T00:00:00Z');
const MINUTE = 60_000;

const rows = (parse(readFileSync(FIXTURE), { columns: true }) as Array<Record<string, string>>)
  .map((r) => ({ id: r.tweet_id, createdAt: new Date(r.created_at).toISOString(), text: r.text }))
  .sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));

class Recorder implements ChatSink {
  readonly name = 'recorder';
  readonly kinds: string[] = [];
  alertOpened(_c: AlertContent) {
    this.kinds.push('opened');
    return Promise.resolve();
  }
  alertUpdated(_c: AlertContent) {
    this.kinds.push('updated');
    return Promise.resolve();
  }
  alertResolved(_c: AlertContent) {
    this.kinds.push('resolved');
    return Promise.resolve();
  }
}

let scorer: Scorer;
const dirs: string[] = [];
beforeAll(async () => {
  scorer = await loadScorer(join(ROOT, 'models/sentinel-bilstm'));
});
afterAll(() => {
  scorer?.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** One run: a poll every `stepMinutes` of data time, the tweets created by then served by X. */
async function run(stepMinutes: number, maxResults: number, maxPagesPerPoll: number) {
  let now = START;
  const server = await startXServer({ now: () => now, rateLimit: 1_000_000 });
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-late-'));
  dirs.push(dir);
  const store = await openStore({ sqlitePath: join(dir, 'sentinel.db') });
  const sink = new Recorder();
  const saidOpenAt: string[] = [];
  const monitor = new TrendMonitor({
    store,
    sinks: [sink],
    renderChart: null,
    onEvent: (e) => {
      if (e.kind === 'opened') saidOpenAt.push(new Date(e.evaluation.at).toISOString());
    },
  });
  const source = new XSource({
    bearerToken: server.token,
    apiUrl: server.url,
    agent: server.agent,
    streams: { Delta: '@Delta -is:retweet' },
    maxResults,
    maxPagesPerPoll,
    clock: { now: () => now, sleep: () => Promise.resolve() },
  });
  const poller = new Poller({ streams: [{ source, stream: 'Delta' }], scorer, store, onScored: monitor.onScored });
  const tweets = tweetsFrom(rows, [{ id: '1000', username: 'traveller' }]);
  let served = 0;
  try {
    for (now = START + stepMinutes * MINUTE; now < END + stepMinutes * MINUTE; now += stepMinutes * MINUTE) {
      while (served < tweets.length && Date.parse(tweets[served].created_at!) <= now)
        server.addTweets(tweets[served++]);
      await poller.pollOnce();
    }
    // The backlog, read to the end.
    for (let i = 0; i < 100 && (await poller.pollOnce())[0].fetched > 0; i++);
    await monitor.idle();
    return {
      alerts: await store.listAlerts('Delta'),
      stored: await store.countMentions('Delta'),
      kinds: sink.kinds,
      saidOpenAt,
      gapReads: server.searches().filter((r) => r.query.until_id).length,
    };
  } finally {
    await store.close();
    await server.close();
  }
}

test('the Delta burst of 22 Feb 2015: 10 a page, 2 pages a poll, opens at the same data time as an unlimited page', async () => {
  const reference = await run(60, 100, 1000);
  expect(reference.stored).toBe(rows.length);
  expect(reference.gapReads).toBe(0);
  expect(reference.alerts.map((a) => a.openedAt)).toEqual(['2015-02-22T19:00:00.000Z']);
  expect(reference.kinds[0]).toBe('opened');

  for (const step of [60, 120]) {
    const capped = await run(step, 10, 2);
    expect(capped.stored).toBe(rows.length);
    expect(capped.gapReads).toBeGreaterThan(0); // the cap did bite: older rests were read by later polls
    // Same alert, same opening data time; said opened once, before anything else.
    expect({ step, opened: capped.alerts.map((a) => a.openedAt) }).toEqual({
      step,
      opened: reference.alerts.map((a) => a.openedAt),
    });
    expect(capped.kinds.filter((k) => k === 'opened')).toHaveLength(1);
    expect(capped.kinds[0]).toBe('opened');
    // An opening said on partial data (before the rest of the burst was read) keeps its id and says so.
    const [alert] = capped.alerts;
    if (capped.saidOpenAt[0] !== alert.openedAt) {
      expect((alert.data as unknown as TrendAlertData).redatedFrom).toBe(capped.saidOpenAt[0]);
      expect(alert.id).toBe(`Delta@${capped.saidOpenAt[0]}`);
    }
  }
});
