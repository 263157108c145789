/**
 * What Sentinel does with what Teams sends (a TeamsActivityHandler): commands, card buttons, reactions,
 * installation. Everything goes through the core's ports (ScorerSlot, Store, PredictionLog, the feedback
 * rules) and the turn's own connector (replies, cards updated in place).
 *
 * - message: `sentiment <text>` / `/sentiment <text>` (in a channel after @Sentinel, whose mention is
 *   stripped), `help`, `status`, `digest [stream] [YYYY-MM-DD]` (the daily digest, yesterday by default),
 *   `stats` (production accuracy per model version, the confusion of judged predictions); a card button (Action.Submit) arrives as a message whose `value` is the
 *   button's data. On an alert's card, Acknowledge / Snooze go to the alert sink (which updates the card in
 *   place) and the click is answered in the thread.
 * - messageReaction: 👍 `like` / ✅ vote right, 😠 `angry` / ❌ vote wrong (./reactions), on a message linked
 *   to a prediction or an alert; removing the reaction retracts the vote. After a ❌ the card asks for the
 *   right label.
 * - installationUpdate / conversationUpdate: the conversation is kept for alerts (or forgotten).
 *
 * Reactions of one user on one message are applied in order. A reaction on a message Sentinel does not
 * judge is ignored; an unknown reaction id is logged.
 *
 * An activity the Bot Framework delivers again (it retries when the bot did not answer within 15 s) has the
 * same id: it is claimed in the Store (`ClaimedIds`, key `teams:activity:<conversation id>:<activity id>`),
 * so it is applied once even when the retry lands on another replica or after a restart. Invokes are not
 * claimed (each needs its own answer).
 *
 * The voter is `teams:<tenant id>:<Entra object id, else channel account id>` (src/chat/voters.ts), read
 * from the authenticated activity, never from text. A message's text is decoded once (`parseCommand`);
 * everything shown is escaped by ./cards (`md`, `plain`). A text the model cannot read
 * (`Scorer.unreadable`) gets a plain answer: no card, no prediction, no ✅ / ❌; so does a text in a language
 * the model does not read, asked first ("I only read English tweets so far — this looks like French.").
 */
import { TeamsActivityHandler, TurnContext, type Activity, type MessageReaction } from 'botbuilder';
import type { Logger } from '../../src/log';
import type { PredictionLog } from '../../src/feedback/prediction-log';
import { retractOnMessage, voteOnMessage, type MessageVoteResult } from '../../src/feedback/message-votes';
import type { ScorerSlot } from '../../src/sentiment/scorer-slot';
import type { Label } from '../../src/sentiment/types';
import type { MessageLink, Store } from '../../src/store/types';
import { AlertActionError, PLATFORM, type AlertUser, type TeamsAlertSink, type TeamsTrends } from './alerts';
import {
  answerCard,
  cardMessage,
  clip,
  helpCard,
  judgedCard,
  md,
  parseSubmit,
  statusCard,
  type AnswerCardState,
  type JudgedCardState,
  type StatusInfo,
  type SubmitData,
} from './cards';
import { baseConversationId, conversationFrom, type ConversationRegistry, type Scope } from './conversations';
import type { JudgedCards } from './judged';
import { ClaimedIds, InFlight, Serial } from '../../src/chat/once';
import { reactionMeaning } from './reactions';
import { collectStatus } from '../../src/chat/status';
import { answerResume } from '../../src/mentions/resume';
import { decodeOnce } from '../../src/chat/text';
import { nothingToScore, onlyEnglish } from '../../src/chat/readable';
import { identifyLanguage, loadLanguageIdentifier } from '../../src/sentiment/language';
import { teamsVoter } from '../../src/chat/voters';
import { measureAccuracy } from '../../src/feedback/production-accuracy';
import {
  DigestDayError,
  UnknownStreamError,
  digestForChat,
  digestsFor,
  type DigestProvider,
} from '../../src/trends/digest';
import { digestActivity, statsActivity } from './digest-cards';

export type { TeamsTrends } from './alerts';

export interface BotDeps {
  slot: ScorerSlot;
  store: Store;
  predictionLog: PredictionLog;
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  maxTextChars: number;
  conversations: ConversationRegistry;
  cards: JudgedCards;
  sink: TeamsAlertSink;
  scopes: readonly Scope[];
  trends: () => TeamsTrends | undefined;
  serial: Serial;
  inFlight: InFlight;
  /** Deliveries already applied (default: claimed in `store`). */
  seen?: ClaimedIds;
  /** The daily digests, for `digest` (a getter: built after the adapter); undefined: not running. */
  digests?: () => DigestProvider | undefined;
}

