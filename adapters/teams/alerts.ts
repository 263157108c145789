/**
 * Alerts in Teams: the core's ChatSink port.
 *
 * In every conversation the app was installed in (./conversations, filtered by TEAMS_ALERT_SCOPES) an
 * alert is one card — headline, figures, 24 h sparkline, what it is about, the most negative mentions with
 * their links, the chart — and a thread under it:
 *
 * - opening: the card (in a channel: a new thread, POST /v3/conversations; in a chat: a new message), then
 *   each of the most negative mentions as its own card in the thread, linked to its prediction
 *   `x:<tweet id>` so it can be judged;
 * - update: the card updated in place (PUT) and a reply in the thread with the new figures and chart;
 * - resolution: the card updated in place ("Resolved: …") and a reply in the thread.
 *
 * The card is linked to the alert: ✅ / ❌ (its buttons or a reaction) vote real bad buzz / false alarm, and
 * the card shows the tally. While the alert is open the card also has Acknowledge (who is shown on the card)
 * and Snooze 1 h / 4 h (through the trend module: no new alert on that stream meanwhile), as on Slack.
 *
 * Exactly once: every step done (card posted with its id, each mention, each reply) is kept per alert in
 * the Store (checkpoint `teams/alert:<alert id>`) before the next starts. When a step fails the sink throws
 * after trying the other conversations; the trend monitor sends the alert again later and the steps already
 * done are skipped. A conversation the connector answers 403 / 404 for (the bot was removed) is forgotten.
 *
 * Intent, call, result (issue 12). Before each post its intent (`begun`) is written to that state, and after
 * it the result (the card's activity id, the step done). The connector does not retry a post by itself any
 * more (./outbound: creating an activity is not idempotent). When a post's outcome is unknown — a crash
 * between the call and the result, or a failure without an answer (network, timeout, 408, 5xx) — nothing
 * can tell whether Teams shows it: the Bot Framework connector has no way to find an activity by a key of
 * ours (no metadata, no idempotency key, no client-chosen activity id; reading a channel's messages needs
 * Microsoft Graph with extra permissions). So the next delivery decides, and says so in a warning:
 *   - the alert card is posted again: an alert is never lost, and may show twice;
 *   - a thread reply (a mention card, an update, the resolution) is not posted again: it is never doubled,
 *     and may be missing (the card itself is updated in place with the same news).
 * A failure with an answer that created nothing (403, 404, 400, 429 after its waits) is retried normally.
 *
 * Grouped ops alerts (`opsAlert`, src/ops/error-alerts.ts): ONE card per alert and conversation (in a channel,
 * a new thread), updated in place (PUT) as the alert evolves, the last time when it is resolved. Its state is
 * kept as `teams/ops-alert:<alert id>` (the card's activity id, the revision shown), so whichever replica
 * leads updates the same card; the card's intent follows the rule above (posted again, with a warning, when
 * its outcome is unknown). Ops notices and ops alerts go to `opsConversations` (TEAMS_OPS_CONVERSATIONS:
 * conversation ids the app is installed in, or Teams channel ids of a team it is installed in), by default
 * the conversations alerts go to.
 */
import type { ConversationReference } from 'botbuilder';
import type { Logger } from '../../src/log';
import { mentionPredictionId } from '../../src/store/common';
import type { Store } from '../../src/store/types';
import type { AlertContent } from '../../src/trends/content';
import type { ChatSink } from '../../src/trends/sink';
import type { ResumeOutcome } from '../../src/mentions/resume';
import type { OpsAlertContent } from '../../src/ops/ops-alert';
import { opsAlertActivity } from './ops-cards';
import {
  ackReply,
  alertCard,
  alertReplyCard,
  cardMessage,
  chartOf,
  clip,
  md,
  mentionCard,
  snoozeReply,
  type AlertMarks,
  type AlertSnapshot,
  type CardChart,
  type MentionCardState,
  type StatusInfo,
} from './cards';
import { baseConversationId, type ConversationRegistry, type Scope, type StoredConversation } from './conversations';
import type { JudgedCards } from './judged';
import type { Serial } from '../../src/chat/once';
import { connectorStatus, isAmbiguous, isGone, type Outbound } from './outbound';
import { readJsonState, writeJsonState } from '../../src/chat/json-state';
import { dataNow, HOUR_MS } from '../../src/chat/snooze';
import { alertForChat } from '../../src/chat/text';
import type { ServiceUrlPolicy } from './service-url';

