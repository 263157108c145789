/**
 * The shipped model is two models read together: the BiLSTM (word order, context) and a linear model on word
 * and character n-grams (misspellings, elongations, words the BiLSTM never saw). A small multinomial logistic
 * regression — the stacker — turns their six log-probabilities into three scores, learned on tweets neither
 * model trained on; dividing those scores by a temperature, fitted on the same held-out tweets, makes the
 * confidence a probability one can read as such (src/train/train-ensemble.ts fits both).
 *
 * The stacker is a handful of weights and the linear model a sparse dot product: the ensemble costs a few
 * microseconds per text beside the BiLSTM's forward pass.
 */
import { z } from 'zod';
import { LinearModel } from './linear-model';

export const ENSEMBLE_FILE = 'ensemble.json';
export const ENSEMBLE_FORMAT = 'sentinel-ensemble';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const row6 = z.array(finite).length(6);

export const EnsembleFile = z.object({
  format: z.literal(ENSEMBLE_FORMAT),
  version: z.literal(1),
  /** The linear model's file, beside this one. */
  linear: z.string().regex(/^[A-Za-z0-9._-]+\.json$/, 'a plain .json file name in the model directory'),
  /** coef[c]: weights of [log p_bilstm(neg, neu, pos), log p_linear(neg, neu, pos)] for label c. */
  stacker: z.object({ coef: z.array(row6).length(3), intercept: z.array(finite).length(3) }),
  temperature: finite.refine((t) => t > 0, 'must be positive'),
  /** How the stacker and temperature were fitted (rows, split, metrics): for the model card, not for scoring. */
  fitted: z.record(z.string(), z.unknown()).optional(),
});
export type EnsembleFile = z.infer<typeof EnsembleFile>;

const FLOOR = 1e-7;

export class Ensemble {
  constructor(
    readonly linear: LinearModel,
    readonly stacker: EnsembleFile['stacker'],
    readonly temperature: number,
  ) {}

  /** The stacker's scores (before the temperature) for one text's two probability rows. */
  static features(bilstm: readonly number[], linear: readonly number[]): number[] {
    return [...bilstm, ...linear].map((p) => Math.log(Math.max(FLOOR, p)));
  }

  /** Calibrated probabilities [neg, neu, pos]. */
  combine(bilstm: readonly number[], linear: readonly number[]): number[] {
    return stack(this.stacker, this.temperature, bilstm, linear);
  }

  /** The linear model's probabilities for texts already normalised into tokens. */
  linearProbabilities(docs: readonly (readonly string[])[]): number[][] {
    return this.linear.predictTokens(docs);
  }
}

/** The stacker's probabilities for one text's two probability rows, its scores divided by `temperature`. */
export function stack(
  stacker: EnsembleFile['stacker'],
  temperature: number,
  bilstm: readonly number[],
  linear: readonly number[],
): number[] {
  const x = Ensemble.features(bilstm, linear);
  const z = stacker.coef.map((w, c) => w.reduce((sum, wj, j) => sum + wj * x[j], stacker.intercept[c]));
  return softmax(z.map((v) => v / temperature));
}

export function softmax(z: readonly number[]): number[] {
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}
