/**
 * Load and soak for `npm run chaos -- --load`: one production-like Sentinel process (PostgreSQL, Slack,
 * API keys) under autocannon on loopback.
 *
 * - Ladder: `POST /predict` (with an API key) and the signed slash command (`/sentiment <text>` POSTed
 *   to /slack/events, signed per request exactly as Slack signs it: test/helpers/slack-requests.ts) at
 *   increasing concurrency, `duration` s each: throughput, p50/p99, errors (non-2xx, timeouts, socket
 *   errors). After the slash ladder, the answers the bot posted in the channel are counted against the
 *   commands acknowledged.
 * - Soak: `minutes` of the stream replayed through X (spread over the soak) while both endpoints get a
 *   steady rate; the child's RSS (/proc/<pid>/status) and event-loop lag (/metrics,
 *   `nodejs_eventloop_lag_*` of prom-client, with a key of the metrics scope) sampled every few seconds.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { XServer, type XTweet } from '../../test/helpers/x-server';
import { SlackApiServer } from '../../test/helpers/slack-api-server';
import { slackSignature, slashCommand } from '../../test/helpers/slack-requests';
import { newApiKey } from '../http/auth';
import { channelIdOf, promValues, series } from './chaos-figures';
import { Fleet, sleep } from './chaos-fleet';
import {
  SIGNING_SECRET,
  SLACK_TOKEN,
  X_TOKEN,
  createSchema,
  dropSchema,
  replicaEnv,
  schemaUrl,
  type StreamData,
} from './chaos-run';

export interface LoadOptions {
  data: StreamData;
  texts: string[];
  concurrency: number[];
  duration: number;
  soakMinutes: number;
  /** Requests per second on each endpoint during the soak. */
  soakRate: number;
  sampleEveryS: number;
  databaseUrl: string;
  dir: string;
  log: (m: string) => void;
}

interface Level {
  connections: number;
  requests: number;
  rps: number;
  latency_ms_p50: number;
  latency_ms_p99: number;
  errors: number;
}

const LOAD_CHANNEL = 'CLOAD';

