/**
 * Mentions from X: the v2 recent-search endpoint (`tweets/search/recent`) through twitter-api-v2, with
 * app-only auth (a bearer token). A stream whose query is `mentions:<numeric user id>` reads that user's
 * mentions timeline (`users/:id/mentions`) instead: same since_id/until_id/max_results/fields, same page
 * cap, checkpoints and fault handling; only the endpoint and the request's page-token parameter differ
 * (`pagination_token` there, `next_token` in search; both answer with `meta.next_token`).
 *
 * Pagination and checkpoints. X answers newest first and pages towards older tweets with `next_token`.
 * A poll reads at most `maxPagesPerPoll` pages. When the cap is hit with pages left, the part not read
 * yet (older than the oldest tweet read, newer than the previous checkpoint) is a *gap*, recorded in the
 * checkpoint as JSON `{"since_id":A,"until_id":B,"newest_id":C}`: the next poll reads the gap first
 * (`since_id=A&until_id=B`), and only once it is closed does the checkpoint become plain `C` (the newest
 * id stored), from which the poll after reads on. A plain checkpoint is just the newest tweet id stored.
 *
 * Faults. 429: wait until `x-rate-limit-reset` (and the 24-hour reset when that quota is spent), never
 * sooner; a wait longer than `maxRateLimitWaitMs` is not slept through: the fetch fails with an
 * `XRateLimitError` and every fetch before the reset fails at once without calling X. 5xx, timeouts and
 * dropped connections: retried with exponential backoff and jitter, `maxAttempts` in all. 401/403: an
 * `XAuthError` (the poller pauses the source). Other 4xx: an `XApiError` with X's own explanation.
 * A body that is not the v2 JSON: an `XResponseError`. A tweet missing a field: skipped with a warning
 * naming the field, the rest of the page kept.
 *
 * The base URL comes from `apiUrl` (X_API_URL). twitter-api-v2's `cloneWithPrefix` is broken (it calls
 * the class constructor without `new`) and `setPrefix` is protected, so the prefix is passed per
 * request: `client.v2.get(endpoint, query, { prefix })`, a public, typed option of the client. Only
 * HTTPS works: the client always uses `https.request`.
 *
 * The bearer token is never logged, nor put into an error: twitter-api-v2's errors hold the raw
 * request (with its Authorization header), so they are translated and never passed on as a `cause`.
 */
import type { Agent } from 'node:https';
import {
  ApiPartialResponseError,
  ApiRequestError,
  ApiResponseError,
  TwitterApi,
  type TwitterApiReadOnly,
} from 'twitter-api-v2';
import type { Logger } from '../log';
import type { FetchResult, Mention, MentionSource } from './types';

export const DEFAULT_X_API_URL = 'https://api.x.com/2/';
export const DEFAULT_X_QUERY = '@AirParadis -is:retweet';
export const DEFAULT_X_STREAM = 'AirParadis';

const SEARCH_ENDPOINT = 'tweets/search/recent';
const MENTIONS_PREFIX = 'mentions:';
const TWEET_FIELDS = 'created_at,lang,public_metrics,author_id';

