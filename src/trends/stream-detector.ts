/**
 * One stream's detector in memory: its bucket counts, its alert state, the boundaries it has evaluated.
 * Synchronous and free of I/O (the monitor persists what it decides), driven only by the mentions' own
 * time: each mention whose time reaches a bucket boundary first closes the windows ending there.
 *
 * Late mentions. A mention older than the last boundary judged (the rest of a poll that hit X's page cap,
 * a slow source, the gap a replica takeover reads) is counted into its bucket and every boundary from the
 * end of that bucket on is judged again, so the alert opens, updates and resolves at the data time it
 * would have with no lag. For that the detector keeps a journal of the boundaries judged in the last
 * `REJUDGE_HOURS` (the state before each step, what the step did, the counts of the bucket ending there),
 * which the monitor persists beside the alert state; a bucket whose counts no longer match the journal
 * (late mentions, or mentions stored by a process that died before judging them) is re-judged, at once or
 * after a restart. What was said stays said: a re-judgement may open, update or resolve at an earlier
 * data time only after the last step already taken (an opening, an update, a resolution); before it, it
 * may only move an alert's opening earlier (`redate`), never open it twice nor post an opening after a
 * later step. Mentions older than the journal are counted (the baseline) but not re-judged.
 */
import { BucketSeries, bucketStart } from './buckets';
import { evaluate, type Evaluation } from './detector';
import { HOUR, MINUTE, checkTrendSettings, longestWindowMinutes, type TrendSettings } from './settings';
import { step, type StepAction, type StreamState } from './state-machine';

/** A mention as the detector sees it. */
export interface Observation {
  time: number;
  /** The model labelled it negative. */
  negative: boolean;
  /** Its contribution to the estimated negatives (./prevalence); default 1 if negative, else 0. */
  estimate?: number;
}

/** An alert of this stream, past or open (epoch ms). */
export interface AlertPeriod {
  openedAt: number;
  resolvedAt?: number;
  /** The window that opened it: the rise began up to this long before the opening. */
  windowMinutes: number;
}

/** Re-judging looks back this far (hours of data time before the last boundary judged). */
export const REJUDGE_HOURS = 24;

/** One boundary judged: what the late-data re-judgement starts from. */
export interface JournalEntry {
  at: number;
  /** The state machine's state before this boundary's step. */
  before: StreamState;
  /** What the step did (anything but 'none' was said to the team and stays said). */
  action: StepAction;
  /** The counts of the bucket ending at `at`, as judged. */
  total: number;
  negative: number;
}

/**
 * `redate`: late mentions show that an alert (open, or resolved already) began earlier than the boundary
 * it was opened at; its opening moves from `redate.from` to `redate.to` (no message: the opening was said
 * already). `evaluation` is the window that would have opened it.
 */
export interface DetectorEvent {
  action: Exclude<StepAction, 'none'> | 'redate';
  evaluation: Evaluation;
  /** The state before and after the step. */
  before: StreamState;
  after: StreamState;
  /** For `redate`: the alert opened (and said) at `from` began at `to` (epoch ms). */
  redate?: { from: number; to: number };
}

export interface StreamDetectorInit {
  state?: StreamState;
  /** The last boundary evaluated before a restart: later boundaries are evaluated, earlier ones not again. */
  lastEvaluatedAt?: number;
  alertPeriods?: AlertPeriod[];
  /** The journal of the boundaries judged before a restart (as the monitor keeps it: encodeJournal). */
  journal?: JournalEntry[];
}

/** What the last re-judgement did, for the monitor's log. */
export interface Rejudgement {
  /** The first and last boundaries judged again. */
  from: number;
  to: number;
  boundaries: number;
  /** Late mentions in this batch (0 when a mismatch with the journal was found after a restart). */
  late: number;
  /** Late mentions older than the journal: counted, not re-judged. */
  beyond: number;
  /** The last step already taken that the re-judgement kept, if any. */
  kept?: { at: number; action: StepAction };
}

