/**
 * Hot swaps under load: the real HTTP API (buildServer on 127.0.0.1:0) answers a steady stream of
 * /predict requests while the model registry swaps versions published to a loopback GCS. No request
 * may fail, each answer names the version that made it, and retired models free their tensors.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../config/schema';
import { buildServer } from '../../src/http/server';
import { ApiAuth } from '../../src/http/auth';

/** No API keys: the API is open, as in local mode on loopback. */
const OPEN_API = ApiAuth.fromEntries([]);
import { createLogger } from '../../src/log';
import { ModelRegistry, retireScorer } from '../../src/registry/model-registry';
import { loadScorer } from '../../src/sentiment/load';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import { startGcsServer, type GcsServer } from '../helpers/gcs-server';
import { makeVersion, seedVersion, setPointer, SHIPPED, tempRoot } from '../helpers/model-versions';

const BUCKET = 'models';
const PREFIX = 'sentinel-bilstm';
const TEXTS = [
  '@AirParadis 3 hours on the tarmac and no one tells us anything',
  'thank you @AirParadis, the crew was wonderful',
  'what time does the Paris flight board?',
  'lost my bag AGAIN. unbelievable',
];

let gcs: GcsServer;
let root: string;

beforeAll(async () => {
  gcs = await startGcsServer();
  root = tempRoot('hot-swap');
});
afterAll(async () => {
  await gcs.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('retiring a swapped-out scorer', () => {
  it('lets the calls it accepted finish, then frees its tensors', async () => {
    const before = tf.memory().numTensors;
    const old = await loadScorer(SHIPPED);
    const calls = TEXTS.flatMap((t) => [old.score([t]), old.explain(t)]); // queued, not yet run
    const retired = retireScorer(old);
    const results = await Promise.all(calls);
    expect(results).toHaveLength(TEXTS.length * 2);
    await retired;
    expect(tf.memory().numTensors).toBe(before);
    await expect(old.score(['too late'])).rejects.toThrow('scorer disposed');
  });
});

describe('hot swap under a steady stream of /predict requests', () => {
  let app: FastifyInstance;
  let registry: ModelRegistry;
  const slot = new ScorerSlot();

  afterAll(async () => {
    await registry?.stop();
    await app?.close();
    const s = slot.current();
    if (s.ready) s.scorer.dispose();
  });

  it('swaps versions with zero failed requests, each answer naming its version; no tensor leaks', async () => {
    const versions = ['swap-a', 'swap-b', 'swap-c'];
    versions.forEach((v, i) => seedVersion(gcs, BUCKET, PREFIX, makeVersion(root, v, i + 1), { latest: i === 0 }));
    const config = loadConfig({
      MODEL_DIR: SHIPPED,
      MODEL_BUCKET: BUCKET,
      MODEL_PREFIX: PREFIX,
      MODEL_CACHE_DIR: join(root, 'cache'),
      MODEL_CHECK_INTERVAL: '3600',
      GCS_ENDPOINT: gcs.url,
      GCS_MAX_RETRIES: '0',
    });
    const logger = createLogger('silent');
    registry = new ModelRegistry({ config, slot, logger });
    await registry.start();
    const baseline = tf.memory().numTensors; // one model loaded
    app = buildServer({ auth: OPEN_API, slot, config, logger });
    const url = `${await app.listen({ port: 0, host: '127.0.0.1' })}/predict`;

    // Four clients, each with one request in flight at a time, until told to stop.
    const seen: string[] = [];
    const failures: string[] = [];
    let running = true;
    const client = async (k: number) => {
      for (let i = 0; running; i++) {
        const text = TEXTS[(i + k) % TEXTS.length];
        const kind = i % 6;
        const body = kind === 5 ? { text, explain: true } : kind % 2 ? { texts: [text, TEXTS[k]] } : { text };
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
          const json = (await res.json()) as {
            prediction?: { modelVersion: string };
            predictions?: Array<{ modelVersion: string }>;
          };
          if (res.status !== 200) failures.push(`${res.status} ${JSON.stringify(json)}`);
          else seen.push((json.prediction ?? json.predictions![0]).modelVersion);
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const clients = [0, 1, 2, 3].map(client);
    const traffic = (ms: number) => new Promise((r) => setTimeout(r, ms));

    await traffic(200);
    const order = ['swap-b', 'swap-c', 'swap-a', 'swap-b'];
    const marks: number[] = [];
    for (const v of order) {
      setPointer(gcs, BUCKET, PREFIX, v);
      expect(await registry.check()).toMatchObject({ result: 'swapped', to: v });
      marks.push(seen.length);
      await traffic(100);
    }
    running = false;
    await Promise.all(clients);

    expect(failures).toEqual([]);
    expect(seen.length).toBeGreaterThan(50);
    expect(new Set(seen)).toEqual(new Set(versions));
    // After each swap, answers come from the new version (a request already in flight may still finish on the old one).
    expect(seen.slice(-4).every((v) => v === order.at(-1))).toBe(true);
    expect(marks.every((m, i) => i === 0 || m > marks[i - 1])).toBe(true); // requests were served between swaps

    await registry.retired();
    expect(tf.memory().numTensors).toBe(baseline);
  });
});
