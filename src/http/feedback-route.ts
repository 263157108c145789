/**
 * The feedback API, a fastify plugin (register it with `app.register(feedbackRoutes, { store, maxBodyBytes })`):
 *
 *   POST   /feedback           {"prediction_id", "correct", "true_label"?}  → 201 {"recorded": true}
 *   DELETE /feedback           {"prediction_id"}                            → 200 {"retracted": bool}
 *
 * The voter is the API key's name (`api:<name>`, src/http/auth.ts), never a field of the body.
 *   GET    /feedback/accuracy                                                       → 200 {"models": [...]}
 *
 * Same standard as /predict (src/http/server.ts): JSON only, a body limit, zod validation with one
 * specific message per problem, and every error as `{"error": {"code", "message"}}`. The plugin is
 * self-contained (its own JSON parser, error handler and 405s from ./json-api, encapsulated to its
 * routes), so it behaves the same alone in a test app and inside buildServer. The rules themselves live
 * in src/feedback.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  InvalidVoteError,
  MAX_ID_CHARS,
  PredictionPendingError,
  UnknownPredictionError,
  productionAccuracy,
  recordFeedback,
  retractFeedback,
} from '../feedback/feedback';
import { LABELS } from '../sentiment/types';
import type { Store } from '../store/types';
import type { PredictionLog } from '../feedback/prediction-log';
import { principalOf } from './auth';
import { ApiError, acceptJsonOnly, answerWrongMethods, commonIssueError, kindOf, reject } from './json-api';

export interface FeedbackRouteOptions {
  store: Store;
  maxBodyBytes: number;
  /** Predictions handed out but not yet written (the /predict write-behind): flushed before a vote looks them up. */
  pending?: PredictionLog;
}

/** The routes this plugin serves (for a server's route listing; the plugin answers 405s itself). */
export const FEEDBACK_ROUTES: Record<string, string[]> = {
  '/feedback': ['POST', 'DELETE'],
  '/feedback/accuracy': ['GET'],
};

const VOTE_FIELDS = ['prediction_id', 'correct', 'true_label'] as const;
const RETRACT_FIELDS = ['prediction_id'] as const;
const VOTE_EXAMPLE =
  'send {"prediction_id": "...", "correct": true or false, "true_label": "negative" | "neutral" | "positive" (optional)}';
const RETRACT_EXAMPLE = 'send {"prediction_id": "..."}';
const LABEL_LIST = LABELS.map((l) => `"${l}"`).join(', ');

/** A client value quoted back in a message, bounded. */
function quoted(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v.length > 50 ? `${v.slice(0, 50)}…` : v) : kindOf(v);
}

function missing(name: string, example: string) {
  return (iss: { input: unknown }) => (iss.input === undefined ? `"${name}" is missing: ${example}` : undefined);
}

function idSchema(name: string, example: string) {
  return z
    .string({ error: (iss) => missing(name, example)(iss) ?? `"${name}" must be a string, got ${kindOf(iss.input)}` })
    .superRefine((s, ctx) => {
      const code = 'invalid_prediction_id';
      if (s.trim() === '') return reject(ctx, code, `"${name}" is empty`);
      if (s.length > MAX_ID_CHARS)
        reject(ctx, code, `"${name}" is ${s.length} characters long; the limit is ${MAX_ID_CHARS}`);
    });
}

function envelope(fields: readonly string[], example: string) {
  return z.strictObject(Object.fromEntries(fields.map((f) => [f, z.unknown().optional()])), {
    error: (iss) =>
      iss.code === 'invalid_type'
        ? `request body must be a JSON object: ${example}; got ${kindOf(iss.input)}`
        : undefined,
  });
}

const voteSchema = z.object({
  prediction_id: idSchema('prediction_id', VOTE_EXAMPLE),
  correct: z.boolean({
    error: (iss) =>
      missing('correct', VOTE_EXAMPLE)(iss) ?? `"correct" must be true or false, got ${quoted(iss.input)}`,
  }),
  // null is taken as "no true label", as clients often send it for an absent optional field.
  true_label: z
    .enum(LABELS, { error: (iss) => `"true_label" must be one of ${LABEL_LIST}; got ${quoted(iss.input)}` })
    .nullish(),
});

const retractSchema = z.object({
  prediction_id: idSchema('prediction_id', RETRACT_EXAMPLE),
});

const FIELD_CODES: Record<string, string> = {
  prediction_id: 'invalid_prediction_id',
  correct: 'invalid_correct',
  true_label: 'invalid_true_label',
};

