/**
 * Writing a manifest: the sha256 and size of every file and the canary set scored by the model itself.
 * Every tool that writes one goes through here (`npm run train`, `npm run model:card`,
 * `npm run model:seal`, `npm run model:import`), so that no model directory is ever served without a
 * manifest and every manifest carries a canary recorded from the files it lists.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { BiLstmScorer } from '../sentiment/bilstm-scorer';
import { inspectKeras, modelFiles, openModelFiles, type LoadOptions } from '../sentiment/load';
import { recordCanary } from './canary';
import {
  CanaryEntry,
  Manifest,
  MANIFEST_FILE,
  describeFiles,
  writeManifest,
  zodIssues,
  type ManifestInput,
} from './manifest';
import { checkName } from './names';

export type ManifestBase = Omit<ManifestInput, 'files' | 'canary'>;

/**
 * Seals `dir`: opens its model files as `base` describes (or uses `scorer`, already open on them),
 * records the canary, lists the model's files plus `extraFiles` with their sha256, and writes
 * manifest.json. Returns the manifest written.
 */
export async function sealModel(
  dir: string,
  base: ManifestBase,
  opts: { extraFiles?: string[]; scorer?: BiLstmScorer; load?: LoadOptions } = {},
): Promise<Manifest> {
  checkName(base.version, 'model version');
  const kind = base.kind ?? 'sentinel-bilstm';
  let scorer = opts.scorer;
  const own = !scorer;
  if (!scorer)
    scorer = (
      await openModelFiles(
        dir,
        { kind, name: base.name, version: base.version, labels: base.labels },
        { maxBatch: 64, ...opts.load },
      )
    ).scorer;
  try {
    const canary = await recordCanary(scorer);
    const names = [...new Set([...modelFiles(dir, kind), ...(opts.extraFiles ?? [])])]
      .filter((f) => f !== MANIFEST_FILE)
      .map((f) => checkName(f, `file of ${dir}`));
    return writeManifest(dir, { ...base, kind, files: describeFiles(dir, names), canary });
  } finally {
    if (own) scorer.dispose();
  }
}

/** A manifest from before canaries, or one whose checksums are stale: what `reseal` starts from. */
const PreviousManifest = Manifest.extend({ canary: z.array(CanaryEntry).optional() });

/**
 * Re-seals a model directory that has a manifest (ours or an imported one): keeps its metadata
 * (`update` may change some), records the canary again, and lists the model's files, the files the
 * manifest listed that are still there, and `extraFiles`.
 */
export async function reseal(
  dir: string,
  opts: { extraFiles?: string[]; update?: Partial<ManifestBase>; scorer?: BiLstmScorer; load?: LoadOptions } = {},
): Promise<Manifest> {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path))
    throw new Error(
      `${MANIFEST_FILE} missing in ${dir}: nothing to re-seal (a converted Keras model: npm run model:import -- --model ${dir})`,
    );
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const parsed = PreviousManifest.safeParse(json);
  if (!parsed.success) throw new Error(`${path}: invalid manifest (${zodIssues(parsed.error)})`);
  const { files, canary: _canary, ...base } = parsed.data;
  void _canary;
  const kept = files.map((f) => f.path).filter((f) => existsSync(join(dir, f)));
  return sealModel(
    dir,
    { ...base, ...opts.update },
    { extraFiles: [...kept, ...(opts.extraFiles ?? [])], scorer: opts.scorer, load: opts.load },
  );
}

export interface ImportOptions {
  /** Where the imported model goes (default: the Keras directory itself). */
  out?: string;
  /** Default: `keras-<the VERSION file>`, else `keras-<date>`. */
  version?: string;
  load?: LoadOptions;
}

/**
 * Imports a Keras model converted with tensorflowjs_converter (model.json + shards, word_index.json,
 * optional labels.json): checks that it loads and scores, copies its files to `out` if given, and
 * writes the manifest (kind `keras-converted`, sha256 of every file, canary). From then on it is served
 * like any other model, and refused like any other if a file changes.
 */
export async function importKeras(source: string, opts: ImportOptions = {}): Promise<Manifest> {
  if (!existsSync(source) || !statSync(source).isDirectory()) throw new Error(`${source}: no such directory`);
  const { labels, maxLength, files } = await inspectKeras(source);
  const versionFile = join(source, 'VERSION');
  const version =
    opts.version ??
    (existsSync(versionFile)
      ? `keras-${readFileSync(versionFile, 'utf8').trim()}`
      : `keras-${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`);
  checkName(version, 'model version');
  const out = opts.out ?? source;
  if (resolve(out) !== resolve(source)) {
    mkdirSync(out, { recursive: true });
    for (const f of files) copyFileSync(join(source, f), join(out, f));
  }
  return sealModel(
    out,
    {
      name: 'keras-converted',
      version,
      created: new Date().toISOString(),
      kind: 'keras-converted',
      labels,
      maxLength,
      trainingData: [`imported from ${source} (a Keras model converted with tensorflowjs_converter)`],
      metrics: {},
    },
    { extraFiles: files, load: opts.load },
  );
}
