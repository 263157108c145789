/**
 * Grouped error alerts (issue 13), as Alertmanager groups them: errors of one kind (scoring, store, source,
 * chat, model, http) that reach a threshold within a window — 3 in 5 minutes unless OPS_ALERT_RULES says
 * otherwise for that kind — open ONE ops alert, which is then updated in place while errors continue (count,
 * last error, since when) and marked resolved after `resolveAfterMinutes` without one. Never a message per
 * error: a burst of a thousand 5xx is one message edited a few times.
 *
 *   const errorAlerts = new ErrorAlerts({ store, sinks, leader, rules: parseOpsAlertRules(...) });
 *   errorAlerts.start();                                   // the timer: resolves quiet alerts, sends what is due
 *   poller onError: (e) => errorAlerts.record('source', e.error);
 *
 * - `record(kind, error)` is synchronous and cheap (a counter, an array of at most `count` timestamps): call
 *   it from any hook. Delivery happens after, in one queue: an alert opens at once; an update is sent at most
 *   every `updateEveryMs` (30 s) per alert, and the latest state is always sent in the end (the timer sends
 *   what waited); the resolution at once.
 * - The sinks get the whole content each time (`ChatSink.opsAlert`, src/ops/ops-alert.ts): the same id with a
 *   higher revision edits the same message (Slack chat.update, Teams updateActivity). A sink that fails is
 *   sent the latest state again at the next due time; the others are not held back.
 * - State (the alerts, which revision each sink has shown, the recent errors of each kind) is kept in the
 *   store as JSON (checkpoint `ops/error-alerts`, src/chat/json-state.ts): a replica that takes over the
 *   leadership loads it and continues the SAME alert (same id, so the sinks edit the same message) instead
 *   of opening a second one. It is written when something opens, resolves or is delivered, and otherwise at
 *   most every `updateEveryMs`, not at every error of a burst.
 * - Only the leader sends (with `leader`: while it has a term; the sends and writes run in that term's
 *   fencing scope, so a leader that lost its lease writes nothing). A follower's `record()` counts (its
 *   `sentinel_ops_errors_total`) and remembers the latest errors of each kind, which join the stored ones if
 *   it becomes the leader; it opens, sends and writes nothing.
 * - The misclassification check (`checkMisclassification`): of the latest N judged predictions, the share
 *   judged wrong by a majority of ✅/❌ votes (a tie is not wrong) at or above `rate` opens an ops alert of
 *   kind `feedback`, updated as the figure moves and resolved when it falls under the rate. It runs on the
 *   leader's timer, every `everyMs` (1 min): votes are cast on every replica but only the leader sends, and
 *   the store is where all of them meet — a hook after each vote would only see that replica's votes. One
 *   query of N rows a minute costs nothing; a vote shows in the figure within the minute.
 * - Metrics (`metrics`): `sentinel_ops_alerts_open{kind}` (on the leader; 0 on a follower),
 *   `sentinel_ops_errors_total{kind}` (each replica its own).
 */
import { verdictOf } from '../feedback/production-accuracy';
import { Counter, Gauge, Registry } from 'prom-client';
import { ConfigError, REDACTED, redactSecrets, type ConfigProblem } from '../../config/schema';
import { readJsonState, writeJsonState } from '../chat/json-state';
import type { Logger } from '../log';
import { runFenced } from '../store/fence';
import type { Judgment, Store } from '../store/types';
import type { ChatSink } from '../trends/sink';
import type { Leader } from './leadership';
import { ERROR_KINDS, opsAlertHeadline, opsAlertTitle, type ErrorKind, type OpsAlertContent } from './ops-alert';

export { ERROR_KINDS, type ErrorKind, type OpsAlertContent, type OpsAlertKind } from './ops-alert';

/** `count` errors within `windowMinutes` open an alert. */
export interface ErrorRule {
  count: number;
  windowMinutes: number;
}
export type ErrorRules = Record<ErrorKind, ErrorRule>;

/** The reference system's rule: 3 errors in 5 minutes. */
export const DEFAULT_RULE: ErrorRule = { count: 3, windowMinutes: 5 };

export const STATE_KEY = 'ops/error-alerts';

const RULE_ITEM = /^([A-Za-z]+)\s*=\s*(\d+)\s*\/\s*(\d+)$/;

