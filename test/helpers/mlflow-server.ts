/**
 * A loopback HTTP server speaking the part of MLflow's tracking REST API 2.0 that Sentinel uses
 * (src/train/mlflow.ts), for contract tests through the real client. As strict as an MLflow server
 * (mlflow/server/handlers.py, mlflow/utils/validation.py):
 *
 * - Only the real paths and methods: `GET /api/2.0/mlflow/experiments/get-by-name?experiment_name=`,
 *   `GET experiments/get?experiment_id=`, `POST experiments/create`, `POST runs/create`, `GET runs/get?run_id=`,
 *   `POST runs/log-batch`, `POST runs/set-tag`, `POST runs/update`. Another path: 404; another method: 405.
 * - POST bodies must be JSON sent as `application/json`.
 * - Errors as MLflow answers them: `{"error_code": …, "message": …}` with the code's status —
 *   RESOURCE_DOES_NOT_EXIST 404 (no such experiment or run), RESOURCE_ALREADY_EXISTS 400 (an experiment name
 *   taken), INVALID_PARAMETER_VALUE 400 (a required field missing, a wrong type, a bad key, a value too long,
 *   a batch over its limits, a param logged again with another value).
 * - MLflow's limits: keys of letters, digits, `_ - . / space`, at most 250 characters, not a path that
 *   resolves elsewhere; param values ≤ 6,000 characters, tag values ≤ 5,000; a log-batch ≤ 100 params,
 *   ≤ 100 tags, ≤ 1,000 metrics, ≤ 1,000 items in all, ≤ 1 MB; metrics need key, numeric value and timestamp;
 *   params are immutable (the same value again is fine); run statuses are RUNNING, SCHEDULED, FINISHED,
 *   FAILED, KILLED. Experiment "0" ("Default") exists from the start, as on a fresh server.
 * - Optional HTTP Basic authentication (as `mlflow server --app-name basic-auth`): 401 without it.
 * - Faults on demand: `failNext(path, status)` answers the next request to that path with an INTERNAL_ERROR.
 * - Every request is recorded (method, path, query, body, status).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { posix } from 'node:path';

export interface RecordedRequest {
  method: string;
  /** Without /api/2.0/mlflow/, e.g. `runs/log-batch`; the whole path when it is not under it. */
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorization?: string;
  status: number;
}

export interface FakeExperiment {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: 'active';
  creation_time: number;
  last_update_time: number;
}

export interface FakeRun {
  run_id: string;
  experiment_id: string;
  run_name: string;
  status: string;
  start_time: number;
  end_time?: number;
  params: Map<string, string>;
  tags: Map<string, string>;
  metrics: Array<{ key: string; value: number; timestamp: number; step: number }>;
}

export interface MlflowServer {
  url: string;
  requests: RecordedRequest[];
  experiments: Map<string, FakeExperiment>;
  runs: Map<string, FakeRun>;
  failNext(path: string, status?: number): void;
  close(): Promise<void>;
}

const PREFIX = '/api/2.0/mlflow/';
const STATUSES = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'];
const VALID_NAME = /^[/\w.\- ]*$/;
const MAX_REQUEST_BYTES = 1_000_000;

class ApiError extends Error {
  constructor(
    readonly code: 'INVALID_PARAMETER_VALUE' | 'RESOURCE_DOES_NOT_EXIST' | 'RESOURCE_ALREADY_EXISTS' | 'INTERNAL_ERROR',
    message: string,
  ) {
    super(message);
  }
  get status(): number {
    return this.code === 'RESOURCE_DOES_NOT_EXIST' ? 404 : this.code === 'INTERNAL_ERROR' ? 500 : 400;
  }
}

const invalid = (message: string) => new ApiError('INVALID_PARAMETER_VALUE', message);
const missing = (name: string) =>
  invalid(
    `Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`,
  );

function requiredString(body: Record<string, unknown>, name: string): string {
  const v = body[name];
  if (v === undefined || v === null || v === '') throw missing(name);
  if (typeof v !== 'string')
    throw invalid(`Invalid value ${JSON.stringify(v)} for parameter '${name}' supplied: expected a string`);
  return v;
}

