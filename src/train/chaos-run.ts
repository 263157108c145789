/**
 * One run of `npm run chaos`: a loopback X server replaying the real stream time-compressed, a
 * recording Slack Web API, a fresh PostgreSQL schema, N Sentinel replicas (src/train/chaos-fleet.ts),
 * optionally the fault schedule, then the figures (src/train/chaos-figures.ts).
 *
 * Time. The data's clock runs `speed` times faster than the wall clock from the moment every replica is
 * ready: a tweet exists (the X server serves it) once the data clock has passed its `created_at`. Faults
 * are scheduled at fractions of the data span, so they land at the same data time whatever the speed.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { Client } from 'pg';
import { XServer, tweetsFrom, type XTweet, type XUser } from '../../test/helpers/x-server';
import { SlackApiServer, type SlackCall } from '../../test/helpers/slack-api-server';
import {
  channelIdOf,
  headlineAlert,
  isAlertHeadline,
  isAlertPost,
  leadership,
  messageKey,
  postsPerMessage,
  round,
  type PostCall,
  type ReadySample,
  type SampledRole,
} from './chaos-figures';
import { Fleet, sleep, type Replica } from './chaos-fleet';
import { newApiKey } from '../http/auth';

/** The X handles of the airlines of ../shared/data/airline_stream.csv: the search query of each stream. */
export const AIRLINE_HANDLES: Record<string, string> = {
  Delta: 'Delta',
  Southwest: 'SouthwestAir',
  United: 'united',
  'US Airways': 'USAirways',
  'Virgin America': 'VirginAmerica',
  American: 'AmericanAir',
};

export interface StreamData {
  streams: string[];
  tweets: XTweet[];
  users: XUser[];
  airlineById: Map<string, string>;
  createdAtById: Map<string, number>;
  /** Data time of the first and last tweet (epoch ms). */
  start: number;
  end: number;
  /** The X_STREAMS setting and the airline each query finds. */
  xStreams: string;
  airlineByQuery: Map<string, string>;
}

export function queryOf(airline: string): string {
  return `@${AIRLINE_HANDLES[airline] ?? airline.replace(/\s+/g, '')} -is:retweet`;
}

/** The tweets of the chosen airlines (all when `streams` is empty), in X's shape, between `from` and `until`. */
export function loadStreams(path: string, streams: string[], from?: string, until?: string): StreamData {
  const rows = parse(readFileSync(path), { columns: true, skip_empty_lines: true }) as Array<Record<string, string>>;
  const lo = from ? Date.parse(from) : -Infinity;
  const hi = until ? Date.parse(until) : Infinity;
  const chosen = rows
    .filter((r) => (streams.length === 0 || streams.includes(r.airline)) && r.tweet_id && r.text)
    .map((r) => ({
      id: r.tweet_id,
      createdAt: r.created_at,
      text: r.text,
      airline: r.airline,
      t: Date.parse(r.created_at),
    }))
    .filter((r) => Number.isFinite(r.t) && r.t >= lo && r.t <= hi)
    .sort((a, b) => a.t - b.t);
  if (chosen.length === 0) throw new Error(`no tweet of ${streams.join(', ') || 'any stream'} in ${path}`);
  const names = [...new Set(chosen.map((r) => r.airline))];
  for (const s of streams)
    if (!names.includes(s)) throw new Error(`stream ${s} has no tweet in ${path} (streams: ${names.join(', ')})`);
  const users: XUser[] = Array.from({ length: 97 }, (_, i) => ({
    id: String(4_000_000_000 + i),
    username: `traveller${i}`,
    name: `Traveller ${i}`,
  }));
  const airlineByQuery = new Map(names.map((n) => [queryOf(n), n]));
  return {
    streams: names,
    tweets: tweetsFrom(chosen, users),
    users,
    airlineById: new Map(chosen.map((r) => [r.id, r.airline])),
    createdAtById: new Map(chosen.map((r) => [r.id, r.t])),
    start: chosen[0].t,
    end: chosen[chosen.length - 1].t,
    xStreams: names.map((n) => `${n}=${queryOf(n)}`).join(','),
    airlineByQuery,
  };
}

