/**
 * A Keras model converted with tensorflowjs_converter, plus the tokenizer's word_index: the route for
 * users of the reference system. The converter writes the Keras topology as JSON and the weights as
 * `group1-shard1of1.bin`; tfjs saves the same Keras JSON, so the fixture is built here in that layout.
 * Its weights are random: this checks the import (the manifest it writes), the loading and the Keras
 * tokenisation, not quality.
 */
import { existsSync, mkdtempSync, renameSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadScorer } from '../../src/sentiment/load';
import { initBackend } from '../../src/sentiment/backend';
import { saveLayersModel } from '../../src/sentiment/model-files';
import { kerasTokenize } from '../../src/sentiment/normalize';
import { readManifest } from '../../src/registry/manifest';
import { importKeras } from '../../src/registry/seal';
import { runCli } from '../../src/registry/cli';

const dir = mkdtempSync(join(tmpdir(), 'sentinel-keras-'));
const wordIndex: Record<string, number> = { the: 1, flight: 2, was: 3, late: 4, great: 5, crew: 6, "don't": 7 };
let model: tf.LayersModel;

beforeAll(async () => {
  await initBackend();
  model = tf.sequential({
    layers: [
      tf.layers.embedding({ inputDim: 10, outputDim: 8, inputLength: 20 }),
      tf.layers.lstm({ units: 4, recurrentActivation: 'hardSigmoid' }),
      tf.layers.dense({ units: 1, activation: 'sigmoid' }),
    ],
  });
  await saveLayersModel(model, dir);
  renameSync(join(dir, 'weights.bin'), join(dir, 'group1-shard1of1.bin'));
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  json.weightsManifest[0].paths = ['group1-shard1of1.bin'];
  json.convertedBy = 'TensorFlow.js Converter v4.22.0';
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  // tokenizer.to_json() keeps word_index as a JSON string inside config
  writeFileSync(
    join(dir, 'word_index.json'),
    JSON.stringify({ class_name: 'Tokenizer', config: { word_index: JSON.stringify(wordIndex) } }),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('tokenises like Keras: lower case, its punctuation filters, apostrophes kept', () => {
  expect(kerasTokenize("The flight, was LATE!!! (don't) @crew #great")).toEqual([
    'the',
    'flight',
    'was',
    'late',
    "don't",
    'crew',
    'great',
  ]);
});

it('is not served before it is imported: no manifest, no load', async () => {
  await expect(loadScorer(dir)).rejects.toThrow(`manifest.json missing in ${dir}: `);
});

it('the import writes a manifest: every file with its sha256, the labels, the input length, a canary', async () => {
  writeFileSync(join(dir, 'VERSION'), '2024-06\n');
  const out = join(dir, 'imported');
  const manifest = await importKeras(dir, { out });
  expect(manifest).toMatchObject({
    name: 'keras-converted',
    version: 'keras-2024-06',
    kind: 'keras-converted',
    labels: ['negative', 'positive'],
    maxLength: 20,
  });
  expect(manifest.files.map((f) => f.path)).toEqual(['model.json', 'group1-shard1of1.bin', 'word_index.json']);
  expect(manifest.canary).toHaveLength(12);
  expect(readManifest(out)).toEqual(manifest);
  expect(existsSync(join(dir, 'manifest.json'))).toBe(false); // the source is left as it was

  // In place, through the command line (npm run model:import -- --model <dir> --version <v>).
  const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    expect(await runCli(['import', '--model', dir, '--version', 'ref-v1'], {})).toBe(0);
  } finally {
    write.mockRestore();
    err.mockRestore();
  }
  expect(readManifest(dir).version).toBe('ref-v1');
});

it('an import with an unsafe version name is refused, nothing written', async () => {
  const out = join(dir, 'unsafe');
  await expect(importKeras(dir, { out, version: '../escape' })).rejects.toThrow(
    'model version "../escape" is not a safe name: it contains a path separator',
  );
  expect(existsSync(out)).toBe(false);
});

it('loads the imported model and scores with Keras ids, padding and a sigmoid output', async () => {
  const scorer = await loadScorer(dir);
  expect(scorer.path).toBe('generic');
  expect(scorer.info.labels).toEqual(['negative', 'positive']);
  const text = 'The flight was LATE, great crew';
  const [p] = await scorer.score([text]);
  const ids = kerasTokenize(text).map((w) => wordIndex[w]);
  const padded = [...new Array(20 - ids.length).fill(0), ...ids]; // pad_sequences' default: 'pre'
  const expected = (model.predict(tf.tensor2d([padded], [1, 20], 'int32')) as tf.Tensor).dataSync()[0];
  expect(p.probabilities.positive).toBeCloseTo(expected, 5);
  expect(p.probabilities.negative).toBeCloseTo(1 - expected, 5);
  expect(p.probabilities.neutral).toBe(0);
  scorer.dispose();
});

it('a file changed after the import is refused; mentions and links are never read, even as known words', async () => {
  const imported = join(dir, 'imported');
  // A word index that knows "airparadis", "https" and "co" (what Keras makes of a mention and a link).
  writeFileSync(join(imported, 'word_index.json'), JSON.stringify({ ...wordIndex, airparadis: 8, https: 9 }));
  await expect(loadScorer(imported)).rejects.toThrow(/imported\/word_index\.json: .*manifest\.json says/);
  await importKeras(imported, { version: 'ref-v2' }); // re-imported: a new manifest for the new files
  const scorer = await loadScorer(imported);
  expect(scorer.unreadable('@AirParadis https://t.co/x')).toBe('only mentions and links');
  expect(scorer.unreadable('@AirParadis zzz')).toBe('no words the model knows');
  expect(scorer.unreadable('\u200b')).toBe('empty after removing invisible characters');
  expect(scorer.unreadable('@AirParadis the crew, GREAT!')).toBeNull();
  scorer.dispose();
});

it('says what is missing when the word index is absent', async () => {
  rmSync(join(dir, 'word_index.json'));
  await expect(importKeras(dir)).rejects.toThrow(/word_index\.json: missing/);
  await expect(loadScorer(dir)).rejects.toThrow(/word_index\.json: listed in manifest\.json but missing/);
});
