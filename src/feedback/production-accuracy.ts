/**
 * Production accuracy: how often the model is right, measured by people's ✅ / ❌ on what it said (the
 * Store's `judgments`: judged predictions with their votes, never a voter id, votes on alerts left out).
 *
 * One verdict per judged prediction, by majority of its votes: more ✅ than ❌ is correct, more ❌ than ✅ is
 * wrong, as many of each is a tie — dropped from the accuracy and counted, since nobody can say which side
 * is right. The people's label is the model's for a correct one; for a wrong one it is the label most ❌
 * votes gave (asked after a ❌), or "not given" when none gave one or they disagree as much for two labels.
 *
 * Per model version: judged (ties left out), correct, accuracy and its Wilson score interval at 95 %: with
 * the tens of votes a team casts a day, the normal approximation (p ± 1.96·√(p(1−p)/n)) leaves [0, 1] and
 * collapses to a point at 0 % or 100 %; Wilson's stays inside and is honest about small counts (Brown, Cai
 * & DasGupta 2001, "Interval Estimation for a Binomial Proportion").
 *
 * The confusion of judged predictions: the model's label × the people's, with "wrong, label not given" as
 * its own column (a ❌ says what it is not, not what it is).
 *
 * A window `[from, to)` (rolling: the last 7 days for /metrics and the digest) takes the predictions with a
 * vote cast in it, each judged on its votes cast before `to` (a replayed past day is judged as it stood).
 *
 * /metrics (`ProductionAccuracyMetrics.registry`): `sentinel_production_accuracy{model_version}` and
 * `sentinel_judged_predictions{model_version}` over the rolling window, `sentinel_votes_last_hour` (votes on
 * predictions and alerts). Computed when scraped, from one store read shared by the three gauges and kept
 * `cacheMs` (30 s), so a scrape every few seconds does not read the store each time.
 */
import { Gauge, Registry } from 'prom-client';
import type { Logger } from '../log';
import { LABELS, type Label } from '../sentiment/types';
import type { Judgment, JudgmentQuery, Store } from '../store/types';
import { peopleLabel } from './people-label';

/** z for a two-sided 95 % interval. */
export const Z95 = 1.959963984540054;

export const DAY_MS = 86_400_000;

/** The people's label of a wrong prediction when no ❌ named one (or they named two as often). */
export const NOT_GIVEN = 'not given' as const;
export type PeopleLabel = Label | typeof NOT_GIVEN;

export interface Verdict {
  verdict: 'correct' | 'wrong' | 'tie';
  /** The people's label: the model's when correct; what the ❌ said when wrong (or NOT_GIVEN); none for a tie. */
  label?: PeopleLabel;
  correctVotes: number;
  wrongVotes: number;
}

/** The verdict of one judged prediction on its votes cast before `untilIso` (all when absent); null if none. */
export function verdictOf(j: Judgment, untilIso?: string): Verdict | null {
  const until = untilIso === undefined ? Infinity : Date.parse(untilIso);
  const votes = j.votes.filter((v) => Date.parse(v.votedAt) < until);
  if (!votes.length) return null;
  const correctVotes = votes.filter((v) => v.correct).length;
  const wrongVotes = votes.length - correctVotes;
  if (correctVotes === wrongVotes) return { verdict: 'tie', correctVotes, wrongVotes };
  const people = peopleLabel(j.prediction.label, votes);
  if (correctVotes > wrongVotes) return { verdict: 'correct', label: j.prediction.label, correctVotes, wrongVotes };
  return { verdict: 'wrong', label: 'label' in people ? people.label : NOT_GIVEN, correctVotes, wrongVotes };
}

