/**
 * The trend monitor: the poller's `onScored` hook. Per stream it feeds the detector with the new scored
 * mentions, runs the alert state machine at each bucket boundary they pass, persists every alert through
 * the Store (AlertRecord.data holds the figures and the state) and tells the chat sinks.
 *
 * Restarts: the first batch of a stream after a start hydrates the detector from the Store — the history
 * of mentions (for the baseline), the open alert and its state, past alerts (left out of the baseline;
 * the last one dates the cooldown), the last boundary evaluated and the snooze. So an open alert is
 * neither forgotten nor opened a second time, and boundaries already judged are not judged again.
 *
 * Delivery (an outbox): each message is saved in its alert's record with the sinks that still have to
 * take it, then sent, and crossed off sink by sink. What a sink could not take (it threw, or the process
 * died) is sent again, in order and to that sink only, at the next batch of the stream — after a restart
 * too. Sinks must therefore accept a message twice (the Slack adapter keeps its own steps).
 *
 * Late mentions (older than the last boundary judged: the rest of a poll that hit the page cap, a slow
 * source, a replica taking over) are counted into their buckets and the boundaries since judged again
 * (StreamDetector.rejudge): an alert opens, updates and resolves at the data time it would have with no
 * lag. The journal that makes it possible is persisted, so a restart or another replica re-judges too —
 * also the mentions a process stored but died before judging. What was said stays said: a re-judgement
 * never opens an alert twice nor posts an opening after a later step; it may move an open alert's
 * opening earlier (the record's `openedAt`; its id keeps the time it was first posted with).
 *
 * Keys kept in the Store's checkpoint table: `<prefix>/evaluated:<stream>` (the last boundary judged),
 * `<prefix>/journal:<stream>` (the boundaries judged in the last REJUDGE_HOURS, JSON) and
 * `<prefix>/snooze:<stream>` (snoozed until, ISO; empty when not). The prefix is `trends` by default.
 *
 * Time is the mentions' time (created_at), never the wall clock.
 *
 * Mentions the model cannot read (nothing but mentions, links, punctuation, invisible characters, or
 * only words it does not know: `ScoredMention.unreadable`) are stored by the poller but never counted:
 * not in the volume, not in the negative share, not in the baseline, not among an alert's mentions. A
 * mention read back from the store does not carry that verdict; the `unreadable` option decides for it.
 *
 * Mentions in a language the model does not read (stored without a prediction: src/sentiment/language.ts)
 * are left out the same way, whatever the judge (the replay's oracle too), and counted per language: an
 * alert says how many of its window's mentions were not read, `status()` how many of each stream's last
 * 24 h (./languages).
 */
import type { Logger } from '../log';
import type { ScoredMention } from '../mentions/types';
import { unreadableReason } from '../sentiment/readable';
import type { AlertRecord, Store } from '../store/types';
import { buildAlertContent, type AlertContent, type AlertKind, type ChartRenderer } from './content';
import { countOtherLanguages, notRead, type OtherLanguages } from './languages';
import { pct, type Evaluation } from './detector';
import {
  DEFAULT_TREND_SETTINGS,
  HOUR,
  MINUTE,
  checkTrendSettings,
  longestWindowMinutes,
  type TrendSettings,
} from './settings';
import type { ChatSink, StreamNotice } from './sink';
import type { Peak, StreamState } from './state-machine';
import {
  REJUDGE_HOURS,
  StreamDetector,
  type AlertPeriod,
  type DetectorEvent,
  type JournalEntry,
  type Observation,
} from './stream-detector';

/** The figures of one evaluation, as stored in AlertRecord.data. */
export interface AlertFigures {
  at: string;
  windowMinutes: number;
  windowStart: string;
  total: number;
  negative: number;
  share: number;
  baseline: number;
  baselineEffectiveN: number;
  z: number;
  pValue: number;
}

/** AlertRecord.data of a trend alert. */
export interface TrendAlertData {
  kind: 'trend';
  /** The window that opened it. */
  windowMinutes: number;
  opened: AlertFigures;
  latest: AlertFigures;
  peak: { share: number; at: string; total: number; negative: number; baseline: number };
  updates: number;
  headline: string;
  /** The state machine's state while open. */
  state?: StreamState;
  resolution?: { at: string; durationMinutes: number; figures: AlertFigures };
  /** Set when late mentions moved the opening earlier: the opening first posted (ISO). */
  redatedFrom?: string;
  /** Messages not yet taken by every sink, oldest first (the outbox). */
  outbox?: OutboxEntry[];
}

