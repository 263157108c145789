/**
 * The alert/digest trend chart as an ECharts option: what ./chart.ts renders to SVG and PNG on the server,
 * and what the dashboard can hand to ECharts' browser build. No Node import: types, the palette and
 * ./normal-range only.
 *
 *   - volume (mentions per bucket) as light sky-blue bars on the right axis;
 *   - the negative share (negative / total) as a vermillion line on the left axis, 0–100 %; a bucket with no
 *     mentions has no share, so the line has a gap there (and across missing buckets);
 *   - the expected share (`baseline`) as a dashed grey line and, given the detector's `dispersion`, its band
 *     of normal variation for each bucket's volume (./normal-range: baseline ± 1.96·√(φ·p(1−p)/n), within
 *     0–100 %), light blue;
 *   - each alert as a light vermillion band from its opening (the time its messages give) to its resolution
 *     (a bluish-green edge) or to the end of the chart, with a solid vermillion edge at the opening and a cap
 *     along the plot's top, labelled above the plot "alert opened 15:45, ongoing" (or "…, resolved 18:20");
 *     the window whose figures opened it (`windowStart` → opening) as a faint orange area with a dashed
 *     outline and an orange cap, labelled "window that triggered";
 *   - time axis in UTC or the zone given (`timeZone`): hours ("14:00") with the date under the first tick and wherever the day changes;
 *     a legend under it (12 px at 800×360, like every text).
 *
 * Buckets: `at` is the ISO start of each bucket; the bucket length is the smallest gap between two points
 * (1 h when there is a single point). Points may come in any order; the chart sorts them.
 *
 * The plot's rectangle depends on the size only (and, under 560 px wide, on how many rows the legend
 * takes), never on the values: `trendChartGeometry` says where a time or a share is drawn, for tests and
 * the dashboard. Invalid input throws an Error whose message starts with "trend chart:" and names the field.
 */
import type { EChartsOption } from 'echarts';
import { PALETTE, rgba, rgbOf } from '../charts/palette';
import { normalRange } from './normal-range';
import { isTimeZone, offsetMs } from './digest-day';

export interface TrendPoint {
  /** ISO 8601 start of the bucket, with a time zone ("2024-03-14T14:00:00Z") or a bare date. */
  at: string;
  /** Mentions in the bucket. */
  total: number;
  /** Negative mentions in the bucket (0 ≤ negative ≤ total). */
  negative: number;
  /** Expected negative share, 0..1. */
  baseline?: number;
}

export interface TrendAlertPeriod {
  /** When the alert opened: the time its message gives. */
  from: string;
  /** When it was resolved; missing: still open, shaded until the end of the chart. */
  to?: string;
  /** Start of the window whose figures opened it (drawn from here to `from`, "window that triggered"). */
  windowStart?: string;
}

export interface TrendChartInput {
  stream: string;
  points: TrendPoint[];
  alertPeriods: TrendAlertPeriod[];
  title: string;
  /**
   * The detector's dispersion φ (settings.dispersion): with it, the band of normal variation around the
   * expected share, baseline ± 1.96·√(φ·p(1−p)/n) for a bucket of n mentions. Missing: no band.
   */
  dispersion?: number;
  /** Pixels, default 800 (320..4096). */
  width?: number;
  /** Pixels, default 360 (200..4096). */
  height?: number;
  /** IANA zone of the time axis and the times written on the chart (the digest's DIGEST_TIMEZONE). Default UTC. */
  timeZone?: string;
}

/** The colours the chart draws with, from the shared palette (tests read pixels against them). */
export const TREND_CHART_STYLE = {
  share: PALETTE.negative,
  baseline: PALETTE.baseline,
  /** The band of normal variation: PALETTE.normalBand at this alpha. */
  normalBand: PALETTE.normalBand,
  normalAlpha: 0.1,
  /** Volume bars: sky blue, lightened (solid, so bars read the same under and outside bands). */
  volume: PALETTE.volume,
  bars: mix(PALETTE.volume, 0.38),
  /** An alert: PALETTE.negative at this alpha, with a solid edge at the opening. */
  alert: PALETTE.negative,
  alertAlpha: 0.14,
  resolved: PALETTE.resolved,
  /** The window that triggered an alert: PALETTE.trigger at this alpha, dashed outline. */
  trigger: PALETTE.trigger,
  triggerAlpha: 0.1,
  grid: PALETTE.grid,
  axis: PALETTE.axis,
  text: PALETTE.text,
  muted: PALETTE.muted,
} as const;

const S = TREND_CHART_STYLE;
const FONT = 'Noto Sans, sans-serif';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** 1970-01-05 was a Monday: weekly ticks fall on Mondays. Sub-day and daily ticks are unaffected. */
const TICK_ORIGIN = 4 * DAY;

interface Bucket {
  t: number;
  total: number;
  negative: number;
  share: number | undefined;
  baseline: number | undefined;
}

interface Period {
  from: number;
  to: number | undefined;
  windowStart: number | undefined;
}

