/**
 * npm run runs -- [--runs runs] [--model <dir>] [--json]
 *
 * The training runs of runs/ as a table: id, embeddings, the data (rows of the training split and of the
 * feedback file, from inputs.json), validation accuracy, macro-F1 and negative recall, the MLflow run id,
 * and which run is the champion — the run that made the model being served: with MODEL_BUCKET, the
 * version the registry's latest.json names (its manifest says which run made it); without, or when the
 * bucket cannot be read (said on stderr), the manifest of MODEL_DIR; `--model <dir>` names that directory
 * instead of both. Runs from before inputs.json (or that never finished) are listed with what they have.
 *
 * The table goes to stdout; `--json` prints one JSON object instead: {champion, runs}.
 * An entry point, beside src/main.ts: it reads the settings through loadConfig.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../../config/schema';
import { gcsSettings } from '../registry/gcs';
import { readManifest, type Manifest } from '../registry/manifest';
import { ModelBucket } from '../registry/model-bucket';
import { MLFLOW_RECORD, type InputFile, type MlflowRecord } from './run-tracker';

export const USAGE = `usage: npm run runs -- [--runs runs] [--model <dir>] [--json]
  --runs   the runs directory (default runs)
  --model  name the champion from this model directory's manifest (default: the registry's latest.json
           when MODEL_BUCKET is set, else MODEL_DIR's manifest)
  --json   one JSON object instead of the table`;

export interface RunRow {
  id: string;
  embeddings: string | null;
  version: string | null;
  /** Rows of the training split read (inputs.json); null for runs from before it. */
  train_rows: number | null;
  feedback_rows: number | null;
  val_rows: number | null;
  accuracy: number | null;
  macro_f1: number | null;
  negative_recall: number | null;
  /** False for a run that never wrote its summary (stopped, or failed). */
  finished: boolean;
  mlflow_run_id: string | null;
  champion: boolean;
}

export interface Champion {
  version: string;
  /** The run id the model's manifest names, when it names one. */
  run: string | null;
  /** Where the version was read: `gs://…/latest.json` or `<dir>/manifest.json`. */
  source: string;
}

function readJson(path: string): unknown {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const obj = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** Every run directory under `root` (oldest first), read leniently: whatever files a run has. */
export function readRuns(root: string): Omit<RunRow, 'champion'>[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => statSync(join(root, name)).isDirectory() && existsSync(join(root, name, 'params.json')))
    .sort()
    .map((id) => {
      const dir = join(root, id);
      const params = obj(readJson(join(dir, 'params.json')));
      const summaryJson = readJson(join(dir, 'summary.json'));
      const summary = obj(summaryJson);
      const validation = obj(summary.validation);
      const inputs = readJson(join(dir, 'inputs.json'));
      const files = Array.isArray(inputs) ? (inputs as InputFile[]) : null;
      const rowsOf = (role: InputFile['role']) =>
        files ? files.filter((f) => f.role === role).reduce((n, f) => n + (num(f.rows) ?? 0), 0) : null;
      const mlflow = readJson(join(dir, MLFLOW_RECORD)) as MlflowRecord | undefined;
      return {
        id,
        embeddings: str(params.embeddings),
        version: str(summary.version),
        train_rows: rowsOf('train'),
        feedback_rows: rowsOf('feedback'),
        val_rows: rowsOf('val'),
        accuracy: num(validation.accuracy),
        macro_f1: num(validation.macro_f1),
        negative_recall: num(obj(obj(validation.per_class).negative).recall),
        finished: summaryJson !== undefined,
        mlflow_run_id: mlflow?.mirrored && mlflow.run_id ? mlflow.run_id : null,
      };
    });
}

/** Marks the champion: the run the manifest names, else the runs whose version is the champion's. */
export function markChampion(runs: Omit<RunRow, 'champion'>[], champion: Champion | null): RunRow[] {
  const byRun = champion?.run ? runs.some((r) => r.id === champion.run) : false;
  return runs.map((r) => ({
    ...r,
    champion: champion !== null && (byRun ? r.id === champion.run : r.version === champion.version),
  }));
}

