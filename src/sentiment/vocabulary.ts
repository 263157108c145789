/**
 * Token ↔ id mapping, serialised as JSON beside the model.
 * Id 0 is padding (masked by the model), id 1 is every token not in the vocabulary.
 */
import { z } from 'zod';

export const PAD = 0;
export const OOV = 1;

export const VocabularyFile = z.object({
  format: z.enum(['sentinel-vocab-v1', 'keras-word-index']),
  tokenizer: z.enum(['tweet', 'keras']),
  maxLength: z.number().int().positive(),
  padding: z.enum(['pre', 'post']).default('pre'),
  tokens: z.array(z.string()).optional(),
  wordIndex: z.record(z.string(), z.number().int().nonnegative()).optional(),
  oovIndex: z.number().int().nonnegative().optional(),
});
export type VocabularyFile = z.infer<typeof VocabularyFile>;

export class Vocabulary {
  private readonly ids: Map<string, number>;

  constructor(
    ids: Map<string, number>,
    readonly maxLength: number,
    readonly tokenizer: 'tweet' | 'keras' = 'tweet',
    readonly oovId: number | null = OOV,
    readonly padding: 'pre' | 'post' = 'pre',
  ) {
    this.ids = ids;
  }

  /** Most frequent tokens first; ties broken alphabetically so the same data gives the same file. */
  static build(docs: string[][], opts: { maxSize: number; minCount: number; maxLength: number }): Vocabulary {
    const counts = new Map<string, number>();
    for (const doc of docs) for (const t of doc) counts.set(t, (counts.get(t) ?? 0) + 1);
    const kept = [...counts.entries()]
      .filter(([, c]) => c >= opts.minCount)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, opts.maxSize - 2)
      .map(([t]) => t);
    return new Vocabulary(new Map(kept.map((t, i) => [t, i + 2])), opts.maxLength);
  }

  static fromJSON(json: unknown): Vocabulary {
    const f = VocabularyFile.parse(json);
    if (f.format === 'sentinel-vocab-v1') {
      if (!f.tokens) throw new Error('vocabulary: "tokens" is required for format sentinel-vocab-v1');
      return new Vocabulary(new Map(f.tokens.map((t, i) => [t, i + 2])), f.maxLength, f.tokenizer, OOV, f.padding);
    }
    if (!f.wordIndex) throw new Error('vocabulary: "wordIndex" is required for format keras-word-index');
    return new Vocabulary(new Map(Object.entries(f.wordIndex)), f.maxLength, 'keras', f.oovIndex ?? null, f.padding);
  }

  toJSON(): VocabularyFile {
    const tokens = [...this.ids.entries()].sort((a, b) => a[1] - b[1]).map(([t]) => t);
    return {
      format: 'sentinel-vocab-v1',
      tokenizer: this.tokenizer,
      maxLength: this.maxLength,
      padding: this.padding,
      tokens,
    };
  }

  /** [token, id] pairs (padding and the unknown id are not tokens). */
  entries(): IterableIterator<[string, number]> {
    return this.ids.entries();
  }

  get size(): number {
    let max = 1;
    for (const id of this.ids.values()) if (id > max) max = id;
    return max + 1;
  }

  id(token: string): number | null {
    return this.ids.get(token) ?? this.oovId;
  }

  /** Whether `token` has an id of its own (not the unknown-word id, not padding). */
  knows(token: string): boolean {
    const id = this.ids.get(token);
    return id !== undefined && id !== this.oovId && id !== PAD;
  }

  token(id: number): string | undefined {
    for (const [t, i] of this.ids) if (i === id) return t;
    return undefined;
  }

  /** Ids of the tokens, cut to maxLength (keeping the start: the complaint comes first), unknown words → OOV or dropped (Keras without oov_token). */
  encode(tokens: string[]): number[] {
    const out: number[] = [];
    for (const t of tokens) {
      const id = this.id(t);
      if (id !== null) out.push(id);
      if (out.length === this.maxLength) break;
    }
    return out;
  }
}
