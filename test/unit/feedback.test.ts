/**
 * The feedback rules (src/feedback/feedback.ts) over a recording in-memory Store: what is accepted, what
 * is refused with which error, and that nothing is written when a vote is refused. Voters' ids are stored
 * as keyed hashes (src/feedback/voter.ts); a prediction still waiting in the PredictionLog is never
 * "unknown".
 */
import { createHmac } from 'node:crypto';
import { recordAlertFeedback, retractAlertFeedback } from '../../src/feedback/alert-feedback';
import {
  InvalidVoteError,
  MAX_ID_CHARS,
  PredictionPendingError,
  UnknownPredictionError,
  productionAccuracy,
  recordFeedback,
  retractFeedback,
} from '../../src/feedback/feedback';
import { voteOnMessage } from '../../src/feedback/message-votes';
import { voterId } from '../../src/feedback/voter';
import type { AccuracyRow, Store, StoredPrediction, Vote } from '../../src/store/types';
import type { VoterKey } from '../../src/store/voter-ids';

const KEY = Buffer.from('k'.repeat(40));
/** What the store keeps for a voter: h1: + base64url HMAC-SHA256 of the namespaced id. */
const h = (id: string) => `h1:${createHmac('sha256', KEY).update(id).digest('base64url')}`;

const PREDICTION: StoredPrediction = {
  id: 'p1',
  kind: 'api',
  text: 'the flight was late',
  label: 'negative',
  probabilities: { negative: 0.8, neutral: 0.15, positive: 0.05 },
  modelVersion: 'v1',
  createdAt: '2026-01-01T00:00:00.000Z',
};

function fakeStore() {
  const votes = new Map<string, Vote>();
  const accuracy: AccuracyRow[] = [{ modelVersion: 'v1', votes: 2, correct: 1, accuracy: 0.5 }];
  const store = {
    getPrediction: async (id: string) => (id === PREDICTION.id ? PREDICTION : null),
    recordVote: async (v: Vote) => void votes.set(`${v.predictionId}/${v.userId}`, v),
    retractVote: async (p: string, u: string) => votes.delete(`${p}/${u}`),
    accuracyByModel: async () => accuracy,
    voterKey: async (): Promise<VoterKey> => ({ key: KEY, source: 'configured', matchesStored: true }),
  } as unknown as Store;
  return { store, votes };
}

async function refused(promise: Promise<unknown>): Promise<InvalidVoteError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidVoteError);
  return err as InvalidVoteError;
}

