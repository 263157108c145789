/**
 * Tracking of training runs, as plain files that diff well in git, in runs/<run id>/:
 * - params.json    every setting;
 * - inputs.json    every input file: its role (train, val, feedback, pretrain), path, sha256 and row count,
 *                  so a run says exactly which data made it;
 * - metrics.jsonl  one line per epoch;
 * - summary.json   final metrics, artefacts;
 * - mlflow.json    when an MLflow server is configured: where the run was mirrored (its run id), or why not.
 *
 * With `mlflow` options (MLFLOW_TRACKING_URI) the run is mirrored as it goes through the REST API
 * (./mlflow.ts): the experiment created when missing, a run named after the local one, params (nested
 * objects flattened to dotted keys, arrays as JSON) and inputs as params (`input.train.sha256`…), each
 * epoch's metrics with their step, the summary's numbers as metrics and its strings as tags
 * (`summary.version`), and the end status. The files come first and never wait for the server: when it
 * cannot be reached or refuses a request, mirroring stops with one warning and the run completes locally.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MlflowClient, publicTrackingUri, type MlflowMetric } from './mlflow';

export type InputRole = 'train' | 'val' | 'feedback' | 'pretrain' | 'init' | 'glove';

export interface InputFile {
  role: InputRole;
  path: string;
  sha256: string;
  rows: number;
}

/** An input file as a run records it: its sha256 is of the bytes read. */
export function describeInput(role: InputRole, path: string, rows: number): InputFile {
  return { role, path, sha256: createHash('sha256').update(readFileSync(path)).digest('hex'), rows };
}

export interface MlflowTracking {
  /** MLFLOW_TRACKING_URI. */
  trackingUri: string;
  /** MLFLOW_EXPERIMENT_NAME. */
  experimentName: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface RunTrackerOptions {
  now?: Date;
  /** Mirror the run to this MLflow server. */
  mlflow?: MlflowTracking;
  /** Where the one warning goes when mirroring fails (default: stderr). */
  warn?: (message: string) => void;
  /** The program that made the run (the `mlflow.source.name` tag). */
  source?: string;
}

/** runs/<id>/mlflow.json */
export interface MlflowRecord {
  /** True when every step reached the server. */
  mirrored: boolean;
  tracking_uri: string;
  experiment_name: string;
  experiment_id?: string;
  /** Present as soon as the run exists on the server (also when a later step failed). */
  run_id?: string;
  status: 'FINISHED' | 'FAILED';
  /** Why it was not (fully) mirrored. */
  error?: string;
}

export const MLFLOW_RECORD = 'mlflow.json';

/** The MLflow record of a run directory, or null (not mirrored, or an old run). */
export function readMlflowRecord(runDir: string): MlflowRecord | null {
  const path = join(runDir, MLFLOW_RECORD);
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, 'utf8')) as MlflowRecord;
}

/** `{a: {b: 1}, c: [1, 2]}` → `{"a.b": "1", "c": "[1,2]"}`: MLflow params are flat strings. */
export function flattenParams(value: Record<string, unknown>, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v === undefined || v === null) continue;
    if (typeof v === 'object' && !Array.isArray(v))
      Object.assign(out, flattenParams(v as Record<string, unknown>, key));
    else out[key] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

/** The numbers of a summary (metrics) and its strings and booleans (tags), by dotted path; arrays are left out. */
export function summaryLeaves(
  value: Record<string, unknown>,
  prefix = '',
): { numbers: Record<string, number>; strings: Record<string, string> } {
  const numbers: Record<string, number> = {};
  const strings: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'number') numbers[key] = v;
    else if (typeof v === 'string' || typeof v === 'boolean') strings[key] = String(v);
    else if (v && typeof v === 'object' && !Array.isArray(v)) {
      const inner = summaryLeaves(v as Record<string, unknown>, key);
      Object.assign(numbers, inner.numbers);
      Object.assign(strings, inner.strings);
    }
  }
  return { numbers, strings };
}

/** Input files as MLflow params: `input.<role>.path|sha256|rows`, numbered when a role repeats (`input.pretrain.2.sha256`). */
export function inputParams(files: InputFile[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const role of [...new Set(files.map((f) => f.role))]) {
    const same = files.filter((f) => f.role === role);
    same.forEach((f, i) => {
      const key = same.length === 1 ? `input.${role}` : `input.${role}.${i + 1}`;
      out[`${key}.path`] = f.path;
      out[`${key}.sha256`] = f.sha256;
      out[`${key}.rows`] = String(f.rows);
    });
  }
  return out;
}

