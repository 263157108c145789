/**
 * The bucket layout, and the operations on it: read the pointer, hydrate a version into the local
 * cache, list versions, publish a version.
 *
 *   gs://<bucket>/<prefix>/<version>/manifest.json   name, version, labels, metrics, sha256 + size of each file
 *   gs://<bucket>/<prefix>/<version>/<file>…         model.json, weights.bin, vocabulary.json, …
 *   gs://<bucket>/<prefix>/latest.json               {"version": "…", "published": "…", "previous": "…"}
 *
 * Versions are immutable: every object of a version is written with ifGenerationMatch=0 (only if it does
 * not exist), manifest.json last, so a version with a manifest is complete. The pointer is written last,
 * with ifGenerationMatch=<the generation read>, so of two publishers racing exactly one moves it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname, userInfo } from 'node:os';
import { z } from 'zod';
import { intactVersion, PART_SUFFIX, versionDir } from './cache';
import { GcsError, GcsObjects, type GcsSettings, type ObjectInfo } from './gcs';
import { Manifest, SafeName, readManifest, sha256File, verifyFiles, zodIssues } from './manifest';
import { checkName, nameProblem, prefixProblem } from './names';

export const POINTER_FILE = 'latest.json';

export const Pointer = z.object({
  version: SafeName,
  published: z.string().optional(),
  publishedBy: z.string().optional(),
  previous: z.string().optional(),
});
export type Pointer = z.infer<typeof Pointer>;

export interface HydrateResult {
  version: string;
  dir: string;
  manifest: Manifest;
  /** True when the version was already in the cache, intact: nothing was downloaded. */
  cached: boolean;
  /** Files downloaded now, and their bytes. */
  downloaded: string[];
  bytes: number;
  ms: number;
}

export interface HydrateOptions {
  /** Files downloaded at once. */
  concurrency?: number;
  /** Tries per file when a download fails in transit (timeout, cut connection, 5xx, crc32c mismatch). */
  attempts?: number;
}

export interface VersionListing {
  version: string;
  latest: boolean;
  /** From the version's manifest.json; absent when it has none (an incomplete publish). */
  manifest?: Manifest;
  problem?: string;
  files: number;
  bytes: number;
}

export interface PublishResult {
  version: string;
  files: ObjectInfo[];
  pointer: { version: string; generation: string; previous?: string } | null;
}

export class ModelBucket {
  readonly objects: GcsObjects;
  readonly prefix: string;

  constructor(readonly settings: GcsSettings) {
    const problem = prefixProblem(settings.prefix);
    if (problem) throw new Error(`model bucket prefix ${JSON.stringify(settings.prefix)} is not safe: it ${problem}`);
    this.objects = new GcsObjects(settings);
    this.prefix = settings.prefix.replace(/^\/+|\/+$/g, '');
  }

  /** A version name that could leave the cache directory or the prefix (`..`, `a/b`…) is refused before any request. */
  private checkVersion(version: string): void {
    try {
      checkName(version, 'model version');
    } catch (err) {
      throw new GcsError('invalid', (err as Error).message);
    }
  }

  /** gs://bucket/prefix/[rest] */
  url(rest = ''): string {
    return this.objects.url(`${this.prefix}/${rest}`);
  }

  pointerName(): string {
    return `${this.prefix}/${POINTER_FILE}`;
  }

  /** `<prefix>/<version>/<file>`; both must be safe names (src/registry/names.ts). */
  objectName(version: string, file: string): string {
    return `${this.prefix}/${checkName(version, 'model version')}/${checkName(file, 'model file')}`;
  }

  /** latest.json and its generation, or null when there is none yet. */
  async readPointer(): Promise<{ pointer: Pointer; generation: string } | null> {
    const got = await this.objects.read(this.pointerName());
    if (!got) return null;
    let json: unknown;
    try {
      json = JSON.parse(got.data.toString('utf8'));
    } catch (err) {
      throw new GcsError('invalid', `${this.url(POINTER_FILE)}: not valid JSON (${(err as Error).message})`);
    }
    const parsed = Pointer.safeParse(json);
    if (!parsed.success)
      throw new GcsError('invalid', `${this.url(POINTER_FILE)}: not a model pointer (${zodIssues(parsed.error)})`);
    return { pointer: parsed.data, generation: got.generation };
  }

  /** The version latest.json names; a clear error when there is no pointer. */
  async latestVersion(): Promise<string> {
    const got = await this.readPointer();
    if (!got)
      throw new GcsError(
        'not_found',
        `${this.url(POINTER_FILE)} does not exist: no model has been published under this prefix ` +
          `(npm run model:publish -- --model <dir> --bucket ${this.settings.bucket} --prefix ${this.prefix})`,
      );
    return got.pointer.version;
  }

