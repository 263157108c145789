/**
 * The daily digest and the production accuracy over the real protocols: a real Delta bad-buzz day
 * (test/fixtures/delta_2015-02-20_22.csv, 20–22 Feb 2015) replayed through the poller, the shipped model, a
 * SQLite file and the trend monitor, whose alert goes to Slack (the real Bolt app, requests signed as Slack
 * signs them, Web API calls to the recording Slack API on loopback) and Teams (Bot Framework activities as
 * the Emulator posts them, replies to a recording connector). Then:
 *   - `/sentiment digest` and `/sentiment stats` answered to the caller only, with what people did in Slack
 *     and Teams (Acknowledge, ✅ / ❌ on the alert's headline and on its mentions);
 *   - the scheduled digest posted in the alert channel with its chart in the thread, once, when run twice
 *     and by two sink instances on one store, and finishing after a failure without posting twice;
 *   - `digest` and `stats` in Teams, and the digest posted to Teams' alert conversation once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { webApi } from '@slack/bolt';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../config/schema';
import { startSlack, type SlackAdapter } from '../../adapters/slack';
import { SlackDigestSink, slackAcknowledgements } from '../../adapters/slack/digest-sink';
import { SlackApi, webClientOptions } from '../../adapters/slack/web';
import { startTeams, type TeamsAdapter } from '../../adapters/teams';
import { teamsAcknowledgements } from '../../adapters/teams/digest-sink';
import { Serial } from '../../src/chat/once';
import { PredictionLog } from '../../src/feedback/prediction-log';
import { ApiAuth } from '../../src/http/auth';
import { buildServer } from '../../src/http/server';
import { createLogger } from '../../src/log';
import { Poller } from '../../src/mentions/poller';
import { ReplaySource } from '../../src/mentions/replay-source';
import { loadScorer } from '../../src/sentiment/load';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import type { Scorer } from '../../src/sentiment/types';
import { openSqliteStore } from '../../src/store/sqlite';
import type { AlertRecord, Store } from '../../src/store/types';
import { Digests, type DigestContent } from '../../src/trends/digest';
import { DigestSchedule } from '../../src/trends/digest-schedule';
import { TrendMonitor } from '../../src/trends/monitor';
import { startBfConnector, type BfConnector, type RecordedCall } from '../helpers/bf-connector';
import { SlackApiServer } from '../helpers/slack-api-server';
import { blockAction, reactionEvent, sendSigned, slashCommand, type SlackRequest } from '../helpers/slack-requests';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const SECRET = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const TOKEN = 'xoxb-1234-5678-digesttest';
const FIXTURE = join(__dirname, '../fixtures/delta_2015-02-20_22.csv');
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const BOT = { id: '28:0b5d6e5c-1c1a-4a8e-9f3e-2d0c6c1b7a10', name: 'Sentinel' };
const ALICE = { id: '29:alice', name: 'Alice Martin', aadObjectId: 'aad-alice' };
const TEAM = { id: '19:team-social@thread.tacv2', name: 'Social media' };
const ALERTS_CHANNEL = { id: '19:alerts-ch@thread.tacv2', name: 'alerts' };

let dir: string;
let db: string;
let store: Store;
let scorer: Scorer;
let predictionLog: PredictionLog;
let api: SlackApiServer;
let connector: BfConnector;
let server: FastifyInstance;
let url: string;
let slack: SlackAdapter;
let teams: TeamsAdapter;
let monitor: TrendMonitor;
let digests: Digests;
let alert: AlertRecord;
const logger = createLogger('silent');

const send = (req: SlackRequest) => sendSigned(`${url}/slack/events`, req, { secret: SECRET });

/** Sends a slash command and returns what Slack's response_url received. */
async function command(text: string, id: string, user = 'UAGENT7'): Promise<Json> {
  const res = await send(slashCommand({ text, user, responseUrl: api.responseUrl(id) }));
  expect(res.status).toBe(200);
  await api.waitFor(`the answer to /sentiment ${text}`, () => api.responses.some((r) => r.id === id));
  return api.responses.find((r) => r.id === id)!.body;
}

