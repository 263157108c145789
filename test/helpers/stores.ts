/**
 * Fresh real stores for suites that run on both backends: a SQLite file in a temp dir, or a new schema on
 * the PostgreSQL test database (TEST_DATABASE_URL, else sentinel_test on 127.0.0.1) dropped by `cleanup`.
 * `env` is what a child process (a CLI) needs to open the same store through loadConfig.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { openPostgresStore } from '../../src/store/postgres';
import { openSqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';

export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/sentinel_test';

export interface TestStore {
  kind: 'sqlite' | 'postgres';
  /** Opens another (migrated) store on the same data. */
  open(opts?: { voterKey?: string }): Promise<Store>;
  /** DATABASE_URL / SQLITE_PATH for a child process on the same data. */
  env: Record<string, string>;
  /** Raw SQL that writes (ages set back in time). */
  exec(sql: string): Promise<void>;
  /** A timestamp literal in the dialect. */
  time(iso: string): string;
  cleanup(): Promise<void>;
}

let n = 0;
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

export function testStore(kind: 'sqlite' | 'postgres'): TestStore {
  const opened: Store[] = [];
  const track = async (s: Store) => {
    opened.push(s);
    await s.migrate();
    return s;
  };
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-store-'));
    const path = join(dir, 'sentinel.db');
    return {
      kind,
      open: (opts) => track(openSqliteStore(path, opts)),
      env: { SQLITE_PATH: path },
      async exec(sql) {
        // A second connection, like another process.
        const db = new Database(path);
        try {
          db.pragma('busy_timeout = 5000');
          db.exec(sql);
        } finally {
          db.close();
        }
      },
      time: (iso) => `'${new Date(iso).toISOString()}'`,
      async cleanup() {
        await Promise.all(opened.map((s) => s.close()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `t_${RUN}_${process.pid}_${++n}`;
  const withClient = async (fn: (c: Client) => Promise<void>) => {
    const c = new Client({ connectionString: PG_URL });
    await c.connect();
    try {
      await fn(c);
    } finally {
      await c.end();
    }
  };
  const url = new URL(PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    kind,
    open: (opts) => track(openPostgresStore(PG_URL, { schema, ...opts })),
    // The CLI has no schema option: the connection's search_path puts it in this test's schema.
    env: { DATABASE_URL: url.toString() },
    exec: (sql) =>
      withClient(async (c) => {
        await c.query(`SET search_path TO ${schema}`);
        await c.query(sql);
      }),
    time: (iso) => `'${new Date(iso).toISOString()}'::timestamptz`,
    async cleanup() {
      await Promise.all(opened.map((s) => s.close()));
      await withClient(async (c) => {
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      });
    },
  };
}
