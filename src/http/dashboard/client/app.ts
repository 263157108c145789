/**
 * The dashboard's front end: plain DOM and ECharts (its browser build, bundled at build time by ./build.ts).
 * It reads the JSON of ../routes.ts, draws one card per stream, and refetches when the server-sent events
 * say something changed. Tweets and names are inserted as text, never as HTML.
 */
import * as echarts from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import {
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  MarkAreaComponent,
  TooltipComponent,
} from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import { PALETTE, rgba } from '../../../charts/palette';
import type { AlertDetail, AlertView, DashboardOverview, SeriesPoint, StreamOverview } from '../overview';
import type { AlertMention } from '../../../trends/content';

echarts.use([
  BarChart,
  LineChart,
  GridComponent,
  TooltipComponent,
  DataZoomComponent,
  MarkAreaComponent,
  LegendComponent,
  CanvasRenderer,
]);

type Range = DashboardOverview['range'];
type Health = {
  ready?: boolean;
  status?: string;
  reason?: string;
  model?: { name: string; version: string; backend: string };
  dependencies?: Record<string, { status: string; reason?: string }>;
};

const params = new URLSearchParams(location.search);
const state = {
  range: (params.get('range') === '7d' ? '7d' : '24h') as Range,
  alert: params.get('alert'),
  charts: new Map<string, echarts.ECharts>(),
  live: 'connecting' as 'connecting' | 'live' | 'reconnecting' | 'stale',
  updates: 0,
};

// ---------------------------------------------------------------------------------------------------------
// DOM helpers: text only.

type Child = Node | string | null | undefined | false;
function h(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children)
    if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}
const pct = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : `${Math.round(x * 100)} %`;
const utc = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
const hhmm = (t: number) => new Date(t).toISOString().slice(11, 16);
function duration(minutes: number): string {
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m ? `${h} h ${m} min` : `${h} h`;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok)
    throw new Error((body as { error?: { message?: string } }).error?.message ?? `${url} answered ${res.status}`);
  return body as T;
}

// ---------------------------------------------------------------------------------------------------------
// The chart: volume bars, the normal band, the baseline, the share; alerts shaded from their opening.

function chartOption(
  points: SeriesPoint[],
  alerts: AlertView[],
  bucketMinutes: number,
  windowMinutes: number,
  selected: string | null,
) {
  const t = (p: SeriesPoint) => Date.parse(p.at);
  const step = bucketMinutes * 60_000;
  const mid = (p: SeriesPoint) => t(p) + step / 2;
  const end = points.length ? t(points[points.length - 1]) + step : 0;
  const areas: unknown[] = [];
  for (const a of alerts) {
    const from = Date.parse(a.openedAt);
    const to = a.resolvedAt ? Date.parse(a.resolvedAt) : end;
    const colour = a.state === 'open' ? PALETTE.negative : PALETTE.resolved;
    const strong = a.id === selected;
    areas.push([
      {
        name: 'trigger window',
        xAxis: Date.parse(a.windowStart),
        itemStyle: { color: rgba(PALETTE.trigger, 0.18) },
        label: { show: false },
      },
      { xAxis: from },
    ]);
    areas.push([
      {
        name: a.state === 'open' ? 'alert, ongoing' : 'alert, resolved',
        xAxis: from,
        itemStyle: { color: rgba(colour, strong ? 0.28 : 0.16), borderColor: colour, borderWidth: strong ? 2 : 0 },
        label: { color: colour, fontWeight: 'bold' },
      },
      { xAxis: to },
    ]);
  }
  return {
    animation: false,
    grid: { left: 48, right: 52, top: 34, bottom: 62 },
    legend: { top: 0, left: 'center', textStyle: { color: PALETTE.text } },
    textStyle: { fontFamily: "'Noto Sans', sans-serif" },
    tooltip: {
      trigger: 'axis',
      axisPointer: { type: 'shadow' },
      formatter: (items: Array<{ dataIndex: number }>) => {
        const p = points[items[0]?.dataIndex ?? -1];
        if (!p) return '';
        const start = t(p);
        const lines = [
          `<b>${utc(p.at)}–${hhmm(start + step)}</b>`,
          `${p.total} mention${p.total === 1 ? '' : 's'}, ${p.negative} negative (${pct(p.share)})`,
          `last ${duration(windowMinutes)}: ${pct(p.windowShare)} negative of ${p.windowTotal}`,
          p.baseline === null
            ? 'normal: still learning'
            : `normal ${pct(p.baseline)}, usually ${pct(p.low)}–${pct(p.high)}`,
        ];
        return `<div data-testid="bucket-tooltip">${lines.join('<br>')}</div>`;
      },
    },
    xAxis: { type: 'time', axisLabel: { color: PALETTE.muted, hideOverlap: true } },
    yAxis: [
      {
        type: 'value',
        min: 0,
        max: 1,
        axisLabel: { formatter: (v: number) => `${Math.round(v * 100)} %`, color: PALETTE.muted },
        splitLine: { lineStyle: { color: PALETTE.grid } },
      },
      { type: 'value', axisLabel: { color: PALETTE.muted }, splitLine: { show: false } },
    ],
    dataZoom: [{ type: 'inside' }, { type: 'slider', height: 18, bottom: 8 }],
    series: [
      {
        name: 'mentions per bucket',
        type: 'bar',
        yAxisIndex: 1,
        barCategoryGap: '10%',
        itemStyle: { color: rgba(PALETTE.volume, 0.45) },
        data: points.map((p) => [mid(p), p.total]),
      },
      {
        name: 'usual range',
        type: 'line',
        stack: 'normal',
        symbol: 'none',
        lineStyle: { opacity: 0 },
        data: points.map((p) => [mid(p), p.low]),
      },
      {
        name: 'usual range',
        type: 'line',
        stack: 'normal',
        symbol: 'none',
        lineStyle: { opacity: 0 },
        areaStyle: { color: rgba(PALETTE.normalBand, 0.14) },
        itemStyle: { color: rgba(PALETTE.normalBand, 0.35) },
        data: points.map((p) => [mid(p), p.low === null || p.high === null ? null : p.high - p.low]),
      },
      {
        name: 'normal share',
        type: 'line',
        symbol: 'none',
        lineStyle: { type: 'dashed', color: PALETTE.baseline, width: 1.5 },
        itemStyle: { color: PALETTE.baseline },
        data: points.map((p) => [mid(p), p.baseline]),
      },
      {
        name: 'negative, per bucket',
        type: 'line',
        symbol: 'circle',
        symbolSize: 3,
        lineStyle: { opacity: 0 },
        itemStyle: { color: rgba(PALETTE.negative, 0.45) },
        data: points.map((p) => [mid(p), p.share]),
      },
      {
        name: `negative, last ${duration(windowMinutes)}`,
        type: 'line',
        symbol: 'none',
        connectNulls: false,
        lineStyle: { color: PALETTE.negative, width: 2.5 },
        itemStyle: { color: PALETTE.negative },
        data: points.map((p) => [mid(p), p.windowShare]),
        markArea: { silent: true, data: areas },
      },
    ],
  };
}

