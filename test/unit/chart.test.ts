/**
 * The alert/digest trend chart (src/trends/chart.ts, its option in chart-option.ts): text read in the SVG
 * ECharts writes, pixels read in resvg's full-colour PNG at the positions the chart's fixed geometry gives,
 * and the palette PNG that chat gets compared with it. The chart from a replayed bad-buzz day is tested in
 * test/contract/trend-content.test.ts (it has the replay).
 */
import { Transformer } from '@napi-rs/image';
import { overWhite, PALETTE, rgbOf } from '../../src/charts/palette';
import { svgToPng } from '../../src/charts/render';
import {
  formatCount,
  renderTrendChart,
  TREND_CHART_STYLE as S,
  trendChartGeometry,
  trendChartOption,
  trendChartSvg,
  type TrendAlertPeriod,
  type TrendChartGeometry,
  type TrendChartInput,
  type TrendPoint,
} from '../../src/trends/chart';
import { decodePng, near, type Image } from '../helpers/png';
import { svgTexts } from '../helpers/svg';

const HOUR = 3_600_000;
const T0 = Date.parse('2024-03-14T00:00:00Z');
const iso = (t: number) => new Date(t).toISOString();
/** 24 hourly buckets from 2024-03-14 00:00 UTC. */
function hourly(f: (h: number) => Partial<TrendPoint>): TrendPoint[] {
  return Array.from({ length: 24 }, (_, h) => ({ at: iso(T0 + h * HOUR), total: 10, negative: 2, ...f(h) }));
}
function chart(
  points: TrendPoint[],
  alertPeriods: TrendAlertPeriod[] = [],
  more: Partial<TrendChartInput> = {},
): TrendChartInput {
  return { stream: 'air-paradis', points, alertPeriods, title: 'Negative share', ...more };
}
/** The chart as resvg draws it, in full colour (what the palette PNG approximates). */
const raster = (input: TrendChartInput) => decodePng(svgToPng(trendChartSvg(input)));
const texts = (input: TrendChartInput) => svgTexts(trendChartSvg(input)).map((t) => t.text);
/** The time axis' ticks (instants) and the label of each. */
const timeAxis = (input: TrendChartInput) =>
  (trendChartOption(input).option.xAxis as { axisLabel: { customValues: number[]; formatter: (v: number) => string } })
    .axisLabel;
/** Centre column of hour bucket h. */
const hourX = (g: TrendChartGeometry, h: number) => Math.round(g.x(T0 + (h + 0.5) * HOUR));
const at = (g: TrendChartGeometry, hours: number) => Math.round(g.x(T0 + hours * HOUR));
/** Rows of column x inside the plot whose pixel is within `tolerance` of `hex`. */
const rowsOf = (img: Image, x: number, g: TrendChartGeometry, hex: string | number[], tolerance: number) => {
  const rgb = typeof hex === 'string' ? rgbOf(hex) : hex;
  const rows: number[] = [];
  for (let y = Math.ceil(g.plot.top); y <= g.plot.bottom; y++) if (near(img.px(x, y), rgb, tolerance)) rows.push(y);
  return rows;
};
const lineRows = (img: Image, x: number, g: TrendChartGeometry) => rowsOf(img, x, g, PALETTE.negative, 40);
const WHITE = [255, 255, 255];
const alertFill = overWhite(S.alert, S.alertAlpha);
const triggerFill = overWhite(S.trigger, S.triggerAlpha);
const normalFill = overWhite(S.normalBand, S.normalAlpha);

// ---------------------------------------------------------------------------------------------------------

