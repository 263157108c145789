/**
 * What Sentinel does with what Slack sends: the /sentiment command, ✅ / ❌ reactions, and the buttons
 * (the right label after a ❌, Acknowledge and Snooze on alerts). Registered on a Bolt app by
 * `registerHandlers`; everything goes through the core's ports (ScorerSlot, Store, PredictionLog, the
 * feedback rules) and the adapter's SlackApi.
 *
 * - Deliveries are applied once: a global middleware drops an Events API `event_id` or an interaction's
 *   `trigger_id` already claimed in the Store (`ClaimedIds`: Slack retries events it thinks we missed, and
 *   the retry may land on another replica or after a restart; Bolt would run the listeners again). Votes
 *   are idempotent anyway (one per user per prediction).
 * - Reactions of one user on one message are applied in order (a fast ✅ then un-✅ never ends as a vote).
 * - A reaction on a message that is not linked to a prediction or an alert is ignored silently.
 * - The voter is `slack:<team id>:<user id>` (src/chat/voters.ts), both read from Slack's signed body:
 *   the same user id in two workspaces is two voters, and only a user's own reaction or button changes
 *   their vote. Slack calls (the ephemeral question, reactions.get) and mentions use the raw user id.
 * - The command's text is decoded once as it is read (Slack encodes `&`, `<`, `>`); everything shown is
 *   escaped by ./blocks (`escapeText`).
 * - A text the model cannot read (`Scorer.unreadable`) gets a plain ephemeral answer: no prediction, no
 *   ✅ / ❌. So does a text in a language the model does not read (asked first: "I only read English
 *   tweets so far — this looks like French.").
 * - `/sentiment digest [stream] [YYYY-MM-DD]` answers the daily digest (src/trends/digest.ts) to the caller
 *   only, for yesterday by default; `/sentiment stats` production accuracy per model version and the
 *   confusion of judged predictions (src/feedback/production-accuracy.ts), all votes so far.
 */
import type { AllMiddlewareArgs, App, BlockButtonAction, RespondFn, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { Logger } from '../../src/log';
import type { PredictionLog } from '../../src/feedback/prediction-log';
import { retractOnMessage, voteOnMessage } from '../../src/feedback/message-votes';
import type { ScorerSlot } from '../../src/sentiment/scorer-slot';
import { LABELS, type Explained } from '../../src/sentiment/types';
import type { MessageLink, Store } from '../../src/store/types';
import { AlertActionError, SNOOZE_HOURS, type AlertControls, type SlackAlertSink } from './alerts';
import {
  ACTION,
  escapeText,
  ephemeralText,
  helpMessage,
  predictionMessage,
  reactionVerdict,
  statusMessage,
  trueLabelQuestion,
  type SlackMessage,
  type StatusInfo,
} from './blocks';
import { ClaimedIds, InFlight, Serial } from '../../src/chat/once';
import { slackErrorCode, type SlackApi } from './web';
import { collectStatus } from '../../src/chat/status';
import { answerResume } from '../../src/mentions/resume';
import { decodeOnce, storedText } from '../../src/chat/text';
import { nothingToScore, onlyEnglish } from '../../src/chat/readable';
import { identifyLanguage, loadLanguageIdentifier } from '../../src/sentiment/language';
import { slackVoter, slackWorkspaceOf } from '../../src/chat/voters';
import { DigestDayError, UnknownStreamError, digestsFor, type DigestProvider } from '../../src/trends/digest';
import { measureAccuracy } from '../../src/feedback/production-accuracy';
import { digestsMessage, statsMessage } from './digest-blocks';

export const PLATFORM = 'slack';

/** Slack answers these when the bot cannot post in the conversation the command came from. */
const CANNOT_POST = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'restricted_action',
  'access_denied',
]);

import type { PollStatus } from '../../src/chat/status';
export type { PollStatus };

