/**
 * A loopback HTTPS server speaking X API v2 recent search (GET /2/tweets/search/recent) and the mentions
 * timeline (GET /2/users/:id/mentions), for contract tests of the X source through the real twitter-api-v2
 * client.
 *
 * - TLS: a self-signed certificate (CN localhost, SAN IP 127.0.0.1 and DNS localhost) made with
 *   `openssl req -x509` once per process. Clients trust it through `agent` (an https.Agent with the CA,
 *   passed to twitter-api-v2 as `httpAgent`) or, for child processes, NODE_EXTRA_CA_CERTS=`certPath`.
 * - Search: the scripted tweets filtered by since_id/until_id (exclusive, compared as 64-bit ids),
 *   newest first, `max_results` per page, an opaque `next_token`, `includes.users` for the authors of
 *   the page, `meta` {newest_id, oldest_id, result_count, next_token}. Tweets are served as scripted, so
 *   a tweet without `created_at` is served without it.
 * - Mentions timeline: the same scripted tweets, whatever the user id (numeric, else 400), paged the
 *   same way except that the request names the token `pagination_token` (the answer's is still
 *   `meta.next_token`).
 * - Auth: `Authorization: Bearer <token>` must match `token`, else 401 with X's JSON problem body.
 * - Rate limit: x-rate-limit-limit/remaining/reset on every answer; `remaining` counts down and is
 *   refilled when a request comes after the reset (a new 15-minute window on the injected clock).
 * - Faults on demand, consumed one per request in order: `{ status: 429, reset }`, `{ status: 500 }`,
 *   `{ status: 401 }`, `{ timeout: true }` (never answers), `{ drop: true }` (closes the socket),
 *   `{ body, contentType }` (a raw 200 body), `{ json }` (a 200 with that JSON).
 * - Every request is recorded: path, query, headers, and the time on the injected clock.
 * - Options for replaying a stream (all off by default): `match` says which tweets a query finds (else
 *   every query finds every tweet); `revealAt` gives each tweet the time (on the injected clock) it
 *   comes into existence, so a time-compressed stream is served as it would have arrived — a search's
 *   next pages see the set of its first page, as X's pagination does; `clientTags` accepts paths
 *   prefixed `/as/<tag>/` (e.g. X_API_URL=https://127.0.0.1:PORT/as/replica-1/2/) and records the tag
 *   as the request's `client`, to tell several clients apart. The ids of the tweets answered are
 *   recorded with each request (`tweetIds`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, Agent, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface XTweet {
  id?: string;
  text?: string;
  created_at?: string;
  author_id?: string;
  lang?: string;
  public_metrics?: { retweet_count: number; reply_count: number; like_count: number; quote_count: number };
  [key: string]: unknown;
}

export interface XUser {
  id: string;
  username: string;
  name?: string;
}

export type Fault =
  | { status: number; reset?: number; body?: unknown; headers?: Record<string, string> }
  | { timeout: true }
  | { drop: true }
  | { body: string; contentType?: string }
  | { json: unknown };

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** The injected clock's time when the request arrived. */
  at: number;
  /** What was answered: a status, 'timeout' or 'drop'. */
  answer?: number | 'timeout' | 'drop';
  /** With `clientTags`: the tag of an `/as/<tag>/` path. */
  client?: string;
  /** The ids of the tweets a search answered (a 200 from the scripted tweets). */
  tweetIds?: string[];
}

export interface XServerOptions {
  token?: string;
  tweets?: XTweet[];
  users?: XUser[];
  /** Requests per window announced in x-rate-limit-limit (default 450, X's app limit for recent search). */
  rateLimit?: number;
  /** Clock for recorded times and the default reset (epoch ms); Date.now by default. */
  now?: () => number;
  /** Which scripted tweets `query` finds; default: all of them, whatever the query. */
  match?: (tweet: XTweet, query: string) => boolean;
  /** When (on the `now` clock, epoch ms) a tweet comes into existence; default: it always existed. */
  revealAt?: (tweet: XTweet) => number;
  /** Accept `/as/<tag>/…` paths and record the tag as `client` (default false: such paths are 404). */
  clientTags?: boolean;
}

interface Cert {
  key: string;
  cert: string;
  certPath: string;
}

let cached: Cert | undefined;

