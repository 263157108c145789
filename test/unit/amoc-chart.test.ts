import { containsText, decodePng, type Image } from '../helpers/png';
import { AMOC_COLOURS as C, amocLayout, amocPng, GOAL_ALPHA, type AmocCurve } from '../../src/train/amoc-chart';

const WHITE = [255, 255, 255];
// Okabe–Ito, written out so that a changed palette fails here rather than following along.
const BLUE = [0, 114, 178];
const VERMILLION = [213, 94, 0];
const shaded = C.goal.map((c) => Math.round(255 * (1 - GOAL_ALPHA) + c * GOAL_ALPHA));

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
const png = amocPng(curves, { title: 'Storm detection: AMOC', subtitle: 'replay, 12 streams', goal });
const img = decodePng(png);
const L = amocLayout();
const { X, Y, x: xAxis, y: yAxis } = L.axes(curves, goal);
/** Pixels in a (2r+1)² square around (x, y): the lines are Bresenham-rounded, so a point may be a pixel off. */
const around = (im: Image, x: number, y: number, r = 1) =>
  [...Array(2 * r + 1).keys()].flatMap((dy) => [...Array(2 * r + 1).keys()].map((dx) => im.px(x + dx - r, y + dy - r)));

describe('AMOC chart (PNG)', () => {
  it('is a 720×480 PNG: signature, then IHDR with the size', () => {
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.toString('ascii', 12, 16)).toBe('IHDR');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([720, 480]);
    expect([img.width, img.height]).toEqual([720, 480]);
    const other = decodePng(amocPng(curves, { title: 't', width: 800, height: 500 }));
    expect([other.width, other.height]).toEqual([800, 500]);
  });

  it('scales the axes to nice maxima covering the data (4 alarms, 5 h in 1 h steps)', () => {
    expect(xAxis).toEqual({ max: 4, step: 0.5 });
    expect(yAxis).toEqual({ max: 300, step: 60 });
    expect(L.axes([{ name: 'x', points: [curves[0].points[0]] }]).x.max).toBe(1); // at least 1
    expect(img.px(L.plotLeft, Math.round((L.plotTop + L.plotBottom) / 2))).toEqual([...C.axis]);
  });

  it('draws a marker in the curve colour at each detected point', () => {
    expect(img.px(X(0.8), Y(90))).toEqual(BLUE);
    expect(img.px(X(2.5), Y(30))).toEqual(BLUE);
    expect(img.px(X(1.5), Y(60))).toEqual(VERMILLION);
    expect(img.px(X(0.4), Y(300))).toEqual(VERMILLION);
    expect(img.px(X(0.6), Y(200))).toEqual(WHITE); // no point there
  });

  it('joins the points in x order, not threshold order', () => {
    // On the segment z=4 → z=3 (sorted); not on z=5 → z=3 (the threshold order would draw that one).
    expect(around(img, X(2.2), Y(90 - (60 * 1.4) / 1.7))).toContainEqual(BLUE);
    expect(around(img, X(1.35), Y(240 - (210 * 1.15) / 2.3), 2)).not.toContainEqual(BLUE);
  });

  it('draws a point that detected nothing as a hollow marker on the top edge, not joined to the curve', () => {
    const [px, py] = [X(0.05), L.plotTop];
    expect(img.px(px, py)).toEqual(WHITE);
    expect(img.px(px - 3, py + 2)).toEqual(BLUE);
    expect(around(img, X(0.125), Y(270), 2)).not.toContainEqual(BLUE);
    expect(containsText(img, 'hollow marker on the top edge: nothing detected', C.text)).toBe(true);
  });

  it('shades the goal region (x <= 1, y <= 120 min) and nothing outside it', () => {
    expect(img.px(X(0.3), Y(15))).toEqual(shaded);
    expect(img.px(X(1) - 1, Y(15))).toEqual(shaded);
    expect(img.px(X(1) + 1, Y(15))).toEqual(WHITE);
    expect(img.px(X(0.3), Y(120) + 1)).toEqual(shaded);
    expect(img.px(X(0.3), Y(120) - 1)).toEqual(WHITE);
    expect(img.px(X(1.3), Y(15))).toEqual(WHITE);
    expect(containsText(img, 'goal', C.muted)).toBe(true);
    const none = decodePng(amocPng(curves, { title: 'no goal' }));
    expect(none.px(X(0.3), Y(15))).toEqual(WHITE);
    expect(containsText(none, 'goal', C.muted)).toBe(false);
  });

  it('has a legend naming each curve, the axis title and the labels in hours', () => {
    expect(containsText(img, 'z-score', C.text)).toBe(true);
    expect(containsText(img, 'EWMA', C.text)).toBe(true);
    expect(containsText(img, 'false alarms per stream-week', C.text)).toBe(true);
    expect(containsText(img, '5 h', C.text)).toBe(true);
    expect(containsText(img, 'z=4', C.muted)).toBe(true);
  });

  it('maps non-ASCII to the font and labels short delays in minutes', () => {
    const short = amocPng([{ name: 'k ≤ 2', points: [{ ...curves[1].points[2], label: '' }] }], { title: 't' });
    const im = decodePng(short);
    expect(containsText(im, 'k <= 2', C.text)).toBe(true);
    expect(containsText(im, '20 min', C.text)).toBe(true);
  });

  it('refuses no curves and negative values', () => {
    expect(() => amocPng([], { title: 't' })).toThrow(/no curves/);
    const bad = [{ name: 'x', points: [{ ...curves[1].points[0], falseAlarmsPerWeek: -1 }] }];
    expect(() => amocPng(bad, { title: 't' })).toThrow(/a=0.1/);
  });
});