describe('renderTrendChart: the PNG', () => {
  it('is a palette PNG of 800×360 by default that looks like the full-colour render', () => {
    const input = chart(
      hourly((h) => ({ negative: h % 6, baseline: 0.25 })),
      [{ from: iso(T0 + 15 * HOUR), windowStart: iso(T0 + 12 * HOUR) }],
      { dispersion: 2 },
    );
    const png = renderTrendChart(input);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.toString('ascii', 12, 16)).toBe('IHDR');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([800, 360]);
    expect(png[25]).toBe(3); // colour type 3: palette
    const full = raster(input);
    // Decoded by another decoder (the palette's colours, as RGB or RGBA).
    const pixels = new Transformer(png).rawPixelsSync();
    const channels = pixels.length / (800 * 360);
    expect([3, 4]).toContain(channels);
    let far = 0;
    let sum = 0;
    for (let y = 0; y < 360; y++)
      for (let x = 0; x < 800; x++) {
        const want = full.px(x, y);
        const o = (y * 800 + x) * channels;
        const diff = Math.max(...[0, 1, 2].map((c) => Math.abs(pixels[o + c] - want[c])));
        sum += diff;
        if (diff > 32) far++;
      }
    expect(sum / (800 * 360)).toBeLessThan(2);
    expect(far / (800 * 360)).toBeLessThan(0.005);
    // resvg's own PNG is 3 to 4 times larger.
    expect(png.length * 2.5).toBeLessThan(svgToPng(trendChartSvg(input)).length);
  });

  it.each([
    [320, 200],
    [640, 300],
    [1600, 720],
  ])('honours width × height %i×%i', (width, height) => {
    const png = renderTrendChart(
      chart(
        hourly(() => ({})),
        [],
        { width, height },
      ),
    );
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([width, height]);
  });

  it('is the same whatever order the points and the alerts come in', () => {
    const points = hourly((h) => ({ negative: h % 5, baseline: 0.2 }));
    const alerts = [
      { from: iso(T0 + 3 * HOUR), to: iso(T0 + 6 * HOUR), windowStart: iso(T0 + 2 * HOUR) },
      { from: iso(T0 + 15 * HOUR), windowStart: iso(T0 + 12 * HOUR) },
    ];
    const a = renderTrendChart(chart(points, alerts, { dispersion: 2 }));
    const b = renderTrendChart(chart([...points].reverse(), [...alerts].reverse(), { dispersion: 2 }));
    expect(b.equals(a)).toBe(true);
  });
});

