/**
 * The daily digest, platform-neutral: what the team reads every morning about one stream's day (midnight
 * to midnight in DIGEST_TIMEZONE, ./digest-day). Adapters lay it out (Slack blocks, a Teams card, the
 * console) through the `DigestSink` port; `digestText` is a plain rendering any of them can use.
 *
 * What it says, with the detector's own yardsticks (nothing re-derived):
 *   - the day's volume and negative share against normal: the stream's history loaded into a
 *     StreamDetector (alerts left out of the baseline as the detector leaves them) and the whole day judged
 *     as one window by `evaluateWindow` — the same EWMA baseline, dispersion and test as an alert's; the
 *     share counts as above normal when the detector would keep an alert open on it (p < the sustain level)
 *     and it is at least TREND_MIN_LIFT above;
 *   - the usual volume of a day (the history's average), the hourly negative share (a text sparkline, and
 *     the PNG chart of src/trends/chart.ts with the expected share, its normal range, and the alerts shaded
 *     from their opening after the window that opened them);
 *   - the main themes of the negative mentions: the weighted log-odds terms of alerts (./terms) against the
 *     baseline period;
 *   - the alerts of the day (open at any time in it) and how they ended: resolved or still open, who
 *     acknowledged them (each chat adapter reads its own record: `AckReader`) and whether people judged
 *     them real or a false alarm by the ✅ / ❌ on their headline (`alert:<id>` in the feedback table:
 *     Store.alertVotes);
 *   - the votes received that day and production accuracy over the 7 days of votes up to the day's end
 *     (src/feedback/production-accuracy.ts).
 *
 * A quiet day (no alert, share not above normal) says so in two lines; a day without mentions in one.
 * The day is always given (`digestFor(stream, day)`): "yesterday" is the caller's choice, on the stream's
 * data clock (`yesterday`), so a replay of 2015 gets 2015's days. Unreadable mentions are left out as the
 * monitor leaves them out, and so are mentions in a language the model does not read: the day counts them
 * per language (`otherLanguages`, said in the summary when there are any).
 */
import { accuracyReport, DAY_MS, type AccuracyReport } from '../feedback/production-accuracy';
import { comparisonLine, type ChallengerComparison } from '../feedback/shadow';
import { decodeOnce } from '../chat/text';
import type { ScoredMention } from '../mentions/types';
import { unreadableReason } from '../sentiment/readable';
import type { Store } from '../store/types';
import { renderTrendChart } from './chart';
import type { ChartRenderer } from './content';
import { duration, negativeOf, oneLine, pValue, round, sameTweetKey, STATUS_URL } from './content';
import { countOtherLanguages, notRead, otherLanguagesText, type OtherLanguages } from './languages';
import { alertOutcomes, alertPeriodsAt, type AckReader, type DigestAck, type DigestAlert } from './alert-outcomes';
import { evaluateWindow, pct } from './detector';
import { dayBefore, dayName, digestDay, localClock, type DigestDay } from './digest-day';
import { DEFAULT_TREND_SETTINGS, HOUR, MINUTE, checkTrendSettings, type TrendSettings } from './settings';
import { sparkline } from './sparkline';
import { StreamDetector } from './stream-detector';
import { distinctiveTerms, nameWords, type Term } from './terms';

export { DigestDayError, type DigestDay } from './digest-day';

/** Where digests go: each chat adapter implements it (Slack, Teams, the console). */
export interface DigestSink {
  readonly name: string;
  /** Posts the digest; must accept the same (stream, day) twice and post it once. */
  digest(content: DigestContent): Promise<void>;
}

export type { AckReader, DigestAck, DigestAlert } from './alert-outcomes';

