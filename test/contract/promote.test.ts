/**
 * The promotion gate (npm run model:promote, src/registry/promote-cli.ts) as an operator runs it: a child
 * process against the strict loopback GCS server (test/helpers/gcs-server.ts) through the real client.
 * Real models only: the shipped model (copied under other version names) and a model from a short real
 * training on test/fixtures data (train.ts, one epoch of a small network: clearly worse). A worse candidate
 * is refused with nothing uploaded; a better one is published, latest.json moves, and a running
 * ModelRegistry swaps it in; a gate without a feedback set refuses unless told to judge without it.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { loadConfig } from '../../config/schema';
import { csvField, toCsv, type ExportRow } from '../../src/feedback/export';
import { createLogger } from '../../src/log';
import { ModelBucket } from '../../src/registry/model-bucket';
import { ModelRegistry } from '../../src/registry/model-registry';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import { startGcsServer, type GcsServer } from '../helpers/gcs-server';
import { startMlflowServer, type MlflowServer } from '../helpers/mlflow-server';
import { makeVersion, seedVersion, shippedVersion, SHIPPED, tempRoot } from '../helpers/model-versions';

const ROOT = resolve(__dirname, '../..');
const BUCKET = 'models';
const EVAL = join(ROOT, 'test/fixtures/airline_val_sample.csv');
const TRAIN = join(ROOT, 'test/fixtures/airline_train.csv');

let gcs: GcsServer;
let mlflow: MlflowServer;
let root: string;
let feedbackCsv: string;
/** The short training's run id and model directory (version `short-1`). */
let short: { run: string; dir: string; mlflowRun: string };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> & {
    decision: string;
    reasons: string[];
    published: boolean;
    candidate: Record<string, { macro_f1: number; negative_recall: number } | null>;
    champion: Record<string, { macro_f1: number; negative_recall: number } | null>;
  };
}

function run(script: string, args: string[], env: Record<string, string> = {}): Promise<Omit<Run, 'json'>> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('exit', (code) => ok({ code, stdout, stderr }));
  });
}