export async function runLoad(o: LoadOptions) {
  const { data, log } = o;
  const schema = `chaos_load_${process.pid}_${Date.now().toString(36)}`;
  let wallStart = Infinity;
  let speed = 1;
  const revealAt = (t: XTweet) => wallStart + ((data.createdAtById.get(t.id ?? '') ?? Infinity) - data.start) / speed;
  const x = await new XServer({
    token: X_TOKEN,
    tweets: data.tweets,
    users: data.users,
    rateLimit: 1_000_000,
    match: (t, query) => data.airlineByQuery.get(query) === data.airlineById.get(t.id ?? ''),
    revealAt,
  }).listen();
  const slack = await SlackApiServer.start(SLACK_TOKEN);
  // Counted as they come, and the recorded calls dropped: a soak makes hundreds of thousands.
  const counts = { loadPosts: 0, alertPosts: 0, responses: 0 };
  slack.onCall = (call) => {
    if (call.method === 'chat.postMessage' && call.ok) {
      if (channelIdOf(call.args.channel) === LOAD_CHANNEL) counts.loadPosts++;
      else counts.alertPosts++;
    }
  };
  const forget = () => {
    counts.responses += slack.responses.length;
    slack.calls.length = 0;
    slack.responses.length = 0;
    // The answers to the commands only: the alerts' messages stay (updates edit them, recovery looks them up).
    for (const key of [...slack.messages.keys()]) if (key.startsWith(`${LOAD_CHANNEL}/`)) slack.messages.delete(key);
  };
  await createSchema(o.databaseUrl, schema);
  const { key, entry } = newApiKey('chaos-load', ['predict', 'metrics']);
  const fleet = new Fleet({
    replicas: 1,
    dir: join(o.dir, 'load'),
    restartDelayMs: 1000,
    log,
    env: (tag, port) => ({
      ...replicaEnv({
        port,
        dir: join(o.dir, 'load', tag),
        databaseUrl: schemaUrl(o.databaseUrl, schema),
        apiKeys: entry,
        xCertPath: x.certPath,
        xApiUrl: x.url,
        xStreams: data.xStreams,
        slackApiUrl: slack.apiUrl,
      }),
      API_RATE_LIMIT: '10000000',
      X_MAX_RESULTS: '100',
    }),
  });
  try {
    await fleet.start();
    const child = fleet.live()[0];
    const url = `http://127.0.0.1:${child.port}`;
    const predict = predictRequests(o.texts, key);
    const slash = slashRequest(o.texts, slack);

    const ladder: { predict: Level[]; slash_command: Level[] } = { predict: [], slash_command: [] };
    for (const c of o.concurrency) {
      log(`[load] /predict, ${c} connection(s), ${o.duration} s…`);
      ladder.predict.push(level(c, await autocannon({ url, connections: c, duration: o.duration, requests: predict })));
    }
    forget();
    const before = counts.loadPosts;
    let acked = 0;
    for (const c of o.concurrency) {
      log(`[load] signed /sentiment on /slack/events, ${c} connection(s), ${o.duration} s…`);
      const r = await autocannon({ url, connections: c, duration: o.duration, requests: [slash] });
      acked += r['2xx'];
      ladder.slash_command.push(level(c, r));
      forget();
    }
    // The answers are posted after the ack, from a queue that can run behind: wait until it has drained
    // (nothing posted for 5 s; at most 3 min). autocannon stops counting at the end of each level while the
    // server still answers, so posted ≥ acknowledged when nothing is lost.
    const ackedAt = Date.now();
    await drained(() => counts.loadPosts, 5000, 180_000);
    const posted = counts.loadPosts - before;
    const answers = {
      acknowledged: acked,
      answers_posted: posted,
      answers_missing: Math.max(0, acked - posted),
      drained_after_s: Math.round((Date.now() - ackedAt) / 1000 - 5),
    };

    let soak: Record<string, unknown> | null = null;
    if (o.soakMinutes > 0) {
      const ms = o.soakMinutes * 60_000;
      speed = (data.end - data.start) / ms;
      wallStart = Date.now();
      log(`[load] soak: ${o.soakMinutes} min, ${o.soakRate} req/s on each endpoint, replay at ${Math.round(speed)}×`);
      const pid = child.pid;
      const rss: Array<{ t: number; v: number }> = [];
      const lagP99: Array<{ t: number; v: number }> = [];
      const lagMax: Array<{ t: number; v: number }> = [];
      const heap: Array<{ t: number; v: number }> = [];
      const sampleErrors: string[] = [];
      const sample = async () => {
        const t = Date.now();
        try {
          const status = readFileSync(`/proc/${pid}/status`, 'utf8');
          const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
          rss.push({ t, v: kb / 1024 });
        } catch (err) {
          sampleErrors.push(`rss: ${(err as Error).message}`);
        }
        try {
          const res = await fetch(`${url}/metrics`, {
            headers: { authorization: `Bearer ${key}` },
            signal: AbortSignal.timeout(5000),
          });
          const values = promValues(await res.text());
          lagP99.push({ t, v: (values.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000 });
          lagMax.push({ t, v: (values.get('nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000 });
          heap.push({ t, v: (values.get('nodejs_heap_size_used_bytes') ?? NaN) / 2 ** 20 });
        } catch (err) {
          sampleErrors.push(`metrics: ${(err as Error).message}`);
        }
        forget();
      };
      await sample();
      const timer = setInterval(() => void sample(), o.sampleEveryS * 1000);
      const progress = setInterval(() => {
        const last = rss[rss.length - 1];
        log(
          `[load] soak ${Math.round((Date.now() - wallStart) / 60_000)}/${o.soakMinutes} min, RSS ${last ? Math.round(last.v) : '?'} MB, alerts posted ${counts.alertPosts}`,
        );
      }, 60_000);
      // Minute by minute, so that a slow minute shows as one (latency per minute, not only overall).
      const soakPosts = counts.loadPosts;
      const minutes: Array<{ minute: number; predict: Level; slash_command: Level }> = [];
      for (let m = 0; m < o.soakMinutes; m++) {
        const [p, s] = await Promise.all([
          autocannon({ url, connections: 4, duration: 60, overallRate: o.soakRate, requests: predict }),
          autocannon({ url, connections: 4, duration: 60, overallRate: o.soakRate, requests: [slash] }),
        ]);
        minutes.push({ minute: m + 1, predict: level(4, p), slash_command: level(4, s) });
      }
      clearInterval(timer);
      clearInterval(progress);
      await sample();
      await drained(() => counts.loadPosts, 5000, 180_000);
      const rssFigures = series(rss);
      const t0 = wallStart;
      const raw = join(o.dir, 'load', 'soak-samples.json');
      writeFileSync(
        raw,
        JSON.stringify({
          minutes,
          samples: rss.map((r, i) => ({
            s: Math.round((r.t - t0) / 1000),
            rss_mb: round1(r.v),
            heap_used_mb: round1(heap[i]?.v),
            lag_p99_ms: round1(lagP99[i]?.v),
            lag_max_ms: round1(lagMax[i]?.v),
          })),
        }),
      );
      const total = (pick: (m: (typeof minutes)[number]) => Level) => ({
        requests: minutes.reduce((n, m) => n + pick(m).requests, 0),
        errors: minutes.reduce((n, m) => n + pick(m).errors, 0),
        latency_ms_p50_by_minute: series(
          minutes.map((m) => ({ t: m.minute * 60_000, v: pick(m).latency_ms_p50 })),
          0,
        ),
        latency_ms_p99_by_minute: series(
          minutes.map((m) => ({ t: m.minute * 60_000, v: pick(m).latency_ms_p99 })),
          0,
        ),
        worst_minute: [...minutes].sort((a, b) => pick(b).latency_ms_p99 - pick(a).latency_ms_p99)[0]?.minute,
      });
      soak = {
        minutes: o.soakMinutes,
        rate_per_endpoint: o.soakRate,
        sample_every_s: o.sampleEveryS,
        predict: total((m) => m.predict),
        slash_command: { ...total((m) => m.slash_command), answers_posted: counts.loadPosts - soakPosts },
        alerts_posted: counts.alertPosts,
        rss_mb: rssFigures,
        heap_used_mb: series(heap),
        event_loop_lag_p99_ms: series(lagP99, 2),
        event_loop_lag_max_ms: series(lagMax, 2),
        verdict: rssFigures ? verdict(rssFigures) : 'no samples',
        sample_errors: sampleErrors.slice(0, 5),
        unexpected_exits: fleet.unexpectedExits,
        raw_samples: raw,
      };
    }
    return {
      concurrency: o.concurrency,
      duration_s: o.duration,
      ladder,
      slash_answers: answers,
      soak,
      log_errors: fleet.logErrors(),
    };
  } finally {
    await fleet.shutdown();
    await x.close().catch(() => undefined);
    await slack.close().catch(() => undefined);
    await dropSchema(o.databaseUrl, schema).catch((err: Error) =>
      log(`could not drop schema ${schema}: ${err.message}`),
    );
  }
}

/** Resolves once `count()` has not moved for `quietMs` (or after `maxMs`). */
async function drained(count: () => number, quietMs: number, maxMs: number): Promise<void> {
  const until = Date.now() + maxMs;
  let last = count();
  let since = Date.now();
  while (Date.now() < until && Date.now() - since < quietMs) {
    await sleep(250);
    if (count() !== last) {
      last = count();
      since = Date.now();
    }
  }
}

function round1(x: number | undefined): number | null {
  return x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10) / 10;
}

/** Flat: RSS grows less than 0.5 MB a minute after warm-up and its last third is within 5 % of the second. */
function verdict(rss: NonNullable<ReturnType<typeof series>>): string {
  return rss.slope_per_min < 0.5 && rss.drift < 0.05
    ? 'flat'
    : `rising (${rss.slope_per_min} MB/min, ${Math.round(rss.drift * 100)} %)`;
}

function errorsOf(r: autocannon.Result): number {
  return r.errors + r.timeouts + r.non2xx;
}

function level(connections: number, r: autocannon.Result): Level {
  return {
    connections,
    requests: r.requests.total,
    rps: Math.round(r.requests.average),
    latency_ms_p50: r.latency.p50,
    latency_ms_p99: r.latency.p99,
    errors: errorsOf(r),
  };
}

function predictRequests(texts: string[], key: string): autocannon.Request[] {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  return texts
    .slice(0, 50)
    .map((text) => ({ method: 'POST', path: '/predict', headers, body: JSON.stringify({ text }) }));
}

/** `/sentiment <text>` as Slack sends it, signed with the current time for each request. */
function slashRequest(texts: string[], slack: SlackApiServer): autocannon.Request {
  let n = 0;
  return {
    method: 'POST',
    path: '/slack/events',
    setupRequest: (req) => {
      n++;
      const { body, contentType } = slashCommand({
        text: texts[n % texts.length],
        user: `UAGENT${n % 50}`,
        channel: LOAD_CHANNEL,
        responseUrl: slack.responseUrl(`load-${n}`),
        triggerId: `trigger.load.${n}`,
      });
      const ts = String(Math.floor(Date.now() / 1000));
      return {
        ...req,
        method: 'POST',
        path: '/slack/events',
        body,
        headers: {
          'content-type': contentType,
          'x-slack-request-timestamp': ts,
          'x-slack-signature': slackSignature(SIGNING_SECRET, ts, body),
          'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
        },
      };
    },
  };
}