export interface OutboxEntry {
  kind: AlertKind;
  message: Omit<AlertContent, 'chart'>;
  /** The chart, base64 PNG (kept only until delivered). */
  chart?: { png: string; width: number; height: number; title: string };
  /** Sinks (by name) that have not taken it yet. */
  sinks: string[];
}

export interface TrendMonitorOptions {
  store: Store;
  settings?: TrendSettings;
  sinks?: ChatSink[];
  logger?: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /**
   * Whether a mention is negative; `undefined` leaves it out. Default: the model's label. (The replay's
   * oracle judges by the human label and leaves unlabelled mentions out.)
   */
  judge?: (m: ScoredMention) => boolean | undefined;
  /**
   * A judged mention's contribution to the estimated negatives (./prevalence). Default: 1 if judged
   * negative, else 0 (classify and count; the oracle's human labels). The composition root gives the
   * configured estimator with the serving model's rates (`mentionEstimator`).
   */
  estimate?: (m: ScoredMention, negative: boolean) => number;
  /**
   * Why the model cannot read a text (null: it can), for mentions that do not say (`unreadable` absent:
   * read back from the store). Give the serving model's check (`(t) => slot.unreadable(t)`); the default
   * is the model-free check (no word, emoticon or emoji at all), which agrees with it except on texts
   * made only of words the model does not know.
   */
  unreadable?: (text: string) => string | null;
  /** null: no chart in the content. Default: renderTrendChart. */
  renderChart?: ChartRenderer | null;
  /** Prefix of the keys kept in the Store's checkpoint table (default `trends`). */
  keyPrefix?: string;
  /** The dashboard's link to an alert, for its "Open in dashboard" button (null: none). */
  dashboardLink?: (alertId: string) => string | null;
  /** Called after each alert transition, delivered or not (replays and tests). */
  onEvent?: (e: MonitorEvent) => void;
}

export interface MonitorEvent {
  kind: AlertKind;
  alert: AlertRecord;
  evaluation: Evaluation;
}

export interface StreamStatus {
  stream: string;
  phase: 'learning' | 'ok' | 'open' | 'cooldown';
  snoozedUntil: string | null;
  /** The last boundary judged, ISO. */
  at: string | null;
  share: number | null;
  baseline: number | null;
  volume: number | null;
  reason: string | null;
  openAlertId: string | null;
  /** The stream's mentions in other languages (not read) in the 24 h up to `at`; null when not known. */
  otherLanguages: OtherLanguages | null;
}

interface StreamContext {
  detector: StreamDetector;
  /** The open alert, or the last one. */
  alert: AlertRecord | null;
  /** Alerts with messages some sink has not taken yet. */
  undelivered: AlertRecord[];
  snoozedUntil?: number;
  /** Ids of recent mentions already counted (a poll read again after a crash is not counted twice). */
  seen: Map<string, number>;
  savedState: string;
  savedEvaluatedAt?: number;
  savedJournal: number;
  /** Events of the re-judgement made at hydration, handled with the first batch. */
  pending: DetectorEvent[];
  /** Stored mentions newer than the last boundary judged, not in the first batch: judged with it. */
  unjudged: Observation[];
}

/** The default prefix of the monitor's keys in the Store's checkpoint table. */
export const DEFAULT_KEY_PREFIX = 'trends';

/**
 * The last boundary the stream's detector judged, as the monitor stored it (ISO; null before the first):
 * the stream's data clock, readable by any replica.
 */
export async function lastJudgedAt(
  store: Pick<Store, 'getCheckpoint'>,
  stream: string,
  keyPrefix = DEFAULT_KEY_PREFIX,
): Promise<string | null> {
  const raw = await store.getCheckpoint(`${keyPrefix}/evaluated:${stream}`);
  return raw && Number.isFinite(Date.parse(raw)) ? raw : null;
}

export const defaultJudge = (m: ScoredMention): boolean => m.prediction?.label === 'negative';

export class TrendMonitor {
  readonly settings: TrendSettings;
  private readonly store: Store;
  private readonly sinks: ChatSink[];
  private readonly logger?: TrendMonitorOptions['logger'];
  private readonly judge: (m: ScoredMention) => boolean | undefined;
  private readonly estimate: (m: ScoredMention, negative: boolean) => number;
  private readonly renderChart: ChartRenderer | null | undefined;
  private readonly prefix: string;
  private readonly onEvent?: (e: MonitorEvent) => void;
  private readonly dashboardLink?: (alertId: string) => string | null;
  private readonly contexts = new Map<string, Promise<StreamContext>>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(opts: TrendMonitorOptions) {
    this.settings = checkTrendSettings({ ...DEFAULT_TREND_SETTINGS, ...opts.settings });
    this.store = opts.store;
    this.sinks = opts.sinks ?? [];
    this.logger = opts.logger;
    const judge = opts.judge ?? defaultJudge;
    const unreadable = opts.unreadable ?? ((text: string) => unreadableReason(text));
    // Every count, the baseline and the alert's mentions go through here: a mention in a language the model
    // does not read, or with nothing it can read, is left out.
    this.judge = (m) =>
      !notRead(m) && (m.unreadable !== undefined ? m.unreadable : unreadable(String(m.text ?? ''))) === null
        ? judge(m)
        : undefined;
    this.estimate = opts.estimate ?? ((_m, negative) => (negative ? 1 : 0));
    this.renderChart = opts.renderChart;
    this.prefix = opts.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.dashboardLink = opts.dashboardLink;
    this.onEvent = opts.onEvent;
  }

