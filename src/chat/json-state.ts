/**
 * Small pieces of adapter state (an alert's delivery steps, a card's tally) kept as JSON in the store's
 * checkpoints table, so a restart resumes instead of posting twice. A value that no longer parses is
 * reported and treated as absent: the adapter starts that piece afresh rather than stopping.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/types';

export async function readJsonState<T>(
  store: Pick<Store, 'getCheckpoint'>,
  key: string,
  logger: Pick<Logger, 'error'>,
): Promise<T | null> {
  const raw = await store.getCheckpoint(key);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as T;
  } catch (err) {
    logger.error({ err, key }, `unreadable state ${key}; starting it afresh`);
    return null;
  }
}

export function writeJsonState(store: Pick<Store, 'setCheckpoint'>, key: string, value: unknown): Promise<void> {
  return store.setCheckpoint(key, JSON.stringify(value));
}
