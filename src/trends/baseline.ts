/**
 * The baseline: the stream's normal share of negative mentions, learnt from its history.
 *
 * An exponentially weighted moving average over time (the "EWMA over days"): each mention before the
 * current window counts with weight 0.5^(age / half-life), so yesterday counts about 70 % as much as today
 * with the default 48 h half-life. The weights are per mention, so a quiet night does not count as much as
 * a busy afternoon. Periods of alerts are left out: a bad buzz is not "normal" and must not raise the bar
 * for the next one.
 *
 * Not by hour of day: on the airline data the hour-of-day differences are no larger than the ordinary
 * scatter between windows (docs/alerts.md), so a per-hour baseline would only add noise.
 */
import type { BucketSeries } from './buckets';

export interface Baseline {
  /** The weighted share of negative mentions. */
  share: number;
  /** Kish's effective sample size of the weighted mentions: how much the share is worth as evidence. */
  effectiveN: number;
  /** Mentions counted (unweighted). */
  mentions: number;
  /** From the first mention of history to the end of the baseline period. */
  historyHours: number;
}

export interface BaselineOptions {
  /** The baseline period ends here (the start of the current window), epoch ms. */
  end: number;
  lookbackMs: number;
  halfLifeMs: number;
  /** Periods to leave out (alerts), [from, to) epoch ms. */
  exclude?: ReadonlyArray<{ from: number; to: number }>;
}

/** The baseline at `end`, or null when there is no history at all. */
export function ewmaBaseline(series: BucketSeries, opts: BaselineOptions): Baseline | null {
  const { end, lookbackMs, halfLifeMs } = opts;
  const exclude = opts.exclude ?? [];
  const lambda = Math.LN2 / halfLifeMs;
  let wTotal = 0;
  let wNegative = 0;
  let w2Total = 0;
  let mentions = 0;
  for (const b of series.between(end - lookbackMs, end)) {
    if (exclude.some((e) => b.start >= e.from && b.start < e.to)) continue;
    const age = end - (b.start + series.bucketMs / 2);
    const w = Math.exp(-lambda * Math.max(0, age));
    wTotal += w * b.total;
    wNegative += w * b.estimate;
    w2Total += w * w * b.total;
    mentions += b.total;
  }
  if (mentions === 0) return null;
  const first = series.firstTime() ?? end;
  return {
    share: Math.min(1, Math.max(0, wNegative / wTotal)),
    effectiveN: (wTotal * wTotal) / w2Total,
    mentions,
    historyHours: Math.max(0, end - first) / 3_600_000,
  };
}
