/**
 * Block Kit layouts of everything Sentinel posts in Slack, as pure functions of platform-neutral data
 * (predictions, the trend module's AlertContent, status figures). Each returns `{ text, blocks }`: `text`
 * is the notification / screen-reader fallback Slack asks for, and Slack reads it as mrkdwn too.
 *
 * Every piece of untrusted text (tweets, what users typed, stream names, reasons) goes through ONE
 * function, `escapeText`, in the blocks and in the `text` fallback alike, after it was decoded once where
 * it entered (src/chat/text.ts): it can neither ping (`<!channel>`, `<@U…>`), name a channel, nor forge a
 * link (`<https://…|label>`), and a tweet's `&gt;` reaches Slack as `&gt;` exactly once. The only `<…>`
 * Sentinel writes itself are user mentions from verified payloads (`userMention`) and https links
 * (`link`), each checked.
 */
import type { types } from '@slack/bolt';
import type { AlertContent, AlertMention } from '../../src/trends/content';
import type { Explained, Label } from '../../src/sentiment/types';
import { LABELS } from '../../src/sentiment/types';
import { challengerLine, leaderLine, otherLanguagesPart, xReadsLine, type ChatStatus } from '../../src/chat/status';
import { duration } from '../../src/trends/content';
import { otherLanguagesText } from '../../src/trends/languages';
import { stripControls } from '../../src/chat/text';

type Block = types.KnownBlock;
type Button = types.Button;
export interface SlackMessage {
  text: string;
  blocks: Block[];
}

/** Action ids of Sentinel's buttons (the label ones and the snooze ones end with the label / hours). */
export const ACTION = {
  trueLabel: 'sentinel_true_label',
  ack: 'sentinel_alert_ack',
  snooze: 'sentinel_alert_snooze',
  /** A link button: Slack opens the URL and still sends the click, which is only acknowledged. */
  dashboard: 'sentinel_open_dashboard',
} as const;

export const LABEL_EMOJI: Record<Label, string> = {
  negative: ':slightly_frowning_face:',
  neutral: ':neutral_face:',
  positive: ':slightly_smiling_face:',
};

const KIND_EMOJI = { opened: ':rotating_light:', updated: ':warning:', resolved: ':large_green_circle:' } as const;

/** Reactions that judge a message: ✅ right, ❌ wrong. */
export const CORRECT_REACTIONS = new Set(['white_check_mark', 'heavy_check_mark']);
export const WRONG_REACTIONS = new Set(['x', 'negative_squared_cross_mark']);

/** `true` for ✅, `false` for ❌, `undefined` for any other reaction (skin tones ignored). */
export function reactionVerdict(reaction: string): boolean | undefined {
  const name = reaction.split('::')[0];
  if (CORRECT_REACTIONS.has(name)) return true;
  if (WRONG_REACTIONS.has(name)) return false;
  return undefined;
}

const MRKDWN_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/**
 * THE escaping of untrusted text for Slack mrkdwn (blocks and `text` fallback): control characters out,
 * then `&`, `<`, `>` as Slack's three entities. Expects decoded text: `>` leaves as `&gt;`, once. With
 * `max`, the escaped result is at most that many characters (Slack's limits count the entities), cut
 * with an ellipsis between characters, never inside an entity.
 */
export function escapeText(s: string, max = Infinity): string {
  const chars = [...stripControls(s)].map((c) => MRKDWN_ENTITIES[c] ?? c);
  let length = 0;
  for (const c of chars) length += c.length;
  if (length <= max) return chars.join('');
  let out = '';
  length = 0;
  for (const c of chars) {
    if (length + c.length > max - 1) break;
    out += c;
    length += c.length;
  }
  return `${out}…`;
}

/** Slack's plain_text (and file titles): shown as written, so only control characters go. */
export function plainText(s: string): string {
  return stripControls(s);
}

/** `<@U…>` for a user id from a verified payload; anything else is shown, escaped, never as a mention. */
export function userMention(userId: string): string {
  return /^[UW][A-Z0-9]{2,40}$/.test(userId) ? `<@${userId}>` : escapeText(userId);
}

