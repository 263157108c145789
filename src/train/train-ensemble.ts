/**
 * npm run train:ensemble -- --bilstm <dir> --train <csv> --val <csv> --out <dir> [--refit <dir>] [--char 2,5]
 *   [--C 1,2,4,8] [--stacker-C 1] [--lexicon none|afinn] [--version <v>] [--runs runs]
 *
 * Turns a BiLSTM trained with `npm run train -- --dev <fraction>` into the shipped ensemble:
 * 1. the same dev rows are held back from the training split (the fraction and seed come from the BiLSTM's
 *    manifest, so no row the BiLSTM trained on is used to fit what follows);
 * 2. a TF-IDF logistic regression on word 1–2-grams and character n-grams is trained on the rest (C picked
 *    by the dev log-loss: the stacker needs honest probabilities more than a sharp argmax);
 * 3. the stacker and the temperature are fitted on the dev rows (src/train/ensemble-fit.ts); with `--lexicon
 *    afinn` the stacker also reads the AFINN word list's evidence (measured; not in the shipped recipe);
 * 4. with `--refit <dir>` (the same BiLSTM recipe trained with `--fixed-epochs` for the dev run's best epoch
 *    count on the whole training split), the members shipped are that BiLSTM and the linear model trained
 *    again on every training row with the C chosen in 2: the dev rows become training data too, and the
 *    stacker and temperature fitted in 3 are kept;
 * 5. the BiLSTM's files, linear.json and ensemble.json are written to --out and sealed; the validation split
 *    is scored only once everything is fixed, for the record.
 *
 * The last stdout line is one JSON object: version, the dev figures of each part, the validation metrics.
 */
import { parseArgs } from 'node:util';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../config/schema';
import { recordRates } from './model-rates';
import { loadScorer } from '../sentiment/load';
import { readManifest } from '../registry/manifest';
import { sealModel } from '../registry/seal';
import {
  ENSEMBLE_FILE,
  ENSEMBLE_FORMAT,
  LEXICONS,
  stack,
  type EnsembleFile,
  type Lexicon,
  type Stacker,
} from '../sentiment/ensemble';
import { lexiconInputs } from '../sentiment/lexicon';
import { normalizeTweet } from '../sentiment/normalize';
import { layersModelFiles } from '../sentiment/model-files';
import type { LinearModel } from '../sentiment/linear-model';
import { LABELS, readLabelledRows, splitOffFold, type LabelledText } from './dataset';
import { fitFeatures, trainBaseline } from './baseline';
import { fitEnsembleHead } from './ensemble-fit';
import { evaluatePredictions, argmaxLabel, roundMetrics, type EvaluationMetrics } from './metrics';
import { RunTracker, describeInput } from './run-tracker';

const HELP = `usage: npm run train:ensemble -- --bilstm <dir trained with --dev> --train <csv> --val <csv> --out <dir>
  [--char 2,5] character n-gram range of the linear model   [--C 1,2,4,8] its L2 grid (picked on the dev rows)
  [--stacker-C 1] the stacker's inverse L2 strength   [--lexicon none|afinn] a word list the stacker reads too (default none)
  [--version <v>] [--runs runs]
  [--refit <dir>] the same BiLSTM trained with --fixed-epochs on the whole training split: shipped with a linear model refitted on every row`;

