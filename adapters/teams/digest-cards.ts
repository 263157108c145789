/**
 * Adaptive Cards (1.4) of the daily digest and of `stats`, as pure functions of the core's DigestContent
 * (src/trends/digest.ts) and AccuracyReport (src/feedback/production-accuracy.ts). Untrusted text (stream
 * names, tweets, themes, model versions, display names) goes through ./cards' `md` (TextBlocks) or `plain`
 * (alt texts, summaries), as everywhere in Teams.
 *
 * The chart is an Image whose url is a `data:image/png;base64` URI, as on alert cards; a bot message is
 * limited to about 28 KB, so a card that would exceed `MAX_CARD_CHARS` with it goes without the image and
 * says so (the digest's chart is 12–15 KB of PNG on the airline data: it fits).
 *
 * A quiet day is two lines, an empty day one.
 */
import { comparisonLine } from '../../src/feedback/shadow';
import { CONFUSION_COLUMNS, type AccuracyReport } from '../../src/feedback/production-accuracy';
import { LABELS } from '../../src/sentiment/types';
import { otherLanguagesText } from '../../src/trends/languages';
import {
  accuracyLine,
  alertJudgement,
  alertOutcome,
  type DigestAck,
  type DigestContent,
} from '../../src/trends/digest';
import { cardMessage, clip, md, mdLink, pct, plain, type AdaptiveCard, type CardElement } from './cards';

/** What a card may weigh, serialised, with room left for the activity around it (Teams: about 28 KB). */
export const MAX_CARD_CHARS = 26_000;

function text(value: string, extra: CardElement = {}): CardElement {
  return { type: 'TextBlock', text: value, wrap: true, ...extra };
}

function note(value: string, extra: CardElement = {}): CardElement {
  return text(value, { size: 'Small', isSubtle: true, spacing: 'Small', ...extra });
}

function card(body: CardElement[], full = true): AdaptiveCard {
  return {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.4',
    body,
    ...(full ? { msteams: { width: 'Full' as const } } : {}),
  };
}

/**
 * Who acknowledged, as Teams shows it: the names Teams gave, then how many did elsewhere ("2 people in
 * Slack": a Slack user id means nothing here).
 */
function acknowledgedBy(acks: DigestAck[]): string {
  const names = [...new Set(acks.filter((a) => a.platform === 'teams').map((a) => md(a.name ?? 'someone')))];
  const elsewhere = new Map<string, Set<string>>();
  for (const a of acks.filter((x) => x.platform !== 'teams'))
    elsewhere.set(a.platform, (elsewhere.get(a.platform) ?? new Set()).add(a.user));
  for (const [platform, users] of elsewhere)
    names.push(
      `${users.size === 1 ? '1 person' : `${users.size} people`} in ${platform === 'slack' ? 'Slack' : md(platform)}`,
    );
  return names.join(', ');
}

function pValue(p: number): string {
  return p < 1e-4 ? p.toExponential(1) : p.toPrecision(2);
}

/** The digest's card body without its chart. */
function digestBody(c: DigestContent): CardElement[] {
  const headline = text(`📰 **${md(c.headline)}**`, { size: 'Medium' });
  if (c.kind === 'empty') return [headline];
  if (c.kind === 'quiet') return [headline, text(md(c.summary), { spacing: 'Small' })];
  const zone = md(c.day.timeZone);
  const normal =
    c.normal.status === 'learning'
      ? 'too little history yet to know what is normal'
      : `normally ${pct(c.normal.share)}` +
        (c.normal.judged
          ? ` (${c.normal.lift >= 0 ? '+' : '−'}${Math.abs(Math.round(c.normal.lift * 100))} pts, p = ${pValue(c.normal.pValue)})`
          : ', too few mentions to judge');
  const facts = [
    {
      title: 'Mentions',
      value: `${c.mentions}${c.usualMentions !== null ? ` (usually about ${c.usualMentions})` : ''}`,
    },
    { title: 'Negative', value: `${pct(c.share ?? 0)}, ${normal}` },
  ];
  if (c.themes.length) facts.push({ title: 'Themes', value: c.themes.map((t) => md(t.term)).join(' · ') });
  if (c.otherLanguages.total) facts.push({ title: 'Other languages', value: md(otherLanguagesText(c.otherLanguages)) });
  const body: CardElement[] = [
    { type: 'Container', style: c.alerts.length ? 'attention' : 'warning', bleed: true, items: [headline] },
    { type: 'FactSet', facts },
    {
      type: 'ColumnSet',
      columns: [
        { type: 'Column', width: 'auto', items: [text('**Hour by hour**')] },
        { type: 'Column', width: 'auto', items: [text(c.sparkline.text, { fontType: 'Monospace' })] },
        { type: 'Column', width: 'stretch', items: [note(`negative share, 00:00–24:00 ${zone}`)] },
      ],
    },
  ];
  if (c.alerts.length) {
    body.push(text('**Alerts**', { spacing: 'Medium' }));
    for (const a of c.alerts.slice(0, 5)) {
      const ack = a.acknowledged.length ? `acknowledged by ${acknowledgedBy(a.acknowledged)}` : 'not acknowledged';
      const judged = alertJudgement(a);
      body.push(
        text(`🚨 ${md(a.headline)}`, { spacing: 'Small' }),
        note(`${md(alertOutcome(c, a))} · ${ack}${judged ? ` · ${md(judged)}` : ''}`),
      );
    }
    if (c.alerts.length > 5) body.push(note(`…and ${c.alerts.length - 5} more`));
  }
  if (c.topMentions.length) {
    body.push(text('**Most negative**', { spacing: 'Medium' }));
    for (const m of c.topMentions)
      body.push(
        text(`${pct(m.negative)} · ${mdLink('on X', m.url)} · ${md(clip(m.text, 200, true))}`, {
          size: 'Small',
          spacing: 'Small',
        }),
      );
  }
  body.push(
    note(
      `${c.votes.received} vote${c.votes.received === 1 ? '' : 's'} received that day · Production accuracy: ${md(accuracyLine(c.accuracy))}`,
      { spacing: 'Medium' },
    ),
  );
  if (c.challenger) body.push(note(md(comparisonLine(c.challenger))));
  return body;
}

