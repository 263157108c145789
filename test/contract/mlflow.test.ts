/**
 * Training runs mirrored to MLflow through its REST API 2.0, against a loopback server as strict as MLflow
 * (test/helpers/mlflow-server.ts): the experiment created once, params / metrics / tags arriving as the
 * run logged them, the end status, the MLflow run id kept in runs/<id>/mlflow.json. A server that is down,
 * or fails half-way, costs one warning: the run is still written locally, and mlflow.json says it was not
 * mirrored. The client keeps to the server's limits (batches split) and surfaces its errors.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowClient, MlflowError } from '../../src/train/mlflow';
import { RunTracker, describeInput, readMlflowRecord, type MlflowTracking } from '../../src/train/run-tracker';
import { startMlflowServer, type MlflowServer } from '../helpers/mlflow-server';

let server: MlflowServer;
let root: string;

beforeEach(async () => {
  server = await startMlflowServer();
  root = mkdtempSync(join(tmpdir(), 'sentinel-runs-'));
});
afterEach(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

/** What train.ts records, in the same order, on a made-up two-epoch run. */
async function trainLikeRun(mlflow: MlflowTracking | undefined, warnings: string[], at: string) {
  const data = join(root, 'train.csv');
  writeFileSync(
    data,
    'tweet_id,label,airline,created_at,text\n1,negative,,,"late again, thanks"\n2,positive,,,great crew\n',
  );
  const tracker = new RunTracker(join(root, 'runs'), 'bilstm-random', {
    now: new Date(at),
    source: 'src/train/train.ts',
    warn: (m) => warnings.push(m),
    ...(mlflow ? { mlflow } : {}),
  });
  tracker.params({
    epochs: 2,
    lr: 0.002,
    embeddings: 'random',
    pretrain: [],
    feedbackMerge: { added: 3, dropped_eval: 1 },
  });
  tracker.inputs([describeInput('train', data, 2), describeInput('val', data, 2)]);
  tracker.metric(1, { epoch: 1, loss: 0.9, val_loss: 0.8, val_accuracy: 0.6, val_macro_f1: 0.5 });
  tracker.metric(2, { epoch: 2, loss: 0.7, val_loss: 0.75, val_accuracy: 0.65, val_macro_f1: 0.55 });
  tracker.summary({
    version: 'v-test',
    best_epoch: 2,
    validation: { accuracy: 0.65, per_class: { negative: { recall: 0.7 } } },
    history: [{ epoch: 1 }],
  });
  return { tracker, at, record: await tracker.finish('FINISHED') };
}

