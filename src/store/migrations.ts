/**
 * Versioned schema migrations, one ordered list for both backends. Each migration is ONE SQL text written
 * with three type markers that differ between the dialects (or, where the dialects cannot do the same thing
 * the same way, one text per dialect):
 *
 *   {TIME}  ISO-8601 UTC text in SQLite (text order is time order), timestamptz in PostgreSQL
 *   {JSON}  text in SQLite, jsonb in PostgreSQL
 *   {BOOL}  integer 0/1 in SQLite, boolean in PostgreSQL
 *
 * Applied versions are recorded in `schema_migrations`; pending ones run at start-up in one transaction
 * (SQLite: BEGIN IMMEDIATE, so two processes on one file take turns; PostgreSQL: under a transaction-level
 * advisory lock, so replicas starting together apply each migration exactly once).
 *
 * Never edit a released migration: append a new one.
 */
export type Dialect = 'sqlite' | 'postgres';

export interface Migration {
  version: number;
  name: string;
  sql: string | Record<Dialect, string>;
}

const LABEL_CHECK = "('negative', 'neutral', 'positive')";

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
      CREATE TABLE predictions (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('mention', 'command', 'api')),
        text TEXT NOT NULL,
        label TEXT NOT NULL CHECK (label IN ${LABEL_CHECK}),
        probabilities {JSON} NOT NULL,
        model_version TEXT NOT NULL,
        created_at {TIME} NOT NULL
      );
      CREATE INDEX predictions_by_model ON predictions (model_version);

      CREATE TABLE mentions (
        id TEXT PRIMARY KEY,
        stream TEXT NOT NULL,
        author_id TEXT,
        author_handle TEXT,
        created_at {TIME} NOT NULL,
        text TEXT NOT NULL,
        lang TEXT,
        metrics {JSON},
        human_label TEXT CHECK (human_label IN ${LABEL_CHECK}),
        prediction_id TEXT NOT NULL,
        stored_at {TIME} NOT NULL
      );
      CREATE INDEX mentions_by_stream_time ON mentions (stream, created_at);

      CREATE TABLE checkpoints (
        stream TEXT PRIMARY KEY,
        checkpoint TEXT NOT NULL,
        updated_at {TIME} NOT NULL
      );

      CREATE TABLE feedback (
        prediction_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        correct {BOOL} NOT NULL,
        true_label TEXT CHECK (true_label IN ${LABEL_CHECK}),
        source TEXT,
        voted_at {TIME} NOT NULL,
        PRIMARY KEY (prediction_id, user_id)
      );

      CREATE TABLE message_links (
        platform TEXT NOT NULL,
        channel TEXT NOT NULL,
        message_id TEXT NOT NULL,
        prediction_id TEXT,
        alert_id TEXT,
        created_at {TIME} NOT NULL,
        PRIMARY KEY (platform, channel, message_id)
      );

      CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        stream TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
        opened_at {TIME} NOT NULL,
        updated_at {TIME} NOT NULL,
        resolved_at {TIME},
        data {JSON} NOT NULL
      );
      CREATE INDEX alerts_open_by_stream ON alerts (stream, opened_at) WHERE state = 'open';
      CREATE INDEX alerts_by_stream ON alerts (stream, opened_at);
    `,
  },
  {
    // Issue 11: hashed voter ids (the key store, an index for erasure by user) and indexes the retention
    // job's batched deletes walk (src/ops/retention.ts), so a batch never scans a whole table.
    version: 2,
    name: 'privacy and retention',
    sql: `
      CREATE TABLE privacy_keys (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        created_at {TIME} NOT NULL
      );
      CREATE INDEX feedback_by_user ON feedback (user_id);
      CREATE INDEX predictions_by_kind_time ON predictions (kind, created_at);
      CREATE INDEX predictions_text_by_time ON predictions (created_at) WHERE kind <> 'mention' AND text <> '';
      CREATE INDEX mentions_by_stored_at ON mentions (stored_at);
      CREATE INDEX mentions_by_author ON mentions (author_id);
      CREATE INDEX message_links_by_prediction ON message_links (prediction_id);
      CREATE INDEX message_links_by_alert ON message_links (alert_id);
      CREATE INDEX alerts_resolved_by_time ON alerts (resolved_at) WHERE state = 'resolved';
    `,
  },
  {
    // Issue 12: one leader among the replicas. A lease per name (`leader`): who holds it, until when (the
    // database's clock), and the fencing token, incremented at every acquisition (never at a renewal), that
    // the leader's writes are checked against (src/store/lease.ts, src/store/fence.ts). SQLite gets the table
    // too (one migration list), unused: SQLite is one process.
    version: 3,
    name: 'leader lease',
    sql: `
      CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        token BIGINT NOT NULL,
        expires_at {TIME} NOT NULL,
        acquired_at {TIME} NOT NULL
      );
    `,
  },
  {
    // Issue 12: deliveries Slack and Teams send again (an Events API `event_id`, an interaction, a Teams
    // activity id) are claimed here, so a retry that lands on another replica or after a restart is applied
    // once (Store.claim). Rows expire; Store.pruneClaims removes the expired ones.
    version: 4,
    name: 'delivery claims',
    sql: `
      CREATE TABLE claims (
        key TEXT PRIMARY KEY,
        claimed_at {TIME} NOT NULL,
        expires_at {TIME} NOT NULL
      );
      CREATE INDEX claims_by_expiry ON claims (expires_at);
    `,
  },
  {
    // Issue 13: a challenger model scores every mention in shadow beside the champion (MODEL_CHALLENGER).
    // Its answers are kept apart from `predictions` so nothing that shows, votes or alerts can see them;
    // they go with their mention (retention, erasure).
    version: 5,
    name: 'shadow predictions',
    sql: `
      CREATE TABLE shadow_predictions (
        prediction_id TEXT NOT NULL,
        model_version TEXT NOT NULL,
        label TEXT NOT NULL CHECK (label IN ${LABEL_CHECK}),
        probabilities {JSON} NOT NULL,
        created_at {TIME} NOT NULL,
        PRIMARY KEY (prediction_id, model_version)
      );
      CREATE INDEX shadow_predictions_by_model_time ON shadow_predictions (model_version, created_at);
      CREATE INDEX feedback_by_time ON feedback (voted_at);
    `,
  },
  {
    // Issue 14: a mention in a language the model does not read is stored without a prediction
    // (prediction_id NULL, no row in predictions), with the language identified (`language`; X's own tag
    // stays in `lang`). Mentions stored before keep their prediction and get language NULL. PostgreSQL drops
    // the NOT NULL in place (a catalogue change: no copy, no long lock while other replicas keep writing);
    // SQLite cannot, so there the table is rebuilt with its rows and indexes.
    version: 6,
    name: 'mention languages',
    sql: {
      postgres: `
        ALTER TABLE mentions ALTER COLUMN prediction_id DROP NOT NULL;
        ALTER TABLE mentions ADD COLUMN language TEXT;
      `,
      sqlite: `
        CREATE TABLE mentions_v6 (
          id TEXT PRIMARY KEY,
          stream TEXT NOT NULL,
          author_id TEXT,
          author_handle TEXT,
          created_at TEXT NOT NULL,
          text TEXT NOT NULL,
          lang TEXT,
          metrics TEXT,
          human_label TEXT CHECK (human_label IN ${LABEL_CHECK}),
          prediction_id TEXT,
          stored_at TEXT NOT NULL,
          language TEXT
        );
        INSERT INTO mentions_v6 (id, stream, author_id, author_handle, created_at, text, lang, metrics, human_label,
            prediction_id, stored_at)
          SELECT id, stream, author_id, author_handle, created_at, text, lang, metrics, human_label, prediction_id,
            stored_at
          FROM mentions;
        DROP TABLE mentions;
        ALTER TABLE mentions_v6 RENAME TO mentions;
        CREATE INDEX mentions_by_stream_time ON mentions (stream, created_at);
        CREATE INDEX mentions_by_stored_at ON mentions (stored_at);
        CREATE INDEX mentions_by_author ON mentions (author_id);
      `,
    },
  },
  {
    // Resolved alerts were kept by resolved_at, the mentions' clock: an alert of a replayed day (2015) was
    // past its 365 days at the first retention run, votes and all. `stored_at` is the wall-clock time the
    // monitor last saved the alert, as for mentions; alerts written before keep their old clock. A replica of the
    // previous version leaves it NULL: retention then falls back to resolved_at (src/store/*.ts).
    version: 7,
    name: 'alerts kept by the wall clock',
    sql: `
      ALTER TABLE alerts ADD COLUMN stored_at {TIME};
      UPDATE alerts SET stored_at = COALESCE(resolved_at, updated_at);
    `,
  },
];

const TYPES: Record<Dialect, Record<'TIME' | 'JSON' | 'BOOL', string>> = {
  sqlite: { TIME: 'TEXT', JSON: 'TEXT', BOOL: 'INTEGER' },
  postgres: { TIME: 'TIMESTAMPTZ', JSON: 'JSONB', BOOL: 'BOOLEAN' },
};

/** A migration's SQL for one dialect. */
export function migrationSql(m: Migration, dialect: Dialect): string {
  const sql = typeof m.sql === 'string' ? m.sql : m.sql[dialect];
  return sql.replace(/\{(TIME|JSON|BOOL)\}/g, (_, t: 'TIME' | 'JSON' | 'BOOL') => TYPES[dialect][t]);
}

export const SCHEMA_MIGRATIONS_DDL: Record<Dialect, string> = {
  sqlite: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`,
  postgres: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
};

/** The migrations not yet applied, in order. */
export function pending(applied: Iterable<number>): Migration[] {
  const done = new Set(applied);
  return MIGRATIONS.filter((m) => !done.has(m.version));
}

/** The advisory lock key PostgreSQL replicas serialise their migrations on (per schema). */
export function migrationLockName(schema: string | undefined): string {
  return `sentinel:migrate:${schema ?? ''}`;
}
