/**
 * TensorFlow.js layers-format files on disk (model.json + weight shards), without tfjs-node's file://
 * handler so that it works on every backend. Reads both our own layout and tensorflowjs_converter's.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { checkName } from '../registry/names';

interface ModelJson {
  modelTopology: object;
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

export async function saveLayersModel(model: tf.LayersModel, dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = Buffer.from(artifacts.weightData as ArrayBuffer);
      writeFileSync(join(dir, 'weights.bin'), weights);
      const json: ModelJson = {
        modelTopology: artifacts.modelTopology as object,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
      };
      writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return ['model.json', 'weights.bin'];
}

/** model.json, parsed and checked: a layers model whose weight files are plain names inside `dir`. */
function readModelJson(dir: string): ModelJson {
  const jsonPath = join(dir, 'model.json');
  if (!existsSync(jsonPath)) throw new Error(`${jsonPath}: missing (a TensorFlow.js layers model.json is required)`);
  let json: ModelJson;
  try {
    json = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (err) {
    throw new Error(`${jsonPath}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (!json || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new Error(`${jsonPath}: not a layers model (needs modelTopology and weightsManifest)`);
  }
  for (const group of json.weightsManifest) {
    if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights))
      throw new Error(`${jsonPath}: every weightsManifest entry needs "paths" and "weights"`);
    for (const p of group.paths) checkName(p, `weight file named in ${jsonPath}`);
  }
  return json;
}

/** The files a layers model reads: model.json and its weight shards (names checked, see names.ts). */
export function layersModelFiles(dir: string): string[] {
  return ['model.json', ...readModelJson(dir).weightsManifest.flatMap((g) => g.paths)];
}

export async function loadLayersModel(dir: string): Promise<tf.LayersModel> {
  const json = readModelJson(dir);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const shards: Buffer[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      const shardPath = join(dir, p);
      if (!existsSync(shardPath)) throw new Error(`${shardPath}: weight file named in model.json is missing`);
      shards.push(readFileSync(shardPath));
    }
  }
  const all = Buffer.concat(shards);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const expected = specs.reduce(
    (n, s) => n + s.shape.reduce((a, b) => a * b, 1) * bytesPer(s.quantization?.dtype ?? s.dtype),
    0,
  );
  if (expected !== all.byteLength) {
    throw new Error(`${dir}: weights hold ${all.byteLength} bytes, model.json describes ${expected}`);
  }
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData }));
}

function bytesPer(dtype: string): number {
  if (dtype === 'float32' || dtype === 'int32') return 4;
  if (dtype === 'bool' || dtype === 'uint8') return 1;
  if (dtype === 'float16' || dtype === 'uint16' || dtype === 'int16') return 2;
  throw new Error(`unsupported weight dtype ${dtype}`);
}
