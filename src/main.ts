/**
 * The composition root: the only module that reads process.env. Validates the config, starts the HTTP
 * server at once (so /health answers and /ready says "loading" during start-up), loads the model into
 * the ScorerSlot, and shuts down gracefully on SIGTERM/SIGINT.
 *
 * No model, no answers: if the model cannot be loaded the process keeps serving /health, /ready answers
 * 503 with the reason and /predict 503 — it never scores with anything else.
 *
 * Mentions → alerts: the poller's scored mentions go to the trend monitor (src/trends), whose alerts go to
 * the chat sinks (the console adapter, Slack, Teams; charts under DATA_DIR/alerts). Only the leader runs them
 * (the poller, the trend monitor, the retention job, ops notices): with PostgreSQL the replica holding the lease
 * (src/ops/leadership.ts, src/ops/leader-work.ts), with SQLite this process, the only one on its file
 * (src/store/sqlite-lock.ts). Every replica serves HTTP, Slack and Teams.
 *
 * Modes (config/schema.ts, checkMode): local mode, with neither X_BEARER_TOKEN nor REPLAY_CSV, replays
 * the bundled sample of real tweets fast (BUNDLED_REPLAY=false turns it off), so a first `npm start`
 * shows a real alert within a minute. Production mode (NODE_ENV=production or K_SERVICE) never replays
 * and refuses to start without X, PostgreSQL and a chat sink. The image runs the build of this file
 * (`node dist/src/main.js`) as PID 1: it must handle SIGTERM itself, from its first line on.
 */
import { checkMode, ConfigError, loadConfig, redactConfig, type Config } from '../config/schema';
import { buildServer } from './http/server';
import { ApiAuth } from './http/auth';
import { HealthBoard, type DependencyHealth } from './ops/health';
import { createLogger, type Logger } from './log';
import { ModelRegistry, describeRegistryEvent } from './registry/model-registry';
import { ScorerSlot } from './sentiment/scorer-slot';
import { PredictionLog } from './feedback/prediction-log';
import { Poller, type PollerOptions, type PollerStream } from './mentions/poller';
import { requestResume } from './mentions/resume';
import { watchStalls } from './ops/stall-watch';
import { RetentionJob, retentionPolicyFrom } from './ops/retention';
import { Leadership, SingleLeadership, type Leader } from './ops/leadership';
import { LeaderWork } from './ops/leader-work';
import { openPostgresLeases } from './store/lease';
import { lockSqliteFile, type SqliteLock } from './store/sqlite-lock';
import { leaderScoped } from './store/fence';
import { Registry } from 'prom-client';
import { ReplaySource } from './mentions/replay-source';
import { XSource } from './mentions/x-source';
import { openStore, storeKind } from './store/open';
import { watchStoreHealth, type WatchedStore } from './store/health';
import type { Store } from './store/types';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConsoleSink } from '../adapters/console/console-sink';
import { TrendMonitor } from './trends/monitor';
import type { ChatSink } from './trends/sink';
import { startSlack } from '../adapters/slack';
import { startTeams } from '../adapters/teams';
import { checkTrendSettings, type TrendSettings } from './trends/settings';

/** The bundled sample of real tweets replayed in local mode (see its README). */
export const BUNDLED_SAMPLE = join(__dirname, 'mentions', 'sample', 'airline-bad-buzz.csv');

