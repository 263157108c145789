/**
 * `npm run runs` on a runs directory holding runs of every age: two kept in the repository (one finished,
 * the shipped model's; one stopped before its summary, from before inputs.json) and one tracked today (inputs
 * with a feedback file, mirrored to a loopback MLflow server). The champion is the run that made the served
 * model: named by MODEL_DIR's manifest, by --model, or by the registry's latest.json on a loopback GCS
 * server — and by MODEL_DIR's manifest again when the bucket cannot be reached, which stderr says.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RunTracker, describeInput } from '../../src/train/run-tracker';
import { runRunsCli } from '../../src/train/runs-cli';
import { startGcsServer, type GcsServer } from '../helpers/gcs-server';
import { startMlflowServer, type MlflowServer } from '../helpers/mlflow-server';

const ROOT = resolve(__dirname, '../..');
// The previous shipped model (kept in models/reference): a fixed model directory whose run is in runs/, so the
// figures below do not move when a new model ships.
const SHIPPED = join(ROOT, 'models/reference/20261125-word2vec-cw05');
const SHIPPED_RUN = '2026-11-25T17-01-09-004Z-bilstm-word2vec';
const STOPPED_RUN = '2026-11-25T16-51-33-957Z-bilstm-word2vec';

let dir: string;
let runs: string;
let newRun: string;
let mlflowRunId: string;
let mlflow: MlflowServer;
let gcs: GcsServer;

async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runRunsCli(
    args,
    { MODEL_DIR: SHIPPED, ...env },
    (s) => (stdout += s),
    (s) => (stderr += s),
  );
  return { code, stdout, stderr };
}

/** A manifest like the shipped one, for another version made by another run. */
function manifestFor(version: string, run: string): string {
  const m = JSON.parse(readFileSync(join(SHIPPED, 'manifest.json'), 'utf8'));
  return JSON.stringify({ ...m, version, metrics: { ...m.metrics, run } });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sentinel-runs-cli-'));
  runs = join(dir, 'runs');
  for (const id of [SHIPPED_RUN, STOPPED_RUN]) cpSync(join(ROOT, 'runs', id), join(runs, id), { recursive: true });

  mlflow = await startMlflowServer();
  gcs = await startGcsServer();
  const data = join(dir, 'data.csv');
  writeFileSync(data, 'tweet_id,label,text\n1,negative,late\n2,positive,great\n');
  const tracker = new RunTracker(runs, 'bilstm-random', {
    now: new Date('2026-12-01T09:00:00.000Z'),
    mlflow: { trackingUri: mlflow.url, experimentName: 'sentinel' },
  });
  tracker.params({ embeddings: 'random', epochs: 1 });
  tracker.inputs([
    { ...describeInput('train', data, 2), rows: 10139 },
    { ...describeInput('val', data, 2), rows: 2173 },
    { ...describeInput('feedback', data, 2), rows: 412 },
  ]);
  tracker.metric(1, { loss: 0.5 });
  tracker.summary({
    version: '20261201-feedback',
    validation: { accuracy: 0.8231, macro_f1: 0.7788, per_class: { negative: { recall: 0.9012 } } },
  });
  newRun = tracker.id;
  mlflowRunId = (await tracker.finish('FINISHED'))!.run_id!;
});

afterAll(async () => {
  await mlflow.close();
  await gcs.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a table of every run, old and new, the champion marked from MODEL_DIR', async () => {
  const { code, stdout, stderr } = await cli(['--runs', runs]);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(stdout.trimEnd().split('\n')).toEqual([
    `3 runs in ${runs}; * = champion, version 20261125-word2vec-cw05 (${SHIPPED}/manifest.json)`,
    '  run                                       embeddings  train rows  feedback rows  accuracy  macro-F1  neg recall  MLflow run',
    `  2026-11-25T16-51-33-957Z-bilstm-word2vec  word2vec             —              —         —         —           —  ${'—'.padEnd(mlflowRunId.length)}  unfinished`,
    '* 2026-11-25T17-01-09-004Z-bilstm-word2vec  word2vec             —              —    82.0 %    77.1 %      89.3 %  —',
    `  2026-12-01T09-00-00-000Z-bilstm-random    random          10,139            412    82.3 %    77.9 %      90.1 %  ${mlflowRunId}`,
  ]);
});

