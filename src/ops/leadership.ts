/**
 * One leader among the replicas (issue 12). With PostgreSQL every replica serves HTTP, Slack and Teams, and
 * exactly one at a time — the holder of the lease `leader` — polls the sources, judges the trends, posts the
 * alerts and ops notices and runs the retention job (src/ops/leader-work.ts starts and stops that work).
 *
 * `Leadership` (PostgreSQL, src/store/lease.ts):
 * - A follower tries to take the lease every TTL/3 (free or expired, on the database's clock). Taking it
 *   increments the fencing token: `acquired` is emitted with the new term, whose `fence` the leader's writes
 *   carry (src/store/fence.ts).
 * - The leader renews every TTL/3 and steps down (`lost`) the moment a renewal fails (the database cannot be
 *   reached) or finds the term over (another holder, or expired), or when its own monotonic clock says the
 *   TTL has passed since the last renewal it sent that succeeded (a paused process, a renewal stuck on the
 *   network): measured from when the renewal was sent, so this side always gives up no later than the
 *   database lets another replica take over. After a loss it is a follower and tries again like any other.
 * - A replica dead or partitioned is replaced within TTL + TTL/3; `stop()` (SIGTERM) releases the lease, so
 *   another replica takes over at its next try instead of after the TTL.
 * - `canLead` (e.g. "my model is loaded") keeps a replica that could not do the work from taking the lease.
 *
 * `SingleLeadership` (SQLite: one process, src/store/sqlite-lock.ts): leads from `start()` to `stop()`, with
 * no lease and no token (role `single`).
 *
 * Both: `status()` for /ready and /sentiment status; metrics `sentinel_leader` (1 while leading),
 * `sentinel_lease_acquisitions_total`, `sentinel_lease_renewals_total`, `sentinel_lease_losses_total{reason}`.
 * Holder id: `<hostname>:<pid>:<random>`.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from '../log';
import type { DependencyHealth } from './health';
import type { Fence } from '../store/fence';
import type { Lease, LeaseStore } from '../store/lease';

export type LeaderRole = 'leader' | 'follower' | 'single';

/** Who leads, as /ready (`leader`) and /sentiment status tell it. */
export interface LeaderStatus {
  /** `single`: SQLite, one process, always leading. */
  role: LeaderRole;
  /** The leading replica's holder id: this one's when it leads, else the last one seen (null: none seen). */
  holder: string | null;
  /** The leader's fencing token (null for `single`, or when no leader has been seen). */
  token: number | null;
  /** When the leader's term began (ISO; the database's clock with PostgreSQL). */
  since: string | null;
}

/** One term of leadership: from an acquisition to its loss. */
export interface LeaderTerm {
  name: string;
  holder: string;
  token: number;
  since: string;
  /** What the term's writes carry (Store.fenced). */
  fence: Fence;
}

export interface LostEvent {
  term: LeaderTerm;
  /** `expired`, `taken`, `renewal_failed` or `fenced_out`. */
  reason: LossReason;
  detail: string;
}

export type LossReason = 'expired' | 'taken' | 'renewal_failed' | 'fenced_out';

export interface LeaderEvents {
  acquired: [LeaderTerm];
  lost: [LostEvent];
}

export interface Leader extends EventEmitter<LeaderEvents> {
  readonly holderId: string;
  readonly registry: Registry;
  start(): void;
  /** Stops trying; a leader releases its lease. Stop the leader's work first (its writes need the lease). */
  stop(): Promise<void>;
  status(): LeaderStatus;
  /** For /ready's dependencies: ok while a leader is known (this replica or another), else degraded. */
  health(): DependencyHealth;
  /** The current term while leading, else null. */
  term(): LeaderTerm | null;
  /** A write of `term` was refused by fencing: that term is over (nothing if it is not the current one). */
  fencedOut(term: LeaderTerm): void;
}

export const LEADER_LEASE = 'leader';

/** `<hostname>:<pid>:<6 hex>`: readable in /ready, unique even for a pid reused after a restart. */
export function newHolderId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

type Log = Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;

function leaderMetrics(registry: Registry, leading: () => boolean) {
  const existing = <T>(name: string) => registry.getSingleMetric(name) as T | undefined;
  if (!existing<Gauge>('sentinel_leader'))
    new Gauge({
      name: 'sentinel_leader',
      help: '1 while this replica leads (polls, judges trends, posts alerts), 0 otherwise',
      registers: [registry],
      collect() {
        this.set(leading() ? 1 : 0);
      },
    });
  return {
    acquisitions:
      existing<Counter>('sentinel_lease_acquisitions_total') ??
      new Counter({
        name: 'sentinel_lease_acquisitions_total',
        help: 'Times this replica took the leader lease (each a new fencing token)',
        registers: [registry],
      }),
    renewals:
      existing<Counter>('sentinel_lease_renewals_total') ??
      new Counter({
        name: 'sentinel_lease_renewals_total',
        help: 'Successful renewals of the leader lease by this replica',
        registers: [registry],
      }),
    losses:
      existing<Counter<'reason'>>('sentinel_lease_losses_total') ??
      new Counter({
        name: 'sentinel_lease_losses_total',
        help: 'Times this replica lost the leader lease, by reason (expired, taken, renewal_failed, fenced_out)',
        labelNames: ['reason'] as const,
        registers: [registry],
      }),
  };
}