/** A link with an escaped label; a URL that is not a plain https URL is left out (the label alone). */
export function link(url: string, label: string): string {
  return /^https:\/\/[^\s<>|]+$/.test(url) ? `<${url.replace(/&/g, '&amp;')}|${label}>` : label;
}

/** At most `max` characters (code points), with an ellipsis when cut, whitespace collapsed if `oneLine`. */
export function clip(s: string, max: number, oneLine = false): string {
  const t = oneLine ? s.replace(/\s+/g, ' ').trim() : s.trim();
  const chars = [...t];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : t;
}

/** Untrusted text as a block quote, at most `max` characters with the `>` of each line (Slack's limits). */
function quote(s: string, max = 2500): string {
  const quoted = escapeText(s)
    .split('\n')
    .map((line) => `>${line}`)
    .join('\n');
  if (quoted.length <= max) return quoted;
  // Cut between characters: never inside an entity nor a surrogate pair.
  let cut = quoted.slice(0, max - 1).replace(/&[a-z]{0,3}$/, '');
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

export function pct(x: number): string {
  return Number.isFinite(x) ? `${Math.round(x * 100)} %` : '–';
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A 20-character bar: `████████░░░░░░░░░░░░`. */
export function bar(p: number, width = 20): string {
  const full = Math.max(0, Math.min(width, Math.round((Number.isFinite(p) ? p : 0) * width)));
  return '█'.repeat(full) + '░'.repeat(width - full);
}

function utc(isoTime: string): string {
  return `${isoTime.slice(0, 10)} ${isoTime.slice(11, 16)} UTC`;
}

function hhmm(isoTime: string): string {
  return isoTime.slice(11, 16);
}

function signed(x: number, digits = 0): string {
  const f = 10 ** digits;
  const r = Math.round(x * f) / f;
  return `${r >= 0 ? '+' : '−'}${Math.abs(r)}`;
}

function section(text: string, blockId?: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text }, ...(blockId ? { block_id: blockId } : {}) };
}

function context(text: string, blockId?: string): Block {
  return { type: 'context', elements: [{ type: 'mrkdwn', text }], ...(blockId ? { block_id: blockId } : {}) };
}

const JUDGE_HINT = 'React :white_check_mark: if this is right, :x: if it is wrong';

// ---------------------------------------------------------------------------------------------------
// /sentiment

/** The answer to `/sentiment <text>`, posted in the channel so it can collect reactions. */
export function predictionMessage(p: Explained, text: string, userId: string, maxWords = 5): SlackMessage {
  const bars = LABELS.map(
    (l) => `${l.padEnd(8)}  ${bar(p.probabilities[l])}  ${pct(p.probabilities[l]).padStart(5)}`,
  ).join('\n');
  // Occlusion weights: how much the label's probability drops without the word. Near-certain answers have
  // tiny ones, so the order speaks, not the figures (shown only when they reach a point).
  const drivers = p.words
    .filter((w) => w.weight > 0)
    .sort((a, b) => b.weight - a.weight)
    .slice(0, maxWords)
    .map((w) => `*${escapeText(w.word)}*${w.weight >= 0.01 ? ` (${signed(w.weight * 100)} pts)` : ''}`);
  const words = drivers.length
    ? `Words that drove it, strongest first: ${drivers.join(' · ')}`
    : 'No single word drove it: the text as a whole did';
  return {
    text: `${capital(p.label)} (${pct(p.confidence)} confident): “${escapeText(clip(text, 150, true))}”`,
    blocks: [
      section(
        `${LABEL_EMOJI[p.label]} *${capital(p.label)}* · ${pct(p.confidence)} confident\n${quote(clip(text, 2500))}`,
      ),
      section('```' + bars + '```'),
      context(words),
      context(`Asked by ${userMention(userId)} · model \`${escapeText(p.modelVersion)}\` · ${JUDGE_HINT}`),
    ],
  };
}

