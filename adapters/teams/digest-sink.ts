/**
 * The daily digest in Teams: the core's DigestSink port. In every conversation alerts go to (the alert
 * sink's `targets()`: the conversations the app is installed in, filtered by TEAMS_ALERT_SCOPES) the
 * digest is one card (./digest-cards): in a channel a new thread, in a chat a new message, as alerts.
 *
 * Exactly once, with the rules of ./alerts.ts:
 * - what is posted is kept per digest in the Store (checkpoint `teams/digest:<stream>:<date>:<zone>`: per
 *   conversation the card's id, or the intent of a post begun and not confirmed), so a digest already
 *   posted there is not posted again (a run twice, a restart, a replica taking over);
 * - one delivery at a time per digest, whichever process or replica asks: a claim in the Store
 *   (`teams:digest:<stream>:<date>:<zone>`, held `claimTtlMs`, 10 min); another delivery meanwhile does nothing;
 * - the Bot Framework cannot be asked whether an activity arrived, so a post whose outcome is unknown (a
 *   crash between the call and the result, a failure without an answer: ./outbound `isAmbiguous`) is not
 *   posted again — a digest is never doubled, and may then be missing (a warning says so). A failure with
 *   an answer that created nothing is tried again; a conversation the bot was removed from is skipped.
 *
 * Who acknowledged an alert is kept by ./alerts.ts in the alert's state (`teams/alert:<id>`, `marks.acks`):
 * `teamsAcknowledgements` reads it for the digest.
 */
import type { Logger } from '../../src/log';
import type { Serial } from '../../src/chat/once';
import { readJsonState, writeJsonState } from '../../src/chat/json-state';
import type { Store } from '../../src/store/types';
import { digestForChat, digestKey, type AckReader, type DigestContent, type DigestSink } from '../../src/trends/digest';
import type { StoredConversation } from './conversations';
import { digestActivity } from './digest-cards';
import { connectorStatus, isAmbiguous, isGone, type Outbound } from './outbound';

export interface TeamsDigestSinkOptions {
  outbound: Pick<Outbound, 'send' | 'startThread'>;
  store: Pick<Store, 'getCheckpoint' | 'setCheckpoint' | 'claim'>;
  /** The conversations alerts go to (TeamsAlertSink.targets). */
  targets: () => Promise<StoredConversation[]>;
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  serial: Serial;
  /** How long one delivery holds the digest against another (default 10 min). */
  claimTtlMs?: number;
  wallClock?: () => number;
}

interface Posted {
  /** The card's activity id; null when its outcome is unknown (counted as posted: never doubled). */
  id?: string | null;
  /** Wall-clock ms of a post begun and not confirmed. */
  begun?: number;
}

interface DigestState {
  /** digestKey */
  key: string;
  conversations: Record<string, Posted>;
}

export class TeamsDigestSink implements DigestSink {
  readonly name = 'teams';
  private readonly wall: () => number;

  constructor(private readonly opts: TeamsDigestSinkOptions) {
    this.wall = opts.wallClock ?? Date.now;
  }

  digest(received: DigestContent): Promise<void> {
    const c = digestForChat(received); // the mentions' text decoded once, here
    const key = `teams/digest:${digestKey(c)}`;
    return this.opts.serial.run(key, async () => {
      const { store, logger } = this.opts;
      const targets = await this.opts.targets();
      const left = (s: DigestState) => targets.filter((t) => s.conversations[t.key]?.id === undefined);
      if (!left(await this.load(c)).length) {
        if (!targets.length)
          logger.warn(
            { stream: c.stream },
            'teams: no conversation to post the digest to; install the app in a channel',
          );
        return;
      }
      if (!(await store.claim(`teams:digest:${digestKey(c)}`, this.opts.claimTtlMs ?? 10 * 60_000))) {
        logger.info(
          { stream: c.stream, date: c.day.date },
          `teams: the digest of ${c.stream} for ${c.day.date} is being posted by another delivery; not posted here`,
        );
        return;
      }
      const state = await this.load(c);
      const failures: string[] = [];
      for (const conversation of left(state)) {
        try {
          await this.deliverTo(conversation, state, c);
        } catch (err) {
          if (isGone(err))
            logger.warn(
              { conversation: conversation.key, status: connectorStatus(err) },
              'teams: the bot can no longer post in this conversation (removed?); no digest there',
            );
          else failures.push(`${conversation.key}: ${(err as Error).message}`);
        }
      }
      if (failures.length)
        throw new Error(`the digest of ${c.stream} for ${c.day.date} is not fully in Teams (${failures.join('; ')})`);
    });
  }

  private async deliverTo(conversation: StoredConversation, state: DigestState, c: DigestContent): Promise<void> {
    const { outbound, logger } = this.opts;
    const posted = (state.conversations[conversation.key] ??= {});
    if (posted.begun !== undefined) {
      logger.warn(
        {
          stream: c.stream,
          date: c.day.date,
          conversation: conversation.key,
          begunAt: new Date(posted.begun).toISOString(),
        },
        'teams: the digest card was begun before and its outcome is unknown; the Bot Framework cannot be asked ' +
          'whether it arrived, so it is not posted again (it may be missing)',
      );
      posted.id = null;
      delete posted.begun;
      await this.save(state);
      return;
    }
    posted.begun = this.wall();
    await this.save(state); // the intent
    const message = digestActivity(c);
    try {
      if (conversation.scope === 'channel' && conversation.teamsChannelId) {
        const thread = await outbound.startThread(
          conversation.reference,
          conversation.teamsChannelId,
          conversation.tenantId,
          message,
        );
        posted.id = thread.activityId;
      } else {
        posted.id = await outbound.send(conversation.reference, message);
      }
    } catch (err) {
      if (!isAmbiguous(err)) {
        delete posted.begun; // answered: nothing was created, try again next time
        await this.save(state);
      }
      throw err;
    }
    delete posted.begun;
    await this.save(state);
    logger.info(
      { stream: c.stream, date: c.day.date, conversation: conversation.key, card: posted.id },
      'teams: digest posted',
    );
  }

  private async load(c: DigestContent): Promise<DigestState> {
    const state = await readJsonState<DigestState>(this.opts.store, `teams/digest:${digestKey(c)}`, this.opts.logger);
    return state && typeof state.conversations === 'object' && state.conversations
      ? state
      : { key: digestKey(c), conversations: {} };
  }

  private save(state: DigestState): Promise<void> {
    return writeJsonState(this.opts.store, `teams/digest:${state.key}`, state);
  }
}

/** Who acknowledged an alert in Teams: the `marks.acks` ./alerts.ts keeps in `teams/alert:<alert id>`. */
export function teamsAcknowledgements(store: Pick<Store, 'getCheckpoint'>, logger: Pick<Logger, 'error'>): AckReader {
  return async (alertId) => {
    const state = await readJsonState<{ marks?: { acks?: Array<{ id?: unknown; name?: unknown; at?: unknown }> } }>(
      store,
      `teams/alert:${alertId}`,
      logger,
    );
    return (state?.marks?.acks ?? [])
      .filter(
        (a): a is { id: string; name?: string; at: string } => typeof a.id === 'string' && typeof a.at === 'string',
      )
      .map((a) => ({
        platform: 'teams',
        user: a.id,
        ...(typeof a.name === 'string' && a.name ? { name: a.name } : {}),
        at: a.at,
      }));
  };
}