/** The digest's card, with its chart when it fits (else a note says it was left out). */
export function digestCard(c: DigestContent): AdaptiveCard {
  const body = digestBody(c);
  if (!c.chart) return card(body);
  const url = `data:image/png;base64,${c.chart.png.toString('base64')}`;
  const withChart = card([
    ...body,
    { type: 'Image', url, altText: plain(c.chart.title), size: 'Stretch', spacing: 'Medium' },
  ]);
  if (JSON.stringify(withChart).length <= MAX_CARD_CHARS) return withChart;
  return card([
    ...body,
    note('The chart is too large for a Teams card; it is in the digest posted in Slack and by the console.'),
  ]);
}

/** The message carrying a digest's card. */
export function digestActivity(c: DigestContent) {
  return cardMessage(digestCard(c), c.headline);
}

/** `stats`: production accuracy per model version with its 95 % interval, and the confusion. */
export function statsCard(r: AccuracyReport): AdaptiveCard {
  if (!r.versions.length)
    return card(
      [
        text('**Production accuracy** no prediction has been judged yet.'),
        note('Judge answers and the mentions under alerts with ✅ / ❌: the votes measure the model.'),
      ],
      false,
    );
  const facts = r.versions.map((v) => ({
    title: md(v.modelVersion),
    value:
      (v.accuracy === null
        ? 'no majority yet'
        : `**${pct(v.accuracy)}** (95 % CI ${Math.round(v.interval!.low * 100)}–${pct(v.interval!.high)}) · ${v.correct} of ${v.judged} right`) +
      (v.ties ? ` · ${v.ties} tie${v.ties === 1 ? '' : 's'} left out` : '') +
      ` · ${v.votes} vote${v.votes === 1 ? '' : 's'}`,
  }));
  const column = (header: string, cells: string[], bold = false): CardElement => ({
    type: 'Column',
    width: 'auto',
    items: [
      text(`**${header}**`, { size: 'Small' }),
      ...cells.map((x) => text(bold ? `**${x}**` : x, { size: 'Small', spacing: 'None' })),
    ],
  });
  return card(
    [
      text('**Production accuracy from your votes**', { size: 'Medium' }),
      note('Each prediction judged by the majority of its ✅ / ❌; ties left out.'),
      { type: 'FactSet', facts },
      text(`**What people said it should have been** (${r.judged} judged predictions)`, { spacing: 'Medium' }),
      {
        type: 'ColumnSet',
        columns: [
          column('model said', [...LABELS], true),
          ...CONFUSION_COLUMNS.map((c) =>
            column(
              c,
              LABELS.map((l) => String(r.confusion[l][c])),
            ),
          ),
        ],
      },
      note(
        'Columns: the people\u2019s label. "not given": judged wrong without saying the right label. The interval is Wilson\u2019s at 95 %.',
      ),
    ],
    false,
  );
}

/** The message carrying the stats card. */
export function statsActivity(r: AccuracyReport) {
  const summary = r.versions
    .filter((v) => v.accuracy !== null)
    .map((v) => `${v.modelVersion} ${pct(v.accuracy!)} over ${v.judged}`)
    .join(', ');
  return cardMessage(statsCard(r), `Production accuracy: ${summary || 'nothing judged yet'}`);
}