interface Checked {
  buckets: Bucket[];
  periods: Period[];
  width: number;
  height: number;
  dispersion: number | undefined;
  timeZone: string;
}

// ---------------------------------------------------------------------------------------------------------
// Validation

function fail(message: string): never {
  throw new Error(`trend chart: ${message}`);
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/;

/** Milliseconds since the epoch; only ISO 8601 with a zone (or a bare date, read as UTC) so nothing depends on the host's zone. */
function parseTime(value: unknown, what: string): number {
  const m = typeof value === 'string' ? ISO.exec(value) : null;
  const ms = m ? Date.parse(value as string) : NaN;
  if (!m || Number.isNaN(ms)) {
    fail(`${what} is not an ISO 8601 time with a zone, like "2024-03-14T14:00:00Z" (got ${JSON.stringify(value)})`);
  }
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) {
    fail(`${what} is not a calendar date (got ${JSON.stringify(value)})`);
  }
  return ms;
}

function count(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    fail(`${what} must be a finite number ≥ 0 (got ${JSON.stringify(value)})`);
  }
  return value;
}

function size(value: unknown, fallback: number, min: number, what: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 4096) {
    fail(`${what} must be an integer from ${min} to 4096 pixels (got ${JSON.stringify(value)})`);
  }
  return value;
}

const given = (v: unknown) => v !== undefined && v !== null;

function validate(input: TrendChartInput): Checked {
  if (typeof input !== 'object' || input === null) fail('input must be an object');
  if (typeof input.title !== 'string') fail('title must be a string');
  if (typeof input.stream !== 'string') fail('stream must be a string');
  if (!Array.isArray(input.points)) fail('points must be an array');
  if (!Array.isArray(input.alertPeriods)) fail('alertPeriods must be an array');
  const width = size(input.width, 800, 320, 'width');
  const height = size(input.height, 360, 200, 'height');
  let dispersion: number | undefined;
  if (given(input.dispersion)) {
    const d = input.dispersion;
    if (typeof d !== 'number' || !Number.isFinite(d) || d <= 0) {
      fail(`dispersion must be a finite number > 0 (got ${JSON.stringify(d)})`);
    }
    dispersion = d;
  }
  const timeZone = given(input.timeZone) ? input.timeZone : 'UTC';
  if (typeof timeZone !== 'string' || !isTimeZone(timeZone))
    fail(`timeZone must be an IANA time zone such as UTC or Europe/Paris (got ${JSON.stringify(timeZone)})`);

  const seen = new Map<number, number>();
  const buckets = input.points.map((p, i): Bucket => {
    if (typeof p !== 'object' || p === null) fail(`points[${i}] must be an object`);
    const t = parseTime(p.at, `points[${i}].at`);
    const total = count(p.total, `points[${i}].total`);
    const negative = count(p.negative, `points[${i}].negative`);
    if (negative > total) fail(`points[${i}].negative (${negative}) is more than points[${i}].total (${total})`);
    let baseline: number | undefined;
    if (given(p.baseline)) {
      if (typeof p.baseline !== 'number' || !Number.isFinite(p.baseline) || p.baseline < 0 || p.baseline > 1) {
        fail(`points[${i}].baseline must be a share from 0 to 1 (got ${JSON.stringify(p.baseline)})`);
      }
      baseline = p.baseline;
    }
    const previous = seen.get(t);
    if (previous !== undefined) fail(`points[${i}].at (${p.at}) is the same bucket as points[${previous}].at`);
    seen.set(t, i);
    return { t, total, negative, share: total > 0 ? negative / total : undefined, baseline };
  });
  buckets.sort((a, b) => a.t - b.t);

  const periods = input.alertPeriods.map((a, i): Period => {
    if (typeof a !== 'object' || a === null) fail(`alertPeriods[${i}] must be an object`);
    const from = parseTime(a.from, `alertPeriods[${i}].from`);
    const to = given(a.to) ? parseTime(a.to, `alertPeriods[${i}].to`) : undefined;
    if (to !== undefined && to < from) fail(`alertPeriods[${i}].to (${a.to}) is before its from (${a.from})`);
    const windowStart = given(a.windowStart) ? parseTime(a.windowStart, `alertPeriods[${i}].windowStart`) : undefined;
    if (windowStart !== undefined && windowStart > from) {
      fail(`alertPeriods[${i}].windowStart (${a.windowStart}) is after its from (${a.from})`);
    }
    return { from, to, windowStart };
  });
  periods.sort((a, b) => a.from - b.from);
  return { buckets, periods, width, height, dispersion, timeZone };
}

// ---------------------------------------------------------------------------------------------------------
// Formatting

function duration(ms: number): string {
  if (ms % DAY === 0) return ms === DAY ? 'day' : `${ms / DAY} days`;
  if (ms % HOUR === 0) return ms === HOUR ? 'hour' : `${ms / HOUR} h`;
  if (ms % MINUTE === 0) return `${ms / MINUTE} min`;
  return `${Math.round(ms / 1000)} s`;
}

