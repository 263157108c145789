/**
 * The reference system's "simple model", rebuilt in plain TypeScript so the BiLSTM has an honest yardstick:
 * TF-IDF over unigrams + bigrams of `normalizeTweet` tokens (min document frequency 2, sublinear tf,
 * smoothed idf, l2-normalised rows, i.e. scikit-learn's `TfidfVectorizer(ngram_range=(1, 2), min_df=2,
 * sublinear_tf=True)`) + multinomial logistic regression with an L2 penalty (scikit-learn's
 * `LogisticRegression(C=..., class_weight=...)`, intercept not penalised), fitted by full-batch L-BFGS.
 *
 * Training is deterministic (no random initialisation, no sampling): the same rows and options give the
 * same model bit for bit. Weights are rounded to 6 significant digits once training ends, and the model
 * predicts with the rounded weights, so a model saved with `toJSON` and loaded with `fromJSON` gives
 * identical probabilities, and the file stays small.
 */
import { readFileSync } from 'node:fs';
import { normalizeTweet } from '../sentiment/normalize';
import { LABELS, type Label, type LabelledText } from './dataset';

export const BASELINE_FORMAT = 'sentinel-baseline-tfidf-logreg';
export const BASELINE_FORMAT_VERSION = 1;

export type ClassWeight = 'balanced' | 'none';

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
  /** Called after each L-BFGS iteration. */
  onIteration?: (iteration: number, loss: number, gradNorm: number) => void;
}

export interface TrainingInfo {
  C: number;
  class_weight: ClassWeight;
  min_df: number;
  max_iter: number;
  iterations: number;
  converged: boolean;
  final_loss: number;
  n_train: number;
  n_features: number;
  class_counts: Record<Label, number>;
}

/** Sparse rows (CSR). */
export interface SparseMatrix {
  rows: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float64Array;
}

const K = LABELS.length; // 3; the training loop below is unrolled for it

/** Unigrams and bigrams of the normalised tokens, bigrams joined by a space (tokens never contain one). */
export function ngrams(text: string): string[] {
  const tokens = normalizeTweet(text);
  const out = tokens.slice();
  for (let i = 0; i + 1 < tokens.length; i++) out.push(`${tokens[i]} ${tokens[i + 1]}`);
  return out;
}

/** sklearn's smooth idf: ln((1 + n) / (1 + df)) + 1. */
function smoothIdf(n: number, df: number): number {
  return Math.log((1 + n) / (1 + df)) + 1;
}

function round6(x: number): number {
  return x === 0 ? 0 : Number(x.toPrecision(6));
}

export class TfidfVectorizer {
  readonly index: Map<string, number>;

  constructor(
    readonly terms: readonly string[],
    readonly idf: Float64Array,
  ) {
    if (terms.length !== idf.length)
      throw new Error(`TfidfVectorizer: ${terms.length} terms but ${idf.length} idf values`);
    this.index = new Map(terms.map((t, j) => [t, j]));
    if (this.index.size !== terms.length) throw new Error('TfidfVectorizer: duplicate terms');
  }

  get size(): number {
    return this.terms.length;
  }

  /** Learns the vocabulary (n-grams in at least `minDf` documents, sorted) and the idf of each. */
  static fit(texts: readonly string[], minDf = 2): { vectorizer: TfidfVectorizer; grams: string[][] } {
    const grams = texts.map(ngrams);
    const df = new Map<string, number>();
    for (const doc of grams) for (const g of new Set(doc)) df.set(g, (df.get(g) ?? 0) + 1);
    const terms = [...df.entries()]
      .filter(([, count]) => count >= minDf)
      .map(([term]) => term)
      .sort();
    const idf = new Float64Array(terms.length);
    terms.forEach((t, j) => (idf[j] = round6(smoothIdf(texts.length, df.get(t)!))));
    return { vectorizer: new TfidfVectorizer(terms, idf), grams };
  }

  transform(texts: readonly string[]): SparseMatrix {
    return this.transformGrams(texts.map(ngrams));
  }

  transformGrams(docs: readonly string[][]): SparseMatrix {
    const indptr = new Int32Array(docs.length + 1);
    const indices: number[] = [];
    const values: number[] = [];
    for (let i = 0; i < docs.length; i++) {
      const counts = new Map<number, number>();
      for (const g of docs[i]) {
        const j = this.index.get(g);
        if (j !== undefined) counts.set(j, (counts.get(j) ?? 0) + 1);
      }
      const cols = [...counts.keys()].sort((a, b) => a - b);
      const start = values.length;
      let norm = 0;
      for (const j of cols) {
        const v = (1 + Math.log(counts.get(j)!)) * this.idf[j];
        indices.push(j);
        values.push(v);
        norm += v * v;
      }
      if (norm > 0) {
        const inv = 1 / Math.sqrt(norm);
        for (let q = start; q < values.length; q++) values[q] *= inv;
      }
      indptr[i + 1] = values.length;
    }
    return { rows: docs.length, indptr, indices: Int32Array.from(indices), values: Float64Array.from(values) };
  }
}

