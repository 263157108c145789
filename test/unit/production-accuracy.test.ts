/**
 * Production accuracy (src/feedback/production-accuracy.ts): Wilson's interval against figures worked out
 * by hand, the majority of votes with ties dropped and counted, the people's label after a ❌, the confusion
 * of judged predictions, the rolling window; then the same through real stores, SQLite and PostgreSQL (votes
 * recorded by the feedback rules, read back by Store.judgments) and the /metrics gauges it exposes.
 */
import { recordAlertFeedback } from '../../src/feedback/alert-feedback';
import { recordFeedback } from '../../src/feedback/feedback';
import {
  NOT_GIVEN,
  ProductionAccuracyMetrics,
  accuracyReport,
  measureAccuracy,
  verdictOf,
  wilson,
} from '../../src/feedback/production-accuracy';
import type { Label } from '../../src/sentiment/types';
import type { Judgment, Store, StoredPrediction } from '../../src/store/types';
import { testStore, type TestStore } from '../helpers/stores';

function judgment(
  id: string,
  label: Label,
  votes: Array<[correct: boolean, trueLabel?: Label, votedAt?: string]>,
  modelVersion = 'v1',
): Judgment {
  const vs = votes.map(([correct, trueLabel, votedAt]) => ({
    correct,
    ...(trueLabel ? { trueLabel } : {}),
    votedAt: votedAt ?? '2026-03-01T10:00:00.000Z',
  }));
  return {
    prediction: {
      id,
      kind: 'mention',
      text: `text ${id}`,
      label,
      probabilities: { negative: 0.6, neutral: 0.3, positive: 0.1 },
      modelVersion,
      createdAt: '2026-03-01T09:00:00.000Z',
    },
    votes: vs,
    lastVotedAt: vs
      .map((v) => v.votedAt)
      .sort()
      .at(-1)!,
  };
}

describe('Wilson score interval at 95 %', () => {
  // p̂ = 0.8, z² = 3.8415: centre (0.8 + 0.19207) / 1.38415 = 0.71673, half-width 1.95996 · √(0.016 + 0.0096037) / 1.38415 = 0.22658.
  it('8 right of 10: 49.0 % to 94.3 %', () => {
    const i = wilson(8, 10)!;
    expect(i.low).toBeCloseTo(0.49016, 4);
    expect(i.high).toBeCloseTo(0.94331, 4);
  });

  // p̂ = 0: centre (z²/2n) / (1 + z²/n) = 0.19207 / 1.38415 = 0.13876, half-width the same: [0, 0.27753].
  it('0 of 10 stays inside [0, 1] (the normal approximation would give a point at 0)', () => {
    const i = wilson(0, 10)!;
    expect(i.low).toBe(0);
    expect(i.high).toBeCloseTo(0.27753, 4);
  });

  // p̂ = 0.5, n = 100: centre 0.5, half-width 1.95996 · √(0.0025 + 0.0000960) / 1.038415 = 0.09617.
  it('50 of 100: 40.4 % to 59.6 %', () => {
    const i = wilson(50, 100)!;
    expect(i.low).toBeCloseTo(0.40383, 4);
    expect(i.high).toBeCloseTo(0.59617, 4);
  });

  it('nothing judged: no interval', () => {
    expect(wilson(0, 0)).toBeNull();
  });
});