/** A URL of the test database whose connections use `schema`. */
export function schemaUrl(databaseUrl: string, schema: string): string {
  const url = new URL(databaseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

export async function withPg<T>(databaseUrl: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Creates the database when missing (as test/global-setup.ts does), then the schema. */
export async function createSchema(databaseUrl: string, schema: string): Promise<void> {
  const target = new URL(databaseUrl);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  admin.search = '';
  await withPg(admin.toString(), async (c) => {
    const found = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0)
      await c.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err;
      });
  });
  await withPg(databaseUrl, (c) => c.query(`CREATE SCHEMA ${schema}`));
}

export async function dropSchema(databaseUrl: string, schema: string): Promise<void> {
  await withPg(databaseUrl, (c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
}

export const PG_RESTART = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main restart';

export function restartPostgres(): Promise<{ ms: number; output: string }> {
  const t = Date.now();
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', PG_RESTART], { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${PG_RESTART}: ${err.message} ${stderr}`));
      else resolve({ ms: Date.now() - t, output: `${stdout}${stderr}`.trim() });
    });
  });
}

export interface RunOptions {
  label: string;
  data: StreamData;
  replicas: number;
  /** Data ms per wall ms. */
  speed: number;
  faults: boolean;
  pgRestart: boolean;
  databaseUrl: string;
  leaseTtlMs: number;
  xMaxResults: number;
  restartDelayMs: number;
  /** Milliseconds after a post that the poster is killed or stopped. */
  afterPostMs: number;
  dir: string;
  log: (m: string) => void;
}

/** What the harness did, when, to whom, and what came of it. */
export interface FaultRecord {
  kind: string;
  planned_at: number;
  at_wall_s?: number;
  at_data?: string;
  target?: string;
  [key: string]: unknown;
}

interface PlannedFault {
  at: number;
  kind: string;
  what: string;
  run: (rec: FaultRecord) => Promise<void> | void;
}

/** Figures of one run, the fields named by issue 12 first. */
export interface RunFigures {
  label: string;
  replicas: number;
  leadership_interface: 'present' | 'absent';
  mentions_in_data: number;
  mentions_served: number;
  mentions_stored: number;
  duplicated: number;
  missing: number;
  unserved: number;
  x_reads: number;
  x_reads_per_tweet: number | null;
  alerts: Array<{ stream: string; opened_at: string; resolved_at: string | null; slack_headlines: number }>;
  alerts_in_slack: Array<{ stream: string; opened_at: string | null; alert_id: string | null; posts: number }>;
  slack_posts_per_message_max: number;
  leader_changes: number | null;
  max_leaderless_s: number | null;
  [key: string]: unknown;
}

const SLACK_TOKEN = 'xoxb-chaos-token';
const X_TOKEN = 'chaos-bearer-token';
const SIGNING_SECRET = 'c0ffee'.repeat(5) + 'ab';
const ALERT_CHANNEL = '#alerts';

/** The environment of one Sentinel replica in production mode against the loopback X, Slack and PostgreSQL. */
export function replicaEnv(r: {
  port: number;
  dir: string;
  databaseUrl: string;
  apiKeys: string;
  xCertPath: string;
  xApiUrl: string;
  xStreams: string;
  slackApiUrl: string;
}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    NODE_EXTRA_CA_CERTS: r.xCertPath,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(r.port),
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    API_KEYS: r.apiKeys,
    PRIVACY_USER_ID_SECRET: 'chaos-voter-key-0123456789abcdefghijklmnop',
    DATABASE_URL: r.databaseUrl,
    DATA_DIR: r.dir,
    MODEL_CACHE_DIR: join(r.dir, 'models'),
    X_BEARER_TOKEN: X_TOKEN,
    X_API_URL: r.xApiUrl,
    X_STREAMS: r.xStreams,
    POLL_INTERVAL: '1',
    SLACK_BOT_TOKEN: SLACK_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: r.slackApiUrl,
    SLACK_ALERT_CHANNELS: ALERT_CHANNEL,
    BUNDLED_REPLAY: 'false',
    // The replayed alerts resolved in 2015: a new leader's first retention run would delete them as
    // more than a year old (RETENTION_ALERT_DAYS counts from resolved_at, on the data's clock).
    RETENTION_ALERT_DAYS: '0',
  };
}

