/**
 * Local mode as a new user meets it: `npm start` (src/main.ts) with no credentials replays the bundled
 * sample of real tweets through the shipped model into SQLite, prints the bad-buzz alert and its
 * resolution on the terminal with the charts written under DATA_DIR, and serves the HTTP API. A second
 * start on the same database does not alert again and says why. Each alert is printed once, in a box that
 * fits 80 columns, and the polls after the end of the replay are not logged one by one. (The replay runs
 * much faster here than its default 6,000×, which shows the alert in about 35 s.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { displayWidth } from '../../adapters/console/wrap';

const ROOT = resolve(__dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'sentinel-local-'));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const count = (text: string, what: string) => text.split(what).length - 1;

function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => ok(port));
    });
  });
}

async function start(port: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      SQLITE_PATH: join(dir, 'sentinel.db'),
      BUNDLED_REPLAY_SPEED: '2000000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
  const until = async (what: string, test: () => boolean | Promise<boolean>, ms = 60_000) => {
    const end = Date.now() + ms;
    while (!(await Promise.resolve(test()).catch(() => false))) {
      if (Date.now() > end || child.exitCode !== null)
        throw new Error(`timed out waiting for ${what}; output:\n${stdout.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  return { child, out: () => stdout, exited, until };
}

it('prints a real alert and its resolution, writes the charts, serves the API, and does not alert twice', async () => {
  const port = await freePort();
  const first = await start(port);
  await first.until('the resolution', () => first.out().includes('│ RESOLVED · Southwest'));
  const out = first.out();
  expect(out).toContain('local mode: replaying 1211 real tweets');
  expect(out).toContain('[sentinel] … Southwest: no alerts yet, too little history');
  expect(out).toContain('[sentinel] ✓ Southwest: baseline learnt');
  expect(out).toMatch(/│ ALERT · Southwest · 2015-02-21 \d\d:\d\d UTC \(data time\)/);
  expect(out).toMatch(/│ Bad buzz starting on Southwest: \d+ % of mentions negative/);
  expect(out).toMatch(/https:\/\/x\.com\/i\/web\/status\/\d{18}/);
  const charts = [...out.matchAll(/Chart \(last 24 h\):\s+(?:│\s+)?(\S+\.png)/g)].map((m) => m[1]);
  expect(charts.length).toBe(2);
  for (const c of charts) {
    expect(c.startsWith(join(dir, 'alerts'))).toBe(true);
    expect(existsSync(c)).toBe(true);
  }
  // Each alert once: one box for the opening, one for the resolution, and their text nowhere else (the
  // JSON log lines included). Everything printed for a person fits 80 columns.
  expect(count(out, '│ ALERT · Southwest')).toBe(1);
  expect(count(out, '│ RESOLVED · Southwest')).toBe(1);
  expect(count(out, 'Bad buzz starting on Southwest')).toBe(1);
  expect(count(out, 'Over on Southwest after')).toBe(1);
  // The dashboard: its address at start-up, and each alert box links the alert on it.
  expect(out).toContain(`dashboard: http://127.0.0.1:${port}/dashboard (open on this machine)`);
  expect(count(out, `http://127.0.0.1:${port}/dashboard/alerts/Southwest@2015-02-21T`)).toBe(2);
  const printed = out.split('\n').filter((l) => !l.startsWith('{')); // the rest are JSON log lines (not a TTY)
  expect(printed.some((l) => l.startsWith('│ '))).toBe(true);
  expect(printed.filter((l) => displayWidth(l) > 80)).toEqual([]);
  // One line per poll that fetched something; the polls after the end of the replay are not logged one by one.
  await new Promise((r) => setTimeout(r, 2500));
  const polls = first
    .out()
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes('"fetched":'))
    .map((l) => JSON.parse(l) as { fetched: number; msg: string });
  expect(polls.filter((p) => p.fetched > 0).length).toBeGreaterThan(0);
  expect(polls.filter((p) => p.fetched === 0).map((p) => p.msg)).toEqual([
    'replay:Southwest: no new mentions (the next ones are logged when they arrive)',
  ]);
  const res = await fetch(`http://127.0.0.1:${port}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: 'on hold for two hours, flight cancelled' }),
  });
  expect(res.status).toBe(200);
  first.child.kill('SIGTERM');
  expect(await first.exited).toBe(0);
  const files = readdirSync(join(dir, 'alerts')).length;

  // Again, on the same database: the sample is already replayed; no new alert, and the user is told why.
  const second = await start(port);
  await second.until('the warning', () => second.out().includes('already replayed into this database'));
  await second.until('ready', async () => (await fetch(`http://127.0.0.1:${port}/ready`)).ok);
  await new Promise((r) => setTimeout(r, 2500)); // a couple of polls
  expect(second.out()).not.toContain('│ ALERT ·');
  expect(second.out()).not.toContain('0 mention(s)');
  expect(readdirSync(join(dir, 'alerts')).length).toBe(files);
  second.child.kill('SIGTERM');
  expect(await second.exited).toBe(0);
}, 120_000);
