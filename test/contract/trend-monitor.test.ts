/**
 * The trend monitor over a real SQLite file, across restarts: an alert opened before a restart is neither
 * forgotten nor opened again after it, boundaries already judged are not judged again, a poll stored but
 * never handed to the monitor (a crash) still counts, late mentions read after a restart are judged again
 * (the alert opens at the data time it would have without lag, once), a snooze survives, and a message a
 * sink could not take is sent again — to that sink only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScoredMention } from '../../src/mentions/types';
import { openStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';
import type { AlertContent } from '../../src/trends/content';
import { TrendMonitor, type TrendAlertData } from '../../src/trends/monitor';
import { DEFAULT_TREND_SETTINGS } from '../../src/trends/settings';
import type { ChatSink } from '../../src/trends/sink';
import type { Observation } from '../../src/trends/stream-detector';
import { H, T0, batches, synth } from '../helpers/synthetic-stream';

const STREAM = 'AirParadis';
const NEGATIVE = [
  'three hours on the tarmac and nobody tells us anything',
  'my bag is lost again, the worst airline',
  'flight cancelled and the phone line is on hold forever',
];
const OTHER = ['thanks for the smooth flight today', 'boarding now, see you in Paris', 'the crew was lovely'];

function scored(obs: Observation[], offset = 0): ScoredMention[] {
  return obs.map((o, i) => {
    const p = o.negative ? 0.9 : 0.05;
    return {
      id: String(600_000_000_000_000_000n + BigInt(offset + i)),
      stream: STREAM,
      createdAt: new Date(o.time).toISOString(),
      text: (o.negative ? NEGATIVE : OTHER)[i % 3],
      prediction: {
        label: o.negative ? 'negative' : 'positive',
        confidence: o.negative ? p : 0.9,
        probabilities: { negative: p, neutral: 0.05, positive: 0.95 - p },
        modelVersion: 'fixture',
      },
    };
  });
}

// Three normal days at 40 %, then 6 h at 80 %, then calm again.
const spike = (h: number) => h >= 72 && h < 78;
const ALL = scored(
  synth({ hours: 5 * 24, perHour: (h) => (spike(h) ? 40 : 20), share: (h) => (spike(h) ? 0.8 : 0.4) }),
);
const BATCHES = [...batches(ALL, 40)];

class Recorder implements ChatSink {
  readonly messages: Array<{ kind: string; content: AlertContent }> = [];
  failNext = 0;
  constructor(readonly name = 'recorder') {}
  private take(kind: string, content: AlertContent): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.reject(new Error(`${this.name} is down`));
    }
    this.messages.push({ kind, content });
    return Promise.resolve();
  }
  alertOpened(c: AlertContent) {
    return this.take('opened', c);
  }
  alertUpdated(c: AlertContent) {
    return this.take('updated', c);
  }
  alertResolved(c: AlertContent) {
    return this.take('resolved', c);
  }
  kinds(): string[] {
    return this.messages.map((m) => m.kind);
  }
}

const dirs: string[] = [];
function dbPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-trends-'));
  dirs.push(dir);
  return join(dir, 'sentinel.db');
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** What the poller does: store the batch, then hand it to the monitor. */
async function feed(store: Store, monitor: TrendMonitor | null, batch: ScoredMention[]): Promise<void> {
  await store.saveMentions(batch);
  if (monitor) await monitor.onScored(STREAM, batch);
}

const monitorOn = (store: Store, sinks: ChatSink[]) => new TrendMonitor({ store, sinks, renderChart: null });

async function continuousRun() {
  const store = await openStore({ sqlitePath: dbPath() });
  const sink = new Recorder();
  const monitor = monitorOn(store, [sink]);
  for (const b of BATCHES) await feed(store, monitor, b);
  const alerts = await store.listAlerts(STREAM);
  await store.close();
  return { alerts, sink };
}

it('one continuous run: one alert, opened, updated, resolved, with its figures stored', async () => {
  const { alerts, sink } = await continuousRun();
  expect(alerts).toHaveLength(1);
  const [a] = alerts;
  expect(a).toMatchObject({ stream: STREAM, state: 'resolved', id: `${STREAM}@${a.openedAt}` });
  const data = a.data as unknown as TrendAlertData;
  expect(data.opened.share).toBeGreaterThan(0.6);
  expect(data.opened.baseline).toBeGreaterThan(0.3);
  expect(data.opened.baseline).toBeLessThan(0.5);
  expect(data.peak.share).toBeGreaterThan(0.7);
  expect(data.resolution!.durationMinutes).toBeGreaterThan(6 * 60);
  expect(data.outbox).toBeUndefined(); // everything delivered
  expect(sink.kinds()[0]).toBe('opened');
  expect(sink.kinds().at(-1)).toBe('resolved');
  expect(sink.kinds().filter((k) => k === 'opened')).toHaveLength(1);
});

