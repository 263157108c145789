/**
 * What the chat adapters share for an alert's Snooze buttons: the lengths offered, and "now" on a stream's
 * data clock (the mentions' time, which a replay runs far behind the wall clock), where a snooze starts.
 */

/** The snooze lengths the alert buttons offer, in hours. */
export const SNOOZE_HOURS = [1, 4] as const;

export const HOUR_MS = 60 * 60_000;

/** The part of the trend module (its TrendMonitor fits) that says when each stream was last judged. */
export interface StreamClock {
  status?(): Promise<Array<{ stream: string; at: string | null }>>;
}

/** "Now" on the stream's data clock (the last time the trend module judged it), else the wall clock. */
export async function dataNow(controls: StreamClock, stream: string, now: () => number = Date.now): Promise<number> {
  try {
    const at = (await controls.status?.())?.find((s) => s.stream === stream)?.at;
    const t = at ? Date.parse(at) : NaN;
    return Number.isFinite(t) ? t : now();
  } catch {
    return now();
  }
}