  /** The poller's hook: the stream's newly scored (and stored) mentions, oldest first. */
  readonly onScored = (stream: string, mentions: ScoredMention[]): Promise<void> =>
    this.serial(stream, () => this.process(stream, mentions));

  /** Holds back new alerts (and updates) on `stream` until `until` (the mentions' clock). */
  snooze(stream: string, until: Date | string): Promise<void> {
    const t = typeof until === 'string' ? Date.parse(until) : until.getTime();
    if (!Number.isFinite(t)) return Promise.reject(new Error(`snooze: ${String(until)} is not a date`));
    return this.serial(stream, async () => {
      await this.store.setCheckpoint(this.key('snooze', stream), new Date(t).toISOString());
      const ctx = this.contexts.get(stream);
      if (ctx) (await ctx).snoozedUntil = t;
      this.logger?.info({ stream, until: new Date(t).toISOString() }, `alerts on ${stream} snoozed`);
    });
  }

  unsnooze(stream: string): Promise<void> {
    return this.serial(stream, async () => {
      await this.store.setCheckpoint(this.key('snooze', stream), '');
      const ctx = this.contexts.get(stream);
      if (ctx) (await ctx).snoozedUntil = undefined;
    });
  }

  async snoozedUntil(stream: string): Promise<string | null> {
    const raw = await this.store.getCheckpoint(this.key('snooze', stream));
    return raw ? raw : null;
  }

  /** What each stream's detector knows now (streams seen since the start). */
  async status(): Promise<StreamStatus[]> {
    const out: StreamStatus[] = [];
    for (const [stream, p] of this.contexts) {
      const ctx = await p;
      const d = ctx.detector;
      const ev = d.lastEvaluation;
      const state = d.state;
      const at = d.lastEvaluatedAt;
      const otherLanguages =
        at === undefined
          ? null
          : await this.store
              .mentionsBetween(stream, iso(at - 24 * HOUR), iso(at))
              .then(countOtherLanguages)
              .catch(() => null);
      out.push({
        stream,
        phase:
          state.phase === 'open'
            ? 'open'
            : !ev || ev.status === 'insufficient_history'
              ? 'learning'
              : state.cooldownUntil !== undefined && ev.at < state.cooldownUntil
                ? 'cooldown'
                : 'ok',
        snoozedUntil: ctx.snoozedUntil !== undefined ? new Date(ctx.snoozedUntil).toISOString() : null,
        at: d.lastEvaluatedAt !== undefined ? new Date(d.lastEvaluatedAt).toISOString() : null,
        share: ev ? ev.share : null,
        baseline: ev?.baseline?.share ?? null,
        volume: ev ? ev.total : null,
        reason: ev ? ev.reason : null,
        openAlertId: state.phase === 'open' && ctx.alert ? ctx.alert.id : null,
        otherLanguages,
      });
    }
    return out;
  }