describe('renderTrendChart: its text', () => {
  it('says the title, the stream, that times are UTC; hours, and the date where it changes', () => {
    const points = hourly(() => ({})).concat([{ at: iso(T0 + 24 * HOUR), total: 10, negative: 1 }]);
    const t = texts(chart(points.slice(18)));
    expect(t).toContain('Negative share');
    expect(t).toContain('stream: air-paradis  ·  1 hour buckets  ·  times in UTC');
    expect(t).toEqual(expect.arrayContaining(['18:00', '20:00', '22:00', '00:00']));
    expect(t).toContain('Thu 14 Mar 2024');
    expect(t).toContain('Fri 15 Mar 2024');
    expect(t).toEqual(expect.arrayContaining(['0 %', '25 %', '50 %', '75 %', '100 %']));
  });

  it("draws a digest's day on its zone's clock: ticks at midnight there, the date there, the alert's time there", () => {
    // Paris, 14 March 2024 (UTC+1): from 23:00 UTC the day before to 23:00 UTC.
    const day = Date.parse('2024-03-13T23:00:00Z');
    const points = Array.from({ length: 24 }, (_, h) => ({ at: iso(day + h * HOUR), total: 10, negative: 2 }));
    const input = chart(points, [{ from: iso(day + 16 * HOUR), windowStart: iso(day + 13 * HOUR) }], {
      timeZone: 'Europe/Paris',
    });
    const t = texts(input);
    expect(t).toContain('stream: air-paradis  ·  1 hour buckets  ·  times in Europe/Paris');
    expect(t).toContain('Thu 14 Mar 2024');
    expect(t).not.toContain('Wed 13 Mar 2024');
    expect(t).toContain('alert opened 16:00, ongoing'); // 15:00 UTC
    const axis = timeAxis(input);
    expect(axis.customValues[0]).toBe(day);
    expect(axis.formatter(day)).toBe('{tick|00:00}\n{date|Thu 14 Mar 2024}');
    // In UTC the same points start on the 13th at 23:00, and midnight is an hour later.
    expect(timeAxis(chart(points)).customValues[0]).toBe(day + HOUR);
  });

  it('skips the hour the clocks skip (New York, 10 March 2024, 02:00 → 03:00)', () => {
    const day = Date.parse('2024-03-10T05:00:00Z'); // midnight in New York (UTC−5)
    const points = Array.from({ length: 23 }, (_, h) => ({ at: iso(day + h * HOUR), total: 10, negative: 2 }));
    const input = chart(points, [], { timeZone: 'America/New_York', width: 2400 });
    const axis = timeAxis(input);
    const shown = axis.customValues.map((v) => /\{tick\|([^}]+)\}/.exec(axis.formatter(v))![1]);
    const hours = [0, 1, ...Array.from({ length: 21 }, (_, h) => h + 3), 0];
    expect(shown).toEqual(hours.map((h) => `${String(h).padStart(2, '0')}:00`));
    expect(axis.customValues[2] - axis.customValues[1]).toBe(HOUR);
  });

  it('names what it draws in a legend, at 12 px or more like every text of an 800×360 chart', () => {
    const input = chart(
      hourly(() => ({ baseline: 0.2 })),
      [{ from: iso(T0 + 12 * HOUR) }],
      { dispersion: 2 },
    );
    const svg = trendChartSvg(input);
    const t = svgTexts(svg).map((x) => x.text);
    for (const item of ['negative share', 'expected share', 'normal range (95 %)', 'mentions per hour'])
      expect(t).toContain(item);
    const sizes = [...svg.matchAll(/<text[^>]*?(?:font-size:|font: [a-z ]*?)(\d+(?:\.\d+)?)px/g)].map((m) => +m[1]);
    expect(sizes.length).toBe(svgTexts(svg).length);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(12);
    // No expected share or normal range to name when the input gives none.
    const bare = texts(chart(hourly(() => ({}))));
    expect(bare).not.toContain('expected share');
    expect(bare).not.toContain('normal range (95 %)');
  });

  it('writes accents as they are, and the shipped font draws them (not boxes)', () => {
    const input = (title: string) =>
      chart(
        hourly(() => ({})),
        [],
        { title, stream: 'Montréal-Été' },
      );
    const t = texts(input('Été à Montréal — ça commence'));
    expect(t).toContain('Été à Montréal — ça commence');
    expect(t).toContain('stream: Montréal-Été  ·  1 hour buckets  ·  times in UTC');
    // The ink of "àçé" rises above and falls below that of "ace" and is as wide: accents and a cedilla,
    // not the missing-glyph box (which sits on the baseline, cap-high).
    const ink = (title: string) => {
      const img = raster(input(title));
      const dark: Array<[number, number]> = [];
      for (let y = 0; y < 34; y++) for (let x = 0; x < 200; x++) if (img.px(x, y)[0] < 128) dark.push([x, y]);
      const xs = dark.map((p) => p[0]);
      const ys = dark.map((p) => p[1]);
      return { left: Math.min(...xs), right: Math.max(...xs), top: Math.min(...ys), bottom: Math.max(...ys) };
    };
    const plain = ink('ace ace');
    const accented = ink('àçé àçé');
    expect(accented.top).toBeLessThan(plain.top - 2);
    expect(accented.bottom).toBeGreaterThan(plain.bottom + 2);
    expect(Math.abs(accented.right - accented.left - (plain.right - plain.left))).toBeLessThanOrEqual(3);
  });
});

