/**
 * The PredictionLog over a real SQLite store, and over the same store behind a switch that makes every
 * write fail the way a full disk does (SQLITE_FULL): an id handed out stays votable — a vote on it while
 * the store fails is retryable, never "unknown", and counts once the store recovers — the log reports its
 * health (not ok from the failed write, with the reason and since when; ok again after a write), and once
 * it is full it refuses to hand out ids instead of dropping predictions. The store health watch
 * (src/store/health.ts) reports the same failure for /ready.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PredictionPendingError, UnknownPredictionError, recordFeedback } from '../../src/feedback/feedback';
import { voteOnMessage } from '../../src/feedback/message-votes';
import { PredictionLog, PredictionLogFullError, type PredictionLogHealth } from '../../src/feedback/prediction-log';
import type { Prediction } from '../../src/sentiment/types';
import { watchStoreHealth, type StoreHealth } from '../../src/store/health';
import { openSqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';

const PREDICTION: Prediction = {
  label: 'negative',
  confidence: 0.9,
  probabilities: { negative: 0.9, neutral: 0.07, positive: 0.03 },
  modelVersion: 'v1',
};

/** The store, with a switch that makes its writes fail as a full disk does. */
function breakable(store: Store): { store: Store; full: (on: boolean) => void; writes: () => number } {
  let full = false;
  let writes = 0;
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'savePredictions' || prop === 'recordVote') {
        return async (...args: unknown[]) => {
          writes++;
          if (full) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
          return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: wrapped, full: (on) => (full = on), writes: () => writes };
}

let dir: string;
let base: Store;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sentinel-prediction-log-'));
  base = openSqliteStore(join(dir, 'sentinel.db'));
  await base.migrate();
});

afterEach(async () => {
  await base.close();
  rmSync(dir, { recursive: true, force: true });
});

test('keepText false: the prediction is stored without its text and stays votable', async () => {
  const log = new PredictionLog(base, { flushMs: 5 });
  const [kept] = log.keep('api', ['my bag is lost'], [PREDICTION]);
  const [bare] = log.keep('api', ['my card number is 4970 1234'], [PREDICTION], { keepText: false });
  await log.flush();
  expect((await base.getPrediction(kept))?.text).toBe('my bag is lost');
  expect(await base.getPrediction(bare)).toMatchObject({ id: bare, kind: 'api', text: '', label: 'negative' });
  await recordFeedback(base, { predictionId: bare, userId: 'api:mobile-app', correct: true });
  await recordFeedback(base, { predictionId: kept, userId: 'api:mobile-app', correct: true });
  expect(await base.accuracyByModel()).toEqual([{ modelVersion: 'v1', votes: 2, correct: 2, accuracy: 1 }]);
  // No text, no training example.
  expect(await base.feedbackExamples()).toEqual([{ text: 'my bag is lost', label: 'negative' }]);
});

