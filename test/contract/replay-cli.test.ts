/**
 * `npm run replay` as a user runs it (a child process): the alert timeline on stdout, progress on stderr,
 * and as the last stdout line one JSON object with mentions, alerts and, with --oracle, the oracle's
 * alerts and the model's precision, recall and median delay against them.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

function replay(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'adapters/console/replay-cli.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => ok({ code, stdout, stderr }));
  });
}

const lastLine = (s: string) => JSON.parse(s.trimEnd().split('\n').at(-1)!);

it('a real bad-buzz day (the bundled sample): the model’s alert, the oracle’s, and how well they match', async () => {
  const { code, stdout, stderr } = await replay(['--data', 'src/mentions/sample/airline-bad-buzz.csv', '--oracle']);
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  expect(stderr).toContain('replay: 1211 tweets of Southwest');
  expect(stdout).toMatch(
    /^Alert timeline \(data time\):\n2015-02-21 \d\d:\d\d UTC {2}(model|oracle) +Southwest +OPENED/,
  );
  const summary = lastLine(stdout);
  expect(summary.mentions).toBe(1211);
  expect(summary.streams).toEqual(['Southwest']);
  expect(summary.alerts.length).toBeGreaterThanOrEqual(1);
  const [alert] = summary.alerts;
  expect(Object.keys(alert).sort()).toEqual(['opened_at', 'peak_negative_share', 'resolved_at', 'stream']);
  expect(alert.stream).toBe('Southwest');
  expect(alert.opened_at.slice(0, 10)).toBe('2015-02-21');
  expect(alert.peak_negative_share).toBeGreaterThan(0.6);
  expect(alert.peak_negative_share).toBeLessThanOrEqual(1);
  // The human labels show the same day as a bad buzz, and the model's alert overlaps it.
  expect(summary.oracle.alerts.length).toBeGreaterThanOrEqual(1);
  expect(summary.oracle.alerts[0].opened_at.slice(0, 10)).toBe('2015-02-21');
  expect(summary.oracle.recall).toBe(1);
  expect(summary.oracle.precision).toBe(1);
  expect(Math.abs(summary.oracle.median_delay_minutes)).toBeLessThan(6 * 60);
  expect(stdout).toMatch(/Oracle \(human labels\): \d+ alert\(s\); model precision 1\.00, recall 1\.00/);
}, 120_000);

it('a stream with too little history: no alert, and the JSON says so plainly', async () => {
  const { code, stdout } = await replay([
    '--data',
    'test/fixtures/airline_stream_sample.csv',
    '--stream',
    'Delta,United',
    '--oracle',
  ]);
  expect(code).toBe(0);
  const summary = lastLine(stdout);
  expect(summary).toMatchObject({
    mentions: 41, // 20 + the multi-line one for Delta, 20 for United
    streams: ['Delta', 'United'],
    alerts: [],
    oracle: { alerts: [], precision: null, recall: null, median_delay_minutes: null },
  });
  expect(stdout).toContain('(no alert)');
}, 120_000);

it('bad arguments: a clear message and exit code 2', async () => {
  const missing = await replay([]);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain('error: --data <csv> is required');
  const stream = await replay(['--data', 'test/fixtures/airline_stream_sample.csv', '--stream', 'Ryanair']);
  expect(stream.code).toBe(2);
  expect(stream.stderr).toMatch(/no stream "Ryanair" in test\/fixtures\/airline_stream_sample\.csv \(streams: /);
  const set = await replay(['--data', 'x.csv', '--set', 'windowMinutes=100']);
  expect(set.code).toBe(2);
  expect(set.stderr).toContain('whole number of buckets');
  const file = await replay(['--data', 'no/such.csv']);
  expect(file.code).toBe(1);
  expect(file.stderr).toContain('replay: no/such.csv does not exist');
}, 120_000);