function optionalInt(body: Record<string, unknown>, name: string): number | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n))
    throw invalid(`Invalid value ${JSON.stringify(v)} for parameter '${name}' supplied: expected an integer`);
  return n;
}

function array(body: Record<string, unknown>, name: string): Array<Record<string, unknown>> {
  const v = body[name];
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'object' || x === null))
    throw invalid(`Invalid value ${JSON.stringify(v)} for parameter '${name}' supplied: expected an array of objects`);
  return v as Array<Record<string, unknown>>;
}

function checkName(kind: string, key: unknown): string {
  if (key === undefined || key === null) throw invalid(`${kind} name cannot be None. A key name must be provided.`);
  if (typeof key !== 'string' || !VALID_NAME.test(key))
    throw invalid(
      `Invalid ${kind.toLowerCase()} name: '${String(key)}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).`,
    );
  const norm = posix.normalize(key);
  if (norm !== key || norm === '.' || norm.startsWith('..') || norm.startsWith('/'))
    throw invalid(
      `Invalid ${kind.toLowerCase()} name: '${key}'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '${norm}'`,
    );
  if (key.length > 250)
    throw invalid(`${kind} key '${key.slice(0, 250)}' had length ${key.length}, which exceeded length limit of 250`);
  return key;
}

function checkValue(what: string, value: unknown, limit: number): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw invalid(`${what} must be a string, got ${JSON.stringify(value)}`);
  if (value.length > limit)
    throw invalid(
      `${what} '${value.slice(0, 250)}' had length ${value.length}, which exceeded length limit of ${limit}`,
    );
  return value;
}

function batchLimit(entity: string, limit: number, length: number): void {
  if (length > limit)
    throw invalid(
      `A batch logging request can contain at most ${limit} ${entity}. Got ${length} ${entity}. Please split up ${entity} across multiple requests and try again.`,
    );
}