  async readRemoteManifest(version: string): Promise<{ manifest: Manifest; raw: Buffer }> {
    this.checkVersion(version);
    const name = this.objectName(version, 'manifest.json');
    const got = await this.objects.read(name);
    if (!got)
      throw new GcsError(
        'not_found',
        `${this.url(`${version}/manifest.json`)} does not exist: version ${version} was never published, or its publication did not finish`,
      );
    let json: unknown;
    try {
      json = JSON.parse(got.data.toString('utf8'));
    } catch (err) {
      throw new GcsError('invalid', `${this.objects.url(name)}: not valid JSON (${(err as Error).message})`);
    }
    const parsed = Manifest.safeParse(json);
    if (!parsed.success)
      throw new GcsError('invalid', `${this.objects.url(name)}: invalid manifest (${zodIssues(parsed.error)})`);
    if (parsed.data.version !== version)
      throw new GcsError(
        'invalid',
        `${this.objects.url(name)}: says version ${parsed.data.version}, but it is stored as version ${version}`,
      );
    return { manifest: parsed.data, raw: got.data };
  }

  /**
   * Makes `<cacheDir>/<version>/` a complete, verified copy of the version. An intact cached copy costs
   * no request. Otherwise: the manifest, one listing of the version's objects (sizes, crc32c,
   * generations), then the files in parallel, each to a temporary name, checked (size, sha256 against
   * the manifest, crc32c against GCS's metadata) and renamed into place; files already there and
   * intact are kept; manifest.json is written last. On failure no unchecked byte is left under a real
   * name, and the error says which file and why.
   */
  async hydrate(version: string, cacheDir: string, opts: HydrateOptions = {}): Promise<HydrateResult> {
    const started = performance.now();
    this.checkVersion(version);
    const hit = intactVersion(cacheDir, version);
    if (hit) return { ...hit, cached: true, downloaded: [], bytes: 0, ms: Math.round(performance.now() - started) };

    const { manifest, raw } = await this.readRemoteManifest(version);
    const listing = new Map(
      (await this.objects.list(`${this.prefix}/${version}/`)).map((o) => [
        o.name.slice(this.prefix.length + version.length + 2),
        o,
      ]),
    );
    for (const f of manifest.files) {
      const o = listing.get(f.path);
      if (!o)
        throw new GcsError(
          'invalid',
          `${this.url(`${version}/${f.path}`)}: listed in manifest.json but not in the bucket`,
        );
      if (o.size !== f.size)
        throw new GcsError(
          'checksum',
          `${this.url(`${version}/${f.path}`)}: ${o.size} bytes in the bucket, manifest.json says ${f.size}`,
        );
    }

    const dir = versionDir(cacheDir, version);
    mkdirSync(dir, { recursive: true });
    const toFetch = manifest.files.filter((f) => {
      try {
        return sha256File(join(dir, f.path)) !== f.sha256;
      } catch {
        return true; // not there yet
      }
    });
    const attempts = Math.max(1, opts.attempts ?? 3);
    let bytes = 0;
    const failures: Error[] = [];
    const queue = [...toFetch];
    const worker = async () => {
      for (let f = queue.shift(); f && failures.length === 0; f = queue.shift()) {
        const o = listing.get(f.path)!;
        const target = join(dir, f.path);
        for (let attempt = 1; ; attempt++) {
          const part = join(dir, `.${f.path}.${randomBytes(4).toString('hex')}${PART_SUFFIX}`);
          try {
            await this.objects.download(o.name, o.generation, part, {
              size: f.size,
              sha256: f.sha256,
              crc32c: o.crc32c,
            });
            renameSync(part, target);
            bytes += f.size;
            break;
          } catch (err) {
            const e = err as GcsError;
            if (!e.transient || attempt >= attempts) {
              failures.push(e);
              return;
            }
            await new Promise((r) => setTimeout(r, 25 * 2 ** attempt));
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 4, Math.max(1, toFetch.length)) }, worker));
    if (failures.length) throw failures[0];

    // The manifest last: its presence marks the version complete.
    const part = join(dir, `.manifest.json.${randomBytes(4).toString('hex')}${PART_SUFFIX}`);
    writeFileSync(part, raw, { flag: 'wx' });
    renameSync(part, join(dir, 'manifest.json'));
    return {
      version,
      dir,
      manifest,
      cached: false,
      downloaded: toFetch.map((f) => f.path),
      bytes,
      ms: Math.round(performance.now() - started),
    };
  }