export async function runFleet(o: RunOptions): Promise<RunFigures> {
  const { data, log } = o;
  const schema = `chaos_${o.label}_${process.pid}_${Date.now().toString(36)}`;
  const span = data.end - data.start;
  const wallSpan = span / o.speed;
  let wallStart = Infinity;
  const dataNow = () => (wallStart === Infinity ? -Infinity : data.start + (Date.now() - wallStart) * o.speed);
  const revealAt = (t: XTweet) => wallStart + ((data.createdAtById.get(t.id ?? '') ?? Infinity) - data.start) / o.speed;

  const x = await new XServer({
    token: X_TOKEN,
    tweets: data.tweets,
    users: data.users,
    rateLimit: 1_000_000, // the budget is not what is measured; 429s are injected
    clientTags: true,
    match: (t, query) => data.airlineByQuery.get(query) === data.airlineById.get(t.id ?? ''),
    revealAt,
  }).listen();
  const slack = await SlackApiServer.start(SLACK_TOKEN);
  slack.clientTags = true;
  const alertChannels = new Set([channelIdOf(ALERT_CHANNEL)]);
  await createSchema(o.databaseUrl, schema);
  const { entry } = newApiKey('chaos', ['predict', 'feedback', 'metrics']);
  const origin = new URL(x.url);

  const fleet = new Fleet({
    replicas: o.replicas,
    dir: join(o.dir, o.label),
    restartDelayMs: o.restartDelayMs,
    log,
    env: (tag, port) => ({
      ...replicaEnv({
        port,
        dir: join(o.dir, o.label, tag),
        databaseUrl: schemaUrl(o.databaseUrl, schema),
        apiKeys: entry,
        xCertPath: x.certPath,
        xApiUrl: `${origin.origin}/as/${tag}/2/`,
        xStreams: data.xStreams,
        slackApiUrl: `${slack.url}as/${tag}/api/`,
      }),
      X_MAX_RESULTS: String(o.xMaxResults),
      LEADER_LEASE_TTL_MS: String(o.leaseTtlMs),
    }),
  });

  const faults: FaultRecord[] = [];
  const pending: Array<Promise<void>> = [];
  let progress: NodeJS.Timeout | undefined;
  let endWall: number;
  try {
    log(`[${o.label}] starting ${o.replicas} replica(s); logs in ${join(o.dir, o.label)}`);
    await fleet.start();
    fleet.startSampling(200);
    // Leadership, if the processes have it: wait a little for a leader before the clock starts.
    const until = Date.now() + 4 * o.leaseTtlMs;
    while (Date.now() < until && !fleet.leader()) await sleep(200);
    log(
      fleet.leaderInterface()
        ? `[${o.label}] leader: ${fleet.leader()?.tag ?? 'none yet'}`
        : `[${o.label}] /ready has no \`leader\` field yet (leadership not landed): every replica acts alone`,
    );

    // --- faults
    /** The replica acting as leader: /ready's, else the one that last polled X. */
    const actingLeader = (): Replica | undefined => {
      const led = fleet.leader();
      if (led) return led;
      for (let i = x.requests.length - 1; i >= 0; i--) {
        const r = fleet.byTag(x.requests[i].client);
        if (r && r.state !== 'exited') return r;
      }
      return fleet.live()[0];
    };
    const stamp = (rec: FaultRecord) => {
      rec.at_wall_s = round((Date.now() - wallStart) / 1000, 2);
      rec.at_data = new Date(dataNow()).toISOString();
    };
    /** SIGCONT once another replica has taken the lease (or a time limit has passed). */
    const wakeAfterTakeover = async (r: Replica, rec: FaultRecord) => {
      const stoppedAt = Date.now();
      const limit = fleet.leaderInterface() ? 8 * o.leaseTtlMs : 2 * o.leaseTtlMs + 1000;
      let other: Replica | undefined;
      while (Date.now() - stoppedAt < limit) {
        other = fleet.leader();
        if (other && other.tag !== r.tag) break;
        other = undefined;
        await sleep(50);
      }
      rec.taken_over_by = other?.tag ?? null;
      rec.takeover_after_s = other ? round((Date.now() - stoppedAt) / 1000, 2) : null;
      fleet.cont(r);
      rec.stopped_s = round((Date.now() - stoppedAt) / 1000, 2);
      rec.woke_at_wall_s = round((Date.now() - wallStart) / 1000, 2);
      rec.woke_at = Date.now();
      log(`[${o.label}] SIGCONT ${r.tag} after ${rec.stopped_s} s (lease taken by ${other?.tag ?? 'nobody seen'})`);
    };
    /** After the n-th alert post from now, kill -9 (or SIGSTOP) its poster `afterPostMs` later. */
    /**
     * At the n-th alert post from now, kill -9 (or SIGSTOP) its poster: `afterPostMs` after Slack's answer
     * was written, or (`beforeAnswer`) once Slack has posted it but before the answer leaves — the poster
     * never hears that its message is in the channel.
     */
    const armAfterPost = (
      rec: FaultRecord,
      n: number,
      signal: 'SIGKILL' | 'SIGSTOP',
      when: 'after-answer' | 'before-answer' = 'after-answer',
    ) => {
      let seen = 0;
      rec.armed = true;
      rec.fired = false;
      const hit = (call: SlackCall, r: Replica, answeredAt: number | null) => {
        const firedAt = Date.now();
        if (signal === 'SIGKILL') fleet.kill(r);
        else fleet.stop(r);
        stamp(rec);
        Object.assign(rec, {
          fired: true,
          target: r.tag,
          ms_after_post: firedAt - call.at,
          ...(answeredAt === null ? { before_answer: true } : { ms_after_answer: firedAt - answeredAt }),
          post: isAlertHeadline(call)
            ? 'alert headline'
            : `thread message (${String(call.args.text ?? '').slice(0, 60)})`,
        });
        log(
          `[${o.label}] ${signal} ${r.tag} ${firedAt - call.at} ms after its post${answeredAt === null ? ', before the answer left' : ''} (${String(rec.post)})`,
        );
        if (signal === 'SIGSTOP') pending.push(wakeAfterTakeover(r, rec));
      };
      const listener = (call: SlackCall, phase: 'before-answer' | 'after-answer') => {
        if (phase !== when || !call.ok || !isAlertPost(call, alertChannels)) return;
        if (++seen < n) return;
        listeners.delete(listener);
        const r = fleet.byTag(call.client);
        if (!r || r.state === 'exited') return;
        if (phase === 'before-answer') return hit(call, r, null);
        const answeredAt = Date.now();
        setTimeout(() => hit(call, r, answeredAt), o.afterPostMs);
      };
      listeners.add(listener);
    };
    const listeners = new Set<(call: SlackCall, phase: 'before-answer' | 'after-answer') => void>();
    slack.onCall = (call) => {
      for (const l of [...listeners]) l(call, 'after-answer');
    };
    slack.beforeAnswer = (call) => {
      for (const l of [...listeners]) l(call, 'before-answer');
    };

    const plan: PlannedFault[] = o.faults
      ? [
          {
            at: 0.1,
            kind: 'x_429',
            what: 'X answers 429 three times (x-rate-limit-reset 3 s ahead each)',
            run: (rec) => {
              const reset = Math.ceil(Date.now() / 1000) + 3;
              x.failNext({ status: 429, reset }, { status: 429, reset }, { status: 429, reset: reset + 1 });
              rec.reset = new Date(reset * 1000).toISOString();
            },
          },
          {
            at: 0.18,
            kind: 'kill_leader',
            what: 'kill -9 the leader mid-run',
            run: (rec) => {
              const r = actingLeader();
              if (!r) return;
              rec.target = r.tag;
              fleet.kill(r);
            },
          },
          {
            at: 0.28,
            kind: 'x_503',
            what: 'X answers 503 six times in a row',
            run: () => x.failNext(...Array.from({ length: 6 }, () => ({ status: 503 }))),
          },
          {
            at: 0.36,
            kind: 'sigstop_leader',
            what: 'SIGSTOP the leader; SIGCONT once another replica holds the lease',
            run: (rec) => {
              const r = actingLeader();
              if (!r) return;
              rec.target = r.tag;
              fleet.stop(r);
              pending.push(wakeAfterTakeover(r, rec));
            },
          },
          ...(o.pgRestart
            ? [
                {
                  at: 0.46,
                  kind: 'postgres_restart',
                  what: PG_RESTART,
                  run: async (rec: FaultRecord) => {
                    const done = restartPostgres()
                      .then((r) => {
                        rec.restart_ms = r.ms;
                        log(`[${o.label}] PostgreSQL restarted in ${r.ms} ms`);
                      })
                      .catch((err: Error) => {
                        rec.error = err.message;
                        log(`[${o.label}] PostgreSQL restart failed: ${err.message}`);
                      });
                    pending.push(done);
                  },
                },
              ]
            : []),
          {
            at: 0.5,
            kind: 'slack_429_503',
            what: 'the next chat.postMessage calls meet 429 (Retry-After 1 s), 429 (Retry-After 2 s), 503, and a 503 after the message was posted (the answer lost)',
            run: () =>
              slack.fail(
                'chat.postMessage',
                { status: 429, retryAfter: 1 },
                { status: 429, retryAfter: 2 },
                { status: 503 },
                { status: 503, processed: true },
              ),
          },
          {
            at: 0.5,
            kind: 'kill_after_post',
            what: `kill -9 the poster ${o.afterPostMs} ms after the next alert post`,
            run: (rec) => armAfterPost(rec, 1, 'SIGKILL'),
          },
          {
            at: 0.66,
            kind: 'sigstop_after_post',
            what: `SIGSTOP the poster ${o.afterPostMs} ms after the 3rd alert post from here; SIGCONT once another replica holds the lease`,
            run: (rec) => armAfterPost(rec, 3, 'SIGSTOP'),
          },
          {
            at: 0.8,
            kind: 'kill_after_post',
            what: 'kill -9 the poster of the next alert post once Slack has posted it, before the answer leaves',
            run: (rec) => armAfterPost(rec, 1, 'SIGKILL', 'before-answer'),
          },
        ]
      : [];
    for (const p of plan)
      log(
        `[${o.label}] fault at ${Math.round(p.at * 100)} % (data ${new Date(data.start + p.at * span).toISOString()}): ${p.what}`,
      );

    // --- the run
    wallStart = Date.now();
    log(
      `[${o.label}] replay: ${data.tweets.length} tweets, ${new Date(data.start).toISOString()} → ${new Date(data.end).toISOString()}, ${o.speed}× (${Math.round(wallSpan / 1000)} s)`,
    );
    progress = setInterval(() => {
      const served = new Set(x.requests.flatMap((r) => r.tweetIds ?? [])).size;
      const posts = slack.calls.filter((c) => c.method === 'chat.postMessage' && c.ok).length;
      const live = fleet.live();
      log(
        `[${o.label}] ${Math.min(100, Math.round(((dataNow() - data.start) / span) * 100))} % data ${new Date(Math.min(dataNow(), data.end)).toISOString().slice(0, 16)} served ${served} posts ${posts} leader ${fleet.leader()?.tag ?? '-'} live ${live.filter((r) => r.state === 'ready').length}/${live.length}`,
      );
    }, 10_000);
    const queue = [...plan];
    while (dataNow() < data.end) {
      while (queue.length && dataNow() >= data.start + queue[0].at * span) {
        const p = queue.shift()!;
        const rec: FaultRecord = { kind: p.kind, planned_at: p.at, what: p.what };
        stamp(rec);
        faults.push(rec);
        log(`[${o.label}] fault: ${p.what}${rec.target ? ` (${rec.target})` : ''}`);
        await p.run(rec);
        if (rec.target) log(`[${o.label}]   → ${rec.target}`);
      }
      await sleep(20);
    }

    // --- drain: every tweet served and stored, nothing posted for a while
    log(`[${o.label}] data clock at the end; draining`);
    const drainUntil = Date.now() + 120_000;
    const schemaDb = schemaUrl(o.databaseUrl, schema);
    for (;;) {
      await Promise.all(pending.splice(0));
      const served = new Set(x.requests.flatMap((r) => r.tweetIds ?? []));
      const stored = await withPg(schemaDb, async (c) =>
        Number((await c.query('SELECT count(*) AS n FROM mentions')).rows[0].n),
      ).catch(() => -1);
      const lastPost = Math.max(0, ...slack.calls.map((c) => c.at));
      const quiet = Date.now() - lastPost > 10_000;
      if ((served.size >= data.tweets.length && stored >= served.size && quiet) || Date.now() > drainUntil) break;
      await sleep(1000);
    }
    endWall = Date.now();
    for (const r of fleet.live()) fleet.cont(r);
    clearInterval(progress);
    fleet.stopSampling();
    for (const rec of faults) delete rec.woke_at;
    slack.onCall = undefined;
    slack.beforeAnswer = undefined;

    // --- figures
    const served = new Set<string>();
    let reads = 0;
    const xByClient: Record<string, { requests: number; reads: number }> = {};
    const xStatuses: Record<string, number> = {};
    for (const r of x.requests) {
      const who = (xByClient[r.client ?? '?'] ??= { requests: 0, reads: 0 });
      who.requests++;
      xStatuses[String(r.answer)] = (xStatuses[String(r.answer)] ?? 0) + 1;
      for (const id of r.tweetIds ?? []) {
        served.add(id);
        reads++;
        who.reads++;
      }
    }
    const db = await withPg(schemaDb, async (c) => {
      const ids = (await c.query('SELECT id FROM mentions')).rows.map((r: { id: string }) => r.id);
      const alerts = (
        await c.query('SELECT id, stream, state, opened_at, resolved_at FROM alerts ORDER BY opened_at, stream')
      ).rows as Array<{
        id: string;
        stream: string;
        state: string;
        opened_at: Date | string;
        resolved_at: Date | string | null;
      }>;
      return { ids, alerts };
    });
    const storedIds = new Set(db.ids);
    const missing = [...served].filter((id) => !storedIds.has(id));
    const unserved = data.tweets.filter((t) => !served.has(t.id!)).length;

    // Posts counted twice over: the successful calls, and what Slack holds at the end (a call answered
    // 5xx after Slack posted the message is a message all the same).
    const delivered = deliveredPosts(slack, slack.calls);
    const byCalls = postsPerMessage(slack.calls, alertChannels);
    const bySlack = postsPerMessage(delivered, alertChannels);
    const posts = bySlack.max >= byCalls.max ? bySlack : byCalls;
    const files = filesPerShare(slack);
    const headlines = delivered.filter((c) => isAlertHeadline(c));
    const iso = (v: Date | string | null) => (v === null ? null : new Date(v).toISOString());
    const headlinesOf = (alertId: string) => headlines.filter((h) => headlineAlert(h).alertId === alertId).length;
    const alerts = db.alerts.map((a) => ({
      stream: a.stream,
      opened_at: iso(a.opened_at)!,
      resolved_at: iso(a.resolved_at),
      slack_headlines: headlinesOf(a.id),
    }));
    const byHeadline = new Map<
      string,
      { stream: string; opened_at: string | null; alert_id: string | null; posts: number }
    >();
    for (const h of headlines) {
      const { alertId, stream } = headlineAlert(h);
      const key = alertId ?? `text:${String(h.args.text)}`;
      const row = db.alerts.find((a) => a.id === alertId);
      const e = byHeadline.get(key) ?? {
        stream: stream ?? row?.stream ?? '?',
        opened_at: row ? iso(row.opened_at) : null,
        alert_id: alertId ?? null,
        posts: 0,
      };
      e.posts++;
      byHeadline.set(key, e);
    }
    const lead = leadership(fleet.samples, endWall);
    const present = fleet.leaderInterface();

    // Alert posts and X reads by a replica whose last /ready said it was a follower at the time.
    const roleAt = (tag: string | undefined, t: number): SampledRole | undefined => roleBefore(fleet.samples, tag, t);
    const followerPosts = slack.calls.filter(
      (c) =>
        c.method === 'chat.postMessage' &&
        c.ok &&
        isAlertPost(c, alertChannels) &&
        roleAt(c.client, c.at) === 'follower',
    ).length;
    const followerReads = x.requests
      .filter((r) => roleAt(r.client, r.at) === 'follower')
      .reduce((n, r) => n + (r.tweetIds?.length ?? 0), 0);

    const postsByClient: Record<string, number> = {};
    for (const c of slack.calls)
      if (c.method === 'chat.postMessage' && c.ok)
        postsByClient[c.client ?? '?'] = (postsByClient[c.client ?? '?'] ?? 0) + 1;
    const slackMethods: Record<string, number> = {};
    for (const c of slack.calls) slackMethods[c.method] = (slackMethods[c.method] ?? 0) + 1;

    const figures: RunFigures = {
      label: o.label,
      replicas: o.replicas,
      leadership_interface: present ? 'present' : 'absent',
      mentions_in_data: data.tweets.length,
      mentions_served: served.size,
      mentions_stored: storedIds.size,
      duplicated: db.ids.length - storedIds.size,
      missing: missing.length,
      ...(missing.length ? { missing_ids: missing.slice(0, 20) } : {}),
      unserved,
      stored_not_served: db.ids.filter((id) => !served.has(id)).length,
      x_reads: reads,
      x_requests: x.requests.length,
      x_answers: xStatuses,
      x_reads_per_tweet: served.size ? round(reads / served.size, 3) : null,
      x_by_replica: xByClient,
      x_reads_by_followers: present ? followerReads : null,
      alerts,
      alerts_in_slack: [...byHeadline.values()],
      slack_posts: byCalls.posts,
      slack_messages: bySlack.posts,
      slack_posts_with_metadata: byCalls.with_metadata,
      slack_posts_per_message_max: Math.max(byCalls.max, bySlack.max),
      slack_posts_per_message_max_by_calls: byCalls.max,
      slack_posts_per_message_max_in_slack: bySlack.max,
      slack_posts_per_message_max_alerts: posts.max_alert_posts,
      slack_posts_per_message_max_other: posts.max_other_posts,
      slack_doubled: posts.doubled,
      slack_file_shares: files.shares,
      slack_file_shares_per_chart_max: files.max,
      slack_posts_by_replica: postsByClient,
      slack_calls_by_method: slackMethods,
      slack_alert_posts_by_followers: present ? followerPosts : null,
      leader_changes: present ? lead.leader_changes : null,
      max_leaderless_s: present ? lead.max_leaderless_s : null,
      leaderless_over_1s: present ? lead.leaderless : [],
      samples_with_two_leaders: present ? lead.samples_with_two_leaders : null,
      leaders: lead.leaders,
      faults,
      restarts: fleet.restarts.length,
      unexpected_exits: fleet.unexpectedExits,
      log_errors: fleet.logErrors(),
      data_from: new Date(data.start).toISOString(),
      data_to: new Date(data.end).toISOString(),
      speed: o.speed,
      replay_wall_s: round(wallSpan / 1000, 1),
      run_wall_s: round((endWall - wallStart) / 1000, 1),
      logs: join(o.dir, o.label),
    };
    return figures;
  } finally {
    clearInterval(progress);
    await Promise.allSettled(pending);
    await fleet.shutdown();
    await x.close().catch(() => undefined);
    await slack.close().catch(() => undefined);
    await dropSchema(o.databaseUrl, schema).catch((err: Error) =>
      log(`could not drop schema ${schema}: ${err.message}`),
    );
  }
}

