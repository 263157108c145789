/**
 * The poller: for each stream, checkpoint → source.fetch → scorer.score (one batch) → store.saveMentions
 * → store.setCheckpoint → onScored. The checkpoint advances only once the mentions are stored, and the
 * store's writes are idempotent, so a crash anywhere loses nothing and duplicates nothing: at worst the
 * last fetch is read and stored again. Each scored mention says whether the model could read it
 * (`unreadable`, Scorer.unreadable): all are stored, the trend counts only those it could read.
 *
 * Languages: each mention's language is identified before the model sees it (src/sentiment/language.ts).
 * One in a language the model does not read is not scored: it is stored with `prediction: null` and its
 * `language`, so no English label is ever recorded for it, and the trend counts it per language only.
 *
 * - Checkpoints are kept per source and stream, under the key `<source name>:<stream>` (a replay of
 *   `Delta` and an X stream `Delta` never share one).
 * - Scheduling: node-cron, every `interval` (seconds, or a cron expression), `noOverlap` plus a guard of
 *   our own: a tick that finds a poll in flight is skipped. `pollOnce()` runs one poll of every stream
 *   now (after the one in flight, if any): for tests and replays.
 * - `stop()`: no new polls; aborts waits inside the source (an X rate-limit reset can be 15 minutes
 *   away) and waits for the poll in flight to finish storing and checkpointing. It does not close the
 *   store, which is shared: the composition root closes it after `stop()`.
 * - Faults are per stream: an error is logged and counted and the other streams go on. An `XAuthError`
 *   (the token refused) or an `XTrustError` (X's certificate not trusted) pauses every stream of that
 *   source, reported once (log + `onError`). A paused source is tried again every `pausedRetryMs` (15 min)
 *   and at once on `resume()` or when a resume request newer than the pause is stored (`requestResume`:
 *   `/sentiment resume` may reach any replica, only the leader polls); its first good poll after that is
 *   reported (`onResume`). With a
 *   `ScorerSlot` that is not ready, nothing is fetched (X bills reads) and the poll reports `not_ready`.
 * - Logs: a poll that fetched something is one info line. Idle polls are not logged one by one (a replay
 *   that has ended, or a quiet night on X, would print a line a poll forever): the first idle poll of a
 *   stream says so once ("no new mentions; the next ones are logged when they arrive"), then one summary
 *   at most every `idleLogEveryMs` (default 1 h) says how long and how many polls; each idle poll is a
 *   debug line.
 * - Metrics (prom-client): `sentinel_polls_total{stream,result}`, `sentinel_mentions_stored_total{stream}`
 *   (new rows only), `sentinel_mentions_fetched_total{stream}`, `sentinel_mentions_by_language_total{stream,
 *   language}` (fetched, by language identified; `und` = too short to tell, read as English), in the
 *   registry given (or a private one).
 */
import cron, { type ScheduledTask } from 'node-cron';
import { Counter, Registry } from 'prom-client';
import type { Logger } from '../log';
import { toCronExpression } from '../schedule';
import { identifyLanguage } from '../sentiment/language';
import { ScorerSlot } from '../sentiment/scorer-slot';
import type { Scorer } from '../sentiment/types';
import type { Store } from '../store/types';
import type { MentionSource, ScoredMention } from './types';
import type { DependencyHealth } from '../ops/health';
import { XAuthError, XRateLimitError, XTrustError } from './x-source';
import { RESUME_REQUEST_KEY } from './resume';

export interface PollerStream {
  source: MentionSource;
  stream: string;
}

export type PollResult = 'ok' | 'error' | 'paused' | 'not_ready' | 'rate_limited' | 'aborted';

export interface StreamReport {
  source: string;
  stream: string;
  result: PollResult;
  fetched: number;
  /** New rows (the store ignores tweets it already has). */
  stored: number;
  checkpoint: string | null;
  error?: string;
}

