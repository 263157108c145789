/**
 * The model registry at run time: what the ScorerSlot serves, where it comes from, and how it changes.
 *
 * Start-up (`start()`):
 * - without MODEL_BUCKET: MODEL_DIR, as before the registry existed;
 * - with it: the version latest.json names (or MODEL_PINNED_VERSION) is hydrated into MODEL_CACHE_DIR
 *   (no request beyond the pointer when it is cached and intact), loaded and warmed. If the bucket is
 *   unreachable, refuses, or the version is bad: the newest intact cached version, else MODEL_DIR —
 *   logged at error level as a FALLBACK, reported by `onEvent`, shown by /ready (`origin.degraded`) and
 *   the `sentinel_model_degraded` gauge. If nothing loads, /ready says why (never a stand-in).
 *
 * Running: node-cron checks the pointer every MODEL_CHECK_INTERVAL (checks never overlap). A new
 * version is hydrated and warmed beside the serving one, then swapped in with one `slot.set`: requests
 * already in flight finish on the old scorer, which is disposed once they have all settled. A failed
 * check or hydration leaves the serving model as it is and is logged, counted
 * (`sentinel_model_hydration_failures_total`) and reported through `onEvent` (once per version and
 * reason, not at every tick).
 */
import { utimesSync } from 'node:fs';
import cron, { type ScheduledTask } from 'node-cron';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Config } from '../../config/schema';
import type { Logger } from '../log';
import { toCronExpression } from '../schedule';
import { loadScorer } from '../sentiment/load';
import type { ModelOrigin, ScorerSlot } from '../sentiment/scorer-slot';
import type { Scorer } from '../sentiment/types';
import { intactVersions, pruneCache, removeStaleParts } from './cache';
import { gcsSettings, type GcsSettings } from './gcs';
import { ModelBucket } from './model-bucket';

export type ModelRegistryConfig = Pick<
  Config,
  | 'modelDir'
  | 'scorerMaxBatch'
  | 'modelBucket'
  | 'modelPrefix'
  | 'modelPinnedVersion'
  | 'modelCacheDir'
  | 'modelCheckInterval'
  | 'modelCacheKeep'
  | 'gcsEndpoint'
  | 'storageEmulatorHost'
  | 'gcsAccess'
  | 'gcsTimeoutMs'
  | 'gcsMaxRetries'
>;

/** What the chat adapters may tell the ops channel. */
export type RegistryEvent =
  | { type: 'loaded'; version: string; source: ModelOrigin['source']; path: string; downloaded: boolean; ms: number }
  | {
      type: 'fallback';
      /** The version wanted (absent when even the pointer could not be read). */
      wanted?: string;
      version: string;
      source: 'cache' | 'shipped';
      path: string;
      reason: string;
    }
  | { type: 'not_ready'; reason: string }
  | { type: 'swapped'; from?: string; to: string; ms: number }
  | { type: 'hydration_failed'; stage: FailureStage; version?: string; serving?: string; reason: string };

export type FailureStage = 'pointer' | 'hydrate' | 'load';

export type CheckResult =
  | { result: 'current'; version: string }
  | { result: 'swapped'; from?: string; to: string; ms: number }
  | { result: 'failed'; stage: FailureStage; version?: string; reason: string };

export interface ModelRegistryOptions {
  config: ModelRegistryConfig;
  slot: ScorerSlot;
  logger: Logger;
  onEvent?: (event: RegistryEvent) => void;
  /**
   * Every failed check or hydration (onEvent reports a failure once per version and reason; this, each time:
   * the ops alerts' `model` errors). Must not throw.
   */
  onCheckFailed?: (failure: { stage: FailureStage; version?: string; reason: string }) => void;
  /** Overrides of the GCS client settings (tests: retry delays, credentials). */
  gcs?: Partial<GcsSettings>;
  /** How long a retired scorer may keep calls in flight before it is disposed anyway. */
  retireTimeoutMs?: number;
}

/** One line for a chat channel or a log. */
export function describeRegistryEvent(e: RegistryEvent): string {
  switch (e.type) {
    case 'loaded':
      return `Model ${e.version} is serving (${e.source === 'gcs' ? (e.downloaded ? 'downloaded from GCS' : 'from the local cache, as published') : e.source}).`;
    case 'fallback':
      return `Model FALLBACK: ${e.reason}. Serving ${e.source === 'cache' ? 'the cached' : 'the shipped'} version ${e.version} (${e.path})${e.wanted ? ` instead of ${e.wanted}` : ''}.`;
    case 'not_ready':
      return `No model can be loaded: ${e.reason}. Sentinel answers no prediction until one can.`;
    case 'swapped':
      return `Model updated: ${e.from ?? 'none'} → ${e.to} (${e.ms} ms, no request dropped).`;
    case 'hydration_failed':
      return `Model update failed (${e.stage}${e.version ? `, version ${e.version}` : ''}): ${e.reason}. ${e.serving ? `Still serving ${e.serving}.` : 'No model is serving.'}`;
  }
}