describe('a run mirrored to MLflow', () => {
  it('creates the experiment once, logs params, inputs, metrics and tags as sent, and ends FINISHED', async () => {
    const mlflow = { trackingUri: server.url, experimentName: 'sentinel-test' };
    const warnings: string[] = [];
    const first = await trainLikeRun(mlflow, warnings, '2026-11-30T10:00:00.000Z');
    const second = await trainLikeRun(mlflow, warnings, '2026-11-30T11:00:00.000Z');
    expect(warnings).toEqual([]);

    expect(server.requests.filter((r) => r.path === 'experiments/create')).toHaveLength(1);
    expect(server.requests.filter((r) => r.path === 'experiments/get-by-name')).toHaveLength(2);
    const experiment = [...server.experiments.values()].find((e) => e.name === 'sentinel-test')!;
    // Only the first look-up missed (404 RESOURCE_DOES_NOT_EXIST, then created); everything else was accepted.
    expect(server.requests.filter((r) => r.status !== 200).map((r) => [r.path, r.status])).toEqual([
      ['experiments/get-by-name', 404],
    ]);

    for (const { tracker, at, record } of [first, second]) {
      expect(record).toEqual({
        mirrored: true,
        tracking_uri: server.url,
        experiment_name: 'sentinel-test',
        experiment_id: experiment.experiment_id,
        run_id: expect.any(String),
        status: 'FINISHED',
      });
      expect(readMlflowRecord(tracker.dir)).toEqual(record);
      const run = server.runs.get(record!.run_id!)!;
      expect(run.experiment_id).toBe(experiment.experiment_id);
      expect(run.run_name).toBe(tracker.id);
      expect(run.status).toBe('FINISHED');
      expect(run.end_time).toBeGreaterThanOrEqual(run.start_time);
      expect(run.start_time).toBe(Date.parse(at));

      const sha = describeInput('train', join(root, 'train.csv'), 2).sha256;
      expect(Object.fromEntries(run.params)).toEqual({
        epochs: '2',
        lr: '0.002',
        embeddings: 'random',
        pretrain: '[]',
        'feedbackMerge.added': '3',
        'feedbackMerge.dropped_eval': '1',
        'input.train.path': join(root, 'train.csv'),
        'input.train.sha256': sha,
        'input.train.rows': '2',
        'input.val.path': join(root, 'train.csv'),
        'input.val.sha256': sha,
        'input.val.rows': '2',
      });
      const perEpoch = run.metrics.filter((m) => m.key === 'val_macro_f1');
      expect(perEpoch.map((m) => [m.step, m.value])).toEqual([
        [1, 0.5],
        [2, 0.55],
      ]);
      expect(run.metrics.some((m) => m.key === 'epoch')).toBe(false);
      expect(run.metrics.find((m) => m.key === 'validation.per_class.negative.recall')).toMatchObject({
        value: 0.7,
        step: 2,
      });
      expect(run.metrics.every((m) => Number.isInteger(m.timestamp) && m.timestamp > 0)).toBe(true);
      expect(Object.fromEntries(run.tags)).toEqual({
        'mlflow.runName': tracker.id,
        'mlflow.source.type': 'LOCAL',
        'mlflow.source.name': 'src/train/train.ts',
        'sentinel.run_dir': tracker.dir,
        'summary.version': 'v-test',
      });
    }
  });

  it('ends FAILED when the run fails', async () => {
    const tracker = new RunTracker(join(root, 'runs'), 'bilstm-random', {
      mlflow: { trackingUri: server.url, experimentName: 'sentinel-test' },
    });
    tracker.params({ epochs: 1 });
    const record = await tracker.finish('FAILED');
    expect(server.runs.get(record!.run_id!)!.status).toBe('FAILED');
    expect(record).toMatchObject({ mirrored: true, status: 'FAILED' });
  });

  it('sends the credentials of the tracking URI as Basic authentication and never records them', async () => {
    await server.close();
    server = await startMlflowServer({ basicAuth: { user: 'trainer', password: 's3cret pass' } });
    const port = new URL(server.url).port;
    const warnings: string[] = [];
    const { tracker, record } = await trainLikeRun(
      { trackingUri: `http://trainer:s3cret%20pass@127.0.0.1:${port}`, experimentName: 'sentinel-test' },
      warnings,
      '2026-11-30T10:00:00.000Z',
    );
    expect(warnings).toEqual([]);
    expect(record).toMatchObject({ mirrored: true, tracking_uri: `http://127.0.0.1:${port}` });
    expect(readFileSync(join(tracker.dir, 'mlflow.json'), 'utf8')).not.toContain('s3cret');

    // Without them, the server refuses: one warning, and the record says so.
    const refused: string[] = [];
    const bare = await trainLikeRun(
      { trackingUri: server.url, experimentName: 'x' },
      refused,
      '2026-11-30T12:00:00.000Z',
    );
    expect(refused).toHaveLength(1);
    expect(refused[0]).toContain('401');
    expect(bare.record).toMatchObject({ mirrored: false });
  });
});