let seq = 1_700_100_000_000;
function activity(fields: Json, where: 'personal' | 'channel' = 'personal', thread?: string): Json {
  const conversation =
    where === 'personal'
      ? { id: 'a:1personal-alice', conversationType: 'personal', tenantId: TENANT }
      : {
          id: thread ? `${ALERTS_CHANNEL.id};messageid=${thread}` : ALERTS_CHANNEL.id,
          conversationType: 'channel',
          isGroup: true,
          tenantId: TENANT,
        };
  return {
    id: String(++seq),
    timestamp: new Date().toISOString(),
    channelId: 'msteams',
    serviceUrl: connector.url,
    from: ALICE,
    recipient: BOT,
    conversation,
    channelData:
      where === 'channel'
        ? { team: TEAM, channel: ALERTS_CHANNEL, tenant: { id: TENANT } }
        : { tenant: { id: TENANT } },
    locale: 'en-US',
    ...fields,
  };
}

async function teamsPost(body: Json): Promise<void> {
  const res = await fetch(`${url}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(body),
  });
  expect([res.status, await res.text()]).toEqual([200, '']);
}

/** Every text of a card, joined. */
function cardText(card: Json): string {
  const out: string[] = [];
  const walk = (x: Json) => {
    if (Array.isArray(x)) return x.forEach(walk);
    if (x && typeof x === 'object') {
      for (const k of ['text', 'title', 'value']) if (typeof x[k] === 'string') out.push(x[k]);
      Object.values(x).forEach(walk);
    }
  };
  walk(card);
  return out.join('\n');
}

const cardOf = (call: RecordedCall): Json => (call.body.attachments as Json[])[0].content;

/** The headline of the alert in #alerts, and the mention messages of its thread. */
function alertMessages() {
  const all = [...api.messages.values()];
  const step = (m: { metadata?: { event_payload: Record<string, unknown> } }) =>
    String(m.metadata?.event_payload.step ?? '');
  const headline = all.find((m) => step(m) === `${alert.id}/#alerts/headline`)!;
  const mentions = all.filter((m) => m.thread_ts === headline.ts && step(m).includes('/mention:'));
  return { headline, mentions };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sentinel-digest-contract-'));
  db = join(dir, 'sentinel.db');
  store = openSqliteStore(db);
  await store.migrate();
  scorer = await loadScorer('models/sentinel-bilstm');
  const slot = new ScorerSlot();
  slot.set(scorer);
  predictionLog = new PredictionLog(store);
  api = await SlackApiServer.start(TOKEN);
  connector = await startBfConnector();
  const config = loadConfig({
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_ALERT_CHANNELS: '#alerts',
    SLACK_API_URL: api.apiUrl,
    TEAMS_ENABLED: 'true',
    TEAMS_ALERT_SCOPES: 'channel',
  });
  server = buildServer({ auth: ApiAuth.fromEntries([]), slot, config, logger, store, predictionLog });
  const common = {
    config,
    app: server,
    slot,
    store,
    predictionLog,
    logger,
    trends: () => monitor,
    digests: () => digests,
  };
  slack = (await startSlack({ ...common, apiOptions: { backoffMs: 20 } }))!;
  teams = startTeams(common)!;
  monitor = new TrendMonitor({ store, logger, sinks: [slack.sink!, teams.sink] });
  digests = new Digests({
    store,
    streams: () => ['Delta'],
    timeZone: 'UTC',
    clock: monitor,
    acknowledgements: [slackAcknowledgements(store, logger), teamsAcknowledgements(store, logger)],
    logger,
  });
  await server.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;

  // Sentinel is installed in the Teams alerts channel, then the three days are replayed.
  await teamsPost(activity({ type: 'installationUpdate', action: 'add' }, 'channel'));
  const source = new ReplaySource({ path: FIXTURE, chunkSize: 200 });
  const poller = new Poller({ streams: [{ source, stream: 'Delta' }], scorer, store, onScored: monitor.onScored });
  for (;;) {
    const [report] = await poller.pollOnce();
    expect(report.result).toBe('ok');
    if (source.remaining('Delta', report.checkpoint) === 0) break;
  }
  await monitor.idle();
  await slack.idle();
  await teams.idle();
  [alert] = await store.listAlerts('Delta');
}, 120_000);

