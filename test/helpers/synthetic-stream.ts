/** Constructed mention streams for the trend detector's tests: a volume and a negative share per hour. */
import { seededRandom } from '../../src/train/random';
import type { Observation } from '../../src/trends/stream-detector';

export const T0 = Date.parse('2026-03-02T00:00:00Z');
export const H = 3_600_000;

export interface Shape {
  hours: number;
  /** Mentions in hour h (from the start). */
  perHour: (h: number) => number;
  /** Probability that a mention of hour h is negative. */
  share: (h: number) => number;
  seed?: number;
  start?: number;
  /** No sampling noise: negatives spread exactly at the share (error diffusion) instead of at random. */
  exact?: boolean;
}

/** Observations spread evenly within each hour, negative at random with the hour's share (seeded). */
export function synth(shape: Shape): Observation[] {
  const random = seededRandom(shape.seed ?? 1);
  const start = shape.start ?? T0;
  const out: Observation[] = [];
  let carry = 0;
  for (let h = 0; h < shape.hours; h++) {
    const n = Math.round(shape.perHour(h));
    const p = shape.share(h);
    for (let i = 0; i < n; i++) {
      let negative: boolean;
      if (shape.exact) {
        carry += p;
        negative = carry >= 1;
        if (negative) carry -= 1;
      } else negative = random() < p;
      out.push({ time: start + h * H + Math.floor(((i + 0.5) / n) * H), negative });
    }
  }
  return out;
}

/** Feeds observations in poll-sized batches, as the poller does. */
export function* batches<T>(items: T[], size = 50): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
