/**
 * The detector: at the end of each bucket, is the negative share significantly above the stream's
 * baseline? A pure function of the counts, the baseline and the settings.
 *
 * Alerts open on the multi-scale scan (./scan) when it is on (`scanMinutes` > 0): its best window is
 * `elevated` when its evidence reaches `scanThreshold`, its share is at least `minLift` above the baseline
 * and at least `floor`. The two fixed windows (3 h and 12 h) keep an open alert open, and open alerts
 * themselves when the scan is off, under these conditions.
 *
 * A fixed window is `elevated` (an alert may open) when all of these hold:
 *   - the stream has enough history for a baseline (else `insufficient_history`, said, never guessed);
 *   - the window holds at least `minVolume` mentions (else `low_volume`);
 *   - the one-sided test (./stats) gives p < `openPValue`;
 *   - the share is at least `minLift` above the baseline and at least `floor`.
 * It is `sustained` (an open alert stays open) when it has the volume, p < `sustainPValue` and the share
 * is at least `floor`: the looser test is the hysteresis.
 */
import { ewmaBaseline, type Baseline } from './baseline';
import { estimatedShare, type BucketSeries } from './buckets';
import { scanBaseline, scanWindows, type ScanEvidence } from './scan';
import { HOUR, MINUTE, type TrendSettings } from './settings';
import { excessTest } from './stats';

export type WindowStatus = 'insufficient_history' | 'low_volume' | 'normal' | 'elevated';

export interface WindowEvaluation {
  /** The window's end (a bucket boundary), epoch ms: the detector's "now". */
  at: number;
  windowStart: number;
  windowMinutes: number;
  total: number;
  /** Mentions the model labelled negative. */
  negative: number;
  /** Estimated negatives (./prevalence): what the share and the test use. */
  estimate: number;
  /** The estimated negative share, estimate / total in [0, 1] (0 for an empty window). */
  share: number;
  baseline: Baseline | null;
  z: number;
  pValue: number;
  status: WindowStatus;
  sustained: boolean;
  /** Why, in words (e.g. "18 h of history, 24 h needed"). */
  reason: string;
  /** The scan's window only: its evidence. */
  evidence?: ScanEvidence;
}

/** Both windows (the short one, then the long one if configured), and the one that speaks for them. */
export interface Evaluation extends WindowEvaluation {
  windows: WindowEvaluation[];
}

/**
 * Evaluates the short window and, when configured, the long one at `at`. The evaluation speaks with the
 * figures of the most significant elevated window, else of the most significant sustained one, else of
 * the short window (the freshest picture). History is judged on the short window.
 */
export function evaluate(
  series: BucketSeries,
  at: number,
  settings: TrendSettings,
  exclude: ReadonlyArray<{ from: number; to: number }> = [],
): Evaluation {
  const scanning = settings.scanMinutes > 0;
  const short = evaluateWindow(series, at, settings, settings.windowMinutes, exclude, !scanning);
  const windows = [short];
  if (settings.longWindowMinutes > 0 && short.status !== 'insufficient_history') {
    const long = evaluateWindow(series, at, settings, settings.longWindowMinutes, exclude, !scanning);
    if (long.status !== 'insufficient_history') windows.push(long);
  }
  if (scanning) {
    const scan = evaluateScan(series, at, settings, exclude);
    if (scan) windows.push(scan);
  }
  const best = (ws: WindowEvaluation[]) => ws.reduce((a, b) => (b.pValue < a.pValue ? b : a));
  const elevated = windows.filter((w) => w.status === 'elevated');
  const sustained = windows.filter((w) => w.sustained);
  const speaker = elevated.length ? best(elevated) : sustained.length ? best(sustained) : short;

  return { ...speaker, sustained: sustained.length > 0, windows };
}

/**
 * The scan's best window at `at` as a window evaluation (its figures are the ones a person can check:
 * counts, share, baseline, the same test as the fixed windows), or null before the history or with no
 * mention. It never sustains an alert: the fixed windows do.
 */
