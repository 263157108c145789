/**
 * The Store contract: ONE behavioural suite run against SQLite (a real file in a temp dir) and PostgreSQL
 * (the server on 127.0.0.1:5432, database sentinel_test — `.ci/run` creates it; TEST_DATABASE_URL
 * overrides). Each test gets its own empty database: a new file, or a new schema `t_<run>_<n>` on
 * PostgreSQL, all dropped at the end, so parallel workers and repeated runs never collide.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { UDHR } from '../helpers/languages';
import type { ScoredMention } from '../../src/mentions/types';
import type { Label } from '../../src/sentiment/types';
import { mentionPredictionId } from '../../src/store/common';
import { MIGRATIONS, migrationSql, SCHEMA_MIGRATIONS_DDL } from '../../src/store/migrations';
import { hashVoterId, legacyVoterId } from '../../src/store/voter-ids';
import { openStore, StoreConfigError } from '../../src/store/open';
import { openPostgresStore } from '../../src/store/postgres';
import { openSqliteStore } from '../../src/store/sqlite';
import type { AlertRecord, Store, StoredPrediction } from '../../src/store/types';

const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/sentinel_test';
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

/** A place a store lives (a file, a schema) that several store instances can open. */
interface Backend {
  name: 'sqlite' | 'postgres';
  /** A new, empty location. */
  location(): string;
  /** A store on that location, not yet migrated. */
  open(location: string, opts?: { voterKey?: string }): Store;
  /** Raw SQL on that location, for checks the port does not expose. */
  query(location: string, sql: string): Promise<Array<Record<string, unknown>>>;
  /** Raw SQL statements that write (ages set back in time, a database from an older version). */
  exec(location: string, sql: string): Promise<void>;
  /** How the dialect writes a timestamp literal. */
  time(iso: string): string;
  cleanup(): Promise<void>;
}

