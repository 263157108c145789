/**
 * npm run model:promote -- --candidate <run id | model dir> [--feedback <csv>] [--eval <csv>] [--max-drop 0.01]
 *                          [--dry-run] [--allow-no-feedback] [--json] [--bucket b] [--prefix p] [--runs runs]
 *
 * The promotion gate (src/registry/promote.ts). Scores the candidate and the champion — the version
 * latest.json names in MODEL_BUCKET, hydrated and verified as a replica does it; without a bucket, or
 * before anything was published there, MODEL_DIR — on the evaluation split and on the production feedback
 * set (the CSV of `npm run feedback:export`), publishes the candidate and moves latest.json only if no
 * metric is worse by more than PROMOTE_MAX_DROP, and records the decision in the run (runs/<id>/promotion.json,
 * and as tags of its MLflow run when MLFLOW_TRACKING_URI is set and the run was mirrored there).
 *
 * Output: progress on stderr; on stdout the scores and the decision as a table (on stderr with --json),
 * then, as the last line, one JSON object. Exit code: 0 promoted (with --dry-run: would be), 1 refused,
 * 2 bad usage or input (nothing judged), 3 the gate could not finish (a model that does not load, the
 * bucket unreachable, the pointer moved meanwhile).
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { ConfigError, loadConfig, type Config } from '../../config/schema';
import { loadScorer } from '../sentiment/load';
import type { Scorer } from '../sentiment/types';
import { LABELS, readLabelledCsv, type LabelledText } from '../train/dataset';
import { argmaxLabel, evaluatePredictions, roundMetrics } from '../train/metrics';
import { MlflowClient, publicTrackingUri } from '../train/mlflow';
import { MLFLOW_RECORD, readMlflowRecord } from '../train/run-tracker';
import { gcsSettings, type GcsAccess } from './gcs';
import { ModelBucket } from './model-bucket';
import {
  formatGateTable,
  judge,
  publishCandidate,
  recordPromotion,
  resolveCandidate,
  type Candidate,
  type ChampionPointer,
  type GateScores,
  type GateSet,
  type SetScores,
} from './promote';

const USAGE = `usage: npm run model:promote -- --candidate <run id | model dir> [options]
  --feedback <csv>       the production feedback set (npm run feedback:export); without it the gate refuses
  --allow-no-feedback    ... unless this is given: then it judges on the evaluation split alone
  --eval <csv>           the evaluation split (default ../shared/data/airline_val.csv)
  --max-drop <x>         how far below the champion a metric may be (default PROMOTE_MAX_DROP, 0.01)
  --dry-run              judge and print, publish nothing
  --json                 the table goes to stderr: stdout is only the JSON line
  --runs <dir>           where runs are (default runs)
  --bucket <b> --prefix <p> --endpoint <url> --access auto|anonymous|adc   (default: the MODEL_* and GCS_* settings)
exit code: 0 promoted, 1 refused, 2 bad usage or input, 3 the gate could not finish`;

export const EXIT = { promoted: 0, refused: 1, usage: 2, failed: 3 } as const;

class UsageError extends Error {}

interface Output {
  out: (s: string) => void;
  err: (s: string) => void;
}

const defaultOutput: Output = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

export async function runPromote(
  argv: string[],
  env: Record<string, string | undefined>,
  io: Output = defaultOutput,
): Promise<number> {
  const log = (m: string) => io.err(`${m}\n`);
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        candidate: { type: 'string' },
        feedback: { type: 'string' },
        eval: { type: 'string', default: '../shared/data/airline_val.csv' },
        'max-drop': { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        'allow-no-feedback': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        runs: { type: 'string', default: 'runs' },
        bucket: { type: 'string' },
        prefix: { type: 'string' },
        endpoint: { type: 'string' },
        access: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    log(`${(err as Error).message}\n${USAGE}`);
    return EXIT.usage;
  }
  if (values.help) {
    io.out(`${USAGE}\n`);
    return 0;
  }

  // Everything that can be checked before loading a model is checked first: a typo costs no scoring.
  let config: Config;
  let candidate: Candidate;
  let evalRows: LabelledText[];
  let feedback: { rows: LabelledText[]; source: string } | { rows: null; source: string | null; reason: string };
  let bucket: ModelBucket | null;
  try {
    if (!values.candidate) throw new UsageError('--candidate <run id | model dir> is required');
    config = loadConfig({
      ...env,
      ...(values.bucket ? { MODEL_BUCKET: values.bucket } : {}),
      ...(values.prefix ? { MODEL_PREFIX: values.prefix } : {}),
      ...(values.endpoint ? { GCS_ENDPOINT: values.endpoint } : {}),
      ...(values.access ? { GCS_ACCESS: values.access } : {}),
      ...(values['max-drop'] !== undefined ? { PROMOTE_MAX_DROP: values['max-drop'] } : {}),
    });
    if (!config.modelBucket && !values['dry-run'])
      throw new UsageError(
        'nothing to publish to: set --bucket (or MODEL_BUCKET), or judge without publishing with --dry-run (the champion is then MODEL_DIR)',
      );
    candidate = resolveCandidate(values.candidate, values.runs);
    evalRows = readSet(values.eval, 'evaluation split');
    feedback = readFeedback(values.feedback);
    bucket = config.modelBucket
      ? new ModelBucket({
          ...gcsSettings({ ...config, modelBucket: config.modelBucket }),
          access: config.gcsAccess as GcsAccess,
        })
      : null;
  } catch (err) {
    log(err instanceof UsageError ? `${err.message}\n${USAGE}` : (err as Error).message);
    return EXIT.usage;
  }
  const maxDrop = config.promoteMaxDrop;

  // The champion, as a replica would serve it.
  let champion: { dir: string; from: string; version: string };
  let before: ChampionPointer = { pointer: null };
  let candidateScorer: Scorer | undefined;
  let championScorer: Scorer | undefined;
  try {
    if (bucket) {
      const pointer = await bucket.readPointer();
      before = { pointer };
      if (pointer) {
        const version = pointer.pointer.version;
        log(`champion: ${version}, named by ${bucket.url('latest.json')}; hydrating into ${config.modelCacheDir}`);
        const h = await bucket.hydrate(version, config.modelCacheDir);
        champion = { dir: h.dir, from: bucket.url('latest.json'), version };
      } else {
        log(
          `${bucket.url('latest.json')} does not exist yet: the champion is MODEL_DIR (${config.modelDir}), what replicas serve`,
        );
        champion = { dir: config.modelDir, from: `MODEL_DIR ${config.modelDir}, nothing published yet`, version: '' };
      }
    } else {
      champion = { dir: config.modelDir, from: `MODEL_DIR ${config.modelDir}`, version: '' };
    }
    // Loading checks manifest, checksums and canary, as a replica does: a model that would be refused is not judged.
    championScorer = await loadScorer(champion.dir, { maxBatch: 256 });
    champion.version = championScorer.info.version;
    if (champion.version === candidate.version) {
      log(`the candidate ${candidate.version} is the champion already: nothing to judge`);
      championScorer.dispose();
      return EXIT.usage;
    }
    if (bucket && !values['dry-run']) {
      const existing = await bucket.objects.list(`${bucket.prefix}/${candidate.version}/`);
      if (existing.length) {
        log(
          `version ${candidate.version} already exists in ${bucket.url(`${candidate.version}/`)}: versions are immutable. ` +
            `Train it again with another --version, or make that version latest without the gate: npm run model:publish -- --promote ${candidate.version}`,
        );
        championScorer.dispose();
        return EXIT.usage;
      }
    }
    candidateScorer = await loadScorer(candidate.dir, { maxBatch: 256 });
    log(`candidate: ${candidate.version} (${candidate.dir}${candidate.runId ? `, run ${candidate.runId}` : ''})`);
  } catch (err) {
    log(`cannot judge: ${(err as Error).message}`);
    candidateScorer?.dispose();
    championScorer?.dispose();
    return EXIT.failed;
  }

  try {
    const sets: SetScores[] = [];
    sets.push(await scoreSet('evaluation', values.eval, evalRows, championScorer, candidateScorer, log));
    if (feedback.rows)
      sets.push(await scoreSet('feedback', feedback.source, feedback.rows, championScorer, candidateScorer, log));
    else {
      log(`production feedback not judged: ${feedback.reason}`);
      sets.push({ set: 'feedback', source: feedback.source, judged: false, reason: feedback.reason });
    }
    const verdict = judge(sets, { maxDrop, allowNoFeedback: values['allow-no-feedback'] });

    let pointer: { version: string; previous?: string } | null = null;
    let outcome: string;
    if (verdict.decision === 'refused') {
      outcome = `nothing published; ${before.pointer ? `latest.json still names ${champion.version}` : `${champion.from} still serves`}`;
    } else if (values['dry-run']) {
      outcome = 'dry run: nothing published';
    } else {
      try {
        pointer = await publishCandidate(bucket!, candidate, before, log);
        outcome = `published to ${bucket!.url(`${candidate.version}/`)}; latest.json names ${candidate.version} (was ${champion.version}): replicas swap it in at their next check`;
      } catch (err) {
        log(`promotion failed: ${(err as Error).message}`);
        return EXIT.failed;
      }
    }

    const scoresOf = (who: 'candidate' | 'champion', set: GateSet) => {
      const s = sets.find((x) => x.set === set);
      return s?.judged ? s[who] : null;
    };
    const result = roundMetrics({
      decision: verdict.decision,
      reasons: verdict.reasons,
      version: candidate.version,
      dry_run: values['dry-run'],
      published: pointer !== null,
      latest: pointer ? pointer.version : before.pointer ? champion.version : null,
      max_drop: maxDrop,
      candidate: {
        version: candidate.version,
        dir: candidate.dir,
        run: candidate.runId ?? null,
        evaluation: scoresOf('candidate', 'evaluation'),
        feedback: scoresOf('candidate', 'feedback'),
      },
      champion: {
        version: champion.version,
        from: champion.from,
        evaluation: scoresOf('champion', 'evaluation'),
        feedback: scoresOf('champion', 'feedback'),
      },
      sets: Object.fromEntries(
        sets.map((s) => [
          s.set,
          s.judged
            ? { source: s.source, judged: true, rows: s.candidate.n, ...(s.note ? { note: s.note } : {}) }
            : { source: s.source, judged: false, reason: s.reason },
        ]),
      ),
      checks: verdict.checks,
      decided_at: new Date().toISOString(),
    });

    const table = formatGateTable({
      candidate: candidate.version,
      champion: champion.version,
      championFrom: champion.from,
      maxDrop,
      sets,
      verdict,
      outcome,
    });
    if (values.json) log(table);
    else io.out(`${table}\n`);

    if (candidate.runDir) {
      log(`decision recorded in ${recordPromotion(candidate.runDir, result)}`);
      if (config.mlflowTrackingUri) await tagMlflowRun(config, candidate.runDir, result, log);
    } else {
      log(`decision not recorded in a run: ${candidate.dir} names no run under ${values.runs}/`);
    }
    io.out(`${JSON.stringify(result)}\n`);
    return verdict.decision === 'promoted' ? EXIT.promoted : EXIT.refused;
  } catch (err) {
    log(`cannot judge: ${(err as Error).message}`);
    return EXIT.failed;
  } finally {
    candidateScorer.dispose();
    championScorer.dispose();
  }
}

/** A labelled CSV (label,text): every row validated; an unreadable file is a usage error. */
function readSet(path: string, what: string): LabelledText[] {
  if (!existsSync(path)) throw new UsageError(`${what}: ${path} does not exist`);
  return readLabelledCsv(path);
}

