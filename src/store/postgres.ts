/**
 * The Store for several replicas: PostgreSQL through a `pg` Pool. Timestamps are timestamptz (returned as
 * ISO strings), JSON is jsonb, tweet ids are text. Writes are idempotent (ON CONFLICT), so two replicas
 * polling the same stream store each tweet once. `schema` puts every table in that schema (created if
 * missing) via the connections' search_path: tests use a fresh one per run.
 */
import { inTransaction } from './pg-transaction';
import { Pool, type PoolClient } from 'pg';
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
  clean,
  mentionPredictionId,
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
import { SCHEMA_MIGRATIONS_DDL, migrationLockName, migrationSql, pending } from './migrations';
import { FencedOutError, checkFence, fencedView, type Fence } from './fence';
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

export interface PostgresStoreOptions {
  /** Keep every table in this schema (a plain identifier: lower-case letters, digits, _), created if missing. */
  schema?: string;
  /** Pool size (default 10). */
  maxConnections?: number;
  /** How long to wait for a connection before failing (ms, default 10 s). */
  connectionTimeoutMs?: number;
  /** Errors of idle pooled connections (the server restarted…): the pool drops them and reconnects. */
  onIdleError?: (err: Error) => void;
  /** PRIVACY_USER_ID_SECRET: the key voters' ids are hashed with; unset: one generated and kept in the database. */
  voterKey?: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** host:port/database of a URL, never its password: for error messages. */
export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  } catch {
    return 'an unparsable URL';
  }
}

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());
const isoOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : iso(v));
const toPrediction = (r: Record<string, unknown>): StoredPrediction => ({
  id: r.id as string,
  kind: r.kind as StoredPrediction['kind'],
  text: r.text as string,
  label: r.label as Label,
  probabilities: r.probabilities as Record<Label, number>,
  modelVersion: r.model_version as string,
  createdAt: iso(r.created_at),
});

const MENTION_COLUMNS = `m.id, m.stream, m.author_id, m.author_handle, m.created_at, m.text, m.lang, m.metrics,
  m.human_label, m.language, p.label, p.probabilities, p.model_version`;

export function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Store {
  if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema)) {
    throw new Error(
      `PostgreSQL schema name must be a plain identifier (lower-case letters, digits, _); got ${opts.schema}`,
    );
  }
  const pool = new Pool({
    connectionString: url,
    max: opts.maxConnections ?? 10,
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 10_000,
    ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
  });
  pool.on(
    'error',
    opts.onIdleError ??
      ((err) => process.emitWarning(`idle PostgreSQL connection failed (the pool reconnects): ${err.message}`)),
  );
  return new PostgresStore(pool, url, opts.schema, checkConfiguredKey(opts.voterKey));
}