describe('renderTrendChart: what it draws, where', () => {
  // One tall bucket at 00:00 sets the volume scale, so the other bars stay under 25 %; the share is 60 %,
  // the expected share 20 % with its normal range (n = 20, φ = 1: 20 % ± 17.5 points).
  const points = hourly((h) => ({ total: h === 0 ? 80 : 20, negative: h === 0 ? 48 : 12, baseline: 0.2 }));
  const alert = { from: iso(T0 + 14 * HOUR), to: iso(T0 + 18 * HOUR), windowStart: iso(T0 + 11 * HOUR) };
  const input = chart(points, [alert], { dispersion: 1 });
  const g = trendChartGeometry(input);
  const img = raster(input);
  const y = (share: number) => Math.round(g.y(share));

  it('has a fixed plot: the same rectangle whatever the data', () => {
    expect(g.plot).toEqual(trendChartGeometry(chart(hourly(() => ({ total: 1e6, negative: 0 })))).plot);
    expect([g.width, g.height]).toEqual([800, 360]);
    expect(g.x(T0)).toBe(g.plot.left);
    expect(g.x(T0 + 24 * HOUR)).toBe(g.plot.right);
    // The axis lines are where the geometry says.
    expect(near(img.px(g.plot.left, y(0.5)), rgbOf(PALETTE.axis), 40)).toBe(true);
    expect(near(img.px(hourX(g, 8), g.plot.bottom), rgbOf(PALETTE.axis), 40)).toBe(true);
  });

  it('volume: sky-blue bars on the right axis', () => {
    expect(near(img.px(hourX(g, 5), y(0.1)), rgbOf(S.bars), 2)).toBe(true);
    expect(near(img.px(hourX(g, 0), y(0.9)), rgbOf(S.bars), 2)).toBe(true); // the tall bucket
  });

  it('the negative share: a vermillion line at its share', () => {
    for (const h of [3, 8, 21]) {
      const rows = lineRows(img, hourX(g, h), g);
      expect(rows.length).toBeGreaterThan(0);
      expect(Math.abs((Math.min(...rows) + Math.max(...rows)) / 2 - g.y(0.6))).toBeLessThanOrEqual(2);
    }
  });

  it('the expected share: a dashed grey line, in its band of normal variation', () => {
    const row = [...Array(hourX(g, 8) - hourX(g, 2)).keys()].map((i) => img.px(hourX(g, 2) + i, y(0.2)));
    expect(row.some((p) => near(p, rgbOf(S.baseline), 30))).toBe(true);
    expect(row.some((p) => !near(p, rgbOf(S.baseline), 60))).toBe(true);
    // The band: 20 % ± 1.96·√(0.2·0.8/20) = 2.5 %..37.5 %, light blue above the bars.
    const half = 1.96 * Math.sqrt((0.2 * 0.8) / 20);
    expect(near(img.px(hourX(g, 6), y(0.33)), normalFill, 3)).toBe(true);
    const band = rowsOf(img, hourX(g, 6), g, normalFill, 3);
    expect(Math.abs(Math.min(...band) - g.y(0.2 + half))).toBeLessThanOrEqual(3);
    expect(near(img.px(hourX(g, 6), y(0.2 + half + 0.05)), WHITE, 0)).toBe(true);
  });

  it('the alert: a vermillion band from its opening, the window that triggered it orange before it', () => {
    const high = y(0.85); // above the line, the band and the bars
    expect(near(img.px(hourX(g, 15), high), alertFill, 3)).toBe(true);
    expect(near(img.px(hourX(g, 12), high), triggerFill, 3)).toBe(true);
    for (const h of [8, 20]) expect(img.px(hourX(g, h), high)).toEqual(WHITE);
    // Its opening is a solid vermillion edge, its resolution a bluish-green one; caps along the top.
    expect(near(img.px(at(g, 14), high), rgbOf(S.alert), 40)).toBe(true);
    expect(near(img.px(at(g, 18), high), rgbOf(S.resolved), 40)).toBe(true);
    expect(near(img.px(hourX(g, 15), Math.round(g.plot.top) + 1), rgbOf(S.alert), 12)).toBe(true);
    expect(near(img.px(hourX(g, 12), Math.round(g.plot.top) + 1), rgbOf(S.trigger), 12)).toBe(true);
    const t = texts(input);
    expect(t).toContain('window that triggered');
    expect(t).toContain('alert opened 14:00, resolved 18:00');
  });
});

