/**
 * Several Sentinel processes for real (`node --import tsx src/main.ts`), on one PostgreSQL schema and one X
 * API served on loopback, with a short lease (LEADER_LEASE_TTL_MS=1500), killed and paused with real signals:
 *
 * (a) two replicas started together: exactly one leads; only its process calls X; every tweet is fetched and
 *     stored once; both /ready answers agree on who leads;
 * (b) kill -9 of the leader: the other takes over within TTL + one renewal period and goes on from the stored
 *     checkpoint (its first search asks since the last tweet stored: nothing fetched twice);
 * (c) SIGSTOP of the leader in the middle of a poll (X's answer held until it is paused) past the TTL, another
 *     replica takes over, SIGCONT: the old leader finds it lost the lease and steps down, and what its poll
 *     then tries to write is refused (logged once as "fenced out"): none of it lands.
 *
 * And SQLite: a second process on the same file is refused, naming SQLITE_PATH and the pid that holds it; a
 * kill -9 leaves no stale lock; the privacy CLI opens the file beside a running server.
 *
 * Each process reaches X through its own TCP forwarder on loopback, so the X server tells the processes
 * apart by the Host header of their requests (127.0.0.1:<forwarder port>).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { Client } from 'pg';
import { openPostgresStore } from '../../src/store/postgres';
import type { Store } from '../../src/store/types';
import { startXServer, tweetsFrom, type XServer, type XTweet } from '../helpers/x-server';
import { TEST_DATABASE_URL } from '../global-setup';

const ROOT = resolve(__dirname, '../..');
const PG_URL = process.env.TEST_DATABASE_URL ?? TEST_DATABASE_URL;
const TTL = 1500;
const PERIOD = TTL / 3;

jest.setTimeout(180_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => ok(port));
    });
  });
}

/** A plain TCP forwarder to the X server: each process gets its own port, so its Host header names it. */
class Forwarder {
  port = 0;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  constructor(targetPort: number) {
    this.server = createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).on('error', () => undefined);
      upstream.pipe(client).on('error', () => undefined);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }
  async listen(): Promise<this> {
    await new Promise<void>((ok) => this.server.listen(0, '127.0.0.1', ok));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }
}

interface Proc {
  name: string;
  child: ChildProcess;
  base: string;
  fwd: Forwarder;
  output(): string;
  lines(): Array<Record<string, unknown> & { msg?: string; time?: number }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(name: string, env: Record<string, string>, fwd: Forwarder, port: number): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) =>
    child.once('exit', (code, signal) => ok({ code, signal })),
  );
  return {
    name,
    child,
    base: `http://127.0.0.1:${port}`,
    fwd,
    output: () => out,
    lines: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown> & { msg?: string; time?: number }),
    exited,
  };
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  procs: Proc[] = [],
  ms = 60_000,
) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await Promise.resolve()
      .then(probe)
      .catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end)
      throw new Error(
        `timed out waiting for ${what}\n` + procs.map((p) => `--- ${p.name}:\n${p.output().slice(-4000)}`).join('\n'),
      );
    await sleep(100);
  }
}

interface LeaderField {
  role: 'leader' | 'follower' | 'single';
  holder: string | null;
  token: number | null;
  since: string | null;
}

async function leaderOf(p: Proc): Promise<LeaderField | undefined> {
  const res = await fetch(`${p.base}/ready`);
  if (!res.ok) return undefined;
  return ((await res.json()) as { leader?: LeaderField }).leader;
}

async function metric(p: Proc, name: string): Promise<number> {
  const text = await (await fetch(`${p.base}/metrics`)).text();
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
}

/** Real texts of the airline data with ids after `after` (new tweets arriving). */
function newTweets(after: bigint, n: number, texts: string[], startAt: number): XTweet[] {
  return tweetsFrom(
    Array.from({ length: n }, (_, i) => ({
      id: String(after + BigInt((i + 1) * 1000)),
      createdAt: new Date(startAt + i * 60_000).toISOString(),
      text: texts[i % texts.length],
    })),
    [{ id: '3001', username: 'flyer' }],
  );
}

const maxId = (tweets: XTweet[]) => tweets.map((t) => BigInt(t.id!)).reduce((a, b) => (a > b ? a : b));

