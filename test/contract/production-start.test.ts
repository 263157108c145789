/**
 * The production build, started exactly as the image starts it: the Dockerfile's CMD run from the
 * repository root (the image's WORKDIR holds the same dist/, models/ and node_modules/) with the
 * Dockerfile's ENV, in production mode against the real PostgreSQL server, an X API and a Slack Web API
 * served on loopback. SIGTERM to that very process must stop polling, finish the requests in flight,
 * flush the queued predictions and close the store, and exit 0 within Cloud Run's 10 s.
 *
 * Needs `npm run build` first (`npm test` runs it before jest).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { Client } from 'pg';
import { openPostgresStore } from '../../src/store/postgres';
import { SlackApiServer } from '../helpers/slack-api-server';
import { startXServer, tweetsFrom, type XServer } from '../helpers/x-server';
import { TEST_DATABASE_URL } from '../global-setup';

const ROOT = resolve(__dirname, '../..');
const PG_URL = process.env.TEST_DATABASE_URL ?? TEST_DATABASE_URL;
const SIGNING_SECRET = '0123456789abcdef0123456789abcdef';

/** The image's start command and environment, read from the Dockerfile so that the two cannot differ. */
function imageStart(): { argv: string[]; env: Record<string, string> } {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const cmd = [...runtime.matchAll(/^CMD\s+(\[.*\])\s*$/gm)].pop();
  if (!cmd) throw new Error('the Dockerfile has no CMD in exec (JSON) form');
  expect(runtime).not.toMatch(/^ENTRYPOINT/m);
  const env: Record<string, string> = {};
  for (const line of runtime.matchAll(/^ENV\s+(.+)$/gm))
    for (const pair of line[1].trim().split(/\s+/)) {
      const at = pair.indexOf('=');
      env[pair.slice(0, at)] = pair.slice(at + 1);
    }
  return { argv: JSON.parse(cmd[1]) as string[], env };
}

function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => ok(port));
    });
  });
}

interface Run {
  child: ChildProcess;
  lines: () => Array<Record<string, unknown>>;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

function start(env: Record<string, string>): Run {
  const { argv } = imageStart();
  const [command, ...args] = argv;
  const child = spawn(command === 'node' ? process.execPath : command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((ok) =>
    child.once('exit', (code, signal) => ok({ code, signal, at: Date.now() })),
  );
  const lines = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, lines, output: () => out, exited };
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, run: Run): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; output:\n${run.output()}`);
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/src/main.js')))
    throw new Error('dist/src/main.js is missing: run `npm run build` first (npm test does)');
});

describe('the built entry point as the image runs it', () => {
  let x: XServer;
  let slack: SlackApiServer;
  let schema: string;
  let admin: Client;

  beforeAll(async () => {
    const rows: Array<Record<string, string>> = parse(
      readFileSync(join(ROOT, 'test/fixtures/airline_stream_sample.csv')),
      { columns: true, bom: true },
    );
    x = await startXServer({
      token: 'prod-test-bearer',
      tweets: tweetsFrom(
        rows.map((r) => ({ id: r.tweet_id, createdAt: r.created_at, text: r.text })),
        [{ id: '3001', username: 'flyer' }],
      ),
    });
    slack = await SlackApiServer.start();
    schema = `prodstart_${process.pid}_${Date.now() % 100000}`;
    admin = new Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA "${schema}"`);
  });

  afterAll(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    await x.close();
    await slack.close();
  });

  it('runs in production mode and stops cleanly on SIGTERM, in-flight work finished and stored', async () => {
    const image = imageStart();
    expect(image.argv).toEqual(['node', 'dist/src/main.js']); // no npm, no tsx in the container
    const port = await freePort();
    const databaseUrl = `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    const run = start({
      ...image.env,
      K_SERVICE: 'sentinel', // as on Cloud Run
      PORT: String(port),
      HOST: '127.0.0.1', // the image listens on 0.0.0.0; the test keeps to loopback
      DATABASE_URL: databaseUrl,
      X_BEARER_TOKEN: x.token,
      X_API_URL: x.url,
      NODE_EXTRA_CA_CERTS: x.certPath,
      POLL_INTERVAL: '1',
      SLACK_BOT_TOKEN: slack.token,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.apiUrl,
      SLACK_ALERT_CHANNELS: '#alerts',
      PRIVACY_USER_ID_SECRET: 'prod-start-test-secret-of-32-characters-or-more',
    });
    try {
      const base = `http://127.0.0.1:${port}`;
      await until('/ready', async () => ((await fetch(`${base}/ready`).catch(() => null))?.ok ? true : undefined), run);
      const starting = run.lines().find((l) => String(l.msg).startsWith('starting Sentinel'));
      expect(starting).toMatchObject({ mode: 'production' });
      // The poller stored the X mentions in PostgreSQL.
      await until('mentions stored', () => (x.requests.length > 0 ? true : undefined), run);
      const reader = openPostgresStore(databaseUrl);
      try {
        const stored = await until(
          'all mentions stored',
          async () => {
            const n = await reader.countMentions();
            return n === x.tweets.length ? n : undefined;
          },
          run,
        );
        expect(stored).toBe(x.tweets.length);

        // Predictions in flight when SIGTERM arrives: answered, and their ids stored before exit.
        const texts = Array.from({ length: 40 }, (_, i) => `flight ${i} delayed again, no one at the desk`);
        const inFlight = texts.map((text) =>
          fetch(`${base}/predict`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ text }),
          }).then(async (r) => ({ status: r.status, body: (await r.json()) as { prediction?: { id?: string } } })),
        );
        await new Promise((r) => setTimeout(r, 20));
        const sentAt = Date.now();
        run.child.kill('SIGTERM');
        const answers = await Promise.all(
          inFlight.map((p) => p.catch(() => ({ status: 0, body: {} as { prediction?: { id?: string } } }))),
        );
        const exit = await run.exited;

        expect(exit).toMatchObject({ code: 0, signal: null });
        expect(exit.at - sentAt).toBeLessThan(10_000); // Cloud Run's grace period
        const msgs = run.lines().map((l) => l.msg);
        expect(msgs).toContain('shutting down: no new connections, finishing in-flight work');
        expect(run.lines().find((l) => l.msg === 'stopped')).toMatchObject({ store: 'postgres' });
        expect(msgs.filter((m) => m === 'error while shutting down')).toEqual([]);
        // Every request that got in was answered, and every id it was given is in the store.
        const answered = answers.filter((a) => a.status === 200);
        expect(answered.length).toBeGreaterThan(0);
        for (const a of answered) expect(await reader.getPrediction(a.body.prediction!.id!)).not.toBeNull();
        // The checkpoint is at the newest mention: a restart would fetch nothing twice.
        const newest = x.tweets.map((t) => BigInt(t.id!)).reduce((a, b) => (a > b ? a : b));
        expect(await reader.getCheckpoint('x:AirParadis')).toBe(String(newest));
      } finally {
        await reader.close();
      }
    } finally {
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    }
  });
});