describe('renderTrendChart: the alert band starts at the opening the text gives', () => {
  // Opened at 15:45 after a 3 h window: the band starts at 15:45, the window 12:45–15:45 is drawn apart.
  const points = hourly((h) => ({ total: h === 0 ? 100 : 10 }));
  const opened = T0 + 15.75 * HOUR;
  const high = (g: TrendChartGeometry) => Math.round(g.y(0.85));

  it('open: shaded from the opening to the end, "ongoing"; the window before it in orange', () => {
    const input = chart(points, [{ from: iso(opened), windowStart: iso(opened - 3 * HOUR) }]);
    const g = trendChartGeometry(input);
    const img = raster(input);
    const edge = g.x(opened);
    expect(near(img.px(Math.round(edge + 3), high(g)), alertFill, 3)).toBe(true);
    expect(near(img.px(Math.round(edge - 3), high(g)), triggerFill, 3)).toBe(true);
    expect(near(img.px(Math.round(edge - 3), high(g)), alertFill, 3)).toBe(false);
    expect(near(img.px(Math.round(g.plot.right) - 2, high(g)), alertFill, 3)).toBe(true);
    // Before the window: nothing.
    expect(img.px(Math.round(g.x(opened - 3 * HOUR) - 3), high(g))).toEqual(WHITE);
    expect(texts(input)).toContain('alert opened 15:45, ongoing');
  });

  it('without the window: white just before the opening', () => {
    const input = chart(points, [{ from: iso(opened) }]);
    const g = trendChartGeometry(input);
    const img = raster(input);
    expect(near(img.px(Math.round(g.x(opened) + 3), high(g)), alertFill, 3)).toBe(true);
    expect(img.px(Math.round(g.x(opened) - 3), high(g))).toEqual(WHITE);
    expect(texts(input)).not.toContain('window that triggered');
  });

  it('an alert opened before the chart: shaded from its start, the opening said with its date', () => {
    const input = chart(points, [{ from: iso(T0 - 5 * HOUR), to: iso(T0 + 4 * HOUR) }]);
    const g = trendChartGeometry(input);
    const img = raster(input);
    expect(near(img.px(hourX(g, 2), high(g)), alertFill, 3)).toBe(true);
    expect(img.px(hourX(g, 5), high(g))).toEqual(WHITE);
    expect(texts(input)).toContain('alert opened 13 Mar 19:00, resolved 04:00');
  });
});

describe('renderTrendChart: lines and bars', () => {
  it('draws the share line higher where the share is higher, on a linear 0–100 % scale', () => {
    const shares = [0.1, 0.5, 0.9];
    const input = chart(hourly((h) => ({ total: 100, negative: 100 * shares[Math.floor(h / 8)] })));
    const g = trendChartGeometry(input);
    const img = raster(input);
    const ys = [4, 12, 20].map((h) => Math.min(...lineRows(img, hourX(g, h), g)));
    expect(ys[0]).toBeGreaterThan(ys[1]);
    expect(ys[1]).toBeGreaterThan(ys[2]);
    ys.forEach((y, i) => expect(Math.abs(g.y(shares[i]) - y)).toBeLessThanOrEqual(4));
  });

  it('leaves a gap in the line at a bucket with no mentions, and across a missing bucket', () => {
    const empty = chart(hourly((h) => (h === 10 ? { total: 0, negative: 0 } : { total: 50, negative: 25 })));
    const missing = chart(hourly(() => ({ total: 50, negative: 25 })).filter((_, h) => h !== 15));
    for (const [input, h] of [
      [empty, 10],
      [missing, 15],
    ] as const) {
      const g = trendChartGeometry(input);
      const img = raster(input);
      expect(lineRows(img, hourX(g, h), g)).toEqual([]);
      expect(lineRows(img, hourX(g, h - 1), g).length).toBeGreaterThan(0);
      expect(lineRows(img, hourX(g, h + 1), g).length).toBeGreaterThan(0);
    }
  });

  it('draws volume bars proportional to the mentions, on a right axis of round steps', () => {
    const input = chart(hourly((h) => ({ total: h === 6 ? 400 : h === 18 ? 100 : 0, negative: 0 })));
    const g = trendChartGeometry(input);
    const img = raster(input);
    const top = (h: number) => Math.min(...rowsOf(img, hourX(g, h), g, S.bars, 2));
    expect((g.plot.bottom - top(6)) / (g.plot.bottom - top(18))).toBeCloseTo(4, 0);
    expect(texts(input)).toEqual(expect.arrayContaining(['0', '100', '200', '300', '400']));
  });
});

