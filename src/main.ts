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
import { checkMode, ConfigError, isLoopback, loadConfig, redactConfig, type Config } from '../config/schema';
import { buildServer } from './http/server';
import { DashboardAccess } from './http/dashboard/access';
import { dashboardAssetsDir } from './http/dashboard/assets';
import { LiveUpdates } from './http/dashboard/live';
import { Overview } from './http/dashboard/overview';
import { ApiAuth } from './http/auth';
import { HealthBoard, type DependencyHealth } from './ops/health';
import { createLogger, type Logger } from './log';
import { ModelRegistry, describeRegistryEvent } from './registry/model-registry';
import { ScorerSlot } from './sentiment/scorer-slot';
import { mentionEstimator } from './trends/prevalence';
import { loadLanguageIdentifier } from './sentiment/language';
import { PredictionLog } from './feedback/prediction-log';
import { Poller, ScoringError, type PollerOptions, type PollerStream } from './mentions/poller';
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
import { ReadBudget, describeInterval, storedMonth } from './ops/read-budget';
import { ErrorAlerts, parseOpsAlertRules, type ErrorKind, type ErrorRules } from './ops/error-alerts';
import { isStoreFailure, reportSinkFailures, reportStoreErrors } from './ops/error-sources';
import { Challenger } from './registry/challenger';
import { ShadowScorer, compareChallenger } from './feedback/shadow';
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
import { ProductionAccuracyMetrics } from './feedback/production-accuracy';
import { Digests, type DigestSink } from './trends/digest';
import { DigestSchedule } from './trends/digest-schedule';
import { toCronExpression } from './schedule';
import { ConsoleDigestSink } from '../adapters/console/digest-sink';
import { slackAcknowledgements } from '../adapters/slack/digest-sink';
import { teamsAcknowledgements } from '../adapters/teams/digest-sink';

/** The bundled sample of real tweets replayed in local mode (see its README). */
export const BUNDLED_SAMPLE = join(__dirname, 'mentions', 'sample', 'airline-bad-buzz.csv');

