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

  const slot = new ScorerSlot(`the model is still loading from ${config.modelDir}`);
  const app = buildServer({ slot, config, logger });
  installShutdown(app, slot, logger, config.shutdownGraceMs);

  try {
    const address = await app.listen({ port: config.port, host: config.host });
    logger.info(
      { url: address, routes: ['POST /predict', 'GET /health', 'GET /ready', 'GET /metrics'] },
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
}

function installShutdown(app: ReturnType<typeof buildServer>, slot: ScorerSlot, logger: Logger, graceMs: number): void {
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