export interface HandlerDeps {
  api: SlackApi;
  slot: ScorerSlot;
  store: Store;
  predictionLog: PredictionLog;
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  maxTextChars: number;
  command: string;
  sink?: SlackAlertSink;
  trends: () => AlertControls | undefined;
  polls?: () => PollStatus[];
  serial: Serial;
  inFlight: InFlight;
  threadOf: Map<string, string>;
  seen?: ClaimedIds;
  /** The daily digests, for `/sentiment digest` (a getter: built after the adapter); undefined: not running. */
  digests?: () => DigestProvider | undefined;
}

type ButtonArgs = SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs;

export function registerHandlers(bolt: App, deps: HandlerDeps): void {
  const { store, logger } = deps;
  const seen = deps.seen ?? new ClaimedIds(store, { logger });
  // The command must be acked within 3 s: the language identifier loads now, not at the first command.
  loadLanguageIdentifier();

  // Retried deliveries: applied once.
  bolt.use(async (args) => {
    const body = args.body as { event_id?: unknown; trigger_id?: unknown; type?: unknown };
    const id =
      typeof body.event_id === 'string'
        ? `slack:event:${body.event_id}`
        : typeof body.trigger_id === 'string'
          ? `slack:trigger:${body.trigger_id}`
          : undefined;
    if (id && !(await seen.first(id))) {
      logger.info(
        { id, retryNum: args.context.retryNum, retryReason: args.context.retryReason },
        'slack: a delivery already handled came again; ignored',
      );
      if ('ack' in args && typeof args.ack === 'function') await (args.ack as () => Promise<void>)();
      return;
    }
    await args.next();
  });

  bolt.error(async (err) => {
    logger.error({ err }, `slack: a listener failed: ${err.message}`);
  });

  // ----------------------------------------------------------------------------------------------
  // /sentiment

  bolt.command(deps.command, async ({ command, ack, respond }) => {
    const text = decodeOnce(command.text ?? '').trim();
    const word = text.toLowerCase();
    if (text === '' || word === 'help' || word === '-h' || word === '--help') {
      const help = helpMessage(deps.maxTextChars, deps.command);
      return ack({ response_type: 'ephemeral', text: help.text, blocks: help.blocks });
    }
    if (word === 'status') {
      await ack();
      const status = statusMessage(await statusInfo(deps));
      await safeRespond(respond, { response_type: 'ephemeral', text: status.text, blocks: status.blocks }, logger);
      return;
    }
    if (word === 'stats') {
      await ack();
      await safeRespond(respond, { response_type: 'ephemeral', ...(await stats(deps)) }, logger);
      return;
    }
    if (word === 'digest' || /^digest\s/.test(word)) {
      await ack();
      await safeRespond(respond, { response_type: 'ephemeral', ...(await digest(deps, text.slice(6))) }, logger);
      return;
    }
    if (word === 'resume') {
      await ack();
      await safeRespond(
        respond,
        ephemeralText(
          escapeText(
            await answerResume(deps.trends()?.resumeSources, (err) =>
              logger.error({ err }, `slack: resume not recorded: ${err.message}`),
            ),
          ),
        ),
        logger,
      );
      return;
    }
    const length = [...text].length;
    if (length > deps.maxTextChars) {
      return ack(
        ephemeralText(
          `Your text is ${length.toLocaleString('en-US')} characters long; the limit is ` +
            `${deps.maxTextChars.toLocaleString('en-US')}. Send a shorter text with \`${deps.command} <text>\`.`,
        ),
      );
    }
    const language = identifyLanguage(text);
    if (!language.supported) return ack(ephemeralText(escapeText(onlyEnglish(language.language))));
    const state = deps.slot.current();
    if (!state.ready) {
      return ack(
        ephemeralText(`The sentiment model is not ready: ${escapeText(state.reason)}. Try again in a moment.`),
      );
    }
    const unreadable = state.scorer.unreadable(text);
    if (unreadable !== null) return ack(ephemeralText(escapeText(nothingToScore(unreadable))));
    await ack();
    await deps.inFlight.track(answer(deps, state.scorer, text, command.user_id, command.channel_id, respond));
  });

  // ----------------------------------------------------------------------------------------------
  // Reactions

  const onReaction = async (
    e: { user: string; reaction: string; item: { type: string; channel?: string; ts?: string } },
    body: unknown,
    added: boolean,
  ) => {
    const verdict = reactionVerdict(e.reaction);
    if (verdict === undefined || e.item.type !== 'message' || !e.item.channel || !e.item.ts) return;
    const { channel, ts } = e.item;
    const who = reactor(e.user, body, logger);
    if (!who) return;
    await deps.serial.run(`reaction:${channel}/${ts}/${who.voter}`, async () => {
      await deps.inFlight.settled(); // a /sentiment answer just posted may not be linked yet
      const link = await store.findLink(PLATFORM, channel, ts);
      if (!link) {
        logger.debug({ channel, ts }, 'slack: reaction on a message Sentinel does not judge; ignored');
        return;
      }
      if (added) await vote(deps, link, who, verdict, channel, ts);
      else await unvote(deps, link, who, verdict, channel, ts);
    });
  };
  bolt.event('reaction_added', async ({ event, body }) => onReaction(event, body, true));
  bolt.event('reaction_removed', async ({ event, body }) => onReaction(event, body, false));

  // ----------------------------------------------------------------------------------------------
  // Buttons

  bolt.action<BlockButtonAction>(new RegExp(`^${ACTION.trueLabel}_`), async ({ ack, body, action, respond }) => {
    await ack();
    const value = parseValue<{ p?: unknown; l?: unknown }>(action.value);
    const predictionId = typeof value?.p === 'string' ? value.p : undefined;
    const label = LABELS.find((l) => l === value?.l);
    if (!predictionId || !label) {
      logger.warn({ value: action.value }, 'slack: malformed label button; ignored');
      return;
    }
    const who = reactor(body.user.id, body, logger);
    if (!who) return;
    const result = await voteOnMessage(
      deps,
      { predictionId },
      { userId: who.voter, correct: false, trueLabel: label, source: PLATFORM },
    );
    if (!result.recorded) {
      await safeRespond(
        respond,
        { replace_original: true, text: `Not recorded: ${escapeText(result.reason)}.` },
        logger,
      );
      return;
    }
    logger.info({ prediction: predictionId, user: body.user.id, trueLabel: label }, 'slack: true label recorded');
    await safeRespond(
      respond,
      { replace_original: true, text: `Thanks, recorded: it should have been *${label}*.` },
      logger,
    );
  });

  const alertButton = async ({ action, respond }: ButtonArgs, run: (alertId: string) => Promise<unknown>) => {
    const value = parseValue<{ a?: unknown }>(action.value);
    if (typeof value?.a !== 'string' || !deps.sink) {
      logger.warn({ value: action.value }, 'slack: alert button without a known alert; ignored');
      return;
    }
    try {
      await run(value.a);
    } catch (err) {
      if (!(err instanceof AlertActionError)) {
        logger.error({ err, alert: value.a }, 'slack: alert button failed');
        await safeRespond(respond, ephemeralFollowUp('Sorry, that did not work; the error was logged.'), logger);
        return;
      }
      await safeRespond(respond, ephemeralFollowUp(escapeText(err.message)), logger);
    }
  };

  // "Open in dashboard" is a link: the browser opens it; the click Slack sends too only needs its ack.
  bolt.action<BlockButtonAction>(ACTION.dashboard, async ({ ack }) => {
    await ack();
  });

  bolt.action<BlockButtonAction>(ACTION.ack, async (args) => {
    await args.ack();
    const where = messageOf(args.body);
    if (!where) return;
    await alertButton(args, (alertId) => deps.sink!.acknowledge(alertId, args.body.user.id, where));
  });

  bolt.action<BlockButtonAction>(new RegExp(`^${ACTION.snooze}_(\\d+)$`), async (args) => {
    await args.ack();
    const hours = Number(args.action.action_id.slice(ACTION.snooze.length + 1));
    const where = messageOf(args.body);
    if (!where || !(SNOOZE_HOURS as readonly number[]).includes(hours)) return;
    await alertButton(args, (alertId) => deps.sink!.snooze(alertId, hours, args.body.user.id, where));
  });
}