export async function main(env: Record<string, string | undefined> = process.env): Promise<void> {
  // First of all: a SIGTERM during start-up (a deploy replaced this instance) still stops cleanly. Node
  // runs as PID 1 in the image, where a signal without a handler is ignored.
  const running: Running = {};
  const shutdown = installShutdown(running);

  let config: Config;
  let trendSettings: TrendSettings;
  try {
    config = loadConfig(env);
    checkMode(config);
    // The trend settings one by one are checked by the schema; here, whether they hang together.
    trendSettings = checkTrendSettings(trendSettingsFrom(config));
  } catch (err) {
    process.stderr.write(`sentinel: ${(err as Error).message}\n`);
    process.exit(1);
  }

  const logger = createLogger(config.logLevel, { format: config.logFormat });
  running.logger = logger;
  running.graceMs = config.shutdownGraceMs;
  // A stall longer than the lease's TTL costs the leader its lease: say so, and whose fault it was.
  watchStalls({ logger });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception; exiting');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled promise rejection; exiting');
    process.exit(1);
  });
  logger.info(
    { mode: config.mode, port: config.port, host: config.host },
    `starting Sentinel in ${config.mode} mode (LOG_LEVEL=debug shows every setting)`,
  );
  logger.debug({ config: redactConfig(config) }, 'settings');

  // The chat adapters started below add their sinks to this array (TrendMonitor keeps it).
  const sinks: ChatSink[] = [new ConsoleSink({ chartDir: join(config.dataDir, 'alerts') })];
  // Failures that leave Sentinel degraded are told to the team, not only logged.
  // With several replicas only the leader tells the team (`leader` is set once the store is open).
  let leader: Leader | undefined = undefined;
  const opsNotice = (text: string) => {
    if (leader?.status().role === 'follower') {
      logger.warn({ notice: text }, `ops notice not sent, the leader sends them (this replica follows): ${text}`);
      return;
    }
    for (const sink of sinks) {
      sink
        .opsNotice?.(text)
        .catch((err: unknown) => logger.error({ err, sink: sink.name }, 'ops notice not delivered'));
    }
  };

  // SQLite is one process: a second server on the same file stops here (src/store/sqlite-lock.ts).
  try {
    if (storeKind(config) === 'sqlite') {
      running.sqliteLock = lockSqliteFile(config.sqlitePath);
      logger.info(
        { sqlitePath: config.sqlitePath, lock: running.sqliteLock.path },
        'SQLite: one process only; use PostgreSQL (DATABASE_URL) for replicas',
      );
    }
  } catch (err) {
    process.stderr.write(`sentinel: ${(err as Error).message}\n`);
    process.exit(1);
  }

  let store: WatchedStore;
  try {
    const opened = await openStore({
      databaseUrl: config.databaseUrl,
      sqlitePath: config.sqlitePath,
      voterKey: config.privacyUserIdSecret,
    });
    // A store that stops taking writes (a full disk, a lost database) makes /ready say so, and the team hear it.
    store = watchStoreHealth(opened, {
      onChange: (h) => opsNotice(h.ok ? 'store: writes work again' : `store failing: ${h.reason}`),
    });
    running.store = store;
    logger.info({ store: store.kind }, 'store ready');
  } catch (err) {
    logger.fatal({ err }, `cannot open the store: ${(err as Error).message}`);
    process.exit(1);
  }
  const predictionLog = new PredictionLog(store, {
    logger,
    onHealthChange: (h) => opsNotice(h.ok ? 'predictions are stored again' : `predictions not stored: ${h.reason}`),
  });
  running.predictionLog = predictionLog;

  const slot = new ScorerSlot(`the model is still loading from ${config.modelDir}`);
  running.slot = slot;
  // With PostgreSQL one replica at a time leads: it polls, judges the trends, posts alerts and ops notices and
  // prunes (src/ops/leadership.ts). A replica without a model does not take the lease. SQLite: this process.
  const leadership: Leader =
    store.kind === 'postgres'
      ? new Leadership({
          leases: openPostgresLeases(config.databaseUrl!, {
            timeoutMs: Math.max(100, Math.floor(config.leaderLeaseTtlMs / 2)),
          }),
          ttlMs: config.leaderLeaseTtlMs,
          canLead: () => slot.current().ready,
          logger,
        })
      : new SingleLeadership();
  leader = leadership;
  running.leadership = leadership;
  // Mentions the model cannot read are stored but never counted (history read back after a restart too).
  const newTrendMonitor = (s: Store, to: ChatSink[]) =>
    new TrendMonitor({ store: s, settings: trendSettings, sinks: to, logger, unreadable: (t) => slot.unreadable(t) });

  // Hydrates from GCS when MODEL_BUCKET is set (else loads MODEL_DIR) and hot-swaps new versions.
  const models = new ModelRegistry({
    config,
    slot,
    logger,
    onEvent: (e) => {
      if (e.type === 'fallback' || e.type === 'hydration_failed' || e.type === 'not_ready') {
        opsNotice(describeRegistryEvent(e));
      }
    },
  });
  running.models = models;
  // The leader's work, built afresh at each term from what is stored, its writes fenced with the term's token
  // (src/ops/leader-work.ts): the poller, the trend monitor and the retention job. Followers run none of them.
  const pollerRegistry = new Registry();
  const retentionRegistry = new Registry();
  const leaderWork = new LeaderWork({
    leader: leadership,
    store,
    logger,
    build: (term) => {
      const trends = newTrendMonitor(term.store, sinks);
      // The monitor's sends run in the term's scope: the sinks' state writes are fenced too.
      const onScored: PollerOptions['onScored'] = (stream, mentions) =>
        term.fenced(() => trends.onScored(stream, mentions));
      const poller = buildPoller(config, slot, term.store, logger, onScored, opsNotice, pollerRegistry);
      // Deletes what is past its retention (docs/privacy.md), hourly by default, in small batches.
      const retention = new RetentionJob({
        store: term.store,
        policy: retentionPolicyFrom(config),
        schedule: config.retentionSchedule,
        batchSize: config.retentionBatchSize,
        logger,
        registry: retentionRegistry,
      });
      return { trends, poller, retention };
    },
  });
  running.leaderWork = leaderWork;
  // Snoozes and stream status for the chat adapters: the leader's monitor, else (a follower) one never fed,
  // which only records the snooze. `leader`: who judges the trends, for /sentiment status.
  const followerTrends = newTrendMonitor(store, []);
  const trendControls = {
    snooze: (stream: string, until: Date) => (leaderWork.jobs()?.trends ?? followerTrends).snooze(stream, until),
    status: () => (leaderWork.jobs()?.trends ?? followerTrends).status(),
    leader: () => leadership.status(),
    // `/sentiment resume` on any replica: stored for the leader's poller (src/mentions/resume.ts).
    resumeSources: () =>
      requestResume({ store, leader: () => leadership.status(), poller: () => leaderWork.jobs()?.poller ?? undefined }),
  };
  const auth = ApiAuth.fromEntries(config.apiKeys);
  if (auth.open) logger.warn(`HTTP API open to this machine: no API_KEYS, listening on ${config.host} only`);
  else logger.info({ keys: auth.keyNames }, `HTTP API: ${auth.keyNames.length} API key(s)`);
  // What /ready reports besides the model and the store: each part adds its own check.
  const health = new HealthBoard();
  health.register('mentions', () => leaderWork.jobs()?.poller?.health() ?? null); // polled by the leader only
  health.register('leader', () => leadership.health());
  const app = buildServer({
    slot,
    config,
    auth,
    logger,
    store,
    predictionLog,
    health,
    registries: [pollerRegistry, models.metrics, retentionRegistry, leadership.registry],
    leader: () => leadership.status(),
  });
  running.app = app;
  // Before listen: the adapters mount their routes on the same server.
  const chat = await startChatAdapters({
    config,
    app,
    slot,
    // Writes made in the leader's scope (alert deliveries) are fenced; the others (a user's click) are not.
    store: leaderScoped(store),
    predictionLog,
    logger,
    trends: trendControls,
    polls: () => leaderWork.jobs()?.poller?.lastPolls() ?? [],
  });
  running.chat = chat;
  for (const adapter of chat) {
    if (adapter.sink) sinks.push(adapter.sink);
    if (adapter.health) health.register(adapter.name, adapter.health);
  }
  // A replica taking over sends the ops notices its predecessor recorded but could not get out.
  leadership.on('acquired', () => {
    for (const sink of sinks)
      sink
        .resumeOpsNotices?.()
        .catch((err: unknown) => logger.error({ err, sink: sink.name }, 'ops notices not resumed'));
  });
  if (shutdown.stopping) return;

  try {
    const address = await app.listen({ port: config.port, host: config.host });
    logger.info({ url: address }, `listening on ${address}`);
    logger.debug(
      {
        routes: [
          'POST /predict',
          'POST /feedback',
          'GET /feedback/accuracy',
          'GET /health',
          'GET /ready',
          'GET /metrics',
        ],
      },
      'routes',
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint =
      code === 'EADDRINUSE'
        ? `port ${config.port} is in use: stop what holds it or set PORT=… (e.g. PORT=${config.port + 1})`
        : code === 'EADDRNOTAVAIL'
          ? `${config.host} is not an address of this machine: set HOST=… (127.0.0.1, or 0.0.0.0 for every interface)`
          : code === 'EACCES'
            ? `not allowed to listen on port ${config.port}: use a port above 1023 (PORT=…)`
            : `cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`;
    logger.fatal({ err, host: config.host, port: config.port }, hint);
    process.exit(1);
  }

  // Never throws: without any loadable model the slot says why (NOT READY) and /ready answers 503.
  await models.start();
  // The leader's work starts when this process leads: at once with SQLite, when it holds the lease with
  // PostgreSQL. (Without a model the poller fetches nothing (X bills reads) and says why at each tick.)
  if (!shutdown.stopping) leadership.start();
}

