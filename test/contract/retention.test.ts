/**
 * The retention job (src/ops/retention.ts) over real stores, SQLite and PostgreSQL: rows of different ages
 * in every table; one run removes exactly what is past its time — with the votes and links that hang on
 * it — and nothing younger; it logs and counts what it removed; 0 days keeps a kind; start() runs it at
 * once and on its schedule, stop() waits for the run in flight.
 */
import { RetentionJob } from '../../src/ops/retention';
import type { ScoredMention } from '../../src/mentions/types';
import type { AlertRecord, Store, StoredPrediction } from '../../src/store/types';
import { testStore, type TestStore } from '../helpers/stores';

const DAY = 86_400_000;
const NOW = Date.now();
const ago = (days: number) => new Date(NOW - days * DAY).toISOString();

const P = { negative: 0.7, neutral: 0.2, positive: 0.1 };
const prediction = (id: string, days: number, kind: StoredPrediction['kind'] = 'api'): StoredPrediction => ({
  id,
  kind,
  text: `text of ${id}`,
  label: 'negative',
  probabilities: P,
  modelVersion: 'v1',
  createdAt: ago(days),
});
const mention = (id: string): ScoredMention => ({
  id,
  stream: 'airparadis',
  createdAt: '2015-02-24T11:35:52.000Z',
  text: `tweet ${id}`,
  prediction: { label: 'negative', confidence: 0.7, probabilities: P, modelVersion: 'v1' },
});
const resolvedAlert = (id: string, days: number): AlertRecord => ({
  id,
  stream: 'airparadis',
  state: 'resolved',
  openedAt: ago(days + 1),
  updatedAt: ago(days),
  resolvedAt: ago(days),
  data: { headline: id },
});

function recorder() {
  const lines: Array<{ level: string; msg: string; obj: object }> = [];
  const at =
    (level: string) =>
    (obj: object, msg?: string): void =>
      void lines.push({ level, msg: msg ?? '', obj });
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') } };
}

/** Every table filled with rows just past and just within their retention (defaults: 7 / 90 / 90 / 365 days). */
async function seed(db: TestStore, store: Store): Promise<void> {
  await store.savePredictions([
    prediction('api-100d', 100),
    prediction('cmd-95d', 95, 'command'),
    prediction('api-30d', 30), // text past 7 days, prediction within 90
    prediction('api-1d', 1),
  ]);
  await store.saveMentions([mention('1001'), mention('1002'), mention('1003')]);
  await db.exec(`UPDATE mentions SET stored_at = ${db.time(ago(95))} WHERE id IN ('1001', '1002')`);
  await store.saveAlert(resolvedAlert('alert-400d', 400));
  await store.saveAlert(resolvedAlert('alert-300d', 300));
  await store.saveAlert({ ...resolvedAlert('alert-open', 500), state: 'open', resolvedAt: undefined });
  await db.exec(
    `UPDATE alerts SET stored_at = ${db.time(ago(400))} WHERE id IN ('alert-400d', 'alert-open');
     UPDATE alerts SET stored_at = ${db.time(ago(300))} WHERE id = 'alert-300d'`,
  );
  for (const id of [
    'api-100d',
    'cmd-95d',
    'api-30d',
    'api-1d',
    'x:1001',
    'x:1003',
    'alert:alert-400d',
    'alert:alert-300d',
  ]) {
    await store.recordVote({ predictionId: id, userId: 'h1:someone', correct: true });
  }
  await store.recordVote({ predictionId: 'api-1d', userId: 'legacy-raw-U1', correct: true, source: 'slack' });
  await store.recordVote({ predictionId: 'deleted-long-ago', userId: 'h1:someone', correct: false });
  await db.exec(`UPDATE feedback SET voted_at = ${db.time(ago(2))} WHERE prediction_id = 'deleted-long-ago'`);
  await store.linkMessage({ platform: 'slack', channel: 'C1', messageId: '1.1', predictionId: 'cmd-95d' });
  await store.linkMessage({ platform: 'slack', channel: 'C1', messageId: '1.2', predictionId: 'x:1001' });
  await store.linkMessage({ platform: 'slack', channel: 'C1', messageId: '1.3', alertId: 'alert-400d' });
  await store.linkMessage({ platform: 'slack', channel: 'C1', messageId: '1.4', predictionId: 'api-1d' });
  await store.setCheckpoint('teams/card:conv/old', '{"kind":"answer","text":"asked 8 days ago"}');
  await store.setCheckpoint('teams/card:conv/new', '{"kind":"answer","text":"asked today"}');
  await store.setCheckpoint('slack/alert:alert-400d', '{"alertId":"alert-400d"}');
  await store.setCheckpoint('x:AirParadis', '569587140490866689');
  await db.exec(
    `UPDATE checkpoints SET updated_at = ${db.time(ago(8))} WHERE stream = 'teams/card:conv/old';
     UPDATE checkpoints SET updated_at = ${db.time(ago(400))} WHERE stream IN ('slack/alert:alert-400d', 'x:AirParadis')`,
  );
}