/** A self-signed certificate for 127.0.0.1/localhost, valid one day, made once per process. */
export function testCertificate(): Cert {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-x-tls-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ],
    { stdio: 'pipe' },
  );
  cached = { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), certPath };
  return cached;
}

export class XServer {
  /** The API base to give the client (X_API_URL), e.g. https://127.0.0.1:PORT/2/. */
  url = '';
  readonly requests: RecordedRequest[] = [];
  readonly tweets: XTweet[];
  readonly users: XUser[];
  readonly token: string;
  readonly certPath: string;
  readonly ca: string;
  /** An https.Agent trusting the server's certificate (close it with the server). */
  readonly agent: Agent;
  rateLimit: number;
  remaining: number;
  /** Epoch seconds announced in x-rate-limit-reset: the end of the current 15-minute window (set at the first request if not given). */
  reset?: number;
  private readonly faults: Fault[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly now: () => number;
  private readonly match?: (tweet: XTweet, query: string) => boolean;
  private readonly revealAt?: (tweet: XTweet) => number;
  private readonly clientTags: boolean;

  constructor(opts: XServerOptions = {}) {
    const { key, cert, certPath } = testCertificate();
    this.certPath = certPath;
    this.ca = cert;
    this.token = opts.token ?? 'test-bearer-token';
    this.tweets = [...(opts.tweets ?? [])];
    this.users = [...(opts.users ?? [])];
    this.rateLimit = opts.rateLimit ?? 450;
    this.remaining = this.rateLimit;
    this.now = opts.now ?? Date.now;
    this.match = opts.match;
    this.revealAt = opts.revealAt;
    this.clientTags = opts.clientTags ?? false;
    this.agent = new Agent({ ca: cert, keepAlive: false });
    this.server = createServer({ key, cert }, (req, res) => this.handle(req, res));
    this.server.on('secureConnection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `https://127.0.0.1:${port}/2/`;
    return this;
  }

  /** The next requests meet these faults, in order, one each. */
  failNext(...faults: Fault[]): void {
    this.faults.push(...faults);
  }

  addTweets(...tweets: XTweet[]): void {
    this.tweets.push(...tweets);
  }

  /** Requests to the search endpoint. */
  searches(): RecordedRequest[] {
    return this.requests.filter((r) => r.path === '/2/tweets/search/recent');
  }

  /** Requests to the mentions timeline (any user id). */
  timelines(): RecordedRequest[] {
    return this.requests.filter((r) => MENTIONS_PATH.test(r.path));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.agent.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A 15-minute window: a new one (full quota) once the announced reset has passed. */
  private window(): void {
    const now = this.now();
    if (this.reset === undefined || now >= this.reset * 1000) {
      if (this.reset !== undefined) this.remaining = this.rateLimit;
      this.reset = Math.floor(now / 1000) + 900;
    }
  }

  private headers(): Record<string, string> {
    return {
      'x-rate-limit-limit': String(this.rateLimit),
      'x-rate-limit-remaining': String(Math.max(0, this.remaining)),
      'x-rate-limit-reset': String(this.reset),
    };
  }

  private handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const tagged = this.clientTags ? /^\/as\/([^/]+)(\/.*)$/.exec(url.pathname) : null;
    if (tagged) url.pathname = tagged[2];
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      at: this.now(),
      ...(tagged ? { client: decodeURIComponent(tagged[1]) } : {}),
    };
    this.requests.push(record);
    this.window();
    const send = (
      status: number,
      body: unknown,
      headers: Record<string, string> = {},
      contentType = 'application/json; charset=utf-8',
    ) => {
      record.answer = status;
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'content-type': contentType, ...this.headers(), ...headers });
      res.end(text);
    };

    const fault = this.faults.shift();
    if (fault) {
      if ('timeout' in fault) {
        record.answer = 'timeout';
        return; // never answered; destroyed by the client's timeout or by close()
      }
      if ('drop' in fault) {
        record.answer = 'drop';
        req.socket.destroy();
        return;
      }
      if ('json' in fault) return send(200, fault.json);
      if ('status' in fault) {
        const headers = { ...fault.headers };
        if (fault.status === 429) {
          this.remaining = 0;
          if (fault.reset !== undefined) this.reset = fault.reset;
        }
        return send(fault.status, fault.body ?? problem(fault.status), headers);
      }
      return send(200, fault.body, {}, fault.contentType ?? 'application/json');
    }

