/**
 * Word2Vec skip-gram with negative sampling (Mikolov et al. 2013), to pretrain the BiLSTM's embedding
 * layer on tweets: the labelled airline set is small, unlabelled tweets are cheap, and words that the
 * classifier sees rarely ("rebooked", "stranded") still land near the words it sees often.
 *
 * Follows the reference C implementation (word2vec.c) where it matters for quality: unigram^0.75 noise,
 * frequent-word subsampling, a window shrunk at random per centre word, linear learning-rate decay,
 * input vectors initialised in ±0.5/dim and output vectors at zero. Windows never cross tweets: the next
 * tweet in the file is unrelated text.
 *
 * The caller decides which texts go in; validation text must not (it would leak into the model).
 */
import { OOV, PAD, type Vocabulary } from '../sentiment/vocabulary';
import { seededRandom, shuffleInPlace } from './random';

export interface Word2VecOptions {
  dim: number;
  window: number;
  negative: number;
  epochs: number;
  /** Starting learning rate (default 0.025, the C default for skip-gram); decays linearly to 1e-4 × itself. */
  learningRate?: number;
  /** Subsampling threshold (default 1e-3); 0 disables it. */
  subsample?: number;
  seed: number;
  /** Tokens processed so far (subsampled ones included) out of epochs × in-vocabulary tokens of tweets with 2+ of them. */
  onProgress?: (done: number, total: number) => void;
}

// Noise table: 2^20 slots resolve a 12k vocabulary finely enough (the rarest kept words still get slots)
// at 4 MB instead of the C version's 1e8.
const TABLE_BITS = 20;
const TABLE_SIZE = 1 << TABLE_BITS;
// Sigmoid is tabulated on [-MAX_EXP, MAX_EXP]; beyond that the gradient is ~0 or saturated anyway.
const MAX_EXP = 6;
const SIGMOID_SIZE = 1000;
const PROGRESS_EVERY = 10_000;

function checkOptions(opts: Word2VecOptions): void {
  for (const key of ['dim', 'window', 'negative', 'epochs'] as const) {
    const v = opts[key];
    if (!Number.isInteger(v) || v < (key === 'negative' || key === 'epochs' ? 0 : 1)) {
      throw new Error(
        `word2vec: ${key} must be a ${key === 'negative' || key === 'epochs' ? 'non-negative' : 'positive'} integer, got ${v}`,
      );
    }
  }
  if (opts.learningRate !== undefined && !(opts.learningRate > 0))
    throw new Error(`word2vec: learningRate must be > 0, got ${opts.learningRate}`);
  if (opts.subsample !== undefined && !(opts.subsample >= 0))
    throw new Error(`word2vec: subsample must be >= 0, got ${opts.subsample}`);
}

// One (input word, output word, label) step: nearly all of the training time is spent here, so it allocates
// nothing and accumulates the input word's gradient in neu1e, applied once per context (as in the C code).
function updatePair(
  syn0: Float32Array,
  syn1neg: Float32Array,
  neu1e: Float64Array,
  sigmoid: Float64Array,
  l1: number,
  l2: number,
  dim: number,
  label: number,
  lr: number,
): void {
  // Four partial sums break the dependency chain on one accumulator (measured ~10% on the whole run).
  let f0 = 0;
  let f1 = 0;
  let f2 = 0;
  let f3 = 0;
  const end4 = dim & ~3;
  let k = 0;
  for (; k < end4; k += 4) {
    f0 += syn0[l1 + k] * syn1neg[l2 + k];
    f1 += syn0[l1 + k + 1] * syn1neg[l2 + k + 1];
    f2 += syn0[l1 + k + 2] * syn1neg[l2 + k + 2];
    f3 += syn0[l1 + k + 3] * syn1neg[l2 + k + 3];
  }
  for (; k < dim; k++) f0 += syn0[l1 + k] * syn1neg[l2 + k];
  const f = f0 + f1 + f2 + f3;
  let g: number;
  if (f > MAX_EXP) g = (label - 1) * lr;
  else if (f < -MAX_EXP) g = label * lr;
  else g = (label - sigmoid[((f + MAX_EXP) * (SIGMOID_SIZE / MAX_EXP / 2)) | 0]) * lr;
  for (let j = 0; j < dim; j++) {
    const out = syn1neg[l2 + j];
    neu1e[j] += g * out;
    syn1neg[l2 + j] = out + g * syn0[l1 + j];
  }
}

