/**
 * The AMOC chart of the alert evaluation ("activity monitoring operating characteristic", Fawcett and Provost,
 * KDD 1999): for each detector setting, false alarms per stream-week against the median delay from a storm's
 * start to its first alert. One curve a detector, one point a threshold; down and to the left is better.
 * Drawn with the shared raster of src/charts/raster.ts in the style of the reliability diagram.
 */
import { encodePng, GLYPH_H, Raster, type Rgb } from '../charts/raster';

export interface AmocPoint {
  falseAlarmsPerWeek: number;
  /** null: no storm detected at this threshold (the delay is unbounded). */
  medianDelayMinutes: number | null;
  detectionRate: number;
  /** The threshold, as printed next to its marker. */
  label: string;
}
/** `points` in threshold order. */
export interface AmocCurve {
  name: string;
  points: AmocPoint[];
}
export interface AmocOptions {
  title: string;
  subtitle?: string;
  goal?: { falseAlarmsPerWeek: number; medianDelayMinutes: number };
  width?: number;
  height?: number;
}

export const AMOC_COLOURS = {
  text: [34, 34, 34],
  muted: [105, 105, 105],
  axis: [130, 130, 130],
  grid: [232, 232, 232],
  /** Okabe–Ito yellow, blended lightly: none of the curves uses it. */
  goal: [240, 228, 66],
  /** Okabe–Ito (colour-blind safe): blue, vermillion, green, purple, orange, sky blue; reused past six. */
  curves: [
    [0, 114, 178],
    [213, 94, 0],
    [0, 158, 115],
    [204, 121, 167],
    [230, 159, 0],
    [86, 180, 233],
  ],
} as const satisfies Record<string, Rgb | readonly Rgb[]>;
export const GOAL_ALPHA = 0.3;

/** 1-2-5 steps for false alarms, so that the axis holds at most 8 ticks and reaches at least 1. */
function falseAlarmAxis(max: number): { max: number; step: number } {
  const top = Math.max(1, max);
  const mag = 10 ** Math.floor(Math.log10(top / 8));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s * 8 >= top) ?? 10 * mag;
  return { max: step * Math.ceil(top / step - 1e-9), step };
}

/** Delays tick in round minutes or hours (never 7 or 40 min), at most 6 ticks. */
function delayAxis(max: number): { max: number; step: number } {
  const top = Math.max(1, max);
  const steps = [5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080];
  const step = steps.find((s) => s * 6 >= top) ?? 1440 * Math.ceil(top / 6 / 1440);
  return { max: step * Math.ceil(top / step - 1e-9), step };
}

/** Where the chart sits in a width × height image; `axes` gives the scales and pixel mapping for some data. */
export function amocLayout(width = 720, height = 480) {
  const margin = 12;
  const ch = GLYPH_H;
  const plotLeft = margin + ch + 8 + Raster.textWidth('000 min', 1) + 6;
  const plotRight = width - 24;
  const plotTop = 8 + 2 * ch + 8 + ch + 16;
  // Two legend rows, items flowing left to right; under the plot: ticks, tick labels, axis title.
  const legendTop = height - margin - 2 * (ch + 6) + 6;
  const plotBottom = legendTop - 14 - (6 + ch + 6 + ch);
  const axes = (curves: readonly AmocCurve[], goal?: AmocOptions['goal']) => {
    const pts = curves.flatMap((c) => c.points);
    const x = falseAlarmAxis(Math.max(goal?.falseAlarmsPerWeek ?? 0, ...pts.map((p) => p.falseAlarmsPerWeek)));
    const y = delayAxis(Math.max(goal?.medianDelayMinutes ?? 0, ...pts.map((p) => p.medianDelayMinutes ?? 0)));
    return {
      x,
      y,
      X: (v: number) => Math.round(plotLeft + (v / x.max) * (plotRight - plotLeft)),
      Y: (v: number) => Math.round(plotBottom - (v / y.max) * (plotBottom - plotTop)),
    };
  };
  return { margin, plotLeft, plotRight, plotTop, plotBottom, legendTop, axes };
}

/** The pixel font is ASCII: accents stripped, typography mapped, anything else '?'. */
function ascii(text: string): string {
  return text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .replace(/\u2264/g, '<=')
    .replace(/\u2265/g, '>=')
    .replace(/\u00d7/g, 'x')
    .replace(/[\u2010-\u2015\u2212]/g, '-')
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/\u2026/g, '...')
    .replace(/[^\x20-\x7e]/gu, '?');
}

const tick = (v: number) => String(Number(v.toFixed(6)));

/**
 * The AMOC chart as a PNG (default 720×480). A threshold at which nothing was detected is drawn as a hollow
 * marker on the top edge, off the line: joining it to the curve would read as a measured delay of the axis
 * maximum, while leaving it out would hide that the threshold was tried.
 */
