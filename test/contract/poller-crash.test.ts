/**
 * Crash safety, for real: a child process (test/helpers/poll-child.ts) polls the loopback X server with
 * the real X source and the shipped model into a real SQLite file, and is SIGKILLed after storing a
 * fetch and before writing its checkpoint, twice, in the middle of a capped multi-page backlog and with
 * a burst arriving between runs. After a clean restart every tweet is stored exactly once, scored by the
 * model, and the checkpoint is at the newest tweet.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { openSqliteStore } from '../../src/store/sqlite';
import { startXServer, tweetsFrom, type XServer, type XUser } from '../helpers/x-server';

const ROOT = resolve(__dirname, '../..');
const CHILD = join(ROOT, 'test/helpers/poll-child.ts');
const MODEL_DIR = join(ROOT, 'models/sentinel-bilstm');
const TOKEN = 'crash-test-bearer-token';
const KEY = 'x:AirParadis';

const ROWS: Array<Record<string, string>> = parse(readFileSync(join(ROOT, 'test/fixtures/airline_stream_sample.csv')), {
  columns: true,
  bom: true,
});
const USERS: XUser[] = [
  { id: '2001', username: 'first_flyer' },
  { id: '2002', username: 'second_flyer' },
];
const TWEETS = tweetsFrom(
  ROWS.map((r) => ({ id: r.tweet_id, createdAt: r.created_at, text: r.text })),
  USERS,
);

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: Array<Record<string, unknown>>;
  stderr: string;
}

function runChild(server: XServer, dbPath: string, env: Record<string, string> = {}): Promise<ChildRun> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_EXTRA_CA_CERTS: server.certPath,
        X_API_URL: server.url,
        X_BEARER_TOKEN: TOKEN,
        SQLITE_PATH: dbPath,
        MODEL_DIR,
        PAGES: '2',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      resolveRun({
        code,
        signal,
        stderr,
        lines: stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l)),
      }),
    );
  });
}

async function readDb(dbPath: string) {
  const store = openSqliteStore(dbPath);
  await store.migrate();
  try {
    const mentions = await store.mentionsBetween('AirParadis', '2000-01-01T00:00:00Z', '2100-01-01T00:00:00Z');
    return { count: await store.countMentions(), mentions, checkpoint: await store.getCheckpoint(KEY) };
  } finally {
    await store.close();
  }
}

const byId = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

let server: XServer;
beforeAll(async () => {
  server = await startXServer({ token: TOKEN, tweets: TWEETS.slice(0, 35), users: USERS });
});
afterAll(async () => {
  await server.close();
});

test('SIGKILL between storing and checkpointing, restart: no mention lost, none duplicated', async () => {
  expect(existsSync(join(MODEL_DIR, 'manifest.json'))).toBe(true);
  const dbPath = join(mkdtempSync(join(tmpdir(), 'sentinel-crash-')), 'sentinel.db');
  const first35 = TWEETS.slice(0, 35)
    .map((t) => t.id!)
    .sort(byId);

  // Run 1: the first poll (2 pages of 10: the 20 newest) is stored, then the process dies before its checkpoint.
  const run1 = await runChild(server, dbPath, { SENTINEL_TEST_KILL_AT_CHECKPOINT: '1' });
  expect(run1.signal).toBe('SIGKILL');
  expect(run1.lines).toEqual([expect.objectContaining({ killing: true, stream: KEY, stored: 20 })]);
  let db = await readDb(dbPath);
  expect(db.count).toBe(20);
  expect(db.checkpoint).toBeNull();

  // Run 2: that poll again (nothing new stored, the checkpoint now records the gap), then the gap's
  // 15 older tweets are stored and the process dies again before checkpointing.
  const run2 = await runChild(server, dbPath, { SENTINEL_TEST_KILL_AT_CHECKPOINT: '2' });
  expect(run2.signal).toBe('SIGKILL');
  expect(run2.lines[0]).toMatchObject({ result: 'ok', fetched: 20, stored: 0 });
  expect(JSON.parse(run2.lines[0].checkpoint as string)).toEqual({
    since_id: null,
    until_id: first35[15],
    newest_id: first35[34],
  });
  expect(run2.lines[1]).toMatchObject({ killing: true, stored: 35 });
  db = await readDb(dbPath);
  expect(db.count).toBe(35);
  expect(JSON.parse(db.checkpoint!)).toMatchObject({ until_id: first35[15] });

  // A burst arrives while the poller is down.
  server.addTweets(...TWEETS.slice(35, 42));
  const all = TWEETS.slice(0, 42)
    .map((t) => t.id!)
    .sort(byId);

  // Run 3, no crash: the gap once more (already stored), then the burst, then nothing new.
  const run3 = await runChild(server, dbPath);
  expect(run3.code).toBe(0);
  expect(run3.stderr).toBe('');
  const reports = run3.lines;
  expect(reports.map((r) => r.result)).toEqual(reports.map(() => 'ok'));
  expect(reports.at(-1)).toMatchObject({ fetched: 0, stored: 0 });
  expect(reports.reduce((n, r) => n + (r.stored as number), 0)).toBe(7);

  db = await readDb(dbPath);
  expect(db.count).toBe(42);
  const storedIds = db.mentions.map((m) => m.id);
  expect(new Set(storedIds).size).toBe(storedIds.length);
  expect([...storedIds].sort(byId)).toEqual(all);
  expect(db.checkpoint).toBe(all[41]);

  // Scored by the shipped model, authors resolved from includes.users.
  const version = JSON.parse(readFileSync(join(MODEL_DIR, 'manifest.json'), 'utf8')).version;
  expect(reports[0].scorer).toBe(version);
  for (const m of db.mentions) {
    expect(m.prediction?.modelVersion).toBe(version);
    const p = m.prediction!.probabilities;
    expect(p.negative + p.neutral + p.positive).toBeCloseTo(1, 4);
    expect(['first_flyer', 'second_flyer']).toContain(m.authorHandle);
  }

  // Run 3 asked X exactly for the gap, then for what is newer than the newest tweet stored.
  const run3Queries = server
    .searches()
    .slice(-4)
    .map((r) => ({ since: r.query.since_id, until: r.query.until_id }));
  expect(run3Queries).toEqual([
    { since: undefined, until: all[15] },
    { since: undefined, until: all[15] },
    { since: all[34], until: undefined },
    { since: all[41], until: undefined },
  ]);
}, 120_000);