export function trainWord2Vec(docs: string[][], vocab: Vocabulary, opts: Word2VecOptions): Float32Array {
  checkOptions(opts);
  const { dim, window, negative, epochs } = opts;
  const startLr = opts.learningRate ?? 0.025;
  const sample = opts.subsample ?? 1e-3;
  const size = vocab.size; // O(vocabulary) per call: read once
  const random = seededRandom(opts.seed);

  // Ids once, as typed arrays: the inner loop then touches nothing else. PAD/OOV are dropped rather than
  // trained, so OOV does not become a catch-all context that pulls every rare word together.
  const idDocs: Int32Array[] = [];
  const counts = new Float64Array(size);
  let trainWords = 0;
  for (const doc of docs) {
    const ids: number[] = [];
    for (const t of doc) {
      const id = vocab.id(t);
      if (id === null || id === PAD || id === OOV || id >= size) continue;
      ids.push(id);
      counts[id]++;
    }
    // A one-word tweet has no context pair; it still counts towards frequencies (and so subsampling).
    trainWords += ids.length;
    if (ids.length > 1) idDocs.push(Int32Array.from(ids));
  }

  const syn0 = new Float32Array(size * dim);
  for (let i = 0; i < syn0.length; i++) syn0[i] = (random() - 0.5) / dim;
  const syn1neg = new Float32Array(size * dim);

  if (trainWords > 0 && epochs > 0) {
    // Probability of keeping a word (C formula): words far above sample × corpus are thinned, which
    // both speeds training and stops "<user>", "the", "!" from dominating every window.
    const keep = new Float64Array(size).fill(1);
    if (sample > 0) {
      const threshold = sample * trainWords;
      for (let id = 0; id < size; id++) {
        if (counts[id] > 0) keep[id] = Math.min(1, (Math.sqrt(counts[id] / threshold) + 1) * (threshold / counts[id]));
      }
    }

    // Negatives drawn from unigram^0.75: rare words get sampled more than their frequency, which is
    // what Mikolov found works best.
    const table = new Int32Array(TABLE_SIZE);
    const seen: number[] = [];
    for (let id = 0; id < size; id++) if (counts[id] > 0) seen.push(id);
    let norm = 0;
    for (const id of seen) norm += Math.pow(counts[id], 0.75);
    for (let a = 0, s = 0, cumulative = Math.pow(counts[seen[0]], 0.75) / norm; a < TABLE_SIZE; a++) {
      table[a] = seen[s];
      if ((a + 1) / TABLE_SIZE > cumulative && s < seen.length - 1)
        cumulative += Math.pow(counts[seen[++s]], 0.75) / norm;
    }

    const sigmoid = new Float64Array(SIGMOID_SIZE);
    for (let i = 0; i < SIGMOID_SIZE; i++) {
      const e = Math.exp(((i / SIGMOID_SIZE) * 2 - 1) * MAX_EXP);
      sigmoid[i] = e / (e + 1);
    }

    const neu1e = new Float64Array(dim);
    const sentence = new Int32Array(idDocs.reduce((m, d) => Math.max(m, d.length), 0));
    const order = idDocs.map((_, i) => i);
    // Only tweets with a context pair are walked, so only they count towards the decay (else lr never gets low).
    const total = epochs * idDocs.reduce((n, d) => n + d.length, 0);
    const minLr = startLr * 1e-4;
    let done = 0;
    let lastReport = 0;

    for (let epoch = 0; epoch < epochs; epoch++) {
      // The files come grouped (by airline, then Sentiment140): reshuffling keeps the decaying learning
      // rate from favouring whatever comes last.
      shuffleInPlace(order, random);
      for (const d of order) {
        const doc = idDocs[d];
        // Learning rate fixed per tweet: tweets are short, and this keeps the inner loop free of it.
        const lr = Math.max(minLr, startLr * (1 - done / total));
        done += doc.length;

        let len = 0;
        for (let i = 0; i < doc.length; i++) if (keep[doc[i]] >= 1 || random() < keep[doc[i]]) sentence[len++] = doc[i];

        for (let pos = 0; pos < len; pos++) {
          const word = sentence[pos];
          // Random shrink of the window: nearer words are sampled more often, i.e. weighted more.
          const b = Math.floor(random() * window);
          const from = Math.max(0, pos - window + b);
          const to = Math.min(len - 1, pos + window - b);
          for (let c = from; c <= to; c++) {
            if (c === pos) continue;
            const l1 = sentence[c] * dim;
            neu1e.fill(0);
            for (let n = 0; n <= negative; n++) {
              let target = word;
              if (n > 0) {
                target = table[(random() * TABLE_SIZE) | 0];
                if (target === word) continue;
              }
              updatePair(syn0, syn1neg, neu1e, sigmoid, l1, target * dim, dim, n === 0 ? 1 : 0, lr);
            }
            for (let k = 0; k < dim; k++) syn0[l1 + k] += neu1e[k];
          }
        }

        if (opts.onProgress && done - lastReport >= PROGRESS_EVERY) {
          lastReport = done;
          opts.onProgress(done, total);
        }
      }
    }
    opts.onProgress?.(total, total);
  }

  // OOV stands for "some word we did not keep": the centroid of the trained words is the least
  // committal guess, and better than noise the classifier would have to unlearn.
  const oov = new Float64Array(dim);
  let trained = 0;
  for (let id = 2; id < size; id++) {
    if (counts[id] === 0) continue;
    trained++;
    for (let k = 0; k < dim; k++) oov[k] += syn0[id * dim + k];
  }
  for (let k = 0; k < dim; k++) syn0[OOV * dim + k] = trained > 0 ? oov[k] / trained : 0;
  // Padding is masked by the model, but zeros keep it inert if a layer ever reads it.
  syn0.fill(0, PAD * dim, PAD * dim + dim);
  // Vocabulary words absent from these docs keep their small random start: distinct, near the origin.
  return syn0;
}

