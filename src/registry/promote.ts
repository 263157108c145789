/**
 * The promotion gate (issue 13): a candidate model replaces the champion — the version latest.json names —
 * only if it is not worse than it by more than `maxDrop` on either data set (the fixed evaluation split,
 * and the production feedback set: what people said the label should have been) on either metric
 * (macro-F1, and recall of the negative class: missing a bad buzz is the costly error).
 *
 * This module judges scores computed elsewhere (the CLI scores both models with src/train/metrics.ts: the
 * core does not import training code), moves the pointer through ModelBucket, and records the decision
 * in the candidate's run directory. A side that could not be judged (no feedback set, or an empty one)
 * is never taken as a pass: the gate refuses unless the caller explicitly allowed it, and says so.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readManifest } from './manifest';
import type { ModelBucket, Pointer } from './model-bucket';
import { nameProblem } from './names';

/** What the gate compares on one data set, for one model. */
export interface GateScores {
  /** Rows scored. */
  n: number;
  accuracy: number;
  macro_f1: number;
  /** Share of the truly negative rows the model called negative (0 when there are none: see negatives). */
  negative_recall: number;
  /** Truly negative rows. */
  negatives: number;
}

export const GATE_SETS = ['evaluation', 'feedback'] as const;
export type GateSet = (typeof GATE_SETS)[number];

export const GATE_METRICS = ['macro_f1', 'negative_recall'] as const;
export type GateMetric = (typeof GATE_METRICS)[number];

const SET_NAMES: Record<GateSet, string> = { evaluation: 'evaluation split', feedback: 'production feedback' };
const METRIC_NAMES: Record<GateMetric, string> = { macro_f1: 'macro-F1', negative_recall: 'negative recall' };

/** One data set: both models' scores, or why it was not judged. */
export type SetScores =
  | { set: GateSet; source: string; judged: true; candidate: GateScores; champion: GateScores; note?: string }
  | { set: GateSet; source: string | null; judged: false; reason: string };

export interface GateCheck {
  set: GateSet;
  metric: GateMetric;
  champion: number;
  candidate: number;
  /** candidate − champion (negative: the candidate is worse). */
  change: number;
  /** 'worse': below the champion by more than the margin; 'n/a': the set has no negative row. */
  verdict: 'ok' | 'worse' | 'n/a';
}

export interface GateVerdict {
  decision: 'promoted' | 'refused';
  /** Every reason for a refusal; for a promotion, what it rests on (and what was not judged). */
  reasons: string[];
  checks: GateCheck[];
}

export interface GateOptions {
  /** How far below the champion a metric may be (PROMOTE_MAX_DROP, 0.01). */
  maxDrop: number;
  /** Promote on the evaluation split alone when there is no feedback to judge on (off: such a gate refuses). */
  allowNoFeedback?: boolean;
}

// A candidate exactly `maxDrop` below passes: scores are ratios of counts, so compare with a little slack.
const EPSILON = 1e-9;

/** The gate itself: every set, every metric; a refusal lists every reason, not only the first. */
export function judge(sets: readonly SetScores[], opts: GateOptions): GateVerdict {
  const checks: GateCheck[] = [];
  const reasons: string[] = [];
  const notJudged: string[] = [];
  for (const name of GATE_SETS) {
    const s = sets.find((x) => x.set === name);
    if (!s || !s.judged) {
      const why = s && !s.judged ? s.reason : 'not evaluated';
      if (name === 'evaluation') reasons.push(`${SET_NAMES[name]} not judged: ${why}`);
      else notJudged.push(`${SET_NAMES[name]} not judged: ${why}`);
      continue;
    }
    for (const metric of GATE_METRICS) {
      const champion = s.champion[metric];
      const candidate = s.candidate[metric];
      const change = candidate - champion;
      const verdict: GateCheck['verdict'] =
        metric === 'negative_recall' && s.champion.negatives === 0
          ? 'n/a'
          : change < -opts.maxDrop - EPSILON
            ? 'worse'
            : 'ok';
      checks.push({ set: name, metric, champion, candidate, change, verdict });
      if (verdict === 'worse')
        reasons.push(
          `${SET_NAMES[name]}: ${METRIC_NAMES[metric]} ${fmt(candidate)} is ${fmt(-change)} below the champion's ${fmt(champion)} (at most ${opts.maxDrop} allowed)`,
        );
    }
  }
  if (notJudged.length && !opts.allowNoFeedback) {
    reasons.push(
      ...notJudged.map(
        (r) =>
          `${r}; the gate needs both sides (--allow-no-feedback promotes on the evaluation split alone, on purpose)`,
      ),
    );
  }
  if (reasons.length) return { decision: 'refused', reasons, checks };
  const judged = checks.filter((c) => c.verdict !== 'n/a');
  return {
    decision: 'promoted',
    reasons: [
      `not worse than the champion by more than ${opts.maxDrop} on ${judged.length} check(s): ${judged
        .map((c) => `${SET_NAMES[c.set]} ${METRIC_NAMES[c.metric]} ${signed(c.change)}`)
        .join(', ')}`,
      ...notJudged.map((r) => `${r} (allowed by --allow-no-feedback)`),
    ],
    checks,
  };
}

function fmt(x: number): string {
  return x.toFixed(4);
}

function signed(x: number): string {
  return `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(4)}`;
}

