/**
 * The model registry against a loopback GCS (test/helpers/gcs-server.ts) through the real
 * @google-cloud/storage client: publish, hydrate, verify, fall back, update, and what is reported.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthClient } from 'google-auth-library';
import { loadConfig } from '../../config/schema';
import { intactVersion, intactVersions } from '../../src/registry/cache';
import { describeFiles, readManifest } from '../../src/registry/manifest';
import { ModelBucket } from '../../src/registry/model-bucket';
import { GcsError, type GcsSettings } from '../../src/registry/gcs';
import { ModelRegistry, type RegistryEvent } from '../../src/registry/model-registry';
import { formatTable, runCli } from '../../src/registry/cli';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import { startGcsServer, crc32cBase64, crc32cOf, objectNameProblem, type GcsServer } from '../helpers/gcs-server';
import {
  capturingLogger,
  makeVersion,
  seedVersion,
  shippedVersion,
  SHIPPED,
  tempRoot,
} from '../helpers/model-versions';

const BUCKET = 'sentinel-models';
const PREFIX = 'sentinel-bilstm';

let server: GcsServer;
let root: string;
let v1Dir: string;
let v2Dir: string;
const V1 = 'test-v1';
const V2 = 'test-v2';

beforeAll(async () => {
  server = await startGcsServer();
  root = tempRoot('registry');
  v1Dir = makeVersion(root, V1, 1);
  v2Dir = makeVersion(root, V2, 2);
});
afterAll(async () => {
  await server.stop();
  rmSync(root, { recursive: true, force: true });
});

let cacheN = 0;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
beforeEach(() => {
  server.clearFaults();
  for (const name of server.names(BUCKET)) server.delete(BUCKET, name);
  server.requests.length = 0;
});

function settings(over: Partial<GcsSettings> = {}): GcsSettings {
  return {
    bucket: BUCKET,
    prefix: PREFIX,
    endpoint: server.url,
    access: 'auto',
    timeoutMs: 1000,
    maxRetries: 0,
    maxRetryDelaySeconds: 1,
    ...over,
  };
}

function registryFor(
  opts: { env?: Record<string, string | undefined>; gcs?: Partial<GcsSettings>; cacheDir?: string } = {},
) {
  const cacheDir = opts.cacheDir ?? join(root, `cache-${++cacheN}`);
  const config = loadConfig({
    MODEL_DIR: SHIPPED,
    MODEL_BUCKET: BUCKET,
    MODEL_PREFIX: PREFIX,
    MODEL_CACHE_DIR: cacheDir,
    MODEL_CHECK_INTERVAL: '3600',
    GCS_ENDPOINT: server.url,
    GCS_TIMEOUT_MS: '1000',
    GCS_MAX_RETRIES: '0',
    ...opts.env,
  });
  const slot = new ScorerSlot();
  const events: RegistryEvent[] = [];
  const { logger, lines } = capturingLogger();
  const registry = new ModelRegistry({
    config,
    slot,
    logger,
    onEvent: (e) => events.push(e),
    gcs: { maxRetryDelaySeconds: 1, ...opts.gcs },
  });
  cleanups.push(async () => {
    await registry.stop();
    disposeServing(slot);
  });
  return { registry, slot, events, lines, cacheDir };
}

function serving(slot: ScorerSlot) {
  const s = slot.current();
  if (!s.ready) throw new Error(`not ready: ${s.reason}`);
  return { version: s.scorer.info.version, origin: s.origin };
}

function filesIn(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

async function metric(registry: ModelRegistry, name: string, labels = ''): Promise<number> {
  const text = await registry.metrics.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('the loopback GCS server', () => {
  it('computes CRC32C (Castagnoli) as GCS reports it', () => {
    expect(crc32cOf(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32cBase64(Buffer.from(''))).toBe('AAAAAA==');
  });

  it('takes object names as GCS does: flat strings, `a/../b` stored as written; `..`, CR/LF, > 1024 bytes refused', async () => {
    server.bucket(BUCKET);
    const objects = new ModelBucket(settings()).objects;
    for (const name of [`${PREFIX}/x/../../escape.txt`, `${PREFIX}/%2e%2e/m.json`, `${PREFIX}/..`]) {
      await objects.write(name, Buffer.from('x'), { ifGenerationMatch: 0 });
      expect(server.get(BUCKET, name)?.data.toString()).toBe('x');
      expect((await objects.read(name))?.data.toString()).toBe('x');
    }
    for (const name of ['..', '.', 'a\nb', 'a\rb', 'x'.repeat(1025), '.well-known/acme-challenge/t']) {
      expect(objectNameProblem(name)).not.toBeNull();
      const err = await objects.write(name, Buffer.from('x'), { ifGenerationMatch: 0 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GcsError);
      expect(server.requests.at(-1)?.status).toBe(400);
    }
  });
});

describe('names that would leave the cache directory or the prefix', () => {
  const BAD = ['../../etc/passwd', 'a/b', '..', '%2e%2e', '/etc/passwd', 'C:\\evil', 'v1\u0000'];

  it('latest.json naming a version that is not a safe name: refused before any download, the fallback serves', async () => {
    server.bucket(BUCKET);
    seedVersion(server, BUCKET, PREFIX, v1Dir, { latest: false });
    for (const bad of BAD) {
      server.put(BUCKET, `${PREFIX}/latest.json`, JSON.stringify({ version: bad }), 'application/json');
      server.requests.length = 0;
      const r = registryFor();
      await r.registry.start();
      await r.registry.stop();
      const s = serving(r.slot);
      expect(s).toMatchObject({ version: shippedVersion(), origin: { source: 'shipped' } });
      expect(s.origin?.degraded).toMatch(/latest\.json: not a model pointer \(version: .* is not a safe name: it /);
      expect(server.requests.map((q) => q.path.split('/').pop())).toEqual(['latest.json']);
      expect(existsSync(r.cacheDir)).toBe(false); // nothing written, inside or outside the cache
      disposeServing(r.slot);
    }
    expect(existsSync(join(root, 'etc'))).toBe(false);
  });

  it('a manifest listing a file outside its version (stored in the bucket under that name): never downloaded', async () => {
    server.bucket(BUCKET);
    const version = 'test-evil';
    const dir = makeVersion(root, version, 4);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    const payload = Buffer.from('#!/bin/sh\necho owned\n');
    const escape = '../../escaped.sh';
    manifest.files.push({ path: escape, sha256: sha256(payload), size: payload.length });
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    seedVersion(server, BUCKET, PREFIX, dir);
    server.put(BUCKET, `${PREFIX}/${version}/${escape}`, payload); // a valid GCS object name
    const r = registryFor();
    await r.registry.start();
    await r.registry.stop();
    expect(serving(r.slot).version).toBe(shippedVersion());
    expect(serving(r.slot).origin?.degraded).toMatch(
      new RegExp(
        `test-evil/manifest\\.json: invalid manifest \\(files\\.${manifest.files.length - 1}\\.path: "\\.\\./\\.\\./escaped\\.sh" is not a safe name: it contains a path separator`,
      ),
    );
    expect(server.requests.filter((q) => q.path.endsWith('escaped.sh'))).toEqual([]);
    for (const where of [join(r.cacheDir, escape), join(r.cacheDir, version, escape), join(root, 'escaped.sh')])
      expect(existsSync(where)).toBe(false);
    disposeServing(r.slot);
  });

  it('hydrate, promote, the cache and the prefix refuse such names too, without a request', async () => {
    server.bucket(BUCKET);
    const bucket = new ModelBucket(settings());
    const cacheDir = join(root, `cache-${++cacheN}`);
    server.requests.length = 0;
    for (const bad of BAD) {
      await expect(bucket.hydrate(bad, cacheDir)).rejects.toThrow(/^model version ".*" is not a safe name: it /);
      await expect(bucket.movePointer(bad, undefined)).rejects.toThrow(/is not a safe name/);
      expect(() => intactVersion(cacheDir, bad)).toThrow(/is not a safe name/);
    }
    expect(server.requests).toEqual([]);
    expect(existsSync(cacheDir)).toBe(false);
    await expect(
      cli(['publish', '--promote', '../x', '--bucket', BUCKET, '--prefix', PREFIX, '--endpoint', server.url]),
    ).rejects.toThrow('model version "../x" is not a safe name: it contains a path separator');
    for (const prefix of ['..', '../other', 'models/%2e%2e', 'a//b'])
      expect(() => new ModelBucket(settings({ prefix }))).toThrow(/^model bucket prefix .* is not safe: it /);
    expect(new ModelBucket(settings({ prefix: 'team/sentinel-bilstm/' })).prefix).toBe('team/sentinel-bilstm');
  });
});

describe('the canary after hydration', () => {
  /** A copy of the shipped model whose weights were changed and re-hashed into its manifest (canary kept). */
  function tamperedVersion(version: string): string {
    const dir = makeVersion(root, version, 5);
    const weights = readFileSync(join(dir, 'weights.bin'));
    weights.writeFloatLE(weights.readFloatLE(weights.length - 4) + 2, weights.length - 4); // output bias, positive
    writeFileSync(join(dir, 'weights.bin'), weights);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    manifest.files = describeFiles(
      dir,
      manifest.files.map((f: { path: string }) => f.path),
    );
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    return dir;
  }

  it('a version whose checksums match but whose canary does not is refused at start-up: the fallback serves', async () => {
    server.bucket(BUCKET);
    seedVersion(server, BUCKET, PREFIX, tamperedVersion('test-tampered'));
    const r = registryFor();
    await r.registry.start();
    await r.registry.stop();
    expect(serving(r.slot)).toMatchObject({ version: shippedVersion(), origin: { source: 'shipped' } });
    expect(serving(r.slot).origin?.degraded).toMatch(
      /^canary mismatch: .*test-tampered: \d+ of 12 canary texts are not scored as recorded in manifest\.json/,
    );
    expect(await metric(r.registry, 'sentinel_model_hydration_failures_total', 'stage="load"')).toBe(1);
    expect(r.events).toEqual([expect.objectContaining({ type: 'fallback', wanted: 'test-tampered' })]);
    disposeServing(r.slot);
  });

  it('as an update: the serving model stays, the failure is reported at the load stage', async () => {
    server.bucket(BUCKET);
    seedVersion(server, BUCKET, PREFIX, v1Dir);
    const r = registryFor();
    await r.registry.start();
    seedVersion(server, BUCKET, PREFIX, tamperedVersion('test-tampered-2'));
    const result = await r.registry.check();
    expect(result).toMatchObject({ result: 'failed', stage: 'load', version: 'test-tampered-2' });
    expect((result as { reason: string }).reason).toMatch(/^canary mismatch: /);
    expect(serving(r.slot).version).toBe(V1);
    await r.registry.stop();
    disposeServing(r.slot);
  });

  it('publishing loads the model as a replica will: a canary mismatch is never uploaded', async () => {
    server.bucket(BUCKET);
    await expect(
      cli([
        'publish',
        '--model',
        tamperedVersion('test-tampered-3'),
        '--bucket',
        BUCKET,
        '--prefix',
        PREFIX,
        '--endpoint',
        server.url,
      ]),
    ).rejects.toThrow(/^canary mismatch: /);
    expect(server.names(BUCKET)).toEqual([]);
  });

  it('a MODEL_DIR without manifest.json is not served: not ready, and the reason says why', async () => {
    const dir = join(root, 'no-manifest');
    cpSync(SHIPPED, dir, { recursive: true });
    rmSync(join(dir, 'manifest.json'));
    const slot = new ScorerSlot();
    const { logger } = capturingLogger();
    const registry = new ModelRegistry({ config: loadConfig({ MODEL_DIR: dir }), slot, logger });
    await registry.start();
    const s = slot.current();
    expect(s.ready).toBe(false);
    expect(!s.ready && s.reason).toMatch(`cannot load the model from ${dir}: manifest.json missing in ${dir}: `);
  });
});