export interface DigestContent {
  stream: string;
  day: DigestDay;
  /** `empty`: no mention; `quiet`: no alert and the share not above normal; `notable`: anything else. */
  kind: 'empty' | 'quiet' | 'notable';
  /** One line that says it all ("Southwest on Saturday 21 February 2015 (UTC): a quiet day."). */
  headline: string;
  /** The figures in one line (the second line of a quiet day). */
  summary: string;
  /** Mentions read (scored) that day; those in other languages are in `otherLanguages`. */
  mentions: number;
  negatives: number;
  /** The day's mentions in languages the model does not read, per language (in no other figure). */
  otherLanguages: OtherLanguages;
  /** negatives / mentions; null without mentions. */
  share: number | null;
  /** Mentions a day usually holds (history average); null without history. */
  usualMentions: number | null;
  /** The day against the baseline; `learning`: too little history to know what is normal (`reason` says). */
  normal:
    | { status: 'above' | 'normal' | 'below'; share: number; lift: number; z: number; pValue: number; judged: boolean }
    | { status: 'learning'; reason: string };
  /** Hourly negative share over the day, ▁ to █, "·" for an hour without mentions. */
  sparkline: { text: string; from: string; to: string };
  themes: Term[];
  /** The most negative mentions of the day, one per text (at most 3). */
  topMentions: Array<{ id: string; url: string; text: string; negative: number }>;
  alerts: DigestAlert[];
  votes: { received: number };
  /** Production accuracy on the 7 days of votes up to the day's end. */
  accuracy: AccuracyReport;
  /** The challenger scoring in shadow against the champion (MODEL_CHALLENGER), over its last 7 days. */
  challenger?: ChallengerComparison;
  chart?: { png: Buffer; width: number; height: number; title: string };
}

/** A stream the digest does not know; `known` lists those it does. */
export class UnknownStreamError extends Error {
  constructor(
    readonly stream: string,
    readonly known: string[],
  ) {
    super(
      `no stream named ${JSON.stringify(stream)}; ` +
        (known.length ? `the streams are ${known.join(', ')}` : 'no stream is configured'),
    );
    this.name = 'UnknownStreamError';
  }
}

export interface DigestOptions {
  store: Pick<Store, 'mentionsBetween' | 'listAlerts' | 'countVotesSince' | 'judgments' | 'alertVotes'>;
  /** The streams configured (X_STREAMS names, a replay's streams). */
  streams: () => string[] | Promise<string[]>;
  /** DIGEST_TIMEZONE. */
  timeZone: string;
  settings?: TrendSettings;
  /** When each stream was last judged (the trend monitor's status): "yesterday" on the data clock. */
  clock?: { status?(): Promise<Array<{ stream: string; at: string | null }>> };
  acknowledgements?: AckReader[];
  /** Why the model cannot read a text (null: it can); default the model-free check, as the monitor's. */
  unreadable?: (text: string) => string | null;
  /** Whether a mention is negative (default: the model's label, as the monitor's). */
  judge?: (m: ScoredMention) => boolean;
  /** null: no chart. Default: renderTrendChart. */
  renderChart?: ChartRenderer | null;
  /** The challenger against the champion (src/feedback/shadow.ts), when one scores in shadow. */
  challenger?: () => Promise<ChallengerComparison | null>;
  /** The rolling window of production accuracy, in days (default 7). */
  accuracyDays?: number;
  logger?: { warn(obj: object, msg: string): void };
  now?: () => number;
}

export class Digests {
  readonly timeZone: string;
  private readonly settings: TrendSettings;
  private readonly now: () => number;

  constructor(private readonly opts: DigestOptions) {
    this.settings = checkTrendSettings({ ...DEFAULT_TREND_SETTINGS, ...opts.settings });
    this.timeZone = opts.timeZone;
    this.now = opts.now ?? Date.now;
    digestDay('2000-01-01', opts.timeZone); // the zone checked once, at start
  }

  async streams(): Promise<string[]> {
    return [...(await this.opts.streams())];
  }

  /** The configured stream named `name` (any case); UnknownStreamError listing the streams otherwise. */
  async findStream(name: string): Promise<string> {
    const known = await this.streams();
    const wanted = name.trim().toLowerCase();
    const found = known.find((s) => s.toLowerCase() === wanted);
    if (!found) throw new UnknownStreamError(name.trim(), known);
    return found;
  }

  /** The day `date` (YYYY-MM-DD) in DIGEST_TIMEZONE. */
  day(date: string): DigestDay {
    return digestDay(date, this.timeZone);
  }

