/**
 * The embedded Store: one SQLite file (better-sqlite3, synchronous, so every method runs to completion
 * before the next starts). WAL mode so readers never block the writer; a busy timeout so a second process
 * on the same file waits instead of failing; synchronous=FULL so a committed write survives a crash.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { ScoredMention } from '../mentions/types';
import type { Label } from '../sentiment/types';
import {
  alertRow,
  closedError,
  examplesFromVotes,
  linkRow,
  mentionRow,
  nowIso,
  predictionRow,
  toAlert,
  toIso,
  toLink,
  toScoredMention,
  type AlertRead,
  type MentionRead,
  voteRow,
  reason,
  StoreInputError,
} from './common';
import { SCHEMA_MIGRATIONS_DDL, migrationSql, pending } from './migrations';
import type { AccuracyRow, AlertRecord, MessageLink, Store, StoredPrediction, Vote } from './types';

export interface SqliteStoreOptions {
  /** How long a write waits for another connection's lock before failing (ms). */
  busyTimeoutMs?: number;
}

type Row = Record<string, unknown>;

const MENTION_COLUMNS = `m.id, m.stream, m.author_id, m.author_handle, m.created_at, m.text, m.lang, m.metrics,
  m.human_label, p.label, p.probabilities, p.model_version`;

export function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): Store {
  if (typeof path !== 'string' || path.trim() === '') throw new Error('the SQLite path is empty');
  const inMemory = path === ':memory:';
  let db: Database.Database;
  try {
    if (!inMemory) mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
    if (!inMemory) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
  } catch (err) {
    throw new Error(`cannot open the SQLite database at ${path}: ${reason(err)}`, { cause: err });
  }
  return new SqliteStore(db, path);
}

