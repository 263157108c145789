/**
 * Trains the TF-IDF + logistic-regression peers: the word-n-gram baseline, and with `--char 2,5` the word +
 * character n-gram model (the strongest classic model on this data, measured beside Sentinel's own).
 *
 *   npx tsx src/train/train-baseline.ts --train <csv> --val <csv> --out <model.json>
 *       [--C 0.5,1,2,4,8,16] [--class-weight none,balanced] [--min-df 2] [--max-iter 300] [--char 2,5]
 *
 * Fits one model per (C, class weight) of the grid on the training split, picks the one with the best
 * validation macro-F1 (ties: accuracy, then the smaller C), writes it, and prints as the last stdout line one
 * JSON object: the chosen hyper-parameters, the validation metrics and the grid. Progress goes to stderr.
 * Bad arguments or an unreadable / invalid CSV: a message on stderr and exit code 2.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readLabelledCsv, type LabelledText } from './dataset';
import { fitFeatures, trainBaseline, type LinearModel, type ClassWeight } from './baseline';
import { argmaxLabel, evaluatePredictions, roundMetrics, type EvaluationMetrics } from './metrics';

const USAGE = `usage: npx tsx src/train/train-baseline.ts --train <csv> --val <csv> --out <model.json>
         [--C 0.5,1,2,4,8,16] [--class-weight none,balanced] [--min-df 2] [--max-iter 300] [--char 2,5]`;

class UsageError extends Error {}

interface Args {
  train: string;
  val: string;
  out: string;
  Cs: number[];
  classWeights: ClassWeight[];
  minDf: number;
  maxIter: number;
  /** Character n-gram range, or none for the word-only baseline. */
  charNgrams?: [number, number];
}

function parseCli(argv: string[]): Args {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        train: { type: 'string' },
        val: { type: 'string' },
        out: { type: 'string' },
        C: { type: 'string', default: '0.5,1,2,4,8,16' },
        'class-weight': { type: 'string', default: 'none,balanced' },
        'min-df': { type: 'string', default: '2' },
        'max-iter': { type: 'string', default: '300' },
        char: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message, { cause: err });
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  for (const name of ['train', 'val', 'out']) {
    if (typeof values[name] !== 'string' || values[name] === '') throw new UsageError(`--${name} is required`);
  }
  const Cs = String(values.C)
    .split(',')
    .map((s) => s.trim());
  const parsedCs = Cs.map(Number);
  if (Cs.some((s) => s === '') || parsedCs.some((c) => !Number.isFinite(c) || c <= 0)) {
    throw new UsageError(`--C must be a comma-separated list of positive numbers, got "${values.C}"`);
  }
  const classWeights = String(values['class-weight'])
    .split(',')
    .map((s) => s.trim());
  if (!classWeights.every((w): w is ClassWeight => w === 'none' || w === 'balanced')) {
    throw new UsageError(
      `--class-weight must be a comma-separated list of none / balanced, got "${values['class-weight']}"`,
    );
  }
  const positiveInt = (name: string): number => {
    const raw = String(values[name]);
    const v = Number(raw);
    if (!/^\d+$/.test(raw) || v < 1) throw new UsageError(`--${name} must be a positive integer, got "${raw}"`);
    return v;
  };
  let charNgrams: [number, number] | undefined;
  if (values.char !== undefined) {
    const range = String(values.char).split(',').map(Number);
    if (range.length !== 2 || !range.every((n) => Number.isInteger(n) && n >= 1) || range[0] > range[1])
      throw new UsageError(`--char must be two integers lo,hi with 1 <= lo <= hi, got "${values.char}"`);
    charNgrams = [range[0], range[1]];
  }
  return {
    charNgrams,
    train: String(values.train),
    val: String(values.val),
    out: String(values.out),
    Cs: [...new Set(parsedCs)],
    classWeights: [...new Set(classWeights)],
    minDf: positiveInt('min-df'),
    maxIter: positiveInt('max-iter'),
  };
}