describe('MLflow unavailable', () => {
  it('server down: the run is written locally, with one warning and mlflow.json saying it was not mirrored', async () => {
    const url = server.url;
    await server.close();
    const warnings: string[] = [];
    const { tracker, record } = await trainLikeRun(
      { trackingUri: url, experimentName: 'sentinel-test', timeoutMs: 2000 },
      warnings,
      '2026-11-30T10:00:00.000Z',
    );
    for (const f of ['params.json', 'inputs.json', 'metrics.jsonl', 'summary.json', 'mlflow.json'])
      expect(existsSync(join(tracker.dir, f))).toBe(true);
    expect(readFileSync(join(tracker.dir, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^warning: MLflow at http:\/\/127\.0\.0\.1:\d+ unreachable \(ECONNREFUSED\); run .+ continues in .+ only \(mlflow\.json says it was not mirrored\)$/,
    );
    expect(record).toEqual({
      mirrored: false,
      tracking_uri: url,
      experiment_name: 'sentinel-test',
      status: 'FINISHED',
      error: expect.stringContaining('unreachable'),
    });
  });

  it('a failure half-way stops mirroring with one warning; the MLflow run id is still kept', async () => {
    const warnings: string[] = [];
    const mlflow = { trackingUri: server.url, experimentName: 'sentinel-test' };
    const tracker = new RunTracker(join(root, 'runs'), 'bilstm-random', { mlflow, warn: (m) => warnings.push(m) });
    // The experiment and the run are created, then the first log-batch (the params) fails.
    server.failNext('runs/log-batch', 503);
    tracker.params({ epochs: 3 });
    tracker.metric(1, { loss: 1 });
    tracker.metric(2, { loss: 0.5 });
    const record = await tracker.finish('FINISHED');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('503 INTERNAL_ERROR');
    expect(record).toMatchObject({
      mirrored: false,
      run_id: expect.any(String),
      error: expect.stringContaining('503'),
    });
    const run = server.runs.get(record!.run_id!)!;
    expect(run.status).toBe('RUNNING'); // nothing after the failure was sent
    expect(run.params.size + run.metrics.length).toBe(0);
    expect(server.requests.filter((r) => r.path === 'runs/log-batch')).toHaveLength(1);
    expect(readFileSync(join(tracker.dir, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
  });
});

describe('MlflowClient', () => {
  it('splits a batch over the server limits and lets the promotion gate tag a finished run', async () => {
    const client = new MlflowClient({ trackingUri: server.url });
    const exp = await client.ensureExperiment('sentinel-test');
    expect(await client.ensureExperiment('sentinel-test')).toBe(exp);
    const runId = await client.createRun(exp, 'r1', { 'sentinel.kind': 'test' });
    const params = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`p${i}`, String(i)]));
    const metrics = Array.from({ length: 1500 }, (_, i) => ({ key: 'm', value: i, timestamp: 1, step: i }));
    await client.logBatch(runId, { params, metrics, tags: { a: 'b' } });
    const batchesSent = server.requests.filter((r) => r.path === 'runs/log-batch');
    expect(batchesSent.length).toBeGreaterThan(2);
    expect(batchesSent.every((r) => r.status === 200)).toBe(true);
    const run = server.runs.get(runId)!;
    expect(run.params.size).toBe(250);
    expect(run.metrics).toHaveLength(1500);
    await client.finish(runId, 'FINISHED');
    await client.setTag(runId, 'sentinel.promotion', 'promoted');
    expect(run.tags.get('sentinel.promotion')).toBe('promoted');
    expect(run.status).toBe('FINISHED');
  });

  it('surfaces the server errors: a param changed, a run that does not exist, a taken experiment name', async () => {
    const client = new MlflowClient({ trackingUri: server.url });
    const exp = await client.createExperiment('taken');
    const runId = await client.createRun(exp, 'r1');
    await client.logBatch(runId, { params: { lr: '0.1' } });
    await client.logBatch(runId, { params: { lr: '0.1' } }); // the same value again is fine
    await expect(client.logBatch(runId, { params: { lr: '0.2' } })).rejects.toMatchObject({
      errorCode: 'INVALID_PARAMETER_VALUE',
      status: 400,
      message: expect.stringContaining('Changing param values is not allowed'),
    });
    await expect(client.setTag('0123456789abcdef', 'k', 'v')).rejects.toMatchObject({
      errorCode: 'RESOURCE_DOES_NOT_EXIST',
      status: 404,
    });
    await expect(client.createExperiment('taken')).rejects.toMatchObject({
      errorCode: 'RESOURCE_ALREADY_EXISTS',
      status: 400,
    });
    expect(await client.ensureExperiment('taken')).toBe(exp);
    expect(await client.getExperimentByName('missing')).toBeNull();
    await expect(client.createRun('999', 'r')).rejects.toBeInstanceOf(MlflowError);
  });

  it('keeps keys and values within what the server accepts', async () => {
    const client = new MlflowClient({ trackingUri: server.url });
    const runId = await client.createRun('0', 'r1');
    await client.logBatch(runId, {
      params: { 'weird key!': 'x'.repeat(7000) },
      tags: { 'tag:colon': 'y'.repeat(6000) },
    });
    const run = server.runs.get(runId)!;
    expect(run.params.get('weird key_')).toHaveLength(6000);
    expect(run.tags.get('tag_colon')).toHaveLength(5000);
    // The server itself refuses what the client would not send.
    const res = await fetch(`${server.url}/api/2.0/mlflow/runs/log-batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        run_id: runId,
        params: Array.from({ length: 101 }, (_, i) => ({ key: `k${i}`, value: '1' })),
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error_code: 'INVALID_PARAMETER_VALUE',
      message:
        'A batch logging request can contain at most 100 params. Got 101 params. Please split up params across multiple requests and try again.',
    });
    expect((await fetch(`${server.url}/api/2.0/mlflow/runs/log-batch`)).status).toBe(405);
    expect((await fetch(`${server.url}/api/2.0/mlflow/runs/nothing`, { method: 'POST' })).status).toBe(404);
  });
});
