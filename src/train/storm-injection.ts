/**
 * Storms injected into ordinary days, to measure a detector on hundreds of bad buzzes when the data holds
 * three (`npm run alerts:eval`, ./alerts-eval.ts).
 *
 * - Ordinary days: the full calendar days (US Pacific, the data set's clock) of a stream that no alert of
 *   the human-label detector touches, with at least `MIN_DAY_MENTIONS` mentions.
 * - A bootstrap stream strings ordinary days of one stream, drawn at random with replacement, into a
 *   fortnight (a day block keeps the day's own rhythm; the days' order is what is resampled).
 * - An episode adds real negative tweets of that stream (resampled; their scores are the model's), their
 *   times spread uniformly over the episode. Its size (excess negatives, as a fraction of the stream's
 *   usual daily volume) and duration are drawn between the smallest and the largest of the real events
 *   (`realEventShapes`).
 * - The detector is run on it as the monitor runs it (StreamDetector, bucket by bucket), alone, so a
 *   configuration's hundreds of runs take seconds.
 */
import { StreamDetector } from '../trends/stream-detector';
import { seededRandom } from './random';
import type { TrendSettings } from '../trends/settings';
import type { Signal } from '../trends/scan';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
/** The data set stamps every tweet in US Pacific time (UTC−8 in February). */
export const PACIFIC_OFFSET = -8 * HOUR;
/** A day with fewer mentions is not a day of the stream (American's stray early tweets). */
export const MIN_DAY_MENTIONS = 40;

/** A mention the model reads, with its score and (when known) its human label. */
export interface EvalTweet {
  id: string;
  stream: string;
  time: number;
  /** The human label, '' when the data hides it. */
  label: 'negative' | 'neutral' | 'positive' | '';
  /** The model labelled it negative, and its P(negative). */
  negative: boolean;
  pNegative: number;
}

export interface Day {
  stream: string;
  /** Midnight, Pacific (epoch ms). */
  start: number;
  tweets: EvalTweet[];
}

export interface Opening {
  openedAt: number;
  resolvedAt?: number;
  signal?: Signal;
  /** The evidence or p-value that opened it, for the record. */
  reason: string;
}

export function dayStart(time: number): number {
  return Math.floor((time + PACIFIC_OFFSET) / DAY) * DAY - PACIFIC_OFFSET;
}

/** Runs the detector over `observations` (any order) up to `end`, and lists the alerts it opened. */
export function runDetector(
  observations: ReadonlyArray<{ time: number; negative: boolean; estimate: number }>,
  settings: TrendSettings,
  end: number,
): Opening[] {
  const detector = new StreamDetector('eval', settings);
  const events = detector.ingest(
    observations.map((o) => ({ time: o.time, negative: o.negative, estimate: o.estimate })),
  );
  events.push(...detector.advanceTo(end));
  const out: Opening[] = [];
  for (const e of events) {
    if (e.action === 'open')
      out.push({
        openedAt: e.evaluation.at,
        ...(e.evaluation.evidence ? { signal: e.evaluation.evidence.signal } : {}),
        reason: e.evaluation.reason,
      });
    if (e.action === 'resolve' && out.length) out[out.length - 1].resolvedAt = e.evaluation.at;
  }
  return out;
}

/** The ordinary days of each stream: full days, busy enough, untouched by any of `alerts` (±`margin`). */
export function ordinaryDays(
  tweets: readonly EvalTweet[],
  alerts: ReadonlyArray<{ stream: string; from: number; to: number }>,
): Day[] {
  const first = Math.min(...tweets.map((t) => t.time));
  const last = Math.max(...tweets.map((t) => t.time));
  const days = new Map<string, Day>();
  for (const t of tweets) {
    const start = dayStart(t.time);
    const key = `${t.stream}@${start}`;
    let d = days.get(key);
    if (!d) days.set(key, (d = { stream: t.stream, start, tweets: [] }));
    d.tweets.push(t);
  }
  return [...days.values()]
    .filter((d) => d.start >= first && d.start + DAY <= last)
    .filter((d) => d.tweets.length >= MIN_DAY_MENTIONS)
    .filter((d) => !alerts.some((a) => a.stream === d.stream && a.from < d.start + DAY && a.to > d.start))
    .sort((a, b) => a.stream.localeCompare(b.stream) || a.start - b.start);
}