  /** Waits for the work queued so far (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.catch(() => undefined)));
  }

  private serial<T>(stream: string, task: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(stream) ?? Promise.resolve()).then(task);
    this.queues.set(
      stream,
      run.catch(() => undefined),
    );
    return run;
  }

  private key(kind: 'evaluated' | 'snooze' | 'journal', stream: string): string {
    return `${this.prefix}/${kind}:${stream}`;
  }

  private async process(stream: string, mentions: ScoredMention[]): Promise<void> {
    const judged: Array<{ m: ScoredMention; time: number; negative: boolean }> = [];
    for (const m of mentions) {
      const negative = this.judge(m);
      const time = Date.parse(m.createdAt);
      if (negative !== undefined && Number.isFinite(time)) judged.push({ m, time, negative });
    }
    if (judged.length === 0) return;
    let p = this.contexts.get(stream);
    if (!p) {
      p = this.hydrate(stream, judged);
      this.contexts.set(stream, p);
      p.catch(() => this.contexts.delete(stream)); // try again with the next batch
    }
    const ctx = await p;
    await this.flush(ctx);

    const fresh = judged.filter((j) => !ctx.seen.has(j.m.id));
    for (const j of fresh) ctx.seen.set(j.m.id, j.time);
    const events = ctx.pending.splice(0);
    events.push(
      ...ctx.detector.ingest(
        [
          ...ctx.unjudged.splice(0),
          ...fresh.map((j) => ({ time: j.time, negative: j.negative, estimate: this.estimate(j.m, j.negative) })),
        ],
        ctx.snoozedUntil,
      ),
    );
    this.logRejudgement(stream, ctx);
    const horizon = (ctx.detector.lastEvaluatedAt ?? 0) - this.seenMs();
    for (const [id, t] of ctx.seen) if (t < horizon) ctx.seen.delete(id);

    await this.notice(stream, ctx); // history comes before any alert
    for (const e of events) await this.handle(stream, ctx, e);
    await this.persist(stream, ctx);
  }

  private longestWindowMs(): number {
    return longestWindowMinutes(this.settings) * MINUTE;
  }

  /** How far back mentions are remembered by id (a poll read twice is counted once), re-judged ones included. */
  private seenMs(): number {
    return REJUDGE_HOURS * HOUR + this.longestWindowMs() + this.settings.bucketMinutes * MINUTE;
  }

  private logRejudgement(stream: string, ctx: StreamContext): void {
    const r = ctx.detector.takeRejudgement();
    if (!r) return;
    const fields = {
      stream,
      late: r.late,
      beyond: r.beyond,
      ...(r.boundaries ? { from: iso(r.from), to: iso(r.to), boundaries: r.boundaries } : {}),
      ...(r.kept ? { kept: { at: iso(r.kept.at), action: r.kept.action } } : {}),
    };
    const what = r.late ? `${r.late} late mention(s)` : 'mentions stored but not judged before the restart';
    if (r.boundaries)
      this.logger?.info(
        fields,
        `trends: ${stream}: ${what}; judged again the ${r.boundaries} boundaries ${iso(r.from)} → ${iso(r.to)}` +
          (r.kept ? ` (the ${r.kept.action} at ${iso(r.kept.at)} was said already and stands)` : '') +
          (r.beyond ? `; ${r.beyond} older than ${REJUDGE_HOURS} h only counted` : ''),
      );
    else
      this.logger?.warn(
        fields,
        `trends: ${stream}: ${r.beyond} late mention(s) older than the ${REJUDGE_HOURS} h judged again: counted, not re-judged`,
      );
  }

