/**
 * The dashboard in a real browser: Debian's Chromium driven by Playwright (playwright-core), against
 * Sentinel itself (src/main.ts) replaying the bundled bad-buzz day. The page is open before the alert:
 * it must appear live (server-sent events, no reload); hovering a bucket shows its counts; the alert's link
 * printed by the console lands on that alert; SIGTERM with the page still listening ends the process.
 * Then with DASHBOARD_SECRET: no way in without the signed link, the link signs the browser in.
 * Screenshots go to test/artifacts/ (git-ignored) for people to look at.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { newApiKey } from '../../src/http/auth';
import { buildDashboard } from '../../src/http/dashboard/build';

jest.setTimeout(240_000);

const ROOT = resolve(__dirname, '../..');
const ARTIFACTS = join(ROOT, 'test/artifacts');
// Debian's Chromium (test/browser/chromium.sh installs it); CHROMIUM_PATH names another (GitHub's runners: Chrome).
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'sentinel-browser-'));
const children: ChildProcess[] = [];
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: run bash test/browser/chromium.sh (npm test does)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  await buildDashboard(); // what `npm start` serves (dist/dashboard)
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // What this machine needs: root without a sandbox, no GPU, no calls to Google's hosts.
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
});

afterAll(async () => {
  await browser?.close();
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => ok(port));
    });
  });
}

async function start(name: string, env: Record<string, string>) {
  const port = await freePort();
  const data = join(dir, name);
  mkdirSync(data);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: data,
      SQLITE_PATH: join(data, 'sentinel.db'),
      LOG_FORMAT: 'json',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
  const until = async (what: string, test: () => boolean, ms = 120_000) => {
    const end = Date.now() + ms;
    while (!test()) {
      if (Date.now() > end || child.exitCode !== null)
        throw new Error(`timed out waiting for ${what}; output:\n${out.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { child, port, url: `http://127.0.0.1:${port}`, out: () => out, exited, until };
}

/** The "Dashboard: <url>" line of the console's alert box (the link Slack's and Teams' buttons carry). */
const dashboardLinkIn = (out: string) => /│ Dashboard:\s+(?:│\s+)?(http\S+)/.exec(out)?.[1];

async function ready(page: Page) {
  await page.waitForSelector('#app[data-state="ready"]', { timeout: 30_000 });
}

