/**
 * Grouped ops alerts through the chat platforms' real protocols (issue 13): the Slack adapter against the
 * recording Slack Web API on loopback (one chat.postMessage, then chat.update of that message; resolved: one
 * more edit and a reply in its thread; SLACK_OPS_CHANNEL respected; a second replica continuing the same
 * message), and the Teams adapter against the recording Bot Framework connector (one card, then PUTs of that
 * activity; TEAMS_OPS_CONVERSATIONS respected). Real stores (SQLite files) keep each side's state. The
 * example messages of docs/operations.md are checked against what Slack received.
 */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { webApi } from '@slack/bolt';
import { ConsoleSink } from '../../adapters/console/console-sink';
import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../config/schema';
import { startSlack, type SlackAdapter } from '../../adapters/slack';
import { startTeams, type TeamsAdapter } from '../../adapters/teams';
import { PredictionLog } from '../../src/feedback/prediction-log';
import { ApiAuth } from '../../src/http/auth';
import { buildServer } from '../../src/http/server';
import { createLogger } from '../../src/log';
import { ErrorAlerts } from '../../src/ops/error-alerts';
import { SingleLeadership } from '../../src/ops/leadership';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import type { Store } from '../../src/store/types';
import { startBfConnector, type BfConnector, type RecordedCall } from '../helpers/bf-connector';
import { SlackApiServer, type SlackMessage } from '../helpers/slack-api-server';
import { testStore, type TestStore } from '../helpers/stores';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const TOKEN = 'xoxb-ops-alerts-test';
const SECRET = 'c0ffee00c0ffee00c0ffee00c0ffee00';
const T0 = Date.parse('2026-03-02T10:00:00.000Z');
const SEC = 1000;
const MIN = 60 * SEC;
const logger = createLogger('silent');

/** What a person reads of a Slack message: its blocks' mrkdwn, one block a line. */
function shown(m: SlackMessage): string {
  return (m.blocks ?? [])
    .map((b: Json) => b.text?.text ?? (b.elements ?? []).map((e: Json) => e.text).join(' '))
    .join('\n');
}

/** The fenced example that follows `<!-- ops-example: name -->` in docs/operations.md (not an HTTP example of docs-examples.test.ts). */
function docExample(name: string): string {
  const doc = readFileSync(resolve(__dirname, '../../docs/operations.md'), 'utf8');
  const at = doc.indexOf(`<!-- ops-example: ${name} -->`);
  if (at < 0) throw new Error(`docs/operations.md has no example "${name}"`);
  const m = /```text\n([\s\S]*?)\n```/.exec(doc.slice(at));
  return m![1];
}