export class ModelRegistry {
  /** prom-client metrics, for the server's /metrics (`registries`). */
  readonly metrics = new Registry();
  readonly bucket: ModelBucket | null;
  readonly cronExpression: string | null;
  private task: ScheduledTask | null = null;
  private checking: Promise<CheckResult> | null = null;
  private retiring = new Set<Promise<void>>();
  private stopped = false;
  private lastFailure = '';
  private readonly failures: Counter<'stage'>;
  private readonly checks: Counter<'result'>;
  private readonly hydrations: Counter<'result'>;
  private readonly swaps: Counter;

  constructor(private readonly opts: ModelRegistryOptions) {
    const { config } = opts;
    this.bucket = config.modelBucket
      ? new ModelBucket({ ...gcsSettings({ ...config, modelBucket: config.modelBucket }), ...opts.gcs })
      : null;
    this.cronExpression = this.bucket ? toCronExpression(config.modelCheckInterval, 'model check interval') : null;
    const registers = [this.metrics];
    this.failures = new Counter({
      name: 'sentinel_model_hydration_failures_total',
      help: 'Failed model updates, by stage (pointer: latest.json unreadable; hydrate: download or checksums; load)',
      labelNames: ['stage'],
      registers,
    });
    this.checks = new Counter({
      name: 'sentinel_model_checks_total',
      help: 'Checks of the model pointer, by result (current, swapped, failed)',
      labelNames: ['result'],
      registers,
    });
    this.hydrations = new Counter({
      name: 'sentinel_model_hydrations_total',
      help: 'Model versions hydrated into the local cache, by result (downloaded, cached: already intact)',
      labelNames: ['result'],
      registers,
    });
    this.swaps = new Counter({ name: 'sentinel_model_swaps_total', help: 'Hot swaps of the serving model', registers });
    const slot = opts.slot;
    new Gauge({
      name: 'sentinel_model_degraded',
      help: '1 while a fallback model serves (the cached or shipped one, not the version wanted)',
      registers,
      collect() {
        const s = slot.current();
        this.set(s.ready && s.origin?.degraded ? 1 : 0);
      },
    });
  }

  /** Loads the first model (see the header), then schedules the pointer checks. */
  async start(): Promise<void> {
    await this.loadInitial();
    if (this.bucket && this.cronExpression && !this.stopped) {
      const logger = this.opts.logger;
      this.task = cron.schedule(this.cronExpression, () => void this.check(), {
        name: 'sentinel-model-registry',
        noOverlap: true,
        logger: {
          info: (m) => logger.debug({ component: 'node-cron' }, String(m)),
          warn: (m) => logger.debug({ component: 'node-cron' }, String(m)),
          error: (m, err) => logger.error({ component: 'node-cron', err: err ?? m }, String(m)),
          debug: (m) => logger.debug({ component: 'node-cron' }, String(m)),
        },
      });
      logger.info(
        { cron: this.cronExpression, bucket: this.bucket.url(), pinned: this.opts.config.modelPinnedVersion },
        'model registry: checking the pointer on schedule',
      );
    }
  }

  /** Stops the checks; waits for a check in flight and for retired scorers to be disposed. Does not dispose the serving one. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.task?.stop();
    this.task = null;
    await this.checking?.catch(() => undefined);
    await Promise.all(this.retiring);
  }

  /** Checks the pointer now; a check already running is shared, not doubled. */
  check(): Promise<CheckResult> {
    if (!this.checking) {
      this.checking = this.runCheck().finally(() => {
        this.checking = null;
      });
    }
    return this.checking;
  }

  // -------------------------------------------------------------------------------------------------