describe('the built entry point refuses what would misbehave deployed', () => {
  const cases: Array<[string, Record<string, string>, RegExp[]]> = [
    [
      'production mode without a source, a database or a chat sink',
      { NODE_ENV: 'production' },
      [
        /Production mode \(NODE_ENV=production\) cannot start:/,
        /X_BEARER_TOKEN: not set/,
        /DATABASE_URL: not set/,
        /no chat sink/,
      ],
    ],
    [
      'a look-alike setting',
      { TREND_OPEN_P_VALUE: '0.01' },
      [/unknown setting TREND_OPEN_P_VALUE — did you mean TREND_OPEN_PVALUE\?/],
    ],
    ['a bad schedule', { POLL_INTERVAL: 'abc' }, [/POLL_INTERVAL: expected seconds dividing a minute/]],
  ];
  it.each(cases)('%s: exit 1 with a message naming each setting', async (_name, env, messages) => {
    const run = start({ ...env, BUNDLED_REPLAY: 'false', PORT: String(await freePort()) });
    const exit = await run.exited;
    expect(exit.code).toBe(1);
    for (const m of messages) expect(run.output()).toMatch(m);
  });

  it('SIGTERM while still starting (the model loading): a clean stop, exit 0', async () => {
    const run = start({ PORT: String(await freePort()), BUNDLED_REPLAY: 'false', SQLITE_PATH: ':memory:' });
    await until('the start-up line', () => (run.output().includes('starting Sentinel') ? true : undefined), run);
    run.child.kill('SIGTERM');
    const exit = await run.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(run.lines().map((l) => l.msg)).toContain('stopped');
  });

  it('a port in use: says so and which setting to change', async () => {
    const holder = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => holder.once('listening', r));
    const { port } = holder.address() as AddressInfo;
    try {
      const run = start({ PORT: String(port), BUNDLED_REPLAY: 'false', DATA_DIR: 'tmp', SQLITE_PATH: ':memory:' });
      const exit = await run.exited;
      expect(exit.code).toBe(1);
      expect(run.output()).toContain(`port ${port} is in use: stop what holds it or set PORT=`);
    } finally {
      holder.close();
    }
  });
});
