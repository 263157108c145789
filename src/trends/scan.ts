/**
 * The multi-scale scan: every window ending now, from one bucket to `scanMinutes` long, weighed by its
 * likelihood ratio "a rise" against "normal". Its maximum is the CUSUM statistic (Page 1954) limited to
 * `scanMinutes`: evidence accumulates bucket by bucket as it comes, so a sharp rise is seen in its first
 * hour and a slow one when enough of it has piled up, with one threshold — one false-alarm budget — for
 * all scales.
 *
 * For a window of n mentions holding x estimated negatives (./prevalence), against the baseline share p₀:
 *
 *   share  = [x ln(p₁/p₀) + (n − x) ln((1 − p₁)/(1 − p₀))] / φ       p₁ = the rise: odds × `scanOddsRatio`
 *   volume = [n ln ρ − (ρ − 1) μ] / φᵥ                                 μ = the usual mentions for those hours
 *
 * (quasi-likelihoods: the binomial and Poisson log-likelihood ratios divided by their measured
 * dispersions φ and φᵥ). The two add up — the share and the volume are independent parts of one model —
 * but a surge in volume never opens an alert alone: it counts only in a window whose share evidence is at
 * least half the threshold (a busy news day with normal sentiment is not a bad buzz).
 *
 * The baseline (share and usual volume by time of day) is the history before the longest window, so no
 * window is compared with itself. Pure: a function of the counts, like the fixed windows (./detector).
 */
import { ewmaBaseline, type Baseline } from './baseline';
import type { BucketSeries, Counts } from './buckets';
import { HOUR, MINUTE, type TrendSettings } from './settings';

export type Signal = 'share' | 'share and volume';

export interface ScanEvidence {
  /** The statistic compared with the threshold: share + volume (volume only when it may count). */
  statistic: number;
  /** The share's log-likelihood ratio (÷ φ). */
  share: number;
  /** The volume's (÷ φᵥ): 0 when it did not count. */
  volume: number;
  threshold: number;
  signal: Signal;
  /** Mentions a window of these hours usually holds, from the history (null: no usable history). */
  usualVolume: number | null;
  /** The share the rise is measured against (the alternative p₁). */
  riseShare: number;
}

export interface ScanWindow {
  windowStart: number;
  counts: Counts;
  evidence: ScanEvidence;
}

/** The rise the scan tests for: the baseline's odds multiplied by `oddsRatio`. */
export function riseShare(p0: number, oddsRatio: number): number {
  return (oddsRatio * p0) / (1 - p0 + oddsRatio * p0);
}

/** The share's log-likelihood ratio of x negatives in n (quasi-binomial, ÷ φ). */
export function shareEvidence(x: number, n: number, p0: number, p1: number, dispersion: number): number {
  if (!(n > 0)) return 0;
  const q0 = clamp(p0, 1e-3, 1 - 1e-3);
  const q1 = clamp(p1, 1e-3, 1 - 1e-3);
  const k = clamp(x, 0, n);
  return (k * Math.log(q1 / q0) + (n - k) * Math.log((1 - q1) / (1 - q0))) / dispersion;
}

/** The volume's log-likelihood ratio of n mentions where μ are usual (quasi-Poisson, ÷ φᵥ; 0 if not above). */
export function volumeEvidence(n: number, usual: number, ratio: number, dispersion: number): number {
  if (!(ratio > 1) || !(usual > 0)) return 0;
  return Math.max(0, (n * Math.log(ratio) - (ratio - 1) * usual) / dispersion);
}

/**
 * The usual number of mentions per bucket by time of day (`slots` buckets a day), from the baseline's
 * period with the alert periods left out, smoothed over ±1 h. null when the period holds no full day.
 */
export function usualVolumeBySlot(
  series: BucketSeries,
  from: number,
  to: number,
  exclude: ReadonlyArray<{ from: number; to: number }>,
): number[] | null {
  const b = series.bucketMs;
  const slots = Math.round((24 * HOUR) / b);
  const first = series.firstTime();
  if (first === undefined) return null;
  const start = Math.max(from, Math.floor(first / b) * b);
  if (to - start < 24 * HOUR) return null;
  const counts = new Array<number>(slots).fill(0);
  const seen = new Array<number>(slots).fill(0);
  for (let s = Math.ceil(start / b) * b; s < to; s += b) {
    if (exclude.some((e) => s >= e.from && s < e.to)) continue;
    const slot = Math.floor((s % (24 * HOUR)) / b);
    seen[slot]++;
    counts[slot] += series.sum(s, s + b).total;
  }
  const reach = Math.max(1, Math.round(HOUR / b));
  return counts.map((_, slot) => {
    let c = 0;
    let n = 0;
    for (let d = -reach; d <= reach; d++) {
      const i = (slot + d + slots) % slots;
      c += counts[i];
      n += seen[i];
    }
    return n > 0 ? c / n : 0;
  });
}

/**
 * Scans the windows ending at `at` against `baseline` (the history before `at − scanMinutes`) and
 * returns the one with the most evidence (the earliest, on a tie), or null when there is no mention.
 * No window reaches back before `notBefore` (the end of the last alert): a storm already told is not
 * evidence for a new alert once its own has resolved.
 */
export function scanWindows(
  series: BucketSeries,
  at: number,
  settings: TrendSettings,
  baseline: Baseline,
  usualBySlot: number[] | null,
  notBefore = -Infinity,
): ScanWindow | null {
  const b = series.bucketMs;
  const p0 = baseline.share;
  const p1 = riseShare(p0, settings.scanOddsRatio);
  const h = settings.scanThreshold;
  let best: ScanWindow | null = null;
  const acc: Counts = { total: 0, negative: 0, estimate: 0 };
  let usual = 0;
  for (let start = at - b; start >= Math.max(at - settings.scanMinutes * MINUTE, notBefore); start -= b) {
    const c = series.sum(start, start + b);
    acc.total += c.total;
    acc.negative += c.negative;
    acc.estimate += c.estimate;
    if (usualBySlot) usual += usualBySlot[Math.floor((((start % (24 * HOUR)) + 24 * HOUR) % (24 * HOUR)) / b)];
    if (acc.total === 0) continue;
    const share = shareEvidence(acc.estimate, acc.total, p0, p1, settings.dispersion);
    const volume =
      usualBySlot && share >= h / 2
        ? volumeEvidence(acc.total, usual, settings.scanVolumeRatio, settings.volumeDispersion)
        : 0;
    const statistic = share + volume;
    if (best === null || statistic > best.evidence.statistic) {
      best = {
        windowStart: start,
        counts: { ...acc },
        evidence: {
          statistic,
          share,
          volume,
          threshold: h,
          signal: volume > 0 ? 'share and volume' : 'share',
          usualVolume: usualBySlot ? usual : null,
          riseShare: p1,
        },
      };
    }
  }
  return best;
}

/** The scan's baseline: the history before its longest window. */
export function scanBaseline(
  series: BucketSeries,
  at: number,
  settings: TrendSettings,
  exclude: ReadonlyArray<{ from: number; to: number }>,
): { baseline: Baseline | null; usualBySlot: number[] | null; end: number } {
  const end = at - settings.scanMinutes * MINUTE;
  const lookbackMs = settings.baselineLookbackHours * HOUR;
  const baseline = ewmaBaseline(series, {
    end,
    lookbackMs,
    halfLifeMs: settings.baselineHalfLifeHours * HOUR,
    exclude,
  });
  const usualBySlot = settings.scanVolumeRatio > 1 ? usualVolumeBySlot(series, end - lookbackMs, end, exclude) : null;
  return { baseline, usualBySlot, end };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
