/**
 * A small client of the MLflow tracking server's REST API 2.0 (https://mlflow.org/docs/latest/rest-api.html),
 * over fetch: what the training runs (./run-tracker.ts) and the promotion gate need, nothing more.
 *
 *   GET  /api/2.0/mlflow/experiments/get-by-name?experiment_name=…   → {experiment: {experiment_id, …}}
 *   POST /api/2.0/mlflow/experiments/create   {name}                → {experiment_id}
 *   POST /api/2.0/mlflow/runs/create          {experiment_id, run_name, start_time, tags}  → {run: {info: {run_id, …}}}
 *   POST /api/2.0/mlflow/runs/log-batch       {run_id, metrics, params, tags}  → {}
 *   POST /api/2.0/mlflow/runs/set-tag         {run_id, key, value}  → {}
 *   POST /api/2.0/mlflow/runs/update          {run_id, status, end_time}  → {run_info}
 *
 * The server's limits are the client's: a log-batch holds at most 100 params, 100 tags, 1,000 metrics and
 * 1,000 items in all, so bigger batches are split; keys are at most 250 characters of letters, digits and
 * `_ - . / space`; param values are cut to 6,000 characters and tag values to 5,000 (as the server does when
 * told to truncate). Errors answer `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": …}`: an MlflowError
 * carries both. A tracking URI with `user:password@` sends them as HTTP Basic authentication (fetch refuses
 * URLs with credentials); they never appear in a message.
 */

export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

export interface MlflowParam {
  key: string;
  value: string;
}
export interface MlflowTag {
  key: string;
  value: string;
}
export interface MlflowMetric {
  key: string;
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  step: number;
}

export const MLFLOW_LIMITS = {
  paramsPerBatch: 100,
  tagsPerBatch: 100,
  metricsPerBatch: 1000,
  itemsPerBatch: 1000,
  keyLength: 250,
  paramValueLength: 6000,
  tagValueLength: 5000,
} as const;

/** An answer other than 2xx, or no answer. `errorCode` is MLflow's (`RESOURCE_DOES_NOT_EXIST`…), or `UNREACHABLE`. */
export class MlflowError extends Error {
  constructor(
    readonly errorCode: string,
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'MlflowError';
  }
}