function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-store-'));
  let n = 0;
  return {
    name: 'sqlite',
    location: () => join(dir, `db-${++n}`, 'sentinel.db'), // a missing directory: the store creates it
    open: (path, opts) => openSqliteStore(path, opts),
    async query(path, sql) {
      const db = new Database(path, { readonly: true });
      try {
        return db.prepare(sql).all() as Array<Record<string, unknown>>;
      } finally {
        db.close();
      }
    },
    async exec(path, sql) {
      mkdirSync(dirname(path), { recursive: true });
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
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresBackend(): Backend {
  const schemas: string[] = [];
  let n = 0;
  const withClient = async <T>(fn: (c: Client) => Promise<T>): Promise<T> => {
    const c = new Client({ connectionString: PG_URL });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    name: 'postgres',
    location() {
      const schema = `t_${RUN}_${++n}`;
      schemas.push(schema);
      return schema;
    },
    open: (schema, opts) => openPostgresStore(PG_URL, { schema, ...opts }),
    query: (schema, sql) =>
      withClient(async (c) => {
        await c.query(`SET search_path TO ${schema}`);
        return (await c.query(sql)).rows;
      }),
    exec: (schema, sql) =>
      withClient(async (c) => {
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
        await c.query(`SET search_path TO ${schema}`);
        await c.query(sql);
      }),
    time: (iso) => `'${new Date(iso).toISOString()}'::timestamptz`,
    async cleanup() {
      if (schemas.length === 0) return;
      await withClient(async (c) => {
        for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Test data

const P = (neg: number, neu: number, pos: number): Record<Label, number> => ({
  negative: neg,
  neutral: neu,
  positive: pos,
});

function mention(id: string, over: Partial<ScoredMention> = {}): ScoredMention {
  return {
    id,
    stream: 'airparadis',
    createdAt: '2015-02-24T11:35:52.000Z',
    text: `tweet ${id}`,
    prediction: { label: 'negative', confidence: 0.7, probabilities: P(0.7, 0.2, 0.1), modelVersion: 'v1' },
    ...over,
  };
}

function prediction(id: string, over: Partial<StoredPrediction> = {}): StoredPrediction {
  return {
    id,
    kind: 'api',
    text: `text of ${id}`,
    label: 'positive',
    probabilities: P(0.1, 0.2, 0.7),
    modelVersion: 'v1',
    createdAt: '2026-01-02T03:04:05.678Z',
    ...over,
  };
}

function alert(id: string, over: Partial<AlertRecord> = {}): AlertRecord {
  return {
    id,
    stream: 'airparadis',
    state: 'open',
    openedAt: '2026-01-01T10:00:00.000Z',
    updatedAt: '2026-01-01T10:00:00.000Z',
    data: { negativeShare: 0.62, baseline: 0.3, mentions: ['1', '2'] },
    ...over,
  };
}

// ---------------------------------------------------------------------------------------------------

describe.each([['sqlite'], ['postgres']] as const)('Store contract: %s', (kind) => {
  let backend: Backend;
  const opened: Store[] = [];

  /** A migrated store on a new empty location. */
  async function fresh(): Promise<{ store: Store; location: string }> {
    const location = backend.location();
    const store = backend.open(location);
    opened.push(store);
    await store.migrate();
    return { store, location };
  }

  beforeAll(() => {
    backend = kind === 'sqlite' ? sqliteBackend() : postgresBackend();
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    await backend.cleanup();
  });

  test('reports its kind', async () => {
    const { store } = await fresh();
    expect(store.kind).toBe(kind);
  });

  describe('migrations', () => {
    test('are idempotent: migrating twice, and from a second instance, applies each version once', async () => {
      const { store, location } = await fresh();
      await store.migrate();
      const again = backend.open(location);
      opened.push(again);
      await again.migrate();
      const rows = await backend.query(location, 'SELECT version, name FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => Number(r.version))).toEqual(MIGRATIONS.map((m) => m.version));
      expect(rows.map((r) => r.name)).toEqual(MIGRATIONS.map((m) => m.name));
    });

    test('several instances starting together on an empty database apply them once, without errors', async () => {
      const location = backend.location();
      const stores = Array.from({ length: 4 }, () => backend.open(location));
      opened.push(...stores);
      await Promise.all(stores.map((s) => s.migrate()));
      const rows = await backend.query(location, 'SELECT version FROM schema_migrations');
      expect(rows).toHaveLength(MIGRATIONS.length);
      expect(await stores[0].countMentions()).toBe(0);
      // They also agree on the voter key generated at the first start.
      const keys = await Promise.all(stores.map((s) => s.voterKey()));
      expect(new Set(keys.map((k) => k.key.toString('base64'))).size).toBe(1);
      expect(keys.every((k) => k.matchesStored)).toBe(true);
    });

    test('versions are strictly increasing (a new migration is appended, never inserted)', () => {
      const versions = MIGRATIONS.map((m) => m.version);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
      expect(new Set(versions).size).toBe(versions.length);
    });
  });

  describe('mentions', () => {
    test('the same tweet twice is one row; saveMentions returns how many were new', async () => {
      const { store } = await fresh();
      expect(await store.saveMentions([mention('1'), mention('2')])).toBe(2);
      expect(await store.saveMentions([mention('1')])).toBe(0);
      // A duplicate inside one batch, and one already stored, next to a new one.
      expect(await store.saveMentions([mention('3'), mention('3'), mention('2')])).toBe(1);
      expect(await store.saveMentions([])).toBe(0);
      expect(await store.countMentions()).toBe(3);
    });

    test('the first stored version of a tweet wins (a replay does not rewrite it)', async () => {
      const { store } = await fresh();
      await store.saveMentions([mention('7')]);
      await store.saveMentions([
        mention('7', {
          text: 'edited',
          prediction: { label: 'positive', confidence: 0.9, probabilities: P(0.05, 0.05, 0.9), modelVersion: 'v2' },
        }),
      ]);
      const [m] = await store.mentionsBetween('airparadis', '2015-01-01T00:00:00Z', '2016-01-01T00:00:00Z');
      expect(m.text).toBe('tweet 7');
      expect(m.prediction?.modelVersion).toBe('v1');
    });

    test('18-digit tweet ids are kept exactly (beyond 2^53)', async () => {
      const { store } = await fresh();
      const ids = ['569587140490866689', '999999999999999999', '1234567890123456789'];
      await store.saveMentions(ids.map((id) => mention(id)));
      const got = await store.mentionsBetween('airparadis', '2015-02-24T00:00:00Z', '2015-02-25T00:00:00Z');
      expect(got.map((m) => m.id).sort()).toEqual([...ids].sort());
      const p = await store.getPrediction(mentionPredictionId('999999999999999999'));
      expect(p?.id).toBe('x:999999999999999999');
      expect(p?.kind).toBe('mention');
    });

    test('round-trip every field; absent optional fields stay absent', async () => {
      const { store } = await fresh();
      const full = mention('10', {
        authorId: '2244994945',
        authorHandle: 'jane_doe',
        lang: 'en',
        metrics: { retweets: 1, replies: 2, likes: 3, quotes: 4 },
        humanLabel: 'neutral',
        language: 'en',
        text: 'émoji ✈️ "quoted" \\ back\nslash',
        prediction: { label: 'neutral', confidence: 0.5, probabilities: P(0.25, 0.5, 0.25), modelVersion: 'v3' },
      });
      const bare = mention('11', { createdAt: '2015-02-24T11:35:53.000Z' });
      await store.saveMentions([full, bare]);
      const got = await store.mentionsBetween('airparadis', '2015-02-24T00:00:00Z', '2015-02-25T00:00:00Z');
      expect(got).toEqual([full, bare]);
      expect(Object.keys(got[1]).sort()).toEqual(['createdAt', 'id', 'prediction', 'stream', 'text']);
    });

    test('a mention in another language: stored without a prediction, with its language (issue 14)', async () => {
      const { store, location } = await fresh();
      const french = mention('30', { text: UDHR.fr, prediction: null, language: 'fr', lang: 'fr' });
      const english = mention('31', { createdAt: '2015-02-24T11:36:00.000Z', language: 'en' });
      expect(await store.saveMentions([french, english])).toBe(2);
      expect(await store.saveMentions([french])).toBe(0);
      const got = await store.mentionsBetween('airparadis', '2015-02-24T00:00:00Z', '2015-02-25T00:00:00Z');
      expect(got).toEqual([french, english]);
      // No English label is recorded anywhere for it: no prediction row, nothing to vote on or to count.
      expect(await store.getPrediction(mentionPredictionId('30'))).toBeNull();
      expect((await store.getPrediction(mentionPredictionId('31')))?.label).toBe('negative');
      const rows = await backend.query(location, `SELECT prediction_id, language FROM mentions WHERE id = '30'`);
      expect(rows).toEqual([{ prediction_id: null, language: 'fr' }]);
      expect(await store.countMentions('airparadis')).toBe(2);
      // Retention and erasure take it like any mention.
      expect(await store.eraseMention('30')).toEqual({ mentions: 1, predictions: 0, votes: 0, links: 0 });
      await store.saveMentions([mention('32', { prediction: null, language: 'es' })]);
      expect(await store.prune('mentions', '2100-01-01T00:00:00Z', 10)).toBe(2);
      expect(await store.countMentions()).toBe(0);
    });

    test('a mention without a prediction must name its language; a language must be a code', async () => {
      const { store } = await fresh();
      await expect(store.saveMentions([mention('40', { prediction: null })])).rejects.toThrow(
        /mention "40": has no prediction and no language to say why/,
      );
      await expect(store.saveMentions([mention('41', { language: 'French!' })])).rejects.toThrow(
        /mention "41": language must be a code such as "en" or "fr"/,
      );
      await expect(store.saveMentions([mention('42', { prediction: undefined })])).rejects.toThrow(
        /mention "42": has no prediction/,
      );
      expect(await store.countMentions()).toBe(0);
    });

    test('timestamps are normalised to UTC ISO; ranges are [from, to) and ordered by time', async () => {
      const { store } = await fresh();
      await store.saveMentions([
        mention('1', { createdAt: '2015-02-24T12:00:00-08:00' }), // 20:00Z
        mention('2', { createdAt: '2015-02-24T19:00:00Z' }),
        mention('3', { createdAt: '2015-02-24T21:00:00.000Z' }),
        mention('4', { createdAt: '2015-02-24T19:30:00Z', stream: 'other' }),
      ]);
      const got = await store.mentionsBetween('airparadis', '2015-02-24T19:00:00Z', '2015-02-24T21:00:00Z');
      expect(got.map((m) => [m.id, m.createdAt])).toEqual([
        ['2', '2015-02-24T19:00:00.000Z'],
        ['1', '2015-02-24T20:00:00.000Z'],
      ]);
      expect(await store.countMentions('airparadis')).toBe(3);
      expect(await store.countMentions('other')).toBe(1);
      expect(await store.countMentions('nobody')).toBe(0);
    });

    test('a batch with one bad mention stores nothing (one transaction) and names the culprit', async () => {
      const { store } = await fresh();
      await expect(store.saveMentions([mention('1'), mention('2', { createdAt: 'yesterday' })])).rejects.toThrow(
        /mention "2": createdAt is not a valid timestamp/,
      );
      expect(await store.countMentions()).toBe(0);
    });

    test('two instances saving overlapping batches at once store each tweet once', async () => {
      const { store, location } = await fresh();
      const other = backend.open(location);
      opened.push(other);
      const a = Array.from({ length: 200 }, (_, i) => mention(String(1000 + i)));
      const b = Array.from({ length: 200 }, (_, i) => mention(String(1100 + i)));
      const [na, nb] = await Promise.all([store.saveMentions(a), other.saveMentions(b)]);
      expect(na + nb).toBe(300);
      expect(await store.countMentions()).toBe(300);
    });

    test('NUL characters are dropped rather than failing the batch', async () => {
      const { store } = await fresh();
      expect(await store.saveMentions([mention('1', { text: 'a\u0000b' })])).toBe(1);
      const [m] = await store.mentionsBetween('airparadis', '2015-01-01T00:00:00Z', '2016-01-01T00:00:00Z');
      expect(m.text).toBe('ab');
    });
  });

  describe('checkpoints', () => {
    test('none at first, then the last one set, per stream', async () => {
      const { store } = await fresh();
      expect(await store.getCheckpoint('airparadis')).toBeNull();
      await store.setCheckpoint('airparadis', '569587140490866689');
      await store.setCheckpoint('airparadis', '569587140490866690');
      await store.setCheckpoint('other', 'abc');
      expect(await store.getCheckpoint('airparadis')).toBe('569587140490866690');
      expect(await store.getCheckpoint('other')).toBe('abc');
    });
  });

  describe('predictions and feedback', () => {
    test('predictions round-trip; saving the same id again changes nothing; unknown is null', async () => {
      const { store } = await fresh();
      const p = prediction('3f2a9c1e-0000-4000-8000-000000000001');
      await store.savePredictions([p]);
      await store.savePredictions([{ ...p, label: 'negative' }]);
      expect(await store.getPrediction(p.id)).toEqual(p);
      expect(await store.getPrediction('nope')).toBeNull();
    });

    test('one vote per user per prediction: a second vote replaces the first', async () => {
      const { store } = await fresh();
      await store.savePredictions([prediction('p1')]);
      await store.recordVote({ predictionId: 'p1', userId: 'U1', correct: false, trueLabel: 'neutral' });
      await store.recordVote({ predictionId: 'p1', userId: 'U1', correct: true, source: 'slack' });
      expect(await store.accuracyByModel()).toEqual([{ modelVersion: 'v1', votes: 1, correct: 1, accuracy: 1 }]);
      await store.recordVote({ predictionId: 'p1', userId: 'U2', correct: false, trueLabel: 'neutral' });
      expect(await store.accuracyByModel()).toEqual([{ modelVersion: 'v1', votes: 2, correct: 1, accuracy: 0.5 }]);
    });

    test('a vote can be retracted once', async () => {
      const { store } = await fresh();
      await store.savePredictions([prediction('p1')]);
      await store.recordVote({ predictionId: 'p1', userId: 'U1', correct: true });
      expect(await store.retractVote('p1', 'U1')).toBe(true);
      expect(await store.retractVote('p1', 'U1')).toBe(false);
      expect(await store.retractVote('p1', 'U9')).toBe(false);
      expect(await store.accuracyByModel()).toEqual([]);
    });

    test('accuracy per model version, mention predictions included', async () => {
      const { store } = await fresh();
      await store.savePredictions([prediction('a', { modelVersion: 'v1' })]);
      await store.savePredictions([prediction('b', { modelVersion: 'v2' })]);
      await store.savePredictions([prediction('c', { modelVersion: 'v2' })]);
      await store.saveMentions([mention('42', { prediction: { ...mention('42').prediction!, modelVersion: 'v10' } })]);
      await store.recordVote({ predictionId: 'a', userId: 'u1', correct: false });
      await store.recordVote({ predictionId: 'b', userId: 'u1', correct: true });
      await store.recordVote({ predictionId: 'b', userId: 'u2', correct: true });
      await store.recordVote({ predictionId: 'c', userId: 'u1', correct: false, trueLabel: 'negative' });
      await store.recordVote({ predictionId: 'x:42', userId: 'u1', correct: true });
      expect(await store.accuracyByModel()).toEqual([
        { modelVersion: 'v1', votes: 1, correct: 0, accuracy: 0 },
        { modelVersion: 'v10', votes: 1, correct: 1, accuracy: 1 },
        { modelVersion: 'v2', votes: 3, correct: 2, accuracy: 2 / 3 },
      ]);
    });

    test('feedback examples: ✅ gives the predicted label, ❌ the true label; majority per prediction', async () => {
      const { store } = await fresh();
      await store.savePredictions([prediction('ok', { text: 'great flight', label: 'positive' })]);
      await store.savePredictions([prediction('fixed', { text: 'meh flight', label: 'negative' })]);
      await store.savePredictions([prediction('nolabel', { text: 'who knows', label: 'neutral' })]);
      await store.savePredictions([prediction('tie', { text: 'split vote', label: 'neutral' })]);
      await store.savePredictions([prediction('majority', { text: 'late again', label: 'neutral' })]);
      await store.savePredictions([prediction('novote', { text: 'nobody voted' })]);
      await store.recordVote({ predictionId: 'ok', userId: 'u1', correct: true });
      await store.recordVote({ predictionId: 'fixed', userId: 'u1', correct: false, trueLabel: 'neutral' });
      await store.recordVote({ predictionId: 'nolabel', userId: 'u1', correct: false });
      await store.recordVote({ predictionId: 'tie', userId: 'u1', correct: true });
      await store.recordVote({ predictionId: 'tie', userId: 'u2', correct: false, trueLabel: 'negative' });
      await store.recordVote({ predictionId: 'majority', userId: 'u1', correct: false, trueLabel: 'negative' });
      await store.recordVote({ predictionId: 'majority', userId: 'u2', correct: false, trueLabel: 'negative' });
      await store.recordVote({ predictionId: 'majority', userId: 'u3', correct: true });
      const examples = await store.feedbackExamples();
      expect(examples.sort((x, y) => x.text.localeCompare(y.text))).toEqual([
        { text: 'great flight', label: 'positive' },
        { text: 'late again', label: 'negative' },
        { text: 'meh flight', label: 'neutral' },
      ]);
    });
  });

  describe('judgments and shadow predictions (issue 13)', () => {
    test('judgments: each judged prediction once with its votes (no voter), alert votes never, filters and limit', async () => {
      const { store, location } = await fresh();
      await store.savePredictions([
        prediction('a', { kind: 'api', label: 'positive' }),
        prediction('b', { kind: 'command', label: 'negative', createdAt: '2026-03-01T00:00:00.000Z' }),
        prediction('unjudged'),
      ]);
      await store.saveMentions([mention('42')]);
      await store.saveAlert(alert('al'));
      await store.recordVote({ predictionId: 'a', userId: 'h1:u1', correct: true, source: 'slack' });
      await store.recordVote({ predictionId: 'b', userId: 'h1:u1', correct: false, trueLabel: 'neutral' });
      await store.recordVote({ predictionId: 'b', userId: 'h1:u2', correct: true, source: 'teams' });
      await store.recordVote({ predictionId: 'x:42', userId: 'h1:u3', correct: false });
      await store.recordVote({ predictionId: 'alert:al', userId: 'h1:u1', correct: true });
      // Votes in a known order: a, then b, then x:42 last.
      const at = (id: string, iso: string) =>
        backend.exec(location, `UPDATE feedback SET voted_at = ${backend.time(iso)} WHERE prediction_id = '${id}'`);
      await at('a', '2026-03-02T00:00:00.000Z');
      await at('b', '2026-03-03T00:00:00.000Z');
      await at('x:42', '2026-03-04T00:00:00.000Z');
      await at('alert:al', '2026-03-05T00:00:00.000Z');

      const all = await store.judgments();
      expect(all.map((j) => j.prediction.id)).toEqual(['a', 'b', 'x:42']);
      expect(all[0]).toEqual({
        prediction: prediction('a', { kind: 'api', label: 'positive' }),
        votes: [{ correct: true, votedAt: '2026-03-02T00:00:00.000Z', source: 'slack' }],
        lastVotedAt: '2026-03-02T00:00:00.000Z',
      });
      expect(all[1].votes.map((v) => [v.correct, v.trueLabel ?? null]).sort()).toEqual([
        [false, 'neutral'],
        [true, null],
      ]);
      expect(JSON.stringify(all)).not.toMatch(/h1:u/); // never who voted
      expect((await store.judgments({ kinds: ['mention'] })).map((j) => j.prediction.id)).toEqual(['x:42']);
      expect((await store.judgments({ sinceIso: '2026-03-03T00:00:00Z' })).map((j) => j.prediction.id)).toEqual([
        'b',
        'x:42',
      ]);
      const recent = (await store.judgments({ createdSinceIso: '2026-02-01T00:00:00Z' })).map((j) => j.prediction.id);
      expect(recent).toContain('b');
      expect(recent).not.toContain('a'); // made 2026-01-02
      // The latest two by their last vote, still oldest first.
      expect((await store.judgments({ limit: 2 })).map((j) => j.prediction.id)).toEqual(['b', 'x:42']);
      await expect(store.judgments({ limit: 0 })).rejects.toThrow(/limit must be a whole number/);
      await expect(store.judgments({ sinceIso: 'yesterday' })).rejects.toThrow(/not a valid timestamp/);
      await expect(store.judgments({ kinds: ['alert' as 'api'] })).rejects.toThrow(/kind must be/);
      expect(await store.countVotesSince('2026-03-03T00:00:00Z')).toBe(4); // b twice, x:42, the alert
      expect(await store.countVotesSince('2026-03-06T00:00:00Z')).toBe(0);
    });

    test('alert votes: ✅ real and ❌ false alarm counted per alert; alerts without a vote absent', async () => {
      const { store } = await fresh();
      await store.savePredictions([prediction('p1')]);
      await store.recordVote({ predictionId: 'alert:a1', userId: 'h1:u1', correct: true });
      await store.recordVote({ predictionId: 'alert:a1', userId: 'h1:u2', correct: false });
      await store.recordVote({ predictionId: 'alert:a1', userId: 'h1:u3', correct: true });
      await store.recordVote({ predictionId: 'alert:a2', userId: 'h1:u1', correct: false });
      await store.recordVote({ predictionId: 'p1', userId: 'h1:u1', correct: true });
      expect(await store.alertVotes(['a1', 'a2', 'a3', 'a1'])).toEqual([
        { alertId: 'a1', real: 2, falseAlarm: 1 },
        { alertId: 'a2', real: 0, falseAlarm: 1 },
      ]);
      expect(await store.alertVotes([])).toEqual([]);
      await expect(store.alertVotes([''])).rejects.toThrow(/alert ids must be non-empty strings/);
    });

    test('shadow predictions: saved once per model version, paired with the champion, newest kept by limit', async () => {
      const { store } = await fresh();
      await store.saveMentions([mention('1'), mention('2'), mention('3')]);
      const shadow = (id: string, label: Label, createdAt: string, modelVersion = 'v2') => ({
        predictionId: `x:${id}`,
        modelVersion,
        label,
        probabilities: label === 'negative' ? P(0.8, 0.1, 0.1) : P(0.1, 0.1, 0.8),
        createdAt,
      });
      await store.saveShadowPredictions([
        shadow('1', 'negative', '2026-03-01T00:00:00.000Z'),
        shadow('2', 'positive', '2026-03-02T00:00:00.000Z'),
        shadow('3', 'negative', '2026-03-03T00:00:00.000Z'),
        shadow('3', 'positive', '2026-03-03T00:00:00.000Z', 'v3'),
      ]);
      await store.saveShadowPredictions([shadow('1', 'positive', '2026-03-09T00:00:00.000Z')]); // kept as first saved
      const pairs = await store.shadowPairs('v2');
      expect(pairs.map((p) => [p.champion.id, p.champion.label, p.challenger.label])).toEqual([
        ['x:1', 'negative', 'negative'],
        ['x:2', 'negative', 'positive'],
        ['x:3', 'negative', 'negative'],
      ]);
      expect(pairs[1].challenger).toEqual(shadow('2', 'positive', '2026-03-02T00:00:00.000Z'));
      expect((await store.shadowPairs('v2', { limit: 1 })).map((p) => p.champion.id)).toEqual(['x:3']);
      expect((await store.shadowPairs('v2', { sinceIso: '2026-03-02T00:00:00Z' })).length).toBe(2);
      expect((await store.shadowPairs('v3')).map((p) => p.challenger.label)).toEqual(['positive']);
      await expect(
        store.saveShadowPredictions([{ ...shadow('1', 'negative', 'x'), createdAt: 'soon' }]),
      ).rejects.toThrow(/createdAt is not a valid timestamp/);
      await expect(
        store.saveShadowPredictions([shadow('1', 'angry' as Label, '2026-03-01T00:00:00Z')]),
      ).rejects.toThrow(/label/);
      // A mention erased or pruned takes its shadow predictions with it.
      await store.eraseMention('1');
      expect((await store.shadowPairs('v2')).map((p) => p.champion.id)).toEqual(['x:2', 'x:3']);
      await store.prune('mentions', new Date(Date.now() + 60_000).toISOString(), 500);
      expect(await store.shadowPairs('v2')).toEqual([]);
    });
  });

  describe('message links', () => {
    test('a link is found by platform, channel and message; linking again replaces it', async () => {
      const { store } = await fresh();
      await store.linkMessage({
        platform: 'slack',
        channel: 'C1',
        messageId: '1700000000.000100',
        predictionId: 'x:1',
      });
      await store.linkMessage({ platform: 'teams', channel: 'C1', messageId: '1700000000.000100', alertId: 'a1' });
      expect(await store.findLink('slack', 'C1', '1700000000.000100')).toEqual({
        platform: 'slack',
        channel: 'C1',
        messageId: '1700000000.000100',
        predictionId: 'x:1',
      });
      await store.linkMessage({
        platform: 'slack',
        channel: 'C1',
        messageId: '1700000000.000100',
        predictionId: 'x:2',
      });
      expect((await store.findLink('slack', 'C1', '1700000000.000100'))?.predictionId).toBe('x:2');
      expect(await store.findLink('teams', 'C1', '1700000000.000100')).toEqual({
        platform: 'teams',
        channel: 'C1',
        messageId: '1700000000.000100',
        alertId: 'a1',
      });
      expect(await store.findLink('slack', 'C2', '1700000000.000100')).toBeNull();
    });

    test('a link must point at something', async () => {
      const { store } = await fresh();
      await expect(store.linkMessage({ platform: 'slack', channel: 'C1', messageId: 'm' })).rejects.toThrow(
        /needs a predictionId or an alertId/,
      );
    });
  });

  describe('alerts', () => {
    test('open, update, resolve; the open alert per stream; list newest first', async () => {
      const { store } = await fresh();
      expect(await store.openAlert('airparadis')).toBeNull();
      const a1 = alert('a1');
      await store.saveAlert(a1);
      await store.saveAlert(alert('b1', { stream: 'other', openedAt: '2026-01-01T09:00:00Z' }));
      expect(await store.openAlert('airparadis')).toEqual(a1);

      const updated = { ...a1, updatedAt: '2026-01-01T10:05:00.000Z', data: { negativeShare: 0.7 } };
      await store.saveAlert(updated);
      expect(await store.openAlert('airparadis')).toEqual(updated);

      const resolved: AlertRecord = {
        ...updated,
        state: 'resolved',
        updatedAt: '2026-01-01T11:00:00.000Z',
        resolvedAt: '2026-01-01T11:00:00.000Z',
      };
      await store.saveAlert(resolved);
      expect(await store.openAlert('airparadis')).toBeNull();
      expect((await store.openAlert('other'))?.id).toBe('b1');

      const a2 = alert('a2', { openedAt: '2026-01-02T10:00:00.000Z', updatedAt: '2026-01-02T10:00:00.000Z' });
      await store.saveAlert(a2);
      expect(await store.listAlerts('airparadis')).toEqual([a2, resolved]);
      expect((await store.listAlerts()).map((a) => a.id)).toEqual(['a2', 'a1', 'b1']);
      expect(await store.listAlerts('nobody')).toEqual([]);
    });

    test('a bad state is refused', async () => {
      const { store } = await fresh();
      await expect(store.saveAlert(alert('a', { state: 'closed' as never }))).rejects.toThrow(
        /state must be open or resolved/,
      );
    });
  });

  describe('voter ids (issue 11)', () => {
    const SECRET = 's'.repeat(32);

    test('without a configured key, one is generated once and every instance on the database uses it', async () => {
      const { store, location } = await fresh();
      const k1 = await store.voterKey();
      expect(k1).toMatchObject({ source: 'generated', matchesStored: true });
      expect(k1.key.length).toBeGreaterThanOrEqual(32);
      const again = backend.open(location);
      opened.push(again);
      await again.migrate();
      expect((await again.voterKey()).key.equals(k1.key)).toBe(true);
      const rows = await backend.query(location, 'SELECT name FROM privacy_keys ORDER BY name');
      expect(rows.map((r) => r.name)).toEqual(['voter_key', 'voter_key_fingerprint']);
    });

    test('a configured key is used (and not stored); another key is noticed', async () => {
      const location = backend.location();
      const store = backend.open(location, { voterKey: SECRET });
      opened.push(store);
      await store.migrate();
      expect(await store.voterKey()).toEqual({ key: Buffer.from(SECRET), source: 'configured', matchesStored: true });
      const values = await backend.query(location, 'SELECT value FROM privacy_keys');
      expect(values.map((r) => r.value)).not.toContain(SECRET);
      const other = backend.open(location, { voterKey: 't'.repeat(32) });
      const none = backend.open(location);
      opened.push(other, none);
      await other.migrate();
      expect((await other.voterKey()).matchesStored).toBe(false);
      expect((await none.voterKey()).matchesStored).toBe(false);
      expect(() => backend.open(backend.location(), { voterKey: 'short' })).toThrow(
        'PRIVACY_USER_ID_SECRET (the voter id key) is 5 characters long; it needs at least 32',
      );
    });

    test('a database from before hashing: migrating re-keys every raw voter id, votes keep counting', async () => {
      const location = backend.location();
      // The schema as version 1 left it, with votes keyed by raw platform ids.
      await backend.exec(
        location,
        `${SCHEMA_MIGRATIONS_DDL[kind]};
         ${migrationSql(MIGRATIONS[0], kind)};
         INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, 'initial', ${backend.time('2026-01-01')});
         INSERT INTO predictions (id, kind, text, label, probabilities, model_version, created_at)
           VALUES ('p1', 'api', 'late', 'negative', '{"negative":0.8,"neutral":0.1,"positive":0.1}', 'v1', ${backend.time('2026-01-01')});
         INSERT INTO feedback (prediction_id, user_id, correct, true_label, source, voted_at) VALUES
           ('p1', 'U0123SLACK', ${kind === 'sqlite' ? 1 : 'true'}, NULL, 'slack', ${backend.time('2026-01-02')}),
           ('p1', 'aad-alice', ${kind === 'sqlite' ? 0 : 'false'}, 'neutral', 'teams', ${backend.time('2026-01-02')}),
           ('alert:a1', 'U0123SLACK', ${kind === 'sqlite' ? 1 : 'true'}, NULL, 'slack', ${backend.time('2026-01-02')});`,
      );
      const store = backend.open(location, { voterKey: SECRET });
      opened.push(store);
      await store.migrate();
      const key = Buffer.from(SECRET);
      const rows = await backend.query(location, 'SELECT prediction_id, user_id, source FROM feedback');
      expect(rows.map((r) => [r.prediction_id, r.user_id]).sort()).toEqual(
        [
          ['p1', hashVoterId(key, legacyVoterId('slack', 'U0123SLACK'))],
          ['p1', hashVoterId(key, legacyVoterId('teams', 'aad-alice'))],
          ['alert:a1', hashVoterId(key, legacyVoterId('slack', 'U0123SLACK'))],
        ].sort(),
      );
      expect(JSON.stringify(rows)).not.toMatch(/U0123SLACK|aad-alice/);
      expect(await store.accuracyByModel()).toEqual([{ modelVersion: 'v1', votes: 2, correct: 1, accuracy: 0.5 }]);
      expect(await store.hashLegacyVoters()).toBe(0); // idempotent
    });

    /** The schema as an older version left it: migrations 1 to `version` applied and recorded. */
    const schemaUpTo = (version: number) =>
      `${SCHEMA_MIGRATIONS_DDL[kind]};
       ${MIGRATIONS.filter((m) => m.version <= version)
         .map((m) => migrationSql(m, kind))
         .join(';\n')};
       ${MIGRATIONS.filter((m) => m.version <= version)
         .map(
           (m) =>
             `INSERT INTO schema_migrations (version, name, applied_at) VALUES (${m.version}, 'old', ${backend.time('2026-01-01')})`,
         )
         .join(';\n')}`;

    test('a database from before languages (version 5): mentions keep their prediction, language absent', async () => {
      const location = backend.location();
      await backend.exec(
        location,
        `${schemaUpTo(5)};
         INSERT INTO predictions (id, kind, text, label, probabilities, model_version, created_at)
           VALUES ('x:7', 'mention', 'late again', 'negative', '{"negative":0.8,"neutral":0.1,"positive":0.1}', 'v1', ${backend.time('2026-01-01')});
         INSERT INTO mentions (id, stream, author_id, author_handle, created_at, text, lang, metrics, human_label,
             prediction_id, stored_at)
           VALUES ('7', 'airparadis', NULL, 'jane', ${backend.time('2015-02-24T11:35:52Z')}, 'late again', 'en', NULL,
             NULL, 'x:7', ${backend.time('2026-01-01')});`,
      );
      const store = backend.open(location);
      opened.push(store);
      await store.migrate();
      const [m] = await store.mentionsBetween('airparadis', '2015-02-24T00:00:00Z', '2015-02-25T00:00:00Z');
      expect(m).toEqual({
        id: '7',
        stream: 'airparadis',
        createdAt: '2015-02-24T11:35:52.000Z',
        text: 'late again',
        authorHandle: 'jane',
        lang: 'en',
        prediction: { label: 'negative', confidence: 0.8, probabilities: P(0.8, 0.1, 0.1), modelVersion: 'v1' },
      });
      // The indexes the rebuilt table had are there again.
      const indexes = await backend.query(
        location,
        kind === 'sqlite'
          ? `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'mentions' AND name LIKE 'mentions_by%'`
          : `SELECT indexname AS name FROM pg_indexes WHERE tablename = 'mentions' AND schemaname = current_schema() AND indexname LIKE 'mentions_by%'`,
      );
      expect(indexes.map((r) => r.name).sort()).toEqual([
        'mentions_by_author',
        'mentions_by_stored_at',
        'mentions_by_stream_time',
      ]);
    });

    test('a database from before alerts kept by the wall clock (version 6): old alerts keep their old clock', async () => {
      const location = backend.location();
      const day = 86_400_000;
      const [twoDaysAgo, yesterday] = [2, 1].map((d) => new Date(Date.now() - d * day).toISOString());
      await backend.exec(
        location,
        `${schemaUpTo(6)};
         INSERT INTO alerts (id, stream, state, opened_at, updated_at, resolved_at, data) VALUES
           ('replayed', 'airparadis', 'resolved', ${backend.time('2015-02-21T15:30:00Z')},
             ${backend.time('2015-02-21T21:30:00Z')}, ${backend.time('2015-02-21T21:30:00Z')}, '{}'),
           ('open', 'airparadis', 'open', ${backend.time(twoDaysAgo)}, ${backend.time(yesterday)}, NULL, '{}');`,
      );
      const store = backend.open(location);
      opened.push(store);
      await store.migrate();
      const rows = await backend.query(location, 'SELECT id, stored_at FROM alerts ORDER BY id');
      expect(rows.map((r) => [r.id, new Date(r.stored_at as string).toISOString()])).toEqual([
        ['open', yesterday],
        ['replayed', '2015-02-21T21:30:00.000Z'],
      ]);
      // Written again by this version: from now on, the wall clock.
      const [replayed] = (await store.listAlerts()).filter((a) => a.id === 'replayed');
      await store.saveAlert(replayed);
      const [again] = await backend.query(location, `SELECT stored_at FROM alerts WHERE id = 'replayed'`);
      expect(Date.now() - Date.parse(new Date(again.stored_at as string).toISOString())).toBeLessThan(60_000);
      expect(await store.prune('alerts', new Date(Date.now() - 365 * day).toISOString(), 500)).toBe(0);
    });

    test('re-keying a raw vote whose voter already voted hashed keeps the newer, hashed vote', async () => {
      const { store } = await fresh();
      const { key } = await store.voterKey();
      await store.savePredictions([prediction('p1')]);
      const hashed = hashVoterId(key, legacyVoterId('slack', 'U1'));
      await store.recordVote({ predictionId: 'p1', userId: 'U1', correct: false, source: 'slack' }); // raw (old code)
      await store.recordVote({ predictionId: 'p1', userId: hashed, correct: true, source: 'slack' });
      expect(await store.hashLegacyVoters(1)).toBe(1);
      expect(await store.hashLegacyVoters(1)).toBe(0);
      expect(await store.accuracyByModel()).toEqual([{ modelVersion: 'v1', votes: 1, correct: 1, accuracy: 1 }]);
    });

    test('eraseVotes removes every vote of those voters, on predictions and alerts, and only theirs', async () => {
      const { store } = await fresh();
      await store.savePredictions([prediction('p1'), prediction('p2')]);
      for (const [p, u] of [
        ['p1', 'h1:alice'],
        ['p2', 'h1:alice'],
        ['alert:a1', 'h1:alice'],
        ['p1', 'h1:bob'],
        ['p1', 'h1:alice-legacy'],
      ])
        await store.recordVote({ predictionId: p, userId: u, correct: true });
      expect(await store.eraseVotes(['h1:alice', 'h1:alice-legacy', 'h1:alice'])).toBe(4);
      expect(await store.eraseVotes(['h1:alice'])).toBe(0);
      expect(await store.eraseVotes([])).toBe(0);
      expect(await store.accuracyByModel()).toEqual([{ modelVersion: 'v1', votes: 1, correct: 1, accuracy: 1 }]);
    });
  });

  describe('retention (issue 11): prune in batches, what hangs on a row goes with it', () => {
    const NOW = Date.now();
    const ago = (days: number) => new Date(NOW - days * 86_400_000).toISOString();
    const votes = async (location: string) =>
      (await backend.query(location, 'SELECT prediction_id FROM feedback ORDER BY prediction_id')).map(
        (r) => r.prediction_id,
      );

    test('prediction texts: blanked past their time, oldest first, limit rows a statement; mentions never', async () => {
      const { store } = await fresh();
      await store.savePredictions([
        prediction('old', { createdAt: ago(8) }),
        prediction('older', { createdAt: ago(9), kind: 'command' }),
        prediction('young', { createdAt: ago(1) }),
      ]);
      await store.saveMentions([mention('1')]);
      await store.recordVote({ predictionId: 'old', userId: 'h1:u', correct: true });
      expect(await store.prune('prediction_texts', ago(7), 1)).toBe(1);
      expect((await store.getPrediction('older'))?.text).toBe('');
      expect((await store.getPrediction('old'))?.text).toBe('text of old');
      expect(await store.prune('prediction_texts', ago(7), 1)).toBe(1);
      expect(await store.prune('prediction_texts', ago(7), 1)).toBe(0);
      expect((await store.getPrediction('old'))?.text).toBe('');
      expect((await store.getPrediction('young'))?.text).toBe('text of young');
      expect((await store.getPrediction('x:1'))?.text).toBe('tweet 1');
      // Still votable and counted; no longer a training example.
      expect(await store.accuracyByModel()).toEqual([{ modelVersion: 'v1', votes: 1, correct: 1, accuracy: 1 }]);
      expect(await store.feedbackExamples()).toEqual([]);
    });

    test('predictions: deleted with their votes and message links; younger ones and mentions untouched', async () => {
      const { store, location } = await fresh();
      await store.savePredictions([
        prediction('old-api', { createdAt: ago(100) }),
        prediction('old-cmd', { createdAt: ago(91), kind: 'command' }),
        prediction('young', { createdAt: ago(89) }),
      ]);
      await store.saveMentions([mention('7')]);
      for (const p of ['old-api', 'old-cmd', 'young', 'x:7'])
        await store.recordVote({ predictionId: p, userId: 'h1:u', correct: true });
      await store.linkMessage({ platform: 'slack', channel: 'C1', messageId: 'm1', predictionId: 'old-cmd' });
      await store.linkMessage({ platform: 'slack', channel: 'C1', messageId: 'm2', predictionId: 'young' });
      expect(await store.prune('predictions', ago(90), 500)).toBe(2);
      expect(await store.getPrediction('old-api')).toBeNull();
      expect(await store.getPrediction('old-cmd')).toBeNull();
      expect(await store.getPrediction('young')).not.toBeNull();
      expect(await store.getPrediction('x:7')).not.toBeNull();
      expect(await votes(location)).toEqual(['x:7', 'young']);
      expect(await store.findLink('slack', 'C1', 'm1')).toBeNull();
      expect(await store.findLink('slack', 'C1', 'm2')).not.toBeNull();
      expect(await store.prune('predictions', ago(90), 500)).toBe(0);
    });

    test('mentions: by when they were stored, with their prediction, the votes on it and its links', async () => {
      const { store, location } = await fresh();
      await store.saveMentions([mention('100'), mention('200'), mention('300', { createdAt: '2015-02-24T00:00:00Z' })]);
      await backend.exec(
        location,
        `UPDATE mentions SET stored_at = ${backend.time(ago(91))} WHERE id IN ('100', '200')`,
      );
      for (const p of ['x:100', 'x:200', 'x:300'])
        await store.recordVote({ predictionId: p, userId: 'h1:u', correct: true });
      await store.linkMessage({ platform: 'teams', channel: 'c', messageId: 'm', predictionId: 'x:100' });
      expect(await store.prune('mentions', ago(90), 1)).toBe(1);
      expect(await store.prune('mentions', ago(90), 1)).toBe(1);
      expect(await store.prune('mentions', ago(90), 1)).toBe(0);
      expect(await store.countMentions()).toBe(1); // an old tweet stored recently (a replay) is kept
      expect(await store.getPrediction('x:100')).toBeNull();
      expect(await store.getPrediction('x:300')).not.toBeNull();
      expect(await votes(location)).toEqual(['x:300']);
      expect(await store.findLink('teams', 'c', 'm')).toBeNull();
    });

    test('alerts: resolved ones saved longer ago than their time go with their votes and links; an open one never', async () => {
      const { store, location } = await fresh();
      const resolved = (id: string, at: string) =>
        alert(id, { state: 'resolved', openedAt: at, updatedAt: at, resolvedAt: at });
      await store.saveAlert(resolved('old', ago(400)));
      await store.saveAlert(resolved('recent', ago(10)));
      await store.saveAlert(alert('still-open', { openedAt: ago(500), updatedAt: ago(500) }));
      for (const a of ['old', 'recent', 'still-open'])
        await store.recordVote({ predictionId: `alert:${a}`, userId: 'h1:u', correct: true });
      await store.linkMessage({ platform: 'slack', channel: 'C', messageId: 'h', alertId: 'old' });
      // Kept from when they were last saved (the wall clock), as mentions are.
      await backend.exec(
        location,
        `UPDATE alerts SET stored_at = CASE id WHEN 'recent' THEN ${backend.time(ago(10))} ELSE ${backend.time(ago(400))} END`,
      );
      expect(await store.prune('alerts', ago(365), 500)).toBe(1);
      expect((await store.listAlerts()).map((a) => a.id).sort()).toEqual(['recent', 'still-open']);
      expect(await votes(location)).toEqual(['alert:recent', 'alert:still-open']);
      expect(await store.findLink('slack', 'C', 'h')).toBeNull();
    });

    test('orphan votes: a vote on something no longer stored goes, once old enough', async () => {
      const { store, location } = await fresh();
      await store.savePredictions([prediction('p1')]);
      await store.saveAlert(alert('a1'));
      for (const p of ['p1', 'ghost', 'alert:a1', 'alert:gone', 'fresh-ghost'])
        await store.recordVote({ predictionId: p, userId: 'h1:u', correct: true });
      await backend.exec(
        location,
        `UPDATE feedback SET voted_at = ${backend.time(ago(1))} WHERE prediction_id <> 'fresh-ghost'`,
      );
      expect(await store.prune('orphan_votes', ago(0.5), 500)).toBe(2);
      expect(await votes(location)).toEqual(['alert:a1', 'fresh-ghost', 'p1']);
    });

    test('chat state checkpoints: by key prefix and last write; other checkpoints untouched', async () => {
      const { store, location } = await fresh();
      await store.setCheckpoint('teams/card:conv/1', '{"kind":"answer","text":"t"}');
      await store.setCheckpoint('teams/card:conv/2', '{"kind":"answer","text":"u"}');
      await store.setCheckpoint('x:AirParadis', '569587140490866689');
      await backend.exec(
        location,
        `UPDATE checkpoints SET updated_at = ${backend.time(ago(30))} WHERE stream IN ('teams/card:conv/1', 'x:AirParadis')`,
      );
      expect(await store.pruneCheckpoints('teams/card:', ago(7), 500)).toBe(1);
      expect(await store.getCheckpoint('teams/card:conv/1')).toBeNull();
      expect(await store.getCheckpoint('teams/card:conv/2')).not.toBeNull();
      expect(await store.getCheckpoint('x:AirParadis')).toBe('569587140490866689');
      await expect(store.pruneCheckpoints('', ago(7), 5)).rejects.toThrow(/prefix must be at least 3/);
    });

    test('bad arguments are refused', async () => {
      const { store } = await fresh();
      await expect(store.prune('everything' as never, ago(1), 5)).rejects.toThrow(/kind must be one of/);
      await expect(store.prune('mentions', 'yesterday', 5)).rejects.toThrow(/not a valid timestamp/);
      await expect(store.prune('mentions', ago(1), 0)).rejects.toThrow(/limit must be a positive integer/);
    });

    test('two instances pruning at once remove each row once, without errors', async () => {
      const { store, location } = await fresh();
      await store.savePredictions(
        Array.from({ length: 60 }, (_, i) => prediction(`p${i}`, { createdAt: ago(100 + i / 1000) })),
      );
      for (let i = 0; i < 60; i += 3) await store.recordVote({ predictionId: `p${i}`, userId: 'h1:u', correct: true });
      const other = backend.open(location);
      opened.push(other);
      await other.migrate();
      const drain = async (s: Store) => {
        let total = 0;
        for (let n = -1; n !== 0; total += n) n = await s.prune('predictions', ago(90), 7);
        return total;
      };
      const [a, b] = await Promise.all([drain(store), drain(other)]);
      expect(a + b).toBe(60);
      expect(await votes(location)).toEqual([]);
    });
  });

  describe('erasure (issue 11)', () => {
    test('eraseMention: the mention, its prediction, its votes and links; an unknown tweet is 0', async () => {
      const { store } = await fresh();
      await store.saveMentions([mention('569587140490866689'), mention('2')]);
      await store.recordVote({ predictionId: 'x:569587140490866689', userId: 'h1:a', correct: true });
      await store.recordVote({ predictionId: 'x:569587140490866689', userId: 'h1:b', correct: false });
      await store.recordVote({ predictionId: 'x:2', userId: 'h1:a', correct: true });
      await store.linkMessage({
        platform: 'slack',
        channel: 'C',
        messageId: 'm',
        predictionId: 'x:569587140490866689',
      });
      expect(await store.eraseMention('569587140490866689')).toEqual({
        mentions: 1,
        predictions: 1,
        votes: 2,
        links: 1,
      });
      expect(await store.countMentions()).toBe(1);
      expect(await store.getPrediction('x:569587140490866689')).toBeNull();
      expect(await store.accuracyByModel()).toEqual([{ modelVersion: 'v1', votes: 1, correct: 1, accuracy: 1 }]);
      expect(await store.eraseMention('569587140490866689')).toEqual({
        mentions: 0,
        predictions: 0,
        votes: 0,
        links: 0,
      });
    });

    test('mentionIdsByAuthor', async () => {
      const { store } = await fresh();
      await store.saveMentions([
        mention('1', { authorId: '42' }),
        mention('2', { authorId: '43' }),
        mention('3', { authorId: '42' }),
      ]);
      expect((await store.mentionIdsByAuthor('42')).sort()).toEqual(['1', '3']);
      expect(await store.mentionIdsByAuthor('nobody')).toEqual([]);
    });

    test('rewriteJson: alert data and JSON checkpoints are edited, replaced or (checkpoints) deleted', async () => {
      const { store } = await fresh();
      await store.saveAlert(
        alert('a1', {
          data: {
            mentions: [
              { id: '1', text: 'x' },
              { id: '2', text: 'y' },
            ],
          },
        }),
      );
      await store.saveAlert(alert('a2', { data: { other: true } }));
      await store.setCheckpoint('slack/alert:a1', '{"content":{"mentions":[{"id":"1"}]}}');
      await store.setCheckpoint('teams/card:c/1', '{"predictionId":"x:1"}');
      await store.setCheckpoint('x:stream', '569587140490866689'); // not JSON state: never shown to edit
      const seen: string[] = [];
      expect(
        await store.rewriteJson('alerts', (v, key) => {
          seen.push(key);
          const d = v as { mentions?: Array<{ id: string }> };
          return d.mentions
            ? { action: 'replace', value: { mentions: d.mentions.filter((m) => m.id !== '1') } }
            : { action: 'keep' };
        }),
      ).toBe(1);
      expect(seen.sort()).toEqual(['a1', 'a2']);
      expect((await store.listAlerts()).find((a) => a.id === 'a1')?.data).toEqual({
        mentions: [{ id: '2', text: 'y' }],
      });
      const keys: string[] = [];
      expect(
        await store.rewriteJson('checkpoints', (v, key) => {
          keys.push(key);
          if (key.startsWith('teams/card:')) return { action: 'delete' };
          return { action: 'replace', value: { content: { mentions: [] } } };
        }),
      ).toBe(2);
      expect(keys.sort()).toEqual(['slack/alert:a1', 'teams/card:c/1']);
      expect(await store.getCheckpoint('teams/card:c/1')).toBeNull();
      expect(JSON.parse((await store.getCheckpoint('slack/alert:a1'))!)).toEqual({ content: { mentions: [] } });
      expect(await store.getCheckpoint('x:stream')).toBe('569587140490866689');
      await expect(store.rewriteJson('alerts', () => ({ action: 'delete' }))).rejects.toThrow(/cannot be deleted/);
    });
  });

  describe('claims (issue 12): a delivery applied once across replicas and restarts', () => {
    test('the first claim of a key wins, from any instance; the others get false while it lasts', async () => {
      const { store, location } = await fresh();
      const other = backend.open(location); // another replica (or the same one after a restart)
      opened.push(other);
      await other.migrate();
      expect(await store.claim('slack:event:Ev01', 60_000)).toBe(true);
      expect(await store.claim('slack:event:Ev01', 60_000)).toBe(false);
      expect(await other.claim('slack:event:Ev01', 60_000)).toBe(false);
      expect(await other.claim('slack:event:Ev02', 60_000)).toBe(true);
      expect(await store.claim('slack:event:Ev02', 60_000)).toBe(false);
    });

    test('many claims of one key at once, from several instances: exactly one true', async () => {
      const { store, location } = await fresh();
      const others = Array.from({ length: 3 }, () => backend.open(location));
      opened.push(...others);
      await Promise.all(others.map((s) => s.migrate()));
      const all = [store, ...others];
      const results = await Promise.all(
        Array.from({ length: 24 }, (_, i) => all[i % all.length].claim('teams:activity:a:1', 60_000)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    test('an expired claim is taken over once; pruneClaims removes only expired ones', async () => {
      const { store, location } = await fresh();
      expect(await store.claim('short', 1)).toBe(true);
      expect(await store.claim('long', 3_600_000)).toBe(true);
      await new Promise((r) => setTimeout(r, 20));
      const [first, second] = await Promise.all([store.claim('short', 60_000), store.claim('short', 60_000)]);
      expect([first, second].sort()).toEqual([false, true]);
      expect(await store.claim('long', 60_000)).toBe(false);
      // Age two claims past their expiry, as time would.
      await backend.exec(
        location,
        `INSERT INTO claims (key, claimed_at, expires_at) VALUES
           ('old-1', ${backend.time('2026-01-01T00:00:00Z')}, ${backend.time('2026-01-01T02:00:00Z')}),
           ('old-2', ${backend.time('2026-01-01T00:00:00Z')}, ${backend.time('2026-01-01T02:00:00Z')})`,
      );
      expect(await store.pruneClaims(1)).toBe(1);
      expect(await store.pruneClaims(100)).toBe(1);
      expect(await store.pruneClaims(100)).toBe(0);
      const left = await backend.query(location, 'SELECT key FROM claims ORDER BY key');
      expect(left.map((r) => r.key)).toEqual(['long', 'short']);
      expect(await store.claim('old-1', 60_000)).toBe(true); // pruned: a new claim
    });

    test('refuses a bad key or TTL with a clear message', async () => {
      const { store } = await fresh();
      await expect(store.claim('', 1000)).rejects.toThrow('claim: the key must be a non-empty string');
      await expect(store.claim('x'.repeat(501), 1000)).rejects.toThrow('at most 500 characters');
      await expect(store.claim('k', 0)).rejects.toThrow('claim: ttlMs must be');
      await expect(store.claim('k', Number.NaN)).rejects.toThrow('claim: ttlMs must be');
      await expect(store.pruneClaims(0)).rejects.toThrow('pruneClaims: limit must be a positive integer');
    });
  });

  describe('close', () => {
    test('close is idempotent and a closed store refuses work clearly', async () => {
      const { store } = await fresh();
      await store.close();
      await store.close();
      await expect(store.countMentions()).rejects.toThrow(/store is closed/);
      await expect(store.saveMentions([mention('1')])).rejects.toThrow(/store is closed/);
    });
  });
});

describe('SQLite specifics', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sentinel-sqlite-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('data survives closing and reopening the file', async () => {
    const path = join(dir, 'restart', 'sentinel.db');
    const first = openSqliteStore(path);
    await first.migrate();
    await first.saveMentions([mention('569587140490866689')]);
    await first.setCheckpoint('airparadis', '569587140490866689');
    await first.savePredictions([prediction('p1')]);
    await first.recordVote({ predictionId: 'p1', userId: 'U1', correct: true });
    await first.saveAlert(alert('a1'));
    await first.linkMessage({ platform: 'slack', channel: 'C1', messageId: 'm1', predictionId: 'p1' });
    await first.close();

    const second = openSqliteStore(path);
    try {
      await second.migrate();
      expect(await second.countMentions()).toBe(1);
      expect(await second.getCheckpoint('airparadis')).toBe('569587140490866689');
      expect(await second.accuracyByModel()).toEqual([{ modelVersion: 'v1', votes: 1, correct: 1, accuracy: 1 }]);
      expect((await second.openAlert('airparadis'))?.id).toBe('a1');
      expect((await second.findLink('slack', 'C1', 'm1'))?.predictionId).toBe('p1');
      expect(await second.saveMentions([mention('569587140490866689')])).toBe(0);
    } finally {
      await second.close();
    }
  });

  test('runs in WAL mode with a busy timeout', async () => {
    const path = join(dir, 'wal.db');
    const store = openSqliteStore(path);
    await store.migrate();
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
  });
});

describe('openStore', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sentinel-open-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('no DATABASE_URL (or a blank one): a migrated SQLite store at sqlitePath', async () => {
    for (const databaseUrl of [undefined, '', '  ']) {
      const store = await openStore({ databaseUrl, sqlitePath: join(dir, 'data', 'sentinel.db') });
      try {
        expect(store.kind).toBe('sqlite');
        expect(await store.countMentions()).toBe(0);
      } finally {
        await store.close();
      }
    }
  });

  test('a postgres:// or postgresql:// URL: a migrated PostgreSQL store', async () => {
    const schema = `t_${RUN}_open`;
    try {
      for (const url of [PG_URL, PG_URL.replace(/^postgres:/, 'postgresql:')]) {
        const store = await openStore({ databaseUrl: url, sqlitePath: join(dir, 'unused.db'), postgresSchema: schema });
        try {
          expect(store.kind).toBe('postgres');
          expect(await store.countMentions()).toBe(0);
        } finally {
          await store.close();
        }
      }
    } finally {
      const c = new Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    }
  });

  test('a URL that is not PostgreSQL is refused naming DATABASE_URL, without echoing it', async () => {
    const err = await openStore({ databaseUrl: 'mysql://root:hunter2@db/x', sqlitePath: join(dir, 'x.db') }).catch(
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(StoreConfigError);
    expect((err as Error).message).toMatch(/^DATABASE_URL must be a PostgreSQL URL, got a "mysql:" URL/);
    expect((err as Error).message).not.toContain('hunter2');
  });

  test('an unparsable URL is refused naming DATABASE_URL', async () => {
    await expect(openStore({ databaseUrl: 'not a url', sqlitePath: join(dir, 'x.db') })).rejects.toThrow(
      /^DATABASE_URL is not a valid URL: expected postgres:\/\/user:password@host:5432\/database/,
    );
  });

  test('an unreachable server fails fast, naming DATABASE_URL and the host, never the password', async () => {
    const err = await openStore({
      databaseUrl: 'postgres://sentinel:s3cret@127.0.0.1:1/sentinel',
      sqlitePath: join(dir, 'x.db'),
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(StoreConfigError);
    expect((err as Error).message).toMatch(
      /^cannot prepare PostgreSQL at 127\.0\.0\.1:1\/sentinel \(DATABASE_URL\): .*ECONNREFUSED/,
    );
    expect((err as Error).message).not.toContain('s3cret');
  });

  test('an SQLite path that cannot be created names SQLITE_PATH', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    await expect(openStore({ sqlitePath: join(file, 'sentinel.db') })).rejects.toThrow(
      /^cannot open SQLite at .*a-file\/sentinel\.db \(SQLITE_PATH\): (EEXIST|ENOTDIR)/,
    );
  });
});