export function helpMessage(maxTextChars: number, command = '/sentiment'): SlackMessage {
  return {
    text: `Usage: ${command} <text> scores a text; ${command} status shows the model, streams and alerts; ${command} digest [stream] yesterday's digest; ${command} stats the accuracy measured by your votes.`,
    blocks: [
      section(
        `*\`${command} <text>\`* scores the text with Sentinel's sentiment model and posts the answer here: ` +
          `the label, how sure the model is, the words that drove it. React :white_check_mark: if it is ` +
          `right, :x: if it is wrong: your votes measure the model in production and train the next one. ` +
          `Texts of up to ${maxTextChars.toLocaleString('en-US')} characters.`,
      ),
      section(
        `*\`${command} status\`*: the model serving, each mention stream's negative share against its normal ` +
          `level, and the open alerts (only you see it).\n*\`${command} digest [stream] [YYYY-MM-DD]\`*: the daily ` +
          `digest of a stream (all of them without a name) for yesterday or the day given: volume and negative ` +
          `share against normal, themes, the alerts and how they ended (only you see it; the alert channels get ` +
          `it every morning).\n*\`${command} stats\`*: the model's accuracy measured by your votes, per model ` +
          `version with its 95 % interval, and what the mistakes should have been.\n*\`${command} resume\`*: try a paused mention source ` +
          `again now (after its token or certificate was fixed) instead of at its next 15-minute retry.\n` +
          `*\`${command} help\`*: this message.`,
      ),
      context(
        'Alerts about a bad buzz are posted in the alert channel: react on them too (:white_check_mark: real, :x: false alarm).',
      ),
    ],
  };
}

export function ephemeralText(text: string): { response_type: 'ephemeral'; text: string } {
  return { response_type: 'ephemeral', text };
}

export type StatusInfo = ChatStatus;