describe('the verdict of a judged prediction', () => {
  it('a majority of ✅ is correct, the people agreeing with the model', () => {
    expect(verdictOf(judgment('a', 'negative', [[true], [true], [false, 'neutral']]))).toEqual({
      verdict: 'correct',
      label: 'negative',
      correctVotes: 2,
      wrongVotes: 1,
    });
  });

  it('a majority of ❌ is wrong, with the label most of them gave', () => {
    expect(
      verdictOf(judgment('b', 'negative', [[false, 'neutral'], [false, 'neutral'], [false, 'positive'], [true]])),
    ).toMatchObject({ verdict: 'wrong', label: 'neutral' });
  });

  it('❌ without a label, or labels given as often each, is wrong with the label "not given"', () => {
    expect(verdictOf(judgment('c', 'positive', [[false]]))).toMatchObject({ verdict: 'wrong', label: NOT_GIVEN });
    expect(
      verdictOf(
        judgment('d', 'neutral', [
          [false, 'negative'],
          [false, 'positive'],
        ]),
      ),
    ).toMatchObject({
      verdict: 'wrong',
      label: NOT_GIVEN,
    });
  });

  it('as many ✅ as ❌ is a tie: no verdict either way', () => {
    expect(verdictOf(judgment('e', 'negative', [[true], [false, 'neutral']]))).toEqual({
      verdict: 'tie',
      correctVotes: 1,
      wrongVotes: 1,
    });
  });

  it('only votes cast before `until` count', () => {
    const j = judgment('f', 'negative', [
      [true, undefined, '2026-03-01T10:00:00.000Z'],
      [false, 'neutral', '2026-03-02T10:00:00.000Z'],
      [false, 'neutral', '2026-03-03T10:00:00.000Z'],
    ]);
    expect(verdictOf(j, '2026-03-02T00:00:00.000Z')?.verdict).toBe('correct');
    expect(verdictOf(j)?.verdict).toBe('wrong');
    expect(verdictOf(j, '2026-03-01T00:00:00.000Z')).toBeNull();
  });
});

describe('the report: per model version, ties dropped and counted, the confusion', () => {
  const judgments = [
    judgment('1', 'negative', [[true]]),
    judgment('2', 'negative', [[true], [true]]),
    judgment('3', 'negative', [[false, 'neutral']]),
    judgment('4', 'positive', [[false]]),
    judgment('5', 'neutral', [[true], [false, 'negative']]), // a tie
    judgment('6', 'neutral', [[true, undefined, '2026-03-02T08:00:00.000Z']], 'v2'),
    judgment('7', 'positive', [[false, 'negative', '2026-03-02T09:00:00.000Z']], 'v2'),
  ];

  it('counts judged, correct, ties and votes per version, the latest voted first', () => {
    const r = accuracyReport(judgments);
    expect(r.versions.map((v) => v.modelVersion)).toEqual(['v2', 'v1']);
    const [v2, v1] = r.versions;
    expect(v1).toMatchObject({ judged: 4, correct: 2, ties: 1, votes: 7, accuracy: 0.5 });
    // 2 of 4: centre (0.5 + 0.48018) / 1.96037 = 0.5, half-width 1.95996 · √(0.0625 + 0.060023) / 1.96037 = 0.34996.
    expect(v1.interval!.low).toBeCloseTo(0.15004, 4);
    expect(v1.interval!.high).toBeCloseTo(0.84996, 4);
    expect(v2).toMatchObject({ judged: 2, correct: 1, ties: 0, votes: 2, accuracy: 0.5 });
    expect(r).toMatchObject({ judged: 6, correct: 3, ties: 1, votes: 9 });
  });

  it('the confusion: the model label × the people label, a tie in no cell', () => {
    const { confusion } = accuracyReport(judgments);
    expect(confusion.negative).toEqual({ negative: 2, neutral: 1, positive: 0, [NOT_GIVEN]: 0 });
    expect(confusion.neutral).toEqual({ negative: 0, neutral: 1, positive: 0, [NOT_GIVEN]: 0 });
    expect(confusion.positive).toEqual({ negative: 1, neutral: 0, positive: 0, [NOT_GIVEN]: 1 });
  });

  it('a window keeps the predictions with a vote in it', () => {
    const r = accuracyReport(judgments, { from: '2026-03-02T00:00:00.000Z', to: '2026-03-03T00:00:00.000Z' });
    expect(r.versions.map((v) => [v.modelVersion, v.judged, v.correct])).toEqual([['v2', 2, 1]]);
    expect(accuracyReport(judgments, { to: '2026-03-01T00:00:00.000Z' }).versions).toEqual([]);
  });
});

