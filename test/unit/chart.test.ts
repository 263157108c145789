import { type Rgb } from '../../src/charts/raster';
import { containsText, decodePng, same, type Image } from '../helpers/png';
import { confusionPng } from '../../src/train/confusion-chart';
import { formatCount, renderTrendChart, TREND_CHART_COLOURS as C, type TrendPoint } from '../../src/trends/chart';

/** The plot frame, found from the axis lines: left/right vertical axes and the time axis. */
function plotBox(img: Image): { left: number; right: number; top: number; bottom: number } {
  const mid = Math.floor(img.height / 2);
  const axisCols = [...Array(img.width).keys()].filter((x) => same(img.px(x, mid), C.axis));
  const left = axisCols[0];
  const right = axisCols[axisCols.length - 1];
  const rows = [...Array(img.height).keys()];
  const top = rows.find((y) => same(img.px(left, y), C.axis))!;
  const bottom = rows.filter((y) => same(img.px(left + 5, y), C.axis)).pop()!;
  return { left, right, top, bottom };
}

/** Rows of line-coloured pixels in column x inside the plot. */
const lineRows = (img: Image, x: number, box: { top: number; bottom: number }, rgb: Rgb = C.share) =>
  [...Array(box.bottom - box.top + 1).keys()].map((i) => box.top + i).filter((y) => same(img.px(x, y), rgb));

const HOUR = 3_600_000;
const T0 = Date.parse('2024-03-14T00:00:00Z');
const iso = (t: number) => new Date(t).toISOString();
/** 24 hourly buckets from 2024-03-14 00:00 UTC. */
function hourly(f: (h: number) => Partial<TrendPoint>): TrendPoint[] {
  return Array.from({ length: 24 }, (_, h) => ({ at: iso(T0 + h * HOUR), total: 10, negative: 2, ...f(h) }));
}
/** Centre column of hour bucket h (of 24) in the plot. */
const hourX = (box: { left: number; right: number }, h: number) =>
  Math.round(box.left + ((h + 0.5) / 24) * (box.right - box.left));

function render(points: TrendPoint[], alertPeriods: Array<{ from: string; to?: string }> = [], size = {}) {
  return renderTrendChart({ stream: 'air-paradis', points, alertPeriods, title: 'Negative share', ...size });
}

// ---------------------------------------------------------------------------------------------------------

describe('renderTrendChart: PNG output', () => {
  it('is a valid PNG (signature, CRCs, IHDR, decodable pixels) of 800×360 by default', () => {
    const img = decodePng(render(hourly(() => ({}))));
    expect([img.width, img.height]).toEqual([800, 360]);
    expect(img.chunks).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect(img.px(0, 0)).toEqual([255, 255, 255]);
  });

  it.each([
    [320, 200],
    [640, 300],
    [1600, 720],
  ])('honours width × height %i×%i', (width, height) => {
    const img = decodePng(
      render(
        hourly(() => ({})),
        [],
        { width, height },
      ),
    );
    expect([img.width, img.height]).toEqual([width, height]);
  });

  it('shows title, stream, UTC, hour labels and the date where it changes', () => {
    const points = hourly(() => ({})).concat([{ at: iso(T0 + 24 * HOUR), total: 10, negative: 1 }]);
    const img = decodePng(render(points.slice(20)));
    expect(containsText(img, 'Negative share', C.text, 2)).toBe(true);
    expect(containsText(img, 'stream: air-paradis', C.muted)).toBe(true);
    expect(containsText(img, 'times in UTC', C.muted)).toBe(true);
    expect(containsText(img, '22:00', C.text)).toBe(true);
    expect(containsText(img, 'Thu 14 Mar 2024', C.muted)).toBe(true);
    expect(containsText(img, 'Fri 15 Mar 2024', C.muted)).toBe(true);
  });

  it('is the same whatever order the points come in', () => {
    const points = hourly((h) => ({ negative: h % 5, baseline: 0.2 }));
    expect(render([...points].reverse()).equals(render(points))).toBe(true);
  });
});