export class StreamDetector {
  readonly series: BucketSeries;
  state: StreamState;
  lastEvaluation?: Evaluation;
  /** The last boundary evaluated, epoch ms. */
  lastEvaluatedAt?: number;
  readonly alertPeriods: AlertPeriod[];
  /** Whether the last evaluation lacked history (undefined before the first one). */
  learning?: boolean;
  /** Each time the stream started or stopped lacking history, until drained by `takeHistoryChanges`. */
  private historyChanges: Array<{ learning: boolean; evaluation: Evaluation; first: boolean }> = [];
  private readonly bucketMs: number;
  /** The boundaries judged in the last REJUDGE_HOURS, oldest first. */
  private journal: JournalEntry[];
  /** Bumped at each change of the journal (the monitor persists it when it moved). */
  journalVersion = 0;
  /** The last re-judgement, until drained by `takeRejudgement`. */
  private rejudged?: Rejudgement;

  constructor(
    readonly stream: string,
    readonly settings: TrendSettings,
    init: StreamDetectorInit = {},
  ) {
    checkTrendSettings(settings);
    this.bucketMs = settings.bucketMinutes * MINUTE;
    this.series = new BucketSeries(this.bucketMs);
    this.state = init.state ?? { phase: 'ok' };
    this.lastEvaluatedAt = init.lastEvaluatedAt;
    this.alertPeriods = [...(init.alertPeriods ?? [])];
    const last = init.lastEvaluatedAt;
    // Entries past the last boundary saved (a crash between the two writes) are judged again anyway.
    this.journal = last === undefined ? [] : (init.journal ?? []).filter((e) => e.at <= last);
  }

  /** Adds history (e.g. read back from the store after a restart) without evaluating anything. */
  load(history: Iterable<Observation>): void {
    for (const o of history) this.series.add(o.time, o.negative, o.estimate);
  }

  /**
   * Adds new mentions (any order; they are sorted) and evaluates every bucket boundary they pass. Mentions
   * older than the last boundary judged are counted and the boundaries since their bucket judged again.
   * `snoozedUntil` (epoch ms) holds back openings and updates before that time.
   */
  ingest(observations: Observation[], snoozedUntil?: number): DetectorEvent[] {
    const events: DetectorEvent[] = [];
    const sorted = [...observations].sort((a, b) => a.time - b.time);
    const judged = this.lastEvaluatedAt;
    const late = judged === undefined ? 0 : sorted.findIndex((o) => o.time >= judged);
    const lateCount = late < 0 ? sorted.length : late;
    if (lateCount > 0) {
      for (const o of sorted.slice(0, lateCount)) this.series.add(o.time, o.negative, o.estimate);
      const oldest = this.journal[0]?.at ?? Infinity;
      const beyond = sorted.slice(0, lateCount).filter((o) => o.time < oldest - this.bucketMs).length;
      events.push(...this.rejudge(snoozedUntil, { late: lateCount, beyond }));
    }
    for (const o of sorted.slice(lateCount)) {
      let next =
        this.lastEvaluatedAt !== undefined
          ? this.lastEvaluatedAt + this.bucketMs
          : bucketStart(o.time, this.bucketMs) + this.bucketMs;
      while (o.time >= next) {
        this.evaluateAt(next, snoozedUntil, events);
        next += this.bucketMs;
      }
      if (this.lastEvaluatedAt === undefined) this.lastEvaluatedAt = next - this.bucketMs;
      this.series.add(o.time, o.negative, o.estimate);
    }
    this.series.prune(this.horizon());
    this.trimJournal();
    return events;
  }

