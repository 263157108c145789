/**
 * npm run chaos [-- --data ../shared/data/airline_stream.csv] [--streams Delta,Southwest] [--speed 1200]
 *                  [--replicas 3] [--load [--soak-minutes 30]] …   (--help lists every option)
 *
 * The proof of issue 12: several Sentinel replicas on one PostgreSQL, under faults, say everything once.
 *
 * 1. Reference: ONE undisturbed replica replays the stream (same data, same speed).
 * 2. Chaos: N replicas (`node --import tsx src/main.ts`, production mode) on a fresh PostgreSQL schema,
 *    one loopback HTTPS X server serving the real stream as it would have arrived (time-compressed:
 *    `speed` × real time, 1200× = a data minute in 50 ms), one loopback Slack Web API recording every
 *    call, and a printed fault schedule: X 429/503, kill -9 of the leader (mid-run and a few ms after an
 *    alert post), SIGSTOP of the leader until another holds the lease, PostgreSQL restarted, Slack
 *    429/503. A killed replica's slot gets a new process (as Cloud Run would).
 * 3. With --load: /predict and the signed slash command under autocannon at increasing concurrency,
 *    then a soak (replay + steady load) with RSS and event-loop lag sampled (src/train/chaos-load.ts).
 *
 * The last stdout line is one JSON object (progress on stderr): the chaos run's figures at the top
 * (mentions_served, mentions_stored, duplicated, missing, x_reads_per_tweet, alerts, alerts_reference,
 * slack_posts_per_message_max, leader_changes, max_leaderless_s, faults…), `reference`, `load`. Bad
 * figures are the result, not a failure: exit 0; only a crash of the harness exits 1.
 */
import { parseArgs } from 'node:util';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { readLabelledCsv } from './dataset';
import { runFleet, loadStreams, PG_RESTART, type RunFigures } from './chaos-run';
import { runLoad } from './chaos-load';
import { round, sameAlerts } from './chaos-figures';