describe('renderTrendChart: what it draws', () => {
  it('shades alert periods: pixels inside the band are light red, outside they are not', () => {
    // Low bars (one tall bucket at 00:00 sets the scale) and a 20 % line leave the upper plot empty.
    const points = hourly((h) => ({ total: h === 0 ? 100 : 10, negative: h === 0 ? 20 : 2 }));
    const img = decodePng(render(points, [{ from: iso(T0 + 12 * HOUR), to: iso(T0 + 18 * HOUR) }]));
    const box = plotBox(img);
    const rows = [0.3, 0.4, 0.6].map((f) => Math.round(box.top + f * (box.bottom - box.top)));
    const pink = ([r, g, b]: number[]) => r > 240 && g < 225 && b < 225 && g === b;
    for (const y of rows) {
      for (const h of [12, 14, 17]) expect(pink(img.px(hourX(box, h), y))).toBe(true);
      for (const h of [3, 10, 19, 23]) expect(img.px(hourX(box, h), y)).toEqual([255, 255, 255]);
    }
    expect(containsText(img, 'alert', C.alertEdge)).toBe(true);
  });

  it('shades an open alert until the end of the chart and labels it ongoing', () => {
    const points = hourly((h) => ({ total: h === 0 ? 100 : 10 }));
    const img = decodePng(render(points, [{ from: iso(T0 + 12 * HOUR) }]));
    const box = plotBox(img);
    const y = Math.round(box.top + 0.4 * (box.bottom - box.top));
    expect(img.px(hourX(box, 23), y)).not.toEqual([255, 255, 255]);
    expect(img.px(box.right - 1, y)).not.toEqual([255, 255, 255]);
    expect(img.px(hourX(box, 11), y)).toEqual([255, 255, 255]);
    expect(containsText(img, 'alert, ongoing', C.alertEdge)).toBe(true);
  });

  it('draws the share line higher where the share is higher, on a linear 0–100 % scale', () => {
    const shares = [0.1, 0.5, 0.9];
    const img = decodePng(render(hourly((h) => ({ total: 100, negative: 100 * shares[Math.floor(h / 8)] }))));
    const box = plotBox(img);
    const ys = [4, 12, 20].map((h) => Math.min(...lineRows(img, hourX(box, h), box)));
    expect(ys[0]).toBeGreaterThan(ys[1]);
    expect(ys[1]).toBeGreaterThan(ys[2]);
    const plotH = box.bottom - box.top;
    ys.forEach((y, i) => expect(Math.abs(box.bottom - shares[i] * plotH - y)).toBeLessThanOrEqual(3));
  });

  it('leaves a gap in the line at buckets with no mentions, and draws the baseline dashed', () => {
    const points = hourly((h) => (h === 10 ? { total: 0, negative: 0 } : { total: 50, negative: 25, baseline: 0.2 }));
    const img = decodePng(render(points));
    const box = plotBox(img);
    expect(lineRows(img, hourX(box, 10), box)).toEqual([]);
    expect(lineRows(img, hourX(box, 9), box).length).toBeGreaterThan(0);
    expect(lineRows(img, hourX(box, 11), box).length).toBeGreaterThan(0);
    // The baseline at 20 %: on some columns, off on others (dashed).
    const y = Math.round(box.bottom - 0.2 * (box.bottom - box.top));
    const row = [...Array(hourX(box, 8) - hourX(box, 2)).keys()].map((i) => img.px(hourX(box, 2) + i, y));
    expect(row.some((p) => same(p, C.baseline))).toBe(true);
    expect(row.some((p) => !same(p, C.baseline))).toBe(true);
  });

  it('leaves a gap across a missing bucket too', () => {
    const points = hourly(() => ({ total: 50, negative: 25 })).filter((_, h) => h !== 15);
    const img = decodePng(render(points));
    const box = plotBox(img);
    expect(lineRows(img, hourX(box, 15), box)).toEqual([]);
    expect(lineRows(img, hourX(box, 14), box).length).toBeGreaterThan(0);
    expect(lineRows(img, hourX(box, 16), box).length).toBeGreaterThan(0);
  });

  it('draws volume bars proportional to the mentions on the right axis', () => {
    const img = decodePng(render(hourly((h) => ({ total: h === 6 ? 400 : h === 18 ? 100 : 0, negative: 0 }))));
    const box = plotBox(img);
    const barTop = (h: number) =>
      lineRows(img, hourX(box, h), { top: box.top, bottom: box.bottom - 1 }, C.bars).reduce((a, b) => Math.min(a, b));
    expect(box.bottom - barTop(6)).toBeGreaterThan(3.5 * (box.bottom - barTop(18)));
    expect(containsText(img, '400', C.barsText)).toBe(true);
  });
});