/** Who reacted or clicked: the raw user id (for Slack's API) and the voter (namespaced, for the store). */
interface Reactor {
  user: string;
  voter: string;
}

function reactor(user: unknown, body: unknown, logger: Pick<Logger, 'warn'>): Reactor | undefined {
  const workspace = slackWorkspaceOf(body);
  if (typeof user !== 'string' || !user || !workspace) {
    logger.warn({ user }, 'slack: a vote without a user or workspace id in the payload; not recorded');
    return undefined;
  }
  return { user, voter: slackVoter(workspace, user) };
}

function messageOf(body: BlockButtonAction): { channel: string; ts: string } | undefined {
  const channel = body.channel?.id ?? body.container?.channel_id;
  const ts = body.message?.ts ?? body.container?.message_ts;
  return channel && ts ? { channel, ts } : undefined;
}

function ephemeralFollowUp(text: string) {
  return { response_type: 'ephemeral' as const, replace_original: false, text };
}

function parseValue<T>(value: string | undefined): T | undefined {
  try {
    const v = JSON.parse(value ?? '') as unknown;
    return typeof v === 'object' && v !== null ? (v as T) : undefined;
  } catch {
    return undefined;
  }
}

async function safeRespond(
  respond: RespondFn,
  message: Parameters<RespondFn>[0],
  logger: Pick<Logger, 'warn'>,
): Promise<void> {
  try {
    await respond(message);
  } catch (err) {
    // A response_url lives 30 minutes and takes 5 answers: past that, there is no one to tell.
    logger.warn({ err }, 'slack: could not answer through the response_url');
  }
}

