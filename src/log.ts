/**
 * Structured logs with pino. The server logs JSON lines to stdout; command-line tools (train, evaluate,
 * bench) log to stderr so that stdout carries only their result.
 *
 * Secrets never reach a log line: every logged object (and child-logger bindings) is walked and the
 * text values of secret-looking keys (token, secret, password, api key, authorization, cookie…) are
 * masked, as are passwords inside URLs (postgres://user:pw@host), in messages too.
 */
import pino from 'pino';
import { redactSecrets } from '../config/schema';

export type Logger = pino.Logger;
export type LogLevel = pino.LevelWithSilent;

export interface LoggerOptions {
  /** Where lines go: stdout for the server (default), stderr for CLI tools. */
  destination?: 'stdout' | 'stderr';
  /** The `name` field on every line. */
  name?: string;
  /** Write here instead (tests capture lines this way). */
  stream?: pino.DestinationStream;
}

export function createLogger(level: LogLevel = 'info', opts: LoggerOptions = {}): Logger {
  const fd = opts.destination === 'stderr' ? 2 : 1;
  const logger = pino(
    {
      name: opts.name ?? 'sentinel',
      level,
      // Belt and braces for the usual HTTP places, in case a raw request is ever logged.
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie'],
        censor: '[redacted]',
      },
      formatters: {
        bindings: (bindings) => redactSecrets(bindings),
      },
      hooks: {
        logMethod(args, method) {
          // Only pay for the walk when the line is actually written (logMethod runs after the level check).
          method.apply(this, args.map((a) => redactSecrets(a)) as Parameters<typeof method>);
        },
      },
    },
    opts.stream ?? pino.destination({ dest: fd, sync: true }),
  );
  // pino applies `formatters.bindings` to the root only: children (fastify's per-request loggers, ours)
  // get their bindings masked here. Children inherit this method, so grandchildren are covered too.
  const child = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, redactSecrets(bindings), options);
  } as typeof logger.child;
  return logger;
}

/** For command-line entry points: logs on stderr, stdout stays for the result. */
export function createCliLogger(level: LogLevel = 'info', name?: string): Logger {
  return createLogger(level, { destination: 'stderr', name });
}
