/**
 * The leader lease and fencing against the real PostgreSQL server (a fresh schema per run): the fencing token
 * moves at every acquisition and never at a renewal, expiry is the database's clock, a stopping leader
 * releases at once, a leader whose renewal fails or whose own clock runs past the TTL steps down, and a
 * write fenced with a token that is no longer the lease's is refused in its own transaction, with nothing
 * of it written. SQLite: one process, no fence to lose.
 */
import { Leadership, SingleLeadership, type LeaderTerm, type LostEvent } from '../../src/ops/leadership';
import { LeaderWork } from '../../src/ops/leader-work';
import { FencedOutError, leaderScoped, runFenced, type Fence } from '../../src/store/fence';
import { watchStoreHealth } from '../../src/store/health';
import { inTransaction } from '../../src/store/pg-transaction';
import { openPostgresLeases, type LeaseStore } from '../../src/store/lease';
import type { Logger } from '../../src/log';
import type { ScoredMention } from '../../src/mentions/types';
import type { Store } from '../../src/store/types';
import { testStore, type TestStore } from '../helpers/stores';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const mention = (id: string): ScoredMention => ({
  id,
  stream: 'Delta',
  createdAt: '2015-02-21T10:00:00.000Z',
  text: `@Delta flight ${id} delayed again`,
  prediction: {
    label: 'negative',
    confidence: 0.9,
    probabilities: { negative: 0.9, neutral: 0.05, positive: 0.05 },
    modelVersion: 'test',
  },
});

const alert = (id: string, headline: string) => ({
  id,
  stream: 'Delta',
  state: 'open' as const,
  openedAt: '2015-02-21T10:00:00.000Z',
  updatedAt: '2015-02-21T10:00:00.000Z',
  data: { headline },
});

