import { argmaxLabel, evaluatePredictions, roundMetrics } from '../../src/train/metrics';
import type { Label } from '../../src/sentiment/labels';

const neg: Label = 'negative';
const neu: Label = 'neutral';
const pos: Label = 'positive';

describe('evaluatePredictions, three classes (hand-computed)', () => {
  // confusion (rows truth, cols predicted): neg [2,1,0], neu [0,1,1], pos [1,0,2]
  const truth: Label[] = [neg, neg, neg, neu, neu, pos, pos, pos];
  const predicted: Label[] = [neg, neg, neu, neu, pos, pos, pos, neg];
  const m = evaluatePredictions(truth, predicted);

  it('counts the confusion matrix with truth as rows and LABELS order', () => {
    expect(m.confusion).toEqual([
      [2, 1, 0],
      [0, 1, 1],
      [1, 0, 2],
    ]);
    expect(m.n).toBe(8);
  });

  it('computes accuracy, per-class precision / recall / F1 / support and macro-F1', () => {
    expect(m.accuracy).toBeCloseTo(5 / 8, 12);
    expect(m.per_class.negative).toEqual({
      precision: 2 / 3,
      recall: 2 / 3,
      f1: expect.closeTo(2 / 3, 12),
      support: 3,
    });
    expect(m.per_class.neutral).toEqual({ precision: 1 / 2, recall: 1 / 2, f1: expect.closeTo(1 / 2, 12), support: 2 });
    expect(m.per_class.positive).toEqual({
      precision: 2 / 3,
      recall: 2 / 3,
      f1: expect.closeTo(2 / 3, 12),
      support: 3,
    });
    expect(m.macro_f1).toBeCloseTo(11 / 18, 12);
  });

  it('without probabilities, binary accuracy uses the labels and counts neutral predictions as wrong', () => {
    // negative truths: neg, neg, neu → 2 right; positive truths: pos, pos, neg → 2 right
    expect(m.binary_n).toBe(6);
    expect(m.binary_accuracy).toBeCloseTo(4 / 6, 12);
  });

  it('with probabilities, binary accuracy is p_neg >= p_pos (ties → negative)', () => {
    const probs = [
      [0.8, 0.1, 0.1],
      [0.7, 0.2, 0.1],
      [0.4, 0.5, 0.1], // predicted neutral, but leans negative → right
      [0.1, 0.8, 0.1],
      [0.1, 0.4, 0.5],
      [0.1, 0.1, 0.8],
      [0.2, 0.1, 0.7],
      [0.45, 0.1, 0.45], // tie → negative → wrong (truth positive)
    ];
    const withProbs = evaluatePredictions(truth, predicted, probs);
    expect(withProbs.binary_n).toBe(6);
    expect(withProbs.binary_accuracy).toBeCloseTo(5 / 6, 12);
    // the three-class numbers do not depend on the probabilities
    expect(withProbs.accuracy).toBe(m.accuracy);
    expect(withProbs.confusion).toEqual(m.confusion);
  });
});

describe('evaluatePredictions, two-class data (negative / positive truth only)', () => {
  // confusion: neg [1,1,0], neu [0,0,0], pos [1,0,1]
  const m = evaluatePredictions([neg, neg, pos, pos], [neg, neu, pos, neg]);

  it('averages F1 over the classes present in the truth only', () => {
    expect(m.per_class.negative.f1).toBeCloseTo(1 / 2, 12);
    expect(m.per_class.positive.precision).toBe(1);
    expect(m.per_class.positive.recall).toBe(1 / 2);
    expect(m.per_class.positive.f1).toBeCloseTo(2 / 3, 12);
    expect(m.per_class.neutral).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    expect(m.macro_f1).toBeCloseTo((1 / 2 + 2 / 3) / 2, 12);
  });

  it('gives accuracy and binary accuracy on every row', () => {
    expect(m.accuracy).toBe(0.5);
    expect(m.binary_n).toBe(4);
    expect(m.binary_accuracy).toBe(0.5);
  });
});

describe('evaluatePredictions, edge cases', () => {
  it('is perfect on a perfect prediction', () => {
    const labels: Label[] = [neg, neu, pos, pos];
    const m = evaluatePredictions(labels, labels);
    expect(m.accuracy).toBe(1);
    expect(m.macro_f1).toBe(1);
    expect(m.binary_accuracy).toBe(1);
  });

  it('reports NaN (not 0) when there is nothing to measure', () => {
    const empty = evaluatePredictions([], []);
    expect(empty.n).toBe(0);
    expect(empty.accuracy).toBeNaN();
    expect(empty.binary_accuracy).toBeNaN();
    const onlyNeutral = evaluatePredictions([neu], [neu]);
    expect(onlyNeutral.binary_n).toBe(0);
    expect(onlyNeutral.binary_accuracy).toBeNaN();
  });

  it('rejects mismatched lengths, unknown labels and malformed probability rows', () => {
    expect(() => evaluatePredictions([neg, pos], [neg])).toThrow(/2 true labels but 1 predictions/);
    expect(() => evaluatePredictions([neg], [neg], [])).toThrow(/probability rows/);
    expect(() => evaluatePredictions([neg], ['angry' as Label])).toThrow(/predicted\[0\]: unknown label "angry"/);
    expect(() => evaluatePredictions([neg], [neg], [[0.5, 0.5]])).toThrow(/probs\[0\] must be 3 numbers/);
  });
});

describe('helpers', () => {
  it('argmaxLabel picks the most probable label, first on ties', () => {
    expect(argmaxLabel([0.2, 0.3, 0.5])).toBe('positive');
    expect(argmaxLabel([0.4, 0.4, 0.2])).toBe('negative');
  });

  it('roundMetrics rounds every number and turns NaN into null', () => {
    expect(roundMetrics({ a: 2 / 3, b: [1 / 3, 7], c: NaN }, 3)).toEqual({ a: 0.667, b: [0.333, 7], c: null });
  });
});
