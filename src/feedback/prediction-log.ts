/**
 * Keeps every prediction Sentinel hands out (so a later ✅/❌ or POST /feedback can point at it) without
 * putting a database write on the request path: predictions are queued and written in one transaction
 * every `flushMs`.
 *
 * An id handed out stays votable:
 * - `has(id)` is true from `keep` until the prediction is stored — while queued, while being written, and
 *   while a failed write waits for its retry — so a vote flushes first (src/feedback/feedback.ts) and is
 *   never told "unknown prediction" for an id Sentinel gave; if the store still refuses the write, the vote
 *   is refused as retryable (PredictionPendingError), and works once the store recovers.
 * - A failed write keeps the batch and retries it (1 s, doubling to 30 s). Nothing handed out is dropped:
 *   when `maxPending` predictions are waiting, `keep` refuses (PredictionLogFullError) instead of handing
 *   out ids it could not keep — the caller answers 503 rather than an id that would 404 later.
 * - A prediction the store refuses as invalid (StoreInputError) can never be written: it is logged and let
 *   go, so it does not block the others.
 *
 * Health: `health()` is not ok from a failed write until a write succeeds (and while the log is full), with
 * the reason and since when; `onHealthChange` is called at each change (for /ready and the ops notice).
 *
 * Privacy: `keep(..., { keepText: false })` stores the prediction without its text (id, label,
 * probabilities, model version, time): it stays votable and counts in the production accuracy, but gives no
 * training example. Texts that are kept are blanked by the retention job after RETENTION_PREDICTION_TEXT_DAYS.
 */
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import type { Prediction } from '../sentiment/types';
import { StoreInputError } from '../store/common';
import type { Store, StoredPrediction } from '../store/types';

export interface PredictionLogOptions {
  flushMs?: number;
  /** Most predictions waiting for the store (queued or being retried); beyond it `keep` refuses. */
  maxPending?: number;
  /** First retry after a failed write (ms), doubled at each failure up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
  logger?: Pick<Logger, 'warn' | 'error' | 'info'>;
  /** Called when the log turns unhealthy or healthy again. */
  onHealthChange?: (health: PredictionLogHealth) => void;
}

export interface KeepOptions {
  /** false: keep the prediction without its text (default true). */
  keepText?: boolean;
}

export interface PredictionLogHealth {
  ok: boolean;
  /** Why not, e.g. `storing predictions failed: SQLITE_FULL: database or disk is full`. */
  reason?: string;
  /** Since when (ISO). */
  since?: string;
  /** Predictions handed out and not yet stored. */
  pending: number;
}

/** The log cannot take more predictions: the store has been failing long enough to fill it. */
export class PredictionLogFullError extends Error {
  readonly code = 'prediction_log_full';
  constructor(
    readonly waiting: number,
    readonly reason: string,
  ) {
    super(`cannot keep more predictions: ${waiting} are waiting for the store (${reason})`);
    this.name = 'PredictionLogFullError';
  }
}

export class PredictionLog {
  /** Queued, not yet handed to a write. */
  private pending: StoredPrediction[] = [];
  /** Ids handed out and not yet stored: queued, being written, or waiting for a retry. */
  private readonly unsettled = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private failure: { reason: string; since: string } | null = null;
  private failures = 0;
  /** Predictions refused because the log was full (never handed out). */
  refused = 0;

  constructor(
    private readonly store: Store,
    private readonly opts: PredictionLogOptions = {},
  ) {}

  /**
   * Gives each prediction an id and queues it (with its text unless `keepText: false`); returns the ids
   * (what feedback points at). Throws PredictionLogFullError, handing out nothing, when the log is full.
   */
  keep(
    kind: StoredPrediction['kind'],
    texts: readonly string[],
    predictions: readonly Prediction[],
    options: KeepOptions = {},
  ): string[] {
    const createdAt = new Date().toISOString();
    const kept = predictions.map((p, i) => ({
      id: randomUUID(),
      kind,
      text: options.keepText === false ? '' : texts[i],
      label: p.label,
      probabilities: p.probabilities,
      modelVersion: p.modelVersion,
      createdAt,
    }));
    this.record(kept);
    return kept.map((k) => k.id);
  }

