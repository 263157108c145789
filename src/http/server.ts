/**
 * The HTTP API: POST /predict, GET /health, GET /ready, GET /metrics.
 *
 * Every error, whoever raises it (the JSON parser, the body limit, validation, routing, the scorer), leaves
 * through one error handler (./json-api) as `{"error": {"code", "message"}}` with a 4xx/5xx status. Bad
 * input is a 4xx naming what is wrong; a scorer failure is a logged 500 with a generic message; nothing
 * crashes the process. The handler is thin: validate with zod, identify each text's language, then score
 * the texts the model reads through the ScorerSlot; the others are answered `"supported": false`, unscored.
 */
import { createServer as createHttpServer } from 'node:http';
import fastify, { LogController, type FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';
import type { Config } from '../../config/schema';
import type { Logger } from '../log';
import { identifyLanguage, loadLanguageIdentifier } from '../sentiment/language';
import type { ScorerSlot } from '../sentiment/scorer-slot';
import type { Explained, Prediction } from '../sentiment/types';
import type { Store } from '../store/types';
import { PredictionLogFullError, type PredictionLog } from '../feedback/prediction-log';
import type { WatchedStore } from '../store/health';
import { worst, type DependencyHealth, type HealthBoard } from '../ops/health';
import type { LeaderStatus } from '../ops/leadership';
import { ApiAuth, protect } from './auth';
import { dashboardRoutes, type DashboardDeps } from './dashboard/routes';
import { FEEDBACK_ROUTES, feedbackRoutes } from './feedback-route';
import { ApiError, acceptJsonOnly, answerWrongMethods, commonIssueError, errorBody, kindOf, reject } from './json-api';

export interface ServerDeps {
  slot: ScorerSlot;
  config: Pick<
    Config,
    'maxBodyBytes' | 'maxTextChars' | 'maxTexts' | 'apiRateLimit' | 'httpRequestTimeoutMs' | 'httpMaxConnections'
  >;
  /** Who may call /predict, /feedback and /metrics (ApiAuth.fromEntries(config.apiKeys); no keys: open). */
  auth: ApiAuth;
  logger: Logger;
  /** With a store, predictions get an id (kept for feedback) and /feedback is served. */
  store?: Store;
  predictionLog?: PredictionLog;
  /** The other dependencies' health (mention sources, Slack, Teams, leadership), shown by /ready. */
  health?: HealthBoard;
  /** Who leads among the replicas (src/ops/leadership.ts): /ready's `leader` field. */
  leader?: () => LeaderStatus;
  /** Metrics of other parts (the poller) served on the same /metrics. */
  registries?: Registry[];
  /**
   * Called for each 5xx answered (but /ready's 503, which reports a state): the ops alerts' `http` errors,
   * `scoring` when the model failed (`code` scoring_failed). Must not throw.
   */
  onServerError?: (e: ServerError) => void;
  /** The read-only dashboard (./dashboard), when it is on. */
  dashboard?: Omit<DashboardDeps, 'readiness'>;
}

/** A 5xx answered: what, and the error behind it (its message, as logged). */
export interface ServerError {
  method: string;
  route: string;
  status: number;
  /** The API's error code (`scoring_failed`, `internal_error`, `not_ready`…). */
  code: string;
  message: string;
}

// ---------------------------------------------------------------------------------------------------
// /predict body validation

export type PredictRequest = (
  { kind: 'single'; text: string; explain: boolean } | { kind: 'batch'; texts: string[] }
) & { keepText: boolean };

const FIELDS = ['text', 'texts', 'explain', 'keep_text'] as const;
const EXAMPLE = 'send {"text": "..."} or {"texts": ["...", ...]}';

/** Length in characters as people count them (code points: an emoji is one). */
function charLength(s: string, limit: number): number {
  // UTF-16 length ≥ code points, so the exact count is only needed near or over the limit.
  return s.length <= limit ? s.length : [...s].length;
}

type Ctx = z.core.$RefinementCtx;

function textSchema(name: string, maxChars: number) {
  return z.string({ error: (iss) => `${name} must be a string, got ${kindOf(iss.input)}` }).superRefine((s, ctx) => {
    if (s.trim().length === 0) return reject(ctx, 'empty_text', `${name} is empty or only whitespace`);
    const n = charLength(s, maxChars);
    if (n > maxChars) reject(ctx, 'text_too_long', `${name} is ${n} characters long; the limit is ${maxChars}`);
  });
}

function predictSchemas(maxChars: number, maxTexts: number) {
  // Stage 1: the envelope — a JSON object with known fields and exactly one of text/texts.
  const envelope = z
    .strictObject(
      {
        text: z.unknown().optional(),
        texts: z.unknown().optional(),
        explain: z.unknown().optional(),
        keep_text: z.unknown().optional(),
      },
      {
        error: (iss) =>
          iss.code === 'invalid_type'
            ? `request body must be a JSON object: ${EXAMPLE}; got ${kindOf(iss.input)}`
            : undefined,
      },
    )
    .superRefine((body, ctx) => {
      const hasText = 'text' in body;
      const hasTexts = 'texts' in body;
      if (!hasText && !hasTexts) reject(ctx, 'missing_text', `request body has neither "text" nor "texts": ${EXAMPLE}`);
      else if (hasText && hasTexts)
        reject(ctx, 'ambiguous_input', 'request body has both "text" and "texts": send one or the other');
      else if (hasTexts && body.explain === true)
        reject(ctx, 'explain_needs_text', '"explain" works with a single "text", not with "texts"');
    });

  const explain = z.boolean({ error: (iss) => `"explain" must be true or false, got ${kindOf(iss.input)}` }).optional();
  // false: the prediction is kept (votable) without its text.
  const keepText = z
    .boolean({ error: (iss) => `"keep_text" must be true or false, got ${kindOf(iss.input)}` })
    .optional();

  // Stage 2: the fields.
  const single = z.object({ text: textSchema('"text"', maxChars), explain, keep_text: keepText });
  const batch = z.object({
    texts: z
      .array(z.unknown(), { error: (iss) => `"texts" must be an array of strings, got ${kindOf(iss.input)}` })
      .superRefine((a, ctx) => {
        if (a.length === 0) reject(ctx, 'empty_texts', `"texts" is empty; send 1 to ${maxTexts} texts`);
        else if (a.length > maxTexts)
          reject(ctx, 'too_many_texts', `"texts" has ${a.length} items; the limit is ${maxTexts}`);
      })
      // Elements are checked only once the size is fine: `texts[3] must be a string, got a number`.
      .pipe(z.array(z.unknown()).superRefine((a, ctx) => checkElements(a, ctx, maxChars))),
    explain,
    keep_text: keepText,
  });
  return { envelope, single, batch };
}

function checkElements(texts: unknown[], ctx: Ctx, maxChars: number): void {
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i];
    const name = `texts[${i}]`;
    if (typeof t !== 'string') return reject(ctx, 'invalid_text', `${name} must be a string, got ${kindOf(t)}`);
    if (t.trim().length === 0) return reject(ctx, 'empty_text', `${name} is empty or only whitespace`);
    const n = charLength(t, maxChars);
    if (n > maxChars) return reject(ctx, 'text_too_long', `${name} is ${n} characters long; the limit is ${maxChars}`);
  }
}

