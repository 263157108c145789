/**
 * What the dashboard shows, read from the store so that any replica answers alike (the leader's memory is
 * not needed): per stream the negative share against normal over the last 24 h or 7 days on the stream's
 * data clock, the open alert with its figures and top mentions, past alerts with how they ended; the
 * production accuracy per model version from the votes; the model's and the sources' health.
 *
 * The series is rebuilt as the digest does: the stored mentions of the range and of the baseline period
 * before it go through a StreamDetector with the stored alerts left out of the baseline, so the expected
 * share at each bucket is the one the detector had then. The counts are the model's labels.
 */
import { decodeOnce } from '../../chat/text';
import { accuracyReport, DAY_MS, type VersionAccuracy } from '../../feedback/production-accuracy';
import type { ScoredMention } from '../../mentions/types';
import { unreadableReason } from '../../sentiment/readable';
import type { AlertRecord, Store } from '../../store/types';
import { alertOutcomes, alertPeriodsAt, type AckReader, type DigestAlert } from '../../trends/alert-outcomes';
import { mostNegative, type AlertMention } from '../../trends/content';
import { notRead } from '../../trends/languages';
import { lastJudgedAt, type TrendAlertData } from '../../trends/monitor';
import { normalRange } from '../../trends/normal-range';
import { HOUR, MINUTE, type TrendSettings } from '../../trends/settings';
import { StreamDetector } from '../../trends/stream-detector';

export const RANGES = { '24h': 24 * HOUR, '7d': 7 * 24 * HOUR } as const;
export type Range = keyof typeof RANGES;

export interface SeriesPoint {
  /** ISO start of the bucket. */
  at: string;
  total: number;
  negative: number;
  /** negative / total; null for a bucket without mentions. */
  share: number | null;
  /**
   * The detector's view at the bucket's end: the share over its window (TREND_WINDOW_MINUTES) and the
   * mentions in it. A bucket of a few mentions swings from 0 to 100 %; the window is what is judged.
   */
  windowShare: number | null;
  windowTotal: number;
  /** The expected share then, and where the window's share falls 95 % of the time when all is normal; null while learning. */
  baseline: number | null;
  low: number | null;
  high: number | null;
}

export interface AlertView extends DigestAlert {
  state: 'open' | 'resolved';
  /** The window whose figures opened it: [windowStart, openedAt). */
  windowStart: string;
  windowMinutes: number;
  opened: { share: number; baseline: number; total: number; negative: number } | null;
  latest: { at: string; share: number; baseline: number; total: number; negative: number } | null;
}

export interface StreamOverview {
  stream: string;
  /** The stream's data clock: the last boundary the detector judged (null: nothing judged yet). */
  at: string | null;
  from: string | null;
  bucketMinutes: number;
  points: SeriesPoint[];
  mentions: number;
  negatives: number;
  openAlert: (AlertView & { mentions: AlertMention[] }) | null;
  /** Most recent first, at most 20. */
  alerts: AlertView[];
}

export interface DashboardOverview {
  range: Range;
  /** The detector's window: the thick line is the share over it. */
  windowMinutes: number;
  streams: StreamOverview[];
  accuracy: { from: string; to: string; days: number; versions: VersionAccuracy[]; judged: number; votes: number };
}

export interface AlertDetail {
  alert: AlertView & { mentions: AlertMention[] };
  /** The stream around the alert: from 12 h before its window to 6 h after its end (or the data clock). */
  series: Pick<StreamOverview, 'from' | 'at' | 'bucketMinutes' | 'points'> & { windowMinutes: number };
}

export interface OverviewOptions {
  store: Pick<
    Store,
    'mentionsBetween' | 'listAlerts' | 'alertVotes' | 'judgments' | 'getCheckpoint' | 'countVotesSince'
  >;
  streams: () => string[] | Promise<string[]>;
  settings: TrendSettings;
  acknowledgements?: AckReader[];
  /** Why the model cannot read a text (null: it can), as the monitor's. */
  unreadable?: (text: string) => string | null;
  /** Prefix of the monitor's checkpoint keys (default `trends`). */
  keyPrefix?: string;
  accuracyDays?: number;
  logger?: { warn(obj: object, msg: string): void };
  now?: () => number;
}

