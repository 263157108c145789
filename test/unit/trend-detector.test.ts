/**
 * The trend detector on constructed streams (flat, spike, slow drift, flapping, too little history, low
 * volume), the statistics under it, and the alert state machine (cooldown, snooze, rate-limited updates).
 * Default settings throughout: the thresholds docs/alerts.md justifies.
 */
import { BucketSeries } from '../../src/trends/buckets';
import { ewmaBaseline } from '../../src/trends/baseline';
import { evaluate } from '../../src/trends/detector';
import { DEFAULT_TREND_SETTINGS, checkTrendSettings, type TrendSettings } from '../../src/trends/settings';
import { step, type StreamState } from '../../src/trends/state-machine';
import { excessTest, normalUpperTail } from '../../src/trends/stats';
import { decodeJournal, encodeJournal } from '../../src/trends/monitor';
import { REJUDGE_HOURS, StreamDetector, type DetectorEvent, type Observation } from '../../src/trends/stream-detector';
import { H, T0, batches, synth, type Shape } from '../helpers/synthetic-stream';

const S: TrendSettings = { ...DEFAULT_TREND_SETTINGS };

function runStream(shape: Shape, settings: TrendSettings = S) {
  const d = new StreamDetector('test', settings);
  const events: DetectorEvent[] = [];
  for (const b of batches(synth(shape))) events.push(...d.ingest(b));
  return {
    d,
    events,
    opened: events.filter((e) => e.action === 'open'),
    resolved: events.filter((e) => e.action === 'resolve'),
  };
}

describe('statistics', () => {
  it('gives the standard normal upper tail, far into it', () => {
    expect(normalUpperTail(0)).toBeCloseTo(0.5, 12);
    expect(normalUpperTail(1.6448536269514722)).toBeCloseTo(0.05, 10);
    expect(normalUpperTail(3.090232306167813)).toBeCloseTo(0.001, 10);
    expect(normalUpperTail(-1.959963984540054)).toBeCloseTo(0.975, 10);
    expect(normalUpperTail(6) / 9.865876450377e-10).toBeCloseTo(1, 6);
  });

  it('tests a share against the baseline one-sidedly, with overdispersion and the baseline’s own uncertainty', () => {
    // 48 of 80 (60 %) against 40 %: z = 0.2 / sqrt(0.24 / 80) = 3.65 with a known baseline and φ = 1.
    const exact = excessTest(48, 80, 0.4, Infinity, 1);
    expect(exact.z).toBeCloseTo(0.2 / Math.sqrt(0.24 / 80), 10);
    expect(exact.pValue).toBeCloseTo(normalUpperTail(exact.z), 12);
    // Overdispersion and an uncertain baseline both make the same excess less significant.
    expect(excessTest(48, 80, 0.4, Infinity, 2).pValue).toBeGreaterThan(exact.pValue);
    expect(excessTest(48, 80, 0.4, 200, 1).pValue).toBeGreaterThan(exact.pValue);
    // One-sided: a drop is not an alert.
    expect(excessTest(20, 80, 0.4, 1000, 2).pValue).toBeGreaterThan(0.5);
    expect(excessTest(0, 0, 0.4, 1000, 2)).toEqual({ z: 0, pValue: 1 });
  });

  it('learns the baseline as an exponentially weighted share, leaving alert periods out', () => {
    const series = new BucketSeries(15 * 60_000);
    // Two days ago: 100 mentions at 20 % negative; yesterday: 100 at 60 %.
    for (let i = 0; i < 100; i++) series.add(T0 + i * 60_000, i < 20);
    for (let i = 0; i < 100; i++) series.add(T0 + 24 * H + i * 60_000, i < 60);
    const end = T0 + 48 * H;
    const b = ewmaBaseline(series, { end, lookbackMs: 7 * 24 * H, halfLifeMs: 24 * H })!;
    // Weights ≈ 0.5 and 1 (half-life one day): (0.5·20 + 60) / (0.5·100 + 100) ≈ 0.467.
    expect(b.share).toBeGreaterThan(0.45);
    expect(b.share).toBeLessThan(0.48);
    expect(b.mentions).toBe(200);
    expect(b.effectiveN).toBeLessThan(200);
    expect(b.historyHours).toBeCloseTo(48, 5);
    const without = ewmaBaseline(series, {
      end,
      lookbackMs: 7 * 24 * H,
      halfLifeMs: 24 * H,
      exclude: [{ from: T0 + 24 * H, to: T0 + 30 * H }],
    })!;
    expect(without.share).toBeCloseTo(0.2, 2); // day one only (its buckets weigh a little differently)
  });

  it('rejects settings that do not hang together', () => {
    expect(() => checkTrendSettings({ ...S, windowMinutes: 100 })).toThrow(/whole number of buckets/);
    expect(() => checkTrendSettings({ ...S, sustainPValue: 0.0001 })).toThrow(/TREND_SUSTAIN_PVALUE/);
    expect(() => checkTrendSettings({ ...S, longWindowMinutes: 120 })).toThrow(/long window/);
  });
});

