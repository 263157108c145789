/**
 * One transaction on a connection checked out of the pool: BEGIN, `fn`, COMMIT (ROLLBACK on a throw).
 *
 * While a connection is checked out, pg-pool stops listening to its 'error' events, and pg reports a
 * server's error that arrives between queries (no query to fail) only as an 'error' event. That happens to
 * a leader paused inside a fenced write: the server ends the transaction (idle_in_transaction_session_timeout,
 * src/store/postgres.ts `fenced`) and, on waking, the connection says so — unheard, that event would end
 * the process. Here it is heard, the next query fails instead, and the broken connection leaves the pool.
 */
import type { Pool, PoolClient } from 'pg';

export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken ??= err;
  };
  client.on('error', onError);
  const release = (err?: Error) => {
    client.removeListener('error', onError);
    client.release(err ?? broken);
  };
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    release();
    return result;
  } catch (err) {
    try {
      if (broken) throw broken;
      await client.query('ROLLBACK');
      release();
    } catch (rollbackErr) {
      release(rollbackErr as Error); // a broken connection: dropped from the pool
    }
    // The connection's own error says what happened ("terminating connection due to idle-in-transaction
    // timeout"); the query's ("not queryable") does not.
    throw broken ? new Error(`PostgreSQL connection lost in a transaction: ${broken.message}`, { cause: err }) : err;
  }
}