export function amocPng(curves: readonly AmocCurve[], opts: AmocOptions): Buffer {
  const width = opts.width ?? 720;
  const height = opts.height ?? 480;
  if (![width, height].every(Number.isInteger) || width < 400 || height < 300 || width > 4096 || height > 4096)
    throw new Error('AMOC chart: width and height must be integers from 400x300 to 4096x4096');
  if (curves.length === 0) throw new Error('AMOC chart: no curves');
  for (const p of curves.flatMap((c) => c.points))
    if (!(p.falseAlarmsPerWeek >= 0) || (p.medianDelayMinutes !== null && !(p.medianDelayMinutes >= 0)))
      throw new Error(`AMOC chart: point "${p.label}" has a negative or non-numeric rate or delay`);
  const C = AMOC_COLOURS;
  const L = amocLayout(width, height);
  const { x: xAxis, y: yAxis, X, Y } = L.axes(curves, opts.goal);
  const img = new Raster(width, height);
  const ch = GLYPH_H;

  const heading = ascii(opts.title);
  img.text(heading, L.margin, 8, Raster.textWidth(heading, 2) <= width - 2 * L.margin ? 2 : 1, C.text);
  if (opts.subtitle) img.text(ascii(opts.subtitle), L.margin, 8 + 2 * ch + 8, 1, C.muted);

  // Grid and tick labels first, so that the goal shading tints the grid rather than hiding it.
  const hours = yAxis.step >= 60;
  for (let v = 0; v <= yAxis.max + 1e-9; v += yAxis.step) {
    if (v > 0 && v < yAxis.max) for (let x = L.plotLeft; x <= L.plotRight; x++) img.set(x, Y(v), C.grid);
    const label = v === 0 ? '0' : hours ? `${tick(v / 60)} h` : `${v} min`;
    img.rightAligned(label, L.plotLeft - 6, Y(v) - Math.floor(ch / 2) + 1, 1, C.text);
  }
  for (let v = 0; v <= xAxis.max + 1e-9; v += xAxis.step) {
    if (v > 0 && v < xAxis.max) for (let y = L.plotTop; y <= L.plotBottom; y++) img.set(X(v), y, C.grid);
    for (let y = L.plotBottom; y < L.plotBottom + 4; y++) img.set(X(v), y, C.axis);
    img.centred(tick(v), X(v), L.plotBottom + 6, 1, C.text);
  }
  const title = "median delay from the storm's start";
  img.text(title, L.margin, Math.round((L.plotTop + L.plotBottom + Raster.textWidth(title, 1)) / 2), 1, C.text, true);
  img.centred('false alarms per stream-week', (L.plotLeft + L.plotRight) / 2, L.plotBottom + 6 + ch + 6, 1, C.text);

  if (opts.goal) {
    const gx = X(opts.goal.falseAlarmsPerWeek);
    const gy = Y(opts.goal.medianDelayMinutes);
    img.blendRect(L.plotLeft + 1, gy, gx - L.plotLeft, L.plotBottom - gy, C.goal, GOAL_ALPHA);
    // Inside the region when it is tall enough, else just above it, so the word never floats free.
    img.text('goal', L.plotLeft + 4, L.plotBottom - gy >= ch + 6 ? gy + 4 : gy - ch - 2, 1, C.muted);
  }
  for (let x = L.plotLeft; x <= L.plotRight; x++) [L.plotTop, L.plotBottom].forEach((y) => img.set(x, y, C.axis));
  for (let y = L.plotTop; y <= L.plotBottom; y++) [L.plotLeft, L.plotRight].forEach((x) => img.set(x, y, C.axis));

  // Threshold labels before the lines, and only where they do not overlap one already drawn.
  const taken: Array<[number, number, number, number]> = [];
  const sorted = curves.map((c) => [...c.points].sort((a, b) => a.falseAlarmsPerWeek - b.falseAlarmsPerWeek));
  sorted.flat().forEach((p) => {
    const label = ascii(p.label);
    const w = Raster.textWidth(label, 1);
    const px = X(p.falseAlarmsPerWeek);
    const lx = px + 6 + w <= L.plotRight ? px + 6 : px - 6 - w;
    const ly = (p.medianDelayMinutes === null ? L.plotTop : Y(p.medianDelayMinutes)) - ch - 3;
    if (!label || taken.some(([x, y, x2, y2]) => lx <= x2 && lx + w >= x && ly <= y2 && ly + ch >= y)) return;
    taken.push([lx - 2, ly - 1, lx + w + 2, ly + ch + 1]);
    img.text(label, lx, ly, 1, C.muted);
  });

  sorted.forEach((points, i) => {
    const colour = C.curves[i % C.curves.length];
    const seen = points.filter((p) => p.medianDelayMinutes !== null);
    img.polyline(
      seen.map((p) => [X(p.falseAlarmsPerWeek), Y(p.medianDelayMinutes ?? 0)]),
      colour,
      2,
    );
    for (const p of points) {
      const [px, py] = [X(p.falseAlarmsPerWeek), p.medianDelayMinutes === null ? L.plotTop : Y(p.medianDelayMinutes)];
      img.rect(px - 3, py - 3, 7, 7, colour);
      if (p.medianDelayMinutes === null) img.rect(px - 2, py - 2, 5, 5, [255, 255, 255]);
    }
  });

  // Legend: items flow left to right and wrap onto the second row.
  const items = curves.map((c, i): [string, Rgb, boolean] => [ascii(c.name), C.curves[i % C.curves.length], false]);
  if (curves.some((c) => c.points.some((p) => p.medianDelayMinutes === null)))
    items.push(['hollow marker on the top edge: nothing detected', C.muted, true]);
  let [lx, ly] = [L.plotLeft, L.legendTop];
  for (const [label, colour, hollow] of items) {
    const w = 22 + Raster.textWidth(label, 1) + 18;
    if (lx > L.plotLeft && lx + w > width - L.margin) [lx, ly] = [L.plotLeft, ly + ch + 6];
    if (!hollow) img.rect(lx, ly + 3, 16, 2, colour);
    img.rect(lx + 5, ly + 1, 7, 7, colour);
    if (hollow) img.rect(lx + 6, ly + 2, 5, 5, [255, 255, 255]);
    img.text(label, lx + 22, ly, 1, C.text);
    lx += w;
  }
  return encodePng(img.width, img.height, img.data);
}
