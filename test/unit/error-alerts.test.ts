/**
 * Grouped ops alerts (src/ops/error-alerts.ts) on real stores (a SQLite file, a PostgreSQL schema), with a
 * clock the test moves and a sink that records what the chat would show (the chat adapters themselves are
 * tested through their protocols in test/contract/ops-alerts.test.ts).
 */
import { ConfigError } from '../../config/schema';
import { recordFeedback } from '../../src/feedback/feedback';
import { recordAlertFeedback } from '../../src/feedback/alert-feedback';
import {
  describeError,
  ErrorAlerts,
  parseOpsAlertRules,
  STATE_KEY,
  type ErrorAlertsOptions,
} from '../../src/ops/error-alerts';
import { SingleLeadership } from '../../src/ops/leadership';
import { isStoreFailure, reportSinkFailures, reportStoreErrors } from '../../src/ops/error-sources';
import type { OpsAlertContent } from '../../src/ops/ops-alert';
import type { Label } from '../../src/sentiment/types';
import type { Store } from '../../src/store/types';
import type { ChatSink } from '../../src/trends/sink';
import { testStore, type TestStore } from '../helpers/stores';

const T0 = Date.parse('2026-03-02T10:00:00.000Z');
const SEC = 1000;
const MIN = 60 * SEC;

/** What a chat shows of ops alerts: one message per alert id, and every version it was sent. */
class ChatRecorder implements ChatSink {
  readonly sent: OpsAlertContent[] = [];
  failNext = 0;
  constructor(readonly name = 'chat') {}
  async alertOpened(): Promise<void> {}
  async alertUpdated(): Promise<void> {}
  async alertResolved(): Promise<void> {}
  async opsAlert(a: OpsAlertContent): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('chat unreachable');
    }
    this.sent.push(JSON.parse(JSON.stringify(a)) as OpsAlertContent);
  }
  /** The alerts as messages: id → the latest version shown. */
  messages(): Map<string, OpsAlertContent> {
    const out = new Map<string, OpsAlertContent>();
    for (const a of this.sent) if ((out.get(a.id)?.revision ?? 0) < a.revision) out.set(a.id, a);
    return out;
  }
}

describe('OPS_ALERT_RULES', () => {
  it('sets each named kind and leaves the others at the default rule', () => {
    const rules = parseOpsAlertRules('http=20/5, source=3/15', { count: 4, windowMinutes: 10 });
    expect(rules).toEqual({
      http: { count: 20, windowMinutes: 5 },
      source: { count: 3, windowMinutes: 15 },
      scoring: { count: 4, windowMinutes: 10 },
      store: { count: 4, windowMinutes: 10 },
      chat: { count: 4, windowMinutes: 10 },
      model: { count: 4, windowMinutes: 10 },
    });
    // As the schema hands it over (its items), and unset.
    expect(parseOpsAlertRules(['model=2/15']).model).toEqual({ count: 2, windowMinutes: 15 });
    expect(parseOpsAlertRules(undefined).store).toEqual({ count: 3, windowMinutes: 5 });
    expect(parseOpsAlertRules('').chat).toEqual({ count: 3, windowMinutes: 5 });
  });

  it('names every bad item', () => {
    let error: unknown;
    try {
      parseOpsAlertRules('http=20/5,foo=1/1,source=0/5,store=3/2000,chat,http=3/5');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      {
        setting: 'OPS_ALERT_RULES',
        message: 'unknown kind "foo" in "foo=1/1"; kinds: scoring, store, source, chat, model, http',
      },
      { setting: 'OPS_ALERT_RULES', message: 'the count must be between 1 and 10000, got 0 in "source=0/5"' },
      { setting: 'OPS_ALERT_RULES', message: 'the minutes must be between 1 and 1440, got 2000 in "store=3/2000"' },
      { setting: 'OPS_ALERT_RULES', message: 'expected kind=count/minutes (e.g. http=20/5), got "chat"' },
      { setting: 'OPS_ALERT_RULES', message: 'http is given twice' },
    ]);
  });
});

