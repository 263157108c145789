/**
 * Where the trend chart puts things: the plot's rectangle, the legend's rows, the time axis' ticks and labels
 * (on the chart's clock), and how wide a text is drawn. The plot's rectangle depends on the size (and the
 * legend's rows), never on the values, so tests and the dashboard can say where a time or a share lands
 * (`trendChartGeometry`).
 */
import { rgba } from '../charts/palette';
import { normalRange } from './normal-range';
import { offsetMs } from './digest-day';
import { TREND_CHART_STYLE as S } from './chart-style';
import { DAY, HOUR, MINUTE, validate, type Bucket, type Checked, type TrendChartInput } from './chart-input';

/** 1970-01-05 was a Monday: weekly ticks fall on Mondays. Sub-day and daily ticks are unaffected. */
const TICK_ORIGIN = 4 * DAY;

// ---------------------------------------------------------------------------------------------------------
// Formatting

export function duration(ms: number): string {
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
export const moment = (t: number, days: boolean) => (days ? `${shortDate(t)} ${clock(t)}` : clock(t));

/**
 * About how wide Noto Sans draws `text` at `px` (advance widths of the regular face, in ems, by class):
 * enough to keep labels apart; exactness is not needed because labels are anchored, not measured.
 */
export function textWidth(text: string, px: number, bold = false): number {
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

export interface Layout extends TrendChartGeometry {
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

export interface LegendItem {
  name: string;
  label: string;
  icon: string;
  colour: string;
}

export function bucketLength(buckets: Bucket[]): number {
  let bucketMs = buckets.length > 1 ? Infinity : HOUR;
  for (let i = 1; i < buckets.length; i++) bucketMs = Math.min(bucketMs, buckets[i].t - buckets[i - 1].t);
  return bucketMs;
}

/** The normal range of a bucket (./normal-range, as the dashboard draws it); none without n, p or φ. */
export function bucketRange(b: Bucket, dispersion: number | undefined): [number, number] | undefined {
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

export function layout(c: Checked): Layout {
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
export function timeTicks(g: Layout): { step: number; ticks: number[] } {
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
export function timeLabels(g: Layout, step: number, ticks: number[]): Map<number, string> {
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
