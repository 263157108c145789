/**
 * Trend chart for alerts: the negative share of a stream's mentions over time, as a PNG for chat uploads.
 *
 *   - volume (mentions per bucket) as light bars on the right axis;
 *   - negative share (negative / total) as a red line on the left axis, 0–100 %; a bucket with no mentions
 *     has no share, so the line has a gap there (and across missing buckets);
 *   - the expected share (`baseline`) as a dashed line where given;
 *   - alert periods as light red bands, labelled "alert" (or "alert, ongoing" when open);
 *   - time axis in UTC: hours ("14:00") with the date under the first tick and wherever the day changes.
 *
 * Buckets: `at` is the ISO start of each bucket; the bucket length is the smallest gap between two points
 * (1 h when there is a single point). Points may come in any order; the chart sorts them.
 *
 * Drawn without native code with the shared raster, 5×8 pixel font and PNG encoder of src/charts/raster.ts.
 * Invalid input throws an Error whose message starts with "trend chart:" and names the field at fault.
 */
import { encodePng, GLYPH_H, Raster, type Rgb } from '../charts/raster';

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

export interface TrendChartInput {
  stream: string;
  points: TrendPoint[];
  /** `to` missing: the alert is still open, shaded until the end of the chart. */
  alertPeriods: Array<{ from: string; to?: string }>;
  title: string;
  /** Pixels, default 800 (320..4096). */
  width?: number;
  /** Pixels, default 360 (200..4096). */
  height?: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** 1970-01-05 was a Monday: weekly ticks fall on Mondays. Sub-day and daily ticks are unaffected. */
const TICK_ORIGIN = 4 * DAY;

export const TREND_CHART_COLOURS = {
  background: [255, 255, 255],
  text: [34, 34, 34],
  muted: [105, 105, 105],
  axis: [130, 130, 130],
  grid: [230, 230, 230],
  dayGrid: [175, 175, 175],
  bars: [178, 204, 230],
  barsText: [60, 100, 150],
  share: [205, 30, 30],
  baseline: [70, 70, 70],
  /** Mixed over the plot (alpha ALERT_ALPHA): on white it gives about (250, 207, 207). */
  alert: [235, 70, 70],
  alertEdge: [215, 45, 45],
} as const satisfies Record<string, Rgb>;
const ALERT_ALPHA = 0.25;

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

function validate(input: TrendChartInput): {
  buckets: Bucket[];
  periods: Period[];
  width: number;
  height: number;
} {
  if (typeof input !== 'object' || input === null) fail('input must be an object');
  if (typeof input.title !== 'string') fail('title must be a string');
  if (typeof input.stream !== 'string') fail('stream must be a string');
  if (!Array.isArray(input.points)) fail('points must be an array');
  if (!Array.isArray(input.alertPeriods)) fail('alertPeriods must be an array');
  const width = size(input.width, 800, 320, 'width');
  const height = size(input.height, 360, 200, 'height');

  const seen = new Map<number, number>();
  const buckets = input.points.map((p, i): Bucket => {
    if (typeof p !== 'object' || p === null) fail(`points[${i}] must be an object`);
    const t = parseTime(p.at, `points[${i}].at`);
    const total = count(p.total, `points[${i}].total`);
    const negative = count(p.negative, `points[${i}].negative`);
    if (negative > total) fail(`points[${i}].negative (${negative}) is more than points[${i}].total (${total})`);
    let baseline: number | undefined;
    if (p.baseline !== undefined && p.baseline !== null) {
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
    const to = a.to === undefined || a.to === null ? undefined : parseTime(a.to, `alertPeriods[${i}].to`);
    if (to !== undefined && to < from) fail(`alertPeriods[${i}].to (${a.to}) is before its from (${a.from})`);
    return { from, to };
  });
  return { buckets, periods, width, height };
}

// ---------------------------------------------------------------------------------------------------------
// Formatting

/** The pixel font is ASCII: strip accents, map common typography, anything else becomes '?'. */
function ascii(text: string): string {
  return text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .replace(/[\u2010-\u2015\u2212]/g, '-')
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/\u2026/g, '...')
    .replace(/[\u00b7\u2022]/g, '|')
    .replace(/\s/g, ' ')
    .replace(/[^\x20-\x7e]/gu, '?');
}

/** Cuts `text` with ".." so that it is at most `maxWidth` pixels wide at `scale`. */
function fit(text: string, scale: number, maxWidth: number): string {
  if (Raster.textWidth(text, scale) <= maxWidth) return text;
  let cut = text;
  while (cut.length > 0 && Raster.textWidth(`${cut}..`, scale) > maxWidth) cut = cut.slice(0, -1);
  return `${cut.trimEnd()}..`;
}

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

/** Volume axis: 4 equal steps (so its ticks sit on the share gridlines at 25 % steps), whole counts. */
function volumeAxis(maxTotal: number): number {
  const raw = Math.max(maxTotal, 1) / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const factor = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].find((f) => f * magnitude >= raw * (1 - 1e-12)) ?? 10;
  const step = Math.max(1, factor * magnitude);
  return Number.isFinite(step * 4) ? step * 4 : maxTotal;
}

