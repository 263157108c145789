/**
 * Votes on alerts (a ✅ / ❌ reaction on an alert's headline, whatever the chat platform): was it a real bad
 * buzz or a false alarm? One vote per user per alert, retractable — the same rules as votes on predictions.
 *
 * They live in the feedback table under the id `alert:<alert id>` (`correct` = a true alarm). No
 * prediction has such an id, so they never count in the model's production accuracy nor become training
 * examples (both join feedback to predictions). This needs no change to the Store port.
 */
import type { Store } from '../store/types';
import { InvalidVoteError, MAX_ID_CHARS } from './feedback';
import { voterId } from './voter';

export const ALERT_FEEDBACK_PREFIX = 'alert:';

export function alertFeedbackId(alertId: string): string {
  return `${ALERT_FEEDBACK_PREFIX}${alertId}`;
}

function check(value: unknown, code: 'invalid_prediction_id' | 'invalid_user', what: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new InvalidVoteError(code, `${what} is empty`);
  if (value.length > MAX_ID_CHARS) {
    throw new InvalidVoteError(code, `${what} is ${value.length} characters long; the limit is ${MAX_ID_CHARS}`);
  }
  return value;
}

/** Records (or replaces) `userId`'s vote (namespaced id, stored hashed) on the alert: `trueAlarm` false means a false alarm. */
export async function recordAlertFeedback(
  store: Store,
  vote: { alertId: string; userId: string; trueAlarm: boolean; source?: string },
): Promise<void> {
  const id = alertFeedbackId(check(vote.alertId, 'invalid_prediction_id', 'the alert id'));
  await store.recordVote({
    predictionId: id,
    userId: await voterId(store, check(vote.userId, 'invalid_user', 'the user id')),
    correct: vote.trueAlarm === true,
    ...(vote.source ? { source: vote.source } : {}),
  });
}

/** Removes `userId`'s vote on the alert; returns whether there was one. */
export async function retractAlertFeedback(store: Store, alertId: string, userId: string): Promise<boolean> {
  return store.retractVote(
    alertFeedbackId(check(alertId, 'invalid_prediction_id', 'the alert id')),
    await voterId(store, check(userId, 'invalid_user', 'the user id')),
  );
}