describe('replicas on one PostgreSQL', () => {
  let x: XServer;
  let schema: string;
  let admin: Client;
  let databaseUrl: string;
  let reader: Store;
  let dataDir: string;
  const procs: Proc[] = [];
  const forwarders: Forwarder[] = [];
  let rows: Array<Record<string, string>>;
  /** Requests to hold (their answer computed at once, sent on release), by the Host header they come with. */
  const holdFor = new Set<string>();
  const held: Array<() => void> = [];

  const start = async (name: string): Promise<Proc> => {
    const fwd = await new Forwarder(Number(new URL(x.url).port)).listen();
    forwarders.push(fwd);
    const p = run(
      name,
      {
        DATABASE_URL: databaseUrl,
        X_BEARER_TOKEN: x.token,
        X_API_URL: `https://${fwd.host}/2/`,
        X_TIMEOUT_MS: '60000',
        NODE_EXTRA_CA_CERTS: x.certPath,
        POLL_INTERVAL: '1',
        LEADER_LEASE_TTL_MS: String(TTL),
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'info',
        DATA_DIR: dataDir,
      },
      fwd,
      await freePort(),
    );
    procs.push(p);
    return p;
  };
  const fromProc = (p: Proc) => x.requests.filter((r) => r.headers.host === p.fwd.host && r.path.startsWith('/2/'));
  const fetchedIds = () => x.requests.flatMap((r) => r.tweetIds ?? []);
  const checkpoint = () => reader.getCheckpoint('x:AirParadis');

  beforeAll(async () => {
    rows = parse(readFileSync(join(ROOT, 'test/fixtures/airline_stream_sample.csv')), { columns: true, bom: true });
    x = await startXServer({
      tweets: tweetsFrom(
        rows.map((r) => ({ id: r.tweet_id, createdAt: r.created_at, text: r.text })),
        [{ id: '3001', username: 'flyer' }],
      ),
    });
    // Held answers: computed when the request arrives (as X would), delivered later.
    const server = x as unknown as { handle(req: { headers: Record<string, unknown> }, res: object): void };
    const handle = server.handle.bind(x);
    server.handle = (req, res) => {
      if (!holdFor.has(String(req.headers.host))) return handle(req, res);
      const calls: Array<() => void> = [];
      const deferred: object = new Proxy(res, {
        get(target, prop) {
          const v = Reflect.get(target, prop) as unknown;
          if (typeof v !== 'function') return v;
          return (...args: unknown[]) => {
            calls.push(() => (v as (...a: unknown[]) => unknown).apply(target, args));
            return deferred;
          };
        },
      });
      handle(req, deferred);
      held.push(() => calls.splice(0).forEach((c) => c()));
    };
    schema = `replicas_${process.pid}_${Date.now() % 100000}`;
    admin = new Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA "${schema}"`);
    databaseUrl = `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    dataDir = mkdtempSync(join(tmpdir(), 'sentinel-replicas-'));
  });

  afterAll(async () => {
    for (const p of procs) {
      if (p.child.signalCode === 'SIGSTOP') p.child.kill('SIGCONT');
      if (p.child.exitCode === null && p.child.signalCode !== 'SIGKILL') p.child.kill('SIGKILL');
    }
    await Promise.all(procs.map((p) => p.exited));
    await reader?.close();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    await Promise.all(forwarders.map((f) => f.close()));
    await x.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  let leader: Proc;
  let follower: Proc;
  let firstToken: number;

  it('(a) two replicas: exactly one leads, only it calls X, every tweet fetched and stored once', async () => {
    const [a, b] = await Promise.all([start('A'), start('B')]);
    const roles = await until(
      'one leader and one follower',
      async () => {
        const [la, lb] = await Promise.all([leaderOf(a), leaderOf(b)]);
        if (!la || !lb) return undefined;
        const r = [la.role, lb.role].sort().join(',');
        return r === 'follower,leader' && la.holder === lb.holder && la.holder !== null ? { la, lb } : undefined;
      },
      [a, b],
    );
    [leader, follower] = roles.la.role === 'leader' ? [a, b] : [b, a];
    const l = roles.la.role === 'leader' ? roles.la : roles.lb;
    const f = roles.la.role === 'leader' ? roles.lb : roles.la;
    expect(l.holder).toMatch(new RegExp(`:${leader.child.pid}:[0-9a-f]{6}$`)); // hostname:pid:random
    expect(f).toEqual({ role: 'follower', holder: l.holder, token: l.token, since: l.since });
    firstToken = l.token!;

    reader = openPostgresStore(databaseUrl);
    await until('every tweet stored', async () => ((await reader.countMentions()) === rows.length ? true : undefined), [
      a,
      b,
    ]);
    const newest = String(maxId(x.tweets));
    await until('the checkpoint at the newest tweet', async () => ((await checkpoint()) === newest ? true : undefined));
    await sleep(2 * TTL); // a few more polls and renewals

    expect(fromProc(leader).length).toBeGreaterThan(0);
    expect(fromProc(follower)).toEqual([]); // the follower never called X
    const ids = fetchedIds();
    expect(ids).toHaveLength(rows.length); // each tweet fetched once
    expect(new Set(ids).size).toBe(rows.length);
    expect(await reader.countMentions()).toBe(rows.length);

    expect(await metric(leader, 'sentinel_leader')).toBe(1);
    expect(await metric(follower, 'sentinel_leader')).toBe(0);
    expect(await metric(leader, 'sentinel_lease_renewals_total')).toBeGreaterThanOrEqual(3);
    expect(await metric(follower, 'sentinel_polls_total')).toBe(0);
    expect(await metric(leader, 'sentinel_polls_total')).toBeGreaterThan(0);
    // Nothing doubled: the follower's ops notices and polls never ran; both said who they are.
    expect(leader.lines().filter((m) => String(m.msg).startsWith('leader: this replica leads now'))).toHaveLength(1);
    expect(follower.lines().some((m) => String(m.msg).startsWith(`follower: ${l.holder} leads`))).toBe(true);
  });

  it('(b) kill -9 of the leader: the other takes over within TTL + one period and resumes from the checkpoint', async () => {
    const stored = await checkpoint();
    expect(stored).toBe(String(maxId(x.tweets)));
    const requestsBefore = x.requests.length;
    const killedAt = Date.now();
    leader.child.kill('SIGKILL');
    await leader.exited;
    // New tweets arrive meanwhile.
    const texts = rows.map((r) => r.text);
    const t2 = newTweets(BigInt(stored!), 5, texts, Date.parse('2015-02-17T12:00:00Z'));
    x.addTweets(...t2);

    const taken = await until(
      'the follower to lead',
      () => follower.lines().find((m) => String(m.msg).startsWith('leader: this replica leads now')),
      [follower],
    );
    const takeoverMs = Number(taken.time) - killedAt;
    // The lease expires at most TTL after the last renewal before the kill; the follower tries every TTL/3.
    // (1 s of slack for a loaded machine.)
    expect(takeoverMs).toBeLessThanOrEqual(TTL + PERIOD + 1000);
    const l = await until('its /ready to say leader', async () => {
      const s = await leaderOf(follower);
      return s?.role === 'leader' ? s : undefined;
    });
    expect(l.token).toBe(firstToken + 1);

    await until(
      'the new tweets stored',
      async () => ((await reader.countMentions()) === rows.length + t2.length ? true : undefined),
      [follower],
    );
    // It went on from the checkpoint: its first search asked for what came after the last stored tweet.
    const mine = x.requests.slice(requestsBefore).filter((r) => r.headers.host === follower.fwd.host);
    expect(mine[0].query.since_id).toBe(stored);
    const ids = fetchedIds();
    expect(new Set(ids).size).toBe(ids.length); // no tweet fetched twice
    // The checkpoint is written after the mentions (by design: a crash between the two re-reads, never loses):
    // on a loaded machine it can trail the count by a moment.
    await until(
      'the checkpoint to follow',
      async () => ((await checkpoint()) === String(maxId(t2)) ? true : undefined),
      [follower],
    );
    expect(await checkpoint()).toBe(String(maxId(t2)));
    leader = follower;
  });

  it('(c) SIGSTOP of the leader mid-poll past the TTL: another takes over; on SIGCONT the old one steps down and writes nothing', async () => {
    const old = leader;
    const fresh = await start('C');
    await until(
      'C to follow',
      async () => {
        const s = await leaderOf(fresh);
        return s?.role === 'follower' && s.holder !== null ? s : undefined;
      },
      [fresh],
    );
    const oldStatus = (await leaderOf(old))!;
    const texts = rows.map((r) => r.text).reverse();
    const base = maxId(x.tweets);

    // T3 arrives; the leader's poll that finds it is answered only once the leader is paused.
    const t3 = newTweets(base, 3, texts, Date.parse('2015-02-17T13:00:00Z'));
    const t3ids = t3.map((t) => t.id!);
    holdFor.add(old.fwd.host);
    const mark = x.requests.length;
    x.addTweets(...t3);
    await until(
      "the old leader's poll of T3",
      () =>
        x.requests.slice(mark).some((r) => r.headers.host === old.fwd.host && r.tweetIds?.includes(t3ids[0]))
          ? true
          : undefined,
      [old],
    );
    old.child.kill('SIGSTOP');
    const stoppedAt = Date.now();

    // T3 is withdrawn (only the paused leader has it) and T4 arrives; C takes over and stores T4.
    for (const id of t3ids)
      x.tweets.splice(
        x.tweets.findIndex((t) => t.id === id),
        1,
      );
    const t4 = newTweets(base + 10_000n, 4, texts.slice(5), Date.parse('2015-02-17T14:00:00Z'));
    x.addTweets(...t4);
    const c = await until(
      'C to lead',
      async () => {
        const s = await leaderOf(fresh);
        return s?.role === 'leader' ? s : undefined;
      },
      [fresh],
    );
    expect(c.token).toBe(oldStatus.token! + 1);
    await until('T4 stored by C', async () => ((await checkpoint()) === String(maxId(t4)) ? true : undefined), [fresh]);
    // Not before the lease ran out: it was last renewed at most a renewal period (TTL/3) before the stop.
    expect(Date.now() - stoppedAt).toBeGreaterThan(TTL - TTL / 3);

    // The old leader wakes up with its poll's answer (T3) waiting.
    holdFor.delete(old.fwd.host);
    held.splice(0).forEach((release) => release());
    old.child.kill('SIGCONT');

    const after = await until(
      'the old leader to follow C',
      async () => {
        const s = await leaderOf(old);
        return s?.role === 'follower' && s.holder === c.holder ? s : undefined;
      },
      [old],
    );
    expect(after.token).toBe(c.token);
    expect(old.lines().some((m) => String(m.msg).startsWith('leader: lost the lease'))).toBe(true);
    // Its poll went on and tried to store T3: refused in the write's own transaction, and said once.
    await until(
      'the refused write',
      () => (old.lines().some((m) => String(m.msg).startsWith('fenced out')) ? true : undefined),
      [old],
    );
    await sleep(2 * TTL);
    expect(old.lines().filter((m) => String(m.msg).startsWith('fenced out'))).toHaveLength(1);

    // None of it landed: no T3 mention or prediction, the checkpoint is C's.
    for (const id of t3ids) expect(await reader.getPrediction(`x:${id}`)).toBeNull();
    expect(await reader.countMentions()).toBe(rows.length + 5 + t4.length);
    expect(await checkpoint()).toBe(String(maxId(t4)));
    expect(await metric(old, 'sentinel_lease_losses_total')).toBe(1);
    expect(await metric(old, 'sentinel_leader')).toBe(0);
    expect(await metric(fresh, 'sentinel_leader')).toBe(1);

    // SIGTERM of the leader: it releases the lease; the other takes over at its next try, not after the TTL.
    const termAt = Date.now();
    fresh.child.kill('SIGTERM');
    expect(await fresh.exited).toEqual({ code: 0, signal: null });
    await until(
      'the old leader to lead again',
      async () => ((await leaderOf(old))?.role === 'leader' ? true : undefined),
      [old],
    );
    expect(Date.now() - termAt).toBeLessThan(TTL + PERIOD + 3000); // shutdown itself takes a moment
    expect(
      old.lines().find((m) => String(m.msg).startsWith('leader: this replica leads now') && Number(m.time) > termAt),
    ).toBeDefined();
  });
});

describe('SQLite: one process per file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-sqlite-one-'));
  const dbPath = join(dir, 'sentinel.db');
  const procs: Proc[] = [];
  const env = { SQLITE_PATH: dbPath, BUNDLED_REPLAY: 'false', LOG_FORMAT: 'json', DATA_DIR: dir };

  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a second process on the same file, naming SQLITE_PATH and the pid; kill -9 leaves no stale lock', async () => {
    const fwd = new Forwarder(0); // unused: no X here
    const first = run('first', env, fwd, await freePort());
    procs.push(first);
    const l = await until('the first to be ready', () => leaderOf(first), [first]);
    expect(l).toMatchObject({ role: 'single', token: null });
    expect(l.holder).toMatch(new RegExp(`:${first.child.pid}:`));
    expect(
      first.lines().some((m) => m.msg === 'SQLite: one process only; use PostgreSQL (DATABASE_URL) for replicas'),
    ).toBe(true);

    const second = run('second', env, fwd, await freePort());
    procs.push(second);
    expect(await second.exited).toEqual({ code: 1, signal: null });
    expect(second.output()).toContain(
      `sentinel: SQLITE_PATH ${dbPath} is in use by another Sentinel process (pid ${first.child.pid})`,
    );
    expect(second.output()).toContain('use PostgreSQL (DATABASE_URL) to run several replicas');

    // The privacy CLI opens the same file beside the running server (SQLite takes turns between them).
    const erase = spawnSync(process.execPath, ['--import', 'tsx', 'src/privacy-cli.ts', '--tweet', '123'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, SQLITE_PATH: dbPath },
      encoding: 'utf8',
    });
    expect(erase.status).toBe(0);

    first.child.kill('SIGKILL');
    await first.exited;
    const third = run('third', env, fwd, await freePort());
    procs.push(third);
    expect(await until('the third to be ready', () => leaderOf(third), [third])).toMatchObject({ role: 'single' });
    third.child.kill('SIGTERM');
    expect(await third.exited).toEqual({ code: 0, signal: null });
  });
});