describe('the detector on constructed streams', () => {
  const quiet = { perHour: () => 20, share: () => 0.4 };

  it('flat: a week at a steady 40 % raises nothing (five seeds)', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const { events, d } = runStream({ hours: 7 * 24, ...quiet, seed });
      expect({ seed, events: events.length }).toEqual({ seed, events: 0 });
      expect(d.lastEvaluation!.status).toBe('normal');
      expect(d.lastEvaluation!.baseline!.share).toBeGreaterThan(0.35);
      expect(d.lastEvaluation!.baseline!.share).toBeLessThan(0.45);
    }
  });

  it('spike: three normal days, then 6 h at 75 % → one alert, opened early, resolved once it is over', () => {
    const spikeFrom = 72;
    const spikeTo = 78;
    const inSpike = (h: number) => h >= spikeFrom && h < spikeTo;
    const { opened, resolved, events } = runStream({
      hours: 5 * 24,
      perHour: (h) => (inSpike(h) ? 40 : 20),
      share: (h) => (inSpike(h) ? 0.75 : 0.4),
    });
    expect(opened).toHaveLength(1);
    expect(resolved).toHaveLength(1);
    const openedAt = opened[0].evaluation.at;
    expect(openedAt).toBeGreaterThan(T0 + spikeFrom * H);
    expect(openedAt).toBeLessThanOrEqual(T0 + (spikeFrom + 2) * H); // caught within 2 h
    const resolvedAt = resolved[0].evaluation.at;
    expect(resolvedAt).toBeGreaterThan(T0 + spikeTo * H);
    // At most the long window (12 h) plus the closing delay (90 min) after the end.
    expect(resolvedAt).toBeLessThanOrEqual(T0 + spikeTo * H + 12 * H + 2 * H);
    const peak = (resolved[0].before as Extract<StreamState, { phase: 'open' }>).peak;
    expect(peak.share).toBeGreaterThan(0.65);
    // Updates in between, each at least an hour after the previous message.
    const times = events.filter((e) => e.action !== 'resolve').map((e) => e.evaluation.at);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(60 * 60_000);
  });

  it('slow drift: 40 % → 60 % over eight days is followed by the baseline, not alerted; the same rise in 6 h is', () => {
    // Without sampling noise, so that only the drift is on trial (noise is the flat test's business).
    const hours = 8 * 24;
    const drift = runStream({ hours, perHour: () => 20, share: (h) => 0.4 + (0.2 * h) / hours, exact: true });
    expect(drift.events).toEqual([]);
    const last = drift.d.lastEvaluation!;
    expect(last.baseline!.share).toBeGreaterThan(0.5); // it moved with the stream…
    expect(last.share - last.baseline!.share).toBeLessThan(S.minLift); // …and stays within the minimum lift
    const fast = runStream({
      hours: 4 * 24,
      perHour: () => 20,
      share: (h) => (h < 72 ? 0.4 : Math.min(0.6, 0.4 + (0.2 * (h - 72)) / 6)),
      exact: true,
    });
    expect(fast.opened).toHaveLength(1);
  });

  it('flapping: bursts and lulls every 90 minutes for 12 h make one alert, not one per burst', () => {
    const burst = (h: number) => h >= 72 && h < 84 && Math.floor((h - 72) / 1.5) % 2 === 0;
    const shape = {
      hours: 5 * 24,
      perHour: (h: number) => (h >= 72 && h < 84 ? 40 : 20),
      share: (h: number) => (burst(h) ? 0.8 : 0.45),
    };
    const { opened, resolved } = runStream(shape);
    expect(opened).toHaveLength(1);
    expect(resolved).toHaveLength(1);
    expect(resolved[0].evaluation.at).toBeGreaterThan(T0 + 84 * H);
    // The same stream without hysteresis, closing delay nor cooldown (and a 1 h window) flaps.
    const bare = { ...S, windowMinutes: 60, longWindowMinutes: 0, sustainPValue: S.openPValue };
    expect(runStream(shape, { ...bare, closeAfterMinutes: 0, cooldownMinutes: 0 }).opened.length).toBeGreaterThan(2);
  });

  it('too little history: a new stream says so instead of guessing, then starts judging', () => {
    const d = new StreamDetector('new', S);
    // Its first 10 hours are already very negative: no alert, and the reason is given.
    const first = synth({ hours: 10, perHour: () => 30, share: () => 0.9 });
    const events = [...batches(first)].flatMap((b) => d.ingest(b));
    expect(events).toEqual([]);
    expect(d.lastEvaluation!.status).toBe('insufficient_history');
    expect(d.lastEvaluation!.reason).toMatch(/too little history.*h of history, 24 h needed/);
    // A day and a half later, with a normal stream, it judges.
    const later = synth({ start: T0 + 10 * H, hours: 36, perHour: () => 20, share: () => 0.4 });
    for (const b of batches(later)) d.ingest(b);
    expect(d.lastEvaluation!.status).toBe('normal');
  });

  it('low volume: a handful of mentions, all negative, is not enough to judge', () => {
    const d = new StreamDetector('quiet', S);
    for (const b of batches(synth({ hours: 72, ...quiet }))) d.ingest(b);
    // Then 8 mentions an hour (~24 per 3 h window, 40 needed), all negative: the short window is too
    // small to judge, and the long one is still mostly normal mentions.
    const events = d.ingest(synth({ start: T0 + 72 * H, hours: 3, perHour: () => 8, share: () => 1 }));
    expect(events).toEqual([]);
    expect(d.lastEvaluation!.windows[0].status).toBe('low_volume');
    expect(d.lastEvaluation!.windows[0].reason).toMatch(/^\d+ mention\(s\) in the last 180 min, 40 needed/);
  });

  it('needs the minimum lift and the floor, not only significance', () => {
    const series = new BucketSeries(15 * 60_000);
    // A long history at 10 %, then a window at 30 % with plenty of volume: significant, but under the floor.
    for (const o of synth({ hours: 72, perHour: () => 60, share: () => 0.1 })) series.add(o.time, o.negative);
    for (const o of synth({ start: T0 + 72 * H, hours: 3, perHour: () => 200, share: () => 0.3, seed: 9 }))
      series.add(o.time, o.negative);
    // The fixed windows' own rule (the scan off: they open alerts themselves).
    const ev = evaluate(series, T0 + 75 * H, { ...S, scanMinutes: 0 });
    expect(ev.windows[0].pValue).toBeLessThan(S.openPValue);
    expect(ev.windows[0].status).toBe('normal');
    expect(ev.windows[0].reason).toMatch(/floor/);
  });
});

