/**
 * The whole process as a user runs it (`npm start` = src/main.ts), over real HTTP and a real SQLite file:
 * a CSV replay flows through the poller into the store, /predict hands out prediction ids, /feedback
 * judges them, and SIGTERM stops it cleanly with everything stored.
 */
import { newApiKey } from '../../src/http/auth';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';

const ROOT = resolve(__dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'sentinel-e2e-'));
const dbPath = join(dir, 'sentinel.db');
let child: ChildProcess;
let base: string;
let stderr = '';

function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => ok(port));
    });
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}; stderr: ${stderr.slice(-2000)}`);
}

// Two API keys: each is one voter. The API as deployed: with keys, not open.
const AGENT_1 = newApiKey('agent-1', ['predict', 'feedback', 'metrics']);
const AGENT_2 = newApiKey('agent-2', ['feedback']);
const auth = (k = AGENT_1) => ({ authorization: `Bearer ${k.key}` });

const post = (path: string, body: unknown, key = AGENT_1) =>
  fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth(key) },
    body: JSON.stringify(body),
  });

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: '127.0.0.1',
      SQLITE_PATH: dbPath,
      REPLAY_CSV: 'test/fixtures/airline_stream_sample.csv',
      POLL_INTERVAL: '1',
      LOG_LEVEL: 'warn',
      API_KEYS: `${AGENT_1.entry},${AGENT_2.entry}`,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (d) => (stderr += d));
  await until('ready', async () => ((await fetch(`${base}/ready`)).ok ? true : undefined));
});

afterAll(() => {
  if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

it('replays mentions into the store, scores /predict with an id that /feedback can judge, and stops cleanly', async () => {
  // The replay's three streams, all 61 rows of the fixture, land in the store.
  const metrics = await until('all mentions stored', async () => {
    const text = await (await fetch(`${base}/metrics`, { headers: auth() })).text();
    const stored = [...text.matchAll(/^sentinel_mentions_stored_total\{stream="[^"]+"\} (\d+)/gm)];
    const total = stored.reduce((n, m) => n + Number(m[1]), 0);
    return total === 61 ? text : undefined;
  });
  expect(metrics).toMatch(/sentinel_polls_total\{stream="Delta",result="ok"\}/);

  const res = await post('/predict', { text: '@AirParadis lost my bag again and nobody answers the phone' });
  expect(res.status).toBe(200);
  const { prediction } = (await res.json()) as { prediction: { id: string; label: string; modelVersion: string } };
  expect(prediction.id).toMatch(/^[0-9a-f-]{36}$/);
  expect(prediction.label).toBe('negative');

  // Voted on at once: the prediction may still be in the write-behind queue.
  const vote = await post('/feedback', { prediction_id: prediction.id, correct: true });
  expect(vote.status).toBe(201);
  const wrong = await post(
    '/feedback',
    { prediction_id: prediction.id, correct: false, true_label: 'neutral' },
    AGENT_2,
  );
  expect(wrong.status).toBe(201);
  const accuracy = (await (await fetch(`${base}/feedback/accuracy`, { headers: auth() })).json()) as {
    models: unknown[];
  };
  expect(accuracy.models).toEqual([{ model_version: prediction.modelVersion, votes: 2, correct: 1, accuracy: 0.5 }]);

  const unknown = await post('/feedback', { prediction_id: 'no-such-prediction', correct: true });
  expect(unknown.status).toBe(404);

  child.kill('SIGTERM');
  const code = await new Promise<number | null>((ok) => child.once('exit', ok));
  expect(code).toBe(0);

  const db = new Database(dbPath, { readonly: true });
  const counts = db.prepare('SELECT stream, COUNT(*) AS n FROM mentions GROUP BY stream ORDER BY stream').all();
  const kept = db.prepare("SELECT COUNT(*) AS n FROM predictions WHERE kind = 'api'").get() as { n: number };
  db.close();
  expect(counts).toEqual([
    { stream: 'Delta', n: 21 },
    { stream: 'United', n: 20 },
    { stream: 'Virgin America', n: 20 },
  ]);
  expect(kept.n).toBe(1);
});
