/**
 * Adaptive Cards (schema 1.4, what Teams renders on desktop, web and mobile) of everything Sentinel posts
 * in Teams, as pure functions of platform-neutral data: predictions, the trend module's AlertContent,
 * status figures. The buttons are Action.Submit: Teams sends their `data` back as the `value` of a message
 * activity (replyToId: the card), which `parseSubmit` reads.
 *
 * Every piece of untrusted text (tweets, what users typed, display names, stream names, reasons) goes
 * through ONE function per format, after it was decoded once where it entered (src/chat/text.ts): `md`
 * for TextBlocks and message text (Teams renders a markdown subset and some HTML there), `plain` for
 * what is shown as written (notification summaries, alt texts). Both drop control characters and break
 * any `<tag` (`<at>Lead</at>` mentions nobody, `<a href>` links nowhere) with an invisible word joiner,
 * keeping `<3` and `>` as they are; `md` also escapes the markdown (`*`, `_`, `[`, …) and breaks `](`,
 * so a text can neither format itself nor forge a link. Cards are objects serialised by botbuilder, so no
 * text can break their JSON. The chart is an Image whose url is a `data:image/png;base64`
 * URI: Teams renders those and leaves base64 images out of its bot message size limit, and Sentinel needs
 * no public URL to host it.
 */
import { LABELS, type Label, type Explained } from '../../src/sentiment/types';
import type { AlertContent, AlertMention } from '../../src/trends/content';
import { duration } from '../../src/trends/content';
import { otherLanguagesText } from '../../src/trends/languages';
import { challengerLine, leaderLine, otherLanguagesPart, xReadsLine, type ChatStatus } from '../../src/chat/status';
import { SNOOZE_HOURS } from '../../src/chat/snooze';
import { stripControls } from '../../src/chat/text';

export type CardElement = Record<string, unknown>;

export interface AdaptiveCard {
  type: 'AdaptiveCard';
  $schema: string;
  version: '1.4';
  body: CardElement[];
  actions?: CardElement[];
  msteams?: { width: 'Full' };
}

export const ADAPTIVE_CARD = 'application/vnd.microsoft.card.adaptive';

/** The message activity carrying a card; `summary` is what notifications and screen readers show. */
export function cardMessage(card: AdaptiveCard, summary: string) {
  return {
    type: 'message' as const,
    summary: plain(clip(summary, 200, true)),
    attachments: [{ contentType: ADAPTIVE_CARD, content: card }],
  };
}

