/**
 * Small tools to apply things once and in order, shared by the chat adapters.
 *
 * - `SeenIds`: ids already handled (Events API `event_id`, an interaction's `trigger_id`), kept for a
 *   while: Slack retries an event up to 3 times over about an hour and a half (X-Slack-Retry-Num) when it
 *   did not get our 200 in time, and Bolt runs the listeners again each time.
 * - `ClaimedIds`: the same across replicas and restarts. The Store decides (`Store.claim`, with a TTL): a
 *   retry that lands on another replica, or on this one after a restart, is applied once. A local SeenIds
 *   answers the repeats this process has seen without a round trip.
 * - `Serial`: runs tasks with the same key one after the other (two reactions of one user on one message,
 *   a button clicked while an alert is being updated), different keys concurrently.
 * - `InFlight`: promises still running (a /sentiment answer being posted and linked), so that a reaction
 *   arriving before its message is linked waits for the link instead of being ignored.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Store } from '../store/types';

export class SeenIds {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly ttlMs = 2 * 60 * 60_000,
    private readonly max = 50_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** True the first time `id` is offered (within the TTL), false after. */
  first(id: string): boolean {
    const t = this.now();
    const at = this.seen.get(id);
    if (at !== undefined && t - at < this.ttlMs) return false;
    this.seen.delete(id);
    this.seen.set(id, t);
    if (this.seen.size > this.max) {
      // Oldest first (a Map keeps insertion order).
      for (const [k, v] of this.seen) {
        if (this.seen.size <= this.max && t - v < this.ttlMs) break;
        this.seen.delete(k);
      }
    }
    return true;
  }
}

/** Slack retries over about 1.5 h, the Bot Framework within a minute: two hours covers both. */
export const CLAIM_TTL_MS = 2 * 60 * 60_000;

export class ClaimedIds {
  private readonly local: SeenIds;
  private readonly ttlMs: number;

  constructor(
    /** Undefined: this process only (tests of one adapter without a store). */
    private readonly store: Pick<Store, 'claim'> | undefined,
    private readonly opts: { ttlMs?: number; logger?: Pick<Logger, 'warn'>; now?: () => number } = {},
  ) {
    this.ttlMs = opts.ttlMs ?? CLAIM_TTL_MS;
    this.local = new SeenIds(this.ttlMs, 50_000, opts.now);
  }

  /**
   * True the first time `id` is offered anywhere (within the TTL), false after. When the store cannot be
   * asked, the delivery is applied and a warning says so: a vote or an answer applied twice (votes are
   * idempotent) is better than one lost.
   */
  async first(id: string): Promise<boolean> {
    if (!this.local.first(id)) return false;
    if (!this.store) return true;
    // Keys stay short (a Teams conversation id can be long): a long one is kept as a prefix and a hash.
    const key = id.length <= 200 ? id : `${id.slice(0, 120)}#${createHash('sha256').update(id).digest('hex')}`;
    try {
      return await this.store.claim(key, this.ttlMs);
    } catch (err) {
      this.opts.logger?.warn(
        { err, id },
        `could not check whether ${id} was already handled (store: ${(err as Error).message}); handling it`,
      );
      return true;
    }
  }
}

export class Serial {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const run = (this.tails.get(key) ?? Promise.resolve()).then(task);
    const tail = run.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return run;
  }

  /** Resolves once every task queued so far has finished. */
  async idle(): Promise<void> {
    while (this.tails.size) await Promise.all([...this.tails.values()]);
  }
}

export class InFlight {
  private readonly running = new Set<Promise<unknown>>();

  track<T>(p: Promise<T>): Promise<T> {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.running.add(settled);
    void settled.then(() => this.running.delete(settled));
    return p;
  }

  /** Waits for everything tracked so far. */
  async settled(): Promise<void> {
    await Promise.all([...this.running]);
  }
}
