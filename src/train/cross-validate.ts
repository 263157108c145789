/**
 * Stratified k-fold cross-validation of the whole recipe on one labelled file (the training split): for each
 * fold, everything the shipped model learns is learned again on the other folds — vocabulary, embeddings,
 * BiLSTM (early stopping on a dev share of them), linear model, stacker and temperature — and the fold is
 * scored by the ensemble, by its BiLSTM alone, and by the two TF-IDF peers trained on the same rows.
 *
 * Only the training split is used: the validation split is never trained on, not even by a fold's model.
 */
import * as tf from '@tensorflow/tfjs';
import { normalizeTweet } from '../sentiment/normalize';
import { Vocabulary } from '../sentiment/vocabulary';
import { stack } from '../sentiment/ensemble';
import { splitOffFold, stratifiedFolds, type LabelledText } from './dataset';
import { fitFeatures, trainBaseline, type ClassWeight } from './baseline';
import { pretrainEmbeddings, predictRows, trainBiLstm, type BiLstmParams } from './bilstm-training';
import { fitEnsembleParts } from './train-ensemble';
import { argmaxLabel, evaluatePredictions, type EvaluationMetrics } from './metrics';

export interface CvRecipe {
  bilstm: BiLstmParams & { vocab: number; w2vEpochs: number };
  embeddings: 'word2vec' | 'glove' | 'random';
  glove?: string;
  devFraction: number;
  charNgrams: [number, number];
  Cs: number[];
  stackerC: number;
  /** The word-n-gram baseline's settings (as shipped in models/baseline). */
  baseline: { C: number; classWeight: ClassWeight };
}

export const CV_SYSTEMS = ['sentinel_ensemble', 'bilstm_alone', 'tfidf_word_char', 'tfidf_word_baseline'] as const;
export type CvSystem = (typeof CV_SYSTEMS)[number];

export interface CvFigures {
  accuracy: number;
  macro_f1: number;
  binary_accuracy: number;
  negative_recall: number;
}

export interface CvResult {
  k: number;
  rows: number;
  folds: Array<Record<CvSystem, CvFigures> & { fold: number; n: number }>;
  /** Mean and sample standard deviation over the folds. */
  summary: Record<CvSystem, Record<keyof CvFigures, { mean: number; sd: number }>>;
}

const figures = (m: EvaluationMetrics): CvFigures => ({
  accuracy: m.accuracy,
  macro_f1: m.macro_f1,
  binary_accuracy: m.binary_accuracy,
  negative_recall: m.per_class.negative.recall,
});

function metricsOf(rows: readonly LabelledText[], probs: number[][]): EvaluationMetrics {
  return evaluatePredictions(
    rows.map((r) => r.label),
    probs.map(argmaxLabel),
    probs,
  );
}

export async function crossValidate(
  rows: readonly LabelledText[],
  k: number,
  recipe: CvRecipe,
  opts: { pretrainTexts?: string[]; log?: (line: string) => void } = {},
): Promise<CvResult> {
  const log = opts.log ?? (() => {});
  const seed = recipe.bilstm.seed;
  const folds = stratifiedFolds(rows, k, seed);
  const pretrainTokens = (opts.pretrainTexts ?? []).map(normalizeTweet);
  const results: CvResult['folds'] = [];
  for (let f = 0; f < k; f++) {
    const heldSet = new Set(folds[f]);
    const held = rows.filter((_, i) => heldSet.has(i));
    const rest = rows.filter((_, i) => !heldSet.has(i));
    log(`fold ${f + 1}/${k}: ${rest.length} rows to learn from, ${held.length} to score`);

    const restTokens = rest.map((r) => normalizeTweet(r.text));
    const vocabulary = Vocabulary.build([...restTokens, ...pretrainTokens], {
      maxSize: recipe.bilstm.vocab,
      minCount: 2,
      maxLength: recipe.bilstm.maxLength,
    });
    const { embeddings } = pretrainEmbeddings({
      kind: recipe.embeddings,
      docs: [...restTokens, ...pretrainTokens],
      vocabulary,
      dim: recipe.bilstm.dim,
      w2vEpochs: recipe.bilstm.w2vEpochs,
      seed,
      glove: recipe.glove,
      log,
    });
    const inner = splitOffFold(rest, Math.round(1 / recipe.devFraction), 0, seed);
    const trained = await trainBiLstm({
      train: inner.rest,
      watch: inner.held,
      vocabulary,
      params: recipe.bilstm,
      embeddings,
      log,
    });
    const bilstmDev = predictRows(trained.model, vocabulary, inner.held).probs;
    const bilstmHeld = predictRows(trained.model, vocabulary, held).probs;
    trained.model.dispose();
    tf.disposeVariables();

    const parts = fitEnsembleParts({
      rest: inner.rest,
      dev: inner.held,
      bilstmDev,
      charNgrams: recipe.charNgrams,
      Cs: recipe.Cs,
      stackerC: recipe.stackerC,
      log,
    });
    const linearHeld = parts.linear.predictProba(held.map((r) => r.text));
    const ensembleHeld = bilstmHeld.map((p, i) => stack(parts.stacker, parts.temperature, p, linearHeld[i]));

    // The peers learn from every row the ensemble learnt from (the dev rows included), with the C it chose.
    const wordChar = trainBaseline(rest, {
      C: parts.linearC,
      features: fitFeatures(rest, 2, { charNgrams: recipe.charNgrams }),
    });
    const word = trainBaseline(rest, { C: recipe.baseline.C, classWeight: recipe.baseline.classWeight });
    const texts = held.map((r) => r.text);
    const row = {
      fold: f + 1,
      n: held.length,
      sentinel_ensemble: figures(metricsOf(held, ensembleHeld)),
      bilstm_alone: figures(metricsOf(held, bilstmHeld)),
      tfidf_word_char: figures(metricsOf(held, wordChar.predictProba(texts))),
      tfidf_word_baseline: figures(metricsOf(held, word.predictProba(texts))),
    };
    results.push(row);
    log(
      `fold ${f + 1}/${k}: ` +
        CV_SYSTEMS.map((s) => `${s} acc ${row[s].accuracy.toFixed(4)} F1 ${row[s].macro_f1.toFixed(4)}`).join(' | '),
    );
  }
  return { k, rows: rows.length, folds: results, summary: summarise(results) };
}

function summarise(folds: CvResult['folds']): CvResult['summary'] {
  const keys: Array<keyof CvFigures> = ['accuracy', 'macro_f1', 'binary_accuracy', 'negative_recall'];
  return Object.fromEntries(
    CV_SYSTEMS.map((s) => [
      s,
      Object.fromEntries(
        keys.map((key) => {
          const xs = folds.map((f) => f[s][key]);
          const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
          const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
          return [key, { mean, sd }];
        }),
      ),
    ]),
  ) as CvResult['summary'];
}
