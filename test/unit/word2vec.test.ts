import { join } from 'node:path';
import { normalizeTweet } from '../../src/sentiment/normalize';
import { OOV, PAD, Vocabulary } from '../../src/sentiment/vocabulary';
import { readLabelledCsv } from '../../src/train/dataset';
import { mostSimilar, trainWord2Vec, type Word2VecOptions } from '../../src/train/word2vec';

// Real tweets: semantics only emerge from real co-occurrences. The airline training split alone
// (~10k tweets, ~190k tokens) at dim 50 / 3 epochs trains in a few seconds and already shows them.
const docs = readLabelledCsv(join(__dirname, '../fixtures/airline_train.csv')).map((r) => normalizeTweet(r.text));
const vocab = Vocabulary.build(docs, { maxSize: 12000, minCount: 2, maxLength: 32 });
const DIM = 50;
const opts: Word2VecOptions = { dim: DIM, window: 5, negative: 5, epochs: 3, seed: 42 };

function row(v: Float32Array, word: string): Float32Array {
  const id = vocab.id(word);
  if (id === null || id <= OOV) throw new Error(`"${word}" is not in the test vocabulary`);
  return v.subarray(id * DIM, (id + 1) * DIM);
}

function cosine(v: Float32Array, a: string, b: string): number {
  const x = row(v, a);
  const y = row(v, b);
  let dot = 0;
  let nx = 0;
  let ny = 0;
  for (let k = 0; k < DIM; k++) {
    dot += x[k] * y[k];
    nx += x[k] * x[k];
    ny += y[k] * y[k];
  }
  return dot / Math.sqrt(nx * ny);
}

// [anchor, related, unrelated]: related words share contexts in complaints, unrelated ones do not.
// Small corpora make every SGNS vector share a common direction (unrelated pairs sit around 0.5-0.75),
// so the checks compare against unrelated pairs and against an untrained embedding, not against 0.
const TRIPLES: Array<[string, string, string]> = [
  ['thanks', 'thank', 'luggage'],
  ['delayed', 'late', 'thanks'],
  ['hours', 'hrs', 'thanks'],
  ['bag', 'luggage', 'thank'],
  ['great', 'awesome', 'luggage'],
  ['seat', 'seats', 'thanks'],
  ['minutes', 'mins', 'thank'],
];

describe('trainWord2Vec on the airline training tweets', () => {
  let vectors: Float32Array;
  let untrained: Float32Array;

  beforeAll(() => {
    vectors = trainWord2Vec(docs, vocab, opts);
    // Zero epochs returns the random initialisation: what a broken training loop would leave behind.
    untrained = trainWord2Vec(docs, vocab, { ...opts, epochs: 0 });
  });

  it('returns one row per vocabulary id, finite, with a zero padding row', () => {
    expect(vectors.length).toBe(vocab.size * DIM);
    expect(vectors.every(Number.isFinite)).toBe(true);
    expect(Array.from(vectors.subarray(PAD * DIM, PAD * DIM + DIM))).toEqual(new Array(DIM).fill(0));
  });

  it('puts related words close: high cosine, well above unrelated pairs and above an untrained embedding', () => {
    const margins: number[] = [];
    for (const [anchor, related, unrelated] of TRIPLES) {
      const rel = cosine(vectors, anchor, related);
      const unrel = cosine(vectors, anchor, unrelated);
      expect({ anchor, related, rel: rel > 0.8 }).toEqual({ anchor, related, rel: true });
      expect({ anchor, unrelated, margin: rel - unrel > 0.05 }).toEqual({ anchor, unrelated, margin: true });
      margins.push(rel - unrel);
    }
    // Measured ~0.3 on seeds 1, 7, 42; about 0 for the untrained embedding.
    expect(margins.reduce((a, b) => a + b, 0) / margins.length).toBeGreaterThan(0.15);

    const untrainedRel = TRIPLES.map(([a, r]) => cosine(untrained, a, r));
    expect(untrainedRel.reduce((a, b) => a + b, 0) / untrainedRel.length).toBeLessThan(0.3);
  });

  it('finds spelling variants among the nearest neighbours (out of ~4,800 words)', () => {
    for (const [word, variant] of [
      ['thanks', 'thank'],
      ['hours', 'hrs'],
      ['minutes', 'mins'],
    ]) {
      const top = mostSimilar(vectors, DIM, vocab, word, 10).map((n) => n.word);
      expect({ word, top: top.includes(variant) }).toEqual({ word, top: true });
      expect(mostSimilar(untrained, DIM, vocab, word, 10).map((n) => n.word)).not.toContain(variant);
    }
  });

  it('sets the OOV row to the mean of the trained vectors', () => {
    const mean = new Float64Array(DIM);
    let n = 0;
    for (let id = OOV + 1; id < vocab.size; id++) {
      n++;
      for (let k = 0; k < DIM; k++) mean[k] += vectors[id * DIM + k];
    }
    // Every vocabulary word occurs in docs here (the vocabulary was built from them).
    for (let k = 0; k < DIM; k++) expect(vectors[OOV * DIM + k]).toBeCloseTo(mean[k] / n, 5);
  });
});

describe('trainWord2Vec reproducibility and edges', () => {
  const small = docs.slice(0, 1500);
  const smallOpts: Word2VecOptions = { dim: 16, window: 3, negative: 3, epochs: 2, seed: 7 };

  it('gives identical vectors for the same seed and different ones for another seed', () => {
    const a = trainWord2Vec(small, vocab, smallOpts);
    const b = trainWord2Vec(small, vocab, smallOpts);
    const c = trainWord2Vec(small, vocab, { ...smallOpts, seed: 8 });
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
  });

  it('leaves vocabulary words absent from the docs at their small random start', () => {
    const counted = new Set(small.flat());
    const absent = vocab.toJSON().tokens!.filter((t) => !counted.has(t));
    expect(absent.length).toBeGreaterThan(100);
    const v = trainWord2Vec(small, vocab, smallOpts);
    const init = trainWord2Vec(small, vocab, { ...smallOpts, epochs: 0 });
    for (const t of absent.slice(0, 100)) {
      const id = vocab.id(t)!;
      const r = v.subarray(id * 16, id * 16 + 16);
      expect(Array.from(r)).toEqual(Array.from(init.subarray(id * 16, id * 16 + 16)));
      expect(r.some((x) => x !== 0)).toBe(true);
      expect(r.every((x) => Math.abs(x) <= 0.5 / 16)).toBe(true);
    }
  });

  it('reports progress up to the total', () => {
    const calls: Array<[number, number]> = [];
    trainWord2Vec(small, vocab, { ...smallOpts, onProgress: (d, t) => calls.push([d, t]) });
    const total = calls[calls.length - 1][1];
    expect(calls[calls.length - 1]).toEqual([total, total]);
    expect(total).toBeGreaterThan(2 * 10_000);
    for (let i = 1; i < calls.length; i++) expect(calls[i][0]).toBeGreaterThanOrEqual(calls[i - 1][0]);
  });

  it('rejects bad options and answers [] for words it cannot look up', () => {
    expect(() => trainWord2Vec(small, vocab, { ...smallOpts, dim: 0 })).toThrow(/dim/);
    expect(() => trainWord2Vec(small, vocab, { ...smallOpts, window: 1.5 })).toThrow(/window/);
    const v = trainWord2Vec(small, vocab, { ...smallOpts, epochs: 0 });
    expect(mostSimilar(v, 16, vocab, 'zzzz-not-a-word', 5)).toEqual([]);
    expect(mostSimilar(v, 16, vocab, 'thanks', 3)).toHaveLength(3);
  });
});
