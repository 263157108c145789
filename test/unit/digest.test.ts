/**
 * The daily digest's content (src/trends/digest.ts) on replayed real days: the bundled sample of real
 * Southwest tweets (19–22 Feb 2015, src/mentions/sample) through the real pipeline — replay source, the
 * shipped model, a SQLite file, the poller, the trend monitor — then the digest of each day: the bad-buzz
 * day (volume and share against the detector's normal, themes, the alert and how it ended with real votes
 * on its headline, votes of the day and production accuracy, the chart), a quiet day in two lines, a day
 * without mentions in one, a day in another time zone; and the day arithmetic across clock changes.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { recordAlertFeedback, retractAlertFeedback } from '../../src/feedback/alert-feedback';
import { recordFeedback } from '../../src/feedback/feedback';
import { Poller } from '../../src/mentions/poller';
import { ReplaySource } from '../../src/mentions/replay-source';
import type { BiLstmScorer } from '../../src/sentiment/bilstm-scorer';
import { loadScorer } from '../../src/sentiment/load';
import { unreadableReason } from '../../src/sentiment/readable';
import { mentionPredictionId } from '../../src/store/common';
import { openStore } from '../../src/store/open';
import type { AlertRecord, Store } from '../../src/store/types';
import {
  DigestDayError,
  Digests,
  UnknownStreamError,
  digestForChat,
  digestText,
  digestsFor,
} from '../../src/trends/digest';
import { dayBefore, digestDay } from '../../src/trends/digest-day';
import { DigestSchedule } from '../../src/trends/digest-schedule';
import { renderTrendChart, trendChartOption, trendChartSvg, type TrendChartInput } from '../../src/trends/chart';
import { svgTexts } from '../helpers/svg';
import { ConsoleDigestSink } from '../../adapters/console/digest-sink';
import { PassThrough } from 'node:stream';
import { TrendMonitor, type TrendAlertData } from '../../src/trends/monitor';

const SAMPLE = join(__dirname, '../../src/mentions/sample/airline-bad-buzz.csv');
const dir = mkdtempSync(join(tmpdir(), 'sentinel-digest-'));
const DB = join(dir, 'sentinel.db');
let store: Store;
let scorer: BiLstmScorer;
let digests: Digests;
let alert: AlertRecord;

beforeAll(async () => {
  scorer = await loadScorer('models/sentinel-bilstm');
  store = await openStore({ sqlitePath: DB });
  const source = new ReplaySource({ path: SAMPLE, chunkSize: 200 });
  const monitor = new TrendMonitor({ store });
  const poller = new Poller({ streams: [{ source, stream: 'Southwest' }], scorer, store, onScored: monitor.onScored });
  for (;;) {
    const [report] = await poller.pollOnce();
    expect(report.result).toBe('ok');
    if (source.remaining('Southwest', report.checkpoint) === 0) break;
  }
  await monitor.idle();
  [alert] = await store.listAlerts('Southwest');
  digests = new Digests({
    store,
    streams: () => ['Southwest', 'Delta'],
    timeZone: 'UTC',
    acknowledgements: [
      // What the chat adapters read from their alert records (adapters/*/digest-sink.ts): one Teams user here.
      async (id) =>
        id === alert.id
          ? [{ platform: 'teams', user: 'teams:t1:aad-1', name: 'Dana Ops', at: '2026-03-01T10:00:00.000Z' }]
          : [],
    ],
  });
});