  /** Every version under the prefix, newest first, with its manifest (metrics) and whether latest.json names it. */
  async listVersions(): Promise<VersionListing[]> {
    const [prefixes, pointer] = await Promise.all([
      this.objects.listPrefixes(`${this.prefix}/`),
      this.readPointer().catch(() => null),
    ]);
    const versions = prefixes.map((p) => p.slice(this.prefix.length + 1).replace(/\/$/, ''));
    const out = await Promise.all(
      versions.map(async (version): Promise<VersionListing> => {
        const objects = await this.objects.list(`${this.prefix}/${version}/`);
        const base = {
          version,
          latest: pointer?.pointer.version === version,
          files: objects.length,
          bytes: objects.reduce((n, o) => n + o.size, 0),
        };
        const unsafe = nameProblem(version);
        if (unsafe) return { ...base, problem: `not a valid version name (it ${unsafe}): never served` };
        try {
          return { ...base, manifest: (await this.readRemoteManifest(version)).manifest };
        } catch (err) {
          return { ...base, problem: (err as Error).message };
        }
      }),
    );
    return out.sort(
      (a, b) =>
        Date.parse(b.manifest?.created ?? '1970-01-01T00:00:00Z') -
          Date.parse(a.manifest?.created ?? '1970-01-01T00:00:00Z') || (b.version < a.version ? -1 : 1),
    );
  }

  /**
   * Publishes the model directory `dir` as its manifest's version: checks it locally (manifest, sizes,
   * sha256), refuses if the version exists, uploads the files (manifest.json last, each only if absent),
   * then moves latest.json with a generation precondition. `setLatest: false` uploads without moving it.
   */
  async publish(
    dir: string,
    opts: { setLatest?: boolean; resumableAbove?: number; log?: (m: string) => void } = {},
  ): Promise<PublishResult> {
    const manifest = readManifest(dir);
    verifyFiles(dir, manifest);
    const version = manifest.version;
    const log = opts.log ?? (() => undefined);

    // Read the pointer first: the precondition below makes the pointer move only if nobody moved it since.
    const before = opts.setLatest === false ? null : await this.readPointer();
    const existing = await this.objects.list(`${this.prefix}/${version}/`);
    if (existing.length)
      throw new GcsError(
        'conflict',
        `version ${version} already exists in ${this.url(`${version}/`)} (${existing.length} objects): versions are immutable; give the model a new version in its manifest.json`,
      );

    const files: ObjectInfo[] = [];
    const names = [...manifest.files.map((f) => f.path).filter((p) => p !== 'manifest.json'), 'manifest.json'];
    for (const name of names) {
      const data = readFileSync(join(dir, name));
      try {
        files.push(
          await this.objects.write(this.objectName(version, name), data, {
            ifGenerationMatch: 0,
            resumableAbove: opts.resumableAbove,
          }),
        );
      } catch (err) {
        if ((err as GcsError).kind === 'conflict')
          throw new GcsError(
            'conflict',
            `version ${version} is being published by someone else: ${this.url(`${version}/${name}`)} appeared meanwhile; nothing of ours was overwritten`,
            { cause: err },
          );
        throw err;
      }
      log(`uploaded ${this.url(`${version}/${name}`)} (${data.length} bytes)`);
    }
    if (opts.setLatest === false) return { version, files, pointer: null };
    const pointer = await this.movePointer(version, before);
    log(`${this.url(POINTER_FILE)} → ${version}${pointer.previous ? ` (was ${pointer.previous})` : ''}`);
    return { version, files, pointer };
  }

  /**
   * Points latest.json at `version` (which must be complete in the bucket), if latest.json is still as
   * `before` (its generation; null: it must not exist). A rollback is a promote of an older version.
   */
  async movePointer(
    version: string,
    before: { pointer: Pointer; generation: string } | null | undefined,
  ): Promise<{ version: string; generation: string; previous?: string }> {
    this.checkVersion(version);
    const current = before === undefined ? await this.readPointer() : before;
    await this.readRemoteManifest(version); // exists and is complete
    const body: Pointer = {
      version,
      published: new Date().toISOString(),
      publishedBy: publisher(),
      ...(current ? { previous: current.pointer.version } : {}),
    };
    try {
      const written = await this.objects.write(this.pointerName(), Buffer.from(`${JSON.stringify(body, null, 2)}\n`), {
        ifGenerationMatch: current ? current.generation : 0,
      });
      return { version, generation: written.generation, previous: current?.pointer.version };
    } catch (err) {
      if ((err as GcsError).kind !== 'conflict') throw err;
      const now = await this.readPointer().catch(() => null);
      throw new GcsError(
        'conflict',
        `${this.url(POINTER_FILE)} was moved by another publisher while we published ` +
          `(it now names ${now ? now.pointer.version : 'nothing'}; we read ${current ? current.pointer.version : 'no pointer'}). ` +
          `Version ${version} is uploaded but NOT made latest; to make it latest anyway: npm run model:publish -- --promote ${version} --bucket ${this.settings.bucket} --prefix ${this.prefix}`,
        { cause: err },
      );
    }
  }
}

function publisher(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return hostname();
  }
}