/** The first problem of a failed parse, as the API's error. */
function toApiError(error: z.ZodError): ApiError {
  const issue = error.issues[0];
  const common = commonIssueError(issue, FIELDS);
  if (common) return common;
  const field = issue.path[0];
  const code =
    field === undefined
      ? 'invalid_body'
      : field === 'texts'
        ? 'invalid_texts'
        : field === 'explain'
          ? 'invalid_explain'
          : field === 'keep_text'
            ? 'invalid_keep_text'
            : 'invalid_text';
  return new ApiError(400, code, issue.message);
}

export function makePredictParser(limits: {
  maxTextChars: number;
  maxTexts: number;
}): (body: unknown) => PredictRequest {
  const { envelope, single, batch } = predictSchemas(limits.maxTextChars, limits.maxTexts);
  return (body) => {
    if (body === undefined)
      throw new ApiError(
        400,
        'missing_body',
        `request body is missing: ${EXAMPLE} with Content-Type: application/json`,
      );
    const env = envelope.safeParse(body);
    if (!env.success) throw toApiError(env.error);
    if ('text' in env.data) {
      const r = single.safeParse(env.data);
      if (!r.success) throw toApiError(r.error);
      return {
        kind: 'single',
        text: r.data.text,
        explain: r.data.explain === true,
        keepText: r.data.keep_text !== false,
      };
    }
    const r = batch.safeParse(env.data);
    if (!r.success) throw toApiError(r.error);
    return { kind: 'batch', texts: r.data.texts as string[], keepText: r.data.keep_text !== false };
  };
}

