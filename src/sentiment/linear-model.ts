/**
 * TF-IDF features and a multinomial linear model over them, as scikit-learn computes them
 * (`TfidfVectorizer(sublinear_tf=True, min_df=…)` + `LogisticRegression`): the word-n-gram baseline, and the
 * word + character n-gram model that is half of the shipped ensemble (src/sentiment/ensemble.ts).
 * Training lives in src/train/baseline.ts; this file only reads a saved model and scores with it.
 *
 * Weights are rounded to 6 significant digits when training ends and the model predicts with the rounded
 * weights, so a model saved with `toJSON` and loaded with `fromJSON` gives identical probabilities.
 */
import { readFileSync } from 'node:fs';
import { normalizeTweet } from './normalize';
import { LABELS, type Label } from './labels';

export const BASELINE_FORMAT = 'sentinel-baseline-tfidf-logreg';
/** 1: word n-grams; 2: adds `char_ngram_range`. */
export const BASELINE_FORMAT_VERSION = 2;

export type ClassWeight = 'balanced' | 'none';

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

const K = LABELS.length;

/**
 * Which n-grams a vectorizer reads: word uni- and bigrams always; with `charNgrams` [lo, hi] also the
 * character n-grams of each token padded with a space (scikit-learn's `analyzer='char_wb'`), which give
 * misspellings, elongations and unseen inflections the signal of the words they resemble.
 */
export interface FeatureSpec {
  charNgrams?: [number, number];
}

/** Char n-gram terms start with this (a word token never contains ':'), so they never clash with words. */
const CHAR_PREFIX = 'c:';

/** Unigrams and bigrams of the normalised tokens, bigrams joined by a space (tokens never contain one), then char n-grams. */
export function ngrams(text: string, spec: FeatureSpec = {}): string[] {
  return ngramsOfTokens(normalizeTweet(text), spec);
}

export function ngramsOfTokens(tokens: readonly string[], spec: FeatureSpec = {}): string[] {
  const out = tokens.slice();
  for (let i = 0; i + 1 < tokens.length; i++) out.push(`${tokens[i]} ${tokens[i + 1]}`);
  if (spec.charNgrams) {
    const [lo, hi] = spec.charNgrams;
    for (const token of tokens) {
      if (token.startsWith('<')) continue; // markers are whole words already
      const padded = [...` ${token} `];
      for (let n = lo; n <= hi && n <= padded.length; n++) {
        for (let i = 0; i + n <= padded.length; i++) out.push(CHAR_PREFIX + padded.slice(i, i + n).join(''));
      }
    }
  }
  return out;
}

/** sklearn's smooth idf: ln((1 + n) / (1 + df)) + 1. */
function smoothIdf(n: number, df: number): number {
  return Math.log((1 + n) / (1 + df)) + 1;
}

export function round6(x: number): number {
  return x === 0 ? 0 : Number(x.toPrecision(6));
}

export class TfidfVectorizer {
  readonly index: Map<string, number>;
  /** The character n-gram terms without their prefix, for scoring without building prefixed strings. */
  readonly charIndex: Map<string, number> | null;

  constructor(
    readonly terms: readonly string[],
    readonly idf: Float64Array,
    readonly spec: FeatureSpec = {},
  ) {
    if (terms.length !== idf.length)
      throw new Error(`TfidfVectorizer: ${terms.length} terms but ${idf.length} idf values`);
    this.index = new Map(terms.map((t, j) => [t, j]));
    this.charIndex = spec.charNgrams
      ? new Map(terms.flatMap((t, j) => (t.startsWith(CHAR_PREFIX) ? [[t.slice(CHAR_PREFIX.length), j]] : [])))
      : null;
    if (this.index.size !== terms.length) throw new Error('TfidfVectorizer: duplicate terms');
  }

  get size(): number {
    return this.terms.length;
  }

  /** Learns the vocabulary (n-grams in at least `minDf` documents, sorted) and the idf of each. */
  static fit(
    texts: readonly string[],
    minDf = 2,
    spec: FeatureSpec = {},
  ): { vectorizer: TfidfVectorizer; grams: string[][] } {
    const grams = texts.map((t) => ngrams(t, spec));
    const df = new Map<string, number>();
    for (const doc of grams) for (const g of new Set(doc)) df.set(g, (df.get(g) ?? 0) + 1);
    const terms = [...df.entries()]
      .filter(([, count]) => count >= minDf)
      .map(([term]) => term)
      .sort();
    const idf = new Float64Array(terms.length);
    terms.forEach((t, j) => (idf[j] = round6(smoothIdf(texts.length, df.get(t)!))));
    return { vectorizer: new TfidfVectorizer(terms, idf, spec), grams };
  }

