/**
 * npm run bench [-- --data <csv>] [--duration 10] [--connections 64] [--reference <dir>|none]
 *
 * Measures the scorer and the HTTP API on this machine. The last stdout line is one JSON object:
 * backend, load_ms, score_one_ms_p50/p99, batch64_per_s, batch256_per_s, rss_mb, model_size_mb (the
 * files the manifest lists), predict_http_rps, predict_http_latency_ms_p50 (with an API key and the rate
 * limit on), predict_single_under_batch_load (one-text latency while 10 connections send 256-text
 * batches), and peers (lexicon packages, same texts). The HTTP figure comes from autocannon in this
 * process against `npm start`'s server in a child process, so the load generator does not steal the
 * server's event loop.
 *
 * Beside the previous model: `--reference <dir>` (default models/reference/20261125-word2vec-cw05 when it
 * exists; `none` to skip) is loaded in the same process after the served model and measured with the same
 * texts and the same method, the two models taking turns (one-text timings in rounds of 20 texts, batch
 * throughput in slices of 0.5 s, ABBA order) so that a load on the machine that comes and goes
 * falls on both alike. `reference` holds its load_ms (the backend already initialised, so
 * `load_ms_backend_ready` gives the served model's load under the same condition), score_one_ms_p50/p99,
 * batch64_per_s, batch256_per_s, model_size_mb and rss_added_mb; `ratio_vs_reference` is served ÷
 * reference for the p50 (above 1: slower), the throughputs (above 1: faster) and the size.
 */
import { parseArgs } from 'node:util';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import autocannon from 'autocannon';
import { loadScorer } from '../sentiment/load';
import { readLabelledCsv } from './dataset';
import { scoreWithAfinn, scoreWithVader } from './peers';
import { Poller } from '../mentions/poller';
import { ReplaySource } from '../mentions/replay-source';
import { openStore } from '../store/open';
import type { Scorer } from '../sentiment/types';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { readManifest } from '../registry/manifest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { benchRegistry } from '../registry/bench-registry';
import { newApiKey } from '../http/auth';

const MODEL = 'models/sentinel-bilstm';
const REFERENCE = 'models/reference/20261125-word2vec-cw05';

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Milliseconds per call of `fn` on one text, texts[offset], texts[offset + 1], … */
async function oneTimes(fn: (text: string) => unknown, texts: string[], runs: number, offset = 0): Promise<number[]> {
  const times: number[] = [];
  for (let i = offset; i < offset + runs; i++) {
    const t = performance.now();
    await fn(texts[i % texts.length]);
    times.push(performance.now() - t);
  }
  return times;
}

