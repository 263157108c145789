/**
 * THE function that turns a voter's namespaced platform id into what the Store keeps. Every channel (Slack,
 * Teams, the HTTP API) passes the namespaced id — `slack:<team>:<user>`, `teams:<tenant>:<aad object id>`,
 * `api:<key name>` — and every feedback entry point (./feedback, ./alert-feedback, hence ./message-votes)
 * stores `voterId(store, id)` instead: a keyed hash (src/store/voter-ids.ts). Equality is all votes need, so
 * one vote per user per prediction and retractions work as before; the database no longer says who voted,
 * and one channel's id can never name another channel's voter.
 */
import { hashVoterId } from '../store/voter-ids';
import type { Store } from '../store/types';

export async function voterId(store: Pick<Store, 'voterKey'>, namespacedUserId: string): Promise<string> {
  const { key } = await store.voterKey();
  return hashVoterId(key, namespacedUserId);
}
