/**
 * Classification metrics shared by every evaluation (baseline, BiLSTM, lexicon peers, production feedback).
 *
 * Nothing is rounded here: callers round for display. Ratios whose denominator is zero are 0 for
 * precision / recall / F1 (scikit-learn's `zero_division=0`), and NaN for accuracy on an empty set
 * (serialised as `null` by JSON.stringify) so that "no data" never reads as "0 % right".
 */
import { LABELS, type Label } from './dataset';

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** Rows whose true label is this class. */
  support: number;
}

export interface EvaluationMetrics {
  n: number;
  accuracy: number;
  /** Mean F1 over the classes present in the truth (all three for the airline data, two for negative/positive data). */
  macro_f1: number;
  per_class: Record<Label, ClassMetrics>;
  /** confusion[t][p]: rows = true label, columns = predicted label, both in LABELS order. */
  confusion: number[][];
  /**
   * Negative-vs-positive accuracy on the rows whose truth is negative or positive. With probabilities a row is
   * predicted negative iff p_neg >= p_pos; without them, the predicted label is used and a neutral prediction
   * counts as wrong. NaN when binary_n is 0.
   */
  binary_accuracy: number;
  binary_n: number;
}

const NEG = LABELS.indexOf('negative');
const POS = LABELS.indexOf('positive');

function labelIndex(label: string, where: string, row: number): number {
  const k = (LABELS as readonly string[]).indexOf(label);
  if (k < 0) throw new Error(`${where}[${row}]: unknown label "${label}" (allowed: ${LABELS.join(', ')})`);
  return k;
}

export function evaluatePredictions(
  truth: readonly Label[],
  predicted: readonly Label[],
  probs?: readonly (readonly number[])[],
): EvaluationMetrics {
  if (truth.length !== predicted.length) {
    throw new Error(`evaluatePredictions: ${truth.length} true labels but ${predicted.length} predictions`);
  }
  if (probs && probs.length !== truth.length) {
    throw new Error(`evaluatePredictions: ${truth.length} true labels but ${probs.length} probability rows`);
  }
  const k = LABELS.length;
  const confusion = LABELS.map(() => new Array<number>(k).fill(0));
  let correct = 0;
  let binaryN = 0;
  let binaryCorrect = 0;

  for (let i = 0; i < truth.length; i++) {
    const t = labelIndex(truth[i], 'truth', i);
    const p = labelIndex(predicted[i], 'predicted', i);
    confusion[t][p]++;
    if (t === p) correct++;
    if (t !== NEG && t !== POS) continue;
    binaryN++;
    let binaryPrediction: number;
    if (probs) {
      const row = probs[i];
      if (!row || row.length !== k || row.some((x) => typeof x !== 'number' || Number.isNaN(x))) {
        throw new Error(`evaluatePredictions: probs[${i}] must be ${k} numbers [${LABELS.join(', ')}]`);
      }
      binaryPrediction = row[NEG] >= row[POS] ? NEG : POS;
    } else {
      binaryPrediction = p; // neutral can never equal a negative/positive truth: counted wrong
    }
    if (binaryPrediction === t) binaryCorrect++;
  }

  const n = truth.length;
  const perClass = {} as Record<Label, ClassMetrics>;
  let f1Sum = 0;
  let present = 0;
  LABELS.forEach((label, c) => {
    const tp = confusion[c][c];
    const support = confusion[c].reduce((a, b) => a + b, 0);
    const predictedCount = confusion.reduce((a, row) => a + row[c], 0);
    const precision = predictedCount > 0 ? tp / predictedCount : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[label] = { precision, recall, f1, support };
    if (support > 0) {
      f1Sum += f1;
      present++;
    }
  });

  return {
    n,
    accuracy: n > 0 ? correct / n : NaN,
    macro_f1: present > 0 ? f1Sum / present : NaN,
    per_class: perClass,
    confusion,
    binary_accuracy: binaryN > 0 ? binaryCorrect / binaryN : NaN,
    binary_n: binaryN,
  };
}

/** The label with the highest probability (ties → the first in LABELS order). */
export function argmaxLabel(row: readonly number[]): Label {
  let best = 0;
  for (let c = 1; c < row.length; c++) if (row[c] > row[best]) best = c;
  return LABELS[best];
}

/** A copy with every number rounded to `digits` decimals, for printing. NaN becomes null. */
export function roundMetrics<T>(value: T, digits = 4): T {
  const f = 10 ** digits;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'number') return Number.isNaN(v) ? null : Number.isInteger(v) ? v : Math.round(v * f) / f;
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([key, x]) => [key, walk(x)]));
    return v;
  };
  return walk(value) as T;
}
