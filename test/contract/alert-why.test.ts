/**
 * With the scan on (issue 16's opt-in: TREND_SCAN_MINUTES=720, TREND_PREVALENCE=pcc, TREND_DISPERSION=1.2),
 * the alert on the replayed bad-buzz day (the bundled sample of real Southwest tweets through the shipped
 * model, a SQLite file, the poller and the monitor) says why now and how sure — and each platform shows
 * it: Slack's headline blocks, the Teams card, the console's box, the plain text.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ConsoleSink } from '../../adapters/console/console-sink';
import { alertHeadline } from '../../adapters/slack/blocks';
import { alertCard } from '../../adapters/teams/cards';
import { Poller } from '../../src/mentions/poller';
import { ReplaySource } from '../../src/mentions/replay-source';
import { loadScorer } from '../../src/sentiment/load';
import { openStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';
import { alertText, type AlertContent } from '../../src/trends/content';
import { TrendMonitor } from '../../src/trends/monitor';
import { mentionEstimator } from '../../src/trends/prevalence';
import { DEFAULT_TREND_SETTINGS } from '../../src/trends/settings';

const SAMPLE = join(__dirname, '../../src/mentions/sample/airline-bad-buzz.csv');
const dir = mkdtempSync(join(tmpdir(), 'sentinel-why-'));
const messages: AlertContent[] = [];
let printed = '';
let store: Store;

beforeAll(async () => {
  const scorer = await loadScorer('models/sentinel-bilstm');
  store = await openStore({ sqlitePath: join(dir, 'sentinel.db') });
  const out = new PassThrough();
  out.on('data', (d: Buffer) => (printed += d.toString()));
  const settings = { ...DEFAULT_TREND_SETTINGS, scanMinutes: 720, prevalence: 'pcc' as const, dispersion: 1.2 };
  const monitor = new TrendMonitor({
    store,
    settings,
    renderChart: null,
    estimate: mentionEstimator('pcc', () => scorer.info),
    sinks: [
      {
        name: 'recorder',
        alertOpened: async (c) => void messages.push(c),
        alertUpdated: async (c) => void messages.push(c),
        alertResolved: async (c) => void messages.push(c),
      },
      new ConsoleSink({ chartDir: join(dir, 'alerts'), out, colour: false }),
    ],
  });
  const source = new ReplaySource({ path: SAMPLE, chunkSize: 100 });
  const poller = new Poller({ streams: [{ source, stream: 'Southwest' }], scorer, store, onScored: monitor.onScored });
  for (;;) {
    const [report] = await poller.pollOnce();
    if (source.remaining('Southwest', report.checkpoint) === 0) break;
  }
  await monitor.idle();
});

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('the scan opens the bad buzz and says why now (the signal) and how sure (the evidence against its threshold)', () => {
  const opened = messages.find((m) => m.kind === 'opened')!;
  expect(opened).toBeDefined();
  expect(opened.openedAt.slice(0, 10)).toBe('2015-02-21');
  expect(['share', 'share and volume']).toContain(opened.why!.signal);
  expect(opened.why!.now).toMatch(
    /^the share( and the volume)?: \d+ % negative over the last .+ against \d+ % normally/,
  );
  expect(opened.why!.sure).toMatch(
    /^evidence \d+(\.\d)? for a threshold of 7: these mentions are [\d,]+ times likelier/,
  );
  // The figures a person can check stay the window's.
  expect(opened.figures.negativeShare).toBeGreaterThan(opened.figures.baselineShare);
});

it('Slack, Teams, the console and the plain text all show it', () => {
  const { chart: _chart, ...opened } = messages.find((m) => m.kind === 'opened')!;
  const slack = JSON.stringify(alertHeadline(opened, { acks: [] }).blocks);
  expect(slack).toContain(`*Why now* ${opened.why!.now.replace(/&/g, '&amp;')}`);
  expect(slack).toContain('How sure: evidence');
  const teams = JSON.stringify(alertCard(opened, undefined, { real: 0, falseAlarm: 0 }));
  expect(teams).toContain('**Why now**');
  expect(teams).toContain('How sure: evidence');
  // The console's box, its wrapped lines joined again and its columns' padding collapsed.
  const oneLine = (s: string) => s.replace(/\n(?:│)? +/g, ' ').replace(/ {2,}/g, ' ');
  expect(oneLine(printed)).toContain(oneLine(`Why now ${opened.why!.now} How sure ${opened.why!.sure}`));
  expect(alertText({ ...opened })).toContain(`Why now          ${opened.why!.now}`);
});
