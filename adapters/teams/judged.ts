/**
 * The state of each card that can be judged (a `sentiment` answer, a mention in an alert's thread): what
 * it shows and the votes cast on it, so it can be drawn again when a vote changes it (the tally, the
 * "what should it have been?" question after a ❌). Kept in the Store's checkpoint table under
 * `teams/card:<conversation id>/<activity id>` — the same message identity as the Store's message links.
 */
import type { Store } from '../../src/store/types';
import type { JudgedCardState } from './cards';

export function cardKey(conversationId: string, activityId: string): string {
  return `teams/card:${conversationId}/${activityId}`;
}

export class JudgedCards {
  constructor(private readonly store: Store) {}

  async load(conversationId: string, activityId: string): Promise<JudgedCardState | null> {
    const raw = await this.store.getCheckpoint(cardKey(conversationId, activityId));
    if (!raw) return null;
    try {
      const state = JSON.parse(raw) as JudgedCardState;
      return state && (state.kind === 'answer' || state.kind === 'mention') ? state : null;
    } catch {
      return null;
    }
  }

  save(conversationId: string, activityId: string, state: JudgedCardState): Promise<void> {
    return this.store.setCheckpoint(cardKey(conversationId, activityId), JSON.stringify(state));
  }
}