async function promote(prefix: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const r = await run('src/registry/promote-cli.ts', [...args, '--runs', join(root, 'runs')], {
    MODEL_BUCKET: BUCKET,
    MODEL_PREFIX: prefix,
    GCS_ENDPOINT: gcs.url,
    GCS_MAX_RETRIES: '0',
    MODEL_CACHE_DIR: join(root, `cache-cli-${prefix}`),
    ...env,
  });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let json: Run['json'];
  try {
    json = JSON.parse(last) as Run['json'];
  } catch {
    throw new Error(`no JSON last line (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { ...r, json };
}

function bucketOf(prefix: string): ModelBucket {
  return new ModelBucket({
    bucket: BUCKET,
    prefix,
    endpoint: gcs.url,
    access: 'anonymous',
    timeoutMs: 5000,
    maxRetries: 0,
  });
}

const uploads = () => gcs.requests.filter((r) => r.path.startsWith('/upload/'));

beforeAll(async () => {
  gcs = await startGcsServer();
  mlflow = await startMlflowServer();
  root = tempRoot('promote');
  // The first 3,000 training tweets train the short model; 300 others play the production feedback set,
  // in the export's training format (tweet_id,label,airline,created_at,text, then extras).
  const rows = parse(readFileSync(TRAIN), { columns: true, bom: true }) as Array<Record<string, string>>;
  const trainSlice = join(root, 'train-slice.csv');
  const columns = ['tweet_id', 'label', 'airline', 'created_at', 'text'];
  writeFileSync(
    trainSlice,
    [columns.join(','), ...rows.slice(0, 3000).map((r) => columns.map((c) => csvField(r[c])).join(','))].join('\n') +
      '\n',
  );
  feedbackCsv = join(root, 'feedback.csv');
  writeFileSync(
    feedbackCsv,
    toCsv(
      rows.slice(5000, 5300).map((r): ExportRow => ({
        tweet_id: r.tweet_id,
        label: r.label,
        airline: r.airline,
        created_at: r.created_at,
        text: r.text,
        model_label: r.label,
        model_version: 'champ',
        votes_correct: '1',
        votes_wrong: '0',
        first_voted_at: '2026-12-01T10:00:00.000Z',
        last_voted_at: '2026-12-01T10:00:00.000Z',
        kind: 'mention',
      })),
    ),
  );
  const t = await run(
    'src/train/train.ts',
    [
      ...['--train', trainSlice, '--val', EVAL, '--out', join(root, 'short'), '--runs', join(root, 'runs')],
      ...['--embeddings', 'random', '--epochs', '1', '--units', '8', '--dim', '16', '--version', 'short-1'],
    ],
    { MLFLOW_TRACKING_URI: mlflow.url },
  ); // the run is mirrored to MLflow, as with MLFLOW_TRACKING_URI set
  if (t.code !== 0) throw new Error(`training failed:\n${t.stderr}`);
  const summary = JSON.parse(t.stdout.trim().split('\n').pop()!) as { run: string; mlflow_run_id: string };
  short = { run: summary.run, dir: join(root, 'short'), mlflowRun: summary.mlflow_run_id };
}, 180_000);

afterAll(async () => {
  await gcs?.stop();
  await mlflow?.close();
  rmSync(root, { recursive: true, force: true });
});

it('refuses a worse candidate: says why, uploads nothing, leaves latest.json, records the decision in the run', async () => {
  const prefix = 'refuse';
  const champion = seedVersion(gcs, BUCKET, prefix, makeVersion(root, 'champ-a'));
  const pointerBefore = gcs.get(BUCKET, `${prefix}/latest.json`)!.generation;
  const uploadsBefore = uploads().length;

  const r = await promote(prefix, ['--candidate', short.run, '--feedback', feedbackCsv, '--eval', EVAL], {
    MLFLOW_TRACKING_URI: mlflow.url,
  });
  expect(r.code).toBe(1);
  expect(r.json.decision).toBe('refused');
  expect(r.json.published).toBe(false);
  expect(r.json).toMatchObject({ version: 'short-1', latest: champion, max_drop: 0.01 });
  // Scored for real: the one-epoch toy is well below the shipped model on both sets.
  for (const set of ['evaluation', 'feedback']) {
    expect(r.json.candidate[set]!.macro_f1).toBeLessThan(r.json.champion[set]!.macro_f1 - 0.01);
  }
  expect(r.json.reasons.join('\n')).toMatch(/evaluation split: macro-F1 0\.\d{4} is 0\.\d{4} below the champion's/);
  expect(r.json.reasons.join('\n')).toMatch(/production feedback: /);
  // The table on stdout, before the JSON line.
  expect(r.stdout).toMatch(/promotion gate: candidate short-1 vs champion champ-a/);
  expect(r.stdout).toMatch(/evaluation split\s+599\s+macro-F1\s+0\.\d{4}\s+0\.\d{4}\s+−0\.\d{4}\s+WORSE/);
  expect(r.stdout).toMatch(/production feedback\s+300\s+macro-F1/);
  expect(r.stdout).toContain('decision: REFUSED: nothing published; latest.json still names champ-a');

  expect(uploads().length).toBe(uploadsBefore);
  expect(gcs.names(BUCKET).filter((n) => n.startsWith(`${prefix}/short-1/`))).toEqual([]);
  expect(gcs.get(BUCKET, `${prefix}/latest.json`)!.generation).toBe(pointerBefore);
  const recorded = JSON.parse(readFileSync(join(root, 'runs', short.run, 'promotion.json'), 'utf8')) as unknown;
  expect(recorded).toEqual(r.json);
  // ... and on the run's MLflow mirror, as tags.
  const tags = Object.fromEntries(mlflow.runs.get(short.mlflowRun)!.tags);
  expect(tags).toMatchObject({
    'sentinel.promotion.decision': 'refused',
    'sentinel.promotion.version': 'short-1',
    'sentinel.promotion.champion': 'champ-a',
    'sentinel.promotion.published': 'false',
    'sentinel.promotion.reasons': r.json.reasons.join('\n'),
  });
  expect(r.stderr).toContain(`MLflow: decision tagged on run ${short.mlflowRun}`);
});

it('publishes a better candidate, moves latest.json, and a running replica swaps it in', async () => {
  const prefix = 'promote';
  seedVersion(gcs, BUCKET, prefix, short.dir); // the short model is the champion here
  const slot = new ScorerSlot();
  const registry = new ModelRegistry({
    config: loadConfig({
      MODEL_DIR: SHIPPED,
      MODEL_BUCKET: BUCKET,
      MODEL_PREFIX: prefix,
      MODEL_CACHE_DIR: join(root, 'cache-replica'),
      MODEL_CHECK_INTERVAL: '3600',
      GCS_ENDPOINT: gcs.url,
      GCS_MAX_RETRIES: '0',
    }),
    slot,
    logger: createLogger('silent'),
  });
  try {
    await registry.start();
    const serving = () => {
      const s = slot.current();
      return s.ready ? s.scorer : null;
    };
    expect(serving()?.info.version).toBe('short-1');

    const better = makeVersion(root, 'better-1', 60); // the shipped model's weights under a new version
    const r = await promote(prefix, ['--candidate', better, '--feedback', feedbackCsv, '--eval', EVAL]);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ decision: 'promoted', published: true, version: 'better-1', latest: 'better-1' });
    expect(r.json.candidate.evaluation!.macro_f1).toBeGreaterThan(r.json.champion.evaluation!.macro_f1);
    expect(r.stdout).toContain('decision: PROMOTED: published to gs://models/promote/better-1/');
    // A copy renamed to another version is not the model its manifest's run made: nothing recorded there.
    expect(r.stderr).toContain('decision not recorded in a run');

    const pointer = await bucketOf(prefix).readPointer();
    expect(pointer?.pointer).toMatchObject({ version: 'better-1', previous: 'short-1' });
    const listed = await bucketOf(prefix).listVersions();
    expect(listed.find((v) => v.version === 'better-1')?.manifest?.version).toBe('better-1');

    // The replica's next check hydrates it, verifies it and swaps it in; it scores as the shipped model.
    expect(await registry.check()).toMatchObject({ result: 'swapped', from: 'short-1', to: 'better-1' });
    const [p] = await serving()!.score(['@united lost my bag and nobody answers the phone']);
    expect(p).toMatchObject({ label: 'negative', modelVersion: 'better-1' });

    // Judged again, the same version is the champion now: nothing to do, nothing uploaded.
    const uploadsBefore = uploads().length;
    const again = await run(
      'src/registry/promote-cli.ts',
      ['--candidate', better, '--feedback', feedbackCsv, '--eval', EVAL],
      {
        MODEL_BUCKET: BUCKET,
        MODEL_PREFIX: prefix,
        GCS_ENDPOINT: gcs.url,
        MODEL_CACHE_DIR: join(root, 'cache-cli-again'),
      },
    );
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('the candidate better-1 is the champion already');
    expect(uploads().length).toBe(uploadsBefore);
  } finally {
    await registry.stop();
    const s = slot.current();
    if (s.ready) s.scorer.dispose();
  }
});

it('without a feedback set the feedback side is not judged: refused, unless --allow-no-feedback says otherwise', async () => {
  const prefix = 'nofeedback';
  seedVersion(gcs, BUCKET, prefix, short.dir);
  const better = makeVersion(root, 'better-2', 61);
  const uploadsBefore = uploads().length;

  const refused = await promote(prefix, ['--candidate', better, '--eval', EVAL]);
  expect(refused.code).toBe(1);
  expect(refused.json.decision).toBe('refused');
  expect(refused.json.reasons).toEqual([
    'production feedback not judged: no feedback set given (--feedback <csv>, from npm run feedback:export); the gate needs both sides (--allow-no-feedback promotes on the evaluation split alone, on purpose)',
  ]);
  expect(refused.json.sets).toMatchObject({ feedback: { judged: false, source: null } });
  expect(refused.json.candidate.feedback).toBeNull();
  expect(refused.stdout).toMatch(/production feedback\s+-\s+not judged/);

  // An empty export (a header, no row) is the same: not judged, said.
  const empty = join(root, 'empty.csv');
  writeFileSync(empty, 'tweet_id,label,airline,created_at,text\n');
  const allowed = await promote(prefix, [
    ...['--candidate', better, '--eval', EVAL, '--feedback', empty],
    ...['--allow-no-feedback', '--dry-run', '--json'],
  ]);
  expect(allowed.code).toBe(0);
  expect(allowed.json).toMatchObject({ decision: 'promoted', published: false, dry_run: true, latest: 'short-1' });
  expect(allowed.json.reasons[1]).toBe(
    `production feedback not judged: ${empty} has no judged prediction (allowed by --allow-no-feedback)`,
  );
  expect(allowed.stdout.trim().split('\n')).toHaveLength(1); // --json: the table went to stderr
  expect(allowed.stderr).toContain('decision: PROMOTED: dry run: nothing published');

  expect(uploads().length).toBe(uploadsBefore);
  expect((await bucketOf(prefix).readPointer())?.pointer.version).toBe('short-1');
  expect(existsSync(join(root, 'cache-cli-nofeedback', 'short-1', 'manifest.json'))).toBe(true); // hydrated as a replica does
});

it('checks its input before scoring anything', async () => {
  const missing = await run(
    'src/registry/promote-cli.ts',
    ['--candidate', 'no-such-run', '--runs', join(root, 'runs')],
    {
      MODEL_BUCKET: BUCKET,
      GCS_ENDPOINT: gcs.url,
    },
  );
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain(
    'no-such-run: neither a model directory (no manifest.json there) nor a finished training run',
  );

  const noBucket = await run('src/registry/promote-cli.ts', ['--candidate', short.dir]);
  expect(noBucket.code).toBe(2);
  expect(noBucket.stderr).toContain('nothing to publish to: set --bucket (or MODEL_BUCKET)');
  expect(shippedVersion()).not.toBe('short-1');
});
