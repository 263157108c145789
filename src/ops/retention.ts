/**
 * The retention job: nothing is kept forever unless the settings say so. On a node-cron schedule (hourly by
 * default) it removes, oldest first, in batches of `batchSize` rows (one short transaction each, a pause
 * between batches, so no long lock ever holds the writers up):
 *
 *   what                                          clock        setting (default)
 *   text of /predict and /sentiment predictions   created_at   RETENTION_PREDICTION_TEXT_DAYS (7)  — blanked
 *   /predict and /sentiment predictions + votes   created_at   RETENTION_PREDICTION_DAYS (90)
 *   mentions + their predictions x:<id> + votes   stored_at    RETENTION_MENTION_DAYS (90)
 *   resolved alerts + their votes                 stored_at    RETENTION_ALERT_DAYS (365)
 *   chat state kept as JSON by the adapters       last write   see CHAT_STATES below
 *   votes on something no longer stored           voted_at     (an hour old: a race with a delete)
 *
 * 0 days keeps that kind forever. Message links go with what they point at. Every run also re-keys votes
 * still stored with a raw user id (written by an older version during a rolling deploy).
 *
 * Several replicas may run it at once (until only the leader does): every delete is idempotent, and on
 * PostgreSQL a batch skips rows another replica is deleting. Metrics in `registry`:
 * `sentinel_retention_removed_total{kind}`, `sentinel_retention_runs_total{result}`,
 * `sentinel_retention_last_run_timestamp_seconds`.
 *
 *   const retention = new RetentionJob({ store, policy: retentionPolicyFrom(config), schedule: config.retentionSchedule, logger });
 *   retention.start();   // …   await retention.stop();
 */
import cron, { type ScheduledTask } from 'node-cron';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from '../log';
import { toCronExpression } from '../schedule';
import type { PruneKind, Store } from '../store/types';

const DAY = 86_400_000;

/** Days each kind is kept; 0 keeps it forever. */
export interface RetentionPolicy {
  predictionTextDays: number;
  predictionDays: number;
  mentionDays: number;
  alertDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  predictionTextDays: 7,
  predictionDays: 90,
  mentionDays: 90,
  alertDays: 365,
};

/** The policy from the validated config (config/schema.ts, "Retention and privacy"). */
export function retentionPolicyFrom(config: {
  retentionPredictionTextDays: number;
  retentionPredictionDays: number;
  retentionMentionDays: number;
  retentionAlertDays: number;
}): RetentionPolicy {
  return {
    predictionTextDays: config.retentionPredictionTextDays,
    predictionDays: config.retentionPredictionDays,
    mentionDays: config.retentionMentionDays,
    alertDays: config.retentionAlertDays,
  };
}

/**
 * Adapter state kept as JSON in the checkpoints table, by key prefix, and the retention it follows: a
 * Teams card's state holds the text it shows (a /sentiment answer or a mention) and its voters; an alert's
 * state in Slack or Teams holds the alert's content, top mentions included.
 */
export const CHAT_STATES: ReadonlyArray<{ prefix: string; keptAs: keyof RetentionPolicy }> = [
  { prefix: 'teams/card:', keptAs: 'predictionTextDays' },
  { prefix: 'slack/alert:', keptAs: 'alertDays' },
  { prefix: 'teams/alert:', keptAs: 'alertDays' },
  // Which channels got a day's digest (issue 13): no text of a tweet, kept as long as alerts.
  { prefix: 'slack/digest:', keptAs: 'alertDays' },
  { prefix: 'teams/digest:', keptAs: 'alertDays' },
];

export type RetentionStep = PruneKind | 'chat_states' | 'legacy_voters';
export const RETENTION_STEPS: readonly RetentionStep[] = [
  'legacy_voters',
  'prediction_texts',
  'predictions',
  'mentions',
  'alerts',
  'chat_states',
  'orphan_votes',
];

export interface RetentionReport {
  /** When the run started (ISO). */
  at: string;
  /** Rows removed (texts blanked, votes re-keyed) per step. */
  removed: Record<RetentionStep, number>;
  /** Steps that failed, with the reason (the others still ran). */
  errors: Partial<Record<RetentionStep, string>>;
  durationMs: number;
  /** The job was stopped before the end. */
  stopped: boolean;
}

export interface RetentionJobOptions {
  store: Store;
  policy?: Partial<RetentionPolicy>;
  /** Seconds dividing a day, or a cron expression (default hourly). */
  schedule?: number | string;
  /** Rows per statement (default 500). */
  batchSize?: number;
  /** Pause between two batches, ms (default 100): writers get the database in between. */
  pauseMs?: number;
  logger?: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  registry?: Registry;
  /** Run once at start() (default true): a process restarted more often than the schedule still prunes. */
  runOnStart?: boolean;
  now?: () => number;
}

export class RetentionJob {
  readonly registry: Registry;
  readonly cronExpression: string;
  readonly policy: RetentionPolicy;
  private readonly removedTotal: Counter<'kind'>;
  private readonly runs: Counter<'result'>;
  private readonly lastRun: Gauge;
  private task: ScheduledTask | undefined;
  private running: Promise<RetentionReport> | null = null;
  private stopping = false;
  private wake: (() => void) | null = null;