export interface TfidfFeatures {
  vectorizer: TfidfVectorizer;
  matrix: SparseMatrix;
  /** The texts these features were computed from (checked against the rows they are used with). */
  n: number;
}

export function fitFeatures(rows: readonly LabelledText[], minDf = 2): TfidfFeatures {
  const { vectorizer, grams } = TfidfVectorizer.fit(
    rows.map((r) => r.text),
    minDf,
  );
  return { vectorizer, matrix: vectorizer.transformGrams(grams), n: rows.length };
}

/**
 * Softmax scores of every row of `x`. `coef` is feature-major: coef[j * K + c].
 */
function scoreRows(x: SparseMatrix, coef: Float64Array, intercept: Float64Array): number[][] {
  const out: number[][] = [];
  const z = new Float64Array(K);
  for (let i = 0; i < x.rows; i++) {
    for (let c = 0; c < K; c++) z[c] = intercept[c];
    for (let q = x.indptr[i]; q < x.indptr[i + 1]; q++) {
      const base = x.indices[q] * K;
      const v = x.values[q];
      for (let c = 0; c < K; c++) z[c] += v * coef[base + c];
    }
    out.push(softmax(z));
  }
  return out;
}

function softmax(z: Float64Array): number[] {
  let max = -Infinity;
  for (let c = 0; c < z.length; c++) if (z[c] > max) max = z[c];
  const p = new Array<number>(z.length);
  let sum = 0;
  for (let c = 0; c < z.length; c++) {
    p[c] = Math.exp(z[c] - max);
    sum += p[c];
  }
  for (let c = 0; c < z.length; c++) p[c] /= sum;
  return p;
}

export class BaselineModel {
  constructor(
    readonly vectorizer: TfidfVectorizer,
    /** Feature-major weights: coef[j * 3 + c], c in LABELS order. */
    readonly coef: Float64Array,
    readonly intercept: Float64Array,
    readonly info: TrainingInfo,
  ) {
    if (coef.length !== vectorizer.size * K)
      throw new Error(`BaselineModel: ${coef.length} weights for ${vectorizer.size} features × ${K} classes`);
    if (intercept.length !== K) throw new Error(`BaselineModel: ${intercept.length} intercepts for ${K} classes`);
  }

  /** [p_negative, p_neutral, p_positive] per text. */
  predictProba(texts: readonly string[]): number[][] {
    return scoreRows(this.vectorizer.transform(texts), this.coef, this.intercept);
  }

  predict(texts: readonly string[]): Label[] {
    return this.predictProba(texts).map((p) => LABELS[p.indexOf(Math.max(...p))]);
  }

  toJSON(): BaselineJson {
    const coef = LABELS.map((_, c) => {
      const w = new Array<number>(this.vectorizer.size);
      for (let j = 0; j < w.length; j++) w[j] = this.coef[j * K + c];
      return w;
    });
    return {
      format: BASELINE_FORMAT,
      version: BASELINE_FORMAT_VERSION,
      labels: [...LABELS],
      features: {
        tokenizer: 'normalizeTweet',
        ngram_range: [1, 2],
        min_df: this.info.min_df,
        sublinear_tf: true,
        smooth_idf: true,
        norm: 'l2',
      },
      terms: [...this.vectorizer.terms],
      idf: Array.from(this.vectorizer.idf),
      coef,
      intercept: Array.from(this.intercept),
      training: this.info,
    };
  }

  /** Rebuilds a model from `toJSON()` output, with a specific message for whatever is wrong in it. */
  static fromJSON(json: unknown): BaselineModel {
    const fail = (why: string): never => {
      throw new Error(`not a baseline model file: ${why}`);
    };
    if (!json || typeof json !== 'object') fail('expected a JSON object');
    const m = json as Partial<BaselineJson>;
    if (m.format !== BASELINE_FORMAT) fail(`format is ${JSON.stringify(m.format)}, expected "${BASELINE_FORMAT}"`);
    if (m.version !== BASELINE_FORMAT_VERSION)
      fail(`version ${JSON.stringify(m.version)} is not supported (expected ${BASELINE_FORMAT_VERSION})`);
    if (!Array.isArray(m.labels) || m.labels.join() !== LABELS.join()) fail(`labels must be ${JSON.stringify(LABELS)}`);
    if (!Array.isArray(m.terms) || !m.terms.every((t) => typeof t === 'string'))
      fail('"terms" must be an array of strings');
    const f = m.terms!.length;
    const numbers = (x: unknown, len: number, what: string): number[] => {
      if (!Array.isArray(x) || x.length !== len || !x.every((v) => typeof v === 'number' && Number.isFinite(v))) {
        fail(`"${what}" must be ${len} finite numbers`);
      }
      return x as number[];
    };
    const idf = numbers(m.idf, f, 'idf');
    if (!Array.isArray(m.coef) || m.coef.length !== K) fail(`"coef" must hold ${K} rows (one per label)`);
    const rows = m.coef!.map((row, c) => numbers(row, f, `coef[${c}]`));
    const intercept = numbers(m.intercept, K, 'intercept');
    const coef = new Float64Array(f * K);
    for (let c = 0; c < K; c++) for (let j = 0; j < f; j++) coef[j * K + c] = rows[c][j];
    const info = m.training ?? fail('"training" is missing');
    return new BaselineModel(
      new TfidfVectorizer(m.terms!, Float64Array.from(idf)),
      coef,
      Float64Array.from(intercept),
      info,
    );
  }
}