  private async hydrate(stream: string, batch: Array<{ m: ScoredMention; time: number }>): Promise<StreamContext> {
    const s = this.settings;
    const firstTime = Math.min(...batch.map((j) => j.time));
    const lastTime = Math.max(...batch.map((j) => j.time));
    const [evaluatedRaw, snoozeRaw, alerts, journalRaw] = await Promise.all([
      this.store.getCheckpoint(this.key('evaluated', stream)),
      this.store.getCheckpoint(this.key('snooze', stream)),
      this.store.listAlerts(stream),
      this.store.getCheckpoint(this.key('journal', stream)),
    ]);
    const lastEvaluatedAt = evaluatedRaw ? Date.parse(evaluatedRaw) : undefined;
    let journal: JournalEntry[] = [];
    try {
      journal = decodeJournal(journalRaw);
    } catch (err) {
      this.logger?.warn(
        { stream, err },
        `trends: ${stream}: the journal of judged boundaries is unreadable (${(err as Error).message}); late mentions for them are counted, not re-judged`,
      );
    }
    const snoozedUntil = snoozeRaw ? Date.parse(snoozeRaw) : undefined;
    const open = alerts.find((a) => a.state === 'open') ?? null;
    const lastResolved = alerts.find((a) => a.state === 'resolved' && a.resolvedAt);
    const horizon =
      Math.min(lastEvaluatedAt ?? firstTime, firstTime) -
      REJUDGE_HOURS * HOUR -
      this.longestWindowMs() -
      s.baselineLookbackHours * HOUR;
    const periods: AlertPeriod[] = alerts
      .filter((a) => a.state === 'open' || Date.parse(a.resolvedAt!) > horizon)
      .map((a) => ({
        openedAt: Date.parse(a.openedAt),
        ...(a.resolvedAt ? { resolvedAt: Date.parse(a.resolvedAt) } : {}),
        windowMinutes: Number((a.data as Partial<TrendAlertData>).windowMinutes) || s.windowMinutes,
      }))
      .sort((a, b) => a.openedAt - b.openedAt);
    let state: StreamState = { phase: 'ok' };
    if (open) state = openState(open);
    else if (lastResolved)
      state = { phase: 'ok', cooldownUntil: Date.parse(lastResolved.resolvedAt!) + s.cooldownMinutes * MINUTE };

    const judgedUpTo = lastEvaluatedAt !== undefined && Number.isFinite(lastEvaluatedAt) ? lastEvaluatedAt : undefined;
    const detector = new StreamDetector(stream, s, {
      state,
      ...(judgedUpTo !== undefined ? { lastEvaluatedAt: judgedUpTo, journal } : {}),
      alertPeriods: periods,
    });
    // Everything stored up to the first batch's newest mention but the batch itself (stored by the poller
    // already; it comes with its own verdicts): before the last boundary judged, history (counted; a bucket
    // that no longer matches the journal is judged again below); after it, mentions stored but never judged
    // (a crash between the store and the monitor), judged with the batch.
    const below = judgedUpTo ?? firstTime;
    const inBatch = new Set(batch.map((j) => j.m.id));
    const history = await this.store.mentionsBetween(stream, iso(horizon), iso(lastTime + 1));
    const seen = new Map<string, number>();
    const recent = Math.min(firstTime, below) - this.seenMs();
    const observations: Observation[] = [];
    const unjudged: Observation[] = [];
    for (const m of history) {
      if (inBatch.has(m.id)) continue;
      const negative = this.judge(m);
      if (negative === undefined) continue;
      const time = Date.parse(m.createdAt);
      (time < below ? observations : unjudged).push({ time, negative, estimate: this.estimate(m, negative) });
      if (time >= recent) seen.set(m.id, time);
    }
    detector.load(observations);
    // Buckets whose counts changed since they were judged (late mentions stored by a process that then
    // died, or the batch being handed over now): judged again before anything newer.
    const snoozed = snoozedUntil !== undefined && Number.isFinite(snoozedUntil) ? snoozedUntil : undefined;
    const pending = detector.rejudge(snoozed);
    this.logger?.info(
      {
        stream,
        history: observations.length,
        openAlert: open?.id ?? null,
        lastEvaluatedAt: evaluatedRaw || null,
        snoozedUntil: snoozeRaw || null,
      },
      `trends: ${stream} resumed with ${observations.length} mention(s) of history` +
        (open ? `, alert ${open.id} open` : ''),
    );
    const undelivered = alerts.filter((a) => (a.data as Partial<TrendAlertData>).outbox?.length).reverse();
    return {
      detector,
      alert: open ?? alerts[0] ?? null,
      undelivered,
      ...(snoozedUntil !== undefined && Number.isFinite(snoozedUntil) ? { snoozedUntil } : {}),
      seen,
      savedState: JSON.stringify(state),
      ...(lastEvaluatedAt !== undefined ? { savedEvaluatedAt: lastEvaluatedAt } : {}),
      savedJournal: detector.journalVersion === 0 ? 0 : -1,
      pending,
      unjudged,
    };
  }