export function statusMessage(s: StatusInfo): SlackMessage {
  const model = s.model.ready
    ? `*Model* \`${escapeText(s.model.version)}\` (${escapeText(s.model.name)}), running on *${escapeText(s.model.backend)}*` +
      (s.model.origin ? `, from ${escapeText(s.model.origin)}` : '') +
      (s.model.degraded ? ` (:warning: ${escapeText(s.model.degraded)})` : '')
    : `*Model* not ready: ${escapeText(s.model.reason)}`;
  const lines: string[] = [];
  const polls = new Map(s.polls.map((p) => [p.stream, p]));
  for (const st of s.streams) {
    const parts = [`*${escapeText(st.stream)}*`];
    if (st.phase === 'learning') parts.push(`learning what is normal${st.reason ? ` (${escapeText(st.reason)})` : ''}`);
    else if (st.share !== null)
      parts.push(
        `${pct(st.share)} negative in the last window vs ${st.baseline === null ? '–' : pct(st.baseline)} normally` +
          (st.volume !== null ? ` (${st.volume} mentions)` : ''),
      );
    if (st.phase === 'open') parts.push(':rotating_light: alert open');
    if (st.phase === 'cooldown') parts.push('cooling down after an alert');
    if (st.at) parts.push(`judged up to ${utc(st.at)}`);
    if (st.snoozedUntil) parts.push(`:zzz: snoozed until ${utc(st.snoozedUntil)}`);
    const languages = otherLanguagesPart(st);
    if (languages) parts.push(escapeText(languages));
    const poll = polls.get(st.stream);
    if (poll) parts.push(`last poll ${utc(poll.at)} (${escapeText(poll.result)})`);
    polls.delete(st.stream);
    lines.push(`• ${parts.join(' · ')}`);
  }
  for (const poll of polls.values())
    lines.push(`• *${escapeText(poll.stream)}* · last poll ${utc(poll.at)} (${escapeText(poll.result)})`);
  const streams = lines.length
    ? `*Streams*\n${lines.join('\n')}`
    : s.trendsAvailable
      ? '*Streams* none polled since the start'
      : '*Streams* trend detection is not running';
  const alerts = s.openAlerts.length
    ? `*Open alerts*\n${s.openAlerts.map((a) => `• ${escapeText(a.headline)} (since ${utc(a.openedAt)})`).join('\n')}`
    : '*Open alerts* none';
  // Who judges the trends and posts alerts, among the replicas.
  const leader = leaderLine(s);
  const accuracy = s.accuracy.length
    ? `*Accuracy from your votes* ${s.accuracy
        .map(
          (a) => `\`${escapeText(a.modelVersion)}\` ${pct(a.accuracy)} over ${a.votes} vote${a.votes === 1 ? '' : 's'}`,
        )
        .join(' · ')}`
    : '*Accuracy from your votes* no votes yet';
  return {
    text: `Sentinel status: ${s.model.ready ? `model ${escapeText(s.model.version)}` : 'model not ready'}, ${s.openAlerts.length} open alert(s)`,
    blocks: [
      section(model),
      section(streams),
      section(alerts),
      context(accuracy),
      ...[challengerLine(s), xReadsLine(s), leader]
        .filter((l): l is string => l !== null)
        .map((l) => context(escapeText(l))),
    ],
  };
}

/** The ephemeral question after a ❌: what should the label have been? */
export function trueLabelQuestion(predictionId: string, predicted: Label, text: string): SlackMessage {
  const others = LABELS.filter((l) => l !== predicted);
  return {
    text: `Thanks! What should “${escapeText(clip(text, 80, true))}” have been?`,
    blocks: [
      section(
        `Thanks for the :x:. The model said *${predicted}* for “${escapeText(clip(text, 200, true))}”. What should it have been?`,
      ),
      {
        type: 'actions',
        block_id: 'sentinel_true_label',
        elements: others.map((l) => ({
          type: 'button',
          action_id: `${ACTION.trueLabel}_${l}`,
          text: { type: 'plain_text', text: `${capital(l)}`, emoji: true },
          value: JSON.stringify({ p: predictionId, l }),
        })),
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------------
// Alerts

/** What the headline shows besides the content: who acknowledged, the snooze, whether it is over. */
export interface AlertMarks {
  acks: Array<{ user: string; at: string }>;
  snooze?: { user: string; until: string; hours: number };
}

/** The alert content without its chart (what is kept to draw the headline again). */
export type AlertSnapshot = Omit<AlertContent, 'chart'>;

function figureFields(c: AlertSnapshot): Block {
  const f = c.figures;
  const fields = [
    `*Negative share*\n${pct(f.negativeShare)} in the last ${duration(f.windowMinutes)}\nnormally ${pct(f.baselineShare)} (${signed(f.lift * 100)} pts, p = ${f.pValue < 1e-4 ? f.pValue.toExponential(1) : f.pValue.toPrecision(2)})`,
    `*Volume*\n${f.volume} mentions, ${f.negatives} negative` +
      (f.usualVolume !== null ? `\nusually about ${f.usualVolume} in ${duration(f.windowMinutes)}` : ''),
  ];
  if (c.rise.previousShare !== null)
    fields.push(
      `*Rise*\nfrom ${pct(c.rise.previousShare)} in the ${duration(f.windowMinutes)} before` +
        (c.rise.pointsPerHour !== null ? `\n${signed(c.rise.pointsPerHour, 1)} pts an hour` : ''),
    );
  fields.push(
    c.kind === 'resolved' && c.resolvedAt
      ? `*Lasted*\n${duration(c.durationMinutes)} (${utc(c.openedAt)} → ${hhmm(c.resolvedAt)} UTC)\npeak ${pct(c.peak.share)} at ${hhmm(c.peak.at)} UTC`
      : `*Open since*\n${utc(c.openedAt)} (${duration(c.durationMinutes)})\npeak so far ${pct(c.peak.share)}`,
  );
  return { type: 'section', fields: fields.map((text) => ({ type: 'mrkdwn', text })) };
}

function trendBlocks(c: AlertSnapshot): Block[] {
  const out: Block[] = [
    section(
      `*Last 24 h* \`${c.sparkline.text}\` hourly negative share, ${hhmm(c.sparkline.from)}–${hhmm(c.sparkline.to)} UTC`,
    ),
  ];
  if (c.why) out.push(section(`*Why now* ${escapeText(c.why.now)}`), context(escapeText(`How sure: ${c.why.sure}.`)));
  if (c.terms.length) out.push(section(`*About* ${c.terms.map((t) => escapeText(t.term)).join(' · ')}`));
  if (c.otherLanguages?.total) out.push(context(escapeText(`${otherLanguagesText(c.otherLanguages)}.`)));
  return out;
}