export type Command =
  | { kind: 'score'; text: string }
  | { kind: 'help'; note?: string }
  | { kind: 'status' }
  | { kind: 'resume' }
  | { kind: 'digest'; args: string }
  | { kind: 'stats' }
  | { kind: 'unknown'; text: string };

/**
 * The command in a message's text, the bot's @mention already removed. Teams encodes `&`, `<`, `>` (and
 * a non-breaking space) in the text: decoded here, once, after the mentions' `<at>` tags are removed (so
 * a typed `&lt;at&gt;` stays text).
 */
export function parseCommand(raw: string): Command {
  const text = decodeOnce(raw.replace(/<at>[^<]*<\/at>/gi, ' ')) // a mention of the bot that removeRecipientMention missed
    .replace(/\u00a0/g, ' ')
    .trim();
  const m = /^\/?sentiment\b\s*([\s\S]*)$/i.exec(text);
  const rest = m ? m[1].trim() : text;
  const word = rest.toLowerCase();
  if (word === 'help' || word === '/help' || word === '-h' || word === '--help' || word === '?')
    return { kind: 'help' };
  if (word === 'status' || word === '/status') return { kind: 'status' };
  if (word === 'resume' || word === '/resume') return { kind: 'resume' };
  if (word === 'stats' || word === '/stats') return { kind: 'stats' };
  const digest = /^\/?digest(?:\s+([\s\S]*))?$/i.exec(rest);
  if (digest) return { kind: 'digest', args: (digest[1] ?? '').trim() };
  if (m) {
    return rest ? { kind: 'score', text: rest } : { kind: 'help', note: 'Tell me what to score: `sentiment <text>`.' };
  }
  return text ? { kind: 'unknown', text } : { kind: 'help' };
}

interface Who {
  id: string;
  name?: string;
}

/**
 * The voter: `teams:<tenant>:<Entra object id>` when Teams gives the object id (the same person in every
 * chat), else the channel account id. The tenant comes from the activity's channel data or conversation;
 * the Bot Framework Emulator sends none, and its channel id (`emulator`) stands in.
 */
export function userOf(activity: Partial<Activity>): Who | undefined {
  const from = activity.from;
  const id = from?.aadObjectId || from?.id;
  if (typeof id !== 'string' || !id) return undefined;
  const data = activity.channelData as { tenant?: { id?: unknown } } | undefined;
  const tenant = [data?.tenant?.id, activity.conversation?.tenantId, activity.channelId].find(
    (t): t is string => typeof t === 'string' && /^[\w.-]{1,100}$/.test(t),
  );
  if (!tenant) return undefined;
  return { id: teamsVoter(tenant, id), ...(typeof from?.name === 'string' && from.name ? { name: from.name } : {}) };
}

export class SentinelTeamsBot extends TeamsActivityHandler {
  /** Judging reactions seen, by `conversation/message/user` (bounded), to tell what a removal leaves. */
  private readonly reactionsSeen = new Map<string, Set<string>>();
  private readonly seen: ClaimedIds;

  constructor(private readonly deps: BotDeps) {
    super();
    this.seen = deps.seen ?? new ClaimedIds(deps.store, { logger: deps.logger });
    // The Bot Framework retries a turn not answered in 15 s: the language identifier loads now, once.
    loadLanguageIdentifier();
    this.onMessage(async (context, next) => {
      await this.message(context);
      await next();
    });
    this.onReactionsAdded(async (context, next) => {
      await this.reactions(context, context.activity.reactionsAdded ?? [], true);
      await next();
    });
    this.onReactionsRemoved(async (context, next) => {
      await this.reactions(context, context.activity.reactionsRemoved ?? [], false);
      await next();
    });
    this.onInstallationUpdateAdd(async (context, next) => {
      await this.installed(context, 'installationUpdate');
      await next();
    });
    this.onInstallationUpdateRemove(async (context, next) => {
      await this.uninstalled(context);
      await next();
    });
    this.onMembersAdded(async (context, next) => {
      const me = context.activity.recipient?.id;
      if (me && (context.activity.membersAdded ?? []).some((m) => m.id === me)) {
        await this.installed(context, 'conversationUpdate');
      }
      await next();
    });
    this.onMembersRemoved(async (context, next) => {
      const me = context.activity.recipient?.id;
      if (me && (context.activity.membersRemoved ?? []).some((m) => m.id === me)) await this.uninstalled(context);
      await next();
    });
    this.onTeamsChannelDeletedEvent(async (channel, _team, _context, next) => {
      const gone = await this.deps.conversations.remove((c) => c.teamsChannelId === channel.id);
      if (gone.length) this.deps.logger.info({ channel: channel.id }, 'teams: alert channel deleted; forgotten');
      await next();
    });
    this.onTeamsTeamDeletedEvent(async (team, _context, next) => {
      await this.deps.conversations.remove((c) => c.teamId === team.id);
      await next();
    });
  }

