/**
 * The content of an alert on a replayed real day: the bundled sample of real Southwest tweets (19–22 Feb
 * 2015, src/mentions/sample) through the real pipeline — replay source, the shipped model, a SQLite file,
 * the poller, the trend monitor — and what the alert says: figures, rise, sparkline, the most negative
 * mentions with their links, what it is about, the chart; the same for its updates and its resolution;
 * and how the console adapter prints it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ConsoleSink } from '../../adapters/console/console-sink';
import { displayWidth } from '../../adapters/console/wrap';
import { alertCard, alertReplyCard, chartOf } from '../../adapters/teams/cards';
import { overWhite, PALETTE, rgbOf } from '../../src/charts/palette';
import { svgToPng } from '../../src/charts/render';
import { Poller } from '../../src/mentions/poller';
import { ReplaySource } from '../../src/mentions/replay-source';
import { loadScorer } from '../../src/sentiment/load';
import type { BiLstmScorer } from '../../src/sentiment/bilstm-scorer';
import { openStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';
import {
  renderTrendChart,
  TREND_CHART_STYLE as S,
  trendChartGeometry,
  trendChartSvg,
  type TrendChartGeometry,
  type TrendChartInput,
} from '../../src/trends/chart';
import { alertText, type AlertContent } from '../../src/trends/content';
import { Digests } from '../../src/trends/digest';
import { TrendMonitor } from '../../src/trends/monitor';
import type { ChatSink, StreamNotice } from '../../src/trends/sink';
import { decodePng, near, type Image } from '../helpers/png';
import { svgTexts } from '../helpers/svg';

const SAMPLE = join(__dirname, '../../src/mentions/sample/airline-bad-buzz.csv');
const dir = mkdtempSync(join(tmpdir(), 'sentinel-content-'));
const messages: AlertContent[] = [];
const notices: StreamNotice[] = [];
const printed = new PassThrough();
let console_ = '';
printed.on('data', (d: Buffer) => (console_ += d.toString()));
let store: Store;
let scorer: BiLstmScorer;
const texts = new Map<string, string>();
/** What each chart was drawn from, by its PNG's bytes (the default renderer, recorded). */
const chartInputs = new Map<string, TrendChartInput>();
const recordChart = (input: TrendChartInput) => {
  const png = renderTrendChart(input);
  chartInputs.set(png.toString('base64'), input);
  return png;
};

const recorder: ChatSink = {
  name: 'recorder',
  alertOpened: async (c) => void messages.push(c),
  alertUpdated: async (c) => void messages.push(c),
  alertResolved: async (c) => void messages.push(c),
  streamNotice: async (n) => void notices.push(n),
};

beforeAll(async () => {
  scorer = await loadScorer('models/sentinel-bilstm');
  store = await openStore({ sqlitePath: join(dir, 'sentinel.db') });
  const source = new ReplaySource({ path: SAMPLE, chunkSize: 100 });
  const monitor = new TrendMonitor({
    store,
    sinks: [recorder, new ConsoleSink({ chartDir: join(dir, 'alerts'), out: printed, colour: false })],
    renderChart: recordChart,
  });
  const poller = new Poller({ streams: [{ source, stream: 'Southwest' }], scorer, store, onScored: monitor.onScored });
  for (;;) {
    const [report] = await poller.pollOnce();
    expect(report.result).toBe('ok');
    if (source.remaining('Southwest', report.checkpoint) === 0) break;
  }
  for (const m of await store.mentionsBetween('Southwest', '2015-01-01T00:00:00Z', '2016-01-01T00:00:00Z'))
    texts.set(m.id, m.text);
});