/** The feedback set, or why it cannot be judged (not given, no row). A file named but missing is a usage error. */
function readFeedback(
  path: string | undefined,
): { rows: LabelledText[]; source: string } | { rows: null; source: string | null; reason: string } {
  if (!path)
    return {
      rows: null,
      source: null,
      reason: 'no feedback set given (--feedback <csv>, from npm run feedback:export)',
    };
  if (!existsSync(path)) throw new UsageError(`feedback set: ${path} does not exist`);
  const records = parse(readFileSync(path), { columns: true, skip_empty_lines: true, bom: true }) as unknown[];
  if (records.length === 0) return { rows: null, source: path, reason: `${path} has no judged prediction` };
  return { rows: readLabelledCsv(path), source: path };
}

/** Both models on one set. Rows without text (kept without it, or past retention) cannot be scored: counted, skipped. */
async function scoreSet(
  set: GateSet,
  source: string,
  all: LabelledText[],
  champion: Scorer,
  candidate: Scorer,
  log: (m: string) => void,
): Promise<SetScores> {
  const rows = all.filter((r) => r.text.trim() !== '');
  const skipped = all.length - rows.length;
  if (rows.length === 0)
    return { set, source, judged: false, reason: `${source}: none of its ${all.length} rows has a text to score` };
  log(`scoring ${source} (${rows.length} rows) with both models`);
  const [c, k] = [await scoresOn(champion, rows), await scoresOn(candidate, rows)];
  return {
    set,
    source,
    judged: true,
    champion: c,
    candidate: k,
    ...(skipped ? { note: `${skipped} row(s) without text skipped` } : {}),
  };
}