it('a restart in the middle of the alert neither forgets it nor opens it again (and a lost poll still counts)', async () => {
  const reference = await continuousRun();
  const path = dbPath();
  const before = new Recorder();
  let store = await openStore({ sqlitePath: path });
  let monitor = monitorOn(store, [before]);
  // Up to two hours into the spike; the last poll is stored but the process dies before the monitor sees it.
  const cut = BATCHES.findIndex((b) => Date.parse(b[0].createdAt) >= T0 + 74 * H);
  for (const b of BATCHES.slice(0, cut)) await feed(store, monitor, b);
  await feed(store, null, BATCHES[cut]);
  expect(before.kinds()).toContain('opened');
  const open = await store.openAlert(STREAM);
  expect(open).not.toBeNull();
  await store.close();

  const after = new Recorder();
  store = await openStore({ sqlitePath: path });
  monitor = monitorOn(store, [after]);
  for (const b of BATCHES.slice(cut + 1)) await feed(store, monitor, b);
  expect(after.kinds()).not.toContain('opened');
  expect(after.kinds().at(-1)).toBe('resolved');
  const alerts = await store.listAlerts(STREAM);
  expect(alerts).toHaveLength(1);
  expect(alerts[0].id).toBe(open!.id);
  // The restart changed nothing: same opening, same resolution, same peak as without it.
  const ref = reference.alerts[0];
  expect(alerts[0]).toMatchObject({ openedAt: ref.openedAt, resolvedAt: ref.resolvedAt, state: 'resolved' });
  expect((alerts[0].data as unknown as TrendAlertData).peak).toEqual((ref.data as unknown as TrendAlertData).peak);
  expect([...before.kinds(), ...after.kinds()]).toEqual(reference.sink.kinds());
  await store.close();
});

describe('the scan, with probabilistic estimates (TREND_SCAN_MINUTES, TREND_PREVALENCE=pcc)', () => {
  const SCAN = {
    ...DEFAULT_TREND_SETTINGS,
    scanMinutes: 720,
    prevalence: 'pcc' as const,
    dispersion: 1.2,
    // A look-back short enough that what a restart reads back depends on the scan's 12 h, not the 3 h window.
    longWindowMinutes: 0,
    baselineLookbackHours: 30,
  };
  const scanOn = (store: Store, sinks: ChatSink[]) =>
    new TrendMonitor({
      store,
      sinks,
      renderChart: null,
      settings: SCAN,
      estimate: (m) => m.prediction!.probabilities.negative,
    });

  async function run(cut?: number) {
    const path = dbPath();
    const sinks = [new Recorder(), new Recorder()];
    let store = await openStore({ sqlitePath: path });
    let monitor = scanOn(store, [sinks[0]]);
    for (const [i, b] of BATCHES.entries()) {
      if (i === cut) {
        await store.close();
        store = await openStore({ sqlitePath: path });
        monitor = scanOn(store, [sinks[1]]);
      }
      await feed(store, monitor, b);
    }
    const alerts = await store.listAlerts(STREAM);
    await store.close();
    return { alerts, kinds: sinks.flatMap((r) => r.kinds()), opened: sinks[0].messages[0]?.content };
  }

  it('opens earlier than the fixed windows, says why, and a restart in the middle changes nothing', async () => {
    const windows = await continuousRun();
    const scan = await run();
    expect(scan.alerts).toHaveLength(1);
    expect(Date.parse(scan.alerts[0].openedAt)).toBeLessThan(Date.parse(windows.alerts[0].openedAt));
    expect(scan.opened?.why?.signal).toMatch(/^share( and volume)?$/);
    expect(scan.opened?.why?.sure).toMatch(/^evidence \d+\.\d for a threshold of 7:/);
    // Restarted two hours into the spike: the history read back holds what the scan's baseline needs.
    const cut = BATCHES.findIndex((b) => Date.parse(b[0].createdAt) >= T0 + 74 * H);
    const restarted = await run(cut);
    expect(restarted.alerts).toHaveLength(1);
    expect(restarted.alerts[0]).toMatchObject({
      openedAt: scan.alerts[0].openedAt,
      resolvedAt: scan.alerts[0].resolvedAt,
      state: 'resolved',
    });
    expect(restarted.kinds).toEqual(scan.kinds);
  });
});