const iso = (t: number) => new Date(t).toISOString();
const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;
const MAX_ALERTS = 20;

export class Overview {
  private readonly now: () => number;

  constructor(private readonly opts: OverviewOptions) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * What changes when there is something new to show: each stream's data clock, the alerts' latest
   * writes, the votes. Cheap (no mention is read): the live updates poll it.
   */
  async fingerprint(): Promise<string> {
    const { store } = this.opts;
    const streams = await this.opts.streams();
    const [clocks, alerts, votes] = await Promise.all([
      Promise.all(streams.map((s) => lastJudgedAt(store, s, this.opts.keyPrefix))),
      store.listAlerts(),
      store.countVotesSince(iso(0)),
    ]);
    const latestAlert = alerts.reduce((m, a) => (a.updatedAt > m ? a.updatedAt : m), '');
    return JSON.stringify([streams, clocks, alerts.length, latestAlert, votes]);
  }

  async overview(range: Range): Promise<DashboardOverview> {
    const { store } = this.opts;
    const days = this.opts.accuracyDays ?? 7;
    const to = this.now();
    const from = to - days * DAY_MS;
    const [streams, judgments] = await Promise.all([this.opts.streams(), store.judgments({ sinceIso: iso(from) })]);
    const report = accuracyReport(judgments, { from: iso(from), to: iso(to) });
    return {
      range,
      windowMinutes: this.opts.settings.windowMinutes,
      streams: await Promise.all(streams.map((s) => this.stream(s, range))),
      accuracy: {
        from: iso(from),
        to: iso(to),
        days,
        versions: report.versions,
        judged: report.judged,
        votes: report.votes,
      },
    };
  }

  /** The alert `id` with the stream around it; null when there is no such alert. */
  async alert(id: string): Promise<AlertDetail | null> {
    const record = (await this.opts.store.listAlerts()).find((a) => a.id === id);
    if (!record) return null;
    const s = this.opts.settings;
    const clock = await lastJudgedAt(this.opts.store, record.stream, this.opts.keyPrefix);
    const view = (await this.views([record]))[0];
    const end = Math.min(
      Date.parse(record.resolvedAt ?? clock ?? record.updatedAt) + 6 * HOUR,
      clock ? Date.parse(clock) : Infinity,
    );
    const start = Date.parse(view.windowStart) - 12 * HOUR;
    const series = await this.series(record.stream, start, Math.max(end, Date.parse(record.openedAt)), s.bucketMinutes);
    const mentions = await this.topMentions(record, view);
    return {
      alert: { ...view, mentions },
      series: {
        from: iso(start),
        at: series.at,
        bucketMinutes: series.bucketMinutes,
        windowMinutes: s.windowMinutes,
        points: series.points,
      },
    };
  }

  private async stream(stream: string, range: Range): Promise<StreamOverview> {
    const s = this.opts.settings;
    const clock = await lastJudgedAt(this.opts.store, stream, this.opts.keyPrefix);
    const records = (await this.opts.store.listAlerts(stream)).sort((a, b) => b.openedAt.localeCompare(a.openedAt));
    const views = await this.views(records.slice(0, MAX_ALERTS));
    const open = records.find((a) => a.state === 'open');
    const openView = open ? views.find((v) => v.id === open.id) : undefined;
    const openAlert = open && openView ? { ...openView, mentions: await this.topMentions(open, openView) } : null;
    if (!clock) {
      return {
        stream,
        at: null,
        from: null,
        bucketMinutes: s.bucketMinutes,
        points: [],
        mentions: 0,
        negatives: 0,
        openAlert,
        alerts: views,
      };
    }
    const to = Date.parse(clock);
    const from = to - RANGES[range];
    const bucketMinutes = range === '24h' ? s.bucketMinutes : 60;
    const series = await this.series(stream, from, to, bucketMinutes, records);
    return {
      stream,
      at: clock,
      from: iso(from),
      bucketMinutes,
      points: series.points,
      mentions: series.points.reduce((n, p) => n + p.total, 0),
      negatives: series.points.reduce((n, p) => n + p.negative, 0),
      openAlert,
      alerts: views,
    };
  }