  /** Yesterday on the stream's data clock (the last time judged; the wall clock when not known). */
  async yesterday(stream: string): Promise<DigestDay> {
    let t = this.now();
    try {
      const at = (await this.opts.clock?.status?.())?.find((s) => s.stream === stream)?.at;
      if (at && Number.isFinite(Date.parse(at))) t = Date.parse(at);
    } catch {
      // the wall clock then
    }
    return dayBefore(t, this.timeZone);
  }

  /** The digest of `stream` for `day` (a DigestDay or YYYY-MM-DD in DIGEST_TIMEZONE). */
  async digestFor(stream: string, dayOrDate: DigestDay | string): Promise<DigestContent> {
    const day = typeof dayOrDate === 'string' ? this.day(dayOrDate) : dayOrDate;
    const s = this.settings;
    const { store } = this.opts;
    const from = Date.parse(day.from);
    const to = Date.parse(day.to);
    const lookbackMs = s.baselineLookbackHours * HOUR;
    const accuracyFrom = new Date(to - (this.opts.accuracyDays ?? 7) * DAY_MS).toISOString();

    const [stored, alerts, votesFrom, votesTo, judgments] = await Promise.all([
      store.mentionsBetween(stream, new Date(from - lookbackMs).toISOString(), day.to),
      store.listAlerts(stream),
      store.countVotesSince(day.from),
      store.countVotesSince(day.to),
      store.judgments({ sinceIso: accuracyFrom }),
    ]);
    const unreadable = this.opts.unreadable ?? ((text: string) => unreadableReason(text));
    const judge = this.opts.judge ?? ((m: ScoredMention) => m.prediction?.label === 'negative');
    const otherLanguages = countOtherLanguages(
      stored.filter((m) => Date.parse(m.createdAt) >= from && Date.parse(m.createdAt) < to),
    );
    const judged = stored
      .filter((m) => !notRead(m) && unreadable(String(m.text ?? '')) === null)
      .map((m) => ({ m, time: Date.parse(m.createdAt), negative: judge(m) }))
      .filter((j) => Number.isFinite(j.time));
    const inDay = judged.filter((j) => j.time >= from && j.time < to);
    const before = judged.filter((j) => j.time < from);
    const negatives = inDay.filter((j) => j.negative);

    // The detector as it stood: the history, the alerts left out of the baseline.
    const periods = alertPeriodsAt(alerts, to, s.windowMinutes);
    const detector = new StreamDetector(stream, s, { alertPeriods: periods });
    detector.load(judged.map((j) => ({ time: j.time, negative: j.negative })));
    const dayMinutes = Math.round((to - from) / MINUTE);
    const ev = evaluateWindow(detector.series, to, s, dayMinutes, detector.exclusions());

    const mentions = inDay.length;
    const share = mentions ? negatives.length / mentions : null;
    let normal: DigestContent['normal'];
    if (ev.status === 'insufficient_history' || !ev.baseline) normal = { status: 'learning', reason: ev.reason };
    else {
      const lift = (share ?? 0) - ev.baseline.share;
      const judgedDay = ev.status !== 'low_volume';
      const above = judgedDay && ev.pValue < s.sustainPValue && lift >= s.minLift;
      const below = judgedDay && -lift >= s.minLift && 1 - ev.pValue < s.sustainPValue;
      normal = {
        status: above ? 'above' : below ? 'below' : 'normal',
        share: ev.baseline.share,
        lift,
        z: ev.z,
        pValue: ev.pValue,
        judged: judgedDay,
      };
    }
    const first = before.length ? before[0].time : undefined;
    const historyHours = first === undefined ? 0 : (from - Math.max(first, from - lookbackMs)) / HOUR;
    const usualMentions = historyHours >= 24 ? Math.round((before.length / historyHours) * ((to - from) / HOUR)) : null;

    // Hour by hour: the sparkline and the chart, with the expected share as the detector saw it then.
    const hours: Array<{ start: number; total: number; negative: number; baseline?: number }> = [];
    for (let h = from; h < to; h += HOUR) {
      const inHour = inDay.filter((j) => j.time >= h && j.time < Math.min(h + HOUR, to));
      const b =
        normal.status === 'learning' ? undefined : detector.peek(Math.min(h + HOUR, to)).windows[0]?.baseline?.share;
      hours.push({
        start: h,
        total: inHour.length,
        negative: inHour.filter((j) => j.negative).length,
        ...(b !== undefined ? { baseline: round(b, 4) } : {}),
      });
    }
    const spark = sparkline(hours.map((h) => (h.total > 0 ? h.negative / h.total : null)));

    const themes = negatives.length
      ? distinctiveTerms(
          negatives.map((j) => j.m.text),
          before.map((j) => j.m.text),
          { exclude: nameWords(stream), limit: 6 },
        )
      : [];
    const dayAlerts = await alertOutcomes(
      alerts.filter((a) => Date.parse(a.openedAt) < to && (a.resolvedAt ? Date.parse(a.resolvedAt) >= from : true)),
      { store, acknowledgements: this.opts.acknowledgements, logger: this.opts.logger },
    );
    const accuracy = accuracyReport(judgments, { from: accuracyFrom, to: day.to });
    const votes = { received: Math.max(0, votesFrom - votesTo) };

    const kind: DigestContent['kind'] =
      mentions === 0 && dayAlerts.length === 0 && otherLanguages.total === 0
        ? 'empty'
        : dayAlerts.length === 0 && normal.status !== 'above'
          ? 'quiet'
          : 'notable';
    const content: DigestContent = {
      stream,
      day,
      kind,
      headline: '',
      summary: '',
      mentions,
      negatives: negatives.length,
      otherLanguages,
      share,
      usualMentions,
      normal,
      sparkline: { text: spark, from: day.from, to: day.to },
      themes,
      topMentions: topMentions(negatives.map((j) => j.m)),
      alerts: dayAlerts,
      votes,
      accuracy,
    };
    const challenger = await this.opts.challenger?.().catch((err: unknown) => {
      this.opts.logger?.warn({ err }, `digest: cannot compare the challenger: ${(err as Error).message}`);
      return null;
    });
    if (challenger) content.challenger = challenger;
    content.headline = headline(content);
    content.summary = summary(content);

    const render = this.opts.renderChart === undefined ? renderTrendChart : this.opts.renderChart;
    if (render && kind === 'notable') {
      const title = `${stream}: negative mentions on ${day.date}${day.timeZone === 'UTC' ? '' : ` (${day.timeZone})`}`;
      const width = 800;
      const height = 360;
      const png = render({
        stream,
        points: hours.map((h) => ({
          at: iso(h.start),
          total: h.total,
          negative: h.negative,
          ...(h.baseline !== undefined ? { baseline: h.baseline } : {}),
        })),
        // Each alert from its opening (the time the digest gives), after the window that opened it.
        alertPeriods: periods
          .filter((p) => p.openedAt - p.windowMinutes * MINUTE < to && (p.resolvedAt ?? Infinity) > from)
          .map((p) => ({
            from: iso(p.openedAt),
            ...(p.resolvedAt !== undefined ? { to: iso(p.resolvedAt) } : {}),
            windowStart: iso(p.openedAt - p.windowMinutes * MINUTE),
          })),
        dispersion: s.dispersion,
        timeZone: day.timeZone,
        title,
        width,
        height,
      });
      content.chart = { png, width, height, title };
    }
    return content;
  }
}

