/**
 * The digest's day: a calendar date in a time zone (DIGEST_TIMEZONE), from midnight to midnight there —
 * 24 hours, or 23 / 25 on the days the clocks change. Plain Intl (the ICU time zone data Node ships), no
 * library: a zone's offset at an instant is read from Intl's formatting of that instant.
 */

export interface DigestDay {
  /** The calendar date, YYYY-MM-DD. */
  date: string;
  /** An IANA time zone (UTC, Europe/Paris…). */
  timeZone: string;
  /** Midnight starting the day there, ISO (UTC). */
  from: string;
  /** Midnight ending it, ISO (UTC). */
  to: string;
}

/** A date or a time zone that is not one; the message says which and what is expected. */
export class DigestDayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DigestDayError';
  }
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
        hourCycle: 'h23',
      });
    } catch {
      throw new DigestDayError(
        `${JSON.stringify(timeZone)} is not a time zone; expected an IANA name such as UTC or Europe/Paris`,
      );
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall-clock fields of instant `t` in `timeZone`. */
function fields(t: number, timeZone: string): { y: number; m: number; d: number; h: number; min: number; s: number } {
  const parts = formatter(timeZone).formatToParts(new Date(t));
  const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value);
  return { y: get('year'), m: get('month'), d: get('day'), h: get('hour') % 24, min: get('minute'), s: get('second') };
}

/** Whether `timeZone` is a zone Intl knows (an IANA name, or UTC). */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The zone's offset from UTC at instant `t`, in ms (Paris in winter: +3,600,000). */
export function offsetMs(t: number, timeZone: string): number {
  const f = fields(t, timeZone);
  const whole = t - (((t % 1000) + 1000) % 1000);
  return Date.UTC(f.y, f.m - 1, f.d, f.h, f.min, f.s) - whole;
}

/** The instant of midnight starting `y-m-d` in the zone (twice corrected: the offset may change that day). */
function midnight(y: number, m: number, d: number, timeZone: string): number {
  const wall = Date.UTC(y, m - 1, d);
  const first = wall - offsetMs(wall, timeZone);
  return wall - offsetMs(first, timeZone);
}

/** The calendar date of instant `t` in the zone, YYYY-MM-DD. */
export function localDate(t: number, timeZone: string): string {
  const f = fields(t, timeZone);
  return `${String(f.y).padStart(4, '0')}-${String(f.m).padStart(2, '0')}-${String(f.d).padStart(2, '0')}`;
}

/** HH:MM of instant `t` in the zone. */
export function localClock(t: number, timeZone: string): string {
  const f = fields(t, timeZone);
  return `${String(f.h).padStart(2, '0')}:${String(f.min).padStart(2, '0')}`;
}

/** The day `date` (YYYY-MM-DD) in `timeZone`; throws DigestDayError for a date or zone that is not one. */
export function digestDay(date: string, timeZone: string): DigestDay {
  const m = DATE.exec(date);
  const [y, mo, d] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [NaN, NaN, NaN];
  const check = new Date(Date.UTC(y, mo - 1, d));
  if (!m || check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d)
    throw new DigestDayError(`${JSON.stringify(date)} is not a date; expected YYYY-MM-DD, e.g. 2015-02-21`);
  formatter(timeZone); // the zone checked
  const next = new Date(Date.UTC(y, mo - 1, d + 1));
  return {
    date,
    timeZone,
    from: new Date(midnight(y, mo, d, timeZone)).toISOString(),
    to: new Date(midnight(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), timeZone)).toISOString(),
  };
}

/** The day before the one instant `t` falls in, in `timeZone`: "yesterday" seen from `t`. */
export function dayBefore(t: number, timeZone: string): DigestDay {
  const today = localDate(t, timeZone);
  const [y, m, d] = today.split('-').map(Number);
  const prev = new Date(Date.UTC(y, m - 1, d - 1));
  return digestDay(prev.toISOString().slice(0, 10), timeZone);
}

/** "Saturday 21 February 2015" for the day's date (the same whatever the zone). */
export function dayName(day: Pick<DigestDay, 'date'>): string {
  const [y, m, d] = day.date.split('-').map(Number);
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: 'UTC',
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
  })
    .format(new Date(Date.UTC(y, m - 1, d)))
    .replace(',', '');
}
