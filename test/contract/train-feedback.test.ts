/**
 * `npm run train -- … --feedback <csv>` as a person runs it (a child process), on real tweets (a slice of the
 * training fixture and of the validation sample; one epoch, tiny dimensions), with MLFLOW_TRACKING_URI
 * pointing at a loopback MLflow server: the people's labels are merged (one override, two new texts, one
 * evaluation text dropped), the counts reach stderr, the last stdout line, params.json, summary.json and
 * MLflow; inputs.json has the sha256 and rows of every input; the manifest names the feedback file.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { csvField, exportJudgments, toCsv } from '../../src/feedback/export';
import type { Judgment } from '../../src/store/types';
import { readLabelledRows, sameTextKey, type Label } from '../../src/train/dataset';
import { startMlflowServer, type MlflowServer } from '../helpers/mlflow-server';

const ROOT = resolve(__dirname, '../..');
const FIXTURES = join(ROOT, 'test/fixtures');

function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/train/train.ts', ...args], {
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

/** The first `n` records of a fixture, in the training format (records may span lines: cut by records). */
function slice(file: string, n: number, to: string): void {
  const rows = readLabelledRows(join(FIXTURES, file)).slice(0, n);
  const lines = rows.map((r) => [r.tweetId ?? '', r.label, '', '', r.text].map(csvField).join(','));
  writeFileSync(to, ['tweet_id,label,airline,created_at,text', ...lines].join('\n') + '\n');
}

let server: MlflowServer;
let dir: string;

beforeAll(async () => {
  server = await startMlflowServer();
  dir = mkdtempSync(join(tmpdir(), 'sentinel-train-'));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('merges the feedback into the training split, keeps evaluation clean, and tracks it all', async () => {
  const trainCsv = join(dir, 'train.csv');
  const valCsv = join(dir, 'val.csv');
  slice('airline_train.csv', 300, trainCsv);
  slice('airline_val_sample.csv', 100, valCsv);
  const train = readLabelledRows(trainCsv);
  const val = readLabelledRows(valCsv);

  // What feedback:export writes: people relabelled a training text, judged two new ones, and one that is
  // in the evaluation split (written differently).
  const relabel = train[0].label === 'negative' ? 'positive' : 'negative';
  const people: Array<{ text: string; label: Label; id: string }> = [
    { text: train[0].text, label: relabel, id: 'x:900000000000000001' },
    { text: `  ${val[0].text.toUpperCase()} `, label: val[0].label, id: 'x:900000000000000002' },
    { text: '@AirParadis the new lounge in Lyon is lovely', label: 'positive', id: 'x:900000000000000003' },
    { text: '@AirParadis third delay this week, I give up', label: 'negative', id: 'x:900000000000000004' },
  ];
  const judgments: Judgment[] = people.map((f) => ({
    prediction: {
      id: f.id,
      kind: 'mention' as const,
      text: f.text,
      label: f.label === 'negative' ? ('neutral' as const) : ('negative' as const),
      probabilities: { negative: 0.4, neutral: 0.3, positive: 0.3 },
      modelVersion: '20261125-word2vec-cw05',
      createdAt: '2026-11-30T10:00:00.000Z',
    },
    votes: [{ correct: false, trueLabel: f.label, votedAt: '2026-11-30T11:00:00.000Z' }],
    lastVotedAt: '2026-11-30T11:00:00.000Z',
  }));
  const feedbackCsv = join(dir, 'feedback.csv');
  writeFileSync(feedbackCsv, toCsv(exportJudgments(judgments).rows));

  const out = join(dir, 'model');
  const runs = join(dir, 'runs');
  const { code, stdout, stderr } = await run(
    [
      ...['--train', trainCsv, '--val', valCsv, '--feedback', feedbackCsv, '--out', out, '--runs', runs],
      ...['--embeddings', 'random', '--epochs', '1', '--dim', '8', '--units', '4', '--vocab', '500', '--batch', '32'],
      ...['--version', 'test-feedback'],
    ],
    { MLFLOW_TRACKING_URI: server.url, MLFLOW_EXPERIMENT_NAME: 'sentinel-ci' },
  );
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });

  const counts = {
    feedback_rows: 4,
    dropped_eval: 1,
    dropped_duplicates: 0,
    dropped_blank: 0,
    overridden: 1,
    relabelled: 1,
    replaced_train_rows: train.filter((r) => sameTextKey(r.text) === sameTextKey(train[0].text)).length,
    added: 2,
    train_rows_before: train.length,
    train_rows_after: 0,
  };
  counts.train_rows_after = train.length - counts.replaced_train_rows + 3;
  expect(stderr).toContain(
    `feedback ${feedbackCsv}: 4 rows; 1 override training rows (1 with another label, ${counts.replaced_train_rows} training rows replaced), ` +
      `2 added; dropped: 1 in the evaluation split, 0 duplicates, 0 without text; training rows ${train.length} → ${counts.train_rows_after}`,
  );
  expect(stderr).toContain(`vocabulary: `);
  expect(stderr).toContain(` from ${counts.train_rows_after} training tweets`);

  const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
  expect(result).toMatchObject({ version: 'test-feedback', feedback: counts, mlflow_run_id: expect.any(String) });

  const [id] = readdirSync(runs);
  expect(result.run).toBe(id);
  const runDir = join(runs, id);
  const json = (f: string) => JSON.parse(readFileSync(join(runDir, f), 'utf8'));
  expect(json('params.json')).toMatchObject({ feedback: feedbackCsv, feedbackMerge: counts });
  expect(json('summary.json')).toMatchObject({ version: 'test-feedback', feedback: counts });
  const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
  expect(json('inputs.json')).toEqual([
    { role: 'train', path: trainCsv, sha256: sha(trainCsv), rows: train.length },
    { role: 'val', path: valCsv, sha256: sha(valCsv), rows: val.length },
    { role: 'feedback', path: feedbackCsv, sha256: sha(feedbackCsv), rows: 4 },
  ]);
  expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).trainingData).toEqual([
    trainCsv,
    `${feedbackCsv} (people's labels, merged)`,
  ]);

  // Mirrored to MLflow as it went: the counts and the inputs as params, the epoch's metrics, FINISHED.
  expect(json('mlflow.json')).toMatchObject({
    mirrored: true,
    run_id: result.mlflow_run_id,
    experiment_name: 'sentinel-ci',
  });
  const mirrored = server.runs.get(result.mlflow_run_id)!;
  expect(mirrored.status).toBe('FINISHED');
  expect(mirrored.run_name).toBe(id);
  expect(Object.fromEntries(mirrored.params)).toMatchObject({
    feedback: feedbackCsv,
    'feedbackMerge.dropped_eval': '1',
    'feedbackMerge.added': '2',
    'input.feedback.sha256': sha(feedbackCsv),
    'input.train.rows': String(train.length),
    embeddings: 'random',
    epochs: '1',
  });
  expect(mirrored.metrics.filter((m) => m.key === 'val_macro_f1').map((m) => m.step)).toEqual([1]);
  expect(mirrored.metrics.find((m) => m.key === 'feedback.dropped_eval')).toMatchObject({ value: 1 });
  expect(mirrored.tags.get('summary.version')).toBe('test-feedback');
  expect(server.requests.every((r) => r.status === 200 || r.path === 'experiments/get-by-name')).toBe(true);
});