function fromManifest(manifest: Manifest, source: string): Champion {
  return { version: manifest.version, run: str(obj(manifest.metrics).run), source };
}

/** The served model's version and run: the registry's when MODEL_BUCKET is set and reachable, else MODEL_DIR's. */
export async function findChampion(
  config: Pick<Config, 'modelDir'> & Partial<Config>,
  note: (message: string) => void,
): Promise<Champion | null> {
  if (config.modelBucket) {
    let where = `gs://${config.modelBucket}/${config.modelPrefix ?? ''}`;
    try {
      const settings = gcsSettings({ ...(config as Config), modelBucket: config.modelBucket });
      // A listing should not hang on an unreachable bucket: one retry, a short timeout.
      const bucket = new ModelBucket({
        ...settings,
        maxRetries: 1,
        maxRetryDelaySeconds: 1,
        timeoutMs: Math.min(settings.timeoutMs, 5000),
      });
      where = bucket.url('latest.json');
      const pointer = await bucket.readPointer();
      if (!pointer) throw new Error(`${where} does not exist`);
      const { manifest } = await bucket.readRemoteManifest(pointer.pointer.version);
      return fromManifest(manifest, where);
    } catch (err) {
      note(`MODEL_BUCKET: ${where} not read (${(err as Error).message}); champion from ${config.modelDir} instead`);
    }
  }
  try {
    return fromManifest(readManifest(config.modelDir), join(config.modelDir, 'manifest.json'));
  } catch (err) {
    note(`no champion: ${(err as Error).message}`);
    return null;
  }
}

const pct = (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(1)} %`);
const count = (v: number | null) => (v === null ? '—' : v.toLocaleString('en-US'));

export function formatRuns(root: string, runs: RunRow[], champion: Champion | null): string {
  if (runs.length === 0) return `no runs in ${root}`;
  const head = [
    'run',
    'embeddings',
    'train rows',
    'feedback rows',
    'accuracy',
    'macro-F1',
    'neg recall',
    'MLflow run',
    '',
  ];
  const rows = runs.map((r) => [
    `${r.champion ? '* ' : '  '}${r.id}`,
    r.embeddings ?? '—',
    count(r.train_rows),
    count(r.feedback_rows),
    pct(r.accuracy),
    pct(r.macro_f1),
    pct(r.negative_recall),
    r.mlflow_run_id ?? '—',
    r.finished ? '' : 'unfinished',
  ]);
  head[0] = `  ${head[0]}`;
  const right = new Set([2, 3, 4, 5, 6]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const marked = runs.filter((r) => r.champion);
  const who = !champion
    ? 'no champion known'
    : marked.length
      ? `* = champion, version ${champion.version} (${champion.source})`
      : `champion: version ${champion.version} (${champion.source}); its run is not in ${root}`;

  return [`${runs.length} run${runs.length === 1 ? '' : 's'} in ${root}; ${who}`, line(head), ...rows.map(line)].join(
    '\n',
  );
}

export async function runRunsCli(
  argv: string[],
  env: Record<string, string | undefined>,
  out: (s: string) => void,
  err: (s: string) => void,
): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        runs: { type: 'string', default: 'runs' },
        model: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
      strict: true,
    }).values;
  } catch (e) {
    err(`runs: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    out(`${USAGE}\n`);
    return 0;
  }
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (e) {
    err(`runs: ${(e as Error).message}\n`);
    return 1;
  }
  const champion = await findChampion(
    { ...config, ...(values.model ? { modelDir: values.model, modelBucket: undefined } : {}) },
    (m) => err(`${m}\n`),
  );
  const runs = markChampion(readRuns(values.runs), champion);
  out(values.json ? `${JSON.stringify({ champion, runs })}\n` : `${formatRuns(values.runs, runs, champion)}\n`);
  return 0;
}

if (require.main === module) {
  void runRunsCli(
    process.argv.slice(2),
    process.env,
    (s) => process.stdout.write(s),
    (s) => process.stderr.write(s),
  ).then((code) => {
    process.exitCode = code;
  });
}