// ---------------------------------------------------------------------------------------------------
// Metrics

function createMetrics(slot: ScorerSlot) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'sentinel_http_requests_total',
    help: 'HTTP requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'sentinel_http_request_duration_seconds',
    help: 'HTTP request latency, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const predictions = new Counter({
    name: 'sentinel_predictions_total',
    help: 'Texts scored through the HTTP API, by predicted label',
    labelNames: ['label'] as const,
    registers: [registry],
  });
  const languages = new Counter({
    name: 'sentinel_predict_texts_by_language_total',
    help: 'Texts sent to /predict, by language identified (und: too short to tell; only en and und are scored)',
    labelNames: ['language'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'sentinel_scorer_ready',
    help: '1 when a model is loaded and serving, 0 otherwise',
    registers: [registry],
    collect() {
      this.set(slot.current().ready ? 1 : 0);
    },
  });
  new Gauge({
    name: 'sentinel_scorer_info',
    help: 'The model serving now (value 1), by name, version and backend',
    labelNames: ['name', 'version', 'backend'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const s = slot.current();
      if (s.ready)
        this.set({ name: s.scorer.info.name, version: s.scorer.info.version, backend: s.scorer.info.backend }, 1);
    },
  });
  return { registry, requests, duration, predictions, languages };
}

// ---------------------------------------------------------------------------------------------------
// The server

const ROUTES: Record<string, string[]> = {
  '/predict': ['POST'],
  '/health': ['GET'],
  '/ready': ['GET'],
  '/metrics': ['GET'],
};

