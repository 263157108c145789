/**
 * npm run loop:demo end to end, as a person runs it (src/train/loop-demo.ts as a child process), with its
 * fastest settings: the bot replays a day of the training split from a loopback bucket, votes go through
 * its POST /feedback, the real export, a one-epoch retrain (the champion fine-tuned, or a tiny network from
 * scratch), the real gate, and the running bot is watched. With a gate that accepts anything (--max-drop 1)
 * the bot swaps to the fine-tuned version; with the default margin the tiny model is refused and the bot
 * keeps the champion. Ctrl-C stops
 * the bot and removes the working directory. (The data come from test/fixtures, as on a clean clone.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { shippedVersion } from '../helpers/model-versions';

const ROOT = resolve(__dirname, '../..');
const TRAIN = 'test/fixtures/airline_train.csv';
const EVAL = 'test/fixtures/airline_val_sample.csv';
const DAY = '2015-02-17';
const FAST = ['--train', TRAIN, '--eval', EVAL, '--day', DAY, '--votes', '80', '--epochs', '1'];
/** A new, tiny network trained briefly: surely worse than the champion. */
const SCRATCH = [...FAST, '--from-scratch', '--units', '8', '--dim', '16'];

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface DemoResult {
  votes: number;
  agreed: number;
  corrected: number;
  exported: number;
  replayed: number;
  candidate: { version: string; run: string; from: string; macro_f1: { evaluation: number; feedback: number } };
  champion: { version: string; macro_f1: { evaluation: number; feedback: number } };
  decision: 'promoted' | 'refused';
  reasons: string[];
  published: boolean;
  swapped: boolean;
  serving: string;
}

function demo(args: string[], onStderr?: (all: string, child: ChildProcess) => void) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/train/loop-demo.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    onStderr?.(stderr, child);
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string; json: DemoResult | null }>((ok) =>
    child.on('exit', (code) => {
      let json: DemoResult | null;
      try {
        json = JSON.parse(stdout.trim().split('\n').pop() ?? '') as DemoResult;
      } catch {
        json = null;
      }
      ok({ code, stdout, stderr, json });
    }),
  );
}

/** The day's tweets of the training fixture, as the demo should replay them. */
const dayTweets = (
  parse(readFileSync(join(ROOT, TRAIN)), { columns: true, bom: true }) as Array<Record<string, string>>
).filter((r) => r.created_at.startsWith(DAY));

const workDir = (stderr: string) => /loop demo: working in (\S+)/.exec(stderr)?.[1];

it('runs the whole loop, fine-tuning the champion, and the running bot swaps to the promoted version', async () => {
  const r = await demo([...FAST, '--max-drop', '1']);
  if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.stderr}`);
  const json = r.json!;
  for (let step = 1; step <= 7; step++) expect(r.stderr).toContain(`[${step}/7] `);
  expect(json.replayed).toBe(dayTweets.length);
  expect(json.votes).toBe(80);
  expect(json.agreed + json.corrected).toBe(80);
  expect(json.corrected).toBeGreaterThan(0); // the model is wrong now and then: some ❌ with a true label
  expect(json.exported).toBe(80); // one voter per mention: no tie, every vote exported
  expect(json.champion.version).toBe(shippedVersion());
  expect(json.candidate.version).toMatch(/^loop-demo-/);
  expect(json.candidate.from).toBe(`fine-tuned ${shippedVersion()}`);
  expect(r.stderr).toContain(`init: fine-tuning ${shippedVersion()} from models/sentinel-bilstm`);
  for (const who of [json.champion, json.candidate])
    for (const set of ['evaluation', 'feedback'] as const) {
      expect(who.macro_f1[set]).toBeGreaterThan(0.2);
      expect(who.macro_f1[set]).toBeLessThan(1);
    }
  expect(json).toMatchObject({ decision: 'promoted', published: true, swapped: true, serving: json.candidate.version });
  expect(r.stderr).toContain(
    `the running bot swapped ${shippedVersion()} → ${json.candidate.version} without a restart`,
  );
  expect(r.stderr).toContain(`/predict answers with modelVersion ${json.candidate.version}`);
  expect(existsSync(workDir(r.stderr)!)).toBe(false); // cleaned up
}, 240_000);

it('says refused and swapped false when the brief retrain is worse, and the bot keeps the champion', async () => {
  const r = await demo(SCRATCH);
  if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.stderr}`);
  const json = r.json!;
  expect(json.candidate.macro_f1.evaluation).toBeLessThan(json.champion.macro_f1.evaluation - 0.01);
  expect(json).toMatchObject({ decision: 'refused', published: false, swapped: false, serving: shippedVersion() });
  expect(json.reasons[0]).toMatch(/^evaluation split: macro-F1 0\.\d{4} is 0\.\d{4} below the champion's 0\.\d{4}/);
  expect(r.stderr).toContain(`nothing to swap (refused): the bot still serves ${shippedVersion()}`);
}, 240_000);

it('on Ctrl-C stops the bot and removes its working directory', async () => {
  let interrupted = false;
  const r = await demo(SCRATCH, (all, child) => {
    if (!interrupted && all.includes('[2/7] bot: pid')) {
      interrupted = true;
      child.kill('SIGINT');
    }
  });
  expect(interrupted).toBe(true);
  expect(r.code).toBe(130);
  expect(r.stderr).toContain('SIGINT: stopping the bot and the running step');
  const pid = Number(/\[2\/7\] bot: pid (\d+)/.exec(r.stderr)![1]);
  expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  expect(existsSync(workDir(r.stderr)!)).toBe(false);
  expect(r.json).toBeNull();
}, 120_000);