  private async handle(stream: string, ctx: StreamContext, e: DetectorEvent): Promise<void> {
    const ev = e.evaluation;
    const at = new Date(ev.at).toISOString();
    const figures = figuresOf(ev);
    let alert: AlertRecord;
    let kind: AlertKind;
    if (e.action === 'redate' || (e.action === 'open' && ctx.alert?.state === 'open')) {
      await this.redate(stream, ctx, e);
      return;
    }
    if (e.action === 'open') {
      kind = 'opened';
      const state = e.after as Extract<StreamState, { phase: 'open' }>;
      const data: TrendAlertData = {
        kind: 'trend',
        windowMinutes: ev.windowMinutes,
        opened: figures,
        latest: figures,
        peak: peakData(state.peak),
        updates: 0,
        headline: '',
        state,
      };
      alert = {
        id: `${stream}@${at}`,
        stream,
        state: 'open',
        openedAt: at,
        updatedAt: at,
        data: data as unknown as Record<string, unknown>,
      };
    } else {
      if (!ctx.alert || ctx.alert.state !== 'open') {
        this.logger?.warn({ stream, action: e.action }, `trends: ${stream} has no open alert to ${e.action}`);
        return;
      }
      const prev = ctx.alert.data as unknown as TrendAlertData;
      const before = e.before as Extract<StreamState, { phase: 'open' }>;
      if (e.action === 'update') {
        kind = 'updated';
        const state = e.after as Extract<StreamState, { phase: 'open' }>;
        alert = {
          ...ctx.alert,
          updatedAt: at,
          data: {
            ...prev,
            latest: figures,
            peak: peakData(state.peak),
            updates: prev.updates + 1,
            state,
          } as unknown as Record<string, unknown>,
        };
      } else {
        kind = 'resolved';
        const openedAt = Date.parse(ctx.alert.openedAt);
        const data: TrendAlertData = {
          ...prev,
          latest: figures,
          peak: peakData(before.peak),
          resolution: { at, durationMinutes: Math.round((ev.at - openedAt) / MINUTE), figures },
        };
        delete data.state;
        alert = {
          ...ctx.alert,
          state: 'resolved',
          updatedAt: at,
          resolvedAt: at,
          data: data as unknown as Record<string, unknown>,
        };
      }
    }

    const content = this.sinks.length ? await this.content(stream, ctx, kind, alert, ev) : undefined;
    const data = alert.data as unknown as TrendAlertData;
    data.headline =
      content?.headline ?? `${kind} on ${stream}: ${pct(ev.share)} negative vs ${pct(ev.baseline?.share ?? NaN)}`;
    if (content) {
      const { chart, ...message } = content;
      data.outbox = [
        ...(data.outbox ?? []),
        {
          kind,
          message,
          ...(chart ? { chart: { ...chart, png: chart.png.toString('base64') } } : {}),
          sinks: this.sinks.map((x) => x.name),
        },
      ];
    }
    await this.store.saveAlert(alert);
    ctx.alert = alert;
    // With sinks, the message itself goes to them (the console prints it in full): the log records the
    // event, not the text again. Without any, the log line is the only place it is said.
    const sinks = content ? this.sinks.map((x) => x.name) : [];
    this.logger?.info(
      { stream, alert: alert.id, kind, share: ev.share, baseline: ev.baseline?.share, volume: ev.total, at, sinks },
      sinks.length
        ? `trends: alert ${kind} on ${stream} (${alert.id}) → ${sinks.join(', ')}`
        : `trends: alert ${kind} on ${stream}: ${data.headline}`,
    );
    this.onEvent?.({ kind, alert, evaluation: ev });
    if (content) {
      ctx.undelivered = [...ctx.undelivered.filter((x) => x.id !== alert.id), alert];
      await this.flush(ctx);
    }
  }

  /**
   * Late mentions moved an alert's opening earlier: the record says so (no message: the opening was said).
   * Also the guard against opening an alert already open.
   */
  private async redate(stream: string, ctx: StreamContext, e: DetectorEvent): Promise<void> {
    if (e.action === 'open') {
      this.logger?.warn(
        { stream, alert: ctx.alert?.id, at: iso(e.evaluation.at) },
        `trends: ${stream}: alert ${ctx.alert?.id} is open already; not opened again`,
      );
      return;
    }
    const move = e.redate;
    if (!move) return;
    let alert = ctx.alert && Date.parse(ctx.alert.openedAt) === move.from ? ctx.alert : null;
    alert ??= (await this.store.listAlerts(stream)).find((a) => Date.parse(a.openedAt) === move.from) ?? null;
    if (!alert) {
      this.logger?.warn(
        { stream, from: iso(move.from) },
        `trends: ${stream}: no alert opened at ${iso(move.from)} to re-date`,
      );
      return;
    }
    const prev = alert.data as unknown as TrendAlertData;
    const openedAt = iso(move.to);
    const state = e.after.phase === 'open' && alert.state === 'open' ? e.after : undefined;
    const data: TrendAlertData = {
      ...prev,
      windowMinutes: e.evaluation.windowMinutes,
      opened: figuresOf(e.evaluation),
      ...(state ? { state, peak: peakData(state.peak) } : {}),
      redatedFrom: prev.redatedFrom ?? alert.openedAt,
    };
    if (prev.resolution && alert.resolvedAt)
      data.resolution = {
        ...prev.resolution,
        durationMinutes: Math.round((Date.parse(alert.resolvedAt) - move.to) / MINUTE),
      };
    const updated: AlertRecord = { ...alert, openedAt, data: data as unknown as Record<string, unknown> };
    await this.store.saveAlert(updated);
    if (ctx.alert?.id === updated.id) ctx.alert = updated;
    ctx.undelivered = ctx.undelivered.map((a) => (a.id === updated.id ? updated : a));
    this.logger?.info(
      { stream, alert: alert.id, openedAt, redatedFrom: alert.openedAt },
      `trends: alert ${alert.id} on ${stream}: late mentions show it began at ${openedAt} (opened at ${alert.openedAt})`,
    );
  }

