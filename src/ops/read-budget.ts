/**
 * X bills every post it returns ($0.005 a post on pay-per-use, 2026), so Sentinel counts what it reads: per
 * calendar month (UTC), in the store (checkpoint `x-reads:<YYYY-MM>`), so the count survives restarts and
 * carries over to the replica that leads next. Only the leader polls, so only the leader counts: a
 * read-modify-write through its fenced store is enough.
 *
 * With a budget (X_MONTHLY_READ_BUDGET): the ops channel hears once a month at 80 % and once at 100 %; from
 * 100 % on `exhausted()` is true and the poller polls at its floor (X_BUDGET_POLL_FLOOR) instead of its
 * interval, until the month ends. Without one, reads are counted and shown, never limited.
 */
import { Gauge, Registry } from 'prom-client';
import type { Logger } from '../log';
import type { Store } from '../store/types';

/** The share of the budget at which the ops channel is warned. */
export const WARN_SHARE = 0.8;

export interface ReadBudgetOptions {
  store: Pick<Store, 'getCheckpoint' | 'setCheckpoint'>;
  /** Posts allowed per calendar month; undefined: no limit. */
  monthlyBudget?: number;
  /** US dollars per post read. */
  costPerRead: number;
  /** A description of the floor for messages, e.g. "once an hour". */
  floorDescription: string;
  /** Told once per month at each threshold. */
  notify: (text: string) => void;
  registry?: Registry;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  now?: () => Date;
}

export interface ReadBudgetState {
  /** YYYY-MM (UTC). */
  month: string;
  reads: number;
  costUsd: number;
  budget: number | null;
  /** reads / budget, null without a budget. */
  share: number | null;
  /** True once the budget is spent: polling is at its floor. */
  exhausted: boolean;
}

/** The month's stored figures: the count and the thresholds already announced. */
interface MonthRecord {
  reads: number;
  warned: number; // 0, 80 or 100
}

export function monthOf(d: Date): string {
  return d.toISOString().slice(0, 7);
}

export function readsKey(month: string): string {
  return `x-reads:${month}`;
}

export class ReadBudget {
  readonly registry: Registry;
  private readonly opts: ReadBudgetOptions;
  private current: { month: string; record: MonthRecord } | null = null;
  /** Reads are recorded one poll after another; this keeps them in order. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: ReadBudgetOptions) {
    if (opts.monthlyBudget !== undefined && !(Number.isSafeInteger(opts.monthlyBudget) && opts.monthlyBudget > 0))
      throw new Error(`X read budget: expected a whole number of posts ≥ 1, got ${opts.monthlyBudget}`);
    this.opts = opts;
    this.registry = opts.registry ?? new Registry();
    const figures = () => this.state();
    gauge(this.registry, 'sentinel_x_reads_month', 'Posts read from X this calendar month (UTC)', function () {
      this.set(figures().reads);
    });
    gauge(
      this.registry,
      'sentinel_x_read_cost_usd_month',
      'What the posts read from X this month cost, in USD',
      function () {
        this.set(figures().costUsd);
      },
    );
    gauge(
      this.registry,
      'sentinel_x_read_budget',
      'Posts X_MONTHLY_READ_BUDGET allows per month (0: none)',
      function () {
        this.set(opts.monthlyBudget ?? 0);
      },
    );
  }

  /** Reads the month's count from the store (at the start of a term, before the first poll). */
  async load(): Promise<ReadBudgetState> {
    await this.monthRecord();
    return this.state();
  }

  /** Adds `posts` read from X; announces a threshold crossed. Never throws (the poll already happened). */
  record(posts: number): Promise<void> {
    if (!(posts > 0)) return Promise.resolve();
    const run = this.queue.then(async () => {
      try {
        const { month, record } = await this.monthRecord();
        record.reads += posts;
        const before = record.warned;
        const share = this.opts.monthlyBudget ? record.reads / this.opts.monthlyBudget : 0;
        if (share >= 1) record.warned = 100;
        else if (share >= WARN_SHARE && record.warned < 80) record.warned = 80;
        await this.opts.store.setCheckpoint(readsKey(month), JSON.stringify(record));
        if (record.warned !== before) this.announce(record.warned === 100 ? 'spent' : 'warn');
      } catch (err) {
        this.opts.logger?.error({ err, posts }, `X reads not counted: ${(err as Error).message}`);
      }
    });
    this.queue = run;
    return run;
  }

