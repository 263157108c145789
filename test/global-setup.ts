/**
 * Runs once before the suites: creates the PostgreSQL test database (sentinel_test, or the one
 * TEST_DATABASE_URL names) when it is missing, so `npm ci && npm test` needs no hand-made database. A
 * server that cannot be reached is not an error here: the suites that need it say so themselves.
 */
import { Client } from 'pg';

export const TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/sentinel_test';

export default async function globalSetup(): Promise<void> {
  const target = new URL(process.env.TEST_DATABASE_URL ?? TEST_DATABASE_URL);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(target);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (err) {
    process.stderr.write(
      `\ntest set-up: PostgreSQL at ${admin.host} unreachable (${(err as Error).message}); its suites will fail\n`,
    );
    return;
  }
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      process.stderr.write(`\ntest set-up: created database ${name}\n`);
    }
  } catch (err) {
    // Another run created it between the check and the CREATE: that is fine.
    if ((err as { code?: string }).code !== '42P04') throw err;
  } finally {
    await client.end();
  }
}
