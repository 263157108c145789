/**
 * npm run alerts:eval -- [--data ../shared/data/airline_stream.csv] [--val ../shared/data/airline_val.csv]
 *   [--model models/sentinel-bilstm] [--runs 4] [--injections 4] [--days 14] [--seed 20261203]
 *   [--chart docs/alerts-amoc.png] [--set key=value …]
 *
 * Measures alert detectors side by side, in one run, on the same storms (./storm-injection.ts):
 *   (a) the real stream: each detector on the model's scores against the same detector on the human
 *       labels (precision, recall, delays: src/trends/oracle.ts, as `replay --oracle`);
 *   (b) injected storms on ordinary days: detection rate, median and 90th-percentile delay from the
 *       storm's start, and false alarms per stream-week on the same fortnights without a storm. Ordinary
 *       days are split per stream, alternately, into a tuning half (thresholds are chosen there) and a
 *       report half (the figures that count).
 * Today's detector (fixed 3 h / 12 h windows on the model's labels) is swept over its p-value, the scan
 * over its threshold: the AMOC curves (median delay against false alarms per week) go to --chart. The
 * scan's threshold is the lowest whose tuning false alarms stay within the budget (1 per stream per
 * 2 weeks); the prevalence estimators and the volume signal are compared at it. `--set` changes the scan's
 * other settings. Table and progress on stderr; the last stdout line is one JSON object.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { SingleBar, Presets } from 'cli-progress';
import { loadScorer } from '../sentiment/load';
import { identifyLanguage } from '../sentiment/language';
import type { ConfusionRates } from '../sentiment/confusion-rates';
import { PREVALENCE_METHODS, mentionEstimate, type PrevalenceMethod } from '../trends/prevalence';
import { DEFAULT_TREND_SETTINGS, MINUTE, withSettings, type TrendSettings } from '../trends/settings';
import { scoreAgainstOracle, type AlertSpan } from '../trends/oracle';
import { amocPng, type AmocCurve } from './amoc-chart';
import {
  DAY,
  bootstrapStream,
  dayStart,
  eventShape,
  injectEpisode,
  ordinaryDays,
  quantiles,
  rng,
  runDetector,
  shareDispersion,
  splitDays,
  volumeDispersion,
  type Day,
  type EvalTweet,
  type EventShape,
  type Opening,
} from './storm-injection';

const HELP =
  'usage: npm run alerts:eval -- [--data ../shared/data/airline_stream.csv] [--val ../shared/data/airline_val.csv] [--model models/sentinel-bilstm] [--runs 4] [--injections 4] [--days 14] [--seed 20261203] [--chart docs/alerts-amoc.png] [--set key=value …]';

/** The scan as measured (its dispersion is measured in the run for its estimator); `--set` changes it. */
export const SCAN_CANDIDATE: Partial<TrendSettings> = { scanMinutes: 720, prevalence: 'pcc' };
/** The false-alarm budget of the goal: 1 per stream per 2 weeks. */
export const FALSE_ALARM_BUDGET = 0.5;
/** Days of a bootstrap fortnight used as history only (24 h of history, then the scan's 12 h). */
const WARM_UP_DAYS = 2;

interface Options {
  data: string;
  val: string;
  model: string;
  runs: number;
  injections: number;
  days: number;
  seed: number;
  chart: string;
  scan: TrendSettings;
}

export interface SetResult {
  detection_rate: number;
  median_delay_minutes: number | null;
  p90_delay_minutes: number | null;
  false_alarms_per_stream_week: number;
  storms: number;
  stream_weeks: number;
  by_signal: Record<string, number>;
}

export interface RealResult {
  alerts: AlertSpan[];
  oracle_alerts: AlertSpan[];
  precision: number | null;
  recall: number | null;
  median_delay_minutes: number | null;
  delays_minutes: number[];
}