/**
 * OPS_ALERT_RULES (`http=20/5,source=3/15`, a string or its items) over `defaults` for every kind not named.
 * Throws a ConfigError naming OPS_ALERT_RULES and each bad item.
 */
export function parseOpsAlertRules(
  spec: string | readonly string[] | undefined,
  defaults: ErrorRule = DEFAULT_RULE,
): ErrorRules {
  const rules = Object.fromEntries(ERROR_KINDS.map((k) => [k, { ...defaults }])) as ErrorRules;
  if (typeof spec === 'string' && !spec.trim()) return rules; // unset
  const items = typeof spec === 'string' ? spec.split(',') : [...(spec ?? [])];
  const problems: ConfigProblem[] = [];
  const problem = (message: string) => problems.push({ setting: 'OPS_ALERT_RULES', message });
  const seen = new Set<string>();
  for (const raw of items) {
    const item = raw.trim();
    const m = RULE_ITEM.exec(item);
    if (!m) {
      problem(`expected kind=count/minutes (e.g. http=20/5), got ${JSON.stringify(item)}`);
      continue;
    }
    const kind = m[1].toLowerCase();
    const [count, minutes] = [Number(m[2]), Number(m[3])];
    if (!(ERROR_KINDS as readonly string[]).includes(kind))
      problem(`unknown kind ${JSON.stringify(m[1])} in ${JSON.stringify(item)}; kinds: ${ERROR_KINDS.join(', ')}`);
    else if (seen.has(kind)) problem(`${kind} is given twice`);
    else if (count < 1 || count > 10_000)
      problem(`the count must be between 1 and 10000, got ${count} in ${JSON.stringify(item)}`);
    else if (minutes < 1 || minutes > 1440)
      problem(`the minutes must be between 1 and 1440, got ${minutes} in ${JSON.stringify(item)}`);
    else rules[kind as ErrorKind] = { count, windowMinutes: minutes };
    seen.add(kind);
  }
  if (problems.length) throw new ConfigError(problems);
  return rules;
}

/** Of these judged predictions, how many a majority of votes called wrong (a tie is not wrong). */
export function misclassification(judged: readonly Judgment[]): { total: number; wrong: number; rate: number } {
  const wrong = judged.filter((j) => verdictOf(j)?.verdict === 'wrong').length;
  return { total: judged.length, wrong, rate: judged.length ? wrong / judged.length : 0 };
}

const MAX_ERROR_CHARS = 300;

/**
 * What an error says, fit for a chat message: its code and message on one line, at most 300 characters,
 * with what looks like a secret masked (URL passwords, Slack tokens, bearer tokens, `password=…`).
 */
