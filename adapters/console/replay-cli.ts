/**
 * npm run replay -- --data <csv> [--stream <name>[,<name>…]] [--speed N] [--oracle] [--details] [--charts <dir>]
 *                   [--model <dir>] [--set key=value …]
 *
 * Runs the whole pipeline over a CSV of tweets (the format of airline_stream.csv: the `airline` column
 * names the stream): the replay source, the real scorer, a temporary SQLite store, the poller and the
 * trend monitor. Progress goes to stderr; stdout gets the alert timeline and, as its LAST line, one JSON
 * object: `mentions`, `alerts` (stream, opened_at, resolved_at, peak_negative_share) and, with --oracle,
 * `oracle` = {alerts, precision, recall, median_delay_minutes}: the same detector run on the human
 * labels (rows without a label are left out of the oracle), and the model's alerts scored against it
 * (src/trends/oracle.ts). `--speed N` replays at N× real time (default: as fast as possible); `--details`
 * prints each alert in full as the console adapter shows it, charts written to --charts (default: a temp
 * directory); `--set openPValue=0.005` overrides a detector setting (see src/trends/settings.ts).
 *
 * An entry point of the console adapter: it wires the core's pipeline to the console sink (imports point
 * down, from here into src/).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SingleBar, Presets } from 'cli-progress';
import { ConsoleSink } from './console-sink';
import { createLogger } from '../../src/log';
import { Poller } from '../../src/mentions/poller';
import { ReplaySource } from '../../src/mentions/replay-source';
import type { ScoredMention } from '../../src/mentions/types';
import { loadScorer } from '../../src/sentiment/load';
import { openSqliteStore } from '../../src/store/sqlite';
import { openStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';
import { pct } from '../../src/trends/detector';
import { duration } from '../../src/trends/content';
import { TrendMonitor, type MonitorEvent, type TrendAlertData } from '../../src/trends/monitor';
import { scoreAgainstOracle, type AlertSpan } from '../../src/trends/oracle';
import {
  DEFAULT_TREND_SETTINGS,
  checkTrendSettings,
  withSettings,
  type TrendSettings,
} from '../../src/trends/settings';
import { mentionEstimator } from '../../src/trends/prevalence';

const HELP =
  'usage: npm run replay -- --data <csv> [--stream <name>[,<name>…]] [--speed N] [--oracle] [--details] [--charts <dir>] [--model models/sentinel-bilstm] [--set key=value …]';

class UsageError extends Error {}

export interface ReplayOptions {
  data: string;
  streams?: string[];
  speed: number;
  oracle: boolean;
  details: boolean;
  chartDir?: string;
  model: string;
  settings: TrendSettings;
}

export function parseReplayArgs(argv: string[]): ReplayOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        data: { type: 'string' },
        stream: { type: 'string', multiple: true },
        speed: { type: 'string', default: 'Infinity' },
        oracle: { type: 'boolean', default: false },
        details: { type: 'boolean', default: false },
        charts: { type: 'string' },
        model: { type: 'string', default: 'models/sentinel-bilstm' },
        set: { type: 'string', multiple: true },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  if (!values.data) throw new UsageError('--data <csv> is required');
  const speed = values.speed === 'Infinity' ? Infinity : Number(values.speed);
  if (!(speed > 0))
    throw new UsageError(`--speed must be a positive number or Infinity, got ${JSON.stringify(values.speed)}`);
  let settings: TrendSettings;
  try {
    settings = withSettings(DEFAULT_TREND_SETTINGS, values.set ?? []);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  try {
    checkTrendSettings(settings);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const streams = values.stream
    ?.flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    data: values.data,
    ...(streams?.length ? { streams } : {}),
    speed,
    oracle: values.oracle,
    details: values.details,
    ...(values.charts ? { chartDir: values.charts } : {}),
    model: values.model,
    settings,
  };
}

export interface ReplaySummary {
  mentions: number;
  model_version: string;
  streams: string[];
  data_from: string | null;
  data_to: string | null;
  alerts: AlertSpan[];
  oracle?: {
    alerts: AlertSpan[];
    precision: number | null;
    recall: number | null;
    median_delay_minutes: number | null;
  };
  settings: TrendSettings;
}

async function run(opts: ReplayOptions): Promise<ReplaySummary> {
  const logger = createLogger('warn', { destination: 'stderr', name: 'replay' });
  const source = new ReplaySource({ path: opts.data, speed: opts.speed, chunkSize: 500, logger });
  const all = source.allStreams();
  const streams = opts.streams ?? all;
  const unknown = streams.filter((s) => !all.includes(s));
  if (unknown.length)
    throw new UsageError(
      `no stream ${unknown.map((s) => JSON.stringify(s)).join(', ')} in ${opts.data} (streams: ${all.join(', ')})`,
    );
  const total = streams.reduce((n, s) => n + source.remaining(s, null), 0);
  process.stderr.write(`replay: ${total} tweets of ${streams.join(', ')} from ${opts.data}\n`);

  const scorer = await loadScorer(opts.model, { maxBatch: 256 });
  process.stderr.write(`replay: model ${scorer.info.name} ${scorer.info.version} on ${scorer.info.backend}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-replay-'));
  const stores: Store[] = [];
  try {
    const store = await openStore({ sqlitePath: join(dir, 'replay.db') });
    stores.push(store);
    const chartDir = opts.chartDir ?? join(dir, 'charts');
    const events: Array<MonitorEvent & { who: 'model' | 'oracle' }> = [];
    const model = new TrendMonitor({
      store,
      settings: opts.settings,
      logger,
      sinks: opts.details ? [new ConsoleSink({ chartDir, colour: false })] : [],
      onEvent: (e) => events.push({ ...e, who: 'model' }),
      estimate: mentionEstimator(opts.settings.prevalence, () => scorer.info),
    });
    let oracle: TrendMonitor | undefined;
    if (opts.oracle) {
      const oracleStore = openSqliteStore(':memory:');
      await oracleStore.migrate();
      stores.push(oracleStore);
      oracle = new TrendMonitor({
        store: oracleStore,
        settings: opts.settings,
        logger,
        keyPrefix: 'oracle',
        judge: (m) => (m.humanLabel ? m.humanLabel === 'negative' : undefined),
        renderChart: null,
        onEvent: (e) => events.push({ ...e, who: 'oracle' }),
      });
    }
    let mentions = 0;
    let first: string | null = null;
    let last: string | null = null;
    const bar = new SingleBar(
      {
        format: 'replay [{bar}] {value}/{total} tweets | {eta_formatted} left | alerts {alerts}',
        stream: process.stderr,
      },
      Presets.shades_classic,
    );
    bar.start(total, 0, { alerts: 0 });
    const onScored = async (stream: string, ms: ScoredMention[]) => {
      mentions += ms.length;
      for (const m of ms) {
        if (first === null || m.createdAt < first) first = m.createdAt;
        if (last === null || m.createdAt > last) last = m.createdAt;
      }
      await model.onScored(stream, ms);
      if (oracle) await oracle.onScored(stream, ms);
      bar.update(mentions, { alerts: events.filter((e) => e.who === 'model' && e.kind === 'opened').length });
    };
    const poller = new Poller({
      streams: streams.map((stream) => ({ source, stream })),
      scorer,
      store,
      onScored,
      logger,
    });
    const checkpoints = new Map<string, string | null>();
    for (;;) {
      const reports = await poller.pollOnce();
      for (const r of reports) {
        if (r.result !== 'ok') throw new Error(`poll of ${r.stream} failed: ${r.error ?? r.result}`);
        checkpoints.set(r.stream, r.checkpoint);
      }
      if (streams.every((s) => source.remaining(s, checkpoints.get(s) ?? null) === 0)) break;
      if (Number.isFinite(opts.speed)) await new Promise((r) => setTimeout(r, 200));
    }
    bar.stop();
    scorer.dispose();

    const modelAlerts = spans(await store.listAlerts());
    printTimeline(events);
    const summary: ReplaySummary = {
      mentions,
      model_version: scorer.info.version,
      streams,
      data_from: first,
      data_to: last,
      alerts: modelAlerts,
      settings: opts.settings,
    };
    if (oracle) {
      const oracleAlerts = spans(await stores[1].listAlerts());
      const score = scoreAgainstOracle(modelAlerts, oracleAlerts, last ?? new Date(0).toISOString());
      summary.oracle = {
        alerts: oracleAlerts,
        precision: score.precision,
        recall: score.recall,
        median_delay_minutes: score.median_delay_minutes,
      };
      process.stdout.write(
        `\nOracle (human labels): ${oracleAlerts.length} alert(s); model precision ${fmt(score.precision)}, recall ${fmt(score.recall)}, median delay ${score.median_delay_minutes ?? '–'} min (delays ${score.delays_minutes.join(', ') || '–'})\n`,
      );
    }
    return summary;
  } finally {
    for (const s of stores) await s.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

function spans(records: Awaited<ReturnType<Store['listAlerts']>>): AlertSpan[] {
  return records
    .map((a) => {
      const data = a.data as unknown as TrendAlertData;
      return {
        stream: a.stream,
        opened_at: a.openedAt,
        resolved_at: a.resolvedAt ?? null,
        peak_negative_share: Math.round((data.peak?.share ?? NaN) * 10_000) / 10_000,
      };
    })
    .sort((a, b) => a.opened_at.localeCompare(b.opened_at) || a.stream.localeCompare(b.stream));
}

function printTimeline(events: Array<MonitorEvent & { who: 'model' | 'oracle' }>): void {
  const lines = [...events]
    .filter((e) => e.kind !== 'updated')
    .sort((a, b) => a.evaluation.at - b.evaluation.at || a.who.localeCompare(b.who))
    .map((e) => {
      const ev = e.evaluation;
      const data = e.alert.data as unknown as TrendAlertData;
      const what =
        e.kind === 'opened'
          ? `OPENED    ${pct(ev.share)} negative in ${duration(ev.windowMinutes)} (normally ${pct(ev.baseline?.share ?? NaN)}), ${ev.total} mentions, ${ev.evidence ? `evidence ${ev.evidence.statistic.toFixed(1)} (${ev.evidence.signal})` : `p = ${ev.pValue.toExponential(1)}`}`
          : `RESOLVED  after ${Math.round((data.resolution?.durationMinutes ?? 0) / 6) / 10} h, peak ${pct(data.peak.share)}`;
      return `${new Date(ev.at).toISOString().slice(0, 16).replace('T', ' ')} UTC  ${e.who.padEnd(6)}  ${e.alert.stream.padEnd(15)} ${what}`;
    });
  process.stdout.write(`Alert timeline (data time):\n${lines.join('\n') || '  (no alert)'}\n`);
}

function fmt(x: number | null): string {
  return x === null ? '–' : x.toFixed(2);
}

async function main(): Promise<void> {
  let opts: ReplayOptions | 'help';
  try {
    opts = parseReplayArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n${HELP}\n`);
    process.exit(2);
  }
  if (opts === 'help') return void process.stdout.write(`${HELP}\n`);
  try {
    const summary = await run(opts);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  }
}

if (require.main === module) void main();