afterAll(async () => {
  await slack?.stop();
  await teams?.stop();
  await server?.close();
  await predictionLog?.flush();
  await store?.close();
  await api?.close();
  await connector?.close();
  scorer?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('/sentiment digest and /sentiment stats in Slack', () => {
  it('the replay opened one alert on the 22nd, in Slack and in Teams', () => {
    expect(alert.openedAt.slice(0, 10)).toBe('2015-02-22');
    expect(alertMessages().headline).toBeDefined();
    expect(alertMessages().mentions.length).toBeGreaterThan(0);
    expect(connector.of('create').length).toBe(1);
  });

  it('answers the digest of a day to the caller only, with the alert not yet acknowledged nor judged', async () => {
    const posts = api.ok('chat.postMessage').length;
    const uploads = api.ok('files.completeUploadExternal').length;
    const body = await command('digest Delta 2015-02-22', 'd1');
    expect(body.response_type).toBe('ephemeral');
    const text = JSON.stringify(body.blocks);
    expect(text).toMatch(
      /Delta on Sunday 22 February 2015 \(UTC\): 1 alert, \d+ % of mentions negative \(normally \d+ %\)\./,
    );
    expect(text).toContain('*Themes*');
    expect(text).toContain('*Hour by hour*');
    expect(text).toMatch(/opened 19:00, still open \(peak \d+ %\) · not acknowledged · not judged yet/);
    expect(text).toContain('The chart of each day comes with the digest posted in the alert channels.');
    expect(api.ok('chat.postMessage')).toHaveLength(posts); // nothing in the channel
    expect(api.ok('files.completeUploadExternal')).toHaveLength(uploads);
  });

  it('then says who acknowledged it (Slack and Teams) and how the ✅ / ❌ on its headline judged it', async () => {
    const { headline } = alertMessages();
    await send(
      blockAction({
        user: 'UMANAGER',
        channel: 'CALERTS',
        messageTs: headline.ts,
        actionId: 'sentinel_alert_ack',
        value: JSON.stringify({ a: alert.id, s: 'Delta' }),
        responseUrl: api.responseUrl('ack'),
      }),
    );
    for (const user of ['U1', 'U2'])
      await send(
        reactionEvent('reaction_added', { user, reaction: 'white_check_mark', channel: 'CALERTS', ts: headline.ts }),
      );
    await send(reactionEvent('reaction_added', { user: 'U3', reaction: 'x', channel: 'CALERTS', ts: headline.ts }));
    await slack.idle();
    // Alice acknowledges it on the Teams card.
    const [card] = connector.of('create');
    await teamsPost(
      activity(
        { type: 'message', value: { sentinel: 'alertAck', alertId: alert.id }, replyToId: card.id },
        'channel',
        card.id,
      ),
    );
    await teams.idle();
    const text = JSON.stringify((await command('digest delta 2015-02-22', 'd2')).blocks);
    expect(text).toContain('acknowledged by <@UMANAGER>, Alice Martin (teams) · judged a real bad buzz (2 ✅, 1 ❌)');
  });

  it('yesterday by default, on the stream\u2019s data clock: the 21st, a quiet day in two lines', async () => {
    const body = await command('digest', 'd3');
    expect(body.blocks).toHaveLength(1);
    const [first, second] = body.blocks[0].text.text.split('\n');
    expect(first).toBe(':newspaper: *Delta on Saturday 21 February 2015 (UTC): a quiet day.*');
    expect(second).toMatch(
      /^\d+ mentions, \d+ % negative \(too little history yet to know what is normal\); no alert\.$/,
    );
  });

  it('an unknown stream or a bad date: a clear answer listing the streams', async () => {
    expect((await command('digest Ryanair', 'd4')).text).toBe(
      'no stream named "Ryanair"; the streams are Delta. Usage: `/sentiment digest [stream] [YYYY-MM-DD]` (yesterday by default).',
    );
    expect((await command('digest Delta 2015-02-31', 'd5')).text).toMatch(
      /^"2015-02-31" is not a date; expected YYYY-MM-DD/,
    );
  });

  it('/sentiment stats: accuracy per model version with its 95 % interval and the confusion, from votes on the mentions', async () => {
    const { mentions } = alertMessages();
    // U1 says the first mention is rightly negative; U1 and U2 say the second is not (U2 then picks neutral).
    await send(
      reactionEvent('reaction_added', {
        user: 'U1',
        reaction: 'white_check_mark',
        channel: 'CALERTS',
        ts: mentions[0].ts,
      }),
    );
    await send(reactionEvent('reaction_added', { user: 'U1', reaction: 'x', channel: 'CALERTS', ts: mentions[1].ts }));
    await send(reactionEvent('reaction_added', { user: 'U2', reaction: 'x', channel: 'CALERTS', ts: mentions[1].ts }));
    await slack.idle();
    const predictionId = (await store.findLink('slack', 'CALERTS', mentions[1].ts))!.predictionId!;
    await send(
      blockAction({
        user: 'U2',
        channel: 'CALERTS',
        messageTs: mentions[1].ts,
        actionId: 'sentinel_true_label_neutral',
        value: JSON.stringify({ p: predictionId, l: 'neutral' }),
        responseUrl: api.responseUrl('label'),
        ephemeral: true,
      }),
    );
    await slack.idle();
    const body = await command('stats', 's1');
    expect(body.response_type).toBe('ephemeral');
    const text = body.blocks.map((b: Json) => b.text?.text ?? JSON.stringify(b)).join('\n');
    // 1 right of 2: Wilson's 95 % interval is 9–91 %.
    expect(text).toContain(`• \`${scorer.info.version}\` *50 %* (95 % CI 9–91 %) · 1 of 2 right · 3 votes`);
    expect(text).toMatch(/model said\s+negative\s+neutral\s+positive\s+not given\nnegative\s+1\s+1\s+0\s+0\n/);
    expect(body.text).toBe(`Production accuracy: ${scorer.info.version} 50 % over 2`);
  });
});

describe('the scheduled digest in the alert channels', () => {
  /** The data clock on the 23rd at 08:00: yesterday is the bad-buzz day. */
  const on23rd = () =>
    new Digests({
      store,
      streams: () => ['Delta'],
      timeZone: 'UTC',
      clock: { status: async () => [{ stream: 'Delta', at: '2015-02-23T08:00:00.000Z' }] },
      acknowledgements: [slackAcknowledgements(store, logger)],
    });
  const digestPosts = (date: string, zone = 'UTC') =>
    [...api.messages.values()].filter((m) => m.metadata?.event_payload.step === `digest:Delta:${date}:${zone}/#alerts`);
  /** Files shared under that name, with where they went. */
  const charts = (name: string) => [...api.files.values()].filter((f) => f.filename === name && f.completed);

  it('posts yesterday\u2019s digest once in #alerts with its chart in the thread, run twice', async () => {
    const schedule = new DigestSchedule({
      digests: on23rd(),
      sinks: [slack.digestSink!],
      cron: '0 0 8 * * *',
      timeZone: 'UTC',
      isLeader: () => true,
    });
    const first = await schedule.runOnce();
    expect(first).toEqual({ posted: [{ stream: 'Delta', date: '2015-02-22', sink: 'slack' }], failed: [] });
    await schedule.runOnce();
    const posts = digestPosts('2015-02-22');
    expect(posts).toHaveLength(1);
    expect(posts[0].channel).toBe('CALERTS');
    expect(posts[0].thread_ts).toBeUndefined();
    expect(JSON.stringify(posts[0].blocks)).toContain('Delta on Sunday 22 February 2015 (UTC): 1 alert');
    expect(JSON.stringify(posts[0].blocks)).toContain('The chart is in the thread');
    const uploads = charts('Delta-digest-2015-02-22.png');
    expect(uploads).toHaveLength(1);
    expect(uploads[0].completed).toMatchObject({ channel: 'CALERTS', thread_ts: posts[0].ts }); // in the digest's thread
    expect(uploads[0].completed!.title).toBe('Delta: negative mentions on 2015-02-22');
    // A follower posts nothing.
    const follower = new DigestSchedule({
      digests: on23rd(),
      sinks: [slack.digestSink!],
      cron: '0 0 8 * * *',
      timeZone: 'UTC',
      isLeader: () => false,
    });
    expect(await follower.runOnce()).toEqual({ skipped: 'follower', posted: [], failed: [] });
  });

  it('two sink instances on one store post one digest', async () => {
    const content = await on23rd().digestFor('Delta', '2015-02-21');
    const sinkOn = () =>
      new SlackDigestSink({
        api: new SlackApi(new webApi.WebClient(TOKEN, webClientOptions(api.apiUrl)), { logger, backoffMs: 20 }),
        store,
        channels: ['#alerts'],
        logger,
        serial: new Serial(),
      });
    await Promise.all([sinkOn().digest(content), sinkOn().digest(content)]);
    await sinkOn().digest(content);
    expect(digestPosts('2015-02-21')).toHaveLength(1);
  });

  it('a delivery that failed halfway is finished by the next one without posting the message again', async () => {
    const content: DigestContent = await new Digests({
      store,
      streams: () => ['Delta'],
      timeZone: 'America/Los_Angeles',
    }).digestFor('Delta', '2015-02-22');
    expect(content.chart).toBeDefined();
    const sink = new SlackDigestSink({
      api: new SlackApi(new webApi.WebClient(TOKEN, webClientOptions(api.apiUrl)), { logger, backoffMs: 20 }),
      store,
      channels: ['#alerts'],
      logger,
      serial: new Serial(),
      claimTtlMs: 1, // the next delivery may go at once
    });
    api.fail('files.getUploadURLExternal', { error: 'not_allowed_token_type' });
    await expect(sink.digest(content)).rejects.toThrow(/is not fully in Slack/);
    await new Promise((r) => setTimeout(r, 5));
    await sink.digest(content);
    const posts = digestPosts('2015-02-22', 'America/Los_Angeles');
    expect(posts).toHaveLength(1);
    const uploads = charts('Delta-digest-2015-02-22.png').filter((f) => f.completed!.thread_ts === posts[0].ts);
    expect(uploads).toHaveLength(1);
  });
});

describe('digest and stats in Teams', () => {
  it('answers `digest Delta 2015-02-22` with the card and its chart, `stats` with the figures', async () => {
    const before = connector.calls.length;
    const incoming = activity({ type: 'message', text: 'digest Delta 2015-02-22', textFormat: 'plain' });
    await teamsPost(incoming);
    const [reply] = connector.of('reply', before);
    expect(reply.activityId).toBe(incoming.id);
    const card = cardOf(reply);
    expect(cardText(card)).toMatch(/Delta on Sunday 22 February 2015 \(UTC\): 1 alert/);
    expect(cardText(card)).toContain(
      'acknowledged by Alice Martin, 1 person in Slack · judged a real bad buzz (2 ✅, 1 ❌)',
    );
    const image = JSON.stringify(card).match(/"url":"(data:image\/png;base64,[^"]+)"/)?.[1];
    expect(image).toBeDefined();
    expect(JSON.stringify(card).length).toBeLessThanOrEqual(26_000);

    const at = connector.calls.length;
    await teamsPost(activity({ type: 'message', text: 'stats', textFormat: 'plain' }));
    const stats = cardText(cardOf(connector.of('reply', at)[0]));
    expect(stats).toContain('Production accuracy from your votes');
    expect(stats).toContain(`**50 %** (95 % CI 9–91 %) · 1 of 2 right`);

    const bad = connector.calls.length;
    await teamsPost(activity({ type: 'message', text: 'digest Ryanair', textFormat: 'plain' }));
    expect(connector.of('reply', bad)[0].body.text).toBe(
      'no stream named "Ryanair"; the streams are Delta. Usage: `digest [stream] [YYYY-MM-DD]` (yesterday by default).',
    );
  });

  it('posts the scheduled digest to the alert channel once', async () => {
    const content = await digests.digestFor('Delta', '2015-02-22');
    const before = connector.calls.length;
    await teams.digestSink.digest(content);
    await teams.digestSink.digest(content);
    const created = connector.of('create', before);
    expect(created).toHaveLength(1);
    expect(cardText((created[0].body.activity as Json).attachments[0].content)).toMatch(
      /Delta on Sunday 22 February 2015 \(UTC\): 1 alert/,
    );
  });
});