interface Trial {
  stream: string;
  tweets: EvalTweet[];
  /** Judged from here (the warm-up days are history). */
  judgedFrom: number;
  end: number;
  episode?: { start: number; end: number };
}

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string', default: '../shared/data/airline_stream.csv' },
      val: { type: 'string', default: '../shared/data/airline_val.csv' },
      model: { type: 'string', default: 'models/sentinel-bilstm' },
      runs: { type: 'string', default: '4' },
      injections: { type: 'string', default: '4' },
      days: { type: 'string', default: '14' },
      seed: { type: 'string', default: '20261203' },
      chart: { type: 'string', default: 'docs/alerts-amoc.png' },
      set: { type: 'string', multiple: true },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  const int = (name: string, raw: string, min: number) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
  return {
    data: values.data,
    val: values.val,
    model: values.model,
    runs: int('runs', values.runs, 1),
    injections: int('injections', values.injections, 1),
    days: int('days', values.days, WARM_UP_DAYS + 3),
    seed: int('seed', values.seed, 0),
    chart: values.chart,
    scan: withSettings({ ...DEFAULT_TREND_SETTINGS, ...SCAN_CANDIDATE }, values.set ?? []),
  };
}

/**
 * Today's detector — the settings before the scan: the fixed windows judged on the model's labels, with
 * the dispersion measured for them (docs/alerts.md).
 */
export function todaySettings(base: TrendSettings): TrendSettings {
  return { ...base, scanMinutes: 0, prevalence: 'cc', dispersion: DEFAULT_TREND_SETTINGS.dispersion };
}

function estimateOf(t: EvalTweet, method: PrevalenceMethod, rates?: ConfusionRates): number {
  return mentionEstimate(method, t.pNegative, t.negative, rates);
}

function observations(tweets: readonly EvalTweet[], s: TrendSettings, rates?: ConfusionRates) {
  return tweets.map((t) => ({ time: t.time, negative: t.negative, estimate: estimateOf(t, s.prevalence, rates) }));
}

/** Each detector on the model's scores and on the human labels of the real stream. */
export function realStream(tweets: readonly EvalTweet[], s: TrendSettings, rates?: ConfusionRates): RealResult {
  const streams = [...new Set(tweets.map((t) => t.stream))];
  const end = Math.max(...tweets.map((t) => t.time));
  const spans = (stream: string, os: Opening[]): AlertSpan[] =>
    os.map((o) => ({
      stream,
      opened_at: new Date(o.openedAt).toISOString(),
      resolved_at: o.resolvedAt !== undefined ? new Date(o.resolvedAt).toISOString() : null,
      peak_negative_share: NaN,
    }));
  const alerts: AlertSpan[] = [];
  const oracle: AlertSpan[] = [];
  for (const stream of streams) {
    const own = tweets.filter((t) => t.stream === stream);
    alerts.push(...spans(stream, runDetector(observations(own, s, rates), s, end)));
    const human = own
      .filter((t) => t.label)
      .map((t) => ({ time: t.time, negative: t.label === 'negative', estimate: t.label === 'negative' ? 1 : 0 }));
    oracle.push(...spans(stream, runDetector(human, s, end)));
  }
  const score = scoreAgainstOracle(alerts, oracle, new Date(end).toISOString());
  return {
    alerts,
    oracle_alerts: oracle,
    precision: score.precision,
    recall: score.recall,
    median_delay_minutes: score.median_delay_minutes,
    delays_minutes: score.delays_minutes,
  };
}