function drawChart(
  key: string,
  el: HTMLElement,
  points: SeriesPoint[],
  alerts: AlertView[],
  bucketMinutes: number,
  windowMinutes: number,
) {
  let chart = state.charts.get(key);
  if (!chart || chart.getDom() !== el) {
    chart?.dispose();
    chart = echarts.init(el, undefined, { renderer: 'canvas' });
    state.charts.set(key, chart);
  }
  // Merged, so a zoom the user chose survives a live update.
  chart.setOption(chartOption(points, alerts, bucketMinutes, windowMinutes, state.alert) as echarts.EChartsCoreOption, {
    replaceMerge: ['series'],
  });
}

// ---------------------------------------------------------------------------------------------------------
// Sections

function mentionList(mentions: AlertMention[]): HTMLElement {
  return h(
    'ol',
    { class: 'mentions' },
    ...mentions.map((m) =>
      h(
        'li',
        {},
        h('span', { class: 'score' }, pct(m.negative)),
        ' ',
        h('span', { class: 'text' }, m.text),
        ' ',
        h('a', { href: m.url, target: '_blank', rel: 'noopener noreferrer' }, m.author ? `@${m.author}` : 'on X'),
      ),
    ),
  );
}

function outcome(a: AlertView): string {
  const parts = [
    a.state === 'open' ? `open for ${duration(a.durationMinutes)}` : `lasted ${duration(a.durationMinutes)}`,
  ];
  if (a.acknowledged.length)
    parts.push(`acknowledged by ${[...new Set(a.acknowledged.map((x) => x.name ?? x.user))].join(', ')}`);
  else parts.push('not acknowledged');
  if (a.verdict === 'real') parts.push(`judged real (${a.votes?.real} ✅ / ${a.votes?.falseAlarm} ❌)`);
  else if (a.verdict === 'false alarm')
    parts.push(`judged a false alarm (${a.votes?.real} ✅ / ${a.votes?.falseAlarm} ❌)`);
  else if (a.verdict === 'disputed') parts.push(`disputed (${a.votes?.real} ✅ / ${a.votes?.falseAlarm} ❌)`);
  else parts.push('not judged yet');
  return parts.join(' · ');
}

