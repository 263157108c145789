/**
 * Who may call the HTTP API. Callers of /predict, /feedback* and /metrics present an API key
 * (`Authorization: Bearer snt_…`); each key has a name and scopes (predict, feedback, metrics). Only the
 * keys' SHA-256 hashes are configured (API_KEYS), so the settings, the logs and the secret store never
 * hold a usable key: keys are 32 random bytes, so a fast hash is enough (a password would need a slow one).
 *
 * Open mode: with no key configured every caller is `local`. config/schema.ts (checkMode) allows that only
 * on a loopback address, where the only callers are this machine's own programs.
 *
 * Each credential also has its own rate limit (@fastify/rate-limit, keyed by the key's name, or by client
 * address in open mode): 429 with Retry-After.
 */
import { createHash, randomBytes } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { API_KEY_ENTRY } from '../../config/schema';
import { errorBody } from './json-api';

export const SCOPES = ['predict', 'feedback', 'metrics'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKeyEntry {
  name: string;
  scopes: Scope[];
  /** SHA-256 of the key, hex. */
  hash: string;
}

export function parseApiKeyEntry(entry: string): ApiKeyEntry {
  // The shape is the schema's (API_KEYS is checked at start-up); this is for keys given in code and tests.
  const m = API_KEY_ENTRY.exec(entry.trim());
  if (!m) throw new Error('expected name:scopes:sha256 (made by npm run apikey)');
  return { name: m[1], scopes: [...new Set(m[2].split('+') as Scope[])], hash: m[3] };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new key and the API_KEYS entry that lets it in. */
export function newApiKey(name: string, scopes: Scope[]): { key: string; entry: string } {
  const key = `snt_${randomBytes(32).toString('base64url')}`;
  return { key, entry: `${name}:${scopes.join('+')}:${hashApiKey(key)}` };
}

/** Who a request comes from: a key's name, or `local` in open mode. */
export interface Principal {
  name: string;
  scopes: readonly Scope[];
}

export class ApiAuth {
  private readonly byHash: Map<string, ApiKeyEntry>;

  private constructor(entries: ApiKeyEntry[]) {
    this.byHash = new Map(entries.map((e) => [e.hash, e]));
  }

  /** Keys from API_KEYS entries; none: open mode. */
  static fromEntries(entries: readonly string[] | undefined): ApiAuth {
    const parsed = (entries ?? []).map(parseApiKeyEntry);
    const names = parsed.map((e) => e.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice)
      throw new Error(`API_KEYS names ${twice} twice: each key needs its own name (votes are counted per name)`);
    return new ApiAuth(parsed);
  }

  get open(): boolean {
    return this.byHash.size === 0;
  }

  get keyNames(): string[] {
    return [...this.byHash.values()].map((e) => e.name);
  }

  /** The principal a credential names, or why it is refused (status and error). */
  check(
    header: string | undefined,
    scope: Scope,
  ): { ok: true; principal: Principal } | { ok: false; status: 401 | 403; code: string; message: string } {
    if (this.open) return { ok: true, principal: { name: 'local', scopes: SCOPES } };
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m)
      return {
        ok: false,
        status: 401,
        code: 'unauthorized',
        message: 'this endpoint needs an API key: send "Authorization: Bearer <key>"',
      };
    const entry = this.byHash.get(hashApiKey(m[1]));
    if (!entry) return { ok: false, status: 401, code: 'unauthorized', message: 'unknown API key' };
    if (!entry.scopes.includes(scope))
      return {
        ok: false,
        status: 403,
        code: 'forbidden',
        message: `the API key "${entry.name}" may not use ${scope} (its scopes: ${entry.scopes.join(', ')})`,
      };
    return { ok: true, principal: { name: entry.name, scopes: entry.scopes } };
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What a route needs: set on every route of the API; routes without one are open (/health, /ready, Slack, Teams). */
    scope?: Scope;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** The principal of a request on a protected route (the hook has checked it). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error(`no principal on ${request.method} ${request.url}: the route has no scope`);
  return request.principal;
}

/**
 * Checks the credential and the rate limit of every request to a route with a `scope`, before its body is
 * read. Install on the root instance before any route is added.
 */
export function protect(app: FastifyInstance, opts: { auth: ApiAuth; perMinute: number }): void {
  const { auth, perMinute } = opts;
  app.decorateRequest('principal', null);
  void app.register(rateLimit, {
    global: false,
    max: perMinute,
    timeWindow: 60_000,
    // Per credential: a key's name; in open mode (loopback only) the client address.
    keyGenerator: (request) => (auth.open ? `ip:${request.ip}` : `key:${request.principal?.name ?? '?'}`),
  });
  let check: ReturnType<FastifyInstance['createRateLimit']> | undefined;

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const scope = request.routeOptions.config?.scope;
    if (!scope) return;
    const verdict = auth.check(request.headers.authorization, scope);
    if (!verdict.ok) {
      if (verdict.status === 401) reply.header('www-authenticate', 'Bearer realm="sentinel"');
      return reply.code(verdict.status).send(errorBody(verdict.code, verdict.message));
    }
    request.principal = verdict.principal;
    check ??= app.createRateLimit();
    const limit = await check(request);
    if (!limit.isAllowed && limit.isExceeded) {
      reply.header('retry-after', String(limit.ttlInSeconds));
      return reply
        .code(429)
        .send(
          errorBody(
            'rate_limited',
            `more than ${perMinute} requests in a minute for ${verdict.principal.name}: retry in ${limit.ttlInSeconds} s`,
          ),
        );
    }
  });
}
