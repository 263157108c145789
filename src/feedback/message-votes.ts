/**
 * A vote cast on a chat message Sentinel posted, whatever the platform (a ✅ / ❌ reaction or button in
 * Slack or Teams): the message's link (Store.findLink) says what it judges — a prediction (a /sentiment
 * answer, a mention `x:<tweet id>`) or an alert — and the vote goes through the same rules as every other
 * channel (./feedback for predictions, ./alert-feedback for alerts).
 *
 * A prediction still waiting in the write-behind PredictionLog is flushed first, so a vote cast a few ms
 * after the answer never finds it "unknown". A vote the rules refuse (unknown prediction, a true label that
 * contradicts the vote…) is not an error of the caller: it comes back as `{ recorded: false, reason }`; so
 * does a vote on a prediction the failing store has not taken yet (`retryable: true`: ask again later).
 *
 * `userId` is the voter's namespaced id (`slack:T…:U…`, `teams:<tenant>:<aad id>`); it is stored hashed.
 */
import type { Label } from '../sentiment/types';
import type { MessageLink, Store, Vote } from '../store/types';
import { recordAlertFeedback, retractAlertFeedback } from './alert-feedback';
import {
  InvalidVoteError,
  PredictionPendingError,
  UnknownPredictionError,
  recordFeedback,
  retractFeedback,
  type PendingPredictions,
} from './feedback';

export interface MessageVoteDeps {
  store: Store;
  predictionLog?: PendingPredictions;
}

export interface MessageVote {
  userId: string;
  /** The prediction is right (for an alert: it is a real bad buzz). */
  correct: boolean;
  /** What the prediction should have been (predictions only, with `correct: false`). */
  trueLabel?: Label;
  /** 'slack', 'teams', … */
  source: string;
}

export type MessageVoteResult =
  | { recorded: true; target: 'prediction'; predictionId: string; vote: Vote }
  | { recorded: true; target: 'alert'; alertId: string }
  | { recorded: false; reason: string; retryable?: boolean };

export type MessageRetractResult =
  | { applied: true; target: 'prediction' | 'alert'; id: string; hadVote: boolean }
  | { applied: false; reason: string; retryable?: boolean };

type Target = Pick<MessageLink, 'predictionId' | 'alertId'>;

/** Records (or replaces) the user's vote on what the linked message judges. */
export async function voteOnMessage(
  deps: MessageVoteDeps,
  link: Target,
  vote: MessageVote,
): Promise<MessageVoteResult> {
  try {
    if (link.alertId) {
      await recordAlertFeedback(deps.store, {
        alertId: link.alertId,
        userId: vote.userId,
        trueAlarm: vote.correct,
        source: vote.source,
      });
      return { recorded: true, target: 'alert', alertId: link.alertId };
    }
    if (!link.predictionId) return { recorded: false, reason: 'the message judges neither a prediction nor an alert' };
    const stored = await recordFeedback(
      deps.store,
      {
        predictionId: link.predictionId,
        userId: vote.userId,
        correct: vote.correct,
        ...(vote.trueLabel !== undefined ? { trueLabel: vote.trueLabel } : {}),
        source: vote.source,
      },
      deps.predictionLog,
    );
    return { recorded: true, target: 'prediction', predictionId: link.predictionId, vote: stored };
  } catch (err) {
    if (err instanceof InvalidVoteError || err instanceof UnknownPredictionError) {
      return { recorded: false, reason: err.message };
    }
    if (err instanceof PredictionPendingError) return { recorded: false, reason: err.message, retryable: true };
    throw err;
  }
}

/** Removes the user's vote on what the linked message judges. */
export async function retractOnMessage(
  deps: MessageVoteDeps,
  link: Target,
  userId: string,
): Promise<MessageRetractResult> {
  try {
    if (link.alertId) {
      const hadVote = await retractAlertFeedback(deps.store, link.alertId, userId);
      return { applied: true, target: 'alert', id: link.alertId, hadVote };
    }
    if (!link.predictionId) return { applied: false, reason: 'the message judges neither a prediction nor an alert' };
    const hadVote = await retractFeedback(deps.store, link.predictionId, userId, deps.predictionLog);
    return { applied: true, target: 'prediction', id: link.predictionId, hadVote };
  } catch (err) {
    if (err instanceof InvalidVoteError || err instanceof UnknownPredictionError) {
      return { applied: false, reason: err.message };
    }
    if (err instanceof PredictionPendingError) return { applied: false, reason: err.message, retryable: true };
    throw err;
  }
}