/** The clock the source waits with: tests inject one that advances instantly. */
export interface Clock {
  now(): number; // epoch ms
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortError(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

export interface XSourceOptions {
  /** App-only bearer token (X_BEARER_TOKEN). */
  bearerToken: string;
  /** API base, `https://api.x.com/2/` by default (X_API_URL). A bare origin gets `/2/` appended. */
  apiUrl?: string;
  /**
   * Stream name → search query, or `mentions:<numeric user id>` for that user's mentions timeline.
   * Default: one stream `AirParadis` with `@AirParadis -is:retweet`.
   */
  streams?: Record<string, string>;
  /** Pages read per poll and stream (each up to `maxResults` tweets); the rest waits for the next poll. */
  maxPagesPerPoll?: number;
  /** `max_results` per page, 10–100. */
  maxResults?: number;
  /** Attempts per request for 5xx, timeouts and dropped connections (1 = no retry). */
  maxAttempts?: number;
  /** Socket inactivity timeout per request, ms. */
  timeoutMs?: number;
  /** First retry delay, ms; doubles each attempt up to `backoffMaxMs`, with jitter. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Longest 429 wait slept through inside a fetch; longer ones fail the fetch with XRateLimitError. */
  maxRateLimitWaitMs?: number;
  /** Wait after a 429 without a usable `x-rate-limit-reset` header. */
  rateLimitFallbackMs?: number;
  /** Tweets with longer text are skipped as malformed (X's own limit is far below). */
  maxTextChars?: number;
  /** For a private CA (tests, proxies); NODE_EXTRA_CA_CERTS works too. */
  agent?: Agent;
  clock?: Clock;
  /** Jitter source, [0, 1). */
  random?: () => number;
  logger?: Pick<Logger, 'info' | 'warn' | 'debug'>;
  /** After each poll of a stream, what X was asked and returned (X bills every post read: src/ops/read-budget.ts). */
  onUsage?: (usage: XUsage) => void;
}

/** 401/403: the token is wrong, revoked or lacks access. The poller pauses the source. */
export class XAuthError extends Error {
  override readonly name = 'XAuthError';
  constructor(
    readonly status: number,
    detail: string,
  ) {
    super(
      `X API refused the credentials (HTTP ${status}${detail ? `: ${detail}` : ''}); check X_BEARER_TOKEN (app-only bearer token with access to recent search or the mentions timeline)`,
    );
  }
}

/**
 * The TLS certificate of X_API_URL is not trusted (a proxy that intercepts TLS, a private CA, a clock far
 * off): retrying cannot help, so the poller pauses the source and says how to fix it.
 */
export class XTrustError extends Error {
  override readonly name = 'XTrustError';
  constructor(
    readonly code: string,
    apiUrl: string,
  ) {
    super(
      code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID'
        ? `X API's TLS certificate at ${apiUrl} is not valid now (${code}): check this machine's clock`
        : `X API's TLS certificate at ${apiUrl} is not trusted (${code}): if a proxy or a private CA signs it, give its CA certificate with NODE_EXTRA_CA_CERTS=/path/to/ca.pem`,
    );
  }
}

/** Node's codes for a certificate it does not trust (never retried: a network blip does not cause them). */
const TLS_TRUST_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A 429 whose reset is further away than the source is willing to wait within one fetch. */
export class XRateLimitError extends Error {
  override readonly name = 'XRateLimitError';
  constructor(readonly resetAt: number) {
    super(`X API rate limit reached; no request before ${new Date(resetAt).toISOString()}`);
  }
}

/** The body is not the v2 recent-search JSON. */
export class XResponseError extends Error {
  override readonly name = 'XResponseError';
}

/** Any other failure: a 4xx X explains, or 5xx/timeouts still failing after every attempt. */
export class XApiError extends Error {
  override readonly name = 'XApiError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** What X was asked in one poll of one stream, logged (X bills reads) and kept for inspection. */
export interface XUsage {
  stream: string;
  requests: number;
  pages: number;
  tweetsRead: number;
  kept: number;
  skipped: number;
  retries: number;
  rateLimit?: { limit: number; remaining: number; reset: number };
}

/** The checkpoint, decoded. `gap`: tweets in (since, until) not read yet; `newest`: the newest read. */
interface XCheckpoint {
  since: string | null;
  gap?: { until: string; newest: string };
}

interface Page {
  tweets: Mention[];
  skipped: number;
  read: number;
  oldestId?: string;
  newestId?: string;
  nextToken?: string;
}

/** What one stream reads: an endpoint, its fixed parameters, and the name of its page-token parameter. */
interface StreamTarget {
  endpoint: string;
  params: Record<string, string>;
  tokenParam: 'next_token' | 'pagination_token';
}

interface RateLimit {
  limit: number;
  remaining: number;
  reset: number;
  day?: { limit: number; remaining: number; reset: number };
}

export class XSource implements MentionSource {
  readonly name = 'x';
  private readonly client: TwitterApiReadOnly['v2'];
  private readonly prefix: string;
  private readonly streams: Record<string, string>;
  private readonly targets = new Map<string, StreamTarget>();
  private readonly maxPages: number;
  private readonly maxResults: number;
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly maxRateLimitWaitMs: number;
  private readonly rateLimitFallbackMs: number;
  private readonly maxTextChars: number;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly logger?: Pick<Logger, 'info' | 'warn' | 'debug'>;
  private readonly onUsage?: (usage: XUsage) => void;
  /** No request before this time (epoch ms): set by a 429, or by a response saying the quota is spent. */
  private blockedUntil = 0;
  private readonly usage = new Map<string, XUsage>();

  constructor(opts: XSourceOptions) {
    if (!opts.bearerToken || !opts.bearerToken.trim())
      throw new Error('XSource: a bearer token is required (X_BEARER_TOKEN)');
    this.prefix = normalizeApiUrl(opts.apiUrl ?? DEFAULT_X_API_URL);
    this.streams = opts.streams ?? { [DEFAULT_X_STREAM]: DEFAULT_X_QUERY };
    if (Object.keys(this.streams).length === 0) throw new Error('XSource: no stream configured');
    for (const [stream, query] of Object.entries(this.streams)) {
      if (!query.trim()) throw new Error(`XSource: stream "${stream}" has an empty query`);
      this.targets.set(stream, streamTarget(stream, query));
    }
    this.maxPages = positiveInt('maxPagesPerPoll', opts.maxPagesPerPoll ?? 10);
    this.maxResults = positiveInt('maxResults', opts.maxResults ?? 100);
    if (this.maxResults < 10 || this.maxResults > 100)
      throw new Error(`XSource: maxResults must be 10–100 (X's limits), got ${this.maxResults}`);
    this.maxAttempts = positiveInt('maxAttempts', opts.maxAttempts ?? 5);
    this.timeoutMs = positiveInt('timeoutMs', opts.timeoutMs ?? 10_000);
    this.backoffBaseMs = opts.backoffBaseMs ?? 1_000;
    this.backoffMaxMs = opts.backoffMaxMs ?? 60_000;
    this.maxRateLimitWaitMs = opts.maxRateLimitWaitMs ?? 16 * 60_000;
    this.rateLimitFallbackMs = opts.rateLimitFallbackMs ?? 60_000;
    this.maxTextChars = opts.maxTextChars ?? 10_000;
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.logger = opts.logger;
    this.onUsage = opts.onUsage;
    this.client = new TwitterApi(opts.bearerToken, opts.agent ? { httpAgent: opts.agent } : {}).readOnly.v2;
  }

  /** The configured stream names. */
  allStreams(): string[] {
    return Object.keys(this.streams);
  }

  /** What the last poll of `stream` cost. */
  lastUsage(stream: string): XUsage | undefined {
    return this.usage.get(stream);
  }

  async fetch(stream: string, checkpoint: string | null, signal?: AbortSignal): Promise<FetchResult> {
    const target = this.targets.get(stream);
    if (target === undefined)
      throw new Error(`XSource: unknown stream "${stream}" (configured: ${this.allStreams().join(', ')})`);
    const state = parseCheckpoint(checkpoint);
    const usage: XUsage = { stream, requests: 0, pages: 0, tweetsRead: 0, kept: 0, skipped: 0, retries: 0 };
    const collected = new Map<string, Mention>();
    let budget = this.maxPages;
    let next: XCheckpoint = state;
    try {
      // 1. An open gap first: older tweets a capped poll left behind.
      if (state.gap) {
        const run = await this.readRange(
          stream,
          target,
          state.since,
          state.gap.until,
          budget,
          usage,
          collected,
          signal,
        );
        budget -= run.pages;
        if (run.complete) {
          next = { since: state.gap.newest };
        } else {
          next = { since: state.since, gap: { until: run.oldestId ?? state.gap.until, newest: state.gap.newest } };
        }
      }
      // 2. Then what is new since the checkpoint.
      if (!next.gap && budget > 0) {
        const run = await this.readRange(stream, target, next.since, undefined, budget, usage, collected, signal);
        if (run.complete) {
          next = { since: maxId(run.newestId, next.since) };
        } else {
          // Capped with pages left: everything between the old checkpoint and the oldest tweet read is a gap.
          next = { since: next.since, gap: { until: run.oldestId!, newest: run.newestId! } };
        }
      }
    } finally {
      this.usage.set(stream, usage);
      // Also after a failed poll: the pages read before the failure are billed all the same.
      if (usage.tweetsRead > 0) this.onUsage?.(usage);
      this.logger?.info(
        {
          stream,
          requests: usage.requests,
          pages: usage.pages,
          tweetsRead: usage.tweetsRead,
          kept: usage.kept,
          skipped: usage.skipped,
          retries: usage.retries,
          rateLimit: usage.rateLimit,
        },
        `X usage: ${usage.tweetsRead} tweets read in ${usage.pages} page(s) for stream ${stream}` +
          (usage.rateLimit
            ? `, ${usage.rateLimit.remaining}/${usage.rateLimit.limit} requests left in the window`
            : ''),
      );
    }
    if (next.gap) {
      this.logger?.info(
        { stream, pagesPerPoll: this.maxPages, gap: next.gap },
        `X: page cap reached for stream ${stream}; the older rest is read next poll`,
      );
    }
    const mentions = [...collected.values()].sort((a, b) => compareIds(a.id, b.id));
    return { mentions, checkpoint: formatCheckpoint(next) };
  }

  /**
   * Reads (since, until) newest first, up to `budget` pages. `complete`: no page left in that range.
   * `newestId`/`oldestId`: bounds of what was read (from meta, or the ids seen).
   */
  private async readRange(
    stream: string,
    target: StreamTarget,
    since: string | null,
    until: string | undefined,
    budget: number,
    usage: XUsage,
    into: Map<string, Mention>,
    signal?: AbortSignal,
  ): Promise<{ pages: number; complete: boolean; newestId?: string; oldestId?: string }> {
    let pages = 0;
    let token: string | undefined;
    let newestId: string | undefined;
    let oldestId: string | undefined;
    while (pages < budget) {
      const params: Record<string, string | number> = {
        ...target.params,
        max_results: this.maxResults,
        'tweet.fields': TWEET_FIELDS,
        expansions: 'author_id',
        'user.fields': 'username',
      };
      if (since) params.since_id = since;
      if (until) params.until_id = until;
      if (token) params[target.tokenParam] = token;
      const page = await this.request(stream, target.endpoint, params, usage.pages + 1, usage, signal);
      pages++;
      usage.pages++;
      usage.tweetsRead += page.read;
      usage.skipped += page.skipped;
      for (const m of page.tweets) {
        if (!into.has(m.id)) usage.kept++;
        into.set(m.id, m);
      }
      newestId = maxId(newestId, page.newestId) ?? undefined;
      oldestId = minId(oldestId, page.oldestId);
      token = page.nextToken;
      if (!token) return { pages, complete: true, newestId, oldestId };
    }
    return { pages, complete: false, newestId, oldestId };
  }

  /** One page, with the rate-limit and retry policy. */
  private async request(
    stream: string,
    endpoint: string,
    params: Record<string, string | number>,
    pageNo: number,
    usage: XUsage,
    signal?: AbortSignal,
  ): Promise<Page> {
    let rateLimited = 0;
    for (let attempt = 1; ; attempt++) {
      await this.waitForRateLimit(stream, signal);
      usage.requests++;
      try {
        const res = await this.client.get(endpoint, params, {
          prefix: this.prefix,
          fullResponse: true,
          timeout: this.timeoutMs,
        });
        const rl = rateLimitOf(res.rateLimit);
        if (rl) {
          usage.rateLimit = { limit: rl.limit, remaining: rl.remaining, reset: rl.reset };
          // The quota is spent: wait for its reset before the next request instead of collecting a 429.
          if (rl.remaining === 0) this.blockedUntil = Math.max(this.blockedUntil, rl.reset * 1000);
          if (rl.day && rl.day.remaining === 0) this.blockedUntil = Math.max(this.blockedUntil, rl.day.reset * 1000);
        }
        return this.parsePage(stream, res.data, pageNo);
      } catch (err) {
        if (signal?.aborted) throw abortError(signal);
        const failure = this.classify(err, stream);
        if (failure.kind === 'rate-limit') {
          const now = this.clock.now();
          // A reset already past (clock skew) still costs a pause: never hammer X with 429s.
          const until = Math.max(failure.resetAt ?? now + this.rateLimitFallbackMs, now + 1_000);
          this.blockedUntil = Math.max(this.blockedUntil, until);
          if (++rateLimited > this.maxAttempts) throw new XRateLimitError(this.blockedUntil);
          this.logger?.warn(
            { stream, status: 429, reset: Math.round(this.blockedUntil / 1000), waitMs: this.blockedUntil - now },
            `X API rate limit (429) for stream ${stream}: waiting until ${new Date(this.blockedUntil).toISOString()}` +
              (failure.resetAt === undefined ? ' (no x-rate-limit-reset header: fallback wait)' : ''),
          );
          attempt--; // waiting out a 429 is not a failed attempt
          continue;
        }
        if (failure.kind === 'retry' && attempt < this.maxAttempts) {
          const delay = this.backoff(attempt);
          usage.retries++;
          this.logger?.warn(
            { stream, attempt, maxAttempts: this.maxAttempts, delayMs: delay, reason: failure.reason },
            `X API ${failure.reason} for stream ${stream}: retry ${attempt}/${this.maxAttempts - 1} in ${delay} ms`,
          );
          await this.clock.sleep(delay, signal);
          continue;
        }
        if (failure.kind === 'retry') {
          throw new XApiError(
            `X API ${failure.reason} for stream ${stream}, ${this.maxAttempts} attempt(s): giving up for this poll`,
            failure.status,
          );
        }
        throw failure.error;
      }
    }
  }

  private async waitForRateLimit(stream: string, signal?: AbortSignal): Promise<void> {
    const wait = this.blockedUntil - this.clock.now();
    if (wait <= 0) return;
    if (wait > this.maxRateLimitWaitMs) throw new XRateLimitError(this.blockedUntil);
    // A wait of minutes is worth saying: polls seem to stop otherwise.
    (wait >= 60_000 ? this.logger?.info : this.logger?.debug)?.call(
      this.logger,
      { stream, waitMs: wait, until: new Date(this.blockedUntil).toISOString() },
      `X API: rate limit reached; waiting ${Math.round(wait / 1000)} s for its reset`,
    );
    await this.clock.sleep(wait, signal);
    // Never sooner than the reset, even with a clock that wakes early.
    while (this.clock.now() < this.blockedUntil) await this.clock.sleep(this.blockedUntil - this.clock.now(), signal);
  }

  /** Exponential, capped, with "equal jitter": between half and all of the step. */
  private backoff(attempt: number): number {
    const step = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** (attempt - 1));
    return Math.round(step / 2 + (this.random() * step) / 2);
  }

  private classify(
    err: unknown,
    stream: string,
  ):
    | { kind: 'rate-limit'; resetAt?: number }
    | { kind: 'retry'; reason: string; status?: number }
    | { kind: 'fatal'; error: Error } {
    if (err instanceof ApiResponseError) {
      const status = err.code;
      const detail = describeXError(err.data);
      if (status === 429) {
        const rl = rateLimitOf(err.rateLimit);
        let reset = rl && Number.isFinite(rl.reset) && rl.reset > 0 ? rl.reset * 1000 : undefined;
        if (rl?.day && rl.day.remaining === 0 && rl.day.reset > 0) reset = Math.max(reset ?? 0, rl.day.reset * 1000);
        return { kind: 'rate-limit', resetAt: reset };
      }
      if (status === 401 || status === 403) return { kind: 'fatal', error: new XAuthError(status, detail) };
      if (status >= 500 || status === 408)
        return { kind: 'retry', reason: `HTTP ${status}${detail ? ` (${detail})` : ''}`, status };
      return {
        kind: 'fatal',
        error: new XApiError(
          `X API answered HTTP ${status} for stream ${stream}${detail ? `: ${detail}` : ''}`,
          status,
        ),
      };
    }
    if (err instanceof ApiPartialResponseError) {
      // A complete body that does not parse is malformed; a body cut short is a network fault.
      if (err.responseError instanceof SyntaxError) {
        return {
          kind: 'fatal',
          error: new XResponseError(
            `X API response for stream ${stream} is not valid JSON (HTTP ${err.response.statusCode}): ${err.responseError.message.replace(/, ".*" is not valid JSON$/s, '')}`,
          ),
        };
      }
      return { kind: 'retry', reason: 'response cut short' };
    }
    if (err instanceof ApiRequestError) {
      // twitter-api-v2 1.29 stores the cause as `_options.error` but its `requestError` getter reads
      // `_options.requestError` (always undefined): read both.
      const cause = (err.requestError ?? (err as unknown as { _options?: { error?: Error } })._options?.error) as
        NodeJS.ErrnoException | undefined;
      const message = cause?.message ?? 'request failed';
      const code = cause?.code;
      if (code && TLS_TRUST_CODES.has(code)) return { kind: 'fatal', error: new XTrustError(code, this.prefix) };
      if (/timeout/i.test(message)) return { kind: 'retry', reason: `timeout (no data for ${this.timeoutMs} ms)` };
      return { kind: 'retry', reason: `network error (${code ?? message})` };
    }
    if (
      err instanceof XResponseError ||
      err instanceof XAuthError ||
      err instanceof XApiError ||
      err instanceof XTrustError
    )
      return { kind: 'fatal', error: err };
    return {
      kind: 'fatal',
      error: new XApiError(`X API request for stream ${stream} failed: ${(err as Error)?.message ?? String(err)}`),
    };
  }

  /** The v2 recent-search JSON → mentions. Tweets missing fields are skipped; a malformed body throws. */
  private parsePage(stream: string, body: unknown, pageNo: number): Page {
    const where = `X API response for stream ${stream} (page ${pageNo})`;
    if (!isObject(body))
      throw new XResponseError(`${where} is malformed: expected a JSON object, got ${describe(body)}`);
    const { data, includes, meta, errors } = body as Record<string, unknown>;
    if (data !== undefined && !Array.isArray(data))
      throw new XResponseError(`${where} is malformed: "data" is ${describe(data)}, expected an array`);
    if (!isObject(meta))
      throw new XResponseError(
        `${where} is malformed: "meta" is ${meta === undefined ? 'missing' : describe(meta)}, expected an object`,
      );
    const nextToken = (meta as Record<string, unknown>).next_token;
    if (nextToken !== undefined && (typeof nextToken !== 'string' || nextToken === '')) {
      throw new XResponseError(
        `${where} is malformed: "meta.next_token" is ${describe(nextToken)}, expected a non-empty string`,
      );
    }
    const users = isObject(includes) ? (includes as Record<string, unknown>).users : undefined;
    if (users !== undefined && !Array.isArray(users))
      throw new XResponseError(`${where} is malformed: "includes.users" is ${describe(users)}, expected an array`);
    if (Array.isArray(errors) && errors.length > 0) {
      this.logger?.warn(
        { stream, page: pageNo, errors: errors.length, first: describeXError(errors[0]) },
        `${where} carries ${errors.length} partial error(s)`,
      );
    }

    const handles = new Map<string, string>();
    for (const u of (users as unknown[] | undefined) ?? []) {
      if (isObject(u) && typeof u.id === 'string' && typeof u.username === 'string') handles.set(u.id, u.username);
    }

    const tweets: Mention[] = [];
    let skipped = 0;
    const list = (data as unknown[] | undefined) ?? [];
    list.forEach((raw, i) => {
      const problem = tweetProblem(raw, this.maxTextChars);
      if (problem) {
        skipped++;
        const id = isObject(raw) && typeof raw.id === 'string' ? raw.id : undefined;
        this.logger?.warn(
          { stream, page: pageNo, index: i, tweetId: id, field: problem.field },
          `${where}: tweet #${i + 1}${id ? ` (id ${id})` : ''} skipped: ${problem.reason}`,
        );
        return;
      }
      const t = raw as XTweet;
      const m: Mention = { id: t.id, stream, createdAt: new Date(t.created_at).toISOString(), text: t.text };
      if (typeof t.author_id === 'string') {
        m.authorId = t.author_id;
        const handle = handles.get(t.author_id);
        if (handle) m.authorHandle = handle;
      }
      if (typeof t.lang === 'string') m.lang = t.lang;
      if (isObject(t.public_metrics)) {
        const pm = t.public_metrics as Record<string, unknown>;
        const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
        m.metrics = {
          retweets: num(pm.retweet_count),
          replies: num(pm.reply_count),
          likes: num(pm.like_count),
          quotes: num(pm.quote_count),
        };
      }
      tweets.push(m);
    });

    // Bounds of what this page covers: meta's when valid, else the ids of the tweets themselves.
    const ids = list.filter((t): t is { id: string } => isObject(t) && isTweetId(t.id)).map((t) => t.id);
    const m = meta as Record<string, unknown>;
    const newestId =
      maxId(
        isTweetId(m.newest_id) ? m.newest_id : undefined,
        ids.reduce<string | undefined>((a, b) => maxId(a, b) ?? undefined, undefined),
      ) ?? undefined;
    const oldestId = minId(
      isTweetId(m.oldest_id) ? m.oldest_id : undefined,
      ids.reduce<string | undefined>((a, b) => minId(a, b), undefined),
    );
    if (nextToken && !oldestId)
      throw new XResponseError(`${where} is malformed: it has a next_token but no tweet id to page from`);
    return { tweets, skipped, read: list.length, newestId, oldestId, nextToken: nextToken as string | undefined };
  }
}

interface XTweet {
  id: string;
  text: string;
  created_at: string;
  author_id?: unknown;
  lang?: unknown;
  public_metrics?: unknown;
}

function tweetProblem(raw: unknown, maxTextChars: number): { field: string; reason: string } | undefined {
  if (!isObject(raw)) return { field: '(tweet)', reason: `not an object (${describe(raw)})` };
  for (const field of ['id', 'text', 'created_at'] as const) {
    if (raw[field] === undefined || raw[field] === null) return { field, reason: `missing field "${field}"` };
    if (typeof raw[field] !== 'string')
      return { field, reason: `field "${field}" is ${describe(raw[field])}, expected a string` };
  }
  const t = raw as unknown as XTweet;
  if (!TWEET_ID.test(t.id))
    return { field: 'id', reason: `field "id" is not a tweet id (${JSON.stringify(t.id.slice(0, 40))})` };
  if (Number.isNaN(Date.parse(t.created_at)))
    return {
      field: 'created_at',
      reason: `field "created_at" is not a date (${JSON.stringify(t.created_at.slice(0, 40))})`,
    };
  if (t.text.trim() === '') return { field: 'text', reason: 'field "text" is empty' };
  if (t.text.length > maxTextChars)
    return { field: 'text', reason: `field "text" has ${t.text.length} characters, over the limit of ${maxTextChars}` };
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Checkpoints

/** Decodes a checkpoint: `null`, a tweet id, or the JSON gap form. Anything else is a clear error. */
export function parseCheckpoint(checkpoint: string | null): XCheckpoint {
  if (checkpoint === null || checkpoint === '') return { since: null };
  if (TWEET_ID.test(checkpoint)) return { since: checkpoint };
  let raw: unknown;
  try {
    raw = JSON.parse(checkpoint);
  } catch {
    throw new Error(
      `X checkpoint ${JSON.stringify(checkpoint.slice(0, 80))} is neither a tweet id nor the JSON gap form`,
    );
  }
  const r = raw as Record<string, unknown>;
  const sinceOk = r.since_id === null || isTweetId(r.since_id);
  if (!isObject(raw) || !sinceOk || !isTweetId(r.until_id) || !isTweetId(r.newest_id)) {
    throw new Error(
      `X checkpoint ${JSON.stringify(checkpoint.slice(0, 80))}: expected {"since_id": id or null, "until_id": id, "newest_id": id}`,
    );
  }
  return {
    since: (r.since_id as string | null) ?? null,
    gap: { until: r.until_id as string, newest: r.newest_id as string },
  };
}

export function formatCheckpoint(c: XCheckpoint): string | null {
  if (c.gap) return JSON.stringify({ since_id: c.since, until_id: c.gap.until, newest_id: c.gap.newest });
  return c.since;
}

// ---------------------------------------------------------------------------------------------------
// Helpers

/** `mentions:<user id>` → the mentions timeline; anything else is a recent-search query. */
function streamTarget(stream: string, query: string): StreamTarget {
  const q = query.trim();
  if (!q.startsWith(MENTIONS_PREFIX)) return { endpoint: SEARCH_ENDPOINT, params: { query }, tokenParam: 'next_token' };
  const userId = q.slice(MENTIONS_PREFIX.length).trim();
  if (!TWEET_ID.test(userId)) {
    throw new Error(
      `XSource: stream "${stream}" in X_STREAMS is ${JSON.stringify(q)}: the mentions timeline needs a numeric ` +
        `user id after "${MENTIONS_PREFIX}" (e.g. ${stream}=${MENTIONS_PREFIX}1234567890)`,
    );
  }
  return { endpoint: `users/${userId}/mentions`, params: {}, tokenParam: 'pagination_token' };
}

function normalizeApiUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`X API URL ${JSON.stringify(raw)} is not a URL (expected e.g. ${DEFAULT_X_API_URL})`);
  }
  if (url.protocol !== 'https:')
    throw new Error(`X API URL must use https:// (twitter-api-v2 only speaks HTTPS), got ${url.protocol}//`);
  if (url.username || url.password) throw new Error('X API URL must not carry credentials; use X_BEARER_TOKEN');
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/2/';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  return url.toString();
}

