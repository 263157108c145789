/**
 * What `/sentiment status` (Slack) and `status` (Teams) report, gathered once for every chat platform:
 * the model serving and where it came from, each stream's judgement and last poll, open alerts, and
 * production accuracy, and which replica leads (judges the trends and posts the alerts). Each source that fails is
 * left out rather than failing the whole answer.
 */
import type { LeaderStatus } from '../ops/leadership';
import type { ReadBudgetState } from '../ops/read-budget';
import { comparisonLine, type ChallengerComparison } from '../feedback/shadow';
import type { ScorerSlot } from '../sentiment/scorer-slot';
import type { Store } from '../store/types';
import { otherLanguagesText, type OtherLanguages } from '../trends/languages';

export interface StreamStatus {
  stream: string;
  phase: string;
  share: number | null;
  baseline: number | null;
  volume: number | null;
  at: string | null;
  reason: string | null;
  snoozedUntil: string | null;
  /** Mentions in languages the model does not read, in the 24 h up to `at` (src/trends/languages.ts). */
  otherLanguages?: OtherLanguages | null;
}

export interface PollStatus {
  stream: string;
  /** ISO time of the poll. */
  at: string;
  result: string;
  fetched?: number;
}

export interface ChatStatus {
  model:
    | { ready: true; name: string; version: string; backend: string; origin?: string; degraded?: string }
    | { ready: false; reason: string };
  streams: StreamStatus[];
  polls: PollStatus[];
  openAlerts: Array<{ stream: string; headline: string; openedAt: string }>;
  accuracy: Array<{ modelVersion: string; votes: number; accuracy: number }>;
  trendsAvailable: boolean;
  /** Who leads: this replica, another one (its holder id), or `single` (SQLite); absent when not known. */
  leader?: LeaderStatus;
  /** Posts read from X this month and what they cost (X bills reads); absent without an X source. */
  xReads?: ReadBudgetState;
  /** The challenger scoring in shadow (MODEL_CHALLENGER) against the champion; absent without one. */
  challenger?: ChallengerComparison;
}

export interface StatusSources {
  slot: ScorerSlot;
  store: Pick<Store, 'listAlerts' | 'accuracyByModel'>;
  /** The trend controls; `leader()` says which replica judges the trends (the composition root adds it). */
  trends: () =>
    | {
        status?(): Promise<StreamStatus[]>;
        leader?(): LeaderStatus;
        xReads?(): Promise<ReadBudgetState | null>;
        challenger?(): Promise<ChallengerComparison | null>;
      }
    | undefined;
  polls?: () => PollStatus[];
}

export async function collectStatus(s: StatusSources): Promise<ChatStatus> {
  const state = s.slot.current();
  const controls = s.trends();
  const [streams, alerts, accuracy, xReads, challenger] = await Promise.all([
    controls?.status ? controls.status().catch(() => []) : Promise.resolve([]),
    s.store.listAlerts().catch(() => []),
    s.store.accuracyByModel().catch(() => []),
    controls?.xReads?.().catch(() => null) ?? null,
    controls?.challenger?.().catch(() => null) ?? null,
  ]);
  return {
    model: state.ready
      ? {
          ready: true,
          name: state.scorer.info.name,
          version: state.scorer.info.version,
          backend: state.scorer.info.backend,
          ...(state.origin ? { origin: state.origin.source } : {}),
          ...(state.origin?.degraded ? { degraded: state.origin.degraded } : {}),
        }
      : { ready: false, reason: state.reason },
    streams,
    polls: s.polls?.() ?? [],
    openAlerts: alerts
      .filter((a) => a.state === 'open')
      .map((a) => ({
        stream: a.stream,
        headline: typeof a.data.headline === 'string' && a.data.headline ? a.data.headline : `alert on ${a.stream}`,
        openedAt: a.openedAt,
      })),
    accuracy,
    trendsAvailable: controls !== undefined,
    ...(controls?.leader ? { leader: controls.leader() } : {}),
    ...(xReads ? { xReads } : {}),
    ...(challenger ? { challenger } : {}),
  };
}

/** "X reads in 2026-12: 41,200 posts (≈ $206.00) of 100,000 (41 %)", or null without an X source. */
export function xReadsLine(s: Pick<ChatStatus, 'xReads'>): string | null {
  const x = s.xReads;
  if (!x) return null;
  const head = `X reads in ${x.month}: ${x.reads.toLocaleString('en-US')} posts (≈ $${x.costUsd.toFixed(2)})`;
  if (x.budget === null) return `${head}, no budget set (X_MONTHLY_READ_BUDGET)`;
  const of = `${head} of ${x.budget.toLocaleString('en-US')} (${Math.floor(x.share! * 100)} %)`;
  return x.exhausted ? `${of}: budget spent, polling slowed` : of;
}

/** "last 24 h: 12 mentions in other languages (fr 9, es 3) were not read", or null when there were none. */
export function otherLanguagesPart(st: Pick<StreamStatus, 'otherLanguages'>): string | null {
  return st.otherLanguages?.total ? `last 24 h: ${otherLanguagesText(st.otherLanguages)}` : null;
}

/** The challenger against the champion, or null without one. */
export function challengerLine(s: Pick<ChatStatus, 'challenger'>): string | null {
  return s.challenger ? comparisonLine(s.challenger) : null;
}

/** One line saying who leads, for the status messages: null when there is nothing to say (not known). */
export function leaderLine(s: Pick<ChatStatus, 'leader'>): string | null {
  const l = s.leader;
  if (!l) return null;
  if (l.role === 'single') return 'Leader: this process (SQLite: one process)';
  if (l.role === 'leader') return `Leader: this replica (${l.holder}, token ${l.token})`;
  if (l.holder === null) return 'Leader: none yet (no replica holds the lease); this replica follows';
  return `Leader: ${l.holder} (token ${l.token}${l.since ? `, since ${l.since}` : ''}); this replica follows`;
}