class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private closed = false;

  private key: Promise<VoterKey> | undefined;
  /** Set on a view bound to one transaction's connection (a fenced write, see `fenced`): every query runs there. */
  private client?: PoolClient;

  constructor(
    private readonly pool: Pool,
    private readonly url: string,
    private readonly schema: string | undefined,
    private readonly configuredKey: Buffer | undefined,
  ) {}

  private async query<R extends object = Record<string, unknown>>(sql: string, params: unknown[] = []) {
    if (this.closed) throw closedError('PostgreSQL');
    if (this.client) return this.client.query<R>(sql, params);
    return this.pool.query<R>(sql, params);
  }

  private async transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw closedError('PostgreSQL');
    if (this.client) return fn(this.client); // already inside a fenced write's transaction
    return inTransaction(this.pool, fn);
  }

  async migrate(): Promise<void> {
    try {
      await this.transaction(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [migrationLockName(this.schema)]);
        if (this.schema) await c.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
        await c.query(SCHEMA_MIGRATIONS_DDL.postgres);
        const { rows } = await c.query<{ version: number }>('SELECT version FROM schema_migrations');
        for (const m of pending(rows.map((r) => r.version))) {
          await c.query(migrationSql(m, 'postgres'));
          await c.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        }
      });
      await this.voterKey(); // the first process records the key's fingerprint
      while ((await this.hashLegacyVoters(500)) > 0);
    } catch (err) {
      throw new Error(`cannot migrate the PostgreSQL database at ${describePostgresUrl(this.url)}: ${reason(err)}`, {
        cause: err,
      });
    }
  }

  async saveMentions(mentions: ScoredMention[]): Promise<number> {
    if (!Array.isArray(mentions)) throw new StoreInputError('saveMentions expects an array of mentions');
    const storedAt = nowIso();
    const rows = mentions.map((m) => mentionRow(m, storedAt)); // all checked before anything is written
    if (rows.length === 0) return 0;
    const col = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((r) => r[k]);
    return this.transaction(async (c) => {
      // One statement per table whatever the batch size: arrays unnested server-side.
      const inserted = await c.query<{ id: string; prediction_id: string }>(
        `INSERT INTO mentions (id, stream, author_id, author_handle, created_at, text, lang, metrics, human_label,
           prediction_id, language, stored_at)
         SELECT u.*, $12::timestamptz FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
           $5::timestamptz[], $6::text[], $7::text[], $8::jsonb[], $9::text[], $10::text[], $11::text[]) AS u
         ON CONFLICT (id) DO NOTHING RETURNING id, prediction_id`,
        [
          col('id'),
          col('stream'),
          col('authorId'),
          col('authorHandle'),
          col('createdAt'),
          col('text'),
          col('lang'),
          col('metrics'),
          col('humanLabel'),
          rows.map((r) => r.prediction?.id ?? null),
          col('language'),
          storedAt,
        ],
      );
      if (inserted.rowCount === 0) return 0;
      const fresh = new Set(inserted.rows.map((r) => r.prediction_id));
      const seen = new Set<string>();
      const predictions = rows
        .map((r) => r.prediction)
        .filter((p) => p !== null)
        .filter((p) => fresh.has(p.id) && !seen.has(p.id) && seen.add(p.id));
      if (predictions.length === 0) return inserted.rowCount ?? 0;
      const pcol = <K extends keyof (typeof predictions)[number]>(k: K) => predictions.map((p) => p[k]);
      await c.query(
        `INSERT INTO predictions (id, kind, text, label, probabilities, model_version, created_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[],
           $7::timestamptz[])
         ON CONFLICT (id) DO NOTHING`,
        [
          pcol('id'),
          pcol('kind'),
          pcol('text'),
          pcol('label'),
          pcol('probabilities'),
          pcol('modelVersion'),
          pcol('createdAt'),
        ],
      );
      return inserted.rowCount ?? 0;
    });
  }

  async countMentions(stream?: string): Promise<number> {
    const { rows } =
      stream === undefined
        ? await this.query<{ n: string }>('SELECT count(*) AS n FROM mentions')
        : await this.query<{ n: string }>('SELECT count(*) AS n FROM mentions WHERE stream = $1', [stream]);
    return Number(rows[0].n);
  }

  async mentionsBetween(stream: string, fromIso: string, toIsoArg: string): Promise<ScoredMention[]> {
    const from = toIso(fromIso, 'mentionsBetween: from');
    const to = toIso(toIsoArg, 'mentionsBetween: to');
    const { rows } = await this.query(
      `SELECT ${MENTION_COLUMNS} FROM mentions m LEFT JOIN predictions p ON p.id = m.prediction_id
       WHERE m.stream = $1 AND m.created_at >= $2 AND m.created_at < $3
       ORDER BY m.created_at, length(m.id), m.id`,
      [stream, from, to],
    );
    return rows.map((r) => toScoredMention({ ...(r as object as MentionRead), created_at: iso(r.created_at) }));
  }

  async getCheckpoint(stream: string): Promise<string | null> {
    const { rows } = await this.query<{ checkpoint: string }>('SELECT checkpoint FROM checkpoints WHERE stream = $1', [
      stream,
    ]);
    return rows[0]?.checkpoint ?? null;
  }

  async setCheckpoint(stream: string, checkpoint: string): Promise<void> {
    if (typeof stream !== 'string' || stream === '') throw new StoreInputError('checkpoint: stream must be non-empty');
    if (typeof checkpoint !== 'string') throw new StoreInputError('checkpoint: value must be a string');
    await this.query(
      `INSERT INTO checkpoints (stream, checkpoint, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (stream) DO UPDATE SET checkpoint = excluded.checkpoint, updated_at = excluded.updated_at`,
      [stream, checkpoint],
    );
  }

  async savePredictions(ps: StoredPrediction[]): Promise<void> {
    if (ps.length === 0) return;
    const rows = ps.map(predictionRow);
    // One statement whatever the batch size: columns as arrays, unnested by the server.
    await this.query(
      `INSERT INTO predictions (id, kind, text, label, probabilities, model_version, created_at)
       SELECT id, kind, text, label, probabilities::jsonb, model_version, created_at::timestamptz
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
         AS t(id, kind, text, label, probabilities, model_version, created_at)
       ON CONFLICT (id) DO NOTHING`,
      [
        rows.map((r) => r.id),
        rows.map((r) => r.kind),
        rows.map((r) => r.text),
        rows.map((r) => r.label),
        rows.map((r) => r.probabilities),
        rows.map((r) => r.modelVersion),
        rows.map((r) => r.createdAt),
      ],
    );
  }

  async getPrediction(id: string): Promise<StoredPrediction | null> {
    const { rows } = await this.query(
      'SELECT id, kind, text, label, probabilities, model_version, created_at FROM predictions WHERE id = $1',
      [id],
    );
    return rows[0] ? toPrediction(rows[0]) : null;
  }

  async recordVote(v: Vote): Promise<void> {
    const r = voteRow(v);
    await this.query(
      `INSERT INTO feedback (prediction_id, user_id, correct, true_label, source, voted_at)
       VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (prediction_id, user_id) DO UPDATE SET correct = excluded.correct,
         true_label = excluded.true_label, source = excluded.source, voted_at = excluded.voted_at`,
      [r.predictionId, r.userId, r.correct, r.trueLabel, r.source],
    );
  }

  async retractVote(predictionId: string, userId: string): Promise<boolean> {
    const res = await this.query('DELETE FROM feedback WHERE prediction_id = $1 AND user_id = $2', [
      predictionId,
      userId,
    ]);
    return (res.rowCount ?? 0) > 0;
  }

  async accuracyByModel(): Promise<AccuracyRow[]> {
    const { rows } = await this.query<{ model_version: string; votes: string; correct: string }>(
      `SELECT p.model_version, count(*) AS votes, count(*) FILTER (WHERE f.correct) AS correct
       FROM feedback f JOIN predictions p ON p.id = f.prediction_id
       GROUP BY p.model_version ORDER BY p.model_version COLLATE "C"`,
    );
    return rows.map((r) => {
      const votes = Number(r.votes);
      const correct = Number(r.correct);
      return { modelVersion: r.model_version, votes, correct, accuracy: correct / votes };
    });
  }

  async feedbackExamples(): Promise<Array<{ text: string; label: Label }>> {
    const { rows } = await this.query<{
      prediction_id: string;
      text: string;
      label: string;
      correct: boolean;
      true_label: string | null;
    }>(
      `SELECT f.prediction_id, p.text, p.label, f.correct, f.true_label
       FROM feedback f JOIN predictions p ON p.id = f.prediction_id
       ORDER BY p.created_at, f.prediction_id COLLATE "C"`,
    );
    return examplesFromVotes(rows);
  }

  async judgments(q?: JudgmentQuery): Promise<Judgment[]> {
    const { since, createdSince, kinds, limit } = judgmentArgs(q);
    const { rows } = await this.query(
      `WITH judged AS (
         SELECT f.prediction_id AS id, max(f.voted_at) AS last_voted_at
         FROM feedback f JOIN predictions p ON p.id = f.prediction_id
         WHERE p.kind = ANY($1::text[]) AND p.created_at >= $2
         GROUP BY f.prediction_id HAVING max(f.voted_at) >= $3
         ORDER BY last_voted_at DESC, f.prediction_id COLLATE "C" LIMIT $4)
       SELECT p.id, p.kind, p.text, p.label, p.probabilities, p.model_version, p.created_at,
         f.correct, f.true_label, f.voted_at, f.source
       FROM judged j JOIN predictions p ON p.id = j.id JOIN feedback f ON f.prediction_id = j.id
       ORDER BY j.last_voted_at, j.id COLLATE "C", f.voted_at, f.user_id COLLATE "C"`,
      [kinds, createdSince, since, limit],
    );
    return groupJudgments(
      rows.map((r) => ({
        prediction: toPrediction(r),
        vote: {
          correct: r.correct as boolean,
          ...(r.true_label === null ? {} : { trueLabel: r.true_label as Label }),
          votedAt: iso(r.voted_at),
          ...(r.source === null ? {} : { source: r.source as string }),
        },
      })),
    );
  }

  async countVotesSince(sinceIso: string): Promise<number> {
    const since = toIso(sinceIso, 'countVotesSince: sinceIso');
    const { rows } = await this.query<{ n: string }>('SELECT count(*) AS n FROM feedback WHERE voted_at >= $1', [
      since,
    ]);
    return Number(rows[0].n);
  }

  async alertVotes(alertIds: string[]): Promise<AlertVoteCount[]> {
    const { rows } = await this.query<{ alert_id: string; real_alarm: string; false_alarm: string }>(
      `SELECT substr(prediction_id, 7) AS alert_id, count(*) FILTER (WHERE correct) AS real_alarm,
         count(*) FILTER (WHERE NOT correct) AS false_alarm
       FROM feedback WHERE prediction_id = ANY($1::text[])
       GROUP BY prediction_id ORDER BY prediction_id COLLATE "C"`,
      [alertIdList(alertIds).map((id) => `alert:${id}`)],
    );
    return rows.map((r) => ({ alertId: r.alert_id, real: Number(r.real_alarm), falseAlarm: Number(r.false_alarm) }));
  }

  async saveShadowPredictions(ps: ShadowPrediction[]): Promise<void> {
    const rows = ps.map(shadowRow); // all checked before anything is written
    if (rows.length === 0) return;
    await this.query(
      `INSERT INTO shadow_predictions (prediction_id, model_version, label, probabilities, created_at)
       SELECT prediction_id, model_version, label, probabilities::jsonb, created_at::timestamptz
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
         AS t(prediction_id, model_version, label, probabilities, created_at)
       ON CONFLICT (prediction_id, model_version) DO NOTHING`,
      [
        rows.map((r) => r.predictionId),
        rows.map((r) => r.modelVersion),
        rows.map((r) => r.label),
        rows.map((r) => r.probabilities),
        rows.map((r) => r.createdAt),
      ],
    );
  }

  async shadowPairs(modelVersion: string, opts: { sinceIso?: string; limit?: number } = {}): Promise<ShadowPair[]> {
    const { since, limit } = shadowPairArgs(modelVersion, opts);
    const { rows } = await this.query(
      `SELECT p.id, p.kind, p.text, p.label, p.probabilities, p.model_version, p.created_at,
         s.label AS s_label, s.probabilities AS s_probabilities, s.created_at AS s_created_at
       FROM shadow_predictions s JOIN predictions p ON p.id = s.prediction_id
       WHERE s.model_version = $1 AND s.created_at >= $2
       ORDER BY s.created_at DESC, s.prediction_id COLLATE "C" DESC LIMIT $3`,
      [modelVersion, since, limit],
    );
    return rows.reverse().map((r) => ({
      champion: toPrediction(r),
      challenger: {
        predictionId: r.id as string,
        modelVersion,
        label: r.s_label as Label,
        probabilities: r.s_probabilities as Record<Label, number>,
        createdAt: iso(r.s_created_at),
      },
    }));
  }

  async saveAlert(a: AlertRecord): Promise<void> {
    const r = alertRow(a);
    await this.query(
      `INSERT INTO alerts (id, stream, state, opened_at, updated_at, resolved_at, data, stored_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (id) DO UPDATE SET stream = excluded.stream, state = excluded.state,
         opened_at = excluded.opened_at, updated_at = excluded.updated_at, resolved_at = excluded.resolved_at,
         data = excluded.data, stored_at = excluded.stored_at`,
      [r.id, r.stream, r.state, r.openedAt, r.updatedAt, r.resolvedAt, r.data, nowIso()],
    );
  }

  async openAlert(stream: string): Promise<AlertRecord | null> {
    const { rows } = await this.query(
      `SELECT * FROM alerts WHERE stream = $1 AND state = 'open' ORDER BY opened_at DESC, id DESC LIMIT 1`,
      [stream],
    );
    return rows[0] ? this.alert(rows[0]) : null;
  }

  async listAlerts(stream?: string): Promise<AlertRecord[]> {
    const { rows } =
      stream === undefined
        ? await this.query('SELECT * FROM alerts ORDER BY opened_at DESC, id DESC')
        : await this.query('SELECT * FROM alerts WHERE stream = $1 ORDER BY opened_at DESC, id DESC', [stream]);
    return rows.map((r) => this.alert(r));
  }

  private alert(r: Record<string, unknown>): AlertRecord {
    return toAlert({
      ...(r as object as AlertRead),
      opened_at: iso(r.opened_at),
      updated_at: iso(r.updated_at),
      resolved_at: isoOrNull(r.resolved_at),
    });
  }

  async linkMessage(link: MessageLink): Promise<void> {
    const r = linkRow(link);
    await this.query(
      `INSERT INTO message_links (platform, channel, message_id, prediction_id, alert_id, created_at)
       VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (platform, channel, message_id) DO UPDATE SET prediction_id = excluded.prediction_id,
         alert_id = excluded.alert_id`,
      [r.platform, r.channel, r.messageId, r.predictionId, r.alertId],
    );
  }

  async findLink(platform: string, channel: string, messageId: string): Promise<MessageLink | null> {
    const { rows } = await this.query<Parameters<typeof toLink>[0]>(
      `SELECT platform, channel, message_id, prediction_id, alert_id FROM message_links
       WHERE platform = $1 AND channel = $2 AND message_id = $3`,
      [platform, channel, messageId],
    );
    return rows[0] ? toLink(rows[0]) : null;
  }

  voterKey(): Promise<VoterKey> {
    this.key ??= this.resolveVoterKey().catch((err: unknown) => {
      this.key = undefined; // try again at the next vote
      throw err;
    });
    return this.key;
  }

  private async resolveVoterKey(): Promise<VoterKey> {
    // Several replicas may start at once: the first insert wins and every replica reads the same values.
    // (A replica whose insert waited for another's commit does not see that row in the same statement's
    // snapshot: it reads it again in a new one.)
    const keep = async (name: string, value: string): Promise<string> => {
      const first = await this.query<{ value: string }>(
        `WITH ins AS (INSERT INTO privacy_keys (name, value, created_at) VALUES ($1, $2, now())
           ON CONFLICT (name) DO NOTHING RETURNING value)
         SELECT value FROM ins UNION ALL SELECT value FROM privacy_keys WHERE name = $1 LIMIT 1`,
        [name, value],
      );
      if (first.rows[0]) return first.rows[0].value;
      const again = await this.query<{ value: string }>('SELECT value FROM privacy_keys WHERE name = $1', [name]);
      return again.rows[0].value;
    };
    const key = this.configuredKey ?? Buffer.from(await keep('voter_key', generateVoterKey()), 'utf8');
    const fingerprint = voterKeyFingerprint(key);
    return {
      key,
      source: this.configuredKey ? 'configured' : 'generated',
      matchesStored: (await keep('voter_key_fingerprint', fingerprint)) === fingerprint,
    };
  }

  async hashLegacyVoters(limit = 500): Promise<number> {
    const { key } = await this.voterKey();
    return this.transaction(async (c) => {
      const { rows } = await c.query<{ prediction_id: string; user_id: string; source: string | null }>(
        `SELECT prediction_id, user_id, source FROM feedback WHERE user_id NOT LIKE 'h1:%'
         LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [Math.max(1, Math.floor(limit))],
      );
      if (rows.length === 0) return 0;
      // A hashed vote already there is the same voter's newer one (cast after the upgrade): it wins.
      await c.query(
        `WITH legacy AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS t(prediction_id, user_id, hashed)),
           copied AS (INSERT INTO feedback (prediction_id, user_id, correct, true_label, source, voted_at)
             SELECT f.prediction_id, l.hashed, f.correct, f.true_label, f.source, f.voted_at
             FROM feedback f JOIN legacy l ON l.prediction_id = f.prediction_id AND l.user_id = f.user_id
             ON CONFLICT (prediction_id, user_id) DO NOTHING)
         DELETE FROM feedback f USING legacy l WHERE f.prediction_id = l.prediction_id AND f.user_id = l.user_id`,
        [
          rows.map((r) => r.prediction_id),
          rows.map((r) => r.user_id),
          rows.map((r) => hashVoterId(key, legacyVoterId(r.source, r.user_id))),
        ],
      );
      return rows.length;
    });
  }

  async prune(kind: PruneKind, beforeIso: string, limit: number): Promise<number> {
    const { before } = pruneArgs(kind, beforeIso, limit);
    // One statement per batch (one short transaction). FOR UPDATE SKIP LOCKED: a replica pruning at the
    // same time takes other rows instead of waiting for these.
    const sql: Record<PruneKind, string> = {
      prediction_texts: `UPDATE predictions SET text = '' WHERE id IN (SELECT id FROM predictions
          WHERE kind <> 'mention' AND text <> '' AND created_at < $1 ORDER BY created_at LIMIT $2
          FOR UPDATE SKIP LOCKED)`,
      predictions: `WITH doomed AS (SELECT id FROM predictions WHERE kind IN ('api', 'command') AND created_at < $1
            ORDER BY kind, created_at LIMIT $2 FOR UPDATE SKIP LOCKED),
          votes AS (DELETE FROM feedback WHERE prediction_id IN (SELECT id FROM doomed)),
          links AS (DELETE FROM message_links WHERE prediction_id IN (SELECT id FROM doomed)),
          shadow AS (DELETE FROM shadow_predictions WHERE prediction_id IN (SELECT id FROM doomed))
        DELETE FROM predictions WHERE id IN (SELECT id FROM doomed)`,
      mentions: `WITH doomed AS (SELECT id, prediction_id FROM mentions WHERE stored_at < $1
            ORDER BY stored_at LIMIT $2 FOR UPDATE SKIP LOCKED),
          votes AS (DELETE FROM feedback WHERE prediction_id IN (SELECT prediction_id FROM doomed)),
          links AS (DELETE FROM message_links WHERE prediction_id IN (SELECT prediction_id FROM doomed)),
          shadow AS (DELETE FROM shadow_predictions WHERE prediction_id IN (SELECT prediction_id FROM doomed)),
          predictions AS (DELETE FROM predictions WHERE id IN (SELECT prediction_id FROM doomed))
        DELETE FROM mentions WHERE id IN (SELECT id FROM doomed)`,
      alerts: `WITH doomed AS (SELECT id FROM alerts WHERE state = 'resolved'
            AND COALESCE(stored_at, resolved_at) < $1 ORDER BY COALESCE(stored_at, resolved_at) LIMIT $2
            FOR UPDATE SKIP LOCKED),
          votes AS (DELETE FROM feedback WHERE prediction_id IN (SELECT 'alert:' || id FROM doomed)),
          links AS (DELETE FROM message_links WHERE alert_id IN (SELECT id FROM doomed))
        DELETE FROM alerts WHERE id IN (SELECT id FROM doomed)`,
      orphan_votes: `DELETE FROM feedback f USING (SELECT prediction_id, user_id FROM feedback x WHERE voted_at < $1 AND
            CASE WHEN x.prediction_id LIKE 'alert:%'
              THEN NOT EXISTS (SELECT 1 FROM alerts a WHERE a.id = substr(x.prediction_id, 7))
              ELSE NOT EXISTS (SELECT 1 FROM predictions p WHERE p.id = x.prediction_id) END
            LIMIT $2 FOR UPDATE SKIP LOCKED) d
        WHERE f.prediction_id = d.prediction_id AND f.user_id = d.user_id`,
    };
    const res = await this.query(sql[kind], [before, limit]);
    return res.rowCount ?? 0;
  }

  async pruneCheckpoints(prefixArg: string, beforeIso: string, limitArg: number): Promise<number> {
    const { prefix, before, limit } = pruneCheckpointArgs(prefixArg, beforeIso, limitArg);
    const res = await this.query(
      `DELETE FROM checkpoints WHERE stream IN (SELECT stream FROM checkpoints
         WHERE left(stream, length($1)) = $1 AND updated_at < $2 LIMIT $3 FOR UPDATE SKIP LOCKED)`,
      [prefix, before, limit],
    );
    return res.rowCount ?? 0;
  }

  async eraseVotes(voterIds: string[]): Promise<number> {
    const ids = voterIdList(voterIds);
    if (ids.length === 0) return 0;
    return (await this.query('DELETE FROM feedback WHERE user_id = ANY($1::text[])', [ids])).rowCount ?? 0;
  }

  async eraseMention(tweetId: string): Promise<MentionErasure> {
    if (typeof tweetId !== 'string' || tweetId === '') throw new StoreInputError('eraseMention: the tweet id is empty');
    const { rows } = await this.query<{ mentions: string; predictions: string; votes: string; links: string }>(
      `WITH m AS (DELETE FROM mentions WHERE id = $1 RETURNING prediction_id),
         ids AS (SELECT $2::text AS id UNION SELECT prediction_id FROM m),
         votes AS (DELETE FROM feedback WHERE prediction_id IN (SELECT id FROM ids) RETURNING 1),
         links AS (DELETE FROM message_links WHERE prediction_id IN (SELECT id FROM ids) RETURNING 1),
         shadow AS (DELETE FROM shadow_predictions WHERE prediction_id IN (SELECT id FROM ids)),
         predictions AS (DELETE FROM predictions WHERE id IN (SELECT id FROM ids) RETURNING 1)
       SELECT (SELECT count(*) FROM m) AS mentions, (SELECT count(*) FROM predictions) AS predictions,
         (SELECT count(*) FROM votes) AS votes, (SELECT count(*) FROM links) AS links`,
      [tweetId, mentionPredictionId(tweetId)],
    );
    const r = rows[0];
    return {
      mentions: Number(r.mentions),
      predictions: Number(r.predictions),
      votes: Number(r.votes),
      links: Number(r.links),
    };
  }

  async mentionIdsByAuthor(authorId: string): Promise<string[]> {
    if (typeof authorId !== 'string' || authorId === '') throw new StoreInputError('the author id is empty');
    const { rows } = await this.query<{ id: string }>(
      'SELECT id FROM mentions WHERE author_id = $1 ORDER BY created_at',
      [authorId],
    );
    return rows.map((r) => r.id);
  }

  async rewriteJson(table: 'alerts' | 'checkpoints', edit: (value: unknown, key: string) => JsonEdit): Promise<number> {
    // Values are compared as text: the same text as read is the same value (jsonb prints canonically).
    const sql =
      table === 'alerts'
        ? {
            all: 'SELECT id AS k, data::text AS v FROM alerts',
            one: 'SELECT data::text AS v FROM alerts WHERE id = $1',
            update: 'UPDATE alerts SET data = $1::jsonb WHERE id = $2 AND data::text = $3',
            remove: '',
          }
        : {
            all: 'SELECT stream AS k, checkpoint AS v FROM checkpoints',
            one: 'SELECT checkpoint AS v FROM checkpoints WHERE stream = $1',
            update: 'UPDATE checkpoints SET checkpoint = $1 WHERE stream = $2 AND checkpoint = $3',
            remove: 'DELETE FROM checkpoints WHERE stream = $1 AND checkpoint = $2',
          };
    let changed = 0;
    const { rows } = await this.query<{ k: string; v: string }>(sql.all);
    for (const row of rows) {
      let raw: string | undefined = row.v;
      for (let attempt = 0; raw !== undefined && attempt < REWRITE_ATTEMPTS; attempt++) {
        const value = table === 'alerts' ? JSON.parse(raw) : parseJsonState(raw);
        if (value === undefined) break;
        const e = checkJsonEdit(table, row.k, edit(value, row.k));
        if (e.action === 'keep') break;
        const res =
          e.action === 'delete'
            ? await this.query(sql.remove, [row.k, raw])
            : await this.query(sql.update, [clean(JSON.stringify(e.value)), row.k, raw]);
        if ((res.rowCount ?? 0) > 0) {
          changed++;
          break;
        }
        // Written meanwhile by another replica: read it again and edit that.
        raw = (await this.query<{ v: string }>(sql.one, [row.k])).rows[0]?.v;
      }
    }
    return changed;
  }

  async claim(keyArg: string, ttlArg: number): Promise<boolean> {
    const { key, ttlMs } = claimArgs(keyArg, ttlArg);
    // One statement, on the database's clock: a new key is inserted; an existing one is taken over only once
    // its claim has expired. Two replicas claiming at once: the second waits for the first's row and then
    // finds it unexpired, so exactly one gets true.
    const res = await this.query(
      `INSERT INTO claims (key, claimed_at, expires_at) VALUES ($1, now(), now() + $2 * interval '1 millisecond')
       ON CONFLICT (key) DO UPDATE SET claimed_at = excluded.claimed_at, expires_at = excluded.expires_at
       WHERE claims.expires_at <= now()
       RETURNING key`,
      [key, ttlMs],
    );
    return (res.rowCount ?? 0) > 0;
  }

  async pruneClaims(limitArg: number): Promise<number> {
    const limit = claimLimit(limitArg);
    const res = await this.query(
      `DELETE FROM claims WHERE key IN (SELECT key FROM claims WHERE expires_at <= now()
         ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)`,
      [limit],
    );
    return res.rowCount ?? 0;
  }

  /**
   * Each write of the view is one transaction: the lease row is checked (and share-locked, so that a replica
   * taking the lease over waits for this write to commit) before the write runs on the same connection. A
   * transaction left idle longer than `fence.maxIdleMs` (its process paused) is ended by the server, which
   * frees the lease row: a paused leader never holds a takeover back for long, and its write is rolled back.
   */
  fenced(fenceArg: Fence): Store {
    const fence = checkFence(fenceArg);
    const idleMs = Math.max(100, Math.round(fence.maxIdleMs ?? 5000));
    return fencedView(this, fence, (method, args) =>
      this.transaction(async (c) => {
        await c.query(`SET LOCAL idle_in_transaction_session_timeout = ${idleMs}`);
        const held = await c.query(
          `SELECT 1 FROM leases WHERE name = $1 AND token = $2 AND expires_at > clock_timestamp() FOR SHARE`,
          [fence.name, fence.token],
        );
        if (held.rowCount === 0) throw new FencedOutError(fence, method);
        const bound = Object.create(this) as PostgresStore;
        bound.client = c;
        const write = (bound as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method];
        return write.apply(bound, args);
      }),
    );
  }

  async close(): Promise<void> {
    if (this.client) return; // a bound view owns nothing
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
