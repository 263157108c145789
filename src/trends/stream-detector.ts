/**
 * One stream's detector in memory: its bucket counts, its alert state, the boundaries it has evaluated.
 * Synchronous and free of I/O (the monitor persists what it decides), driven only by the mentions' own
 * time: each mention whose time reaches a bucket boundary first closes the windows ending there.
 */
import { BucketSeries, bucketStart } from './buckets';
import { evaluate, type Evaluation } from './detector';
import { HOUR, MINUTE, checkTrendSettings, type TrendSettings } from './settings';
import { step, type StepAction, type StreamState } from './state-machine';

/** A mention as the detector sees it. */
export interface Observation {
  time: number;
  negative: boolean;
}

/** An alert of this stream, past or open (epoch ms). */
export interface AlertPeriod {
  openedAt: number;
  resolvedAt?: number;
  /** The window that opened it: the rise began up to this long before the opening. */
  windowMinutes: number;
}

export interface DetectorEvent {
  action: Exclude<StepAction, 'none'>;
  evaluation: Evaluation;
  /** The state before and after the step. */
  before: StreamState;
  after: StreamState;
}

export interface StreamDetectorInit {
  state?: StreamState;
  /** The last boundary evaluated before a restart: later boundaries are evaluated, earlier ones not again. */
  lastEvaluatedAt?: number;
  alertPeriods?: AlertPeriod[];
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
  }

  /** Adds history (e.g. read back from the store after a restart) without evaluating anything. */
  load(history: Iterable<Observation>): void {
    for (const o of history) this.series.add(o.time, o.negative);
  }

  /**
   * Adds new mentions (any order; they are sorted) and evaluates every bucket boundary they pass.
   * `snoozedUntil` (epoch ms) holds back openings and updates before that time.
   */
  ingest(observations: Observation[], snoozedUntil?: number): DetectorEvent[] {
    const events: DetectorEvent[] = [];
    const sorted = [...observations].sort((a, b) => a.time - b.time);
    for (const o of sorted) {
      let next =
        this.lastEvaluatedAt !== undefined
          ? this.lastEvaluatedAt + this.bucketMs
          : bucketStart(o.time, this.bucketMs) + this.bucketMs;
      while (o.time >= next) {
        this.evaluateAt(next, snoozedUntil, events);
        next += this.bucketMs;
      }
      if (this.lastEvaluatedAt === undefined) this.lastEvaluatedAt = next - this.bucketMs;
      this.series.add(o.time, o.negative);
    }
    this.series.prune(this.horizon());
    return events;
  }

  /** Evaluates the boundaries up to `time` with no new mention (e.g. the end of a replay). */
  advanceTo(time: number, snoozedUntil?: number): DetectorEvent[] {
    const events: DetectorEvent[] = [];
    if (this.lastEvaluatedAt === undefined) return events;
    for (let next = this.lastEvaluatedAt + this.bucketMs; next <= time; next += this.bucketMs)
      this.evaluateAt(next, snoozedUntil, events);
    return events;
  }

  /** What the detector would say about the window ending at `at`, without changing anything. */
  peek(at: number): Evaluation {
    return evaluate(this.series, at, this.settings, this.exclusions());
  }

  /** Periods left out of the baseline: each alert from the start of the window that opened it. */
  exclusions(): Array<{ from: number; to: number }> {
    return this.alertPeriods.map((p) => ({
      from: p.openedAt - p.windowMinutes * MINUTE,
      to: p.resolvedAt ?? Infinity,
    }));
  }

  /** The changes between "too little history" and "judging" since the last call (`first`: the first evaluation). */
  takeHistoryChanges(): Array<{ learning: boolean; evaluation: Evaluation; first: boolean }> {
    const out = this.historyChanges;
    this.historyChanges = [];
    return out;
  }

  private evaluateAt(at: number, snoozedUntil: number | undefined, events: DetectorEvent[]): void {
    const ev = evaluate(this.series, at, this.settings, this.exclusions());
    this.lastEvaluation = ev;
    const learning = ev.status === 'insufficient_history';
    if (learning !== this.learning) {
      this.historyChanges.push({ learning, evaluation: ev, first: this.learning === undefined });
      this.learning = learning;
    }
    this.lastEvaluatedAt = at;
    const before = this.state;
    const { state, action } = step(before, ev, this.settings, snoozedUntil);
    this.state = state;
    if (action === 'open') this.alertPeriods.push({ openedAt: at, windowMinutes: ev.windowMinutes });
    if (action === 'resolve') {
      const open = this.alertPeriods.find((p) => p.resolvedAt === undefined);
      if (open) open.resolvedAt = at;
    }
    if (action !== 'none') events.push({ action, evaluation: ev, before, after: state });
  }

  /** Buckets before this are no longer needed by any window or baseline. */
  private horizon(): number {
    const at = this.lastEvaluatedAt ?? 0;
    const longest = Math.max(this.settings.windowMinutes, this.settings.longWindowMinutes);
    return at - longest * MINUTE - this.settings.baselineLookbackHours * HOUR;
  }
}