/**
 * What names one digest wherever it is kept (the sinks' state and claims, a post's step): the stream, the
 * date and the zone — another DIGEST_TIMEZONE is another day. "Delta:2015-02-22:UTC".
 */
export function digestKey(c: Pick<DigestContent, 'stream' | 'day'>): string {
  return `${c.stream}:${c.day.date}:${c.day.timeZone}`;
}

/** What a chat command needs of the digests (`Digests` fits). */
export type DigestProvider = Pick<Digests, 'streams' | 'findStream' | 'yesterday' | 'day' | 'digestFor'>;

/**
 * The digests a chat command asks for: `[stream] [YYYY-MM-DD]` after `digest` — the named stream (any
 * case), else every stream; the date given, else yesterday on each stream's data clock. Throws
 * UnknownStreamError (listing the streams) or DigestDayError (a date that is not one); [] when no stream
 * is configured.
 */
export async function digestsFor(digests: DigestProvider, args: string): Promise<DigestContent[]> {
  const words = args.trim().split(/\s+/).filter(Boolean);
  const date = words.length && /^\d{4}-\d{1,2}-\d{1,2}$/.test(words[words.length - 1]) ? words.pop() : undefined;
  const name = words.join(' ');
  const streams = name ? [await digests.findStream(name)] : await digests.streams();
  const day = date !== undefined ? digests.day(date) : undefined;
  const out: DigestContent[] = [];
  for (const stream of streams) out.push(await digests.digestFor(stream, day ?? (await digests.yesterday(stream))));
  return out;
}

