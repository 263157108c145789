/**
 * Alert content, platform-neutral: what an opening, an update or a resolution says. Adapters lay it out
 * (Slack blocks, Teams cards, the console); `alertText` is a plain-text rendering any of them can use.
 *
 * Every message carries the same figures: the negative share of the window vs the baseline, the volume
 * (vs the usual volume), how fast it rose, a 24 h text sparkline, the most negative mentions with links,
 * the terms over-represented in the negative mentions ("what it is about") and a PNG chart of the last
 * 24 h (the alert shaded from its opening, the window that opened it, the expected share and its normal
 * range). A resolution also says how long it lasted and its peak. When the window held mentions in
 * languages the model does not read, how many, per language (./languages).
 */
import type { ScoredMention } from '../mentions/types';
import { renderTrendChart, type TrendAlertPeriod, type TrendChartInput } from './chart';
import { pct, type Evaluation } from './detector';
import type { Signal } from './scan';
import { HOUR, MINUTE, type TrendSettings } from './settings';
import { sparkline } from './sparkline';
import type { StreamDetector } from './stream-detector';
import { distinctiveTerms, nameWords, type Term } from './terms';
import { otherLanguagesText, type OtherLanguages } from './languages';

export type AlertKind = 'opened' | 'updated' | 'resolved';
export type ChartRenderer = (input: TrendChartInput) => Buffer;

export interface AlertMention {
  id: string;
  url: string;
  text: string;
  createdAt: string;
  author?: string;
  /** The model's probability that it is negative. */
  negative: number;
}

export interface AlertContent {
  kind: AlertKind;
  alertId: string;
  stream: string;
  headline: string;
  /** When this message speaks (data time: the mentions' clock), ISO-8601. */
  at: string;
  openedAt: string;
  resolvedAt?: string;
  /** Since the opening (to the resolution, for a resolution). */
  durationMinutes: number;
  figures: {
    windowMinutes: number;
    windowStart: string;
    negativeShare: number;
    baselineShare: number;
    /** negativeShare − baselineShare. */
    lift: number;
    volume: number;
    negatives: number;
    /** Mentions a window of this length usually holds (history average). */
    usualVolume: number | null;
    z: number;
    pValue: number;
  };
  /** How fast it rose: the share in the window just before this one, and the change per hour. */
  rise: { previousShare: number | null; previousVolume: number; pointsPerHour: number | null };
  peak: { share: number; at: string };
  /** Hourly negative share over the last 24 h, ▁ (0 %) to █ (100 %), "·" for an hour without mentions. */
  sparkline: { text: string; from: string; to: string };
  mentions: AlertMention[];
  terms: Term[];
  /** Mentions of the window in languages the model does not read (not in any figure); absent when none. */
  otherLanguages?: OtherLanguages;
  /**
   * Why now and how sure, when the scan speaks (an opening; an update while it still has the evidence):
   * which signal crossed (the share, or the share and the volume) and the evidence against its threshold.
   */
  why?: { signal: Signal; now: string; sure: string };
  /** The dashboard on this alert (a signed, expiring link outside local mode); absent when it is off. */
  dashboardUrl?: string;
  chart?: { png: Buffer; width: number; height: number; title: string };
}

export interface ContentInput {
  kind: AlertKind;
  alertId: string;
  stream: string;
  openedAt: number;
  resolvedAt?: number;
  /** The window that opened the alert (the rise began up to this long before the opening). */
  openWindowMinutes: number;
  peak: { share: number; at: number };
  evaluation: Evaluation;
  detector: StreamDetector;
  settings: TrendSettings;
  /** The stream's mentions from the start of the alert's window to `evaluation.at`. */
  alertMentions: ScoredMention[];
  /** The stream's mentions of the baseline period before it. */
  referenceMentions: ScoredMention[];
  /** Whether a mention counts as negative (the same judge as the detector's). */
  isNegative: (m: ScoredMention) => boolean;
  /** The window's mentions in languages the model does not read (./languages). */
  otherLanguages?: OtherLanguages;
  /** null: no chart. Default: renderTrendChart. */
  renderChart?: ChartRenderer | null;
  topMentions?: number;
}

export const STATUS_URL = 'https://x.com/i/web/status/';

