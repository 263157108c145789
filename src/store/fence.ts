/**
 * Fencing (issue 12): the leader's writes carry the fencing token of its lease (src/ops/leadership.ts), and the
 * store takes them only while that token is still the lease's, checked in the same transaction as the write.
 * A leader that was paused (SIGSTOP, a long GC) or cut off from the database, and whose lease another replica
 * has taken meanwhile, cannot write an alert, an outbox step or a checkpoint afterwards: the write throws a
 * `FencedOutError` and nothing of it lands.
 *
 * - `store.fenced(fence)` is a view of the store whose writes are fenced (PostgreSQL: each one in a
 *   transaction that first runs `SELECT 1 FROM leases WHERE name = $1 AND token = $2 AND expires_at >
 *   clock_timestamp() FOR SHARE`; the share lock holds a takeover back until the write has committed). Reads
 *   are not fenced. Every method that is not a known read is taken for a write, so a write method added
 *   later is fenced without anyone remembering to. `close()` on a view closes nothing (the store is shared).
 * - SQLite is one process (the server refuses a second one on the same file: src/store/sqlite-lock.ts), so
 *   there is no lease to lose: its `fenced()` is the store itself.
 * - `leaderScoped(store)` is for code that writes through a store it was given once, for every replica and
 *   every purpose (the chat adapters' JSON state): its writes are fenced only while they run inside
 *   `runFenced(fence, fn)` (an AsyncLocalStorage scope the leader's work runs in), and plain otherwise (a
 *   user's click on any replica).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Store } from './types';

/** A lease's name and the fencing token of the term that writes. */
export interface Fence {
  name: string;
  token: number;
  /**
   * PostgreSQL: the longest a fenced transaction may sit idle (ms) before the server ends it — a process
   * paused in the middle of one would otherwise hold the lease row and keep any other replica from taking it
   * over. Default 5000.
   */
  maxIdleMs?: number;
}

/** A write refused because the fence's token is no longer the lease's (or the lease has expired). */
export class FencedOutError extends Error {
  constructor(
    readonly fence: Fence,
    readonly method: string,
  ) {
    super(
      `fenced out: ${method} refused, the lease "${fence.name}" is no longer held with token ${fence.token} ` +
        '(another replica leads now, or the lease expired)',
    );
    this.name = 'FencedOutError';
  }
}

/** Methods that only read: a fenced view passes them through unchecked. Everything else is fenced. */
export const READ_METHODS: ReadonlySet<string> = new Set([
  'countMentions',
  'mentionsBetween',
  'getCheckpoint',
  'getPrediction',
  'accuracyByModel',
  'feedbackExamples',
  'judgments',
  'countVotesSince',
  'shadowPairs',
  'alertVotes',
  'openAlert',
  'listAlerts',
  'findLink',
  'voterKey',
  'mentionIdsByAuthor',
]);

export function checkFence(fence: Fence): Fence {
  if (
    typeof fence !== 'object' ||
    fence === null ||
    typeof fence.name !== 'string' ||
    fence.name === '' ||
    !Number.isSafeInteger(fence.token)
  ) {
    throw new TypeError('a fence is { name: non-empty string, token: integer }');
  }
  return fence;
}

/**
 * A view of `store` whose writes go through `write(method, args)` (which checks the fence, runs the write and
 * throws FencedOutError when refused); reads go straight to the store.
 */
export function fencedView(
  store: Store,
  fence: Fence,
  write: (method: string, args: unknown[]) => Promise<unknown>,
): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'close') return async () => undefined; // the view owns nothing
      if (prop === 'fenced') return (f: Fence) => target.fenced(f);
      if (prop === 'fence') return fence;
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop !== 'string' || typeof value !== 'function') return value;
      if (READ_METHODS.has(prop) || prop === 'migrate') return (value as (...a: unknown[]) => unknown).bind(target);
      return (...args: unknown[]) => write(prop, args);
    },
  });
}

/** `store` with `hook` called on each FencedOutError one of its methods rejects with (the error still rejects). */
export function observeFencedOut<S extends Store>(store: S, hook: (err: FencedOutError) => void): S {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop !== 'string' || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.catch((err: unknown) => {
          if (err instanceof FencedOutError) hook(err);
          throw err;
        });
      };
    },
  });
}

// ---------------------------------------------------------------------------------------------------
// Fencing by scope, for writers that hold one store for every purpose

const scope = new AsyncLocalStorage<{ fence: Fence; onFencedOut?: (err: FencedOutError) => void }>();

/** Runs `fn` with every write of a `leaderScoped` store inside it (and in what it starts) fenced by `fence`. */
export function runFenced<T>(fence: Fence, fn: () => T, onFencedOut?: (err: FencedOutError) => void): T {
  return scope.run({ fence, onFencedOut }, fn);
}

/** The fence of the scope the caller runs in, if any. */
export function currentFence(): Fence | undefined {
  return scope.getStore()?.fence;
}

/**
 * `store`, except that a write made inside `runFenced(fence, …)` goes through `store.fenced(fence)`. Reads,
 * and writes outside any such scope, go straight to `store`.
 */
export function leaderScoped<S extends Store>(store: S): S {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop !== 'string' || typeof value !== 'function') return value;
      if (READ_METHODS.has(prop) || prop === 'close' || prop === 'migrate' || prop === 'fenced' || prop === 'health')
        return (value as (...a: unknown[]) => unknown).bind(target);
      return (...args: unknown[]) => {
        const s = scope.getStore();
        if (!s) return (value as (...a: unknown[]) => unknown).apply(target, args);
        const view = target.fenced(s.fence) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
        return view[prop](...args).catch((err: unknown) => {
          if (err instanceof FencedOutError) s.onFencedOut?.(err);
          throw err;
        });
      };
    },
  });
}