  constructor(private readonly opts: RetentionJobOptions) {
    this.policy = { ...DEFAULT_RETENTION, ...opts.policy };
    for (const [k, v] of Object.entries(this.policy)) {
      if (!Number.isFinite(v) || v < 0) throw new Error(`retention: ${k} must be a number of days ≥ 0, got ${v}`);
    }
    this.cronExpression = toCronExpression(opts.schedule ?? 3600, 'retention schedule');
    this.registry = opts.registry ?? new Registry();
    this.removedTotal = metric(
      this.registry,
      'sentinel_retention_removed_total',
      () =>
        new Counter({
          name: 'sentinel_retention_removed_total',
          help: 'Rows removed by the retention job (texts blanked, legacy votes re-keyed), by kind',
          labelNames: ['kind'],
          registers: [this.registry],
        }),
    );
    this.runs = metric(
      this.registry,
      'sentinel_retention_runs_total',
      () =>
        new Counter({
          name: 'sentinel_retention_runs_total',
          help: 'Runs of the retention job, by result (ok, error)',
          labelNames: ['result'],
          registers: [this.registry],
        }),
    );
    this.lastRun = metric(
      this.registry,
      'sentinel_retention_last_run_timestamp_seconds',
      () =>
        new Gauge({
          name: 'sentinel_retention_last_run_timestamp_seconds',
          help: 'When the retention job last finished a run (Unix time)',
          registers: [this.registry],
        }),
    );
  }

  /** Schedules the runs (and runs once now, unless runOnStart is false). */
  start(): void {
    if (this.task) return;
    this.stopping = false;
    const logger = this.opts.logger;
    const quiet = () => undefined;
    this.task = cron.schedule(this.cronExpression, () => void this.tick(), {
      name: 'sentinel-retention',
      noOverlap: true,
      logger: logger
        ? {
            info: (m) => logger.debug({ component: 'node-cron' }, String(m)),
            warn: (m) => logger.debug({ component: 'node-cron' }, String(m)),
            error: (m, err) => logger.error({ component: 'node-cron', err: err ?? m }, String(m)),
            debug: (m) => logger.debug({ component: 'node-cron' }, String(m)),
          }
        : { info: quiet, warn: quiet, error: quiet, debug: quiet },
    });
    logger?.info({ cron: this.cronExpression, policy: this.policy }, 'retention job started');
    if (this.opts.runOnStart !== false) void this.tick();
  }

  /** No new runs; the run in flight stops after its current batch. Resolves when it has. */
  async stop(): Promise<void> {
    this.stopping = true;
    const task = this.task;
    this.task = undefined;
    if (task) await task.destroy();
    this.wake?.();
    await this.running?.catch(() => undefined);
  }

  /** One run now (or the one in flight). */
  runOnce(): Promise<RetentionReport> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async tick(): Promise<void> {
    if (this.stopping || this.running) return;
    await this.runOnce().catch((err: unknown) => this.opts.logger?.error({ err }, 'retention run failed'));
  }

  private async run(): Promise<RetentionReport> {
    const started = (this.opts.now ?? Date.now)();
    const removed = Object.fromEntries(RETENTION_STEPS.map((s) => [s, 0])) as Record<RetentionStep, number>;
    const errors: RetentionReport['errors'] = {};
    const { store } = this.opts;
    const batch = Math.max(1, Math.floor(this.opts.batchSize ?? 500));
    const cutoff = (days: number) => (days > 0 ? new Date(started - days * DAY).toISOString() : null);

    const steps: Array<[RetentionStep, () => Promise<number>]> = [
      ['legacy_voters', () => store.hashLegacyVoters(batch)],
    ];
    const table: Array<[PruneKind, string | null]> = [
      ['prediction_texts', cutoff(this.policy.predictionTextDays)],
      ['predictions', cutoff(this.policy.predictionDays)],
      ['mentions', cutoff(this.policy.mentionDays)],
      ['alerts', cutoff(this.policy.alertDays)],
    ];
    for (const [kind, before] of table) if (before) steps.push([kind, () => store.prune(kind, before, batch)]);
    for (const state of CHAT_STATES) {
      const before = cutoff(this.policy[state.keptAs]);
      if (before) steps.push(['chat_states', () => store.pruneCheckpoints(state.prefix, before, batch)]);
    }
    // Expired delivery claims of the chat adapters (Store.claim, src/chat/once.ts): kept only while they last.
    steps.push(['chat_states', () => store.pruneClaims(batch)]);
    const anHourAgo = new Date(started - DAY / 24).toISOString();
    steps.push(['orphan_votes', () => store.prune('orphan_votes', anHourAgo, batch)]);

    for (const [step, once] of steps) {
      if (this.stopping) break;
      try {
        // Batch after batch until one comes back short: each is its own short transaction.
        for (;;) {
          const n = await once();
          removed[step] += n;
          if (n > 0) this.removedTotal.inc({ kind: step }, n);
          if (n < batch || this.stopping) break;
          await this.pause();
        }
      } catch (err) {
        errors[step] = (err as Error)?.message ?? String(err);
        this.opts.logger?.error({ err, step }, `retention: ${step} failed; the next run tries again`);
      }
    }

    const report: RetentionReport = {
      at: new Date(started).toISOString(),
      removed,
      errors,
      durationMs: (this.opts.now ?? Date.now)() - started,
      stopped: this.stopping,
    };
    const failed = Object.keys(errors).length > 0;
    this.runs.inc({ result: failed ? 'error' : 'ok' });
    this.lastRun.set((this.opts.now ?? Date.now)() / 1000);
    const total = Object.values(removed).reduce((a, b) => a + b, 0);
    const summary = Object.entries(removed)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    if (total > 0) {
      this.opts.logger?.info(
        { removed, durationMs: report.durationMs },
        `retention: removed ${total} rows (${summary})`,
      );
    } else {
      this.opts.logger?.debug({ durationMs: report.durationMs }, 'retention: nothing to remove');
    }
    return report;
  }

  private pause(): Promise<void> {
    const ms = this.opts.pauseMs ?? 100;
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done; // stop() ends the pause at once
    });
  }
}

function metric<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}
