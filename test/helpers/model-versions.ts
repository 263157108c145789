/**
 * Model versions for registry tests: copies of the shipped model under another version name (same
 * weights, so they load and score for real), and a way to put a version straight into a GcsServer's
 * bucket in the registry's layout.
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log';
import type { GcsServer } from './gcs-server';

export const SHIPPED = join(__dirname, '../../models/sentinel-bilstm');

export function shippedVersion(): string {
  return (JSON.parse(readFileSync(join(SHIPPED, 'manifest.json'), 'utf8')) as { version: string }).version;
}

/** A copy of the shipped model as `version` (created `minutesLater` after the shipped one). */
export function makeVersion(root: string, version: string, minutesLater = 1): string {
  const dir = join(root, `model-${version}`);
  cpSync(SHIPPED, dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { version: string; created: string };
  manifest.version = version;
  manifest.created = new Date(Date.parse(manifest.created) + minutesLater * 60_000).toISOString();
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

/** Puts the model directory's files (manifest last) under `<prefix>/<version>/`, and the pointer if asked. */
export function seedVersion(
  server: GcsServer,
  bucket: string,
  prefix: string,
  dir: string,
  opts: { latest?: boolean; mutate?: (file: string, data: Buffer) => Buffer } = {},
): string {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { version: string };
  const files = readdirSync(dir).filter((f) => f !== 'manifest.json');
  for (const f of [...files, 'manifest.json']) {
    const data = readFileSync(join(dir, f));
    server.put(bucket, `${prefix}/${manifest.version}/${f}`, opts.mutate ? opts.mutate(f, data) : data);
  }
  if (opts.latest !== false) setPointer(server, bucket, prefix, manifest.version);
  return manifest.version;
}

export function setPointer(server: GcsServer, bucket: string, prefix: string, version: string): void {
  server.put(
    bucket,
    `${prefix}/latest.json`,
    JSON.stringify({ version, published: new Date().toISOString() }),
    'application/json',
  );
}

export function tempRoot(name: string): string {
  return mkdtempSync(join(tmpdir(), `sentinel-${name}-`));
}

/** A logger whose JSON lines are kept, to check what was said (and how loudly). */
export function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { logger: createLogger('debug', { stream }), lines };
}