  private async loadInitial(): Promise<void> {
    const { config, slot, logger } = this.opts;
    if (!this.bucket) {
      await this.loadOrFallback([], undefined, undefined);
      return;
    }
    const removed = removeStaleParts(config.modelCacheDir);
    if (removed.length) logger.info({ removed }, 'model cache: removed partial downloads left by an earlier run');
    let wanted: string | undefined = config.modelPinnedVersion;
    let problem: string;
    let failedStage: FailureStage = 'pointer';
    try {
      slot.fail(`reading ${this.bucket.url('latest.json')}`);
      wanted ??= await this.bucket.latestVersion();
      failedStage = 'hydrate';
      slot.fail(`hydrating model version ${wanted} from ${this.bucket.url(`${wanted}/`)}`);
      const h = await this.bucket.hydrate(wanted, config.modelCacheDir);
      this.hydrations.inc({ result: h.cached ? 'cached' : 'downloaded' });
      logger.info(
        { version: wanted, dir: h.dir, cached: h.cached, files: h.downloaded, bytes: h.bytes, ms: h.ms },
        h.cached ? `model ${wanted}: intact in the cache, nothing downloaded` : `model ${wanted}: hydrated from GCS`,
      );
      failedStage = 'load';
      const started = performance.now();
      const scorer = await loadScorer(h.dir, { logger, maxBatch: config.scorerMaxBatch });
      touch(h.dir);
      slot.set(scorer, { source: 'gcs', path: h.dir });
      this.emit({
        type: 'loaded',
        version: scorer.info.version,
        source: 'gcs',
        path: h.dir,
        downloaded: !h.cached,
        ms: Math.round(h.ms + performance.now() - started),
      });
      logger.info({ model: scorer.info.name, version: scorer.info.version, backend: scorer.info.backend }, 'ready');
      return;
    } catch (err) {
      problem = (err as Error).message;
      this.failures.inc({ stage: failedStage });
    }
    await this.loadOrFallback(
      [wanted].filter((v): v is string => !!v),
      wanted,
      problem,
    );
  }

  /** The newest intact cached version that loads (except `skip`), else MODEL_DIR; loud when `problem` is set. */
  private async loadOrFallback(skip: string[], wanted: string | undefined, problem: string | undefined): Promise<void> {
    const { config, slot, logger } = this.opts;
    const tried: string[] = [];
    const candidates: Array<{ source: 'cache' | 'shipped'; dir: string }> = [
      ...(this.bucket
        ? intactVersions(config.modelCacheDir, skip).map((v) => ({ source: 'cache' as const, dir: v.dir }))
        : []),
      { source: 'shipped', dir: config.modelDir },
    ];
    for (const c of candidates) {
      try {
        const scorer = await loadScorer(c.dir, { logger, maxBatch: config.scorerMaxBatch });
        const origin: ModelOrigin = problem
          ? { source: c.source, path: c.dir, degraded: problem }
          : { source: c.source, path: c.dir };
        slot.set(scorer, origin);
        if (problem) {
          const event: RegistryEvent = {
            type: 'fallback',
            wanted,
            version: scorer.info.version,
            source: c.source,
            path: c.dir,
            reason: problem,
          };
          logger.error({ ...event, tried }, describeRegistryEvent(event));
          this.emit(event);
        } else {
          this.emit({
            type: 'loaded',
            version: scorer.info.version,
            source: c.source,
            path: c.dir,
            downloaded: false,
            ms: 0,
          });
        }
        logger.info({ model: scorer.info.name, version: scorer.info.version, backend: scorer.info.backend }, 'ready');
        return;
      } catch (err) {
        tried.push(`${c.dir}: ${(err as Error).message}`);
        logger.warn({ err, dir: c.dir }, `cannot load the model from ${c.dir}`);
      }
    }
    const reason = [
      ...(problem ? [problem] : []),
      ...tried.map((t, i) => (i === tried.length - 1 ? `cannot load the model from ${t}` : t)),
    ].join('; ');
    slot.fail(reason);
    logger.error(
      { reason },
      `NOT READY: ${reason}. /predict answers 503 until a model is available (set MODEL_DIR or restore the model files${this.bucket ? ', or fix the bucket' : ''}).`,
    );
    this.emit({ type: 'not_ready', reason });
  }