/** The first problem of a failed parse, as the API's error. */
function toApiError(error: z.ZodError, allowed: readonly string[], body?: unknown): ApiError {
  const issue = error.issues[0];
  const common = commonIssueError(issue, allowed);
  if (common) return common;
  const field = issue.path[0];
  if (field === undefined) return new ApiError(400, 'invalid_body', issue.message);
  const given =
    typeof body === 'object' && body !== null && Object.hasOwn(body, field)
      ? (body as Record<PropertyKey, unknown>)[field]
      : undefined;
  if (issue.code === 'invalid_type' && given === undefined) {
    return new ApiError(400, 'missing_field', issue.message);
  }
  return new ApiError(400, FIELD_CODES[String(field)] ?? 'invalid_body', issue.message);
}

function parseBody<T>(body: unknown, fields: readonly string[], example: string, schema: z.ZodType<T>): T {
  if (body === undefined) {
    throw new ApiError(400, 'missing_body', `request body is missing: ${example} with Content-Type: application/json`);
  }
  // The voter is whoever the API key names: a body cannot vote for someone else.
  if (typeof body === 'object' && body !== null && Object.hasOwn(body, 'user'))
    throw new ApiError(
      400,
      'user_not_accepted',
      '"user" is not accepted: the vote is counted for the API key that sends it; remove the field',
    );
  const env = envelope(fields, example).safeParse(body);
  if (!env.success) throw toApiError(env.error, fields);
  const r = schema.safeParse(body);
  if (!r.success) throw toApiError(r.error, fields, body);
  return r.data;
}

/** HTTP voters are their API key: `api:<key name>` (`api:local` when the API is open), never a chat user. */
function voter(request: FastifyRequest): string {
  return `api:${principalOf(request).name}`;
}

/** A store failure: logged with its cause, a generic 500 to the client. */
function storageFailed(request: FastifyRequest, err: unknown, what: string): ApiError {
  request.log.error({ err }, `feedback: ${what} failed`);
  return new ApiError(500, 'storage_failed', `could not ${what}; the error was logged with request id ${request.id}`);
}

function coreError(err: unknown): ApiError | undefined {
  if (err instanceof UnknownPredictionError) {
    return new ApiError(
      404,
      'unknown_prediction',
      `no prediction with id ${quoted(err.predictionId)}: use the id returned with the prediction`,
    );
  }
  if (err instanceof InvalidVoteError) return new ApiError(400, err.code, err.message);
  // An id Sentinel handed out whose prediction the store has not taken yet: retry, never a 404.
  if (err instanceof PredictionPendingError)
    return new ApiError(503, 'prediction_pending', `${err.message}; retry in a few seconds`);
  return undefined;
}

export const feedbackRoutes: FastifyPluginAsync<FeedbackRouteOptions> = async (
  app,
  { store, maxBodyBytes, pending },
) => {
  // Encapsulated to this plugin: JSON only (anything else is a 415), parsed by us so errors are specific.
  acceptJsonOnly(app, { maxBodyBytes, emptyBodyMessage: 'request body is empty: send a JSON object' });

  // A known path with the wrong method is a 405 naming the right ones.
  answerWrongMethods(app, FEEDBACK_ROUTES);

  app.post('/feedback', { bodyLimit: maxBodyBytes, config: { scope: 'feedback' } }, async (request, reply) => {
    const body = parseBody(request.body, VOTE_FIELDS, VOTE_EXAMPLE, voteSchema);
    try {
      await recordFeedback(
        store,
        {
          predictionId: body.prediction_id,
          userId: voter(request),
          correct: body.correct,
          ...(body.true_label ? { trueLabel: body.true_label } : {}),
          source: 'http',
        },
        pending,
      );
    } catch (err) {
      if (err instanceof PredictionPendingError) reply.header('retry-after', '5');
      throw coreError(err) ?? storageFailed(request, err, 'record the vote');
    }
    return reply.code(201).send({ recorded: true });
  });

  app.delete('/feedback', { bodyLimit: maxBodyBytes, config: { scope: 'feedback' } }, async (request, reply) => {
    const body = parseBody(request.body, RETRACT_FIELDS, RETRACT_EXAMPLE, retractSchema);
    try {
      return { retracted: await retractFeedback(store, body.prediction_id, voter(request), pending) };
    } catch (err) {
      if (err instanceof PredictionPendingError) reply.header('retry-after', '5');
      throw coreError(err) ?? storageFailed(request, err, 'retract the vote');
    }
  });

  app.get('/feedback/accuracy', { config: { scope: 'feedback' } }, async (request) => {
    try {
      const rows = await productionAccuracy(store);
      return {
        models: rows.map((r) => ({
          model_version: r.modelVersion,
          votes: r.votes,
          correct: r.correct,
          accuracy: r.accuracy,
        })),
      };
    } catch (err) {
      throw storageFailed(request, err, 'read the accuracy');
    }
  });
};