/** The trend detector's settings from the validated config. */
export function trendSettingsFrom(config: Config): TrendSettings {
  return {
    bucketMinutes: config.trendBucketMinutes,
    windowMinutes: config.trendWindowMinutes,
    longWindowMinutes: config.trendLongWindowMinutes,
    baselineHalfLifeHours: config.trendBaselineHalfLifeHours,
    baselineLookbackHours: config.trendBaselineLookbackHours,
    minHistoryHours: config.trendMinHistoryHours,
    minHistoryMentions: config.trendMinHistoryMentions,
    minVolume: config.trendMinVolume,
    openPValue: config.trendOpenPValue,
    sustainPValue: config.trendSustainPValue,
    minLift: config.trendMinLift,
    floor: config.trendFloor,
    dispersion: config.trendDispersion,
    closeAfterMinutes: config.trendCloseAfterMinutes,
    cooldownMinutes: config.trendCooldownMinutes,
    updateEveryMinutes: config.trendUpdateMinutes,
  };
}

/**
 * The mention sources the settings turn on (X with a bearer token, a CSV replay with a file, else the
 * bundled sample in local mode), or none. Scored mentions go to the trend monitor.
 */
function buildPoller(
  config: Config,
  slot: ScorerSlot,
  store: Store,
  logger: Logger,
  onScored: PollerOptions['onScored'],
  opsNotice: (text: string) => void,
  registry: Registry,
): Poller | null {
  const streams: PollerStream[] = [];
  let interval: number | string = /^\d+$/.test(config.pollInterval) ? Number(config.pollInterval) : config.pollInterval;
  if (config.xBearerToken) {
    const queries = Object.fromEntries(
      config.xStreams.map((pair) => {
        const at = pair.indexOf('=');
        return at > 0 ? [pair.slice(0, at).trim(), pair.slice(at + 1).trim()] : [pair.trim(), pair.trim()];
      }),
    );
    const x = new XSource({
      bearerToken: config.xBearerToken,
      apiUrl: config.xApiUrl,
      streams: queries,
      maxPagesPerPoll: config.xMaxPagesPerPoll,
      maxResults: config.xMaxResults,
      maxAttempts: config.xMaxAttempts,
      timeoutMs: config.xTimeoutMs,
      logger,
    });
    streams.push(...x.allStreams().map((stream) => ({ source: x, stream })));
  } else {
    logger.info('X source off: set X_BEARER_TOKEN to poll mentions');
  }
  if (config.replayCsv) {
    const replay = new ReplaySource({
      path: config.replayCsv,
      speed: Number(config.replaySpeed),
      chunkSize: config.replayChunk,
      logger,
    });
    streams.push(...replay.allStreams().map((stream) => ({ source: replay, stream })));
  }
  const bundled = config.bundledReplay && config.mode === 'local';
  if (streams.length === 0 && bundled && !existsSync(BUNDLED_SAMPLE)) {
    logger.warn({ sample: BUNDLED_SAMPLE }, 'local mode: the bundled sample is missing; no mentions to watch');
  } else if (streams.length === 0 && bundled) {
    const replay = new ReplaySource({ path: BUNDLED_SAMPLE, speed: config.bundledReplaySpeed, chunkSize: 500, logger });
    streams.push(...replay.allStreams().map((stream) => ({ source: replay, stream })));
    interval = 1; // the replay runs thousands of times faster than real time: poll every second
    logger.info(
      { sample: BUNDLED_SAMPLE, speed: config.bundledReplaySpeed, tweets: replay.stats.accepted },
      `local mode: replaying ${replay.stats.accepted} real tweets (Southwest, 19-22 Feb 2015, a bad-buzz day) at ${config.bundledReplaySpeed}x; alerts print here. BUNDLED_REPLAY=false turns it off, X_BEARER_TOKEN switches to live X`,
    );
    void warnIfReplayed(replay, store, logger);
  }
  if (streams.length === 0) return null;
  return new Poller({
    streams,
    scorer: slot,
    store,
    interval,
    logger,
    onScored,
    registry,
    // Reported once, when the source pauses (X refused the token): the team must fix it.
    onError: (e) => {
      if (e.paused)
        opsNotice(
          `mentions from ${e.source} paused: ${e.error.message}. Tried again every 15 min; polling resumes by itself once fixed.`,
        );
    },
    onResume: (source) => opsNotice(`mentions from ${source} resumed: polling works again`),
  });
}

