/**
 * The leader's work, started on `acquired` and stopped on `lost` (src/ops/leadership.ts): the poller, the
 * trend monitor, the retention job and the daily digest's schedule, built afresh for each term by the composition root (`build`), so a
 * term starts from what is stored — the checkpoints, the open alerts and their outbox, the boundaries
 * already judged — never from what this process remembered of an earlier term (another replica may have led
 * in between).
 *
 * - Each term's jobs write through `store.fenced(term.fence)`: once the term is over, nothing they write
 *   lands (FencedOutError). The first refusal is logged once ("fenced out: …") and ends the term at once.
 * - `fenced(fn)` runs `fn` in the term's fencing scope (src/store/fence.ts, `runFenced`): what it starts and
 *   writes through a `leaderScoped` store — the chat adapters' alert state — is fenced too. The poller's
 *   `onScored` hook is wrapped in it, so the monitor's sends and the sinks' state writes carry the fence.
 * - On `lost` the jobs are told to stop at once and not waited for: the poll in flight may still finish its
 *   fetch, but its writes are refused. `stop()` (shutdown, while the lease is still held) waits for them.
 */
import type { Logger } from '../log';
import { observeFencedOut, runFenced, type FencedOutError } from '../store/fence';
import type { Store } from '../store/types';
import type { Leader, LeaderTerm, LostEvent } from './leadership';

/** What runs on the leader only. Each part optional. */
export interface LeaderJobs {
  poller?: { start(): void; stop(): Promise<void> } | null;
  retention?: { start(): void; stop(): Promise<void> } | null;
  /** The daily digest's schedule (src/trends/digest-schedule.ts). */
  digest?: { start(): void; stop(): Promise<void> } | null;
  /** The trend monitor: `idle()` waits for the alerts it is storing and sending. */
  trends?: { idle(): Promise<void> } | null;
}

export interface TermContext {
  term: LeaderTerm;
  /** The store, fenced with the term's token. */
  store: Store;
  /** Runs `fn` with writes through a `leaderScoped` store fenced with the term's token. */
  fenced<T>(fn: () => T): T;
}

export interface LeaderWorkOptions<J extends LeaderJobs> {
  leader: Leader;
  /** The store the jobs write to (fenced per term here). */
  store: Store;
  build(ctx: TermContext): J;
  logger?: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
}

export class LeaderWork<J extends LeaderJobs = LeaderJobs> {
  private current: { term: LeaderTerm; jobs: J } | null = null;
  private readonly finishing = new Set<Promise<void>>();

  constructor(private readonly opts: LeaderWorkOptions<J>) {
    opts.leader.on('acquired', (term) => this.begin(term));
    opts.leader.on('lost', (e) => this.end(e));
  }

  /** The jobs of the current term, or null on a follower. */
  jobs(): J | null {
    return this.current?.jobs ?? null;
  }

  /** Stops the current term's jobs and waits for them (and for past terms' still finishing). */
  async stop(): Promise<void> {
    const cur = this.current;
    this.current = null;
    if (cur) await this.stopJobs(cur.jobs);
    await Promise.all([...this.finishing]);
  }

  private begin(term: LeaderTerm): void {
    const { leader, logger } = this.opts;
    let said = false;
    const onFencedOut = (err: FencedOutError) => {
      if (!said) {
        said = true;
        logger?.warn(
          { token: term.token, method: err.method },
          `fenced out: a write of this replica's term ${term.token} was refused (${err.method}): another replica leads now; nothing of this term is written any more`,
        );
      }
      leader.fencedOut(term);
    };
    const store = observeFencedOut(this.opts.store.fenced(term.fence), onFencedOut);
    let jobs: J;
    try {
      jobs = this.opts.build({ term, store, fenced: (fn) => runFenced(term.fence, fn, onFencedOut) });
    } catch (err) {
      logger?.error({ err }, `leader: could not start the leader's work: ${(err as Error).message}`);
      return;
    }
    this.current = { term, jobs };
    jobs.poller?.start();
    jobs.retention?.start();
    jobs.digest?.start();
  }

  private end({ term }: LostEvent): void {
    const cur = this.current;
    if (!cur || cur.term !== term) return;
    this.current = null;
    const done = this.stopJobs(cur.jobs).finally(() => this.finishing.delete(done));
    this.finishing.add(done);
  }

  private async stopJobs(jobs: J): Promise<void> {
    const log = (what: string) => (err: unknown) => this.opts.logger?.error({ err }, `leader: stopping ${what} failed`);
    await Promise.all([
      jobs.poller?.stop().catch(log('the poller')),
      jobs.retention?.stop().catch(log('the retention job')),
      jobs.digest?.stop().catch(log('the digest schedule')),
    ]);
    await jobs.trends?.idle().catch(log('the trend monitor'));
  }
}
