/**
 * Structured logs with pino. The server logs to stdout; command-line tools (train, evaluate, bench) log
 * to stderr so that stdout carries only their result.
 *
 * Two formats (`format`, default `auto`):
 * - `json`: one JSON object a line, what Cloud Logging (and any log pipeline) parses.
 * - `pretty`: lines a person reads, through pino-pretty: `17:04:01 INFO (sentinel): message  key=value …`.
 *   Short fields (scalars, small arrays and objects) follow the message on the same line, so one record is
 *   one line; larger objects are printed below it, indented, one key a line (`singleLine: false`); errors
 *   with their stack.
 * - `auto`: `pretty` when the destination is a terminal (`isTTY` of stdout or stderr, or of the stream
 *   given), `json` otherwise.
 * Both are written synchronously, so nothing is lost when the process exits.
 *
 * Secrets never reach a log line, in either format: every logged object (and child-logger bindings) is
 * walked and the text values of secret-looking keys (token, secret, password, api key, authorization,
 * cookie…) are masked, as are passwords inside URLs (postgres://user:pw@host), in messages too. This runs
 * inside pino, before any formatting.
 */
import pino from 'pino';
import { prettyFactory } from 'pino-pretty';
import { redactSecrets } from '../config/schema';

export type Logger = pino.Logger;
export type LogLevel = pino.LevelWithSilent;
export type LogFormat = 'auto' | 'json' | 'pretty';

export interface LoggerOptions {
  /** Where lines go: stdout for the server (default), stderr for CLI tools. */
  destination?: 'stdout' | 'stderr';
  /** The `name` field on every line. */
  name?: string;
  /** Write here instead (tests capture lines this way). `auto` reads its `isTTY`. */
  stream?: pino.DestinationStream & { isTTY?: boolean };
  /** `json`, `pretty`, or `auto` (default): pretty when the destination is a terminal. */
  format?: LogFormat;
  /** ANSI colours in the pretty format; default: when the destination is a terminal. */
  colour?: boolean;
}

export function createLogger(level: LogLevel = 'info', opts: LoggerOptions = {}): Logger {
  const fd = opts.destination === 'stderr' ? 2 : 1;
  const terminal = opts.stream
    ? opts.stream.isTTY === true
    : Boolean((fd === 2 ? process.stderr : process.stdout).isTTY);
  const format = opts.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && terminal);
  const out: pino.DestinationStream = opts.stream ?? pino.destination({ dest: fd, sync: true });
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
    pretty ? prettyDestination(out, opts.colour ?? terminal) : out,
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
export function createCliLogger(level: LogLevel = 'info', name?: string, format: LogFormat = 'auto'): Logger {
  return createLogger(level, { destination: 'stderr', name, format });
}

/** The key the short fields travel under from `compact` to `messageFormat` (never printed itself). */
const INLINE = '__inline';
/** pino's own keys: printed by pino-pretty in its own place, or not at all. */
const OWN_KEYS = new Set(['level', 'time', 'msg', 'name', 'pid', 'hostname']);
/** Keys pino-pretty prints as errors (with the stack) when they hold an object. */
const ERROR_KEYS = new Set(['err', 'error']);
/** A field whose JSON is at most this long goes on the message's line; a longer one below it. */
const INLINE_MAX = 80;

/**
 * pino writes each record as one JSON line; this turns it into pino-pretty's text (synchronously: `out`
 * is a sync destination or the caller's stream). Lines that are not JSON pass through.
 */
function prettyDestination(out: pino.DestinationStream, colorize: boolean): pino.DestinationStream {
  const prettify = prettyFactory({
    colorize,
    translateTime: 'SYS:HH:MM:ss',
    ignore: `pid,hostname,${INLINE}`,
    singleLine: false,
    messageFormat: (log, messageKey, _levelLabel, { colors }) => {
      const msg = log[messageKey] === undefined ? '' : String(log[messageKey]);
      const inline = typeof log[INLINE] === 'string' ? log[INLINE] : '';
      return inline ? `${msg}${msg ? '  ' : ''}${colors.gray(inline)}` : msg;
    },
  });
  return {
    write(chunk: string): void {
      for (const line of chunk.split('\n')) {
        if (!line) continue;
        let record: unknown;
        try {
          record = JSON.parse(line);
        } catch {
          out.write(`${line}\n`);
          continue;
        }
        const text =
          record && typeof record === 'object' && !Array.isArray(record)
            ? prettify(compact(record as Record<string, unknown>))
            : `${line}\n`;
        if (text) out.write(text);
      }
    },
  };
}

/** Moves the short fields of a record into one `key=value …` text shown after the message. */
export function compact(record: Record<string, unknown>): Record<string, unknown> {
  const rest: Record<string, unknown> = {};
  const inline: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (OWN_KEYS.has(key) || value === undefined) {
      rest[key] = value;
      continue;
    }
    const isError = ERROR_KEYS.has(key) && value !== null && typeof value === 'object';
    const text = isError ? undefined : inlineValue(value);
    if (text === undefined) rest[key] = value;
    else inline.push(`${key}=${text}`);
  }
  if (inline.length) rest[INLINE] = inline.join(' ');
  return rest;
}

function inlineValue(value: unknown): string | undefined {
  if (typeof value === 'string') {
    // Bare when unambiguous, else quoted as JSON (spaces, quotes, '=', control characters).
    return /^[^\s"'=\\]{1,80}$/.test(value) && !/\p{Cc}/u.test(value) ? value : short(JSON.stringify(value));
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  const json = JSON.stringify(value);
  return json !== undefined && json.length <= INLINE_MAX ? json : undefined;
}

function short(json: string): string | undefined {
  return json.length <= INLINE_MAX ? json : undefined;
}
