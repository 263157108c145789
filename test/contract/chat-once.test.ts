/**
 * Retried deliveries applied once across replicas and restarts (issue 12). Two Sentinel replicas — each its
 * own HTTP server, Bolt app, Teams adapter and Store instance — share one store (a SQLite file; a PostgreSQL
 * schema) and one recording Slack Web API / Bot Framework connector on loopback. Slack delivers an event to
 * one replica and, not having heard back in time, the same event (same `event_id`, `X-Slack-Retry-Num: 1`)
 * to the other; then again to a third replica started after the first stopped (a restart). The Bot
 * Framework does the same with an activity id. Each is applied once: one vote, one answer.
 */
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../config/schema';
import { startSlack, type SlackAdapter } from '../../adapters/slack';
import { startTeams, type TeamsAdapter } from '../../adapters/teams';
import { PredictionLog } from '../../src/feedback/prediction-log';
import { ApiAuth } from '../../src/http/auth';
import { buildServer } from '../../src/http/server';
import { createLogger } from '../../src/log';
import { loadScorer } from '../../src/sentiment/load';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import type { Scorer } from '../../src/sentiment/types';
import type { Store } from '../../src/store/types';
import { startBfConnector, type BfConnector } from '../helpers/bf-connector';
import { SlackApiServer } from '../helpers/slack-api-server';
import { reactionEvent, sendSigned, slashCommand, type SlackRequest } from '../helpers/slack-requests';
import { testStore, type TestStore } from '../helpers/stores';

const SECRET = 'c0ffee00c0ffee00c0ffee00c0ffee00';
const TOKEN = 'xoxb-replicas-test';
const MODEL_DIR = resolve(__dirname, '../../models/sentinel-bilstm');

let scorer: Scorer;
let api: SlackApiServer;
let connector: BfConnector;

beforeAll(async () => {
  scorer = await loadScorer(MODEL_DIR);
  api = await SlackApiServer.start(TOKEN);
  connector = await startBfConnector();
});

afterAll(async () => {
  await api?.close();
  await connector?.close();
  scorer?.dispose();
});

interface Replica {
  url: string;
  store: Store;
  slack: SlackAdapter;
  teams: TeamsAdapter;
  stop(): Promise<void>;
}

/** One Sentinel replica (HTTP server, Slack, Teams) on its own Store instance of the shared data. */
async function replica(db: TestStore): Promise<Replica> {
  const store = await db.open();
  const logger = createLogger('error'); // (Teams without authentication warns at start: expected here)
  const config = loadConfig({
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: api.apiUrl,
    TEAMS_ENABLED: 'true',
  });
  const slot = new ScorerSlot();
  slot.set(scorer);
  const predictionLog = new PredictionLog(store, { flushMs: 5, logger });
  const app: FastifyInstance = buildServer({
    auth: ApiAuth.fromEntries([]),
    slot,
    config,
    logger,
    store,
    predictionLog,
  });
  const slack = (await startSlack({ config, app, slot, store, predictionLog, logger }))!;
  const teams = startTeams({ config, app, slot, store, predictionLog, logger })!;
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    store,
    slack,
    teams,
    async stop() {
      await slack.stop();
      await teams.stop();
      await app.close();
      await predictionLog.flush();
    },
  };
}

const slackTo = (r: Replica, req: SlackRequest, retryNum?: number) =>
  sendSigned(`${r.url}/slack/events`, req, {
    secret: SECRET,
    ...(retryNum !== undefined ? { retryNum, retryReason: 'http_timeout' } : {}),
  });