afterAll(async () => {
  await store?.close();
  scorer?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const pngSize = (png: Buffer) => {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(png.toString('ascii', 12, 16)).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
};

it('says first that it is learning, then that it watches, then opens one alert on the bad-buzz day', () => {
  expect(notices.map((n) => n.kind)).toEqual(['learning', 'watching']);
  expect(notices[0].message).toMatch(/^Southwest: no alerts yet, too little history/);
  expect(notices[1].message).toMatch(/^Southwest: baseline learnt \(\d+ % of mentions negative normally\)/);
  const kinds = messages.map((m) => m.kind);
  expect(kinds[0]).toBe('opened');
  expect(kinds.filter((k) => k === 'opened')).toHaveLength(1);
  expect(kinds.at(-1)).toBe('resolved');
  expect(new Set(messages.map((m) => m.alertId)).size).toBe(1);
});

it('the opening: figures against the baseline, volume, rise, sparkline', () => {
  const c = messages[0];
  expect(c.stream).toBe('Southwest');
  expect(c.openedAt).toBe(c.at);
  // 21 February 2015, during the US daytime (UTC).
  expect(c.openedAt >= '2015-02-21T10:00:00Z' && c.openedAt < '2015-02-22T04:00:00Z').toBe(true);
  const f = c.figures;
  expect(f.baselineShare).toBeGreaterThan(0.3);
  expect(f.baselineShare).toBeLessThan(0.55);
  expect(f.negativeShare - f.baselineShare).toBeGreaterThanOrEqual(0.1);
  expect(f.lift).toBeCloseTo(f.negativeShare - f.baselineShare, 3);
  expect(f.pValue).toBeLessThan(0.001);
  expect(f.volume).toBeGreaterThanOrEqual(40);
  expect(f.negatives / f.volume).toBeCloseTo(f.negativeShare, 3);
  expect(f.usualVolume).toBeGreaterThan(0);
  expect([180, 720]).toContain(f.windowMinutes);
  expect(c.why).toBeUndefined(); // the fixed windows opened it: no scan evidence to give
  expect(c.headline).toMatch(
    /^Bad buzz starting on Southwest: \d+ % of mentions negative in the last \d+ h \(normally \d+ %\)$/,
  );
  expect(c.rise.previousShare).not.toBeNull();
  expect(c.rise.pointsPerHour).toBeCloseTo(
    ((f.negativeShare - c.rise.previousShare!) * 100) / (f.windowMinutes / 60),
    0,
  );
  expect([...c.sparkline.text]).toHaveLength(24);
  expect(c.sparkline.text).toMatch(/^[▁▂▃▄▅▆▇█·]{24}$/u);
  expect(Date.parse(c.sparkline.to) - Date.parse(c.sparkline.from)).toBe(24 * 3_600_000);
  expect(c.peak.share).toBeGreaterThanOrEqual(f.negativeShare - 1e-9);
});

it('the opening: the most negative real mentions with their links, and what it is about', () => {
  const c = messages[0];
  expect(c.mentions).toHaveLength(5);
  for (const m of c.mentions) {
    expect(m.id).toMatch(/^\d{18}$/);
    expect(m.url).toBe(`https://x.com/i/web/status/${m.id}`);
    expect(m.text).toBe(texts.get(m.id)); // a real tweet of the sample, as published
    expect(m.negative).toBeGreaterThan(0.5);
    expect(m.createdAt >= c.figures.windowStart && m.createdAt < c.at).toBe(true);
  }
  expect(new Set(c.mentions.map((m) => m.text)).size).toBe(5);
  const probs = c.mentions.map((m) => m.negative);
  expect(probs).toEqual([...probs].sort((a, b) => b - a));
  // The storm of 21 February: cancelled flights, phone lines on hold for hours.
  const terms = c.terms.map((t) => t.term);
  const story = ['hold', 'cancelled', 'hour', 'hours', 'hrs', 'rebook', 'phone', 'minutes', 'weather'];
  expect(terms.filter((t) => story.includes(t)).length).toBeGreaterThanOrEqual(2);
  for (const t of c.terms) {
    expect(t.score).toBeGreaterThanOrEqual(1.96);
    expect(t.count).toBeGreaterThanOrEqual(3);
    expect(t.term).not.toMatch(/^<|southwest/);
  }
});

it('the opening: a PNG chart of the last 24 h', () => {
  const chart = messages[0].chart!;
  expect(chart.title).toMatch(/^Southwest: negative mentions, last 24 h/);
  expect(pngSize(chart.png)).toEqual({ width: 800, height: 360 });
});

describe('the chart shows what the alert says (pixels at the positions of known events)', () => {
  const HOUR = 3_600_000;
  /** The chart as resvg draws it in full colour, with where its input puts things. */
  const drawn = (c: AlertContent) => {
    const input = chartInputs.get(c.chart!.png.toString('base64'))!;
    expect(input).toBeDefined();
    return { input, g: trendChartGeometry(input), img: decodePng(svgToPng(trendChartSvg(input))) };
  };
  /** Rows of column x inside the plot within `tolerance` of `rgb`. */
  const rowsOf = (img: Image, x: number, g: TrendChartGeometry, rgb: readonly number[], tolerance: number) => {
    const rows: number[] = [];
    for (let y = Math.ceil(g.plot.top) + 3; y < g.plot.bottom; y++)
      if (near(img.px(x, y), rgb, tolerance)) rows.push(y);
    return rows;
  };
  const alertFill = overWhite(S.alert, S.alertAlpha);
  const triggerFill = overWhite(S.trigger, S.triggerAlpha);

  it('the opening: the alert band starts at the opening the message gives, the window that opened it before', () => {
    const c = messages[0];
    const { input, g, img } = drawn(c);
    expect(c.chart!.png.equals(renderTrendChart(input))).toBe(true);
    const opened = Date.parse(c.openedAt);
    // The alert drawn from its opening (not from the start of its window), with that window apart.
    const period = input.alertPeriods.find((p) => Date.parse(p.from) === opened)!;
    expect(period).toBeDefined();
    expect(period.to).toBeUndefined();
    expect(period.windowStart).toBe(c.figures.windowStart);
    expect(input.dispersion).toBeGreaterThan(0);
    // The label says the time the message says.
    expect(alertText(c)).toContain(`Open since       ${c.openedAt.slice(0, 10)} ${c.openedAt.slice(11, 16)} UTC`);
    const words = svgTexts(trendChartSvg(input)).map((t) => t.text);
    expect(words).toContain(`alert opened ${c.openedAt.slice(11, 16)}, ongoing`);
    expect(words).toContain('window that triggered');

    // The opening bucket's x: the band's colour just right of it, never just left of it (the window's there).
    const edge = g.x(opened);
    expect(edge).toBeGreaterThan(g.plot.left);
    expect(edge).toBeLessThan(g.plot.right);
    expect(rowsOf(img, Math.round(edge + 3), g, alertFill, 3).length).toBeGreaterThan(0);
    expect(rowsOf(img, Math.round(edge - 3), g, alertFill, 3)).toEqual([]);
    expect(rowsOf(img, Math.round(edge - 3), g, triggerFill, 3).length).toBeGreaterThan(0);
    expect(near(img.px(Math.round(edge), Math.round(g.y(0.97))), rgbOf(S.alert), 40)).toBe(true);
    // The window that triggered it starts where its figures start, and nothing is shaded before it.
    const windowStart = g.x(Date.parse(c.figures.windowStart));
    expect(rowsOf(img, Math.round(windowStart + 3), g, triggerFill, 3).length).toBeGreaterThan(0);
    expect(rowsOf(img, Math.round(windowStart - 3), g, triggerFill, 3)).toEqual([]);
    expect(rowsOf(img, Math.round(windowStart - 3), g, alertFill, 3)).toEqual([]);

    // The share line is higher at the storm's peak hour than at a quiet hour before it.
    const buckets = input.points
      .filter((p) => p.total >= 5)
      .map((p) => ({ t: Date.parse(p.at), share: p.negative / p.total }));
    const peak = buckets.reduce((a, b) => (b.share > a.share ? b : a));
    const quiet = buckets
      .filter((b) => b.t + HOUR <= Date.parse(c.figures.windowStart))
      .reduce((a, b) => (b.share < a.share ? b : a));
    expect(peak.share - quiet.share).toBeGreaterThan(0.3);
    const lineAt = (b: { t: number; share: number }) => {
      const rows = rowsOf(img, Math.round(g.x(b.t + HOUR / 2)), g, rgbOf(PALETTE.negative), 40);
      const y = g.y(b.share);
      const nearest = rows.reduce((a, r) => (Math.abs(r - y) < Math.abs(a - y) ? r : a), Infinity);
      expect(Math.abs(nearest - y)).toBeLessThanOrEqual(3);
      return nearest;
    };
    expect(lineAt(peak)).toBeLessThan(lineAt(quiet) - 0.3 * (g.plot.bottom - g.plot.top));
  });

  it("the digest's day: the day's alert shaded from its opening, its window before it, in the digest's chart", async () => {
    const digests = new Digests({ store, streams: () => ['Southwest'], timeZone: 'UTC', renderChart: recordChart });
    const opened = messages[0];
    const day = await digests.digestFor('Southwest', opened.openedAt.slice(0, 10));
    expect(day.kind).toBe('notable');
    expect(pngSize(day.chart!.png)).toEqual({ width: 800, height: 360 });
    const input = chartInputs.get(day.chart!.png.toString('base64'))!;
    const g = trendChartGeometry(input);
    const img = decodePng(svgToPng(trendChartSvg(input)));
    const edge = g.x(Date.parse(opened.openedAt));
    expect(rowsOf(img, Math.round(edge + 3), g, alertFill, 3).length).toBeGreaterThan(0);
    expect(rowsOf(img, Math.round(edge - 3), g, alertFill, 3)).toEqual([]);
    expect(rowsOf(img, Math.round(edge - 3), g, triggerFill, 3).length).toBeGreaterThan(0);
  });

  it('the resolution: the band ends at the resolution, edged bluish green and labelled "resolved"', () => {
    const r = messages.at(-1)!;
    const { input, g, img } = drawn(r);
    const resolved = Date.parse(r.resolvedAt!);
    expect(input.alertPeriods.find((p) => p.to === r.resolvedAt)).toBeDefined();
    const edge = g.x(resolved);
    expect(near(img.px(Math.round(edge), Math.round(g.y(0.97))), rgbOf(S.resolved), 40)).toBe(true);
    expect(rowsOf(img, Math.round(edge - 4), g, alertFill, 3).length).toBeGreaterThan(0);
    expect(rowsOf(img, Math.round(edge + 4), g, alertFill, 3)).toEqual([]);
    const words = svgTexts(trendChartSvg(input)).map((t) => t.text);
    expect(
      words.some((w) => w.startsWith('alert opened ') && w.endsWith(`resolved ${r.resolvedAt!.slice(11, 16)}`)),
    ).toBe(true);
  });

  it('the Teams cards carry the chart as a data URI and stay under Teams’ 28 KB', () => {
    const sizes = messages.map((c) => {
      const { chart, ...snapshot } = c;
      const card =
        c.kind === 'opened'
          ? alertCard(snapshot, chartOf(c), { real: 0, falseAlarm: 0 })
          : alertReplyCard(snapshot, chartOf(c));
      const json = JSON.stringify(card);
      expect(json).toContain(`data:image/png;base64,${chart!.png.toString('base64')}`);
      return json.length;
    });
    expect(sizes[0]).toBeLessThanOrEqual(28 * 1024);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(28 * 1024);
  });
});

it('updates and the resolution carry the same figures; the resolution says how long and the peak', () => {
  const keys = Object.keys(messages[0].figures).sort();
  for (const m of messages) {
    expect(Object.keys(m.figures).sort()).toEqual(keys);
    expect(m.mentions.length).toBeGreaterThan(0);
    expect(m.chart && pngSize(m.chart.png)).toEqual({ width: 800, height: 360 });
    expect(m.sparkline.text).toMatch(/^[▁▂▃▄▅▆▇█·]{24}$/u);
  }
  const updates = messages.filter((m) => m.kind === 'updated');
  expect(updates.length).toBeGreaterThan(0);
  for (const u of updates) expect(u.headline).toMatch(/^Still going on Southwest after \d+ h/);
  const r = messages.at(-1)!;
  expect(r.kind).toBe('resolved');
  expect(r.resolvedAt).toBe(r.at);
  expect(r.durationMinutes).toBe(Math.round((Date.parse(r.resolvedAt!) - Date.parse(r.openedAt)) / 60_000));
  const peaks = messages.map((m) => m.peak.share);
  expect(peaks).toEqual([...peaks].sort((a, b) => a - b)); // the peak never goes down
  expect(r.peak.share).toBeGreaterThanOrEqual(messages[0].figures.negativeShare - 1e-9);
  expect(r.headline).toMatch(/^Over on Southwest after \d+ h( \d+ min)? \(peak \d+ %\)/);
});

it('the console adapter prints it readably and writes the chart to the file it names', () => {
  expect(console_).toContain('│ ALERT · Southwest · 2015-02-21');
  // Wrapped lines joined again: the box's "│ " and the continuation indent become one space.
  const unwrapped = console_.replace(/\n(?:│)? +/g, ' ');
  expect(unwrapped).toContain(messages[0].headline);
  for (const m of messages[0].mentions) expect(console_).toMatch(new RegExp(`^│ {10}${m.url}$`, 'm')); // whole
  expect(console_).toContain(messages[0].mentions[0].url);
  expect(console_).toContain('│ About            ');
  expect(console_).toContain('▲ UPDATE · ');
  expect(console_).toContain('│ RESOLVED · Southwest · ');
  expect(console_).toMatch(/│ Lasted {11}\d+ h/);
  const charts = [...console_.matchAll(/Chart \(last 24 h\):\s+(?:│\s+)?(\S+\.png)/g)].map((m) => m[1]);
  expect(charts).toHaveLength(2); // the opening and the resolution
  for (const file of charts) {
    expect(existsSync(file)).toBe(true);
    expect(pngSize(readFileSync(file))).toEqual({ width: 800, height: 360 });
  }
  expect(console_).not.toContain('\u001b['); // no colour codes when asked for none
});

it('the console adapter fits every line in 80 columns: the box, its title, the tweets, the updates', () => {
  const lines = console_.split('\n');
  const widths = lines.map((l) => displayWidth(l));
  expect(lines.filter((_, i) => widths[i] > 80)).toEqual([]);
  expect(Math.max(...widths)).toBe(80); // the box's rules
  // A tweet longer than a line is word-wrapped under its text (up to the 140 characters the alert shows).
  const first = messages[0].mentions[0];
  const at = lines.findIndex((l) => l.includes(first.text.slice(0, 30)));
  expect(at).toBeGreaterThan(0);
  const shown: string[] = [];
  for (let i = at; !lines[i].includes(first.url); i++) shown.push(lines[i].replace(/^│ +(\d+ % +)?/, ''));
  expect(shown.length).toBeGreaterThan(1);
  expect(shown.slice(1).every((l, i) => lines[at + 1 + i].startsWith('│ ' + ' '.repeat(9)))).toBe(true);
  const text = shown.join(' ').replace(/ …$/, '');
  expect(text.length).toBeGreaterThan(100);
  expect(first.text.replace(/\s+/g, ' ').startsWith(text)).toBe(true);
});
