/**
 * The console adapter's wrapping: display columns (emoji and CJK are two), word wrap with a hanging indent,
 * URLs and paths never broken.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ConsoleSink } from '../../adapters/console/console-sink';
import { displayWidth, packParts, wrapLine, wrapText } from '../../adapters/console/wrap';

test('display width: emoji and CJK take two columns, colour codes none', () => {
  expect(displayWidth('abc')).toBe(3);
  expect(displayWidth('航班取消')).toBe(8);
  expect(displayWidth('😡')).toBe(2);
  expect(displayWidth('👨‍👩‍👧')).toBe(2); // one grapheme (ZWJ sequence)
  expect(displayWidth('\u001b[1;31mALERT\u001b[0m')).toBe(5);
  expect(displayWidth('café')).toBe(4);
});

test('word wrap: every line within the width, words whole, the hanging indent kept', () => {
  const line =
    'Negative share   79 % in the last 3 h vs 43 % normally (+36.2 points, p = 0.00052) and then some more words';
  const lines = wrapLine(line, 40);
  expect(lines.every((l) => displayWidth(l) <= 40)).toBe(true);
  expect(lines[0]).toBe('Negative share   79 % in the last 3 h vs');
  expect(lines.slice(1).every((l) => l.startsWith(' '.repeat(17)) && l[17] !== ' ')).toBe(true);
  expect(lines.map((l) => l.trim()).join(' ')).toBe(line);
  expect(wrapLine('short', 40)).toEqual(['short']); // a line that fits is left alone
  expect(wrapText('a\n\nb', 40)).toEqual(['a', '', 'b']);
});

test('wide characters: emoji and CJK are measured as two columns', () => {
  const tweet = `   97 %  ${'航班取消了，客服电话一直占线 😡 '.repeat(6)}`;
  const lines = wrapLine(tweet, 40);
  expect(lines.length).toBeGreaterThan(4);
  for (const l of lines) expect(displayWidth(l)).toBeLessThanOrEqual(40);
  expect(lines.slice(1).every((l) => l.startsWith(' '.repeat(9)))).toBe(true);
});

test('URLs and paths are never broken: one that does not fit gets a line of its own', () => {
  const url = 'https://x.com/i/web/status/569127429702348800';
  const lines = wrapLine(`   100 %  on hold for an hour and nobody answers, see ${url}`, 50);
  expect(lines).toEqual(['   100 %  on hold for an hour and nobody answers,', '          see', `          ${url}`]);
  // Longer than the whole width: left whole, alone on its line (a terminal keeps it clickable).
  const long = `https://example.com/${'a'.repeat(80)}`;
  expect(wrapLine(`see ${long} then`, 40)).toEqual(['see', long, 'then']);
  const path = `/tmp/${'d'.repeat(40)}/alerts/southwest-20150221T154500Z-opened.png`;
  expect(wrapLine(`Chart (last 24 h): ${path}`, 60, 2)).toEqual(['Chart (last 24 h):', `  ${path}`]);
  // Any other word longer than a line is cut to fit.
  const cut = wrapLine(`x ${'y'.repeat(100)}`, 40);
  expect(cut.every((l) => displayWidth(l) <= 40)).toBe(true);
  expect(cut.join('')).toBe(`x${'y'.repeat(100)}`);
});

test('a lone mark stays with its word; parts are packed between separators first', () => {
  expect(wrapLine('one two three four five six seven waitin …', 39)).toEqual([
    'one two three four five six seven',
    'waitin …',
  ]);
  expect(
    packParts(['ALERT', 'Southwest', '2015-02-21 15:45 UTC (data time)', 'Southwest@2015-02-21T15:45:00.000Z'], 78),
  ).toEqual(['ALERT · Southwest · 2015-02-21 15:45 UTC (data time)', 'Southwest@2015-02-21T15:45:00.000Z']);
});

test('the console sink: notices wrapped under their text, within the width', async () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  const sink = new ConsoleSink({
    chartDir: join(mkdtempSync(join(tmpdir(), 'sentinel-wrap-')), 'alerts'),
    out,
    colour: false,
  });
  await sink.streamNotice({
    stream: 'Southwest',
    kind: 'learning',
    at: '2015-02-19T08:15:00.000Z',
    message:
      'Southwest: no alerts yet, too little history to know what is normal: 0.0 h of history, 24 h needed; 0 mention(s) of history, 150 needed',
  });
  await sink.opsNotice(
    'the model could not be hydrated from gs://sentinel-models/sentinel-bilstm/20261125 — serving the previous version',
  );
  const lines = text.trimEnd().split('\n');
  expect(lines[0]).toBe('[sentinel] … Southwest: no alerts yet, too little history to know what is');
  expect(lines[1]).toBe('             normal: 0.0 h of history, 24 h needed; 0 mention(s) of history, 150');
  for (const l of lines) expect(displayWidth(l)).toBeLessThanOrEqual(80);
  expect(
    lines.some(
      (l) =>
        l.trim() === 'gs://sentinel-models/sentinel-bilstm/20261125' ||
        l.includes(' gs://sentinel-models/sentinel-bilstm/20261125'),
    ),
  ).toBe(true);
});
