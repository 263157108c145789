/**
 * npm run evaluate -- --data <csv with label,text> [--model <dir>] [--peers] [--baseline <file>] [--word-char <file>]
 *   [--confusion <file.svg|.png>]
 * npm run evaluate -- --cv <k> [--data <training csv>] [--model <dir>]
 *
 * Scores every row with the model (the shipped one by default) and prints, as the last stdout line,
 * one JSON object: n, accuracy, macro_f1, per_class, confusion, binary_accuracy (+ peers with --peers:
 * the lexicon tools, the word TF-IDF baseline and the word + character TF-IDF model, each on the same rows).
 * A data set labelled only negative/positive is scored on those two classes: the larger of the two
 * probabilities decides. Logs and progress go to stderr.
 *
 * `--cv <k>` runs stratified k-fold cross-validation of the model's whole recipe (read from its manifest) on
 * the training split (src/train/cross-validate.ts): every fold trains everything again, so it takes a while
 * (about 5 minutes per fold on 2 cores); progress goes to stderr.
 */
import { parseArgs } from 'node:util';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { loadScorer } from '../sentiment/load';
import { LABELS, readLabelledCsv, readTexts, type Label, type LabelledText } from './dataset';
import { readManifest } from '../registry/manifest';
import { ENSEMBLE_FILE, type EnsembleFile, type Lexicon } from '../sentiment/ensemble';
import { crossValidate, systemsOf, type CvRecipe, type CvResult } from './cross-validate';
import { initBackend } from '../sentiment/backend';
import { registerWasmTrainingKernels } from './wasm-kernels';
import { argmaxLabel, evaluatePredictions, roundMetrics, type EvaluationMetrics } from './metrics';
import { loadLinearModel } from './baseline';
import { scoreWithAfinn, scoreWithVader, type PeerPrediction } from './peers';
import { confusionPng, confusionSvg } from './confusion-chart';

