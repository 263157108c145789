/**
 * The band of normal variation of a bucket's negative share: where the share of `n` mentions falls 95 %
 * of the time when nothing is wrong, for an expected share `p` and the data's overdispersion `φ` (the
 * detector's TREND_DISPERSION: mentions come in clusters, so the scatter is φ times the binomial's).
 * The charts and the dashboard draw it around the baseline.
 */
const Z95 = 1.959963984540054;

export function normalRange(p: number, n: number, dispersion: number): { low: number; high: number } | null {
  if (!(n > 0) || !Number.isFinite(p)) return null;
  const half = Z95 * Math.sqrt((dispersion * p * (1 - p)) / n);
  return { low: Math.max(0, p - half), high: Math.min(1, p + half) };
}
