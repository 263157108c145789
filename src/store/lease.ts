/**
 * The leader lease in PostgreSQL (table `leases`, migration 3): one row per lease name with its holder, its
 * expiry and its fencing token. Every statement is one atomic statement on the database's clock (`now()`),
 * so replicas whose clocks disagree still agree on who holds the lease:
 *
 * - `acquire`: takes the lease when it is free, expired, or already this holder's, and then increments the
 *   fencing token (every acquisition is a new term with a new token; a renewal keeps it). Two replicas
 *   asking at once: the second waits for the first's row lock, then finds the lease unexpired.
 * - `renew`: pushes the expiry back, only for this holder and token and only while unexpired.
 * - `release`: expires it now (a replica stopping hands over at once instead of after the TTL).
 *
 * Its own small pool, apart from the store's: a renewal never queues behind the store's slow queries. Each
 * statement gives up after `timeoutMs` (client-side read timeout, and `lock_timeout`/`statement_timeout`
 * server-side), so a partition or a lease row locked by a paused process makes the call fail rather than
 * hang; the caller (src/ops/leadership.ts) steps down and tries again.
 */
import { Pool } from 'pg';
import { describePostgresUrl } from './postgres';

export interface Lease {
  name: string;
  holder: string;
  /** The fencing token of the holder's term. */
  token: number;
  /** ISO, the database's clock. */
  expiresAt: string;
  /** When the holder's term began (ISO, the database's clock). */
  acquiredAt: string;
}

export type Acquisition = { acquired: true; lease: Lease } | { acquired: false; lease: Lease | null };

export interface LeaseStore {
  /** Takes the lease for `ttlMs` when free, expired or already `holder`'s (with a new token); else who holds it. */
  acquire(name: string, holder: string, ttlMs: number): Promise<Acquisition>;
  /** Extends `holder`'s term `token` by `ttlMs` from now; null when that term is over (expired or taken). */
  renew(name: string, holder: string, token: number, ttlMs: number): Promise<Lease | null>;
  /** Ends `holder`'s term `token` now; false when it was already over. */
  release(name: string, holder: string, token: number): Promise<boolean>;
  /** The lease as stored (expired or not), or null. */
  read(name: string): Promise<Lease | null>;
  close(): Promise<void>;
}

export interface PostgresLeaseOptions {
  /** The schema the store's tables are in (as openPostgresStore's `schema`); else the URL's search_path. */
  schema?: string;
  /** Each statement's time limit (ms); default 5000. */
  timeoutMs?: number;
  onIdleError?: (err: Error) => void;
}

const COLUMNS = 'name, holder, token::text AS token, expires_at, acquired_at';

interface Row {
  name: string;
  holder: string;
  token: string;
  expires_at: Date;
  acquired_at: Date;
}

const toLease = (r: Row): Lease => ({
  name: r.name,
  holder: r.holder,
  token: Number(r.token),
  expiresAt: new Date(r.expires_at).toISOString(),
  acquiredAt: new Date(r.acquired_at).toISOString(),
});

function checkArgs(name: string, holder?: string, ttlMs?: number): void {
  if (typeof name !== 'string' || name === '') throw new TypeError('lease: the name is empty');
  if (holder !== undefined && (typeof holder !== 'string' || holder === '' || holder.length > 200))
    throw new TypeError('lease: the holder must be 1 to 200 characters');
  if (ttlMs !== undefined && (!Number.isSafeInteger(ttlMs) || ttlMs < 1))
    throw new TypeError('lease: the TTL must be a positive integer of milliseconds');
}

export function openPostgresLeases(url: string, opts: PostgresLeaseOptions = {}): LeaseStore {
  const timeoutMs = Math.max(100, Math.round(opts.timeoutMs ?? 5000));
  const pool = new Pool({
    connectionString: url,
    max: 2,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    // Server-side too: a statement waiting on a row lock (a paused leader's write) or stuck gives up.
    statement_timeout: timeoutMs,
    lock_timeout: timeoutMs,
    ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
  });
  pool.on(
    'error',
    opts.onIdleError ??
      ((err) => process.emitWarning(`idle PostgreSQL connection (lease) failed, the pool reconnects: ${err.message}`)),
  );
  let closed = false;
  const query = async (sql: string, params: unknown[]) => {
    if (closed) throw new Error('the lease store is closed');
    try {
      return (await pool.query<Row & { acquired?: boolean }>(sql, params)).rows;
    } catch (err) {
      throw new Error(`lease at ${describePostgresUrl(url)}: ${(err as Error).message}`, { cause: err });
    }
  };

  return {
    async acquire(name, holder, ttlMs) {
      checkArgs(name, holder, ttlMs);
      // The row of another holder, unexpired, is left alone; the statement then answers that row instead.
      const rows = await query(
        `WITH attempt AS (
           INSERT INTO leases (name, holder, token, expires_at, acquired_at)
           VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond', now())
           ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = leases.token + 1,
             expires_at = excluded.expires_at, acquired_at = excluded.acquired_at
           WHERE leases.expires_at <= now() OR leases.holder = excluded.holder
           RETURNING ${COLUMNS})
         SELECT true AS acquired, * FROM attempt
         UNION ALL
         SELECT false AS acquired, ${COLUMNS} FROM leases WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM attempt)`,
        [name, holder, ttlMs],
      );
      const row = rows[0];
      if (row?.acquired) return { acquired: true, lease: toLease(row) };
      return { acquired: false, lease: row ? toLease(row) : null };
    },

    async renew(name, holder, token, ttlMs) {
      checkArgs(name, holder, ttlMs);
      const rows = await query(
        `UPDATE leases SET expires_at = now() + $4 * interval '1 millisecond'
         WHERE name = $1 AND holder = $2 AND token = $3 AND expires_at > now()
         RETURNING ${COLUMNS}`,
        [name, holder, token, ttlMs],
      );
      return rows[0] ? toLease(rows[0]) : null;
    },

    async release(name, holder, token) {
      checkArgs(name, holder);
      const rows = await query(
        `UPDATE leases SET expires_at = now()
         WHERE name = $1 AND holder = $2 AND token = $3 AND expires_at > now()
         RETURNING ${COLUMNS}`,
        [name, holder, token],
      );
      return rows.length > 0;
    },

    async read(name) {
      checkArgs(name);
      const rows = await query(`SELECT ${COLUMNS} FROM leases WHERE name = $1`, [name]);
      return rows[0] ? toLease(rows[0]) : null;
    },

    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