function figures(a: AlertView): HTMLElement {
  const f = a.latest ?? a.opened;
  return h(
    'dl',
    { class: 'figures' },
    h('dt', {}, 'opened'),
    h('dd', {}, utc(a.openedAt)),
    h('dt', {}, 'negative now'),
    h('dd', {}, f ? `${pct(f.share)} of ${f.total} (${f.negative})` : '–'),
    h('dt', {}, 'normally'),
    h('dd', {}, f ? pct(f.baseline) : '–'),
    h('dt', {}, 'peak'),
    h('dd', {}, pct(a.peakShare)),
    h('dt', {}, 'triggered by'),
    h('dd', {}, `the ${duration(a.windowMinutes)} from ${utc(a.windowStart)}`),
  );
}

function alertRow(a: AlertView): HTMLElement {
  const link = h(
    'a',
    { href: `?alert=${encodeURIComponent(a.id)}&range=${state.range}`, 'data-testid': 'alert-link' },
    utc(a.openedAt),
  );
  return h(
    'tr',
    { 'data-testid': 'alert-row', 'data-alert': a.id, class: a.id === state.alert ? 'selected' : '' },
    h('td', {}, link),
    h('td', {}, a.state === 'open' ? 'open' : a.resolvedAt ? utc(a.resolvedAt) : 'resolved'),
    h('td', {}, pct(a.peakShare)),
    h('td', {}, outcome(a)),
  );
}

function streamCard(s: StreamOverview, windowMinutes: number): HTMLElement {
  const chartEl = h('div', { class: 'chart', 'data-testid': 'chart', 'data-stream': s.stream });
  const status = s.openAlert
    ? h('span', { class: 'badge alert' }, 'bad buzz')
    : s.at
      ? h('span', { class: 'badge ok' }, 'normal')
      : h('span', { class: 'badge muted' }, 'no data yet');
  const card = h(
    'section',
    { class: 'card', 'data-testid': 'stream-card', 'data-stream': s.stream },
    h(
      'header',
      {},
      h('h2', {}, s.stream),
      status,
      h(
        'span',
        { class: 'muted' },
        s.at ? `data up to ${utc(s.at)} · ${s.mentions} mentions, ${s.negatives} negative` : 'no mention judged yet',
      ),
    ),
    s.openAlert
      ? h(
          'div',
          { class: 'open-alert', 'data-testid': 'open-alert', 'data-alert': s.openAlert.id },
          h('h3', {}, s.openAlert.headline),
          h('p', { class: 'muted' }, outcome(s.openAlert)),
          figures(s.openAlert),
          h('h4', {}, 'Most negative mentions'),
          mentionList(s.openAlert.mentions),
        )
      : null,
    chartEl,
    s.alerts.length
      ? h(
          'table',
          { class: 'alerts' },
          h(
            'thead',
            {},
            h('tr', {}, h('th', {}, 'opened'), h('th', {}, 'ended'), h('th', {}, 'peak'), h('th', {}, 'how it ended')),
          ),
          h('tbody', {}, ...s.alerts.map(alertRow)),
        )
      : h('p', { class: 'muted' }, 'No alert on this stream yet.'),
  );
  requestAnimationFrame(() =>
    drawChart(`stream:${s.stream}`, chartEl, s.points, s.alerts, s.bucketMinutes, windowMinutes),
  );
  return card;
}

function alertDetail(d: AlertDetail): HTMLElement {
  const chartEl = h('div', { class: 'chart', 'data-testid': 'alert-chart' });
  const el = h(
    'section',
    { class: 'card focus', 'data-testid': 'alert-detail', 'data-alert': d.alert.id, id: 'alert' },
    h(
      'header',
      {},
      h('h2', {}, d.alert.headline),
      h(
        'span',
        { class: `badge ${d.alert.state === 'open' ? 'alert' : 'resolved'}` },
        d.alert.state === 'open' ? 'ongoing' : 'over',
      ),
    ),
    h('p', { class: 'muted' }, outcome(d.alert)),
    figures(d.alert),
    chartEl,
    h('h4', {}, 'Most negative mentions'),
    mentionList(d.alert.mentions),
    h('p', {}, h('a', { href: `?range=${state.range}` }, 'Close')),
  );
  requestAnimationFrame(() =>
    drawChart(
      `alert:${d.alert.id}`,
      chartEl,
      d.series.points,
      [d.alert],
      d.series.bucketMinutes,
      d.series.windowMinutes,
    ),
  );
  return el;
}

