/**
 * Champion / challenger with real parts: the challenger is hydrated from a strict loopback GCS bucket and
 * loaded; a real bad-buzz day (Delta, 20-22 Feb 2015) is replayed through the poller, the shipped model (the
 * champion), the trend monitor and a recording chat sink; the challenger scores every mention in shadow.
 * What people judged (votes cast from the human labels) compares the two. The challenger never reaches a sink.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../config/schema';
import { trendSettingsFrom } from '../../src/main';
import { recordFeedback } from '../../src/feedback/feedback';
import { ShadowScorer, compareChallenger, comparisonLine } from '../../src/feedback/shadow';
import { Poller } from '../../src/mentions/poller';
import { ReplaySource } from '../../src/mentions/replay-source';
import { Challenger } from '../../src/registry/challenger';
import { gcsSettings } from '../../src/registry/gcs';
import { ModelBucket } from '../../src/registry/model-bucket';
import { loadScorer } from '../../src/sentiment/load';
import type { Label, Scorer } from '../../src/sentiment/types';
import { openSqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';
import type { AlertContent } from '../../src/trends/content';
import { TrendMonitor } from '../../src/trends/monitor';
import type { ChatSink } from '../../src/trends/sink';
import { startGcsServer, type GcsServer } from '../helpers/gcs-server';
import { makeVersion, seedVersion, SHIPPED, shippedVersion, tempRoot } from '../helpers/model-versions';
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';

const DAY = resolve(__dirname, '../fixtures/delta_2015-02-20_22.csv');
const BUCKET = 'air-paradis-models';
const PREFIX = 'sentinel-bilstm';
const CHALLENGER = 'challenger-2026-12-03';
/** The day's rows; some carry no human label (held back for independent evaluation). */
const ROWS = parse(readFileSync(DAY), { columns: true }) as Array<{ tweet_id: string; label: string; text: string }>;

let gcs: GcsServer;
let root: string;
let champion: Scorer;
let store: Store;

beforeAll(async () => {
  gcs = await startGcsServer();
  root = tempRoot('challenger');
  seedVersion(gcs, BUCKET, PREFIX, makeVersion(root, CHALLENGER));
  champion = await loadScorer(SHIPPED);
});
afterAll(async () => {
  champion.dispose();
  await gcs.stop();
  rmSync(root, { recursive: true, force: true });
});
beforeEach(async () => {
  store = openSqliteStore(join(root, `db-${Date.now()}`, 'sentinel.db'));
  await store.migrate();
});
afterEach(() => store.close());

const bucket = () =>
  new ModelBucket(
    gcsSettings({
      ...loadConfig({ GCS_ENDPOINT: gcs.url, GCS_MAX_RETRIES: '0' }),
      modelBucket: BUCKET,
      modelPrefix: PREFIX,
    }),
  );
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

class Recorder implements ChatSink {
  readonly name = 'recorder';
  readonly sent: Array<{ kind: string; content: unknown }> = [];
  private take(kind: string, content: unknown) {
    this.sent.push({ kind, content });
    return Promise.resolve();
  }
  alertOpened = (c: AlertContent) => this.take('opened', c);
  alertUpdated = (c: AlertContent) => this.take('updated', c);
  alertResolved = (c: AlertContent) => this.take('resolved', c);
  streamNotice = (n: unknown) => this.take('notice', n);
  opsNotice = (t: string) => this.take('ops', t);
}

