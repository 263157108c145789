/**
 * What `/sentiment status` (Slack) and `status` (Teams) report, gathered once for every chat platform:
 * the model serving and where it came from, each stream's judgement and last poll, open alerts, and
 * production accuracy. Each source that fails is left out rather than failing the whole answer.
 */
import type { ScorerSlot } from '../sentiment/scorer-slot';
import type { Store } from '../store/types';

export interface StreamStatus {
  stream: string;
  phase: string;
  share: number | null;
  baseline: number | null;
  volume: number | null;
  at: string | null;
  reason: string | null;
  snoozedUntil: string | null;
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
}

export interface StatusSources {
  slot: ScorerSlot;
  store: Pick<Store, 'listAlerts' | 'accuracyByModel'>;
  trends: () => { status?(): Promise<StreamStatus[]> } | undefined;
  polls?: () => PollStatus[];
}

export async function collectStatus(s: StatusSources): Promise<ChatStatus> {
  const state = s.slot.current();
  const controls = s.trends();
  const [streams, alerts, accuracy] = await Promise.all([
    controls?.status ? controls.status().catch(() => []) : Promise.resolve([]),
    s.store.listAlerts().catch(() => []),
    s.store.accuracyByModel().catch(() => []),
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
  };
}