  /** Every activity: one already applied (a retry, here or on another replica) is dropped. */
  override async run(context: TurnContext): Promise<void> {
    const { id, type, conversation } = context.activity ?? {};
    if (typeof id === 'string' && id && type !== 'invoke' && conversation?.id) {
      const key = `teams:activity:${conversation.id}:${id}`;
      if (!(await this.seen.first(key))) {
        this.deps.logger.info({ id, type }, 'teams: an activity already handled came again; ignored');
        return;
      }
    }
    await super.run(context);
  }

  // ------------------------------------------------------------------------------------------------
  // Messages: commands and card buttons

  private async message(context: TurnContext): Promise<void> {
    const activity = context.activity;
    const submitted = parseSubmit(activity.value);
    if (submitted && 'malformed' in submitted) {
      this.deps.logger.warn({ reason: submitted.malformed }, 'teams: malformed card button; ignored');
      await context.sendActivity('That button sent something I do not understand; nothing was recorded.');
      return;
    }
    if (submitted) return this.button(context, submitted);

    const text = typeof activity.text === 'string' ? TurnContext.removeRecipientMention(activity) : '';
    const command = parseCommand(text ?? '');
    switch (command.kind) {
      case 'help':
        await context.sendActivity({
          ...cardMessage(
            helpCard(this.deps.maxTextChars),
            'Sentinel: sentiment <text>, status, digest, stats, resume, help',
          ),
          ...(command.note ? { text: command.note } : {}),
        });
        return;
      case 'status':
        await context.sendActivity(cardMessage(statusCard(await this.statusInfo()), 'Sentinel status'));
        return;
      case 'resume':
        await context.sendActivity(
          md(
            await answerResume(this.deps.trends()?.resumeSources, (err) =>
              this.deps.logger.error({ err }, `teams: resume not recorded: ${err.message}`),
            ),
          ),
        );
        return;
      case 'stats':
        await this.stats(context);
        return;
      case 'digest':
        await this.digest(context, command.args);
        return;
      case 'unknown':
        await context.sendActivity(
          `I did not get “${md(clip(command.text, 60, true))}”. Try \`sentiment <text>\` to score a text, \`status\`, \`digest\`, \`stats\`, \`resume\` or \`help\`.`,
        );
        return;
      case 'score':
        await this.deps.inFlight.track(this.answer(context, command.text));
        return;
    }
  }

  /** `stats`: production accuracy from every vote so far. */
  private async stats(context: TurnContext): Promise<void> {
    let report;
    try {
      report = await measureAccuracy(this.deps.store);
    } catch (err) {
      this.deps.logger.error({ err }, `teams: stats failed: ${(err as Error).message}`);
      await context.sendActivity('Sorry, the figures could not be read; the error was logged.');
      return;
    }
    await context.sendActivity(statsActivity(report));
  }

  /** `digest [stream] [YYYY-MM-DD]`: one card per digest asked for, or why not. */
  private async digest(context: TurnContext, args: string): Promise<void> {
    const digests = this.deps.digests?.();
    if (!digests) {
      await context.sendActivity('The daily digest is not running here (DIGEST_ENABLED=false, or no trend detection).');
      return;
    }
    let contents;
    try {
      contents = await digestsFor(digests, args);
    } catch (err) {
      if (err instanceof UnknownStreamError || err instanceof DigestDayError) {
        await context.sendActivity(
          `${md(err.message)}. Usage: \`digest [stream] [YYYY-MM-DD]\` (yesterday by default).`,
        );
        return;
      }
      this.deps.logger.error({ err }, `teams: digest failed: ${(err as Error).message}`);
      await context.sendActivity('Sorry, the digest could not be made; the error was logged.');
      return;
    }
    if (!contents.length) {
      await context.sendActivity('No mention stream is configured: there is nothing to digest.');
      return;
    }
    for (const c of contents) await context.sendActivity(digestActivity(digestForChat(c)));
  }