export const LINEAR_FILE = 'linear.json';

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n${HELP}\n`);
  process.exit(2);
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

export interface EnsembleParts {
  linear: LinearModel;
  linearC: number;
  stacker: Stacker;
  temperature: number;
  lexicon?: Lexicon;
  /** Figures on the dev rows (what chose and fitted the parts). */
  dev: { rows: number; bilstm: EvaluationMetrics; linear: EvaluationMetrics; ensemble: EvaluationMetrics };
}

const truthOf = (rows: readonly LabelledText[]) => rows.map((r) => LABELS.indexOf(r.label));
const metricsOf = (rows: readonly LabelledText[], probs: number[][]) =>
  evaluatePredictions(
    rows.map((r) => r.label),
    probs.map(argmaxLabel),
    probs,
  );
const logLoss = (probs: number[][], truth: number[]) =>
  -probs.reduce((s, p, i) => s + Math.log(Math.max(1e-12, p[truth[i]])), 0) / probs.length;

/**
 * The linear model (on `rest`) and the stacker and temperature (on `dev`), given the BiLSTM's probabilities
 * on `dev`. Shared by this CLI and by cross-validation (src/train/cross-validate.ts).
 */
export function fitEnsembleParts(opts: {
  rest: readonly LabelledText[];
  dev: readonly LabelledText[];
  bilstmDev: number[][];
  charNgrams: [number, number];
  Cs: number[];
  stackerC: number;
  /** The word list the stacker reads beside the two models; none: the six log-probabilities only. */
  lexicon?: Lexicon;
  log?: (line: string) => void;
}): EnsembleParts {
  const say = opts.log ?? (() => {});
  const truth = truthOf(opts.dev);
  const features = fitFeatures(opts.rest, 2, { charNgrams: opts.charNgrams });
  say(`linear model: ${features.vectorizer.size} word and character n-grams from ${opts.rest.length} rows`);
  let best: { C: number; model: LinearModel; probs: number[][]; loss: number } | undefined;
  for (const C of opts.Cs) {
    const model = trainBaseline(opts.rest, { C, features, minDf: 2 });
    const probs = model.predictProba(opts.dev.map((r) => r.text));
    const loss = logLoss(probs, truth);
    say(`  C=${C}: dev log-loss ${loss.toFixed(4)}, accuracy ${metricsOf(opts.dev, probs).accuracy.toFixed(4)}`);
    if (!best || loss < best.loss) best = { C, model, probs, loss };
  }
  if (!best) throw new Error('fitEnsembleParts: the C grid is empty');
  const lexiconDev = opts.lexicon ? lexiconRows(opts.dev) : undefined;
  const head = fitEnsembleHead(opts.bilstmDev, best.probs, truth, { C: opts.stackerC }, lexiconDev);
  // The dev figures of the stacker are in-sample: they show the fit worked, not how good it is.
  const linearDev = best.probs;
  const ensembleDev = opts.bilstmDev.map((p, i) =>
    stack(head.stacker, head.temperature, p, linearDev[i], lexiconDev?.[i]),
  );
  return {
    linear: best.model,
    linearC: best.C,
    ...head,
    ...(opts.lexicon ? { lexicon: opts.lexicon } : {}),
    dev: {
      rows: opts.dev.length,
      bilstm: metricsOf(opts.dev, opts.bilstmDev),
      linear: metricsOf(opts.dev, best.probs),
      ensemble: metricsOf(opts.dev, ensembleDev),
    },
  };
}

/** The lexicon's evidence for each row, read on the tokens the scorer gives it. */
export function lexiconRows(rows: readonly { text: string }[]): number[][] {
  return rows.map((r) => lexiconInputs(normalizeTweet(r.text)));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      bilstm: { type: 'string' },
      train: { type: 'string' },
      val: { type: 'string' },
      out: { type: 'string' },
      char: { type: 'string', default: '2,5' },
      C: { type: 'string', default: '1,2,4,8' },
      'stacker-C': { type: 'string', default: '1' },
      lexicon: { type: 'string', default: 'none' },
      refit: { type: 'string' },
      version: { type: 'string' },
      runs: { type: 'string', default: 'runs' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return void process.stdout.write(HELP + '\n');
  if (!values.bilstm || !values.train || !values.val || !values.out)
    fail('--bilstm, --train, --val and --out are required');
  if (resolve(values.out) === resolve(values.bilstm)) fail('--out must be a new directory, not the BiLSTM one');
  const charNgrams = values.char.split(',').map(Number) as [number, number];
  if (
    charNgrams.length !== 2 ||
    !charNgrams.every((n) => Number.isInteger(n) && n >= 1) ||
    charNgrams[0] > charNgrams[1]
  )
    fail(`--char must be two integers lo,hi with 1 ≤ lo ≤ hi, got "${values.char}"`);
  const Cs = values.C.split(',').map(Number);
  if (!Cs.length || !Cs.every((c) => c > 0)) fail(`--C must be positive numbers, got "${values.C}"`);
  const stackerC = Number(values['stacker-C']);
  if (!(stackerC > 0)) fail(`--stacker-C must be a positive number, got "${values['stacker-C']}"`);
  if (values.lexicon !== 'none' && !(values.lexicon in LEXICONS))
    fail(`--lexicon must be ${Object.keys(LEXICONS).join(', ')} or none, got "${values.lexicon}"`);
  const lexicon = values.lexicon === 'none' ? undefined : (values.lexicon as Lexicon);

  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    fail((err as Error).message);
  }
  const manifest = readManifest(values.bilstm);
  const params = (manifest.metrics as { params?: Record<string, unknown> } | undefined)?.params;
  const devFraction = typeof params?.dev === 'number' ? params.dev : 0;
  const seed = typeof params?.seed === 'number' ? params.seed : NaN;
  if (!(devFraction > 0) || !Number.isFinite(seed))
    fail(
      `${values.bilstm} was not trained with --dev: its early stopping watched the validation split, so no training rows are left that it did not fit`,
    );

  const trainRows = readLabelledRows(values.train);
  const val = readLabelledRows(values.val);
  const k = Math.round(1 / devFraction);
  const { rest, held: dev } = splitOffFold(trainRows, k, 0, seed);
  log(`dev rows: ${dev.length} (1/${k} of ${trainRows.length}, seed ${seed}), as the BiLSTM held them back`);

  const bilstm = await loadScorer(values.bilstm, { maxBatch: 256 });
  if (bilstm.info.maxLength !== manifest.maxLength) fail('BiLSTM manifest and model disagree');
  const probsOf = async (rows: readonly LabelledText[]) =>
    (await bilstm.score(rows.map((r) => r.text))).map((p) => LABELS.map((l) => p.probabilities[l]));
  const bilstmDev = await probsOf(dev);
  bilstm.dispose();

  const parts = fitEnsembleParts({ rest, dev, bilstmDev, charNgrams, Cs, stackerC, lexicon, log });
  log(
    `stacker fitted on ${dev.length} dev rows; temperature ${parts.temperature}; dev accuracy: BiLSTM ${parts.dev.bilstm.accuracy.toFixed(4)}, linear ${parts.dev.linear.accuracy.toFixed(4)}, ensemble ${parts.dev.ensemble.accuracy.toFixed(4)} (in-sample)`,
  );

  // The refit: the members learn from every training row; what the dev rows taught the stacker stays.
  let members = { bilstmDir: values.bilstm, linear: parts.linear, note: 'trained without the dev rows' };
  let refitInfo: Record<string, unknown> | undefined;
  if (values.refit) {
    const refit = readManifest(values.refit);
    const rp = (refit.metrics as { params?: Record<string, unknown> } | undefined)?.params ?? {};
    if (rp.fixed_epochs !== true || rp.seed !== seed)
      fail(`--refit ${values.refit}: expected a BiLSTM trained with --fixed-epochs and seed ${seed}`);
    log(`refit: linear model on all ${trainRows.length} training rows (C=${parts.linearC})`);
    const linearAll = trainBaseline(trainRows, {
      C: parts.linearC,
      features: fitFeatures(trainRows, 2, { charNgrams }),
    });
    members = { bilstmDir: values.refit, linear: linearAll, note: 'refitted on the whole training split' };
    refitInfo = { bilstm: values.refit, bilstm_version: refit.version, epochs: rp.epochs, rows: trainRows.length };
  }

  const out = values.out;
  mkdirSync(out, { recursive: true });
  const copied = ['model.json', 'vocabulary.json', ...readModelShards(members.bilstmDir)];
  for (const f of copied) copyFileSync(join(members.bilstmDir, f), join(out, f));
  writeFileSync(join(out, LINEAR_FILE), JSON.stringify(members.linear.toJSON()));
  const fitted = {
    rows: dev.length,
    split: `fold 0 of ${k} stratified folds of ${values.train}, seed ${seed}`,
    linear_C: parts.linearC,
    linear_C_grid: Cs,
    char_ngrams: charNgrams,
    stacker_C: stackerC,
    lexicon: lexicon ?? 'none',
    members: members.note,
    ...(refitInfo ? { refit: refitInfo } : {}),
    dev: roundMetrics({
      bilstm: pick(parts.dev.bilstm),
      linear: pick(parts.dev.linear),
      ensemble_in_sample: pick(parts.dev.ensemble),
    }),
  };
  const ensembleFile: EnsembleFile = {
    format: ENSEMBLE_FORMAT,
    version: lexicon ? 2 : 1,
    linear: LINEAR_FILE,
    ...(lexicon ? { lexicon } : {}),
    stacker: parts.stacker,
    temperature: parts.temperature,
    fitted,
  };
  writeFileSync(join(out, ENSEMBLE_FILE), JSON.stringify(ensembleFile, null, 1));

  const version = values.version ?? `${new Date().toISOString().slice(0, 10).replace(/-/g, '')}-ensemble`;
  const tracker = new RunTracker(values.runs, 'ensemble', {
    source: 'src/train/train-ensemble.ts',
    ...(config.mlflowTrackingUri
      ? { mlflow: { trackingUri: config.mlflowTrackingUri, experimentName: config.mlflowExperimentName } }
      : {}),
  });
  // The BiLSTM's own training parameters come along: the manifest then holds the whole recipe (evaluate --cv reads it).
  const runParams = { ...params, bilstm: values.bilstm, bilstm_version: manifest.version, ensemble: fitted };
  tracker.params(runParams);
  tracker.inputs([
    describeInput('train', values.train, trainRows.length),
    describeInput('val', values.val, val.length),
    describeInput('init', join(values.bilstm, 'manifest.json'), 0),
  ]);
  try {
    const base = {
      name: 'sentinel-bilstm',
      version,
      created: new Date().toISOString(),
      kind: 'sentinel-bilstm' as const,
      labels: [...LABELS],
      maxLength: manifest.maxLength,
      trainingData: [
        ...manifest.trainingData,
        values.refit
          ? `${values.train}: every row (BiLSTM and linear model refitted); its dev rows also fitted the stacker and temperature`
          : `${values.train} minus the dev rows (BiLSTM, linear model); the dev rows (stacker, temperature)`,
      ],
    };
    await sealModel(out, { ...base, metrics: { params: runParams } });
    // Measured once everything is fixed and sealed, by the loader a replica uses.
    const served = await loadScorer(out, { maxBatch: 256 });
    const valProbs = (await served.score(val.map((r) => r.text))).map((p) => LABELS.map((l) => p.probabilities[l]));
    served.dispose();
    const validation = roundMetrics({ ...metricsOf(val, valProbs) });
    await sealModel(out, {
      ...base,
      metrics: { validation, validation_data: values.val, params: runParams, run: tracker.id },
    });
    // The confusion rates the trend's prevalence estimate corrects with (src/trends/prevalence.ts).
    const rates = await recordRates(out, values.val);
    tracker.summary({ version, out, validation, fitted, prevalence: rates });
    await tracker.finish('FINISHED');
    log(`saved ${out} (version ${version}); run ${tracker.dir}`);
    process.stdout.write(JSON.stringify({ version, run: tracker.id, ...fitted, validation: pick(validation) }) + '\n');
  } catch (err) {
    await tracker.finish('FAILED');
    throw err;
  }
}

function pick(m: EvaluationMetrics) {
  return {
    accuracy: m.accuracy,
    macro_f1: m.macro_f1,
    binary_accuracy: m.binary_accuracy,
    negative_recall: m.per_class.negative.recall,
  };
}

function readModelShards(dir: string): string[] {
  return layersModelFiles(dir).filter((f) => f !== 'model.json');
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`error: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