test('--init fine-tunes a model: its vocabulary, shape and class weighting kept, its version recorded', async () => {
  const trainCsv = join(dir, 'init-train.csv');
  const valCsv = join(dir, 'init-val.csv');
  slice('airline_train.csv', 120, trainCsv);
  slice('airline_val_sample.csv', 40, valCsv);
  const shipped = join(ROOT, 'models/sentinel-bilstm');
  const shippedManifest = JSON.parse(readFileSync(join(shipped, 'manifest.json'), 'utf8'));
  const out = join(dir, 'finetuned');
  const runs = join(dir, 'init-runs');
  const r = await run(
    [
      '--train',
      trainCsv,
      '--val',
      valCsv,
      '--init',
      shipped,
      '--epochs',
      '1',
      '--lr',
      '0.0002',
      '--out',
      out,
      '--runs',
      runs,
    ],
    {},
  );
  if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.stderr}`);
  expect(r.stderr).toContain(`init: fine-tuning ${shippedManifest.version} from ${shipped}`);
  expect(r.stderr).not.toMatch(/^word2vec|^vocabulary:/m); // neither trained again
  // The champion's vocabulary, as it was: its ids still mean what its weights learnt.
  expect(readFileSync(join(out, 'vocabulary.json'), 'utf8')).toBe(
    readFileSync(join(shipped, 'vocabulary.json'), 'utf8'),
  );
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  expect(manifest.version).toMatch(/^\d{8}-finetune$/);
  expect(manifest.trainingData).toContain(`fine-tuned from ${shippedManifest.version} (${shipped})`);
  expect(manifest.metrics.params).toMatchObject({
    initVersion: shippedManifest.version,
    classWeightPower: shippedManifest.metrics.params.classWeightPower, // inherited, not the default 1
    embeddings: `from ${shippedManifest.version}`,
  });
  // The same network: every weight has the shipped one's shape.
  const shapes = (d: string) =>
    JSON.parse(readFileSync(join(d, 'model.json'), 'utf8')).weightsManifest.flatMap(
      (g: { weights: Array<{ shape: number[] }> }) => g.weights.map((w) => w.shape.join('x')),
    );
  expect(shapes(out)).toEqual(shapes(shipped));
  expect(JSON.parse(r.stdout.trim().split('\n').pop()!).n).toBe(40);
}, 180_000);

test('--init with a directory that is not a model says so', async () => {
  const r = await run(
    [
      '--train',
      join(FIXTURES, 'airline_train.csv'),
      '--val',
      join(FIXTURES, 'airline_val_sample.csv'),
      '--init',
      dir,
      '--out',
      join(dir, 'x'),
      '--runs',
      join(dir, 'bad-runs'),
    ],
    {},
  );
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(new RegExp(`^error: --init ${dir}: .*manifest`, 'm'));
});