function accuracySection(o: DashboardOverview): HTMLElement {
  const a = o.accuracy;
  return h(
    'section',
    { class: 'card', 'data-testid': 'accuracy' },
    h(
      'header',
      {},
      h('h2', {}, 'Production accuracy'),
      h('span', { class: 'muted' }, `from ✅ / ❌ votes, last ${a.days} days`),
    ),
    a.versions.length
      ? h(
          'table',
          {},
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', {}, 'model version'),
              h('th', {}, 'accuracy'),
              h('th', {}, '95 % interval'),
              h('th', {}, 'judged'),
              h('th', {}, 'votes'),
            ),
          ),
          h(
            'tbody',
            {},
            ...a.versions.map((v) =>
              h(
                'tr',
                {},
                h('td', {}, v.modelVersion),
                h('td', {}, pct(v.accuracy)),
                h('td', {}, v.interval ? `${pct(v.interval.low)}–${pct(v.interval.high)}` : '–'),
                h('td', {}, String(v.judged)),
                h('td', {}, String(v.votes)),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, 'No vote yet: react ✅ or ❌ on what Sentinel posts.'),
  );
}

function healthSection(hl: Health): HTMLElement {
  const deps = Object.entries(hl.dependencies ?? {});
  return h(
    'section',
    { class: 'card', 'data-testid': 'health' },
    h(
      'header',
      {},
      h('h2', {}, 'Health'),
      h(
        'span',
        { class: `badge ${hl.status === 'ok' ? 'ok' : 'alert'}` },
        hl.ready === false ? 'not ready' : (hl.status ?? '?'),
      ),
    ),
    hl.model
      ? h('p', {}, `Model ${hl.model.name} ${hl.model.version} on ${hl.model.backend}`)
      : h('p', { class: 'warn' }, hl.reason ?? 'no model'),
    h(
      'ul',
      { class: 'deps' },
      ...deps.map(([name, d]) =>
        h('li', { class: d.status }, `${name}: ${d.status}${d.reason ? ` (${d.reason})` : ''}`),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------------------

function header(): HTMLElement {
  const live = h(
    'span',
    { class: `live ${state.live}`, 'data-testid': 'live-status', 'data-updates': String(state.updates) },
    state.live,
  );
  const ranges = h(
    'nav',
    {},
    ...(['24h', '7d'] as const).map((r) =>
      h(
        'a',
        {
          href: `?range=${r}${state.alert ? `&alert=${encodeURIComponent(state.alert)}` : ''}`,
          class: r === state.range ? 'on' : '',
        },
        r === '24h' ? 'last 24 h' : 'last 7 days',
      ),
    ),
  );
  return h('header', { class: 'top' }, h('h1', {}, 'Sentinel'), ranges, live);
}

let loading: Promise<void> | null = null;
let again = false;

async function load(): Promise<void> {
  if (loading) {
    again = true; // one more pass once this one ends: never two at once
    return loading;
  }
  loading = (async () => {
    const app = document.getElementById('app')!;
    try {
      const [overview, health, detail] = await Promise.all([
        getJson<DashboardOverview>(`/dashboard/api/overview?range=${state.range}`),
        getJson<Health>('/dashboard/api/health').catch((e: Error) => ({ ready: false, reason: e.message }) as Health),
        state.alert
          ? getJson<AlertDetail>(`/dashboard/api/alerts/${encodeURIComponent(state.alert)}`).catch((e: Error) => e)
          : Promise.resolve(null),
      ]);
      const main = h(
        'main',
        {},
        detail instanceof Error
          ? h('p', { class: 'warn', 'data-testid': 'alert-missing' }, detail.message)
          : detail
            ? alertDetail(detail)
            : null,
        ...overview.streams.map((s) => streamCard(s, overview.windowMinutes)),
        overview.streams.length ? null : h('p', { class: 'muted' }, 'No stream is configured.'),
        accuracySection(overview),
        healthSection(health),
      );
      app.replaceChildren(header(), main);
      app.dataset.state = 'ready';
    } catch (err) {
      app.replaceChildren(header(), h('p', { class: 'warn', 'data-testid': 'load-error' }, (err as Error).message));
      app.dataset.state = 'error';
    } finally {
      loading = null;
      if (again) {
        again = false;
        void load();
      }
    }
  })();
  return loading;
}

function setLive(s: typeof state.live) {
  state.live = s;
  const el = document.querySelector('[data-testid="live-status"]');
  if (el) {
    el.textContent = s;
    el.className = `live ${s}`;
    el.setAttribute('data-updates', String(state.updates));
  }
}

function listen(): void {
  const events = new EventSource('/dashboard/api/events');
  events.addEventListener('hello', () => setLive('live'));
  events.addEventListener('update', () => {
    state.updates += 1;
    void load().then(() => setLive('live'));
  });
  events.addEventListener('problem', () => setLive('stale'));
  events.addEventListener('recovered', () => setLive('live'));
  events.onerror = () => setLive('reconnecting');
}

window.addEventListener('resize', () => state.charts.forEach((c) => c.resize()));
void load().then(() => {
  listen();
  if (state.alert) document.getElementById('alert')?.scrollIntoView();
});