describe('Slack', () => {
  let api: SlackApiServer;
  let db: TestStore;
  const running: Array<{ slack: SlackAdapter; app: FastifyInstance; alerts: ErrorAlerts }> = [];
  let clock = T0;

  beforeAll(async () => {
    api = await SlackApiServer.start(TOKEN);
    api.addChannel('ops', 'COPS');
    db = testStore('sqlite');
  });
  afterAll(async () => {
    for (const r of running) {
      await r.alerts.stop();
      await r.slack.stop();
      await r.app.close();
    }
    await db.cleanup();
    await api.close();
  });

  /** One Sentinel replica's Slack side and ops alerts, on its own connection to the shared store. */
  async function replica(env: Record<string, string>, leader?: SingleLeadership) {
    const store: Store = await db.open();
    const config = loadConfig({
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: api.apiUrl,
      SLACK_ALERT_CHANNELS: '#alerts',
      ...env,
    });
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
      apiOptions: { backoffMs: 5 },
    }))!;
    const alerts = new ErrorAlerts({
      store,
      sinks: [slack.sink!],
      now: () => clock,
      ...(leader ? { leader } : {}),
    });
    running.push({ slack, app, alerts });
    return { slack, alerts, store };
  }

  const top = (channel: string) => [...api.messages.values()].filter((m) => m.channel === channel && !m.thread_ts);

  it('a burst is one message in SLACK_OPS_CHANNEL, edited as it goes on, resolved with a reply in its thread', async () => {
    const { slack, alerts } = await replica({ SLACK_OPS_CHANNEL: '#ops' });
    api.reset();
    // The first post's answer is lost after Slack posted it: looked up, not posted twice.
    api.fail('chat.postMessage', { status: 503, processed: true });
    for (let i = 0; i < 10; i++) {
      clock = T0 + i * SEC;
      const cause = i < 9 ? 'Connection terminated unexpectedly' : 'timeout exceeded when trying to connect';
      alerts.record('http', `POST /feedback answered 500: ${cause}`);
      await alerts.idle();
    }
    expect(api.ok('chat.postMessage')).toHaveLength(0); // the lost answer: found by conversations.history
    expect(api.calls.filter((c) => c.method === 'chat.postMessage').map((c) => c.args.channel)).toEqual(['#ops']);
    const [message] = top('COPS');
    expect(top('COPS')).toHaveLength(1);
    expect(top('CALERTS')).toHaveLength(0);
    expect(message.metadata).toEqual({
      event_type: 'sentinel_step',
      event_payload: { step: 'ops:http@2026-03-02T10:00:00.000Z/#ops/message' },
    });
    expect(shown(message)).toBe(docExample('open'));
    expect(message.text).toBe(':rotating_light: Sentinel ops alert: HTTP 5xx answers, 3 since 10:00 UTC');

    // Throttled: the next edit waits 30 s after the post, then shows all ten.
    await alerts.tick(T0 + 25 * SEC);
    expect(api.ok('chat.update')).toHaveLength(0);
    await alerts.tick(T0 + 33 * SEC);
    expect(api.ok('chat.update').map((c) => [c.args.channel, c.args.ts])).toEqual([['COPS', message.ts]]);
    expect(shown(api.messages.get(`COPS/${message.ts}`)!)).toBe(docExample('update'));

    // Quiet for 10 minutes: resolved, one more edit and a reply in the thread.
    await alerts.tick(T0 + 9 * SEC + 10 * MIN);
    expect(api.ok('chat.update')).toHaveLength(2);
    const edited = api.messages.get(`COPS/${message.ts}`)!;
    expect(shown(edited)).toBe(docExample('resolved'));
    const replies = [...api.messages.values()].filter((m) => m.thread_ts === message.ts);
    expect(replies.map((m) => m.text)).toEqual([docExample('over')]);
    expect(top('COPS')).toHaveLength(1);

    // Delivered again (a retry): nothing new shows.
    await alerts.tick(T0 + 20 * MIN);
    expect(api.ok('chat.update')).toHaveLength(2);
    expect([...api.messages.values()].filter((m) => m.thread_ts === message.ts)).toHaveLength(1);

    // One-off ops notices go to the ops channel too.
    await slack.sink!.opsNotice!('Model update failed (hydrate, version v9): sha256 mismatch. Still serving v8.');
    expect(api.ok('chat.postMessage').at(-1)!.args.channel).toBe('#ops');
  });

  it('a replica taking over the leadership edits the same message instead of posting a second one', async () => {
    const [leadA, leadB] = [new SingleLeadership(), new SingleLeadership()];
    leadA.start();
    const a = await replica({}, leadA); // no SLACK_OPS_CHANNEL: the alert channels
    const b = await replica({}, leadB);
    api.reset();
    clock = T0 + 60 * MIN;
    for (let i = 0; i < 3; i++) a.alerts.record('source', 'X answered 503 Service Unavailable');
    await a.alerts.idle();
    const posted = api.ok('chat.postMessage');
    expect(posted.map((c) => c.args.channel)).toEqual(['#alerts']);
    b.alerts.record('source', 'X answered 503 on the follower'); // counted by B, sent by nobody
    await b.alerts.idle();
    expect(api.calls.filter((c) => c.method.startsWith('chat.'))).toHaveLength(1);

    await leadA.stop();
    clock += 40 * SEC;
    leadB.start();
    await b.alerts.idle();
    expect(api.ok('chat.postMessage')).toHaveLength(1);
    const [{ ts }] = top('CALERTS');
    expect(top('CALERTS')).toHaveLength(1);
    expect(api.ok('chat.update').map((c) => [c.args.channel, c.args.ts])).toEqual([['CALERTS', ts]]);
    expect(shown(api.messages.get(`CALERTS/${ts}`)!)).toContain('*Errors:* 4 since 2026-03-02 11:00 UTC');
    expect(shown(api.messages.get(`CALERTS/${ts}`)!)).toContain('X answered 503 on the follower');
  });

  it('a message posted just before a crash (its intent kept, not its ts) is found and edited, not posted again', async () => {
    const { slack, store } = await replica({ SLACK_OPS_CHANNEL: '#ops' });
    const id = 'ops:store@2026-03-02T12:00:00.000Z';
    const content = {
      id,
      kind: 'store' as const,
      title: 'store errors',
      state: 'open' as const,
      revision: 1,
      count: 3,
      firstAt: '2026-03-02T12:00:00.000Z',
      lastAt: '2026-03-02T12:00:01.000Z',
      lastError: 'SQLITE_FULL: database or disk is full',
      threshold: 3,
      windowMinutes: 5,
      resolveAfterMinutes: 10,
    };
    const posted = await new webApi.WebClient(TOKEN, { slackApiUrl: api.apiUrl }).chat.postMessage({
      channel: 'COPS',
      text: 'the ops alert as posted before the crash',
      metadata: { event_type: 'sentinel_step', event_payload: { step: `${id}/#ops/message` } },
    });
    await store.setCheckpoint(
      `slack/ops-alert:${id}`,
      JSON.stringify({ content, posts: {}, begun: { '#ops': { at: Date.now() - 1000 } } }),
    );
    api.reset();
    await slack.sink!.opsAlert!({ ...content, revision: 2, count: 4 });
    expect(api.ok('chat.postMessage')).toHaveLength(0);
    expect(api.ok('chat.update').map((c) => [c.args.channel, c.args.ts])).toEqual([['COPS', posted.ts]]);
    expect(shown(api.messages.get(`COPS/${posted.ts}`)!)).toContain('*Errors:* 4 since 2026-03-02 12:00 UTC');
    // The same content again (a retry of the delivery): nothing to do.
    await slack.sink!.opsAlert!({ ...content, revision: 2, count: 4 });
    expect(api.calls.filter((c) => c.method.startsWith('chat.'))).toHaveLength(1);
  });
});

