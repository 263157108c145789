/**
 * Confusion matrix as a heat map, drawn by ECharts (src/charts/render.ts): SVG (vector, any viewer) and
 * PNG (for chat uploads and model cards).
 *
 * Rows are the true labels, columns the predicted ones. Each cell shows its count and its share of the row
 * (the recall of that true class on the diagonal) and is shaded by that share, white to Okabe–Ito blue
 * (one hue, so it reads the same with any colour-vision deficiency and in greyscale), so a model that is
 * good on a rare class reads as good even when the class is small. Row totals are shown on the right, the
 * scale under the matrix.
 */
import { renderChartSvg, svgToPng, type ChartOption } from '../charts/render';
import { PALETTE, rgbOf } from '../charts/palette';

/** The shade of a share of 0 (white) and of 1 (Okabe–Ito blue). */
export const CONFUSION_SCALE = ['#ffffff', PALETTE.blue] as const;

/** Where the matrix sits in the picture: its top-left corner, the cell size and the picture's size. */
export interface ConfusionLayout {
  left: number;
  top: number;
  cell: { w: number; h: number };
  width: number;
  height: number;
}

function validate(confusion: readonly (readonly number[])[], labels: readonly string[]): void {
  const k = labels.length;
  if (k === 0) throw new Error('confusion chart: no labels');
  if (confusion.length !== k || confusion.some((row) => row.length !== k)) {
    throw new Error(`confusion chart: the matrix must be ${k}×${k} (one row and one column per label)`);
  }
  if (confusion.some((row) => row.some((v) => !Number.isFinite(v) || v < 0))) {
    throw new Error('confusion chart: counts must be finite non-negative numbers');
  }
}

/** Approximate width of a text in Noto Sans at `size` px (0.6 em a character: generous for Latin). */
const textWidth = (text: string, size: number) => Math.ceil([...text].length * size * 0.6);

/** The layout for these labels and title (cells wide enough for the longest label, the title never cut). */
export function confusionLayout(labels: readonly string[], title: string): ConfusionLayout {
  const k = labels.length;
  const longest = Math.max(...labels.map((l) => textWidth(l, 15)));
  const cell = { w: Math.max(140, longest + 24), h: 84 };
  const left = Math.max(110, longest + 64);
  const top = 104;
  const right = 110;
  const bottom = 66;
  return {
    left,
    top,
    cell,
    width: Math.max(left + k * cell.w + right, textWidth(title, 19) + 48),
    height: top + k * cell.h + bottom,
  };
}

/** The colour of a cell whose row share is `share` (linear from white to blue, as the visual map draws it). */
export function confusionShade(share: number): [number, number, number] {
  const [from, to] = CONFUSION_SCALE.map(rgbOf);
  const t = Math.max(0, Math.min(1, share));
  return [0, 1, 2].map((i) => Math.round(from[i] + (to[i] - from[i]) * t)) as [number, number, number];
}

const percent = (share: number) => `${(share * 100).toFixed(1)}%`;

/** WCAG relative luminance of an sRGB colour. */
function luminance(rgb: readonly number[]): number {
  const [r, g, b] = rgb.map((v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** The text colour (white or the palette's dark text) with the higher contrast on a cell of this share. */
export function confusionInk(share: number): string {
  const bg = luminance(confusionShade(share));
  const dark = luminance(rgbOf(PALETTE.text));
  return 1.05 / (bg + 0.05) > (bg + 0.05) / (dark + 0.05) ? '#ffffff' : PALETTE.text;
}

/** The ECharts option of the heat map (plain data, no functions: the dashboard can draw the same). */
export function confusionOption(confusion: number[][], labels: readonly string[], title: string): ChartOption {
  validate(confusion, labels);
  const L = confusionLayout(labels, title);
  const k = labels.length;
  const rowTotals = confusion.map((row) => row.reduce((a, b) => a + b, 0));
  const share = (i: number, j: number) => (rowTotals[i] > 0 ? confusion[i][j] / rowTotals[i] : 0);
  // Fixed: ECharts 6 would otherwise shrink the grid to keep the axis names inside the picture.
  const grid = {
    left: L.left,
    top: L.top,
    width: k * L.cell.w,
    height: k * L.cell.h,
    outerBoundsMode: 'none' as const,
  };
  const axisLabel = { color: PALETTE.text, fontSize: 15 };
  const axisName = { color: PALETTE.muted, fontSize: 14, fontWeight: 'bold' as const };
  return {
    title: {
      text: title,
      left: 'center',
      top: 12,
      textStyle: { fontSize: 19, fontWeight: 'bold', color: PALETTE.text },
    },
    grid,
    xAxis: {
      type: 'category',
      position: 'top',
      data: [...labels],
      name: 'predicted',
      nameLocation: 'middle',
      nameGap: 34,
      nameTextStyle: axisName,
      axisLabel,
      axisLine: { show: false },
      axisTick: { show: false },
      splitArea: { show: false },
    },
    yAxis: [
      {
        type: 'category',
        inverse: true,
        data: [...labels],
        name: 'true',
        nameLocation: 'middle',
        nameRotate: 90,
        nameGap: L.left - 40,
        nameTextStyle: axisName,
        axisLabel,
        axisLine: { show: false },
        axisTick: { show: false },
      },
      {
        type: 'category',
        inverse: true,
        position: 'right',
        data: rowTotals.map(String),
        name: 'row total',
        nameLocation: 'start',
        nameGap: 12,
        nameTextStyle: { color: PALETTE.muted, fontSize: 13, align: 'left', padding: [0, 0, 0, 4] },
        axisLabel: { color: PALETTE.muted, fontSize: 15, margin: 16 },
        axisLine: { show: false },
        axisTick: { show: false },
      },
    ],
    visualMap: {
      type: 'continuous',
      dimension: 2,
      min: 0,
      max: 1,
      calculable: false,
      orient: 'horizontal',
      left: 'center',
      bottom: 12,
      itemWidth: 14,
      itemHeight: Math.min(240, k * L.cell.w - 80),
      text: ['100% of the true row', '0%'],
      textStyle: { color: PALETTE.muted, fontSize: 13 },
      inRange: { color: [...CONFUSION_SCALE] },
      seriesIndex: 0,
    },
    series: [
      {
        type: 'heatmap',
        data: confusion.flatMap((row, i) =>
          row.map((count, j) => ({
            value: [j, i, share(i, j)],
            label: {
              formatter: `{count|${count}}\n{share|${percent(share(i, j))}}`,
              color: confusionInk(share(i, j)),
            },
          })),
        ),
        label: {
          show: true,
          rich: {
            count: { fontSize: 22, fontWeight: 'bold', lineHeight: 30 },
            share: { fontSize: 14, lineHeight: 20 },
          },
        },
        itemStyle: { borderColor: PALETTE.grid, borderWidth: 1 },
        emphasis: { disabled: true },
      },
    ],
  };
}

/** The heat map as ECharts draws it in SVG. */
export function confusionSvg(confusion: number[][], labels: readonly string[], title: string): string {
  const L = confusionLayout(labels, title);
  return renderChartSvg(confusionOption(confusion, labels, title), { width: L.width, height: L.height });
}

/** The same heat map as a PNG (resvg, the fonts shipped through npm). */
export function confusionPng(confusion: number[][], labels: readonly string[], title: string): Buffer {
  return svgToPng(confusionSvg(confusion, labels, title));
}
