/**
 * /dashboard: a read-only page of the streams, their alerts, the model's production accuracy and health,
 * updated live. Served by the API's own Fastify server; its front end (./client, bundled with ECharts at
 * build time into dist/dashboard/) is served from here too: nothing comes from a CDN.
 *
 *   GET /dashboard                 the page (401 page without access)
 *   GET /dashboard/alerts/:id      an alert's link: checks the signature, opens a session, → /dashboard?alert=id
 *   GET /dashboard/assets/:file    app.js, app.css
 *   GET /dashboard/api/overview    ?range=24h|7d: every stream, alerts, production accuracy
 *   GET /dashboard/api/alerts/:id  one alert with the stream around it
 *   GET /dashboard/api/health      what /ready says
 *   GET /dashboard/api/events      server-sent events: `update` when something new is to be shown
 *
 * Access is ./access's: open in local mode, signed links and sessions otherwise, off without a secret.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../json-api';
import { SESSION_COOKIE, type DashboardAccess } from './access';
import { DASHBOARD_FONTS } from './assets';
import type { LiveUpdates } from './live';
import { RANGES, type Overview, type Range } from './overview';
import { accessPage, dashboardPage } from './page';

export interface DashboardDeps {
  access: DashboardAccess;
  overview: Overview;
  live: LiveUpdates;
  /** Where the built front end is (app.js, app.css). */
  assetsDir: string;
  /** What /ready answers (status code and body). */
  readiness: () => Promise<{ code: number; body: unknown }>;
  /** Session cookies marked Secure (production: the page is served over https). */
  secureCookies: boolean;
  logger: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

const ASSETS: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  ...Object.fromEntries(Object.keys(DASHBOARD_FONTS).map((name) => [name, 'font/ttf'])),
};