  /**
   * Judges again every boundary from the first journal entry whose bucket's counts no longer match the
   * series (mentions counted since it was judged) to the last boundary judged; nothing when all match.
   * The monitor calls it after loading the history back (a restart, a replica taking over); `ingest` calls
   * it for late mentions.
   */
  rejudge(snoozedUntil?: number, why: { late: number; beyond: number } = { late: 0, beyond: 0 }): DetectorEvent[] {
    const first = this.journal.findIndex((e) => {
      const c = this.series.sum(e.at - this.bucketMs, e.at);
      return c.total !== e.total || c.negative !== e.negative;
    });
    if (first < 0) {
      if (why.beyond > 0) this.rejudged = { from: NaN, to: NaN, boundaries: 0, ...why };
      return [];
    }
    const old = this.journal.slice(first);
    const from = old[0].at;
    const events: DetectorEvent[] = [];
    const wasLearning = this.learning;

    // 1. The boundaries judged again from the state before the first one, as if nothing had been said.
    const rolledBack = rollBack(this.alertPeriods, from);
    let state = old[0].before;
    const redo: Array<JournalEntry & { evaluation: Evaluation; after: StreamState }> = [];
    for (const e of old) {
      const r = this.judge(e.at, state, rolledBack, snoozedUntil);
      redo.push({ ...r.entry, evaluation: r.evaluation, after: r.state });
      state = r.state;
    }

    // 2. What was said stays said: after the last step already taken, the redo stands; before it, only
    //    the opening of the alert still open may move earlier.
    const c = old.findLastIndex((e) => e.action !== 'none');
    let kept: Rejudgement['kept'];
    let lastEvaluation: Evaluation | undefined;
    if (c < 0) {
      lastEvaluation = redo[redo.length - 1].evaluation;
      this.alertPeriods.splice(0, this.alertPeriods.length, ...rolledBack);
      this.journal.splice(first, old.length, ...redo.map(entryOf));
      for (const r of redo)
        if (r.action !== 'none')
          events.push({ action: r.action, evaluation: r.evaluation, before: r.before, after: r.after });
      this.state = state;
    } else {
      kept = { at: old[c].at, action: old[c].action };
      // The entries up to the step taken keep their states and actions, with today's counts.
      for (let i = 0; i <= c; i++)
        this.journal[first + i] = { ...old[i], total: redo[i].total, negative: redo[i].negative };
      let said = c + 1 < old.length ? old[c + 1].before : this.state;
      // The last opening said in the range: if the redo opens the same episode earlier (open without a
      // break from then on, after any resolution said before it), that alert's opening moves back.
      const o = old.slice(0, c + 1).findLastIndex((e) => e.action === 'open');
      const resolvedBefore =
        o < 0 ? -Infinity : (old.slice(0, o).findLast((e) => e.action === 'resolve')?.at ?? -Infinity);
      // That alert's period (its opening may have moved back already).
      const period =
        o < 0
          ? undefined
          : this.alertPeriods.find((p) => p.openedAt <= old[o].at && (p.resolvedAt ?? Infinity) > old[o].at);
      const current = period?.openedAt ?? (o < 0 ? NaN : old[o].at);
      const episode = o < 0 ? undefined : redo[o].after;
      const opening =
        episode?.phase === 'open' && episode.openedAt < current && episode.openedAt > resolvedBefore
          ? redo.find((r) => r.action === 'open' && r.at === episode.openedAt)
          : undefined;
      if (opening) {
        const before = said;
        if (said.phase === 'open' && said.openedAt === current) {
          const unsaid = redo[c].after;
          said = {
            ...(unsaid.phase === 'open' && unsaid.openedAt === opening.at ? unsaid : { ...said, openedAt: opening.at }),
            lastMessageAt: said.lastMessageAt,
            ...(said.lastMessageShare !== undefined ? { lastMessageShare: said.lastMessageShare } : {}),
            ...(said.lastMessagePeak !== undefined ? { lastMessagePeak: said.lastMessagePeak } : {}),
          };
        }
        if (period) {
          period.openedAt = opening.at;
          period.windowMinutes = opening.evaluation.windowMinutes;
        }
        events.push({
          action: 'redate',
          evaluation: opening.evaluation,
          before,
          after: said,
          redate: { from: current, to: opening.at },
        });
      }
      state = said;
      for (let i = c + 1; i < old.length; i++) {
        const r = this.judge(old[i].at, state, this.alertPeriods, snoozedUntil);
        this.journal[first + i] = r.entry;
        lastEvaluation = r.evaluation;
        if (r.entry.action !== 'none')
          events.push({ action: r.entry.action, evaluation: r.evaluation, before: state, after: r.state });
        state = r.state;
      }
      this.state = state;
    }
    const last = lastEvaluation ?? this.peek(old[old.length - 1].at);
    this.lastEvaluation = last;
    const learning = last.status === 'insufficient_history';
    if (learning !== wasLearning) {
      this.historyChanges.push({ learning, evaluation: last, first: wasLearning === undefined });
      this.learning = learning;
    }
    this.journalVersion++;
    this.rejudged = { from, to: old[old.length - 1].at, boundaries: old.length, ...why, ...(kept ? { kept } : {}) };
    return events;
  }

  /** The last re-judgement since the last call (for the monitor's log). */
  takeRejudgement(): Rejudgement | undefined {
    const r = this.rejudged;
    this.rejudged = undefined;
    return r;
  }

  /** The journal, oldest first (a copy). */
  journalEntries(): JournalEntry[] {
    return this.journal.map((e) => ({ ...e }));
  }

