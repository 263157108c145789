/**
 * The AMOC chart of the alert evaluation ("activity monitoring operating characteristic", Fawcett and Provost,
 * KDD 1999): for each detector setting, false alarms per stream-week against the median delay from a storm's
 * start to its first alert. One curve a detector, one point a threshold; down and to the left is better.
 * Drawn by ECharts (src/charts/render.ts) on a grid with fixed margins, so that `amocLayout` knows where
 * every value lands in the picture.
 */
import { renderChartPng, renderChartSvg, type ChartOption } from '../charts/render';
import { PALETTE, rgba } from '../charts/palette';

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
  text: PALETTE.text,
  muted: PALETTE.muted,
  axis: PALETTE.axis,
  grid: PALETTE.grid,
  /** Okabe–Ito yellow, translucent: none of the curves uses it. */
  goal: PALETTE.yellow,
  /** Okabe–Ito (colour-blind safe): blue, vermillion, bluish green, reddish purple, orange, sky blue. */
  curves: [PALETTE.blue, PALETTE.negative, PALETTE.resolved, PALETTE.purple, PALETTE.trigger, PALETTE.volume],
} as const;
export const GOAL_ALPHA = 0.35;

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

/**
 * Where the plot sits in a width × height picture (ECharts' grid, fixed margins: title and subtitle above,
 * tick labels, the axis title and the legend below); `axes` gives the scales and the pixel of a value.
 */
export function amocLayout(width = 720, height = 480) {
  const plotLeft = 84;
  const plotRight = width - 32;
  const plotTop = 76;
  const plotBottom = height - 104;
  const axes = (curves: readonly AmocCurve[], goal?: AmocOptions['goal']) => {
    const pts = curves.flatMap((c) => c.points);
    const x = falseAlarmAxis(Math.max(goal?.falseAlarmsPerWeek ?? 0, ...pts.map((p) => p.falseAlarmsPerWeek)));
    const y = delayAxis(Math.max(goal?.medianDelayMinutes ?? 0, ...pts.map((p) => p.medianDelayMinutes ?? 0)));
    return {
      x,
      y,
      X: (v: number) => plotLeft + (v / x.max) * (plotRight - plotLeft),
      Y: (v: number) => plotBottom - (v / y.max) * (plotBottom - plotTop),
    };
  };
  return { plotLeft, plotRight, plotTop, plotBottom, axes };
}

const tick = (v: number) => String(Number(v.toFixed(6)));
const HOLLOW = 'hollow marker on the top edge: nothing detected';

function check(curves: readonly AmocCurve[], width: number, height: number): void {
  if (![width, height].every(Number.isInteger) || width < 400 || height < 300 || width > 4096 || height > 4096)
    throw new Error('AMOC chart: width and height must be integers from 400×300 to 4096×4096');
  if (curves.length === 0) throw new Error('AMOC chart: no curves');
  for (const p of curves.flatMap((c) => c.points))
    if (!(p.falseAlarmsPerWeek >= 0) || (p.medianDelayMinutes !== null && !(p.medianDelayMinutes >= 0)))
      throw new Error(`AMOC chart: point "${p.label}" has a negative or non-numeric rate or delay`);
}

const MARKER_R = 5;
const LABEL_GAP = 5;
type Side = 'right' | 'left' | 'top' | 'bottom';
interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}
const overlaps = (a: Box, b: Box) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

/** Where ECharts puts a 12 px label on `side` of a marker at (x, y) (width estimated at 0.6 em a character). */
function labelBox([x, y]: number[], text: string, side: Side): Box {
  const w = Math.ceil([...text].length * 7.2);
  const h = 14;
  const d = MARKER_R + LABEL_GAP;
  if (side === 'right') return { left: x + d, right: x + d + w, top: y - h / 2, bottom: y + h / 2 };
  if (side === 'left') return { left: x - d - w, right: x - d, top: y - h / 2, bottom: y + h / 2 };
  if (side === 'top') return { left: x - w / 2, right: x + w / 2, top: y - d - h, bottom: y - d };
  return { left: x - w / 2, right: x + w / 2, top: y + d, bottom: y + d + h };
}

/** Whether the segment from a to b passes through the box (sampled every 2 px). */
function crosses(box: Box, [ax, ay]: number[], [bx, by]: number[]): boolean {
  const n = Math.max(1, Math.ceil(Math.hypot(bx - ax, by - ay) / 2));
  for (let i = 0; i <= n; i++) {
    const [x, y] = [ax + ((bx - ax) * i) / n, ay + ((by - ay) * i) / n];
    if (x > box.left && x < box.right && y > box.top && y < box.bottom) return true;
  }
  return false;
}

