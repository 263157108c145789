/**
 * The local model cache: `<cacheDir>/<version>/` holds one hydrated version, its files and, written
 * last, its manifest.json. A file only ever appears under its own name once it is whole and checked
 * (downloads go to `.<name>.<random>.part` and are renamed), so a directory with a manifest whose files
 * all match it is a complete version; anything else is incomplete and is finished or ignored.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readManifest, verifyFiles, type Manifest } from './manifest';
import { checkName, nameProblem } from './names';

export interface CachedVersion {
  version: string;
  dir: string;
  manifest: Manifest;
}

export const PART_SUFFIX = '.part';

/** `<cacheDir>/<version>`; throws for a version that is not a safe name (`..`, `a/b`, …): nothing outside the cache. */
export function versionDir(cacheDir: string, version: string): string {
  return join(cacheDir, checkName(version, 'model version'));
}

/** The version's manifest if its directory is complete and every file matches it (sizes and sha256), else null. */
export function intactVersion(cacheDir: string, version: string): CachedVersion | null {
  const dir = versionDir(cacheDir, version);
  if (!existsSync(join(dir, 'manifest.json'))) return null;
  try {
    const manifest = readManifest(dir);
    if (manifest.version !== version) return null;
    verifyFiles(dir, manifest);
    return { version, dir, manifest };
  } catch {
    return null;
  }
}

/** Every complete and intact cached version, newest first (by the manifest's creation time, then name). */
export function intactVersions(cacheDir: string, except: string[] = []): CachedVersion[] {
  if (!existsSync(cacheDir)) return [];
  return readdirSync(cacheDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && nameProblem(d.name) === null && !except.includes(d.name))
    .map((d) => intactVersion(cacheDir, d.name))
    .filter((v): v is CachedVersion => v !== null)
    .sort(
      (a, b) => Date.parse(b.manifest.created) - Date.parse(a.manifest.created) || (b.version < a.version ? -1 : 1),
    );
}

/** Temporary files left by a download that was interrupted (a crash, a kill): never loaded, removed at start-up. */
export function removeStaleParts(cacheDir: string): string[] {
  const removed: string[] = [];
  if (!existsSync(cacheDir)) return removed;
  for (const d of readdirSync(cacheDir, { withFileTypes: true })) {
    if (!d.isDirectory()) continue;
    const dir = join(cacheDir, d.name);
    for (const f of readdirSync(dir)) {
      if (f.startsWith('.') && f.endsWith(PART_SUFFIX)) {
        rmSync(join(dir, f), { force: true });
        removed.push(join(dir, f));
      }
    }
  }
  return removed;
}

/**
 * Deletes cached versions beyond the `keep` most recently used ones, never those in `protect` (the one
 * serving, the one being hydrated). Returns the versions removed.
 */
export function pruneCache(cacheDir: string, protect: string[], keep: number): string[] {
  if (!existsSync(cacheDir)) return [];
  const dirs = readdirSync(cacheDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && nameProblem(d.name) === null && !protect.includes(d.name))
    .map((d) => ({ name: d.name, mtime: statSync(join(cacheDir, d.name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  const removed: string[] = [];
  for (const d of dirs.slice(keep)) {
    rmSync(join(cacheDir, d.name), { recursive: true, force: true });
    removed.push(d.name);
  }
  return removed;
}
