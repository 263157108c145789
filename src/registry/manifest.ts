/** manifest.json: what a model directory holds, how it was made, and the checksum of every file. */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { LABELS } from '../sentiment/labels';

export const ManifestFile = z.object({
  path: z.string().regex(/^[\w.-]+$/, 'a plain file name inside the model directory'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
});

export const Manifest = z.object({
  name: z.string().min(1),
  version: z.string().regex(/^[\w.-]+$/, 'letters, digits, dot, dash, underscore'),
  created: z.string().datetime({ offset: true }),
  kind: z.enum(['sentinel-bilstm', 'keras-converted']).default('sentinel-bilstm'),
  labels: z.array(z.enum(LABELS)).min(2),
  maxLength: z.number().int().positive(),
  trainingData: z.array(z.string()),
  metrics: z.record(z.string(), z.unknown()).default({}),
  files: z.array(ManifestFile).min(1),
});
export type Manifest = z.infer<typeof Manifest>;

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function describeFiles(dir: string, names: string[]): z.infer<typeof ManifestFile>[] {
  return names.map((path) => ({ path, sha256: sha256File(join(dir, path)), size: statSync(join(dir, path)).size }));
}

export function readManifest(dir: string): Manifest {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) throw new Error(`${path}: missing`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${path}: invalid manifest (${issues})`);
  }
  return parsed.data;
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