export const PLATFORM = 'teams';

/** A snooze that would end less than this after the one already set is a repeated click. */
const REPEAT_MS = 5 * 60_000;

/**
 * What the adapter needs from the trend module (its TrendMonitor fits): `status` for the status command and
 * the snooze's start (the stream's data clock), `snooze` for the alert card's Snooze buttons.
 */
export interface TeamsTrends {
  status?(): Promise<StatusInfo['streams']>;
  /** No new alert (nor update) on `stream` until `until`, on the mentions' clock. */
  snooze?(stream: string, until: Date): Promise<void>;
  /** `resume`: paused mention sources tried again now (src/mentions/resume.ts). */
  resumeSources?(): Promise<ResumeOutcome>;
}

/** A click on Acknowledge / Snooze that cannot be done: the message says why, to the user. */
export class AlertActionError extends Error {}

/** Who clicked: the Entra object id (else the channel account id) and the display name. */
export interface AlertUser {
  id: string;
  name?: string;
}

interface Target {
  /** Where the card lives: in a channel, the thread's conversation (`<channel>;messageid=<card id>`). */
  reference: Partial<ConversationReference>;
  /** The card's activity id. */
  cardId: string;
  /** Steps done: `mention:<id>`, `reply:<at>`, `resolved`. */
  done: string[];
  /** Steps begun whose outcome is unknown: wall-clock ms of the intent (absent before issue 12). */
  begun?: Record<string, number>;
}

interface AlertState {
  alertId: string;
  stream: string;
  content: AlertSnapshot;
  /** The latest chart (drawn again with the card when a vote changes the tally). */
  chart?: CardChart;
  /** By user id: true = a real bad buzz. */
  votes: Record<string, boolean>;
  /** Acknowledge / Snooze (absent in a state stored before the buttons). */
  marks?: AlertMarks;
  /** By stored conversation key. */
  targets: Record<string, Target>;
  /** Cards begun whose outcome is unknown, by stored conversation key: wall-clock ms of the intent. */
  begun?: Record<string, number>;
}

/** An ops alert's card in one conversation. */
interface OpsTarget {
  reference: Partial<ConversationReference>;
  cardId: string;
  /** The revision the card shows. */
  revision: number;
}

/** One ops alert in Teams (`teams/ops-alert:<alert id>`). */
interface OpsAlertState {
  content: OpsAlertContent;
  /** By stored conversation key. */
  targets: Record<string, OpsTarget>;
  /** Cards begun whose outcome is unknown, by stored conversation key: wall-clock ms of the intent. */
  begun?: Record<string, number>;
}

export interface TeamsAlertSinkOptions {
  outbound: Outbound;
  store: Store;
  conversations: ConversationRegistry;
  cards: JudgedCards;
  scopes: readonly Scope[];
  /** TEAMS_OPS_CONVERSATIONS: where ops notices and ops alerts go; empty: where alerts go. */
  opsConversations?: readonly string[];
  serial: Serial;
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** The trend module, for Snooze. A getter, as the monitor may be built after. */
  trends?: () => TeamsTrends | undefined;
  /** Where replies may go: a stored conversation whose serviceUrl it refuses gets nothing (logged once). */
  serviceUrls?: ServiceUrlPolicy;
  now?: () => number;
}

export class TeamsAlertSink implements ChatSink {
  readonly name = 'teams';
  private readonly warnedEmpty = new Set<string>();
  private readonly warnedServiceUrl = new Set<string>();
  private readonly warnedOps = new Set<string>();

  private readonly now: () => number;
  private readonly wall: () => number = Date.now;

  constructor(private readonly opts: TeamsAlertSinkOptions) {
    this.now = opts.now ?? Date.now;
  }

  alertOpened(alert: AlertContent): Promise<void> {
    return this.deliver(alert);
  }