describe('renderTrendChart: edge cases', () => {
  it('no points: a chart that says "no mentions"', () => {
    const img = decodePng(render([], [{ from: iso(T0) }]));
    expect([img.width, img.height]).toEqual([800, 360]);
    expect(containsText(img, 'no mentions', C.text, 2)).toBe(true);
  });

  it('one point: a bar and a marker at its share (the bucket is taken as 1 h)', () => {
    const img = decodePng(render([{ at: iso(T0 + 14 * HOUR), total: 120, negative: 30 }]));
    const box = plotBox(img);
    const rows = lineRows(img, Math.round((box.left + box.right) / 2), box);
    expect(rows.length).toBeGreaterThan(0);
    const y = (Math.min(...rows) + Math.max(...rows)) / 2;
    expect(Math.abs(box.bottom - 0.25 * (box.bottom - box.top) - y)).toBeLessThanOrEqual(2);
    expect(containsText(img, '14:00', C.text)).toBe(true);
    expect(containsText(img, '15:00', C.text)).toBe(true);
    expect(containsText(img, 'stream: air-paradis  |  1 hour buckets  |  times in UTC', C.muted)).toBe(true);
  });

  it('all buckets empty: no line, and says "no mentions in this period"', () => {
    const img = decodePng(render(hourly(() => ({ total: 0, negative: 0 }))));
    const box = plotBox(img);
    for (let h = 0; h < 24; h++) expect(lineRows(img, hourX(box, h), box)).toEqual([]);
    expect(containsText(img, 'no mentions in this period', C.text, 2)).toBe(true);
  });

  it('huge volumes: a readable right axis (k, M, B, T) and a line still at the right share', () => {
    const img = decodePng(render(hourly((h) => ({ total: 7.6e12, negative: h < 12 ? 7.6e11 : 3.8e12 }))));
    expect(containsText(img, '8T', C.barsText)).toBe(true);
    const box = plotBox(img);
    const y = Math.min(...lineRows(img, hourX(box, 18), box));
    expect(Math.abs(box.bottom - 0.5 * (box.bottom - box.top) - y)).toBeLessThanOrEqual(2);
    expect([950, 1500, 2_000_000, 2.5e9, 8e12, 3e15].map(formatCount)).toEqual([
      '950',
      '1.5k',
      '2M',
      '2.5B',
      '8T',
      '3.0e15',
    ]);
  });

  it('non-ASCII text is drawn without boxes (accents stripped, dashes mapped)', () => {
    const img = decodePng(
      renderTrendChart({ stream: 'air-paradis', points: hourly(() => ({})), alertPeriods: [], title: 'Été — pic' }),
    );
    expect(containsText(img, 'Ete - pic', C.text, 2)).toBe(true);
  });
});

describe('renderTrendChart: invalid input names the problem', () => {
  const ok = () => hourly(() => ({}));
  const withPoint = (i: number, p: Partial<TrendPoint>) => ok().map((q, j) => (j === i ? { ...q, ...p } : q));
  it.each<[string, () => Buffer, RegExp]>([
    ['negative total', () => render(withPoint(3, { total: -1 })), /points\[3\]\.total must be a finite number ≥ 0/],
    ['negative count', () => render(withPoint(2, { negative: -5 })), /points\[2\]\.negative must be/],
    ['NaN count', () => render(withPoint(2, { total: NaN })), /points\[2\]\.total/],
    ['infinite count', () => render(withPoint(2, { total: Infinity })), /points\[2\]\.total/],
    ['negative > total', () => render(withPoint(1, { negative: 11 })), /points\[1\]\.negative \(11\) is more than/],
    ['unparseable date', () => render(withPoint(4, { at: 'yesterday' })), /points\[4\]\.at is not an ISO 8601/],
    ['date without zone', () => render(withPoint(4, { at: '2024-03-14 10:00' })), /points\[4\]\.at/],
    ['impossible date', () => render(withPoint(0, { at: '2024-02-30T00:00:00Z' })), /not a calendar date/],
    ['duplicate bucket', () => render(withPoint(5, { at: iso(T0) })), /points\[5\]\.at .* same bucket as points\[0\]/],
    ['baseline above 1', () => render(withPoint(0, { baseline: 1.5 })), /points\[0\]\.baseline must be a share/],
    ['bad alert date', () => render(ok(), [{ from: 'now' }]), /alertPeriods\[0\]\.from is not an ISO 8601/],
    [
      'alert ending before it starts',
      () => render(ok(), [{ from: iso(T0 + 5 * HOUR), to: iso(T0 + 2 * HOUR) }]),
      /alertPeriods\[0\]\.to .* is before its from/,
    ],
    ['width too small', () => render(ok(), [], { width: 100 }), /width must be an integer from 320 to 4096/],
    ['fractional height', () => render(ok(), [], { height: 300.5 }), /height must be an integer/],
  ])('%s', (_name, run, message) => {
    expect(run).toThrow(message);
    expect(run).toThrow(/^trend chart: /);
  });
});

describe('shared raster (src/charts/raster.ts) still serves the confusion matrix', () => {
  it('confusionPng decodes as a valid PNG', () => {
    const img = decodePng(
      confusionPng(
        [
          [5, 1],
          [2, 7],
        ],
        ['negative', 'positive'],
        'test',
      ),
    );
    expect(img.width).toBeGreaterThan(300);
    expect(containsText(img, 'negative', [34, 34, 34], 2)).toBe(true);
  });
});
