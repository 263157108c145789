/**
 * JSON-only endpoints with uniform errors, for any fastify instance (the root or an encapsulated plugin).
 *
 * `acceptJsonOnly` makes the instance take only `application/json` (parsed by us, so a malformed body says
 * where it breaks) and sends every error, whoever raises it (the JSON parser, the body limit, validation,
 * routing, a handler), as `{"error": {"code", "message"}}` with a 4xx/5xx status: bad input is a 4xx naming
 * what is wrong, anything unexpected a logged 500 with a generic message. `answerWrongMethods` makes a known
 * path with the wrong method a 405 naming the right ones. Handlers throw an `ApiError` to answer an error;
 * `reject` and `commonIssueError` turn zod validation problems into one, alike on every endpoint.
 */
import type {
  FastifyBaseLogger,
  FastifyError,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { z } from 'zod';

/** An error with the status and the `{code, message}` the client gets. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A fastify instance, whatever its logger (the root app's is pino's; a plugin's the base type). */
type App<L extends FastifyBaseLogger> = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  L
>;

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/** What a value is, for a message ("must be a string, got a number"). */
export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'number') return 'a number';
  if (typeof v === 'boolean') return 'a boolean';
  return typeof v;
}

/** What the client sent as Content-Type, safe to quote back (bounded, printable). */
function quotedHeader(v: string | undefined): string {
  if (!v) return 'none';
  return JSON.stringify(v.slice(0, 100).replace(/[^\x20-\x7e]/g, '?'));
}

/** A JSON request body, or the ApiError saying why not (without echoing the body). */
export function parseJson(body: string, emptyMessage: string): unknown {
  if (body.length === 0) throw new ApiError(400, 'missing_body', emptyMessage);
  try {
    return JSON.parse(body);
  } catch (err) {
    // V8 quotes the body in some messages ("Unexpected token 'a', "{"text": ab..." is not valid JSON"): keep only the reason.
    const reason = (err as Error).message.replace(/, ".*" is not valid JSON$/s, '');
    throw new ApiError(400, 'malformed_json', `request body is not valid JSON: ${reason}`);
  }
}

/** Flags a problem in a zod refinement, with the API code its error is sent with (see `commonIssueError`). */
export function reject(ctx: z.core.$RefinementCtx, code: string, message: string): void {
  ctx.addIssue({ code: 'custom', message, params: { code } });
}

/**
 * The error for a zod issue that reads the same on every endpoint: unknown fields (naming the `allowed`
 * ones) and a problem flagged with `reject` (with its code). Other issues are left to the caller.
 */
export function commonIssueError(issue: z.core.$ZodIssue, allowed: readonly string[]): ApiError | undefined {
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => JSON.stringify(k.slice(0, 100))).join(', ');
    return new ApiError(
      400,
      'unknown_field',
      `unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}; allowed: ${allowed.join(', ')}`,
    );
  }
  if (issue.code === 'custom') return new ApiError(400, String(issue.params?.code ?? 'invalid_body'), issue.message);
  return undefined;
}

export interface JsonOnlyOptions {
  /** The body limit, as the 413 states it. */
  maxBodyBytes: number;
  /** The whole message for an empty body, e.g. `request body is empty: send a JSON object`. */
  emptyBodyMessage: string;
}

/** Installs the JSON-only content-type parser and the uniform error handler on `app` (and what it encapsulates). */
export function acceptJsonOnly<L extends FastifyBaseLogger>(
  app: App<L>,
  { maxBodyBytes, emptyBodyMessage }: JsonOnlyOptions,
): void {
  // Only JSON is accepted: everything else (text/plain included, which fastify parses by default) is a 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: maxBodyBytes }, (_req, body, done) => {
    try {
      done(null, parseJson(body as string, emptyBodyMessage));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.setErrorHandler((err: FastifyError | ApiError, request, reply) => {
    const status = err.statusCode ?? 500;
    if (err instanceof ApiError) {
      // A 5xx ApiError was logged, with its cause, where it was raised.
      return reply.code(status).send(errorBody(err.code, err.message));
    }
    switch (err.code) {
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return reply
          .code(415)
          .send(
            errorBody(
              'unsupported_media_type',
              `Content-Type must be application/json, got ${quotedHeader(request.headers['content-type'])}`,
            ),
          );
      case 'FST_ERR_CTP_BODY_TOO_LARGE': {
        const given = Number(request.headers['content-length']);
        const size = Number.isFinite(given) && given > 0 ? ` (got ${given} bytes)` : '';
        return reply
          .code(413)
          .send(errorBody('body_too_large', `request body is larger than the limit of ${maxBodyBytes} bytes${size}`));
      }
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return reply.code(400).send(errorBody('missing_body', emptyBodyMessage));
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return reply.code(400).send(errorBody('malformed_json', 'request body is not valid JSON'));
    }
    if (status >= 400 && status < 500) {
      // Other protocol errors fastify detects (bad Content-Length, …): its message is specific and echoes nothing.
      return reply.code(status).send(
        errorBody(
          String(err.code ?? 'bad_request')
            .replace(/^FST_ERR_/, '')
            .toLowerCase(),
          err.message,
        ),
      );
    }
    request.log.error({ err }, 'unhandled error');
    return reply
      .code(500)
      .send(errorBody('internal_error', `internal error; it was logged with request id ${request.id}`));
  });
}

const ALL_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** Answers a known path with the wrong method: a 405 naming the right ones. `routes` maps a path to its methods. */
export function answerWrongMethods<L extends FastifyBaseLogger>(app: App<L>, routes: Record<string, string[]>): void {
  for (const [url, allowed] of Object.entries(routes)) {
    app.route({
      method: ALL_METHODS.filter((m) => !allowed.includes(m)),
      url,
      handler: async (request, reply) =>
        reply
          .code(405)
          .header('allow', allowed.join(', '))
          .send(
            errorBody('method_not_allowed', `${request.method} is not allowed on ${url}; use ${allowed.join(' or ')}`),
          ),
    });
  }
}