describe.each(['sqlite', 'postgres'] as const)('through a real store (%s), and the /metrics gauges', (kind) => {
  let backend: TestStore;
  let store: Store;
  const predictions: StoredPrediction[] = ['negative', 'negative', 'neutral', 'positive'].map((label, i) => ({
    id: `x:10${i}`,
    kind: 'mention',
    text: `mention ${i}`,
    label: label as Label,
    probabilities: { negative: 0.5, neutral: 0.3, positive: 0.2 },
    modelVersion: i < 3 ? 'bilstm-v1' : 'bilstm-v2',
    createdAt: '2026-03-01T09:00:00.000Z',
  }));

  beforeAll(async () => {
    backend = testStore(kind);
    store = await backend.open();
    await store.savePredictions(predictions);
    const vote = (p: number, user: string, correct: boolean, trueLabel?: Label) =>
      recordFeedback(store, {
        predictionId: predictions[p].id,
        userId: `slack:T1:${user}`,
        correct,
        ...(trueLabel ? { trueLabel } : {}),
        source: 'slack',
      });
    await vote(0, 'U1', true);
    await vote(0, 'U2', true);
    await vote(1, 'U1', false, 'neutral');
    await vote(2, 'U1', true);
    await vote(2, 'U2', false); // a tie on prediction 2
    await vote(3, 'U3', false, 'negative');
    // A vote on an alert is not a prediction's: never in the accuracy, counted among the votes of the hour.
    await recordAlertFeedback(store, {
      alertId: 'Delta@2015-02-22T19:00:00.000Z',
      userId: 'slack:T1:U1',
      trueAlarm: true,
    });
  });

  afterAll(async () => {
    await backend.cleanup();
  });

  it('measureAccuracy reads the votes the feedback rules recorded', async () => {
    const r = await measureAccuracy(store);
    expect(r.versions.map((v) => [v.modelVersion, v.judged, v.correct, v.ties])).toEqual(
      expect.arrayContaining([
        ['bilstm-v1', 2, 1, 1],
        ['bilstm-v2', 1, 0, 0],
      ]),
    );
    expect(r.confusion.negative).toMatchObject({ negative: 1, neutral: 1 });
    expect(r.confusion.positive).toMatchObject({ negative: 1 });
    expect(JSON.stringify(r)).not.toMatch(/slack:T1|U1|h1:/); // no voter id anywhere
  });

  it('the gauges: accuracy and judged per version over 7 days, votes of the last hour, one store read per scrape window', async () => {
    let reads = 0;
    const counting: Pick<Store, 'judgments' | 'countVotesSince'> = {
      judgments: (q) => {
        reads++;
        return store.judgments(q);
      },
      countVotesSince: (since) => store.countVotesSince(since),
    };
    let now = Date.now();
    const metrics = new ProductionAccuracyMetrics({ store: counting, now: () => now });
    const text = await metrics.registry.metrics();
    expect(text).toContain('sentinel_production_accuracy{model_version="bilstm-v1"} 0.5');
    expect(text).toContain('sentinel_production_accuracy{model_version="bilstm-v2"} 0');
    expect(text).toContain('sentinel_judged_predictions{model_version="bilstm-v1"} 2');
    expect(text).toContain('sentinel_judged_predictions{model_version="bilstm-v2"} 1');
    expect(text).toMatch(/^sentinel_votes_last_hour 7$/m);
    expect(reads).toBe(1);
    await metrics.registry.metrics();
    expect(reads).toBe(1); // within the cache
    // Votes older than the window are out of it (an hour ago for the count, 7 days for the accuracy).
    await backend.exec(
      `UPDATE feedback SET voted_at = ${backend.time(new Date(now - 8 * 86_400_000).toISOString())} WHERE prediction_id = 'x:103'`,
    );
    now += 31_000;
    const later = await metrics.registry.metrics();
    expect(reads).toBe(2);
    expect(later).not.toContain('bilstm-v2');
    expect(later).toMatch(/^sentinel_votes_last_hour 6$/m);
  });
});