    if (req.headers.authorization !== `Bearer ${this.token}`) return send(401, problem(401));
    const timeline = MENTIONS_PATH.exec(url.pathname);
    if (timeline && !/^\d+$/.test(timeline[1])) return send(400, problem(400));
    if (url.pathname !== '/2/tweets/search/recent' && !timeline) return send(404, problem(404));
    this.remaining = Math.max(0, this.remaining - 1);
    const answer = this.search(url.searchParams, timeline ? 'pagination_token' : 'next_token');
    const data = (answer as { data?: XTweet[] }).data;
    if (data) record.tweetIds = data.map((t) => t.id).filter((id): id is string => typeof id === 'string');
    send(200, answer);
  }

  private search(q: URLSearchParams, tokenParam: 'next_token' | 'pagination_token'): unknown {
    const since = q.get('since_id');
    const until = q.get('until_id');
    const max = Number(q.get('max_results') ?? 10);
    const token = q.get(tokenParam);
    const decoded = token ? Buffer.from(token, 'base64url').toString().split(':') : [];
    const offset = token ? Number(decoded[1]) : 0;
    // With revealAt, a search's next pages see the tweets that existed at its first page (`asOf`).
    const asOf = decoded[2] !== undefined ? Number(decoded[2]) : this.now();
    const query = q.get('query') ?? '';
    const matching = this.tweets
      .filter(
        (t) =>
          typeof t.id !== 'string' ||
          ((!since || BigInt(t.id) > BigInt(since)) && (!until || BigInt(t.id) < BigInt(until))),
      )
      .filter((t) => (!this.match || this.match(t, query)) && (!this.revealAt || this.revealAt(t) <= asOf))
      .sort((a, b) => (BigInt(b.id ?? 0) > BigInt(a.id ?? 0) ? 1 : BigInt(b.id ?? 0) < BigInt(a.id ?? 0) ? -1 : 0));
    const page = matching.slice(offset, offset + max);
    const ids = page.map((t) => t.id).filter((id): id is string => typeof id === 'string');
    const meta: Record<string, unknown> = { result_count: page.length };
    if (ids.length) {
      meta.newest_id = ids[0];
      meta.oldest_id = ids[ids.length - 1];
    }
    if (offset + max < matching.length)
      meta.next_token = Buffer.from(`page:${offset + max}${this.revealAt ? `:${asOf}` : ''}`).toString('base64url');
    if (page.length === 0) return { meta };
    const authors = new Set(page.map((t) => t.author_id));
    return { data: page, includes: { users: this.users.filter((u) => authors.has(u.id)) }, meta };
  }
}

const MENTIONS_PATH = /^\/2\/users\/([^/]+)\/mentions$/;

export async function startXServer(opts: XServerOptions = {}): Promise<XServer> {
  return new XServer(opts).listen();
}

/** X's JSON problem bodies. */
function problem(status: number): unknown {
  switch (status) {
    case 401:
      return { title: 'Unauthorized', type: 'about:blank', status: 401, detail: 'Unauthorized' };
    case 400:
      return {
        title: 'Invalid Request',
        detail: 'One or more parameters to your request was invalid.',
        type: 'https://api.twitter.com/2/problems/invalid-request',
        status: 400,
      };
    case 403:
      return { title: 'Forbidden', type: 'about:blank', status: 403, detail: 'Forbidden' };
    case 429:
      return { title: 'Too Many Requests', detail: 'Too Many Requests', type: 'about:blank', status: 429 };
    case 404:
      return {
        title: 'Not Found Error',
        detail: 'Not found',
        type: 'https://api.twitter.com/2/problems/resource-not-found',
        status: 404,
      };
    default:
      return { title: 'Internal Server Error', detail: 'Something went wrong', type: 'about:blank', status };
  }
}

/** Tweets in X's shape, built from real rows (id, created_at, text) of the airline data. */
export function tweetsFrom(rows: Array<{ id: string; createdAt: string; text: string }>, authors: XUser[]): XTweet[] {
  return rows.map((r, i) => ({
    id: r.id,
    text: r.text,
    created_at: new Date(r.createdAt).toISOString(),
    author_id: authors[i % authors.length].id,
    lang: 'en',
    public_metrics: { retweet_count: i % 3, reply_count: i % 2, like_count: i % 5, quote_count: 0 },
    edit_history_tweet_ids: [r.id],
  }));
}