/** A second `npm start` on the same database has nothing left to replay: say so, and how to see it again. */
async function warnIfReplayed(replay: ReplaySource, store: Store, logger: Logger): Promise<void> {
  try {
    for (const stream of replay.allStreams()) {
      const checkpoint = await store.getCheckpoint(`${replay.name}:${stream}`);
      if (checkpoint && replay.remaining(stream, checkpoint) === 0)
        logger.warn(
          { stream },
          `local mode: the bundled sample of ${stream} was already replayed into this database, so no new alert will show; stop Sentinel and delete the SQLite file (SQLITE_PATH) to watch it again`,
        );
    }
  } catch (err) {
    logger.debug({ err }, 'could not check the bundled replay checkpoint');
  }
}

interface ChatAdapter {
  name: string;
  sink?: ChatSink;
  health?: () => DependencyHealth;
  stop(): Promise<void>;
}

/** Slack and Teams, each on when its settings are; a chat platform that is down leaves the rest serving. */
async function startChatAdapters(
  deps: Parameters<typeof startSlack>[0] & Parameters<typeof startTeams>[0],
): Promise<ChatAdapter[]> {
  const adapters: ChatAdapter[] = [];
  try {
    const slack = await startSlack(deps);
    if (slack)
      adapters.push({ name: 'slack', sink: slack.sink, health: () => slack.health(), stop: () => slack.stop() });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sentinel: ${err.message}\n`);
      process.exit(1);
    }
    deps.logger.error({ err }, `Slack off: ${(err as Error).message}`);
  }
  try {
    const teams = startTeams(deps); // null when Teams is off
    if (teams) adapters.push({ name: 'teams', sink: teams.sink, stop: () => teams.stop() });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sentinel: ${err.message}\n`);
      process.exit(1);
    }
    deps.logger.error({ err }, `Teams off: ${(err as Error).message}`);
  }
  return adapters;
}