  /** The month's figures as last known (the month rolls over at UTC midnight on the 1st). */
  state(): ReadBudgetState {
    const month = monthOf(this.now());
    return figures(month, this.current?.month === month ? this.current.record.reads : 0, this.opts);
  }

  /** True while this month's budget is spent: the poller holds to its floor. */
  exhausted(): boolean {
    return this.state().exhausted;
  }

  private announce(what: 'warn' | 'spent'): void {
    const s = this.state();
    const figures = `${s.reads.toLocaleString('en-US')} of ${s.budget!.toLocaleString('en-US')} posts read from X in ${s.month} (≈ $${s.costUsd.toFixed(2)})`;
    const text =
      what === 'warn'
        ? `X read budget at ${Math.floor(s.share! * 100)} %: ${figures}. At 100 % polling slows to ${this.opts.floorDescription} until the month ends.`
        : `X read budget spent: ${figures}. Polling slowed to ${this.opts.floorDescription} until the month ends; raise X_MONTHLY_READ_BUDGET to poll at the usual pace.`;
    this.opts.logger?.warn({ xReads: s }, text);
    this.opts.notify(text);
  }

  private async monthRecord(): Promise<{ month: string; record: MonthRecord }> {
    const month = monthOf(this.now());
    if (this.current?.month === month) return this.current;
    const raw = await this.opts.store.getCheckpoint(readsKey(month));
    this.current = { month, record: parseRecord(raw) };
    return this.current;
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }
}

/** A stored record, or a fresh month when there is none or it cannot be read (a count is not worth a crash). */
function parseRecord(raw: string | null): MonthRecord {
  if (raw === null) return { reads: 0, warned: 0 };
  try {
    const v = JSON.parse(raw) as Partial<MonthRecord>;
    const reads = Number.isSafeInteger(v.reads) && v.reads! >= 0 ? v.reads! : 0;
    const warned = v.warned === 80 || v.warned === 100 ? v.warned : 0;
    return { reads, warned };
  } catch {
    return { reads: 0, warned: 0 };
  }
}

/** The month's count as stored (any replica, for `/sentiment status`), without a budget's bookkeeping. */
export async function storedMonth(
  store: Pick<Store, 'getCheckpoint'>,
  opts: { monthlyBudget?: number; costPerRead: number; now?: Date },
): Promise<ReadBudgetState> {
  const month = monthOf(opts.now ?? new Date());
  return figures(month, parseRecord(await store.getCheckpoint(readsKey(month))).reads, opts);
}

function figures(month: string, reads: number, opts: { monthlyBudget?: number; costPerRead: number }): ReadBudgetState {
  const budget = opts.monthlyBudget ?? null;
  return {
    month,
    reads,
    costUsd: Math.round(reads * opts.costPerRead * 100) / 100,
    budget,
    share: budget ? reads / budget : null,
    exhausted: budget !== null && reads >= budget,
  };
}

/** "once an hour", "every 300 s", "on the cron schedule 0 0 * * * *": a poll floor for people. */
export function describeInterval(interval: string): string {
  if (!/^\d+$/.test(interval)) return `on the cron schedule ${interval}`;
  const s = Number(interval);
  if (s === 3600) return 'once an hour';
  if (s === 86_400) return 'once a day';
  if (s % 3600 === 0) return `every ${s / 3600} h`;
  if (s % 60 === 0) return `every ${s / 60} min`;
  return `every ${s} s`;
}

function gauge(registry: Registry, name: string, help: string, collect: (this: Gauge) => void): void {
  if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
  new Gauge({ name, help, registers: [registry], collect });
}
