/**
 * Feedback on predictions, whatever the channel (a ✅/❌ reaction in Slack or Teams, POST /feedback):
 * one vote per user per prediction (a second vote replaces the first), retractable, and production
 * accuracy per model version. Plain functions over the Store port; every rule is checked here so that all
 * channels apply the same ones.
 *
 * Rules: the prediction must exist; `trueLabel` is what the label should have been, so with
 * `correct: false` it must differ from the predicted label, and with `correct: true` it may only repeat the
 * predicted label (it is then redundant and not stored).
 *
 * Voters: callers pass the voter's namespaced id (`slack:T…:U…`, `teams:<tenant>:<aad id>`, `api:<key>`);
 * what is stored is its keyed hash (./voter.ts), so the returned vote's `userId` is the hash.
 *
 * Predictions still waiting in the write-behind PredictionLog (`pending`): a vote on one is not "unknown".
 * The log is flushed first; if the prediction still cannot be written (the store is failing), the vote
 * is refused with PredictionPendingError (retryable: HTTP 503), never a 404 for an id Sentinel handed out.
 */
import type { AccuracyRow, Store, Vote } from '../store/types';
import { LABELS, type Label } from '../sentiment/types';
import type { PredictionLog } from './prediction-log';
import { voterId } from './voter';

/** Longest prediction id or user id accepted (ids are UUIDs, "x:<tweet id>", chat user ids). */
export const MAX_ID_CHARS = 200;

/** The vote names a prediction Sentinel never made (or one from another database). */
export class UnknownPredictionError extends Error {
  readonly code = 'unknown_prediction';
  constructor(readonly predictionId: string) {
    super(`no prediction with id ${JSON.stringify(predictionId)}`);
    this.name = 'UnknownPredictionError';
  }
}

/** The vote breaks a rule; `code` says which (stable, for APIs). */
export class InvalidVoteError extends Error {
  constructor(
    readonly code:
      | 'invalid_prediction_id'
      | 'invalid_user'
      | 'invalid_correct'
      | 'invalid_true_label'
      | 'invalid_source'
      | 'label_contradicts_vote',
    message: string,
  ) {
    super(message);
    this.name = 'InvalidVoteError';
  }
}

/**
 * The prediction was handed out but is not stored yet, because the store is failing: the vote can be sent
 * again later (HTTP: 503 with Retry-After), it is not an unknown prediction.
 */
export class PredictionPendingError extends Error {
  readonly code = 'prediction_pending';
  constructor(
    readonly predictionId: string,
    readonly reason: string,
  ) {
    super(`prediction ${JSON.stringify(predictionId)} is not stored yet (${reason}); send the vote again later`);
    this.name = 'PredictionPendingError';
  }
}

/** What the feedback functions need of the PredictionLog. */
export type PendingPredictions = Pick<PredictionLog, 'has' | 'flush'> & Partial<Pick<PredictionLog, 'health'>>;

/** Makes sure a prediction handed out by the log is in the store before it is looked up. */
export async function settlePending(pending: PendingPredictions | undefined, predictionId: string): Promise<void> {
  if (!pending?.has(predictionId)) return;
  await pending.flush();
  if (pending.has(predictionId)) {
    throw new PredictionPendingError(predictionId, pending.health?.().reason ?? 'the store is not taking writes');
  }
}

function checkId(value: unknown, code: 'invalid_prediction_id' | 'invalid_user', what: string): string {
  if (typeof value !== 'string') throw new InvalidVoteError(code, `${what} must be a string`);
  if (value.trim() === '') throw new InvalidVoteError(code, `${what} is empty`);
  if (value.length > MAX_ID_CHARS) {
    throw new InvalidVoteError(code, `${what} is ${value.length} characters long; the limit is ${MAX_ID_CHARS}`);
  }
  return value;
}

function isLabel(v: unknown): v is Label {
  return (LABELS as readonly unknown[]).includes(v);
}

/**
 * Checks a vote against the rules and records it; the returned vote is what was stored (`userId` hashed).
 * `vote.userId` is the voter's namespaced id; `pending` is the PredictionLog of predictions handed out.
 */
export async function recordFeedback(store: Store, vote: Vote, pending?: PendingPredictions): Promise<Vote> {
  const predictionId = checkId(vote.predictionId, 'invalid_prediction_id', 'the prediction id');
  const userId = checkId(vote.userId, 'invalid_user', 'the user id');
  if (typeof vote.correct !== 'boolean') {
    throw new InvalidVoteError('invalid_correct', 'correct must be true or false');
  }
  if (vote.trueLabel !== undefined && !isLabel(vote.trueLabel)) {
    throw new InvalidVoteError(
      'invalid_true_label',
      `the true label must be one of ${LABELS.join(', ')}; got ${JSON.stringify(vote.trueLabel)}`,
    );
  }
  if (vote.source !== undefined && (typeof vote.source !== 'string' || vote.source.length > 50)) {
    throw new InvalidVoteError('invalid_source', 'the source must be a short string such as "slack" or "http"');
  }

  await settlePending(pending, predictionId);
  const prediction = await store.getPrediction(predictionId);
  if (!prediction) throw new UnknownPredictionError(predictionId);

  let trueLabel = vote.trueLabel;
  if (trueLabel !== undefined) {
    if (vote.correct && trueLabel !== prediction.label) {
      throw new InvalidVoteError(
        'label_contradicts_vote',
        `the vote says the prediction "${prediction.label}" is correct but gives the true label "${trueLabel}"; ` +
          'send correct: false to say it should have been another label',
      );
    }
    if (!vote.correct && trueLabel === prediction.label) {
      throw new InvalidVoteError(
        'label_contradicts_vote',
        `the vote says the prediction is wrong but gives its own label "${trueLabel}" as the true label; ` +
          `give one of ${LABELS.filter((l) => l !== prediction.label).join(', ')}, or send correct: true`,
      );
    }
    if (vote.correct) trueLabel = undefined; // it only repeats the predicted label
  }

  const stored: Vote = { predictionId, userId: await voterId(store, userId), correct: vote.correct };
  if (trueLabel !== undefined) stored.trueLabel = trueLabel;
  if (vote.source !== undefined) stored.source = vote.source;
  await store.recordVote(stored);
  return stored;
}

/** Removes a user's vote (by their namespaced id) on a prediction; returns whether there was one. */
export async function retractFeedback(
  store: Store,
  predictionId: string,
  userId: string,
  pending?: PendingPredictions,
): Promise<boolean> {
  const id = checkId(predictionId, 'invalid_prediction_id', 'the prediction id');
  const user = checkId(userId, 'invalid_user', 'the user id');
  await settlePending(pending, id);
  if (!(await store.getPrediction(id))) throw new UnknownPredictionError(id);
  return store.retractVote(id, await voterId(store, user));
}

/** Accuracy measured by users' votes, per model version (only versions with votes). */
export async function productionAccuracy(store: Store): Promise<AccuracyRow[]> {
  return store.accuracyByModel();
}