describe('late mentions across a restart (a replica taking over reads the gap the other left)', () => {
  // The first 1.5 h of the spike, left behind by a capped poll (X reads newest first).
  const inGap = (m: ScoredMention) => Date.parse(m.createdAt) >= T0 + 72 * H && Date.parse(m.createdAt) < T0 + 73.5 * H;
  const GAP = ALL.filter(inGap);
  const AHEAD = [
    ...batches(
      ALL.filter((m) => !inGap(m)),
      40,
    ),
  ];
  const cut = AHEAD.findIndex((b) => Date.parse(b[0].createdAt) >= T0 + 75 * H);

  let referenceRun: ReturnType<typeof continuousRun> | undefined;
  async function check(path: string, before: Recorder, after: Recorder) {
    const reference = await (referenceRun ??= continuousRun());
    const store = await openStore({ sqlitePath: path });
    const alerts = await store.listAlerts(STREAM);
    await store.close();
    const ref = reference.alerts[0];
    // One alert, opened and resolved at the data time of the run without lag, said opened once and first.
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ openedAt: ref.openedAt, resolvedAt: ref.resolvedAt, state: 'resolved' });
    const kinds = [...before.kinds(), ...after.kinds()];
    expect(kinds.filter((k) => k === 'opened')).toHaveLength(1);
    expect(kinds[0]).toBe('opened');
    expect(kinds.at(-1)).toBe('resolved');
    return alerts[0];
  }

  it('handed to the new process: counted into their buckets and judged again', async () => {
    const path = dbPath();
    const before = new Recorder();
    let store = await openStore({ sqlitePath: path });
    let monitor = monitorOn(store, [before]);
    for (const b of AHEAD.slice(0, cut)) await feed(store, monitor, b);
    await store.close();

    const after = new Recorder();
    store = await openStore({ sqlitePath: path });
    monitor = monitorOn(store, [after]);
    await feed(store, monitor, GAP);
    for (const b of AHEAD.slice(cut)) await feed(store, monitor, b);
    await store.close();
    await check(path, before, after);
  });

  it('stored by a process that died before judging them: judged again at the restart', async () => {
    const path = dbPath();
    const before = new Recorder();
    let store = await openStore({ sqlitePath: path });
    let monitor = monitorOn(store, [before]);
    for (const b of AHEAD.slice(0, cut)) await feed(store, monitor, b);
    const opened = before.kinds().includes('opened'); // said on partial data, or not yet
    await feed(store, null, GAP); // stored, then the process dies before the monitor sees them
    await store.close();

    const after = new Recorder();
    store = await openStore({ sqlitePath: path });
    monitor = monitorOn(store, [after]);
    for (const b of AHEAD.slice(cut)) await feed(store, monitor, b);
    await store.close();
    const alert = await check(path, before, after);
    // An opening said before the gap was known keeps its id and says where it moved from.
    const data = alert.data as unknown as TrendAlertData;
    if (opened) expect(data.redatedFrom).toBe(alert.id.slice(STREAM.length + 1));
    else expect(alert.id).toBe(`${STREAM}@${alert.openedAt}`);
  });
});

it('a snooze survives a restart and holds the alert back until it expires', async () => {
  const path = dbPath();
  let store = await openStore({ sqlitePath: path });
  let monitor = monitorOn(store, []);
  for (const b of BATCHES.slice(0, 10)) await feed(store, monitor, b);
  const until = new Date(T0 + 80 * H);
  await monitor.snooze(STREAM, until);
  await store.close();

  store = await openStore({ sqlitePath: path });
  const sink = new Recorder();
  monitor = monitorOn(store, [sink]);
  expect(await monitor.snoozedUntil(STREAM)).toBe(until.toISOString());
  for (const b of BATCHES.slice(10)) await feed(store, monitor, b);
  const alerts = await store.listAlerts(STREAM);
  // The spike (72–78 h) fell in the snooze: nothing opened during it; its excess, still in the 12 h
  // window, opens the alert when the snooze expires.
  expect(alerts.map((a) => a.openedAt)).toEqual([until.toISOString()]);
  expect(sink.kinds()[0]).toBe('opened');
  expect((await monitor.status())[0]).toMatchObject({ stream: STREAM, snoozedUntil: until.toISOString() });
  await monitor.unsnooze(STREAM);
  expect(await monitor.snoozedUntil(STREAM)).toBeNull();
  await store.close();
});