  /** Evaluates the boundaries up to `time` with no new mention (e.g. the end of a replay). */
  advanceTo(time: number, snoozedUntil?: number): DetectorEvent[] {
    const events: DetectorEvent[] = [];
    if (this.lastEvaluatedAt === undefined) return events;
    for (let next = this.lastEvaluatedAt + this.bucketMs; next <= time; next += this.bucketMs)
      this.evaluateAt(next, snoozedUntil, events);
    this.trimJournal();
    return events;
  }

  /** What the detector would say about the window ending at `at`, without changing anything. */
  peek(at: number): Evaluation {
    return evaluate(this.series, at, this.settings, this.exclusions());
  }

  /** Periods left out of the baseline: each alert from the start of the window that opened it. */
  exclusions(): Array<{ from: number; to: number }> {
    return exclusionsOf(this.alertPeriods);
  }

  /** The changes between "too little history" and "judging" since the last call (`first`: the first evaluation). */
  takeHistoryChanges(): Array<{ learning: boolean; evaluation: Evaluation; first: boolean }> {
    const out = this.historyChanges;
    this.historyChanges = [];
    return out;
  }

  private evaluateAt(at: number, snoozedUntil: number | undefined, events: DetectorEvent[]): void {
    const before = this.state;
    const { evaluation: ev, state, entry } = this.judge(at, before, this.alertPeriods, snoozedUntil);
    this.lastEvaluation = ev;
    const learning = ev.status === 'insufficient_history';
    if (learning !== this.learning) {
      this.historyChanges.push({ learning, evaluation: ev, first: this.learning === undefined });
      this.learning = learning;
    }
    this.lastEvaluatedAt = at;
    this.state = state;
    this.journal.push(entry);
    this.journalVersion++;
    if (entry.action !== 'none') events.push({ action: entry.action, evaluation: ev, before, after: state });
  }

  /** One boundary: the evaluation and the step from `before`; `periods` follows the step (open, resolve). */
  private judge(
    at: number,
    before: StreamState,
    periods: AlertPeriod[],
    snoozedUntil: number | undefined,
  ): { evaluation: Evaluation; state: StreamState; entry: JournalEntry } {
    const evaluation = evaluate(this.series, at, this.settings, exclusionsOf(periods));
    const { state, action } = step(before, evaluation, this.settings, snoozedUntil);
    if (action === 'open') periods.push({ openedAt: at, windowMinutes: evaluation.windowMinutes });
    if (action === 'resolve') {
      const open = periods.find((p) => p.resolvedAt === undefined);
      if (open) open.resolvedAt = at;
    }
    const bucket = this.series.sum(at - this.bucketMs, at);
    return { evaluation, state, entry: { at, before, action, total: bucket.total, negative: bucket.negative } };
  }

  private trimJournal(): void {
    const keepFrom = (this.lastEvaluatedAt ?? 0) - REJUDGE_HOURS * HOUR;
    const drop = this.journal.findIndex((e) => e.at > keepFrom);
    if (drop > 0) this.journal.splice(0, drop);
    else if (drop < 0 && this.journal.length) this.journal.length = 0;
  }

  /** Buckets before this are no longer needed by any window or baseline, re-judged ones included. */
  private horizon(): number {
    const at = this.lastEvaluatedAt ?? 0;
    return (
      at -
      REJUDGE_HOURS * HOUR -
      longestWindowMinutes(this.settings) * MINUTE -
      this.settings.baselineLookbackHours * HOUR
    );
  }
}

function exclusionsOf(periods: readonly AlertPeriod[]): Array<{ from: number; to: number }> {
  return periods.map((p) => ({ from: p.openedAt - p.windowMinutes * MINUTE, to: p.resolvedAt ?? Infinity }));
}

/** The alert periods as they were before boundary `at`: later openings gone, later resolutions undone. */
function rollBack(periods: readonly AlertPeriod[], at: number): AlertPeriod[] {
  return periods
    .filter((p) => p.openedAt < at)
    .map((p) => {
      const { resolvedAt, ...rest } = p;
      return resolvedAt !== undefined && resolvedAt < at ? { ...rest, resolvedAt } : rest;
    });
}

function entryOf(r: JournalEntry): JournalEntry {
  return { at: r.at, before: r.before, action: r.action, total: r.total, negative: r.negative };
}