const HELP = `usage: npm run evaluate -- --data <csv> [--model models/sentinel-bilstm] [--peers] [--confusion out.svg|out.png]
         [--baseline models/baseline/baseline.json] [--word-char models/baseline/word-char.json]
       npm run evaluate -- --cv <k> [--data ../shared/data/airline_train.csv] [--model models/sentinel-bilstm]`;

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n${HELP}\n`);
  process.exit(2);
}

/**
 * Probabilities [neg, neu, pos] → metrics; binary data sets only compare negative with positive.
 * `labels`: the system's own decisions when they are not the argmax (the lexicon tools use thresholds).
 */
export function metricsFor(
  rows: readonly LabelledText[],
  probs: number[][],
  labels?: readonly Label[],
): EvaluationMetrics {
  const binary = rows.every((r) => r.label !== 'neutral');
  const predicted: Label[] = probs.map((p, i) =>
    binary ? (p[0] >= p[2] ? 'negative' : 'positive') : (labels?.[i] ?? argmaxLabel(p)),
  );
  return evaluatePredictions(
    rows.map((r) => r.label),
    predicted,
    probs,
  );
}

export function peerMetrics(rows: readonly LabelledText[], predictions: PeerPrediction[]): EvaluationMetrics {
  return metricsFor(
    rows,
    predictions.map((p) => [...p.probs]),
    predictions.map((p) => p.label),
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      model: { type: 'string', default: 'models/sentinel-bilstm' },
      baseline: { type: 'string', default: 'models/baseline/baseline.json' },
      'word-char': { type: 'string', default: 'models/baseline/word-char.json' },
      peers: { type: 'boolean', default: false },
      cv: { type: 'string' },
      confusion: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return void process.stdout.write(HELP + '\n');
  if (values.cv !== undefined) return runCrossValidation(values.cv, values.data, values.model);
  if (!values.data) fail('--data is required');
  let rows: LabelledText[];
  try {
    rows = readLabelledCsv(values.data);
  } catch (err) {
    fail((err as Error).message);
  }

  let scorer;
  try {
    scorer = await loadScorer(values.model, { maxBatch: 256 });
  } catch (err) {
    fail(`cannot load the model: ${(err as Error).message}`);
  }
  process.stderr.write(
    `model ${scorer.info.name} ${scorer.info.version} on ${scorer.info.backend}, ${rows.length} rows\n`,
  );
  const bar = new SingleBar(
    { format: 'scoring | {bar} {value}/{total}', stream: process.stderr, noTTYOutput: true, notTTYSchedule: 5000 },
    Presets.shades_classic,
  );
  bar.start(rows.length, 0);
  const probs: number[][] = [];
  for (let i = 0; i < rows.length; i += 256) {
    const predictions = await scorer.score(rows.slice(i, i + 256).map((r) => r.text));
    for (const p of predictions) probs.push(LABELS.map((l) => p.probabilities[l]));
    bar.update(probs.length);
  }
  bar.stop();
  scorer.dispose();
  const metrics = metricsFor(rows, probs);
  if (values.confusion) {
    const title = `${scorer.info.name} ${scorer.info.version} on ${values.data.split('/').pop()}`;
    writeFileSync(
      values.confusion,
      values.confusion.endsWith('.png')
        ? confusionPng(metrics.confusion, LABELS, title)
        : confusionSvg(metrics.confusion, LABELS, title),
    );
    process.stderr.write(`confusion matrix written to ${values.confusion}\n`);
  }

  const result: Record<string, unknown> = {
    model: scorer.info.name,
    version: scorer.info.version,
    backend: scorer.info.backend,
    ...metrics,
  };
  if (values.peers) {
    const texts = rows.map((r) => r.text);
    const peers: Record<string, EvaluationMetrics> = {
      afinn_sentiment: peerMetrics(rows, scoreWithAfinn(texts)),
      vader_sentiment: peerMetrics(rows, scoreWithVader(texts)),
    };
    const linearPeers: Array<[string, string, string]> = [
      ['tfidf_logreg_baseline', values.baseline, ''],
      ['tfidf_word_char_logreg', values['word-char'], ' -- --char 2,5'],
    ];
    for (const [name, path, flags] of linearPeers) {
      if (existsSync(path)) peers[name] = metricsFor(rows, loadLinearModel(path).predictProba(texts));
      else process.stderr.write(`no ${name} at ${path}: train it with npm run train:baseline${flags}\n`);
    }
    result.peers = peers;
  }
  process.stdout.write(JSON.stringify(roundMetrics(result)) + '\n');
}

/** The recipe of the model in `dir`, as its manifest and ensemble.json record it, cross-validated on `data`. */
async function runCrossValidation(kArg: string, data: string | undefined, dir: string): Promise<void> {
  const k = Number(kArg);
  if (!Number.isInteger(k) || k < 2 || k > 20) fail(`--cv must be an integer from 2 to 20, got "${kArg}"`);
  const path = data ?? '../shared/data/airline_train.csv';
  let rows: LabelledText[];
  let recipe: CvRecipe;
  let pretrain: string[] = [];
  try {
    rows = readLabelledCsv(path);
    const manifest = readManifest(dir);
    const p = (manifest.metrics as { params?: Record<string, unknown> } | undefined)?.params ?? {};
    const ensemblePath = join(dir, ENSEMBLE_FILE);
    if (!existsSync(ensemblePath)) throw new Error(`${dir} is not an ensemble (no ${ENSEMBLE_FILE})`);
    const fitted = (JSON.parse(readFileSync(ensemblePath, 'utf8')) as EnsembleFile).fitted ?? {};
    const bilstm = p; // the ensemble's manifest carries its BiLSTM's training parameters
    const num = (o: Record<string, unknown>, key: string): number => {
      const v = o[key];
      if (typeof v !== 'number') throw new Error(`${dir}: the recorded recipe has no numeric "${key}"`);
      return v;
    };
    const baseline = loadLinearModel('models/baseline/baseline.json').info;
    recipe = {
      bilstm: {
        epochs: num(bilstm, 'epochs'),
        patience: num(bilstm, 'patience'),
        batch: num(bilstm, 'batch'),
        lr: num(bilstm, 'lr'),
        units: num(bilstm, 'units'),
        dim: num(bilstm, 'dim'),
        maxLength: num(bilstm, 'maxLength'),
        spatialDropout: num(bilstm, 'spatialDropout'),
        dropout: num(bilstm, 'dropout'),
        classWeightPower: num(bilstm, 'classWeightPower'),
        seed: num(bilstm, 'seed'),
        vocab: num(bilstm, 'vocab'),
        w2vEpochs: num(bilstm, 'w2vEpochs'),
      },
      embeddings: String(bilstm.embeddings).startsWith('glove')
        ? 'glove'
        : String(bilstm.embeddings).startsWith('random')
          ? 'random'
          : 'word2vec',
      glove: typeof bilstm.glove === 'string' ? bilstm.glove : undefined,
      devFraction: num(p, 'dev'),
      charNgrams: fitted.char_ngrams as [number, number],
      Cs: fitted.linear_C_grid as number[],
      stackerC: fitted.stacker_C as number,
      ...(typeof fitted.lexicon === 'string' && fitted.lexicon !== 'none'
        ? { lexicon: fitted.lexicon as Lexicon }
        : {}),
      baseline: { C: baseline.C, classWeight: baseline.class_weight },
    };
    for (const pre of (bilstm.pretrain as string[] | undefined) ?? []) pretrain = pretrain.concat(readTexts(pre));
  } catch (err) {
    fail((err as Error).message);
  }
  // Training runs on wasm with its embedding-gradient kernel, as npm run train does (cpu would take hours).
  await initBackend('wasm');
  registerWasmTrainingKernels();
  process.stderr.write(`cross-validating the recipe of ${dir} on ${path}: ${k} folds of ${rows.length} rows\n`);
  const result = await crossValidate(rows, k, recipe, {
    pretrainTexts: pretrain,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stderr.write(cvTable(result));
  process.stdout.write(JSON.stringify(roundMetrics({ data: path, model: dir, ...result })) + '\n');
}

function cvTable(r: CvResult): string {
  const f = (x: { mean: number; sd: number }) => `${(100 * x.mean).toFixed(1)} ± ${(100 * x.sd).toFixed(1)}`;
  const lines = [`${r.k}-fold cross-validation, ${r.rows} rows (mean ± sd over folds, %)`];
  lines.push(
    `${'system'.padEnd(26)} ${'accuracy'.padEnd(12)} ${'macro-F1'.padEnd(12)} ${'neg vs pos'.padEnd(12)} neg recall`,
  );
  for (const s of systemsOf(r.summary)) {
    const m = r.summary[s]!;
    lines.push(
      `${s.padEnd(26)} ${f(m.accuracy).padEnd(12)} ${f(m.macro_f1).padEnd(12)} ${f(m.binary_accuracy).padEnd(12)} ${f(m.negative_recall)}`,
    );
  }
  return lines.join('\n') + '\n';
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