export function describeError(error: unknown): string {
  let text: string;
  if (typeof error === 'string') text = error;
  else if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    text = error.message || error.name;
    if (typeof code === 'string' && code && !text.includes(code)) text = `${code}: ${text}`;
    if (error.name && error.name !== 'Error' && !text.includes(error.name)) text = `${error.name}: ${text}`;
  } else text = String(error);
  const masked = redactSecrets(text)
    .replace(/\bx(?:ox[a-z]|app)-[A-Za-z0-9-]{6,}/g, REDACTED)
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{16,}/gi, `$1 ${REDACTED}`)
    .replace(
      /\b([A-Za-z_-]*(?:token|secret|password|passwd|api[_-]?key)[A-Za-z_-]*)(\s*[=:]\s*)(["']?)[^\s"'&,;]{6,}/gi,
      `$1$2$3${REDACTED}`,
    )
    .replace(/\s+/g, ' ')
    .trim();
  const chars = [...masked];
  return chars.length > MAX_ERROR_CHARS ? `${chars.slice(0, MAX_ERROR_CHARS - 1).join('')}…` : masked;
}

export interface MisclassificationRule {
  /** Judged on this many of the latest judged predictions (OPS_MISCLASSIFICATION_VOTES)… */
  votes: number;
  /** …and open at this share judged wrong or more (OPS_MISCLASSIFICATION_RATE). */
  rate: number;
}

export interface ErrorAlertsOptions {
  /** Where the state is kept (`ops/error-alerts`): the leader's store (src/store/fence.ts `leaderScoped`). */
  store: Pick<Store, 'getCheckpoint' | 'setCheckpoint' | 'judgments'>;
  /** The chat sinks (read at each delivery: the composition root adds the adapters' sinks after). */
  sinks: readonly ChatSink[];
  /** Per kind (parseOpsAlertRules); a kind not given: DEFAULT_RULE. */
  rules?: Partial<ErrorRules>;
  /** OPS_ALERT_RESOLVE_MINUTES (default 10). */
  resolveAfterMinutes?: number;
  /** At most one update per alert this often (default 30 s). */
  updateEveryMs?: number;
  /** The timer's period (default 5 s): quiet alerts resolved, waiting updates sent. */
  tickMs?: number;
  /** The misclassification check on the timer, every `everyMs` (default 1 min); off without it. */
  misclassification?: MisclassificationRule & { everyMs?: number };
  /** Who leads (src/ops/leadership.ts): only the holder of a term sends. Without it: always (one process). */
  leader?: Pick<Leader, 'term' | 'on' | 'fencedOut'>;
  logger?: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** The clock (ms), default Date.now. */
  now?: () => number;
  /** Where the metrics are registered (default a registry of its own: `metrics`). */
  registry?: Registry;
}

/** One alert and where it stands with each sink. */
interface AlertEntry {
  content: OpsAlertContent;
  /** By sink name: the revision it has shown. */
  delivered: Record<string, number>;
  /** When it was last sent (ms) and in which state: an update waits `updateEveryMs`, a new state does not. */
  sentAt?: number;
  sentState?: OpsAlertContent['state'];
}

/** The latest errors of one kind that opened nothing yet (oldest first; the leader keeps the rule's count). */
interface Recent {
  times: number[];
  lastError: string;
}

interface State {
  version: 1;
  recent: Partial<Record<ErrorKind, Recent>>;
  alerts: AlertEntry[];
}

/** Errors of one kind remembered while not leading (all of a burst, to count them when it leads). */
const LOCAL_MAX = 10_000;

/** A resolved alert a sink could not be given is dropped after this long. */
const RESOLVED_KEPT_MS = 60 * 60_000;

const SILENT = { error: () => undefined };

const emptyState = (): State => ({ version: 1, recent: {}, alerts: [] });

function isState(x: unknown): x is State {
  const s = x as State | null;
  return !!s && s.version === 1 && typeof s.recent === 'object' && s.recent !== null && Array.isArray(s.alerts);
}

export class ErrorAlerts {
  readonly metrics: Registry;
  private readonly rules: ErrorRules;
  private readonly resolveAfterMs: number;
  private readonly updateEveryMs: number;
  private readonly now: () => number;
  private readonly errors: Counter<'kind'>;
  /** The leader's state, loaded from the store at the start of each term. */
  private state: State = emptyState();
  private loaded = false;
  /** Errors seen while not leading (or before the state was loaded): they join the state when it is. */
  private local: Partial<Record<ErrorKind, Recent>> = {};
  /** Something to write at the next flush (an alert opened or resolved, a recent error): not deferred. */
  private mustWrite = false;
  /** Counts moved on an open alert: written with the next delivery, or `updateEveryMs` after the last write. */
  private dirty = false;
  private writtenAt = -Infinity;
  private checkedAt = -Infinity;
  private chain: Promise<void> = Promise.resolve();
  private flushQueued = false;
  private timer?: NodeJS.Timeout;

  constructor(private readonly opts: ErrorAlertsOptions) {
    this.rules = { ...parseOpsAlertRules(undefined), ...opts.rules };
    this.resolveAfterMs = (opts.resolveAfterMinutes ?? 10) * 60_000;
    this.updateEveryMs = opts.updateEveryMs ?? 30_000;
    this.now = opts.now ?? Date.now;
    this.metrics = opts.registry ?? new Registry();
    const open = () => this.state.alerts.filter((a) => a.content.state === 'open');
    new Gauge({
      name: 'sentinel_ops_alerts_open',
      help: 'Ops alerts open now, by kind (counted by the leader; 0 on a follower)',
      labelNames: ['kind'],
      registers: [this.metrics],
      collect() {
        for (const kind of [...ERROR_KINDS, 'feedback'] as const)
          this.set({ kind }, open().filter((a) => a.content.kind === kind).length);
      },
    });
    this.errors = new Counter({
      name: 'sentinel_ops_errors_total',
      help: 'Errors recorded for ops alerts, by kind (each replica counts its own)',
      labelNames: ['kind'],
      registers: [this.metrics],
    });
    // A new term starts from what is stored (another replica may have led meanwhile); a lost one sends nothing.
    opts.leader?.on('acquired', () => {
      this.loaded = false;
      this.schedule();
    });
    opts.leader?.on('lost', () => {
      this.loaded = false;
      this.state = emptyState();
    });
  }

  /** Counts an error of `kind` (at `at`, default now); what it opens or changes is sent after. Never throws. */
  record(kind: ErrorKind, error: unknown, at?: Date): void {
    if (!(ERROR_KINDS as readonly string[]).includes(kind)) {
      this.opts.logger?.warn({ kind }, `ops alerts: unknown error kind ${String(kind)}; ignored`);
      return;
    }
    const t = at?.getTime() ?? this.now();
    const message = describeError(error);
    this.errors.inc({ kind });
    if (this.loaded && this.leading()) this.apply(kind, [t], message);
    else remember(this.local, kind, t, message, LOCAL_MAX);
    this.schedule();
  }

  /**
   * Resolves the alerts quiet for `resolveAfterMinutes`, runs the misclassification check when due, and sends
   * what is due (the timer calls it; tests pass their clock).
   */
  tick(now = this.now()): Promise<void> {
    return this.enqueue(async () => {
      if (!(await this.ready())) return;
      for (const entry of this.state.alerts) {
        const c = entry.content;
        if (c.kind === 'feedback' || c.state !== 'open' || now - Date.parse(c.lastAt) < this.resolveAfterMs) continue;
        this.resolve(c, now);
      }
      const rule = this.opts.misclassification;
      if (rule && now - this.checkedAt >= (rule.everyMs ?? 60_000)) {
        this.checkedAt = now;
        await this.misclassify(this.opts.store, rule, now).catch((err: unknown) =>
          this.opts.logger?.error({ err }, `ops alerts: the misclassification check failed: ${describeError(err)}`),
        );
      }
      await this.flush(now);
    });
  }

  /**
   * The share of the latest `votes` judged predictions judged wrong: at or above `rate`, an ops alert of kind
   * `feedback` opens (or follows the figure); under it, an open one is resolved. Fewer judged than `votes`:
   * nothing changes. Returns the figure, or null on a follower (which neither asks nor sends).
   */
  checkMisclassification(
    store: Pick<Store, 'judgments'>,
    rule: MisclassificationRule,
    now = this.now(),
  ): Promise<{ total: number; wrong: number; rate: number } | null> {
    return this.enqueue(async () => {
      if (!(await this.ready())) return null;
      const figure = await this.misclassify(store, rule, now);
      await this.flush(now);
      return figure;
    });
  }

  /** The alerts open now (on the leader). */
  openAlerts(): OpsAlertContent[] {
    return this.state.alerts.filter((a) => a.content.state === 'open').map((a) => ({ ...a.content }));
  }

  /** Starts the timer (unref'd: it keeps no process alive). */
  start(tickMs = this.opts.tickMs ?? 5_000): void {
    if (this.timer) return;
    let ticking = false; // a tick still queued behind a slow send: the next one is not added behind it
    this.timer = setInterval(() => {
      if (ticking) return;
      ticking = true;
      void this.tick()
        .catch(() => undefined)
        .finally(() => (ticking = false));
    }, tickMs);
    this.timer.unref();
    this.schedule();
  }

  /** Stops the timer and waits for the sends in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.idle();
  }

  /** Resolves when everything queued so far (sends, writes) is done. */
  async idle(): Promise<void> {
    let seen: Promise<void> | undefined;
    while (seen !== this.chain) {
      seen = this.chain;
      await seen;
    }
  }

  // -------------------------------------------------------------------------------------------------

  private leading(): boolean {
    return !this.opts.leader || this.opts.leader.term() !== null;
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(() => this.inScope(task));
    this.chain = run.then(
      () => undefined,
      (err: unknown) => {
        this.opts.logger?.error({ err }, `ops alerts: ${describeError(err)}`);
      },
    );
    return run;
  }

  /** Runs `fn` in the leader's fencing scope: its writes (ours and the sinks') land only while it leads. */
  private inScope<T>(fn: () => Promise<T>): Promise<T> {
    const leader = this.opts.leader;
    const term = leader?.term();
    if (!leader || !term) return fn();
    return runFenced(term.fence, fn, () => leader.fencedOut(term));
  }

  /** One flush queued at a time: a burst of errors is one write and one send, not one per error. */
  private schedule(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    void this.enqueue(async () => {
      this.flushQueued = false;
      if (await this.ready()) await this.flush(this.now());
    }).catch(() => undefined);
  }

  /** Leading, with the state loaded (at the first call of a term): what the store holds, plus what this replica saw. */
  private async ready(): Promise<boolean> {
    if (!this.leading()) return false;
    if (this.loaded) return true;
    const stored = await readJsonState<unknown>(this.opts.store, STATE_KEY, this.opts.logger ?? SILENT);
    if (stored !== null && !isState(stored))
      this.opts.logger?.warn(
        `ops alerts: the stored state ${STATE_KEY} is not one this version reads; starting afresh`,
      );
    this.state = isState(stored) ? stored : emptyState();
    this.loaded = true;
    const local = this.local;
    this.local = {};
    for (const [kind, recent] of Object.entries(local) as Array<[ErrorKind, Recent]>)
      this.apply(kind, recent.times, recent.lastError);
    if (this.state.alerts.length) {
      this.opts.logger?.info(
        { alerts: this.state.alerts.map((a) => a.content.id) },
        `ops alerts: continuing ${this.state.alerts.length} alert(s) from the store`,
      );
    }
    return true;
  }

  /** Errors of `kind` at `times` (the latest one said `message`) into the leader's state, oldest first. */
  private apply(kind: ErrorKind, times: number[], message: string): void {
    const rule = this.rules[kind];
    const windowMs = rule.windowMinutes * 60_000;
    for (const t of [...times].sort((a, b) => a - b)) {
      const open = this.state.alerts.find((a) => a.content.kind === kind && a.content.state === 'open')?.content;
      if (open) {
        // Errors a follower saw long before this alert are not its errors.
        if (t < Date.parse(open.firstAt) - windowMs) continue;
        open.count++;
        if (t >= Date.parse(open.lastAt)) {
          open.lastAt = new Date(t).toISOString();
          open.lastError = message;
        }
        open.revision++;
        this.dirty = true;
        continue;
      }
      remember(this.state.recent, kind, t, message, rule.count);
      this.mustWrite = true;
      const r = this.state.recent[kind]!.times;
      const n = r.length;
      if (n >= rule.count && r[n - 1] - r[n - rule.count] <= windowMs) this.open(kind, rule);
    }
  }

  /** The kind's latest errors reached its rule: one alert opens, and they are its first errors. */
  private open(kind: ErrorKind, rule: ErrorRule): void {
    const recent = this.state.recent[kind]!;
    const first = new Date(recent.times[recent.times.length - rule.count]).toISOString();
    const content: OpsAlertContent = {
      id: `ops:${kind}@${first}`,
      kind,
      title: opsAlertTitle(kind),
      state: 'open',
      revision: 1,
      count: rule.count,
      firstAt: first,
      lastAt: new Date(recent.times[recent.times.length - 1]).toISOString(),
      lastError: recent.lastError,
      threshold: rule.count,
      windowMinutes: rule.windowMinutes,
      resolveAfterMinutes: this.resolveAfterMs / 60_000,
    };
    delete this.state.recent[kind];
    this.state.alerts.push({ content, delivered: {} });
    this.mustWrite = true;
    this.opts.logger?.warn({ alert: content.id, kind, lastError: content.lastError }, opsAlertHeadline(content));
  }

  private resolve(c: OpsAlertContent, now: number): void {
    c.state = 'resolved';
    c.resolvedAt = new Date(now).toISOString();
    c.revision++;
    this.mustWrite = true;
    this.opts.logger?.info({ alert: c.id, kind: c.kind, count: c.count }, opsAlertHeadline(c));
  }

  private async misclassify(
    store: Pick<Store, 'judgments'>,
    rule: MisclassificationRule,
    now: number,
  ): Promise<{ total: number; wrong: number; rate: number }> {
    const judged = await store.judgments({ kinds: ['mention', 'command', 'api'], limit: rule.votes });
    const figure = misclassification(judged);
    const open = this.state.alerts.find((a) => a.content.kind === 'feedback' && a.content.state === 'open')?.content;
    if (figure.total < rule.votes) return figure; // too few judged to say
    const judgedNow = { ...figure, threshold: rule.rate };
    const at = new Date(now).toISOString();
    if (figure.rate >= rule.rate && !open) {
      const content: OpsAlertContent = {
        id: `ops:feedback@${at}`,
        kind: 'feedback',
        title: opsAlertTitle('feedback'),
        state: 'open',
        revision: 1,
        count: figure.wrong,
        firstAt: at,
        lastAt: at,
        lastError: '',
        threshold: rule.votes,
        windowMinutes: 0,
        resolveAfterMinutes: 0,
        judged: judgedNow,
      };
      this.state.alerts.push({ content, delivered: {} });
      this.mustWrite = true;
      this.opts.logger?.warn({ alert: content.id, ...figure }, opsAlertHeadline(content));
    } else if (open && (open.judged?.wrong !== figure.wrong || open.judged?.total !== figure.total)) {
      open.count = figure.wrong;
      open.judged = judgedNow;
      open.lastAt = at;
      if (figure.rate >= rule.rate) {
        open.revision++;
        this.dirty = true;
      } else this.resolve(open, now);
    } else if (open && figure.rate < rule.rate) this.resolve(open, now);
    return figure;
  }

  /** Writes the state when due, and sends each alert whose latest revision some sink has not shown, when due. */
  private async flush(now: number): Promise<void> {
    if (this.mustWrite) await this.write(now); // the alert exists in the store before any message of it
    let sent = false;
    for (const entry of [...this.state.alerts]) {
      const c = entry.content;
      const behind = this.opts.sinks.filter((s) => s.opsAlert && (entry.delivered[s.name] ?? 0) < c.revision);
      if (!behind.length) continue;
      const due = entry.sentAt === undefined || entry.sentState !== c.state || now - entry.sentAt >= this.updateEveryMs;
      if (!due) continue;
      entry.sentAt = now;
      entry.sentState = c.state;
      sent = true;
      const snapshot: OpsAlertContent = { ...c, ...(c.judged ? { judged: { ...c.judged } } : {}) };
      for (const sink of behind) {
        try {
          await sink.opsAlert!(snapshot);
          entry.delivered[sink.name] = Math.max(entry.delivered[sink.name] ?? 0, snapshot.revision);
        } catch (err) {
          this.opts.logger?.error(
            { err, alert: c.id, sink: sink.name },
            `ops alert ${c.id} not delivered to ${sink.name} (sent again in ${Math.round(this.updateEveryMs / 1000)} s): ${describeError(err)}`,
          );
        }
      }
    }
    // Resolved and shown everywhere (or too long undeliverable): done with.
    const before = this.state.alerts.length;
    this.state.alerts = this.state.alerts.filter((e) => {
      const c = e.content;
      if (c.state !== 'resolved') return true;
      const behind = this.opts.sinks.some((s) => s.opsAlert && (e.delivered[s.name] ?? 0) < c.revision);
      return behind && now - Date.parse(c.resolvedAt ?? c.lastAt) < RESOLVED_KEPT_MS;
    });
    if (
      sent ||
      this.mustWrite ||
      this.state.alerts.length !== before ||
      (this.dirty && now - this.writtenAt >= this.updateEveryMs)
    )
      await this.write(now);
  }

  private async write(now: number): Promise<void> {
    this.mustWrite = false;
    this.dirty = false;
    this.writtenAt = now;
    try {
      await writeJsonState(this.opts.store, STATE_KEY, this.state);
    } catch (err) {
      this.mustWrite = true; // written at the next flush
      this.opts.logger?.error({ err }, `ops alerts: could not store their state: ${describeError(err)}`);
    }
  }
}

/** Keeps `t` among the latest `max` errors of `kind` (oldest first) and the latest error's message. */
function remember(
  recent: Partial<Record<ErrorKind, Recent>>,
  kind: ErrorKind,
  t: number,
  message: string,
  max: number,
): void {
  const r = (recent[kind] ??= { times: [], lastError: '' });
  let i = r.times.length;
  while (i > 0 && r.times[i - 1] > t) i--;
  r.times.splice(i, 0, t);
  if (i === r.times.length - 1) r.lastError = message;
  if (r.times.length > max) r.times.splice(0, r.times.length - max);
}