export interface LeadershipOptions {
  leases: LeaseStore;
  /** LEADER_LEASE_TTL_MS. */
  ttlMs: number;
  /** The lease's name (default `leader`). */
  name?: string;
  holderId?: string;
  /** Whether this replica may take the lease now (e.g. its model is loaded); default: always. */
  canLead?: () => boolean;
  logger?: Log;
  registry?: Registry;
  /** A monotonic clock in ms (tests); default performance.now. */
  now?: () => number;
}

export class Leadership extends EventEmitter<LeaderEvents> implements Leader {
  readonly holderId: string;
  readonly registry: Registry;
  readonly name: string;
  readonly ttlMs: number;
  /** How often the leader renews and a follower tries: a third of the TTL. */
  readonly periodMs: number;
  private readonly opts: LeadershipOptions;
  private readonly now: () => number;
  private readonly metrics: ReturnType<typeof leaderMetrics>;
  /** The term held, and the monotonic time by which it must have been renewed. */
  private current: { term: LeaderTerm; deadline: number } | null = null;
  /** The lease as last seen by this replica as a follower. */
  private observed: Lease | null = null;
  private running = false;
  private timer?: NodeJS.Timeout;
  private expiry?: NodeJS.Timeout;
  private inFlight: Promise<void> = Promise.resolve();
  private unreachable = false;

  constructor(opts: LeadershipOptions) {
    super();
    if (!Number.isSafeInteger(opts.ttlMs) || opts.ttlMs < 30) throw new RangeError('Leadership: ttlMs must be ≥ 30');
    this.opts = opts;
    this.name = opts.name ?? LEADER_LEASE;
    this.ttlMs = opts.ttlMs;
    this.periodMs = Math.max(10, Math.floor(opts.ttlMs / 3));
    this.holderId = opts.holderId ?? newHolderId();
    this.now = opts.now ?? (() => performance.now());
    this.registry = opts.registry ?? new Registry();
    this.metrics = leaderMetrics(this.registry, () => this.current !== null);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.opts.logger?.info(
      { holder: this.holderId, lease: this.name, ttlMs: this.ttlMs },
      `replicas: PostgreSQL lease "${this.name}" (TTL ${this.ttlMs} ms); this replica is ${this.holderId}`,
    );
    this.tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.inFlight;
    const cur = this.current;
    this.current = null;
    clearTimeout(this.expiry);
    if (cur) {
      try {
        const released = await this.opts.leases.release(this.name, this.holderId, cur.term.token);
        if (released)
          this.opts.logger?.info({ token: cur.term.token }, 'leader: lease released (another replica takes over now)');
      } catch (err) {
        this.opts.logger?.warn(
          { err },
          `leader: could not release the lease (another replica takes over once it expires, within ${this.ttlMs} ms)`,
        );
      }
    }
    await this.opts.leases.close();
  }

  status(): LeaderStatus {
    if (this.current) {
      const { holder, token, since } = this.current.term;
      return { role: 'leader', holder, token, since };
    }
    const o = this.observed;
    return { role: 'follower', holder: o?.holder ?? null, token: o?.token ?? null, since: o?.acquiredAt ?? null };
  }

  health(): DependencyHealth {
    const s = this.status();
    const detail = { role: s.role, holder: s.holder, token: s.token };
    if (this.unreachable) return { status: 'degraded', reason: `cannot reach the lease in PostgreSQL`, ...detail };
    if (s.holder === null)
      return {
        status: 'degraded',
        reason: 'no replica holds the lease (a replica takes it once its model is loaded)',
        ...detail,
      };
    return { status: 'ok', ...detail };
  }

  term(): LeaderTerm | null {
    return this.current?.term ?? null;
  }

  fencedOut(term: LeaderTerm): void {
    if (this.current?.term === term) this.lose('fenced_out', 'a write was refused: the lease is no longer ours');
  }

  private tick(): void {
    if (!this.running) return;
    const step = this.current ? this.renew() : this.acquire();
    this.inFlight = step
      .catch((err: unknown) => this.opts.logger?.error({ err }, 'leader: lease step failed'))
      .finally(() => {
        if (this.running) this.timer = setTimeout(() => this.tick(), this.periodMs);
      });
  }

