/**
 * The trend detector's thresholds, in one place. Every value here has a setting (config/schema.ts,
 * `TREND_*`) and a default justified from the airline data in docs/alerts.md.
 *
 * Times are in minutes/hours of the mentions' own clock (created_at), never the wall clock: a replay at
 * 10,000× real time alerts exactly as the live stream did.
 */
import { PREVALENCE_METHODS, type PrevalenceMethod } from './prevalence';

export interface TrendSettings {
  /** Mentions are counted in buckets of this many minutes; the detector evaluates at each bucket end. */
  bucketMinutes: number;
  /** The current window: the last N minutes of mentions (a multiple of bucketMinutes). */
  windowMinutes: number;
  /** A second, longer window for slow burns (a day-long rise too gentle for the short window); 0: off. */
  longWindowMinutes: number;
  /** The baseline is an exponentially weighted share of negatives over history with this half-life. */
  baselineHalfLifeHours: number;
  /** History older than this is forgotten (and not loaded back after a restart). */
  baselineLookbackHours: number;
  /** Before this much history (first mention → window start) the stream says so instead of guessing. */
  minHistoryHours: number;
  /** …and before this many mentions of history. */
  minHistoryMentions: number;
  /** A window with fewer mentions never opens an alert (and counts as quiet for an open one). */
  minVolume: number;
  /** One-sided p-value below which the window's negative share is significantly above the baseline. */
  openPValue: number;
  /** An open alert stays open while its window is still significant at this (looser) level. */
  sustainPValue: number;
  /** The window's negative share must exceed the baseline by at least this much (absolute). */
  minLift: number;
  /** …and be at least this high: no alert for a rise from 10 % to 25 %. */
  floor: number;
  /** Extra-binomial variance of window shares (tweets come in conversations), measured on quiet days. */
  dispersion: number;
  /** An open alert resolves after this many minutes without a sustained window. */
  closeAfterMinutes: number;
  /** After a resolution, no new alert on the stream for this long. */
  cooldownMinutes: number;
  /** Updates of an open alert are posted at most this often. */
  updateEveryMinutes: number;
  /**
   * The multi-scale scan (./scan): windows from one bucket to this many minutes, weighed by their
   * likelihood ratio. 0: off — the fixed windows open alerts, as before the scan.
   */
  scanMinutes: number;
  /** The scan opens an alert when its log-likelihood ratio reaches this. */
  scanThreshold: number;
  /** The rise the scan looks for: the normal odds of a negative mention multiplied by this. */
  scanOddsRatio: number;
  /** The surge in volume the scan looks for (× the usual mentions for those hours); ≤ 1: volume unused. */
  scanVolumeRatio: number;
  /** Extra-Poisson variance of the mentions' volume against the usual for the hour, measured on quiet days. */
  volumeDispersion: number;
  /** How a window's negative share is estimated from the model's answers (./prevalence). */
  prevalence: PrevalenceMethod;
}

export const DEFAULT_TREND_SETTINGS: Readonly<TrendSettings> = Object.freeze({
  bucketMinutes: 15,
  windowMinutes: 180,
  longWindowMinutes: 720,
  baselineHalfLifeHours: 48,
  baselineLookbackHours: 168,
  minHistoryHours: 24,
  minHistoryMentions: 150,
  minVolume: 40,
  openPValue: 0.001,
  sustainPValue: 0.05,
  minLift: 0.1,
  floor: 0.5,
  dispersion: 2,
  closeAfterMinutes: 90,
  cooldownMinutes: 180,
  updateEveryMinutes: 60,
  scanMinutes: 0,
  scanThreshold: 7,
  scanOddsRatio: 2,
  scanVolumeRatio: 2,
  volumeDispersion: 4.6,
  prevalence: 'cc',
});

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

/**
 * The longest span a judgement looks at before its baseline: the fixed windows and the scan. What the
 * detector keeps in memory and what the monitor reads back after a restart both follow from it.
 */
