/**
 * POST /api/messages on the HTTP API's fastify server: where the Bot Framework (and the Emulator) deliver
 * activities. The body is parsed by the server's JSON parser (a malformed body is its 400), then, in this
 * order, each refusal in ONE log line at warn level (no stack trace) and before any outgoing call:
 *
 *   1. with authentication on (MicrosoftAppId set), a request without `Authorization: Bearer …` is a 401;
 *   2. an activity without what every turn needs (type, serviceUrl, conversation.id, well-formed from /
 *      recipient / reactions) is a 400 naming what is missing;
 *   3. a `serviceUrl` the policy refuses (./service-url: the Bot Framework's hosts with authentication,
 *      this machine without) is a 403: replies never go to a URL a sender picked;
 *   4. the token is checked by botbuilder (`BotFrameworkAuthentication.authenticateRequest`: signature
 *      against the Bot Framework's published keys, issuer, audience = the app id, expiry, endorsements,
 *      the serviceUrl claim); forged or unverifiable → 401. When the keys themselves cannot be fetched (the
 *      OpenID metadata or its JWKS unreachable, or answering an error), nobody can tell a forged token from
 *      a good one: a token refused for a reason that needs no key (not a JWT, unsigned or not RS256/384/512,
 *      expired or not yet valid, for another bot) is still a 401, any other is a 503 with Retry-After (the
 *      Bot Framework tries again) — never a 500. botbuilder writes some of these failures to the console
 *      itself (a stack trace, the signing key): that output is held back while it checks (`quietly`), so the
 *      one line here (warn for a refusal, error for keys out of reach) is all that is logged;
 *   5. the turn runs (`CloudAdapter.processActivity` with the verified identity), and an invoke's answer
 *      is sent back.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  CloudAdapter,
  type Activity,
  type ConfigurationBotFrameworkAuthentication,
  type TurnContext,
} from 'botbuilder';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../../src/log';
import { errorBody } from '../../src/http/json-api';
import type { ServiceUrlPolicy } from './service-url';

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

type Authentication = Pick<ConfigurationBotFrameworkAuthentication, 'authenticateRequest'>;
type AuthenticateRequestResult = Awaited<ReturnType<Authentication['authenticateRequest']>>;

/** botbuilder's CloudAdapter, with its turn runner reachable for an identity checked beforehand. */
export class SentinelCloudAdapter extends CloudAdapter {
  runVerified(auth: AuthenticateRequestResult, activity: Activity, logic: (context: TurnContext) => Promise<void>) {
    return this.processActivity(auth, activity, logic);
  }
}

// Console output of code run inside `quietly` is dropped (botbuilder's own reports of a refused token).
const hushed = new AsyncLocalStorage<true>();
const HUSH = Symbol.for('sentinel.teams.hush');
const LEVELS = ['log', 'info', 'warn', 'error', 'debug'] as const;

function hushConsole(): void {
  for (const level of LEVELS) {
    const current = console[level] as ((...args: unknown[]) => void) & { [HUSH]?: true };
    if (current[HUSH]) continue; // (re)installed when something replaced it, e.g. a test's spy
    const wrapper = Object.assign(
      function (this: unknown, ...args: unknown[]) {
        if (!hushed.getStore()) current.apply(this ?? console, args);
      },
      { [HUSH]: true as const },
    );
    console[level] = wrapper;
  }
}

/** Runs `work` with whatever it writes to the console dropped (only within its own async calls). */
export function quietly<T>(work: () => Promise<T>): Promise<T> {
  hushConsole();
  return hushed.run(true, work);
}

/** The timestamps as botbuilder's own `process` prepares them (strings → Date, the raw kept). */
function fixTimestamps(activity: Activity): Activity {
  const a = activity as Activity & Record<string, unknown>;
  for (const field of ['timestamp', 'expiration', 'localTimestamp'] as const) {
    const value = a[field];
    if (typeof value === 'string') {
      a[`raw${field.charAt(0).toUpperCase()}${field.slice(1)}`] = value;
      a[field] = new Date(value) as never;
    }
  }
  return activity;
}

/** botbuilder's AuthenticationConstants.AllowedSigningAlgorithms. */
const SIGNING_ALGORITHMS = ['RS256', 'RS384', 'RS512'];
/** botbuilder's clock tolerance on `exp` / `nbf` (its token validation parameters), seconds. */
const CLOCK_TOLERANCE_S = 300;

/**
 * Why `token` can be refused without the Bot Framework's keys, or null: it is not a JWT, is unsigned or signed
 * with an algorithm botbuilder does not accept, has expired or is not valid yet (with botbuilder's tolerance),
 * or is for another bot (none of `aud` — a channel's token — or `appid` / `azp` — the Emulator's — is
 * `appId`). Only a refusal: botbuilder accepts nothing that this refuses, and a null proves nothing.
 */