  private async answer(context: TurnContext, text: string): Promise<void> {
    const { deps } = this;
    const length = [...text].length;
    if (length > deps.maxTextChars) {
      await context.sendActivity(
        `Your text is ${length.toLocaleString('en-US')} characters long; the limit is ` +
          `${deps.maxTextChars.toLocaleString('en-US')}. Send a shorter text with \`sentiment <text>\`.`,
      );
      return;
    }
    const language = identifyLanguage(text);
    if (!language.supported) {
      await context.sendActivity(md(onlyEnglish(language.language)));
      return;
    }
    const state = deps.slot.current();
    if (!state.ready) {
      await context.sendActivity(`The sentiment model is not ready: ${md(state.reason)}. Try again in a moment.`);
      return;
    }
    const unreadable = state.scorer.unreadable(text);
    if (unreadable !== null) {
      await context.sendActivity(md(nothingToScore(unreadable)));
      return;
    }
    let explained;
    try {
      explained = await state.scorer.explain(text);
    } catch (err) {
      deps.logger.error({ err }, 'teams: scoring a sentiment text failed');
      await context.sendActivity('Sorry, the model failed to score this text; the error was logged.');
      return;
    }
    const [id] = deps.predictionLog.keep('command', [text], [explained]);
    const flushed = deps.predictionLog.flush(); // written while the card is posted
    const asker = userOf(context.activity);
    const card: AnswerCardState = {
      kind: 'answer',
      predictionId: id,
      label: explained.label,
      text,
      prediction: {
        label: explained.label,
        confidence: explained.confidence,
        probabilities: explained.probabilities,
        modelVersion: explained.modelVersion,
        words: explained.words,
      },
      ...(asker?.name ? { askedBy: asker.name } : {}),
      votes: {},
    };
    const posted = await context.sendActivity(
      cardMessage(answerCard(card), `${explained.label} (${Math.round(explained.confidence * 100)} % confident)`),
    );
    await flushed;
    const conversationId = baseConversationId(context.activity.conversation.id);
    if (!posted?.id) {
      deps.logger.warn({ prediction: id }, 'teams: the connector gave no id for the answer; it cannot be judged');
      return;
    }
    try {
      await deps.store.linkMessage({
        platform: PLATFORM,
        channel: conversationId,
        messageId: posted.id,
        predictionId: id,
      });
      await deps.cards.save(conversationId, posted.id, card);
    } catch (err) {
      deps.logger.error(
        { err, prediction: id },
        'teams: could not link the answer to its prediction; votes on it are lost',
      );
    }
    deps.logger.info(
      { prediction: id, label: explained.label, conversation: conversationId, message: posted.id },
      'teams: sentiment answered',
    );
  }

  private async button(context: TurnContext, data: SubmitData): Promise<void> {
    const user = userOf(context.activity);
    if (!user) return;
    const conversationId = baseConversationId(context.activity.conversation.id);
    const cardId = context.activity.replyToId;
    if (data.sentinel === 'alertVote') {
      const result = await voteOnMessage(this.deps, { alertId: data.alertId }, vote(user, data.correct));
      if (!result.recorded) return this.notRecorded(context, result.reason);
      this.deps.logger.info({ alert: data.alertId, user: user.id, trueAlarm: data.correct }, 'teams: vote on an alert');
      await this.deps.sink.noteVote(data.alertId, user.id, data.correct);
      return;
    }
    if (data.sentinel === 'alertAck' || data.sentinel === 'alertSnooze') return this.alertButton(context, data, user);
    // In the same order as the reactions on this card.
    const key = cardId ? `card:${conversationId}/${cardId}` : `prediction:${data.predictionId}`;
    await this.deps.serial.run(key, async () => {
      const link = { predictionId: data.predictionId };
      const result =
        data.sentinel === 'vote'
          ? await voteOnMessage(this.deps, link, vote(user, data.correct))
          : await voteOnMessage(this.deps, link, { ...vote(user, false), trueLabel: data.label });
      if (!result.recorded) return this.notRecorded(context, result.reason);
      this.logVote(result, user);
      const state = cardId ? await this.deps.cards.load(conversationId, cardId) : null;
      if (!state || state.predictionId !== data.predictionId) {
        // No card to update (the Emulator sends no replyToId, or it is gone): say it in a message.
        await context.sendActivity(
          data.sentinel === 'label'
            ? `Thanks, recorded: it should have been ${data.label}.`
            : `Thanks, your ${data.correct ? '✅' : '❌'} is recorded.`,
        );
        return;
      }
      const name = user.name ? { name: user.name } : {};
      state.votes[user.id] =
        data.sentinel === 'label'
          ? { ...name, correct: false, trueLabel: data.label }
          : { ...name, correct: data.correct };
      await this.redraw(context, conversationId, cardId!, state);
    });
  }

