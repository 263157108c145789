/**
 * A Bolt receiver that serves Slack's HTTP requests (Events API, slash commands, interactivity) on an
 * existing fastify server — the one serving /predict — at ONE URL (default POST /slack/events), modelled on
 * bolt-js's HTTPReceiver and AwsLambdaReceiver:
 *
 *   1. the raw body (kept as text: the signature is over the exact bytes) is checked against
 *      `X-Slack-Signature` = `v0=` HMAC-SHA256(signing secret, `v0:<X-Slack-Request-Timestamp>:<body>`),
 *      with the timestamp within 5 minutes of now; otherwise 401, and Bolt never sees it;
 *   2. the body is parsed: JSON (events), a form (commands) or a form whose `payload` field is JSON
 *      (interactivity); unparseable: 400;
 *   3. `ssl_check` and `url_verification` are answered here;
 *   4. anything else goes to `app.processEvent` with an `ack` that sends the HTTP answer as soon as a
 *      listener acknowledges (Bolt acks events itself; commands and buttons ack in their listener), so
 *      slow work after the ack never holds Slack's 3-second deadline. No ack within 3 s: 404 (no listener),
 *      an error before the ack: 500. `X-Slack-Retry-Num` / `-Reason` are passed on as `retryNum` /
 *      `retryReason`.
 *
 * The routes are registered on construction, so the receiver must be built before the server listens.
 * `start`/`stop` do nothing: the server's lifecycle belongs to the composition root.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { parse as parseForm } from 'node:querystring';
import type { App, Receiver, ReceiverEvent } from '@slack/bolt';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../src/log';

export interface FastifyReceiverOptions {
  server: FastifyInstance;
  signingSecret: string;
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** Where Slack sends everything (Event Subscriptions, Slash Commands and Interactivity URLs). */
  path?: string;
  /** Largest body accepted (413 above). */
  bodyLimit?: number;
  /** How long a request may wait for an ack before it is answered 404 (Bolt: 3001 ms). */
  unhandledRequestTimeoutMs?: number;
  /** The clock signatures are judged against (tests). */
  now?: () => number;
}

/** How far X-Slack-Request-Timestamp may be from now, as Slack documents it. */
export const MAX_CLOCK_SKEW_SECONDS = 5 * 60;

/** Why a request's signature is refused, or null when it is Slack's. */
export function signatureProblem(
  signingSecret: string,
  rawBody: string,
  timestampHeader: string | undefined,
  signatureHeader: string | undefined,
  nowMs = Date.now(),
): string | null {
  if (!timestampHeader || !signatureHeader) return 'missing X-Slack-Request-Timestamp or X-Slack-Signature';
  if (!/^\d{1,12}$/.test(timestampHeader)) return 'X-Slack-Request-Timestamp is not a number of seconds';
  const skew = Math.abs(nowMs / 1000 - Number(timestampHeader));
  if (skew > MAX_CLOCK_SKEW_SECONDS) return `stale timestamp (${Math.round(skew)} s from now; replay protection)`;
  const [version, hash] = signatureHeader.split('=', 2);
  if (version !== 'v0' || !hash || !/^[0-9a-f]{64}$/i.test(hash)) return 'X-Slack-Signature is not a v0 signature';
  const expected = createHmac('sha256', signingSecret).update(`v0:${timestampHeader}:${rawBody}`).digest();
  return timingSafeEqual(expected, Buffer.from(hash, 'hex')) ? null : 'signature mismatch';
}

