/**
 * Who may open the dashboard. It shows customers' tweets and the team's votes, so outside local mode it
 * is never open: the way in is the signed, expiring link in an alert ("Open in dashboard").
 *
 * - A link is `/dashboard/alerts/<id>?exp=<unix s>&sig=<HMAC-SHA256(DASHBOARD_SECRET, "link", id, exp)>`.
 *   Whoever holds a valid one (anyone in the channel) gets a session: an HttpOnly cookie holding
 *   `<exp>.<HMAC("session", exp)>`, valid DASHBOARD_SESSION_HOURS. Nothing is stored server-side, so
 *   every replica checks links and sessions alike; changing the secret revokes them all.
 * - Open mode (no secret, and the HTTP API open on loopback, i.e. local mode): no sign-in.
 * - Otherwise (no secret outside local mode): the dashboard is off.
 *
 * Signatures are compared in constant time; an id or expiry that is not exactly what was signed fails.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'sentinel_dashboard';

export type DashboardAccessMode = 'open' | 'signed' | 'off';

export interface DashboardAccessOptions {
  /** DASHBOARD_SECRET: signed links and sessions. */
  secret?: string;
  /** No secret and an open API on loopback: no sign-in (local mode). */
  open: boolean;
  linkDays: number;
  sessionHours: number;
  now?: () => number;
}

export type LinkCheck =
  { ok: true; alertId: string } | { ok: false; reason: 'malformed' | 'expired' | 'bad_signature'; message: string };

/** Alert ids are `<stream>@<ISO time>`; stream names may hold spaces and any letter, never control characters. */
const ALERT_ID = { test: (id: string) => id.length > 0 && id.length <= 300 && !/\p{Cc}/u.test(id) };

export class DashboardAccess {
  readonly mode: DashboardAccessMode;
  private readonly now: () => number;

  constructor(private readonly opts: DashboardAccessOptions) {
    this.mode = opts.secret ? 'signed' : opts.open ? 'open' : 'off';
    this.now = opts.now ?? Date.now;
  }

  /** The path (with its signature, when signed) that opens the dashboard on `alertId`; null when off (or not an id). */
  alertPath(alertId: string): string | null {
    if (this.mode === 'off' || !ALERT_ID.test(alertId)) return null;
    const path = `/dashboard/alerts/${pathSegment(alertId)}`;
    if (this.mode === 'open') return path;
    const exp = Math.floor(this.now() / 1000) + this.opts.linkDays * 86_400;
    return `${path}?exp=${exp}&sig=${this.sign('link', alertId, String(exp))}`;
  }

  /** Whether `exp` and `sig` are a valid, unexpired signature of the link to `alertId`. */
  checkLink(alertId: string, exp: unknown, sig: unknown): LinkCheck {
    if (this.mode !== 'signed') return { ok: true, alertId };
    if (!ALERT_ID.test(alertId) || typeof exp !== 'string' || !/^\d{1,12}$/.test(exp) || typeof sig !== 'string')
      return {
        ok: false,
        reason: 'malformed',
        message: 'This link is incomplete: open the dashboard from the button of an alert in Slack or Teams.',
      };
    if (!this.verify(sig, 'link', alertId, exp))
      return {
        ok: false,
        reason: 'bad_signature',
        message:
          'This link is not valid (altered, or signed with a key that has since changed): open the dashboard from the button of a recent alert.',
      };
    if (Number(exp) * 1000 <= this.now())
      return {
        ok: false,
        reason: 'expired',
        message: `This link expired on ${new Date(Number(exp) * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC: open the dashboard from the button of a recent alert (links last ${this.opts.linkDays} days).`,
      };
    return { ok: true, alertId };
  }

  /** A session cookie's value, valid for DASHBOARD_SESSION_HOURS from now, and its max-age in seconds. */
  newSession(): { value: string; maxAge: number } {
    const maxAge = this.opts.sessionHours * 3600;
    const exp = String(Math.floor(this.now() / 1000) + maxAge);
    return { value: `${exp}.${this.sign('session', exp)}`, maxAge };
  }

  /** Whether a request with this Cookie header may read the dashboard. */
  allows(cookieHeader: string | undefined): boolean {
    if (this.mode === 'open') return true;
    if (this.mode === 'off') return false;
    const value = readCookie(cookieHeader, SESSION_COOKIE);
    const m = value ? /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value) : null;
    return Boolean(m && this.verify(m[2], 'session', m[1]) && Number(m[1]) * 1000 > this.now());
  }

  private sign(...parts: string[]): string {
    // Length-prefixed parts: ("a:b", "c") and ("a", "b:c") never sign alike.
    const h = createHmac('sha256', this.opts.secret ?? '');
    for (const p of parts) h.update(`${Buffer.byteLength(p)}:${p};`);
    return h.digest('base64url');
  }

  private verify(sig: string, ...parts: string[]): boolean {
    const want = Buffer.from(this.sign(...parts));
    const got = Buffer.from(sig);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

/**
 * An alert id as one path segment: `@` and `:` may stay as they are (RFC 3986 pchar), which keeps
 * `…/alerts/Southwest@2015-02-21T15:30:00.000Z` short and readable in a terminal or a chat message.
 */
function pathSegment(id: string): string {
  return encodeURIComponent(id).replace(/%40/g, '@').replace(/%3A/gi, ':');
}

/** One cookie's value from a Cookie header (first wins; no decoding: the values used here are URL-safe). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}