/** What has been started so far: shutdown stops it in order, whatever start-up had reached. */
interface Running {
  logger?: Logger;
  graceMs?: number;
  app?: ReturnType<typeof buildServer>;
  slot?: ScorerSlot;
  models?: ModelRegistry;
  leaderWork?: LeaderWork;
  leadership?: Leader;
  sqliteLock?: SqliteLock;
  predictionLog?: PredictionLog;
  store?: Store;
  chat?: ChatAdapter[];
}

/**
 * SIGTERM (Cloud Run, docker stop) and SIGINT (Ctrl-C): stop taking requests and polling, finish what is
 * in flight (requests, the poll, the alerts it raised, queued predictions), close the store, exit 0 — or
 * exit 1 once SHUTDOWN_GRACE_MS has passed. A second signal exits at once.
 */
function installShutdown(running: Running): { readonly stopping: boolean } {
  const state = { stopping: false };
  const stop = (signal: NodeJS.Signals) => {
    const { logger, app, models, leaderWork, leadership, chat, predictionLog, store, slot } = running;
    if (state.stopping) {
      logger?.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    state.stopping = true;
    if (!logger) process.exit(0); // nothing started yet
    const graceMs = running.graceMs ?? 9_000;
    logger.info({ signal, graceMs }, 'shutting down: no new connections, finishing in-flight work');
    const force = setTimeout(() => {
      logger.error({ graceMs }, 'in-flight work did not finish in time: exiting');
      process.exit(1);
    }, graceMs);
    force.unref();
    Promise.resolve()
      .then(() => app?.close())
      .then(() => models?.stop())
      // The poll in flight, the retention batch and the alerts they raised finish, with the lease still held;
      // then the lease is released so that another replica takes over at once.
      .then(() => leaderWork?.stop())
      .then(() => leadership?.stop())
      .then(() => Promise.all((chat ?? []).map((a) => a.stop())))
      .then(() => predictionLog?.flush())
      .then(() => store?.close())
      .then(() => running.sqliteLock?.release())
      .then(() => {
        const current = slot?.current();
        if (current?.ready) current.scorer.dispose();
        slot?.fail('shutting down');
        logger.info({ store: store?.kind ?? null }, 'stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'error while shutting down');
        process.exit(1);
      });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return state;
}

if (require.main === module) {
  void main();
}
