/**
 * npm run train -- --train <csv> --val <csv> --out <dir> [--embeddings word2vec|random] [--pretrain <csv>...]
 *   [--feedback <csv>]
 *
 * Trains the BiLSTM on the wasm backend. The embedding stays trainable: the wasm backend lacks the
 * gradient kernel of `gather` (UnsortedSegmentSum), which src/train/wasm-kernels.ts supplies.
 * Batches are bucketed by length and padded only to their longest text (the model masks padding), which
 * costs a fraction of padding every tweet to the maximum.
 *
 * `--feedback` merges the people's labels (npm run feedback:export) into the training split
 * (src/train/dataset.ts, mergeFeedback): a judged text overrides its training label, a new one is added,
 * one that is in the evaluation split is dropped so that evaluation stays clean.
 *
 * The run is tracked in runs/<id>/ (src/train/run-tracker.ts, with the sha256 and rows of every input)
 * and, when MLFLOW_TRACKING_URI is set, mirrored to that MLflow server (read through loadConfig, as the
 * server reads its settings); an unreachable server costs one warning, never the run.
 *
 * Progress goes to stderr; the last stdout line is one JSON object with the validation metrics.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/schema';
import { writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { SingleBar, Presets } from 'cli-progress';
import { initBackend } from '../sentiment/backend';
import { buildBiLstm, weightedCrossEntropy } from '../sentiment/model';
import { loadLayersModel, saveLayersModel } from '../sentiment/model-files';
import { readManifest, verifyFiles } from '../registry/manifest';
import { normalizeTweet } from '../sentiment/normalize';
import { Vocabulary } from '../sentiment/vocabulary';
import { sealModel } from '../registry/seal';
import { LABELS, mergeFeedback, readLabelledRows, readTexts, type FeedbackMergeCounts, type Label } from './dataset';
import { evaluatePredictions, roundMetrics, argmaxLabel } from './metrics';
import { seededRandom, shuffleInPlace } from './random';
import { trainWord2Vec } from './word2vec';
import { registerWasmTrainingKernels } from './wasm-kernels';
import { RunTracker, describeInput, type InputFile } from './run-tracker';

const HELP = `usage: npm run train -- --train <csv> --val <csv> --out <dir>
  [--embeddings word2vec|random] (default word2vec)   [--pretrain <csv>] extra unlabelled text for word2vec (repeatable)
  [--feedback <csv>] people's labels from npm run feedback:export, merged into the training split
  [--init <model dir>] start from this model (its vocabulary, shape and weights: fine-tune the champion) instead of from scratch
  [--epochs 12] [--patience 2] [--batch 64] [--lr 0.002] [--units 64] [--dim 100] [--max-length 32]
  [--vocab 15000] [--spatial-dropout 0.2] [--dropout 0.3] [--w2v-epochs 5] [--class-weight-power 1, or --init's] [--seed 20261124] [--version <v>] [--runs runs]`;

interface Example {
  ids: number[];
  label: number;
}

export function fail(message: string): never {
  process.stderr.write(`error: ${message}\n${HELP}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      train: { type: 'string' },
      val: { type: 'string' },
      out: { type: 'string' },
      embeddings: { type: 'string', default: 'word2vec' },
      pretrain: { type: 'string', multiple: true, default: [] },
      feedback: { type: 'string' },
      init: { type: 'string' },
      epochs: { type: 'string', default: '12' },
      patience: { type: 'string', default: '2' },
      batch: { type: 'string', default: '64' },
      lr: { type: 'string', default: '0.002' },
      units: { type: 'string', default: '64' },
      dim: { type: 'string', default: '100' },
      'max-length': { type: 'string', default: '32' },
      vocab: { type: 'string', default: '15000' },
      'spatial-dropout': { type: 'string', default: '0.2' },
      dropout: { type: 'string', default: '0.3' },
      'w2v-epochs': { type: 'string', default: '5' },
      // Default 1, or the --init model's own (fine-tuning keeps the balance it was trained with).
      'class-weight-power': { type: 'string' },
      seed: { type: 'string', default: '20261124' },
      version: { type: 'string' },
      runs: { type: 'string', default: 'runs' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return;
  }
  if (!values.train || !values.val || !values.out) fail('--train, --val and --out are required');
  if (values.embeddings !== 'word2vec' && values.embeddings !== 'random')
    fail('--embeddings must be word2vec or random');
  const num = (name: keyof typeof values, min: number): number => {
    const v = Number(values[name]);
    if (!Number.isFinite(v) || v < min) fail(`--${name} must be a number ≥ ${min}, got "${values[name]}"`);
    return v;
  };
  const p = {
    epochs: num('epochs', 1),
    patience: num('patience', 1),
    batch: num('batch', 1),
    lr: num('lr', 0),
    units: num('units', 1),
    dim: num('dim', 1),
    maxLength: num('max-length', 1),
    vocab: num('vocab', 3),
    spatialDropout: num('spatial-dropout', 0),
    dropout: num('dropout', 0),
    w2vEpochs: num('w2v-epochs', 1),
    classWeightPower: values['class-weight-power'] === undefined ? 1 : num('class-weight-power', 0),
    seed: num('seed', 0),
  };

  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(1);
  }

  const backend = await initBackend('wasm');
  registerWasmTrainingKernels();
  log(`backend: ${backend}`);

  let train, val, feedback;
  const inputs: InputFile[] = [];
  try {
    const trainRows = readLabelledRows(values.train);
    const valRows = readLabelledRows(values.val);
    inputs.push(
      describeInput('train', values.train, trainRows.length),
      describeInput('val', values.val, valRows.length),
    );
    val = valRows;
    if (values.feedback) {
      const feedbackRows = readLabelledRows(values.feedback);
      inputs.push(describeInput('feedback', values.feedback, feedbackRows.length));
      const merged = mergeFeedback(trainRows, feedbackRows, valRows);
      train = merged.rows;
      feedback = merged.counts;
      log(describeMerge(values.feedback, merged.counts));
    } else {
      train = trainRows;
    }
  } catch (err) {
    fail((err as Error).message);
  }
  // Fine-tuning starts from a model's vocabulary and weights (the champion's, verified as a replica loads it):
  // the new words of the feedback stay unknown, the network keeps what it learnt.
  let init: { version: string; model: tf.LayersModel; vocabulary: Vocabulary } | undefined;
  if (values.init) {
    try {
      const manifest = readManifest(values.init);
      verifyFiles(values.init, manifest);
      init = {
        version: manifest.version,
        model: await loadLayersModel(values.init),
        vocabulary: Vocabulary.fromJSON(JSON.parse(readFileSync(join(values.init, 'vocabulary.json'), 'utf8'))),
      };
      p.maxLength = manifest.maxLength;
      const inherited = (manifest.metrics as { params?: { classWeightPower?: unknown } } | undefined)?.params
        ?.classWeightPower;
      if (values['class-weight-power'] === undefined && typeof inherited === 'number') p.classWeightPower = inherited;
      inputs.push(describeInput('init', join(values.init, 'manifest.json'), 0)); // it holds every file's sha256
      log(
        `init: fine-tuning ${manifest.version} from ${values.init} (its vocabulary of ${init.vocabulary.size} ids, its weights)`,
      );
    } catch (err) {
      fail(`--init ${values.init}: ${(err as Error).message}`);
    }
  }
  const trainTokens = train.map((r) => normalizeTweet(r.text));
  const pretrainTokens = values.pretrain.flatMap((path) => {
    const texts = readTexts(path);
    inputs.push(describeInput('pretrain', path, texts.length));
    return texts.map(normalizeTweet);
  });
  // The vocabulary may hold words seen only in the unlabelled pretraining text: word2vec gives them a
  // meaningful vector, and live mentions will use them. Validation text is never read here.
  const vocabulary =
    init?.vocabulary ??
    Vocabulary.build([...trainTokens, ...pretrainTokens], {
      maxSize: p.vocab,
      minCount: 2,
      maxLength: p.maxLength,
    });
  if (!init)
    log(
      `vocabulary: ${vocabulary.size} ids from ${train.length} training tweets + ${pretrainTokens.length} pretraining texts`,
    );

  let embeddings: Float32Array | undefined;
  if (values.embeddings === 'word2vec' && !init) {
    const bar = progressBar('word2vec', '{bar} {percentage}% | {value}/{total} tokens');
    let started = false;
    embeddings = trainWord2Vec([...trainTokens, ...pretrainTokens], vocabulary, {
      dim: p.dim,
      window: 5,
      negative: 5,
      epochs: p.w2vEpochs,
      seed: p.seed,
      onProgress: (done, total) => {
        if (!started) bar.start(total, 0);
        started = true;
        bar.update(done);
      },
    });
    bar.stop();
  }

  const toExamples = (rows: { text: string; label: Label }[], tokens?: string[][]): Example[] =>
    rows.map((r, i) => ({
      ids: vocabulary.encode(tokens ? tokens[i] : normalizeTweet(r.text)),
      label: LABELS.indexOf(r.label),
    }));
  const trainSet = toExamples(train, trainTokens);
  const valSet = toExamples(val);

  const counts = LABELS.map((_, k) => trainSet.filter((e) => e.label === k).length);
  // power 1: scikit-learn's "balanced" weights; 0.5 softens them (less accuracy traded for minority recall); 0: none.
  const classWeights = counts.map((c) => (trainSet.length / (LABELS.length * c)) ** p.classWeightPower);
  log(`class weights: ${LABELS.map((l, k) => `${l} ${classWeights[k].toFixed(2)}`).join(', ')}`);

  const model =
    init?.model ??
    buildBiLstm({
      vocabSize: vocabulary.size,
      embeddingDim: p.dim,
      lstmUnits: p.units,
      denseUnits: 64,
      spatialDropout: p.spatialDropout,
      dropout: p.dropout,
      classes: LABELS.length,
      seed: p.seed,
      embeddings,
      trainableEmbeddings: true,
    });
  model.compile({ optimizer: tf.train.adam(p.lr), loss: weightedCrossEntropy(classWeights) });

  const tracker = new RunTracker(values.runs, init ? 'bilstm-finetune' : `bilstm-${values.embeddings}`, {
    source: 'src/train/train.ts',
    ...(config.mlflowTrackingUri
      ? { mlflow: { trackingUri: config.mlflowTrackingUri, experimentName: config.mlflowExperimentName } }
      : {}),
  });
  const params = {
    ...p,
    embeddings: init ? `from ${init.version}` : values.embeddings,
    ...(init ? { init: values.init, initVersion: init.version } : {}),
    backend,
    train: values.train,
    val: values.val,
    pretrain: values.pretrain,
    ...(values.feedback ? { feedback: values.feedback, feedbackMerge: feedback } : {}),
    classWeights,
  };
  tracker.params(params);
  tracker.inputs(inputs);

  try {
    const random = seededRandom(p.seed);
    let best = { loss: Infinity, epoch: 0, weights: [] as tf.Tensor[] };
    const history: Array<Record<string, number>> = [];
    for (let epoch = 1; epoch <= p.epochs; epoch++) {
      const batches = bucketedBatches(trainSet, p.batch, random);
      const bar = progressBar(
        `epoch ${epoch}/${p.epochs}`,
        '{bar} {value}/{total} batches | loss {loss} | {eta}s left',
      );
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
      const v = validate(model, valSet);
      const row = {
        epoch,
        loss: lossSum / batches.length,
        val_loss: v.loss,
        val_accuracy: v.metrics.accuracy,
        val_macro_f1: v.metrics.macro_f1,
        seconds: (Date.now() - started) / 1000,
      };
      history.push(row);
      tracker.metric(epoch, row);
      log(
        `epoch ${epoch}: loss ${row.loss.toFixed(4)} val_loss ${v.loss.toFixed(4)} val_acc ${v.metrics.accuracy.toFixed(4)} val_macro_f1 ${v.metrics.macro_f1.toFixed(4)} (${row.seconds.toFixed(0)} s)`,
      );
      if (v.loss < best.loss) {
        tf.dispose(best.weights);
        best = { loss: v.loss, epoch, weights: model.getWeights().map((w) => w.clone()) };
      } else if (epoch - best.epoch >= p.patience) {
        log(`early stop: val_loss has not improved for ${p.patience} epochs; restoring epoch ${best.epoch}`);
        break;
      }
    }
    model.setWeights(best.weights);
    const final = validate(model, valSet);

    const version =
      values.version ??
      `${new Date().toISOString().slice(0, 10).replace(/-/g, '')}-${init ? 'finetune' : values.embeddings}`;
    const out = values.out;
    mkdirSync(out, { recursive: true });
    const files = await saveLayersModel(model, out);
    writeFileSync(join(out, 'vocabulary.json'), JSON.stringify(vocabulary.toJSON()));
    const metrics = roundMetrics({ ...final.metrics, val_loss: final.loss, best_epoch: best.epoch });
    // The manifest: every file's sha256 and the canary set, scored by the model as saved (src/registry/seal.ts).
    await sealModel(
      out,
      {
        name: 'sentinel-bilstm',
        version,
        created: new Date().toISOString(),
        kind: 'sentinel-bilstm',
        labels: [...LABELS],
        maxLength: p.maxLength,
        trainingData: [
          values.train,
          ...(values.feedback ? [`${values.feedback} (people's labels, merged)`] : []),
          ...(init ? [`fine-tuned from ${init.version} (${values.init})`] : []),
          ...values.pretrain.map((x) => `${x} (word2vec only)`),
        ],
        metrics: { validation: metrics, validation_data: values.val, params, run: tracker.id },
      },
      { extraFiles: [...files, 'vocabulary.json'] },
    );
    tracker.summary({
      version,
      out,
      best_epoch: best.epoch,
      validation: metrics,
      ...(feedback ? { feedback } : {}),
      history,
    });
    const mirror = await tracker.finish('FINISHED');
    log(
      `saved ${out} (version ${version}); run ${tracker.dir}` +
        (mirror?.mirrored ? `; MLflow run ${mirror.run_id} at ${mirror.tracking_uri}` : ''),
    );
    process.stdout.write(
      JSON.stringify({
        version,
        run: tracker.id,
        ...metrics,
        ...(feedback ? { feedback } : {}),
        ...(mirror?.mirrored ? { mlflow_run_id: mirror.run_id } : {}),
      }) + '\n',
    );
  } catch (err) {
    await tracker.finish('FAILED');
    throw err;
  }
}

/** One line on what --feedback did. */
export function describeMerge(path: string, c: FeedbackMergeCounts): string {
  return (
    `feedback ${path}: ${c.feedback_rows} rows; ${c.overridden} override training rows (${c.relabelled} with another label, ` +
    `${c.replaced_train_rows} training rows replaced), ${c.added} added; dropped: ${c.dropped_eval} in the evaluation split, ` +
    `${c.dropped_duplicates} duplicates, ${c.dropped_blank} without text; training rows ${c.train_rows_before} → ${c.train_rows_after}`
  );
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

function validate(model: tf.LayersModel, examples: Example[]) {
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
  return { loss: loss / examples.length, metrics, probs };
}

function progressBar(name: string, format: string): SingleBar {
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

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`error: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