  /** A plain message in each ops conversation (by default the conversations that get alerts). */
  async opsNotice(text: string): Promise<void> {
    for (const conversation of await this.opsTargets()) {
      await this.opts.outbound.send(conversation.reference, { type: 'message', text: `⚠️ Sentinel: ${md(text)}` });
    }
  }

  alertUpdated(alert: AlertContent): Promise<void> {
    return this.deliver(alert);
  }

  alertResolved(alert: AlertContent): Promise<void> {
    return this.deliver(alert);
  }

  /** The conversations alerts go to now. */
  async targets(): Promise<StoredConversation[]> {
    return (await this.opts.conversations.list()).filter((c) => this.opts.scopes.includes(c.scope) && this.allowed(c));
  }

  /**
   * The conversations ops notices and ops alerts go to: those TEAMS_OPS_CONVERSATIONS names (a stored
   * conversation's id, or the Teams channel id alerts threads start in), else the alert conversations. An id
   * the app was never installed in gets nothing, and a warning once.
   */
  async opsTargets(): Promise<StoredConversation[]> {
    const wanted = this.opts.opsConversations ?? [];
    if (!wanted.length) return this.targets();
    const stored = (await this.opts.conversations.list()).filter((c) => this.allowed(c));
    const out: StoredConversation[] = [];
    for (const id of wanted) {
      const c = stored.find((x) => x.reference.conversation?.id === id || x.teamsChannelId === id);
      if (c && !out.includes(c)) out.push(c);
      if (!c && !this.warnedOps.has(id)) {
        this.warnedOps.add(id);
        this.opts.logger.warn(
          { conversation: id },
          `teams: TEAMS_OPS_CONVERSATIONS names ${id}, where the app is not installed (or not yet seen): ` +
            'it gets no ops notices nor ops alerts until the app is added there',
        );
      }
    }
    return out;
  }

  /** Whether replies may go to this stored conversation's serviceUrl (a refused one is logged once). */
  private allowed(c: StoredConversation): boolean {
    const policy = this.opts.serviceUrls;
    if (!policy || policy.allows(c.reference.serviceUrl)) return true;
    if (!this.warnedServiceUrl.has(c.key)) {
      this.warnedServiceUrl.add(c.key);
      this.opts.logger.warn(
        { conversation: c.key, serviceUrl: c.reference.serviceUrl },
        `teams: a stored conversation's serviceUrl is not allowed (${policy.describe()}); it gets no alerts`,
      );
    }
    return false;
  }

  /**
   * A grouped ops alert: its card posted once in each ops conversation, then updated in place. An older
   * revision than the one kept (a send retried late) changes nothing.
   */
  opsAlert(alert: OpsAlertContent): Promise<void> {
    return this.opts.serial.run(opsKey(alert.id), async () => {
      const state: OpsAlertState = (await this.loadOps(alert.id)) ?? { content: alert, targets: {} };
      const shown = state.content;
      if (!(alert.revision < shown.revision || (shown.state === 'resolved' && alert.state === 'open')))
        state.content = alert;
      const conversations = await this.opsTargets();
      if (!conversations.length && !this.warnedEmpty.has(alert.id)) {
        this.warnedEmpty.add(alert.id);
        this.opts.logger.warn(
          { alert: alert.id },
          'teams: no conversation to post the ops alert to; install the app in a channel (or see TEAMS_OPS_CONVERSATIONS)',
        );
      }
      const failures = await this.toEach(conversations, (conversation) => this.opsAlertTo(conversation, state));
      await this.saveOps(state);
      if (failures.length) throw new Error(`the ops alert ${alert.id} is not fully in Teams (${failures.join('; ')})`);
    });
  }

  /**
   * `deliver` to each conversation, one after the other; a conversation the bot was removed from is forgotten
   * (it gets no more alerts). Returns the other failures, one line each, for the caller to throw.
   */
  private async toEach(
    conversations: StoredConversation[],
    deliver: (conversation: StoredConversation) => Promise<void>,
  ): Promise<string[]> {
    const failures: string[] = [];
    for (const conversation of conversations) {
      try {
        await deliver(conversation);
      } catch (err) {
        if (isGone(err)) {
          await this.opts.conversations.remove((c) => c.key === conversation.key);
          this.opts.logger.warn(
            { conversation: conversation.key, name: conversation.name, status: connectorStatus(err) },
            'teams: the bot can no longer post in this conversation (removed?); it gets no more alerts',
          );
        } else {
          failures.push(`${conversation.key}: ${(err as Error).message}`);
        }
      }
    }
    return failures;
  }