export interface MlflowClientOptions {
  /** MLFLOW_TRACKING_URI: http(s)://host:port[/path], the server's root (the API lives under /api/2.0/mlflow/). */
  trackingUri: string;
  /** Per request; default 10 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** The URI without credentials, for messages and records. */
export function publicTrackingUri(uri: string): string {
  try {
    const url = new URL(uri);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return '(not a URL)';
  }
}

/** A key the server accepts: disallowed characters become `_`, at most 250 characters. */
export function mlflowKey(key: string): string {
  return key.replace(/[^\w./\- ]/g, '_').slice(0, MLFLOW_LIMITS.keyLength);
}

function cut(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

/** Splits params, tags and metrics into batches the server accepts. */
export function batches(data: { params?: MlflowParam[]; metrics?: MlflowMetric[]; tags?: MlflowTag[] }) {
  const params = [...(data.params ?? [])];
  const tags = [...(data.tags ?? [])];
  const metrics = [...(data.metrics ?? [])];
  const out: Array<{ params: MlflowParam[]; tags: MlflowTag[]; metrics: MlflowMetric[] }> = [];
  while (params.length || tags.length || metrics.length) {
    const p = params.splice(0, MLFLOW_LIMITS.paramsPerBatch);
    const t = tags.splice(0, MLFLOW_LIMITS.tagsPerBatch);
    const room = Math.min(MLFLOW_LIMITS.metricsPerBatch, MLFLOW_LIMITS.itemsPerBatch - p.length - t.length);
    out.push({ params: p, tags: t, metrics: metrics.splice(0, room) });
  }
  return out;
}

export class MlflowClient {
  readonly uri: string;
  private readonly base: string;
  private readonly auth?: string;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;

  constructor(opts: MlflowClientOptions) {
    const url = new URL(opts.trackingUri);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new MlflowError('INVALID_PARAMETER_VALUE', `MLflow tracking URI must be http(s)://, got ${url.protocol}`);
    if (url.username || url.password) {
      const user = decodeURIComponent(url.username);
      const password = decodeURIComponent(url.password);
      this.auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    }
    this.uri = publicTrackingUri(opts.trackingUri);
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    this.base = `${url.toString().replace(/\/+$/, '')}/api/2.0/mlflow`;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.fetch = opts.fetch ?? fetch;
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: Record<string, unknown>): Promise<T> {
    const url =
      method === 'GET' && body
        ? `${this.base}/${path}?${new URLSearchParams(body as Record<string, string>)}`
        : `${this.base}/${path}`;
    let res: Response;
    try {
      res = await this.fetch(url, {
        method,
        headers: {
          accept: 'application/json',
          ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
          ...(this.auth ? { authorization: this.auth } : {}),
        },
        ...(method === 'POST' ? { body: JSON.stringify(body ?? {}) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why =
        e.name === 'TimeoutError'
          ? `no answer in ${this.timeoutMs} ms`
          : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new MlflowError('UNREACHABLE', `MLflow at ${this.uri} unreachable (${why})`, undefined, { cause: err });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const j = (json ?? {}) as { error_code?: unknown; message?: unknown };
      const code = typeof j.error_code === 'string' ? j.error_code : `HTTP_${res.status}`;
      const message = typeof j.message === 'string' ? j.message : text.slice(0, 200) || res.statusText;
      throw new MlflowError(code, `MLflow ${path}: ${res.status} ${code}: ${message}`, res.status);
    }
    if (json === undefined || typeof json !== 'object' || json === null)
      throw new MlflowError('BAD_RESPONSE', `MLflow ${path}: the answer is not a JSON object`, res.status);
    return json as T;
  }

  /** The experiment's id, or null when there is none of that name. */
  async getExperimentByName(name: string): Promise<string | null> {
    try {
      const r = await this.call<{ experiment?: { experiment_id?: string } }>('GET', 'experiments/get-by-name', {
        experiment_name: name,
      });
      const id = r.experiment?.experiment_id;
      if (typeof id !== 'string')
        throw new MlflowError('BAD_RESPONSE', 'MLflow experiments/get-by-name: no experiment_id');
      return id;
    } catch (err) {
      if (err instanceof MlflowError && err.errorCode === 'RESOURCE_DOES_NOT_EXIST') return null;
      throw err;
    }
  }

  async createExperiment(name: string): Promise<string> {
    const r = await this.call<{ experiment_id?: string }>('POST', 'experiments/create', { name });
    if (typeof r.experiment_id !== 'string')
      throw new MlflowError('BAD_RESPONSE', 'MLflow experiments/create: no experiment_id');
    return r.experiment_id;
  }

  /** The experiment's id, created when missing (another client creating it at the same time is fine). */
  async ensureExperiment(name: string): Promise<string> {
    const found = await this.getExperimentByName(name);
    if (found !== null) return found;
    try {
      return await this.createExperiment(name);
    } catch (err) {
      if (!(err instanceof MlflowError) || err.errorCode !== 'RESOURCE_ALREADY_EXISTS') throw err;
      const raced = await this.getExperimentByName(name);
      if (raced === null) throw err;
      return raced;
    }
  }

  /** A new run (RUNNING); returns its id. */
  async createRun(
    experimentId: string,
    runName: string,
    tags: Record<string, string> = {},
    startTime = Date.now(),
  ): Promise<string> {
    const r = await this.call<{ run?: { info?: { run_id?: string } } }>('POST', 'runs/create', {
      experiment_id: experimentId,
      run_name: runName,
      start_time: startTime,
      tags: Object.entries(tags).map(([key, value]) => ({
        key: mlflowKey(key),
        value: cut(value, MLFLOW_LIMITS.tagValueLength),
      })),
    });
    const id = r.run?.info?.run_id;
    if (typeof id !== 'string') throw new MlflowError('BAD_RESPONSE', 'MLflow runs/create: no run id');
    return id;
  }

  /** Logs params, metrics and tags, in as many requests as the server's batch limits need. */
  async logBatch(
    runId: string,
    data: { params?: Record<string, string>; metrics?: MlflowMetric[]; tags?: Record<string, string> },
  ): Promise<void> {
    const all = batches({
      params: Object.entries(data.params ?? {}).map(([key, value]) => ({
        key: mlflowKey(key),
        value: cut(value, MLFLOW_LIMITS.paramValueLength),
      })),
      tags: Object.entries(data.tags ?? {}).map(([key, value]) => ({
        key: mlflowKey(key),
        value: cut(value, MLFLOW_LIMITS.tagValueLength),
      })),
      // NaN and ±Infinity have no JSON form: they are left out.
      metrics: (data.metrics ?? [])
        .filter((m) => Number.isFinite(m.value))
        .map((m) => ({
          key: mlflowKey(m.key),
          value: m.value,
          timestamp: Math.round(m.timestamp),
          step: Math.round(m.step),
        })),
    });
    for (const b of all) await this.call('POST', 'runs/log-batch', { run_id: runId, ...b });
  }

  async setTag(runId: string, key: string, value: string): Promise<void> {
    await this.call('POST', 'runs/set-tag', {
      run_id: runId,
      key: mlflowKey(key),
      value: cut(value, MLFLOW_LIMITS.tagValueLength),
    });
  }

  /** Ends the run: FINISHED, FAILED or KILLED, with its end time. */
  async finish(
    runId: string,
    status: Exclude<RunStatus, 'RUNNING' | 'SCHEDULED'>,
    endTime = Date.now(),
  ): Promise<void> {
    await this.call('POST', 'runs/update', { run_id: runId, status, end_time: endTime });
  }
}
