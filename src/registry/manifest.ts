/**
 * manifest.json: what a model directory holds, how it was made, the checksum of every file, and the
 * canary set (labelled texts with the probabilities the model gave them when the manifest was written).
 * No manifest, no load: a directory without one is refused, whatever else it holds.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { LABELS } from '../sentiment/labels';
import { NAME_RULE, nameProblem } from './names';

export const MANIFEST_FILE = 'manifest.json';

/** A safe name (src/registry/names.ts), with the reason in the schema's error when it is not. */
export const SafeName = z.string().superRefine((value, ctx) => {
  const problem = nameProblem(value);
  if (problem)
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(value)} is not a safe name: it ${problem} (${NAME_RULE})`,
    });
});

export const ManifestFile = z.object({
  path: SafeName,
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
});

const Probability = z.number().min(0).max(1);

/** One text of the canary set: its human label and the probabilities recorded for it. */
export const CanaryEntry = z.object({
  text: z.string().min(1),
  label: z.enum(LABELS),
  probabilities: z.object({ negative: Probability, neutral: Probability, positive: Probability }),
});
export type CanaryEntry = z.infer<typeof CanaryEntry>;

export const Manifest = z.object({
  name: z.string().min(1),
  version: SafeName,
  created: z.string().datetime({ offset: true }),
  kind: z.enum(['sentinel-bilstm', 'keras-converted']).default('sentinel-bilstm'),
  labels: z.array(z.enum(LABELS)).min(2),
  maxLength: z.number().int().positive(),
  trainingData: z.array(z.string()),
  metrics: z.record(z.string(), z.unknown()).default({}),
  files: z.array(ManifestFile).min(1),
  /** Scored after every load; a model that does not give these probabilities is refused (src/registry/canary.ts). */
  canary: z.array(CanaryEntry).min(1, 'the canary set is empty: re-seal the model (see docs/models.md)'),
});
export type Manifest = z.infer<typeof Manifest>;
export type ManifestInput = z.input<typeof Manifest>;

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function describeFiles(dir: string, names: string[]): z.infer<typeof ManifestFile>[] {
  return names.map((path) => ({ path, sha256: sha256File(join(dir, path)), size: statSync(join(dir, path)).size }));
}

/** The issues of a failed parse, one line. */
export function zodIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** Parses manifest JSON (from disk or the bucket); `where` names it in the error. */
export function parseManifest(json: unknown, where: string): Manifest {
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) throw new Error(`${where}: invalid manifest (${zodIssues(parsed.error)})`);
  return parsed.data;
}

export function readManifest(dir: string): Manifest {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path))
    throw new Error(
      `${MANIFEST_FILE} missing in ${dir}: a model directory is only served with a manifest listing the sha256 of ` +
        'every file and its canary set (a converted Keras model: `npm run model:import`; a model of ours: `npm run model:seal`; see docs/models.md)',
    );
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  return parseManifest(json, path);
}

/** Writes `manifest` (validated first: nothing invalid is ever written) as `<dir>/manifest.json`. */
export function writeManifest(dir: string, manifest: ManifestInput): Manifest {
  const checked = parseManifest(manifest, join(dir, MANIFEST_FILE));
  writeFileSync(join(dir, MANIFEST_FILE), `${JSON.stringify(checked, null, 2)}\n`);
  return checked;
}

/** Every file listed must exist with the recorded size and sha256: a half-copied model never loads. */
export function verifyFiles(dir: string, manifest: Manifest): void {
  for (const f of manifest.files) {
    const path = join(dir, f.path);
    if (!existsSync(path)) throw new Error(`${path}: listed in manifest.json but missing`);
    const size = statSync(path).size;
    if (size !== f.size) throw new Error(`${path}: ${size} bytes, manifest.json says ${f.size}`);
    const sum = sha256File(path);
    if (sum !== f.sha256)
      throw new Error(`${path}: sha256 ${sum.slice(0, 12)}… does not match manifest.json (${f.sha256.slice(0, 12)}…)`);
  }
}

/** Every file the loader reads must be one the manifest checks: an unlisted file is never read. */
export function requireListed(dir: string, manifest: Manifest, names: string[]): void {
  const listed = new Set(manifest.files.map((f) => f.path));
  const missing = names.filter((n) => !listed.has(n));
  if (missing.length)
    throw new Error(
      `${join(dir, MANIFEST_FILE)}: does not list ${missing.join(', ')}, which the model needs: an unchecked file is never loaded`,
    );
}
