/**
 * Where ops alerts' errors come from, for the parts that have no hook of their own (./error-alerts): every
 * failed store call, and every chat sink delivery that failed. The composition root wraps the store and the
 * sinks once; each failure becomes one `errorAlerts.record(kind, err)`.
 *
 *   const store = watchStoreHealth(reportStoreErrors(opened, (err) => errorAlerts.record('store', err)), …);
 *   sinks.push(reportSinkFailures(slack.sink, (err) => errorAlerts.record('chat', err)));
 *
 * Not failures of the store: input it refuses (StoreInputError, a caller's mistake) and a write refused by
 * fencing (FencedOutError: this replica no longer leads), as src/store/health.ts counts them.
 */
import { StoreInputError } from '../store/common';
import { FencedOutError, type Fence } from '../store/fence';
import type { Store } from '../store/types';
import type { ChatSink } from '../trends/sink';

const storeFailures = new WeakSet<object>();

/**
 * Whether `err` is a failure a store wrapped by `reportStoreErrors` threw (already counted as a store error):
 * a poll that failed because the store did is not a source error too.
 */
export function isStoreFailure(err: unknown): boolean {
  return typeof err === 'object' && err !== null && storeFailures.has(err);
}

/** `store` (and the fenced views made from it) calling `onError` for each failed call, the error still thrown. */
export function reportStoreErrors<S extends Store>(store: S, onError: (err: unknown, method: string) => void): S {
  const note = (err: unknown, method: string) => {
    if (err instanceof StoreInputError || err instanceof FencedOutError) return;
    if (typeof err === 'object' && err !== null) storeFailures.add(err);
    try {
      onError(err, method);
    } catch {
      // A hook that fails must not change what the caller sees.
    }
  };
  const wrap = (s: Store): S =>
    new Proxy(s, {
      get(target, prop, receiver) {
        if (prop === 'fenced') return (f: Fence) => wrap(target.fenced(f));
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof prop !== 'string' || typeof value !== 'function' || prop === 'close') return value;
        return (...args: unknown[]) => {
          let result: unknown;
          try {
            result = (value as (...a: unknown[]) => unknown).apply(target, args);
          } catch (err) {
            note(err, prop);
            throw err;
          }
          if (!(result instanceof Promise)) return result;
          return result.catch((err: unknown) => {
            note(err, prop);
            throw err;
          });
        };
      },
    }) as S;
  return wrap(store);
}

/**
 * `sink` with `onError` called for each delivery that failed (the error still thrown: the trend monitor sends
 * the alert again). Ops alerts themselves are passed through unwatched: a chat that cannot take the alert
 * about its own failures would otherwise keep that alert open forever.
 */
export function reportSinkFailures(sink: ChatSink, onError: (err: unknown, what: string) => void): ChatSink {
  const watch =
    <A extends unknown[]>(what: string, fn: (...a: A) => Promise<void>) =>
    async (...a: A): Promise<void> => {
      try {
        await fn.apply(sink, a);
      } catch (err) {
        try {
          onError(err, `${sink.name} ${what}`);
        } catch {
          // as above
        }
        throw err;
      }
    };
  return {
    name: sink.name,
    alertOpened: watch('alertOpened', sink.alertOpened),
    alertUpdated: watch('alertUpdated', sink.alertUpdated),
    alertResolved: watch('alertResolved', sink.alertResolved),
    ...(sink.streamNotice ? { streamNotice: watch('streamNotice', sink.streamNotice) } : {}),
    ...(sink.opsNotice ? { opsNotice: watch('opsNotice', sink.opsNotice) } : {}),
    ...(sink.resumeOpsNotices ? { resumeOpsNotices: watch('resumeOpsNotices', sink.resumeOpsNotices) } : {}),
    ...(sink.opsAlert ? { opsAlert: sink.opsAlert.bind(sink) } : {}),
  };
}
