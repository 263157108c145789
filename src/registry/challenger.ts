/**
 * Champion / challenger (issue 13): MODEL_CHALLENGER names a registry version that is hydrated and verified
 * like the champion (src/registry/model-bucket.ts) and loaded beside it. It scores every mention in shadow
 * (src/feedback/shadow.ts): its answers are stored apart and compared, never shown, never alerting.
 *
 * A challenger that cannot be hydrated or loaded changes nothing for the champion: it is logged, reported
 * once through `onProblem`, and tried again every `retryMs` (default 5 min) until it loads or Sentinel stops.
 */
import type { Logger } from '../log';
import { loadScorer } from '../sentiment/load';
import type { Scorer } from '../sentiment/types';
import type { ModelBucket } from './model-bucket';

export interface ChallengerOptions {
  version: string;
  bucket: Pick<ModelBucket, 'hydrate' | 'url'>;
  cacheDir: string;
  maxBatch?: number;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Told once per distinct problem (the ops channel). */
  onProblem?: (text: string) => void;
  retryMs?: number;
}

export type ChallengerState =
  { ready: true; version: string; scorer: Scorer } | { ready: false; version: string; reason: string };

export class Challenger {
  private state: ChallengerState;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private loading: Promise<void> | null = null;
  private lastProblem = '';

  constructor(private readonly opts: ChallengerOptions) {
    this.state = { ready: false, version: opts.version, reason: 'not loaded yet' };
  }

  current(): ChallengerState {
    return this.state;
  }

  /** Hydrates and loads the version; on failure schedules another try. Never throws. */
  start(): Promise<void> {
    this.stopped = false;
    this.loading ??= this.load().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.loading?.catch(() => undefined);
    if (this.state.ready) this.state.scorer.dispose();
    this.state = { ready: false, version: this.opts.version, reason: 'stopped' };
  }

  private async load(): Promise<void> {
    const { version, bucket, cacheDir, logger } = this.opts;
    try {
      const h = await bucket.hydrate(version, cacheDir);
      const scorer = await loadScorer(h.dir, { maxBatch: this.opts.maxBatch });
      if (this.stopped) {
        scorer.dispose();
        return;
      }
      if (scorer.info.version !== version)
        throw new Error(`its manifest says version ${scorer.info.version}, not ${version}`);
      this.state = { ready: true, version, scorer };
      logger.info(
        { challenger: version, dir: h.dir, cached: h.cached },
        `challenger ${version} loaded: it scores every mention in shadow (never shown, never alerting)`,
      );
    } catch (err) {
      const reason = (err as Error).message;
      this.state = { ready: false, version, reason };
      const retryMs = this.opts.retryMs ?? 5 * 60_000;
      const text = `challenger ${version} not loaded (from ${bucket.url(`${version}/`)}): ${reason}. The serving model is not affected; tried again every ${Math.round(retryMs / 60_000)} min.`;
      logger.error({ challenger: version, reason }, text);
      if (reason !== this.lastProblem) {
        this.lastProblem = reason;
        this.opts.onProblem?.(text);
      }
      if (!this.stopped) {
        this.timer = setTimeout(() => void this.start(), retryMs);
        this.timer.unref();
      }
    }
  }
}