  private async content(
    stream: string,
    ctx: StreamContext,
    kind: AlertKind,
    alert: AlertRecord,
    ev: Evaluation,
  ): Promise<AlertContent> {
    const data = alert.data as unknown as TrendAlertData;
    const openedAt = Date.parse(alert.openedAt);
    const from = openedAt - data.windowMinutes * MINUTE;
    const [alertMentions, referenceMentions] = await Promise.all([
      this.store.mentionsBetween(stream, iso(Math.min(from, ev.windowStart)), iso(ev.at)),
      this.store.mentionsBetween(stream, iso(from - this.settings.baselineLookbackHours * HOUR), iso(from)),
    ]);
    const judged = (ms: ScoredMention[]) => ms.filter((m) => this.judge(m) !== undefined);
    const inWindow = alertMentions.filter((m) => Date.parse(m.createdAt) >= ev.windowStart);
    const content = buildAlertContent({
      kind,
      alertId: alert.id,
      stream,
      openedAt,
      ...(alert.resolvedAt ? { resolvedAt: Date.parse(alert.resolvedAt) } : {}),
      openWindowMinutes: data.windowMinutes,
      peak: { share: data.peak.share, at: Date.parse(data.peak.at) },
      evaluation: ev,
      detector: ctx.detector,
      settings: this.settings,
      alertMentions: judged(alertMentions),
      referenceMentions: judged(referenceMentions),
      isNegative: (m) => this.judge(m) === true,
      otherLanguages: countOtherLanguages(inWindow),
      ...(this.renderChart !== undefined ? { renderChart: this.renderChart } : {}),
    });
    try {
      const url = this.dashboardLink?.(alert.id);
      if (url) content.dashboardUrl = url;
    } catch (err) {
      this.logger?.warn({ err, alert: alert.id }, `no dashboard link on ${alert.id}: ${(err as Error).message}`);
    }
    return content;
  }

  /** Sends what is in the outboxes, in order, to the sinks that have not taken it; crosses off what they take. */
  private async flush(ctx: StreamContext): Promise<void> {
    if (this.sinks.length === 0) return;
    for (const alert of [...ctx.undelivered]) {
      const data = alert.data as unknown as TrendAlertData;
      const outbox = data.outbox ?? [];
      const failed = new Set<string>();
      let changed = false;
      for (const entry of outbox) {
        for (const sink of this.sinks) {
          if (!entry.sinks.includes(sink.name) || failed.has(sink.name)) continue;
          const content: AlertContent = {
            ...(entry.message as AlertContent),
            ...(entry.chart ? { chart: { ...entry.chart, png: Buffer.from(entry.chart.png, 'base64') } } : {}),
          };
          try {
            if (entry.kind === 'opened') await sink.alertOpened(content);
            else if (entry.kind === 'updated') await sink.alertUpdated(content);
            else await sink.alertResolved(content);
            entry.sinks = entry.sinks.filter((n) => n !== sink.name);
            changed = true;
          } catch (err) {
            failed.add(sink.name); // keep the order: nothing later goes to this sink before this one
            this.logger?.error(
              { err, sink: sink.name, alert: alert.id, kind: entry.kind },
              `trends: sink ${sink.name} failed to take the ${entry.kind} message of alert ${alert.id}; it will be sent again`,
            );
          }
        }
        // A sink that no longer exists (renamed, removed from the config) cannot take anything.
        entry.sinks = entry.sinks.filter((n) => this.sinks.some((x) => x.name === n));
      }
      const left = outbox.filter((e) => e.sinks.length > 0);
      if (left.length !== outbox.length || changed) {
        if (left.length) data.outbox = left;
        else delete data.outbox;
        await this.store.saveAlert(alert);
      }
      if (!left.length) ctx.undelivered.splice(ctx.undelivered.indexOf(alert), 1);
    }
  }

  /** Tells the sinks when a stream starts lacking history ("too little history", said, not guessed) or stops. */
  private async notice(stream: string, ctx: StreamContext): Promise<void> {
    for (const change of ctx.detector.takeHistoryChanges()) {
      if (change.first && !change.learning) continue; // resumed with enough history: nothing new to say
      const ev = change.evaluation;
      const notice: StreamNotice = {
        stream,
        kind: change.learning ? 'learning' : 'watching',
        at: new Date(ev.at).toISOString(),
        message: change.learning
          ? `${stream}: no alerts yet, ${ev.reason}`
          : `${stream}: baseline learnt (${pct(ev.baseline!.share)} of mentions negative normally); watching for bad buzz`,
      };
      this.logger?.info(
        { stream, kind: notice.kind },
        this.sinks.length
          ? `trends: ${stream} ${notice.kind === 'learning' ? 'is learning what is normal' : 'has its baseline, watching'} (told to ${this.sinks.map((x) => x.name).join(', ')})`
          : `trends: ${notice.message}`,
      );
      for (const sink of this.sinks) {
        try {
          await sink.streamNotice?.(notice);
        } catch (err) {
          this.logger?.warn({ err, sink: sink.name }, `trends: sink ${sink.name} failed to take a notice`);
        }
      }
    }
  }

