import { decodePng, near } from '../helpers/png';
import { svgTexts } from '../helpers/svg';
import { rgbOf } from '../../src/charts/palette';
import {
  brierScore,
  calibrationBins,
  eceOfBins,
  expectedCalibrationError,
  fitTemperature,
  meanNll,
  RELIABILITY_COLOURS as C,
  reliabilityLayout,
  reliabilityPng,
  reliabilitySvg,
  temperatureScale,
  untemper,
} from '../../src/train/calibration';
import { seededRandom } from '../../src/train/random';

const softmax = (z: number[]) => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

/** A label drawn from the row's own probabilities: such a model is calibrated by construction. */
function draw(p: readonly number[], random: () => number): number {
  let u = random();
  for (let k = 0; k < p.length; k++) {
    u -= p[k];
    if (u < 0) return k;
  }
  return p.length - 1;
}

/** n rows of 3-class probabilities from random logits (spread `scale`), with labels drawn from them. */
function calibratedSet(n: number, seed: number, scale = 3) {
  const random = seededRandom(seed);
  const probs: number[][] = [];
  const truth: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = softmax([0, 1, 2].map(() => (random() * 2 - 1) * scale));
    probs.push(p);
    truth.push(draw(p, random));
  }
  return { probs, truth };
}

describe('expected calibration error', () => {
  it('is 0 when every bin is exactly as accurate as it is confident (hand-made)', () => {
    // 10 rows at 0.8 (8 right) and 4 rows at 0.5 (2 right).
    const probs = [...Array(10).fill([0.8, 0.1, 0.1]), ...Array(4).fill([0.2, 0.5, 0.3])] as number[][];
    const truth = [...[0, 0, 0, 0, 0, 0, 0, 0, 1, 2], ...[1, 1, 0, 2]];
    const r = expectedCalibrationError(probs, truth);
    expect(r.ece).toBeCloseTo(0, 12);
    expect(r.accuracy).toBeCloseTo(10 / 14, 12);
    expect(r.bins).toHaveLength(15);
    expect(r.bins.reduce((s, b) => s + b.count, 0)).toBe(14);
  });

  it('is about 0 for a large synthetic set whose labels are drawn from its probabilities', () => {
    const { probs, truth } = calibratedSet(40000, 11);
    const r = expectedCalibrationError(probs, truth);
    expect(r.ece).toBeLessThan(0.01);
  });

  it('over-confident: the value computed by hand', () => {
    // 4 rows at 0.9 with 2 right (gap 0.4) and 6 rows at 0.7 with 3 right (gap 0.2):
    // ECE = 0.4 × 0.4 + 0.6 × 0.2 = 0.28; MCE = 0.4.
    const probs = [...Array(4).fill([0.9, 0.05, 0.05]), ...Array(6).fill([0.1, 0.7, 0.2])] as number[][];
    const truth = [0, 0, 1, 2, 1, 1, 1, 0, 0, 2];
    const r = expectedCalibrationError(probs, truth);
    expect(r.ece).toBeCloseTo(0.28, 12);
    expect(r.mce).toBeCloseTo(0.4, 12);
    // 0.9 is in (13/15, 14/15], 0.7 in (10/15, 11/15].
    expect(r.bins[13]).toMatchObject({ count: 4, accuracy: 0.5 });
    expect(r.bins[13].confidence).toBeCloseTo(0.9, 12);
    expect(r.bins[10]).toMatchObject({ count: 6, accuracy: 0.5 });
    expect(eceOfBins(r.bins)).toBeCloseTo(0.28, 12);
  });

  it('puts a confidence on a bin edge in the lower bin ((lower, upper]) and 1.0 in the last', () => {
    const bins = calibrationBins(
      [
        [0.6, 0.4],
        [1, 0],
      ],
      [0, 0],
      5,
    );
    expect(bins.map((b) => b.count)).toEqual([0, 0, 1, 0, 1]);
  });

  it('NLL and Brier: hand values', () => {
    const probs = [
      [0.9, 0.05, 0.05],
      [0.2, 0.5, 0.3],
    ];
    expect(meanNll(probs, [0, 2])).toBeCloseTo((-Math.log(0.9) - Math.log(0.3)) / 2, 12);
    // (0.01 + 0.0025 + 0.0025) and (0.04 + 0.25 + 0.49)
    expect(brierScore(probs, [0, 2])).toBeCloseTo((0.015 + 0.78) / 2, 12);
    expect(meanNll([[1, 0]], [1])).toBeCloseTo(-Math.log(1e-15), 6); // floored, not infinite
  });

  it('refuses bad input with a message that names it', () => {
    expect(() => expectedCalibrationError([[0.5, 0.5]], [0, 1])).toThrow(/1 probability rows for 2 true labels/);
    expect(() => expectedCalibrationError([[0.5, 0.5]], [2])).toThrow(/not a class index from 0 to 1/);
    expect(() => expectedCalibrationError([[0.5, NaN]], [0])).toThrow(/row 0/);
    expect(() => expectedCalibrationError([], [])).toThrow(/no rows/);
    expect(() => calibrationBins([[0.5, 0.5]], [0], 0)).toThrow(/bins must be a positive integer/);
  });
});