class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private closed = false;
  private readonly stmts = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
  ) {}

  /** A prepared statement, prepared once (after migrations, since it needs the tables). */
  private stmt(sql: string): Database.Statement {
    if (this.closed) throw closedError('SQLite');
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  async migrate(): Promise<void> {
    if (this.closed) throw closedError('SQLite');
    const run = this.db.transaction(() => {
      this.db.exec(SCHEMA_MIGRATIONS_DDL.sqlite);
      const applied = this.db
        .prepare('SELECT version FROM schema_migrations')
        .all()
        .map((r) => (r as { version: number }).version);
      for (const m of pending(applied)) {
        this.db.exec(migrationSql(m, 'sqlite'));
        this.db
          .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(m.version, m.name, nowIso());
      }
    });
    try {
      run.immediate();
    } catch (err) {
      throw new Error(`cannot migrate the SQLite database at ${this.path}: ${reason(err)}`, { cause: err });
    }
  }

  async saveMentions(mentions: ScoredMention[]): Promise<number> {
    if (!Array.isArray(mentions)) throw new StoreInputError('saveMentions expects an array of mentions');
    const storedAt = nowIso();
    const rows = mentions.map((m) => mentionRow(m, storedAt)); // all checked before anything is written
    const insertPrediction = this.stmt(
      `INSERT INTO predictions (id, kind, text, label, probabilities, model_version, created_at)
       VALUES (@id, @kind, @text, @label, @probabilities, @modelVersion, @createdAt) ON CONFLICT (id) DO NOTHING`,
    );
    const insertMention = this.stmt(
      `INSERT INTO mentions (id, stream, author_id, author_handle, created_at, text, lang, metrics, human_label,
         prediction_id, stored_at)
       VALUES (@id, @stream, @authorId, @authorHandle, @createdAt, @text, @lang, @metrics, @humanLabel,
         @predictionId, @storedAt) ON CONFLICT (id) DO NOTHING`,
    );
    const save = this.db.transaction(() => {
      let inserted = 0;
      for (const r of rows) {
        const { prediction, ...mention } = r;
        const result = insertMention.run({ ...mention, predictionId: prediction.id, storedAt });
        if (result.changes > 0) {
          inserted++;
          insertPrediction.run(prediction);
        }
      }
      return inserted;
    });
    return save.immediate();
  }

  async countMentions(stream?: string): Promise<number> {
    const row = (
      stream === undefined
        ? this.stmt('SELECT count(*) AS n FROM mentions').get()
        : this.stmt('SELECT count(*) AS n FROM mentions WHERE stream = ?').get(stream)
    ) as { n: number };
    return row.n;
  }

  async mentionsBetween(stream: string, fromIso: string, toIsoArg: string): Promise<ScoredMention[]> {
    const from = toIso(fromIso, 'mentionsBetween: from');
    const to = toIso(toIsoArg, 'mentionsBetween: to');
    const rows = this.stmt(
      `SELECT ${MENTION_COLUMNS} FROM mentions m JOIN predictions p ON p.id = m.prediction_id
       WHERE m.stream = ? AND m.created_at >= ? AND m.created_at < ?
       ORDER BY m.created_at, length(m.id), m.id`,
    ).all(stream, from, to) as Row[];
    return rows.map((r) =>
      toScoredMention({
        ...(r as object as MentionRead),
        metrics: r.metrics === null ? null : JSON.parse(r.metrics as string),
        probabilities: JSON.parse(r.probabilities as string),
      }),
    );
  }

  async getCheckpoint(stream: string): Promise<string | null> {
    const row = this.stmt('SELECT checkpoint FROM checkpoints WHERE stream = ?').get(stream) as
      { checkpoint: string } | undefined;
    return row?.checkpoint ?? null;
  }

  async setCheckpoint(stream: string, checkpoint: string): Promise<void> {
    if (typeof stream !== 'string' || stream === '') throw new StoreInputError('checkpoint: stream must be non-empty');
    if (typeof checkpoint !== 'string') throw new StoreInputError('checkpoint: value must be a string');
    this.stmt(
      `INSERT INTO checkpoints (stream, checkpoint, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (stream) DO UPDATE SET checkpoint = excluded.checkpoint, updated_at = excluded.updated_at`,
    ).run(stream, checkpoint, nowIso());
  }

  async savePredictions(ps: StoredPrediction[]): Promise<void> {
    const rows = ps.map(predictionRow); // all checked before anything is written
    const insert = this.stmt(
      `INSERT INTO predictions (id, kind, text, label, probabilities, model_version, created_at)
       VALUES (@id, @kind, @text, @label, @probabilities, @modelVersion, @createdAt) ON CONFLICT (id) DO NOTHING`,
    );
    this.db.transaction(() => {
      for (const r of rows) insert.run(r);
    })();
  }

  async getPrediction(id: string): Promise<StoredPrediction | null> {
    const r = this.stmt(
      'SELECT id, kind, text, label, probabilities, model_version, created_at FROM predictions WHERE id = ?',
    ).get(id) as Row | undefined;
    if (!r) return null;
    return {
      id: r.id as string,
      kind: r.kind as StoredPrediction['kind'],
      text: r.text as string,
      label: r.label as Label,
      probabilities: JSON.parse(r.probabilities as string),
      modelVersion: r.model_version as string,
      createdAt: r.created_at as string,
    };
  }

  async recordVote(v: Vote): Promise<void> {
    const row = voteRow(v);
    this.stmt(
      `INSERT INTO feedback (prediction_id, user_id, correct, true_label, source, voted_at)
       VALUES (@predictionId, @userId, @correct, @trueLabel, @source, @votedAt)
       ON CONFLICT (prediction_id, user_id) DO UPDATE SET correct = excluded.correct,
         true_label = excluded.true_label, source = excluded.source, voted_at = excluded.voted_at`,
    ).run({ ...row, correct: row.correct ? 1 : 0, votedAt: nowIso() });
  }

  async retractVote(predictionId: string, userId: string): Promise<boolean> {
    return (
      this.stmt('DELETE FROM feedback WHERE prediction_id = ? AND user_id = ?').run(predictionId, userId).changes > 0
    );
  }

  async accuracyByModel(): Promise<AccuracyRow[]> {
    const rows = this.stmt(
      `SELECT p.model_version AS model_version, count(*) AS votes, sum(f.correct) AS correct
       FROM feedback f JOIN predictions p ON p.id = f.prediction_id
       GROUP BY p.model_version ORDER BY p.model_version`,
    ).all() as Array<{ model_version: string; votes: number; correct: number }>;
    return rows.map((r) => ({
      modelVersion: r.model_version,
      votes: r.votes,
      correct: r.correct,
      accuracy: r.correct / r.votes,
    }));
  }

  async feedbackExamples(): Promise<Array<{ text: string; label: Label }>> {
    const rows = this.stmt(
      `SELECT f.prediction_id, p.text, p.label, f.correct, f.true_label
       FROM feedback f JOIN predictions p ON p.id = f.prediction_id
       ORDER BY p.created_at, f.prediction_id`,
    ).all() as Array<{
      prediction_id: string;
      text: string;
      label: string;
      correct: number;
      true_label: string | null;
    }>;
    return examplesFromVotes(rows.map((r) => ({ ...r, correct: r.correct === 1 })));
  }

  async saveAlert(a: AlertRecord): Promise<void> {
    this.stmt(
      `INSERT INTO alerts (id, stream, state, opened_at, updated_at, resolved_at, data)
       VALUES (@id, @stream, @state, @openedAt, @updatedAt, @resolvedAt, @data)
       ON CONFLICT (id) DO UPDATE SET stream = excluded.stream, state = excluded.state,
         opened_at = excluded.opened_at, updated_at = excluded.updated_at, resolved_at = excluded.resolved_at,
         data = excluded.data`,
    ).run(alertRow(a));
  }

  async openAlert(stream: string): Promise<AlertRecord | null> {
    const r = this.stmt(
      `SELECT * FROM alerts WHERE stream = ? AND state = 'open' ORDER BY opened_at DESC, id DESC LIMIT 1`,
    ).get(stream) as Row | undefined;
    return r ? this.alert(r) : null;
  }

  async listAlerts(stream?: string): Promise<AlertRecord[]> {
    const rows = (
      stream === undefined
        ? this.stmt('SELECT * FROM alerts ORDER BY opened_at DESC, id DESC').all()
        : this.stmt('SELECT * FROM alerts WHERE stream = ? ORDER BY opened_at DESC, id DESC').all(stream)
    ) as Row[];
    return rows.map((r) => this.alert(r));
  }

  private alert(r: Row): AlertRecord {
    return toAlert({ ...(r as object as AlertRead), data: JSON.parse(r.data as string) });
  }

  async linkMessage(link: MessageLink): Promise<void> {
    this.stmt(
      `INSERT INTO message_links (platform, channel, message_id, prediction_id, alert_id, created_at)
       VALUES (@platform, @channel, @messageId, @predictionId, @alertId, @createdAt)
       ON CONFLICT (platform, channel, message_id) DO UPDATE SET prediction_id = excluded.prediction_id,
         alert_id = excluded.alert_id`,
    ).run({ ...linkRow(link), createdAt: nowIso() });
  }

  async findLink(platform: string, channel: string, messageId: string): Promise<MessageLink | null> {
    const r = this.stmt(
      `SELECT platform, channel, message_id, prediction_id, alert_id FROM message_links
       WHERE platform = ? AND channel = ? AND message_id = ?`,
    ).get(platform, channel, messageId) as Parameters<typeof toLink>[0] | undefined;
    return r ? toLink(r) : null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stmts.clear();
    this.db.close();
  }
}
