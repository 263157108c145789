import { decodePng, near, type Image } from '../helpers/png';
import { svgTexts } from '../helpers/svg';
import { overWhite, rgbOf } from '../../src/charts/palette';
import {
  AMOC_COLOURS as C,
  amocLayout,
  amocOption,
  amocPng,
  amocSvg,
  GOAL_ALPHA,
  type AmocCurve,
} from '../../src/train/amoc-chart';

const WHITE = [255, 255, 255];
// Okabe–Ito, written out so that a changed palette fails here rather than following along.
const BLUE = [0, 114, 178];
const VERMILLION = [213, 94, 0];
const shaded = overWhite(C.goal, GOAL_ALPHA);

// Threshold order is not x order on purpose (z = 4 before z = 3), and z = 6 detected nothing.
const curves: AmocCurve[] = [
  {
    name: 'z-score',
    points: [
      { falseAlarmsPerWeek: 0.05, medianDelayMinutes: null, detectionRate: 0, label: 'z=6' },
      { falseAlarmsPerWeek: 0.8, medianDelayMinutes: 90, detectionRate: 0.7, label: 'z=4' },
      { falseAlarmsPerWeek: 0.2, medianDelayMinutes: 240, detectionRate: 0.4, label: 'z=5' },
      { falseAlarmsPerWeek: 2.5, medianDelayMinutes: 30, detectionRate: 0.9, label: 'z=3' },
    ],
  },
  {
    name: 'EWMA',
    points: [
      { falseAlarmsPerWeek: 0.4, medianDelayMinutes: 300, detectionRate: 0.5, label: 'a=0.1' },
      { falseAlarmsPerWeek: 1.5, medianDelayMinutes: 60, detectionRate: 0.8, label: 'a=0.3' },
      { falseAlarmsPerWeek: 4, medianDelayMinutes: 20, detectionRate: 0.95, label: 'a=0.5' },
    ],
  },
];
const goal = { falseAlarmsPerWeek: 1, medianDelayMinutes: 120 };
const opts = { title: 'Storm detection: AMOC', subtitle: 'replay, 12 streams', goal };
const png = amocPng(curves, opts);
const img = decodePng(png);
const words = svgTexts(amocSvg(curves, opts)).map((t) => t.text);
const L = amocLayout();
const axes = L.axes(curves, goal);
const { x: xAxis, y: yAxis } = axes;
/** The pixel of a value, rounded. */
const X = (v: number) => Math.round(axes.X(v));
const Y = (v: number) => Math.round(axes.Y(v));
/** Pixels in a (2r+1)² square around (x, y): the lines are anti-aliased, so a point may be a pixel off. */
const around = (im: Image, x: number, y: number, r = 1) =>
  [...Array(2 * r + 1).keys()].flatMap((dy) => [...Array(2 * r + 1).keys()].map((dx) => im.px(x + dx - r, y + dy - r)));
const has = (pixels: number[][], rgb: readonly number[]) => pixels.some((p) => near(p, rgb, 3));