  private async opsAlertTo(conversation: StoredConversation, state: OpsAlertState): Promise<void> {
    const c = state.content;
    const target = state.targets[conversation.key];
    if (target) {
      if (target.revision >= c.revision) return;
      await this.opts.outbound.update(target.reference, target.cardId, opsAlertActivity(c));
      target.revision = c.revision;
      await this.saveOps(state);
      return;
    }
    const begun = (state.begun ??= {});
    if (begun[conversation.key] !== undefined) {
      this.opts.logger.warn(
        { alert: c.id, conversation: conversation.key, begunAt: new Date(begun[conversation.key]).toISOString() },
        'teams: the ops alert card was begun before and its outcome is unknown; the Bot Framework cannot be ' +
          'asked whether it arrived, so it is posted again and may show twice',
      );
    }
    begun[conversation.key] = this.wall();
    await this.saveOps(state); // the intent
    let posted: { reference: Partial<ConversationReference>; cardId: string };
    try {
      posted = await this.postCard(conversation, opsAlertActivity(c));
    } catch (err) {
      if (!isAmbiguous(err)) delete begun[conversation.key]; // answered: nothing was created
      throw err;
    }
    state.targets[conversation.key] = { ...posted, revision: c.revision };
    delete begun[conversation.key];
    await this.saveOps(state); // from here on, this card is only updated
    this.opts.logger.info(
      { alert: c.id, conversation: conversation.key, card: posted.cardId },
      `teams: ops alert posted: ${c.id}`,
    );
  }

  /** A new card: in a channel, the first message of a new thread (whose conversation the reference names). */
  private async postCard(
    conversation: StoredConversation,
    message: Parameters<Outbound['send']>[1],
  ): Promise<{ reference: Partial<ConversationReference>; cardId: string }> {
    const { outbound } = this.opts;
    if (conversation.scope === 'channel' && conversation.teamsChannelId) {
      const thread = await outbound.startThread(
        conversation.reference,
        conversation.teamsChannelId,
        conversation.tenantId,
        message,
      );
      return {
        reference: {
          ...conversation.reference,
          conversation: { ...conversation.reference.conversation!, id: thread.conversationId },
        },
        cardId: thread.activityId,
      };
    }
    return { reference: conversation.reference, cardId: await outbound.send(conversation.reference, message) };
  }

  /**
   * A vote on the alert changed (`correct` undefined: retracted): the tally on its cards follows. The vote
   * itself is already in the Store; a card that cannot be updated is logged, not retried.
   */
  noteVote(alertId: string, userId: string, correct: boolean | undefined): Promise<void> {
    return this.opts.serial.run(key(alertId), async () => {
      const state = await this.load(alertId);
      if (!state) return;
      if (correct === undefined) delete state.votes[userId];
      else state.votes[userId] = correct;
      await this.save(state);
      await this.refreshCards(state);
    });
  }

  /**
   * Records who acknowledged and shows it on the alert's cards. The text to reply in the thread, or null
   * when this user had already acknowledged it (a repeated click changes nothing).
   */
  acknowledge(alertId: string, user: AlertUser): Promise<string | null> {
    return this.opts.serial.run(key(alertId), async () => {
      const state = await this.load(alertId);
      if (!state) throw new AlertActionError('I no longer know this alert, so I cannot record that.');
      const marks = (state.marks ??= { acks: [] });
      if (marks.acks.some((a) => a.id === user.id)) return null;
      marks.acks.push({ ...user, at: new Date(this.now()).toISOString() });
      await this.save(state);
      this.opts.logger.info({ alert: alertId, user: user.id }, `teams: alert ${alertId} acknowledged`);
      await this.refreshCards(state);
      return ackReply(user);
    });
  }

