/**
 * Stratified k-fold cross-validation of the whole recipe on one labelled file (the training split): for each
 * fold, everything the shipped model learns is learned again on the other folds — vocabulary, embeddings,
 * BiLSTM (early stopping on a dev share of them), linear model, stacker and temperature — and the fold is
 * scored by the ensemble, by its BiLSTM alone, and by the two TF-IDF peers trained on the same rows; for a
 * recipe whose stacker reads a word list, also by the same ensemble without it (what the word list adds).
 *
 * Only the training split is used: the validation split is never trained on, not even by a fold's model.
 */
import * as tf from '@tensorflow/tfjs';
import { normalizeTweet } from '../sentiment/normalize';
import { Vocabulary } from '../sentiment/vocabulary';
import { stack, type Lexicon } from '../sentiment/ensemble';
import { LABELS, splitOffFold, stratifiedFolds, type LabelledText } from './dataset';
import { fitFeatures, trainBaseline, type ClassWeight } from './baseline';
import { pretrainEmbeddings, predictRows, trainBiLstm, type BiLstmParams } from './bilstm-training';
import { fitEnsembleParts, lexiconRows } from './train-ensemble';
import { fitEnsembleHead } from './ensemble-fit';
import { argmaxLabel, evaluatePredictions, type EvaluationMetrics } from './metrics';

export interface CvRecipe {
  bilstm: BiLstmParams & { vocab: number; w2vEpochs: number };
  embeddings: 'word2vec' | 'glove' | 'random';
  glove?: string;
  devFraction: number;
  charNgrams: [number, number];
  Cs: number[];
  stackerC: number;
  /** The word list the stacker reads (none: the six log-probabilities only). */
  lexicon?: Lexicon;
  /** The word-n-gram baseline's settings (as shipped in models/baseline). */
  baseline: { C: number; classWeight: ClassWeight };
}

export const CV_SYSTEMS = ['sentinel_ensemble', 'bilstm_alone', 'tfidf_word_char', 'tfidf_word_baseline'] as const;
/** Scored too when the recipe's stacker reads a word list: the same members and stacker rows without it. */
export const WITHOUT_LEXICON = 'ensemble_without_lexicon';
export type CvSystem = (typeof CV_SYSTEMS)[number] | typeof WITHOUT_LEXICON;

export interface CvFigures {
  accuracy: number;
  macro_f1: number;
  binary_accuracy: number;
  negative_recall: number;
}

export interface CvResult {
  k: number;
  rows: number;
  folds: Array<
    Partial<Record<CvSystem, CvFigures>> & Record<(typeof CV_SYSTEMS)[number], CvFigures> & { fold: number; n: number }
  >;
  /** Mean and sample standard deviation over the folds. */
  summary: Partial<Record<CvSystem, Record<keyof CvFigures, { mean: number; sd: number }>>>;
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
      lexicon: recipe.lexicon,
      log,
    });
    const linearHeld = parts.linear.predictProba(held.map((r) => r.text));
    const lexiconHeld = recipe.lexicon ? lexiconRows(held) : undefined;
    const ensembleHeld = bilstmHeld.map((p, i) =>
      stack(parts.stacker, parts.temperature, p, linearHeld[i], lexiconHeld?.[i]),
    );
    // The same members and dev rows, the stacker reading the two models only.
    const plain = recipe.lexicon
      ? fitEnsembleHead(
          bilstmDev,
          parts.linear.predictProba(inner.held.map((r) => r.text)),
          inner.held.map((r) => LABELS.indexOf(r.label)),
          { C: recipe.stackerC },
        )
      : undefined;

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
      ...(plain
        ? {
            [WITHOUT_LEXICON]: figures(
              metricsOf(
                held,
                bilstmHeld.map((p, i) => stack(plain.stacker, plain.temperature, p, linearHeld[i])),
              ),
            ),
          }
        : {}),
      bilstm_alone: figures(metricsOf(held, bilstmHeld)),
      tfidf_word_char: figures(metricsOf(held, wordChar.predictProba(texts))),
      tfidf_word_baseline: figures(metricsOf(held, word.predictProba(texts))),
    };
    results.push(row);
    log(
      `fold ${f + 1}/${k}: ` +
        systemsOf(row)
          .map((s) => `${s} acc ${row[s]!.accuracy.toFixed(4)} F1 ${row[s]!.macro_f1.toFixed(4)}`)
          .join(' | '),
    );
  }
  return { k, rows: rows.length, folds: results, summary: summarise(results) };
}

/** The systems a fold was scored by, in the table's order (the ensemble first, then the ensemble without its word list). */
export function systemsOf(row: Partial<Record<CvSystem, unknown>>): CvSystem[] {
  const all: CvSystem[] = ['sentinel_ensemble', WITHOUT_LEXICON, ...CV_SYSTEMS.slice(1)];
  return all.filter((s) => row[s] !== undefined);
}

function summarise(folds: CvResult['folds']): CvResult['summary'] {
  const keys: Array<keyof CvFigures> = ['accuracy', 'macro_f1', 'binary_accuracy', 'negative_recall'];
  return Object.fromEntries(
    systemsOf(folds[0] ?? {}).map((s) => [
      s,
      Object.fromEntries(
        keys.map((key) => {
          const xs = folds.map((f) => f[s]![key]);
          const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
          const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
          return [key, { mean, sd }];
        }),
      ),
    ]),
  ) as CvResult['summary'];
}