describe('the HTTP API', () => {
  it('reports each 5xx it answers to onServerError, but /ready telling it is not ready', async () => {
    const seen: unknown[] = [];
    const app = buildServer({
      auth: ApiAuth.fromEntries([]),
      slot: new ScorerSlot('the model is still loading from models/'), // no model: /predict answers 503
      config: loadConfig({}),
      logger,
      onServerError: (e) => seen.push(e),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const predict = await fetch(`${url}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'my flight was cancelled' }),
      });
      expect(predict.status).toBe(503);
      expect((await fetch(`${url}/ready`)).status).toBe(503);
      expect((await fetch(`${url}/predict`, { method: 'POST', body: '{' })).status).toBe(415); // a 4xx: not counted
      expect(seen).toEqual([
        {
          method: 'POST',
          route: '/predict',
          status: 503,
          code: 'not_ready',
          message: 'the model is not ready: the model is still loading from models/',
        },
      ]);
    } finally {
      await app.close();
    }
  });
});

describe('the console', () => {
  it('prints one line when an alert opens and one when it is resolved', async () => {
    let out = '';
    const sink = new ConsoleSink({
      chartDir: resolve(__dirname, '../../tmp/ops-console'),
      out: new Writable({
        write(chunk: Buffer, _enc, done) {
          out += chunk.toString();
          done();
        },
      }),
      colour: false,
      width: 200,
    });
    const db = testStore('sqlite');
    try {
      let clock = T0;
      const alerts = new ErrorAlerts({ store: await db.open(), sinks: [sink], now: () => clock });
      for (let i = 0; i < 8; i++) {
        clock = T0 + i * SEC;
        alerts.record('chat', 'Slack chat.postMessage failed: \u001b[2Jchannel_not_found');
        await alerts.idle();
      }
      await alerts.tick(T0 + MIN);
      await alerts.tick(T0 + 7 * SEC + 10 * MIN);
      expect(out.split('\n').filter(Boolean)).toEqual([
        '[sentinel] 🚨 Ops alert: chat delivery failures, 3 since 10:00 UTC. Last error: Slack chat.postMessage failed: channel_not_found',
        '[sentinel] ✓ Resolved: chat delivery failures, 8 from 10:00 to 10:00 UTC',
      ]);
    } finally {
      await db.cleanup();
    }
  });
});

describe('Teams', () => {
  let connector: BfConnector;
  let db: TestStore;
  const servers: Array<{ app: FastifyInstance; teams: TeamsAdapter; alerts: ErrorAlerts }> = [];
  let clock = T0;
  let seq = 1_700_000_000_000;

  const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const BOT = { id: '28:0b5d6e5c-1c1a-4a8e-9f3e-2d0c6c1b7a10', name: 'Sentinel' };
  const ALICE = { id: '29:alice', name: 'Alice Martin', aadObjectId: 'aad-alice' };
  const TEAM = { id: '19:team-social@thread.tacv2', name: 'Social media' };
  const CHANNEL = { id: '19:alerts-ch@thread.tacv2', name: 'alerts' };
  const GROUP = '19:groupchat-ops@thread.v2';

  beforeAll(async () => {
    connector = await startBfConnector();
    db = testStore('sqlite');
  });
  afterAll(async () => {
    for (const s of servers) {
      await s.alerts.stop();
      await s.teams.stop();
      await s.app.close();
    }
    await db.cleanup();
    await connector.close();
  });

  async function server(env: Record<string, string>) {
    const store = await db.open();
    const config = loadConfig({ TEAMS_ENABLED: 'true', TEAMS_ALERT_SCOPES: 'channel,groupChat', ...env });
    const slot = new ScorerSlot();
    const predictionLog = new PredictionLog(store);
    const app = buildServer({ auth: ApiAuth.fromEntries([]), slot, config, logger, store, predictionLog });
    const teams = startTeams({ config, app, slot, store, predictionLog, logger })!;
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const alerts = new ErrorAlerts({ store, sinks: [teams.sink], now: () => clock });
    servers.push({ app, teams, alerts });
    /** The app installed in the team's alerts channel and in a group chat, as Teams tells it. */
    const install = async () => {
      const base = { channelId: 'msteams', serviceUrl: connector.url, from: ALICE, recipient: BOT, locale: 'en-US' };
      for (const activity of [
        {
          ...base,
          conversation: { id: CHANNEL.id, conversationType: 'channel', isGroup: true, tenantId: TENANT },
          channelData: { team: TEAM, channel: CHANNEL, tenant: { id: TENANT } },
        },
        {
          ...base,
          conversation: { id: GROUP, conversationType: 'groupChat', isGroup: true, tenantId: TENANT },
          channelData: { tenant: { id: TENANT } },
        },
      ]) {
        const res = await fetch(`${url}/api/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            ...activity,
            type: 'installationUpdate',
            action: 'add',
            id: String(++seq),
            timestamp: new Date().toISOString(),
          }),
        });
        expect(res.status).toBe(200);
      }
    };
    return { alerts, teams, install };
  }

  /** The card a call carries (a new thread carries its first activity). */
  const cardText = (call: RecordedCall) =>
    JSON.stringify(((call.body.attachments ?? (call.body.activity as Json).attachments) as Json[])[0].content);

  it('one card in the ops conversation, then updated in place until resolved', async () => {
    const { alerts, install } = await server({});
    await install();
    const from = connector.calls.length;
    for (let i = 0; i < 6; i++) {
      clock = T0 + i * SEC;
      alerts.record('model', `hydrate failed: sha256 mismatch (${i + 1})`);
      await alerts.idle();
    }
    await alerts.tick(T0 + 40 * SEC);
    await alerts.tick(T0 + 5 * SEC + 10 * MIN);
    const calls = connector.calls.slice(from);
    // Alerts go to the channel and the group chat: one new card in each, every change after that a PUT.
    const created = calls.filter((c) => c.method === 'POST');
    expect(created.map((c) => [c.kind, c.conversationId ?? 'new thread'])).toEqual([
      ['create', 'new thread'],
      ['send', GROUP],
    ]);
    const updates = calls.filter((c) => c.kind === 'update');
    expect(updates).toHaveLength(4); // 2 conversations × (the update, the resolution)
    const threadCard = created[0].id!;
    expect(updates.filter((c) => c.activityId === threadCard).map((c) => c.conversationId)).toEqual([
      `${CHANNEL.id};messageid=${threadCard}`,
      `${CHANNEL.id};messageid=${threadCard}`,
    ]);
    expect(updates.filter((c) => c.activityId === created[1].id).map((c) => c.conversationId)).toEqual([GROUP, GROUP]);
    expect(cardText(created[0])).toContain('Ops alert: model update failures, 3 since 10:00 UTC');
    expect(cardText(updates[0])).toContain('6 since 2026-03-02 10:00 UTC, the last at 10:00 UTC');
    expect(cardText(updates.at(-1)!)).toContain('Resolved: model update failures, 6 from 10:00 to 10:00 UTC');
    expect(updates.at(-1)!.body.summary).toBe('Resolved: model update failures, 6 from 10:00 to 10:00 UTC');
  });

  it('TEAMS_OPS_CONVERSATIONS: ops alerts and notices go there only', async () => {
    const { alerts, teams, install } = await server({ TEAMS_OPS_CONVERSATIONS: GROUP });
    await install();
    const from = connector.calls.length;
    clock = T0 + 60 * MIN;
    for (let i = 0; i < 3; i++) alerts.record('chat', 'Slack chat.postMessage failed: channel_not_found');
    await alerts.idle();
    await teams.sink.opsNotice!('mentions from x paused: X refused the bearer token (401)');
    const calls = connector.calls.slice(from).filter((c) => c.method === 'POST');
    expect(calls.map((c) => [c.kind, c.conversationId])).toEqual([
      ['send', GROUP],
      ['send', GROUP],
    ]);
    expect(cardText(calls[0])).toContain('Ops alert: chat delivery failures, 3 since 11:00 UTC');
    expect(calls[1].body.text).toContain('mentions from x paused');
  });
});