const USAGE = `usage: npm run chaos -- [options]
  --data <csv>            the stream (default ../shared/data/airline_stream.csv)
  --streams <a,b>         airlines replayed, one stream each (default Delta,Southwest; "all" for every one)
  --from/--until <iso>    only tweets in this data-time window
  --speed <N>             data time per wall time (default 1200: a data minute in 50 ms)
  --replicas <N>          Sentinel processes in the chaos run (default 3)
  --lease-ttl-ms <ms>     LEADER_LEASE_TTL_MS given to the replicas (default 3000)
  --x-max-results <N>     X_MAX_RESULTS, the page size (default 20)
  --after-post-ms <ms>    how soon after an alert post its poster is killed or stopped (default 3)
  --restart-delay-ms <ms> a killed replica's slot gets a new process after this (default 1000)
  --skip-reference        no reference run
  --skip-chaos            no chaos run (e.g. with --load)
  --skip-pg-restart       do not restart PostgreSQL (it disturbs every other user of the server briefly)
  --load                  also the load ladder and the soak
  --concurrency <a,b,…>   load ladder (default 1,8,32,64), --load-duration <s> per level (default 10)
  --soak-minutes <N>      soak length with --load (default 30; 0: none), --soak-rate <req/s> per endpoint (default 50)
  --database-url <url>    PostgreSQL (default postgres://postgres@127.0.0.1:5432/sentinel_test)`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: '../shared/data/airline_stream.csv' },
      streams: { type: 'string', default: 'Delta,Southwest' },
      from: { type: 'string' },
      until: { type: 'string' },
      speed: { type: 'string', default: '1200' },
      replicas: { type: 'string', default: '3' },
      'lease-ttl-ms': { type: 'string', default: '3000' },
      'x-max-results': { type: 'string', default: '20' },
      'after-post-ms': { type: 'string', default: '3' },
      'restart-delay-ms': { type: 'string', default: '1000' },
      'skip-reference': { type: 'boolean', default: false },
      'skip-chaos': { type: 'boolean', default: false },
      'skip-pg-restart': { type: 'boolean', default: false },
      load: { type: 'boolean', default: false },
      concurrency: { type: 'string', default: '1,8,32,64' },
      'load-duration': { type: 'string', default: '10' },
      'soak-minutes': { type: 'string', default: '30' },
      'soak-rate': { type: 'string', default: '50' },
      'sample-every-s': { type: 'string', default: '5' },
      'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/sentinel_test' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stderr.write(`${USAGE}\n`);
    return;
  }
  const log = (m: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${m}\n`);
  const num = (name: string, v: string, min = 0): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min)
      throw new Error(`--${name} must be a number ≥ ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  const started = Date.now();
  const load0 = loadavg()[0];
  const streams =
    values.streams === 'all'
      ? []
      : values.streams
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  const data = loadStreams(values.data, streams, values.from, values.until);
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-chaos-'));
  const common = {
    data,
    speed: num('speed', values.speed, 1),
    databaseUrl: values['database-url'],
    leaseTtlMs: num('lease-ttl-ms', values['lease-ttl-ms'], 100),
    xMaxResults: num('x-max-results', values['x-max-results'], 10),
    restartDelayMs: num('restart-delay-ms', values['restart-delay-ms']),
    afterPostMs: num('after-post-ms', values['after-post-ms']),
    dir,
    log,
  };
  const replicas = num('replicas', values.replicas, 1);
  log(`chaos: ${data.streams.join(', ')}: ${data.tweets.length} tweets; work dir ${dir}`);

  let reference: RunFigures | null = null;
  if (!values['skip-reference']) {
    log('reference: one undisturbed replica');
    reference = await runFleet({ ...common, label: 'reference', replicas: 1, faults: false, pgRestart: false });
  }
  let chaos: RunFigures | null = null;
  if (!values['skip-chaos']) {
    log(`chaos: ${replicas} replica(s) under faults`);
    chaos = await runFleet({
      ...common,
      label: 'chaos',
      replicas,
      faults: true,
      pgRestart: !values['skip-pg-restart'],
    });
  }
  let load: unknown = null;
  if (values.load) {
    const texts = readLabelledCsv('test/fixtures/airline_val_sample.csv').map((r) => r.text);
    load = await runLoad({
      data,
      texts,
      concurrency: values.concurrency.split(',').map((c) => num('concurrency', c, 1)),
      duration: num('load-duration', values['load-duration'], 1),
      soakMinutes: num('soak-minutes', values['soak-minutes']),
      soakRate: num('soak-rate', values['soak-rate'], 1),
      sampleEveryS: num('sample-every-s', values['sample-every-s'], 1),
      databaseUrl: values['database-url'],
      dir,
      log,
    });
  }

  const referenceAlerts = reference?.alerts.map(({ stream, opened_at }) => ({ stream, opened_at })) ?? null;
  const result = {
    command: `npm run chaos -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: {
      cpus: cpus().length,
      cpu_model: cpus()[0]?.model,
      mem_gb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      load_avg_start: round(load0, 2),
      load_avg_end: round(loadavg()[0], 2),
    },
    started_at: new Date(started).toISOString(),
    streams: data.streams,
    speed: common.speed,
    lease_ttl_ms: common.leaseTtlMs,
    pg_restart: values['skip-pg-restart'] || values['skip-chaos'] ? null : PG_RESTART,
    ...(chaos
      ? {
          ...chaos,
          alerts: chaos.alerts.map(({ stream, opened_at }) => ({ stream, opened_at })),
          alerts_detail: chaos.alerts,
          alerts_reference: referenceAlerts,
          alerts_match_reference: referenceAlerts
            ? sameAlerts(
                chaos.alerts.map(({ stream, opened_at }) => ({ stream, opened_at })),
                referenceAlerts,
              )
            : null,
        }
      : { alerts_reference: referenceAlerts }),
    reference,
    load,
    work_dir: dir,
    wall_s: round((Date.now() - started) / 1000, 1),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`chaos: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