export function buildServer({
  slot,
  config,
  auth,
  logger,
  store,
  predictionLog,
  health,
  leader,
  registries = [],
  onServerError,
  dashboard,
}: ServerDeps): FastifyInstance {
  const app = fastify({
    loggerInstance: logger,
    bodyLimit: config.maxBodyBytes,
    // Slow clients: the whole request (headers too) must arrive in time, else 408, and an idle socket is
    // closed. Node checks those deadlines every `connectionsCheckingInterval` (30 s by default, which
    // would let a slow client hold a connection 30 s past its deadline): check at a tenth of it.
    serverFactory: (handler) =>
      createHttpServer(
        {
          requestTimeout: config.httpRequestTimeoutMs,
          headersTimeout: config.httpRequestTimeoutMs,
          connectionsCheckingInterval: Math.max(100, Math.round(config.httpRequestTimeoutMs / 10)),
        },
        handler,
      ),
    connectionTimeout: Math.max(60_000, config.httpRequestTimeoutMs),
    // Per-request lines would cost more than the scoring at 1,000 req/s: they are debug-level (below), errors always logged.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.server.maxConnections = config.httpMaxConnections;
  const metrics = createMetrics(slot);
  const parsePredict = makePredictParser(config);
  loadLanguageIdentifier(); // once, here, rather than in the first request's time

  protect(app as unknown as FastifyInstance, { auth, perMinute: config.apiRateLimit });

  acceptJsonOnly(app, {
    maxBodyBytes: config.maxBodyBytes,
    emptyBodyMessage: `request body is empty: ${EXAMPLE}`,
  });

  // Graceful close: requests already in flight finish, and their connections close right after (without
  // this, a keep-alive connection that was busy at close() would hold it open for the keep-alive timeout).
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  // What stands behind each 5xx, for onServerError: the error handled (or the scorer's own, set where caught).
  const failures = new WeakMap<object, { code: string; message: string }>();
  if (onServerError) {
    app.addHook('onError', async (request, _reply, err) => {
      if (!failures.has(request))
        failures.set(request, { code: err instanceof ApiError ? err.code : 'internal_error', message: err.message });
    });
  }

  app.addHook('onResponse', async (request, reply) => {
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    };
    if (onServerError && reply.statusCode >= 500 && labels.route !== '/ready') {
      const f = failures.get(request) ?? { code: 'internal_error', message: `answered ${reply.statusCode}` };
      try {
        onServerError({ method: labels.method, route: labels.route, status: reply.statusCode, ...f });
      } catch (err) {
        logger.error({ err }, 'the onServerError hook failed');
      }
    }
    metrics.requests.inc(labels);
    metrics.duration.observe(labels, reply.elapsedTime / 1000);
    if (logger.isLevelEnabled('debug')) {
      request.log.debug(
        { method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime },
        'request',
      );
    }
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0].slice(0, 200);
    const routes = Object.entries({ ...ROUTES, ...(store ? FEEDBACK_ROUTES : {}) })
      .flatMap(([url, methods]) => methods.map((m) => `${m} ${url}`))
      .join(', ');
    return reply.code(404).send(errorBody('not_found', `no route for ${request.method} ${path}; routes: ${routes}`));
  });

  // A known path with the wrong method is a 405 naming the right one.
  answerWrongMethods(app, ROUTES);

  app.get('/health', async () => ({ status: 'ok' }));

  // The store's health, when it is watched (src/store/health.ts): a store that stops taking writes is not ready.
  const storeHealth = store && 'health' in store ? (store as WatchedStore).health.bind(store) : undefined;

  // Ready = can do its main job: a model and a store. Every other dependency is reported, not fatal.
  const readiness = async (): Promise<{ code: number; body: Record<string, unknown> }> => {
    const state = slot.current();
    const storeFailing = [storeHealth?.(), predictionLog?.health()].find((h) => h && !h.ok);
    const dependencies: Record<string, DependencyHealth> = {
      model: !state.ready
        ? { status: 'down', reason: state.reason }
        : state.origin?.degraded
          ? { status: 'degraded', reason: state.origin.degraded }
          : { status: 'ok' },
      ...(store
        ? {
            store: storeFailing
              ? {
                  status: 'down',
                  reason: storeFailing.reason,
                  ...(storeFailing.since ? { since: storeFailing.since } : {}),
                }
              : { status: 'ok' },
          }
        : {}),
      ...health?.report(),
    };
    if (!state.ready) return { code: 503, body: { ready: false, reason: state.reason, dependencies } };
    if (storeFailing)
      return {
        code: 503,
        body: { ready: false, reason: storeFailing.reason, since: storeFailing.since, dependencies },
      };
    const { name, version, backend, labels, maxLength } = state.scorer.info;
    // Where the model came from (GCS, the local cache or the shipped directory) and, for a fallback, why.
    const origin = state.origin ? { origin: state.origin } : {};
    const status = worst(Object.values(dependencies).map((d) => d.status));
    // Who leads: { role: 'leader' | 'follower' | 'single', holder, token, since } (src/ops/leadership.ts).
    const leaderField = leader ? { leader: leader() } : {};
    return {
      code: 200,
      body: {
        ready: true,
        status,
        model: { name, version, backend, labels, maxLength },
        ...origin,
        dependencies,
        ...leaderField,
      },
    };
  };
  app.get('/ready', async (_request, reply) => {
    const { code, body } = await readiness();
    return reply.code(code).send(body);
  });

  if (dashboard) dashboardRoutes(app as unknown as FastifyInstance, { ...dashboard, readiness });

  app.get('/metrics', { config: { scope: 'metrics' } }, async (_request, reply) => {
    const merged = registries.length ? Registry.merge([metrics.registry, ...registries]) : metrics.registry;
    reply.header('content-type', merged.contentType);
    return merged.metrics();
  });

  app.post('/predict', { config: { scope: 'predict' } }, async (request, reply) => {
    const input = parsePredict(request.body);
    const given = input.kind === 'single' ? [input.text] : input.texts;
    // The language first: a text the model does not read is answered as such, never with an English-model
    // label (and it gets no id: there is no prediction to vote on).
    const verdicts = given.map((t) => identifyLanguage(t));
    for (const v of verdicts) metrics.languages.inc({ language: v.language });
    const read = given.flatMap((_, i) => (verdicts[i].supported ? [i] : []));
    const answer = (scored: Array<Prediction | Explained>) => {
      let k = 0;
      const out = verdicts.map((v) =>
        v.supported
          ? { ...scored[k++], language: v.language, supported: true }
          : { language: v.language, supported: false },
      );
      return input.kind === 'batch' ? { predictions: out } : { prediction: out[0] };
    };
    if (read.length === 0) return answer([]);

    const state = slot.current();
    if (!state.ready) throw new ApiError(503, 'not_ready', `the model is not ready: ${state.reason}`);
    const { scorer } = state;
    // A text the model cannot read at all would get its prior (about "neutral 0.35"): not an opinion.
    for (const i of read) {
      const reason = scorer.unreadable(given[i]);
      if (reason)
        throw new ApiError(
          400,
          'nothing_to_read',
          `${input.kind === 'single' ? '"text"' : `texts[${i}]`} has nothing the model can read: ${reason}`,
        );
    }

    const texts = read.map((i) => given[i]);
    let predictions: Prediction[];
    let explained: Explained | undefined;
    try {
      if (input.kind === 'single' && input.explain) {
        explained = await scorer.explain(input.text);
        predictions = [explained];
      } else {
        predictions = await scorer.score(texts);
        if (!Array.isArray(predictions) || predictions.length !== texts.length) {
          throw new Error(
            `scorer returned ${Array.isArray(predictions) ? predictions.length : 'no'} predictions for ${texts.length} texts`,
          );
        }
      }
    } catch (err) {
      request.log.error({ err, model: scorer.info.version }, 'scorer failed');
      failures.set(request, { code: 'scoring_failed', message: (err as Error)?.message ?? String(err) });
      throw new ApiError(
        500,
        'scoring_failed',
        `the model failed to score this request; the error was logged with request id ${request.id}`,
      );
    }

    for (const p of predictions) metrics.predictions.inc({ label: p.label });
    if (predictionLog) {
      // An id per prediction, kept (write-behind) so POST /feedback can judge it later.
      let ids: string[];
      try {
        ids = predictionLog.keep('api', texts, predictions, { keepText: input.keepText });
      } catch (err) {
        if (!(err instanceof PredictionLogFullError)) throw err;
        // No id Sentinel could not keep is handed out: the client retries once the store is back.
        reply.header('retry-after', '30');
        throw new ApiError(503, 'prediction_log_full', `predictions cannot be kept right now: ${err.reason}`);
      }
      predictions = predictions.map((p, i) => ({ id: ids[i], ...p }));
      if (explained) explained = { id: ids[0], ...explained };
    }
    return answer(explained ? [explained] : predictions);
  });

  if (store) app.register(feedbackRoutes, { store, maxBodyBytes: config.maxBodyBytes, pending: predictionLog });

  return app as unknown as FastifyInstance;
}