async function teamsTo(r: Replica, activity: unknown): Promise<number> {
  const res = await fetch(`${r.url}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(activity),
  });
  await res.text();
  return res.status;
}

const votes = async (store: Store) => (await store.accuracyByModel()).reduce((n, r) => n + r.votes, 0);

describe.each([['sqlite'], ['postgres']] as const)('two replicas on one %s store', (kind) => {
  let db: TestStore;
  let a: Replica;
  let b: Replica;

  beforeAll(async () => {
    db = testStore(kind);
    [a, b] = [await replica(db), await replica(db)];
  });

  afterAll(async () => {
    await a?.stop().catch(() => undefined);
    await b?.stop();
    await db?.cleanup();
  });

  it('a Slack event retried on the other replica, then after a restart, records one vote and asks once', async () => {
    api.reset();
    const predictionId = `once-${kind}`;
    const [p] = await scorer.score(['they lost my bag and nobody answers']);
    await a.store.savePredictions([
      { id: predictionId, kind: 'command', text: 'they lost my bag', ...p, createdAt: new Date().toISOString() },
    ]);
    const ts = `${Math.floor(Date.now() / 1000)}.000100`;
    await a.store.linkMessage({ platform: 'slack', channel: 'CSOCIAL', messageId: ts, predictionId });
    const event = reactionEvent(
      'reaction_added',
      { user: 'UVOTER', reaction: 'x', channel: 'CSOCIAL', ts },
      `Ev0ONCE${kind.toUpperCase()}`,
    );

    expect((await slackTo(a, event)).status).toBe(200);
    expect((await slackTo(b, event, 1)).status).toBe(200);
    await Promise.all([a.slack.idle(), b.slack.idle()]);
    expect(await votes(a.store)).toBe(1);
    expect(api.ok('chat.postEphemeral')).toHaveLength(1); // the ❌ question, asked once

    // Replica A stops; a new one starts on the same data (a restart) and gets Slack's second retry.
    await a.stop();
    a = await replica(db);
    expect((await slackTo(a, event, 2)).status).toBe(200);
    await a.slack.idle();
    expect(await votes(a.store)).toBe(1);
    expect(api.ok('chat.postEphemeral')).toHaveLength(1);

    // A slash command delivered to both (same trigger_id): one answer in the channel.
    const command = slashCommand({
      text: 'the crew was lovely',
      channel: 'CSOCIAL',
      responseUrl: api.responseUrl(`once-${kind}`),
      triggerId: `trigger.once.${kind}`,
    });
    expect((await slackTo(a, command)).status).toBe(200);
    expect((await slackTo(b, command)).status).toBe(200);
    await Promise.all([a.slack.idle(), b.slack.idle()]);
    expect(api.ok('chat.postMessage').filter((c) => String(c.args.text).includes('the crew was lovely'))).toHaveLength(
      1,
    );
  });

  it('a Teams activity delivered again (same id) to the other replica, then after a restart, is answered once', async () => {
    const before = connector.calls.length;
    const activity = {
      id: `1700000000${kind === 'sqlite' ? 1 : 2}23`,
      type: 'message',
      text: 'sentiment my flight was cancelled twice',
      textFormat: 'plain',
      timestamp: new Date().toISOString(),
      channelId: 'msteams',
      serviceUrl: connector.url,
      from: { id: '29:alice', name: 'Alice', aadObjectId: 'aad-alice' },
      recipient: { id: '28:sentinel', name: 'Sentinel' },
      conversation: { id: `a:1personal-${kind}`, conversationType: 'personal', tenantId: 'tenant-1' },
      channelData: { tenant: { id: 'tenant-1' } },
    };
    expect(await teamsTo(a, activity)).toBe(200);
    expect(await teamsTo(b, activity)).toBe(200);
    await a.stop();
    a = await replica(db);
    expect(await teamsTo(a, activity)).toBe(200);
    await Promise.all([a.teams.idle(), b.teams.idle()]);
    const answers = connector.of('reply', before);
    expect(answers).toHaveLength(1);
    expect(answers[0].activityId).toBe(activity.id);
    // A new activity (another id) is answered: only repeats are dropped.
    expect(await teamsTo(b, { ...activity, id: `${activity.id}9` })).toBe(200);
    expect(connector.of('reply', before)).toHaveLength(2);
  });
});