/**
 * A side for each marker's label inside `frame` that covers no other marker and no label placed before it,
 * preferring one that no line crosses; none: no label.
 */
function placeLabels<K>(
  items: Array<{ key: K; xy: number[]; text: string }>,
  lines: number[][][],
  frame: Box,
): Map<K, Side> {
  const markers = items.map(({ xy: [x, y] }) => ({
    left: x - MARKER_R,
    right: x + MARKER_R,
    top: y - MARKER_R,
    bottom: y + MARKER_R,
  }));
  const taken: Box[] = [];
  const out = new Map<K, Side>();
  items.forEach(({ key, xy, text }, i) => {
    if (!text) return;
    const free = (['right', 'left', 'top', 'bottom'] as const)
      .map((side) => ({ side, box: labelBox(xy, text, side) }))
      .filter(
        ({ box: b }) =>
          b.left >= frame.left &&
          b.right <= frame.right &&
          b.top >= frame.top &&
          b.bottom <= frame.bottom &&
          !markers.some((m, j) => j !== i && overlaps(b, m)) &&
          !taken.some((t) => overlaps(b, t)),
      );
    const clear = free.find(({ box }) => !lines.some((l) => l.slice(1).some((q, j) => crosses(box, l[j], q))));
    const chosen = clear ?? free[0];
    if (!chosen) return;
    taken.push(chosen.box);
    out.set(key, chosen.side);
  });
  return out;
}

/**
 * The ECharts option. A threshold at which nothing was detected is drawn as a hollow marker on the top
 * edge, off the line: joining it to the curve would read as a measured delay of the axis maximum, while
 * leaving it out would hide that the threshold was tried.
 */