/** Each stream's ordinary days, alternately to thresholds being chosen (`tuning`) and to the report. */
export function splitDays(days: readonly Day[]): { tuning: Day[]; report: Day[] } {
  const tuning: Day[] = [];
  const report: Day[] = [];
  const seen = new Map<string, number>();
  for (const d of days) {
    const i = seen.get(d.stream) ?? 0;
    seen.set(d.stream, i + 1);
    (i % 2 === 0 ? tuning : report).push(d);
  }
  return { tuning, report };
}

/** A seeded generator: the same seed, the same storms, in every run. */
export const rng = seededRandom;

export interface BootstrapStream {
  stream: string;
  tweets: EvalTweet[];
  /** Midnight of each day, in order. */
  dayStarts: number[];
}

/** `n` days of `days` (one stream's) drawn with replacement and laid end to end from `t0` (a midnight). */
export function bootstrapStream(days: readonly Day[], n: number, random: () => number, t0: number): BootstrapStream {
  if (days.length === 0) throw new Error('a bootstrap stream needs at least one ordinary day');
  const tweets: EvalTweet[] = [];
  const dayStarts: number[] = [];
  for (let i = 0; i < n; i++) {
    const day = days[Math.floor(random() * days.length)];
    const start = t0 + i * DAY;
    dayStarts.push(start);
    for (const t of day.tweets) tweets.push({ ...t, id: `${t.id}#${i}`, time: t.time - day.start + start });
  }
  return { stream: days[0].stream, tweets, dayStarts };
}

export interface Episode {
  start: number;
  end: number;
  /** Negative tweets added. */
  size: number;
}

/** `episode.size` tweets of `pool`, drawn with replacement, at times spread uniformly over the episode. */
export function injectEpisode(pool: readonly EvalTweet[], episode: Episode, random: () => number): EvalTweet[] {
  if (pool.length === 0) throw new Error('no negative tweets to inject');
  const out: EvalTweet[] = [];
  for (let i = 0; i < episode.size; i++) {
    const t = pool[Math.floor(random() * pool.length)];
    out.push({ ...t, id: `${t.id}+${i}`, time: episode.start + random() * (episode.end - episode.start) });
  }
  return out;
}

export interface EventShape {
  stream: string;
  day: number;
  /** Excess negatives over the day, as a fraction of the stream's usual daily volume. */
  sizeFraction: number;
  /** The hours holding the central 80 % of the excess, ÷ 0.8. */
  durationHours: number;
}

/**
 * The size and duration of a real bad-buzz day, from its human labels: per hour, the estimated negatives
 * (labelled share × mentions) minus what the stream's ordinary days give for that hour of the day.
 */
export function eventShape(
  stream: string,
  day: number,
  tweets: readonly EvalTweet[],
  ordinary: readonly Day[],
): EventShape {
  const own = ordinary.filter((d) => d.stream === stream);
  if (own.length === 0) throw new Error(`${stream} has no ordinary day to compare its event with`);
  const labelled = own.flatMap((d) => d.tweets).filter((t) => t.label);
  const baseShare = labelled.filter((t) => t.label === 'negative').length / labelled.length;
  const usualPerHour = new Array<number>(24).fill(0);
  for (const d of own) for (const t of d.tweets) usualPerHour[Math.floor((t.time - d.start) / HOUR)] += 1 / own.length;
  const excess: number[] = [];
  for (let h = 0; h < 24; h++) {
    const hour = tweets.filter((t) => t.stream === stream && t.time >= day + h * HOUR && t.time < day + (h + 1) * HOUR);
    const lab = hour.filter((t) => t.label);
    const share = lab.length ? lab.filter((t) => t.label === 'negative').length / lab.length : baseShare;
    excess.push(share * hour.length - baseShare * usualPerHour[h]);
  }
  const total = excess.reduce((a, b) => a + b, 0);
  let cum = 0;
  let from = 0;
  let to = 23;
  for (let h = 0; h < 24; h++) {
    const before = cum;
    cum += excess[h];
    if (before < 0.1 * total && cum >= 0.1 * total) from = h;
    if (before < 0.9 * total && cum >= 0.9 * total) to = h;
  }
  const usualDay = own.reduce((n, d) => n + d.tweets.length, 0) / own.length;
  return {
    stream,
    day,
    sizeFraction: Math.max(0, total) / usualDay,
    durationHours: Math.min(24, (to - from + 1) / 0.8),
  };
}