/** 950 → "950", 1500 → "1.5k", 2_000_000 → "2M"; beyond trillions in exponent form. */
export function formatCount(v: number): string {
  const units: Array<[number, string]> = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  if (v >= 1e15) return v.toExponential(1).replace('+', '');
  for (const [unit, suffix] of units) if (v >= unit) return `${Number((v / unit).toFixed(2))}${suffix}`;
  return `${Number(v.toFixed(2))}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const pad2 = (n: number) => String(n).padStart(2, '0');
const dayOf = (t: number) => Math.floor(t / DAY);
const clock = (t: number) => `${pad2(new Date(t).getUTCHours())}:${pad2(new Date(t).getUTCMinutes())}`;
const shortDate = (t: number) => `${new Date(t).getUTCDate()} ${MONTHS[new Date(t).getUTCMonth()]}`;
const longDate = (t: number) => `${WEEKDAYS[new Date(t).getUTCDay()]} ${shortDate(t)} ${new Date(t).getUTCFullYear()}`;
// These read a wall-clock time (Layout.wall): the chart's zone is already applied.
/** "15:45", or "21 Feb 15:45" when the chart spans more than a day. */
const moment = (t: number, days: boolean) => (days ? `${shortDate(t)} ${clock(t)}` : clock(t));

/**
 * About how wide Noto Sans draws `text` at `px` (advance widths of the regular face, in ems, by class):
 * enough to keep labels apart; exactness is not needed because labels are anchored, not measured.
 */
function textWidth(text: string, px: number, bold = false): number {
  let ems = 0;
  for (const ch of text) {
    if (ch === ' ') ems += 0.26;
    else if ("il.,:;!|'’".includes(ch)) ems += 0.27;
    else if ('fjrt()-'.includes(ch)) ems += 0.36;
    else if ('mwMW%'.includes(ch)) ems += 0.86;
    else if (/[0-9]/.test(ch)) ems += 0.57;
    else if (/[A-Z]/.test(ch)) ems += 0.66;
    else ems += 0.56;
  }
  return ems * px * (bold ? 1.06 : 1);
}

/** `hex` mixed with white: `alpha` of the colour (a solid light tint). */
function mix(hex: string, alpha: number): string {
  const [r, g, b] = rgbOf(hex).map((c) => Math.round(c * alpha + 255 * (1 - alpha)));
  return `#${[r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

/** `hex` darkened towards black (text in a series' colour that stays legible on white). */
function shade(hex: string, factor: number): string {
  const [r, g, b] = rgbOf(hex).map((c) => Math.round(c * factor));
  return `#${[r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

/** Volume axis: 4 equal steps (so its ticks sit on the share gridlines at 25 % steps), whole counts. */
function volumeAxis(maxTotal: number): number {
  const raw = Math.max(maxTotal, 1) / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const factor = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].find((f) => f * magnitude >= raw * (1 - 1e-12)) ?? 10;
  const step = Math.max(1, factor * magnitude);
  return Number.isFinite(step * 4) ? step * 4 : maxTotal;
}

// ---------------------------------------------------------------------------------------------------------
// Geometry

export interface TrendChartGeometry {
  width: number;
  height: number;
  /** Text scale: 1, or 2 for charts of at least 1400×600. */
  scale: number;
  /** The plot rectangle in pixels (ECharts' grid). */
  plot: { left: number; top: number; right: number; bottom: number };
  /** The time span on the x axis (ms): the first bucket's start to the last bucket's end. */
  start: number;
  end: number;
  bucketMs: number;
  /** Pixel column of a time (ms since the epoch), and pixel row of a share (0..1). */
  x(t: number): number;
  y(share: number): number;
}

interface Layout extends TrendChartGeometry {
  /** The subtitle's line (dropped on charts under 280 px high). */
  subtitle: boolean;
  /** The axes' names beside them (dropped on charts under 560 px wide). */
  axisNames: boolean;
  /** Top of the line of labels above the plot (alerts, trigger windows). */
  labelsTop: number;
  legend: { rows: LegendItem[][]; top: number[]; icon: number; gap: number };
  /** The chart's zone, and the wall-clock time there of an instant, as if it were UTC (what the labels print). */
  timeZone: string;
  wall(t: number): number;
  /** The instant whose wall-clock time there is `w` (the inverse of wall, but on the hour the clocks skip). */
  instant(w: number): number;
}

interface LegendItem {
  name: string;
  label: string;
  icon: string;
  colour: string;
}

function bucketLength(buckets: Bucket[]): number {
  let bucketMs = buckets.length > 1 ? Infinity : HOUR;
  for (let i = 1; i < buckets.length; i++) bucketMs = Math.min(bucketMs, buckets[i].t - buckets[i - 1].t);
  return bucketMs;
}

/** The normal range of a bucket (./normal-range, as the dashboard draws it); none without n, p or φ. */
function bucketRange(b: Bucket, dispersion: number | undefined): [number, number] | undefined {
  if (dispersion === undefined || b.baseline === undefined) return undefined;
  const r = normalRange(b.baseline, b.total, dispersion);
  return r ? [r.low, r.high] : undefined;
}

const DASHES = 'path://M0,4 L7,4 L7,6 L0,6 Z M10,4 L17,4 L17,6 L10,6 Z M20,4 L24,4 L24,6 L20,6 Z';

/** What the legend lists (the series the data gives), full labels and short ones for narrow charts. */
function legendItems(c: Checked, volumeName: string): Array<LegendItem & { short: string }> {
  const items: Array<LegendItem & { short: string }> = [
    {
      name: 'negative share',
      label: 'negative share',
      short: 'share',
      icon: 'path://M0,4 L24,4 L24,6 L0,6 Z',
      colour: S.share,
    },
  ];
  if (c.buckets.some((b) => b.baseline !== undefined))
    items.push({
      name: 'expected share',
      label: 'expected share',
      short: 'expected',
      icon: DASHES,
      colour: S.baseline,
    });
  if (c.buckets.some((b) => bucketRange(b, c.dispersion)))
    items.push({
      name: 'normal range',
      label: 'normal range (95 %)',
      short: 'normal',
      icon: 'rect',
      colour: rgba(S.normalBand, S.normalAlpha * 1.6),
    });
  items.push({ name: volumeName, label: volumeName, short: 'mentions', icon: 'rect', colour: S.bars });
  return items;
}

function layout(c: Checked): Layout {
  const { width, height, buckets } = c;
  const s = width >= 1400 && height >= 600 ? 2 : 1;
  const bucketMs = bucketLength(buckets);
  const start = buckets.length ? buckets[0].t : 0;
  const end = buckets.length ? buckets[buckets.length - 1].t + bucketMs : HOUR;
  const subtitle = height >= 280 * s;
  const axisNames = width >= 560 * s;
  const labelsTop = (subtitle ? 54 : 32) * s;
  const side = (axisNames ? 66 : 48) * s;

  // Legend: one row of full labels if it fits, else short labels, wrapped into as few rows as fit.
  const icon = 24 * s;
  const gap = (axisNames ? 22 : 12) * s;
  const room = width - 20 * s;
  const items = buckets.length ? legendItems(c, `mentions per ${duration(bucketMs)}`) : [];
  const itemWidth = (label: string) => icon + 5 * s + textWidth(label, 12 * s) + 4 * s;
  const pack = (long: boolean) => {
    const rows: LegendItem[][] = [];
    let used = 0;
    for (const item of items) {
      const label = long ? item.label : item.short;
      const w = itemWidth(label);
      if (rows.length && used + gap + w <= room) {
        rows[rows.length - 1].push({ ...item, label });
        used += gap + w;
      } else {
        rows.push([{ ...item, label }]);
        used = w;
      }
    }
    return rows;
  };
  const rows = pack(true).length <= 1 ? pack(true) : pack(false);
  const rowHeight = 18 * s;
  const legendTop = height - 8 * s - rows.length * rowHeight;
  const top = rows.map((_, i) => legendTop + i * rowHeight);
  // Under the plot: two lines of time labels (the hour, the date), then the legend.
  const plot = { left: side, top: labelsTop + 20 * s, right: width - side, bottom: legendTop - 46 * s };
  return {
    width,
    height,
    scale: s,
    plot,
    start,
    end,
    bucketMs,
    x: (t) => plot.left + ((t - start) / (end - start)) * (plot.right - plot.left),
    y: (share) => plot.bottom - share * (plot.bottom - plot.top),
    subtitle,
    axisNames,
    labelsTop,
    legend: { rows, top, icon, gap },
    timeZone: c.timeZone,
    wall: c.timeZone === 'UTC' ? (t) => t : (t) => t + offsetMs(t, c.timeZone),
    instant: c.timeZone === 'UTC' ? (w) => w : (w) => w - offsetMs(w - offsetMs(w, c.timeZone), c.timeZone),
  };
}

/** Where the chart of `input` draws things (validates it as the chart does). */
export function trendChartGeometry(input: TrendChartInput): TrendChartGeometry {
  const { width, height, scale, plot, start, end, bucketMs, x, y } = layout(validate(input));
  return { width, height, scale, plot, start, end, bucketMs, x, y };
}

/** Tick step: the smallest round step, no finer than a bucket, whose labels do not crowd each other. */
function timeTicks(g: Layout): { step: number; ticks: number[] } {
  const { start, end, bucketMs, scale: s } = g;
  const msPerPx = (end - start) / (g.plot.right - g.plot.left);
  const steps = [1, 2, 5, 10, 15, 30].map((m) => m * MINUTE).concat([1, 2, 3, 6, 12].map((h) => h * HOUR));
  steps.push(DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY);
  const spacing = (step: number) => (step < DAY ? textWidth('00:00', 12 * s) : textWidth('30 Sep', 12 * s)) + 22 * s;
  let step: number | undefined = steps.find((st) => st >= bucketMs && st / msPerPx >= spacing(st));
  step ??= Math.ceil(Math.max(spacing(DAY) * msPerPx, bucketMs) / (28 * DAY)) * 28 * DAY;
  // Round times on the zone's clock ("00:00" there), as instants; a tick the clocks skip is not drawn.
  const ticks: number[] = [];
  const [from, to] = [g.wall(start), g.wall(end)];
  for (let w = Math.ceil((from - TICK_ORIGIN) / step) * step + TICK_ORIGIN; w <= to; w += step) {
    const t = g.instant(w);
    if (t >= start && t <= end && g.wall(t) === w && ticks[ticks.length - 1] !== t) ticks.push(t);
  }
  return { step, ticks };
}

/**
 * The time axis' labels: the hour (or the date, on a daily axis) at each tick; under it, the date at the
 * first tick and where the day changes (the year, on a daily axis), unless it would run into the next one.
 */
function timeLabels(g: Layout, step: number, ticks: number[]): Map<number, string> {
  const s = g.scale;
  const walls = ticks.map((t) => g.wall(t));
  const seconds = walls.map((w, i) => {
    const key = step < DAY ? dayOf(w) : new Date(w).getUTCFullYear();
    const previous = i > 0 ? (step < DAY ? dayOf(walls[i - 1]) : new Date(walls[i - 1]).getUTCFullYear()) : undefined;
    return key !== previous ? (step < DAY ? longDate(w) : String(key)) : undefined;
  });
  // Drop a second-row label that would overlap the next one (the later, a day change, is kept).
  const px = ticks.map((t) => g.x(t));
  for (let i = 0; i < ticks.length; i++) {
    if (seconds[i] === undefined) continue;
    const j = seconds.findIndex((v, k) => k > i && v !== undefined);
    if (j < 0) break;
    const reach = (textWidth(seconds[i]!, 12 * s) + textWidth(seconds[j]!, 12 * s)) / 2 + 10 * s;
    if (px[j] - px[i] < reach) seconds[i] = undefined;
  }
  const labels = new Map<number, string>();
  ticks.forEach((t, i) => {
    const first = step < DAY ? clock(walls[i]) : shortDate(walls[i]);
    labels.set(t, seconds[i] === undefined ? `{tick|${first}}` : `{tick|${first}}\n{date|${seconds[i]}}`);
  });
  return labels;
}

// ---------------------------------------------------------------------------------------------------------
// The option

type Series = Record<string, unknown>;
type Graphic = Record<string, unknown>;

/** A null share where a bucket has no value or where buckets are missing, so the line breaks there. */
function withGaps(buckets: Bucket[], bucketMs: number, value: (b: Bucket) => number | undefined) {
  const out: Array<[number, number | null]> = [];
  let previous: Bucket | undefined;
  for (const b of buckets) {
    const centre = b.t + bucketMs / 2;
    if (previous && b.t - previous.t > bucketMs * 1.5) out.push([centre - bucketMs, null]);
    const v = value(b);
    out.push([centre, v === undefined ? null : v]);
    previous = b;
  }
  return out;
}

/** Indices of values with no value on either side: a line cannot show them, a marker does. */
function lone(data: Array<[number, number | null]>): Set<number> {
  const out = new Set<number>();
  data.forEach(([, v], i) => {
    if (v !== null && (data[i - 1]?.[1] ?? null) === null && (data[i + 1]?.[1] ?? null) === null) out.add(i);
  });
  return out;
}

function asData(data: Array<[number, number | null]>, marker: (i: number) => boolean, symbolSize: number) {
  return data.map(([x, v], i) =>
    v !== null && marker(i) ? { value: [x, v], symbol: 'circle', symbolSize } : { value: [x, v === null ? '-' : v] },
  );
}

function baseText(s: number, size = 12) {
  return { fontFamily: FONT, fontSize: size * s, color: S.text };
}

/** The title and the subtitle, left-aligned at the top (the subtitle dropped on short charts). */
function heading(input: TrendChartInput, g: Layout, subtitle: string): Graphic[] {
  const s = g.scale;
  const room = g.width - 24 * s;
  const out: Graphic[] = [
    {
      type: 'text',
      left: 12 * s,
      top: 10 * s,
      silent: true,
      style: {
        text: input.title,
        ...baseText(s, 16),
        fill: S.text,
        fontWeight: 'bold',
        width: room,
        overflow: 'truncate',
      },
    },
  ];
  if (g.subtitle)
    out.push({
      type: 'text',
      left: 12 * s,
      top: 34 * s,
      silent: true,
      style: { text: subtitle, ...baseText(s), fill: S.muted, width: room, overflow: 'truncate' },
    });
  return out;
}

function centredNote(g: Layout, big: string, small: string | undefined, y: number): Graphic[] {
  const s = g.scale;
  const cx = (g.plot.left + g.plot.right) / 2;
  const out: Graphic[] = [
    {
      type: 'text',
      x: cx,
      y,
      silent: true,
      z: 100,
      style: {
        text: big,
        ...baseText(s, 18),
        fill: S.text,
        fontWeight: 'bold',
        align: 'center',
        verticalAlign: 'bottom',
      },
    },
  ];
  if (small)
    out.push({
      type: 'text',
      x: cx,
      y: y + 8 * s,
      silent: true,
      style: { text: small, ...baseText(s), fill: S.muted, align: 'center', verticalAlign: 'top' },
    });
  return out;
}

interface Label {
  text: string;
  /** Where it would be: right after its edge (an opening), or right before it (a trigger window's end). */
  x0: number;
  width: number;
  colour: string;
  /** The span it speaks of, widened by its width: a label pushed off it is dropped. */
  over: [number, number];
  bold?: boolean;
  /** The x of the opening the label starts from, drawn up to it when the label sits there. */
  edge?: number;
}

/**
 * Lays out the labels above the plot on one line (in the order given, left to right): each is kept within
 * the chart, then labels that run into each other are pushed apart (right, then left at the chart's end);
 * a label pushed off the span it names is dropped, and the others laid out again.
 */
function placeLabels(labels: Label[], g: Layout): Graphic[] {
  const s = g.scale;
  const [minX, maxX, gap] = [10 * s, g.width - 10 * s, 12 * s];
  let shown = labels.filter((l) => l.width <= maxX - minX);
  for (;;) {
    const x = shown.map((l) => Math.max(minX, Math.min(l.x0, maxX - l.width)));
    for (let i = 1; i < x.length; i++) x[i] = Math.max(x[i], x[i - 1] + shown[i - 1].width + gap);
    for (let i = x.length - 1; i >= 0; i--) {
      x[i] = Math.min(x[i], (i + 1 < x.length ? x[i + 1] - gap : maxX) - shown[i].width);
    }
    const misplaced = shown.findIndex((l, i) => x[i] < minX || x[i] > l.over[1] || x[i] + l.width < l.over[0]);
    if (misplaced < 0) return shown.flatMap((l, i) => labelGraphics(l, x[i], g));
    shown = shown.filter((_, i) => i !== misplaced);
  }
}

function labelGraphics(l: Label, x0: number, g: Layout): Graphic[] {
  const s = g.scale;
  const out: Graphic[] = [
    {
      type: 'text',
      left: Math.round(x0),
      top: g.labelsTop + 2 * s,
      silent: true,
      style: { text: l.text, ...baseText(s), fill: l.colour, fontWeight: l.bold ? 'bold' : 'normal' },
    },
  ];
  // A label that sits right after its opening: the opening's edge goes up to it.
  if (l.edge !== undefined && Math.abs(x0 - l.edge - 5 * s) < 1)
    out.push({
      type: 'line',
      silent: true,
      shape: { x1: l.edge, y1: g.labelsTop + 2 * s, x2: l.edge, y2: g.plot.top },
      style: { stroke: S.alert, lineWidth: 2 * s },
    });
  return out;
}

export interface TrendChartOption {
  option: EChartsOption;
  width: number;
  height: number;
}

/** The ECharts option of the trend chart (no animation, fixed plot rectangle), and the size to render it at. */
export function trendChartOption(input: TrendChartInput): TrendChartOption {
  const checked = validate(input);
  const { buckets, periods, width, height, dispersion } = checked;
  const g = layout(checked);
  const s = g.scale;
  const { start, end, bucketMs, plot } = g;
  const per = duration(bucketMs);
  const volumeName = `mentions per ${per}`;
  const subtitle = buckets.length
    ? `stream: ${input.stream}  ·  ${per === 'hour' || per === 'day' ? `1 ${per}` : per} buckets  ·  times in ${g.timeZone}`
    : `stream: ${input.stream}`;
  const text = baseText(s);
  const base: EChartsOption = {
    animation: false,
    backgroundColor: PALETTE.background,
    textStyle: { fontFamily: FONT, color: S.text },
  };

  if (buckets.length === 0) {
    const box = { x: plot.left, y: plot.top, width: plot.right - plot.left, height: plot.bottom - plot.top };
    return {
      option: {
        ...base,
        graphic: [
          ...heading(input, g, subtitle),
          { type: 'rect', silent: true, shape: box, style: { fill: 'none', stroke: S.grid, lineWidth: s } },
          ...centredNote(g, 'no mentions', 'there are no buckets to chart for this stream', box.y + box.height / 2),
        ],
      },
      width,
      height,
    };
  }

  const maxTotal = buckets.reduce((max, b) => Math.max(max, b.total), 0);
  const volumeMax = volumeAxis(maxTotal);
  const { step, ticks } = timeTicks(g);
  const labels = timeLabels(g, step, ticks);
  const days = end - start > DAY;
  const slot = (plot.right - plot.left) / ((end - start) / bucketMs);
  const barWidth = Math.max(1, Math.min(48 * s, slot >= 3 ? Math.round(slot * 0.72) : Math.round(slot)));
  const markers = slot >= 12 * s;

  // Alerts that overlap the chart, clipped to it (an instantaneous alert inside it shows as a thin band).
  const inChart = (from: number, to: number) => from < end && (to > start || (to === from && from >= start));
  const alerts = periods
    .filter((p) => inChart(p.from, p.to ?? end))
    .map((p) => ({
      from: Math.max(p.from, start),
      to: Math.min(p.to ?? end, end),
      opened: p.from,
      resolved: p.to !== undefined && p.to <= end ? p.to : undefined,
      open: p.to === undefined,
      window:
        p.windowStart !== undefined && p.windowStart < p.from && inChart(p.windowStart, p.from)
          ? { from: Math.max(p.windowStart, start), to: Math.min(p.from, end) }
          : undefined,
    }));

  const share = withGaps(buckets, bucketMs, (b) => b.share);
  const shareLone = lone(share);
  const baseline = withGaps(buckets, bucketMs, (b) => b.baseline);
  const baselineLone = lone(baseline);
  const low = withGaps(buckets, bucketMs, (b) => bucketRange(b, dispersion)?.[0]);
  const high = withGaps(buckets, bucketMs, (b) => bucketRange(b, dispersion)?.[1]);
  // Stacked on the low edge, the span fills the band between the two edges.
  const span = low.map(([x, v], i): [number, number | null] => [x, v === null ? null : high[i][1]! - v]);
  const hasBand = low.some(([, v]) => v !== null);
  const hasBaseline = baseline.some(([, v]) => v !== null);
  const dash = (data: Array<[number, number | null]>) => data.map(([x, v]) => [x, v === null ? '-' : v]);

  const series: Series[] = [];
  // Trigger windows and alerts: behind everything but the grid.
  series.push({
    type: 'line',
    name: 'alerts',
    data: [],
    silent: true,
    z: 1,
    markArea: {
      silent: true,
      label: { show: false },
      data: [
        ...alerts
          .filter((a) => a.window)
          .map((a) => [
            {
              xAxis: a.window!.from,
              itemStyle: {
                color: rgba(S.trigger, S.triggerAlpha),
                borderColor: S.trigger,
                borderWidth: 1.5 * s,
                borderType: [5 * s, 3 * s],
              },
            },
            { xAxis: a.window!.to },
          ]),
        ...alerts.map((a) => [
          { xAxis: a.from, itemStyle: { color: rgba(S.alert, S.alertAlpha), borderWidth: 0 } },
          { xAxis: a.to },
        ]),
      ],
    },
  });
  if (hasBand) {
    series.push(
      {
        type: 'line',
        name: 'normal-low',
        stack: 'normal',
        data: dash(low),
        symbol: 'none',
        lineStyle: { width: 0, opacity: 0 },
        silent: true,
        z: 2,
      },
      {
        type: 'line',
        name: 'normal range',
        stack: 'normal',
        data: dash(span),
        symbol: 'none',
        lineStyle: { width: 0, opacity: 0 },
        areaStyle: { color: rgba(S.normalBand, S.normalAlpha), opacity: 1 },
        silent: true,
        z: 2,
      },
      // Its edges, over the bars, so that the band reads through them.
      ...[low, high].map((data, i) => ({
        type: 'line',
        name: i ? 'normal-high-edge' : 'normal-low-edge',
        data: dash(data),
        symbol: 'none',
        lineStyle: { color: rgba(S.normalBand, 0.45), width: s },
        silent: true,
        z: 3,
      })),
    );
  }
  series.push({
    type: 'bar',
    name: volumeName,
    yAxisIndex: 1,
    barWidth,
    z: 2.5,
    itemStyle: { color: S.bars },
    data: buckets.filter((b) => b.total > 0).map((b) => [b.t + bucketMs / 2, b.total]),
  });
  if (hasBaseline) {
    series.push({
      type: 'line',
      name: 'expected share',
      data: asData(baseline, (i) => baselineLone.has(i), 5 * s),
      symbol: 'none',
      lineStyle: { color: S.baseline, width: 1.5 * s, type: [6 * s, 4 * s] },
      itemStyle: { color: S.baseline },
      z: 4,
    });
  }
  series.push({
    type: 'line',
    name: 'negative share',
    data: asData(share, (i) => markers || shareLone.has(i), shareLone.size && !markers ? 6 * s : 5 * s),
    symbol: 'none',
    lineStyle: { color: S.share, width: 2.25 * s },
    itemStyle: { color: S.share },
    z: 6,
  });
  // Each alert's opening (vermillion) and resolution (bluish green) as a solid edge, over the bars.
  const cap = (from: number, to: number, colour: string) => [
    { coord: [from, 1], lineStyle: { color: colour, width: 4 * s, type: 'solid', cap: 'butt' } },
    { coord: [to, 1] },
  ];
  series.push({
    type: 'line',
    name: 'alert edges',
    data: [],
    silent: true,
    z: 5,
    markLine: {
      silent: true,
      symbol: 'none',
      label: { show: false },
      data: alerts.flatMap((a) => [
        // Caps along the plot's top edge: the trigger window's, then the alert's.
        ...(a.window ? [cap(a.window.from, a.window.to, S.trigger)] : []),
        cap(a.from, a.to, S.alert),
        ...(a.opened >= start ? [{ xAxis: a.opened, lineStyle: { color: S.alert, width: 2 * s, type: 'solid' } }] : []),
        ...(a.resolved !== undefined && a.resolved >= start
          ? [{ xAxis: a.resolved, lineStyle: { color: S.resolved, width: 2 * s, type: 'solid' } }]
          : []),
      ]),
    },
  });

  // Labels above the plot: "window that triggered" ending at the opening, the alert starting there.
  const above: Label[] = [];
  alerts.forEach((a, i) => {
    if (a.window) {
      const t = 'window that triggered';
      const w = textWidth(t, 12 * s);
      const x1 = g.x(a.window.to) - 5 * s;
      above.push({
        text: t,
        x0: x1 - w,
        width: w,
        colour: shade(S.trigger, 0.62),
        over: [g.x(a.window.from) - w, x1 + w],
      });
    }
    const opened = `opened ${moment(g.wall(a.opened), days || a.opened < start)}, `;
    const resolved = a.resolved !== undefined ? ` ${moment(g.wall(a.resolved), days)}` : '';
    const long = a.open ? `alert ${opened}ongoing` : `alert ${opened}resolved${resolved}`;
    const short = a.open ? 'alert, ongoing' : 'resolved';
    const x0 = g.x(a.from) + 5 * s;
    // The long form when it ends before the next alert's labels, else the short one.
    const next = alerts[i + 1];
    const limit = next ? g.x(next.window?.from ?? next.from) - textWidth('window that triggered', 12 * s) : Infinity;
    const fits = (t: string) =>
      Math.min(x0, g.width - 10 * s - textWidth(t, 12 * s, true)) + textWidth(t, 12 * s, true) <= limit;
    const t = fits(long) ? long : short;
    const w = textWidth(t, 12 * s, true);
    above.push({
      text: t,
      x0,
      width: w,
      colour: a.open ? shade(S.alert, 0.8) : shade(S.resolved, 0.8),
      over: [g.x(a.from) - w, g.x(a.to) + w],
      bold: true,
      ...(a.opened >= start ? { edge: g.x(a.opened) } : {}),
    });
  });
  const graphic: Graphic[] = [...heading(input, g, subtitle), ...placeLabels(above, g)];
  if (maxTotal === 0)
    graphic.push(...centredNote(g, 'no mentions in this period', undefined, plot.top + (plot.bottom - plot.top) / 3));

  const axisName = (name: string, colour: string, rotate: number) =>
    g.axisNames
      ? {
          name,
          nameLocation: 'middle' as const,
          nameGap: 44 * s,
          nameRotate: rotate,
          nameTextStyle: { ...text, color: colour },
        }
      : {};
  const option: EChartsOption = {
    ...base,
    grid: {
      left: plot.left,
      right: width - plot.right,
      top: plot.top,
      bottom: height - plot.bottom,
      outerBoundsMode: 'none',
    },
    xAxis: {
      type: 'value',
      min: start,
      max: end,
      // The bars fit in their buckets: no room added at the ends, so the axis spans exactly start..end.
      containShape: false,
      axisLine: { show: true, onZero: false, lineStyle: { color: S.axis, width: s } },
      axisTick: { show: true, customValues: ticks, length: 4 * s, lineStyle: { color: S.axis, width: s } },
      splitLine: { show: false },
      axisLabel: {
        customValues: ticks,
        formatter: (v: number) => labels.get(v) ?? '',
        ...text,
        margin: 7 * s,
        lineHeight: 16 * s,
        rich: {
          tick: { ...text, lineHeight: 16 * s },
          date: { ...text, color: S.muted, lineHeight: 16 * s },
        },
      },
    },
    yAxis: [
      {
        type: 'value',
        min: 0,
        max: 1,
        interval: 0.25,
        ...axisName('negative share', shade(S.share, 0.8), 90),
        axisLine: { show: true, lineStyle: { color: S.axis, width: s } },
        axisTick: { show: false },
        axisLabel: { ...text, color: S.muted, margin: 8 * s, formatter: (v: number) => `${Math.round(v * 100)} %` },
        splitLine: { show: true, lineStyle: { color: S.grid, width: s } },
      },
      {
        type: 'value',
        min: 0,
        max: volumeMax,
        interval: volumeMax / 4,
        ...axisName(volumeName, shade(S.volume, 0.62), -90),
        axisLine: { show: true, lineStyle: { color: S.axis, width: s } },
        axisTick: { show: false },
        axisLabel: { ...text, color: S.muted, margin: 8 * s, formatter: (v: number) => formatCount(v) },
        splitLine: { show: false },
      },
    ],
    // One legend per row (rows laid out here, so the plot never moves with the labels' lengths).
    legend: g.legend.rows.map((row, r) => ({
      top: g.legend.top[r],
      left: 'center',
      itemWidth: g.legend.icon,
      itemHeight: 10 * s,
      itemGap: g.legend.gap,
      selectedMode: false,
      textStyle: { ...text },
      formatter: (name: string) => row.find((item) => item.name === name)?.label ?? name,
      data: row.map((item) => ({ name: item.name, icon: item.icon, itemStyle: { color: item.colour } })),
    })),
    series: series as EChartsOption['series'],
    graphic,
  };
  return { option, width, height };
}