/** Wilson's score interval for k successes out of n (null for n = 0). */
export function wilson(k: number, n: number, z = Z95): { low: number; high: number } | null {
  if (!(n > 0)) return null;
  const p = k / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

export interface VersionAccuracy {
  modelVersion: string;
  /** Judged predictions with a majority (ties left out). */
  judged: number;
  correct: number;
  /** Judged predictions whose votes are tied: dropped from the accuracy, counted here. */
  ties: number;
  votes: number;
  /** correct / judged; null when nothing was judged. */
  accuracy: number | null;
  /** Wilson 95 % interval of the accuracy; null when nothing was judged. */
  interval: { low: number; high: number } | null;
  /** The latest vote counted, ISO. */
  lastVotedAt: string;
}

export const CONFUSION_COLUMNS: readonly PeopleLabel[] = [...LABELS, NOT_GIVEN];

export interface AccuracyReport {
  /** The window, ISO (absent: unbounded). */
  from?: string;
  to?: string;
  /** Most recently voted version first (the serving model, usually). */
  versions: VersionAccuracy[];
  /** The model's label (rows) × the people's label (columns), over every version; ties left out. */
  confusion: Record<Label, Record<PeopleLabel, number>>;
  judged: number;
  correct: number;
  ties: number;
  votes: number;
}

/** The figures of `judgments` in the window `[from, to)` (each bound optional), as the file comment says. */
export function accuracyReport(
  judgments: readonly Judgment[],
  window: { from?: string; to?: string } = {},
): AccuracyReport {
  const from = window.from === undefined ? -Infinity : Date.parse(window.from);
  const to = window.to === undefined ? Infinity : Date.parse(window.to);
  const confusion = Object.fromEntries(
    LABELS.map((l) => [l, Object.fromEntries(CONFUSION_COLUMNS.map((c) => [c, 0]))]),
  ) as AccuracyReport['confusion'];
  const versions = new Map<string, VersionAccuracy>();
  let judged = 0;
  let correct = 0;
  let ties = 0;
  let votes = 0;
  for (const j of judgments) {
    const inWindow = j.votes.some((v) => {
      const t = Date.parse(v.votedAt);
      return t >= from && t < to;
    });
    if (!inWindow) continue;
    const verdict = verdictOf(j, window.to);
    if (!verdict) continue;
    const version = j.prediction.modelVersion;
    let row = versions.get(version);
    if (!row) {
      row = {
        modelVersion: version,
        judged: 0,
        correct: 0,
        ties: 0,
        votes: 0,
        accuracy: null,
        interval: null,
        lastVotedAt: '',
      };
      versions.set(version, row);
    }
    const counted = verdict.correctVotes + verdict.wrongVotes;
    row.votes += counted;
    votes += counted;
    const last = j.votes
      .map((v) => v.votedAt)
      .filter((t) => Date.parse(t) < to)
      .reduce((a, b) => (Date.parse(b) > Date.parse(a) ? b : a));
    if (!row.lastVotedAt || Date.parse(last) > Date.parse(row.lastVotedAt)) row.lastVotedAt = last;
    if (verdict.verdict === 'tie') {
      row.ties++;
      ties++;
      continue;
    }
    row.judged++;
    judged++;
    if (verdict.verdict === 'correct') {
      row.correct++;
      correct++;
    }
    confusion[j.prediction.label][verdict.label!]++;
  }
  for (const row of versions.values()) {
    row.accuracy = row.judged ? row.correct / row.judged : null;
    row.interval = wilson(row.correct, row.judged);
  }
  return {
    ...(window.from !== undefined ? { from: window.from } : {}),
    ...(window.to !== undefined ? { to: window.to } : {}),
    versions: [...versions.values()].sort(
      (a, b) => Date.parse(b.lastVotedAt) - Date.parse(a.lastVotedAt) || a.modelVersion.localeCompare(b.modelVersion),
    ),
    confusion,
    judged,
    correct,
    ties,
    votes,
  };
}

/**
 * Reads the judgments of the window from the store and sums them up. `days`: the window is the `days` days
 * before `to` (default now); without it, every judgment ever made (up to `to`).
 */
export async function measureAccuracy(
  store: Pick<Store, 'judgments'>,
  opts: { to?: string; days?: number; kinds?: JudgmentQuery['kinds'] } = {},
): Promise<AccuracyReport> {
  const to = opts.to;
  const from =
    opts.days === undefined
      ? undefined
      : new Date(Date.parse(to ?? new Date().toISOString()) - opts.days * DAY_MS).toISOString();
  const judgments = await store.judgments({
    ...(from !== undefined ? { sinceIso: from } : {}),
    ...(opts.kinds ? { kinds: opts.kinds } : {}),
  });
  return accuracyReport(judgments, { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) });
}