describe('publishing', () => {
  it('uploads every file only-if-absent, manifest.json last, then latest.json; model:list shows the metrics', async () => {
    const bucket = new ModelBucket(settings());
    server.bucket(BUCKET);
    const result = await bucket.publish(v1Dir, { resumableAbove: 1_000_000 });
    expect(result.pointer).toMatchObject({ version: V1 });

    const uploads = server.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/upload/'));
    const names = uploads.map((r) => r.query.name);
    expect(names.at(-1)).toBe(`${PREFIX}/latest.json`);
    expect(names.at(-2)).toBe(`${PREFIX}/${V1}/manifest.json`);
    expect(uploads.every((r) => r.query.ifGenerationMatch === '0')).toBe(true);
    // weights.bin (3.7 MB) went through a resumable session, the small files as multipart uploads.
    expect(uploads.find((r) => r.query.name.endsWith('weights.bin'))?.query.uploadType).toBe('resumable');
    expect(uploads.find((r) => r.query.name.endsWith('model.json'))?.query.uploadType).toBe('multipart');
    // The bytes in the bucket are the files, byte for byte.
    for (const f of ['model.json', 'weights.bin', 'vocabulary.json', 'manifest.json']) {
      expect(server.get(BUCKET, `${PREFIX}/${V1}/${f}`)?.data.equals(readFileSync(join(v1Dir, f)))).toBe(true);
    }
    const pointer = JSON.parse(server.get(BUCKET, `${PREFIX}/latest.json`)!.data.toString());
    expect(pointer).toMatchObject({ version: V1 });

    await bucket.publish(v2Dir);
    expect(JSON.parse(server.get(BUCKET, `${PREFIX}/latest.json`)!.data.toString())).toMatchObject({
      version: V2,
      previous: V1,
    });

    const listed = await bucket.listVersions();
    expect(listed.map((v) => [v.version, v.latest])).toEqual([
      [V2, true],
      [V1, false],
    ]);
    const table = formatTable(bucket.url(), listed);
    const shipped = readManifest(SHIPPED).metrics.validation as Record<string, number>;
    const figures = [shipped.accuracy, shipped.macro_f1, shipped.binary_accuracy].map((x) =>
      x.toFixed(4).replace('.', '\\.'),
    );
    expect(table).toMatch(new RegExp(`\\* ${V2}.*${figures.join('.*')}`));

    // The command line, as `npm run model:list -- --json` runs it.
    const { out } = await cli(['list', '--bucket', BUCKET, '--prefix', PREFIX, '--endpoint', server.url, '--json']);
    const rows = JSON.parse(out) as Array<{ version: string; latest: boolean; accuracy: number }>;
    expect(rows[0]).toMatchObject({ version: V2, latest: true, accuracy: shipped.accuracy });
  });

  it('refuses to overwrite a version, and a second publisher of the same version changes nothing', async () => {
    server.bucket(BUCKET);
    const bucket = new ModelBucket(settings());
    await bucket.publish(v1Dir);
    const before = server.names(BUCKET).map((n) => [n, server.get(BUCKET, n)!.generation]);
    await expect(bucket.publish(v1Dir)).rejects.toThrow(
      new RegExp(`version ${V1} already exists in gs://${BUCKET}/${PREFIX}/${V1}/.*immutable`),
    );
    expect(server.names(BUCKET).map((n) => [n, server.get(BUCKET, n)!.generation])).toEqual(before);
  });

  it('lets exactly one of two racing publishers move latest.json; the other gets a clear error', async () => {
    server.bucket(BUCKET);
    await new ModelBucket(settings()).publish(v1Dir);
    const v3Dir = makeVersion(root, 'test-v3', 3);
    server.requests.length = 0;
    // Two publishers at once: both read latest.json (the same generation) before either writes it.
    const results = await Promise.allSettled([
      new ModelBucket(settings()).publish(v2Dir),
      new ModelBucket(settings()).publish(v3Dir),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const err = lost[0].reason as GcsError;
    expect(err).toBeInstanceOf(GcsError);
    expect(err.kind).toBe('conflict');
    expect(err.message).toMatch(
      /latest\.json was moved by another publisher while we published \(it now names test-v[23]; we read test-v1\)\. Version test-v[23] is uploaded but NOT made latest; to make it latest anyway: npm run model:publish -- --promote test-v[23]/,
    );
    const winner = (won[0] as PromiseFulfilledResult<{ version: string }>).value.version;
    const pointer = JSON.parse(server.get(BUCKET, `${PREFIX}/latest.json`)!.data.toString());
    expect(pointer).toMatchObject({ version: winner, previous: V1 });
    const pointerWrites = server.requests.filter(
      (r) => r.method === 'POST' && r.query.name === `${PREFIX}/latest.json`,
    );
    expect(pointerWrites.map((r) => r.status).sort()).toEqual([200, 412]);

    // The loser's version is complete in the bucket: promoting it is one command.
    const loser = winner === V2 ? 'test-v3' : V2;
    const { out } = await cli([
      'publish',
      '--promote',
      loser,
      '--bucket',
      BUCKET,
      '--prefix',
      PREFIX,
      '--endpoint',
      server.url,
    ]);
    expect(JSON.parse(out)).toEqual({ promoted: loser, previous: winner });
    expect(JSON.parse(server.get(BUCKET, `${PREFIX}/latest.json`)!.data.toString())).toMatchObject({
      version: loser,
      previous: winner,
    });
  });

  it('says what to do when a private bucket gets no credentials, and works with them', async () => {
    server.bucket(BUCKET);
    seedVersion(server, BUCKET, PREFIX, v1Dir);
    server.makePrivate(BUCKET, 'sesame');
    try {
      const anonymous = new ModelBucket(settings({ access: 'anonymous' }));
      const err = await anonymous.latestVersion().catch((e: unknown) => e as GcsError);
      expect(err).toBeInstanceOf(GcsError);
      expect((err as GcsError).kind).toBe('access');
      expect((err as Error).message).toMatch(
        /gs:\/\/sentinel-models\/sentinel-bilstm\/latest\.json: access denied \(401\).*the bucket is private and Sentinel sent no credentials: on GCP give the service account roles\/storage\.objectViewer.*GOOGLE_APPLICATION_CREDENTIALS.*GCS_ACCESS=auto/,
      );
      const withToken = new ModelBucket(settings({ authClient: new BearerClient('sesame') }));
      await expect(withToken.latestVersion()).resolves.toBe(V1);
      expect(server.requests.at(-1)?.authorized).toBe(true);
    } finally {
      server.makePublic(BUCKET);
    }
  });
});

describe('another endpoint: STORAGE_EMULATOR_HOST in every form the Google clients use, and GCS_ENDPOINT', () => {
  const port = () => new URL(server.url).port;
  /** Runs `fn` with STORAGE_EMULATOR_HOST set in the environment, as the process has it (the client reads it too). */
  async function withEmulatorHost<T>(value: string, fn: () => Promise<T>): Promise<T> {
    process.env.STORAGE_EMULATOR_HOST = value;
    try {
      return await fn();
    } finally {
      delete process.env.STORAGE_EMULATOR_HOST;
    }
  }

  it('the loopback server is as strict as GCS: only the real API paths, 404 with the JSON error body elsewhere', async () => {
    server.bucket(BUCKET);
    server.put(BUCKET, 'x.json', '{}');
    const get = async (path: string) => {
      const res = await fetch(`${server.url}${path}`);
      return { status: res.status, body: (await res.json()) as unknown };
    };
    expect((await get(`/storage/v1/b/${BUCKET}/o/x.json`)).status).toBe(200);
    expect((await get(`/download/storage/v1/b/${BUCKET}/o/x.json?alt=media`)).body).toEqual({});
    for (const path of [
      `/b/${BUCKET}/o/x.json`,
      `/b/${BUCKET}/o`,
      `/storage/v2/b/${BUCKET}/o`,
      `/upload/storage/v1/b/${BUCKET}/o/x.json`,
    ])
      expect({ path, ...(await get(path)) }).toEqual({
        path,
        status: 404,
        body: {
          error: {
            code: 404,
            message: 'Not Found',
            errors: [{ message: 'Not Found', domain: 'global', reason: 'notFound' }],
          },
        },
      });
  });

  it.each([
    ['a URL (Python, firebase-admin, fake-gcs-server)', (p: string) => `http://127.0.0.1:${p}`],
    ['a URL with a trailing slash', (p: string) => `http://127.0.0.1:${p}/`],
    ['host:port (Go, the gcloud emulators)', (p: string) => `127.0.0.1:${p}`],
    ['the JSON API base (what @google-cloud/storage itself needs)', (p: string) => `http://127.0.0.1:${p}/storage/v1`],
  ])('STORAGE_EMULATOR_HOST as %s: the model comes from the bucket, over the real paths', async (_, form) => {
    server.bucket(BUCKET);
    seedVersion(server, BUCKET, PREFIX, v1Dir);
    const value = form(port());
    await withEmulatorHost(value, async () => {
      const r = registryFor({ env: { GCS_ENDPOINT: undefined, STORAGE_EMULATOR_HOST: value } });
      await r.registry.start();
      await r.registry.stop();
      expect(serving(r.slot)).toMatchObject({ version: V1, origin: { source: 'gcs' } });
      disposeServing(r.slot);
    });
    expect(server.requests.length).toBeGreaterThan(0);
    expect(server.requests.filter((q) => !/^\/(download\/)?storage\/v1\/b\//.test(q.path))).toEqual([]);
    expect(server.requests.every((q) => q.status === 200)).toBe(true);
    expect(loadConfig({ STORAGE_EMULATOR_HOST: value }).storageEmulatorHost).toBe(server.url);
  });

  it('publishing with STORAGE_EMULATOR_HOST as host:port uploads over /upload/storage/v1', async () => {
    server.bucket(BUCKET);
    const value = `127.0.0.1:${port()}`;
    const { code, err } = await withEmulatorHost(value, async () => {
      const out: string[] = [];
      const o = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
      const e = jest.spyOn(process.stderr, 'write').mockImplementation((x) => (out.push(String(x)), true));
      try {
        const c = await runCli(['publish', '--model', v1Dir, '--bucket', BUCKET, '--prefix', PREFIX], {
          STORAGE_EMULATOR_HOST: value,
        });
        return { code: c, err: out.join('') };
      } finally {
        o.mockRestore();
        e.mockRestore();
      }
    });
    expect({ code, err }).toMatchObject({ code: 0 });
    expect(server.get(BUCKET, `${PREFIX}/latest.json`)).toBeDefined();
    expect(
      server.requests.filter((q) => q.method === 'POST').every((q) => q.path.startsWith('/upload/storage/v1/b/')),
    ).toBe(true);
    expect(server.requests.filter((q) => !/^\/(upload\/|download\/)?storage\/v1\/b\//.test(q.path))).toEqual([]);
  });

  it('GCS_ENDPOINT wins, even over a STORAGE_EMULATOR_HOST the client would read from the environment', async () => {
    server.bucket(BUCKET);
    seedVersion(server, BUCKET, PREFIX, v1Dir);
    await withEmulatorHost('http://127.0.0.1:9', async () => {
      const r = registryFor({ env: { GCS_ENDPOINT: `${server.url}/`, STORAGE_EMULATOR_HOST: 'http://127.0.0.1:9' } });
      await r.registry.start();
      await r.registry.stop();
      expect(serving(r.slot)).toMatchObject({ version: V1, origin: { source: 'gcs' } });
      disposeServing(r.slot);
    });
    expect(server.requests.map((q) => q.path)).toContain(`/storage/v1/b/${BUCKET}/o/${PREFIX}/latest.json`);
  });

  it('a value that is no endpoint stops start-up naming the setting and the forms it takes', () => {
    for (const bad of ['ftp://127.0.0.1:4443', 'http://127.0.0.1:4443/?x=1', 'not a host'])
      expect(() => loadConfig({ STORAGE_EMULATOR_HOST: bad })).toThrow(
        /STORAGE_EMULATOR_HOST: expected http:\/\/host:port, host:port \(plain HTTP\) or http:\/\/host:port\/storage\/v1/,
      );
  });
});

describe('hydration at start-up', () => {
  it('cold: downloads the version in parallel, verified, renamed into place; then a restart downloads nothing', async () => {
    server.bucket(BUCKET);
    seedVersion(server, BUCKET, PREFIX, v1Dir);
    const a = registryFor();
    await a.registry.start();
    await a.registry.stop();
    expect(serving(a.slot)).toEqual({
      version: V1,
      origin: { source: 'gcs', path: join(a.cacheDir, V1) },
    });
    expect(a.events[0]).toMatchObject({ type: 'loaded', version: V1, source: 'gcs', downloaded: true });
    const dir = join(a.cacheDir, V1);
    const shippedFiles = readManifest(SHIPPED).files.map((f) => f.path);
    expect(filesIn(dir)).toEqual([...shippedFiles, 'manifest.json'].sort());
    for (const f of filesIn(dir)) expect(readFileSync(join(dir, f)).equals(readFileSync(join(v1Dir, f)))).toBe(true);
    const media = server.requests.filter((r) => r.query.alt === 'media');
    expect(media.map((r) => r.path.split('/').pop()).sort()).toEqual(
      [...shippedFiles, 'latest.json', 'manifest.json'].sort(),
    );
    // Each file is read at the generation the listing reported (the one whose crc32c is checked).
    expect(media.filter((r) => r.path.endsWith('weights.bin'))[0].query.generation).toBe(
      server.get(BUCKET, `${PREFIX}/${V1}/weights.bin`)!.generation,
    );
    expect(await metric(a.registry, 'sentinel_model_hydrations_total', 'result="downloaded"')).toBe(1);
    disposeServing(a.slot);

    server.requests.length = 0;
    const b = registryFor({ cacheDir: a.cacheDir });
    await b.registry.start();
    await b.registry.stop();
    expect(serving(b.slot).version).toBe(V1);
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /storage/v1/b/${BUCKET}/o/${PREFIX}/latest.json`,
    ]);
    expect(b.events[0]).toMatchObject({ type: 'loaded', version: V1, downloaded: false });
    expect(await metric(b.registry, 'sentinel_model_hydrations_total', 'result="cached"')).toBe(1);
    disposeServing(b.slot);
  });

  it('with no latest.json: falls back to the shipped model, loudly, and /ready says so', async () => {
    server.bucket(BUCKET);
    const r = registryFor();
    await r.registry.start();
    await r.registry.stop();
    const s = serving(r.slot);
    expect(s.version).toBe(shippedVersion());
    expect(s.origin).toMatchObject({ source: 'shipped', path: SHIPPED });
    expect(s.origin?.degraded).toMatch(
      /gs:\/\/sentinel-models\/sentinel-bilstm\/latest\.json does not exist: no model has been published under this prefix \(npm run model:publish/,
    );
    expect(r.events).toEqual([
      expect.objectContaining({ type: 'fallback', source: 'shipped', version: shippedVersion() }),
    ]);
    const loud = r.lines.find((l) => String(l.msg).startsWith('Model FALLBACK'));
    expect(loud).toMatchObject({ level: 50 }); // error
    expect(await metric(r.registry, 'sentinel_model_degraded')).toBe(1);
    expect(await metric(r.registry, 'sentinel_model_hydration_failures_total', 'stage="pointer"')).toBe(1);
    disposeServing(r.slot);
  });

  it('when the bucket is unreachable: the newest intact cached version, else the shipped model', async () => {
    // A cache that holds V1 and V2 intact (as earlier hydrations left them), and a broken newer copy.
    const cacheDir = join(root, `cache-${++cacheN}`);
    cpSync(v1Dir, join(cacheDir, V1), { recursive: true });
    cpSync(v2Dir, join(cacheDir, V2), { recursive: true });
    const broken = makeVersion(root, 'test-v9', 9);
    cpSync(broken, join(cacheDir, 'test-v9'), { recursive: true });
    writeFileSync(join(cacheDir, 'test-v9', 'weights.bin'), 'half a file');
    expect(intactVersions(cacheDir).map((v) => v.version)).toEqual([V2, V1]);

    const offline = { GCS_ENDPOINT: 'http://127.0.0.1:9' }; // nothing listens on the discard port
    const cached = registryFor({ cacheDir, env: offline });
    await cached.registry.start();
    await cached.registry.stop();
    expect(serving(cached.slot)).toMatchObject({
      version: V2,
      origin: { source: 'cache', path: join(cacheDir, V2) },
    });
    expect(serving(cached.slot).origin?.degraded).toMatch(/could not be reached.*ECONNREFUSED/);
    disposeServing(cached.slot);

    const empty = registryFor({ env: offline });
    await empty.registry.start();
    await empty.registry.stop();
    expect(serving(empty.slot)).toMatchObject({ version: shippedVersion(), origin: { source: 'shipped' } });
    disposeServing(empty.slot);
  });

  it('a version corrupted at rest never loads: the fallback serves, no corrupt file is left', async () => {
    server.bucket(BUCKET);
    const flip = (f: string, d: Buffer) => (f === 'weights.bin' ? flipByte(d) : d);
    seedVersion(server, BUCKET, PREFIX, v1Dir, { mutate: flip });
    const r = registryFor();
    await r.registry.start();
    await r.registry.stop();
    expect(serving(r.slot)).toMatchObject({ version: shippedVersion(), origin: { source: 'shipped' } });
    expect(serving(r.slot).origin?.degraded).toMatch(
      /weights\.bin: sha256 [0-9a-f]{12}… does not match manifest\.json/,
    );
    // Not retried (the object itself is wrong), nothing unchecked left behind, and V1 is not "cached".
    expect(server.requests.filter((q) => q.path.endsWith('weights.bin'))).toHaveLength(1);
    const dir = join(r.cacheDir, V1);
    expect(filesIn(dir)).not.toContain('weights.bin');
    expect(filesIn(dir)).not.toContain('manifest.json');
    expect(filesIn(dir).filter((f) => f.endsWith('.part'))).toEqual([]);
    disposeServing(r.slot);
  });
});

describe('updates while running', () => {
  async function runningOn(version: string, dir: string, env: Record<string, string> = {}) {
    server.bucket(BUCKET);
    seedVersion(server, BUCKET, PREFIX, dir);
    const r = registryFor({ env });
    await r.registry.start();
    expect(serving(r.slot).version).toBe(version);
    r.events.length = 0;
    server.requests.length = 0;
    return r;
  }

  it('a new pointer is hydrated, warmed and swapped; the old scorer is disposed; same pointer: nothing to do', async () => {
    const r = await runningOn(V1, v1Dir);
    const old = (r.slot.current() as { scorer: { dispose(): void } }).scorer;
    const dispose = jest.spyOn(old, 'dispose');
    expect(await r.registry.check()).toEqual({ result: 'current', version: V1 });
    seedVersion(server, BUCKET, PREFIX, v2Dir);
    const result = await r.registry.check();
    expect(result).toMatchObject({ result: 'swapped', from: V1, to: V2 });
    await r.registry.retired();
    expect(dispose).toHaveBeenCalledTimes(1);
    expect(serving(r.slot)).toEqual({ version: V2, origin: { source: 'gcs', path: join(r.cacheDir, V2) } });
    expect(r.events).toEqual([expect.objectContaining({ type: 'swapped', from: V1, to: V2 })]);
    expect(await metric(r.registry, 'sentinel_model_swaps_total')).toBe(1);
    await r.registry.stop();
    disposeServing(r.slot);
  });

  it('a checksum mismatch in transit is retried; a truncated download too', async () => {
    const r = await runningOn(V1, v1Dir);
    seedVersion(server, BUCKET, PREFIX, v2Dir);
    server.fault(
      { path: /test-v2\/weights\.bin$/, media: true, corrupt: true },
      { path: /test-v2\/vocabulary\.json$/, media: true, truncate: 1000 },
    );
    expect(await r.registry.check()).toMatchObject({ result: 'swapped', to: V2 });
    expect(server.pendingFaults()).toBe(0);
    // The damaged or cut download first, a good one last (a slow machine may time one more out between).
    const statuses = (file: string) =>
      server.requests.filter((q) => q.path.endsWith(`test-v2/${file}`)).map((q) => q.status);
    expect(statuses('weights.bin')[0]).toBe('corrupted');
    expect(statuses('weights.bin').at(-1)).toBe(200);
    expect(statuses('vocabulary.json')[0]).toBe('truncated');
    expect(statuses('vocabulary.json').at(-1)).toBe(200);
    await r.registry.stop();
    disposeServing(r.slot);
  });

  it('persistent corruption, truncation, 500s or timeouts leave the serving model, reported once, counted', async () => {
    const r = await runningOn(V1, v1Dir, { GCS_TIMEOUT_MS: '400' });
    seedVersion(server, BUCKET, PREFIX, v2Dir);
    const v2 = join(r.cacheDir, V2);

    // crc32c mismatch on every try
    server.fault(...[1, 2, 3].map(() => ({ path: /test-v2\/weights\.bin$/, media: true, corrupt: true as const })));
    let result = await r.registry.check();
    expect(result).toMatchObject({ result: 'failed', stage: 'hydrate', version: V2 });
    expect((result as { reason: string }).reason).toMatch(/weights\.bin.*(crc32c|CRC32C|mismatch)/);
    expect(serving(r.slot).version).toBe(V1);
    expect(filesIn(v2).filter((f) => f === 'weights.bin' || f.endsWith('.part') || f === 'manifest.json')).toEqual([]);

    // the same failure again: counted, but not reported twice
    server.fault(...[1, 2, 3].map(() => ({ path: /test-v2\/weights\.bin$/, media: true, corrupt: true as const })));
    await r.registry.check();
    expect(r.events.filter((e) => e.type === 'hydration_failed')).toHaveLength(1);
    expect(r.events[0]).toMatchObject({ type: 'hydration_failed', stage: 'hydrate', version: V2, serving: V1 });

    // cut connections on every try
    server.fault(...[1, 2, 3].map(() => ({ path: /test-v2\/weights\.bin$/, media: true, truncate: 100_000 })));
    result = await r.registry.check();
    expect(result).toMatchObject({ result: 'failed', stage: 'hydrate' });
    expect(filesIn(v2).filter((f) => f === 'weights.bin' || f.endsWith('.part'))).toEqual([]);

    // 500 on the pointer
    server.fault({ path: /latest\.json$/, status: 500 });
    result = await r.registry.check();
    expect(result).toMatchObject({ result: 'failed', stage: 'pointer' });
    expect((result as { reason: string }).reason).toMatch(/latest\.json: GCS answered 500/);

    // a download that never answers
    server.fault(...[1, 2, 3].map(() => ({ path: /test-v2\/weights\.bin$/, media: true, timeout: true as const })));
    result = await r.registry.check();
    expect(result).toMatchObject({ result: 'failed', stage: 'hydrate' });
    expect((result as { reason: string }).reason).toMatch(/weights\.bin.*(timed out|timeout|nothing received)/i);

    expect(serving(r.slot).version).toBe(V1);
    expect(await metric(r.registry, 'sentinel_model_hydration_failures_total', 'stage="hydrate"')).toBe(4);
    expect(await metric(r.registry, 'sentinel_model_hydration_failures_total', 'stage="pointer"')).toBe(1);

    // and once the bucket behaves, the update goes through
    expect(await r.registry.check()).toMatchObject({ result: 'swapped', to: V2 });
    await r.registry.stop();
    disposeServing(r.slot);
  });

  it('the client retries 500s itself when GCS_MAX_RETRIES allows', async () => {
    server.bucket(BUCKET);
    seedVersion(server, BUCKET, PREFIX, v1Dir);
    server.fault({ path: /latest\.json$/, status: 503 });
    const r = registryFor({ env: { GCS_MAX_RETRIES: '1' } });
    await r.registry.start();
    await r.registry.stop();
    expect(serving(r.slot)).toMatchObject({ version: V1, origin: { source: 'gcs' } });
    expect(server.requests.filter((q) => q.path.endsWith('latest.json')).map((q) => q.status)).toEqual([503, 200]);
    disposeServing(r.slot);
  });
});

// ---------------------------------------------------------------------------------------------------

/** The command line as `npm run model:…` runs it, with its stdout and stderr. */
async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  const e = jest.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  try {
    const code = await runCli(argv, {});
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function flipByte(data: Buffer): Buffer {
  const copy = Buffer.from(data);
  copy[copy.length >> 1] ^= 0xff;
  return copy;
}

function disposeServing(slot: ScorerSlot): void {
  const s = slot.current();
  if (s.ready) s.scorer.dispose();
  slot.fail('test over');
}

/** Credentials as an AuthClient provides them: an OAuth bearer token on every request. */
class BearerClient extends AuthClient {
  constructor(private readonly token: string) {
    super();
  }
  async getAccessToken() {
    return { token: this.token };
  }
  async getRequestHeaders() {
    return { Authorization: `Bearer ${this.token}` };
  }
  async request<T>(opts: Parameters<AuthClient['request']>[0]) {
    return this.transporter.request<T>({
      ...opts,
      headers: { ...opts.headers, Authorization: `Bearer ${this.token}` },
    });
  }
}