  /** Buckets of `bucketMinutes` over [from, to) with the baseline the detector had at each. */
  private async series(
    stream: string,
    from: number,
    to: number,
    bucketMinutes: number,
    records?: AlertRecord[],
  ): Promise<{ at: string; bucketMinutes: number; points: SeriesPoint[] }> {
    const s = this.opts.settings;
    const alerts = records ?? (await this.opts.store.listAlerts(stream));
    const stored = await this.opts.store.mentionsBetween(stream, iso(from - s.baselineLookbackHours * HOUR), iso(to));
    const judged = this.judged(stored);
    const periods = alertPeriodsAt(alerts, to, s.windowMinutes);
    const detector = new StreamDetector(stream, s, { alertPeriods: periods });
    detector.load(judged.map((j) => ({ time: j.time, negative: j.negative })));
    const step = bucketMinutes * MINUTE;
    // Whole buckets, the last one ending at the data clock's bucket: the range holds exactly range / step.
    const start = Math.ceil(to / step) * step - Math.ceil((to - from) / step) * step;
    const points: SeriesPoint[] = [];
    for (let t = start; t < to; t += step) {
      const end = Math.min(t + step, to);
      const c = detector.series.sum(t, end);
      const base = detector.peek(end).windows[0];
      const learning = !base || base.status === 'insufficient_history' || !base.baseline;
      const p = learning ? null : base.baseline!.share;
      const w = detector.series.sum(end - s.windowMinutes * MINUTE, end);
      const band = p === null ? null : normalRange(p, w.total, s.dispersion);
      points.push({
        at: iso(t),
        total: c.total,
        negative: c.negative,
        share: c.total > 0 ? round(c.negative / c.total) : null,
        windowShare: w.total > 0 ? round(w.negative / w.total) : null,
        windowTotal: w.total,
        baseline: p === null ? null : round(p),
        low: band ? round(band.low) : null,
        high: band ? round(band.high) : null,
      });
    }
    return { at: iso(to), bucketMinutes, points };
  }

  private judged(stored: ScoredMention[]) {
    const unreadable = this.opts.unreadable ?? ((text: string) => unreadableReason(text));
    return stored
      .filter(
        (m) => !notRead(m) && (m.unreadable !== undefined ? m.unreadable : unreadable(String(m.text ?? ''))) === null,
      )
      .map((m) => ({ m, time: Date.parse(m.createdAt), negative: m.prediction?.label === 'negative' }))
      .filter((j) => Number.isFinite(j.time));
  }

  private async views(records: AlertRecord[]): Promise<AlertView[]> {
    const outcomes = await alertOutcomes(records, {
      store: this.opts.store,
      acknowledgements: this.opts.acknowledgements,
      logger: this.opts.logger,
    });
    const byId = new Map(outcomes.map((o) => [o.id, o]));
    return records.map((r) => {
      const data = r.data as Partial<TrendAlertData>;
      const windowMinutes = Number(data.windowMinutes) || this.opts.settings.windowMinutes;
      const o = data.opened;
      const l = data.latest;
      return {
        ...byId.get(r.id)!,
        state: r.state,
        windowStart: iso(Date.parse(r.openedAt) - windowMinutes * MINUTE),
        windowMinutes,
        opened: o ? { share: o.share, baseline: o.baseline, total: o.total, negative: o.negative } : null,
        latest: l ? { at: l.at, share: l.share, baseline: l.baseline, total: l.total, negative: l.negative } : null,
      };
    });
  }

  /** The alert's most negative mentions, from its window to its end (or the latest figures). */
  private async topMentions(record: AlertRecord, view: AlertView): Promise<AlertMention[]> {
    const end = record.resolvedAt ?? view.latest?.at ?? record.updatedAt;
    const mentions = await this.opts.store.mentionsBetween(record.stream, view.windowStart, end);
    const judged = this.judged(mentions).filter((j) => j.negative);
    // As the chat messages show them: X's HTML entities decoded once (src/chat/text.ts).
    return mostNegative(
      judged.map((j) => j.m),
      5,
    ).map((m) => ({ ...m, text: decodeOnce(m.text) }));
  }
}