afterAll(async () => {
  await store?.close();
  scorer?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** The readable mentions stored for [from, to), in a language the model reads: what the monitor counts. */
async function counted(from: string, to: string) {
  const ms = (await store.mentionsBetween('Southwest', from, to)).filter(
    (m) => m.prediction !== null && unreadableReason(m.text) === null,
  );
  return { mentions: ms.length, negatives: ms.filter((m) => m.prediction?.label === 'negative').length, ms };
}

describe('the bad-buzz day (Saturday 21 February 2015, UTC)', () => {
  it('volume and negative share against the same normal as the detector', async () => {
    const c = await digests.digestFor('Southwest', '2015-02-21');
    expect(c.kind).toBe('notable');
    expect(c.day).toEqual({
      date: '2015-02-21',
      timeZone: 'UTC',
      from: '2015-02-21T00:00:00.000Z',
      to: '2015-02-22T00:00:00.000Z',
    });
    const expected = await counted(c.day.from, c.day.to);
    expect(c.mentions).toBe(expected.mentions);
    expect(c.negatives).toBe(expected.negatives);
    expect(c.share).toBeCloseTo(expected.negatives / expected.mentions, 10);
    expect(c.mentions).toBeGreaterThan(300);
    // The history starts on the 19th at 08:00 UTC (00:00 in Dallas): 40 hours before the day.
    const before = await counted('2015-02-19T00:00:00Z', c.day.from);
    expect(c.usualMentions).toBe(Math.round((before.mentions / 40) * 24));
    if (c.normal.status === 'learning') throw new Error('expected a judged day');
    expect(c.normal.status).toBe('above');
    expect(c.normal.judged).toBe(true);
    // The baseline the alert opened against is the detector's, a few hours later: about the same.
    const opened = (alert.data as unknown as TrendAlertData).opened;
    expect(Math.abs(c.normal.share - opened.baseline)).toBeLessThan(0.05);
    expect(c.normal.lift).toBeCloseTo(c.share! - c.normal.share, 10);
    expect(c.normal.lift).toBeGreaterThan(0.1);
    expect(c.normal.pValue).toBeLessThan(0.05);
    expect(c.headline).toBe(
      `Southwest on Saturday 21 February 2015 (UTC): 1 alert, ${Math.round(c.share! * 100)} % of mentions negative (normally ${Math.round(c.normal.share * 100)} %).`,
    );
  });

  it('the hour-by-hour share and the main themes of the negative mentions', async () => {
    const c = await digests.digestFor('Southwest', '2015-02-21');
    expect([...c.sparkline.text]).toHaveLength(24);
    expect(c.sparkline.text).toMatch(/^[▁▂▃▄▅▆▇█·]{24}$/u);
    const terms = c.themes.map((t) => t.term);
    expect(terms.length).toBeGreaterThan(2);
    expect(terms).toEqual(expect.arrayContaining(['hold', 'cancelled']));
    for (const t of c.themes) expect(t.score).toBeGreaterThanOrEqual(1.96);
    expect(terms).not.toContain('southwest'); // the stream's own name says nothing
    const texts = new Set((await counted(c.day.from, c.day.to)).ms.map((m) => m.text));
    for (const m of c.topMentions) {
      expect(texts.has(m.text)).toBe(true);
      expect(m.url).toBe(`https://x.com/i/web/status/${m.id}`);
    }
  });

  it('the alert of the day and how it ended: resolved, acknowledged, judged by the ✅ / ❌ on its headline', async () => {
    expect(alert.state).toBe('resolved');
    await recordAlertFeedback(store, { alertId: alert.id, userId: 'slack:T1:U1', trueAlarm: true, source: 'slack' });
    await recordAlertFeedback(store, { alertId: alert.id, userId: 'slack:T1:U2', trueAlarm: true, source: 'slack' });
    await recordAlertFeedback(store, {
      alertId: alert.id,
      userId: 'teams:t1:aad-1',
      trueAlarm: false,
      source: 'teams',
    });
    const c = await digests.digestFor('Southwest', '2015-02-21');
    expect(c.alerts).toHaveLength(1);
    const a = c.alerts[0];
    expect(a).toMatchObject({
      id: alert.id,
      openedAt: alert.openedAt,
      resolvedAt: alert.resolvedAt,
      votes: { real: 2, falseAlarm: 1 },
      verdict: 'real',
      acknowledged: [{ platform: 'teams', name: 'Dana Ops' }],
    });
    expect(a.durationMinutes).toBe((Date.parse(alert.resolvedAt!) - Date.parse(alert.openedAt)) / 60_000);
    const text = digestText(c);
    expect(text).toContain(
      `opened ${alert.openedAt.slice(11, 16)}, over at ${alert.resolvedAt!.slice(0, 10)} ${alert.resolvedAt!.slice(11, 16)}`,
    );
    expect(text).toContain('acknowledged by Dana Ops; judged a real bad buzz (2 ✅, 1 ❌)');
    // One more ❌: as many each way, said as such; retracted, the majority again.
    await recordAlertFeedback(store, { alertId: alert.id, userId: 'slack:T1:U4', trueAlarm: false, source: 'slack' });
    const tied = await digests.digestFor('Southwest', '2015-02-21');
    expect(tied.alerts[0]).toMatchObject({ votes: { real: 2, falseAlarm: 2 }, verdict: 'disputed' });
    expect(digestText(tied)).toContain('judged both ways as often (2 ✅, 2 ❌)');
    expect(await retractAlertFeedback(store, alert.id, 'slack:T1:U4')).toBe(true);
    expect((await digests.digestFor('Southwest', '2015-02-21')).alerts[0].verdict).toBe('real');
    // The alert lasted into the 22nd: that day's digest shows it too.
    expect((await digests.digestFor('Southwest', '2015-02-22')).alerts.map((x) => x.id)).toEqual([alert.id]);
  });

  it('the votes received that day and the production accuracy of the 7 days to its end', async () => {
    const { ms } = await counted('2015-02-21T00:00:00Z', '2015-02-22T00:00:00Z');
    const negative = ms.filter((m) => m.prediction?.label === 'negative').slice(0, 3);
    for (const [i, m] of negative.entries())
      await recordFeedback(store, {
        predictionId: mentionPredictionId(m.id),
        userId: `slack:T1:U${i}`,
        correct: i < 2,
        ...(i === 2 ? { trueLabel: 'neutral' as const } : {}),
        source: 'slack',
      });
    // Cast while the day was replayed: the votes' time set back to that day.
    const db = new Database(DB);
    db.exec(`UPDATE feedback SET voted_at = '2015-02-21T18:00:00.000Z' WHERE prediction_id LIKE 'x:%'`);
    db.close();
    const c = await digests.digestFor('Southwest', '2015-02-21');
    expect(c.votes.received).toBe(3);
    const [v] = c.accuracy.versions;
    expect(v).toMatchObject({ modelVersion: scorer.info.version, judged: 3, correct: 2, accuracy: 2 / 3 });
    expect(c.accuracy.confusion.negative).toMatchObject({ negative: 2, neutral: 1 });
    expect(digestText(c)).toContain(`${scorer.info.version} 67 % (95 % CI 21–94 %, 3 judged)`);
    // The day before saw none of them.
    expect((await digests.digestFor('Southwest', '2015-02-20')).votes.received).toBe(0);
  });

  it('the 24 h chart, with the alert shaded: a PNG', async () => {
    const c = await digests.digestFor('Southwest', '2015-02-21');
    const png = c.chart!.png;
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([800, 360]);
    expect(c.chart!.title).toBe('Southwest: negative mentions on 2015-02-21');
  });
});

describe('quiet and empty days', () => {
  it('a quiet day says so in two lines, without a chart', async () => {
    const c = await digests.digestFor('Southwest', '2015-02-23');
    expect(c.kind).toBe('quiet');
    expect(c.alerts).toEqual([]);
    expect(c.chart).toBeUndefined();
    const { mentions } = await counted(c.day.from, c.day.to);
    const lines = digestText(c).split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('Southwest on Monday 23 February 2015 (UTC): a quiet day.');
    expect(lines[1]).toMatch(
      new RegExp(`^${mentions} mentions \\(usually about \\d+\\), \\d+ % negative \\(normally \\d+ %\\); no alert\\.$`),
    );
  });

  it('a day before the detector knows what is normal says that instead of a comparison', async () => {
    const c = await digests.digestFor('Southwest', '2015-02-19');
    expect(c.kind).toBe('quiet');
    expect(c.normal.status).toBe('learning');
    expect(digestText(c).split('\n')[1]).toMatch(
      /^\d+ mentions, \d+ % negative \(too little history yet to know what is normal\); no alert\.$/,
    );
  });

  it('a day without mentions is one line', async () => {
    const c = await digests.digestFor('Southwest', '2015-02-18');
    expect(c).toMatchObject({ kind: 'empty', mentions: 0, share: null, alerts: [] });
    expect(digestText(c)).toBe('Southwest on Wednesday 18 February 2015 (UTC): no mentions.');
  });
});

describe('the day in a time zone', () => {
  it('midnight to midnight in Dallas time', async () => {
    const chicago = new Digests({ store, streams: () => ['Southwest'], timeZone: 'America/Chicago' });
    const c = await chicago.digestFor('Southwest', '2015-02-21');
    expect(c.day).toMatchObject({ from: '2015-02-21T06:00:00.000Z', to: '2015-02-22T06:00:00.000Z' });
    expect(c.mentions).toBe((await counted(c.day.from, c.day.to)).mentions);
    expect(c.headline).toMatch(/^Southwest on Saturday 21 February 2015 \(America\/Chicago\): 1 alert/);
    expect(digestText(c)).toContain('(negative share, 00:00–24:00 America/Chicago)');
  });

  it('the chart is drawn on that clock too: midnight there, the date there', async () => {
    const inputs: TrendChartInput[] = [];
    const chicago = new Digests({
      store,
      streams: () => ['Southwest'],
      timeZone: 'America/Chicago',
      renderChart: (input) => (inputs.push(input), renderTrendChart(input)),
    });
    const c = await chicago.digestFor('Southwest', '2015-02-21');
    expect(c.chart!.title).toBe('Southwest: negative mentions on 2015-02-21 (America/Chicago)');
    const words = svgTexts(trendChartSvg(inputs[0])).map((t) => t.text);
    expect(words).toContain('stream: Southwest  ·  1 hour buckets  ·  times in America/Chicago');
    expect(words).toContain('Sat 21 Feb 2015');
    expect(words).not.toContain('Fri 20 Feb 2015');
    const axis = (trendChartOption(inputs[0]).option.xAxis as { axisLabel: { customValues: number[] } }).axisLabel;
    expect(axis.customValues[0]).toBe(Date.parse(c.day.from));
  });

  it('23 and 25 hour days when the clocks change; yesterday from an instant', () => {
    const spring = digestDay('2015-03-08', 'America/Los_Angeles');
    expect(spring).toEqual({
      date: '2015-03-08',
      timeZone: 'America/Los_Angeles',
      from: '2015-03-08T08:00:00.000Z',
      to: '2015-03-09T07:00:00.000Z',
    });
    const autumn = digestDay('2015-10-25', 'Europe/Paris');
    expect(Date.parse(autumn.to) - Date.parse(autumn.from)).toBe(25 * 3_600_000);
    expect(autumn.from).toBe('2015-10-24T22:00:00.000Z');
    expect(digestDay('2016-02-29', 'Asia/Kathmandu').from).toBe('2016-02-28T18:15:00.000Z');
    // 00:30 in Paris on the 22nd is still the 21st in UTC.
    expect(dayBefore(Date.parse('2015-02-21T23:30:00Z'), 'Europe/Paris').date).toBe('2015-02-21');
    expect(dayBefore(Date.parse('2015-02-21T23:30:00Z'), 'UTC').date).toBe('2015-02-20');
  });

  it('a date or a zone that is not one is refused, saying what is expected', () => {
    expect(() => digestDay('2015-02-30', 'UTC')).toThrow(
      new DigestDayError('"2015-02-30" is not a date; expected YYYY-MM-DD, e.g. 2015-02-21'),
    );
    expect(() => digestDay('2015-02-21', 'Mars/Olympus')).toThrow(
      /"Mars\/Olympus" is not a time zone; expected an IANA name/,
    );
  });
});

describe('what a chat command asks for', () => {
  it('a stream by name in any case, a date, or yesterday on the stream\u2019s data clock', async () => {
    const clocked = new Digests({
      store,
      streams: () => ['Southwest', 'Virgin America'],
      timeZone: 'UTC',
      clock: { status: async () => [{ stream: 'Southwest', at: '2015-02-22T09:15:00.000Z' }] },
      now: () => Date.parse('2026-03-01T08:00:00Z'),
    });
    expect((await digestsFor(clocked, 'southwest')).map((c) => [c.stream, c.day.date])).toEqual([
      ['Southwest', '2015-02-21'],
    ]);
    expect((await digestsFor(clocked, 'SOUTHWEST 2015-02-23')).map((c) => c.day.date)).toEqual(['2015-02-23']);
    // Every stream without a name; a stream never judged here: yesterday on the wall clock.
    expect((await digestsFor(clocked, '')).map((c) => [c.stream, c.day.date, c.kind])).toEqual([
      ['Southwest', '2015-02-21', 'notable'],
      ['Virgin America', '2026-02-28', 'empty'],
    ]);
    expect((await digestsFor(clocked, 'virgin america 2015-02-21'))[0].stream).toBe('Virgin America');
  });

  it('an unknown stream names the known ones; a bad date says what a date is', async () => {
    await expect(digestsFor(digests, 'Ryanair')).rejects.toThrow(
      new UnknownStreamError('Ryanair', ['Southwest', 'Delta']),
    );
    await expect(digestsFor(digests, 'Ryanair')).rejects.toThrow(
      'no stream named "Ryanair"; the streams are Southwest, Delta',
    );
    await expect(digestsFor(digests, 'Southwest 2015-13-01')).rejects.toThrow(DigestDayError);
  });
});

describe('the schedule', () => {
  it('sends yesterday of every stream to every sink; a sink that fails is reported and keeps no other from it', async () => {
    const got: string[] = [];
    const schedule = new DigestSchedule({
      digests: new Digests({
        store,
        streams: () => ['Southwest'],
        timeZone: 'UTC',
        clock: { status: async () => [{ stream: 'Southwest', at: '2015-02-22T10:00:00.000Z' }] },
      }),
      sinks: [
        { name: 'broken', digest: async () => Promise.reject(new Error('the chat platform is down')) },
        { name: 'recorder', digest: async (c) => void got.push(`${c.stream} ${c.day.date} ${c.kind}`) },
      ],
      cron: '0 0 8 * * *',
      timeZone: 'UTC',
      isLeader: () => true,
    });
    expect(await schedule.runOnce()).toEqual({
      posted: [{ stream: 'Southwest', date: '2015-02-21', sink: 'recorder' }],
      failed: [{ stream: 'Southwest', date: '2015-02-21', sink: 'broken', error: 'the chat platform is down' }],
    });
    expect(got).toEqual(['Southwest 2015-02-21 notable']);
    await schedule.stop();
  });

  it('refuses a DIGEST_CRON that is not a cron expression', () => {
    expect(
      () => new DigestSchedule({ digests, sinks: [], cron: 'every morning', timeZone: 'UTC', isLeader: () => true }),
    ).toThrow('digest schedule: "every morning" is not a valid cron expression (DIGEST_CRON)');
  });
});

describe('the console', () => {
  it('prints a digest once per day, the tweets decoded, the chart written beside the alerts', async () => {
    const out = new PassThrough();
    let printed = '';
    out.on('data', (d: Buffer) => (printed += d.toString()));
    const sink = new ConsoleDigestSink({ chartDir: join(dir, 'charts'), out, width: 100, store });
    const c = await digests.digestFor('Southwest', '2015-02-21');
    await sink.digest(c);
    await sink.digest(c); // a run twice, or a restart: printed once
    expect(printed.match(/\[digest\] Southwest on Saturday 21 February 2015 \(UTC\): 1 alert/g)).toHaveLength(1);
    expect(printed).toContain('ago & didn'); // the tweet's `&amp;` decoded once
    const chart = join(dir, 'charts', 'Southwest-digest-2015-02-21.png');
    expect(printed).toContain(`Chart: ${chart}`);
    expect(existsSync(chart)).toBe(true);
    for (const line of printed.split('\n')) expect([...line].length).toBeLessThanOrEqual(100);
  });
});

describe('docs/digest.md', () => {
  /** The fenced block after `<!-- digest-example: <stream> <date> -->` in docs/digest.md. */
  const documented = (stream: string, date: string) => {
    const page = readFileSync(join(__dirname, '../../docs/digest.md'), 'utf8');
    const at = page.indexOf(`<!-- digest-example: ${stream} ${date} -->`);
    expect(at).toBeGreaterThanOrEqual(0);
    return /```text\n([\s\S]*?)\n```/.exec(page.slice(at))![1];
  };

  // Made by the code: after the votes and the acknowledgement above, the digests of the replayed days.
  // WRITE_DIGEST_EXAMPLES=<file> writes them there, to paste into the page when the content changes. As the chat
  // adapters and the console show it: the tweets decoded once.
  it('shows what the code makes of the replayed days', async () => {
    const examples: string[] = [];
    for (const date of ['2015-02-21', '2015-02-23', '2015-02-18']) {
      const text = digestText(digestForChat(await digests.digestFor('Southwest', date)));
      examples.push(`<!-- digest-example: Southwest ${date} -->\n\`\`\`text\n${text}\n\`\`\``);
      if (!process.env.WRITE_DIGEST_EXAMPLES) expect(documented('Southwest', date)).toBe(text);
    }
    if (process.env.WRITE_DIGEST_EXAMPLES) writeFileSync(process.env.WRITE_DIGEST_EXAMPLES, examples.join('\n\n'));
  });
});
