/**
 * Counts of scored mentions per time bucket, for one stream: how many, how many the model read as
 * negative, and the estimated number of negatives (the sum of each mention's estimate, ./prevalence: the
 * model's calibrated probability, corrected for its measured confusion). This is all the detector keeps in
 * memory (a week of 15-minute buckets is ~700 small objects per stream); texts stay in the Store.
 */

export interface Bucket {
  /** Bucket start, epoch ms (UTC, aligned on multiples of the bucket length). */
  start: number;
  total: number;
  /** Mentions the model labelled negative (what a person can count). */
  negative: number;
  /** Estimated negatives: the sum of the mentions' estimates (may be fractional). */
  estimate: number;
}

export interface Counts {
  total: number;
  negative: number;
  estimate: number;
}

/** The start of the bucket holding time `t` (epoch ms). */
export function bucketStart(t: number, bucketMs: number): number {
  return Math.floor(t / bucketMs) * bucketMs;
}

export class BucketSeries {
  private readonly buckets = new Map<number, Bucket>();
  /** Time of the earliest mention ever added (kept when its bucket is pruned: it dates the history). */
  private first = Infinity;

  constructor(readonly bucketMs: number) {
    if (!(bucketMs > 0)) throw new Error(`BucketSeries: bucket length must be > 0 ms, got ${bucketMs}`);
  }

  /** `estimate`: the mention's contribution to the estimated negatives (default: 1 if negative, else 0). */
  add(time: number, negative: boolean, estimate: number = negative ? 1 : 0): void {
    const start = bucketStart(time, this.bucketMs);
    let b = this.buckets.get(start);
    if (!b) this.buckets.set(start, (b = { start, total: 0, negative: 0, estimate: 0 }));
    b.total++;
    if (negative) b.negative++;
    b.estimate += estimate;
    if (time < this.first) this.first = time;
  }

  /** The earliest mention's time, or undefined when empty. */
  firstTime(): number | undefined {
    return Number.isFinite(this.first) ? this.first : undefined;
  }

  /** Sum of the buckets starting in [from, to). */
  sum(from: number, to: number): Counts {
    let total = 0;
    let negative = 0;
    let estimate = 0;
    for (let s = bucketStart(from, this.bucketMs); s < to; s += this.bucketMs) {
      if (s < from) continue;
      const b = this.buckets.get(s);
      if (b) {
        total += b.total;
        negative += b.negative;
        estimate += b.estimate;
      }
    }
    return { total, negative, estimate };
  }

  /** The non-empty buckets starting in [from, to), oldest first. */
  between(from: number, to: number): Bucket[] {
    const out: Bucket[] = [];
    for (let s = bucketStart(from, this.bucketMs); s < to; s += this.bucketMs) {
      if (s < from) continue;
      const b = this.buckets.get(s);
      if (b) out.push(b);
    }
    return out;
  }

  /** Forgets buckets that start before `before`. */
  prune(before: number): void {
    for (const s of this.buckets.keys()) if (s < before) this.buckets.delete(s);
  }

  get size(): number {
    return this.buckets.size;
  }
}

/** The estimated negative share of some counts, kept in [0, 1] (an adjusted estimate can stray outside). */
export function estimatedShare(c: Counts): number {
  return c.total > 0 ? Math.min(1, Math.max(0, c.estimate / c.total)) : 0;
}