describe('the lease (PostgreSQL)', () => {
  let db: TestStore;
  let store: Store;
  let leases: LeaseStore;
  const opened: LeaseStore[] = [];
  const open = () => {
    const l = openPostgresLeases(db.env.DATABASE_URL, { timeoutMs: 2000 });
    opened.push(l);
    return l;
  };

  beforeAll(async () => {
    db = testStore('postgres');
    store = await db.open(); // migrated: the leases table is there
    leases = open();
  });

  afterAll(async () => {
    await Promise.all(opened.map((l) => l.close()));
    await db.cleanup();
  });

  beforeEach(() => db.exec('DELETE FROM leases'));

  test('the token moves at each acquisition, never at a renewal', async () => {
    const a = await leases.acquire('leader', 'A', 60_000);
    expect(a).toMatchObject({ acquired: true, lease: { holder: 'A', token: 1 } });
    for (let i = 0; i < 3; i++) expect(await leases.renew('leader', 'A', 1, 60_000)).toMatchObject({ token: 1 });
    // Held and unexpired: another holder gets the holder's row, not the lease.
    expect(await leases.acquire('leader', 'B', 60_000)).toMatchObject({
      acquired: false,
      lease: { holder: 'A', token: 1 },
    });
    expect(await leases.release('leader', 'A', 1)).toBe(true);
    expect(await leases.acquire('leader', 'B', 60_000)).toMatchObject({ acquired: true, lease: { token: 2 } });
    // The old term cannot renew or release what is now B's.
    expect(await leases.renew('leader', 'A', 1, 60_000)).toBeNull();
    expect(await leases.release('leader', 'A', 1)).toBe(false);
    await leases.release('leader', 'B', 2);
    expect(await leases.acquire('leader', 'A', 60_000)).toMatchObject({ acquired: true, lease: { token: 3 } });
    // The same holder acquiring again starts a new term too.
    expect(await leases.acquire('leader', 'A', 60_000)).toMatchObject({ acquired: true, lease: { token: 4 } });
  });

  test("expiry is the database's clock", async () => {
    await leases.acquire('leader', 'A', 60_000);
    // Expired in the database (whatever this process thinks): taken over at once.
    await db.exec(`UPDATE leases SET expires_at = now() - interval '1 millisecond'`);
    expect(await leases.renew('leader', 'A', 1, 60_000)).toBeNull();
    expect(await leases.acquire('leader', 'B', 60_000)).toMatchObject({ acquired: true, lease: { token: 2 } });
    // A short TTL runs out on the database's clock, not sooner.
    await leases.release('leader', 'B', 2);
    const c = await leases.acquire('leader', 'C', 400);
    expect(c.acquired).toBe(true);
    expect(await leases.acquire('leader', 'D', 400)).toMatchObject({ acquired: false });
    const { rows } = await rawQuery(db, `SELECT expires_at - acquired_at AS ttl FROM leases`);
    expect(rows[0].ttl).toMatchObject({ milliseconds: 400 });
    await sleep(450);
    expect(await leases.acquire('leader', 'D', 400)).toMatchObject({ acquired: true, lease: { token: 4 } });
  });

  test('two replicas asking at once: exactly one gets it', async () => {
    const others = Array.from({ length: 6 }, () => open());
    const results = await Promise.all(others.map((l, i) => l.acquire('leader', `R${i}`, 60_000)));
    expect(results.filter((r) => r.acquired)).toHaveLength(1);
    const winner = results.find((r) => r.acquired)!.lease!;
    // A loser names the winner, or nobody when the row was inserted after its statement's snapshot (a
    // concurrent first INSERT … ON CONFLICT sees the conflict but not the new row): never itself.
    for (const r of results.filter((x) => !x.acquired))
      if (r.lease !== null) expect(r.lease).toMatchObject({ holder: winner.holder });
  });

  describe('Leadership', () => {
    const started: Leadership[] = [];
    const leadership = (holderId: string, opts: Partial<ConstructorParameters<typeof Leadership>[0]> = {}) => {
      const l = new Leadership({ leases: open(), ttlMs: 600, holderId, ...opts });
      started.push(l);
      return l;
    };
    afterEach(async () => {
      await Promise.all(started.splice(0).map((l) => l.stop().catch(() => undefined)));
    });

    test('one leads, the other follows and knows who leads; stop() hands over at once', async () => {
      const a = leadership('A');
      const b = leadership('B');
      const acquired: string[] = [];
      a.on('acquired', () => acquired.push('A'));
      b.on('acquired', () => acquired.push('B'));
      a.start();
      await until('A leads', () => (a.term() ? true : undefined));
      b.start();
      await until('B sees A', () => (b.status().holder === 'A' ? true : undefined));
      expect(a.status()).toMatchObject({ role: 'leader', holder: 'A', token: 1 });
      expect(b.status()).toMatchObject({ role: 'follower', holder: 'A', token: 1, since: a.status().since });
      await sleep(700); // more than the TTL: A renews, B keeps following
      expect(a.status()).toMatchObject({ role: 'leader', token: 1 });
      expect(acquired).toEqual(['A']);
      expect(await a.registry.getSingleMetricAsString('sentinel_lease_renewals_total')).toMatch(
        /sentinel_lease_renewals_total [1-9]/,
      );

      const stoppedAt = Date.now();
      await a.stop();
      expect((await leases.read('leader'))!.expiresAt <= new Date().toISOString()).toBe(true);
      await until('B leads', () => (b.term() ? true : undefined));
      // B tries every TTL/3 (200 ms): well before the TTL a release saves.
      expect(Date.now() - stoppedAt).toBeLessThan(500);
      expect(b.status()).toMatchObject({ role: 'leader', holder: 'B', token: 2 });
      expect(acquired).toEqual(['A', 'B']);
    });

    test('a leader whose renewal fails steps down at once', async () => {
      const real = open();
      let partitioned = false;
      const flaky: LeaseStore = {
        acquire: (...a) => real.acquire(...a),
        renew: (...a) => (partitioned ? Promise.reject(new Error('connection refused')) : real.renew(...a)),
        release: (...a) => real.release(...a),
        read: (...a) => real.read(...a),
        close: () => real.close(),
      };
      const a = leadership('A', { leases: flaky });
      const lost: LostEvent[] = [];
      a.on('lost', (e) => lost.push(e));
      a.start();
      await until('A leads', () => (a.term() ? true : undefined));
      partitioned = true;
      const at = Date.now();
      await until('A steps down', () => (lost.length ? true : undefined));
      expect(Date.now() - at).toBeLessThan(550); // at the next renewal (TTL/3 = 200 ms), before the TTL (600 ms)
      expect(lost[0]).toMatchObject({ reason: 'renewal_failed', term: { token: 1 } });
      expect(a.status().role).toBe('follower');
      expect(await a.registry.getSingleMetricAsString('sentinel_lease_losses_total')).toMatch(
        /sentinel_lease_losses_total\{reason="renewal_failed"\} 1/,
      );
      // Back on the network: it takes the lease again (still its own, unexpired), with a new token.
      partitioned = false;
      await until('A leads again', () => (a.term() ? true : undefined));
      expect(a.term()!.token).toBe(2);
    });

    test('its own clock past the TTL without a renewal (a paused process): it steps down before anyone can take over', async () => {
      let skew = 0;
      const a = leadership('A', { now: () => performance.now() + skew });
      const lost: LostEvent[] = [];
      a.on('lost', (e) => lost.push(e));
      a.start();
      await until('A leads', () => (a.term() ? true : undefined));
      skew = 10_000; // as if the process had slept 10 s
      await until('A steps down', () => (lost.length ? true : undefined), 2000);
      expect(lost[0].reason).toBe('expired');
    });

    test('a lease taken over meanwhile: lost with reason taken', async () => {
      const a = leadership('A');
      const lost: LostEvent[] = [];
      a.on('lost', (e) => lost.push(e));
      a.start();
      await until('A leads', () => (a.term() ? true : undefined));
      await db.exec(`UPDATE leases SET holder = 'Z', token = token + 1`);
      await until('A steps down', () => (lost.length ? true : undefined));
      expect(lost[0].reason).toBe('taken');
      await until('A sees Z', () => (a.status().holder === 'Z' ? true : undefined));
    });

    test('canLead false: it never takes the lease', async () => {
      let ready = false;
      const a = leadership('A', { canLead: () => ready });
      a.start();
      await sleep(500);
      expect(a.term()).toBeNull();
      expect(await leases.read('leader')).toBeNull();
      ready = true;
      await until('A leads', () => (a.term() ? true : undefined));
    });
  });

  describe('fencing', () => {
    let token: number;
    beforeEach(async () => {
      const r = await leases.acquire('leader', 'A', 60_000);
      token = r.lease!.token;
    });

    test('writes of the current term land; once taken over, every write of the old term is refused whole', async () => {
      const fence: Fence = { name: 'leader', token };
      const view = store.fenced(fence);
      await view.saveMentions([mention('f1')]);
      await view.setCheckpoint('x:Delta', 'f1');
      await view.saveAlert(alert('fence-1', 'first'));
      await view.linkMessage({ platform: 'slack', channel: 'C1', messageId: '1.1', alertId: 'fence-1' });

      // Another replica takes over (expired, then acquired with the next token).
      await db.exec(`UPDATE leases SET expires_at = now() - interval '1 millisecond'`);
      const b = await leases.acquire('leader', 'B', 60_000);
      expect(b.lease!.token).toBe(token + 1);

      const refused = [
        () => view.saveMentions([mention('f2')]),
        () => view.setCheckpoint('x:Delta', 'f2'),
        () => view.saveAlert(alert('fence-1', 'overwritten by the old leader')),
        () => view.linkMessage({ platform: 'slack', channel: 'C1', messageId: '2.2', alertId: 'fence-1' }),
        () => view.rewriteJson('alerts', () => ({ action: 'replace', value: { headline: 'x' } })),
        () => view.prune('mentions', '2100-01-01T00:00:00Z', 10),
      ];
      for (const write of refused) {
        const err = await write().then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(FencedOutError);
        expect((err as FencedOutError).message).toMatch(/^fenced out: \w+ refused/);
      }
      // Nothing of them landed (saveMentions is one transaction: the mention and its prediction both absent).
      expect(await store.countMentions()).toBe(1);
      expect(await store.getPrediction('x:f2')).toBeNull();
      expect(await store.getCheckpoint('x:Delta')).toBe('f1');
      expect((await store.listAlerts())[0].data).toEqual({ headline: 'first' });
      expect(await store.findLink('slack', 'C1', '2.2')).toBeNull();
      // Reads are not fenced; the new term's view writes.
      expect(await view.getCheckpoint('x:Delta')).toBe('f1');
      await store.fenced({ name: 'leader', token: token + 1 }).setCheckpoint('x:Delta', 'f3');
      expect(await store.getCheckpoint('x:Delta')).toBe('f3');
    });

    test('an expired lease fences out even when nobody took it', async () => {
      await db.exec(`UPDATE leases SET expires_at = now() - interval '1 millisecond'`);
      await expect(store.fenced({ name: 'leader', token }).setCheckpoint('k', 'v')).rejects.toBeInstanceOf(
        FencedOutError,
      );
      expect(await store.getCheckpoint('k')).toBeNull();
    });

    test('the lease cannot change hands while a fenced write is in flight (its row is share-locked)', async () => {
      const view = store.fenced({ name: 'leader', token });
      await store.saveAlert(alert('slow', 'before'));
      // A slow write: the alert row is locked by another transaction, so the fenced write waits, holding the
      // lease row's share lock.
      const { Client } = await import('pg');
      const c = new Client({ connectionString: db.env.DATABASE_URL });
      await c.connect();
      try {
        await c.query('BEGIN');
        await c.query(`SELECT 1 FROM alerts WHERE id = 'slow' FOR UPDATE`);
        const write = view.saveAlert(alert('slow', 'written by the leader'));
        await sleep(200);
        let expired = false;
        const expire = db.exec(`UPDATE leases SET expires_at = now() - interval '1 millisecond'`).then(() => {
          expired = true;
        });
        await sleep(300);
        expect(expired).toBe(false); // the takeover waits for the write
        await c.query('COMMIT');
        await write; // committed under its token, before the lease changed
        await expire;
        expect((await store.listAlerts()).find((a) => a.id === 'slow')!.data).toEqual({
          headline: 'written by the leader',
        });
        expect(await leases.acquire('leader', 'B', 60_000)).toMatchObject({ acquired: true });
        await expect(view.saveAlert(alert('slow', 'too late'))).rejects.toBeInstanceOf(FencedOutError);
      } finally {
        await c.end();
      }
    });

    test('a transaction whose connection the server ends between queries (a paused leader) fails; the process goes on', async () => {
      // A SIGSTOP'd leader's transaction is ended by the server (idle_in_transaction_session_timeout); on
      // waking, its checked-out connection reports the end as an 'error' event, which must not be uncaught.
      const { Client, Pool } = await import('pg');
      const pool = new Pool({ connectionString: db.env.DATABASE_URL, max: 1 });
      const c = new Client({ connectionString: db.env.DATABASE_URL });
      await c.connect();
      const uncaught: unknown[] = [];
      const listeners = process.listeners('uncaughtException');
      process.removeAllListeners('uncaughtException');
      process.on('uncaughtException', (err) => uncaught.push(err));
      try {
        const failed = await inTransaction(pool, async (tx) => {
          const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          await c.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
          await sleep(300); // idle in transaction, as a paused process is, while the server ends it
          await tx.query('SELECT 1');
        }).then(
          () => null,
          (err: Error) => err,
        );
        expect(failed?.message).toMatch(/^PostgreSQL connection lost in a transaction: terminating connection/);
        expect(uncaught).toEqual([]);
        // The broken connection left the pool: the next transaction gets a new one.
        expect(await inTransaction(pool, async (tx) => (await tx.query('SELECT 1 AS one')).rows[0])).toEqual({
          one: 1,
        });
      } finally {
        process.removeAllListeners('uncaughtException');
        for (const l of listeners) process.on('uncaughtException', l);
        await c.end();
        await pool.end();
      }
    });

    test('leaderScoped: writes inside the term scope are fenced, others are not', async () => {
      const scoped = leaderScoped(store);
      const stale: Fence = { name: 'leader', token: token - 1 };
      const seen: FencedOutError[] = [];
      await expect(
        runFenced(
          stale,
          () => scoped.setCheckpoint('slack/alert:1', '{}'),
          (e) => seen.push(e),
        ),
      ).rejects.toBeInstanceOf(FencedOutError);
      expect(seen).toHaveLength(1);
      // Started in the scope, written later (a timer, a promise chain): still fenced.
      await expect(
        runFenced(stale, () => sleep(10).then(() => scoped.setCheckpoint('slack/alert:1', '{}'))),
      ).rejects.toBeInstanceOf(FencedOutError);
      expect(await store.getCheckpoint('slack/alert:1')).toBeNull();
      await runFenced({ name: 'leader', token }, () => scoped.setCheckpoint('slack/alert:1', '{"a":1}'));
      await scoped.setCheckpoint('slack/alert:2', '{}'); // a user's click: no scope, no fence
      expect(await store.getCheckpoint('slack/alert:1')).toBe('{"a":1}');
      expect(await store.getCheckpoint('slack/alert:2')).toBe('{}');
    });

    test("a fenced-out write says nothing of the store's health; a fenced view shares it", async () => {
      const watched = watchStoreHealth(store);
      await db.exec(`UPDATE leases SET token = token + 1`);
      await expect(watched.fenced({ name: 'leader', token }).setCheckpoint('k2', 'v')).rejects.toBeInstanceOf(
        FencedOutError,
      );
      expect(watched.health()).toEqual({ ok: true });
      const view = watched.fenced({ name: 'leader', token: token + 1 });
      await expect(view.saveAlert({ ...alert('bad', 'x'), state: 'nope' as 'open' })).rejects.toThrow();
      expect(watched.health()).toEqual({ ok: true }); // input refused: still healthy
      await expect(view.close()).resolves.toBeUndefined(); // closes nothing
      expect(await watched.getCheckpoint('k2')).toBeNull();
    });
  });

  test('LeaderWork: jobs built per term on the fenced store, stopped at a loss, fenced out logged once', async () => {
    const a = new Leadership({ leases: open(), ttlMs: 600, holderId: 'W' });
    const warnings: string[] = [];
    const log = { info: () => undefined, debug: () => undefined, error: () => undefined };
    const logger = {
      ...log,
      warn: (_o: unknown, msg?: string) => void warnings.push(String(msg)),
    } as unknown as Logger;
    const terms: Array<{ term: LeaderTerm; store: Store; stopped: boolean }> = [];
    const work = new LeaderWork({
      leader: a,
      store,
      logger,
      build: ({ term, store: fenced }) => {
        const entry = { term, store: fenced, stopped: false };
        terms.push(entry);
        return {
          poller: {
            start: () => undefined,
            stop: async () => {
              entry.stopped = true;
            },
          },
        };
      },
    });
    a.start();
    try {
      await until('first term', () => (terms.length ? true : undefined));
      await terms[0].store.setCheckpoint('w', '1');
      // Taken over behind its back: its next writes are refused, once logged, and the term ends.
      await db.exec(`UPDATE leases SET holder = 'other', token = token + 1`);
      await expect(terms[0].store.setCheckpoint('w', '2')).rejects.toBeInstanceOf(FencedOutError);
      await expect(terms[0].store.setCheckpoint('w', '3')).rejects.toBeInstanceOf(FencedOutError);
      await until('stopped', () => (terms[0].stopped ? true : undefined));
      expect(warnings.filter((w) => w.startsWith('fenced out'))).toHaveLength(1);
      expect(await store.getCheckpoint('w')).toBe('1');
      expect(work.jobs()).toBeNull();
    } finally {
      await work.stop();
      await a.stop();
    }
  });
});

describe('SQLite: one process, always the leader', () => {
  test('fenced() is the store itself; SingleLeadership leads from start to stop', async () => {
    const db = testStore('sqlite');
    try {
      const store = await db.open();
      expect(store.fenced({ name: 'leader', token: 0 })).toBe(store);
      const single = new SingleLeadership({ holderId: 'me' });
      const terms: LeaderTerm[] = [];
      single.on('acquired', (t) => terms.push(t));
      single.start();
      expect(terms).toHaveLength(1);
      expect(single.status()).toMatchObject({ role: 'single', holder: 'me', token: null });
      expect(await single.registry.getSingleMetricAsString('sentinel_leader')).toMatch(/sentinel_leader 1/);
      await single.stop();
      expect(single.term()).toBeNull();
    } finally {
      await db.cleanup();
    }
  });
});

async function rawQuery(db: TestStore, sql: string) {
  const { Client } = await import('pg');
  const c = new Client({ connectionString: db.env.DATABASE_URL });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}
