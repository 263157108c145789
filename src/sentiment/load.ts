/**
 * A model directory → a ready Scorer, or an Error that says exactly what is wrong. Never a fallback.
 *
 * No manifest, no load: every directory served has a manifest.json (src/registry/manifest.ts) that
 * lists the sha256 and size of every file, and a canary set. Loading checks every listed file, refuses
 * to read a file the manifest does not list, loads the model, then scores the canary texts, which must
 * give the probabilities recorded in the manifest (src/registry/canary.ts; this is also the warm-up).
 *
 * Two kinds of model, named by the manifest's `kind`:
 * - `sentinel-bilstm` (ours): model.json + weights.bin, vocabulary.json, and, for an ensemble, ensemble.json
 *   with the linear model it names (src/sentiment/ensemble.ts);
 * - `keras-converted`: a Keras model from the reference system converted with tensorflowjs_converter
 *   (model.json + shards) plus the Keras tokenizer's word_index as `word_index.json`; `max_length` is
 *   the model's input length. Its manifest is written when it is imported (`npm run model:import`,
 *   src/registry/seal.ts), which reads the optional `labels.json` (label order of the output units).
 *
 * `openModelFiles` opens a directory without a manifest: only for the tools that write one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from './backend';
import { BiLstmScorer } from './bilstm-scorer';
import { layersModelFiles, loadLayersModel } from './model-files';
import { Vocabulary } from './vocabulary';
import { ratesFromManifest, type ConfusionRates } from './confusion-rates';
import { readManifest, requireListed, verifyFiles, zodIssues, type Manifest } from '../registry/manifest';
import { ENSEMBLE_FILE, Ensemble, EnsembleFile } from './ensemble';
import { loadLinearModel } from './linear-model';
import { checkCanary } from '../registry/canary';
import { LABELS, isLabel, type Label } from './labels';

export interface LoadOptions {
  logger?: Pick<Logger, 'info' | 'warn'>;
  maxBatch?: number;
  backend?: BackendName;
  generic?: boolean;
}

/** What a model is, as its manifest (or the tool about to write one) says. */
export interface ModelSpec {
  kind: Manifest['kind'];
  name: string;
  version: string;
  labels: readonly Label[];
  /** The manifest's measured confusion rates (metrics.prevalence), when it has them. */
  prevalence?: ConfusionRates;
}

export async function loadScorer(dir: string, opts: LoadOptions = {}): Promise<BiLstmScorer> {
  if (!existsSync(dir)) throw new Error(`model directory ${dir} does not exist`);
  const manifest = readManifest(dir);
  verifyFiles(dir, manifest);
  requireListed(dir, manifest, modelFiles(dir, manifest.kind));
  const backend = await initBackend(opts.backend);
  const started = performance.now();
  const scorer = await open(dir, { ...manifest, prevalence: ratesFromManifest(manifest.metrics, dir) }, backend, opts);
  try {
    if (scorer.info.maxLength !== manifest.maxLength)
      throw new Error(
        `${dir}: the model reads ${scorer.info.maxLength} tokens, manifest.json says maxLength ${manifest.maxLength}`,
      );
    // The canary is also the warm-up: the first call compiles kernels; no request should pay for it.
    await checkCanary(scorer, manifest.canary, dir);
  } catch (err) {
    scorer.dispose();
    throw err;
  }
  opts.logger?.info(
    {
      model: scorer.info.name,
      version: scorer.info.version,
      backend,
      path: scorer.path,
      canary: manifest.canary.length,
      ms: Math.round(performance.now() - started),
    },
    'model loaded',
  );
  return scorer;
}

/**
 * Opens the model files of `dir` as `spec` says, with no manifest and no check: for the tools that
 * write the manifest (training, model card, seal, Keras import). Never for serving.
 */
export async function openModelFiles(
  dir: string,
  spec: ModelSpec,
  opts: LoadOptions = {},
): Promise<{ scorer: BiLstmScorer; files: string[] }> {
  if (!existsSync(dir)) throw new Error(`model directory ${dir} does not exist`);
  const files = modelFiles(dir, spec.kind);
  const backend = await initBackend(opts.backend);
  return { scorer: await open(dir, spec, backend, opts), files };
}

/**
 * The files the loader reads for a model of `kind` in `dir` (weight shard names checked). A directory with
 * an ensemble.json is an ensemble; `loadScorer` then requires the manifest to list it and its linear model.
 */
export function modelFiles(dir: string, kind: Manifest['kind']): string[] {
  const files = [...layersModelFiles(dir), kind === 'keras-converted' ? 'word_index.json' : 'vocabulary.json'];
  if (kind === 'sentinel-bilstm' && existsSync(join(dir, ENSEMBLE_FILE)))
    files.push(ENSEMBLE_FILE, readEnsembleFile(dir).linear);
  return files;
}