/**
 * What Slack holds at the end, as posts: every message (edits applied; metadata kept), its poster found
 * among the chat.postMessage calls of the same message (ok, or failed after Slack posted it).
 */
export function deliveredPosts(slack: SlackApiServer, calls: SlackCall[]): PostCall[] {
  const byKey = new Map<string, SlackCall[]>();
  for (const c of calls) {
    if (c.method !== 'chat.postMessage' || !(c.ok || c.status >= 500)) continue;
    const key = messageKey(c);
    byKey.set(key, [...(byKey.get(key) ?? []), c]);
  }
  const posts: PostCall[] = [...slack.messages.values()].map((m) => ({
    method: 'chat.postMessage',
    ok: true,
    at: Math.round(Number(m.ts) * 1000),
    args: {
      channel: m.channel,
      text: m.text,
      blocks: m.blocks,
      ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
      ...(m.metadata ? { metadata: m.metadata } : {}),
    },
  }));
  posts.sort((a, b) => a.at - b.at);
  // The poster: the call of the same message that arrived last before Slack stamped it (its ts is the
  // wall clock when the call ran), noted with its status when it failed after posting.
  for (const p of posts) {
    const before = (byKey.get(messageKey(p)) ?? []).filter((c) => c.at <= p.at + 1);
    const c = before[before.length - 1];
    if (c) p.client = `${c.client ?? '?'}${c.ok ? '' : ` (answered ${c.status})`}`;
  }
  return posts;
}

/** Charts shared in Slack (file messages), grouped by channel, thread and title. */
export function filesPerShare(slack: SlackApiServer): { shares: number; max: number } {
  const groups = new Map<string, number>();
  let shares = 0;
  for (const m of slack.fileMessages.values()) {
    for (const f of m.files ?? []) {
      shares++;
      const key = `${m.channel}|${m.thread_ts ?? ''}|${f.title ?? f.name}`;
      groups.set(key, (groups.get(key) ?? 0) + 1);
    }
  }
  return { shares, max: Math.max(0, ...groups.values()) };
}

/** The role `tag` reported in the last sample at or before `t`. */
export function roleBefore(samples: ReadySample[], tag: string | undefined, t: number): SampledRole | undefined {
  if (!tag) return undefined;
  let lo = 0;
  let hi = samples.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (samples[mid].t <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  for (let i = found; i >= 0; i--) {
    const role = samples[i].roles[tag];
    if (role !== undefined) return role;
  }
  return undefined;
}

export { SIGNING_SECRET, SLACK_TOKEN, X_TOKEN, ALERT_CHANNEL };