describe('AMOC chart (ECharts)', () => {
  it('is a 720×480 PNG: signature, then IHDR with the size', () => {
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.toString('ascii', 12, 16)).toBe('IHDR');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([720, 480]);
    expect([img.width, img.height]).toEqual([720, 480]);
    const other = decodePng(amocPng(curves, { title: 't', width: 800, height: 500 }));
    expect([other.width, other.height]).toEqual([800, 500]);
  });

  it('scales the axes to nice maxima covering the data (4 alarms, 5 h in 1 h steps), on fixed margins', () => {
    expect(xAxis).toEqual({ max: 4, step: 0.5 });
    expect(yAxis).toEqual({ max: 300, step: 60 });
    expect(L.axes([{ name: 'x', points: [curves[0].points[0]] }]).x.max).toBe(1); // at least 1
    // The axis lines where the layout says (between grid lines and ticks, outside the goal region).
    expect(img.px(L.plotLeft, Y(200))).toEqual(rgbOf(C.axis));
    expect(img.px(L.plotLeft - 2, Y(200))).toEqual(WHITE);
    expect(img.px(X(1.75), L.plotBottom)).toEqual(rgbOf(C.axis));
    expect(img.px(X(1.75), L.plotBottom + 2)).toEqual(WHITE);
    expect(words).toEqual(expect.arrayContaining(['0', '1 h', '5 h', '0.5', '4']));
  });

  it('draws a marker in the curve colour at each detected point', () => {
    expect(near(img.px(X(0.8), Y(90)), BLUE, 3)).toBe(true);
    expect(near(img.px(X(2.5), Y(30)), BLUE, 3)).toBe(true);
    expect(near(img.px(X(1.5), Y(60)), VERMILLION, 3)).toBe(true);
    expect(near(img.px(X(0.4), Y(300)), VERMILLION, 3)).toBe(true);
    expect(img.px(X(0.6), Y(200))).toEqual(WHITE); // no point there
  });

  it('joins the points in x order, not threshold order', () => {
    // On the segment z=4 → z=3 (sorted); not on z=5 → z=3 (the threshold order would draw that one).
    expect(has(around(img, X(2.2), Y(90 - (60 * 1.4) / 1.7)), BLUE)).toBe(true);
    expect(has(around(img, X(1.35), Y(240 - (210 * 1.15) / 2.3), 2), BLUE)).toBe(false);
  });

  it('draws a point that detected nothing as a hollow marker on the top edge, not joined to the curve', () => {
    const [px, py] = [X(0.05), L.plotTop];
    expect(near(img.px(px, py), WHITE, 6)).toBe(true);
    expect(has(around(img, px - 4, py, 1), BLUE)).toBe(true);
    expect(has(around(img, X(0.125), Y(270), 2), BLUE)).toBe(false);
    expect(words).toContain('hollow marker on the top edge: nothing detected');
    expect(words).toContain('z=6');
  });

  it('shades the goal region (x <= 1, y <= 120 min) and nothing outside it', () => {
    expect(near(img.px(X(0.3), Y(15)), shaded, 2)).toBe(true);
    expect(near(img.px(X(1) - 2, Y(15)), shaded, 2)).toBe(true);
    expect(img.px(X(1) + 2, Y(15))).toEqual(WHITE);
    expect(near(img.px(X(0.3), Y(120) + 2), shaded, 2)).toBe(true);
    expect(img.px(X(0.3), Y(120) - 2)).toEqual(WHITE);
    expect(img.px(X(1.3), Y(15))).toEqual(WHITE);
    expect(words).toContain('goal');
    const none = decodePng(amocPng(curves, { title: 'no goal' }));
    expect(none.px(X(0.3), Y(15))).toEqual(WHITE);
    expect(svgTexts(amocSvg(curves, { title: 'no goal' })).map((t) => t.text)).not.toContain('goal');
  });

  it('has the title, a legend naming each curve, the axis titles and the threshold labels', () => {
    expect(words).toEqual(
      expect.arrayContaining([
        'Storm detection: AMOC',
        'replay, 12 streams',
        'z-score',
        'EWMA',
        'false alarms per stream-week',
        "median delay from the storm's start",
        'z=4',
        'a=0.3',
      ]),
    );
  });

  it('labels a marker where it covers no other marker, and leaves out a label with no room', () => {
    // Two markers 2 px apart: each labelled, on different sides.
    const close: AmocCurve[] = [
      {
        name: 'c',
        points: [
          { falseAlarmsPerWeek: 0.5, medianDelayMinutes: 60, detectionRate: 1, label: 'first' },
          { falseAlarmsPerWeek: 0.503, medianDelayMinutes: 60, detectionRate: 1, label: 'second' },
        ],
      },
    ];
    const line = (
      amocOption(close, { title: 't' }).series as Array<{ data: Array<{ label: { position?: string } }> }>
    )[0];
    const sides = line.data.map((d) => d.label.position);
    expect(sides.every((side) => side !== undefined)).toBe(true);
    expect(sides[0]).not.toBe(sides[1]);
    // A label wider than the plot has no side: left out rather than drawn off the picture.
    const wide: AmocCurve[] = [{ name: 'c', points: [{ ...close[0].points[0], label: 'x'.repeat(120) }] }];
    const texts = svgTexts(amocSvg(wide, { title: 't' })).map((t) => t.text);
    expect(texts).not.toContain('x'.repeat(120));
  });

  it('keeps non-ASCII text and labels short delays in minutes', () => {
    const short: AmocCurve[] = [{ name: 'k ≤ 2, fenêtre', points: [{ ...curves[1].points[2], label: '' }] }];
    const texts = svgTexts(amocSvg(short, { title: 'délai médian' })).map((t) => t.text);
    expect(texts).toEqual(expect.arrayContaining(['k ≤ 2, fenêtre', 'délai médian', '20 min']));
  });

  it('refuses no curves, negative values and impossible sizes', () => {
    expect(() => amocPng([], { title: 't' })).toThrow(/no curves/);
    const bad = [{ name: 'x', points: [{ ...curves[1].points[0], falseAlarmsPerWeek: -1 }] }];
    expect(() => amocPng(bad, { title: 't' })).toThrow(/a=0.1/);
    expect(() => amocPng(curves, { title: 't', width: 100 })).toThrow(/from 400×300/);
  });
});
