/**
 * `npm run feedback:export` as an operator runs it (a child process configured through the environment like
 * the server), on a real SQLite file and on PostgreSQL, with predictions and votes written the way Sentinel
 * writes them (mentions through saveMentions, votes through the feedback core, an alert vote, a retracted
 * vote, a text blanked by retention). The CSV holds every decided judged prediction in the training format,
 * ties and texts gone are dropped and counted, alert votes never count, and no voter id — raw or hashed —
 * appears anywhere in it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { recordAlertFeedback } from '../../src/feedback/alert-feedback';
import { recordFeedback, retractFeedback } from '../../src/feedback/feedback';
import { EXPORT_COLUMNS } from '../../src/feedback/export';
import { voterId } from '../../src/feedback/voter';
import type { Store } from '../../src/store/types';
import { readLabelledRows } from '../../src/train/dataset';
import { testStore, type TestStore } from '../helpers/stores';

const ROOT = resolve(__dirname, '../..');
const P = { negative: 0.9, neutral: 0.07, positive: 0.03 };
const VOTERS = ['slack:T123:U456ABCDE', 'teams:tenant-1:aad-0001-alice', 'api:dashboard', 'slack:T123:U777ZZZZZ'];

function exportCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/feedback/export-cli.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => ok({ code, stdout, stderr }));
  });
}

const lastJson = (stdout: string): unknown => JSON.parse(stdout.trim().split('\n').at(-1)!);

async function seed(store: Store): Promise<void> {
  const mention = (id: string, text: string, label: 'negative' | 'neutral' | 'positive') => ({
    id,
    stream: 'airparadis',
    authorId: '1234567',
    createdAt: '2026-11-30T08:00:00.000Z',
    text,
    prediction: { label, confidence: 0.9, probabilities: P, modelVersion: 'v1' },
  });
  await store.saveMentions([
    mention('1001', '@AirParadis lost my bag, "again", thanks', 'negative'),
    mention('1002', '@AirParadis is the lounge open?', 'negative'),
    mention('1003', '@AirParadis tie breaker', 'positive'),
  ]);
  const command = (id: string, text: string, createdAt: string) => ({
    id,
    kind: 'command' as const,
    text,
    label: 'positive' as const,
    probabilities: P,
    modelVersion: 'v2',
    createdAt,
  });
  await store.savePredictions([
    command('cmd-1', 'the crew was\nok I guess', new Date().toISOString()),
    command('cmd-old', 'an old command, past its retention', '2020-01-01T00:00:00.000Z'),
    { ...command('api-1', '', new Date().toISOString()), kind: 'api' }, // /predict with keep_text false
    command('cmd-retracted', 'voted, then retracted', new Date().toISOString()),
  ]);
  const [jane, alice, dashboard, bob] = VOTERS;
  // x:1001: two ✅, one ❌ → negative (the model's label).
  await recordFeedback(store, { predictionId: 'x:1001', userId: jane, correct: true, source: 'slack' });
  await recordFeedback(store, { predictionId: 'x:1001', userId: dashboard, correct: true, source: 'http' });
  await recordFeedback(store, { predictionId: 'x:1001', userId: alice, correct: false, trueLabel: 'neutral' });
  // x:1002: two ❌ naming neutral → neutral.
  await recordFeedback(store, { predictionId: 'x:1002', userId: jane, correct: false, trueLabel: 'neutral' });
  await recordFeedback(store, { predictionId: 'x:1002', userId: bob, correct: false, trueLabel: 'neutral' });
  // x:1003: one ✅ and one ❌: a tie.
  await recordFeedback(store, { predictionId: 'x:1003', userId: jane, correct: true });
  await recordFeedback(store, { predictionId: 'x:1003', userId: alice, correct: false });
  // cmd-1: one ❌ naming negative → negative.
  await recordFeedback(store, { predictionId: 'cmd-1', userId: alice, correct: false, trueLabel: 'negative' });
  // cmd-old: judged, then its text blanked by retention.
  await recordFeedback(store, { predictionId: 'cmd-old', userId: bob, correct: true });
  expect(await store.prune('prediction_texts', '2021-01-01T00:00:00.000Z', 100)).toBe(1);
  // api-1: judged, but its text was never kept.
  await recordFeedback(store, { predictionId: 'api-1', userId: dashboard, correct: false, trueLabel: 'negative' });
  // A retracted vote judges nothing; a vote on an alert is not a prediction's.
  await recordFeedback(store, { predictionId: 'cmd-retracted', userId: bob, correct: true });
  expect(await retractFeedback(store, 'cmd-retracted', bob)).toBe(true);
  await recordAlertFeedback(store, { alertId: 'a1', userId: jane, trueAlarm: false, source: 'slack' });
}

describe.each([['sqlite'], ['postgres']] as const)('npm run feedback:export on %s', (kind) => {
  let db: TestStore;
  let store: Store;
  let dir: string;

  beforeAll(async () => {
    db = testStore(kind);
    store = await db.open();
    await seed(store);
    dir = mkdtempSync(join(tmpdir(), 'sentinel-export-'));
  });

  afterAll(async () => {
    await db.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test('writes every decided judgment as a training row; counts ties and texts gone; never a voter id', async () => {
    const out = join(dir, 'all', 'feedback.csv');
    const { code, stdout, stderr } = await exportCli(['--out', out], db.env);
    expect(code).toBe(0);
    expect(lastJson(stdout)).toEqual({ exported: 3, dropped_ties: 1, dropped_no_text: 2, judged: 6, out });
    expect(stderr).toContain(`6 judged predictions: 3 exported to ${out}, 1 dropped as ties, 2 dropped without text`);

    const csv = readFileSync(out, 'utf8');
    const records: Record<string, string>[] = parse(csv, { columns: true });
    expect(Object.keys(records[0])).toEqual([...EXPORT_COLUMNS]);
    expect(records.map((r) => [r.tweet_id, r.label, r.model_label, r.votes_correct, r.votes_wrong, r.kind])).toEqual([
      ['1001', 'negative', 'negative', '2', '1', 'mention'],
      ['1002', 'neutral', 'negative', '0', '2', 'mention'],
      ['cmd-1', 'negative', 'positive', '0', '1', 'command'],
    ]);
    expect(records[2].text).toBe('the crew was\nok I guess');
    expect(records[2].model_version).toBe('v2');
    for (const r of records) {
      expect(Date.parse(r.first_voted_at)).toBeLessThanOrEqual(Date.parse(r.last_voted_at));
      expect(r.created_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
    // The training reader takes it as it is.
    expect(readLabelledRows(out)).toEqual([
      { tweetId: '1001', label: 'negative', text: '@AirParadis lost my bag, "again", thanks' },
      { tweetId: '1002', label: 'neutral', text: '@AirParadis is the lounge open?' },
      { tweetId: 'cmd-1', label: 'negative', text: 'the crew was\nok I guess' },
    ]);

    // No voter id: not the namespaced ids, not their parts, not the hashes the store keeps.
    const hashes = await Promise.all(VOTERS.map((v) => voterId(store, v)));
    for (const needle of [...VOTERS, ...hashes, 'U456ABCDE', 'aad-0001-alice', 'h1:'])
      expect(csv).not.toContain(needle);
  });

  test('--kinds and --since narrow what is read', async () => {
    const mentions = await exportCli(['--out', join(dir, 'mentions.csv'), '--kinds', 'mention'], db.env);
    expect(lastJson(mentions.stdout)).toMatchObject({ exported: 2, dropped_ties: 1, dropped_no_text: 0, judged: 3 });

    const future = await exportCli(['--out', join(dir, 'future.csv'), '--since', '2999-01-01'], db.env);
    expect(future.code).toBe(0);
    expect(lastJson(future.stdout)).toMatchObject({ exported: 0, judged: 0 });
    expect(readFileSync(join(dir, 'future.csv'), 'utf8')).toBe(`${EXPORT_COLUMNS.join(',')}\n`);

    const past = await exportCli(['--out', join(dir, 'past.csv'), '--since', '2020-01-01T00:00:00Z'], db.env);
    expect(lastJson(past.stdout)).toMatchObject({ exported: 3, judged: 6 });
  });

  test('bad arguments: usage on stderr, exit 2, nothing written; a store it cannot open: exit 1', async () => {
    const bad = await exportCli(['--out', join(dir, 'bad.csv'), '--kinds', 'mention,tweets'], db.env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--kinds: unknown kind "tweets" (allowed: mention, command, api)');
    expect(bad.stderr).toContain('usage: npm run feedback:export');
    expect(existsSync(join(dir, 'bad.csv'))).toBe(false);

    expect((await exportCli([], db.env)).code).toBe(2);
    expect((await exportCli(['--out', join(dir, 'x.csv'), '--since', 'yesterday'], db.env)).code).toBe(2);

    const unreachable = await exportCli(['--out', join(dir, 'x.csv')], {
      DATABASE_URL: 'postgres://nobody:secretpw@127.0.0.1:1/none',
    });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^feedback:export: cannot /);
    expect(unreachable.stderr).not.toContain('secretpw');
    expect(existsSync(join(dir, 'x.csv'))).toBe(false);
  });
});