describe('the alert state machine', () => {
  const at = (h: number) => T0 + h * H;
  const ev = (h: number, over: Partial<ReturnType<typeof evaluate>> = {}) => {
    const base = {
      at: at(h),
      windowStart: at(h - 3),
      windowMinutes: 180,
      total: 100,
      negative: 80,
      estimate: 80,
      share: 0.8,
      baseline: { share: 0.4, effectiveN: 900, mentions: 2000, historyHours: 72 },
      z: 5,
      pValue: 1e-6,
      status: 'elevated' as const,
      sustained: true,
      reason: '',
    };
    const e = { ...base, ...over };
    return { ...e, windows: [e] };
  };
  const calm = (h: number) =>
    ev(h, { share: 0.4, negative: 40, estimate: 40, z: 0, pValue: 0.5, status: 'normal', sustained: false });

  it('opens, holds through a short lull, resolves after closeAfterMinutes of calm, then cools down', () => {
    let s: StreamState = { phase: 'ok' };
    let r = step(s, ev(0), S);
    expect(r.action).toBe('open');
    s = r.state;
    r = step(s, calm(1), S); // calm for an hour: still open
    expect(r.action).toBe('none');
    s = r.state;
    r = step(s, ev(1.25, { status: 'normal' }), S); // sustained again: the calm is forgotten
    s = r.state;
    expect(s.phase === 'open' && s.quietSince).toBeUndefined();
    for (const h of [2, 2.5, 3]) ({ state: s } = step(s, calm(h), S));
    expect(s.phase).toBe('open');
    r = step(s, calm(3.5), S); // 90 min of calm
    expect(r.action).toBe('resolve');
    s = r.state;
    expect(s).toEqual({ phase: 'ok', cooldownUntil: at(3.5) + 180 * 60_000 });
    expect(step(s, ev(5), S)).toMatchObject({ action: 'none', suppressed: 'cooldown' });
    expect(step(s, ev(6.5), S).action).toBe('open');
  });

  it('a snooze holds back openings and updates until it expires; a resolution still goes through', () => {
    const until = at(2);
    expect(step({ phase: 'ok' }, ev(1), S, until)).toMatchObject({ action: 'none', suppressed: 'snoozed' });
    const opened = step({ phase: 'ok' }, ev(2), S, until);
    expect(opened.action).toBe('open');
    const snoozedUpdate = step(opened.state, ev(4, { share: 0.95 }), S, at(10));
    expect(snoozedUpdate).toMatchObject({ action: 'none', suppressed: 'snoozed' });
    let s = opened.state;
    for (const h of [3, 4]) ({ state: s } = step(s, calm(h), S, at(10)));
    expect(step(s, calm(4.5), S, at(10)).action).toBe('resolve');
  });

  it('updates at most every updateEveryMinutes, when there is news or as a heartbeat', () => {
    let s = step({ phase: 'ok' }, ev(0), S).state;
    const actions: string[] = [];
    for (let h = 0.25; h <= 6; h += 0.25) {
      const r = step(s, ev(h, { share: 0.8 }), S); // no news: the same share
      s = r.state;
      if (r.action !== 'none') actions.push(`${r.action}@${h}`);
    }
    expect(actions).toEqual(['update@4']); // the heartbeat (4 × 60 min)
    const r = step(s, ev(5, { share: 0.9, total: 100 }), S);
    expect(r.action).toBe('update'); // news (a new peak) an hour after the last message
  });
});