/** The median and 90th percentile (nearest rank) of `xs`; null when empty. */
export function quantiles(xs: readonly number[]): { median: number | null; p90: number | null } {
  if (xs.length === 0) return { median: null, p90: null };
  const s = [...xs].sort((a, b) => a - b);
  const rank = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  const mid = s.length >> 1;
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, p90: rank(0.9) };
}

/**
 * The extra-binomial variance of window shares on ordinary days (quasi-binomial φ, Pearson χ²/df): per
 * stream, the estimated negatives of non-overlapping windows of each length (≥ 10 mentions) around the
 * stream's mean share, averaged over the lengths. `estimate` is each tweet's contribution
 * (src/trends/prevalence.ts): an adjusted estimate scatters more than a count, and the test must know.
 */
export function shareDispersion(days: readonly Day[], estimate: (t: EvalTweet) => number, hours = [1, 3, 12]): number {
  const ratios = hours.map((h) => {
    let chi2 = 0;
    let df = 0;
    for (const stream of new Set(days.map((d) => d.stream))) {
      const windows: Array<{ n: number; k: number }> = [];
      for (const d of days.filter((x) => x.stream === stream))
        for (let w = 0; w < 24 / h; w++) {
          const ts = d.tweets.filter((t) => t.time >= d.start + w * h * HOUR && t.time < d.start + (w + 1) * h * HOUR);
          if (ts.length >= 10) windows.push({ n: ts.length, k: ts.reduce((s, t) => s + estimate(t), 0) });
        }
      if (windows.length < 2) continue;
      const p = Math.min(
        0.99,
        Math.max(0.01, windows.reduce((s, w) => s + w.k, 0) / windows.reduce((s, w) => s + w.n, 0)),
      );
      for (const w of windows) chi2 += (w.k - w.n * p) ** 2 / (w.n * p * (1 - p));
      df += windows.length - 1;
    }
    return df > 0 ? chi2 / df : NaN;
  });
  return ratios.reduce((a, b) => a + b, 0) / ratios.length;
}

/**
 * The extra-Poisson variance of the volume (Pearson χ²/df): per stream, the mentions of each hour of
 * ordinary days around that hour of the day's mean, over windows of `hours`.
 */
export function volumeDispersion(days: readonly Day[], hours = [1, 3]): number {
  const ratios = hours.map((h) => {
    let chi2 = 0;
    let df = 0;
    for (const stream of new Set(days.map((d) => d.stream))) {
      const own = days.filter((x) => x.stream === stream);
      if (own.length < 2) continue;
      for (let w = 0; w < 24 / h; w++) {
        const counts = own.map(
          (d) =>
            d.tweets.filter((t) => t.time >= d.start + w * h * HOUR && t.time < d.start + (w + 1) * h * HOUR).length,
        );
        const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
        if (mean < 1) continue;
        for (const c of counts) chi2 += (c - mean) ** 2 / mean;
        df += counts.length - 1;
      }
    }
    return df > 0 ? chi2 / df : NaN;
  });
  return ratios.reduce((a, b) => a + b, 0) / ratios.length;
}
