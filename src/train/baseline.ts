/**
 * Trains the TF-IDF + logistic-regression models of src/sentiment/linear-model.ts: the reference system's
 * "simple model" (word uni- and bigrams, the yardstick) and the word + character n-gram model of the ensemble.
 * TF-IDF as scikit-learn's `TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)` (plus
 * `analyzer='char_wb'` n-grams when asked), then multinomial logistic regression with an L2 penalty
 * (scikit-learn's `LogisticRegression(C=..., class_weight=...)`, intercept not penalised), fitted by full-batch
 * L-BFGS. Deterministic: the same rows and options give the same model bit for bit.
 */
import { LABELS, type Label, type LabelledText } from './dataset';
import { lbfgs } from './lbfgs';
import {
  LinearModel,
  TfidfVectorizer,
  round6,
  type FeatureSpec,
  type SparseMatrix,
  type TrainingInfo,
  type ClassWeight,
} from '../sentiment/linear-model';

export {
  LinearModel,
  TfidfVectorizer,
  ngrams,
  loadLinearModel,
  type FeatureSpec,
  type TrainingInfo,
  type ClassWeight,
} from '../sentiment/linear-model';

const K = LABELS.length; // 3; the training loop below is unrolled for it

export interface BaselineOptions {
  /** Inverse L2 strength, scikit-learn's convention: loss = Σ wᵢ·CEᵢ + ‖W‖² / (2C). Default 1. */
  C?: number;
  /** 'balanced': each class weighted n / (k · count), so rare classes count as much as frequent ones. Default 'none'. */
  classWeight?: ClassWeight;
  /** Minimum number of training documents an n-gram must occur in. Default 2. */
  minDf?: number;
  /** L-BFGS iterations at most. Default 300. */
  maxIter?: number;
  /** Stop when the largest gradient component falls below this (on the loss divided by n). Default 1e-4 (scikit-learn's). */
  tol?: number;
  /** Already fitted features of these same rows (reused across a hyper-parameter grid). */
  features?: TfidfFeatures;
  /** A weight per row, multiplied with the class weight (e.g. less for out-of-domain rows). Default 1. */
  rowWeights?: readonly number[];
  /** Called after each L-BFGS iteration. */
  onIteration?: (iteration: number, loss: number, gradNorm: number) => void;
}

export interface TfidfFeatures {
  vectorizer: TfidfVectorizer;
  matrix: SparseMatrix;
  /** The texts these features were computed from (checked against the rows they are used with). */
  n: number;
}

export function fitFeatures(rows: readonly LabelledText[], minDf = 2, spec: FeatureSpec = {}): TfidfFeatures {
  const { vectorizer, grams } = TfidfVectorizer.fit(
    rows.map((r) => r.text),
    minDf,
    spec,
  );
  return { vectorizer, matrix: vectorizer.transformGrams(grams), n: rows.length };
}

// ---------------------------------------------------------------------------------------------------------
// Training

