/**
 * The CSV replay source on real rows of ../shared/data/airline_stream.csv (test/fixtures), plus a file
 * of real rows with malformed ones mixed in for the bad-input cases.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { createLogger } from '../../src/log';
import { ReplaySource } from '../../src/mentions/replay-source';
import type { Mention } from '../../src/mentions/types';

const SAMPLE = join(__dirname, '../fixtures/airline_stream_sample.csv');
const BAD = join(__dirname, '../fixtures/airline_stream_bad.csv');
const ROWS: Array<Record<string, string>> = parse(readFileSync(SAMPLE), { columns: true, bom: true });

function rowsOf(airline: string) {
  return ROWS.filter((r) => r.airline === airline);
}

async function drain(src: ReplaySource, stream: string, checkpoint: string | null = null): Promise<Mention[][]> {
  const chunks: Mention[][] = [];
  for (;;) {
    const r = await src.fetch(stream, checkpoint);
    if (r.mentions.length === 0) {
      expect(r.checkpoint).toBe(checkpoint);
      return chunks;
    }
    chunks.push(r.mentions);
    checkpoint = r.checkpoint;
  }
}

function tmpCsv(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sentinel-replay-')), 'stream.csv');
  writeFileSync(path, content);
  return path;
}

function captureLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { logger: createLogger('info', { stream }), lines };
}

describe('replay as fast as possible', () => {
  test('streams by airline, oldest first, in chunks, ids as strings, labels kept', async () => {
    const src = new ReplaySource({ path: SAMPLE, chunkSize: 7 });
    expect(src.allStreams().sort()).toEqual(['Delta', 'United', 'Virgin America']);
    expect(src.stats).toMatchObject({
      rows: ROWS.length,
      accepted: ROWS.length,
      skipped: 0,
      ignoredColumns: ['negative_reason'],
    });

    const delta = rowsOf('Delta');
    const chunks = await drain(src, 'Delta');
    expect(chunks.map((c) => c.length)).toEqual([7, 7, 7].concat(delta.length - 21 > 0 ? [delta.length - 21] : []));
    const all = chunks.flat();
    expect(all.map((m) => m.id)).toEqual(delta.map((r) => r.tweet_id));
    expect(all.every((m) => typeof m.id === 'string' && m.stream === 'Delta')).toBe(true);
    const times = all.map((m) => Date.parse(m.createdAt));
    expect(times).toEqual([...times].sort((a, b) => a - b));

    const first = all[0];
    expect(first).toEqual({
      id: delta[0].tweet_id,
      stream: 'Delta',
      createdAt: new Date(delta[0].created_at).toISOString(),
      text: delta[0].text,
      ...(delta[0].label ? { humanLabel: delta[0].label } : {}),
    });
    // Unlabelled rows (the private 15 %) have no humanLabel; texts with newlines come whole.
    expect(all.filter((m) => m.humanLabel === undefined).length).toBe(delta.filter((r) => r.label === '').length);
    const multiline = delta.find((r) => r.text.includes('\n'))!;
    expect(all.find((m) => m.id === multiline.tweet_id)!.text).toBe(multiline.text);
  });

  test('the checkpoint (last tweet id emitted) resumes exactly after it; remaining() counts what is left', async () => {
    const src = new ReplaySource({ path: SAMPLE, chunkSize: 5 });
    const united = rowsOf('United');
    const a = await src.fetch('United', null);
    expect(a.checkpoint).toBe(united[4].tweet_id);
    expect(src.remaining('United', a.checkpoint)).toBe(united.length - 5);
    // A new source (a restart) resumes from the stored checkpoint.
    const again = new ReplaySource({ path: SAMPLE, chunkSize: 5 });
    const b = await again.fetch('United', a.checkpoint);
    expect(b.mentions.map((m) => m.id)).toEqual(united.slice(5, 10).map((r) => r.tweet_id));
    await expect(src.fetch('United', '123')).rejects.toThrow(
      'replay: checkpoint "123" is not a tweet id of stream "United" in',
    );
    await expect(src.fetch('Qantas', null)).rejects.toThrow(/no stream "Qantas" in .*\(streams: /);
  });

  test('rows out of order in the file come out sorted by created_at', async () => {
    const delta = rowsOf('Delta').slice(0, 6);
    const shuffled = [delta[5], delta[0], delta[3], delta[1], delta[4], delta[2]];
    const quote = (f: string) => `"${f.replace(/"/g, '""')}"`;
    const csv = [
      'tweet_id,created_at,text',
      ...shuffled.map((r) => [r.tweet_id, r.created_at, r.text].map(quote).join(',')),
    ].join('\n');
    const src = new ReplaySource({ path: tmpCsv(csv), defaultStream: 'Delta' });
    const out = (await drain(src, 'Delta')).flat();
    expect(out.map((m) => m.id)).toEqual(delta.map((r) => r.tweet_id));
  });

  test('a file without an airline column is one stream (defaultStream)', async () => {
    const csv = [
      'tweet_id,created_at,text',
      ...rowsOf('Delta')
        .slice(0, 3)
        .map((r) => `${r.tweet_id},${r.created_at},"${r.text.replace(/"/g, '""')}"`),
    ].join('\n');
    const src = new ReplaySource({ path: tmpCsv(csv), defaultStream: 'AirParadis' });
    expect(src.allStreams()).toEqual(['AirParadis']);
    expect((await src.fetch('AirParadis', null)).mentions.map((m) => m.id)).toEqual(
      rowsOf('Delta')
        .slice(0, 3)
        .map((r) => r.tweet_id),
    );
  });
});

describe('replay at N× real time', () => {
  test('emits the rows whose timestamp is at most start + elapsed × speed', async () => {
    const delta = rowsOf('Delta');
    const t0 = Math.min(...ROWS.map((r) => Date.parse(r.created_at)));
    let now = 1_000_000;
    const src = new ReplaySource({ path: SAMPLE, speed: 60, clock: { now: () => now } });
    const due = (elapsedMs: number) =>
      delta.filter((r) => Date.parse(r.created_at) <= t0 + elapsedMs * 60).map((r) => r.tweet_id);

    let cp: string | null = null;
    const emitted: string[] = [];
    for (const elapsed of [0, 60_000, 5 * 60_000, 30 * 60_000, 120 * 60_000, 24 * 3600_000]) {
      now = 1_000_000 + elapsed;
      const r = await src.fetch('Delta', cp);
      emitted.push(...r.mentions.map((m) => m.id));
      cp = r.checkpoint;
      expect(emitted).toEqual(due(elapsed));
    }
    expect(emitted).toEqual(delta.map((r) => r.tweet_id));
  });

  test('a restarted replay resumes the clock at the checkpoint', async () => {
    const delta = rowsOf('Delta');
    let now = 0;
    const src = new ReplaySource({ path: SAMPLE, speed: 1, clock: { now: () => now } });
    const cp = delta[9].tweet_id;
    expect((await src.fetch('Delta', cp)).mentions).toEqual([]);
    now = Date.parse(delta[10].created_at) - Date.parse(delta[9].created_at);
    expect((await src.fetch('Delta', cp)).mentions.map((m) => m.id)).toEqual([delta[10].tweet_id]);
  });
});

describe('bad input', () => {
  test('malformed rows are skipped with a warning naming the row and the reason, and counted', async () => {
    const { logger, lines } = captureLogger();
    const src = new ReplaySource({ path: BAD, maxTextChars: 500, logger });
    const expected = [
      {
        row: 2,
        reason: '5 field(s), expected 7 (tweet_id, label, negative_reason, airline, created_at, text, retweet_count)',
      },
      { row: 4, reason: 'tweet_id is empty' },
      { row: 6, reason: 'tweet_id "56759x44987" is not a tweet id (digits only)' },
      {
        row: 8,
        reason: 'created_at "yesterday" is not an ISO-8601 date with a time zone (e.g. 2015-02-24T11:35:52-08:00)',
      },
      {
        row: 10,
        reason:
          'created_at "2015-02-30T10:00:00-08:00" is not an ISO-8601 date with a time zone (e.g. 2015-02-24T11:35:52-08:00)',
      },
      { row: 12, reason: 'text is empty' },
      { row: 14, reason: 'label "furious" is not one of negative, neutral, positive (or empty)' },
      { row: 16, reason: 'airline (the stream) is empty' },
      {
        row: 18,
        reason:
          'created_at "2015-02-17 10:00:00" is not an ISO-8601 date with a time zone (e.g. 2015-02-24T11:35:52-08:00)',
      },
      { row: 20, reason: expect.stringMatching(/^text has \d+ characters, over the limit of 500$/) },
      { row: 23, reason: expect.stringMatching(/^tweet_id \d+ already appears in row 1$/) },
    ];
    expect(src.stats.skippedRows.map(({ row, reason }) => ({ row, reason }))).toEqual(expected);
    expect(src.stats).toMatchObject({
      rows: 23,
      accepted: 12,
      skipped: 11,
      ignoredColumns: ['negative_reason', 'retweet_count'],
    });
    // Single-line rows: row n starts on line n + 1 (the header is line 1).
    expect(src.stats.skippedRows.every((s) => s.line === s.row + 1)).toBe(true);
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(11);
    expect(warnings[0].msg).toBe(`replay: ${BAD} row 2 (line 3) skipped: ${expected[0].reason}`);
    // The good rows all come through, in time order.
    const out = (await drain(src, 'Southwest')).flat();
    expect(out).toHaveLength(12);
    const t = out.map((m) => Date.parse(m.createdAt));
    expect(t).toEqual([...t].sort((a, b) => a - b));
  });

  test('a missing required column, an empty file, an unreadable CSV, a bad option: clear errors', () => {
    const noDate = ['tweet_id,airline,text', `${ROWS[0].tweet_id},Delta,hello`].join('\n');
    expect(() => new ReplaySource({ path: tmpCsv(noDate) })).toThrow(
      /lacks the required column\(s\) created_at \(header: tweet_id, airline, text; required: tweet_id, created_at, text\)/,
    );
    expect(() => new ReplaySource({ path: tmpCsv('') })).toThrow(
      /is empty \(expected a header row with tweet_id, created_at, text\)/,
    );
    const unclosed = `tweet_id,created_at,text\n${ROWS[0].tweet_id},${ROWS[0].created_at},"an unclosed quote\n`;
    expect(() => new ReplaySource({ path: tmpCsv(unclosed) })).toThrow(/is not a readable CSV file: .*quote/i);
    expect(() => new ReplaySource({ path: '/nonexistent/stream.csv' })).toThrow(
      'replay: /nonexistent/stream.csv does not exist',
    );
    expect(() => new ReplaySource({ path: tmpCsv('tweet_id,created_at,text,text\n') })).toThrow(
      /has the column "text" twice/,
    );
    expect(() => new ReplaySource({ path: SAMPLE, speed: 0 })).toThrow(
      'ReplaySource: speed must be > 0 or Infinity, got 0',
    );
    expect(() => new ReplaySource({ path: SAMPLE, chunkSize: 0 })).toThrow(/chunkSize must be a positive integer/);
  });
});
