/**
 * Server-side charts: an ECharts option rendered to SVG by ECharts' own server-side renderer, and the SVG
 * rasterised to PNG by resvg (@resvg/resvg-js, prebuilt native binaries from npm). Text uses Noto Sans
 * (full Latin with accents, Greek, Cyrillic) and Noto Emoji (monochrome) shipped through npm, never the
 * host's fonts, so a chart looks the same on a laptop and in the container. docs/charts.md says why this
 * pair was chosen over Chart.js on @napi-rs/canvas (measured by `npm run bench:charts`).
 *
 * Synchronous: a 800×360 chart takes a few tens of milliseconds, and alert content is built in one step.
 */
import { Resvg } from '@resvg/resvg-js';
import * as echarts from 'echarts';
import { PALETTE } from './palette';

export type ChartOption = echarts.EChartsOption;

export const CHART_FONT = 'Noto Sans';

/** The font files, resolved from node_modules once (a missing package fails at the first chart, by name). */
let fontFiles: string[] | undefined;
function fonts(): string[] {
  fontFiles ??= [
    '@expo-google-fonts/noto-sans/400Regular/NotoSans_400Regular.ttf',
    '@expo-google-fonts/noto-sans/700Bold/NotoSans_700Bold.ttf',
    '@expo-google-fonts/noto-emoji/400Regular/NotoEmoji_400Regular.ttf',
  ].map((f) => require.resolve(f));
  return fontFiles;
}

export interface ChartSize {
  width: number;
  height: number;
}

/** The option's SVG as ECharts draws it (no animation; the palette's font and text colour by default). */
export function renderChartSvg(option: ChartOption, size: ChartSize): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: size.width, height: size.height });
  try {
    chart.setOption({
      animation: false,
      backgroundColor: PALETTE.background,
      textStyle: { fontFamily: CHART_FONT, color: PALETTE.text },
      ...option,
    });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

/** An SVG (ECharts' or hand-written) as a PNG of its own size, with the shipped fonts; `background: null` keeps it transparent. */
export function svgToPng(svg: string, opts: { background?: string | null } = {}): Buffer {
  const background = opts.background === undefined ? PALETTE.background : opts.background;
  const resvg = new Resvg(svg, {
    ...(background ? { background } : {}),
    font: { fontFiles: fonts(), loadSystemFonts: false, defaultFontFamily: CHART_FONT },
  });
  return resvg.render().asPng();
}

/** The option as a PNG of `size` pixels. */
export function renderChartPng(option: ChartOption, size: ChartSize): Buffer {
  return svgToPng(renderChartSvg(option, size));
}