describe('temperature scaling', () => {
  it('p ∝ p^(1/T): T = 1 keeps, T > 1 softens, T < 1 sharpens, untemper undoes', () => {
    const p = [[0.7, 0.2, 0.1]];
    expect(temperatureScale(p, 1)[0].map((v) => +v.toFixed(12))).toEqual([0.7, 0.2, 0.1]);
    const hot = temperatureScale(p, 2)[0];
    const s = Math.sqrt(0.7) + Math.sqrt(0.2) + Math.sqrt(0.1);
    expect(hot[0]).toBeCloseTo(Math.sqrt(0.7) / s, 12);
    expect(temperatureScale(p, 0.5)[0][0]).toBeGreaterThan(0.7);
    const back = untemper(temperatureScale(p, 1.7), 1.7)[0];
    back.forEach((v, i) => expect(v).toBeCloseTo(p[0][i], 12));
    // Same as dividing the logits by T.
    const z = [1.5, -0.3, 0.2];
    temperatureScale([softmax(z)], 3)[0].forEach((v, i) => expect(v).toBeCloseTo(softmax(z.map((x) => x / 3))[i], 12));
    expect(temperatureScale([[1, 0, 0]], 2)[0]).toEqual([1, 0, 0]);
    expect(() => temperatureScale(p, 0)).toThrow(/positive/);
  });

  it.each([0.5, 2.5])(
    'fitTemperature recovers the temperature that distorted calibrated probabilities (T = %s)',
    (T0) => {
      const { probs, truth } = calibratedSet(10000, 3);
      // A model whose logits are T0 times those of a calibrated one (p^T0): dividing them by T0 undoes it.
      const distorted = temperatureScale(probs, 1 / T0);
      const T = fitTemperature(distorted, truth);
      expect(Math.abs(Math.log(T / T0))).toBeLessThan(0.06);
      const before = expectedCalibrationError(distorted, truth);
      const after = expectedCalibrationError(temperatureScale(distorted, T), truth);
      expect(after.ece).toBeLessThan(0.015);
      expect(after.ece).toBeLessThan(before.ece);
      expect(after.nll).toBeLessThanOrEqual(before.nll);
    },
  );

  it('fitTemperature is deterministic, about 1 for a calibrated set, and stays in [1/8, 8]', () => {
    const { probs, truth } = calibratedSet(10000, 5);
    const T = fitTemperature(probs, truth);
    expect(T).toBe(fitTemperature(probs, truth));
    expect(Math.abs(Math.log(T))).toBeLessThan(0.06);
    // Always wrong with confidence: the flattest temperature allowed.
    expect(fitTemperature([[0.9, 0.1]], [1])).toBeCloseTo(8, 4);
    // Always right: the sharpest allowed.
    expect(fitTemperature([[0.9, 0.1]], [0])).toBeCloseTo(1 / 8, 4);
  });
});

