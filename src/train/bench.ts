/**
 * npm run bench [-- --data <csv>] [--duration 10] [--connections 64]
 *
 * Measures the scorer and the HTTP API on this machine. The last stdout line is one JSON object:
 * backend, load_ms, score_one_ms_p50/p99, batch64_per_s, batch256_per_s, rss_mb, predict_http_rps,
 * predict_http_latency_ms_p50 (with an API key and the rate limit on), predict_single_under_batch_load
 * (one-text latency while 10 connections send 256-text batches), and peers (lexicon packages, same texts).
 * The HTTP figure comes from autocannon in this process against `npm start`'s server in a child
 * process, so the load generator does not steal the server's event loop.
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
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { benchRegistry } from '../registry/bench-registry';
import { newApiKey } from '../http/auth';

const MODEL = 'models/sentinel-bilstm';

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function timeOne(
  fn: (text: string) => unknown,
  texts: string[],
  runs: number,
): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn(texts[i % texts.length]);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

async function throughput(
  fn: (batch: string[]) => unknown,
  texts: string[],
  size: number,
  minMs = 3000,
): Promise<number> {
  let done = 0;
  const started = performance.now();
  while (performance.now() - started < minMs) {
    const from = (done / size) % Math.floor(texts.length / size);
    await fn(texts.slice(from * size, from * size + size));
    done += size;
  }
  return done / ((performance.now() - started) / 1000);
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
    },
  });
  const texts = readLabelledCsv(values.data).map((r) => r.text);
  const log = (m: string) => process.stderr.write(`${m}\n`);

  const t0 = performance.now();
  const scorer = await loadScorer(MODEL, { maxBatch: 256 });
  const loadMs = performance.now() - t0;
  log(`loaded ${scorer.info.version} on ${scorer.info.backend} in ${loadMs.toFixed(0)} ms; timing one text…`);
  await timeOne((t) => scorer.score([t]), texts, 50); // warm
  const one = await timeOne((t) => scorer.score([t]), texts, 500);
  log('batches…');
  const batch64 = await throughput((b) => scorer.score(b), texts, 64);
  const batch256 = await throughput((b) => scorer.score(b), texts, 256);
  const rssMb = process.memoryUsage().rss / 2 ** 20;

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
    score_one_ms_p50: round(one.p50, 2),
    score_one_ms_p99: round(one.p99, 2),
    batch64_per_s: Math.round(batch64),
    batch256_per_s: Math.round(batch256),
    rss_mb: Math.round(rssMb),
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