export function trainBaseline(rows: readonly LabelledText[], opts: BaselineOptions = {}): LinearModel {
  const C = opts.C ?? 1;
  const classWeight = opts.classWeight ?? 'none';
  const minDf = opts.minDf ?? 2;
  const maxIter = opts.maxIter ?? 300;
  const tol = opts.tol ?? 1e-4;
  if (!(C > 0) || !Number.isFinite(C)) throw new Error(`trainBaseline: C must be a positive number, got ${C}`);
  if (!Number.isInteger(minDf) || minDf < 1)
    throw new Error(`trainBaseline: minDf must be a positive integer, got ${minDf}`);
  if (!Number.isInteger(maxIter) || maxIter < 1)
    throw new Error(`trainBaseline: maxIter must be a positive integer, got ${maxIter}`);
  if (rows.length === 0) throw new Error('trainBaseline: no training rows');

  const features = opts.features ?? fitFeatures(rows, minDf);
  if (features.n !== rows.length)
    throw new Error(`trainBaseline: features were computed for ${features.n} rows, not ${rows.length}`);
  const { vectorizer, matrix: x } = features;
  const n = rows.length;
  const y = new Int32Array(n);
  const counts = Object.fromEntries(LABELS.map((l) => [l, 0])) as Record<Label, number>;
  rows.forEach((r, i) => {
    y[i] = LABELS.indexOf(r.label);
    if (y[i] < 0) throw new Error(`trainBaseline: row ${i}: unknown label "${r.label}"`);
    counts[r.label]++;
  });
  const present = LABELS.filter((l) => counts[l] > 0).length;
  const classW = LABELS.map((l) => (classWeight === 'balanced' && counts[l] > 0 ? n / (present * counts[l]) : 1));
  const sampleW = new Float64Array(n);
  if (opts.rowWeights && opts.rowWeights.length !== n)
    throw new Error(`trainBaseline: ${opts.rowWeights.length} row weights for ${n} rows`);
  for (let i = 0; i < n; i++) sampleW[i] = classW[y[i]] * (opts.rowWeights?.[i] ?? 1);

  const F = vectorizer.size;
  const dim = F * K + K; // weights (feature-major) then intercepts
  const lambda = 1 / C;

  // Loss and gradient, both divided by n for conditioning (the minimiser is unchanged). Written for K = 3.
  const { indptr, indices, values } = x;
  const lossAndGrad = (w: Float64Array, g: Float64Array): number => {
    g.fill(0);
    let loss = 0;
    const b0 = w[F * K],
      b1 = w[F * K + 1],
      b2 = w[F * K + 2];
    let gb0 = 0,
      gb1 = 0,
      gb2 = 0;
    for (let i = 0; i < n; i++) {
      let z0 = b0,
        z1 = b1,
        z2 = b2;
      const end = indptr[i + 1];
      for (let q = indptr[i]; q < end; q++) {
        const base = indices[q] * 3;
        const v = values[q];
        z0 += v * w[base];
        z1 += v * w[base + 1];
        z2 += v * w[base + 2];
      }
      const max = z0 > z1 ? (z0 > z2 ? z0 : z2) : z1 > z2 ? z1 : z2;
      const e0 = Math.exp(z0 - max),
        e1 = Math.exp(z1 - max),
        e2 = Math.exp(z2 - max);
      const sum = e0 + e1 + e2;
      const yi = y[i];
      const si = sampleW[i];
      loss += si * (max + Math.log(sum) - (yi === 0 ? z0 : yi === 1 ? z1 : z2));
      const d0 = si * (e0 / sum - (yi === 0 ? 1 : 0));
      const d1 = si * (e1 / sum - (yi === 1 ? 1 : 0));
      const d2 = si * (e2 / sum - (yi === 2 ? 1 : 0));
      gb0 += d0;
      gb1 += d1;
      gb2 += d2;
      for (let q = indptr[i]; q < end; q++) {
        const base = indices[q] * 3;
        const v = values[q];
        g[base] += v * d0;
        g[base + 1] += v * d1;
        g[base + 2] += v * d2;
      }
    }
    g[F * K] = gb0;
    g[F * K + 1] = gb1;
    g[F * K + 2] = gb2;
    let reg = 0;
    for (let j = 0; j < F * K; j++) {
      reg += w[j] * w[j];
      g[j] += lambda * w[j];
    }
    for (let j = 0; j < dim; j++) g[j] /= n;
    return (loss + 0.5 * lambda * reg) / n;
  };

  const result = lbfgs(lossAndGrad, new Float64Array(dim), { maxIter, tol, onIteration: opts.onIteration });

  const coef = new Float64Array(F * K);
  for (let j = 0; j < F * K; j++) coef[j] = round6(result.x[j]);
  const intercept = new Float64Array(K);
  for (let c = 0; c < K; c++) intercept[c] = round6(result.x[F * K + c]);
  const info: TrainingInfo = {
    C,
    class_weight: classWeight,
    min_df: minDf,
    max_iter: maxIter,
    iterations: result.iterations,
    converged: result.converged,
    final_loss: result.loss,
    n_train: n,
    n_features: F,
    class_counts: counts,
  };
  return new LinearModel(vectorizer, coef, intercept, info);
}