export function amocOption(curves: readonly AmocCurve[], opts: AmocOptions): ChartOption {
  const width = opts.width ?? 720;
  const height = opts.height ?? 480;
  check(curves, width, height);
  const L = amocLayout(width, height);
  const { x: xAxis, y: yAxis, X, Y } = L.axes(curves, opts.goal);
  const hours = yAxis.step >= 60;
  const colour = (i: number) => AMOC_COLOURS.curves[i % AMOC_COLOURS.curves.length];
  // Threshold labels beside their marker, on the first side (right, left, above, below) where they cover no
  // other marker and no label already placed, inside the picture; none free: left out. A white halo keeps the
  // letters legible where a line crosses them.
  const pointLabel = {
    show: true,
    formatter: '{b}',
    distance: LABEL_GAP,
    color: PALETTE.muted,
    fontSize: 12,
    textBorderColor: '#ffffff',
    textBorderWidth: 3,
  };
  const at = (p: AmocPoint) => [
    X(p.falseAlarmsPerWeek),
    p.medianDelayMinutes === null ? L.plotTop : Y(p.medianDelayMinutes),
  ];
  const places = placeLabels(
    curves.flatMap((c) => c.points).map((p) => ({ key: p, xy: at(p), text: p.label })),
    curves.map((c) =>
      c.points
        .filter((p) => p.medianDelayMinutes !== null)
        .sort((a, b) => a.falseAlarmsPerWeek - b.falseAlarmsPerWeek)
        .map(at),
    ),
    { left: L.plotLeft + 2, top: L.plotTop - 12, right: width - 4, bottom: L.plotBottom - 2 },
  );
  const point = (p: AmocPoint, y: number) => {
    const side = places.get(p);
    return {
      name: p.label,
      value: [p.falseAlarmsPerWeek, y],
      label: side ? { position: side } : { show: false },
    };
  };
  const goalTall = !!opts.goal && L.plotBottom - Y(opts.goal.medianDelayMinutes) >= 24;
  const anyHollow = curves.some((c) => c.points.some((p) => p.medianDelayMinutes === null));
  const series: NonNullable<ChartOption['series']> = curves.flatMap((c, i) => {
    const sorted = [...c.points].sort((a, b) => a.falseAlarmsPerWeek - b.falseAlarmsPerWeek);
    const seen = sorted.filter((p) => p.medianDelayMinutes !== null);
    const unseen = sorted.filter((p) => p.medianDelayMinutes === null);
    return [
      {
        type: 'line' as const,
        name: c.name,
        color: colour(i),
        data: seen.map((p) => point(p, p.medianDelayMinutes!)),
        symbol: 'circle',
        symbolSize: 8,
        lineStyle: { width: 2.5 },
        label: pointLabel,
        clip: false,
        z: 3,
        ...(i === 0 && opts.goal
          ? {
              markArea: {
                silent: true,
                itemStyle: { color: rgba(AMOC_COLOURS.goal, GOAL_ALPHA) },
                // Inside the region when it is tall enough, else just above it, so the word never floats free.
                label: {
                  show: true,
                  position: goalTall ? ('insideTopLeft' as const) : [6, -18],
                  color: PALETTE.muted,
                  fontSize: 12,
                },
                data: [
                  [
                    { name: 'goal', coord: [0, 0] },
                    { coord: [opts.goal.falseAlarmsPerWeek, opts.goal.medianDelayMinutes] },
                  ],
                ],
              },
            }
          : {}),
      },
      // Nothing detected: hollow, on the top edge, not joined (same name: one legend entry with the curve).
      {
        type: 'scatter' as const,
        name: c.name,
        color: colour(i),
        data: unseen.map((p) => point(p, yAxis.max)),
        symbol: 'emptyCircle',
        symbolSize: 9,
        itemStyle: { borderWidth: 2, opacity: 1 },
        label: pointLabel,
        clip: false,
        z: 4,
      },
    ];
  });
  if (anyHollow)
    series.push({
      type: 'scatter',
      name: HOLLOW,
      color: PALETTE.muted,
      symbol: 'emptyCircle',
      symbolSize: 9,
      itemStyle: { borderWidth: 2, opacity: 1 },
      data: [],
    });
  const axisCommon = {
    axisLine: { show: true, lineStyle: { color: PALETTE.axis } },
    axisTick: { show: true, lineStyle: { color: PALETTE.axis } },
    splitLine: { show: true, lineStyle: { color: PALETTE.grid } },
    axisLabel: { color: PALETTE.text, fontSize: 12 },
    nameTextStyle: { color: PALETTE.text, fontSize: 13 },
    nameLocation: 'middle' as const,
    min: 0,
  };
  return {
    title: {
      text: opts.title,
      subtext: opts.subtitle,
      left: 16,
      top: 10,
      textStyle: { fontSize: 17, fontWeight: 'bold', color: PALETTE.text },
      subtextStyle: { fontSize: 13, color: PALETTE.muted },
      itemGap: 6,
    },
    grid: {
      left: L.plotLeft,
      right: width - L.plotRight,
      top: L.plotTop,
      bottom: height - L.plotBottom,
      // Fixed margins: ECharts 6 would otherwise shrink the grid to keep axis names inside the picture.
      outerBoundsMode: 'none',
    },
    xAxis: {
      ...axisCommon,
      type: 'value',
      max: xAxis.max,
      interval: xAxis.step,
      name: 'false alarms per stream-week',
      nameGap: 28,
      axisLabel: { ...axisCommon.axisLabel, formatter: (v: number) => tick(v) },
    },
    yAxis: {
      ...axisCommon,
      type: 'value',
      max: yAxis.max,
      interval: yAxis.step,
      name: "median delay from the storm's start",
      nameGap: 58,
      axisLabel: {
        ...axisCommon.axisLabel,
        formatter: (v: number) => (v === 0 ? '0' : hours ? `${tick(v / 60)} h` : `${v} min`),
      },
    },
    legend: {
      bottom: 12,
      left: L.plotLeft - 8,
      right: width - L.plotRight,
      itemWidth: 26,
      itemHeight: 12,
      itemGap: 20,
      textStyle: { color: PALETTE.text, fontSize: 13 },
      data: [...new Set([...curves.map((c) => c.name), ...(anyHollow ? [HOLLOW] : [])])],
    },
    series,
  };
}

/** The AMOC chart as ECharts draws it in SVG (default 720×480). */
export function amocSvg(curves: readonly AmocCurve[], opts: AmocOptions): string {
  return renderChartSvg(amocOption(curves, opts), { width: opts.width ?? 720, height: opts.height ?? 480 });
}

/** The AMOC chart as a PNG (default 720×480). */
export function amocPng(curves: readonly AmocCurve[], opts: AmocOptions): Buffer {
  return renderChartPng(amocOption(curves, opts), { width: opts.width ?? 720, height: opts.height ?? 480 });
}
