/**
 * npm run bench:registry — the model registry's figures on this machine, against the loopback GCS
 * server of the tests (test/helpers/gcs-server.ts: real HTTP through @google-cloud/storage, real
 * checksums), printed as one JSON object on the last stdout line:
 *
 * - publish_ms: `ModelBucket.publish` of the shipped model (6 files, ~3.8 MB);
 * - hydrate_ms (median of 5, p50) / hydrate_mb_per_s: cold hydration of the shipped model into an empty
 *   cache (manifest, listing, parallel downloads, sha256 + crc32c, renames);
 * - cache_hit_ms: the same version when the cache already holds it intact (hashing, no download);
 * - start_from_bucket_ms / start_from_cache_ms: ModelRegistry.start() until the model serves (hydrate,
 *   load, warm-up), with an empty and with a warm cache;
 * - swap_ms (p50, p95 over 50 swaps): a pointer check that finds a new version (cached) until the new
 *   model serves: pointer read, cache check, load, warm-up, the swap;
 * - rss_mb_before_swaps / rss_mb_after_50_swaps, tensors_before / tensors_after: memory over 50 swaps
 *   (retired models disposed once their calls settle). Run with --expose-gc for settled RSS figures
 *   (the npm script does).
 *
 * `benchRegistry()` is what `npm run bench` calls.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadConfig } from '../../config/schema';
import { startGcsServer } from '../../test/helpers/gcs-server';
import { createCliLogger } from '../log';
import { ScorerSlot } from '../sentiment/scorer-slot';
import { ModelBucket } from './model-bucket';
import { ModelRegistry } from './model-registry';

const SHIPPED = join(__dirname, '../../models/sentinel-bilstm');
const BUCKET = 'bench-models';
const PREFIX = 'sentinel-bilstm';

export interface RegistryBench {
  model_mb: number;
  publish_ms: number;
  hydrate_ms: number;
  hydrate_mb_per_s: number;
  cache_hit_ms: number;
  start_from_bucket_ms: number;
  start_from_cache_ms: number;
  swaps: number;
  swap_ms: number;
  swap_ms_p95: number;
  rss_mb_before_swaps: number;
  rss_mb_after_50_swaps: number;
  tensors_before: number;
  tensors_after: number;
  gc_exposed: boolean;
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))];

function rssMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return round(process.memoryUsage().rss / 1e6);
}

export async function benchRegistry(opts: { swaps?: number } = {}): Promise<RegistryBench> {
  const swaps = opts.swaps ?? 50;
  const root = mkdtempSync(join(tmpdir(), 'sentinel-bench-registry-'));
  const gcs = await startGcsServer();
  gcs.bucket(BUCKET);
  const logger = createCliLogger('warn', 'bench-registry');
  const settings = {
    bucket: BUCKET,
    prefix: PREFIX,
    endpoint: gcs.url,
    access: 'auto' as const,
    timeoutMs: 30_000,
    maxRetries: 0,
  };
  try {
    const bucket = new ModelBucket(settings);
    let started = performance.now();
    const published = await bucket.publish(SHIPPED);
    const publishMs = performance.now() - started;
    const bytes = published.files.reduce((n, f) => n + f.size, 0);
    const version = published.version;
    // A second version (same weights, another name) to swap back and forth with.
    const other = join(root, 'other');
    cpSync(SHIPPED, other, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(other, 'manifest.json'), 'utf8')) as { version: string };
    manifest.version = `${version}-b`;
    writeFileSync(join(other, 'manifest.json'), JSON.stringify(manifest));
    await bucket.publish(other, { setLatest: false });

    const hydrations: number[] = [];
    for (let i = 0; i < 5; i++) {
      started = performance.now();
      const h = await bucket.hydrate(version, join(root, `cold-${i}`));
      hydrations.push(performance.now() - started);
      if (h.cached) throw new Error('expected a cold hydration');
    }
    started = performance.now();
    await bucket.hydrate(version, join(root, 'cold-0'));
    const cacheHitMs = performance.now() - started;

    const config = loadConfig({
      MODEL_DIR: SHIPPED,
      MODEL_BUCKET: BUCKET,
      MODEL_PREFIX: PREFIX,
      MODEL_CACHE_DIR: join(root, 'cache'),
      MODEL_CHECK_INTERVAL: '3600',
      GCS_ENDPOINT: gcs.url,
      GCS_MAX_RETRIES: '0',
    });
    const slot = new ScorerSlot();
    let registry = new ModelRegistry({ config, slot, logger });
    started = performance.now();
    await registry.start();
    const startFromBucketMs = performance.now() - started;
    await registry.stop();
    disposeServing(slot);
    registry = new ModelRegistry({ config, slot, logger });
    started = performance.now();
    await registry.start();
    const startFromCacheMs = performance.now() - started;

    // The second version into the cache, so that every swap below costs the same.
    await bucket.hydrate(manifest.version, config.modelCacheDir);
    const rssBefore = rssMb();
    const tensorsBefore = tf.memory().numTensors;
    const swapTimes: number[] = [];
    for (let i = 0; i < swaps; i++) {
      const to = i % 2 === 0 ? manifest.version : version;
      await bucket.movePointer(to, undefined);
      started = performance.now();
      const r = await registry.check();
      swapTimes.push(performance.now() - started);
      if (r.result !== 'swapped') throw new Error(`swap ${i}: ${JSON.stringify(r)}`);
      const s = slot.current();
      if (s.ready) await s.scorer.score(['a text after the swap, @AirParadis']);
    }
    await registry.retired();
    const result: RegistryBench = {
      model_mb: round(bytes / 1e6, 2),
      publish_ms: round(publishMs),
      hydrate_ms: round(median(hydrations)),
      hydrate_mb_per_s: round(bytes / 1e6 / (median(hydrations) / 1000)),
      cache_hit_ms: round(cacheHitMs),
      start_from_bucket_ms: round(startFromBucketMs),
      start_from_cache_ms: round(startFromCacheMs),
      swaps,
      swap_ms: round(median(swapTimes)),
      swap_ms_p95: round(p95(swapTimes)),
      rss_mb_before_swaps: rssBefore,
      rss_mb_after_50_swaps: rssMb(),
      tensors_before: tensorsBefore,
      tensors_after: tf.memory().numTensors,
      gc_exposed: typeof (globalThis as { gc?: unknown }).gc === 'function',
    };
    await registry.stop();
    disposeServing(slot);
    return result;
  } finally {
    await gcs.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

function disposeServing(slot: ScorerSlot): void {
  const s = slot.current();
  if (s.ready) s.scorer.dispose();
  slot.fail('bench over');
}

if (require.main === module) {
  benchRegistry().then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