it('shows the bad buzz arriving live, the counts of a bucket on hover, and lands on the alert from its link', async () => {
  // 8,000× replays the three days in about 30 s: the page is open well before the alert (about 20 s in).
  const app = await start('live', { BUNDLED_REPLAY_SPEED: '8000' });
  await app.until('the dashboard URL', () =>
    app.out().includes(`dashboard: ${app.url}/dashboard (open on this machine)`),
  );
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${app.url}/dashboard`);
  await ready(page);
  expect(await page.locator('[data-testid="stream-card"][data-stream="Southwest"]').count()).toBe(1);
  expect(await page.locator('[data-testid="open-alert"]').count()).toBe(0); // nothing yet: it must come live
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-before.png') });

  // The alert appears without a reload: the live updates fetched it.
  const navigations: string[] = [];
  page.on('framenavigated', (f) => navigations.push(f.url()));
  await page.waitForSelector('[data-testid="open-alert"]', { timeout: 120_000 });
  expect(navigations).toEqual([]);
  expect(Number(await page.getAttribute('[data-testid="live-status"]', 'data-updates'))).toBeGreaterThan(0);
  const headline = await page.locator('[data-testid="open-alert"] h3').innerText();
  expect(headline).toMatch(/^Bad buzz on Southwest: \d+ % negative when it opened \(normally \d+ %\)$/);
  expect(await page.locator('[data-testid="open-alert"] ol.mentions li').count()).toBeGreaterThan(0);
  await page.waitForTimeout(500); // the chart's first frame
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-alert-live.png') });

  // Hovering a bucket shows its counts.
  const chart = page.locator('[data-testid="chart"][data-stream="Southwest"]');
  const box = (await chart.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.75, box.y + box.height * 0.5);
  const tooltip = page.locator('[data-testid="bucket-tooltip"]');
  await tooltip.waitFor({ state: 'visible', timeout: 10_000 });
  const text = await tooltip.innerText();
  expect(text).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d UTC–\d\d:\d\d/);
  expect(text).toMatch(/\d+ mentions?, \d+ negative/);
  expect(text).toMatch(/last 3 h: (\d+ %|–) negative of \d+/);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-hover.png') });

  // The link the alert carries lands on that alert.
  await app.until('the alert box with its dashboard link', () => dashboardLinkIn(app.out()) !== undefined);
  const link = dashboardLinkIn(app.out())!;
  const alertId = decodeURIComponent(new URL(link).pathname.split('/').pop()!);
  const alertPage = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await alertPage.goto(link);
  await ready(alertPage);
  expect(new URL(alertPage.url()).searchParams.get('alert')).toBe(alertId);
  const detail = alertPage.locator('[data-testid="alert-detail"]');
  expect(await detail.getAttribute('data-alert')).toBe(alertId);
  expect(await detail.locator('h2').innerText()).toMatch(/^Bad buzz on Southwest/);
  await alertPage.waitForTimeout(500);
  await alertPage.screenshot({ path: join(ARTIFACTS, 'dashboard-alert-link.png') });
  expect(problems).toEqual([]);

  // SIGTERM while two pages listen: the process ends (the streams do not hold it).
  app.child.kill('SIGTERM');
  expect(await app.exited).toBe(0);
  await page.close();
  await alertPage.close();
});

it('with DASHBOARD_SECRET: closed without the signed link, which signs the browser in and lands on the alert', async () => {
  const { entry } = newApiKey('browser-test', ['predict']);
  const app = await start('signed', {
    BUNDLED_REPLAY_SPEED: '2000000',
    API_KEYS: entry,
    DASHBOARD_SECRET: 'browser-test-secret-0123456789abcdef',
  });
  await app.until('the alert box with its signed link', () => /[?&]sig=/.test(dashboardLinkIn(app.out()) ?? ''));
  const link = dashboardLinkIn(app.out())!;
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();

  const closed = await page.goto(`${app.url}/dashboard`);
  expect(closed!.status()).toBe(401);
  expect(await page.locator('h1').innerText()).toBe('Sign-in needed');
  const altered = await page.goto(link.replace(/sig=(.)/, (_, c: string) => `sig=${c === 'x' ? 'y' : 'x'}`));
  expect(altered!.status()).toBe(403);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-link-refused.png') });

  await page.goto(link);
  await ready(page);
  const alertId = decodeURIComponent(new URL(link).pathname.split('/').pop()!);
  expect(await page.locator('[data-testid="alert-detail"]').getAttribute('data-alert')).toBe(alertId);
  // The signature is not left in the address bar, and the session cookie is out of the page's reach.
  expect(page.url()).not.toContain('sig=');
  expect(await page.evaluate('document.cookie')).toBe('');
  const [cookie] = await context.cookies();
  expect(cookie).toMatchObject({ name: 'sentinel_dashboard', httpOnly: true, sameSite: 'Lax', path: '/dashboard' });
  // The session opens the dashboard itself afterwards.
  await page.goto(`${app.url}/dashboard`);
  await ready(page);

  // What strangers write (tweets, names) is shown as text: markup in it neither renders nor runs.
  const hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>';
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const poison = (a: any) => ({
    ...a,
    headline: hostile,
    acknowledged: [{ platform: 'slack', user: hostile, at: a.openedAt }],
  });
  await page.route(/\/dashboard\/api\/(overview|alerts\/)/, async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    if (body.streams) for (const st of body.streams) st.alerts = st.alerts.map(poison);
    if (body.alert) {
      body.alert = poison(body.alert);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      body.alert.mentions = body.alert.mentions.map((m: any) => ({ ...m, text: hostile, author: hostile }));
    }
    await route.fulfill({ response: res, json: body });
  });
  await page.goto(`${app.url}/dashboard?alert=${encodeURIComponent(alertId)}`);
  await ready(page);
  await page.waitForTimeout(300);
  expect(await page.evaluate('window.__pwned')).toBeUndefined();
  expect(await page.locator('img[src="x"], main script').count()).toBe(0);
  expect(await page.locator('[data-testid="alert-detail"] h2').innerText()).toBe(hostile);
  expect(await page.locator('[data-testid="alert-detail"] ol.mentions li .text').first().innerText()).toBe(hostile);
  await page.unrouteAll({ behavior: 'wait' });
  await context.close();
  app.child.kill('SIGTERM');
  expect(await app.exited).toBe(0);
});
