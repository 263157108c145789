/**
 * Whether the store is taking writes: a Store wrapped by `watchStoreHealth` notes every call's outcome, so a
 * full disk or a lost database shows in /ready (503 with the reason) and in an ops notice, instead of only in
 * a log line while the API answers 200.
 *
 * - A failed write makes it unhealthy until a write succeeds; a failed read makes it unhealthy until a read
 *   succeeds (a disk that is full still reads: a read must not hide a failing write).
 * - Input the store refuses (StoreInputError: a caller's mistake) and a write refused by fencing
 *   (FencedOutError: this replica no longer leads) say nothing of its health. A fenced view (`fenced()`)
 *   shares the health of the store it is a view of.
 * - `onChange` is called on each change between healthy and unhealthy (not at every failure).
 *
 *   const store = watchStoreHealth(await openStore(...), { onChange: (h) => h.ok || opsNotice(h.reason) });
 *   store.health(); // { ok: false, reason: 'savePredictions: SQLITE_FULL: database or disk is full', since: '…' }
 */
import { StoreInputError } from './common';
import { FencedOutError, type Fence } from './fence';
import type { Store } from './types';

export interface StoreHealth {
  ok: boolean;
  /** What failed, e.g. `savePredictions: SQLITE_FULL: database or disk is full`. */
  reason?: string;
  /** When it started failing (ISO). */
  since?: string;
}

export type WatchedStore = Store & { health(): StoreHealth };

const WRITES = new Set<string>([
  'migrate',
  'saveMentions',
  'setCheckpoint',
  'savePredictions',
  'recordVote',
  'saveShadowPredictions',
  'retractVote',
  'saveAlert',
  'linkMessage',
  'hashLegacyVoters',
  'prune',
  'pruneCheckpoints',
  'eraseVotes',
  'eraseMention',
  'rewriteJson',
]);
const UNWATCHED = new Set<string>(['close', 'kind', 'health', 'fenced']);

/** Errors that say nothing of the store's health: a caller's bad input, a write refused by fencing. */
const notAFailure = (err: unknown) => err instanceof StoreInputError || err instanceof FencedOutError;

export interface StoreHealthOptions {
  onChange?: (health: StoreHealth) => void;
  now?: () => number;
}

export function watchStoreHealth(store: Store, opts: StoreHealthOptions = {}): WatchedStore {
  const now = opts.now ?? Date.now;
  const failing: Record<'write' | 'read', { reason: string; since: string } | null> = { write: null, read: null };
  const health = (): StoreHealth => {
    const f = failing.write ?? failing.read;
    return f ? { ok: false, reason: f.reason, since: f.since } : { ok: true };
  };
  const note = (side: 'write' | 'read', failure: { reason: string } | null) => {
    const before = health().ok;
    if (failure) failing[side] ??= { reason: failure.reason, since: new Date(now()).toISOString() };
    else failing[side] = null;
    const after = health();
    if (after.ok !== before) opts.onChange?.(after);
  };
  // A fenced view (the leader's writes) shares the store's health: its failures are the store's.
  const watch = (s: Store): WatchedStore =>
    new Proxy(s, {
      get: (target, prop, receiver) =>
        prop === 'fenced' ? (f: Fence) => watch(target.fenced(f)) : get(target, prop, receiver),
    }) as WatchedStore;
  const get = (target: Store, prop: string | symbol, receiver: unknown): unknown => {
    if (prop === 'health') return health;
    const value = Reflect.get(target, prop, receiver) as unknown;
    if (typeof prop !== 'string' || UNWATCHED.has(prop) || typeof value !== 'function') return value;
    const side = WRITES.has(prop) ? 'write' : 'read';
    return (...args: unknown[]) => {
      let result: unknown;
      try {
        result = (value as (...a: unknown[]) => unknown).apply(target, args);
      } catch (err) {
        if (!notAFailure(err)) note(side, { reason: `${prop}: ${describe(err)}` });
        throw err;
      }
      if (!(result instanceof Promise)) return result;
      return result.then(
        (v) => {
          note(side, null);
          return v;
        },
        (err: unknown) => {
          if (!notAFailure(err)) note(side, { reason: `${prop}: ${describe(err)}` });
          throw err;
        },
      );
    };
  };
  return watch(store);
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' && e.message ? e.message : String(err);
  return typeof e?.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}