/** Scores the text, keeps the prediction, posts the answer in the channel and links the message to it. */
async function answer(
  deps: HandlerDeps,
  scorer: { explain(text: string): Promise<Explained> },
  text: string,
  userId: string,
  channelId: string,
  respond: RespondFn,
): Promise<void> {
  const { api, store, logger } = deps;
  let explained;
  try {
    explained = await scorer.explain(text);
  } catch (err) {
    logger.error({ err }, 'slack: scoring a /sentiment text failed');
    await safeRespond(
      respond,
      ephemeralText('Sorry, the model failed to score this text; the error was logged.'),
      logger,
    );
    return;
  }
  const [id] = deps.predictionLog.keep('command', [text], [explained]);
  const flushed = deps.predictionLog.flush(); // written while the message is posted
  const message = predictionMessage(explained, text, userId);
  let posted: { channel: string; ts: string };
  try {
    // Marked with its prediction: a post Slack made before an ambiguous failure is found, not redone.
    posted = await api.postMessage(
      { channel: channelId, text: message.text, blocks: message.blocks, unfurl_links: false, unfurl_media: false },
      { step: `answer/${id}`, since: Date.now() },
    );
  } catch (err) {
    const code = slackErrorCode(err);
    const why =
      code && CANNOT_POST.has(code)
        ? `I cannot post in this conversation (${code}): invite me with \`/invite @Sentinel\` to get answers everyone can judge. Only you can see this one:`
        : `I could not post the answer in the channel (${code ?? (err as Error).message}; it was logged). Only you can see it:`;
    await safeRespond(
      respond,
      {
        response_type: 'ephemeral',
        text: `${why} ${message.text}`,
        blocks: [ephemeralNote(why), ...message.blocks.slice(0, 3)],
      },
      logger,
    );
    return;
  }
  await flushed;
  try {
    await store.linkMessage({ platform: PLATFORM, channel: posted.channel, messageId: posted.ts, predictionId: id });
  } catch (err) {
    logger.error(
      { err, prediction: id },
      'slack: could not link the /sentiment answer to its prediction; reactions on it will be ignored',
    );
  }
  logger.info(
    { prediction: id, label: explained.label, channel: posted.channel, ts: posted.ts },
    'slack: /sentiment answered',
  );
}

function ephemeralNote(text: string) {
  return { type: 'context' as const, elements: [{ type: 'mrkdwn' as const, text }] };
}