describe.each([['sqlite'], ['postgres']] as const)('RetentionJob on %s', (kind) => {
  let db: TestStore;
  let store: Store;

  beforeEach(async () => {
    db = testStore(kind);
    store = await db.open();
    await seed(db, store);
  });

  afterEach(async () => {
    await db.cleanup();
  });

  test('one run removes what is past its time, with what hangs on it, and nothing younger', async () => {
    const { lines, logger } = recorder();
    const job = new RetentionJob({ store, batchSize: 1, pauseMs: 1, logger });
    const report = await job.runOnce();
    expect(report.errors).toEqual({});
    expect(report.removed).toEqual({
      legacy_voters: 1,
      prediction_texts: 3, // api-100d, cmd-95d, api-30d (blanked before two of them go)
      predictions: 2,
      mentions: 2,
      alerts: 1,
      chat_states: 2, // the 8-day-old Teams card, the 400-day-old Slack alert state
      orphan_votes: 1,
    });

    // What is left: every younger row, with its votes and links.
    expect(await store.getPrediction('api-100d')).toBeNull();
    expect(await store.getPrediction('cmd-95d')).toBeNull();
    expect(await store.getPrediction('api-30d')).toMatchObject({ text: '' });
    expect(await store.getPrediction('api-1d')).toMatchObject({ text: 'text of api-1d' });
    expect(await store.countMentions()).toBe(1);
    expect(await store.getPrediction('x:1001')).toBeNull(); // a vote on a pruned prediction is gone with it
    expect(await store.getPrediction('x:1003')).toMatchObject({ text: 'tweet 1003' });
    expect((await store.listAlerts()).map((a) => a.id).sort()).toEqual(['alert-300d', 'alert-open']);
    expect(await store.findLink('slack', 'C1', '1.1')).toBeNull();
    expect(await store.findLink('slack', 'C1', '1.2')).toBeNull();
    expect(await store.findLink('slack', 'C1', '1.3')).toBeNull();
    expect(await store.findLink('slack', 'C1', '1.4')).not.toBeNull();
    expect(await store.getCheckpoint('teams/card:conv/old')).toBeNull();
    expect(await store.getCheckpoint('teams/card:conv/new')).not.toBeNull();
    expect(await store.getCheckpoint('slack/alert:alert-400d')).toBeNull();
    expect(await store.getCheckpoint('x:AirParadis')).toBe('569587140490866689'); // a poller cursor is never pruned
    // Votes left: api-30d, api-1d (twice: the re-keyed legacy one), x:1003, alert:alert-300d.
    expect(await store.accuracyByModel()).toEqual([{ modelVersion: 'v1', votes: 4, correct: 4, accuracy: 1 }]);

    expect(lines.find((l) => l.level === 'info')?.msg).toBe(
      'retention: removed 12 rows (legacy_voters 1, prediction_texts 3, predictions 2, mentions 2, alerts 1, chat_states 2, orphan_votes 1)',
    );
    const metrics = await job.registry.metrics();
    expect(metrics).toMatch(/sentinel_retention_removed_total\{kind="mentions"\} 2/);
    expect(metrics).toMatch(/sentinel_retention_runs_total\{result="ok"\} 1/);
    expect(metrics).toMatch(/sentinel_retention_last_run_timestamp_seconds \d+/);

    // A second run finds nothing: deletes are idempotent.
    const again = await job.runOnce();
    expect(Object.values(again.removed).every((n) => n === 0)).toBe(true);
  });

  test("an alert is kept from when it was written, not from its mentions' time (a replayed 2015 day)", async () => {
    // Saved today by a replay of February 2015: resolved 11 years ago on the mentions' clock.
    const replayed = { ...resolvedAlert('replayed', 0), openedAt: '2015-02-21T15:30:00.000Z' };
    await store.saveAlert({
      ...replayed,
      updatedAt: '2015-02-21T21:30:00.000Z',
      resolvedAt: '2015-02-21T21:30:00.000Z',
    });
    await store.recordVote({ predictionId: 'alert:replayed', userId: 'h1:someone', correct: true });
    const report = await new RetentionJob({ store, pauseMs: 0 }).runOnce();
    expect(report.removed.alerts).toBe(1); // alert-400d only
    expect((await store.listAlerts()).map((a) => a.id)).toContain('replayed');
    expect(await store.alertVotes(['replayed'])).toEqual([{ alertId: 'replayed', real: 1, falseAlarm: 0 }]);
    // A row a replica of the previous version wrote (no stored_at) falls back to resolved_at.
    await db.exec(`UPDATE alerts SET stored_at = NULL WHERE id = 'replayed'`);
    expect((await new RetentionJob({ store, pauseMs: 0 }).runOnce()).removed.alerts).toBe(1);
    expect((await store.listAlerts()).map((a) => a.id)).not.toContain('replayed');
  });

  test('0 days keeps a kind forever; longer settings keep more', async () => {
    const job = new RetentionJob({
      store,
      policy: { predictionTextDays: 0, predictionDays: 0, mentionDays: 100, alertDays: 0 },
      pauseMs: 0,
    });
    const report = await job.runOnce();
    expect(report.removed).toMatchObject({ prediction_texts: 0, predictions: 0, mentions: 0, alerts: 0 });
    expect(await store.getPrediction('api-100d')).toMatchObject({ text: 'text of api-100d' });
    expect(await store.countMentions()).toBe(3);
    expect(await store.listAlerts()).toHaveLength(3);
  });

  test('two jobs on the same data at once (two replicas) remove each row once', async () => {
    const other = await db.open();
    const [a, b] = await Promise.all([
      new RetentionJob({ store, batchSize: 1, pauseMs: 0 }).runOnce(),
      new RetentionJob({ store: other, batchSize: 1, pauseMs: 0 }).runOnce(),
    ]);
    expect(a.errors).toEqual({});
    expect(b.errors).toEqual({});
    expect(a.removed.predictions + b.removed.predictions).toBe(2);
    expect(a.removed.mentions + b.removed.mentions).toBe(2);
    expect(a.removed.alerts + b.removed.alerts).toBe(1);
    expect(await store.countMentions()).toBe(1);
  });

  test('start() runs at once and on its schedule; stop() waits for the run in flight', async () => {
    const { lines, logger } = recorder();
    const job = new RetentionJob({ store, schedule: 1, pauseMs: 1, batchSize: 1, logger });
    job.start();
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'retention job started' });
    await job.stop();
    expect(lines.some((l) => l.msg.startsWith('retention: removed'))).toBe(true);
    // Stopped: no more runs.
    const before = lines.length;
    await new Promise((r) => setTimeout(r, 1200));
    expect(lines.length).toBe(before);
  });

  test('a failing step is logged and counted; the other steps still run', async () => {
    const { lines, logger } = recorder();
    const broken = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'pruneCheckpoints') return async () => Promise.reject(new Error('disk I/O error'));
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const job = new RetentionJob({ store: broken, pauseMs: 0, logger });
    const report = await job.runOnce();
    expect(report.errors).toEqual({ chat_states: 'disk I/O error' });
    expect(report.removed.mentions).toBe(2);
    expect(lines.filter((l) => l.level === 'error').map((l) => l.msg)).toContain(
      'retention: chat_states failed; the next run tries again',
    );
    expect(await job.registry.metrics()).toMatch(/sentinel_retention_runs_total\{result="error"\} 1/);
  });
});

test('a bad policy or schedule is refused at construction', () => {
  const store = {} as Store;
  expect(() => new RetentionJob({ store, policy: { mentionDays: -1 } })).toThrow(
    /mentionDays must be a number of days/,
  );
  expect(() => new RetentionJob({ store, schedule: 'every hour' })).toThrow(/retention schedule/);
});
