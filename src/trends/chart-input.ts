/**
 * What the trend chart is given (points, alert periods, size, zone) and how it is checked: every field is
 * validated before anything is drawn, and an error names the field ("trend chart: points[3].at …").
 */
import { isTimeZone } from './digest-day';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export interface TrendPoint {
  /** ISO 8601 start of the bucket, with a time zone ("2024-03-14T14:00:00Z") or a bare date. */
  at: string;
  /** Mentions in the bucket. */
  total: number;
  /** Negative mentions in the bucket (0 ≤ negative ≤ total). */
  negative: number;
  /** Expected negative share, 0..1. */
  baseline?: number;
}

export interface TrendAlertPeriod {
  /** When the alert opened: the time its message gives. */
  from: string;
  /** When it was resolved; missing: still open, shaded until the end of the chart. */
  to?: string;
  /** Start of the window whose figures opened it (drawn from here to `from`, "window that triggered"). */
  windowStart?: string;
}

export interface TrendChartInput {
  stream: string;
  points: TrendPoint[];
  alertPeriods: TrendAlertPeriod[];
  title: string;
  /**
   * The detector's dispersion φ (settings.dispersion): with it, the band of normal variation around the
   * expected share, baseline ± 1.96·√(φ·p(1−p)/n) for a bucket of n mentions. Missing: no band.
   */
  dispersion?: number;
  /** Pixels, default 800 (320..4096). */
  width?: number;
  /** Pixels, default 360 (200..4096). */
  height?: number;
  /** IANA zone of the time axis and the times written on the chart (the digest's DIGEST_TIMEZONE). Default UTC. */
  timeZone?: string;
}

export interface Bucket {
  t: number;
  total: number;
  negative: number;
  share: number | undefined;
  baseline: number | undefined;
}

export interface Period {
  from: number;
  to: number | undefined;
  windowStart: number | undefined;
}

export interface Checked {
  buckets: Bucket[];
  periods: Period[];
  width: number;
  height: number;
  dispersion: number | undefined;
  timeZone: string;
}

// ---------------------------------------------------------------------------------------------------------
// Validation

export function fail(message: string): never {
  throw new Error(`trend chart: ${message}`);
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/;

/** Milliseconds since the epoch; only ISO 8601 with a zone (or a bare date, read as UTC) so nothing depends on the host's zone. */
function parseTime(value: unknown, what: string): number {
  const m = typeof value === 'string' ? ISO.exec(value) : null;
  const ms = m ? Date.parse(value as string) : NaN;
  if (!m || Number.isNaN(ms)) {
    fail(`${what} is not an ISO 8601 time with a zone, like "2024-03-14T14:00:00Z" (got ${JSON.stringify(value)})`);
  }
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) {
    fail(`${what} is not a calendar date (got ${JSON.stringify(value)})`);
  }
  return ms;
}

function count(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    fail(`${what} must be a finite number ≥ 0 (got ${JSON.stringify(value)})`);
  }
  return value;
}

function size(value: unknown, fallback: number, min: number, what: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 4096) {
    fail(`${what} must be an integer from ${min} to 4096 pixels (got ${JSON.stringify(value)})`);
  }
  return value;
}

const given = (v: unknown) => v !== undefined && v !== null;

export function validate(input: TrendChartInput): Checked {
  if (typeof input !== 'object' || input === null) fail('input must be an object');
  if (typeof input.title !== 'string') fail('title must be a string');
  if (typeof input.stream !== 'string') fail('stream must be a string');
  if (!Array.isArray(input.points)) fail('points must be an array');
  if (!Array.isArray(input.alertPeriods)) fail('alertPeriods must be an array');
  const width = size(input.width, 800, 320, 'width');
  const height = size(input.height, 360, 200, 'height');
  let dispersion: number | undefined;
  if (given(input.dispersion)) {
    const d = input.dispersion;
    if (typeof d !== 'number' || !Number.isFinite(d) || d <= 0) {
      fail(`dispersion must be a finite number > 0 (got ${JSON.stringify(d)})`);
    }
    dispersion = d;
  }
  const timeZone = given(input.timeZone) ? input.timeZone : 'UTC';
  if (typeof timeZone !== 'string' || !isTimeZone(timeZone))
    fail(`timeZone must be an IANA time zone such as UTC or Europe/Paris (got ${JSON.stringify(timeZone)})`);

  const seen = new Map<number, number>();
  const buckets = input.points.map((p, i): Bucket => {
    if (typeof p !== 'object' || p === null) fail(`points[${i}] must be an object`);
    const t = parseTime(p.at, `points[${i}].at`);
    const total = count(p.total, `points[${i}].total`);
    const negative = count(p.negative, `points[${i}].negative`);
    if (negative > total) fail(`points[${i}].negative (${negative}) is more than points[${i}].total (${total})`);
    let baseline: number | undefined;
    if (given(p.baseline)) {
      if (typeof p.baseline !== 'number' || !Number.isFinite(p.baseline) || p.baseline < 0 || p.baseline > 1) {
        fail(`points[${i}].baseline must be a share from 0 to 1 (got ${JSON.stringify(p.baseline)})`);
      }
      baseline = p.baseline;
    }
    const previous = seen.get(t);
    if (previous !== undefined) fail(`points[${i}].at (${p.at}) is the same bucket as points[${previous}].at`);
    seen.set(t, i);
    return { t, total, negative, share: total > 0 ? negative / total : undefined, baseline };
  });
  buckets.sort((a, b) => a.t - b.t);

  const periods = input.alertPeriods.map((a, i): Period => {
    if (typeof a !== 'object' || a === null) fail(`alertPeriods[${i}] must be an object`);
    const from = parseTime(a.from, `alertPeriods[${i}].from`);
    const to = given(a.to) ? parseTime(a.to, `alertPeriods[${i}].to`) : undefined;
    if (to !== undefined && to < from) fail(`alertPeriods[${i}].to (${a.to}) is before its from (${a.from})`);
    const windowStart = given(a.windowStart) ? parseTime(a.windowStart, `alertPeriods[${i}].windowStart`) : undefined;
    if (windowStart !== undefined && windowStart > from) {
      fail(`alertPeriods[${i}].windowStart (${a.windowStart}) is after its from (${a.from})`);
    }
    return { from, to, windowStart };
  });
  periods.sort((a, b) => a.from - b.from);
  return { buckets, periods, width, height, dispersion, timeZone };
}
