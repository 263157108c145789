/**
 * npm run bench:charts [-- --runs 40] [--warmup 5] [--cold 3] [--out /tmp]
 *
 * The two chart stacks issue 15 names, measured on the same alert chart (800×360: 24 hourly volume bars on
 * a right axis, the negative share with a gap, a dashed baseline, a shaded alert band, a title and a legend,
 * text with accents), both with Noto Sans from npm:
 *
 * - `echarts`: ECharts' server-side SVG rendered to PNG by @resvg/resvg-js (src/charts/render.ts, what
 *   Sentinel ships);
 * - `chartjs`: Chart.js 4 drawing on @napi-rs/canvas (Skia), PNG from the canvas.
 *
 * After `--warmup` charts each, `--runs` charts each in turns (A B A B …, so that a load on the machine that
 * comes and goes falls on both alike): median and 90th percentile in ms per chart (option/config → PNG
 * bytes), and for ECharts the SVG alone (`svg_only_median_ms`; the rest is resvg). PNG size in bytes.
 * Cold: `--cold` fresh processes per candidate (in turns), each timing its library's loading plus its first
 * chart (`cold_first_ms`, median) and its RSS growth over that and 20 more charts (`rss_delta_mb`, median).
 * Both PNGs are written to `--out` to compare legibility. Progress and a table on stderr; the last stdout
 * line is one JSON object, with `ratio_b_over_a` = chartjs ÷ echarts.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ChartConfiguration, Plugin } from 'chart.js';
import type { ChartOption } from '../charts/render';
import { PALETTE, rgba } from '../charts/palette';

const HELP = 'usage: npm run bench:charts -- [--runs 40] [--warmup 5] [--cold 3] [--out /tmp]';

const CANDIDATES = ['echarts', 'chartjs'] as const;
type Candidate = (typeof CANDIDATES)[number];
const LIBRARIES: Record<Candidate, string> = {
  echarts: 'ECharts SSR SVG + @resvg/resvg-js',
  chartjs: 'Chart.js 4 + @napi-rs/canvas',
};
const SIZE = { width: 800, height: 360 };

// ---------------------------------------------------------------------------------------------------------
// The chart: one day of a stream, an alert from 15:00 to 19:00, no mentions at 05:00.

const HOURS = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
const VOLUME = HOURS.map((_, h) =>
  h === 5 ? 0 : Math.round(30 + 18 * Math.sin((h - 9) / 3.8) + (h >= 15 && h < 20 ? 40 : 0)),
);
const SHARE = VOLUME.map((v, h) =>
  v === 0 ? null : Math.round((22 + 6 * Math.cos(h) + (h >= 15 && h < 20 ? 30 : 0)) * 10) / 10,
);
const BASELINE = HOURS.map((_, h) => Math.round((24 + 2 * Math.sin(h / 4)) * 10) / 10);
const ALERT = { from: 15, to: 19 };
const TITLE = 'Air Paradis — mentions négatives à Montréal';
const NAMES = { share: 'part négative (%)', baseline: 'part attendue', volume: 'mentions par heure', alert: 'alerte' };

function echartsOption(): ChartOption {
  return {
    title: { text: TITLE, left: 16, top: 10, textStyle: { fontSize: 17, fontWeight: 'bold', color: PALETTE.text } },
    legend: { top: 40, left: 16, itemGap: 18, textStyle: { fontSize: 13, color: PALETTE.text } },
    grid: { left: 56, right: 56, top: 76, bottom: 36, outerBoundsMode: 'none' },
    xAxis: { type: 'category', data: HOURS, axisLabel: { interval: 2, color: PALETTE.text, fontSize: 12 } },
    yAxis: [
      {
        type: 'value',
        min: 0,
        max: 100,
        axisLabel: { formatter: '{value} %', color: PALETTE.text, fontSize: 12 },
        splitLine: { lineStyle: { color: PALETTE.grid } },
      },
      {
        type: 'value',
        position: 'right',
        axisLabel: { color: PALETTE.muted, fontSize: 12 },
        splitLine: { show: false },
      },
    ],
    series: [
      {
        type: 'bar',
        name: NAMES.volume,
        yAxisIndex: 1,
        data: VOLUME,
        itemStyle: { color: rgba(PALETTE.volume, 0.45) },
        barWidth: '70%',
      },
      {
        type: 'line',
        name: NAMES.share,
        data: SHARE,
        connectNulls: false,
        color: PALETTE.negative,
        lineStyle: { width: 2.5 },
        symbol: 'circle',
        symbolSize: 5,
        markArea: {
          silent: true,
          itemStyle: { color: rgba(PALETTE.negative, 0.12) },
          label: { color: PALETTE.negative, fontSize: 12 },
          data: [[{ name: NAMES.alert, xAxis: HOURS[ALERT.from] }, { xAxis: HOURS[ALERT.to] }]],
        },
      },
      {
        type: 'line',
        name: NAMES.baseline,
        data: BASELINE,
        color: PALETTE.baseline,
        lineStyle: { width: 1.5, type: 'dashed' },
        symbol: 'none',
      },
    ],
  };
}

function chartjsConfig(): ChartConfiguration {
  // Chart.js has no shaded band of its own (chartjs-plugin-annotation does it): a small plugin draws it,
  // and another fills the background (a canvas starts transparent).
  const bandEdges = (chart: Parameters<NonNullable<Plugin['beforeDatasetsDraw']>>[0]) => [
    // From the centre of the first hour to the centre of the last, as ECharts' markArea on a category axis.
    chart.scales.x.getPixelForValue(ALERT.from),
    chart.scales.x.getPixelForValue(ALERT.to),
  ];
  const band: Plugin = {
    id: 'alertBand',
    beforeDatasetsDraw(chart) {
      const [left, right] = bandEdges(chart);
      const { ctx, chartArea } = chart;
      ctx.save();
      ctx.fillStyle = rgba(PALETTE.negative, 0.12);
      ctx.fillRect(left, chartArea.top, right - left, chartArea.bottom - chartArea.top);
      ctx.restore();
    },
    afterDatasetsDraw(chart) {
      const [left, right] = bandEdges(chart);
      const { ctx, chartArea } = chart;
      ctx.save();
      ctx.fillStyle = PALETTE.negative;
      ctx.font = '12px "Noto Sans"';
      ctx.textAlign = 'center';
      ctx.fillText(NAMES.alert, (left + right) / 2, chartArea.top - 6);
      ctx.restore();
    },
  };
  const background: Plugin = {
    id: 'background',
    beforeDraw(chart) {
      chart.ctx.save();
      chart.ctx.fillStyle = PALETTE.background;
      chart.ctx.fillRect(0, 0, chart.width, chart.height);
      chart.ctx.restore();
    },
  };
  return {
    type: 'bar',
    data: {
      labels: HOURS,
      datasets: [
        {
          type: 'line',
          label: NAMES.share,
          data: SHARE,
          spanGaps: false,
          borderColor: PALETTE.negative,
          backgroundColor: PALETTE.negative,
          borderWidth: 2.5,
          pointRadius: 2.5,
          yAxisID: 'y',
          order: 1,
        },
        {
          type: 'line',
          label: NAMES.baseline,
          data: BASELINE,
          borderColor: PALETTE.baseline,
          backgroundColor: PALETTE.baseline,
          borderDash: [6, 4],
          borderWidth: 1.5,
          pointRadius: 0,
          yAxisID: 'y',
          order: 2,
        },
        {
          type: 'bar',
          label: NAMES.volume,
          data: VOLUME,
          backgroundColor: rgba(PALETTE.volume, 0.45),
          yAxisID: 'y1',
          order: 3,
        },
      ],
    },
    options: {
      responsive: false,
      animation: false,
      devicePixelRatio: 1,
      color: PALETTE.text,
      font: { family: 'Noto Sans' },
      plugins: {
        title: {
          display: true,
          text: TITLE,
          align: 'start',
          color: PALETTE.text,
          font: { size: 17, weight: 'bold', family: 'Noto Sans' },
        },
        legend: { align: 'start', labels: { font: { size: 13, family: 'Noto Sans' }, color: PALETTE.text } },
      },
      scales: {
        x: {
          // Every third hour, upright, as the ECharts chart shows them.
          ticks: {
            color: PALETTE.text,
            font: { size: 12 },
            maxRotation: 0,
            autoSkip: false,
            callback: (_v, i) => (i % 3 === 0 ? HOURS[i] : ''),
          },
          grid: { display: false },
        },
        y: {
          min: 0,
          max: 100,
          ticks: { color: PALETTE.text, font: { size: 12 }, callback: (v) => `${v} %` },
          grid: { color: PALETTE.grid },
        },
        y1: { position: 'right', ticks: { color: PALETTE.muted, font: { size: 12 } }, grid: { display: false } },
      },
    },
    plugins: [background, band],
  };
}

// ---------------------------------------------------------------------------------------------------------
// The renderers, loaded on demand so that a fresh process times its own library's loading.

type Render = () => Buffer;

async function loadRenderer(which: Candidate): Promise<Render> {
  if (which === 'echarts') {
    const { renderChartPng } = await import('../charts/render');
    return () => renderChartPng(echartsOption(), SIZE);
  }
  const { Chart, registerables } = await import('chart.js');
  const { createCanvas, GlobalFonts } = await import('@napi-rs/canvas');
  Chart.register(...registerables);
  for (const weight of ['700Bold/NotoSans_700Bold.ttf', '400Regular/NotoSans_400Regular.ttf'])
    GlobalFonts.registerFromPath(require.resolve(`@expo-google-fonts/noto-sans/${weight}`), 'Noto Sans');
  Chart.defaults.font.family = 'Noto Sans';
  return () => {
    const canvas = createCanvas(SIZE.width, SIZE.height);
    // @napi-rs/canvas's context implements what Chart.js draws with; its type is its own.
    const chart = new Chart(
      canvas.getContext('2d') as unknown as ConstructorParameters<typeof Chart>[0],
      chartjsConfig(),
    );
    try {
      return canvas.toBuffer('image/png');
    } finally {
      chart.destroy();
    }
  };
}

interface ColdRun {
  /** From loading the library to the first PNG. */
  cold_first_ms: number;
  /** From the process' start (node and tsx booting included) to the first PNG. */
  process_start_to_png_ms: number;
  /** RSS growth over the loading, the first chart and 20 more. */
  rss_delta_mb: number;
}

