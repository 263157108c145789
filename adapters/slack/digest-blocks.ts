/**
 * Block Kit layouts of the daily digest and of `/sentiment stats`, as pure functions of the core's
 * DigestContent (src/trends/digest.ts) and AccuracyReport (src/feedback/production-accuracy.ts). Each
 * returns `{ text, blocks }` like ./blocks, and every piece of untrusted text (stream names, tweets,
 * themes, model versions, Teams names) goes through ./blocks' `escapeText`; Slack users who acknowledged
 * an alert are named with `userMention` (their ids come from verified payloads).
 *
 * A quiet day is two lines, an empty day one: the headline and the figures, nothing else.
 */
import type { types } from '@slack/bolt';
import {
  accuracyLine,
  alertJudgement,
  alertOutcome,
  type DigestAck,
  type DigestContent,
} from '../../src/trends/digest';
import { CONFUSION_COLUMNS, type AccuracyReport } from '../../src/feedback/production-accuracy';
import { comparisonLine } from '../../src/feedback/shadow';
import { LABELS } from '../../src/sentiment/types';
import { otherLanguagesText } from '../../src/trends/languages';
import { clip, escapeText, link, pct, userMention, type SlackMessage } from './blocks';

type Block = types.KnownBlock;

function section(text: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

function context(text: string): Block {
  return { type: 'context', elements: [{ type: 'mrkdwn', text }] };
}

/** An acknowledgement as Slack shows it: a Slack user as a mention, anyone else by name. */
function ackName(a: DigestAck): string {
  return a.platform === 'slack'
    ? userMention(a.user)
    : `${escapeText(a.name ?? 'someone')} (${escapeText(a.platform)})`;
}

/** "9–91 %". */
function interval(i: { low: number; high: number }): string {
  return `${Math.round(i.low * 100)}–${pct(i.high)}`;
}

function pValue(p: number): string {
  return p < 1e-4 ? p.toExponential(1) : p.toPrecision(2);
}

/** Alerts shown at most (a section holds 3,000 characters); the rest are counted. */
const MAX_ALERTS = 5;

/**
 * The digest as a message. `chart`: where the chart is (`thread`: posted in the message's thread; `none`:
 * an ephemeral answer, which cannot carry a file).
 */
export function digestMessage(c: DigestContent, chart: 'thread' | 'none'): SlackMessage {
  const headline = `:newspaper: *${escapeText(c.headline)}*`;
  if (c.kind === 'empty') return { text: escapeText(c.headline), blocks: [section(headline)] };
  if (c.kind === 'quiet')
    return {
      text: `${escapeText(c.headline)} ${escapeText(c.summary)}`,
      blocks: [section(`${headline}\n${escapeText(c.summary)}`)],
    };

  const zone = escapeText(c.day.timeZone);
  const normal =
    c.normal.status === 'learning'
      ? 'too little history yet to know what is normal'
      : `normally ${pct(c.normal.share)}` +
        (c.normal.judged
          ? ` (${c.normal.lift >= 0 ? '+' : '−'}${Math.abs(Math.round(c.normal.lift * 100))} pts, p = ${pValue(c.normal.pValue)})`
          : ', too few mentions to judge');
  const blocks: Block[] = [
    section(headline),
    {
      type: 'section',
      fields: [
        {
          type: 'mrkdwn',
          text: `*Mentions*\n${c.mentions}` + (c.usualMentions !== null ? ` (usually about ${c.usualMentions})` : ''),
        },
        { type: 'mrkdwn', text: `*Negative*\n${pct(c.share ?? 0)}, ${normal}` },
      ],
    },
    section(`*Hour by hour* \`${c.sparkline.text}\` negative share, 00:00–24:00 ${zone}`),
  ];
  if (c.themes.length) blocks.push(section(`*Themes* ${c.themes.map((t) => escapeText(t.term)).join(' · ')}`));
  if (c.otherLanguages.total)
    blocks.push(section(`*Other languages* ${escapeText(otherLanguagesText(c.otherLanguages))}`));
  if (c.alerts.length) {
    const lines = c.alerts.slice(0, MAX_ALERTS).map((a) => {
      const ack = a.acknowledged.length
        ? `acknowledged by ${[...new Set(a.acknowledged.map(ackName))].join(', ')}`
        : 'not acknowledged';
      const judged = alertJudgement(a);
      return `• ${escapeText(a.headline)}\n      ${alertOutcome(c, a)} · ${ack}${judged ? ` · ${judged}` : ''}`;
    });
    if (c.alerts.length > MAX_ALERTS) lines.push(`…and ${c.alerts.length - MAX_ALERTS} more`);
    blocks.push(section(`*Alerts*\n${lines.join('\n')}`));
  }
  if (c.topMentions.length)
    blocks.push(
      section(
        `*Most negative*\n${c.topMentions
          .map((m) => `• ${pct(m.negative)} · ${link(m.url, 'on X')} · ${escapeText(clip(m.text, 200, true))}`)
          .join('\n')}`,
      ),
    );
  const votes = `${c.votes.received} vote${c.votes.received === 1 ? '' : 's'} received that day`;
  blocks.push(
    context(
      `${votes} · Production accuracy: ${escapeText(accuracyLine(c.accuracy))}` +
        (chart === 'thread' && c.chart ? ' · The chart is in the thread' : ''),
    ),
  );
  if (c.challenger) blocks.push(context(escapeText(comparisonLine(c.challenger))));
  return { text: escapeText(c.headline), blocks };
}

/** Several digests in one ephemeral answer (`/sentiment digest` for every stream), dividers between. */
export function digestsMessage(contents: DigestContent[]): SlackMessage {
  const parts = contents.map((c) => digestMessage(c, 'none'));
  const blocks: Block[] = [];
  parts.forEach((p, i) => {
    if (i) blocks.push({ type: 'divider' });
    blocks.push(...p.blocks);
  });
  if (contents.some((c) => c.chart))
    blocks.push(context('The chart of each day comes with the digest posted in the alert channels.'));
  return { text: parts.map((p) => p.text).join(' · '), blocks: blocks.slice(0, 50) };
}

/** `/sentiment stats`: production accuracy per model version with its 95 % interval, and the confusion. */
export function statsMessage(r: AccuracyReport): SlackMessage {
  if (!r.versions.length)
    return {
      text: 'No prediction has been judged yet.',
      blocks: [
        section(
          '*Production accuracy* no prediction has been judged yet. React :white_check_mark: or :x: on answers and on the mentions under alerts: the votes measure the model.',
        ),
      ],
    };
  const versions = r.versions.map((v) => {
    const figures =
      v.accuracy === null
        ? 'no majority yet'
        : `*${pct(v.accuracy)}* (95 % CI ${interval(v.interval!)}) · ${v.correct} of ${v.judged} right`;
    const ties = v.ties ? ` · ${v.ties} tie${v.ties === 1 ? '' : 's'} left out` : '';
    return `• \`${escapeText(v.modelVersion)}\` ${figures}${ties} · ${v.votes} vote${v.votes === 1 ? '' : 's'}`;
  });
  const width = Math.max(...CONFUSION_COLUMNS.map((c) => c.length), 8) + 2;
  const header = 'model said'.padEnd(12) + CONFUSION_COLUMNS.map((c) => c.padStart(width)).join('');
  const rows = LABELS.map(
    (l) => l.padEnd(12) + CONFUSION_COLUMNS.map((c) => String(r.confusion[l][c]).padStart(width)).join(''),
  );
  return {
    text: `Production accuracy: ${r.versions
      .filter((v) => v.accuracy !== null)
      .map((v) => `${escapeText(v.modelVersion)} ${pct(v.accuracy!)} over ${v.judged}`)
      .join(', ')}`,
    blocks: [
      section(
        `*Production accuracy from your votes* (each prediction judged by the majority of its ✅ / ❌; ties left out)\n${versions.join('\n')}`,
      ),
      section(
        `*What people said it should have been* (${r.judged} judged predictions; columns: the people's label)\n\`\`\`${header}\n${rows.join('\n')}\`\`\``,
      ),
      context(
        '"not given": judged wrong without saying the right label. The interval is Wilson\'s at 95 %: with few votes it is wide.',
      ),
    ],
  };
}
