/**
 * How each alert went: when it opened and ended, its peak, who acknowledged it (on each chat platform)
 * and what the team judged it (✅ a real bad buzz, ❌ a false alarm). The daily digest and the dashboard
 * show the same outcomes.
 */
import type { AlertRecord, AlertVoteCount, Store } from '../store/types';
import { pct } from './detector';
import type { TrendAlertData } from './monitor';
import { MINUTE } from './settings';
import type { AlertPeriod } from './stream-detector';

/** Someone who acknowledged an alert, as the chat platform recorded it. */
export interface DigestAck {
  platform: string;
  /** The platform's user id (Slack `U…`) or a name where the platform gives one (Teams). */
  user: string;
  name?: string;
  at: string;
}

/** Who acknowledged an alert on one platform (each adapter reads its own alert records). */
export type AckReader = (alertId: string) => Promise<DigestAck[]>;

export interface DigestAlert {
  id: string;
  stream: string;
  headline: string;
  openedAt: string;
  resolvedAt?: string;
  /** Since the opening, to the resolution (or to now for one still open, as stored). */
  durationMinutes: number;
  peakShare: number;
  acknowledged: DigestAck[];
  /** null: not known here (no reader of alert votes). */
  votes: Pick<AlertVoteCount, 'real' | 'falseAlarm'> | null;
  verdict: 'real' | 'false alarm' | 'disputed' | 'not judged' | null;
}

export interface OutcomeOptions {
  store: Pick<Store, 'alertVotes'>;
  acknowledgements?: AckReader[];
  logger?: { warn(obj: object, msg: string): void };
}

/** The outcomes of `records`, oldest opening first. A reader that fails is logged and left out. */
export async function alertOutcomes(records: AlertRecord[], opts: OutcomeOptions): Promise<DigestAlert[]> {
  const sorted = [...records].sort((a, b) => a.openedAt.localeCompare(b.openedAt));
  const ids = sorted.map((a) => a.id);
  let votes: Map<string, AlertVoteCount> | null = null;
  if (ids.length) {
    try {
      votes = new Map((await opts.store.alertVotes(ids)).map((v) => [v.alertId, v]));
    } catch (err) {
      opts.logger?.warn({ err }, `cannot read the votes on alerts: ${(err as Error).message}`);
    }
  }
  const out: DigestAlert[] = [];
  for (const a of sorted) {
    const data = a.data as Partial<TrendAlertData>;
    const acknowledged: DigestAck[] = [];
    for (const read of opts.acknowledgements ?? []) {
      try {
        acknowledged.push(...(await read(a.id)));
      } catch (err) {
        opts.logger?.warn({ err, alert: a.id }, `cannot read who acknowledged ${a.id}`);
      }
    }
    const counted = votes?.get(a.id);
    const v = votes ? { real: counted?.real ?? 0, falseAlarm: counted?.falseAlarm ?? 0 } : null;
    const end = a.resolvedAt ?? a.updatedAt;
    out.push({
      id: a.id,
      stream: a.stream,
      headline: alertTitle(a),
      openedAt: a.openedAt,
      ...(a.resolvedAt ? { resolvedAt: a.resolvedAt } : {}),
      durationMinutes: Math.max(0, Math.round((Date.parse(end) - Date.parse(a.openedAt)) / MINUTE)),
      peakShare: Number(data.peak?.share ?? data.latest?.share ?? NaN),
      acknowledged: acknowledged.sort((x, y) => x.at.localeCompare(y.at)),
      votes: v,
      verdict: !v
        ? null
        : v.real + v.falseAlarm === 0
          ? 'not judged'
          : v.real > v.falseAlarm
            ? 'real'
            : v.falseAlarm > v.real
              ? 'false alarm'
              : 'disputed',
    });
  }
  return out;
}

/**
 * An alert named by its opening, not by its latest message (the record's headline is whatever was said
 * last): "Bad buzz on Southwest: 64 % negative when it opened (normally 42 %)".
 */
export function alertTitle(a: AlertRecord): string {
  const opened = (a.data as Partial<TrendAlertData>).opened;
  return opened && Number.isFinite(opened.share)
    ? `Bad buzz on ${a.stream}: ${pct(opened.share)} negative when it opened` +
        (Number.isFinite(opened.baseline) ? ` (normally ${pct(opened.baseline)})` : '')
    : `Bad buzz on ${a.stream}`;
}

/**
 * The stored alerts as the detector knew them at `to` (epoch ms): those opened before it, resolved only if
 * they were by then, oldest first. What a detector rebuilt from the store leaves out of its baseline.
 */
export function alertPeriodsAt(records: AlertRecord[], to: number, defaultWindowMinutes: number): AlertPeriod[] {
  return records
    .filter((a) => Date.parse(a.openedAt) < to)
    .map((a) => ({
      openedAt: Date.parse(a.openedAt),
      ...(a.resolvedAt && Date.parse(a.resolvedAt) < to ? { resolvedAt: Date.parse(a.resolvedAt) } : {}),
      windowMinutes: Number((a.data as Partial<TrendAlertData>).windowMinutes) || defaultWindowMinutes,
    }))
    .sort((a, b) => a.openedAt - b.openedAt);
}