describe('recordFeedback', () => {
  test('a ✅ vote is recorded', async () => {
    const { store, votes } = fakeStore();
    const stored = await recordFeedback(store, {
      predictionId: 'p1',
      userId: 'slack:T1:U1',
      correct: true,
      source: 'slack',
    });
    expect(stored).toEqual({ predictionId: 'p1', userId: h('slack:T1:U1'), correct: true, source: 'slack' });
    expect([...votes.values()]).toEqual([stored]);
  });

  test('a ❌ vote is recorded with or without a true label', async () => {
    const { store, votes } = fakeStore();
    await recordFeedback(store, { predictionId: 'p1', userId: 'U1', correct: false });
    await recordFeedback(store, { predictionId: 'p1', userId: 'U2', correct: false, trueLabel: 'neutral' });
    expect(votes.get(`p1/${h('U1')}`)).toEqual({ predictionId: 'p1', userId: h('U1'), correct: false });
    expect(votes.get(`p1/${h('U2')}`)).toEqual({
      predictionId: 'p1',
      userId: h('U2'),
      correct: false,
      trueLabel: 'neutral',
    });
  });

  test('a ✅ vote may repeat the predicted label, which is then not stored (it adds nothing)', async () => {
    const { store, votes } = fakeStore();
    await recordFeedback(store, { predictionId: 'p1', userId: 'U1', correct: true, trueLabel: 'negative' });
    expect(votes.get(`p1/${h('U1')}`)).toEqual({ predictionId: 'p1', userId: h('U1'), correct: true });
  });

  test('a ✅ vote with another label contradicts itself', async () => {
    const { store, votes } = fakeStore();
    const err = await refused(
      recordFeedback(store, { predictionId: 'p1', userId: 'U1', correct: true, trueLabel: 'positive' }),
    );
    expect(err.code).toBe('label_contradicts_vote');
    expect(err.message).toBe(
      'the vote says the prediction "negative" is correct but gives the true label "positive"; ' +
        'send correct: false to say it should have been another label',
    );
    expect(votes.size).toBe(0);
  });

  test('a ❌ vote giving the predicted label as the true one contradicts itself', async () => {
    const { store, votes } = fakeStore();
    const err = await refused(
      recordFeedback(store, { predictionId: 'p1', userId: 'U1', correct: false, trueLabel: 'negative' }),
    );
    expect(err.code).toBe('label_contradicts_vote');
    expect(err.message).toBe(
      'the vote says the prediction is wrong but gives its own label "negative" as the true label; ' +
        'give one of neutral, positive, or send correct: true',
    );
    expect(votes.size).toBe(0);
  });

  test('an unknown prediction is an UnknownPredictionError naming the id', async () => {
    const { store, votes } = fakeStore();
    const err = await recordFeedback(store, { predictionId: 'nope', userId: 'U1', correct: true }).catch((e) => e);
    expect(err).toBeInstanceOf(UnknownPredictionError);
    expect(err.predictionId).toBe('nope');
    expect(err.message).toBe('no prediction with id "nope"');
    expect(votes.size).toBe(0);
  });

  const cases: Array<[Record<string, unknown>, string, string]> = [
    [{ predictionId: '' }, 'invalid_prediction_id', 'the prediction id is empty'],
    [{ predictionId: 42 }, 'invalid_prediction_id', 'the prediction id must be a string'],
    [
      { predictionId: 'p'.repeat(MAX_ID_CHARS + 1) },
      'invalid_prediction_id',
      `the prediction id is ${MAX_ID_CHARS + 1} characters long; the limit is ${MAX_ID_CHARS}`,
    ],
    [{ userId: '  ' }, 'invalid_user', 'the user id is empty'],
    [{ userId: undefined }, 'invalid_user', 'the user id must be a string'],
    [{ correct: 'yes' }, 'invalid_correct', 'correct must be true or false'],
    [
      { correct: false, trueLabel: 'Negative' },
      'invalid_true_label',
      'the true label must be one of negative, neutral, positive; got "Negative"',
    ],
    [{ source: 7 }, 'invalid_source', 'the source must be a short string such as "slack" or "http"'],
  ];
  test.each(cases.map(([change, code, message]) => [code, message, change] as const))(
    'refuses with %s: %s',
    async (code, message, change) => {
      const { store, votes } = fakeStore();
      const vote = { predictionId: 'p1', userId: 'U1', correct: true, ...change } as unknown as Vote;
      const err = await refused(recordFeedback(store, vote));
      expect(err.code).toBe(code);
      expect(err.message).toBe(message);
      expect(votes.size).toBe(0);
    },
  );
});

describe('retractFeedback', () => {
  test('returns whether there was a vote to retract', async () => {
    const { store } = fakeStore();
    await recordFeedback(store, { predictionId: 'p1', userId: 'U1', correct: true });
    expect(await retractFeedback(store, 'p1', 'U1')).toBe(true);
    expect(await retractFeedback(store, 'p1', 'U1')).toBe(false);
  });

  test('an unknown prediction is an UnknownPredictionError; bad ids are refused', async () => {
    const { store } = fakeStore();
    await expect(retractFeedback(store, 'nope', 'U1')).rejects.toBeInstanceOf(UnknownPredictionError);
    expect((await refused(retractFeedback(store, 'p1', ''))).code).toBe('invalid_user');
  });
});

