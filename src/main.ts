/**
 * The composition root: the only module that reads process.env. Validates the config, starts the HTTP
 * server at once (so /health answers and /ready says "loading" during start-up), loads the model into
 * the ScorerSlot, and shuts down gracefully on SIGTERM/SIGINT.
 *
 * No model, no answers: if the model cannot be loaded the process keeps serving /health, /ready answers
 * 503 with the reason and /predict 503 — it never scores with anything else.
 */
import { ConfigError, loadConfig, redactConfig, type Config } from '../config/schema';
import { buildServer } from './http/server';
import { createLogger, type Logger } from './log';
import { loadScorer } from './sentiment/load';
import { ScorerSlot } from './sentiment/scorer-slot';
import { PredictionLog } from './feedback/prediction-log';
import { Poller, type PollerStream } from './mentions/poller';
import { ReplaySource } from './mentions/replay-source';
import { XSource } from './mentions/x-source';
import { openStore } from './store/open';
import type { Store } from './store/types';

export async function main(env: Record<string, string | undefined> = process.env): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sentinel: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }

  const logger = createLogger(config.logLevel);
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception; exiting');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled promise rejection; exiting');
    process.exit(1);
  });
  logger.info({ config: redactConfig(config) }, 'starting Sentinel');

  let store: Store;
  try {
    store = await openStore({ databaseUrl: config.databaseUrl, sqlitePath: config.sqlitePath });
    logger.info({ store: store.kind }, 'store ready');
  } catch (err) {
    logger.fatal({ err }, `cannot open the store: ${(err as Error).message}`);
    process.exit(1);
  }
  const predictionLog = new PredictionLog(store, { logger });

  const slot = new ScorerSlot(`the model is still loading from ${config.modelDir}`);
  const poller = buildPoller(config, slot, store, logger);
  const app = buildServer({
    slot,
    config,
    logger,
    store,
    predictionLog,
    registries: poller ? [poller.registry] : [],
  });
  installShutdown(app, { slot, poller, predictionLog, store }, logger, config.shutdownGraceMs);

  try {
    const address = await app.listen({ port: config.port, host: config.host });
    logger.info(
      {
        url: address,
        routes: [
          'POST /predict',
          'POST /feedback',
          'GET /feedback/accuracy',
          'GET /health',
          'GET /ready',
          'GET /metrics',
        ],
      },
      `listening on ${address}`,
    );
  } catch (err) {
    logger.fatal({ err, host: config.host, port: config.port }, `cannot listen on ${config.host}:${config.port}`);
    process.exit(1);
  }

  try {
    const scorer = await loadScorer(config.modelDir, { logger, maxBatch: config.scorerMaxBatch });
    slot.set(scorer);
    logger.info({ model: scorer.info.name, version: scorer.info.version, backend: scorer.info.backend }, 'ready');
  } catch (err) {
    const reason = `cannot load the model from ${config.modelDir}: ${(err as Error).message}`;
    slot.fail(reason);
    logger.error(
      { err, modelDir: config.modelDir },
      `NOT READY: ${reason}. /predict answers 503 until a model is available (set MODEL_DIR or restore the model files).`,
    );
  }
  // Without a model the poller fetches nothing (X bills reads) and says why at each tick.
  poller?.start();
}

/** The mention sources the settings turn on (X with a bearer token, a CSV replay with a file), or none. */
function buildPoller(config: Config, slot: ScorerSlot, store: Store, logger: Logger): Poller | null {
  const streams: PollerStream[] = [];
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
  if (streams.length === 0) return null;
  return new Poller({
    streams,
    scorer: slot,
    store,
    interval: /^\d+$/.test(config.pollInterval) ? Number(config.pollInterval) : config.pollInterval,
    logger,
  });
}

interface Running {
  slot: ScorerSlot;
  poller: Poller | null;
  predictionLog: PredictionLog;
  store: Store;
}

function installShutdown(app: ReturnType<typeof buildServer>, running: Running, logger: Logger, graceMs: number): void {
  const { slot, poller, predictionLog, store } = running;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, graceMs }, 'shutting down: no new connections, finishing in-flight requests');
    const force = setTimeout(() => {
      logger.error({ graceMs }, 'in-flight requests did not finish in time: exiting');
      process.exit(1);
    }, graceMs);
    force.unref();
    app
      .close()
      .then(() => poller?.stop()) // waits for the poll in flight
      .then(() => predictionLog.flush())
      .then(() => store.close())
      .then(() => {
        const state = slot.current();
        if (state.ready) state.scorer.dispose();
        slot.fail('shutting down');
        logger.info('stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'error while shutting down');
        process.exit(1);
      });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  void main();
}
