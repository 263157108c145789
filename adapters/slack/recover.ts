/**
 * After a crash or an answer lost on the way, a post that was begun may or may not be in Slack. Both the
 * alert sink (./alerts.ts) and the digest sink (./digest-sink.ts) look it up before posting it again.
 */
import type { Logger } from '../../src/log';
import { classify, slackErrorCode } from './web';

/** Why a post cannot be looked up (not a Slack failure): it is posted again, with a warning. */
export class CannotTell extends Error {}

/**
 * A post begun before: found and adopted, or null to post it (also when it cannot be looked up, with a
 * warning that says why and how to fix it). Throws when Slack cannot be reached now: the next try asks again.
 */
export async function recoverPost<T>(
  logger: Pick<Logger, 'info' | 'warn'>,
  what: string,
  find: () => Promise<T | null>,
): Promise<T | null> {
  try {
    const found = await find();
    logger.info(
      { step: what, found: Boolean(found) },
      found
        ? `slack: ${what} was posted before (a crash or an unknown outcome): adopted, not posted again`
        : `slack: ${what} was begun but is not in Slack: posting it`,
    );
    return found;
  } catch (err) {
    if (!(err instanceof CannotTell) && classify(err).retry) throw err;
    const code = slackErrorCode(err);
    const fix =
      code === 'missing_scope'
        ? ' (the app needs channels:history / groups:history: reinstall it with adapters/slack/manifest.yml)'
        : code === 'not_in_channel'
          ? ' (the bot is not in the channel: invite it)'
          : '';
    logger.warn(
      { err, step: what, slackError: code },
      `slack: cannot check whether ${what} was posted before a crash: ${code ?? (err as Error).message}${fix}; ` +
        'posting it, so it may show twice',
    );
    return null;
  }
}