async function vote(
  deps: HandlerDeps,
  link: MessageLink,
  who: Reactor,
  correct: boolean,
  channel: string,
  ts: string,
  ask = true,
): Promise<void> {
  const { store, logger } = deps;
  const { user } = who;
  const result = await voteOnMessage(deps, link, { userId: who.voter, correct, source: PLATFORM });
  if (!result.recorded) {
    logger.warn({ link, user, reason: result.reason }, `slack: reaction not recorded: ${result.reason}`);
    return;
  }
  logger.info({ ...link, user, correct }, `slack: vote on ${result.target === 'alert' ? 'an alert' : 'a prediction'}`);
  if (result.target === 'alert' || correct || !ask) return;
  const prediction = await store.getPrediction(result.predictionId);
  if (!prediction) return;
  const question = trueLabelQuestion(result.predictionId, prediction.label, storedText(prediction));
  const threadTs = deps.threadOf.get(`${channel}/${ts}`);
  try {
    await deps.api.postEphemeral({
      channel,
      user,
      text: question.text,
      blocks: question.blocks,
      ...(threadTs ? { thread_ts: threadTs } : {}),
    });
  } catch {
    // Logged by SlackApi; the ❌ vote itself is recorded.
  }
}

async function unvote(
  deps: HandlerDeps,
  link: MessageLink,
  who: Reactor,
  removed: boolean,
  channel: string,
  ts: string,
): Promise<void> {
  // The user may still have another judging reaction on the message (✅ and ✔️, or ✅ and ❌): then the
  // vote follows what is left instead of disappearing.
  const { user } = who;
  let left: Set<boolean> | null;
  try {
    const reactions = await deps.api.reactions(channel, ts);
    left = new Set(
      reactions
        .filter((r) => r.users.includes(user))
        .map((r) => reactionVerdict(r.name))
        .filter((v): v is boolean => v !== undefined),
    );
  } catch {
    left = null; // cannot tell: the removal retracts the vote
  }
  if (left && left.has(removed)) return; // the same judgement is still there
  const other = left && left.size === 1 ? [...left][0] : undefined;
  if (other !== undefined) return vote(deps, link, who, other, channel, ts, false);
  const result = await retractOnMessage(deps, link, who.voter);
  if (result.applied) deps.logger.info({ ...link, user, hadVote: result.hadVote }, 'slack: vote retracted');
  else deps.logger.warn({ link, user, reason: result.reason }, `slack: retraction not applied: ${result.reason}`);
}

/** `/sentiment stats`: production accuracy from every vote so far. */
async function stats(deps: HandlerDeps): Promise<{ text: string; blocks?: SlackMessage['blocks'] }> {
  try {
    return statsMessage(await measureAccuracy(deps.store));
  } catch (err) {
    deps.logger.error({ err }, `slack: /sentiment stats failed: ${(err as Error).message}`);
    return { text: 'Sorry, the figures could not be read; the error was logged.' };
  }
}

/** `/sentiment digest [stream] [YYYY-MM-DD]`: the digests asked for, or why not. */
async function digest(deps: HandlerDeps, args: string): Promise<{ text: string; blocks?: SlackMessage['blocks'] }> {
  const digests = deps.digests?.();
  if (!digests) return { text: 'The daily digest is not running here (DIGEST_ENABLED=false, or no trend detection).' };
  try {
    const contents = await digestsFor(digests, args);
    if (!contents.length) return { text: 'No mention stream is configured: there is nothing to digest.' };
    return digestsMessage(contents);
  } catch (err) {
    if (err instanceof UnknownStreamError || err instanceof DigestDayError)
      return {
        text: `${escapeText(err.message)}. Usage: \`${deps.command} digest [stream] [YYYY-MM-DD]\` (yesterday by default).`,
      };
    deps.logger.error({ err }, `slack: /sentiment digest failed: ${(err as Error).message}`);
    return { text: 'Sorry, the digest could not be made; the error was logged.' };
  }
}

/** The figures of `/sentiment status`. */
export function statusInfo(deps: HandlerDeps): Promise<StatusInfo> {
  return collectStatus(deps);
}