/** Nearest words by cosine similarity (padding, OOV and zero vectors excluded); [] for a word not in the vocabulary. */
export function mostSimilar(
  vectors: Float32Array,
  dim: number,
  vocab: Vocabulary,
  word: string,
  k: number,
): Array<{ word: string; similarity: number }> {
  const size = vectors.length / dim;
  if (!Number.isInteger(size))
    throw new Error(`mostSimilar: ${vectors.length} values is not a whole number of rows of ${dim}`);
  const id = vocab.id(word);
  if (id === null || id === PAD || id === OOV || id >= size) return [];

  const normOf = (row: number): number => {
    let s = 0;
    for (let j = 0; j < dim; j++) s += vectors[row * dim + j] * vectors[row * dim + j];
    return Math.sqrt(s);
  };
  const qNorm = normOf(id);
  if (qNorm === 0) return [];

  const scored: Array<{ word: string; similarity: number }> = [];
  // Vocabulary.token(id) is a linear scan; walking the token list once keeps this O(vocabulary).
  for (const token of vocab.toJSON().tokens ?? []) {
    const other = vocab.id(token);
    if (other === null || other === id || other === PAD || other === OOV || other >= size) continue;
    const n = normOf(other);
    if (n === 0) continue;
    let dot = 0;
    for (let j = 0; j < dim; j++) dot += vectors[id * dim + j] * vectors[other * dim + j];
    scored.push({ word: token, similarity: dot / (qNorm * n) });
  }
  scored.sort((a, b) => b.similarity - a.similarity || (a.word < b.word ? -1 : 1));
  return scored.slice(0, Math.max(0, k));
}