export function evaluateScan(
  series: BucketSeries,
  at: number,
  settings: TrendSettings,
  exclude: ReadonlyArray<{ from: number; to: number }> = [],
): WindowEvaluation | null {
  const { baseline, usualBySlot } = scanBaseline(series, at, settings, exclude);
  if (!baseline || baseline.historyHours < settings.minHistoryHours || baseline.mentions < settings.minHistoryMentions)
    return null;
  // Alerts resolved by now: the scan starts after the last one.
  const lastEnd = Math.max(-Infinity, ...exclude.filter((e) => e.to <= at).map((e) => e.to));
  const w = scanWindows(series, at, settings, baseline, usualBySlot, lastEnd);
  if (!w) return null;
  const { total, negative, estimate } = w.counts;
  const share = estimatedShare(w.counts);
  const { z, pValue } = excessTest(share * total, total, baseline.share, baseline.effectiveN, settings.dispersion);
  const lift = share - baseline.share;
  const e = w.evidence;
  const strong = e.statistic >= e.threshold;
  const elevated = strong && lift >= settings.minLift && share >= settings.floor;
  const windowMinutes = Math.round((at - w.windowStart) / MINUTE);
  const reason = elevated
    ? `negative share ${pct(share)} vs ${pct(baseline.share)} normally over the last ${windowMinutes} min (evidence ${e.statistic.toFixed(1)} ≥ ${e.threshold})`
    : !strong
      ? `evidence ${e.statistic.toFixed(1)} < ${e.threshold}`
      : lift < settings.minLift
        ? `strong evidence but only ${pct(lift)} above normal (${pct(settings.minLift)} needed)`
        : `below the floor of ${pct(settings.floor)}`;
  return {
    at,
    windowStart: w.windowStart,
    windowMinutes,
    total,
    negative,
    estimate,
    share,
    baseline,
    z,
    pValue,
    status: elevated ? 'elevated' : 'normal',
    sustained: false,
    reason,
    evidence: e,
  };
}

export function evaluateWindow(
  series: BucketSeries,
  at: number,
  settings: TrendSettings,
  windowMinutes: number,
  exclude: ReadonlyArray<{ from: number; to: number }> = [],
  /** false: the window may keep an alert open but not open one (the scan opens them). */
  canOpen = true,
): WindowEvaluation {
  const windowStart = at - windowMinutes * MINUTE;
  const counts = series.sum(windowStart, at);
  const { total, negative, estimate } = counts;
  const share = estimatedShare(counts);
  const baseline = ewmaBaseline(series, {
    end: windowStart,
    lookbackMs: settings.baselineLookbackHours * HOUR,
    halfLifeMs: settings.baselineHalfLifeHours * HOUR,
    exclude,
  });
  const base = { at, windowStart, windowMinutes, total, negative, estimate, share, baseline };
  const historyHours = baseline?.historyHours ?? 0;
  const historyMentions = baseline?.mentions ?? 0;
  if (!baseline || historyHours < settings.minHistoryHours || historyMentions < settings.minHistoryMentions) {
    const need = [
      historyHours < settings.minHistoryHours
        ? `${fmt(historyHours)} h of history, ${settings.minHistoryHours} h needed`
        : undefined,
      historyMentions < settings.minHistoryMentions
        ? `${historyMentions} mention(s) of history, ${settings.minHistoryMentions} needed`
        : undefined,
    ].filter(Boolean);
    return {
      ...base,
      z: 0,
      pValue: 1,
      status: 'insufficient_history',
      sustained: false,
      reason: `too little history to know what is normal: ${need.join('; ')}`,
    };
  }
  const { z, pValue } = excessTest(share * total, total, baseline.share, baseline.effectiveN, settings.dispersion);
  if (total < settings.minVolume) {
    return {
      ...base,
      z,
      pValue,
      status: 'low_volume',
      sustained: false,
      reason: `${total} mention(s) in the last ${windowMinutes} min, ${settings.minVolume} needed to judge`,
    };
  }
  const lift = share - baseline.share;
  const sustained = pValue < settings.sustainPValue && share >= settings.floor;
  const elevated = canOpen && pValue < settings.openPValue && lift >= settings.minLift && share >= settings.floor;
  let reason: string;
  if (!canOpen)
    reason = sustained
      ? `still significant (p = ${pv(pValue)} < ${settings.sustainPValue})`
      : `not significant (p = ${pv(pValue)})`;
  else if (elevated) reason = `negative share ${pct(share)} vs ${pct(baseline.share)} normally (p = ${pv(pValue)})`;
  else if (pValue >= settings.openPValue) reason = `not significant (p = ${pv(pValue)} ≥ ${settings.openPValue})`;
  else if (lift < settings.minLift)
    reason = `significant but only ${pct(lift)} above normal (${pct(settings.minLift)} needed)`;
  else reason = `below the floor of ${pct(settings.floor)}`;
  return { ...base, z, pValue, status: elevated ? 'elevated' : 'normal', sustained, reason };
}

function fmt(h: number): string {
  return h < 10 ? h.toFixed(1) : String(Math.round(h));
}

export function pct(x: number): string {
  return `${Math.round(x * 100)} %`;
}

function pv(p: number): string {
  return p < 1e-4 ? p.toExponential(1) : p.toPrecision(2);
}