  /** Queues predictions that already have ids; throws PredictionLogFullError when the log is full. */
  record(predictions: StoredPrediction[]): void {
    const max = this.opts.maxPending ?? 100_000;
    if (this.unsettled.size + predictions.length > max) {
      this.refused += predictions.length;
      const reason = this.failure?.reason ?? 'the store is slower than the predictions';
      this.opts.logger?.error(
        { waiting: this.unsettled.size, refused: this.refused },
        'prediction log full: new predictions get no id until the store takes the waiting ones',
      );
      throw new PredictionLogFullError(this.unsettled.size, reason);
    }
    const wasOk = this.health().ok;
    for (const p of predictions) this.unsettled.add(p.id);
    this.pending.push(...predictions);
    this.notify(wasOk); // just filled up
    this.timer ??= setTimeout(() => void this.flush(), this.opts.flushMs ?? 50);
  }

  /**
   * Writes everything queued so far; resolves when it is stored or the write failed (logged, retried
   * later). Never rejects: `has(id)` says whether a prediction is stored yet.
   */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending.splice(0);
    this.writing = this.writing.then(() => this.write(batch));
    return this.writing;
  }

  /** True while the prediction was handed out but is not stored yet. */
  has(id: string): boolean {
    return this.unsettled.has(id);
  }

  health(): PredictionLogHealth {
    const pending = this.unsettled.size;
    const full = pending >= (this.opts.maxPending ?? 100_000);
    if (!this.failure && !full) return { ok: true, pending };
    const reason = [
      this.failure ? `storing predictions failed: ${this.failure.reason}` : undefined,
      full ? `prediction log full (${pending} waiting): /predict hands out no new ids` : undefined,
    ]
      .filter(Boolean)
      .join('; ');
    return { ok: false, reason, ...(this.failure ? { since: this.failure.since } : {}), pending };
  }

  private async write(batch: StoredPrediction[]): Promise<void> {
    if (batch.length === 0) return;
    try {
      await this.store.savePredictions(batch);
      this.stored(batch);
    } catch (err) {
      if (err instanceof StoreInputError) return this.writeOneByOne(batch);
      this.failed(err, batch);
    }
  }

  /** A batch with a prediction the store refuses: the others are written, the bad ones let go. */
  private async writeOneByOne(batch: StoredPrediction[]): Promise<void> {
    for (let i = 0; i < batch.length; i++) {
      try {
        await this.store.savePredictions([batch[i]]);
        this.stored([batch[i]]);
      } catch (err) {
        if (!(err instanceof StoreInputError)) return this.failed(err, batch.slice(i));
        this.unsettled.delete(batch[i].id);
        this.opts.logger?.error({ err, id: batch[i].id }, 'prediction refused by the store; not kept');
      }
    }
  }

  private stored(batch: StoredPrediction[]): void {
    const wasOk = this.health().ok;
    for (const p of batch) this.unsettled.delete(p.id);
    this.failures = 0;
    if (this.failure) {
      this.opts.logger?.info(
        { since: this.failure.since, waiting: this.unsettled.size },
        'storing predictions works again',
      );
      this.failure = null;
    }
    this.notify(wasOk);
  }

  private notify(wasOk: boolean): void {
    const now = this.health();
    if (now.ok !== wasOk) this.opts.onHealthChange?.(now);
  }

  private failed(err: unknown, batch: StoredPrediction[]): void {
    const wasOk = this.health().ok;
    this.pending.unshift(...batch);
    this.failures++;
    const delay = Math.min(
      this.opts.maxRetryMs ?? 30_000,
      (this.opts.retryMs ?? 1000) * 2 ** Math.min(this.failures - 1, 20),
    );
    const reason = describe(err);
    const first = !this.failure;
    if (first) this.failure = { reason, since: new Date().toISOString() };
    (first ? this.opts.logger?.error : this.opts.logger?.warn)?.call(
      this.opts.logger,
      { err, waiting: this.unsettled.size, retryInMs: delay },
      'storing predictions failed; their ids stay votable and the write is retried',
    );
    this.notify(wasOk);
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), delay);
      this.timer.unref(); // a store that stays down must not keep a stopping process alive
    }
  }
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' && e.message ? e.message : String(err);
  return typeof e?.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}