describe('voters are stored as keyed hashes of their namespaced id', () => {
  test('the same voter always hashes the same; another channel with the same raw id does not', async () => {
    const { store, votes } = fakeStore();
    await recordFeedback(store, { predictionId: 'p1', userId: 'slack:T1:U1', correct: true });
    await recordFeedback(store, { predictionId: 'p1', userId: 'slack:T1:U1', correct: false });
    await recordFeedback(store, { predictionId: 'p1', userId: 'api:U1', correct: true });
    expect([...votes.keys()].sort()).toEqual([`p1/${h('api:U1')}`, `p1/${h('slack:T1:U1')}`].sort());
    expect(votes.get(`p1/${h('slack:T1:U1')}`)?.correct).toBe(false); // replaced, not added
    expect(h('slack:T1:U1')).toMatch(/^h1:[A-Za-z0-9_-]{43}$/);
    expect(await voterId(store, 'slack:T1:U1')).toBe(h('slack:T1:U1'));
    for (const v of votes.values()) expect(v.userId).not.toContain('U1');
  });

  test('one channel cannot retract another channel’s vote', async () => {
    const { store } = fakeStore();
    await recordFeedback(store, { predictionId: 'p1', userId: 'slack:T1:U1', correct: true });
    expect(await retractFeedback(store, 'p1', 'api:slack:T1:U1')).toBe(false);
    expect(await retractFeedback(store, 'p1', 'U1')).toBe(false);
    expect(await retractFeedback(store, 'p1', 'slack:T1:U1')).toBe(true);
  });

  test('votes on alerts are hashed the same way', async () => {
    const { store, votes } = fakeStore();
    await recordAlertFeedback(store, { alertId: 'a1', userId: 'teams:tenant:aad-1', trueAlarm: true });
    expect([...votes.keys()]).toEqual([`alert:a1/${h('teams:tenant:aad-1')}`]);
    expect(await retractAlertFeedback(store, 'a1', 'teams:tenant:aad-1')).toBe(true);
    expect(votes.size).toBe(0);
  });
});

describe('a prediction handed out but not stored yet', () => {
  /** A PredictionLog stand-in: `p1` waits; flushing stores it unless the store is down. */
  function pendingLog(storeIsDown: boolean) {
    const waiting = new Set(['p1']);
    return {
      flushes: 0,
      has: (id: string) => waiting.has(id),
      async flush() {
        this.flushes++;
        if (!storeIsDown) waiting.delete('p1');
      },
      health: () =>
        storeIsDown
          ? { ok: false, reason: 'SQLITE_FULL: database or disk is full', pending: 1 }
          : { ok: true, pending: 0 },
    };
  }

  test('is flushed before the vote looks it up', async () => {
    const { store, votes } = fakeStore();
    const log = pendingLog(false);
    await recordFeedback(store, { predictionId: 'p1', userId: 'U1', correct: true }, log);
    expect(log.flushes).toBe(1);
    expect(votes.size).toBe(1);
  });

  test('while the store is failing, a vote on it is retryable, never "unknown prediction"', async () => {
    const { store, votes } = fakeStore();
    const log = pendingLog(true);
    const err = await recordFeedback(store, { predictionId: 'p1', userId: 'U1', correct: true }, log).catch((e) => e);
    expect(err).toBeInstanceOf(PredictionPendingError);
    expect(err.code).toBe('prediction_pending');
    expect(err.message).toBe(
      'prediction "p1" is not stored yet (SQLITE_FULL: database or disk is full); send the vote again later',
    );
    await expect(retractFeedback(store, 'p1', 'U1', log)).rejects.toBeInstanceOf(PredictionPendingError);
    expect(votes.size).toBe(0);
    // Through a chat message: not recorded, and the adapter is told it may ask again.
    expect(
      await voteOnMessage(
        { store, predictionLog: log },
        { predictionId: 'p1' },
        {
          userId: 'slack:T1:U1',
          correct: true,
          source: 'slack',
        },
      ),
    ).toEqual({ recorded: false, reason: err.message, retryable: true });
  });
});

describe('productionAccuracy', () => {
  test('is the store’s accuracy per model version', async () => {
    const { store } = fakeStore();
    expect(await productionAccuracy(store)).toEqual([{ modelVersion: 'v1', votes: 2, correct: 1, accuracy: 0.5 }]);
  });
});
