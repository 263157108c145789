/**
 * POST /api/messages on the HTTP API's fastify server: where the Bot Framework (and the Emulator) deliver
 * activities. The body is parsed by the server's JSON parser (a malformed body is its 400), then:
 *
 *   1. with authentication on (MicrosoftAppId set), a request without `Authorization: Bearer …` is a 401 at
 *      once; a token is checked by botbuilder (signature, issuer, audience = the app id, serviceUrl claim),
 *      and a bad one is botbuilder's 401;
 *   2. an activity without what every turn needs (type, serviceUrl, conversation.id, well-formed from /
 *      recipient / reactions) is a 400 naming what is missing, before botbuilder sees it;
 *   3. `CloudAdapter.process` runs the turn. It expects Express-like `req`/`res` objects: `req` is the
 *      parsed body and headers, `res` a recorder whose status and body are then sent through fastify.
 */
import type { CloudAdapter, TurnContext } from 'botbuilder';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../../src/log';
import { errorBody } from '../../src/http/json-api';

export const MESSAGES_PATH = '/api/messages';

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function account(x: unknown): boolean {
  return isObject(x) && typeof x.id === 'string' && x.id.length > 0;
}

/** Why `body` is not an activity a turn can run on, or null. */
export function activityProblem(body: unknown): string | null {
  if (!isObject(body)) return 'the body must be a Bot Framework activity (a JSON object)';
  if (typeof body.type !== 'string' || body.type === '') return 'the activity has no "type"';
  if (typeof body.serviceUrl !== 'string' || !/^https?:\/\/\S+$/i.test(body.serviceUrl))
    return 'the activity has no "serviceUrl" (the http(s) URL replies go to)';
  if (!isObject(body.conversation) || typeof body.conversation.id !== 'string' || body.conversation.id === '')
    return 'the activity has no "conversation.id"';
  if (body.from !== undefined && !account(body.from)) return '"from" must be an account with an "id"';
  if (body.recipient !== undefined && !account(body.recipient)) return '"recipient" must be an account with an "id"';
  if (body.type === 'message' && body.text !== undefined && body.text !== null && typeof body.text !== 'string')
    return '"text" must be a string';
  for (const field of ['reactionsAdded', 'reactionsRemoved', 'membersAdded', 'membersRemoved'] as const) {
    const list = body[field];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) return `"${field}" must be an array`;
    const ok = field.startsWith('reactions')
      ? list.every((r) => isObject(r) && typeof r.type === 'string')
      : list.every(account);
    if (!ok) return `"${field}" has an item without ${field.startsWith('reactions') ? 'a "type"' : 'an "id"'}`;
  }
  return null;
}

/** The Express-like response `CloudAdapter.process` writes to. */
class RecordedResponse {
  statusCode = 200;
  body: unknown;
  readonly headers: Record<string, unknown> = {};
  constructor(readonly socket: unknown) {}
  status(code: number): this {
    this.statusCode = code;
    return this;
  }
  send(body?: unknown): this {
    if (body !== undefined) this.body = body;
    return this;
  }
  header(name: string, value: unknown): this {
    this.headers[name.toLowerCase()] = value;
    return this;
  }
  end(): this {
    return this;
  }
}

export interface MessagesRouteOptions {
  adapter: CloudAdapter;
  logic: (context: TurnContext) => Promise<void>;
  authEnabled: boolean;
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** Largest activity accepted (Teams messages are far smaller; 413 above). */
  bodyLimit?: number;
}

export function mountMessagesRoute(app: FastifyInstance, opts: MessagesRouteOptions): void {
  const { adapter, logic, authEnabled, logger } = opts;
  app.post(MESSAGES_PATH, { bodyLimit: opts.bodyLimit ?? 256 * 1024 }, async (request, reply) => {
    const authorization = request.headers.authorization;
    if (authEnabled && !(typeof authorization === 'string' && /^Bearer\s+\S+/i.test(authorization))) {
      logger.warn({ ip: request.ip }, 'teams: activity without a Bot Framework token refused (401)');
      return reply
        .code(401)
        .send(
          errorBody('unauthorized', 'this endpoint takes Bot Framework activities with an Authorization: Bearer token'),
        );
    }
    const problem = activityProblem(request.body);
    if (problem) {
      logger.warn({ problem }, 'teams: malformed activity refused (400)');
      return reply.code(400).send(errorBody('invalid_activity', problem));
    }
    const res = new RecordedResponse(request.raw.socket);
    await adapter.process(
      { body: request.body as Record<string, unknown>, headers: request.headers, method: 'POST' },
      res,
      logic,
    );
    const status = res.statusCode;
    if (status === 401 || status === 403) {
      logger.warn({ status, reason: String(res.body ?? '') }, 'teams: activity refused by authentication');
      return reply.code(status).send(errorBody('unauthorized', 'the Bot Framework token is not valid for this bot'));
    }
    if (status >= 400) {
      logger.error({ status, reason: String(res.body ?? '') }, 'teams: the activity could not be processed');
      return reply
        .code(status)
        .send(errorBody(status >= 500 ? 'internal_error' : 'bad_request', 'the activity could not be processed'));
    }
    // An invoke's answer (JSON), or nothing.
    return res.body === undefined ? reply.code(status).send() : reply.code(status).send(res.body);
  });
}