  private async acquire(): Promise<void> {
    const { leases, logger } = this.opts;
    if (this.opts.canLead && !this.opts.canLead()) {
      this.observe(await leases.read(this.name).catch(() => this.observed));
      return;
    }
    const sentAt = this.now();
    let result;
    try {
      result = await leases.acquire(this.name, this.holderId, this.ttlMs);
    } catch (err) {
      if (!this.unreachable)
        logger?.warn({ err }, `replicas: cannot reach the lease (tried again every ${this.periodMs} ms)`);
      this.unreachable = true;
      return;
    }
    if (this.unreachable) logger?.info('replicas: the lease is reachable again');
    this.unreachable = false;
    if (!result.acquired) return this.observe(result.lease);
    const { lease } = result;
    if (!this.running) {
      // Stopped while asking: hand it back at once.
      await leases.release(this.name, this.holderId, lease.token).catch(() => undefined);
      return;
    }
    const term: LeaderTerm = {
      name: this.name,
      holder: this.holderId,
      token: lease.token,
      since: lease.acquiredAt,
      fence: { name: this.name, token: lease.token, maxIdleMs: Math.max(1000, Math.round(this.ttlMs / 2)) },
    };
    this.current = { term, deadline: sentAt + this.ttlMs };
    this.observed = null;
    this.armExpiry();
    this.metrics.acquisitions.inc();
    logger?.info(
      { holder: this.holderId, token: lease.token, since: lease.acquiredAt },
      `leader: this replica leads now (token ${lease.token}): polling, trends, alerts and retention run here`,
    );
    this.emit('acquired', term);
  }

  private async renew(): Promise<void> {
    const cur = this.current!;
    const sentAt = this.now();
    if (sentAt >= cur.deadline) return this.lose('expired', 'no successful renewal within the TTL');
    let lease: Lease | null;
    try {
      lease = await this.opts.leases.renew(this.name, this.holderId, cur.term.token, this.ttlMs);
    } catch (err) {
      if (this.current === cur) this.lose('renewal_failed', `the renewal failed: ${(err as Error).message}`);
      return;
    }
    if (this.current !== cur) return; // lost meanwhile (the TTL passed while the renewal was on its way)
    if (!lease) return this.lose('taken', 'the lease was taken over or expired in the database');
    cur.deadline = sentAt + this.ttlMs;
    this.armExpiry();
    this.metrics.renewals.inc();
  }

  /** At the deadline, if no renewal has moved it meanwhile, the term is over. */
  private armExpiry(): void {
    clearTimeout(this.expiry);
    const cur = this.current;
    if (!cur) return;
    this.expiry = setTimeout(
      () => {
        if (this.current !== cur) return;
        if (this.now() >= cur.deadline) this.lose('expired', 'no successful renewal within the TTL');
        else this.armExpiry();
      },
      Math.max(1, Math.ceil(cur.deadline - this.now())),
    );
  }

  private lose(reason: LossReason, detail: string): void {
    const cur = this.current;
    if (!cur) return;
    this.current = null;
    clearTimeout(this.expiry);
    this.metrics.losses.inc({ reason });
    this.opts.logger?.warn(
      { holder: this.holderId, token: cur.term.token, reason },
      `leader: lost the lease (${detail}); this replica stops its leader work and follows`,
    );
    this.emit('lost', { term: cur.term, reason, detail });
  }

  private observe(lease: Lease | null): void {
    const before = this.observed;
    this.observed = lease && lease.holder !== this.holderId ? lease : null;
    const now = this.observed;
    if (now && (now.holder !== before?.holder || now.token !== before?.token)) {
      this.opts.logger?.info(
        { leader: now.holder, token: now.token, since: now.acquiredAt },
        `follower: ${now.holder} leads (token ${now.token})`,
      );
    }
  }
}

/** SQLite: one process, which leads from start() to stop(). */
export class SingleLeadership extends EventEmitter<LeaderEvents> implements Leader {
  readonly holderId: string;
  readonly registry: Registry;
  private current: LeaderTerm | null = null;
  private since: string | null = null;
  private readonly metrics: ReturnType<typeof leaderMetrics>;

  constructor(opts: { holderId?: string; registry?: Registry } = {}) {
    super();
    this.holderId = opts.holderId ?? newHolderId();
    this.registry = opts.registry ?? new Registry();
    this.metrics = leaderMetrics(this.registry, () => this.current !== null);
  }

  start(): void {
    if (this.current) return;
    this.since = new Date().toISOString();
    this.current = {
      name: LEADER_LEASE,
      holder: this.holderId,
      token: 0,
      since: this.since,
      fence: { name: LEADER_LEASE, token: 0 },
    };
    this.metrics.acquisitions.inc();
    this.emit('acquired', this.current);
  }

  async stop(): Promise<void> {
    this.current = null;
  }

  status(): LeaderStatus {
    return { role: 'single', holder: this.holderId, token: null, since: this.since };
  }

  health(): DependencyHealth {
    return { status: 'ok', role: 'single', holder: this.holderId };
  }

  term(): LeaderTerm | null {
    return this.current;
  }

  fencedOut(): void {
    // SQLite never fences a write out.
  }
}