/** A request body as Bolt expects it; throws on a malformed one. */
export function parseSlackBody(raw: string, contentType: string | undefined): Record<string, unknown> {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  let body: unknown;
  if (type === 'application/x-www-form-urlencoded') {
    const form = parseForm(raw) as Record<string, unknown>;
    body = typeof form.payload === 'string' ? JSON.parse(form.payload) : form;
  } else {
    body = JSON.parse(raw);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('the body is not an object');
  return body as Record<string, unknown>;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export class FastifyReceiver implements Receiver {
  readonly path: string;
  private bolt?: App;
  private readonly timeoutMs: number;

  constructor(private readonly opts: FastifyReceiverOptions) {
    this.path = opts.path ?? '/slack/events';
    this.timeoutMs = opts.unhandledRequestTimeoutMs ?? 3001;
    const bodyLimit = opts.bodyLimit ?? 4 * 1024 * 1024;
    try {
      opts.server.register(async (scope) => {
        // Slack's bodies are JSON or forms and must stay raw for the signature: this scope parses nothing.
        scope.removeAllContentTypeParsers();
        scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, (_req, body, done) => done(null, body));
        scope.setErrorHandler((err: { statusCode?: number; code?: string }, request, reply) => {
          const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
          if (status === 500) request.log.error({ err }, 'slack: error answering a request');
          return reply.code(status).send('');
        });
        scope.post(this.path, (request, reply) => this.handle(request, reply));
      });
    } catch (err) {
      throw new Error(
        `cannot mount ${this.path} on the HTTP server (start Slack before the server listens): ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  init(app: App): void {
    this.bolt = app;
  }

  async start(): Promise<this> {
    return this;
  }

  async stop(): Promise<void> {}

  private async handle(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { logger } = this.opts;
    const raw = typeof request.body === 'string' ? request.body : '';
    const problem = signatureProblem(
      this.opts.signingSecret,
      raw,
      header(request, 'x-slack-request-timestamp'),
      header(request, 'x-slack-signature'),
      this.opts.now?.(),
    );
    if (problem) {
      logger.warn({ path: this.path, reason: problem }, `slack: request refused (401): ${problem}`);
      return reply.code(401).send('');
    }

    let body: Record<string, unknown>;
    try {
      body = parseSlackBody(raw, header(request, 'content-type'));
    } catch (err) {
      logger.warn({ reason: (err as Error).message }, 'slack: malformed request body (400)');
      return reply.code(400).send('');
    }
    if (body.ssl_check !== undefined) return reply.code(200).send('');
    if (body.type === 'url_verification') {
      return reply.code(200).header('content-type', 'application/json').send({ challenge: body.challenge });
    }
    const bolt = this.bolt;
    if (!bolt) return reply.code(503).send('');

    // The HTTP answer leaves at the first of: an ack, the end of processing without one, the timeout.
    let answered = false;
    let settle!: (outcome: { acked: true; response: unknown } | { acked: false; status: number }) => void;
    const outcome = new Promise<{ acked: true; response: unknown } | { acked: false; status: number }>(
      (resolve) => (settle = resolve),
    );
    const finish = (o: Parameters<typeof settle>[0]) => {
      if (answered) return false;
      answered = true;
      settle(o);
      return true;
    };
    const retryNum = header(request, 'x-slack-retry-num');
    const retryReason = header(request, 'x-slack-retry-reason');
    const event: ReceiverEvent = {
      body,
      ack: async (response?: unknown) => {
        if (!finish({ acked: true, response })) {
          logger.warn('slack: ack() after the request was already answered (too late or twice)');
        }
      },
      ...(retryNum !== undefined && /^\d+$/.test(retryNum) ? { retryNum: Number(retryNum) } : {}),
      ...(retryReason !== undefined ? { retryReason } : {}),
    };
    const timer = setTimeout(() => {
      if (finish({ acked: false, status: 404 })) {
        logger.error(`slack: a request was not acknowledged within ${this.timeoutMs} ms (no listener acked it)`);
      }
    }, this.timeoutMs);
    bolt
      .processEvent(event)
      .then(() => finish({ acked: false, status: 404 }))
      .catch((err: unknown) => {
        if (finish({ acked: false, status: 500 })) logger.error({ err }, 'slack: error before the request was acked');
        else logger.error({ err }, 'slack: error after the request was acked');
      })
      .finally(() => clearTimeout(timer));

    const o = await outcome;
    if (!o.acked) return reply.code(o.status).send('');
    if (o.response === undefined || o.response === null || o.response === '') return reply.code(200).send('');
    if (typeof o.response === 'string') return reply.code(200).type('text/plain; charset=utf-8').send(o.response);
    return reply.code(200).header('content-type', 'application/json').send(JSON.stringify(o.response));
  }
}