  transform(texts: readonly string[]): SparseMatrix {
    return this.transformGrams(texts.map((t) => ngrams(t, this.spec)));
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

export class LinearModel {
  constructor(
    readonly vectorizer: TfidfVectorizer,
    /** Feature-major weights: coef[j * 3 + c], c in LABELS order. */
    readonly coef: Float64Array,
    readonly intercept: Float64Array,
    readonly info: TrainingInfo,
  ) {
    if (coef.length !== vectorizer.size * K)
      throw new Error(`LinearModel: ${coef.length} weights for ${vectorizer.size} features × ${K} classes`);
    if (intercept.length !== K) throw new Error(`LinearModel: ${intercept.length} intercepts for ${K} classes`);
  }

  /** [p_negative, p_neutral, p_positive] per text. */
  predictProba(texts: readonly string[]): number[][] {
    return this.predictTokens(texts.map(normalizeTweet));
  }

  /**
   * The same, from tokens already normalised (the ensemble shares the BiLSTM's tokenisation). Scores each
   * text straight from its n-grams — no sparse matrix, no n-gram strings kept — since serving pays for it on
   * every mention: the same sums as `transform` + a dot product, in another order.
   */
  predictTokens(docs: readonly (readonly string[])[]): number[][] {
    return docs.map((tokens) => this.scoreTokens(tokens));
  }

  private scratch?: Float64Array;
  /** Each word's known character n-grams: tweets repeat words, so most words are looked up once. */
  private readonly wordChars = new Map<string, Int32Array>();

  private charFeatures(token: string): Int32Array {
    const cached = this.wordChars.get(token);
    if (cached) return cached;
    const chars = this.vectorizer.charIndex!;
    const [lo, hi] = this.vectorizer.spec.charNgrams!;
    const padded = ` ${token} `;
    // Code points, as training counted them; plain UTF-16 slicing is the same (and cheaper) without surrogates.
    const units = /[\uD800-\uDFFF]/.test(padded) ? [...padded] : null;
    const length = units ? units.length : padded.length;
    const found: number[] = [];
    for (let n = lo; n <= hi && n <= length; n++) {
      for (let i = 0; i + n <= length; i++) {
        const j = chars.get(units ? units.slice(i, i + n).join('') : padded.substring(i, i + n));
        if (j !== undefined) found.push(j);
      }
    }
    // Bounded: a stream of new words (spam, a flood of random strings) cannot grow it past this.
    if (this.wordChars.size >= 50_000) this.wordChars.clear();
    const features = Int32Array.from(found);
    this.wordChars.set(token, features);
    return features;
  }

  private scoreTokens(tokens: readonly string[]): number[] {
    const { index, idf } = this.vectorizer;
    // Counts live in one scratch array for the model's lifetime (scoring is synchronous), touched ids in a list.
    const counts = (this.scratch ??= new Float64Array(this.vectorizer.size));
    const touched: number[] = [];
    const add = (j: number | undefined) => {
      if (j === undefined) return;
      if (counts[j] === 0) touched.push(j);
      counts[j]++;
    };
    for (let i = 0; i < tokens.length; i++) {
      add(index.get(tokens[i]));
      if (i + 1 < tokens.length) add(index.get(`${tokens[i]} ${tokens[i + 1]}`));
    }
    if (this.vectorizer.spec.charNgrams) {
      for (const token of tokens) {
        if (token.startsWith('<')) continue;
        for (const j of this.charFeatures(token)) add(j);
      }
    }
    const z = Array.from(this.intercept);
    let norm = 0;
    const dot = [0, 0, 0];
    for (const j of touched) {
      const v = (1 + Math.log(counts[j])) * idf[j];
      counts[j] = 0;
      norm += v * v;
      for (let c = 0; c < K; c++) dot[c] += v * this.coef[j * K + c];
    }
    if (norm > 0) for (let c = 0; c < K; c++) z[c] += dot[c] / Math.sqrt(norm);
    return softmax(Float64Array.from(z));
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
        ...(this.vectorizer.spec.charNgrams ? { char_ngram_range: this.vectorizer.spec.charNgrams } : {}),
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
  static fromJSON(json: unknown): LinearModel {
    const fail = (why: string): never => {
      throw new Error(`not a linear model file: ${why}`);
    };
    if (!json || typeof json !== 'object') fail('expected a JSON object');
    const m = json as Partial<BaselineJson>;
    if (m.format !== BASELINE_FORMAT) fail(`format is ${JSON.stringify(m.format)}, expected "${BASELINE_FORMAT}"`);
    if (m.version !== 1 && m.version !== BASELINE_FORMAT_VERSION)
      fail(`version ${JSON.stringify(m.version)} is not supported (expected 1 or ${BASELINE_FORMAT_VERSION})`);
    const charNgrams = m.features?.char_ngram_range;
    if (
      charNgrams !== undefined &&
      !(Array.isArray(charNgrams) && charNgrams.length === 2 && charNgrams.every((n) => Number.isInteger(n) && n >= 1))
    )
      fail('"features.char_ngram_range" must be two positive integers');
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
    return new LinearModel(
      new TfidfVectorizer(m.terms!, Float64Array.from(idf), charNgrams ? { charNgrams } : {}),
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
    char_ngram_range?: [number, number];
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

export function loadLinearModel(path: string): LinearModel {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot read the linear model: ${(err as Error).message}`, { cause: err });
  }
  try {
    return LinearModel.fromJSON(json);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`, { cause: err });
  }
}