describe('the last error as shown', () => {
  it('is one line, at most 300 characters, with secrets masked', () => {
    const err = Object.assign(new Error('connect ECONNREFUSED postgres://sentinel:hunter2@db:5432/prod'), {
      code: 'ECONNREFUSED',
    });
    expect(describeError(err)).toBe('connect ECONNREFUSED postgres://sentinel:[redacted]@db:5432/prod');
    expect(describeError('Slack refused xoxb-1234567890-abcdefghij\nwith Bearer abcdefghijklmnopqrstuvwxyz012')).toBe(
      'Slack refused [redacted] with Bearer [redacted]',
    );
    expect(describeError(Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' }))).toBe(
      'SQLITE_FULL: disk full',
    );
    expect(describeError(new TypeError('x is undefined'))).toBe('TypeError: x is undefined');
    expect(describeError('password=correct-horse-battery and token: 0123456789abcdef')).toBe(
      'password=[redacted] and token: [redacted]',
    );
    const long = describeError('e'.repeat(1000));
    expect([...long]).toHaveLength(300);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe.each([['sqlite'], ['postgres']] as const)('ops alerts on a %s store', (kind) => {
  let db: TestStore;
  let store: Store;
  let clock: number;
  const made: ErrorAlerts[] = [];

  beforeAll(async () => {
    db = testStore(kind);
  });
  afterAll(async () => {
    await Promise.all(made.map((a) => a.stop()));
    await db.cleanup();
  });
  beforeEach(async () => {
    store = await db.open();
    await store.setCheckpoint(STATE_KEY, '');
    clock = T0;
  });

  const alerts = (opts: Partial<ErrorAlertsOptions> & Pick<ErrorAlertsOptions, 'sinks'>, on = store) => {
    const a = new ErrorAlerts({ store: on, now: () => clock, ...opts });
    made.push(a);
    return a;
  };
  const stored = async (on = store) => {
    const raw = await on.getCheckpoint(STATE_KEY);
    return raw ? (JSON.parse(raw) as { alerts: Array<{ content: OpsAlertContent }> }) : null;
  };

  it('a burst of 10 errors is one alert, updated at most every 30 s and resolved after 10 quiet minutes', async () => {
    const chat = new ChatRecorder();
    const ops = alerts({ sinks: [chat] });
    for (let i = 0; i < 10; i++) {
      clock = T0 + i * SEC;
      ops.record('source', new Error(`X answered 503 (${i + 1})`));
      await ops.idle();
    }
    // Opened by the third error; the seven after it wait for the throttle.
    expect(chat.sent.map((a) => [a.state, a.count])).toEqual([['open', 3]]);
    const [opened] = chat.sent;
    expect(opened).toMatchObject({
      id: 'ops:source@2026-03-02T10:00:00.000Z',
      kind: 'source',
      title: 'mention source errors',
      firstAt: '2026-03-02T10:00:00.000Z',
      lastAt: '2026-03-02T10:00:02.000Z',
      lastError: 'X answered 503 (3)',
      threshold: 3,
      windowMinutes: 5,
      resolveAfterMinutes: 10,
    });
    expect(ops.openAlerts().map((a) => a.count)).toEqual([10]);

    await ops.tick(T0 + 20 * SEC); // 18 s after the last send: not yet
    expect(chat.sent).toHaveLength(1);
    await ops.tick(T0 + 33 * SEC);
    expect(chat.sent.map((a) => [a.state, a.count, a.lastError])).toEqual([
      ['open', 3, 'X answered 503 (3)'],
      ['open', 10, 'X answered 503 (10)'],
    ]);
    await ops.tick(T0 + 40 * SEC); // nothing new: nothing sent
    expect(chat.sent).toHaveLength(2);

    clock = T0 + 50 * SEC;
    ops.record('source', 'X answered 429');
    await ops.idle();
    await ops.tick(T0 + 55 * SEC); // 22 s after the last send
    expect(chat.sent).toHaveLength(2);
    await ops.tick(T0 + 64 * SEC);
    expect(chat.sent.at(-1)).toMatchObject({ state: 'open', count: 11, lastError: 'X answered 429' });

    await ops.tick(T0 + 50 * SEC + 10 * MIN - 1);
    expect(chat.sent.at(-1)!.state).toBe('open');
    await ops.tick(T0 + 50 * SEC + 10 * MIN);
    expect(chat.sent.at(-1)).toMatchObject({ state: 'resolved', count: 11, resolvedAt: '2026-03-02T10:10:50.000Z' });
    expect(chat.sent).toHaveLength(4); // opened, two updates, resolved
    expect(chat.messages().size).toBe(1);
    const revisions = chat.sent.map((a) => a.revision);
    expect([...revisions].sort((a, b) => a - b)).toEqual(revisions);
    // Done with: nothing open, nothing kept.
    expect(ops.openAlerts()).toEqual([]);
    expect((await stored())!.alerts).toEqual([]);

    // The next burst is a new alert.
    for (let i = 0; i < 3; i++) {
      clock = T0 + 20 * MIN + i * SEC;
      ops.record('source', 'X answered 500');
    }
    await ops.idle();
    expect([...chat.messages().keys()]).toEqual([opened.id, 'ops:source@2026-03-02T10:20:00.000Z']);
  });

  it('applies each kind its own rule', async () => {
    const chat = new ChatRecorder();
    const ops = alerts({
      sinks: [chat],
      rules: parseOpsAlertRules('http=20/5,source=3/15'),
    });
    const burst = async (k: 'http' | 'source' | 'store', n: number, everyMs: number) => {
      for (let i = 0; i < n; i++) {
        ops.record(k, `${k} error ${i + 1}`);
        await ops.idle();
        clock += everyMs;
      }
    };
    await burst('http', 19, SEC);
    expect(chat.sent).toEqual([]);
    await burst('http', 1, SEC);
    expect(chat.sent.map((a) => [a.kind, a.count, a.threshold, a.windowMinutes])).toEqual([['http', 20, 20, 5]]);
    await burst('store', 3, 3 * MIN); // 6 minutes from the first to the third: not 3 in 5
    expect(chat.sent).toHaveLength(1);
    clock -= 3 * MIN - SEC;
    await burst('store', 1, SEC); // the 2nd, 3rd and 4th: 3 in 3 minutes and a second
    await burst('source', 3, 7 * MIN); // 14 minutes from the first to the third: within its 15
    expect(chat.sent.map((a) => [a.kind, a.count, a.threshold, a.windowMinutes])).toEqual([
      ['http', 20, 20, 5],
      ['store', 3, 3, 5],
      ['source', 3, 3, 15],
    ]);
    const metrics = await ops.metrics.metrics();
    expect(metrics).toContain('sentinel_ops_alerts_open{kind="http"} 1');
    expect(metrics).toContain('sentinel_ops_alerts_open{kind="scoring"} 0');
    expect(metrics).toContain('sentinel_ops_errors_total{kind="http"} 20');
    expect(metrics).toContain('sentinel_ops_errors_total{kind="store"} 4');
  });

  it('a sink that fails gets the latest state later; the others are not held back', async () => {
    const [slack, teams] = [new ChatRecorder('slack'), new ChatRecorder('teams')];
    slack.failNext = 1;
    const ops = alerts({ sinks: [slack, teams] });
    for (let i = 0; i < 4; i++) ops.record('chat', `post failed ${i + 1}`);
    await ops.idle();
    expect(teams.sent.map((a) => a.count)).toEqual([4]);
    expect(slack.sent).toEqual([]);
    await ops.tick(T0 + 10 * SEC);
    expect(slack.sent).toEqual([]); // waits, as an update would
    await ops.tick(T0 + 31 * SEC);
    expect(slack.sent.map((a) => [a.id, a.count])).toEqual([[teams.sent[0].id, 4]]);
    expect(teams.sent).toHaveLength(1); // had it already
  });

  it('a replica taking over continues the same alert: no second message', async () => {
    const chat = new ChatRecorder();
    const [leadA, leadB] = [new SingleLeadership(), new SingleLeadership()];
    leadA.start();
    const a = alerts({ sinks: [chat], leader: leadA });
    const other = await db.open(); // the second replica's own connection
    const b = alerts({ sinks: [chat], leader: leadB }, other);
    for (let i = 0; i < 5; i++) a.record('store', `SQLITE_BUSY ${i + 1}`);
    await a.idle();
    expect(chat.sent.map((x) => x.count)).toEqual([5]);

    // B follows: it counts its own errors, sends and writes nothing.
    clock = T0 + 20 * SEC;
    b.record('store', 'SQLITE_BUSY on B');
    b.record('store', 'SQLITE_BUSY on B again');
    await b.idle();
    await b.tick(T0 + 40 * SEC);
    expect(chat.sent).toHaveLength(1);
    expect(await b.metrics.metrics()).toContain('sentinel_ops_errors_total{kind="store"} 2');
    expect(await b.metrics.metrics()).toContain('sentinel_ops_alerts_open{kind="store"} 0');
    expect((await stored())!.alerts.map((x) => x.content.count)).toEqual([5]);

    // A stops leading; B takes over, loads A's alert and adds what it saw.
    await leadA.stop();
    a.record('store', 'after A stepped down');
    await a.idle();
    clock = T0 + 45 * SEC;
    leadB.start();
    await b.idle();
    expect(chat.sent.map((x) => [x.id, x.count, x.lastError])).toEqual([
      ['ops:store@2026-03-02T10:00:00.000Z', 5, 'SQLITE_BUSY 5'],
      ['ops:store@2026-03-02T10:00:00.000Z', 7, 'SQLITE_BUSY on B again'],
    ]);
    expect(chat.messages().size).toBe(1);
    await b.tick(T0 + 20 * SEC + 10 * MIN);
    expect(chat.sent.at(-1)).toMatchObject({ id: 'ops:store@2026-03-02T10:00:00.000Z', state: 'resolved' });
    expect(chat.messages().size).toBe(1);
  });

  it('the model wrong on too many of the latest judged predictions is an ops alert, until it is not', async () => {
    const chat = new ChatRecorder();
    const ops = alerts({ sinks: [chat] });
    const rule = { votes: 10, rate: 0.4 };
    let n = 0;
    /** A prediction of the model, and people's votes on it (true: ✅). */
    const judged = async (votes: boolean[], label: Label = 'negative') => {
      const id = `x:${kind}-${++n}`;
      await store.savePredictions([
        {
          id,
          kind: 'mention',
          text: `mention ${n}`,
          label,
          probabilities: { negative: 0.7, neutral: 0.2, positive: 0.1 },
          modelVersion: 'v1',
          createdAt: new Date(T0).toISOString(),
        },
      ]);
      for (const [i, correct] of votes.entries())
        await recordFeedback(store, { predictionId: id, userId: `slack:T1:U${i}`, correct, source: 'slack' });
      // Voted in this order, a second apart (the store's clock could give two the same millisecond).
      await db.exec(
        `UPDATE feedback SET voted_at = ${db.time(new Date(T0 + n * SEC).toISOString())} WHERE prediction_id = '${id}'`,
      );
    };
    for (let i = 0; i < 5; i++) await judged([true]);
    await judged([false, false, true]); // wrong by majority
    await judged([false, true]); // a tie: not wrong
    await judged([false]);
    expect(await ops.checkMisclassification(store, rule)).toEqual({ total: 8, wrong: 2, rate: 0.25 });
    expect(chat.sent).toEqual([]); // 8 judged: too few to say

    // Votes on an alert are not judgments of the model.
    await recordAlertFeedback(store, {
      alertId: 'Delta@2026-03-02T09:00:00.000Z',
      userId: 'slack:T1:U9',
      trueAlarm: false,
    });
    await judged([false]);
    await judged([false, false]);
    expect(await ops.checkMisclassification(store, rule)).toEqual({ total: 10, wrong: 4, rate: 0.4 });
    expect(chat.sent).toHaveLength(1);
    expect(chat.sent[0]).toMatchObject({
      id: 'ops:feedback@2026-03-02T10:00:00.000Z',
      kind: 'feedback',
      state: 'open',
      count: 4,
      judged: { total: 10, wrong: 4, rate: 0.4, threshold: 0.4 },
    });

    // Another wrong one a minute later: the figure moves (the oldest judged one leaves the last 10).
    clock = T0 + MIN;
    await judged([false]);
    expect(await ops.checkMisclassification(store, rule)).toEqual({ total: 10, wrong: 5, rate: 0.5 });
    expect(chat.sent.at(-1)).toMatchObject({ state: 'open', count: 5, judged: { rate: 0.5 } });
    expect(await ops.checkMisclassification(store, rule)).toEqual({ total: 10, wrong: 5, rate: 0.5 });
    expect(chat.sent).toHaveLength(2); // unchanged: not sent again

    // Right again: under the rate, resolved.
    clock = T0 + 3 * MIN;
    for (let i = 0; i < 7; i++) await judged([true, true]);
    expect(await ops.checkMisclassification(store, rule)).toEqual({ total: 10, wrong: 3, rate: 0.3 });
    expect(chat.sent.at(-1)).toMatchObject({
      id: 'ops:feedback@2026-03-02T10:00:00.000Z',
      state: 'resolved',
      judged: { wrong: 3, rate: 0.3 },
    });
    expect(chat.messages().size).toBe(1);
  });

  it('on the timer: the check runs when due, on the leader only', async () => {
    const chat = new ChatRecorder();
    const lead = new SingleLeadership();
    const ops = alerts({ sinks: [chat], leader: lead, misclassification: { votes: 5, rate: 0.4, everyMs: MIN } });
    for (let i = 0; i < 5; i++) {
      const id = `cmd-${kind}-${i}`;
      await store.savePredictions([
        {
          id,
          kind: 'command',
          text: 'they lost my bag',
          label: 'positive',
          probabilities: { negative: 0.2, neutral: 0.2, positive: 0.6 },
          modelVersion: 'v1',
          createdAt: new Date(T0).toISOString(),
        },
      ]);
      await recordFeedback(store, { predictionId: id, userId: 'slack:T1:U1', correct: false, trueLabel: 'negative' });
      // The latest votes of this store (the other tests' were cast before).
      await db.exec(
        `UPDATE feedback SET voted_at = ${db.time(new Date(T0 + 60 * MIN + i * SEC).toISOString())} WHERE prediction_id = '${id}'`,
      );
    }
    await ops.tick(T0);
    expect(chat.sent).toEqual([]); // a follower asks nothing
    lead.start();
    await ops.tick(T0 + SEC);
    expect(chat.sent.map((a) => [a.kind, a.state, a.judged?.rate])).toEqual([['feedback', 'open', 1]]);
    await ops.tick(T0 + 30 * SEC);
    expect(chat.sent).toHaveLength(1);
  });
});

describe('where the errors come from', () => {
  it('a store wrapped by reportStoreErrors reports each failed call, not the input it refuses', async () => {
    const db = testStore('sqlite');
    const seen: Array<[string, string]> = [];
    try {
      const inner = await db.open();
      const store = reportStoreErrors(inner, (err, method) => seen.push([method, (err as Error).message]));
      await expect(store.judgments({ limit: 0 })).rejects.toThrow(/limit must be a whole number/);
      expect(seen).toEqual([]);
      await store.setCheckpoint('k', 'v');
      await inner.close();
      const failure = await store.getCheckpoint('k').then(
        () => null,
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(Error);
      expect(isStoreFailure(failure)).toBe(true);
      expect(isStoreFailure(new Error('X answered 503'))).toBe(false);
      expect(seen.map(([method]) => method)).toEqual(['getCheckpoint']);
    } finally {
      await db.cleanup();
    }
  });

  it('a sink wrapped by reportSinkFailures reports failed deliveries, not its ops alerts', async () => {
    const seen: string[] = [];
    const failing: ChatSink = {
      name: 'slack',
      alertOpened: async () => {
        throw new Error('channel_not_found');
      },
      alertUpdated: async () => undefined,
      alertResolved: async () => undefined,
      opsNotice: async () => {
        throw new Error('not_in_channel');
      },
      opsAlert: async () => {
        throw new Error('ratelimited');
      },
    };
    const sink = reportSinkFailures(failing, (err, what) => seen.push(`${what}: ${(err as Error).message}`));
    expect(sink.name).toBe('slack');
    await expect(sink.alertOpened({} as never)).rejects.toThrow('channel_not_found');
    await sink.alertUpdated({} as never);
    await expect(sink.opsNotice!('x')).rejects.toThrow('not_in_channel');
    await expect(sink.opsAlert!({} as never)).rejects.toThrow('ratelimited');
    expect(sink.streamNotice).toBeUndefined();
    expect(seen).toEqual(['slack alertOpened: channel_not_found', 'slack opsNotice: not_in_channel']);
  });
});
