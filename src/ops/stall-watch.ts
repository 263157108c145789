/**
 * Says when the event loop stood still: a timer that should fire every `everyMs` fires `thresholdMs` late.
 * A stall longer than the lease's TTL costs a leader its lease (it is fenced out and steps down), so an
 * operator needs to know it happened and why. The line tells the two causes apart with the CPU this
 * process used during the gap: near the gap's length, the process itself was busy (a long synchronous
 * job); near zero, it was not running at all (the machine or its host paused it, or a SIGSTOP).
 */
import type { Logger } from '../log';

export interface Stall {
  /** How long the loop stood still beyond the timer's period (ms). */
  stalledMs: number;
  /** CPU time (user + system) this process used during the gap, in ms. */
  cpuMs: number;
  /** `busy` when the process used at least half the gap in CPU, else `not_running`. */
  cause: 'busy' | 'not_running';
}

export interface StallWatchOptions {
  logger: Pick<Logger, 'warn'>;
  /** Timer period (default 500 ms). */
  everyMs?: number;
  /** A lateness above this is a stall (default 1,000 ms). */
  thresholdMs?: number;
  onStall?: (s: Stall) => void;
}

export function watchStalls(o: StallWatchOptions): { stop(): void } {
  const everyMs = o.everyMs ?? 500;
  const thresholdMs = o.thresholdMs ?? 1000;
  let last = performance.now();
  let cpu = process.cpuUsage();
  const timer = setInterval(() => {
    const now = performance.now();
    const used = process.cpuUsage(cpu);
    const lateMs = now - last - everyMs;
    last = now;
    cpu = process.cpuUsage();
    if (lateMs < thresholdMs) return;
    const cpuMs = (used.user + used.system) / 1000;
    const stall: Stall = {
      stalledMs: Math.round(lateMs),
      cpuMs: Math.round(cpuMs),
      cause: cpuMs >= (lateMs + everyMs) / 2 ? 'busy' : 'not_running',
    };
    o.logger.warn(
      stall,
      stall.cause === 'busy'
        ? `event loop blocked for ${(lateMs / 1000).toFixed(1)} s by this process's own work (${stall.cpuMs} ms of CPU)`
        : `event loop stood still for ${(lateMs / 1000).toFixed(1)} s while this process hardly ran (${stall.cpuMs} ms of CPU): paused by the machine or a signal`,
    );
    o.onStall?.(stall);
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