/** In a fresh process: load the library, draw one chart, then 20 more; print a ColdRun as JSON. */
async function child(which: Candidate): Promise<void> {
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const render = await loadRenderer(which);
  render();
  const first = performance.now();
  for (let i = 0; i < 20; i++) render();
  const result: ColdRun = {
    cold_first_ms: first - t0,
    process_start_to_png_ms: first, // performance.now() counts from the process' start
    rss_delta_mb: (process.memoryUsage().rss - rss0) / 2 ** 20,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

// ---------------------------------------------------------------------------------------------------------

const log = (line: string) => process.stderr.write(`${line}\n`);
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  return s[Math.floor(i)] + (s[Math.ceil(i)] - s[Math.floor(i)]) * (i - Math.floor(i));
}

function coldRun(which: Candidate): ColdRun {
  const run = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--child', which], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (run.status !== 0) throw new Error(`cold run of ${which} failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as ColdRun;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '40' },
      warmup: { type: 'string', default: '5' },
      cold: { type: 'string', default: '3' },
      out: { type: 'string', default: '/tmp' },
      child: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  if (values.child) {
    if (!(CANDIDATES as readonly string[]).includes(values.child)) throw new Error(`--child: ${values.child}?`);
    return child(values.child as Candidate);
  }
  const [runs, warmup, coldRuns] = [values.runs, values.warmup, values.cold].map(Number);
  if (![runs, warmup, coldRuns].every((n) => Number.isInteger(n) && n >= 1))
    throw new Error('--runs, --warmup and --cold must be positive integers');

  const loadStart = loadavg()[0];
  log(`cold: ${coldRuns} fresh process(es) per candidate, in turns…`);
  const cold: Record<Candidate, ColdRun[]> = { echarts: [], chartjs: [] };
  for (let i = 0; i < coldRuns; i++) for (const c of CANDIDATES) cold[c].push(coldRun(c));

  const render = { echarts: await loadRenderer('echarts'), chartjs: await loadRenderer('chartjs') };
  const png = { echarts: render.echarts(), chartjs: render.chartjs() };
  for (const c of CANDIDATES) writeFileSync(join(values.out, `bench-charts-${c}.png`), png[c]);
  log(`warm-up: ${warmup} chart(s) each…`);
  for (let i = 0; i < warmup; i++) for (const c of CANDIDATES) render[c]();
  const times: Record<Candidate, number[]> = { echarts: [], chartjs: [] };
  // ECharts' share of its chart: the SVG alone, timed in the same turns (the rest is resvg's PNG).
  const { renderChartSvg } = await import('../charts/render');
  const svgTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const c of CANDIDATES) {
      const t = performance.now();
      render[c]();
      times[c].push(performance.now() - t);
    }
    const t = performance.now();
    renderChartSvg(echartsOption(), SIZE);
    svgTimes.push(performance.now() - t);
    if ((i + 1) % 10 === 0 || i + 1 === runs) log(`  ${i + 1}/${runs} charts each`);
  }

  const figures = (c: Candidate) => ({
    library: LIBRARIES[c],
    median_ms: round(quantile(times[c], 0.5), 2),
    p90_ms: round(quantile(times[c], 0.9), 2),
    png_bytes: png[c].length,
    cold_first_ms: Math.round(
      quantile(
        cold[c].map((r) => r.cold_first_ms),
        0.5,
      ),
    ),
    cold_process_start_to_png_ms: Math.round(
      quantile(
        cold[c].map((r) => r.process_start_to_png_ms),
        0.5,
      ),
    ),
    rss_delta_mb: round(
      quantile(
        cold[c].map((r) => r.rss_delta_mb),
        0.5,
      ),
    ),
  });
  const a = { ...figures('echarts'), svg_only_median_ms: round(quantile(svgTimes, 0.5), 2) };
  const b = figures('chartjs');
  const ratio = (k: 'median_ms' | 'p90_ms' | 'png_bytes' | 'cold_first_ms' | 'rss_delta_mb') => round(b[k] / a[k], 2);

  const rows: Array<[string, string, string]> = [
    ['', 'a: echarts', 'b: chartjs'],
    ['median ms / chart', `${a.median_ms}`, `${b.median_ms}`],
    ['  of which SVG', `${a.svg_only_median_ms}`, ''],
    ['p90 ms / chart', `${a.p90_ms}`, `${b.p90_ms}`],
    ['PNG bytes', `${a.png_bytes}`, `${b.png_bytes}`],
    ['cold first chart ms', `${a.cold_first_ms}`, `${b.cold_first_ms}`],
    ['RSS delta MB', `${a.rss_delta_mb}`, `${b.rss_delta_mb}`],
  ];
  log('');
  for (const [k, x, y] of rows) log(`${k.padEnd(22)}${x.padStart(12)}${y.padStart(12)}`);
  log(`PNGs: ${join(values.out, 'bench-charts-echarts.png')}, ${join(values.out, 'bench-charts-chartjs.png')}`);

  process.stdout.write(
    JSON.stringify({
      machine: {
        cpus: cpus().length,
        cpu_model: cpus()[0]?.model,
        mem_gb: Math.round(totalmem() / 2 ** 30),
        node: process.version,
        /** The 1-minute load average at the start and at the end of the run (other work on the machine). */
        loadavg_1m: [round(loadStart, 2), round(loadavg()[0], 2)],
      },
      chart: { ...SIZE, runs, warmup, cold_processes: coldRuns },
      echarts: a,
      chartjs: b,
      ratio_b_over_a: {
        median_ms: ratio('median_ms'),
        p90_ms: ratio('p90_ms'),
        png_bytes: ratio('png_bytes'),
        cold_first_ms: ratio('cold_first_ms'),
        rss_delta_mb: ratio('rss_delta_mb'),
      },
    }) + '\n',
  );
}

if (require.main === module)
  main(process.argv.slice(2)).catch((err: Error) => {
    process.stderr.write(`error: ${err.message}\n${HELP}\n`);
    process.exit(1);
  });
