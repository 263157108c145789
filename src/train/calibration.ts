/**
 * Is the confidence a probability one can read as such? Calibration figures and temperature scaling.
 *
 * - Top-label expected calibration error (ECE; Guo, Pleiss, Sun and Weinberger, "On Calibration of Modern
 *   Neural Networks", ICML 2017): each row's confidence is its largest probability; the rows are put in
 *   `bins` equal-width confidence bins ((0, 1/B], (1/B, 2/B], …; a confidence of exactly 0 goes to the
 *   first), and ECE = Σ_b (n_b / n) · |accuracy_b − mean confidence_b|. The per-bin table is what the
 *   reliability diagram draws.
 * - Mean negative log-likelihood of the true class (natural log; a probability below 1e-15 counts as 1e-15)
 *   and the multi-class Brier score, Σ_k (p_k − y_k)² averaged over the rows (0 is perfect, 2 the worst).
 * - Temperature scaling of a softmax model: with logits z, p = softmax(z); the same model at temperature T
 *   gives softmax(z / T), i.e. p ∝ p^(1/T) — computable from the probabilities alone. T > 1 softens
 *   (less confident), T < 1 sharpens. A model served at temperature T is undone by `untemper` (T → 1/T).
 * - `fitTemperature`: the T that minimises the mean NLL on labelled rows, found by golden-section search on
 *   log T over [1/8, 8] (the NLL of temperature scaling is convex in 1/T, hence unimodal in log T):
 *   deterministic, no random start.
 * - `reliabilityPng`: the reliability diagram (accuracy against confidence per bin, before and after
 *   calibration, the diagonal, the ECE of each in the legend, and the share of rows per bin under it),
 *   drawn with the shared raster of src/charts/raster.ts like the confusion matrix.
 */
import { encodePng, GLYPH_H, Raster, type Rgb } from '../charts/raster';

export interface CalibrationBin {
  /** Confidence range of the bin: (lower, upper]. */
  lower: number;
  upper: number;
  count: number;
  /** Mean top-label confidence of the bin's rows (0 when empty). */
  confidence: number;
  /** Share of the bin's rows whose top label is the true one (0 when empty). */
  accuracy: number;
}

export interface CalibrationReport {
  n: number;
  /** Share of rows whose top label (first on ties) is the true one. */
  accuracy: number;
  /** Expected calibration error, top label. */
  ece: number;
  /** Largest |accuracy − confidence| over the non-empty bins. */
  mce: number;
  /** Mean negative log-likelihood of the true class. */
  nll: number;
  /** Multi-class Brier score. */
  brier: number;
  bins: CalibrationBin[];
}

const NLL_FLOOR = 1e-15;

function check(probs: readonly (readonly number[])[], truth: readonly number[], who: string): number {
  if (probs.length !== truth.length)
    throw new Error(`${who}: ${probs.length} probability rows for ${truth.length} true labels`);
  if (probs.length === 0) throw new Error(`${who}: no rows`);
  const k = probs[0].length;
  if (k < 2) throw new Error(`${who}: a probability row needs at least 2 classes`);
  probs.forEach((row, i) => {
    if (row.length !== k) throw new Error(`${who}: row ${i} has ${row.length} probabilities, row 0 has ${k}`);
    if (row.some((p) => !Number.isFinite(p) || p < 0))
      throw new Error(`${who}: row ${i} has a probability that is negative or not a finite number`);
    if (!(row.reduce((a, b) => a + b, 0) > 0)) throw new Error(`${who}: row ${i} sums to 0`);
  });
  truth.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t >= k)
      throw new Error(`${who}: true label ${i} is ${t}, not a class index from 0 to ${k - 1}`);
  });
  return k;
}

