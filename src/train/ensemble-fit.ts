/**
 * Fitting the ensemble's two small parts on held-out tweets (rows no member trained on): the stacker, a
 * multinomial logistic regression on the members' log-probabilities, and the temperature that calibrates it.
 * Both are plain maximum likelihood, so "learned, not set by hand"; the L2 penalty keeps inputs that are
 * strongly correlated (two models that mostly agree) from trading huge opposite weights.
 */
import { Ensemble, softmax, stack, type Stacker } from '../sentiment/ensemble';
import { LABELS } from './dataset';
import { lbfgs } from './lbfgs';
import { fitTemperature } from './calibration';

const K = LABELS.length;

export interface StackerOptions {
  /** Inverse L2 strength, scikit-learn's C (loss = Σ CE + ‖W‖² / (2C)). Default 1. */
  C?: number;
}

/**
 * The stacker for rows of member probabilities (BiLSTM, linear), the lexicon's evidence for each row when it
 * reads one (src/sentiment/lexicon.ts), and true class indices.
 */
export function fitStacker(
  bilstm: readonly number[][],
  linear: readonly number[][],
  truth: readonly number[],
  opts: StackerOptions = {},
  lexicon?: readonly number[][],
): Stacker {
  const n = truth.length;
  if (n === 0 || bilstm.length !== n || linear.length !== n || (lexicon && lexicon.length !== n))
    throw new Error(
      `fitStacker: ${bilstm.length} / ${linear.length}${lexicon ? ` / ${lexicon.length}` : ''} input rows for ${n} labels`,
    );
  const C = opts.C ?? 1;
  const x = bilstm.map((p, i) => Ensemble.features(p, linear[i], lexicon?.[i]));
  const D = x[0].length;
  const dim = K * D + K; // coef (label-major) then intercepts
  const result = lbfgs(
    (w, g) => {
      g.fill(0);
      let loss = 0;
      for (let i = 0; i < n; i++) {
        const z = new Array<number>(K);
        for (let c = 0; c < K; c++) {
          let s = w[K * D + c];
          for (let j = 0; j < D; j++) s += w[c * D + j] * x[i][j];
          z[c] = s;
        }
        const p = softmax(z);
        loss -= Math.log(Math.max(1e-12, p[truth[i]]));
        for (let c = 0; c < K; c++) {
          const d = p[c] - (c === truth[i] ? 1 : 0);
          for (let j = 0; j < D; j++) g[c * D + j] += d * x[i][j];
          g[K * D + c] += d;
        }
      }
      for (let j = 0; j < K * D; j++) {
        loss += (w[j] * w[j]) / (2 * C);
        g[j] += w[j] / C;
      }
      for (let j = 0; j < dim; j++) g[j] /= n;
      return loss / n;
    },
    new Float64Array(dim),
    { maxIter: 500, tol: 1e-6 },
  );
  const w = result.x;
  const round = (v: number) => Number(v.toPrecision(8));
  return {
    coef: Array.from({ length: K }, (_, c) => Array.from({ length: D }, (__, j) => round(w[c * D + j]))),
    intercept: Array.from({ length: K }, (_, c) => round(w[K * D + c])),
  };
}

/** Stacker and temperature on the held-out rows; the temperature is fitted on the stacker's own output. */
export function fitEnsembleHead(
  bilstm: readonly number[][],
  linear: readonly number[][],
  truth: readonly number[],
  opts: StackerOptions = {},
  lexicon?: readonly number[][],
): { stacker: Stacker; temperature: number } {
  const stacker = fitStacker(bilstm, linear, truth, opts, lexicon);
  const probs = bilstm.map((p, i) => stack(stacker, 1, p, linear[i], lexicon?.[i]));
  const temperature = Number(fitTemperature(probs, [...truth]).toPrecision(6));
  return { stacker, temperature };
}