/** The digest as the chat layer shows it: its mentions' text decoded once (src/chat/text.ts). */
export function digestForChat(c: DigestContent): DigestContent {
  return { ...c, topMentions: c.topMentions.map((m) => ({ ...m, text: decodeOnce(m.text) })) };
}

/** "Southwest on Saturday 21 February 2015 (UTC)". */
export function dayTitle(c: Pick<DigestContent, 'stream' | 'day'>): string {
  return `${c.stream} on ${dayName(c.day)} (${c.day.timeZone})`;
}

function headline(c: DigestContent): string {
  const title = dayTitle(c);
  if (c.kind === 'empty') return `${title}: no mentions.`;
  if (c.kind === 'quiet') return `${title}: a quiet day.`;
  const n = c.alerts.length;
  if (c.mentions === 0) return `${title}: no mentions, ${n} alert${n === 1 ? '' : 's'} open.`;
  const against = c.normal.status === 'learning' ? '' : ` (normally ${pct(c.normal.share)})`;
  const share = `${pct(c.share ?? 0)} of mentions negative${against}`;
  return n ? `${title}: ${n} alert${n === 1 ? '' : 's'}, ${share}.` : `${title}: more negative than normal, ${share}.`;
}

function summary(c: DigestContent): string {
  if (c.kind === 'empty') return 'No mention was stored for that day.';
  const volume = `${c.mentions} mention${c.mentions === 1 ? '' : 's'}${c.usualMentions !== null ? ` (usually about ${c.usualMentions})` : ''}`;
  const share = `${pct(c.share ?? 0)} negative`;
  const normal =
    c.normal.status === 'learning'
      ? ' (too little history yet to know what is normal)'
      : ` (normally ${pct(c.normal.share)}${c.normal.judged ? '' : ', too few mentions to judge'})`;
  const alerts = c.alerts.length ? `${c.alerts.length} alert${c.alerts.length === 1 ? '' : 's'}` : 'no alert';
  const votes = c.votes.received ? `; ${c.votes.received} vote${c.votes.received === 1 ? '' : 's'} received` : '';
  const other = c.otherLanguages.total ? `; ${otherLanguagesText(c.otherLanguages)}` : '';
  return `${volume}, ${share}${normal}; ${alerts}${votes}${other}.`;
}

function topMentions(mentions: ScoredMention[]): DigestContent['topMentions'] {
  const seen = new Set<string>();
  const out: DigestContent['topMentions'] = [];
  for (const m of [...mentions].sort((a, b) => negativeOf(b) - negativeOf(a) || a.id.localeCompare(b.id))) {
    const key = sameTweetKey(m.text);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({
      id: m.id,
      url: `${STATUS_URL}${m.id}`,
      text: m.text,
      negative: round(negativeOf(m), 3),
    });
    if (out.length >= 3) break;
  }
  return out;
}

/** "10:45" in the digest's zone. */
export function clockOf(c: Pick<DigestContent, 'day'>, isoTime: string): string {
  return localClock(Date.parse(isoTime), c.day.timeZone);
}

/** How an alert ended, in words: "opened 10:45, over at 18:00 after 7 h 15 min (peak 80 %)". */
export function alertOutcome(c: Pick<DigestContent, 'day'>, a: DigestAlert): string {
  const opened = `opened ${when(c, a.openedAt)}`;
  const peak = Number.isFinite(a.peakShare) ? ` (peak ${pct(a.peakShare)})` : '';
  return a.resolvedAt
    ? `${opened}, over at ${when(c, a.resolvedAt)} after ${duration(a.durationMinutes)}${peak}`
    : `${opened}, still open${peak}`;
}