/** The fortnights of one half of the ordinary days: without a storm, and with one each. */
export function buildTrials(
  days: readonly Day[],
  pools: ReadonlyMap<string, EvalTweet[]>,
  shapes: readonly EventShape[],
  o: Pick<Options, 'runs' | 'injections' | 'days' | 'seed'>,
): { quiet: Trial[]; storms: Trial[] } {
  const random = rng(o.seed);
  const t0 = dayStart(Date.UTC(2030, 0, 7, 12));
  const quiet: Trial[] = [];
  const storms: Trial[] = [];
  const size = (lo: number, hi: number) => lo + random() * (hi - lo);
  const fractions = shapes.map((s) => s.sizeFraction);
  const hours = shapes.map((s) => s.durationHours);
  for (const stream of [...new Set(days.map((d) => d.stream))].sort()) {
    const own = days.filter((d) => d.stream === stream);
    const pool = pools.get(stream) ?? [];
    const usualDay = own.reduce((n, d) => n + d.tweets.length, 0) / own.length;
    for (let r = 0; r < o.runs; r++) {
      const b = bootstrapStream(own, o.days, random, t0);
      const judgedFrom = b.dayStarts[WARM_UP_DAYS];
      const end = b.dayStarts[o.days - 1] + DAY;
      quiet.push({ stream, tweets: b.tweets, judgedFrom, end });
      if (pool.length === 0) continue;
      for (let k = 0; k < o.injections; k++) {
        const day = WARM_UP_DAYS + 1 + Math.floor(random() * (o.days - WARM_UP_DAYS - 2));
        const start = b.dayStarts[day] + random() * DAY;
        const duration = size(Math.min(...hours), Math.max(...hours)) * 3_600_000;
        const n = Math.max(1, Math.round(size(Math.min(...fractions), Math.max(...fractions)) * usualDay));
        const episode = { start, end: start + duration };
        const added = injectEpisode(pool, { ...episode, size: n }, random);
        storms.push({ stream, tweets: [...b.tweets, ...added], judgedFrom, end, episode });
      }
    }
  }
  return { quiet, storms };
}