export async function main(env: Record<string, string | undefined> = process.env): Promise<void> {
  // First of all: a SIGTERM during start-up (a deploy replaced this instance) still stops cleanly. Node
  // runs as PID 1 in the image, where a signal without a handler is ignored.
  const running: Running = {};
  const shutdown = installShutdown(running);

  let config: Config;
  let trendSettings: TrendSettings;
  let opsRules: ErrorRules;
  try {
    config = loadConfig(env);
    checkMode(config);
    // The trend settings one by one are checked by the schema; here, whether they hang together.
    trendSettings = checkTrendSettings(trendSettingsFrom(config));
    opsRules = parseOpsAlertRules(config.opsAlertRules, {
      count: config.opsAlertThreshold,
      windowMinutes: config.opsAlertWindowMinutes,
    });
  } catch (err) {
    process.stderr.write(`sentinel: ${(err as Error).message}\n`);
    process.exit(1);
  }

  const logger = createLogger(config.logLevel, { format: config.logFormat });
  running.logger = logger;
  running.graceMs = config.shutdownGraceMs;
  // The language identifier's database loads once, synchronously (0.5–1 s, src/sentiment/language.ts):
  // now, before the stall watch starts and before any text arrives.
  const languageStarted = performance.now();
  loadLanguageIdentifier();
  const languageMs = Math.round(performance.now() - languageStarted);
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
  logger.info(
    { ms: languageMs },
    `language identifier loaded in ${languageMs} ms (English is read, others are counted)`,
  );

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

  // Errors of one kind grouped into one ops alert, updated in place and resolved (src/ops/error-alerts.ts);
  // created once the leadership exists, fed from the start (errors before that are dropped: nothing to send them).
  const recordError = (kind: ErrorKind, err: unknown) => running.errorAlerts?.record(kind, err);

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
    store = watchStoreHealth(
      reportStoreErrors(opened, (err) => recordError('store', err)),
      {
        onChange: (h) => opsNotice(h.ok ? 'store: writes work again' : `store failing: ${h.reason}`),
      },
    );
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
  const errorAlerts = new ErrorAlerts({
    store: leaderScoped(store),
    sinks,
    leader: leadership,
    rules: opsRules,
    logger,
    resolveAfterMinutes: config.opsAlertResolveMinutes,
    misclassification: { votes: config.opsMisclassificationVotes, rate: config.opsMisclassificationRate },
  });
  running.errorAlerts = errorAlerts;
  // Mentions the model cannot read are stored but never counted (history read back after a restart too).
  const newTrendMonitor = (s: Store, to: ChatSink[]) =>
    new TrendMonitor({
      store: s,
      settings: trendSettings,
      sinks: to,
      logger,
      unreadable: (t) => slot.unreadable(t),
      // Built further down with the HTTP server; called only once an alert is posted.
      dashboardLink: (alertId) => dashboardLink(alertId),
      estimate: mentionEstimator(
        trendSettings.prevalence,
        () => {
          const now = slot.current();
          return now.ready ? now.scorer.info : undefined;
        },
        (version, used) =>
          logger.warn(
            { model: version, prevalence: trendSettings.prevalence, used },
            `the model has no measured confusion rates (manifest metrics.prevalence): its mentions are estimated by ${used}, unadjusted`,
          ),
      ),
    });

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
    onCheckFailed: (f) => recordError('model', `${f.stage}${f.version ? ` ${f.version}` : ''}: ${f.reason}`),
  });
  running.models = models;
  // Champion / challenger: MODEL_CHALLENGER scores every mention in shadow (src/feedback/shadow.ts), never shown.
  const challenger =
    config.modelChallenger && models.bucket
      ? new Challenger({
          version: config.modelChallenger,
          bucket: models.bucket,
          cacheDir: config.modelCacheDir,
          maxBatch: config.scorerMaxBatch,
          logger,
          onProblem: opsNotice,
        })
      : null;
  running.challenger = challenger ?? undefined;
  const shadowRegistry = new Registry();
  const budgetRegistry = new Registry();
  // The leader's work, built afresh at each term from what is stored, its writes fenced with the term's token
  // (src/ops/leader-work.ts): the poller, the trend monitor and the retention job. Followers run none of them.
  const pollerRegistry = new Registry();
  const retentionRegistry = new Registry();
  // The daily digest (src/trends/digest.ts): built from what is stored, so any replica answers
  // `/sentiment digest`; only the leader posts the scheduled one (a leader job below).
  let digestStreamNames: string[] | undefined;
  const digests: Digests | undefined = config.digestEnabled
    ? new Digests({
        store,
        // Read once: a replay's streams come from parsing its whole CSV.
        streams: () => (digestStreamNames ??= digestStreams(config)),
        timeZone: config.digestTimezone,
        settings: trendSettings,
        clock: { status: (): ReturnType<TrendMonitor['status']> => trendControls.status() },
        unreadable: (t) => slot.unreadable(t),
        acknowledgements: [slackAcknowledgements(store, logger), teamsAcknowledgements(store, logger)],
        challenger: async () => (await trendControls.challenger()) ?? null,
        logger,
      })
    : undefined;
  const digestSinks: DigestSink[] = [new ConsoleDigestSink({ chartDir: join(config.dataDir, 'alerts'), store })];
  const leaderWork = new LeaderWork({
    leader: leadership,
    store,
    logger,
    build: (term) => {
      const trends = newTrendMonitor(term.store, sinks);
      const shadow = new ShadowScorer({
        challenger: () => challenger?.current() ?? null,
        store: term.store,
        logger,
        registry: shadowRegistry,
      });
      // The monitor's sends run in the term's scope: the sinks' state writes are fenced too.
      const onScored: PollerOptions['onScored'] = async (stream, mentions) => {
        await term.fenced(() => trends.onScored(stream, mentions));
        await shadow.score(mentions);
      };
      // X bills every post read: counted per month in the store, announced at 80 % and 100 % (docs/operations.md).
      const readBudget = new ReadBudget({
        store: term.store,
        monthlyBudget: config.xMonthlyReadBudget,
        costPerRead: config.xReadCostUsd,
        floorDescription: describeInterval(config.xBudgetPollFloor),
        notify: opsNotice,
        registry: budgetRegistry,
        logger,
      });
      void readBudget.load().catch((err: unknown) => logger.error({ err }, 'X read count not loaded'));
      const poller = buildPoller(
        config,
        slot,
        term.store,
        logger,
        onScored,
        opsNotice,
        pollerRegistry,
        readBudget,
        recordError,
      );
      // Deletes what is past its retention (docs/privacy.md), hourly by default, in small batches.
      const retention = new RetentionJob({
        store: term.store,
        policy: retentionPolicyFrom(config),
        schedule: config.retentionSchedule,
        batchSize: config.retentionBatchSize,
        logger,
        registry: retentionRegistry,
      });
      // Its posts run in the term's scope: the sinks' state writes are fenced too.
      const digest = digests
        ? new DigestSchedule({
            digests,
            sinks: () =>
              digestSinks.map((sink) => ({ name: sink.name, digest: (c) => term.fenced(() => sink.digest(c)) })),
            cron: toCronExpression(config.digestCron, 'DIGEST_CRON'),
            timeZone: config.digestTimezone,
            isLeader: () => leadership.status().role !== 'follower',
            logger,
          })
        : null;
      return { trends, poller, retention, digest };
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
    // This month's X reads as stored by the leader (any replica answers /sentiment status).
    xReads: async () =>
      config.xBearerToken
        ? storedMonth(store, { monthlyBudget: config.xMonthlyReadBudget, costPerRead: config.xReadCostUsd })
        : null,
    // The challenger's last 7 days in shadow against the champion.
    challenger: async () =>
      config.modelChallenger
        ? compareChallenger(store, config.modelChallenger, {
            sinceIso: new Date(Date.now() - 7 * 86_400_000).toISOString(),
            limit: 5_000, // the latest ones: enough for the figures, bounded for a status answer
          })
        : null,
    // `/sentiment resume` on any replica: stored for the leader's poller (src/mentions/resume.ts).
    resumeSources: () =>
      requestResume({ store, leader: () => leadership.status(), poller: () => leaderWork.jobs()?.poller ?? undefined }),
  };
  // Production accuracy per model version and votes per hour, for /metrics (computed when scraped).
  const accuracyMetrics = new ProductionAccuracyMetrics({ store, logger });
  const auth = ApiAuth.fromEntries(config.apiKeys);
  if (auth.open) logger.warn(`HTTP API open to this machine: no API_KEYS, listening on ${config.host} only`);
  else logger.info({ keys: auth.keyNames }, `HTTP API: ${auth.keyNames.length} API key(s)`);
  // The read-only dashboard (src/http/dashboard): open on loopback in local mode, signed links otherwise.
  const dashboardAccess = new DashboardAccess({
    secret: config.dashboardSecret,
    open: auth.open && isLoopback(config.host),
    linkDays: config.dashboardLinkDays,
    sessionHours: config.dashboardSessionHours,
  });
  const dashboardBase =
    config.dashboardBaseUrl?.replace(/\/+$/, '') ??
    (config.mode === 'local'
      ? `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`
      : undefined);
  /** The link an alert's "Open in dashboard" button carries (null: the dashboard is off or has no address). */
  const dashboardLink = (alertId: string): string | null => {
    const path = dashboardAccess.alertPath(alertId);
    return path && dashboardBase ? `${dashboardBase}${path}` : null;
  };
  if (dashboardAccess.mode === 'off')
    logger.info('dashboard off: set DASHBOARD_SECRET to serve it with signed links (docs/dashboard.md)');
  const overview = new Overview({
    store,
    streams: () => (digestStreamNames ??= digestStreams(config)),
    settings: trendSettings,
    unreadable: (t) => slot.unreadable(t),
    acknowledgements: [slackAcknowledgements(store, logger), teamsAcknowledgements(store, logger)],
    logger,
  });
  const dashboard =
    dashboardAccess.mode === 'off'
      ? undefined
      : {
          access: dashboardAccess,
          overview,
          live: new LiveUpdates({ fingerprint: () => overview.fingerprint(), logger }),
          assetsDir: dashboardAssetsDir(),
          secureCookies: config.mode === 'production',
          logger,
        };
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
    registries: [
      pollerRegistry,
      models.metrics,
      retentionRegistry,
      leadership.registry,
      budgetRegistry,
      shadowRegistry,
      errorAlerts.metrics,
      accuracyMetrics.registry,
    ],
    onServerError: (e) =>
      recordError(
        e.code === 'scoring_failed' ? 'scoring' : 'http',
        `${e.method} ${e.route} answered ${e.status}: ${e.message}`,
      ),
    leader: () => leadership.status(),
    dashboard,
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
    digests: () => digests,
  });
  running.chat = chat;
  for (const adapter of chat) {
    if (adapter.sink) sinks.push(reportSinkFailures(adapter.sink, (err) => recordError('chat', err)));
    if (adapter.health) health.register(adapter.name, adapter.health);
    if (adapter.digestSink) digestSinks.push(adapter.digestSink);
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
    if (dashboardAccess.mode === 'open' && dashboardBase)
      logger.info(
        { url: `${dashboardBase}/dashboard` },
        `dashboard: ${dashboardBase}/dashboard (open on this machine)`,
      );
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
  void challenger?.start();
  // The leader's work starts when this process leads: at once with SQLite, when it holds the lease with
  // PostgreSQL. (Without a model the poller fetches nothing (X bills reads) and says why at each tick.)
  if (!shutdown.stopping) {
    errorAlerts.start();
    leadership.start();
  }
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
    scanMinutes: config.trendScanMinutes,
    scanThreshold: config.trendScanThreshold,
    scanOddsRatio: config.trendScanOddsRatio,
    scanVolumeRatio: config.trendScanVolumeRatio,
    volumeDispersion: config.trendVolumeDispersion,
    prevalence: config.trendPrevalence,
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
  readBudget: ReadBudget,
  recordError: (kind: ErrorKind, err: unknown) => void,
): Poller | null {
  const streams: PollerStream[] = [];
  let interval: number | string = /^\d+$/.test(config.pollInterval) ? Number(config.pollInterval) : config.pollInterval;
  if (config.xBearerToken) {
    const queries = Object.fromEntries(
      config.xStreams.map((pair) => {
        const at = pair.indexOf('=');
        return [streamName(pair), at > 0 ? pair.slice(at + 1).trim() : pair.trim()];
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
      onUsage: (usage) => void readBudget.record(usage.tweetsRead),
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
    // A spent X read budget slows polling to its floor until the month ends (src/ops/read-budget.ts).
    ...(config.xMonthlyReadBudget && config.xBearerToken
      ? {
          floor: {
            interval: config.xBudgetPollFloor,
            active: () => readBudget.exhausted(),
            description: describeInterval(config.xBudgetPollFloor),
          },
        }
      : {}),
    // Reported once, when the source pauses (X refused the token): the team must fix it.
    onError: (e) => {
      // A poll that failed because the store did is already a store error.
      if (e.error instanceof ScoringError) recordError('scoring', `${e.stream}: ${e.error.message}`);
      else if (!isStoreFailure(e.error)) recordError('source', `${e.source}:${e.stream}: ${e.error.message}`);
      if (e.paused)
        opsNotice(
          `mentions from ${e.source} paused: ${e.error.message}. Tried again every 15 min; polling resumes by itself once fixed.`,
        );
    },
    onResume: (source) => opsNotice(`mentions from ${source} resumed: polling works again`),
  });
}

/** The streams the digest knows: X_STREAMS' names (with a bearer token), the replay's (REPLAY_CSV, else the bundled sample in local mode). */
function digestStreams(config: Config): string[] {
  const out = config.xBearerToken ? config.xStreams.map((pair) => streamName(pair)) : [];
  const csv =
    config.replayCsv ??
    (out.length === 0 && config.bundledReplay && config.mode === 'local' && existsSync(BUNDLED_SAMPLE)
      ? BUNDLED_SAMPLE
      : undefined);
  if (csv) out.push(...new ReplaySource({ path: csv }).allStreams());
  return [...new Set(out)];
}

/** `Name=query` → Name (a pair without a name is named by its query). */
function streamName(pair: string): string {
  const at = pair.indexOf('=');
  return (at > 0 ? pair.slice(0, at) : pair).trim();
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
  digestSink?: DigestSink;
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
      adapters.push({
        name: 'slack',
        sink: slack.sink,
        digestSink: slack.digestSink,
        health: () => slack.health(),
        stop: () => slack.stop(),
      });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sentinel: ${err.message}\n`);
      process.exit(1);
    }
    deps.logger.error({ err }, `Slack off: ${(err as Error).message}`);
  }
  try {
    const teams = startTeams(deps); // null when Teams is off
    if (teams)
      adapters.push({ name: 'teams', sink: teams.sink, digestSink: teams.digestSink, stop: () => teams.stop() });
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
  challenger?: Challenger;
  errorAlerts?: ErrorAlerts;
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
    const { logger, app, models, challenger, leaderWork, leadership, chat, predictionLog, store, slot } = running;
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
      .then(() => challenger?.stop()) // after the poll in flight, which may still score in shadow
      .then(() => running.errorAlerts?.stop())
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