describe('reliability diagram (ECharts)', () => {
  // Before: over-confident; after: on the diagonal.
  const bins = (acc: (i: number) => number) =>
    Array.from({ length: 10 }, (_, i) => ({
      lower: i / 10,
      upper: (i + 1) / 10,
      count: i < 3 ? 0 : 20 * i,
      confidence: i < 3 ? 0 : (i + 0.5) / 10,
      accuracy: i < 3 ? 0 : acc(i),
    }));
  const before = bins((i) => (i + 0.5) / 10 - 0.2);
  const after = bins((i) => (i + 0.5) / 10);
  const png = reliabilityPng(before, after, 'test model, validation split');
  const svg = reliabilitySvg(before, after, 'test model, validation split');
  const img = decodePng(png);
  const L = reliabilityLayout(600, 450);
  const X = (c: number) => Math.round(L.plotLeft + c * (L.plotRight - L.plotLeft));
  const Y = (a: number) => Math.round(L.plotBottom - a * (L.plotBottom - L.plotTop));
  const slot = (L.plotRight - L.plotLeft) / 10;
  /** Columns inside the before (left) and after (right) bars of bin i: a quarter of a slot off its centre. */
  const leftOf = (i: number) => Math.round(L.plotLeft + (i + 0.5) * slot - slot * 0.21);
  const rightOf = (i: number) => Math.round(L.plotLeft + (i + 0.5) * slot + slot * 0.21);
  const is = (p: readonly number[], hex: string) => near(p, rgbOf(hex), 3);
  const words = svgTexts(svg).map((t) => t.text);

  it('is a 600×450 PNG on white, with the axes at the edges of the layout', () => {
    expect([img.width, img.height]).toEqual([600, 450]);
    expect(img.px(0, 0)).toEqual([255, 255, 255]);
    // Between ticks: accuracy 30 %, confidence 0.55.
    const [midX, midY] = [X(0.55), Y(0.3)];
    expect(img.px(L.plotLeft, midY)).toEqual(rgbOf(C.axis));
    expect(img.px(L.plotLeft - 2, midY)).toEqual([255, 255, 255]);
    expect(img.px(midX, L.stripBottom)).toEqual(rgbOf(C.axis));
    expect(img.px(midX, L.stripBottom + 2)).toEqual([255, 255, 255]);
  });

  it('draws the diagonal over the bars (at confidence 0.5, 0.85 and near 0.2)', () => {
    for (const c of [0.2, 0.5, 0.85]) {
      // The line is thin: the pixel at (c, c) or one of its vertical neighbours is dark.
      const column = [-1, 0, 1].map((d) => img.px(X(c), Y(c) + d));
      expect(column.some((p) => near(p, rgbOf(C.diagonal), 60))).toBe(true);
    }
  });

  it('draws each bin as two bars, before (left, purple) and after (right, blue), as high as its accuracy', () => {
    const i = 7; // accuracy 0.55 before, 0.75 after
    expect(is(img.px(leftOf(i), Y(0.5)), C.before)).toBe(true);
    expect(is(img.px(leftOf(i), Y(0.6)), C.before)).toBe(false);
    expect(is(img.px(rightOf(i), Y(0.7)), C.after)).toBe(true);
    expect(is(img.px(rightOf(i), Y(0.8)), C.after)).toBe(false);
    // No rows in bins 0–2: nothing drawn there.
    expect(is(img.px(leftOf(1), Y(0.02)), C.before)).toBe(false);
    expect(is(img.px(rightOf(1), Y(0.02)), C.after)).toBe(false);
  });

  it('shows the share of rows per bin in the strip under the plot, the fullest bin reaching its top', () => {
    // Bin 9 has 180 of 840 rows (21.4 %), the most; bin 3 has 60 (7.1 %): a third of the strip.
    expect(is(img.px(leftOf(9), L.stripTop + 3), C.before)).toBe(true);
    expect(is(img.px(rightOf(9), L.stripTop + 3), C.after)).toBe(true);
    expect(is(img.px(leftOf(3), L.stripBottom - 3), C.before)).toBe(true);
    expect(is(img.px(leftOf(3), L.stripTop + 3), C.before)).toBe(false);
    expect(words).toContain('21.4%');
  });

  it('has a legend with the ECE of each series, the axes named', () => {
    expect(words).toEqual(
      expect.arrayContaining([
        'test model, validation split',
        'before calibration: ECE 20.0%',
        'after calibration: ECE 0.0%',
        'perfect calibration (accuracy = confidence)',
        'accuracy',
        'confidence (largest probability)',
        '80%',
        '0.5',
      ]),
    );
    expect(words).not.toContain('after calibration: ECE 20.0%');
  });

  it('names the series as asked, accents and symbols included', () => {
    const named = svgTexts(
      reliabilitySvg(before, after, 'modèle étalonné', {
        beforeLabel: 'served (T = 1)',
        afterLabel: 'T = 1.15 — refit',
      }),
    ).map((t) => t.text);
    expect(named).toEqual(
      expect.arrayContaining(['modèle étalonné', 'served (T = 1): ECE 20.0%', 'T = 1.15 — refit: ECE 0.0%']),
    );
  });

  it('refuses mismatched bins and impossible sizes', () => {
    expect(() => reliabilityPng(before, after.slice(1), 'x')).toThrow(/10 bins before and 9 after/);
    expect(() => reliabilityPng(before, after, 'x', { width: 100 })).toThrow(/from 400×300/);
  });
});