/** How people judged an alert, in words ("judged a real bad buzz (2 ✅, 0 ❌)"); null when not known. */
export function alertJudgement(a: DigestAlert): string | null {
  if (!a.votes || !a.verdict) return null;
  const tally = `${a.votes.real} ✅, ${a.votes.falseAlarm} ❌`;
  switch (a.verdict) {
    case 'not judged':
      return 'not judged yet (no ✅ / ❌ on its headline)';
    case 'real':
      return `judged a real bad buzz (${tally})`;
    case 'false alarm':
      return `judged a false alarm (${tally})`;
    default:
      return `judged both ways as often (${tally})`;
  }
}

/** Production accuracy in words, per version: "sentinel-bilstm 87 % (95 % CI 70–95 %, 23 judged)". */
export function accuracyLine(r: AccuracyReport, days = 7): string {
  const versions = r.versions.filter((v) => v.accuracy !== null);
  if (!versions.length) return `no prediction judged by a majority of votes in the last ${days} days`;
  return (
    versions
      .map(
        (v) =>
          `${v.modelVersion} ${pct(v.accuracy!)} (95 % CI ${pct(v.interval!.low).replace(' %', '')}–${pct(v.interval!.high)}, ${v.judged} judged)`,
      )
      .join('; ') + `, votes of the last ${days} days`
  );
}

/** A time of the day in the digest's zone; with the date when it is another day. */
function when(c: Pick<DigestContent, 'day'>, isoTime: string): string {
  const t = Date.parse(isoTime);
  const date = new Date(t).toISOString().slice(0, 10);
  const clock = clockOf(c, isoTime);
  const inDay = t >= Date.parse(c.day.from) && t < Date.parse(c.day.to);
  return inDay ? clock : `${date} ${clock}`;
}

/** Plain text for any platform (the console, logs, docs): two lines for a quiet day, one for an empty one. */
export function digestText(c: DigestContent, opts: { ack?: (a: DigestAck) => string } = {}): string {
  if (c.kind === 'empty') return c.headline;
  if (c.kind === 'quiet') return `${c.headline}\n${c.summary}`;
  const zone = c.day.timeZone;
  const lines = [c.headline, ''];
  const label = (s: string) => s.padEnd(14);
  lines.push(`${label('The day')}${c.summary}`);
  if (c.normal.status !== 'learning' && c.normal.judged)
    lines.push(
      `${label('Against')}${signed(c.normal.lift * 100)} points against normal (p = ${pValue(c.normal.pValue)})`,
    );
  lines.push(`${label('Hour by hour')}${c.sparkline.text}  (negative share, 00:00–24:00 ${zone})`);
  if (c.themes.length) lines.push(`${label('Themes')}${c.themes.map((t) => t.term).join(', ')}`);
  for (const [i, a] of c.alerts.entries()) {
    lines.push(`${label(i === 0 ? 'Alerts' : '')}${a.headline}`);
    lines.push(`${label('')}  ${alertOutcome(c, a)}`);
    const ack = a.acknowledged.length
      ? `acknowledged by ${[...new Set(a.acknowledged.map(opts.ack ?? ((x) => x.name ?? x.user)))].join(', ')}`
      : 'not acknowledged';
    const judged = alertJudgement(a);
    lines.push(`${label('')}  ${ack}${judged ? `; ${judged}` : ''}`);
  }
  if (c.topMentions.length) {
    lines.push('Most negative');
    for (const m of c.topMentions)
      lines.push(`  ${pct(m.negative).padStart(5)}  ${oneLine(m.text, 120)}`, `         ${m.url}`);
  }
  lines.push(`${label('Accuracy')}${accuracyLine(c.accuracy)}`);
  if (c.challenger) lines.push(`${label('Challenger')}${comparisonLine(c.challenger)}`);
  return lines.join('\n');
}

function signed(x: number): string {
  const r = Math.round(x);
  return `${r >= 0 ? '+' : '−'}${Math.abs(r)}`;
}

function iso(t: number): string {
  return new Date(t).toISOString();
}
