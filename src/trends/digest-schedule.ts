/**
 * When the daily digest is posted: a node-cron schedule (DIGEST_CRON, six fields, default 08:00) in
 * DIGEST_TIMEZONE (default UTC). At each run, for every configured stream, the digest of yesterday — on
 * the stream's data clock (./digest: `Digests.yesterday`), so a replay gets the replayed days — goes to
 * every sink (Slack's alert channels, Teams' alert conversations, the console).
 *
 * Only the leader posts: `isLeader()` is asked at each run (with PostgreSQL the replica holding the lease,
 * with SQLite this process), so the schedule may run on every replica. The sinks make the rest exactly
 * once: each keeps per (stream, day) what it has posted, in the Store, and refuses a second delivery of
 * the same digest (a replica taking over, a restart, a run twice), so a retry only finishes what is left.
 *
 * A sink that fails is tried again for that digest every `retryMinutes` (default 15) until it succeeds or
 * the next run, which moves on to its own day; the failure is logged each time, and nothing else waits.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../log';
import type { DigestContent, DigestSink, Digests } from './digest';

export interface DigestScheduleOptions {
  digests: Pick<Digests, 'streams' | 'yesterday' | 'digestFor'>;
  /** The sinks, or a getter (the chat adapters start after the schedule is built). */
  sinks: DigestSink[] | (() => DigestSink[]);
  /** DIGEST_CRON: six fields (second minute hour day month weekday). */
  cron: string;
  /** DIGEST_TIMEZONE: the zone of the schedule. */
  timeZone: string;
  /** Whether this replica posts (the leader); asked at each run. */
  isLeader: () => boolean;
  logger?: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  retryMinutes?: number;
}

export interface DigestRunReport {
  /** `follower`: not the leader, nothing done. */
  skipped?: 'follower';
  posted: Array<{ stream: string; date: string; sink: string }>;
  failed: Array<{ stream: string; date: string; sink: string; error: string }>;
}

export class DigestSchedule {
  private task?: ScheduledTask;
  private retryTimer?: NodeJS.Timeout;
  /** Digests some sink has not taken yet: retried until the next run. */
  private pending: Array<{ content: DigestContent; sinks: string[] }> = [];
  private running?: Promise<DigestRunReport>;

  constructor(private readonly opts: DigestScheduleOptions) {
    if (!cron.validate(opts.cron))
      throw new Error(`digest schedule: ${JSON.stringify(opts.cron)} is not a valid cron expression (DIGEST_CRON)`);
  }

  start(): void {
    if (this.task) return;
    const logger = this.opts.logger;
    const quiet = () => undefined;
    this.task = cron.schedule(this.opts.cron, () => void this.runOnce(), {
      name: 'sentinel-digest',
      timezone: this.opts.timeZone,
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
    logger?.info(
      { cron: this.opts.cron, timeZone: this.opts.timeZone },
      `daily digest scheduled (${this.opts.cron}, ${this.opts.timeZone}); the leader posts it`,
    );
  }

  async stop(): Promise<void> {
    const task = this.task;
    this.task = undefined;
    if (task) await task.destroy();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One run now: yesterday's digest of every stream to every sink (nothing on a follower). */
  runOnce(): Promise<DigestRunReport> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private sinks(): DigestSink[] {
    return typeof this.opts.sinks === 'function' ? this.opts.sinks() : this.opts.sinks;
  }

  private async run(): Promise<DigestRunReport> {
    const { logger } = this.opts;
    const report: DigestRunReport = { posted: [], failed: [] };
    if (!this.opts.isLeader()) {
      logger?.debug({}, 'digest: not the leader; the leader posts the daily digest');
      return { ...report, skipped: 'follower' };
    }
    this.pending = []; // a new day: what yesterday's run could not post is not posted a day late
    const sinks = this.sinks();
    let streams: string[] = [];
    try {
      streams = await this.opts.digests.streams();
    } catch (err) {
      logger?.error({ err }, `digest: cannot list the streams: ${(err as Error).message}`);
    }
    for (const stream of streams) {
      let content: DigestContent;
      try {
        content = await this.opts.digests.digestFor(stream, await this.opts.digests.yesterday(stream));
      } catch (err) {
        logger?.error({ err, stream }, `digest: cannot build the digest of ${stream}: ${(err as Error).message}`);
        report.failed.push({ stream, date: '', sink: '', error: (err as Error).message });
        continue;
      }
      const left = await this.deliver(content, sinks, report);
      if (left.length) this.pending.push({ content, sinks: left });
    }
    this.armRetry();
    return report;
  }

  /** Sends to each sink; returns the names of those that failed. */
  private async deliver(content: DigestContent, sinks: DigestSink[], report: DigestRunReport): Promise<string[]> {
    const { logger } = this.opts;
    const failed: string[] = [];
    const { stream } = content;
    const { date } = content.day;
    for (const sink of sinks) {
      try {
        await sink.digest(content);
        report.posted.push({ stream, date, sink: sink.name });
        logger?.info(
          { stream, date, sink: sink.name, kind: content.kind },
          `digest of ${stream} for ${date} → ${sink.name}`,
        );
      } catch (err) {
        failed.push(sink.name);
        report.failed.push({ stream, date, sink: sink.name, error: (err as Error).message });
        logger?.error(
          { err, stream, date, sink: sink.name },
          `digest: ${sink.name} did not take the digest of ${stream} for ${date}; tried again in ${this.retryMinutes()} min`,
        );
      }
    }
    return failed;
  }

  private retryMinutes(): number {
    return this.opts.retryMinutes ?? 15;
  }

  private armRetry(): void {
    if (this.retryTimer || !this.pending.length || !this.task) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.retry();
    }, this.retryMinutes() * 60_000);
    this.retryTimer.unref();
  }

  private async retry(): Promise<void> {
    if (!this.opts.isLeader()) {
      this.pending = []; // only the leader posts
      return;
    }
    const report: DigestRunReport = { posted: [], failed: [] };
    const sinks = this.sinks();
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) {
      const left = await this.deliver(
        p.content,
        sinks.filter((s) => p.sinks.includes(s.name)),
        report,
      );
      if (left.length) this.pending.push({ content: p.content, sinks: left });
    }
    this.armRetry();
  }
}
