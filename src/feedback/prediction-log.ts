/**
 * Keeps every prediction Sentinel hands out (so a later ✅/❌ or POST /feedback can point at it) without
 * putting a database write on the request path: predictions are queued and written in one transaction
 * every `flushMs`. A vote on a prediction still in the queue flushes it first, so nothing is "unknown"
 * for the short time it waits. A failed write keeps the batch for the next flush (bounded) and is logged.
 */
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import type { Prediction } from '../sentiment/types';
import type { Store, StoredPrediction } from '../store/types';

export interface PredictionLogOptions {
  flushMs?: number;
  /** Most predictions held while the store is failing; the oldest are dropped (and counted) beyond it. */
  maxPending?: number;
  logger?: Pick<Logger, 'warn' | 'error'>;
}

export class PredictionLog {
  private pending: StoredPrediction[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  dropped = 0;

  constructor(
    private readonly store: Store,
    private readonly opts: PredictionLogOptions = {},
  ) {}

  /** Gives each prediction an id and queues it with its text; returns the ids (what feedback points at). */
  keep(kind: StoredPrediction['kind'], texts: readonly string[], predictions: readonly Prediction[]): string[] {
    const createdAt = new Date().toISOString();
    const kept = predictions.map((p, i) => ({
      id: randomUUID(),
      kind,
      text: texts[i],
      label: p.label,
      probabilities: p.probabilities,
      modelVersion: p.modelVersion,
      createdAt,
    }));
    this.record(kept);
    return kept.map((k) => k.id);
  }

  record(predictions: StoredPrediction[]): void {
    this.pending.push(...predictions);
    const max = this.opts.maxPending ?? 100_000;
    if (this.pending.length > max) {
      const excess = this.pending.length - max;
      this.pending.splice(0, excess);
      this.dropped += excess;
      this.opts.logger?.error(
        { dropped: excess, total: this.dropped },
        'prediction log full: oldest predictions dropped',
      );
    }
    this.timer ??= setTimeout(() => void this.flush(), this.opts.flushMs ?? 50);
  }

  /** Writes everything queued so far; resolves when it is stored (or the write failed and was logged). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending.splice(0);
    this.writing = this.writing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.store.savePredictions(batch);
      } catch (err) {
        this.opts.logger?.warn({ err, count: batch.length }, 'storing predictions failed; retrying at the next flush');
        this.pending.unshift(...batch);
        this.timer ??= setTimeout(() => void this.flush(), 1000);
      }
    });
    return this.writing;
  }

  has(id: string): boolean {
    return this.pending.some((p) => p.id === id);
  }
}
