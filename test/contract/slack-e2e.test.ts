/**
 * End to end into Slack: the bundled sample of real tweets (Southwest, 19-22 February 2015, a real bad-buzz
 * day) replayed through the real pipeline — ReplaySource → Poller → the real model → SQLite → TrendMonitor —
 * whose only chat sink is the Slack adapter, talking to the recording Slack Web API on loopback. The alert
 * that arrives is checked as Slack receives it, then judged with a reaction sent the way Slack sends it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../config/schema';
import { startSlack, type SlackAdapter } from '../../adapters/slack';
import { PredictionLog } from '../../src/feedback/prediction-log';
import { buildServer } from '../../src/http/server';
import { ApiAuth } from '../../src/http/auth';

/** No API keys: the API is open, as in local mode on loopback. */
const OPEN_API = ApiAuth.fromEntries([]);
import { createLogger } from '../../src/log';
import { Poller } from '../../src/mentions/poller';
import { ReplaySource } from '../../src/mentions/replay-source';
import { loadScorer } from '../../src/sentiment/load';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import type { Scorer } from '../../src/sentiment/types';
import { openSqliteStore } from '../../src/store/sqlite';
import { hashVoterId } from '../../src/store/voter-ids';
import type { Store } from '../../src/store/types';
import { TrendMonitor } from '../../src/trends/monitor';
import { SlackApiServer } from '../helpers/slack-api-server';
import { reactionEvent, sendSigned } from '../helpers/slack-requests';

const ROOT = resolve(__dirname, '../..');
const SAMPLE = join(ROOT, 'src/mentions/sample/airline-bad-buzz.csv');
const SECRET = '0123456789abcdef0123456789abcdef';
const TOKEN = 'xoxb-e2e-token';

let dir: string;
let store: Store;
let scorer: Scorer;
let api: SlackApiServer;
let server: FastifyInstance;
let slack: SlackAdapter;
let predictionLog: PredictionLog;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sentinel-slack-e2e-'));
  store = openSqliteStore(join(dir, 'sentinel.db'));
  await store.migrate();
  scorer = await loadScorer(join(ROOT, 'models/sentinel-bilstm'));
  api = await SlackApiServer.start(TOKEN);
});

afterAll(async () => {
  await slack?.stop();
  await server?.close();
  await predictionLog?.flush();
  await store?.close();
  await api?.close();
  scorer?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

it('a real bad-buzz day replayed through the pipeline arrives in the alert channel as Slack would show it', async () => {
  const logger = createLogger('warn');
  const slot = new ScorerSlot();
  slot.set(scorer);
  predictionLog = new PredictionLog(store);
  const config = loadConfig({
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_ALERT_CHANNELS: 'C0ALERTS',
    SLACK_API_URL: api.apiUrl,
  });
  server = buildServer({ auth: OPEN_API, slot, config, logger, store, predictionLog });
  // The monitor is built after Slack (it takes Slack's sink); Slack reads it through a getter.
  const late: { monitor?: TrendMonitor } = {};
  slack = (await startSlack({ config, app: server, slot, store, predictionLog, logger, trends: () => late.monitor }))!;
  const monitor = (late.monitor = new TrendMonitor({ store, sinks: [slack.sink!], logger }));
  await server.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}/slack/events`;

  const source = new ReplaySource({ path: SAMPLE, logger });
  const poller = new Poller({
    streams: source.allStreams().map((stream) => ({ source, stream })),
    scorer: slot,
    store,
    onScored: monitor.onScored,
    logger,
  });
  for (let polls = 0; polls < 100; polls++) {
    const reports = await poller.pollOnce();
    expect(reports.every((r) => r.result === 'ok')).toBe(true);
    if (reports.every((r) => source.remaining(r.stream, r.checkpoint) === 0)) break;
  }
  await monitor.idle();
  await slack.idle();

  // One alert, opened on 21 February: its headline in the alert channel, with the buttons.
  const headlines = [...api.messages.values()].filter((m) => m.channel === 'C0ALERTS' && !m.thread_ts);
  expect(headlines.length).toBeGreaterThanOrEqual(1);
  const headline = headlines[0];
  const [alert] = await store.listAlerts('Southwest');
  expect(alert.openedAt.slice(0, 10)).toBe('2015-02-21');
  expect((await store.findLink('slack', 'C0ALERTS', headline.ts))?.alertId).toBe(alert.id);
  const opening = api
    .ok('chat.postMessage')
    .find((c) => String(c.args.text).startsWith('Bad buzz starting on Southwest'));
  expect(opening).toBeDefined();
  expect(opening!.args.text).toMatch(
    /^Bad buzz starting on Southwest: \d+ % of mentions negative in the last .* \(normally \d+ %\)$/,
  );
  expect(JSON.stringify(opening!.args.blocks)).toContain('"action_id":"sentinel_alert_snooze_4"');

  // In its thread: the chart (a PNG through files.uploadV2) and the most negative mentions, each linked to
  // the stored prediction of that tweet.
  const thread = [...api.messages.values()].filter((m) => m.thread_ts === headline.ts);
  const mentionPosts = thread.filter((m) => m.text?.includes('negative:'));
  expect(mentionPosts.length).toBeGreaterThanOrEqual(3);
  for (const m of mentionPosts) {
    const link = await store.findLink('slack', 'C0ALERTS', m.ts);
    expect(link?.predictionId).toMatch(/^x:\d+$/);
    const p = await store.getPrediction(link!.predictionId!);
    expect(p).toMatchObject({ kind: 'mention', label: 'negative' });
    expect(JSON.stringify(m.blocks)).toContain(`https://x.com/i/web/status/${link!.predictionId!.slice(2)}`);
  }
  expect(api.uploads.length).toBeGreaterThanOrEqual(1);
  expect(api.uploads.every((u) => u.png)).toBe(true);
  const files = [...api.files.values()].filter((f) => f.completed);
  expect(files[0].completed).toMatchObject({ channel: 'C0ALERTS', thread_ts: headline.ts });

  // It was updated (the headline edited) and resolved: the headline says so, and the thread too.
  expect(headline.edits).toBeGreaterThanOrEqual(1);
  expect(alert.state).toBe('resolved');
  expect(headline.text).toMatch(/^Resolved: Over on Southwest after /);
  expect(JSON.stringify(headline.blocks)).not.toContain('sentinel_alert_ack');
  expect(thread.some((m) => m.reply_broadcast && m.text?.startsWith('Over: '))).toBe(true);

  // Judged from Slack: ✅ on the headline is a vote that it was a real bad buzz.
  const res = await sendSigned(
    url,
    reactionEvent('reaction_added', {
      user: 'USOCIAL1',
      reaction: 'white_check_mark',
      channel: 'C0ALERTS',
      ts: headline.ts,
    }),
    { secret: SECRET },
  );
  expect(res.status).toBe(200);
  await slack.idle();
  const voterKey = (await store.voterKey()).key;
  const db = new Database(join(dir, 'sentinel.db'), { readonly: true });
  try {
    expect(db.prepare('SELECT prediction_id, user_id, correct FROM feedback').all()).toEqual([
      // The voter is named by workspace and user (`slack:TPARADIS:USOCIAL1`), stored as its keyed hash.
      { prediction_id: `alert:${alert.id}`, user_id: hashVoterId(voterKey, 'slack:TPARADIS:USOCIAL1'), correct: 1 },
    ]);
  } finally {
    db.close();
  }
}, 120_000);