test('--json: the champion and every run', async () => {
  const { stdout } = await cli(['--runs', runs, '--json']);
  const out = JSON.parse(stdout);
  expect(out.champion).toEqual({
    version: '20261125-word2vec-cw05',
    run: SHIPPED_RUN,
    source: `${SHIPPED}/manifest.json`,
  });
  expect(out.runs.map((r: { id: string; champion: boolean }) => [r.id, r.champion])).toEqual([
    [STOPPED_RUN, false],
    [SHIPPED_RUN, true],
    [newRun, false],
  ]);
  expect(out.runs[2]).toEqual({
    id: newRun,
    embeddings: 'random',
    version: '20261201-feedback',
    train_rows: 10139,
    feedback_rows: 412,
    val_rows: 2173,
    accuracy: 0.8231,
    macro_f1: 0.7788,
    negative_recall: 0.9012,
    finished: true,
    mlflow_run_id: mlflowRunId,
    champion: false,
  });
  expect(out.runs[0]).toMatchObject({ finished: false, train_rows: null, accuracy: null, mlflow_run_id: null });
});

test('--model names the champion from another model directory', async () => {
  const model = join(dir, 'candidate');
  mkdirSync(model);
  writeFileSync(join(model, 'manifest.json'), manifestFor('20261201-feedback', newRun));
  const { stdout } = await cli(['--runs', runs, '--model', model]);
  expect(stdout.split('\n').filter((l) => l.startsWith('*'))).toEqual([expect.stringContaining(newRun)]);
});

describe('with MODEL_BUCKET', () => {
  const bucketEnv = () => ({
    MODEL_BUCKET: 'sentinel-models',
    MODEL_PREFIX: 'sentinel-bilstm',
    GCS_ENDPOINT: gcs.url,
    GCS_ACCESS: 'anonymous',
  });

  test("the registry's latest.json names the champion", async () => {
    gcs.put(
      'sentinel-models',
      'sentinel-bilstm/20261201-feedback/manifest.json',
      manifestFor('20261201-feedback', newRun),
    );
    gcs.put('sentinel-models', 'sentinel-bilstm/latest.json', JSON.stringify({ version: '20261201-feedback' }));
    const { code, stdout, stderr } = await cli(['--runs', runs], bucketEnv());
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stdout.split('\n');
    expect(lines[0]).toBe(
      `3 runs in ${runs}; * = champion, version 20261201-feedback (gs://sentinel-models/sentinel-bilstm/latest.json)`,
    );
    expect(lines.filter((l) => l.startsWith('*'))).toEqual([expect.stringContaining(newRun)]);
  });

  test('a bucket that cannot be reached: said on stderr, the champion from MODEL_DIR', async () => {
    const { code, stdout, stderr } = await cli(['--runs', runs], {
      ...bucketEnv(),
      GCS_ENDPOINT: 'http://127.0.0.1:9', // nothing listens on the discard port
    });
    expect(code).toBe(0);
    expect(stderr).toMatch(
      new RegExp(
        `^MODEL_BUCKET: gs://sentinel-models/sentinel-bilstm/latest\\.json not read \\(.+\\); champion from ${SHIPPED} instead\\n$`,
      ),
    );
    expect(stdout.split('\n').filter((l) => l.startsWith('*'))).toEqual([expect.stringContaining(SHIPPED_RUN)]);
  });
});

test('no runs, and bad arguments', async () => {
  const empty = await cli(['--runs', join(dir, 'nothing-here')]);
  expect(empty).toEqual({ code: 0, stdout: `no runs in ${join(dir, 'nothing-here')}\n`, stderr: '' });
  const bad = await cli(['--run', runs]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('usage: npm run runs');
});
