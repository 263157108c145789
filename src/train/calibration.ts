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
 *   drawn by ECharts (src/charts/render.ts) like the confusion matrix.
 */
import { renderChartPng, renderChartSvg, type ChartOption } from '../charts/render';
import { PALETTE } from '../charts/palette';

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
  text: PALETTE.text,
  muted: PALETTE.muted,
  axis: PALETTE.axis,
  grid: PALETTE.grid,
  /** Before calibration: Okabe–Ito reddish purple. */
  before: PALETTE.purple,
  /** After calibration: Okabe–Ito blue. */
  after: PALETTE.blue,
  /** The diagonal (perfect calibration), drawn over the bars. */
  diagonal: PALETTE.text,
} as const;

export interface ReliabilityOptions {
  /** Legend names of the two series (default "before calibration" / "after calibration"). */
  beforeLabel?: string;
  afterLabel?: string;
  width?: number;
  height?: number;
}

/**
 * Where the diagram sits in a width × height picture (ECharts' two grids, fixed margins): the plot, and
 * under it the strip of the share of rows per bin, then the confidence axis.
 */
export function reliabilityLayout(width = 600, height = 450) {
  const plotLeft = 64;
  const plotRight = width - 24;
  const plotTop = 70;
  const stripBottom = height - 56;
  const stripH = Math.max(28, Math.round(height * 0.1));
  const stripTop = stripBottom - stripH;
  const plotBottom = stripTop - 14;
  return { plotLeft, plotRight, plotTop, plotBottom, stripTop, stripBottom };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

function checkDiagram(before: readonly CalibrationBin[], after: readonly CalibrationBin[], w: number, h: number) {
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 400 || h < 300 || w > 4096 || h > 4096)
    throw new Error(`reliability diagram: width and height must be integers from 400×300 to 4096×4096`);
  if (before.length === 0 || before.length !== after.length)
    throw new Error(`reliability diagram: ${before.length} bins before and ${after.length} after (need the same, ≥ 1)`);
  for (const b of [...before, ...after])
    if (![b.count, b.accuracy, b.confidence].every(Number.isFinite) || b.count < 0 || b.accuracy < 0 || b.accuracy > 1)
      throw new Error('reliability diagram: a bin has a negative count or an accuracy outside 0..1');
}

/**
 * The reliability diagram's ECharts option: for each confidence bin, the accuracy of its rows as a bar,
 * before (purple, left) and after (blue, right) calibration; the diagonal where accuracy equals confidence;
 * under the plot, the share of rows in each bin; in the legend, each series' ECE.
 */