/** Index of the largest probability (the first on ties, as argmax). */
export function topLabel(row: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** The per-bin table (count, mean confidence, accuracy) of the top-label confidence. */
export function calibrationBins(
  probs: readonly (readonly number[])[],
  truth: readonly number[],
  bins = 15,
): CalibrationBin[] {
  check(probs, truth, 'calibrationBins');
  if (!Number.isInteger(bins) || bins < 1)
    throw new Error(`calibrationBins: bins must be a positive integer, not ${bins}`);
  const count = new Array<number>(bins).fill(0);
  const conf = new Array<number>(bins).fill(0);
  const correct = new Array<number>(bins).fill(0);
  probs.forEach((row, i) => {
    const top = topLabel(row);
    const sum = row.reduce((a, b) => a + b, 0);
    const c = row[top] / sum;
    // (lower, upper]: ceil(c·B) − 1, clamped (c = 0 → the first bin; float noise at the edges stays inside).
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(c * bins) - 1));
    count[b]++;
    conf[b] += c;
    if (top === truth[i]) correct[b]++;
  });
  return count.map((n, b) => ({
    lower: b / bins,
    upper: (b + 1) / bins,
    count: n,
    confidence: n ? conf[b] / n : 0,
    accuracy: n ? correct[b] / n : 0,
  }));
}

/** ECE of a per-bin table: Σ (n_b / n) |accuracy_b − confidence_b|. */
export function eceOfBins(bins: readonly CalibrationBin[]): number {
  const n = bins.reduce((s, b) => s + b.count, 0);
  return n ? bins.reduce((s, b) => s + (b.count / n) * Math.abs(b.accuracy - b.confidence), 0) : 0;
}

export function meanNll(probs: readonly (readonly number[])[], truth: readonly number[]): number {
  check(probs, truth, 'meanNll');
  let s = 0;
  probs.forEach((row, i) => {
    const sum = row.reduce((a, b) => a + b, 0);
    s -= Math.log(Math.max(NLL_FLOOR, row[truth[i]] / sum));
  });
  return s / probs.length;
}

export function brierScore(probs: readonly (readonly number[])[], truth: readonly number[]): number {
  check(probs, truth, 'brierScore');
  let s = 0;
  probs.forEach((row, i) => {
    const sum = row.reduce((a, b) => a + b, 0);
    row.forEach((p, k) => (s += (p / sum - (k === truth[i] ? 1 : 0)) ** 2));
  });
  return s / probs.length;
}

/**
 * Top-label expected calibration error with its per-bin table, and the accuracy, the maximum calibration
 * error, the mean NLL and the Brier score of the same rows. `truth` holds class indices into each row.
 */
export function expectedCalibrationError(
  probs: readonly (readonly number[])[],
  truth: readonly number[],
  bins = 15,
): CalibrationReport {
  const table = calibrationBins(probs, truth, bins);
  const correct = probs.reduce((s, row, i) => s + (topLabel(row) === truth[i] ? 1 : 0), 0);
  return {
    n: probs.length,
    accuracy: correct / probs.length,
    ece: eceOfBins(table),
    mce: table.reduce((m, b) => (b.count ? Math.max(m, Math.abs(b.accuracy - b.confidence)) : m), 0),
    nll: meanNll(probs, truth),
    brier: brierScore(probs, truth),
    bins: table,
  };
}