export function buildAlertContent(input: ContentInput): AlertContent {
  const { evaluation: ev, detector, settings, kind, stream } = input;
  const at = ev.at;
  const baselineShare = ev.baseline?.share ?? NaN;
  const windowMs = ev.windowMinutes * MINUTE;
  const previous = detector.series.sum(ev.windowStart - windowMs, ev.windowStart);
  const previousShare = previous.total > 0 ? previous.negative / previous.total : null;
  const end = input.resolvedAt ?? at;
  const durationMinutes = Math.round((end - input.openedAt) / MINUTE);

  const historyFrom = ev.windowStart - settings.baselineLookbackHours * HOUR;
  const first = detector.series.firstTime() ?? ev.windowStart;
  const historyHours = Math.max(0, (ev.windowStart - Math.max(first, historyFrom)) / HOUR);
  const usualVolume =
    historyHours >= 1
      ? Math.round((detector.series.sum(historyFrom, ev.windowStart).total / historyHours) * (ev.windowMinutes / 60))
      : null;

  const negatives = input.alertMentions.filter(input.isNegative);
  const terms = distinctiveTerms(
    negatives.map((m) => m.text),
    input.referenceMentions.map((m) => m.text),
    { exclude: nameWords(stream) },
  );
  const windowMentions = negatives.filter((m) => Date.parse(m.createdAt) >= ev.windowStart);
  const mentions = mostNegative(windowMentions.length ? windowMentions : negatives, input.topMentions ?? 5);

  // Last 24 h, hourly: the sparkline and the chart's points (with the baseline as it stood then).
  const hours: Array<{ start: number; total: number; negative: number; baseline?: number }> = [];
  const to = Math.ceil(at / HOUR) * HOUR;
  for (let h = to - 24 * HOUR; h < to; h += HOUR) {
    const c = detector.series.sum(h, Math.min(h + HOUR, at));
    const b = detector.peek(Math.min(h + HOUR, at)).windows[0]?.baseline?.share;
    hours.push({ start: h, ...c, ...(b !== undefined ? { baseline: round(b, 4) } : {}) });
  }
  const spark = sparkline(hours.map((h) => (h.total > 0 ? h.negative / h.total : null)));

  const figures = {
    windowMinutes: ev.windowMinutes,
    windowStart: iso(ev.windowStart),
    negativeShare: round(ev.share, 4),
    baselineShare: round(baselineShare, 4),
    lift: round(ev.share - baselineShare, 4),
    volume: ev.total,
    negatives: ev.negative,
    usualVolume,
    z: round(ev.z, 2),
    pValue: ev.pValue,
  };
  const rise = {
    previousShare: previousShare === null ? null : round(previousShare, 4),
    previousVolume: previous.total,
    pointsPerHour:
      previousShare === null ? null : round(((ev.share - previousShare) * 100) / (ev.windowMinutes / 60), 1),
  };
  const content: AlertContent = {
    kind,
    alertId: input.alertId,
    stream,
    headline: headline(kind, stream, figures, durationMinutes, input.peak.share),
    at: iso(at),
    openedAt: iso(input.openedAt),
    ...(input.resolvedAt !== undefined ? { resolvedAt: iso(input.resolvedAt) } : {}),
    durationMinutes,
    figures,
    rise,
    peak: { share: round(input.peak.share, 4), at: iso(input.peak.at) },
    sparkline: { text: spark, from: iso(to - 24 * HOUR), to: iso(to) },
    mentions,
    terms,
    ...(input.otherLanguages?.total ? { otherLanguages: input.otherLanguages } : {}),
    ...(ev.evidence ? { why: whyNow(ev) } : {}),
  };

  const render = input.renderChart === undefined ? renderTrendChart : input.renderChart;
  if (render) {
    const title = `${stream}: negative mentions, last 24 h (${kind === 'resolved' ? 'resolved' : 'alert'})`;
    // Every alert from its opening (the time the messages give); this one with the window that opened it.
    const periods: TrendAlertPeriod[] = detector.alertPeriods
      .filter((p) => p.openedAt !== input.openedAt && (p.resolvedAt ?? Infinity) > to - 24 * HOUR)
      .map((p) => ({ from: iso(p.openedAt), ...(p.resolvedAt !== undefined ? { to: iso(p.resolvedAt) } : {}) }));
    periods.push({
      from: iso(input.openedAt),
      ...(input.resolvedAt !== undefined ? { to: iso(input.resolvedAt) } : {}),
      windowStart: iso(input.openedAt - input.openWindowMinutes * MINUTE),
    });
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
      alertPeriods: periods,
      dispersion: settings.dispersion,
      title,
      width,
      height,
    });
    content.chart = { png, width, height, title };
  }
  return content;
}

function headline(
  kind: AlertKind,
  stream: string,
  f: AlertContent['figures'],
  durationMinutes: number,
  peak: number,
): string {
  const window = duration(f.windowMinutes);
  const now = `${pct(f.negativeShare)} of mentions negative in the last ${window} (normally ${pct(f.baselineShare)})`;
  if (kind === 'opened') return `Bad buzz starting on ${stream}: ${now}`;
  if (kind === 'updated') return `Still going on ${stream} after ${duration(durationMinutes)}: ${now}`;
  return `Over on ${stream} after ${duration(durationMinutes)} (peak ${pct(peak)}): ${pct(f.negativeShare)} negative in the last ${window}, normally ${pct(f.baselineShare)}`;
}

/** The most negative mentions, one per text (retweets and copies collapse), most negative first. */
export function mostNegative(mentions: ScoredMention[], n: number): AlertMention[] {
  const seen = new Set<string>();
  const sorted = [...mentions].sort(
    (a, b) => negativeOf(b) - negativeOf(a) || engagement(b) - engagement(a) || b.createdAt.localeCompare(a.createdAt),
  );
  const out: AlertMention[] = [];
  for (const m of sorted) {
    const key = sameTweetKey(m.text);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({
      id: m.id,
      url: `${STATUS_URL}${m.id}`,
      text: m.text,
      createdAt: m.createdAt,
      ...(m.authorHandle ? { author: m.authorHandle } : {}),
      negative: round(negativeOf(m), 3),
    });
    if (out.length >= n) break;
  }
  return out;
}