  private async runCheck(): Promise<CheckResult> {
    const bucket = this.bucket;
    const { config, slot, logger } = this.opts;
    if (!bucket) return { result: 'current', version: this.servingVersion() ?? '' };
    const state = slot.current();
    const serving = state.ready ? state.scorer.info.version : undefined;
    const degraded = state.ready ? !!state.origin?.degraded : true;

    let wanted = config.modelPinnedVersion;
    try {
      wanted ??= await bucket.latestVersion();
    } catch (err) {
      return this.failed('pointer', undefined, serving, err);
    }
    if (wanted === serving && !degraded) {
      this.checks.inc({ result: 'current' });
      logger.debug({ version: wanted }, 'model registry: the serving model is the latest');
      return { result: 'current', version: wanted };
    }

    const started = performance.now();
    let stage: FailureStage = 'hydrate';
    try {
      logger.info(
        { from: serving, to: wanted, bucket: bucket.url() },
        `model registry: new version ${wanted}, hydrating`,
      );
      const h = await bucket.hydrate(wanted, config.modelCacheDir);
      this.hydrations.inc({ result: h.cached ? 'cached' : 'downloaded' });
      stage = 'load';
      // Loaded and warmed beside the serving model, which answers meanwhile.
      const scorer = await loadScorer(h.dir, { logger, maxBatch: config.scorerMaxBatch });
      if (this.stopped) {
        scorer.dispose();
        return { result: 'current', version: serving ?? '' };
      }
      touch(h.dir);
      const previous = slot.set(scorer, { source: 'gcs', path: h.dir });
      const ms = Math.round(performance.now() - started);
      if (previous) this.retire(previous);
      this.swaps.inc();
      this.checks.inc({ result: 'swapped' });
      this.lastFailure = '';
      const event: RegistryEvent = { type: 'swapped', from: serving, to: scorer.info.version, ms };
      logger.info({ ...event, downloaded: h.downloaded, bytes: h.bytes }, describeRegistryEvent(event));
      this.emit(event);
      const pruned = pruneCache(config.modelCacheDir, [scorer.info.version], config.modelCacheKeep);
      if (pruned.length) logger.info({ pruned }, 'model cache: removed old versions');
      return { result: 'swapped', from: serving, to: scorer.info.version, ms };
    } catch (err) {
      return this.failed(stage, wanted, serving, err);
    }
  }

  private failed(
    stage: FailureStage,
    version: string | undefined,
    serving: string | undefined,
    err: unknown,
  ): CheckResult {
    const reason = (err as Error).message;
    this.failures.inc({ stage });
    this.checks.inc({ result: 'failed' });
    const event: RegistryEvent = { type: 'hydration_failed', stage, version, serving, reason };
    try {
      this.opts.onCheckFailed?.({ stage, ...(version ? { version } : {}), reason });
    } catch (err) {
      this.opts.logger.error({ err }, 'model registry: the onCheckFailed hook failed');
    }
    const key = `${stage}:${version}:${reason}`;
    if (key !== this.lastFailure) {
      this.lastFailure = key;
      this.opts.logger.error({ ...event, err }, describeRegistryEvent(event));
      this.emit(event);
    } else {
      this.opts.logger.warn({ stage, version, serving }, `model update still failing: ${reason}`);
    }
    return { result: 'failed', stage, version, reason };
  }

  /** Disposes `old` once every call it accepted has settled (see retireScorer). */
  private retire(old: Scorer): void {
    const done = retireScorer(old, { logger: this.opts.logger, timeoutMs: this.opts.retireTimeoutMs });
    this.retiring.add(done);
    void done.finally(() => this.retiring.delete(done));
  }

  /** Resolves when every scorer swapped out so far has been disposed (bench, tests). */
  async retired(): Promise<void> {
    await Promise.all(this.retiring);
  }

  private servingVersion(): string | undefined {
    const s = this.opts.slot.current();
    return s.ready ? s.scorer.info.version : undefined;
  }

  private emit(event: RegistryEvent): void {
    try {
      this.opts.onEvent?.(event);
    } catch (err) {
      this.opts.logger.error({ err }, 'model registry: the onEvent hook failed');
    }
  }
}

/**
 * Disposes a scorer that was swapped out, once every call it had accepted has settled: requests in
 * flight finish on it, then its tensors are freed. After `timeoutMs` (a call that never settles) it is
 * disposed anyway, with a warning.
 */
export async function retireScorer(old: Scorer, opts: { logger?: Logger; timeoutMs?: number } = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const idle = old.whenIdle ? old.whenIdle().then(() => true) : Promise.resolve(true);
  const settled = await Promise.race([
    idle,
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (!settled)
    opts.logger?.warn(
      { version: old.info.version, timeoutMs },
      'retired model still had calls in flight: disposing it anyway',
    );
  old.dispose();
  opts.logger?.debug({ version: old.info.version }, 'retired model disposed');
}

/** `new ModelRegistry(opts)` then `start()`: the first model is serving (or the slot says why not) when it resolves. */
export async function startModelRegistry(opts: ModelRegistryOptions): Promise<ModelRegistry> {
  const registry = new ModelRegistry(opts);
  await registry.start();
  return registry;
}

/** Marks a cached version as recently used (pruning keeps the most recent). */
function touch(dir: string): void {
  try {
    const now = new Date();
    utimesSync(dir, now, now);
  } catch {
    // not worth failing a load for
  }
}
