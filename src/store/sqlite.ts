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
  clean,
  closedError,
  mentionPredictionId,
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
  pruneArgs,
  pruneCheckpointArgs,
  voterIdList,
  parseJsonState,
  checkJsonEdit,
  REWRITE_ATTEMPTS,
  claimArgs,
  claimLimit,
  judgmentArgs,
  groupJudgments,
  shadowRow,
  shadowPairArgs,
  alertIdList,
} from './common';
import { SCHEMA_MIGRATIONS_DDL, migrationSql, pending } from './migrations';
import { checkFence, type Fence } from './fence';
import type {
  AccuracyRow,
  AlertVoteCount,
  AlertRecord,
  JsonEdit,
  Judgment,
  JudgmentQuery,
  MentionErasure,
  MessageLink,
  PruneKind,
  ShadowPair,
  ShadowPrediction,
  Store,
  StoredPrediction,
  Vote,
} from './types';
import {
  checkConfiguredKey,
  generateVoterKey,
  hashVoterId,
  legacyVoterId,
  voterKeyFingerprint,
  type VoterKey,
} from './voter-ids';

export interface SqliteStoreOptions {
  /** How long a write waits for another connection's lock before failing (ms). */
  busyTimeoutMs?: number;
  /** PRIVACY_USER_ID_SECRET: the key voters' ids are hashed with; unset: one generated and kept in the file. */
  voterKey?: string;
}

type Row = Record<string, unknown>;

const MENTION_COLUMNS = `m.id, m.stream, m.author_id, m.author_handle, m.created_at, m.text, m.lang, m.metrics,
  m.human_label, m.language, p.label, p.probabilities, p.model_version`;

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
  return new SqliteStore(db, path, checkConfiguredKey(opts.voterKey));
}

/** A JSON array parameter for `IN (SELECT value FROM json_each(?))`. */
const list = (values: string[]) => JSON.stringify(values);