export function refusedWithoutKeys(token: string, appId: string | undefined, now = Date.now()): string | null {
  const parts = token.split('.');
  if (parts.length !== 3) return 'not a JWT';
  let header: unknown;
  let payload: unknown;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return 'not a JWT';
  }
  if (!isObject(header) || !isObject(payload)) return 'not a JWT';
  if (!parts[2] || !SIGNING_ALGORITHMS.includes(String(header.alg)))
    return `not signed with ${SIGNING_ALGORITHMS.join('/')} (alg ${JSON.stringify(header.alg ?? null).slice(0, 20)})`;
  const t = now / 1000;
  if (typeof payload.exp === 'number' && payload.exp + CLOCK_TOLERANCE_S < t) return 'expired';
  if (typeof payload.nbf === 'number' && payload.nbf - CLOCK_TOLERANCE_S > t) return 'not valid yet';
  if (appId && ![payload.aud, payload.appid, payload.azp].includes(appId)) return 'for another bot (audience)';
  return null;
}

/** botbuilder refused the token itself (as opposed to failing to check it: its keys out of reach, a fault). */
function isRefusal(err: unknown): boolean {
  const e = err as { statusCode?: unknown; name?: unknown; message?: unknown } | null;
  if (typeof e?.statusCode === 'number') return e.statusCode === 401 || e.statusCode === 403;
  if (['JsonWebTokenError', 'TokenExpiredError', 'NotBeforeError'].includes(String(e?.name))) return true;
  return /^unauthorized/i.test(String(e?.message ?? ''));
}

/** The first line of an error's message, short (for the one log line of a refusal). */
function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const line = message.split('\n', 1)[0].trim() || 'unknown error';
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

export interface MessagesRouteOptions {
  adapter: SentinelCloudAdapter;
  /** What checks the Bot Framework token (the adapter's own BotFrameworkAuthentication). */
  authentication: Authentication;
  logic: (context: TurnContext) => Promise<void>;
  authEnabled: boolean;
  /** Where replies may go: activities naming another serviceUrl are refused (403). */
  serviceUrls: ServiceUrlPolicy;
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** Largest activity accepted (Teams messages are far smaller; 413 above). */
  bodyLimit?: number;
  /**
   * The bot's app id (MicrosoftAppId): with the Bot Framework's keys out of reach, a token for another bot is
   * still refused (401) rather than left undecided (503).
   */
  appId?: string;
}

export function mountMessagesRoute(app: FastifyInstance, opts: MessagesRouteOptions): void {
  const { adapter, authentication, logic, authEnabled, serviceUrls, logger } = opts;
  app.post(MESSAGES_PATH, { bodyLimit: opts.bodyLimit ?? 256 * 1024 }, async (request, reply) => {
    const header = request.headers.authorization;
    const authorization = typeof header === 'string' ? header : '';
    if (authEnabled && !/^Bearer\s+\S+/i.test(authorization)) {
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
    const activity = fixTimestamps(request.body as Activity);
    if (!serviceUrls.allows(activity.serviceUrl)) {
      logger.warn(
        { ip: request.ip, serviceUrl: activity.serviceUrl.slice(0, 200) },
        `teams: activity refused (403): its serviceUrl is not a Bot Framework service (allowed: ${serviceUrls.describe()})`,
      );
      return reply.code(403).send(errorBody('service_url_not_allowed', `serviceUrl must be ${serviceUrls.describe()}`));
    }
    let verified: AuthenticateRequestResult;
    try {
      verified = await quietly(() => authentication.authenticateRequest(activity, authorization));
    } catch (err) {
      const reason = reasonOf(err);
      // The keys could not be fetched (or the check failed otherwise): refuse what needs no key, else 503.
      const refusal = isRefusal(err)
        ? reason
        : refusedWithoutKeys(authorization.replace(/^Bearer\s+/i, ''), opts.appId);
      if (refusal === null) {
        logger.error(
          { ip: request.ip, reason },
          `teams: activity not checked (503): the Bot Framework's OpenID keys cannot be fetched, so its token cannot be verified: ${reason}`,
        );
        return reply
          .code(503)
          .header('retry-after', '30')
          .send(
            errorBody(
              'unavailable',
              "the Bot Framework's signing keys cannot be fetched right now, so the token cannot be verified; try again",
            ),
          );
      }
      const why = refusal === reason ? reason : `${refusal} (the keys cannot be fetched: ${reason})`;
      logger.warn(
        { ip: request.ip, reason: why },
        `teams: activity refused (401): the Bot Framework token is not valid: ${why}`,
      );
      return reply.code(401).send(errorBody('unauthorized', 'the Bot Framework token is not valid for this bot'));
    }
    let invoke: { status: number; body?: unknown } | undefined;
    try {
      invoke = await adapter.runVerified(verified, activity, logic);
    } catch (err) {
      logger.error({ err, type: activity.type }, `teams: the activity could not be processed: ${reasonOf(err)}`);
      return reply.code(500).send(errorBody('internal_error', 'the activity could not be processed'));
    }
    const status = invoke?.status ?? 200;
    // An invoke's answer (JSON), or nothing.
    return invoke?.body === undefined ? reply.code(status).send() : reply.code(status).send(invoke.body);
  });
}