/** The model failed on fetched mentions (not the source): the poll is retried, ops alerts count it as scoring. */
export class ScoringError extends Error {
  constructor(cause: unknown) {
    super(`scoring failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'ScoringError';
  }
}

export interface PollerError {
  source: string;
  stream: string;
  error: Error;
  /** True when the source is now paused (auth refused): reported once, not on every poll. */
  paused: boolean;
}

export interface PollerOptions {
  streams: PollerStream[];
  /** A fixed scorer, or the slot the model is hot-swapped in (read at each poll). */
  scorer: Scorer | ScorerSlot;
  store: Store;
  /** Seconds (number or digits) or a cron expression (5 or 6 fields); default 60 s. */
  interval?: number | string;
  /** Poll as soon as `start()` is called (default true), not only at the first tick. */
  pollOnStart?: boolean;
  /** Called with each stream's newly scored mentions, oldest first, after they are stored and checkpointed. */
  onScored?: (stream: string, mentions: ScoredMention[]) => void | Promise<void>;
  onError?: (e: PollerError) => void;
  /** A paused source polled successfully again. */
  onResume?: (source: string) => void;
  /** How long a paused source waits before it is tried again (ms); default 15 min. */
  pausedRetryMs?: number;
  /**
   * A slower schedule that replaces `interval` while `active()` is true (the month's X read budget is spent:
   * src/ops/read-budget.ts). Seconds or a cron expression.
   */
  floor?: { interval: number | string; active: () => boolean; description?: string };
  registry?: Registry;
  logger?: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** While a stream stays idle (no mention fetched), one info summary at most this often; default 1 h. */
  idleLogEveryMs?: number;
  /** The clock of the idle summaries (tests); default Date.now. */
  now?: () => number;
}

/** A stream whose polls fetch nothing: since when, how many polls, when it was last said at info. */
interface IdleStream {
  since: number;
  polls: number;
  loggedAt: number;
}

export class Poller {
  readonly cronExpression: string;
  readonly registry: Registry;
  private readonly opts: PollerOptions;
  private readonly polls: Counter<'stream' | 'result'>;
  private readonly stored: Counter<'stream'>;
  private readonly fetched: Counter<'stream'>;
  private readonly languages: Counter<'stream' | 'language'>;
  /** Paused sources: why, since when, and when to try again. */
  private readonly paused = new Map<MentionSource, { reason: string; since: number; retryAt: number }>();
  /** Sources tried again after a pause whose first good poll is still to come. */
  private readonly retrying = new Set<MentionSource>();
  private notReadyReported = false;
  private task?: ScheduledTask;
  private floorTask?: ScheduledTask;
  private floorLogged = false;
  private inFlight: Promise<StreamReport[]> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private abort = new AbortController();
  private stopping = false;
  private readonly last = new Map<
    string,
    { stream: string; at: string; result: PollResult; fetched: number; error?: string }
  >();
  private readonly idle = new Map<string, IdleStream>();

  constructor(opts: PollerOptions) {
    if (opts.streams.length === 0) throw new Error('Poller: no stream to poll');
    this.opts = opts;
    this.cronExpression = toCronExpression(opts.interval ?? 60);
    this.registry = opts.registry ?? new Registry();
    this.polls = counter(this.registry, 'sentinel_polls_total', 'Polls of a mention stream, by stream and result', [
      'stream',
      'result',
    ]);
    this.stored = counter(
      this.registry,
      'sentinel_mentions_stored_total',
      'Mentions scored and newly stored, by stream',
      ['stream'],
    );
    this.fetched = counter(
      this.registry,
      'sentinel_mentions_fetched_total',
      'Mentions fetched from sources, by stream',
      ['stream'],
    );
    this.languages = counter(
      this.registry,
      'sentinel_mentions_by_language_total',
      'Mentions fetched, by stream and language identified (und: too short to tell; only en and und are scored)',
      ['stream', 'language'],
    );
  }

  /** Schedules the polls. */
  start(): void {
    if (this.task) return;
    this.stopping = false;
    this.abort = new AbortController();
    const logger = this.opts.logger;
    const quiet = () => undefined;
    this.task = cron.schedule(this.cronExpression, () => this.tick(), {
      name: 'sentinel-poller',
      noOverlap: true,
      // node-cron logs to the console by default: route it to ours (or nowhere). A tick skipped because
      // the previous poll still runs is expected with slow polls: debug, not a warning every second.
      logger: logger
        ? {
            info: (m) => logger.debug({ component: 'node-cron' }, String(m)),
            warn: (m) =>
              (/overlap/i.test(m) ? logger.debug : logger.warn).call(logger, { component: 'node-cron' }, String(m)),
            error: (m, err) => logger.error({ component: 'node-cron', err: err ?? m }, String(m)),
            debug: (m) => logger.debug({ component: 'node-cron' }, String(m)),
          }
        : { info: quiet, warn: quiet, error: quiet, debug: quiet },
    });
    const floor = this.opts.floor;
    if (floor) {
      // Two schedules, one active at a time: the interval's ticks skip while the floor holds, and the floor's
      // ticks poll only then. A spent budget slows polling without restarting anything.
      this.floorTask = cron.schedule(
        toCronExpression(floor.interval, 'poll floor'),
        () => {
          if (floor.active()) void this.tick(true);
        },
        { name: 'sentinel-poller-floor', noOverlap: true },
      );
    }
    logger?.info(
      { cron: this.cronExpression, streams: this.opts.streams.map((s) => `${s.source.name}:${s.stream}`) },
      'poller started',
    );
    if (this.opts.pollOnStart !== false) void this.tick();
  }

  /** Stops scheduling, aborts source waits, and resolves once the poll in flight is done. */
  async stop(): Promise<void> {
    this.stopping = true;
    const task = this.task;
    this.task = undefined;
    if (task) await task.destroy();
    const floorTask = this.floorTask;
    this.floorTask = undefined;
    if (floorTask) await floorTask.destroy();
    this.abort.abort(new Error('the poller is stopping'));
    await this.queue.catch(() => undefined);
    this.opts.logger?.info('poller stopped');
  }

  /** One poll of every stream, now (after the poll in flight, if any). */
  pollOnce(): Promise<StreamReport[]> {
    const run = this.queue.then(() => this.runAll());
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The last poll of each stream (for `/sentiment status`): when, how it ended, how much it read. */
  lastPolls(): Array<{ stream: string; at: string; result: PollResult; fetched: number; error?: string }> {
    return [...this.last.values()];
  }

  /** For /ready: down when every source is paused, degraded when one is or a stream's last poll failed. */
  health(): DependencyHealth {
    const paused = this.pausedSources();
    const sources = new Set(this.opts.streams.map((s) => s.source.name));
    if (paused.length > 0) {
      const status = paused.length >= sources.size ? 'down' : 'degraded';
      return {
        status,
        reason: paused.map((p) => `${p.source} paused: ${p.reason}`).join('; '),
        since: paused[0].since,
        retryAt: paused[0].retryAt,
      };
    }
    const failing = [...this.last.entries()].filter(([, l]) => l.result === 'error' || l.result === 'rate_limited');
    if (failing.length > 0)
      return {
        status: 'degraded',
        reason: failing
          .map(([key, l]) =>
            l.result === 'rate_limited'
              ? `${key}: waiting for the rate limit`
              : `${key}: last poll failed (${l.error})`,
          )
          .join('; '),
      };
    return { status: 'ok', streams: [...this.last.keys()] };
  }

  /** True while a poll runs. */
  busy(): boolean {
    return this.inFlight !== null;
  }

  /** Sources paused after refusing the credentials, with the reason. */
  pausedSources(): Array<{ source: string; reason: string; since: string; retryAt: string }> {
    return [...this.paused].map(([s, p]) => ({
      source: s.name,
      reason: p.reason,
      since: new Date(p.since).toISOString(),
      retryAt: new Date(p.retryAt).toISOString(),
    }));
  }

  /** Tries a paused source again at the next poll (e.g. after the token or the CA was fixed). */
  resume(sourceName: string): void {
    for (const [s, p] of this.paused) if (s.name === sourceName) p.retryAt = 0;
  }

  /** A resume request stored after a pause began (by whichever replica got the command) ends that pause's wait. */
  private async readResumeRequest(): Promise<void> {
    if (this.paused.size === 0) return;
    const requested = await this.opts.store.getCheckpoint(RESUME_REQUEST_KEY).catch(() => null);
    const at = requested ? Date.parse(requested) : NaN;
    if (!Number.isFinite(at)) return;
    for (const p of this.paused.values()) if (at >= p.since) p.retryAt = 0;
  }

  private async tick(onFloor = false): Promise<void> {
    if (this.stopping) return;
    const floor = this.opts.floor;
    if (floor && !onFloor) {
      const slowed = floor.active();
      if (slowed !== this.floorLogged) {
        this.floorLogged = slowed;
        this.opts.logger?.[slowed ? 'warn' : 'info'](
          slowed
            ? `polling slowed to ${floor.description ?? 'its floor'}: the X read budget is spent`
            : 'polling back at its usual pace',
        );
      }
      if (slowed) return;
    }
    if (this.inFlight) {
      this.opts.logger?.debug('poll skipped: the previous one is still running');
      return;
    }
    await this.pollOnce();
  }

  private async runAll(): Promise<StreamReport[]> {
    const reports: StreamReport[] = [];
    const run = (async () => {
      await this.readResumeRequest();
      for (const s of this.opts.streams) {
        if (this.stopping && this.abort.signal.aborted) break;
        const report = await this.pollStream(s);
        reports.push(report);
        this.last.set(`${report.source}:${report.stream}`, {
          stream: report.stream,
          at: new Date().toISOString(),
          result: report.result,
          fetched: report.fetched,
          ...(report.error ? { error: report.error } : {}),
        });
      }
      return reports;
    })();
    this.inFlight = run;
    try {
      return await run;
    } finally {
      this.inFlight = null;
    }
  }

  private async pollStream({ source, stream }: PollerStream): Promise<StreamReport> {
    const key = `${source.name}:${stream}`;
    const report: StreamReport = { source: source.name, stream, result: 'ok', fetched: 0, stored: 0, checkpoint: null };
    const { store, logger } = this.opts;
    const finish = (result: PollResult, error?: Error) => {
      report.result = result;
      if (error) report.error = error.message;
      this.polls.inc({ stream, result });
      return report;
    };
    const pause = this.paused.get(source);
    if (pause) {
      if ((this.opts.now ?? Date.now)() < pause.retryAt) return finish('paused');
      // Time to try again: one poll decides (the same error pauses it for another period, quietly).
      this.paused.delete(source);
      this.retrying.add(source);
      logger?.info({ source: source.name }, `trying the paused source ${source.name} again`);
    }

    const scorer = this.currentScorer();
    if (!scorer) return finish('not_ready');

    try {
      const checkpoint = await store.getCheckpoint(key);
      report.checkpoint = checkpoint;
      const started = performance.now();
      const { mentions, checkpoint: next } = await source.fetch(stream, checkpoint, this.abort.signal);
      report.fetched = mentions.length;
      this.fetched.inc({ stream }, mentions.length);

      let scored: ScoredMention[] = [];
      if (mentions.length > 0) {
        // The language first: a mention the model does not read is stored unscored, never read as English.
        const verdicts = mentions.map((m) => identifyLanguage(m.text));
        for (const v of verdicts) this.languages.inc({ stream, language: v.language });
        const toScore = mentions.filter((_, i) => verdicts[i].supported);
        // The model may have been hot-swapped during the fetch: score with the one serving now (the old
        // one is disposed once its calls settle, and this call was not one of them).
        const now = this.currentScorer() ?? scorer;
        const predictions = toScore.length
          ? await now.score(toScore.map((m) => m.text)).catch((err: unknown) => {
              throw new ScoringError(err);
            })
          : [];
        if (predictions.length !== toScore.length) {
          throw new ScoringError(
            new Error(`the scorer returned ${predictions.length} predictions for ${toScore.length} texts`),
          );
        }
        // A mention the model cannot read is stored and scored all the same; the trend leaves it out.
        let scoredSoFar = 0;
        scored = mentions.map((m, i) => {
          const language = verdicts[i].language;
          if (!verdicts[i].supported) return { ...m, prediction: null, language };
          return { ...m, prediction: predictions[scoredSoFar++], language, unreadable: now.unreadable(m.text) };
        });
        report.stored = await store.saveMentions(scored);
        this.stored.inc({ stream }, report.stored);
      }
      // Only now, with the mentions stored, may the checkpoint move.
      if (next !== null && next !== checkpoint) {
        await store.setCheckpoint(key, next);
        report.checkpoint = next;
      }
      this.logPoll(key, {
        source: source.name,
        stream,
        fetched: mentions.length,
        stored: report.stored,
        checkpoint: report.checkpoint,
        ms: Math.round(performance.now() - started),
      });
      finish('ok');
      if (this.retrying.delete(source)) {
        logger?.info({ source: source.name }, `source ${source.name} works again: resumed`);
        try {
          this.opts.onResume?.(source.name);
        } catch (err) {
          logger?.error({ err }, 'onResume hook failed');
        }
      }
      if (scored.length > 0 && this.opts.onScored) {
        try {
          await this.opts.onScored(stream, scored);
        } catch (err) {
          logger?.error({ err, stream }, `onScored failed for ${key} (the mentions are stored)`);
        }
      }
      return report;
    } catch (err) {
      return finish(...this.handleError(source, stream, key, err as Error));
    }
  }

  /** One info line for a poll that fetched something; idle polls summarised (see the header). */
  private logPoll(
    key: string,
    fields: { source: string; stream: string; fetched: number; stored: number; checkpoint: string | null; ms: number },
  ): void {
    const logger = this.opts.logger;
    if (!logger) return;
    const idle = this.idle.get(key);
    if (fields.fetched > 0) {
      this.idle.delete(key);
      logger.info(
        idle ? { ...fields, idlePolls: idle.polls } : fields,
        `polled ${key}: ${fields.fetched} mention(s), ${fields.stored} new`,
      );
      return;
    }
    const now = (this.opts.now ?? Date.now)();
    if (!idle) {
      this.idle.set(key, { since: now, polls: 1, loggedAt: now });
      logger.info(fields, `${key}: no new mentions (the next ones are logged when they arrive)`);
      return;
    }
    idle.polls++;
    if (now - idle.loggedAt >= (this.opts.idleLogEveryMs ?? 3_600_000)) {
      idle.loggedAt = now;
      logger.info(
        { ...fields, idlePolls: idle.polls, idleSince: new Date(idle.since).toISOString() },
        `${key}: still no new mentions after ${idleFor(now - idle.since)} (${idle.polls} polls)`,
      );
    } else {
      logger.debug(fields, `polled ${key}: no new mentions`);
    }
  }

  private handleError(source: MentionSource, stream: string, key: string, error: Error): [PollResult, Error] {
    const logger = this.opts.logger;
    if (this.abort.signal.aborted) {
      logger?.info({ stream: key }, `poll of ${key} aborted: the poller is stopping (checkpoint unchanged)`);
      return ['aborted', error];
    }
    if (error instanceof XAuthError || error instanceof XTrustError) {
      const now = (this.opts.now ?? Date.now)();
      const retryMs = this.opts.pausedRetryMs ?? 15 * 60_000;
      const again = this.retrying.delete(source); // a retry that failed the same way: no second report
      this.paused.set(source, { reason: error.message, since: now, retryAt: now + retryMs });
      const streams = this.opts.streams.filter((s) => s.source === source).map((s) => s.stream);
      logger?.[again ? 'warn' : 'error'](
        { source: source.name, streams, retryAt: new Date(now + retryMs).toISOString() },
        `${error.message}. Source ${source.name} PAUSED (streams ${streams.join(', ')}), tried again in ${Math.round(retryMs / 60_000)} min; the others go on.`,
      );
      if (!again) this.report({ source: source.name, stream, error, paused: true });
      return ['paused', error];
    }
    if (error instanceof XRateLimitError) {
      logger?.warn(
        { stream: key, resetAt: new Date(error.resetAt).toISOString() },
        `poll of ${key} postponed: ${error.message}`,
      );
      return ['rate_limited', error];
    }
    logger?.error(
      { stream: key, error: error.message, kind: error.name },
      `poll of ${key} failed (checkpoint unchanged, retried next poll): ${error.message}`,
    );
    this.report({ source: source.name, stream, error, paused: false });
    return ['error', error];
  }

  private report(e: PollerError): void {
    try {
      this.opts.onError?.(e);
    } catch (err) {
      this.opts.logger?.error({ err }, 'onError hook failed');
    }
  }

  private currentScorer(): Scorer | undefined {
    const s = this.opts.scorer;
    if (!(s instanceof ScorerSlot)) return s;
    const state = s.current();
    if (state.ready) {
      this.notReadyReported = false;
      return state.scorer;
    }
    if (!this.notReadyReported) {
      this.notReadyReported = true;
      this.opts.logger?.warn({ reason: state.reason }, `polls skipped until a model is loaded: ${state.reason}`);
    }
    return undefined;
  }
}

/** 59 s, 12 min, 3 h 05 min, 2 d 4 h. */
function idleFor(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}
