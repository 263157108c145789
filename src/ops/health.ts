/**
 * What each dependency of a running Sentinel is doing, for `/ready` (and people): ok, degraded (working,
 * with something to fix) or down, with the reason and since when. Parts register a check; the board asks
 * them when `/ready` is read. Only a missing model or store makes the process not ready (it cannot do its
 * main job); everything else is reported, never hidden, and never takes the replica out of service.
 */
export type HealthStatus = 'ok' | 'degraded' | 'down';

export interface DependencyHealth {
  status: HealthStatus;
  reason?: string;
  since?: string;
  /** Anything else worth showing (a leader's holder, a source's paused streams…). */
  [detail: string]: unknown;
}

/** A check: the dependency's health now, or null when it is not configured (then it is not listed). */
export type HealthCheck = () => DependencyHealth | null;

const RANK: Record<HealthStatus, number> = { ok: 0, degraded: 1, down: 2 };

export class HealthBoard {
  private readonly checks = new Map<string, HealthCheck>();

  /** Adds (or replaces) the check of `name`. */
  register(name: string, check: HealthCheck): void {
    this.checks.set(name, check);
  }

  /** Every configured dependency's health; a check that throws is reported as down with its error. */
  report(): Record<string, DependencyHealth> {
    const out: Record<string, DependencyHealth> = {};
    for (const [name, check] of this.checks) {
      try {
        const health = check();
        if (health) out[name] = health;
      } catch (err) {
        out[name] = { status: 'down', reason: `health check failed: ${(err as Error).message}` };
      }
    }
    return out;
  }
}

/** The worst of some statuses (ok when none). */
export function worst(statuses: Iterable<HealthStatus>): HealthStatus {
  let w: HealthStatus = 'ok';
  for (const s of statuses) if (RANK[s] > RANK[w]) w = s;
  return w;
}

/** Remembers since when a condition holds, so a report can say it. */
export class Since {
  private at: string | undefined;
  mark(holds: boolean, now = new Date()): string | undefined {
    if (!holds) this.at = undefined;
    else this.at ??= now.toISOString();
    return this.at;
  }
}