  /**
   * Snoozes new alerts on the alert's stream for `hours` from the stream's data clock, through the trend
   * module, and shows it on the alert's cards. The text to reply in the thread, or null when the stream is
   * already snoozed about that long or longer (a repeated click changes nothing).
   */
  snooze(alertId: string, hours: number, user: AlertUser): Promise<string | null> {
    return this.opts.serial.run(key(alertId), async () => {
      const controls = this.opts.trends?.();
      if (!controls?.snooze)
        throw new AlertActionError('Snoozing needs the trend detection, which is not running here.');
      const state = await this.load(alertId);
      if (!state) throw new AlertActionError('I no longer know this alert, so I cannot snooze its stream.');
      const from = await dataNow(controls, state.stream, this.now);
      const until = new Date(from + hours * HOUR_MS).toISOString();
      const marks = (state.marks ??= { acks: [] });
      // A click again (a double click, another user, the clock a few minutes on) adds nothing worth saying.
      if (marks.snooze && Date.parse(marks.snooze.until) >= Date.parse(until) - REPEAT_MS) return null;
      await controls.snooze(state.stream, new Date(until));
      marks.snooze = { ...user, until, hours };
      await this.save(state);
      this.opts.logger.info(
        { alert: alertId, stream: state.stream, user: user.id, until },
        `teams: ${state.stream} snoozed`,
      );
      await this.refreshCards(state);
      return snoozeReply(user, state.stream, hours, until);
    });
  }

  /** Every card of the alert updated in place; one that cannot be is logged, not retried. */
  private async refreshCards(state: AlertState): Promise<void> {
    for (const t of Object.values(state.targets)) {
      try {
        await this.opts.outbound.update(t.reference, t.cardId, this.card(state));
      } catch (err) {
        this.opts.logger.warn(
          { err, alert: state.alertId, status: connectorStatus(err) },
          'teams: could not update the alert card',
        );
      }
    }
  }

  private card(state: AlertState) {
    const votes = Object.values(state.votes);
    const real = votes.filter(Boolean).length;
    return cardMessage(
      alertCard(state.content, state.chart, { real, falseAlarm: votes.length - real }, state.marks),
      (state.content.kind === 'resolved' ? 'Resolved: ' : '') + state.content.headline,
    );
  }

  private deliver(received: AlertContent): Promise<void> {
    const alert = alertForChat(received); // the mentions' text decoded once, here
    return this.opts.serial.run(key(alert.alertId), async () => {
      const { chart: _chart, ...snapshot } = alert;
      const state: AlertState = (await this.load(alert.alertId)) ?? {
        alertId: alert.alertId,
        stream: alert.stream,
        content: snapshot,
        votes: {},
        marks: { acks: [] },
        targets: {},
      };
      // A message sent again (after a failure) may be older than what is shown: never go back.
      if (!(state.content.kind === 'resolved' && alert.kind !== 'resolved') && alert.at >= state.content.at) {
        state.content = snapshot;
        const chart = chartOf(alert);
        if (chart) state.chart = chart;
      }
      const conversations = await this.targets();
      if (!conversations.length) {
        if (!this.warnedEmpty.has(alert.alertId)) {
          this.warnedEmpty.add(alert.alertId);
          this.opts.logger.warn(
            { alert: alert.alertId, scopes: this.opts.scopes },
            'teams: no conversation to post the alert to; install the app in a channel (or see TEAMS_ALERT_SCOPES)',
          );
        }
        await this.save(state);
        return;
      }
      const failures = await this.toEach(conversations, (conversation) => this.deliverTo(conversation, state, alert));
      await this.save(state);
      if (failures.length) {
        throw new Error(`the ${alert.kind} alert ${alert.alertId} is not fully in Teams (${failures.join('; ')})`);
      }
    });
  }

