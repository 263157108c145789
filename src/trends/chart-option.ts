/**
 * The alert/digest trend chart as an ECharts option: what ./chart.ts renders to SVG and PNG on the server,
 * and what the dashboard can hand to ECharts' browser build. No Node import. What it is given and how that is
 * checked: ./chart-input; where things go (plot, legend, time axis): ./chart-layout; colours: ./chart-style.
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
import { PALETTE, rgba } from '../charts/palette';
import { FONT, TREND_CHART_STYLE as S, shade } from './chart-style';
import { DAY, validate, type Bucket, type TrendChartInput } from './chart-input';
import {
  bucketRange,
  duration,
  formatCount,
  layout,
  moment,
  textWidth,
  timeLabels,
  timeTicks,
  type Layout,
} from './chart-layout';

export { TREND_CHART_STYLE } from './chart-style';
export type { TrendAlertPeriod, TrendChartInput, TrendPoint } from './chart-input';
export { formatCount, trendChartGeometry, type TrendChartGeometry } from './chart-layout';

/** Volume axis: 4 equal steps (so its ticks sit on the share gridlines at 25 % steps), whole counts. */
function volumeAxis(maxTotal: number): number {
  const raw = Math.max(maxTotal, 1) / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const factor = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].find((f) => f * magnitude >= raw * (1 - 1e-12)) ?? 10;
  const step = Math.max(1, factor * magnitude);
  return Number.isFinite(step * 4) ? step * 4 : maxTotal;
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