it('a message a sink could not take is sent again at the next poll, to that sink only, in order', async () => {
  const store = await openStore({ sqlitePath: dbPath() });
  const flaky = new Recorder('flaky');
  const steady = new Recorder('steady');
  flaky.failNext = 1; // down for the opening
  const monitor = monitorOn(store, [flaky, steady]);
  let pendingSeen = false;
  for (const b of BATCHES) {
    await feed(store, monitor, b);
    const open = await store.openAlert(STREAM);
    const outbox = (open?.data as unknown as TrendAlertData | undefined)?.outbox;
    if (outbox?.length) {
      pendingSeen = true;
      expect(outbox[0]).toMatchObject({ kind: 'opened', sinks: ['flaky'] });
    }
  }
  expect(pendingSeen).toBe(true);
  expect(steady.kinds().filter((k) => k === 'opened')).toHaveLength(1);
  expect(flaky.kinds()).toEqual(steady.kinds()); // the same messages, in the same order, each once
  expect((await store.listAlerts(STREAM)).every((a) => !(a.data as unknown as TrendAlertData).outbox)).toBe(true);
  await store.close();
});

describe('mentions the model cannot read: stored, never counted', () => {
  // A flood of "mentions" that say nothing (only the handle, a link, invisible characters…), which a
  // model scores with its prior: labelled negative here, so that counting them would surely alert.
  const NOTHING = ['@AirParadis', '@AirParadis https://t.co/x', '\u200b\u200b', '@'.repeat(50), '\u2800', '!!!'];
  const calm = scored(synth({ hours: 4 * 24, perHour: () => 20, share: () => 0.4 }));
  const flood = (flag: boolean, readable = false) =>
    scored(synth({ hours: 6, start: T0 + 72 * H, perHour: () => 40, share: () => 1, seed: 2 }), 1_000_000).map(
      (m, i) => ({
        ...m,
        text: readable ? m.text : NOTHING[i % NOTHING.length],
        ...(flag ? { unreadable: readable ? null : 'only mentions' } : {}),
      }),
    );
  const merged = (extra: ScoredMention[]) =>
    [...calm, ...extra].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));

  async function run(stream: ScoredMention[], restartAt?: number) {
    const path = dbPath();
    let store = await openStore({ sqlitePath: path });
    let monitor = monitorOn(store, []);
    const all = [...batches(stream, 40)];
    for (const [i, b] of all.entries()) {
      if (i === restartAt) {
        await store.close();
        store = await openStore({ sqlitePath: path });
        monitor = monitorOn(store, []);
      }
      await feed(store, monitor, b);
    }
    const result = { alerts: await store.listAlerts(STREAM), stored: await store.countMentions(STREAM) };
    await store.close();
    return result;
  }

  it('counted, the flood would open an alert (the control)', async () => {
    const { alerts } = await run(merged(flood(true, true)));
    expect(alerts).toHaveLength(1);
  });

  it('flagged by the poller (ScoredMention.unreadable): stored, no alert', async () => {
    const stream = merged(flood(true));
    const { alerts, stored } = await run(stream);
    expect(stored).toBe(stream.length);
    expect(alerts).toEqual([]);
  });

  it('read back from the store after a restart in the middle of the flood (no flag kept): still not counted', async () => {
    const stream = merged(flood(true));
    const restartAt = [...batches(stream, 40)].findIndex((b) => Date.parse(b[0].createdAt) >= T0 + 75 * H);
    const { alerts, stored } = await run(stream, restartAt);
    expect(stored).toBe(stream.length);
    expect(alerts).toEqual([]);
  });

  it('with no flag at all, the model-free check leaves them out; a given check is asked instead', async () => {
    expect((await run(merged(flood(false)))).alerts).toEqual([]);
    const store = await openStore({ sqlitePath: dbPath() });
    const asked: string[] = [];
    const monitor = new TrendMonitor({
      store,
      renderChart: null,
      unreadable: (text) => (asked.push(text), 'no words the model knows'),
    });
    const batch = calm.slice(0, 40);
    await feed(store, monitor, batch);
    expect(asked).toEqual(batch.map((m) => m.text));
    expect(await monitor.status()).toEqual([]); // nothing counted: the stream has not even started learning
    expect(await store.countMentions(STREAM)).toBe(40);
    await store.close();
  });
});
