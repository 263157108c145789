/**
 * /dashboard over real HTTP on loopback, on a store filled by the real pipeline: the bundled sample of real
 * Southwest tweets (a bad-buzz day) through the replay source, the shipped model, a SQLite file, the poller
 * and the trend monitor. What it serves (the figures against the store, the alerts and how they ended,
 * accuracy from votes, health), who may see it (open on loopback, signed expiring links and sessions,
 * off), the live updates (server-sent events on a change in the store), and that shutdown does not wait
 * for the browsers listening.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { alertHeadline } from '../../adapters/slack/blocks';
import { alertCard } from '../../adapters/teams/cards';
import { loadConfig } from '../../config/schema';
import { ApiAuth } from '../../src/http/auth';
import { DashboardAccess, SESSION_COOKIE } from '../../src/http/dashboard/access';
import { buildDashboard } from '../../src/http/dashboard/build';
import { LiveUpdates } from '../../src/http/dashboard/live';
import { Overview, type DashboardOverview } from '../../src/http/dashboard/overview';
import { buildServer } from '../../src/http/server';
import { createLogger } from '../../src/log';
import { Poller } from '../../src/mentions/poller';
import { ReplaySource } from '../../src/mentions/replay-source';
import { loadScorer } from '../../src/sentiment/load';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import { openStore } from '../../src/store/open';
import type { Store } from '../../src/store/types';
import type { AlertContent } from '../../src/trends/content';
import { TrendMonitor } from '../../src/trends/monitor';
import { DEFAULT_TREND_SETTINGS } from '../../src/trends/settings';

const SAMPLE = join(__dirname, '../../src/mentions/sample/airline-bad-buzz.csv');
const SECRET = 'a-test-secret-of-at-least-32-characters!';
const dir = mkdtempSync(join(tmpdir(), 'sentinel-dashboard-'));
const assetsDir = join(dir, 'assets');
const slot = new ScorerSlot();
const messages: AlertContent[] = [];
let store: Store;
const servers: FastifyInstance[] = [];

// Response bodies are checked field by field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

beforeAll(async () => {
  await buildDashboard(assetsDir);
  const scorer = await loadScorer('models/sentinel-bilstm');
  slot.set(scorer);
  store = await openStore({ sqlitePath: join(dir, 'sentinel.db') });
  const links = new DashboardAccess({ secret: SECRET, open: false, linkDays: 7, sessionHours: 12 });
  const source = new ReplaySource({ path: SAMPLE, chunkSize: 100 });
  const monitor = new TrendMonitor({
    store,
    renderChart: null,
    dashboardLink: (id) => `https://sentinel.example${links.alertPath(id)}`,
    sinks: [
      {
        name: 'recorder',
        alertOpened: async (c) => void messages.push(c),
        alertUpdated: async (c) => void messages.push(c),
        alertResolved: async (c) => void messages.push(c),
      },
    ],
  });
  const poller = new Poller({
    streams: [{ source, stream: 'Southwest' }],
    scorer,
    store,
    onScored: monitor.onScored,
  });
  for (;;) {
    const [report] = await poller.pollOnce();
    expect(report.result).toBe('ok');
    if (source.remaining('Southwest', report.checkpoint) === 0) break;
  }
  await monitor.idle();
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function serve(access: DashboardAccess, opts: { intervalMs?: number; auth?: ApiAuth } = {}) {
  const overview = new Overview({ store, streams: () => ['Southwest'], settings: DEFAULT_TREND_SETTINGS });
  const live = new LiveUpdates({ fingerprint: () => overview.fingerprint(), intervalMs: opts.intervalMs ?? 100 });
  const app = buildServer({
    auth: opts.auth ?? ApiAuth.fromEntries([]),
    slot,
    store,
    config: loadConfig({}),
    logger: createLogger('silent'),
    dashboard: { access, overview, live, assetsDir, secureCookies: true, logger: createLogger('silent') },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  servers.push(app);
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return { app, url, live };
}

const open = () => new DashboardAccess({ open: true, linkDays: 7, sessionHours: 12 });
const signed = (now?: () => number) =>
  new DashboardAccess({ secret: SECRET, open: false, linkDays: 7, sessionHours: 12, now });

it('the alert messages carry a link to the dashboard on that alert', () => {
  const opened = messages.find((m) => m.kind === 'opened')!;
  expect(opened).toBeDefined();
  const url = new URL(opened.dashboardUrl!);
  expect(url.origin).toBe('https://sentinel.example');
  expect(url.pathname).toBe(`/dashboard/alerts/${opened.alertId}`); // `@` and `:` stay as they are in a path
  expect(url.searchParams.get('exp')).toMatch(/^\d+$/);
  expect(url.searchParams.get('sig')).toMatch(/^[A-Za-z0-9_-]{43}$/);
});

it('Slack and Teams show it as an "Open in dashboard" button: a link button, an Action.OpenUrl', () => {
  const opened = messages.find((m) => m.kind === 'opened')!;
  const resolved = messages.find((m) => m.kind === 'resolved')!;
  for (const m of [opened, resolved]) {
    const { chart: _chart, ...snapshot } = m;
    const slack = alertHeadline(snapshot, { acks: [] }).blocks.find((b) => b.type === 'actions') as Json;
    expect(slack.elements[0]).toEqual({
      type: 'button',
      action_id: 'sentinel_open_dashboard',
      text: { type: 'plain_text', text: 'Open in dashboard', emoji: true },
      url: m.dashboardUrl,
    });
    const card = alertCard(snapshot, undefined, { real: 0, falseAlarm: 0 }) as Json;
    expect(card.actions[0]).toEqual({ type: 'Action.OpenUrl', title: '📈 Open in dashboard', url: m.dashboardUrl });
  }
});

describe('local mode (open on loopback)', () => {
  let url: string;
  beforeAll(async () => ({ url } = await serve(open())));

  it('serves the page, its bundled script and style, and the fonts, with a strict content security policy', async () => {
    const page = await fetch(`${url}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await page.text();
    expect(html).toContain('<script defer src="/dashboard/assets/app.js"></script>');
    expect(html).not.toMatch(/https?:\/\//); // nothing from a CDN
    const js = await fetch(`${url}/dashboard/assets/app.js`); // fetch asks for gzip and inflates
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('content-encoding')).toBe('gzip');
    expect((await js.text()).length).toBeGreaterThan(100_000); // ECharts is in the bundle
    const etag = js.headers.get('etag')!;
    expect((await fetch(`${url}/dashboard/assets/app.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const font = await fetch(`${url}/dashboard/assets/NotoSans-Regular.ttf`);
    expect(font.headers.get('content-type')).toBe('font/ttf');
    expect((await fetch(`${url}/dashboard/assets/..%2Fsentinel.db`)).status).toBe(404);
    expect((await fetch(`${url}/dashboard/assets/main.js`)).status).toBe(404);
  });

  it("the overview's figures are the store's: every mention of the range counted, the alert and its figures", async () => {
    const res = await fetch(`${url}/dashboard/api/overview?range=7d`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as DashboardOverview;
    const [s] = body.streams;
    expect(s.stream).toBe('Southwest');
    expect(s.bucketMinutes).toBe(60);
    expect(s.points).toHaveLength(7 * 24);
    const stored = await store.mentionsBetween('Southwest', s.from!, s.at!);
    const read = stored.filter((m) => m.prediction);
    expect(s.mentions).toBe(s.points.reduce((n, p) => n + p.total, 0));
    // Mentions the model cannot read (no word it knows) are left out, as the detector leaves them out.
    expect(s.mentions).toBeLessThanOrEqual(read.length);
    expect(s.mentions).toBeGreaterThan(read.length * 0.97);
    expect(s.negatives).toBe(s.points.reduce((n, p) => n + p.negative, 0));
    for (const p of s.points) {
      if (p.total) expect(p.share).toBeCloseTo(p.negative / p.total, 4);
      else expect(p.share).toBeNull();
      if (p.baseline !== null) expect(p.low! <= p.baseline && p.baseline <= p.high!).toBe(true);
    }
    // The bad buzz: stored, resolved by the end of the replay, with its figures.
    const alerts = await store.listAlerts('Southwest');
    expect(s.alerts.map((a) => a.id)).toEqual(
      alerts
        .map((a) => a.id)
        .sort()
        .reverse(),
    );
    const a = s.alerts[0];
    const record = alerts.find((x) => x.id === a.id)!;
    expect(a.openedAt).toBe(record.openedAt);
    expect(a.state).toBe(record.state);
    expect(a.verdict).toBe('not judged');
    expect(Date.parse(a.openedAt) - Date.parse(a.windowStart)).toBe(a.windowMinutes * 60_000);
    expect(body.windowMinutes).toBe(DEFAULT_TREND_SETTINGS.windowMinutes);
  });

  it('an alert with the stream around it, its most negative mentions decoded, and its verdict from votes', async () => {
    const [record] = await store.listAlerts('Southwest');
    await store.recordVote({ predictionId: `alert:${record.id}`, userId: 'u1', correct: true, source: 'slack' });
    await store.recordVote({ predictionId: `alert:${record.id}`, userId: 'u2', correct: true, source: 'teams' });
    const res = await fetch(`${url}/dashboard/api/alerts/${encodeURIComponent(record.id)}`);
    expect(res.status).toBe(200);
    const body: Json = await res.json();
    expect(body.alert.id).toBe(record.id);
    expect(body.alert.verdict).toBe('real');
    expect(body.alert.votes).toEqual({ real: 2, falseAlarm: 0 });
    expect(body.alert.mentions.length).toBeGreaterThan(0);
    for (const m of body.alert.mentions) {
      expect(m.url).toMatch(/^https:\/\/x\.com\/i\/web\/status\/\d+$/);
      expect(m.text).not.toMatch(/&amp;|&gt;|&lt;/);
    }
    const points = body.series.points;
    expect(Date.parse(points[0].at)).toBeLessThanOrEqual(Date.parse(body.alert.windowStart) - 12 * 3_600_000);
    expect(Date.parse(points[points.length - 1].at)).toBeGreaterThanOrEqual(Date.parse(record.resolvedAt!));

    const missing = await fetch(`${url}/dashboard/api/alerts/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as Json).error.code).toBe('alert_not_found');
  });

  it('answers a bad range with 400 naming the ranges, and shows what /ready says as health', async () => {
    const bad = await fetch(`${url}/dashboard/api/overview?range=1y`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Json).error.message).toBe('range must be one of 24h, 7d, got "1y"');
    const health: Json = await (await fetch(`${url}/dashboard/api/health`)).json();
    expect(health.ready).toBe(true);
    expect(health.model.name).toBe('sentinel-bilstm');
  });

  it("an alert's link lands on the alert (no sign-in on loopback)", async () => {
    const [record] = await store.listAlerts('Southwest');
    const res = await fetch(`${url}/dashboard/alerts/${encodeURIComponent(record.id)}`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/dashboard?alert=${encodeURIComponent(record.id)}`);
    expect(res.headers.get('set-cookie')).toBeNull();
  });
});

describe('signed links and sessions (DASHBOARD_SECRET)', () => {
  let url: string;
  let clock = Date.now();
  const access = signed(() => clock);
  beforeAll(async () => ({ url } = await serve(access, { auth: ApiAuth.fromEntries([]) })));

  it('without a session: the page says how to get in (401), the API answers 401, the events too', async () => {
    const page = await fetch(`${url}/dashboard`);
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('opens only from the “Open in dashboard” button of an alert');
    for (const path of [
      '/dashboard/api/overview',
      '/dashboard/api/health',
      '/dashboard/api/events',
      '/dashboard/api/alerts/x',
    ]) {
      const res = await fetch(`${url}${path}`);
      expect(res.status).toBe(401);
      expect(((await res.json()) as Json).error.code).toBe('dashboard_sign_in');
    }
  });

  it('a valid link opens a session (HttpOnly, Secure, SameSite, expiring) and lands on the alert', async () => {
    const [record] = await store.listAlerts('Southwest');
    const res = await fetch(`${url}${access.alertPath(record.id)}`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/dashboard?alert=${encodeURIComponent(record.id)}`);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(
      new RegExp(
        `^${SESSION_COOKIE}=\\d+\\.[A-Za-z0-9_-]{43}; Max-Age=43200; Path=/dashboard; HttpOnly; SameSite=Lax; Secure$`,
      ),
    );
    const session = cookie.split(';')[0];
    expect((await fetch(`${url}/dashboard`, { headers: { cookie: session } })).status).toBe(200);
    expect((await fetch(`${url}/dashboard/api/overview`, { headers: { cookie: session } })).status).toBe(200);
    // 12 h later the session is over.
    clock += 12 * 3_600_000 + 1000;
    expect((await fetch(`${url}/dashboard/api/overview`, { headers: { cookie: session } })).status).toBe(401);
    clock = Date.now();
  });

  it('refuses an altered link, another alert with the same signature, an expired link and a forged session', async () => {
    const [record] = await store.listAlerts('Southwest');
    const path = access.alertPath(record.id)!;
    const u = new URL(path, url);
    const sig = u.searchParams.get('sig')!;
    const exp = u.searchParams.get('exp')!;
    const tries: Array<[string, string]> = [
      [`${u.pathname}?exp=${Number(exp) + 1}&sig=${sig}`, 'This link is not valid'],
      [`/dashboard/alerts/other-alert?exp=${exp}&sig=${sig}`, 'This link is not valid'],
      [`${u.pathname}?exp=${exp}&sig=${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`, 'This link is not valid'],
      [`${u.pathname}?exp=${exp}`, 'This link is incomplete'],
      [`${u.pathname}`, 'This link is incomplete'],
    ];
    for (const [p, message] of tries) {
      const res = await fetch(`${url}${p}`, { redirect: 'manual' });
      expect(res.status).toBe(403);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(await res.text()).toContain(message);
    }
    clock += 7 * 86_400_000 + 1000;
    const expired = await fetch(`${url}${path}`, { redirect: 'manual' });
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain('This link expired on');
    clock = Date.now();
    const forged = `${SESSION_COOKIE}=${Math.floor(clock / 1000) + 3600}.${'A'.repeat(43)}`;
    expect((await fetch(`${url}/dashboard/api/overview`, { headers: { cookie: forged } })).status).toBe(401);
  });

  it('a secret changed revokes every link and session', async () => {
    const [record] = await store.listAlerts('Southwest');
    const other = new DashboardAccess({ secret: `${SECRET}-rotated`, open: false, linkDays: 7, sessionHours: 12 });
    const res = await fetch(`${url}${other.alertPath(record.id)}`, { redirect: 'manual' });
    expect(res.status).toBe(403);
    const cookie = `${SESSION_COOKIE}=${other.newSession().value}`;
    expect((await fetch(`${url}/dashboard`, { headers: { cookie } })).status).toBe(401);
  });
});

it('is off outside local mode without a secret: 404 saying why, and alerts carry no link', async () => {
  const off = new DashboardAccess({ open: false, linkDays: 7, sessionHours: 12 });
  expect(off.mode).toBe('off');
  expect(off.alertPath('a')).toBeNull();
  const { url } = await serve(off);
  for (const path of ['/dashboard', '/dashboard/alerts/a', '/dashboard/api/overview']) {
    const res = await fetch(`${url}${path}`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as Json).error.message).toContain('needs DASHBOARD_SECRET');
  }
});

describe('live updates', () => {
  /** Reads server-sent events from a streaming response until `until` says stop. */
  async function events(res: Response, until: (names: string[]) => boolean): Promise<string[]> {
    const reader = res.body!.getReader();
    const names: string[] = [];
    let buffer = '';
    while (!until(names)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += new TextDecoder().decode(value);
      let i;
      while ((i = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        const name = /^event: (\w+)$/m.exec(block)?.[1];
        if (name) names.push(name);
      }
    }
    await reader.cancel().catch(() => undefined);
    return names;
  }

  it('sends `update` when the store changes (a vote), and nothing while it does not', async () => {
    const { url, live } = await serve(open(), { intervalMs: 50 });
    const res = await fetch(`${url}/dashboard/api/events`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const got = events(res, (n) => n.includes('update'));
    await new Promise((r) => setTimeout(r, 300)); // several reads, no change
    expect(live.size).toBe(1);
    const [record] = await store.listAlerts('Southwest');
    await store.recordVote({ predictionId: `alert:${record.id}`, userId: 'u3', correct: false, source: 'slack' });
    expect(await got).toEqual(['hello', 'update']);
  });

  it('shutdown ends the streams instead of waiting for the browsers', async () => {
    const { app, url, live } = await serve(open());
    const res = await fetch(`${url}/dashboard/api/events`);
    const ended = events(res, () => false);
    await new Promise((r) => setTimeout(r, 100));
    expect(live.size).toBe(1);
    await app.close(); // would hang until the jest timeout if the stream held the server open
    expect(await ended).toEqual(['hello']);
    expect(live.size).toBe(0);
  });
});
