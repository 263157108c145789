/**
 * The detector: at the end of each bucket, is the current window's negative share significantly above
 * the stream's baseline? A pure function of the counts, the baseline and the settings.
 *
 * A window is `elevated` (an alert may open) when all of these hold:
 *   - the stream has enough history for a baseline (else `insufficient_history`, said, never guessed);
 *   - the window holds at least `minVolume` mentions (else `low_volume`);
 *   - the one-sided test (./stats) gives p < `openPValue`;
 *   - the share is at least `minLift` above the baseline and at least `floor`.
 * It is `sustained` (an open alert stays open) when it has the volume, p < `sustainPValue` and the share
 * is at least `floor`: the looser test is the hysteresis.
 */
import { ewmaBaseline, type Baseline } from './baseline';
import type { BucketSeries } from './buckets';
import { HOUR, MINUTE, type TrendSettings } from './settings';
import { excessTest } from './stats';

export type WindowStatus = 'insufficient_history' | 'low_volume' | 'normal' | 'elevated';

export interface WindowEvaluation {
  /** The window's end (a bucket boundary), epoch ms: the detector's "now". */
  at: number;
  windowStart: number;
  windowMinutes: number;
  total: number;
  negative: number;
  /** negative / total (0 for an empty window). */
  share: number;
  baseline: Baseline | null;
  z: number;
  pValue: number;
  status: WindowStatus;
  sustained: boolean;
  /** Why, in words (e.g. "18 h of history, 24 h needed"). */
  reason: string;
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
  const short = evaluateWindow(series, at, settings, settings.windowMinutes, exclude);
  const windows = [short];
  if (settings.longWindowMinutes > 0 && short.status !== 'insufficient_history') {
    const long = evaluateWindow(series, at, settings, settings.longWindowMinutes, exclude);
    if (long.status !== 'insufficient_history') windows.push(long);
  }
  const best = (ws: WindowEvaluation[]) => ws.reduce((a, b) => (b.pValue < a.pValue ? b : a));
  const elevated = windows.filter((w) => w.status === 'elevated');
  const sustained = windows.filter((w) => w.sustained);
  const speaker = elevated.length ? best(elevated) : sustained.length ? best(sustained) : short;

  return { ...speaker, sustained: sustained.length > 0, windows };
}

export function evaluateWindow(
  series: BucketSeries,
  at: number,
  settings: TrendSettings,
  windowMinutes: number,
  exclude: ReadonlyArray<{ from: number; to: number }> = [],
): WindowEvaluation {
  const windowStart = at - windowMinutes * MINUTE;
  const { total, negative } = series.sum(windowStart, at);
  const share = total > 0 ? negative / total : 0;
  const baseline = ewmaBaseline(series, {
    end: windowStart,
    lookbackMs: settings.baselineLookbackHours * HOUR,
    halfLifeMs: settings.baselineHalfLifeHours * HOUR,
    exclude,
  });
  const base = { at, windowStart, windowMinutes, total, negative, share, baseline };
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
  const { z, pValue } = excessTest(negative, total, baseline.share, baseline.effectiveN, settings.dispersion);
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
  const elevated = pValue < settings.openPValue && lift >= settings.minLift && share >= settings.floor;
  let reason: string;
  if (elevated) reason = `negative share ${pct(share)} vs ${pct(baseline.share)} normally (p = ${pv(pValue)})`;
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