export class RunTracker {
  readonly id: string;
  readonly dir: string;
  private readonly warn: (message: string) => void;
  private readonly mlflow?: { client: MlflowClient; settings: MlflowTracking };
  /** Mirroring steps, one after the other; none waited for until finish(). */
  private chain: Promise<void> = Promise.resolve();
  private experimentId?: string;
  private runId?: string;
  private failure?: string;
  private lastStep = 0;

  constructor(root: string, name: string, opts: RunTrackerOptions = {}) {
    const now = opts.now ?? new Date();
    this.id = `${now.toISOString().replace(/[:.]/g, '-')}-${name}`;
    this.dir = join(root, this.id);
    mkdirSync(this.dir, { recursive: true });
    this.warn = opts.warn ?? ((m) => process.stderr.write(`${m}\n`));
    if (opts.mlflow) {
      this.mlflow = { client: new MlflowClient(opts.mlflow), settings: opts.mlflow };
      const settings = opts.mlflow;
      this.enqueue(async (client) => {
        this.experimentId = await client.ensureExperiment(settings.experimentName);
        this.runId = await client.createRun(
          this.experimentId,
          this.id,
          {
            'mlflow.runName': this.id,
            'mlflow.source.type': 'LOCAL',
            ...(opts.source ? { 'mlflow.source.name': opts.source } : {}),
            'sentinel.run_dir': this.dir,
          },
          now.getTime(),
        );
      });
    }
  }

  /** Runs `step` after the previous ones, unless mirroring already failed; a failure warns once. */
  private enqueue(step: (client: MlflowClient, runId: string) => Promise<void>): void {
    const mlflow = this.mlflow;
    if (!mlflow) return;
    this.chain = this.chain.then(async () => {
      if (this.failure !== undefined) return;
      try {
        await step(mlflow.client, this.runId ?? '');
      } catch (err) {
        this.failure = (err as Error).message;
        this.warn(
          `warning: ${this.failure}; run ${this.id} continues in ${this.dir} only (${MLFLOW_RECORD} says it was not mirrored)`,
        );
      }
    });
  }

  params(params: Record<string, unknown>): void {
    writeFileSync(join(this.dir, 'params.json'), JSON.stringify(params, null, 2) + '\n');
    const flat = flattenParams(params);
    this.enqueue((client, runId) => client.logBatch(runId, { params: flat }));
  }

  /** The files the run read, with their sha256 and row counts. */
  inputs(files: InputFile[]): void {
    writeFileSync(join(this.dir, 'inputs.json'), JSON.stringify(files, null, 2) + '\n');
    const params = inputParams(files);
    this.enqueue((client, runId) => client.logBatch(runId, { params }));
  }

  metric(step: number, values: Record<string, number>): void {
    appendFileSync(join(this.dir, 'metrics.jsonl'), JSON.stringify({ step, ...values }) + '\n');
    this.lastStep = Math.max(this.lastStep, step);
    const timestamp = Date.now();
    const metrics: MlflowMetric[] = Object.entries(values)
      .filter(([key]) => key !== 'epoch' && key !== 'step')
      .map(([key, value]) => ({ key, value, timestamp, step }));
    this.enqueue((client, runId) => client.logBatch(runId, { metrics }));
  }

  summary(summary: Record<string, unknown>): void {
    writeFileSync(join(this.dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    const { numbers, strings } = summaryLeaves(summary);
    const timestamp = Date.now();
    const step = this.lastStep;
    const metrics = Object.entries(numbers).map(([key, value]) => ({ key, value, timestamp, step }));
    const tags = Object.fromEntries(Object.entries(strings).map(([k, v]) => [`summary.${k}`, v]));
    this.enqueue((client, runId) => client.logBatch(runId, { metrics, tags }));
  }

  /**
   * Ends the run: waits for the mirroring steps, sets the MLflow run's status and end time, and writes
   * mlflow.json. Returns that record, or null when no MLflow server is configured. Never throws for MLflow.
   */
  async finish(status: 'FINISHED' | 'FAILED'): Promise<MlflowRecord | null> {
    if (!this.mlflow) return null;
    this.enqueue((client, runId) => client.finish(runId, status));
    await this.chain;
    const record: MlflowRecord = {
      mirrored: this.failure === undefined,
      tracking_uri: publicTrackingUri(this.mlflow.settings.trackingUri),
      experiment_name: this.mlflow.settings.experimentName,
      ...(this.experimentId !== undefined ? { experiment_id: this.experimentId } : {}),
      ...(this.runId !== undefined ? { run_id: this.runId } : {}),
      status,
      ...(this.failure !== undefined ? { error: this.failure } : {}),
    };
    writeFileSync(join(this.dir, MLFLOW_RECORD), JSON.stringify(record, null, 2) + '\n');
    return record;
  }
}