export interface BaselineJson {
  format: typeof BASELINE_FORMAT;
  version: number;
  labels: Label[];
  features: {
    tokenizer: 'normalizeTweet';
    ngram_range: [1, 2];
    min_df: number;
    sublinear_tf: true;
    smooth_idf: true;
    norm: 'l2';
  };
  terms: string[];
  idf: number[];
  /** coef[c][j]: weight of term j for label c. */
  coef: number[][];
  intercept: number[];
  training: TrainingInfo;
}

export function loadBaselineFile(path: string): BaselineModel {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot read the baseline model: ${(err as Error).message}`, { cause: err });
  }
  try {
    return BaselineModel.fromJSON(json);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`, { cause: err });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Training

export function trainBaseline(rows: readonly LabelledText[], opts: BaselineOptions = {}): BaselineModel {
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
  for (let i = 0; i < n; i++) sampleW[i] = classW[y[i]];

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
  return new BaselineModel(vectorizer, coef, intercept, info);
}

interface LbfgsResult {
  x: Float64Array;
  loss: number;
  iterations: number;
  converged: boolean;
}

/** Limited-memory BFGS (m = 10) with a backtracking Armijo line search; for smooth convex objectives. */
function lbfgs(
  f: (x: Float64Array, g: Float64Array) => number,
  x0: Float64Array,
  opts: { maxIter: number; tol: number; onIteration?: (it: number, loss: number, gradNorm: number) => void },
): LbfgsResult {
  const m = 10;
  const dim = x0.length;
  let x = Float64Array.from(x0);
  let g = new Float64Array(dim);
  let loss = f(x, g);
  const s: Float64Array[] = [];
  const yv: Float64Array[] = [];
  const rho: number[] = [];
  const d = new Float64Array(dim);
  const alpha = new Array<number>(m);
  const xNew = new Float64Array(dim);
  const gNew = new Float64Array(dim);
  const infNorm = (v: Float64Array) => v.reduce((a, b) => Math.max(a, Math.abs(b)), 0);
  const dot = (a: Float64Array, b: Float64Array) => {
    let r = 0;
    for (let i = 0; i < a.length; i++) r += a[i] * b[i];
    return r;
  };

  let iterations = 0;
  let converged = infNorm(g) < opts.tol;
  while (!converged && iterations < opts.maxIter) {
    // Two-loop recursion: d = -H·g
    for (let i = 0; i < dim; i++) d[i] = -g[i];
    for (let k = s.length - 1; k >= 0; k--) {
      alpha[k] = rho[k] * dot(s[k], d);
      const yk = yv[k];
      for (let i = 0; i < dim; i++) d[i] -= alpha[k] * yk[i];
    }
    if (s.length > 0) {
      const last = s.length - 1;
      const gamma = dot(s[last], yv[last]) / dot(yv[last], yv[last]);
      for (let i = 0; i < dim; i++) d[i] *= gamma;
    } else {
      const scale = 1 / Math.max(1e-12, Math.sqrt(dot(g, g)));
      for (let i = 0; i < dim; i++) d[i] *= scale;
    }
    for (let k = 0; k < s.length; k++) {
      const beta = rho[k] * dot(yv[k], d);
      const sk = s[k];
      for (let i = 0; i < dim; i++) d[i] += sk[i] * (alpha[k] - beta);
    }
    let slope = dot(g, d);
    if (slope >= 0) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      s.length = yv.length = rho.length = 0;
      for (let i = 0; i < dim; i++) d[i] = -g[i];
      slope = dot(g, d);
    }

    let step = 1;
    let newLoss = Infinity;
    for (let tries = 0; tries < 30; tries++) {
      for (let i = 0; i < dim; i++) xNew[i] = x[i] + step * d[i];
      newLoss = f(xNew, gNew);
      if (newLoss <= loss + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    iterations++;
    if (!(newLoss <= loss)) break; // line search failed: keep the best point found so far

    const sk = new Float64Array(dim);
    const yk = new Float64Array(dim);
    for (let i = 0; i < dim; i++) {
      sk[i] = xNew[i] - x[i];
      yk[i] = gNew[i] - g[i];
    }
    const sy = dot(sk, yk);
    if (sy > 1e-12) {
      if (s.length === m) {
        s.shift();
        yv.shift();
        rho.shift();
      }
      s.push(sk);
      yv.push(yk);
      rho.push(1 / sy);
    }
    const relDecrease = (loss - newLoss) / Math.max(Math.abs(loss), Math.abs(newLoss), 1);
    x = Float64Array.from(xNew);
    g = Float64Array.from(gNew);
    loss = newLoss;
    const gn = infNorm(g);
    opts.onIteration?.(iterations, loss, gn);
    converged = gn < opts.tol || relDecrease < 1e-10;
  }
  return { x, loss, iterations, converged };
}