// ---------------------------------------------------------------------------------------------------------
// Drawing

/** Tick step: the smallest round step, no finer than a bucket, whose labels do not crowd each other. */
function timeTicks(
  start: number,
  end: number,
  bucketMs: number,
  plotWidth: number,
  scale: number,
): { step: number; ticks: number[] } {
  const msPerPx = (end - start) / plotWidth;
  const steps = [1, 2, 5, 10, 15, 30].map((m) => m * MINUTE).concat([1, 2, 3, 6, 12].map((h) => h * HOUR));
  steps.push(DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY);
  const spacing = (step: number) =>
    (step < DAY ? Raster.textWidth('00:00', scale) : Raster.textWidth('30 Sep', scale)) + 16 * scale;
  let step: number | undefined = steps.find((s) => s >= bucketMs && s / msPerPx >= spacing(s));
  step ??= Math.ceil(Math.max(spacing(DAY) * msPerPx, bucketMs) / (28 * DAY)) * 28 * DAY;
  const ticks: number[] = [];
  for (let t = Math.ceil((start - TICK_ORIGIN) / step) * step + TICK_ORIGIN; t <= end; t += step) ticks.push(t);
  return { step, ticks };
}

/** Splits a series into runs of consecutive buckets that all have a value; a missing bucket breaks the run. */
function runs(buckets: Bucket[], bucketMs: number, value: (b: Bucket) => number | undefined): Bucket[][] {
  const out: Bucket[][] = [];
  let run: Bucket[] = [];
  for (const b of buckets) {
    const previous = run[run.length - 1];
    if (value(b) === undefined || (previous && b.t - previous.t > bucketMs * 1.5)) {
      if (run.length) out.push(run);
      run = [];
    }
    if (value(b) !== undefined) run.push(b);
  }
  if (run.length) out.push(run);
  return out;
}