export interface ProductionAccuracyMetricsOptions {
  store: Pick<Store, 'judgments' | 'countVotesSince'>;
  /** The rolling window of the accuracy gauges, in days (default 7). */
  windowDays?: number;
  /** How long one reading of the store serves scrapes (default 30 s). */
  cacheMs?: number;
  logger?: Pick<Logger, 'warn'>;
  now?: () => number;
}

interface Snapshot {
  report: AccuracyReport | null;
  votesLastHour: number | null;
}

/** The /metrics gauges of production accuracy (see the file comment); add `registry` to the server's. */
export class ProductionAccuracyMetrics {
  readonly registry = new Registry();
  private readonly windowDays: number;
  private readonly cacheMs: number;
  private readonly now: () => number;
  private cached?: { at: number; snapshot: Promise<Snapshot> };

  constructor(private readonly opts: ProductionAccuracyMetricsOptions) {
    this.windowDays = opts.windowDays ?? 7;
    this.cacheMs = opts.cacheMs ?? 30_000;
    this.now = opts.now ?? Date.now;
    const snapshot = () => this.snapshot();
    new Gauge({
      name: 'sentinel_production_accuracy',
      help: `Share of judged predictions people found right (majority of ✅ / ❌ votes, ties left out), per model version, over the last ${this.windowDays} days of votes`,
      labelNames: ['model_version'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const v of (await snapshot()).report?.versions ?? [])
          if (v.accuracy !== null) this.set({ model_version: v.modelVersion }, v.accuracy);
      },
    });
    new Gauge({
      name: 'sentinel_judged_predictions',
      help: `Predictions judged by a majority of votes (ties left out), per model version, over the last ${this.windowDays} days of votes`,
      labelNames: ['model_version'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const v of (await snapshot()).report?.versions ?? [])
          this.set({ model_version: v.modelVersion }, v.judged);
      },
    });
    new Gauge({
      name: 'sentinel_votes_last_hour',
      help: 'Votes (✅ / ❌ on predictions and alerts) cast in the last hour',
      registers: [this.registry],
      async collect() {
        this.reset();
        const n = (await snapshot()).votesLastHour;
        if (n !== null) this.set(n);
      },
    });
  }

  /** One reading of the store, shared by the gauges for `cacheMs`. A failed read is logged and shows nothing. */
  private snapshot(): Promise<Snapshot> {
    const t = this.now();
    if (this.cached && t - this.cached.at < this.cacheMs) return this.cached.snapshot;
    const to = new Date(t).toISOString();
    const read = async <T>(what: string, fn: () => Promise<T>): Promise<T | null> => {
      try {
        return await fn();
      } catch (err) {
        this.opts.logger?.warn({ err }, `metrics: cannot read ${what} from the store: ${(err as Error).message}`);
        return null;
      }
    };
    const snapshot = Promise.all([
      read('production accuracy', () => measureAccuracy(this.opts.store, { to, days: this.windowDays })),
      read('votes of the last hour', () => this.opts.store.countVotesSince(new Date(t - 3_600_000).toISOString())),
    ]).then(([report, votesLastHour]) => ({ report, votesLastHour }));
    this.cached = { at: t, snapshot };
    return snapshot;
  }
}