/** The model's probability that a mention is negative (0 for one it did not score). */
export function negativeOf(m: Pick<ScoredMention, 'prediction'>): number {
  return m.prediction?.probabilities.negative ?? 0;
}

function engagement(m: ScoredMention): number {
  const x = m.metrics ?? {};
  return (x.retweets ?? 0) + (x.quotes ?? 0) + (x.replies ?? 0) + (x.likes ?? 0);
}

/** Plain text for any platform (and logs): the headline, then the figures, mentions and terms. */
export function alertText(c: AlertContent): string {
  const f = c.figures;
  const lines = [c.headline, ''];
  lines.push(
    `Negative share   ${pct(f.negativeShare)} in the last ${duration(f.windowMinutes)} vs ${pct(f.baselineShare)} normally (${signed(f.lift * 100)} points, p = ${pValue(f.pValue)})`,
  );
  lines.push(
    `Volume           ${f.volume} mentions, ${f.negatives} negative` +
      (f.usualVolume !== null ? ` (usually about ${f.usualVolume} in ${duration(f.windowMinutes)})` : ''),
  );
  if (c.rise.previousShare !== null)
    lines.push(
      `Rise             from ${pct(c.rise.previousShare)} in the ${duration(f.windowMinutes)} before (${signed(c.rise.pointsPerHour ?? 0)} points an hour)`,
    );
  lines.push(
    `Last 24 h        ${c.sparkline.text}  (hourly negative share, ${hhmm(c.sparkline.from)}–${hhmm(c.sparkline.to)} UTC)`,
  );
  if (c.kind === 'resolved')
    lines.push(
      `Lasted           ${duration(c.durationMinutes)} (${when(c.openedAt)} → ${when(c.resolvedAt!)}), peak ${pct(c.peak.share)} at ${when(c.peak.at)}`,
    );
  else
    lines.push(
      `Open since       ${when(c.openedAt)} (${duration(c.durationMinutes)}), peak so far ${pct(c.peak.share)}`,
    );
  if (c.why) lines.push(`Why now          ${c.why.now}`, `How sure         ${c.why.sure}`);
  if (c.terms.length) lines.push(`About            ${c.terms.map((t) => t.term).join(', ')}`);
  if (c.otherLanguages?.total) lines.push(`Other languages  ${otherLanguagesText(c.otherLanguages)}`);
  if (c.mentions.length) {
    lines.push('', 'Most negative mentions:');
    for (const m of c.mentions)
      lines.push(`  ${pct(m.negative).padStart(5)}  ${oneLine(m.text, 140)}`, `         ${m.url}`);
  }
  return lines.join('\n');
}

/** The scan's evidence in words: what crossed, and how strongly (a likelihood ratio a person can read). */
export function whyNow(ev: Evaluation): { signal: Signal; now: string; sure: string } {
  const e = ev.evidence!;
  const share = `${pct(ev.share)} negative over the last ${duration(ev.windowMinutes)} against ${pct(ev.baseline?.share ?? NaN)} normally`;
  const now =
    e.signal === 'share and volume' && e.usualVolume !== null
      ? `the share and the volume: ${share}, on ${ev.total} mentions where about ${Math.round(e.usualVolume)} are usual at these hours`
      : `the share: ${share}`;
  const ratio = Math.exp(e.statistic);
  const sure = `evidence ${e.statistic.toFixed(1)} for a threshold of ${e.threshold}: these mentions are ${ratio >= 1e6 ? ratio.toExponential(0) : Math.round(ratio).toLocaleString('en-US')} times likelier under a rise to ${pct(e.riseShare)} than under normal`;
  return { signal: e.signal, now, sure };
}

export function duration(minutes: number): string {
  const m = Math.max(0, Math.round(minutes));
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  const r = m % 60;
  if (h < 48) return r ? `${h} h ${r} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return `${d} d ${h % 24} h`;
}

function signed(x: number): string {
  const r = Math.round(x * 10) / 10;
  return `${r >= 0 ? '+' : '−'}${Math.abs(r)}`;
}

/** Shared with the digest (./digest.ts). */
export function pValue(p: number): string {
  return p < 1e-4 ? p.toExponential(1) : p.toPrecision(2);
}

function when(isoTime: string): string {
  return `${isoTime.slice(0, 10)} ${isoTime.slice(11, 16)} UTC`;
}

function hhmm(isoTime: string): string {
  return isoTime.slice(11, 16);
}

/** Shared with the digest (./digest.ts). */
export function oneLine(text: string, max: number): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

function iso(t: number): string {
  return new Date(t).toISOString();
}

/** Shared with the digest (./digest.ts). */
export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Retweets and copies of one text (case, spacing, links aside) are one mention in a list people read. */
export function sameTweetKey(text: string): string {
  return text
    .toLowerCase()
    .replace(/^rt\s+/, '')
    .replace(/https?:\/\/\S+/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}