/** Headers of every dashboard answer: nothing cached, no framing, no referrer (links carry signatures). */
function guard(reply: FastifyReply): FastifyReply {
  return reply
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY');
}

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function dashboardRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  const { access, overview, live } = deps;
  const cache = new Map<string, { fingerprint: string; body: unknown }>();

  const off = (reply: FastifyReply) =>
    guard(reply)
      .code(404)
      .send(
        errorBody(
          'dashboard_off',
          'the dashboard is off: it shows customers’ tweets, so outside local mode it needs DASHBOARD_SECRET (docs/dashboard.md)',
        ),
      );
  const denied = (reply: FastifyReply) =>
    guard(reply)
      .code(401)
      .send(
        errorBody(
          'dashboard_sign_in',
          'open the dashboard from the "Open in dashboard" button of an alert (its link signs you in)',
        ),
      );
  /** The API routes: off → 404, no session → 401. */
  const allowed = (request: FastifyRequest, reply: FastifyReply): boolean => {
    if (access.mode === 'off') return (void off(reply), false);
    if (!access.allows(request.headers.cookie)) return (void denied(reply), false);
    return true;
  };
  const html = (reply: FastifyReply, code: number, body: string) =>
    guard(reply)
      .code(code)
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', CSP)
      .send(body);

  app.get('/dashboard', async (request, reply) => {
    if (access.mode === 'off') return off(reply);
    if (!access.allows(request.headers.cookie))
      return html(
        reply,
        401,
        accessPage(
          'Sign-in needed',
          'The dashboard shows customers’ tweets and the team’s votes, so it opens only from the “Open in dashboard” button of an alert in Slack or Teams. The link signs you in for a few hours.',
        ),
      );
    if (!existsSync(join(deps.assetsDir, 'app.js')))
      return html(
        reply,
        503,
        accessPage(
          'Not built',
          'The dashboard’s front end is not built: run npm run build:dashboard (npm start does it).',
        ),
      );
    return html(reply, 200, dashboardPage());
  });

  app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>(
    '/dashboard/alerts/:id',
    async (request, reply) => {
      if (access.mode === 'off') return off(reply);
      const { id } = request.params;
      const check = access.checkLink(id, request.query.exp, request.query.sig);
      if (!check.ok) {
        // A valid session still lands on the alert: only a link's own check failed.
        if (access.allows(request.headers.cookie))
          return guard(reply).redirect(`/dashboard?alert=${encodeURIComponent(id)}`, 303);
        return html(reply, 403, accessPage('Link not valid', check.message));
      }
      if (access.mode === 'signed') {
        const session = access.newSession();
        reply.header(
          'set-cookie',
          `${SESSION_COOKIE}=${session.value}; Max-Age=${session.maxAge}; Path=/dashboard; HttpOnly; SameSite=Lax${deps.secureCookies ? '; Secure' : ''}`,
        );
      }
      return guard(reply).redirect(`/dashboard?alert=${encodeURIComponent(id)}`, 303);
    },
  );

  // Read once: the files change only with a new build (a new process). Sent gzipped to browsers that take
  // it (610 KB of script is 210 KB), and 304 when the browser has this version (ETag).
  const files = new Map<string, { raw: Buffer; gzip: Buffer; etag: string }>();
  const asset = (name: string) => {
    let f = files.get(name);
    if (!f) {
      const raw = readFileSync(join(deps.assetsDir, name));
      f = {
        raw,
        gzip: gzipSync(raw, { level: 9 }),
        etag: `"${createHash('sha256').update(raw).digest('base64url').slice(0, 22)}"`,
      };
      files.set(name, f);
    }
    return f;
  };
  app.get<{ Params: { file: string } }>('/dashboard/assets/:file', async (request, reply) => {
    const type = ASSETS[request.params.file];
    if (!type) return reply.code(404).send(errorBody('not_found', `no dashboard asset named ${request.params.file}`));
    if (!existsSync(join(deps.assetsDir, request.params.file)))
      return reply.code(503).send(errorBody('not_built', 'the dashboard is not built: run npm run build:dashboard'));
    const f = asset(request.params.file);
    reply
      .header('content-type', type)
      .header('cache-control', type === 'font/ttf' ? 'public, max-age=86400' : 'no-cache')
      .header('etag', f.etag)
      .header('vary', 'accept-encoding')
      .header('x-content-type-options', 'nosniff');
    if (request.headers['if-none-match'] === f.etag) return reply.code(304).send();
    if (/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? '')))
      return reply.header('content-encoding', 'gzip').send(f.gzip);
    return reply.send(f.raw);
  });

  app.get<{ Querystring: { range?: string } }>('/dashboard/api/overview', async (request, reply) => {
    if (!allowed(request, reply)) return reply;
    const range = (request.query.range ?? '24h') as Range;
    if (!(range in RANGES))
      return guard(reply)
        .code(400)
        .send(
          errorBody(
            'bad_range',
            `range must be one of ${Object.keys(RANGES).join(', ')}, got ${JSON.stringify(request.query.range)}`,
          ),
        );
    // Browsers that get the same update at once share one computation.
    const fingerprint = await overview.fingerprint();
    const hit = cache.get(range);
    if (hit && hit.fingerprint === fingerprint) return guard(reply).send(hit.body);
    const body = await overview.overview(range);
    cache.set(range, { fingerprint, body });
    return guard(reply).send(body);
  });

  app.get<{ Params: { id: string } }>('/dashboard/api/alerts/:id', async (request, reply) => {
    if (!allowed(request, reply)) return reply;
    const detail = await overview.alert(request.params.id);
    if (!detail)
      return guard(reply)
        .code(404)
        .send(
          errorBody(
            'alert_not_found',
            `no alert ${JSON.stringify(request.params.id)} (past alerts are kept as long as RETENTION_ALERT_DAYS says)`,
          ),
        );
    return guard(reply).send(detail);
  });

  app.get('/dashboard/api/health', async (request, reply) => {
    if (!allowed(request, reply)) return reply;
    const { body } = await deps.readiness();
    return guard(reply).send(body);
  });

  app.get('/dashboard/api/events', async (request, reply) => {
    if (!allowed(request, reply)) return reply;
    reply.hijack();
    live.attach(reply.raw);
  });

  app.addHook('preClose', async () => live.close());
}
