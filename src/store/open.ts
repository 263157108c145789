/**
 * Chooses and opens the Store from the config: a postgres:// or postgresql:// DATABASE_URL selects
 * PostgreSQL (several replicas); without one, SQLite at SQLITE_PATH (the embedded default). The store is
 * migrated before it is returned. Errors name the setting to fix and never echo a password.
 */
import { reason } from './common';
import { describePostgresUrl, openPostgresStore } from './postgres';
import { openSqliteStore } from './sqlite';
import type { Store } from './types';

export interface OpenStoreOptions {
  /** DATABASE_URL: postgres://user:password@host:5432/database. Unset or blank: SQLite. */
  databaseUrl?: string;
  /** SQLITE_PATH: the SQLite file, used when there is no DATABASE_URL. */
  sqlitePath: string;
  /** PostgreSQL only: keep the tables in this schema (tests). */
  postgresSchema?: string;
  /**
   * PRIVACY_USER_ID_SECRET: the key voters' ids are hashed with (at least 32 characters). Unset: a key is
   * generated once and kept in the database itself (local mode; docs/privacy.md).
   */
  voterKey?: string;
}

export class StoreConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreConfigError';
  }
}

/** Which backend the options select, or why they are wrong. */
export function storeKind(opts: Pick<OpenStoreOptions, 'databaseUrl'>): 'postgres' | 'sqlite' {
  const raw = opts.databaseUrl?.trim();
  if (!raw) return 'sqlite';
  const expected =
    'expected postgres://user:password@host:5432/database (or leave it unset to use SQLite at SQLITE_PATH)';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new StoreConfigError(`DATABASE_URL is not a valid URL: ${expected}`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    // The scheme is safe to quote; the rest may hold a password.
    throw new StoreConfigError(
      `DATABASE_URL must be a PostgreSQL URL, got a ${JSON.stringify(url.protocol.slice(0, 20))} URL: ${expected}`,
    );
  }
  return 'postgres';
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  let store: Store;
  let where: string;
  if (storeKind(opts) === 'postgres') {
    const url = opts.databaseUrl!.trim();
    where = `PostgreSQL at ${describePostgresUrl(url)} (DATABASE_URL)`;
    try {
      store = openPostgresStore(url, { schema: opts.postgresSchema, voterKey: opts.voterKey });
    } catch (err) {
      throw new StoreConfigError(`cannot use ${where}: ${reason(err)}`, { cause: err });
    }
  } else {
    where = `SQLite at ${opts.sqlitePath} (SQLITE_PATH)`;
    try {
      store = openSqliteStore(opts.sqlitePath, { voterKey: opts.voterKey });
    } catch (err) {
      throw new StoreConfigError(`cannot open ${where}: ${reason((err as Error).cause ?? err)}`, { cause: err });
    }
  }
  try {
    await store.migrate();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw new StoreConfigError(`cannot prepare ${where}: ${reason((err as Error).cause ?? err)}`, {
      cause: err,
    });
  }
  return store;
}

/**
 * The store the server uses, for a command-line tool (privacy:erase, feedback:export): opened from the same
 * settings, with a line saying which one it is ("PostgreSQL at host/db", "SQLite at data/sentinel.db").
 */
export async function openConfiguredStore(config: {
  databaseUrl?: string;
  sqlitePath: string;
  privacyUserIdSecret?: string;
}): Promise<{ store: Store; where: string }> {
  const where =
    storeKind(config) === 'postgres'
      ? `PostgreSQL at ${describePostgresUrl(config.databaseUrl!)}`
      : `SQLite at ${config.sqlitePath}`;
  const store = await openStore({
    databaseUrl: config.databaseUrl,
    sqlitePath: config.sqlitePath,
    voterKey: config.privacyUserIdSecret,
  });
  return { store, where };
}