function readCsv(path: string, what: string): LabelledText[] {
  try {
    return readLabelledCsv(path);
  } catch (err) {
    throw new UsageError(`${what} data: ${(err as Error).message}`, { cause: err });
  }
}

function evaluate(model: LinearModel, rows: LabelledText[]): EvaluationMetrics {
  const probs = model.predictProba(rows.map((r) => r.text));
  return evaluatePredictions(
    rows.map((r) => r.label),
    probs.map(argmaxLabel),
    probs,
  );
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

function main(): void {
  const args = parseCli(process.argv.slice(2));
  const train = readCsv(args.train, 'training');
  const val = readCsv(args.val, 'validation');
  log(`train: ${train.length} rows from ${args.train}; val: ${val.length} rows from ${args.val}`);

  const started = Date.now();
  const features = fitFeatures(train, args.minDf, args.charNgrams ? { charNgrams: args.charNgrams } : {});
  log(
    `tf-idf: ${features.vectorizer.size} word uni/bigrams${args.charNgrams ? ` and character ${args.charNgrams.join('–')}-grams` : ''} with df >= ${args.minDf}, ${features.matrix.values.length} non-zeros (${Date.now() - started} ms)`,
  );

  const grid: Array<{
    C: number;
    class_weight: ClassWeight;
    iterations: number;
    converged: boolean;
    val_accuracy: number;
    val_macro_f1: number;
    seconds: number;
  }> = [];
  let best: { model: LinearModel; metrics: EvaluationMetrics } | undefined;
  const total = args.Cs.length * args.classWeights.length;
  for (const classWeight of args.classWeights) {
    for (const C of args.Cs) {
      const t0 = Date.now();
      const model = trainBaseline(train, { C, classWeight, minDf: args.minDf, maxIter: args.maxIter, features });
      const metrics = evaluate(model, val);
      const seconds = (Date.now() - t0) / 1000;
      grid.push({
        C,
        class_weight: classWeight,
        iterations: model.info.iterations,
        converged: model.info.converged,
        val_accuracy: metrics.accuracy,
        val_macro_f1: metrics.macro_f1,
        seconds,
      });
      log(
        `[${grid.length}/${total}] C=${C} class_weight=${classWeight}: val accuracy ${metrics.accuracy.toFixed(4)}, macro-F1 ${metrics.macro_f1.toFixed(4)} ` +
          `(${model.info.iterations} L-BFGS iterations${model.info.converged ? '' : ', not converged'}, ${seconds.toFixed(1)} s)`,
      );
      const better =
        !best ||
        metrics.macro_f1 > best.metrics.macro_f1 ||
        (metrics.macro_f1 === best.metrics.macro_f1 &&
          (metrics.accuracy > best.metrics.accuracy ||
            (metrics.accuracy === best.metrics.accuracy && C < best.model.info.C)));
      if (better) best = { model, metrics };
    }
  }
  const chosen = best!;
  const json = JSON.stringify(chosen.model.toJSON());
  const out = resolve(args.out);
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, json);
  renameSync(tmp, out);
  log(
    `chosen: C=${chosen.model.info.C} class_weight=${chosen.model.info.class_weight}; wrote ${out} (${(json.length / 1e6).toFixed(2)} MB)`,
  );

  const info = chosen.model.info;
  const summary = {
    model: out,
    model_bytes: Buffer.byteLength(json),
    hyper_parameters: {
      C: info.C,
      class_weight: info.class_weight,
      min_df: info.min_df,
      max_iter: info.max_iter,
      ngram_range: [1, 2],
      ...(args.charNgrams ? { char_ngram_range: args.charNgrams } : {}),
      sublinear_tf: true,
      selected_by: 'val macro_f1',
    },
    n_train: info.n_train,
    n_features: info.n_features,
    iterations: info.iterations,
    converged: info.converged,
    val: roundMetrics(chosen.metrics),
    grid: roundMetrics(grid),
    seconds: (Date.now() - started) / 1000,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

try {
  main();
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`train-baseline: ${err.message}\n${USAGE}\n`);
    process.exit(2);
  }
  process.stderr.write(`train-baseline: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