  private async persist(stream: string, ctx: StreamContext): Promise<void> {
    const d = ctx.detector;
    const state = JSON.stringify(d.state);
    if (state !== ctx.savedState && d.state.phase === 'open' && ctx.alert?.state === 'open') {
      const data = ctx.alert.data as unknown as TrendAlertData;
      data.state = d.state;
      data.peak = peakData(d.state.peak);
      await this.store.saveAlert(ctx.alert);
    }
    ctx.savedState = state;
    // The journal before the boundary: a journal ahead of the checkpoint is cut back at the next start.
    if (d.journalVersion !== ctx.savedJournal) {
      await this.store.setCheckpoint(this.key('journal', stream), encodeJournal(d.journalEntries()));
      ctx.savedJournal = d.journalVersion;
    }
    if (d.lastEvaluatedAt !== undefined && d.lastEvaluatedAt !== ctx.savedEvaluatedAt) {
      await this.store.setCheckpoint(this.key('evaluated', stream), iso(d.lastEvaluatedAt));
      ctx.savedEvaluatedAt = d.lastEvaluatedAt;
    }
  }
}

/** The state machine's state of an open alert read back from the store (rebuilt if the record lacks it). */
function openState(a: AlertRecord): StreamState {
  const data = a.data as Partial<TrendAlertData>;
  const st = data.state;
  if (st && st.phase === 'open' && Number.isFinite(st.openedAt) && st.peak) return st;
  const peak = data.peak;
  return {
    phase: 'open',
    openedAt: Date.parse(a.openedAt),
    lastMessageAt: Date.parse(a.updatedAt),
    peak: {
      share: peak?.share ?? data.latest?.share ?? 0,
      at: peak?.at ? Date.parse(peak.at) : Date.parse(a.openedAt),
      total: peak?.total ?? 0,
      negative: peak?.negative ?? 0,
      baseline: peak?.baseline ?? data.opened?.baseline ?? NaN,
    },
    baselineAtOpen: data.opened?.baseline ?? NaN,
  };
}

/**
 * The journal as kept in the checkpoint table: `{"v":1,"entries":[{"at":ISO,"a":action?,"n":total,"k":negative,
 * "s":state?}]}`, `a` left out for 'none' and `s` (the state before the step) when it is the previous entry's.
 */
export function encodeJournal(entries: JournalEntry[]): string {
  let prev = '';
  return JSON.stringify({
    v: 1,
    entries: entries.map((e) => {
      const state = JSON.stringify(e.before);
      const out = {
        at: iso(e.at),
        ...(e.action !== 'none' ? { a: e.action } : {}),
        n: e.total,
        k: e.negative,
        ...(state !== prev ? { s: e.before } : {}),
      };
      prev = state;
      return out;
    }),
  });
}

/** The journal read back; [] when there is none. Throws on anything malformed. */
export function decodeJournal(raw: string | null): JournalEntry[] {
  if (!raw) return [];
  const doc = JSON.parse(raw) as { v?: unknown; entries?: unknown };
  if (doc?.v !== 1 || !Array.isArray(doc.entries)) throw new Error('expected {"v":1,"entries":[…]}');
  let before: StreamState | undefined;
  return doc.entries.map((x: Record<string, unknown>, i: number) => {
    const at = Date.parse(String(x.at));
    const action = (x.a ?? 'none') as JournalEntry['action'];
    if (x.s !== undefined) before = x.s as StreamState;
    const ok =
      Number.isFinite(at) &&
      ['none', 'open', 'update', 'resolve'].includes(action) &&
      Number.isInteger(x.n) &&
      Number.isInteger(x.k) &&
      (before?.phase === 'ok' || before?.phase === 'open');
    if (!ok) throw new Error(`entry ${i} is malformed`);
    return { at, before: before!, action, total: x.n as number, negative: x.k as number };
  });
}

export function figuresOf(ev: Evaluation): AlertFigures {
  return {
    at: iso(ev.at),
    windowMinutes: ev.windowMinutes,
    windowStart: iso(ev.windowStart),
    total: ev.total,
    negative: ev.negative,
    share: ev.share,
    baseline: ev.baseline?.share ?? NaN,
    baselineEffectiveN: Math.round(ev.baseline?.effectiveN ?? 0),
    z: ev.z,
    pValue: ev.pValue,
  };
}

function peakData(p: Peak): TrendAlertData['peak'] {
  return { share: p.share, at: iso(p.at), total: p.total, negative: p.negative, baseline: p.baseline };
}

function iso(t: number): string {
  return new Date(t).toISOString();
}