  /**
   * Acknowledge / Snooze on an alert card: the sink records it and updates the alert's cards in place, and
   * the click is answered in the thread (nothing when a repeated click changed nothing).
   */
  private async alertButton(
    context: TurnContext,
    data: Extract<SubmitData, { sentinel: 'alertAck' | 'alertSnooze' }>,
    user: AlertUser,
  ): Promise<void> {
    let reply: string | null;
    try {
      reply =
        data.sentinel === 'alertAck'
          ? await this.deps.sink.acknowledge(data.alertId, user)
          : await this.deps.sink.snooze(data.alertId, data.hours, user);
    } catch (err) {
      if (!(err instanceof AlertActionError)) {
        this.deps.logger.error({ err, alert: data.alertId }, 'teams: alert button failed');
        await context.sendActivity('Sorry, that did not work; the error was logged.');
        return;
      }
      await context.sendActivity(md(err.message));
      return;
    }
    if (reply) await context.sendActivity(reply);
  }

  private async notRecorded(context: TurnContext, reason: string): Promise<void> {
    this.deps.logger.warn({ reason }, 'teams: vote not recorded');
    await context.sendActivity(`Not recorded: ${md(reason)}.`);
  }

  private logVote(result: MessageVoteResult, user: Who): void {
    if (result.recorded && result.target === 'prediction')
      this.deps.logger.info(
        {
          prediction: result.predictionId,
          user: user.id,
          correct: result.vote.correct,
          trueLabel: result.vote.trueLabel,
        },
        'teams: vote on a prediction',
      );
  }