describe('renderTrendChart: edge cases', () => {
  it('no points: a chart that says "no mentions"', () => {
    const input = chart([], [{ from: iso(T0) }]);
    expect(texts(input)).toEqual(
      expect.arrayContaining(['Negative share', 'no mentions', 'there are no buckets to chart for this stream']),
    );
    const img = raster(input);
    expect([img.width, img.height]).toEqual([800, 360]);
  });

  it('one point: a bar and a marker at its share (the bucket is taken as 1 h)', () => {
    const input = chart([{ at: iso(T0 + 14 * HOUR), total: 120, negative: 30 }]);
    const g = trendChartGeometry(input);
    const img = raster(input);
    const rows = lineRows(img, Math.round((g.plot.left + g.plot.right) / 2), g);
    expect(rows.length).toBeGreaterThan(0);
    expect(Math.abs((Math.min(...rows) + Math.max(...rows)) / 2 - g.y(0.25))).toBeLessThanOrEqual(2);
    expect(texts(input)).toEqual(
      expect.arrayContaining(['14:00', '15:00', 'stream: air-paradis  ·  1 hour buckets  ·  times in UTC']),
    );
  });

  it('all buckets empty: no line, and says "no mentions in this period"', () => {
    const input = chart(hourly(() => ({ total: 0, negative: 0 })));
    const g = trendChartGeometry(input);
    const img = raster(input);
    for (let h = 0; h < 24; h++) expect(lineRows(img, hourX(g, h), g)).toEqual([]);
    expect(texts(input)).toContain('no mentions in this period');
  });

  it('huge volumes: a readable right axis (k, M, B, T) and a line still at the right share', () => {
    const input = chart(hourly((h) => ({ total: 7.6e12, negative: h < 12 ? 7.6e11 : 3.8e12 })));
    expect(texts(input)).toContain('8T');
    const g = trendChartGeometry(input);
    const rows = lineRows(raster(input), hourX(g, 18), g);
    expect(Math.abs((Math.min(...rows) + Math.max(...rows)) / 2 - g.y(0.5))).toBeLessThanOrEqual(2);
    expect([950, 1500, 2_000_000, 2.5e9, 8e12, 3e15].map(formatCount)).toEqual([
      '950',
      '1.5k',
      '2M',
      '2.5B',
      '8T',
      '3.0e15',
    ]);
  });

  it('a week of hourly buckets: daily ticks, the year once', () => {
    const input = chart(Array.from({ length: 24 * 7 }, (_, h) => ({ at: iso(T0 + h * HOUR), total: 10, negative: 3 })));
    const t = texts(input);
    expect(t).toEqual(expect.arrayContaining(['14 Mar', '15 Mar', '20 Mar', '2024']));
    expect(t.filter((x) => x === '2024')).toHaveLength(1);
  });
});

describe('renderTrendChart: invalid input names the problem', () => {
  const ok = () => hourly(() => ({}));
  const withPoint = (i: number, p: Partial<TrendPoint>) => ok().map((q, j) => (j === i ? { ...q, ...p } : q));
  const render = (points: TrendPoint[], alerts: TrendAlertPeriod[] = [], more: Partial<TrendChartInput> = {}) =>
    renderTrendChart(chart(points, alerts, more));
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
    [
      'trigger window after the opening',
      () => render(ok(), [{ from: iso(T0 + 5 * HOUR), windowStart: iso(T0 + 6 * HOUR) }]),
      /alertPeriods\[0\]\.windowStart .* is after its from/,
    ],
    ['bad window date', () => render(ok(), [{ from: iso(T0), windowStart: 'x' }]), /alertPeriods\[0\]\.windowStart/],
    ['zero dispersion', () => render(ok(), [], { dispersion: 0 }), /dispersion must be a finite number > 0/],
    ['NaN dispersion', () => render(ok(), [], { dispersion: NaN }), /dispersion must be a finite number > 0/],
    ['width too small', () => render(ok(), [], { width: 100 }), /width must be an integer from 320 to 4096/],
    ['fractional height', () => render(ok(), [], { height: 300.5 }), /height must be an integer/],
    ['unknown zone', () => render(ok(), [], { timeZone: 'Paris' }), /timeZone must be an IANA time zone .*"Paris"/],
  ])('%s', (_name, run, message) => {
    expect(run).toThrow(message);
    expect(run).toThrow(/^trend chart: /);
  });
});
