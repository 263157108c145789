/**
 * A model directory → a ready Scorer, or an Error that says exactly what is wrong. Never a fallback.
 *
 * Two layouts are accepted:
 * - ours: manifest.json (checksums verified), model.json + weights.bin, vocabulary.json;
 * - a Keras model from the reference system converted with tensorflowjs_converter (model.json + shards)
 *   plus the Keras tokenizer's word_index as `word_index.json`; optional `labels.json` (label order of
 *   the output units) and `max_length` taken from the model's input shape.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendName } from './backend';
import { BiLstmScorer } from './bilstm-scorer';
import { loadLayersModel } from './model-files';
import { Vocabulary } from './vocabulary';
import { readManifest, verifyFiles } from '../registry/manifest';
import { LABELS, isLabel, type Label } from './labels';

export interface LoadOptions {
  logger?: Pick<Logger, 'info' | 'warn'>;
  maxBatch?: number;
  backend?: BackendName;
  generic?: boolean;
}

export async function loadScorer(dir: string, opts: LoadOptions = {}): Promise<BiLstmScorer> {
  if (!existsSync(dir)) throw new Error(`model directory ${dir} does not exist`);
  const backend = await initBackend(opts.backend);
  const started = performance.now();
  const scorer = existsSync(join(dir, 'manifest.json'))
    ? await loadSentinelModel(dir, backend, opts)
    : await loadKerasModel(dir, backend, opts);
  // Warm-up: the first call compiles kernels; no request should pay for it.
  await scorer.score(['warm up the model']);
  opts.logger?.info(
    {
      model: scorer.info.name,
      version: scorer.info.version,
      backend,
      path: scorer.path,
      ms: Math.round(performance.now() - started),
    },
    'model loaded',
  );
  return scorer;
}

async function loadSentinelModel(dir: string, backend: string, opts: LoadOptions): Promise<BiLstmScorer> {
  const manifest = readManifest(dir);
  verifyFiles(dir, manifest);
  const vocabulary = Vocabulary.fromJSON(readJson(join(dir, 'vocabulary.json')));
  const model = await loadLayersModel(dir);
  checkOutputs(model, manifest.labels.length, dir);
  return new BiLstmScorer({
    model,
    vocabulary,
    labels: manifest.labels,
    info: { name: manifest.name, version: manifest.version, backend },
    maxBatch: opts.maxBatch,
    generic: opts.generic,
  });
}

async function loadKerasModel(dir: string, backend: string, opts: LoadOptions): Promise<BiLstmScorer> {
  const indexPath = join(dir, 'word_index.json');
  if (!existsSync(join(dir, 'model.json'))) {
    throw new Error(`${dir}: neither manifest.json (a Sentinel model) nor model.json (a converted Keras model)`);
  }
  if (!existsSync(indexPath)) throw new Error(`${indexPath}: missing (the Keras tokenizer's word_index, as JSON)`);
  const model = await loadLayersModel(dir);
  const inputShape = model.inputs[0].shape;
  const maxLength = inputShape[1];
  if (typeof maxLength !== 'number')
    throw new Error(`${dir}/model.json: the input needs a fixed length (got ${JSON.stringify(inputShape)})`);
  const wordIndex = kerasWordIndex(readJson(indexPath));
  const vocabulary = Vocabulary.fromJSON({ format: 'keras-word-index', tokenizer: 'keras', maxLength, wordIndex });
  const units = model.outputs[0].shape[1] ?? 1;
  const labels = readKerasLabels(dir, units);
  checkOutputs(model, units === 1 ? 1 : labels.length, dir);
  return new BiLstmScorer({
    model,
    vocabulary,
    labels,
    info: {
      name: 'keras-converted',
      version: `keras-${existsSync(join(dir, 'VERSION')) ? readFileSync(join(dir, 'VERSION'), 'utf8').trim() : 'unversioned'}`,
      backend,
    },
    maxBatch: opts.maxBatch,
    generic: opts.generic,
  });
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