  private async deliverTo(conversation: StoredConversation, state: AlertState, alert: AlertContent): Promise<void> {
    const { outbound, store, logger } = this.opts;
    let target = state.targets[conversation.key];
    let fresh = false;
    if (!target) {
      const message = this.card(state);
      const begun = (state.begun ??= {});
      if (begun[conversation.key] !== undefined) {
        logger.warn(
          {
            alert: alert.alertId,
            conversation: conversation.key,
            begunAt: new Date(begun[conversation.key]).toISOString(),
          },
          'teams: the alert card was begun before and its outcome is unknown (a crash, or a failure without an ' +
            'answer); the Bot Framework cannot be asked whether it arrived, so it is posted again and may show twice',
        );
      }
      begun[conversation.key] = this.wall();
      await this.save(state); // the intent
      try {
        target = { ...(await this.postCard(conversation, message)), done: [] };
      } catch (err) {
        if (!isAmbiguous(err)) delete begun[conversation.key]; // answered: nothing was created
        throw err;
      }
      state.targets[conversation.key] = target;
      delete begun[conversation.key];
      fresh = true;
      await this.save(state); // from here on, this card is never posted again
      await store.linkMessage({
        platform: PLATFORM,
        channel: baseConversationId(target.reference.conversation!.id),
        messageId: target.cardId,
        alertId: alert.alertId,
      });
      logger.info(
        { alert: alert.alertId, conversation: conversation.key, name: conversation.name, card: target.cardId },
        `teams: alert posted (${alert.kind})`,
      );
    } else {
      await outbound.update(target.reference, target.cardId, this.card(state));
    }

    const t = target;
    const errors: unknown[] = [];
    const step = async (id: string, work: () => Promise<void>) => {
      if (t.done.includes(id)) return;
      const begun = (t.begun ??= {});
      try {
        if (begun[id] !== undefined) {
          // Its outcome is unknown and cannot be known: never doubled, perhaps missing (see the header).
          logger.warn(
            { alert: alert.alertId, conversation: conversation.key, step: id },
            `teams: ${id} of alert ${alert.alertId} was begun before and its outcome is unknown; the Bot Framework ` +
              'cannot be asked whether it arrived, so it is not posted again (it may be missing)',
          );
        } else {
          begun[id] = this.wall();
          await this.save(state); // the intent
          try {
            await work();
          } catch (err) {
            if (!isAmbiguous(err)) delete begun[id]; // answered: nothing was created, try again next time
            throw err;
          }
        }
        t.done.push(id);
        delete begun[id];
        await this.save(state);
      } catch (err) {
        errors.push(err);
      }
    };
    const conversationId = baseConversationId(t.reference.conversation!.id);

    if (alert.kind === 'opened' || fresh) {
      for (const m of alert.mentions) {
        await step(`mention:${m.id}`, async () => {
          const card: MentionCardState = {
            kind: 'mention',
            predictionId: mentionPredictionId(m.id),
            stream: alert.stream,
            mention: m,
            votes: {},
          };
          const id = await outbound.reply(
            t.reference,
            t.cardId,
            cardMessage(mentionCard(card), `${Math.round(m.negative * 100)} % negative: ${clip(m.text, 150, true)}`),
          );
          if (!id) return;
          await store.linkMessage({
            platform: PLATFORM,
            channel: conversationId,
            messageId: id,
            predictionId: card.predictionId,
          });
          await this.opts.cards.save(conversationId, id, card);
        });
      }
    }
    const chart = chartOf(alert);
    if (alert.kind === 'updated' && !fresh) {
      await step(`reply:${alert.at}`, async () => {
        await outbound.reply(
          t.reference,
          t.cardId,
          cardMessage(alertReplyCard(alert, chart), `Update: ${alert.headline}`),
        );
      });
    }
    if (alert.kind === 'resolved') {
      await step('resolved', async () => {
        await outbound.reply(
          t.reference,
          t.cardId,
          cardMessage(alertReplyCard(alert, chart), `Over: ${alert.headline}`),
        );
      });
    }
    if (errors.length) throw errors[0];
  }

  private loadOps(alertId: string): Promise<OpsAlertState | null> {
    return readJsonState<OpsAlertState>(this.opts.store, opsKey(alertId), this.opts.logger);
  }

  private saveOps(state: OpsAlertState): Promise<void> {
    return writeJsonState(this.opts.store, opsKey(state.content.id), state);
  }

  private load(alertId: string): Promise<AlertState | null> {
    return readJsonState<AlertState>(this.opts.store, key(alertId), this.opts.logger);
  }

  private save(state: AlertState): Promise<void> {
    return writeJsonState(this.opts.store, key(state.alertId), state);
  }
}

function key(alertId: string): string {
  return `teams/alert:${alertId}`;
}

function opsKey(alertId: string): string {
  return `teams/ops-alert:${alertId}`;
}