export async function startMlflowServer(
  opts: { basicAuth?: { user: string; password: string } } = {},
): Promise<MlflowServer> {
  const requests: RecordedRequest[] = [];
  const now = Date.now();
  const experiments = new Map<string, FakeExperiment>([
    [
      '0',
      {
        experiment_id: '0',
        name: 'Default',
        artifact_location: 'mlflow-artifacts:/0',
        lifecycle_stage: 'active',
        creation_time: now,
        last_update_time: now,
      },
    ],
  ]);
  const runs = new Map<string, FakeRun>();
  const faults = new Map<string, number>();
  let nextExperiment = 1;

  const runOf = (runId: string): FakeRun => {
    const run = runs.get(runId);
    if (!run) throw new ApiError('RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
    return run;
  };
  const runInfo = (r: FakeRun) => ({
    run_id: r.run_id,
    run_uuid: r.run_id,
    run_name: r.run_name,
    experiment_id: r.experiment_id,
    user_id: '',
    status: r.status,
    start_time: r.start_time,
    ...(r.end_time !== undefined ? { end_time: r.end_time } : {}),
    artifact_uri: `mlflow-artifacts:/${r.experiment_id}/${r.run_id}/artifacts`,
    lifecycle_stage: 'active',
  });
  const runJson = (r: FakeRun) => ({
    info: runInfo(r),
    data: {
      params: [...r.params].map(([key, value]) => ({ key, value })),
      tags: [...r.tags].map(([key, value]) => ({ key, value })),
      metrics: r.metrics,
    },
    inputs: {},
  });

  function tagsOf(list: Array<Record<string, unknown>>): Array<[string, string]> {
    return list.map((t) => [checkName('Tag', t.key), checkValue('Tag value', t.value, 5000)]);
  }

  const routes: Record<string, { method: 'GET' | 'POST'; handle: (body: Record<string, unknown>) => unknown }> = {
    'experiments/get-by-name': {
      method: 'GET',
      handle(q) {
        const name = requiredString(q, 'experiment_name');
        const e = [...experiments.values()].find((x) => x.name === name);
        if (!e) throw new ApiError('RESOURCE_DOES_NOT_EXIST', `Could not find experiment with name '${name}'`);
        return { experiment: e };
      },
    },
    'experiments/get': {
      method: 'GET',
      handle(q) {
        const id = requiredString(q, 'experiment_id');
        const e = experiments.get(id);
        if (!e) throw new ApiError('RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${id} exists`);
        return { experiment: e };
      },
    },
    'experiments/create': {
      method: 'POST',
      handle(body) {
        const name = requiredString(body, 'name');
        if (name.length > 500) throw invalid('Experiment name exceeds the maximum length of 500 characters');
        if ([...experiments.values()].some((x) => x.name === name))
          throw new ApiError(
            'RESOURCE_ALREADY_EXISTS',
            `Experiment(name=${name}) already exists. Error: (raised as a result of Query-invoked autoflush; UNIQUE constraint failed: experiments.name)`,
          );
        const id = String(nextExperiment++);
        const t = Date.now();
        experiments.set(id, {
          experiment_id: id,
          name,
          artifact_location: `mlflow-artifacts:/${id}`,
          lifecycle_stage: 'active',
          creation_time: t,
          last_update_time: t,
        });
        return { experiment_id: id };
      },
    },
    'runs/create': {
      method: 'POST',
      handle(body) {
        const experimentId = body.experiment_id === undefined ? '0' : requiredString(body, 'experiment_id');
        if (!experiments.has(experimentId))
          throw new ApiError('RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${experimentId} exists`);
        const runName = body.run_name === undefined ? '' : requiredString(body, 'run_name');
        const tags = tagsOf(array(body, 'tags'));
        const runId = randomUUID().replace(/-/g, '');
        const run: FakeRun = {
          run_id: runId,
          experiment_id: experimentId,
          run_name: runName,
          status: 'RUNNING',
          start_time: optionalInt(body, 'start_time') ?? Date.now(),
          params: new Map(),
          tags: new Map(tags),
          metrics: [],
        };
        if (runName) run.tags.set('mlflow.runName', runName);
        runs.set(runId, run);
        return { run: runJson(run) };
      },
    },
    'runs/get': {
      method: 'GET',
      handle(q) {
        return { run: runJson(runOf(requiredString(q, 'run_id'))) };
      },
    },
    'runs/log-batch': {
      method: 'POST',
      handle(body) {
        const run = runOf(requiredString(body, 'run_id'));
        const metrics = array(body, 'metrics');
        const params = array(body, 'params');
        const tags = array(body, 'tags');
        batchLimit('metrics', 1000, metrics.length);
        batchLimit('params', 100, params.length);
        batchLimit('tags', 100, tags.length);
        batchLimit('metrics, params, and tags', 1000, metrics.length + params.length + tags.length);
        const ms = metrics.map((m, i) => {
          for (const f of ['key', 'value', 'timestamp'])
            if (m[f] === undefined || m[f] === null) throw missing(`metrics[${i}].${f}`);
          const key = checkName('Metric', m.key);
          if (typeof m.value !== 'number')
            throw invalid(
              `Got invalid value ${JSON.stringify(m.value)} for metric '${key}' (timestamp=${String(m.timestamp)}). Please specify value as a valid double (64-bit floating point)`,
            );
          if (typeof m.timestamp !== 'number' || !Number.isInteger(m.timestamp) || m.timestamp < 0)
            throw invalid(
              `Got invalid timestamp ${JSON.stringify(m.timestamp)} for metric '${key}' (value=${m.value}). Timestamp must be a nonnegative long (64-bit integer) `,
            );
          const step = m.step === undefined ? 0 : m.step;
          if (typeof step !== 'number' || !Number.isInteger(step))
            throw invalid(
              `Got invalid step ${JSON.stringify(step)} for metric '${key}' (value=${m.value}). Step must be a valid long (64-bit integer).`,
            );
          return { key, value: m.value, timestamp: m.timestamp, step };
        });
        const ps = params.map((p, i): [string, string] => {
          if (p.key === undefined || p.key === null) throw missing(`params[${i}].key`);
          return [checkName('Param', p.key), checkValue('Param value', p.value, 6000)];
        });
        const seen = new Set<string>();
        const dupes = ps.filter(([k]) => (seen.has(k) ? true : (seen.add(k), false))).map(([k]) => k);
        if (dupes.length)
          throw invalid(
            `Duplicate parameter keys have been submitted: ${JSON.stringify(dupes)}. Please ensure the request contains only one param value per param key.`,
          );
        for (const [k, v] of ps) {
          const had = run.params.get(k);
          if (had !== undefined && had !== v)
            throw invalid(
              `Changing param values is not allowed. Param with key='${k}' was already logged with value='${had}' for run ID='${run.run_id}'. Attempted logging new value '${v}'.`,
            );
        }
        const ts = tagsOf(tags);
        for (const [k, v] of ps) run.params.set(k, v);
        run.metrics.push(...ms);
        for (const [k, v] of ts) run.tags.set(k, v);
        return {};
      },
    },
    'runs/set-tag': {
      method: 'POST',
      handle(body) {
        const run = runOf(requiredString(body, 'run_id'));
        if (body.key === undefined || body.key === null || body.key === '') throw missing('key');
        const [[k, v]] = tagsOf([body]);
        run.tags.set(k, v);
        return {};
      },
    },
    'runs/update': {
      method: 'POST',
      handle(body) {
        const run = runOf(requiredString(body, 'run_id'));
        if (body.status !== undefined) {
          if (typeof body.status !== 'string' || !STATUSES.includes(body.status))
            throw invalid(`Invalid value ${JSON.stringify(body.status)} for parameter 'status' supplied`);
          run.status = body.status;
        }
        const end = optionalInt(body, 'end_time');
        if (end !== undefined) run.end_time = end;
        if (body.run_name !== undefined) run.run_name = requiredString(body, 'run_name');
        return { run_info: runInfo(run) };
      },
    },
  };

  const send = (res: ServerResponse, status: number, body: unknown, type = 'application/json') => {
    res.writeHead(status, { 'content-type': type });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
    return status;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.startsWith(PREFIX) ? url.pathname.slice(PREFIX.length) : url.pathname;
    const query = Object.fromEntries(url.searchParams);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const record: RecordedRequest = {
      method: req.method ?? '',
      path,
      query,
      body: undefined,
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      status: 0,
    };
    requests.push(record);

    if (opts.basicAuth) {
      const expected = `Basic ${Buffer.from(`${opts.basicAuth.user}:${opts.basicAuth.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.setHeader('www-authenticate', 'Basic realm="mlflow"');
        record.status = send(
          res,
          401,
          'You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.',
          'text/plain',
        );
        return;
      }
    }
    const route = url.pathname.startsWith(PREFIX) ? routes[path] : undefined;
    if (!route) {
      record.status = send(res, 404, '<!doctype html><title>404 Not Found</title><h1>Not Found</h1>', 'text/html');
      return;
    }
    if (req.method !== route.method) {
      record.status = send(res, 405, '<!doctype html><title>405 Method Not Allowed</title>', 'text/html');
      return;
    }
    const fault = faults.get(path);
    if (fault !== undefined) {
      faults.delete(path);
      record.status = send(res, fault, { error_code: 'INTERNAL_ERROR', message: 'injected fault' });
      return;
    }
    try {
      let input: Record<string, unknown> = query;
      if (route.method === 'POST') {
        if (raw.length > MAX_REQUEST_BYTES)
          throw invalid(
            `Batched logging API requests must be at most ${MAX_REQUEST_BYTES} bytes, got a request of size ${raw.length}.`,
          );
        if (!/^application\/json\b/.test(req.headers['content-type'] ?? ''))
          throw invalid("Bad Request. Content-Type must be 'application/json'.");
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw.toString('utf8'));
        } catch {
          throw invalid('Malformed JSON in the request body.');
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
          throw invalid('The request body must be a JSON object.');
        input = parsed as Record<string, unknown>;
        record.body = input;
      }
      record.status = send(res, 200, route.handle(input));
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError('INTERNAL_ERROR', (err as Error).message);
      record.status = send(res, e.status, { error_code: e.code, message: e.message });
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) send(res, 500, { error_code: 'INTERNAL_ERROR', message: err.message });
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    experiments,
    runs,
    failNext(path, status = 500) {
      faults.set(path, status);
    },
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
