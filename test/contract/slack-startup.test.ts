/**
 * Slack unreachable when Sentinel starts: Sentinel starts anyway, says so (health: down), retries in the
 * background and comes back without a restart; then it joins the public alert channels (Slack only sends
 * reactions from conversations the bot is in) and says which it cannot join. Against the recording Slack
 * Web API on loopback.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../config/schema';
import { startSlack, type SlackAdapter } from '../../adapters/slack';
import { PredictionLog } from '../../src/feedback/prediction-log';
import { ApiAuth } from '../../src/http/auth';
import { buildServer } from '../../src/http/server';
import { createLogger } from '../../src/log';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import { openSqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';
import { SlackApiServer } from '../helpers/slack-api-server';

const TOKEN = 'xoxb-startup-test';
const SECRET = '0123456789abcdef0123456789abcdef';

let dir: string;
let store: Store;
let api: SlackApiServer;
let lines: Array<Record<string, unknown>>;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sentinel-slack-start-'));
  store = openSqliteStore(join(dir, 's.db'));
  await store.migrate();
  api = await SlackApiServer.start(TOKEN);
  lines = [];
});

afterEach(async () => {
  await store.close();
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

async function start(channels: string): Promise<{ slack: SlackAdapter; stop: () => Promise<void> }> {
  const config = loadConfig({
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_ALERT_CHANNELS: channels,
    SLACK_API_URL: api.apiUrl,
  });
  const stream = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  const logger = createLogger('info', { stream });
  const slot = new ScorerSlot();
  const predictionLog = new PredictionLog(store);
  const app = buildServer({ auth: ApiAuth.fromEntries([]), slot, config, logger, store, predictionLog });
  const slack = (await startSlack({
    config,
    app,
    slot,
    store,
    predictionLog,
    logger,
    apiOptions: { backoffMs: 10 },
    connectionOptions: { retryMs: 100, maxRetryMs: 200 },
  }))!;
  await app.ready();
  return {
    slack,
    stop: async () => {
      await slack.stop();
      await app.close();
    },
  };
}

test('Slack down at start: Sentinel starts, reports slack down, and connects by itself once Slack answers', async () => {
  // The first two connection attempts meet a Slack that answers 503 (each attempt tries auth.test twice).
  api.fail('auth.test', { status: 500 }, { status: 500 }, { status: 500 }, { status: 500 });
  const { slack, stop } = await start('#alerts');
  try {
    expect(slack.health()).toMatchObject({
      status: 'down',
      reason: expect.stringContaining('cannot reach the Slack Web API'),
    });
    expect(slack.botUserId).toBeUndefined();
    expect(lines.some((l) => /Slack unreachable .*tries again in/.test(String(l.msg)))).toBe(true);
    await api.waitFor('auth.test to succeed', () => api.ok('auth.test').length > 0, 5_000);
    await api.waitFor('the alert channel joined', () => api.joined.has('CALERTS'), 5_000);
    expect(slack.health()).toMatchObject({ status: 'ok' });
    expect(slack.botUserId).toBe('UBOT');
    expect(lines.some((l) => l.msg === 'Slack reachable again')).toBe(true);
  } finally {
    await stop();
  }
});

test('joins the public alert channels and names each one it cannot join', async () => {
  api.addChannel('bad-buzz', 'CBADBUZZ');
  api.addChannel('crisis-room', 'GCRISIS', { private: true });
  const { slack, stop } = await start('#bad-buzz,GCRISIS,#nowhere');
  try {
    expect(api.joined).toEqual(new Set(['CBADBUZZ']));
    expect(slack.health()).toEqual({
      status: 'degraded',
      reason: 'not a member of GCRISIS, #nowhere: reactions there are not received (invite the bot)',
    });
    const warned = lines.filter((l) => l.level === 40).map((l) => l.msg);
    expect(warned).toEqual([
      'Slack: cannot join GCRISIS (method_not_supported_for_channel_type): invite the bot to it, or ✅ / ❌ on alerts there will not be received',
      'Slack: no public channel #nowhere: if it is private, invite the bot to it',
    ]);
  } finally {
    await stop();
  }
});

test('a token Slack refuses is still a configuration error at start', async () => {
  await expect(
    startSlack({
      config: loadConfig({ SLACK_BOT_TOKEN: 'xoxb-wrong', SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: api.apiUrl }),
      app: buildServer({
        auth: ApiAuth.fromEntries([]),
        slot: new ScorerSlot(),
        config: loadConfig({}),
        logger: createLogger('silent'),
      }),
      slot: new ScorerSlot(),
      store,
      predictionLog: new PredictionLog(store),
      logger: createLogger('silent'),
    }),
  ).rejects.toThrow(/SLACK_BOT_TOKEN: Slack refused this token \(invalid_auth\)/);
});