test('an id is pending from keep until stored, also while its write is in flight', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slow = new Proxy(base, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'savePredictions') {
        return async (...args: unknown[]) => {
          await gate;
          return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const log = new PredictionLog(slow, { flushMs: 1 });
  const [id] = log.keep('api', ['late again'], [PREDICTION]);
  expect(log.has(id)).toBe(true);
  const writing = log.flush(); // the batch has left the queue: it is being written
  expect(log.has(id)).toBe(true);
  // A vote now waits for the write instead of finding nothing.
  const vote = recordFeedback(base, { predictionId: id, userId: 'api:k', correct: true }, log);
  release();
  await writing;
  await expect(vote).resolves.toMatchObject({ predictionId: id, correct: true });
  expect(log.has(id)).toBe(false);
});

test('a full disk: 200 with an id, the id stays votable, /ready can say why, and it recovers', async () => {
  const { store, full } = breakable(base);
  const changes: PredictionLogHealth[] = [];
  const logged: string[] = [];
  const logger = {
    info: (_o: unknown, m?: string) => void logged.push(`info ${m}`),
    warn: (_o: unknown, m?: string) => void logged.push(`warn ${m}`),
    error: (_o: unknown, m?: string) => void logged.push(`error ${m}`),
  };
  const log = new PredictionLog(store, {
    flushMs: 1,
    retryMs: 20,
    maxRetryMs: 40,
    logger,
    onHealthChange: (h) => changes.push(h),
  });
  expect(log.health()).toEqual({ ok: true, pending: 0 });

  full(true);
  const [id] = log.keep('api', ['where is my bag'], [PREDICTION]);
  await log.flush();
  const health = log.health();
  expect(health).toMatchObject({
    ok: false,
    reason: 'storing predictions failed: SQLITE_FULL: database or disk is full',
    pending: 1,
  });
  expect(Date.parse(health.since!)).not.toBeNaN();
  expect(changes).toHaveLength(1);
  expect(logged).toContain('error storing predictions failed; their ids stay votable and the write is retried');

  // The vote on the id handed out: retryable, not a 404 — and nothing lost.
  expect(log.has(id)).toBe(true);
  const err = await recordFeedback(base, { predictionId: id, userId: 'api:k', correct: false }, log).catch(
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PredictionPendingError);
  expect(err).not.toBeInstanceOf(UnknownPredictionError);
  expect(
    await voteOnMessage(
      { store: base, predictionLog: log },
      { predictionId: id },
      { userId: 'slack:T1:U1', correct: true, source: 'slack' },
    ),
  ).toMatchObject({ recorded: false, retryable: true });

  // The disk has room again: the retry stores it, the log is healthy, the vote counts.
  full(false);
  for (let i = 0; i < 50 && log.has(id); i++) await new Promise((r) => setTimeout(r, 10));
  expect(log.has(id)).toBe(false);
  expect(log.health()).toEqual({ ok: true, pending: 0 });
  expect(changes.map((c) => c.ok)).toEqual([false, true]);
  expect(logged).toContain('info storing predictions works again');
  await recordFeedback(base, { predictionId: id, userId: 'api:k', correct: false }, log);
  expect(await base.accuracyByModel()).toEqual([{ modelVersion: 'v1', votes: 1, correct: 0, accuracy: 0 }]);
});

test('full: no id is handed out rather than one that would never be stored', async () => {
  const { store, full } = breakable(base);
  const log = new PredictionLog(store, { flushMs: 1, retryMs: 10_000, maxPending: 3 });
  full(true);
  const ids = log.keep('api', ['a', 'b', 'c'], [PREDICTION, PREDICTION, PREDICTION]);
  await log.flush();
  expect(() => log.keep('api', ['d'], [PREDICTION])).toThrow(PredictionLogFullError);
  expect(() => log.keep('api', ['d'], [PREDICTION])).toThrow(
    'cannot keep more predictions: 3 are waiting for the store (SQLITE_FULL: database or disk is full)',
  );
  expect(log.refused).toBe(2);
  expect(log.health()).toMatchObject({ ok: false, pending: 3 });
  expect(log.health().reason).toMatch(/prediction log full \(3 waiting\)/);
  // Every id that was handed out is still kept, and stored once the store recovers.
  full(false);
  await log.flush();
  for (const id of ids) expect(await base.getPrediction(id)).not.toBeNull();
  expect(log.health()).toEqual({ ok: true, pending: 0 });
  expect(log.keep('api', ['e'], [PREDICTION])).toHaveLength(1);
  await log.flush();
});

test('a prediction the store refuses as invalid is let go; the others are stored', async () => {
  const errors: string[] = [];
  const log = new PredictionLog(base, {
    flushMs: 1,
    logger: {
      info: () => undefined,
      warn: () => undefined,
      error: (_o: unknown, m?: string) => void errors.push(m ?? ''),
    },
  });
  const [good] = log.keep('api', ['fine'], [PREDICTION]);
  const [bad] = log.keep('api', ['broken'], [{ ...PREDICTION, label: 'angry' as never }]);
  const [after] = log.keep('api', ['fine too'], [PREDICTION]);
  await log.flush();
  expect(await base.getPrediction(good)).not.toBeNull();
  expect(await base.getPrediction(after)).not.toBeNull();
  expect(await base.getPrediction(bad)).toBeNull();
  expect(log.has(bad)).toBe(false);
  expect(log.health().ok).toBe(true);
  expect(errors).toEqual(['prediction refused by the store; not kept']);
});

test('watchStoreHealth: a failed write is reported until a write succeeds; a read does not hide it', async () => {
  const { store, full } = breakable(base);
  const changes: StoreHealth[] = [];
  const watched = watchStoreHealth(store, { onChange: (h) => changes.push(h), now: () => Date.UTC(2026, 0, 1) });
  expect(watched.health()).toEqual({ ok: true });
  full(true);
  const p = { ...PREDICTION, id: 'p1', kind: 'api' as const, text: 't', createdAt: '2026-01-01T00:00:00Z' };
  await expect(watched.savePredictions([p])).rejects.toThrow('database or disk is full');
  expect(watched.health()).toEqual({
    ok: false,
    reason: 'savePredictions: SQLITE_FULL: database or disk is full',
    since: '2026-01-01T00:00:00.000Z',
  });
  expect(await watched.countMentions()).toBe(0); // reads still work: still not healthy
  expect(watched.health().ok).toBe(false);
  // A caller's bad input says nothing of the store's health.
  full(false);
  await expect(watched.setCheckpoint('', 'x')).rejects.toThrow(/stream must be non-empty/);
  expect(watched.health().ok).toBe(false);
  await watched.savePredictions([p]);
  expect(watched.health()).toEqual({ ok: true });
  expect(changes.map((c) => c.ok)).toEqual([false, true]);
  expect(watched.kind).toBe('sqlite');
});
