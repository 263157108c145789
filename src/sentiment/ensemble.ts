/**
 * The shipped model is two models read together: the BiLSTM (word order, context) and a linear model on word
 * and character n-grams (misspellings, elongations, words the BiLSTM never saw). A small multinomial logistic
 * regression — the stacker — turns their six log-probabilities into three scores, learned on tweets neither
 * model trained on; dividing those scores by a temperature, fitted on the same held-out tweets, makes the
 * confidence a probability one can read as such (src/train/train-ensemble.ts fits both). From format 2 the
 * stacker may also read a hand-made word list's evidence (`lexicon: "afinn"`, src/sentiment/lexicon.ts).
 *
 * The stacker is a handful of weights, the linear model a sparse dot product and the word list a lookup per
 * word: the ensemble costs a few microseconds per text beside the BiLSTM's forward pass.
 */
import { z } from 'zod';
import { lexiconInputs } from './lexicon';
import { LinearModel } from './linear-model';

export const ENSEMBLE_FILE = 'ensemble.json';
export const ENSEMBLE_FORMAT = 'sentinel-ensemble';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

/** The word lists a stacker can read (src/sentiment/lexicon.ts), and how many inputs each adds. */
export const LEXICONS = { afinn: 2 } as const;
export type Lexicon = keyof typeof LEXICONS;

/** How many inputs a stacker has: six log-probabilities, and the lexicon's evidence when it reads one. */
export const stackerWidth = (lexicon?: Lexicon) => 6 + (lexicon ? LEXICONS[lexicon] : 0);

export const EnsembleFile = z
  .object({
    format: z.literal(ENSEMBLE_FORMAT),
    /** 1: two models; 2: two models and, with `lexicon`, a word list's evidence. */
    version: z.union([z.literal(1), z.literal(2)]),
    /** The linear model's file, beside this one. */
    linear: z.string().regex(/^[A-Za-z0-9._-]+\.json$/, 'a plain .json file name in the model directory'),
    lexicon: z.enum(Object.keys(LEXICONS) as [Lexicon]).optional(),
    /**
     * coef[c]: weights of [log p_bilstm(neg, neu, pos), log p_linear(neg, neu, pos)] for label c, then the
     * lexicon's [negative, positive] weight when there is one.
     */
    stacker: z.object({ coef: z.array(z.array(finite)).length(3), intercept: z.array(finite).length(3) }),
    temperature: finite.refine((t) => t > 0, 'must be positive'),
    /** How the stacker and temperature were fitted (rows, split, metrics): for the model card, not for scoring. */
    fitted: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((f, ctx) => {
    if (f.lexicon && f.version < 2)
      ctx.addIssue({ code: 'custom', path: ['lexicon'], message: 'a lexicon needs format version 2' });
    const width = stackerWidth(f.lexicon);
    f.stacker.coef.forEach((row, c) => {
      if (row.length !== width)
        ctx.addIssue({
          code: 'custom',
          path: ['stacker', 'coef', c],
          message: `expected ${width} weights (${f.lexicon ? `six log-probabilities and ${f.lexicon}'s ${LEXICONS[f.lexicon]}` : 'six log-probabilities'}), got ${row.length}`,
        });
    });
  });
export type EnsembleFile = z.infer<typeof EnsembleFile>;
export type Stacker = EnsembleFile['stacker'];

const FLOOR = 1e-7;

export class Ensemble {
  constructor(
    readonly linear: LinearModel,
    readonly stacker: Stacker,
    readonly temperature: number,
    readonly lexicon?: Lexicon,
  ) {}

  /** The stacker's inputs for one text: its two probability rows as logs, then the lexicon's evidence, if any. */
  static features(bilstm: readonly number[], linear: readonly number[], lexicon: readonly number[] = []): number[] {
    return [...bilstm, ...linear].map((p) => Math.log(Math.max(FLOOR, p))).concat(lexicon);
  }

  /** Calibrated probabilities [neg, neu, pos] for one text (its tokens: what the lexicon reads). */
  combine(bilstm: readonly number[], linear: readonly number[], tokens: readonly string[]): number[] {
    return stack(this.stacker, this.temperature, bilstm, linear, this.lexicon ? lexiconInputs(tokens) : []);
  }

  /** The linear model's probabilities for texts already normalised into tokens. */
  linearProbabilities(docs: readonly (readonly string[])[]): number[][] {
    return this.linear.predictTokens(docs);
  }
}

/** The stacker's probabilities for one text's inputs, its scores divided by `temperature`. */
export function stack(
  stacker: Stacker,
  temperature: number,
  bilstm: readonly number[],
  linear: readonly number[],
  lexicon: readonly number[] = [],
): number[] {
  const x = Ensemble.features(bilstm, linear, lexicon);
  if (x.length !== stacker.coef[0].length)
    throw new Error(`stack: ${x.length} inputs for a stacker of ${stacker.coef[0].length}`);
  const z = stacker.coef.map((w, c) => w.reduce((sum, wj, j) => sum + wj * x[j], stacker.intercept[c]));
  return softmax(z.map((v) => v / temperature));
}

export function softmax(z: readonly number[]): number[] {
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}