export function longestWindowMinutes(s: TrendSettings): number {
  return Math.max(s.windowMinutes, s.longWindowMinutes, s.scanMinutes);
}

/** Checks the settings hang together (the schema checks each one alone); throws naming the problem. */
export function checkTrendSettings(s: TrendSettings): TrendSettings {
  const problems: string[] = [];
  if (s.windowMinutes % s.bucketMinutes !== 0)
    problems.push(
      `the window (${s.windowMinutes} min) must be a whole number of buckets (${s.bucketMinutes} min); e.g. TREND_WINDOW_MINUTES=${Math.max(1, Math.round(s.windowMinutes / s.bucketMinutes)) * s.bucketMinutes}`,
    );
  if (s.longWindowMinutes !== 0 && s.longWindowMinutes % s.bucketMinutes !== 0)
    problems.push(
      `the long window (${s.longWindowMinutes} min) must be a whole number of buckets (${s.bucketMinutes} min), or 0 (off)`,
    );
  if (s.longWindowMinutes !== 0 && s.longWindowMinutes <= s.windowMinutes)
    problems.push(
      `the long window (${s.longWindowMinutes} min) must be longer than the window (${s.windowMinutes} min)`,
    );
  if (!(s.sustainPValue >= s.openPValue))
    problems.push(
      `TREND_SUSTAIN_PVALUE (${s.sustainPValue}) must be at least TREND_OPEN_PVALUE (${s.openPValue}): staying open is easier than opening`,
    );
  if (s.baselineLookbackHours * 60 <= longestWindowMinutes(s))
    problems.push(`the baseline look-back (${s.baselineLookbackHours} h) must be longer than the windows and the scan`);
  if (s.scanMinutes !== 0 && s.scanMinutes % s.bucketMinutes !== 0)
    problems.push(
      `the scan (${s.scanMinutes} min) must be a whole number of buckets (${s.bucketMinutes} min), or 0 (off)`,
    );
  if (s.scanMinutes !== 0 && !(s.scanOddsRatio > 1))
    problems.push(`TREND_SCAN_ODDS_RATIO (${s.scanOddsRatio}) must be above 1: the scan looks for a rise`);
  if (s.minHistoryHours > s.baselineLookbackHours)
    problems.push(
      `TREND_MIN_HISTORY_HOURS (${s.minHistoryHours}) cannot exceed TREND_BASELINE_LOOKBACK_HOURS (${s.baselineLookbackHours})`,
    );
  if (problems.length) throw new Error(`trend settings: ${problems.join('; ')}`);
  return s;
}

/**
 * `base` with `key=value` overrides (the CLIs' `--set`), checked: a known key, a number ≥ 0 (or one of
 * the prevalence methods for `prevalence`), and settings that hang together. Throws naming the problem.
 */
export function withSettings(base: Readonly<TrendSettings>, pairs: readonly string[]): TrendSettings {
  const settings: TrendSettings = { ...base };
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const key = pair.slice(0, at) as keyof TrendSettings;
    const raw = pair.slice(at + 1);
    if (at < 1 || !(key in DEFAULT_TREND_SETTINGS))
      throw new Error(
        `--set ${JSON.stringify(pair)}: expected key=value with a key among ${Object.keys(DEFAULT_TREND_SETTINGS).join(', ')}`,
      );
    if (key === 'prevalence') {
      if (!(PREVALENCE_METHODS as readonly string[]).includes(raw))
        throw new Error(`--set ${pair}: prevalence is one of ${PREVALENCE_METHODS.join(', ')}`);
      settings.prevalence = raw as PrevalenceMethod;
      continue;
    }
    const value = Number(raw);
    if (raw === '' || !Number.isFinite(value) || value < 0)
      throw new Error(`--set ${pair}: the value must be a number ≥ 0`);
    settings[key] = value;
  }
  return checkTrendSettings(settings);
}