function readEnsembleFile(dir: string): EnsembleFile {
  const path = join(dir, ENSEMBLE_FILE);
  const parsed = EnsembleFile.safeParse(readJson(path));
  if (!parsed.success) throw new Error(`${path}: ${zodIssues(parsed.error)}`);
  return parsed.data;
}

function loadEnsemble(dir: string): Ensemble | undefined {
  if (!existsSync(join(dir, ENSEMBLE_FILE))) return undefined;
  const file = readEnsembleFile(dir);
  return new Ensemble(loadLinearModel(join(dir, file.linear)), file.stacker, file.temperature, file.lexicon);
}

/** A converted Keras model's labels and input length, for the manifest written at import. */
export async function inspectKeras(dir: string): Promise<{ labels: Label[]; maxLength: number; files: string[] }> {
  if (!existsSync(join(dir, 'model.json')))
    throw new Error(`${dir}: no model.json (convert the Keras model with tensorflowjs_converter first)`);
  const indexPath = join(dir, 'word_index.json');
  if (!existsSync(indexPath)) throw new Error(`${indexPath}: missing (the Keras tokenizer's word_index, as JSON)`);
  await initBackend();
  const model = await loadLayersModel(dir);
  try {
    const maxLength = kerasInputLength(model, dir);
    const units = model.outputs[0].shape[1] ?? 1;
    const labels = readKerasLabels(dir, units);
    checkOutputs(model, units === 1 ? 1 : labels.length, dir);
    const files = modelFiles(dir, 'keras-converted');
    return { labels, maxLength, files: existsSync(join(dir, 'labels.json')) ? [...files, 'labels.json'] : files };
  } finally {
    model.dispose();
  }
}

async function open(dir: string, spec: ModelSpec, backend: string, opts: LoadOptions): Promise<BiLstmScorer> {
  const model = await loadLayersModel(dir);
  try {
    let vocabulary: Vocabulary;
    let ensemble: Ensemble | undefined;
    if (spec.kind === 'keras-converted') {
      const maxLength = kerasInputLength(model, dir);
      const wordIndex = kerasWordIndex(readJson(join(dir, 'word_index.json')));
      vocabulary = Vocabulary.fromJSON({ format: 'keras-word-index', tokenizer: 'keras', maxLength, wordIndex });
      const units = model.outputs[0].shape[1] ?? 1;
      checkOutputs(model, units === 1 ? 1 : spec.labels.length, dir);
    } else {
      vocabulary = Vocabulary.fromJSON(readJson(join(dir, 'vocabulary.json')));
      checkOutputs(model, spec.labels.length, dir);
      ensemble = loadEnsemble(dir);
    }
    return new BiLstmScorer({
      model,
      vocabulary,
      labels: spec.labels,
      info: {
        name: spec.name,
        version: spec.version,
        backend,
        ...(spec.prevalence ? { prevalence: spec.prevalence } : {}),
      },
      maxBatch: opts.maxBatch,
      generic: opts.generic,
      ensemble,
    });
  } catch (err) {
    model.dispose();
    throw err;
  }
}

function kerasInputLength(model: tf.LayersModel, dir: string): number {
  const inputShape = model.inputs[0].shape;
  const maxLength = inputShape[1];
  if (typeof maxLength !== 'number')
    throw new Error(`${dir}/model.json: the input needs a fixed length (got ${JSON.stringify(inputShape)})`);
  return maxLength;
}

/** `json.dump(tokenizer.word_index)`, `{"word_index": …}`, or `tokenizer.to_json()` (a JSON string inside config). */
function kerasWordIndex(raw: unknown): unknown {
  const r = raw as { word_index?: unknown; config?: { word_index?: unknown } };
  const nested = r.config?.word_index ?? r.word_index ?? raw;
  return typeof nested === 'string' ? JSON.parse(nested) : nested;
}

function readKerasLabels(dir: string, units: number): Label[] {
  const path = join(dir, 'labels.json');
  if (existsSync(path)) {
    const labels = readJson(path);
    if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string' && isLabel(l))) {
      throw new Error(`${path}: expected an array of labels from ${LABELS.join(', ')}`);
    }
    return labels as Label[];
  }
  if (units === 1 || units === 2) return ['negative', 'positive']; // the reference system was binary
  if (units === 3) return [...LABELS];
  throw new Error(`${dir}: the model has ${units} outputs; add labels.json naming them`);
}

function checkOutputs(model: tf.LayersModel, expected: number, dir: string): void {
  const units = model.outputs[0].shape[1];
  if (units !== expected) throw new Error(`${dir}: the model has ${units} outputs but ${expected} labels are declared`);
}

function readJson(path: string): unknown {
  if (!existsSync(path)) throw new Error(`${path}: missing`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}