export function reliabilityOption(
  before: readonly CalibrationBin[],
  after: readonly CalibrationBin[],
  title: string,
  opts: ReliabilityOptions = {},
): ChartOption {
  const width = opts.width ?? 600;
  const height = opts.height ?? 450;
  checkDiagram(before, after, width, height);
  const C = RELIABILITY_COLOURS;
  const L = reliabilityLayout(width, height);
  const k = before.length;
  const slot = (L.plotRight - L.plotLeft) / k;
  const barWidth = Math.max(1, Math.floor(slot * 0.42));
  const nBefore = before.reduce((s, b) => s + b.count, 0);
  const nAfter = after.reduce((s, b) => s + b.count, 0);
  const shares = (bins: readonly CalibrationBin[], n: number) => bins.map((b) => (n ? b.count / n : 0));
  const topShare = Math.max(1e-9, ...shares(before, nBefore), ...shares(after, nAfter));
  const beforeName = `${opts.beforeLabel ?? 'before calibration'}: ECE ${pct(eceOfBins(before))}`;
  const afterName = `${opts.afterLabel ?? 'after calibration'}: ECE ${pct(eceOfBins(after))}`;
  const diagonalName = 'perfect calibration (accuracy = confidence)';
  // Bars on a category axis of the bins (each bin exactly 1/k of the width), the diagonal and the ticks on a
  // value axis 0..1 over the same width. An empty bin draws nothing; a bin with rows but no right answer
  // still shows a sliver (barMinHeight).
  const bars = (values: Array<number | '-'>, name: string, colour: string, axis: number) => ({
    type: 'bar' as const,
    name,
    color: colour,
    xAxisIndex: axis,
    yAxisIndex: axis === 0 ? 0 : 1,
    barWidth,
    barGap: `${(100 / barWidth).toFixed(2)}%`,
    barMinHeight: 1,
    data: values,
    emphasis: { disabled: true },
  });
  const accuracy = (bins: readonly CalibrationBin[]) => bins.map((b) => (b.count ? b.accuracy : '-'));
  const rowShare = (bins: readonly CalibrationBin[], n: number) => shares(bins, n).map((s) => (s > 0 ? s : '-'));
  const binAxis = (gridIndex: number) => ({
    type: 'category' as const,
    gridIndex,
    data: before.map((_, i) => String(i)),
    show: false,
  });
  const unitAxis = (gridIndex: number) => ({
    type: 'value' as const,
    gridIndex,
    position: 'bottom' as const,
    min: 0,
    max: 1,
    interval: 0.1,
    axisLine: { show: true, lineStyle: { color: C.axis } },
  });
  const grid = (top: number, bottom: number) => ({
    left: L.plotLeft,
    right: width - L.plotRight,
    top,
    bottom: height - bottom,
    // Fixed margins: ECharts 6 would otherwise shrink the grid to keep axis names inside the picture.
    outerBoundsMode: 'none' as const,
  });
  return {
    title: {
      text: title,
      subtext: `top-label confidence in ${k} equal bins; bars: accuracy of each bin (${nBefore} rows)`,
      left: 14,
      top: 8,
      textStyle: { fontSize: 16, fontWeight: 'bold', color: C.text },
      subtextStyle: { fontSize: 12, color: C.muted },
      itemGap: 5,
    },
    grid: [grid(L.plotTop, L.plotBottom), grid(L.stripTop, L.stripBottom)],
    xAxis: [
      binAxis(0),
      binAxis(1),
      {
        ...unitAxis(0),
        axisTick: { show: false },
        axisLabel: { show: false },
        splitLine: { show: true, lineStyle: { color: C.grid } },
      },
      {
        ...unitAxis(1),
        splitLine: { show: false },
        axisTick: { show: true, lineStyle: { color: C.axis } },
        axisLabel: { color: C.text, fontSize: 12, formatter: (v: number) => v.toFixed(1) },
        name: 'confidence (largest probability)',
        nameLocation: 'middle',
        nameGap: 26,
        nameTextStyle: { color: C.text, fontSize: 13 },
      },
    ],
    yAxis: [
      {
        type: 'value',
        gridIndex: 0,
        min: 0,
        max: 1,
        interval: 0.2,
        axisLine: { show: true, lineStyle: { color: C.axis } },
        splitLine: { show: true, lineStyle: { color: C.grid } },
        axisLabel: { color: C.text, fontSize: 12, formatter: (v: number) => `${Math.round(v * 100)}%` },
        name: 'accuracy',
        nameLocation: 'middle',
        nameGap: 44,
        nameTextStyle: { color: C.text, fontSize: 13 },
      },
      {
        type: 'value',
        gridIndex: 1,
        min: 0,
        max: topShare,
        interval: topShare,
        axisLine: { show: true, lineStyle: { color: C.axis } },
        splitLine: { show: false },
        axisLabel: {
          color: C.muted,
          fontSize: 11,
          formatter: (v: number) => (v > 0 ? pct(v).replace('.0%', '%') : ''),
        },
        name: 'rows',
        nameLocation: 'middle',
        nameGap: 44,
        nameTextStyle: { color: C.muted, fontSize: 12 },
      },
    ],
    // Inside the plot, top left: above the diagonal, where a calibrated model has no bars.
    legend: {
      orient: 'vertical',
      left: L.plotLeft + 8,
      top: L.plotTop + 8,
      itemWidth: 18,
      itemHeight: 11,
      itemGap: 6,
      padding: [6, 8],
      backgroundColor: 'rgba(255, 255, 255, 0.9)',
      textStyle: { color: C.text, fontSize: 12 },
      data: [beforeName, afterName, { name: diagonalName, icon: 'path://M0 13 L22 0 L24 1.5 L2 14.5 Z' }],
    },
    series: [
      bars(accuracy(before), beforeName, C.before, 0),
      bars(accuracy(after), afterName, C.after, 0),
      bars(rowShare(before, nBefore), beforeName, C.before, 1),
      bars(rowShare(after, nAfter), afterName, C.after, 1),
      {
        type: 'line',
        name: diagonalName,
        color: C.diagonal,
        xAxisIndex: 2,
        yAxisIndex: 0,
        data: [
          [0, 0],
          [1, 1],
        ],
        symbol: 'none',
        lineStyle: { width: 1.5, color: C.diagonal },
        z: 5,
        silent: true,
      },
    ],
  };
}

/**
 * The reliability diagram as a PNG (default 600×450), drawn by ECharts (src/charts/render.ts): see
 * `reliabilityOption`.
 */
export function reliabilityPng(
  before: readonly CalibrationBin[],
  after: readonly CalibrationBin[],
  title: string,
  opts: ReliabilityOptions = {},
): Buffer {
  return renderChartPng(reliabilityOption(before, after, title, opts), {
    width: opts.width ?? 600,
    height: opts.height ?? 450,
  });
}

/** The same diagram as ECharts draws it in SVG. */
export function reliabilitySvg(
  before: readonly CalibrationBin[],
  after: readonly CalibrationBin[],
  title: string,
  opts: ReliabilityOptions = {},
): string {
  return renderChartSvg(reliabilityOption(before, after, title, opts), {
    width: opts.width ?? 600,
    height: opts.height ?? 450,
  });
}