test('the challenger scores every mention in shadow; alerts and sinks only ever see the champion', async () => {
  const challenger = new Challenger({
    version: CHALLENGER,
    bucket: bucket(),
    cacheDir: join(root, 'cache'),
    logger: quiet,
  });
  await challenger.start();
  expect(challenger.current()).toMatchObject({ ready: true, version: CHALLENGER });

  const sink = new Recorder();
  const trends = new TrendMonitor({ store, settings: trendSettingsFrom(loadConfig({})), sinks: [sink] });
  const shadow = new ShadowScorer({ challenger: () => challenger.current(), store });
  const poller = new Poller({
    streams: [{ source: new ReplaySource({ path: DAY, chunkSize: 200 }), stream: 'Delta' }],
    scorer: champion,
    store,
    onScored: async (stream, mentions) => {
      await trends.onScored(stream, mentions);
      await shadow.score(mentions);
    },
  });
  for (let i = 0; i < 10; i++) await poller.pollOnce();
  const stored = await store.countMentions('Delta');
  expect(stored).toBeGreaterThan(800);

  // Every mention the champion scored; one in a language the model does not read has nothing to compare.
  const read = (await store.mentionsBetween('Delta', '2015-01-01T00:00:00Z', '2016-01-01T00:00:00Z')).filter(
    (m) => m.prediction !== null,
  );
  expect(read.length).toBeGreaterThan(stored - 5);
  const pairs = await store.shadowPairs(CHALLENGER);
  expect(pairs).toHaveLength(read.length);
  expect(new Set(pairs.map((p) => p.champion.modelVersion))).toEqual(new Set([shippedVersion()]));
  // Same weights under another name: they agree on every mention (a real comparison, not a constant).
  expect(pairs.every((p) => p.challenger.label === p.champion.label)).toBe(true);

  // The bad buzz was alerted, and nothing the sinks got names the challenger.
  expect(sink.sent.map((m) => m.kind)).toContain('opened');
  expect(JSON.stringify(sink.sent)).not.toContain(CHALLENGER);

  // People judge 60 mentions (from the human labels): ✅ when the champion agreed, ❌ with the label when not.
  const human = new Map(ROWS.filter((r) => r.label).map((r) => [r.tweet_id, r.label as Label]));
  let judged = 0;
  let championRight = 0;
  for (const p of pairs.filter((x) => human.has(x.champion.id.slice(2))).slice(0, 60)) {
    const truth = human.get(p.champion.id.slice(2))!;
    const correct = truth === p.champion.label;
    championRight += correct ? 1 : 0;
    judged++;
    await recordFeedback(store, {
      predictionId: p.champion.id,
      userId: `slack:T1:U${judged}`,
      correct,
      ...(correct ? {} : { trueLabel: truth }),
      source: 'slack',
    });
  }
  const comparison = await compareChallenger(store, CHALLENGER);
  expect(comparison).toEqual({
    challenger: CHALLENGER,
    champions: [shippedVersion()],
    scored: read.length,
    agreement: 1,
    judged: 60,
    championCorrect: championRight,
    challengerCorrect: championRight,
  });
  expect(comparisonLine(comparison)).toBe(
    `Challenger ${CHALLENGER}: agrees with the champion on 100 % of ${read.length} mentions; on 60 judged: champion ${Math.round((championRight / 60) * 100)} %, challenger ${Math.round((championRight / 60) * 100)} %`,
  );
  await challenger.stop();
});

test('a challenger that cannot be hydrated is reported once and costs the champion nothing', async () => {
  const problems: string[] = [];
  const challenger = new Challenger({
    version: 'not-published',
    bucket: bucket(),
    cacheDir: join(root, 'cache'),
    logger: quiet,
    onProblem: (t) => problems.push(t),
    retryMs: 50,
  });
  await challenger.start();
  await new Promise((r) => setTimeout(r, 300)); // several retries
  await challenger.stop();
  expect(problems).toHaveLength(1);
  expect(problems[0]).toMatch(
    /^challenger not-published not loaded \(from gs:\/\/air-paradis-models\/sentinel-bilstm\/not-published\/\): .+\. The serving model is not affected; tried again every 0 min\.$/,
  );
  const shadow = new ShadowScorer({ challenger: () => challenger.current(), store });
  const mentions = ROWS.slice(0, 3).map((r) => ({
    id: r.tweet_id,
    stream: 'Delta',
    createdAt: '2015-02-20T10:00:00Z',
    text: r.text,
    prediction: {
      label: 'neutral' as const,
      confidence: 1,
      probabilities: { negative: 0, neutral: 1, positive: 0 },
      modelVersion: 'v',
    },
  }));
  expect(await shadow.score(mentions)).toBe(0);
});