function card(body: CardElement[], actions?: CardElement[], full = false): AdaptiveCard {
  return {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.4',
    body,
    ...(actions?.length ? { actions } : {}),
    ...(full ? { msteams: { width: 'Full' as const } } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// Text helpers

/** U+2060 WORD JOINER: invisible, and no HTML parser reads `<` + it + `at>` as a tag. */
const JOINER = '\u2060';

/** Shown as written (summaries, alt texts): control characters out, every `<tag` broken. */
export function plain(s: string): string {
  return stripControls(s).replace(/<(?=[A-Za-z/!?])/g, `<${JOINER}`);
}

/**
 * THE escaping of untrusted text for Teams markdown (TextBlocks, message text): `plain`, then the
 * markdown Teams renders escaped, and `](` broken so no `[label](url)` can form even where a backslash
 * is not honoured. A decoded `>` stays `>` (escaped `\>` only at a line's start, where it would quote).
 */
export function md(s: string): string {
  return plain(s)
    .replace(/([\\*_[\]`~])/g, '\\$1')
    .replace(/\\\]\(/g, `\\]${JOINER}(`)
    .replace(/^([#>+-]|\d+\.)/gm, '\\$1');
}

/** A markdown link to a plain https URL; any other URL is left out (the label alone). */
export function mdLink(label: string, url: string): string {
  return /^https:\/\/[^\s()<>[\]]+$/.test(url) ? `[${label}](${url})` : label;
}

/** At most `max` characters (code points), with an ellipsis when cut, whitespace collapsed if `oneLine`. */
export function clip(s: string, max: number, oneLine = false): string {
  const t = oneLine ? s.replace(/\s+/g, ' ').trim() : s.trim();
  const chars = [...t];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : t;
}

export function pct(x: number): string {
  return Number.isFinite(x) ? `${Math.round(x * 100)} %` : '–';
}

/** A 20-character bar: `████████░░░░░░░░░░░░`. */
export function bar(p: number, width = 20): string {
  const full = Math.max(0, Math.min(width, Math.round((Number.isFinite(p) ? p : 0) * width)));
  return '█'.repeat(full) + '░'.repeat(width - full);
}

function signed(x: number, digits = 0): string {
  const f = 10 ** digits;
  const r = Math.round(x * f) / f;
  return `${r >= 0 ? '+' : '−'}${Math.abs(r)}`;
}

function utc(isoTime: string): string {
  return `${isoTime.slice(0, 10)} ${isoTime.slice(11, 16)} UTC`;
}

function hhmm(isoTime: string): string {
  return isoTime.slice(11, 16);
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function text(value: string, extra: CardElement = {}): CardElement {
  return { type: 'TextBlock', text: value, wrap: true, ...extra };
}

function note(value: string, extra: CardElement = {}): CardElement {
  return text(value, { size: 'Small', isSubtle: true, spacing: 'Small', ...extra });
}

// ---------------------------------------------------------------------------------------------------
// Button data

export type SubmitData =
  | { sentinel: 'vote'; predictionId: string; correct: boolean }
  | { sentinel: 'alertVote'; alertId: string; correct: boolean }
  | { sentinel: 'alertAck'; alertId: string }
  | { sentinel: 'alertSnooze'; alertId: string; hours: number }
  | { sentinel: 'label'; predictionId: string; label: Label };

/** What a card button sent: its data, `null` when it is not one of Sentinel's, or why it is malformed. */
export function parseSubmit(value: unknown): SubmitData | null | { malformed: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  if (!('sentinel' in v)) return null;
  const id = (x: unknown) => typeof x === 'string' && x.length > 0 && x.length <= 200;
  switch (v.sentinel) {
    case 'vote':
      if (id(v.predictionId) && typeof v.correct === 'boolean')
        return { sentinel: 'vote', predictionId: v.predictionId as string, correct: v.correct };
      break;
    case 'alertVote':
      if (id(v.alertId) && typeof v.correct === 'boolean')
        return { sentinel: 'alertVote', alertId: v.alertId as string, correct: v.correct };
      break;
    case 'alertAck':
      if (id(v.alertId)) return { sentinel: 'alertAck', alertId: v.alertId as string };
      break;
    case 'alertSnooze':
      if (id(v.alertId) && (SNOOZE_HOURS as readonly unknown[]).includes(v.hours))
        return { sentinel: 'alertSnooze', alertId: v.alertId as string, hours: v.hours as number };
      break;
    case 'label': {
      const label = LABELS.find((l) => l === v.label);
      if (id(v.predictionId) && label) return { sentinel: 'label', predictionId: v.predictionId as string, label };
      break;
    }
  }
  return { malformed: `unexpected button data ${clip(JSON.stringify(v), 200)}` };
}

function submit(title: string, data: SubmitData, style?: 'positive' | 'destructive'): CardElement {
  return { type: 'Action.Submit', title, data, ...(style ? { style } : {}) };
}

// ---------------------------------------------------------------------------------------------------
// Judged messages: a `sentiment` answer, a mention in an alert's thread

export interface Voter {
  name?: string;
  correct: boolean;
  trueLabel?: Label;
}

interface Judged {
  predictionId: string;
  /** By user id: the votes cast on this card (buttons and reactions), as they are in the store. */
  votes: Record<string, Voter>;
  /** The label the model gave (for a mention: read from the store at the first ❌). */
  label?: Label;
}

export interface AnswerCardState extends Judged {
  kind: 'answer';
  text: string;
  prediction: Pick<Explained, 'label' | 'confidence' | 'probabilities' | 'modelVersion' | 'words'>;
  askedBy?: string;
}

export interface MentionCardState extends Judged {
  kind: 'mention';
  stream: string;
  mention: AlertMention;
}

export type JudgedCardState = AnswerCardState | MentionCardState;

const LABEL_EMOJI: Record<Label, string> = { negative: '🙁', neutral: '😐', positive: '🙂' };
const LABEL_COLOUR: Record<Label, string> = { negative: 'Attention', neutral: 'Default', positive: 'Good' };

function judgeButtons(predictionId: string): CardElement[] {
  return [
    submit('✅ Right', { sentinel: 'vote', predictionId, correct: true }, 'positive'),
    submit('❌ Wrong', { sentinel: 'vote', predictionId, correct: false }, 'destructive'),
  ];
}

/** The votes, and — while someone said ❌ without saying what it should have been — the question. */
function feedbackBlocks(state: JudgedCardState): CardElement[] {
  const voters = Object.values(state.votes);
  if (!voters.length) return [];
  const right = voters.filter((v) => v.correct).length;
  const wrong = voters.filter((v) => !v.correct);
  const said = LABELS.map((l) => [l, wrong.filter((v) => v.trueLabel === l).length] as const).filter(([, n]) => n);
  const out: CardElement[] = [
    note(
      `Feedback: ✅ ${right} · ❌ ${wrong.length}` +
        (said.length ? ` (should have been ${said.map(([l, n]) => `${l} ×${n}`).join(', ')})` : ''),
      { spacing: 'Medium' },
    ),
  ];
  const asked = wrong.filter((v) => !v.trueLabel);
  if (asked.length && state.label) {
    const who = asked
      .map((v) => v.name)
      .filter((n): n is string => Boolean(n))
      .slice(0, 3);
    out.push(
      text(
        `**Thanks for the ❌${who.length ? `, ${md(who.join(', '))}` : ''}.** The model said *${state.label}*: what should it have been?`,
        { spacing: 'Medium' },
      ),
      {
        type: 'ActionSet',
        actions: LABELS.filter((l) => l !== state.label).map((l) =>
          submit(`${LABEL_EMOJI[l]} ${capital(l)}`, { sentinel: 'label', predictionId: state.predictionId, label: l }),
        ),
      },
    );
  }
  return out;
}

/** The answer to `sentiment <text>`: label, confidence, probability bars, the words that drove it, ✅ / ❌. */
export function answerCard(state: AnswerCardState, maxWords = 5): AdaptiveCard {
  const p = state.prediction;
  const bars: CardElement[] = LABELS.map((l) => ({
    type: 'ColumnSet',
    spacing: 'None',
    columns: [
      { type: 'Column', width: '80px', items: [text(l, { fontType: 'Monospace', size: 'Small' })] },
      {
        type: 'Column',
        width: 'stretch',
        items: [text(bar(p.probabilities[l]), { fontType: 'Monospace', size: 'Small', color: LABEL_COLOUR[l] })],
      },
      {
        type: 'Column',
        width: '50px',
        items: [text(pct(p.probabilities[l]), { size: 'Small', horizontalAlignment: 'Right' })],
      },
    ],
  }));
  const drivers = p.words
    .filter((w) => w.weight > 0.005)
    .sort((a, b) => b.weight - a.weight)
    .slice(0, maxWords)
    .map((w) => `**${md(w.word)}** (${signed(w.weight * 100)} pts)`);
  return card(
    [
      text(`${LABEL_EMOJI[p.label]} **${capital(p.label)}** · ${pct(p.confidence)} confident`, {
        size: 'Medium',
        color: LABEL_COLOUR[p.label],
      }),
      text(md(clip(state.text, 1000)), { isSubtle: true, spacing: 'Small' }),
      ...bars,
      text(
        drivers.length
          ? `Words that drove it: ${drivers.join(' · ')}`
          : 'No single word drove it: the text as a whole did',
        { spacing: 'Medium', size: 'Small' },
      ),
      note(
        `${state.askedBy ? `Asked by ${md(state.askedBy)} · ` : ''}model ${md(p.modelVersion)} · ` +
          'Right or wrong? Click below, or react 👍 / ✅ (right) or 😠 / ❌ (wrong)',
      ),
      ...feedbackBlocks(state),
    ],
    judgeButtons(state.predictionId),
  );
}

/** One of an alert's most negative mentions, in its thread: its own card so it can be judged. */
export function mentionCard(state: MentionCardState): AdaptiveCard {
  const m = state.mention;
  const who = m.author ? `@${clip(m.author, 50, true)}` : 'on X';
  return card(
    [
      text(`**${pct(m.negative)} negative** · ${mdLink(md(who), m.url)} · ${utc(m.createdAt)}`),
      text(md(clip(m.text, 1000)), { isSubtle: true, spacing: 'Small' }),
      note('Is the model right that this is negative? Click below, or react 👍 / ✅ (right) or 😠 / ❌ (wrong)'),
      ...feedbackBlocks(state),
    ],
    judgeButtons(state.predictionId),
  );
}

export function judgedCard(state: JudgedCardState): AdaptiveCard {
  return state.kind === 'answer' ? answerCard(state) : mentionCard(state);
}

// ---------------------------------------------------------------------------------------------------
// Alerts

/** The alert content without its chart (what is kept to draw the card again). */
export type AlertSnapshot = Omit<AlertContent, 'chart'>;

export interface CardChart {
  /** data:image/png;base64,… */
  url: string;
  title: string;
}

/**
 * Teams refuses a card over about 28 KB, and the chart travels inside it as a data URI. The charts are
 * palette PNGs of about 16 KB (src/trends/chart.ts): one larger than this is left out rather than the
 * whole card refused (the card links the dashboard, which shows the same chart).
 */
export const MAX_CARD_CHART_CHARS = 22 * 1024;

export function chartOf(content: AlertContent): CardChart | undefined {
  if (!content.chart) return undefined;
  const url = `data:image/png;base64,${content.chart.png.toString('base64')}`;
  return url.length <= MAX_CARD_CHART_CHARS ? { url, title: content.chart.title } : undefined;
}

const KIND = {
  opened: { emoji: '🚨', style: 'attention', word: '' },
  updated: { emoji: '⚠️', style: 'warning', word: 'Update · ' },
  resolved: { emoji: '🟢', style: 'good', word: 'Over · ' },
} as const;

function pValue(p: number): string {
  return p < 1e-4 ? p.toExponential(1) : p.toPrecision(2);
}

function figures(c: AlertSnapshot): CardElement {
  const f = c.figures;
  const facts = [
    {
      title: 'Negative share',
      value: `${pct(f.negativeShare)} in the last ${duration(f.windowMinutes)}, normally ${pct(f.baselineShare)} (${signed(f.lift * 100)} pts, p = ${pValue(f.pValue)})`,
    },
    {
      title: 'Volume',
      value:
        `${f.volume} mentions, ${f.negatives} negative` +
        (f.usualVolume !== null ? ` (usually about ${f.usualVolume} in ${duration(f.windowMinutes)})` : ''),
    },
  ];
  if (c.rise.previousShare !== null)
    facts.push({
      title: 'Rise',
      value:
        `from ${pct(c.rise.previousShare)} in the ${duration(f.windowMinutes)} before` +
        (c.rise.pointsPerHour !== null ? ` (${signed(c.rise.pointsPerHour, 1)} pts an hour)` : ''),
    });
  facts.push(
    c.kind === 'resolved' && c.resolvedAt
      ? {
          title: 'Lasted',
          value: `${duration(c.durationMinutes)} (${utc(c.openedAt)} → ${hhmm(c.resolvedAt)} UTC), peak ${pct(c.peak.share)} at ${hhmm(c.peak.at)} UTC`,
        }
      : {
          title: 'Open since',
          value: `${utc(c.openedAt)} (${duration(c.durationMinutes)}), peak so far ${pct(c.peak.share)}`,
        },
  );
  return { type: 'FactSet', facts };
}

function trend(c: AlertSnapshot): CardElement[] {
  const out: CardElement[] = [
    {
      type: 'ColumnSet',
      columns: [
        { type: 'Column', width: 'auto', items: [text('**Last 24 h**')] },
        { type: 'Column', width: 'auto', items: [text(c.sparkline.text, { fontType: 'Monospace' })] },
        {
          type: 'Column',
          width: 'stretch',
          items: [note(`hourly negative share, ${hhmm(c.sparkline.from)}–${hhmm(c.sparkline.to)} UTC`)],
        },
      ],
    },
  ];
  if (c.why) out.push(text(`**Why now** ${md(c.why.now)}`, { spacing: 'Small' }), note(md(`How sure: ${c.why.sure}.`)));
  if (c.terms.length) out.push(text(`**About** ${c.terms.map((t) => md(t.term)).join(' · ')}`, { spacing: 'Small' }));
  if (c.otherLanguages?.total) out.push(note(md(`${otherLanguagesText(c.otherLanguages)}.`)));
  return out;
}

function mentionLines(mentions: AlertMention[]): CardElement[] {
  if (!mentions.length) return [];
  return [
    text('**Most negative mentions**', { spacing: 'Medium' }),
    ...mentions.map((m) =>
      text(
        `${pct(m.negative)} · ${mdLink(md(m.author ? `@${clip(m.author, 50, true)}` : 'on X'), m.url)} · ${md(clip(m.text, 200, true))}`,
        { size: 'Small', spacing: 'Small' },
      ),
    ),
  ];
}

function chartImage(chart: CardChart | undefined): CardElement[] {
  return chart
    ? [{ type: 'Image', url: chart.url, altText: plain(chart.title), size: 'Stretch', spacing: 'Medium' }]
    : [];
}

export interface AlertVotes {
  real: number;
  falseAlarm: number;
}

/** Who acknowledged the alert and its snooze, shown on the card. */
export interface AlertMarks {
  acks: Array<{ id: string; name?: string; at: string }>;
  snooze?: { id: string; name?: string; until: string; hours: number };
}

/** A user as the card and the replies name them. */
export function who(u: { id: string; name?: string }): string {
  return u.name || 'someone';
}

/** The thread reply to Acknowledge. */
export function ackReply(user: { id: string; name?: string }): string {
  return `👀 ${md(who(user))} acknowledged this alert.`;
}

/** The thread reply to Snooze. */
export function snoozeReply(user: { id: string; name?: string }, stream: string, hours: number, until: string): string {
  return `💤 ${md(who(user))} snoozed new alerts on **${md(stream)}** for ${hours} h (until ${utc(until)}).`;
}

function markLines(m: AlertMarks | undefined): CardElement[] {
  if (!m) return [];
  const out: CardElement[] = [];
  if (m.acks.length)
    out.push(
      text(`👀 Acknowledged by ${[...new Set(m.acks.map((a) => md(who(a))))].join(', ')}`, { spacing: 'Small' }),
    );
  if (m.snooze)
    out.push(text(`💤 New alerts snoozed until ${utc(m.snooze.until)} by ${md(who(m.snooze))}`, { spacing: 'Small' }));
  return out;
}

/** The alert's card: posted when it opens, updated in place at each update and at the resolution. */
export function alertCard(
  c: AlertSnapshot,
  chart: CardChart | undefined,
  votes: AlertVotes,
  marks?: AlertMarks,
): AdaptiveCard {
  const k = KIND[c.kind];
  const judged = votes.real + votes.falseAlarm;
  const open = c.kind !== 'resolved';
  return card(
    [
      {
        type: 'Container',
        style: k.style,
        bleed: true,
        items: [
          text(`${k.emoji} **${md(c.resolvedAt ? `Resolved: ${c.headline}` : c.headline)}**`, { size: 'Medium' }),
          ...markLines(marks),
        ],
      },
      figures(c),
      ...trend(c),
      ...mentionLines(c.mentions),
      ...chartImage(chart),
      note(
        (judged ? `Judged: ${votes.real} real · ${votes.falseAlarm} false alarm · ` : '') +
          'Is this a real bad buzz? Click below, or react 👍 / ✅ (real) or 😠 / ❌ (false alarm). Updates are in the replies.',
      ),
    ],
    [
      ...(c.dashboardUrl ? [{ type: 'Action.OpenUrl', title: '📈 Open in dashboard', url: c.dashboardUrl }] : []),
      submit('✅ Real bad buzz', { sentinel: 'alertVote', alertId: c.alertId, correct: true }, 'positive'),
      submit('❌ False alarm', { sentinel: 'alertVote', alertId: c.alertId, correct: false }, 'destructive'),
      // Once it is over there is nothing left to acknowledge or snooze (as on Slack's headline).
      ...(open
        ? [
            submit('👀 Acknowledge', { sentinel: 'alertAck', alertId: c.alertId }),
            ...SNOOZE_HOURS.map((hours) =>
              submit(`💤 Snooze ${hours} h`, { sentinel: 'alertSnooze', alertId: c.alertId, hours }),
            ),
          ]
        : []),
    ],
    true,
  );
}

/** A reply in the alert's thread: an update, or the resolution. */
export function alertReplyCard(c: AlertSnapshot, chart: CardChart | undefined): AdaptiveCard {
  const k = c.kind === 'resolved' ? KIND.resolved : KIND.updated;
  return card(
    [
      text(`${k.emoji} **${k.word}${md(c.headline)}**`),
      figures(c),
      ...trend(c),
      ...(c.kind === 'resolved' ? [] : mentionLines(c.mentions.slice(0, 3))),
      ...chartImage(chart),
    ],
    undefined,
    true,
  );
}

// ---------------------------------------------------------------------------------------------------
// help, status

export function helpCard(maxTextChars: number): AdaptiveCard {
  return card([
    text('**Sentinel** watches the airline\u2019s mentions on X and warns this team when a bad buzz starts.', {
      size: 'Medium',
    }),
    {
      type: 'FactSet',
      facts: [
        {
          title: 'sentiment <text>',
          value: `Scores the text with Sentinel's sentiment model (up to ${maxTextChars.toLocaleString('en-US')} characters): the label, how sure it is, the words that drove it. /sentiment works too.`,
        },
        { title: 'status', value: 'The model serving, each mention stream against its normal level, the open alerts.' },
        {
          title: 'digest [stream] [YYYY-MM-DD]',
          value:
            'The daily digest of a stream (all of them without a name) for yesterday or the day given: volume and negative share against normal, themes, the alerts and how they ended. The alert conversations get it every morning.',
        },
        {
          title: 'stats',
          value:
            'The model\u2019s accuracy measured by your votes, per model version with its 95 % interval, and what the mistakes should have been.',
        },
        {
          title: 'resume',
          value:
            'Tries a paused mention source again now (after its token or certificate was fixed), not at its next 15-minute retry.',
        },
        { title: 'help', value: 'This message.' },
      ],
    },
    note(
      'In a channel, @mention Sentinel first. Judge every answer and alert with its ✅ / ❌ buttons or with a reaction ' +
        '(👍 or ✅ right, 😠 or ❌ wrong): your votes measure the model in production and train the next one.',
    ),
  ]);
}

export interface StatusInfo extends ChatStatus {
  /** Conversations that get alerts. */
  alertConversations: number;
}

export function statusCard(s: StatusInfo): AdaptiveCard {
  const model = s.model.ready
    ? `**Model** ${md(s.model.version)} (${md(s.model.name)}), running on **${md(s.model.backend)}**`
    : `**Model** not ready: ${md(s.model.reason)}`;
  const streams = s.streams.map((st) => {
    const parts = [`**${md(st.stream)}**`];
    if (st.phase === 'learning') parts.push(`learning what is normal${st.reason ? ` (${md(st.reason)})` : ''}`);
    else if (st.share !== null)
      parts.push(
        `${pct(st.share)} negative in the last window vs ${st.baseline === null ? '–' : pct(st.baseline)} normally` +
          (st.volume !== null ? ` (${st.volume} mentions)` : ''),
      );
    if (st.phase === 'open') parts.push('🚨 alert open');
    if (st.phase === 'cooldown') parts.push('cooling down after an alert');
    if (st.at) parts.push(`judged up to ${utc(st.at)}`);
    if (st.snoozedUntil) parts.push(`💤 snoozed until ${utc(st.snoozedUntil)}`);
    const languages = otherLanguagesPart(st);
    if (languages) parts.push(md(languages));
    return `- ${parts.join(' · ')}`;
  });
  const alerts = s.openAlerts.map((a) => `- ${md(a.headline)} (since ${utc(a.openedAt)})`);
  const accuracy = s.accuracy.length
    ? s.accuracy
        .map((a) => `${md(a.modelVersion)} ${pct(a.accuracy)} over ${a.votes} vote${a.votes === 1 ? '' : 's'}`)
        .join(' · ')
    : 'no votes yet';
  return card([
    text(model),
    text(
      streams.length
        ? `**Streams**\n\n${streams.join('\n')}`
        : s.trendsAvailable
          ? '**Streams** none judged since the start'
          : '**Streams** trend detection is not running',
    ),
    text(alerts.length ? `**Open alerts**\n\n${alerts.join('\n')}` : '**Open alerts** none'),
    note(
      `Accuracy from your votes: ${accuracy} · alerts go to ${s.alertConversations} Teams conversation${s.alertConversations === 1 ? '' : 's'}`,
    ),
    ...[challengerLine(s), xReadsLine(s), leaderLine(s)]
      .filter((l): l is string => l !== null)
      .map((l) => note(plain(l))),
  ]);
}