function marksText(m: AlertMarks): string[] {
  const out: string[] = [];
  if (m.acks.length)
    out.push(`:eyes: Acknowledged by ${[...new Set(m.acks.map((a) => userMention(a.user)))].join(', ')}`);
  if (m.snooze) out.push(`:zzz: New alerts snoozed until ${utc(m.snooze.until)} by ${userMention(m.snooze.user)}`);
  return out;
}

/** The headline message: posted when the alert opens, edited at each update and at the resolution. */
export function alertHeadline(c: AlertSnapshot, marks: AlertMarks): SlackMessage {
  const resolved = c.kind === 'resolved';
  const blocks: Block[] = [
    section(`${KIND_EMOJI[c.kind]} *${escapeText(c.headline)}*`, 'sentinel_alert_headline'),
    figureFields(c),
    ...trendBlocks(c),
    context(
      [
        ...marksText(marks),
        `Top mentions and the chart are in the thread · React :white_check_mark: if this is a real bad buzz, :x: if it is a false alarm`,
      ].join('\n'),
      'sentinel_alert_marks',
    ),
  ];
  const dashboard: Button[] = c.dashboardUrl
    ? [
        {
          type: 'button',
          action_id: ACTION.dashboard,
          text: { type: 'plain_text', text: 'Open in dashboard', emoji: true },
          url: c.dashboardUrl,
        },
      ]
    : [];
  if (resolved && dashboard.length)
    blocks.push({ type: 'actions', block_id: 'sentinel_alert_actions', elements: dashboard });
  if (!resolved) {
    const value = JSON.stringify({ a: c.alertId, s: c.stream });
    blocks.push({
      type: 'actions',
      block_id: 'sentinel_alert_actions',
      elements: [
        ...dashboard,
        {
          type: 'button',
          action_id: ACTION.ack,
          text: { type: 'plain_text', text: 'Acknowledge', emoji: true },
          style: 'primary',
          value,
        },
        {
          type: 'button',
          action_id: `${ACTION.snooze}_1`,
          text: { type: 'plain_text', text: 'Snooze 1 h', emoji: true },
          value,
        },
        {
          type: 'button',
          action_id: `${ACTION.snooze}_4`,
          text: { type: 'plain_text', text: 'Snooze 4 h', emoji: true },
          value,
        },
      ],
    });
  }
  return { text: `${resolved ? 'Resolved: ' : ''}${escapeText(c.headline)}`, blocks };
}

/** One of the most negative mentions, in the alert's thread: its own message so it can be judged. */
export function mentionMessage(m: AlertMention): SlackMessage {
  const who = m.author ? `@${escapeText(clip(m.author, 50, true))}` : 'on X';
  return {
    text: `${pct(m.negative)} negative: ${escapeText(clip(m.text, 150, true))}`,
    blocks: [
      section(
        `*${pct(m.negative)} negative* · ${link(m.url, who)} · ${utc(m.createdAt)}\n${quote(clip(m.text, 1500))}`,
      ),
      context('React :white_check_mark: if the model is right that this is negative, :x: if it is not'),
    ],
  };
}

/** A reply in the thread while the alert lasts (at most every N minutes). */
export function alertUpdateReply(c: AlertSnapshot): SlackMessage {
  return {
    text: `Update: ${escapeText(c.headline)}`,
    blocks: [section(`${KIND_EMOJI.updated} *Update* · ${escapeText(c.headline)}`), figureFields(c), ...trendBlocks(c)],
  };
}

/** The reply in the thread when the alert is over. */
export function alertResolutionReply(c: AlertSnapshot): SlackMessage {
  return {
    text: `Over: ${escapeText(c.headline)}`,
    blocks: [section(`${KIND_EMOJI.resolved} *Over* · ${escapeText(c.headline)}`), figureFields(c), ...trendBlocks(c)],
  };
}

export function ackReply(user: string): string {
  return `:eyes: ${userMention(user)} acknowledged this alert.`;
}

export function snoozeReply(user: string, stream: string, hours: number, until: string): string {
  return `:zzz: ${userMention(user)} snoozed new alerts on *${escapeText(stream)}* for ${hours} h (until ${utc(until)}).`;
}

/** A notice about Sentinel itself (model fallback, a paused source) in the alert channels. */
export function opsNoticeText(text: string): string {
  return `:warning: Sentinel: ${escapeText(text, 3000)}`;
}