async function scoresOn(scorer: Scorer, rows: LabelledText[]): Promise<GateScores> {
  const probs: number[][] = [];
  for (let i = 0; i < rows.length; i += 256) {
    for (const p of await scorer.score(rows.slice(i, i + 256).map((r) => r.text)))
      probs.push(LABELS.map((l) => p.probabilities[l]));
  }
  // The model's own decision (the argmax), as production shows it, on all three classes.
  const m = evaluatePredictions(
    rows.map((r) => r.label),
    probs.map(argmaxLabel),
    probs,
  );
  return {
    n: m.n,
    accuracy: m.accuracy,
    macro_f1: m.macro_f1,
    negative_recall: m.per_class.negative.recall,
    negatives: m.per_class.negative.support,
  };
}

/** The decision as tags of the run's MLflow mirror (runs/<id>/mlflow.json); a failure is said, not fatal. */
async function tagMlflowRun(
  config: Config,
  runDir: string,
  result: Record<string, unknown>,
  log: (m: string) => void,
): Promise<void> {
  const record = readMlflowRecord(runDir);
  if (!record?.run_id) {
    log(
      `MLflow: run ${runDir} was not mirrored to ${publicTrackingUri(config.mlflowTrackingUri!)} (${record ? (record.error ?? 'no MLflow run id') : `no ${MLFLOW_RECORD}`}): decision recorded in runs/ only`,
    );
    return;
  }
  try {
    const client = new MlflowClient({ trackingUri: config.mlflowTrackingUri! });
    await client.logBatch(record.run_id, {
      tags: {
        'sentinel.promotion.decision': String(result.decision),
        'sentinel.promotion.reasons': (result.reasons as string[]).join('\n'),
        'sentinel.promotion.version': String(result.version),
        'sentinel.promotion.champion': String((result.champion as { version: string }).version),
        'sentinel.promotion.published': String(result.published),
        'sentinel.promotion.decided_at': String(result.decided_at),
      },
    });
    log(`MLflow: decision tagged on run ${record.run_id} at ${client.uri}`);
  } catch (err) {
    log(`MLflow: decision not tagged: ${(err as Error).message} (it is in runs/ all the same)`);
  }
}

if (require.main === module) {
  runPromote(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\n`);
        process.exit(EXIT.usage);
      }
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(EXIT.failed);
    },
  );
}