/** softmax(log p / T) for one row; a zero probability stays zero. */
function temperRow(row: readonly number[], invT: number): number[] {
  const logits = row.map((p) => (p > 0 ? Math.log(p) * invT : -Infinity));
  const max = Math.max(...logits);
  const e = logits.map((z) => (z === -Infinity ? 0 : Math.exp(z - max)));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/**
 * The probabilities of a softmax model re-tempered by T: p ∝ p^(1/T). T = 1 only renormalises; T > 1
 * softens, T < 1 sharpens. `temperatureScale(temperatureScale(p, T), 1 / T)` gives p back.
 */
export function temperatureScale(probs: readonly (readonly number[])[], T: number): number[][] {
  if (!Number.isFinite(T) || T <= 0) throw new Error(`temperatureScale: T must be a positive number, not ${T}`);
  return probs.map((row) => temperRow(row, 1 / T));
}

/** Undoes a temperature: the probabilities a model served at temperature T gave before it (T = 1). */
export function untemper(probs: readonly (readonly number[])[], T: number): number[][] {
  if (!Number.isFinite(T) || T <= 0) throw new Error(`untemper: T must be a positive number, not ${T}`);
  return temperatureScale(probs, 1 / T);
}

export interface FitTemperatureOptions {
  /** Search range of T (default 1/8 … 8). */
  min?: number;
  max?: number;
  /** Stop when the bracket on log T is narrower than this (default 1e-6). */
  tolerance?: number;
}

/**
 * The temperature T minimising the mean NLL of `temperatureScale(probs, T)` on `truth`: golden-section
 * search on log T over [min, max]. Deterministic. A result at an end of the range means the optimum is
 * at or beyond it.
 */
export function fitTemperature(
  probs: readonly (readonly number[])[],
  truth: readonly number[],
  opts: FitTemperatureOptions = {},
): number {
  check(probs, truth, 'fitTemperature');
  const min = opts.min ?? 1 / 8;
  const max = opts.max ?? 8;
  const tol = opts.tolerance ?? 1e-6;
  if (!(min > 0 && max > min)) throw new Error(`fitTemperature: need 0 < min < max, got ${min} and ${max}`);
  // Log-probabilities once; zero probabilities floored so that every row keeps a finite loss.
  const logs = probs.map((row) => {
    const sum = row.reduce((a, b) => a + b, 0);
    return row.map((p) => Math.log(Math.max(NLL_FLOOR, p / sum)));
  });
  const nll = (logT: number): number => {
    const inv = Math.exp(-logT);
    let s = 0;
    for (let i = 0; i < logs.length; i++) {
      const z = logs[i];
      let m = -Infinity;
      for (const v of z) m = Math.max(m, v * inv);
      let e = 0;
      for (const v of z) e += Math.exp(v * inv - m);
      s += m + Math.log(e) - z[truth[i]] * inv;
    }
    return s / logs.length;
  };
  const phi = (Math.sqrt(5) - 1) / 2;
  let a = Math.log(min);
  let b = Math.log(max);
  let c = b - phi * (b - a);
  let d = a + phi * (b - a);
  let fc = nll(c);
  let fd = nll(d);
  while (b - a > tol) {
    if (fc <= fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - phi * (b - a);
      fc = nll(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + phi * (b - a);
      fd = nll(d);
    }
  }
  // The ends themselves are candidates (the search only ever evaluates inner points).
  const candidates = [Math.log(min), (a + b) / 2, Math.log(max)];
  const best = candidates.reduce((x, y) => (nll(y) < nll(x) ? y : x));
  return Math.exp(best);
}

// ---------------------------------------------------------------------------------------------------------
// The reliability diagram.

export const RELIABILITY_COLOURS = {
  text: [34, 34, 34],
  muted: [105, 105, 105],
  axis: [130, 130, 130],
  grid: [232, 232, 232],
  /** Before calibration: orange. */
  before: [236, 134, 48],
  /** After calibration: blue. */
  after: [31, 104, 180],
  /** The diagonal (perfect calibration), drawn over the bars. */
  diagonal: [20, 20, 20],
} as const satisfies Record<string, Rgb>;

export interface ReliabilityOptions {
  /** Legend names of the two series (default "before calibration" / "after calibration"). */
  beforeLabel?: string;
  afterLabel?: string;
  width?: number;
  height?: number;
}

/** Where the diagram sits in a width × height image: the plot frame and the share-of-rows strip under it. */
export function reliabilityLayout(width = 600, height = 450) {
  const margin = 12;
  const ch = GLYPH_H;
  const plotLeft = margin + ch + 8 + Raster.textWidth('100%', 1) + 6;
  const plotRight = width - 24;
  const plotTop = 8 + 2 * ch + 8 + ch + 16;
  const legendRows = 3;
  const legendTop = height - margin - legendRows * (ch + 6) + 6;
  // Under the plot: the strip (share of rows per bin), the confidence ticks and the axis title.
  const stripH = Math.max(24, Math.round(height * 0.08));
  const stripBottom = legendTop - 14 - (6 + ch + 6 + ch);
  const stripTop = stripBottom - stripH;
  const plotBottom = stripTop - 10;
  return { margin, plotLeft, plotRight, plotTop, plotBottom, stripTop, stripBottom, legendTop };
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

/** Printable with the raster's font: accents stripped, dashes and quotes mapped, anything else kept. */
function ascii(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[\u2012-\u2015]/g, '-')
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/\u2026/g, '...')
    .replace(/\u00d7/g, 'x');
}

/**
 * The reliability diagram as a PNG (default 600×450): for each confidence bin, the accuracy of its rows as a
 * bar, before (orange, left) and after (blue, right) calibration; the diagonal where accuracy equals
 * confidence; under the plot, the share of rows in each bin; in the legend, each series' ECE.
 */
export function reliabilityPng(
  before: readonly CalibrationBin[],
  after: readonly CalibrationBin[],
  title: string,
  opts: ReliabilityOptions = {},
): Buffer {
  const width = opts.width ?? 600;
  const height = opts.height ?? 450;
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width < 400 ||
    height < 300 ||
    width > 4096 ||
    height > 4096
  )
    throw new Error(`reliability diagram: width and height must be integers from 400×300 to 4096×4096`);
  if (before.length === 0 || before.length !== after.length)
    throw new Error(`reliability diagram: ${before.length} bins before and ${after.length} after (need the same, ≥ 1)`);
  for (const b of [...before, ...after])
    if (![b.count, b.accuracy, b.confidence].every(Number.isFinite) || b.count < 0 || b.accuracy < 0 || b.accuracy > 1)
      throw new Error('reliability diagram: a bin has a negative count or an accuracy outside 0..1');
  const C = RELIABILITY_COLOURS;
  const L = reliabilityLayout(width, height);
  const img = new Raster(width, height);
  const ch = GLYPH_H;

  const heading = ascii(title);
  const headingScale = Raster.textWidth(heading, 2) <= width - 2 * L.margin ? 2 : 1;
  img.text(heading, L.margin, 8, headingScale, C.text);
  const nBefore = before.reduce((s, b) => s + b.count, 0);
  img.text(
    ascii(`top-label confidence in ${before.length} equal bins; bars: accuracy of each bin (${nBefore} rows)`).slice(
      0,
      Math.floor((width - 2 * L.margin) / 6),
    ),
    L.margin,
    8 + 2 * ch + 8,
    1,
    C.muted,
  );

  const plotW = L.plotRight - L.plotLeft;
  const plotH = L.plotBottom - L.plotTop;
  const X = (c: number) => L.plotLeft + c * plotW;
  const Y = (a: number) => L.plotBottom - a * plotH;

  // Grid at 0.2 steps and the accuracy axis' labels.
  for (let i = 0; i <= 5; i++) {
    const y = Math.round(Y(i / 5));
    const x = Math.round(X(i / 5));
    if (i > 0 && i < 5) {
      for (let xx = L.plotLeft; xx <= L.plotRight; xx++) img.set(xx, y, C.grid);
      for (let yy = L.plotTop; yy <= L.plotBottom; yy++) img.set(x, yy, C.grid);
    }
    img.rightAligned(`${i * 20}%`, L.plotLeft - 6, y - Math.floor(ch / 2) + 1, 1, C.text);
  }
  const midY = (L.plotTop + L.plotBottom) / 2;
  img.text('accuracy', L.margin, Math.round(midY + Raster.textWidth('accuracy', 1) / 2), 1, C.text, true);

  // Bars: each bin's slot split in two, before on the left, after on the right.
  const k = before.length;
  const slot = plotW / k;
  const barW = Math.max(1, Math.floor((slot - 3) / 2));
  const bar = (bins: readonly CalibrationBin[], side: 0 | 1, colour: Rgb) => {
    bins.forEach((b, i) => {
      if (b.count === 0) return;
      const x = Math.round(L.plotLeft + i * slot + 1 + side * (barW + 1));
      const h = Math.round(b.accuracy * plotH);
      if (h > 0) img.rect(x, L.plotBottom - h, barW, h, colour);
      else img.rect(x, L.plotBottom - 1, barW, 1, colour); // an empty-accuracy bin still shows it has rows
    });
  };
  bar(before, 0, C.before);
  bar(after, 1, C.after);

  // Share of rows per bin, same colours, scaled to the largest share.
  const nAfter = after.reduce((s, b) => s + b.count, 0);
  const shares = (bins: readonly CalibrationBin[], n: number) => bins.map((b) => (n ? b.count / n : 0));
  const sb = shares(before, nBefore);
  const sa = shares(after, nAfter);
  const top = Math.max(1e-9, ...sb, ...sa);
  const stripH = L.stripBottom - L.stripTop;
  [sb, sa].forEach((s, side) =>
    s.forEach((share, i) => {
      if (share <= 0) return;
      const h = Math.max(1, Math.round((share / top) * stripH));
      const x = Math.round(L.plotLeft + i * slot + 1 + side * (barW + 1));
      img.rect(x, L.stripBottom - h, barW, h, side ? C.after : C.before);
    }),
  );
  for (let x = L.plotLeft; x <= L.plotRight; x++) img.set(x, L.stripBottom, C.axis);
  img.rightAligned('rows', L.plotLeft - 6, Math.round((L.stripTop + L.stripBottom) / 2) - ch, 1, C.muted);
  img.rightAligned(`${pct(top).replace('.0%', '%')}`, L.plotLeft - 6, L.stripTop, 1, C.muted);

  // Axes (frame) and the confidence ticks under the strip.
  for (let x = L.plotLeft; x <= L.plotRight; x++) {
    img.set(x, L.plotBottom, C.axis);
    img.set(x, L.plotTop, C.axis);
  }
  for (let y = L.plotTop; y <= L.plotBottom; y++) {
    img.set(L.plotLeft, y, C.axis);
    img.set(L.plotRight, y, C.axis);
  }
  const tickY = L.stripBottom + 6;
  for (let i = 0; i <= 5; i++) {
    const x = Math.round(X(i / 5));
    for (let y = L.stripBottom; y < L.stripBottom + 4; y++) img.set(x, y, C.axis);
    img.centred((i / 5).toFixed(1), x, tickY, 1, C.text);
  }
  img.centred('confidence (largest probability)', (L.plotLeft + L.plotRight) / 2, tickY + ch + 6, 1, C.text);

  // The diagonal last, over the bars.
  img.polyline(
    [
      [X(0), Y(0)],
      [X(1), Y(1)],
    ],
    C.diagonal,
    1,
  );

  // Legend: one item a row.
  const items: Array<[string, (x: number, y: number) => void]> = [
    [
      `${ascii(opts.beforeLabel ?? 'before calibration')}: ECE ${pct(eceOfBins(before))}`,
      (x, y) => img.rect(x + 3, y, 10, ch - 1, C.before),
    ],
    [
      `${ascii(opts.afterLabel ?? 'after calibration')}: ECE ${pct(eceOfBins(after))}`,
      (x, y) => img.rect(x + 3, y, 10, ch - 1, C.after),
    ],
    [
      'diagonal: perfect calibration (accuracy = confidence)',
      (x, y) =>
        img.polyline(
          [
            [x, y + ch - 1],
            [x + 15, y],
          ],
          C.diagonal,
          1,
        ),
    ],
  ];
  items.forEach(([label, swatch], r) => {
    const y = L.legendTop + r * (ch + 6);
    swatch(L.plotLeft, y);
    img.text(label, L.plotLeft + 22, y, 1, C.text);
  });
  return encodePng(img.width, img.height, img.data);
}