class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private closed = false;
  private readonly stmts = new Map<string, Database.Statement>();

  private key: VoterKey | undefined;

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    private readonly configuredKey: Buffer | undefined,
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
      await this.voterKey(); // the first process records the key's fingerprint
      while ((await this.hashLegacyVoters(500)) > 0);
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
         prediction_id, stored_at, language)
       VALUES (@id, @stream, @authorId, @authorHandle, @createdAt, @text, @lang, @metrics, @humanLabel,
         @predictionId, @storedAt, @language) ON CONFLICT (id) DO NOTHING`,
    );
    const save = this.db.transaction(() => {
      let inserted = 0;
      for (const r of rows) {
        const { prediction, ...mention } = r;
        const result = insertMention.run({ ...mention, predictionId: prediction?.id ?? null, storedAt });
        if (result.changes > 0) {
          inserted++;
          if (prediction) insertPrediction.run(prediction);
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
      `SELECT ${MENTION_COLUMNS} FROM mentions m LEFT JOIN predictions p ON p.id = m.prediction_id
       WHERE m.stream = ? AND m.created_at >= ? AND m.created_at < ?
       ORDER BY m.created_at, length(m.id), m.id`,
    ).all(stream, from, to) as Row[];
    return rows.map((r) =>
      toScoredMention({
        ...(r as object as MentionRead),
        metrics: r.metrics === null ? null : JSON.parse(r.metrics as string),
        probabilities: r.probabilities === null ? null : JSON.parse(r.probabilities as string),
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
    return r ? this.prediction(r) : null;
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

  async judgments(q?: JudgmentQuery): Promise<Judgment[]> {
    const { since, createdSince, kinds, limit } = judgmentArgs(q);
    const rows = this.stmt(
      `WITH judged AS (
         SELECT f.prediction_id AS id, max(f.voted_at) AS last_voted_at
         FROM feedback f JOIN predictions p ON p.id = f.prediction_id
         WHERE p.kind IN (SELECT value FROM json_each(?)) AND p.created_at >= ?
         GROUP BY f.prediction_id HAVING max(f.voted_at) >= ?
         ORDER BY last_voted_at DESC, f.prediction_id LIMIT ?)
       SELECT p.id, p.kind, p.text, p.label, p.probabilities, p.model_version, p.created_at,
         f.correct, f.true_label, f.voted_at, f.source
       FROM judged j JOIN predictions p ON p.id = j.id JOIN feedback f ON f.prediction_id = j.id
       ORDER BY j.last_voted_at, j.id, f.voted_at, f.user_id`,
    ).all(list(kinds), createdSince, since, limit ?? -1) as Row[];
    return groupJudgments(
      rows.map((r) => ({
        prediction: this.prediction(r),
        vote: {
          correct: r.correct === 1,
          ...(r.true_label === null ? {} : { trueLabel: r.true_label as Label }),
          votedAt: r.voted_at as string,
          ...(r.source === null ? {} : { source: r.source as string }),
        },
      })),
    );
  }

  async countVotesSince(sinceIso: string): Promise<number> {
    const since = toIso(sinceIso, 'countVotesSince: sinceIso');
    return (this.stmt('SELECT count(*) AS n FROM feedback WHERE voted_at >= ?').get(since) as { n: number }).n;
  }

  async alertVotes(alertIds: string[]): Promise<AlertVoteCount[]> {
    const rows = this.stmt(
      `SELECT substr(prediction_id, 7) AS alert_id, sum(correct) AS real_alarm, sum(1 - correct) AS false_alarm
       FROM feedback WHERE prediction_id IN (SELECT 'alert:' || value FROM json_each(?))
       GROUP BY prediction_id ORDER BY prediction_id`,
    ).all(list(alertIdList(alertIds))) as Array<{ alert_id: string; real_alarm: number; false_alarm: number }>;
    return rows.map((r) => ({ alertId: r.alert_id, real: r.real_alarm, falseAlarm: r.false_alarm }));
  }

  async saveShadowPredictions(ps: ShadowPrediction[]): Promise<void> {
    const rows = ps.map(shadowRow); // all checked before anything is written
    const insert = this.stmt(
      `INSERT INTO shadow_predictions (prediction_id, model_version, label, probabilities, created_at)
       VALUES (@predictionId, @modelVersion, @label, @probabilities, @createdAt)
       ON CONFLICT (prediction_id, model_version) DO NOTHING`,
    );
    this.db.transaction(() => {
      for (const r of rows) insert.run(r);
    })();
  }

  async shadowPairs(modelVersion: string, opts: { sinceIso?: string; limit?: number } = {}): Promise<ShadowPair[]> {
    const { since, limit } = shadowPairArgs(modelVersion, opts);
    const rows = this.stmt(
      `SELECT p.id, p.kind, p.text, p.label, p.probabilities, p.model_version, p.created_at,
         s.label AS s_label, s.probabilities AS s_probabilities, s.created_at AS s_created_at
       FROM shadow_predictions s JOIN predictions p ON p.id = s.prediction_id
       WHERE s.model_version = ? AND s.created_at >= ?
       ORDER BY s.created_at DESC, s.prediction_id DESC LIMIT ?`,
    ).all(modelVersion, since, limit ?? -1) as Row[];
    return rows.reverse().map((r) => ({
      champion: this.prediction(r),
      challenger: {
        predictionId: r.id as string,
        modelVersion,
        label: r.s_label as Label,
        probabilities: JSON.parse(r.s_probabilities as string),
        createdAt: r.s_created_at as string,
      },
    }));
  }

  private prediction(r: Row): StoredPrediction {
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

  async saveAlert(a: AlertRecord): Promise<void> {
    this.stmt(
      `INSERT INTO alerts (id, stream, state, opened_at, updated_at, resolved_at, data, stored_at)
       VALUES (@id, @stream, @state, @openedAt, @updatedAt, @resolvedAt, @data, @storedAt)
       ON CONFLICT (id) DO UPDATE SET stream = excluded.stream, state = excluded.state,
         opened_at = excluded.opened_at, updated_at = excluded.updated_at, resolved_at = excluded.resolved_at,
         data = excluded.data, stored_at = excluded.stored_at`,
    ).run({ ...alertRow(a), storedAt: nowIso() });
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

  async voterKey(): Promise<VoterKey> {
    if (this.key) return this.key;
    const resolve = this.db.transaction((): VoterKey => {
      const now = nowIso();
      const insert = this.stmt(
        'INSERT INTO privacy_keys (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING',
      );
      const read = (name: string) =>
        (this.stmt('SELECT value FROM privacy_keys WHERE name = ?').get(name) as { value: string }).value;
      let key = this.configuredKey;
      if (!key) {
        insert.run('voter_key', generateVoterKey(), now);
        key = Buffer.from(read('voter_key'), 'utf8');
      }
      const fingerprint = voterKeyFingerprint(key);
      insert.run('voter_key_fingerprint', fingerprint, now);
      return {
        key,
        source: this.configuredKey ? 'configured' : 'generated',
        matchesStored: read('voter_key_fingerprint') === fingerprint,
      };
    });
    this.key = resolve.immediate();
    return this.key;
  }

  async hashLegacyVoters(limit = 500): Promise<number> {
    const legacy = this.stmt(
      `SELECT prediction_id, user_id, source FROM feedback WHERE user_id NOT LIKE 'h1:%' LIMIT ?`,
    ).all(Math.max(1, Math.floor(limit))) as Array<{ prediction_id: string; user_id: string; source: string | null }>;
    if (legacy.length === 0) return 0;
    const { key } = await this.voterKey();
    const copy = this.stmt(
      `INSERT INTO feedback (prediction_id, user_id, correct, true_label, source, voted_at)
       SELECT prediction_id, ?, correct, true_label, source, voted_at FROM feedback
       WHERE prediction_id = ? AND user_id = ? ON CONFLICT (prediction_id, user_id) DO NOTHING`,
    );
    const remove = this.stmt('DELETE FROM feedback WHERE prediction_id = ? AND user_id = ?');
    // A hashed vote already there is the same voter's newer one (cast after the upgrade): it wins.
    this.db
      .transaction(() => {
        for (const r of legacy) {
          copy.run(hashVoterId(key, legacyVoterId(r.source, r.user_id)), r.prediction_id, r.user_id);
          remove.run(r.prediction_id, r.user_id);
        }
      })
      .immediate();
    return legacy.length;
  }

  async prune(kind: PruneKind, beforeIso: string, limit: number): Promise<number> {
    const { before } = pruneArgs(kind, beforeIso, limit);
    const ids = (sql: string, col = 'id') =>
      (this.stmt(sql).all(before, limit) as Array<Record<string, string>>).map((r) => r[col]);
    const cascade = (predictionIds: string[]) => {
      const l = list(predictionIds);
      this.stmt('DELETE FROM feedback WHERE prediction_id IN (SELECT value FROM json_each(?))').run(l);
      this.stmt('DELETE FROM message_links WHERE prediction_id IN (SELECT value FROM json_each(?))').run(l);
      this.stmt('DELETE FROM shadow_predictions WHERE prediction_id IN (SELECT value FROM json_each(?))').run(l);
    };
    const run = this.db.transaction((): number => {
      switch (kind) {
        case 'prediction_texts':
          return this.stmt(
            `UPDATE predictions SET text = '' WHERE id IN (SELECT id FROM predictions
               WHERE kind <> 'mention' AND text <> '' AND created_at < ? ORDER BY created_at LIMIT ?)`,
          ).run(before, limit).changes;
        case 'predictions': {
          const doomed = ids(
            `SELECT id FROM predictions WHERE kind IN ('api', 'command') AND created_at < ?
             ORDER BY kind, created_at LIMIT ?`,
          );
          if (doomed.length === 0) return 0;
          cascade(doomed);
          return this.stmt('DELETE FROM predictions WHERE id IN (SELECT value FROM json_each(?))').run(list(doomed))
            .changes;
        }
        case 'mentions': {
          const rows = this.stmt(
            'SELECT id, prediction_id FROM mentions WHERE stored_at < ? ORDER BY stored_at LIMIT ?',
          ).all(before, limit) as Array<{ id: string; prediction_id: string }>;
          if (rows.length === 0) return 0;
          const predictions = rows.map((r) => r.prediction_id);
          cascade(predictions);
          this.stmt('DELETE FROM predictions WHERE id IN (SELECT value FROM json_each(?))').run(list(predictions));
          return this.stmt('DELETE FROM mentions WHERE id IN (SELECT value FROM json_each(?))').run(
            list(rows.map((r) => r.id)),
          ).changes;
        }
        case 'alerts': {
          const doomed = ids(
            `SELECT id FROM alerts WHERE state = 'resolved' AND COALESCE(stored_at, resolved_at) < ?
               ORDER BY COALESCE(stored_at, resolved_at) LIMIT ?`,
          );
          if (doomed.length === 0) return 0;
          this.stmt(`DELETE FROM feedback WHERE prediction_id IN (SELECT 'alert:' || value FROM json_each(?))`).run(
            list(doomed),
          );
          this.stmt('DELETE FROM message_links WHERE alert_id IN (SELECT value FROM json_each(?))').run(list(doomed));
          return this.stmt('DELETE FROM alerts WHERE id IN (SELECT value FROM json_each(?))').run(list(doomed)).changes;
        }
        case 'orphan_votes':
          return this.stmt(
            `DELETE FROM feedback WHERE rowid IN (SELECT f.rowid FROM feedback f WHERE f.voted_at < ? AND
               CASE WHEN f.prediction_id LIKE 'alert:%'
                 THEN NOT EXISTS (SELECT 1 FROM alerts a WHERE a.id = substr(f.prediction_id, 7))
                 ELSE NOT EXISTS (SELECT 1 FROM predictions p WHERE p.id = f.prediction_id) END
             LIMIT ?)`,
          ).run(before, limit).changes;
      }
    });
    return run.immediate();
  }

  async pruneCheckpoints(prefixArg: string, beforeIso: string, limitArg: number): Promise<number> {
    const { prefix, before, limit } = pruneCheckpointArgs(prefixArg, beforeIso, limitArg);
    return this.stmt(
      `DELETE FROM checkpoints WHERE stream IN (SELECT stream FROM checkpoints
         WHERE substr(stream, 1, length(?)) = ? AND updated_at < ? LIMIT ?)`,
    ).run(prefix, prefix, before, limit).changes;
  }

  async eraseVotes(voterIds: string[]): Promise<number> {
    const ids = voterIdList(voterIds);
    if (ids.length === 0) return 0;
    return this.stmt('DELETE FROM feedback WHERE user_id IN (SELECT value FROM json_each(?))').run(list(ids)).changes;
  }

  async eraseMention(tweetId: string): Promise<MentionErasure> {
    if (typeof tweetId !== 'string' || tweetId === '') throw new StoreInputError('eraseMention: the tweet id is empty');
    const run = this.db.transaction((): MentionErasure => {
      const row = this.stmt('SELECT prediction_id FROM mentions WHERE id = ?').get(tweetId) as
        { prediction_id: string } | undefined;
      const predictionIds = list([...new Set([mentionPredictionId(tweetId), ...(row ? [row.prediction_id] : [])])]);
      const inList = 'IN (SELECT value FROM json_each(?))';
      this.stmt(`DELETE FROM shadow_predictions WHERE prediction_id ${inList}`).run(predictionIds);
      return {
        votes: this.stmt(`DELETE FROM feedback WHERE prediction_id ${inList}`).run(predictionIds).changes,
        links: this.stmt(`DELETE FROM message_links WHERE prediction_id ${inList}`).run(predictionIds).changes,
        predictions: this.stmt(`DELETE FROM predictions WHERE id ${inList}`).run(predictionIds).changes,
        mentions: this.stmt('DELETE FROM mentions WHERE id = ?').run(tweetId).changes,
      };
    });
    return run.immediate();
  }

  async mentionIdsByAuthor(authorId: string): Promise<string[]> {
    if (typeof authorId !== 'string' || authorId === '') throw new StoreInputError('the author id is empty');
    return (
      this.stmt('SELECT id FROM mentions WHERE author_id = ? ORDER BY created_at').all(authorId) as Array<{
        id: string;
      }>
    ).map((r) => r.id);
  }

  async rewriteJson(table: 'alerts' | 'checkpoints', edit: (value: unknown, key: string) => JsonEdit): Promise<number> {
    const sql =
      table === 'alerts'
        ? {
            all: 'SELECT id AS k, data AS v FROM alerts',
            one: 'SELECT data AS v FROM alerts WHERE id = ?',
            update: 'UPDATE alerts SET data = ? WHERE id = ? AND data = ?',
            remove: '',
          }
        : {
            all: 'SELECT stream AS k, checkpoint AS v FROM checkpoints',
            one: 'SELECT checkpoint AS v FROM checkpoints WHERE stream = ?',
            update: 'UPDATE checkpoints SET checkpoint = ? WHERE stream = ? AND checkpoint = ?',
            remove: 'DELETE FROM checkpoints WHERE stream = ? AND checkpoint = ?',
          };
    let changed = 0;
    for (const row of this.stmt(sql.all).all() as Array<{ k: string; v: string }>) {
      let raw: string | undefined = row.v;
      for (let attempt = 0; raw !== undefined && attempt < REWRITE_ATTEMPTS; attempt++) {
        const value = table === 'alerts' ? JSON.parse(raw) : parseJsonState(raw);
        if (value === undefined) break;
        const e = checkJsonEdit(table, row.k, edit(value, row.k));
        if (e.action === 'keep') break;
        const done =
          e.action === 'delete'
            ? this.stmt(sql.remove).run(row.k, raw).changes
            : this.stmt(sql.update).run(clean(JSON.stringify(e.value)), row.k, raw).changes;
        if (done > 0) {
          changed++;
          break;
        }
        // Written meanwhile by another process: read it again and edit that.
        raw = (this.stmt(sql.one).get(row.k) as { v: string } | undefined)?.v;
      }
    }
    return changed;
  }

  async claim(keyArg: string, ttlArg: number): Promise<boolean> {
    const { key, ttlMs } = claimArgs(keyArg, ttlArg);
    const now = Date.now();
    // One statement: a new key is inserted; an existing one is taken over only once its claim has expired.
    return (
      this.stmt(
        `INSERT INTO claims (key, claimed_at, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET claimed_at = excluded.claimed_at, expires_at = excluded.expires_at
         WHERE claims.expires_at <= excluded.claimed_at`,
      ).run(key, new Date(now).toISOString(), new Date(now + ttlMs).toISOString()).changes > 0
    );
  }

  async pruneClaims(limitArg: number): Promise<number> {
    const limit = claimLimit(limitArg);
    return this.stmt(
      `DELETE FROM claims WHERE key IN (SELECT key FROM claims WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
    ).run(nowIso(), limit).changes;
  }

  /** One process per file (src/store/sqlite-lock.ts): no lease to lose, so no write is ever fenced out. */
  fenced(fence: Fence): Store {
    checkFence(fence);
    return this;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stmts.clear();
    this.db.close();
  }
}