function rateLimitOf(rl: unknown): RateLimit | undefined {
  if (!isObject(rl)) return undefined;
  const r = rl as unknown as RateLimit;
  if (!Number.isFinite(r.limit) || !Number.isFinite(r.remaining) || !Number.isFinite(r.reset)) return undefined;
  return r;
}

function describeXError(data: unknown): string {
  if (!isObject(data)) return typeof data === 'string' ? data.slice(0, 200) : '';
  const d = data as Record<string, unknown>;
  const parts = [d.title, d.detail].filter((x) => typeof x === 'string' && x) as string[];
  if (parts.length === 0 && Array.isArray(d.errors) && isObject(d.errors[0])) {
    const e = d.errors[0] as Record<string, unknown>;
    if (typeof e.message === 'string') parts.push(e.message);
  }
  if (parts.length === 0 && typeof d.error === 'string') parts.push(d.error);
  return parts.join(': ').slice(0, 300);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return 'an empty body';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string')
    return v.length > 40 ? `a string (${JSON.stringify(v.slice(0, 40))}…)` : `a string (${JSON.stringify(v)})`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`XSource: ${name} must be a positive integer, got ${v}`);
  return v;
}

const TWEET_ID = /^[1-9]\d{0,19}$/;

function isTweetId(v: unknown): v is string {
  return typeof v === 'string' && TWEET_ID.test(v);
}

/** Tweet ids are 64-bit: compared as BigInt, never as doubles. */
export function compareIds(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function maxId(a: string | null | undefined, b: string | null | undefined): string | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return compareIds(a, b) >= 0 ? a : b;
}

function minId(a: string | undefined, b: string | undefined): string | undefined {
  if (!a) return b;
  if (!b) return a;
  return compareIds(a, b) <= 0 ? a : b;
}