describe('late mentions: counted into their buckets, the boundaries since judged again', () => {
  const inSpike = (h: number) => h >= 72 && h < 78;
  const shape: Shape = {
    hours: 5 * 24,
    perHour: (h) => (inSpike(h) ? 40 : 20),
    share: (h) => (inSpike(h) ? 0.8 : 0.4),
  };
  const stream = synth(shape);

  /**
   * How X's recent search delivers with a page cap: one poll every `stepHours` of data time, `cap`
   * mentions at most. A poll first reads the gap a capped poll left (newest first), then — gap closed —
   * what is new, newest first; what the cap leaves of it is the next gap.
   */
  function* capped(obs: Observation[], stepHours: number, cap: number): Generator<Observation[]> {
    let arrived = 0;
    let read = 0; // obs[0, read) are either delivered or in the gap
    let gap: Observation[] = [];
    for (let t = obs[0].time + stepHours * H; read < obs.length || gap.length; t += stepHours * H) {
      while (arrived < obs.length && obs[arrived].time <= t) arrived++;
      const poll = gap.splice(Math.max(0, gap.length - cap));
      if (!gap.length && poll.length < cap) {
        const fresh = obs.slice(read, arrived);
        read = arrived;
        const take = Math.min(fresh.length, cap - poll.length);
        poll.push(...fresh.slice(fresh.length - take));
        gap = fresh.slice(0, fresh.length - take);
      }
      yield poll;
    }
  }

  function run(polls: Iterable<Observation[]>, d = new StreamDetector('test', S)) {
    const events: DetectorEvent[] = [];
    let rejudged = 0;
    for (const p of polls) {
      events.push(...d.ingest(p));
      if (d.takeRejudgement()) rejudged++;
    }
    return { d, events, rejudged, actions: events.map((e) => `${e.action}@${(e.evaluation.at - T0) / H}`) };
  }

  const inOrder = run(batches(stream));
  const openedAt = inOrder.events.find((e) => e.action === 'open')!.evaluation.at;
  const resolvedAt = inOrder.events.find((e) => e.action === 'resolve')!.evaluation.at;

  it('a source that falls behind in the burst: the alert opens and resolves at the data time it does in order', () => {
    for (const [stepHours, cap] of [
      [1, 30],
      [2, 60],
      [3, 100],
    ]) {
      const late = run(capped(stream, stepHours, cap));
      // The cap did bite (polls left older mentions for later ones, judged again); all were counted once.
      expect(late.rejudged).toBeGreaterThan(0);
      expect(late.d.series.sum(T0, T0 + 200 * H).total).toBe(stream.length);
      // One opening, said before anything else; its data time the in-order one, said so directly or (an
      // opening said on partial data) moved back to it; the resolution at the in-order data time.
      expect({ stepHours, first: late.actions[0].split('@')[0] }).toEqual({ stepHours, first: 'open' });
      expect(late.actions.filter((a) => a.startsWith('open'))).toHaveLength(1);
      expect(late.d.alertPeriods).toEqual(inOrder.d.alertPeriods);
      expect(late.d.alertPeriods).toEqual([{ openedAt, resolvedAt, windowMinutes: expect.any(Number) }]);
      expect(late.d.state).toEqual(inOrder.d.state);
    }
  });

  it('the older half of each hour a poll late: the opening said on partial data moves back, nothing doubled', () => {
    const hours: Observation[][] = [];
    for (const o of stream) (hours[Math.floor((o.time - T0) / H)] ??= []).push(o);
    const half = (obs: Observation[] = []) => Math.floor(obs.length / 2);
    const polls = hours.map((obs, h) => [
      ...obs.slice(half(obs)),
      ...(hours[h - 1] ?? []).slice(0, half(hours[h - 1])),
    ]);
    const late = run(polls);
    expect(late.actions.filter((a) => a.startsWith('open'))).toHaveLength(1);
    expect(late.actions.filter((a) => a.startsWith('resolve'))).toEqual([`resolve@${(resolvedAt - T0) / H}`]);
    expect(late.d.alertPeriods).toEqual(inOrder.d.alertPeriods);
    expect(late.d.state).toEqual(inOrder.d.state);
    // Every bucket counted once, and the journal agrees with the counts.
    for (const e of late.d.journalEntries())
      expect(late.d.series.sum(e.at - 15 * 60_000, e.at)).toMatchObject({ total: e.total, negative: e.negative });
  });

  it('an opening said on partial data moves back to the data time of the whole (redate), never opened twice', () => {
    const d = new StreamDetector('test', S);
    const before = stream.filter((o) => o.time < openedAt + 2 * H);
    // Everything up to the spike, then of the first two spike hours only the newest quarter.
    const spikeStart = T0 + 72 * H;
    const early = before.filter((o) => o.time < spikeStart);
    const spike = before.filter((o) => o.time >= spikeStart);
    const held = spike.slice(0, Math.floor((spike.length * 3) / 4));
    const events: DetectorEvent[] = [];
    for (const b of batches(early)) events.push(...d.ingest(b));
    events.push(...d.ingest(spike.slice(held.length)));
    events.push(...d.ingest(stream.filter((o) => o.time >= openedAt + 2 * H && o.time < openedAt + 3 * H)));
    const opening = events.find((e) => e.action === 'open');
    expect(opening).toBeDefined();
    const saidAt = opening!.evaluation.at;
    expect(saidAt).toBeGreaterThan(openedAt); // opened, but later than in order (partial data)
    const late = d.ingest(held);
    expect(late.map((e) => e.action)).toEqual(['redate']);
    expect(late[0].after).toMatchObject({ phase: 'open', openedAt, lastMessageAt: saidAt });
    expect(late[0].evaluation.at).toBe(openedAt);
    expect(d.state).toMatchObject({ phase: 'open', openedAt });
    expect(d.alertPeriods).toEqual([{ openedAt, windowMinutes: late[0].evaluation.windowMinutes }]);
    expect(d.takeRejudgement()).toMatchObject({ late: held.length, kept: { at: saidAt, action: 'open' } });
  });

  it('what was said stays said: a resolution is not undone, nothing is said again before it', () => {
    const d = new StreamDetector('test', S);
    // The alert runs its course with the last spike hour missing, then that hour arrives late.
    const missing = stream.filter((o) => o.time >= T0 + 77 * H && o.time < T0 + 78 * H);
    const rest = stream.filter((o) => !missing.includes(o));
    const events = run(batches(rest), d).events;
    const resolved = events.find((e) => e.action === 'resolve')!.evaluation.at;
    const again = d.ingest(missing);
    expect(again.filter((e) => e.evaluation.at <= resolved)).toEqual([]);
    expect(again.filter((e) => e.action === 'open')).toEqual([]);
    expect(d.alertPeriods).toHaveLength(1);
    expect(d.alertPeriods[0].resolvedAt).toBe(resolved);
  });

  it(`mentions older than the journal (${REJUDGE_HOURS} h) are counted, not judged again`, () => {
    const d = new StreamDetector('test', S);
    const first = stream.filter((o) => o.time < T0 + 60 * H);
    const dropped = first.filter((o) => o.time >= T0 + 20 * H && o.time < T0 + 21 * H);
    for (const b of batches(first.filter((o) => !dropped.includes(o)))) d.ingest(b);
    const journal = d.journalEntries();
    expect(journal[0].at).toBeGreaterThan(T0 + 60 * H - REJUDGE_HOURS * H - H);
    expect(d.ingest(dropped)).toEqual([]);
    expect(d.takeRejudgement()).toMatchObject({ late: dropped.length, beyond: dropped.length, boundaries: 0 });
    expect(d.series.sum(T0 + 20 * H, T0 + 21 * H).total).toBe(dropped.length);
    expect(d.journalEntries()).toEqual(journal);
  });

  it('the journal survives a restart: a detector rebuilt from it judges late mentions again', () => {
    const cut = T0 + 73 * H;
    const held = stream.filter((o) => o.time >= T0 + 71 * H && o.time < T0 + 72.5 * H);
    const first = new StreamDetector('test', S);
    for (const b of batches(stream.filter((o) => o.time < cut && !held.includes(o)))) first.ingest(b);
    const raw = encodeJournal(first.journalEntries());
    expect(decodeJournal(raw)).toEqual(first.journalEntries());
    // Compact: the state before each step only where it changed.
    expect(raw.length).toBeLessThan(first.journalEntries().length * 120);
    expect(() => decodeJournal('{"v":1,"entries":[{"at":"x"}]}')).toThrow(/entry 0 is malformed/);

    const second = new StreamDetector('test', S, {
      state: first.state,
      lastEvaluatedAt: first.lastEvaluatedAt,
      alertPeriods: first.alertPeriods,
      journal: decodeJournal(raw),
    });
    second.load(stream.filter((o) => o.time < first.lastEvaluatedAt! && !held.includes(o)));
    expect(second.rejudge()).toEqual([]); // nothing new: the counts match the journal
    const rest = stream.filter((o) => o.time >= first.lastEvaluatedAt!);
    const events = [...second.ingest(held), ...run(batches(rest), second).events];
    expect(events.filter((e) => e.action === 'open').map((e) => e.evaluation.at)).toEqual([openedAt]);
    expect(events.find((e) => e.action === 'resolve')!.evaluation.at).toBe(resolvedAt);
  });
});