/** Detection and false alarms of one detector on one half's trials. */
export function measure(
  trials: { quiet: Trial[]; storms: Trial[] },
  s: TrendSettings,
  rates: ConfusionRates | undefined,
  tick: () => void = () => undefined,
): SetResult {
  let falseAlarms = 0;
  let judgedMs = 0;
  for (const t of trials.quiet) {
    falseAlarms += runDetector(observations(t.tweets, s, rates), s, t.end).filter(
      (a) => a.openedAt >= t.judgedFrom,
    ).length;
    judgedMs += t.end - t.judgedFrom;
    tick();
  }
  const delays: number[] = [];
  const bySignal: Record<string, number> = {};
  for (const t of trials.storms) {
    const ep = t.episode!;
    const hit = runDetector(observations(t.tweets, s, rates), s, t.end).find(
      (a) => a.openedAt >= ep.start && a.openedAt <= ep.end,
    );
    if (hit) {
      delays.push((hit.openedAt - ep.start) / MINUTE);
      const key = hit.signal ?? 'fixed window';
      bySignal[key] = (bySignal[key] ?? 0) + 1;
    }
    tick();
  }
  const q = quantiles(delays);
  const weeks = judgedMs / (7 * DAY);
  return {
    detection_rate: round(delays.length / Math.max(1, trials.storms.length), 3),
    median_delay_minutes: q.median === null ? null : Math.round(q.median),
    p90_delay_minutes: q.p90 === null ? null : Math.round(q.p90),
    false_alarms_per_stream_week: round(falseAlarms / weeks, 3),
    storms: trials.storms.length,
    stream_weeks: round(weeks, 1),
    by_signal: bySignal,
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

async function readTweets(
  o: Options,
): Promise<{ tweets: EvalTweet[]; valIds: Set<string>; rates?: ConfusionRates; version: string }> {
  const rows = parse(readFileSync(o.data), { columns: true, skip_empty_lines: true }) as Array<Record<string, string>>;
  const valIds = new Set(
    (parse(readFileSync(o.val), { columns: true, skip_empty_lines: true }) as Array<Record<string, string>>).map(
      (r) => r.tweet_id,
    ),
  );
  const scorer = await loadScorer(o.model, { maxBatch: 256 });
  // What the monitor counts: English (or too short to tell) and readable; the rest is left out.
  const read = rows.filter((r) => identifyLanguage(r.text).supported && scorer.unreadable(r.text) === null);
  process.stderr.write(
    `alerts:eval: ${rows.length} tweets of ${o.data}, ${read.length} read by ${scorer.info.version} (${rows.length - read.length} other languages or unreadable)\n`,
  );
  const bar = new SingleBar(
    { format: 'scoring [{bar}] {value}/{total}', stream: process.stderr, noTTYOutput: true, notTTYSchedule: 15_000 },
    Presets.shades_classic,
  );
  bar.start(read.length, 0);
  const tweets: EvalTweet[] = [];
  try {
    for (let i = 0; i < read.length; i += 512) {
      const chunk = read.slice(i, i + 512);
      const preds = await scorer.score(chunk.map((r) => r.text));
      chunk.forEach((r, j) =>
        tweets.push({
          id: r.tweet_id,
          stream: r.airline,
          time: Date.parse(r.created_at),
          label: (r.label ?? '') as EvalTweet['label'],
          negative: preds[j].label === 'negative',
          pNegative: preds[j].probabilities.negative,
        }),
      );
      bar.update(Math.min(read.length, i + 512));
    }
  } finally {
    bar.stop();
  }
  const rates = scorer.info.prevalence;
  const version = scorer.info.version;
  scorer.dispose();
  return { tweets: tweets.sort((a, b) => a.time - b.time), valIds, ...(rates ? { rates } : {}), version };
}

async function main(argv: string[]): Promise<void> {
  const o = parseOptions(argv);
  if (o === 'help') {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const { tweets, valIds, rates, version } = await readTweets(o);
  const today = todaySettings(o.scan);

  // The bad days, by today's detector on the human labels; the ordinary days are all the others.
  const reference = realStream(tweets, today, rates);
  const badDays = reference.oracle_alerts.map((a) => ({
    stream: a.stream,
    from: Date.parse(a.opened_at) - Math.max(today.windowMinutes, today.longWindowMinutes) * MINUTE,
    to: a.resolved_at ? Date.parse(a.resolved_at) : Infinity,
  }));
  const ordinary = ordinaryDays(tweets, badDays);
  const shapes = reference.oracle_alerts.map((a) =>
    eventShape(a.stream, dayStart(Date.parse(a.opened_at)), tweets, ordinary),
  );
  const halves = splitDays(ordinary);
  // The storms are made of negative tweets the model never trained on (the validation split's).
  const pools = new Map<string, EvalTweet[]>();
  for (const t of tweets)
    if (t.label === 'negative' && valIds.has(t.id)) pools.set(t.stream, [...(pools.get(t.stream) ?? []), t]);
  process.stderr.write(
    `alerts:eval: ${ordinary.length} ordinary stream-days (tuning ${halves.tuning.length}, report ${halves.report.length}); ` +
      `storms shaped on ${shapes.map((s) => `${s.stream} ${new Date(s.day).toISOString().slice(5, 10)} (${Math.round(s.sizeFraction * 100)} % of a day's volume over ${s.durationHours.toFixed(1)} h)`).join(', ')}\n`,
  );
  // Each estimator's scatter, measured on the tuning half: the test divides by it (an adjusted share
  // scatters more than a count of labels).
  const phi = Object.fromEntries(
    PREVALENCE_METHODS.map((m) => [
      m,
      round(
        shareDispersion(halves.tuning, (t) => estimateOf(t, m, rates)),
        2,
      ),
    ]),
  ) as Record<PrevalenceMethod, number>;
  const phiVolume = round(volumeDispersion(halves.tuning), 2);
  process.stderr.write(
    `alerts:eval: dispersion of window shares on the tuning days: ${PREVALENCE_METHODS.map((m) => `${m} ${phi[m]}`).join(', ')}; of the volume: ${phiVolume}\n`,
  );
  const measured = (x: TrendSettings): TrendSettings => ({
    ...x,
    dispersion: phi[x.prevalence],
    volumeDispersion: phiVolume,
  });
  const trials = {
    tuning: buildTrials(halves.tuning, pools, shapes, o),
    report: buildTrials(halves.report, pools, shapes, { ...o, seed: o.seed + 1 }),
  };

  const pValues = [0.01, 0.003, 0.001, 0.0001];
  const thresholds = [4, 5, 6, 7, 8, 10, 12];
  const variants: Array<{ name: string; set: Partial<TrendSettings> }> = [
    { name: 'scan, cc', set: { prevalence: 'cc' } },
    { name: 'scan, acc', set: { prevalence: 'acc' } },
    { name: 'scan, pcc', set: { prevalence: 'pcc' } },
    { name: 'scan, pacc', set: { prevalence: 'pacc' } },
    { name: 'scan, no volume', set: { scanVolumeRatio: 0 } },
  ];
  const runsPer = (t: { quiet: Trial[]; storms: Trial[] }) => t.quiet.length + t.storms.length;
  const total =
    (pValues.length + thresholds.length) * (runsPer(trials.tuning) + runsPer(trials.report)) +
    variants.length * runsPer(trials.report);
  const bar = new SingleBar(
    {
      format: 'detectors [{bar}] {value}/{total} runs | {eta_formatted} left',
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: 15_000,
    },
    Presets.shades_classic,
  );
  bar.start(total, 0);
  // The runs are synchronous, so the bar's own timer never fires while they go, and cli-progress turns
  // its synchronous redraws off outside a terminal: in a log, redraw from here, every 15 s.
  let nextLine = Date.now() + 15_000;
  const tick = () => {
    bar.increment();
    if (!process.stderr.isTTY && Date.now() >= nextLine) {
      bar.render();
      nextLine = Date.now() + 15_000;
    }
  };
  const sweep = (s: (x: number) => TrendSettings, xs: number[]) =>
    xs.map((x) => ({
      x,
      tuning: measure(trials.tuning, s(x), rates, tick),
      report: measure(trials.report, s(x), rates, tick),
    }));
  const todaySweep = sweep(
    (p) => ({ ...today, openPValue: p, sustainPValue: Math.max(p, today.sustainPValue) }),
    pValues,
  );
  const scanSweep = sweep((h) => measured({ ...o.scan, scanThreshold: h }), thresholds);
  // The lowest threshold within the false-alarm budget on the tuning half.
  const chosen =
    scanSweep.find((r) => r.tuning.false_alarms_per_stream_week <= FALSE_ALARM_BUDGET) ??
    scanSweep[scanSweep.length - 1];
  const chosenSettings = measured({ ...o.scan, scanThreshold: chosen.x });
  const compared = variants.map((v) => ({
    name: v.name,
    report: measure(trials.report, measured({ ...chosenSettings, ...v.set } as TrendSettings), rates, tick),
  }));
  bar.stop();
  const todayDefault = todaySweep.find((r) => r.x === today.openPValue)!;

  const real = {
    today: reference,
    scan: realStream(tweets, chosenSettings, rates),
    ...Object.fromEntries(
      variants.map((v) => [v.name, realStream(tweets, { ...chosenSettings, ...v.set } as TrendSettings, rates)]),
    ),
  };

  const row = (name: string, r: SetResult, realR?: RealResult) =>
    `${name.padEnd(28)} ${pctOf(r.detection_rate).padStart(6)} ${fmtMin(r.median_delay_minutes).padStart(8)} ${fmtMin(r.p90_delay_minutes).padStart(8)} ${r.false_alarms_per_stream_week.toFixed(2).padStart(7)}` +
    (realR
      ? `   ${realR.alerts.length}/${realR.oracle_alerts.length} alerts, recall ${realR.recall ?? '–'}, delays ${realR.delays_minutes.join(', ') || '–'} min`
      : '');
  const lines = [
    '',
    `Injected storms, report half (${chosen.report.storms} storms, ${chosen.report.stream_weeks} stream-weeks without one):`,
    `${'detector'.padEnd(28)} ${'found'.padStart(6)} ${'median'.padStart(8)} ${'p90'.padStart(8)} ${'FA/wk'.padStart(7)}   real stream (model vs its human-label run)`,
    ...todaySweep.map((r) =>
      row(
        `today p < ${r.x}${r.x === today.openPValue ? ' (default)' : ''}`,
        r.report,
        r.x === today.openPValue ? reference : undefined,
      ),
    ),
    ...scanSweep.map((r) =>
      row(`scan h = ${r.x}${r.x === chosen.x ? ' (chosen)' : ''}`, r.report, r.x === chosen.x ? real.scan : undefined),
    ),
    ...compared.map((c) => row(c.name, c.report, real[c.name as keyof typeof real] as RealResult)),
    '',
    `chosen on the tuning half: scan threshold ${chosen.x} (tuning: ${chosen.tuning.false_alarms_per_stream_week} false alarms per stream-week, budget ${FALSE_ALARM_BUDGET})`,
  ];
  process.stderr.write(lines.join('\n') + '\n');

  const curves: AmocCurve[] = [
    { name: "today's windows (p-value)", points: todaySweep.map((r) => point(r.report, `p<${r.x}`)) },
    { name: 'scan (threshold)', points: scanSweep.map((r) => point(r.report, `h=${r.x}`)) },
  ];
  writeFileSync(
    o.chart,
    amocPng(curves, {
      title: 'Injected storms: median delay vs false alarms (report half)',
      subtitle: `${chosen.report.storms} storms, ${chosen.report.stream_weeks} stream-weeks; model ${version}`,
      goal: { falseAlarmsPerWeek: FALSE_ALARM_BUDGET, medianDelayMinutes: 30 },
    }),
  );
  process.stderr.write(`alerts:eval: AMOC curves → ${o.chart}\n`);
  process.stdout.write(
    JSON.stringify({
      model_version: version,
      data: o.data,
      ordinary_stream_days: { tuning: halves.tuning.length, report: halves.report.length },
      storm_shapes: shapes.map((s) => ({
        ...s,
        day: new Date(s.day).toISOString(),
        sizeFraction: round(s.sizeFraction, 3),
        durationHours: round(s.durationHours, 1),
      })),
      dispersion: { share: phi, volume: phiVolume },
      budget_false_alarms_per_stream_week: FALSE_ALARM_BUDGET,
      chosen_threshold: chosen.x,
      today: {
        default_open_pvalue: today.openPValue,
        injected: todayDefault.report,
        real: strip(reference),
        sweep: todaySweep,
      },
      scan: { injected: chosen.report, tuning: chosen.tuning, real: strip(real.scan), sweep: scanSweep },
      variants: compared.map((c) => ({ ...c, real: strip(real[c.name as keyof typeof real] as RealResult) })),
      settings: chosenSettings,
      chart: o.chart,
    }) + '\n',
  );
}

function strip(r: RealResult) {
  return {
    alerts: r.alerts.map((a) => [a.stream, a.opened_at, a.resolved_at]),
    oracle_alerts: r.oracle_alerts.map((a) => [a.stream, a.opened_at, a.resolved_at]),
    precision: r.precision,
    recall: r.recall,
    median_delay_minutes: r.median_delay_minutes,
    delays_minutes: r.delays_minutes,
  };
}

function point(r: SetResult, label: string) {
  return {
    falseAlarmsPerWeek: r.false_alarms_per_stream_week,
    medianDelayMinutes: r.median_delay_minutes,
    detectionRate: r.detection_rate,
    label,
  };
}

function pctOf(x: number): string {
  return `${Math.round(x * 100)} %`;
}

function fmtMin(m: number | null): string {
  return m === null ? '–' : `${m} min`;
}

if (require.main === module)
  main(process.argv.slice(2)).catch((err: Error) => {
    process.stderr.write(`error: ${err.message}\n${HELP}\n`);
    process.exit(1);
  });