/** Both models' scores and the decision, as a table for a person (the CLI prints it before its JSON line). */
export function formatGateTable(opts: {
  candidate: string;
  champion: string;
  championFrom: string;
  maxDrop: number;
  sets: readonly SetScores[];
  verdict: GateVerdict;
  outcome: string;
}): string {
  const head = ['set', 'rows', 'metric', 'champion', 'candidate', 'change', ''];
  const rows: string[][] = [];
  for (const s of opts.sets) {
    if (!s.judged) {
      rows.push([SET_NAMES[s.set], '-', 'not judged', '-', '-', '-', s.reason]);
      continue;
    }
    for (const metric of GATE_METRICS) {
      const c = opts.verdict.checks.find((x) => x.set === s.set && x.metric === metric);
      const first = metric === GATE_METRICS[0];
      rows.push([
        first ? SET_NAMES[s.set] : '',
        first ? String(s.candidate.n) : '',
        METRIC_NAMES[metric],
        fmt(s.champion[metric]),
        fmt(s.candidate[metric]),
        c ? signed(c.change) : '-',
        c?.verdict === 'worse' ? 'WORSE' : c?.verdict === 'n/a' ? 'n/a: no negative row' : 'ok',
      ]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [
    `promotion gate: candidate ${opts.candidate} vs champion ${opts.champion} (${opts.championFrom}); a metric may drop by at most ${opts.maxDrop}`,
    line(head),
    ...rows.map(line),
    ...opts.sets
      .filter((s) => s.judged && s.note)
      .map((s) => `note (${SET_NAMES[s.set]}): ${(s as { note: string }).note}`),
    `decision: ${opts.verdict.decision.toUpperCase()}: ${opts.outcome}`,
    ...opts.verdict.reasons.map((r) => `  - ${r}`),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------------
// The candidate: a training run (runs/<id>/) or a model directory.

export interface Candidate {
  /** The model directory (with its manifest.json). */
  dir: string;
  version: string;
  /** The run that trained it, when known: where the decision is recorded. */
  runId?: string;
  runDir?: string;
}

/**
 * `--candidate <run id | model dir>`: a directory with a manifest.json is a model (its run is the one its
 * manifest names, when that run is under `runsRoot`); otherwise a run id under `runsRoot`, whose
 * summary.json says where train.ts wrote the model (`out`, relative to the directory training ran in).
 */
export function resolveCandidate(arg: string, runsRoot: string, cwd = process.cwd()): Candidate {
  const asDir = resolve(cwd, arg);
  if (existsSync(join(asDir, 'manifest.json'))) {
    const manifest = readManifest(asDir);
    const run = (manifest.metrics as { run?: unknown }).run;
    const runDir = typeof run === 'string' && nameProblem(run) === null ? resolve(cwd, runsRoot, run) : undefined;
    // The run that made this very version (a copy renamed to another version is not that run's model).
    const same = runDir !== undefined && runSummary(runDir)?.version === manifest.version;
    return { dir: asDir, version: manifest.version, ...(same ? { runId: run as string, runDir } : {}) };
  }
  // A run: its id under runsRoot, or the path of its directory.
  const runDir = existsSync(join(asDir, 'summary.json'))
    ? asDir
    : nameProblem(arg) === null
      ? resolve(cwd, runsRoot, arg)
      : undefined;
  const summaryPath = runDir ? join(runDir, 'summary.json') : undefined;
  if (!runDir || !summaryPath || !existsSync(summaryPath))
    throw new Error(
      `${arg}: neither a model directory (no manifest.json there) nor a finished training run (${summaryPath ? `no ${summaryPath}` : 'not a run id'}; runs are under ${runsRoot}/)`,
    );
  const summary = runSummary(runDir)!;
  if (typeof summary.out !== 'string' || summary.out === '')
    throw new Error(`${summaryPath}: says nowhere where the model was written ("out")`);
  const dir = resolve(cwd, summary.out);
  if (!existsSync(join(dir, 'manifest.json')))
    throw new Error(`run ${arg} wrote its model to ${summary.out}, but ${dir} holds no manifest.json any more`);
  const runId = runDir.split(/[\\/]/).pop()!;
  return { dir, version: readManifest(dir).version, runId, runDir };
}

/** runs/<id>/summary.json (what train.ts wrote at the end of the run), or null when there is none. */
function runSummary(runDir: string): { out?: unknown; version?: unknown } | null {
  const path = join(runDir, 'summary.json');
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { out?: unknown; version?: unknown };
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

/** runs/<id>/promotion.json: the decision, as printed (the last one; an earlier decision is replaced). */
export function recordPromotion(runDir: string, decision: unknown): string {
  const path = join(runDir, 'promotion.json');
  writeFileSync(path, `${JSON.stringify(decision, null, 2)}\n`);
  return path;
}

// ---------------------------------------------------------------------------------------------------
// Publishing: only after a promotion, and only over the champion that was judged.

export interface ChampionPointer {
  /** latest.json as read before judging (null: there was none, MODEL_DIR was the champion). */
  pointer: { pointer: Pointer; generation: string } | null;
}

/**
 * Uploads the candidate (every file only if absent, manifest last) without touching the pointer, then
 * moves latest.json only if it is still the generation read before judging: a champion published by
 * someone else meanwhile was not judged against, so it is not replaced (a conflict, with the way out).
 */
export async function publishCandidate(
  bucket: ModelBucket,
  candidate: Candidate,
  before: ChampionPointer,
  log: (m: string) => void,
): Promise<{ version: string; previous?: string }> {
  await bucket.publish(candidate.dir, { setLatest: false, log });
  const moved = await bucket.movePointer(candidate.version, before.pointer);
  log(`${bucket.url('latest.json')} → ${moved.version}${moved.previous ? ` (was ${moved.previous})` : ''}`);
  return { version: moved.version, ...(moved.previous ? { previous: moved.previous } : {}) };
}