  /** Saves the card's state and updates it in place (the label a mention's question needs read first). */
  private async redraw(
    context: TurnContext,
    conversationId: string,
    cardId: string,
    state: JudgedCardState,
  ): Promise<void> {
    if (!state.label && Object.values(state.votes).some((v) => !v.correct && !v.trueLabel)) {
      const prediction = await this.deps.store.getPrediction(state.predictionId).catch(() => null);
      if (prediction) state.label = prediction.label as Label;
    }
    await this.deps.cards.save(conversationId, cardId, state);
    try {
      await context.updateActivity({ id: cardId, ...cardMessage(judgedCard(state), 'Sentinel') });
    } catch (err) {
      this.deps.logger.warn({ err, card: cardId }, 'teams: could not update the card in place');
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Reactions

  private async reactions(context: TurnContext, reactions: MessageReaction[], added: boolean): Promise<void> {
    const { logger } = this.deps;
    const activity = context.activity;
    const messageId = activity.replyToId;
    const user = userOf(activity);
    for (const reaction of reactions) {
      const meaning = reactionMeaning(reaction?.type);
      if (meaning === 'unknown') {
        logger.info(
          { reaction: clip(String(reaction?.type), 100), added },
          'teams: unknown reaction id; ignored (see adapters/teams/reactions.ts)',
        );
        continue;
      }
      if (meaning === 'ignored' || !messageId || !user) continue;
      const conversationId = baseConversationId(activity.conversation.id);
      const seenKey = `${conversationId}/${messageId}/${user.id}`;
      await this.deps.serial.run(`card:${conversationId}/${messageId}`, async () => {
        let link = await this.deps.store.findLink(PLATFORM, conversationId, messageId);
        if (!link) {
          await this.deps.inFlight.settled(); // an answer just posted may not be linked yet
          link = await this.deps.store.findLink(PLATFORM, conversationId, messageId);
        }
        if (!link) {
          logger.debug({ conversationId, messageId }, 'teams: reaction on a message Sentinel does not judge; ignored');
          return;
        }
        const type = String(reaction.type).toLowerCase();
        const seen = this.reactionsSeen.get(seenKey) ?? new Set<string>();
        if (added) seen.add(type);
        else seen.delete(type);
        this.remember(seenKey, seen);
        // What the user's judging reactions still say after this one (a removal may leave another).
        const left = new Set(
          [...seen].map((t) => reactionMeaning(t)).flatMap((m) => (typeof m === 'object' ? [m.verdict] : [])),
        );
        if (added) return this.vote(context, link, user, meaning.verdict, conversationId, messageId);
        if (left.has(meaning.verdict)) return;
        if (left.size === 1) return this.vote(context, link, user, [...left][0], conversationId, messageId);
        return this.unvote(context, link, user, conversationId, messageId);
      });
    }
  }

  private remember(key: string, seen: Set<string>): void {
    this.reactionsSeen.delete(key);
    if (seen.size) this.reactionsSeen.set(key, seen);
    if (this.reactionsSeen.size > 20_000) this.reactionsSeen.delete(this.reactionsSeen.keys().next().value!);
  }

  private async vote(
    context: TurnContext,
    link: MessageLink,
    user: Who,
    correct: boolean,
    conversationId: string,
    messageId: string,
  ): Promise<void> {
    const result = await voteOnMessage(this.deps, link, vote(user, correct));
    if (!result.recorded) {
      this.deps.logger.warn({ link, reason: result.reason }, 'teams: reaction not recorded');
      return;
    }
    if (result.target === 'alert') {
      this.deps.logger.info({ alert: result.alertId, user: user.id, trueAlarm: correct }, 'teams: vote on an alert');
      await this.deps.sink.noteVote(result.alertId, user.id, correct);
      return;
    }
    this.logVote(result, user);
    const state = await this.deps.cards.load(conversationId, messageId);
    if (!state) return;
    const before = state.votes[user.id];
    state.votes[user.id] = {
      ...(user.name ? { name: user.name } : {}),
      correct,
      ...(before && !before.correct && !correct && before.trueLabel ? { trueLabel: before.trueLabel } : {}),
    };
    await this.redraw(context, conversationId, messageId, state);
  }

  private async unvote(
    context: TurnContext,
    link: MessageLink,
    user: Who,
    conversationId: string,
    messageId: string,
  ): Promise<void> {
    const result = await retractOnMessage(this.deps, link, user.id);
    if (!result.applied) {
      this.deps.logger.warn({ link, reason: result.reason }, 'teams: retraction not applied');
      return;
    }
    this.deps.logger.info(
      { [result.target]: result.id, user: user.id, hadVote: result.hadVote },
      'teams: vote retracted (reaction removed)',
    );
    if (result.target === 'alert') {
      await this.deps.sink.noteVote(result.id, user.id, undefined);
      return;
    }
    const state = await this.deps.cards.load(conversationId, messageId);
    if (!state || !(user.id in state.votes)) return;
    delete state.votes[user.id];
    await this.redraw(context, conversationId, messageId, state);
  }

  // ------------------------------------------------------------------------------------------------
  // Installation

  private async installed(context: TurnContext, source: 'installationUpdate' | 'conversationUpdate'): Promise<void> {
    const conversation = conversationFrom(context.activity, source);
    const changed = await this.deps.conversations.add(conversation);
    if (!changed) return;
    const alerts = this.deps.scopes.includes(conversation.scope);
    this.deps.logger.info(
      { conversation: conversation.key, scope: conversation.scope, name: conversation.name, source, alerts },
      'teams: conversation captured',
    );
    if (source === 'installationUpdate') {
      await context.sendActivity(
        (alerts
          ? 'Sentinel is set up here: alerts about a bad buzz on X will be posted in this conversation. '
          : 'Sentinel is set up here. ') + 'Send `sentiment <text>` to score a text, `status` or `help`.',
      );
    }
  }

  private async uninstalled(context: TurnContext): Promise<void> {
    const c = conversationFrom(context.activity, 'installationUpdate');
    const gone = await this.deps.conversations.remove((x) => x.key === c.key);
    if (gone.length)
      this.deps.logger.info({ conversation: c.key }, 'teams: app removed from a conversation; forgotten');
  }

  // ------------------------------------------------------------------------------------------------
  // status

  private async statusInfo(): Promise<StatusInfo> {
    const [status, conversations] = await Promise.all([
      collectStatus(this.deps),
      this.deps.sink.targets().catch(() => []),
    ]);
    return { ...status, alertConversations: conversations.length };
  }
}

function vote(user: Who, correct: boolean): { userId: string; correct: boolean; source: string } {
  return { userId: user.id, correct, source: PLATFORM };
}