export function renderTrendChart(input: TrendChartInput): Buffer {
  const { buckets, periods, width, height } = validate(input);
  const C = TREND_CHART_COLOURS;
  const s = width >= 1400 && height >= 600 ? 2 : 1; // text scale; the title is twice that
  const ch = GLYPH_H * s;
  const img = new Raster(width, height);
  const margin = 12 * s;

  // The bucket length is the smallest gap between points; with a single point it is taken as 1 h.
  let bucketMs = buckets.length > 1 ? Infinity : HOUR;
  for (let i = 1; i < buckets.length; i++) bucketMs = Math.min(bucketMs, buckets[i].t - buckets[i - 1].t);
  const per = duration(bucketMs);
  const volumeTitle = `mentions per ${per}`;
  const start = buckets.length ? buckets[0].t : 0;
  const end = buckets.length ? buckets[buckets.length - 1].t + bucketMs : 0;
  // Alerts that overlap the chart, clipped to it (an instantaneous alert inside it shows as a thin band).
  const alerts = periods
    .filter((p) => {
      const to = p.to ?? end;
      return buckets.length > 0 && p.from < end && (to > start || (to === p.from && p.from >= start));
    })
    .map((p) => ({ from: Math.max(p.from, start), to: Math.min(p.to ?? end, end), open: p.to === undefined }));

  // Title and subtitle, left-aligned.
  const title = ascii(input.title);
  const titleScale = Raster.textWidth(title, 2 * s) <= width - 2 * margin ? 2 * s : s;
  img.text(fit(title, titleScale, width - 2 * margin), margin, 8 * s, titleScale, C.text);
  const subtitleY = 8 * s + 2 * ch + 6 * s;
  const subtitle = buckets.length
    ? `stream: ${ascii(input.stream)}  |  ${per === 'hour' || per === 'day' ? `1 ${per}` : per} buckets  |  times in UTC`
    : `stream: ${ascii(input.stream)}`;
  img.text(fit(subtitle, s, width - 2 * margin), margin, subtitleY, s, C.muted);

  // Legend items, laid out in as few rows as fit (full labels on one row, else short ones, wrapped).
  type Item = { label: string; short: string; swatch: (x: number, y: number) => void };
  const items: Item[] = [
    {
      label: 'negative share (left axis)',
      short: 'negative share',
      swatch: (x, y) => img.rect(x, y + ch / 2 - s, 16 * s, 2 * s, C.share),
    },
  ];
  if (buckets.some((b) => b.baseline !== undefined)) {
    items.push({
      label: 'expected share',
      short: 'expected',
      swatch: (x, y) => {
        const yy = y + Math.floor(ch / 2) - Math.floor(s / 2);
        img.polyline(
          [
            [x + 2 * s, yy],
            [x + 14 * s, yy],
          ],
          C.baseline,
          s,
          [5 * s, 3 * s],
        );
      },
    });
  }
  items.push({
    label: `${volumeTitle} (right axis)`,
    short: 'mentions',
    swatch: (x, y) => img.rect(x + 3 * s, y, 10 * s, ch - s, C.bars),
  });
  if (alerts.length) {
    items.push({
      label: 'alert',
      short: 'alert',
      swatch: (x, y) => {
        img.blendRect(x + 3 * s, y, 10 * s, ch - s, C.alert, ALERT_ALPHA);
        img.rect(x + 3 * s, y, 10 * s, 2 * s, C.alertEdge);
      },
    });
  }
  const gap = 18 * s;
  const itemWidth = (label: string) => 16 * s + 5 * s + Raster.textWidth(label, s);
  const pack = (long: boolean) => {
    const rows: Array<{ items: Array<{ item: Item; label: string }>; width: number }> = [];
    for (const item of items) {
      const label = long ? item.label : item.short;
      const row = rows[rows.length - 1];
      if (row && row.width + gap + itemWidth(label) <= width - 2 * margin) {
        row.items.push({ item, label });
        row.width += gap + itemWidth(label);
      } else rows.push({ items: [{ item, label }], width: itemWidth(label) });
    }
    return rows;
  };
  const legend = buckets.length === 0 ? [] : pack(true).length === 1 ? pack(true) : pack(false);
  const legendY = height - 8 * s - ch - Math.max(0, legend.length - 1) * (ch + 5 * s);

  const plotTop = subtitleY + ch + 18 * s;
  const plotBottom = legendY - 10 * s - (6 * s + ch + 4 * s + ch);
  const plotLeft = margin + ch + 6 * s + Raster.textWidth('100%', s) + 5 * s;

  if (buckets.length === 0) {
    const plotRight = width - margin;
    for (let x = plotLeft; x < plotRight; x++) {
      img.set(x, plotTop, C.grid);
      img.set(x, plotBottom, C.axis);
    }
    const cx = (plotLeft + plotRight) / 2;
    const cy = Math.round((plotTop + plotBottom) / 2);
    img.centred('no mentions', cx, cy - 2 * ch, 2 * s, C.text);
    img.centred('there are no buckets to chart for this stream', cx, cy + 4 * s, s, C.muted);
    return encodePng(img.width, img.height, img.data);
  }

  const maxTotal = buckets.reduce((max, b) => Math.max(max, b.total), 0);
  const volumeMax = volumeAxis(maxTotal);
  const volumeLabels = [0, 1, 2, 3, 4].map((i) => formatCount((volumeMax * i) / 4));
  const labelWidth = Math.max(...volumeLabels.map((l) => Raster.textWidth(l, s)));
  const plotRight = width - (margin + ch + 6 * s + labelWidth + 5 * s);
  const plotW = plotRight - plotLeft;
  const plotH = plotBottom - plotTop;
  const X = (t: number) => plotLeft + ((t - start) / (end - start)) * plotW;
  const Y = (share: number) => plotBottom - share * plotH;

  // Horizontal grid (shared by both axes: the volume axis has the same 4 steps) and the axes' labels.
  for (let i = 0; i <= 4; i++) {
    const y = Math.round(Y(i / 4));
    if (i > 0) for (let x = plotLeft; x <= plotRight; x++) img.set(x, y, C.grid);
    img.rightAligned(`${i * 25}%`, plotLeft - 5 * s, y - Math.floor(ch / 2) + s, s, C.share);
    img.text(volumeLabels[i], plotRight + 5 * s, y - Math.floor(ch / 2) + s, s, C.barsText);
  }
  const midY = (plotTop + plotBottom) / 2;
  img.text('negative share', margin, Math.round(midY + Raster.textWidth('negative share', s) / 2), s, C.share, true);
  img.text(
    volumeTitle,
    width - margin - ch,
    Math.round(midY + Raster.textWidth(volumeTitle, s) / 2),
    s,
    C.barsText,
    true,
  );

  // Vertical grid at the time ticks, darker at midnight; labels under the axis.
  const { step, ticks } = timeTicks(start, end, bucketMs, plotW, s);
  const tickY = plotBottom + 6 * s;
  const dateY = tickY + ch + 4 * s;
  let lastLabelRight = -Infinity;
  let lastDateRight = -Infinity;
  let previousKey: number | undefined;
  const place = (text: string, x: number) => {
    const w = Raster.textWidth(text, s);
    return Math.max(0, Math.min(width - w, Math.round(x - w / 2)));
  };
  for (const t of ticks) {
    const x = Math.round(X(t));
    const midnight = t % DAY === 0;
    const gridColour = midnight && step < DAY ? C.dayGrid : C.grid;
    for (let y = plotTop; y < plotBottom; y++) img.set(x, y, gridColour);
    for (let y = plotBottom; y < plotBottom + 3 * s; y++) img.set(x, y, C.axis);
    const label = step < DAY ? clock(t) : shortDate(t);
    const lx = place(label, x);
    if (lx > lastLabelRight + 4 * s) {
      img.text(label, lx, tickY, s, C.text);
      lastLabelRight = lx + Raster.textWidth(label, s);
    }
    // Second row: the date under the first tick and where the day changes (the year, on a daily axis).
    const key = step < DAY ? dayOf(t) : new Date(t).getUTCFullYear();
    if (key !== previousKey) {
      const second = step < DAY ? longDate(t) : String(key);
      const dx = place(second, x);
      if (dx > lastDateRight + 8 * s) {
        img.text(second, dx, dateY, s, C.muted);
        lastDateRight = dx + Raster.textWidth(second, s);
      }
    }
    previousKey = key;
  }

  // Volume bars.
  const slot = plotW / ((end - start) / bucketMs);
  const barW = Math.max(1, Math.min(48 * s, slot >= 3 ? Math.round(slot * 0.75) : Math.round(slot)));
  for (const b of buckets) {
    if (b.total <= 0) continue;
    const h = Math.max(1, Math.round((b.total / volumeMax) * plotH));
    const x = Math.round(X(b.t + bucketMs / 2) - barW / 2);
    img.rect(x, plotBottom - h, barW, h, C.bars);
  }

  // Alert bands over grid and bars, with a solid edge on top and a label above it (unless labels would overlap).
  let lastAlertLabelRight = -Infinity;
  for (const a of alerts) {
    const x0 = Math.round(X(a.from));
    const x1 = Math.max(x0 + 2, Math.round(X(a.to)));
    img.blendRect(x0, plotTop, x1 - x0, plotH, C.alert, ALERT_ALPHA);
    img.rect(x0, plotTop, x1 - x0, 3 * s, C.alertEdge);
    // "alert, ongoing" for an open alert when it fits over its band, else "alert".
    const label = a.open && x0 + Raster.textWidth('alert, ongoing', s) <= plotRight ? 'alert, ongoing' : 'alert';
    const lw = Raster.textWidth(label, s);
    const lx = Math.max(0, Math.min(plotRight - lw, x0));
    if (lx > lastAlertLabelRight + 6 * s) {
      img.text(label, lx, plotTop - ch - 3 * s, s, C.alertEdge);
      lastAlertLabelRight = lx + lw;
    }
  }

  // Axes.
  for (let x = plotLeft; x <= plotRight; x++) img.set(x, plotBottom, C.axis);
  for (let y = plotTop; y <= plotBottom; y++) {
    img.set(plotLeft, y, C.axis);
    img.set(plotRight, y, C.axis);
  }

  // Baseline (dashed) and share (solid), gaps where a bucket has no mentions or is missing.
  const centre = (b: Bucket) => X(b.t + bucketMs / 2);
  for (const run of runs(buckets, bucketMs, (b) => b.baseline)) {
    // A lone baseline value is drawn as a short level across its bucket.
    const half = Math.max(barW, 16 * s) / 2;
    const pts =
      run.length === 1
        ? ([
            [centre(run[0]) - half, Y(run[0].baseline!)],
            [centre(run[0]) + half, Y(run[0].baseline!)],
          ] as const)
        : run.map((b) => [centre(b), Y(b.baseline!)] as const);
    img.polyline(pts, C.baseline, s, [6 * s, 4 * s]);
  }
  const markers = slot >= 10 * s;
  for (const run of runs(buckets, bucketMs, (b) => b.share)) {
    const pts = run.map((b) => [centre(b), Y(b.share!)] as const);
    img.polyline(pts, C.share, 2 * s);
    if (markers || run.length === 1) {
      const m = run.length === 1 ? 5 * s : 4 * s;
      for (const [x, y] of pts) img.rect(Math.round(x - m / 2), Math.round(y - m / 2), m, m, C.share);
    }
  }
  if (maxTotal === 0)
    img.centred('no mentions in this period', (plotLeft + plotRight) / 2, plotTop + plotH / 3, 2 * s, C.text);

  // Legend, centred under the time axis.
  legend.forEach((row, r) => {
    let x = Math.max(margin, Math.round((plotLeft + plotRight) / 2 - row.width / 2));
    const y = legendY + r * (ch + 5 * s);
    for (const { item, label } of row.items) {
      item.swatch(x, y);
      img.text(label, x + 21 * s, y, s, C.text);
      x += itemWidth(label) + gap;
    }
  });

  return encodePng(img.width, img.height, img.data);
}