function p50p99(times: number[]): { p50: number; p99: number } {
  const sorted = [...times].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

async function timeOne(
  fn: (text: string) => unknown,
  texts: string[],
  runs: number,
): Promise<{ p50: number; p99: number }> {
  return p50p99(await oneTimes(fn, texts, runs));
}

/** Batches of `size` for at least `minMs`, the texts going on from `done` texts already scored. */
async function batchRun(
  fn: (batch: string[]) => unknown,
  texts: string[],
  size: number,
  minMs: number,
  done = 0,
): Promise<{ texts: number; ms: number }> {
  const first = done;
  const started = performance.now();
  while (performance.now() - started < minMs) {
    const from = (done / size) % Math.floor(texts.length / size);
    await fn(texts.slice(from * size, from * size + size));
    done += size;
  }
  return { texts: done - first, ms: performance.now() - started };
}

async function throughput(
  fn: (batch: string[]) => unknown,
  texts: string[],
  size: number,
  minMs = 3000,
): Promise<number> {
  const run = await batchRun(fn, texts, size, minMs);
  return run.texts / (run.ms / 1000);
}

interface ScorerFigures {
  one: { p50: number; p99: number };
  batch64: number;
  batch256: number;
}

/**
 * One-text latency (500 texts) and batch throughput (64 and 256, 3 s each) of every scorer, the scorers
 * taking turns: one-text timings in 25 rounds of 20 texts, each batch size in 6 slices of 0.5 s, the order
 * reversed every other round (ABBA…). With a single scorer this is the plain measurement.
 */
async function measureScorers(scorers: Scorer[], texts: string[]): Promise<ScorerFigures[]> {
  const order = (round: number) => (round % 2 ? [...scorers.keys()].reverse() : [...scorers.keys()]);
  const times: number[][] = scorers.map(() => []);
  for (let round = 0; round < 25; round++)
    for (const i of order(round))
      times[i].push(...(await oneTimes((t) => scorers[i].score([t]), texts, 20, round * 20)));
  const rate = async (size: number) => {
    const runs = scorers.map(() => ({ texts: 0, ms: 0 }));
    for (let round = 0; round < 6; round++)
      for (const i of order(round)) {
        const r = await batchRun((b) => scorers[i].score(b), texts, size, 500, runs[i].texts);
        runs[i].texts += r.texts;
        runs[i].ms += r.ms;
      }
    return runs.map((r) => r.texts / (r.ms / 1000));
  };
  const batch64 = await rate(64);
  const batch256 = await rate(256);
  return scorers.map((_, i) => ({ one: p50p99(times[i]), batch64: batch64[i], batch256: batch256[i] }));
}

/** The model's size on disk: the files its manifest lists, in MB (10^6 bytes). */
function modelSizeMb(dir: string): number {
  return round(readManifest(dir).files.reduce((sum, f) => sum + f.size, 0) / 1e6, 2);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitReady(url: string, child: ChildProcess, timeoutMs = 60000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server not ready after ${timeoutMs} ms`);
}

async function httpRps(texts: string[], duration: number, connections: number) {
  const port = await freePort();
  // As deployed: an API key and a rate limit on every request (the limit set high enough not to refuse).
  const { key, entry } = newApiKey('bench', ['predict']);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      MODEL_DIR: MODEL,
      BUNDLED_REPLAY: 'false',
      API_KEYS: entry,
      API_RATE_LIMIT: '10000000',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  try {
    await waitReady(`${url}/ready`, child);
    const result = await autocannon({
      url,
      connections,
      duration,
      requests: texts.slice(0, 50).map((text) => ({
        method: 'POST',
        path: '/predict',
        headers,
        body: JSON.stringify({ text }),
      })),
    });
    const failed = result.errors + result.timeouts + result.non2xx;

    // Fairness: one-text requests, one at a time, while 10 connections keep sending 256-text batches.
    const batchLoad = autocannon({
      url,
      connections: 10,
      duration,
      requests: [{ method: 'POST', path: '/predict', headers, body: JSON.stringify({ texts: batchOf(texts, 256) }) }],
    });
    const single: number[] = [];
    const until = Date.now() + (duration - 1) * 1000;
    await new Promise((r) => setTimeout(r, 500));
    while (Date.now() < until) {
      const t = performance.now();
      const res = await fetch(`${url}/predict`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ text: texts[single.length % texts.length] }),
      });
      await res.arrayBuffer();
      single.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 20));
    }
    const batches = await batchLoad;
    single.sort((a, b) => a - b);
    return {
      rps: result.requests.average,
      latencyP50: result.latency.p50,
      failed,
      underBatches: {
        single_ms_p50: round(percentile(single, 0.5), 1),
        single_ms_p99: round(percentile(single, 0.99), 1),
        singles: single.length,
        batch_texts_per_s: Math.round(batches.requests.average * 256),
      },
    };
  } finally {
    child.kill('SIGTERM');
  }
}

function batchOf(texts: string[], n: number): string[] {
  return Array.from({ length: n }, (_, i) => texts[i % texts.length]);
}

/**
 * Mentions/s from source to scored and stored: the whole replay through the poller (one scoring batch
 * and one store transaction per chunk), on a fresh SQLite file or a fresh PostgreSQL schema.
 */
async function pipeline(scorer: Scorer, csv: string, databaseUrl?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-bench-'));
  const schema = `bench_${process.pid}_${Date.now()}`;
  const store = await openStore({ databaseUrl, sqlitePath: join(dir, 'bench.db'), postgresSchema: schema });
  try {
    const replay = new ReplaySource({ path: csv, chunkSize: 500 });
    const poller = new Poller({
      streams: replay.allStreams().map((stream) => ({ source: replay, stream })),
      scorer,
      store,
    });
    const started = performance.now();
    let stored = 0;
    for (;;) {
      const reports = await poller.pollOnce();
      const fetched = reports.reduce((n, r) => n + r.fetched, 0);
      stored += reports.reduce((n, r) => n + r.stored, 0);
      if (fetched === 0) break;
    }
    const seconds = (performance.now() - started) / 1000;
    return { mentions: stored, seconds: round(seconds, 2), per_s: Math.round(stored / seconds) };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    if (databaseUrl) {
      const pg = new Client({ connectionString: databaseUrl });
      await pg.connect();
      await pg.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pg.end();
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: 'test/fixtures/airline_val_sample.csv' },
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '64' },
      stream: { type: 'string', default: '../shared/data/airline_stream.csv' },
      'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/sentinel_test' },
      reference: { type: 'string' },
    },
  });
  const referenceDir = values.reference ?? (existsSync(REFERENCE) ? REFERENCE : 'none');
  if (referenceDir !== 'none' && !existsSync(referenceDir))
    throw new Error(`--reference: no model directory at ${referenceDir}`);
  const texts = readLabelledCsv(values.data).map((r) => r.text);
  const log = (m: string) => process.stderr.write(`${m}\n`);

  const t0 = performance.now();
  const scorer = await loadScorer(MODEL, { maxBatch: 256 });
  const loadMs = performance.now() - t0;
  log(`loaded ${scorer.info.version} on ${scorer.info.backend} in ${loadMs.toFixed(0)} ms; warming up…`);
  const warm = async (s: Scorer) => {
    await timeOne((t) => s.score([t]), texts, 50);
    await s.score(batchOf(texts, 256));
    await s.score(batchOf(texts, 64));
  };
  await warm(scorer);
  const rssMb = process.memoryUsage().rss / 2 ** 20;

  let reference: Scorer | undefined;
  let referenceLoadMs = 0;
  let servedLoadReadyMs = 0;
  let rssAddedMb = 0;
  if (referenceDir !== 'none') {
    const t1 = performance.now();
    reference = await loadScorer(referenceDir, { maxBatch: 256 });
    referenceLoadMs = performance.now() - t1;
    log(`reference ${reference.info.version} loaded in ${referenceLoadMs.toFixed(0)} ms; warming up…`);
    await warm(reference);
    rssAddedMb = process.memoryUsage().rss / 2 ** 20 - rssMb;
    // The served model's load under the same condition (backend initialised), for a fair comparison.
    const t2 = performance.now();
    (await loadScorer(MODEL, { maxBatch: 256 })).dispose();
    servedLoadReadyMs = performance.now() - t2;
  }
  log(`timing one text and batches of 64 and 256${reference ? ', the two models taking turns' : ''}…`);
  const figures = await measureScorers(reference ? [scorer, reference] : [scorer], texts);
  const { one, batch64, batch256 } = figures[0];
  let referenceResult: Record<string, unknown> = { skipped: '--reference none' };
  let ratio: Record<string, number> | undefined;
  if (reference) {
    const r = figures[1];
    const size = modelSizeMb(referenceDir);
    referenceResult = {
      dir: referenceDir,
      version: reference.info.version,
      load_ms: Math.round(referenceLoadMs),
      score_one_ms_p50: round(r.one.p50, 2),
      score_one_ms_p99: round(r.one.p99, 2),
      batch64_per_s: Math.round(r.batch64),
      batch256_per_s: Math.round(r.batch256),
      model_size_mb: size,
      rss_added_mb: Math.round(rssAddedMb),
    };
    ratio = {
      score_one_ms_p50: round(one.p50 / r.one.p50, 2),
      batch64_per_s: round(batch64 / r.batch64, 2),
      batch256_per_s: round(batch256 / r.batch256, 2),
      model_size: round(modelSizeMb(MODEL) / size, 2),
    };
    reference.dispose();
  }

  let pipelines: Record<string, unknown> = { skipped: `no replay file at ${values.stream}` };
  if (existsSync(values.stream)) {
    log(`pipeline: replay of ${values.stream} on SQLite…`);
    const sqlite = await pipeline(scorer, values.stream);
    log('pipeline: on PostgreSQL…');
    const postgres = await pipeline(scorer, values.stream, values['database-url']).catch((err: Error) => ({
      error: err.message,
    }));
    pipelines = { sqlite, postgres };
  }
  scorer.dispose();

  log('peers…');
  const peers: Record<string, { score_one_ms_p50: number; batch_per_s: number }> = {};
  for (const [name, fn] of [
    ['afinn_sentiment', scoreWithAfinn],
    ['vader_sentiment', scoreWithVader],
  ] as const) {
    const o = await timeOne((t) => fn([t]), texts, 500);
    peers[name] = {
      score_one_ms_p50: round(o.p50, 3),
      batch_per_s: Math.round(await throughput((b) => fn(b), texts, 256)),
    };
  }

  log('model registry: hydration from a loopback bucket, swaps…');
  const registry = await benchRegistry();

  log(`HTTP: autocannon, ${values.connections} connections, ${values.duration} s…`);
  const http = await httpRps(texts, Number(values.duration), Number(values.connections));

  const result = {
    machine: {
      cpus: cpus().length,
      cpu_model: cpus()[0]?.model,
      mem_gb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    backend: scorer.info.backend,
    model_version: scorer.info.version,
    load_ms: Math.round(loadMs),
    ...(reference ? { load_ms_backend_ready: Math.round(servedLoadReadyMs) } : {}),
    score_one_ms_p50: round(one.p50, 2),
    score_one_ms_p99: round(one.p99, 2),
    batch64_per_s: Math.round(batch64),
    batch256_per_s: Math.round(batch256),
    rss_mb: Math.round(rssMb),
    model_size_mb: modelSizeMb(MODEL),
    reference: referenceResult,
    ...(ratio ? { ratio_vs_reference: ratio } : {}),
    predict_http_rps: Math.round(http.rps),
    predict_http_latency_ms_p50: http.latencyP50,
    predict_http_failed: http.failed,
    predict_single_under_batch_load: http.underBatches,
    pipeline_replay: pipelines,
    registry,
    peers,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

function round(x: number, digits: number): number {
  return Math.round(x * 10 ** digits) / 10 ** digits;
}

main().catch((err) => {
  process.stderr.write(`error: ${(err as Error).stack}\n`);
  process.exit(1);
});
