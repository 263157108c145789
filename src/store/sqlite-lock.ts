/**
 * SQLite is one Sentinel process: two servers on one file would both poll X and both judge the trends (each
 * its own alerts), which is what the PostgreSQL lease prevents between replicas. The server (src/main.ts)
 * takes this lock before it opens the store, and a second server on the same SQLITE_PATH stops at once,
 * naming the file and the process that holds it.
 *
 * The lock is the operating system's, not a file's existence: `<SQLITE_PATH>.lock` is a tiny SQLite file on
 * which the server holds an exclusive SQLite lock (locking_mode=EXCLUSIVE, taken by a first write) for as
 * long as it runs. The kernel drops it when the process ends, however it ends (kill -9 included), so there
 * is never a stale lock to take over and a recycled pid (pid 1 in every container) fools nothing. The pid
 * of the holder is written in that file's header (its `user_version`, bytes 60-63) so that the process
 * refused can name it; reading those bytes needs no lock. The lock file is never deleted (deleting it while
 * another process waits on it would let two hold "the" lock).
 *
 * The command-line tools (privacy:erase, the replay) do not take it: they open the database beside a running
 * server, and SQLite's own locking (WAL, busy timeout) takes turns between their writes and the server's.
 */
import { closeSync, mkdirSync, openSync, readSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export class SqliteInUseError extends Error {
  constructor(
    readonly sqlitePath: string,
    readonly holderPid: number | null,
  ) {
    super(
      `SQLITE_PATH ${sqlitePath} is in use by another Sentinel process` +
        (holderPid ? ` (pid ${holderPid})` : '') +
        ': SQLite is one process only. Stop that one first, point SQLITE_PATH at another file, or use ' +
        'PostgreSQL (DATABASE_URL) to run several replicas',
    );
    this.name = 'SqliteInUseError';
  }
}

export interface SqliteLock {
  /** The lock file (`<SQLITE_PATH>.lock`). */
  readonly path: string;
  /** Lets another process take it (the process's end does too). */
  release(): void;
}

/** Takes the one-process lock of the SQLite database at `sqlitePath`, or throws SqliteInUseError. */
export function lockSqliteFile(sqlitePath: string): SqliteLock {
  if (sqlitePath === ':memory:') return { path: sqlitePath, release: () => undefined };
  const path = `${sqlitePath}.lock`;
  let db: Database.Database;
  try {
    mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
    db.pragma('busy_timeout = 0');
    db.pragma('locking_mode = EXCLUSIVE');
  } catch (err) {
    throw new Error(`cannot create the lock file ${path} beside SQLITE_PATH: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    // The first write takes the exclusive lock, which this connection then keeps until it is closed.
    db.pragma(`user_version = ${process.pid}`);
  } catch (err) {
    db.close();
    const code = (err as { code?: string }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new SqliteInUseError(sqlitePath, holderPid(path));
    throw new Error(`cannot lock ${path} (beside SQLITE_PATH): ${(err as Error).message}`, { cause: err });
  }
  let held = true;
  return {
    path,
    release() {
      if (!held) return;
      held = false;
      db.close();
    },
  };
}

/** The pid the holder wrote in the lock file's header (SQLite's user_version: 4 bytes, big-endian, at 60). */
function holderPid(path: string): number | null {
  try {
    const fd = openSync(path, 'r');
    try {
      const header = Buffer.alloc(4);
      if (readSync(fd, header, 0, 4, 60) !== 4) return null;
      const pid = header.readUInt32BE(0);
      return pid > 0 ? pid : null;
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
}
