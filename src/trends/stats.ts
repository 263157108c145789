/**
 * The statistics of the detector: a one-sided test that a window's negative share is above the baseline.
 *
 * Tweets are not independent draws (replies and retweets come in bunches), so the binomial variance is
 * inflated by a dispersion factor φ measured on quiet days (quasi-binomial), and the baseline's own
 * uncertainty (its effective sample size) is added:
 *
 *   z = (k/n − p₀) / √( φ · p₀(1 − p₀) · (1/n + 1/m) ),   p-value = P(Z ≥ z)
 *
 * with k negatives out of n mentions in the window, p₀ the baseline share and m its effective size.
 */

/** P(Z ≥ z) for a standard normal Z, accurate far into the tail (p-values of 1e-6 and below matter here). */
export function normalUpperTail(z: number): number {
  if (Number.isNaN(z)) return NaN;
  if (z === Infinity) return 0;
  if (z === -Infinity) return 1;
  return 0.5 * erfc(z / Math.SQRT2);
}

/** The complementary error function: Numerical Recipes (3rd ed.) `erfccheb`, a Chebyshev expansion
 * accurate to about 1e-16 relative over the whole real line. */
export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  const t = 2 / (2 + x);
  const ty = 4 * t - 2;
  let d = 0;
  let dd = 0;
  for (let j = ERFC_COF.length - 1; j > 0; j--) {
    const tmp = d;
    d = ty * d - dd + ERFC_COF[j];
    dd = tmp;
  }
  return t * Math.exp(-x * x + 0.5 * (ERFC_COF[0] + ty * d) - dd);
}

const ERFC_COF = [
  -1.3026537197817094, 6.419697923564902e-1, 1.9476473204185836e-2, -9.561514786808631e-3, -9.46595344482036e-4,
  3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5, -1.624290004647e-6, 1.30365583558e-6, 1.5626441722e-8,
  -8.5238095915e-8, 6.529054439e-9, 5.059343495e-9, -9.91364156e-10, -2.27365122e-10, 9.6467911e-11, 2.394038e-12,
  -6.886027e-12, 8.94487e-13, 3.13092e-13, -1.12708e-13, 3.81e-16, 7.106e-15, -1.523e-15, -9.4e-17, 1.21e-16, -2.8e-17,
];

export interface ExcessTest {
  z: number;
  pValue: number;
}

/**
 * One-sided test of "the window's share k/n is above the baseline p₀" (see the file comment).
 * `baselineN` is the baseline's effective sample size (Infinity: known exactly).
 */
export function excessTest(k: number, n: number, p0: number, baselineN: number, dispersion = 1): ExcessTest {
  if (!(n > 0)) return { z: 0, pValue: 1 };
  const p = k / n;
  // A baseline of exactly 0 or 1 would give a zero variance; keep it inside (0, 1) by half a mention.
  const q0 = Math.min(Math.max(p0, 0.5 / (n + 1)), 1 - 0.5 / (n + 1));
  const variance =
    dispersion * q0 * (1 - q0) * (1 / n + (Number.isFinite(baselineN) && baselineN > 0 ? 1 / baselineN : 0));
  const z = (p - q0) / Math.sqrt(variance);
  return { z, pValue: normalUpperTail(z) };
}
