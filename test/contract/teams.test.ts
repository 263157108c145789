/**
 * The Teams adapter over the real Bot Framework protocol on loopback: activities are POSTed to
 * /api/messages of the real HTTP server the way the Bot Framework Emulator posts them (no token: auth off),
 * with `serviceUrl` pointing at a recording connector (test/helpers/bf-connector.ts) that receives every
 * reply, card update and proactive post. The real model scores, a real SQLite store in a temp dir keeps
 * predictions, votes, links, conversations and alert steps. A second server with MicrosoftAppId set checks
 * that unsigned activities are refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { ConfigError, loadConfig } from '../../config/schema';
import { startTeams, teamsSettings, type TeamsAdapter } from '../../adapters/teams';
import { PredictionLog } from '../../src/feedback/prediction-log';
import { buildServer } from '../../src/http/server';
import { ApiAuth } from '../../src/http/auth';

/** No API keys: the API is open, as in local mode on loopback. */
const OPEN_API = ApiAuth.fromEntries([]);
import { createLogger, type Logger } from '../../src/log';
import { loadScorer } from '../../src/sentiment/load';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import type { Scorer } from '../../src/sentiment/types';
import { openSqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';
import { renderTrendChart } from '../../src/trends/chart';
import type { AlertContent } from '../../src/trends/content';
import { TrendMonitor } from '../../src/trends/monitor';
import { hashVoterId } from '../../src/store/voter-ids';
import { UDHR } from '../helpers/languages';
import { startBfConnector, type BfConnector, type RecordedCall } from '../helpers/bf-connector';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const BOT = { id: '28:0b5d6e5c-1c1a-4a8e-9f3e-2d0c6c1b7a10', name: 'Sentinel' };
const ALICE = { id: '29:alice', name: 'Alice Martin', aadObjectId: 'aad-alice' };
const BOB = { id: '29:bob', name: 'Bob Roux', aadObjectId: 'aad-bob' };
const CAROL = { id: '29:carol', name: 'Carol Petit', aadObjectId: 'aad-carol' };
const PERSONAL = 'a:1personal-alice';
const GROUP = '19:groupchat-social@thread.v2';
const TEAM = { id: '19:team-social@thread.tacv2', name: 'Social media' };
const GENERAL = '19:team-social@thread.tacv2'; // a team's General channel has the team's id
const ALERTS_CHANNEL = { id: '19:alerts-ch@thread.tacv2', name: 'alerts' };

let dir: string;
let store: Store;
let scorer: Scorer;
let connector: BfConnector;
let server: Running;
/** The trend module the main server's Teams adapter sees (none unless a test sets it). */
let monitor: TrendMonitor | undefined;
/** The key the store hashes voters' ids with. */
let voterKey: Buffer;

interface Running {
  app: FastifyInstance;
  url: string;
  teams: TeamsAdapter | null;
  predictionLog: PredictionLog;
  logs: () => Json[];
}

async function start(env: Record<string, string>, logLevel: 'debug' | 'info' = 'debug'): Promise<Running> {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger: Logger = createLogger(logLevel, { stream });
  const config = loadConfig(env);
  const slot = new ScorerSlot();
  slot.set(scorer);
  const predictionLog = new PredictionLog(store, { flushMs: 5, logger });
  const app = buildServer({ auth: OPEN_API, slot, config, logger, store, predictionLog });
  const teams = startTeams({ config, app, slot, store, predictionLog, logger, trends: () => monitor });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    teams,
    predictionLog,
    logs: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
  };
}

let seq = 1_600_000_000_000;
const nextId = () => String(++seq);

type Where = 'personal' | 'group' | 'channel';

function conversation(where: Where, thread?: string): Json {
  if (where === 'personal') return { id: PERSONAL, conversationType: 'personal', tenantId: TENANT };
  if (where === 'group') return { id: GROUP, conversationType: 'groupChat', isGroup: true, tenantId: TENANT };
  return {
    id: thread ? `${ALERTS_CHANNEL.id};messageid=${thread}` : ALERTS_CHANNEL.id,
    conversationType: 'channel',
    isGroup: true,
    tenantId: TENANT,
  };
}

function channelData(where: Where): Json {
  return where === 'channel'
    ? { team: TEAM, channel: ALERTS_CHANNEL, tenant: { id: TENANT } }
    : { tenant: { id: TENANT } };
}

/** An activity as Teams (through the Emulator's wire format) delivers it. */
function activity(fields: Json, where: Where = 'personal', thread?: string): Json {
  return {
    id: nextId(),
    timestamp: new Date().toISOString(),
    channelId: 'msteams',
    serviceUrl: connector.url,
    from: ALICE,
    recipient: BOT,
    conversation: conversation(where, thread),
    channelData: channelData(where),
    locale: 'en-US',
    ...fields,
  };
}

function message(text: string, where: Where = 'personal', from = ALICE): Json {
  if (where !== 'channel') return activity({ type: 'message', text, textFormat: 'plain', from }, where);
  const id = nextId();
  return activity(
    {
      id,
      type: 'message',
      text: `<at>Sentinel</at> ${text}`,
      textFormat: 'plain',
      from,
      entities: [{ type: 'mention', text: '<at>Sentinel</at>', mentioned: BOT }],
    },
    'channel',
    id,
  );
}

/** A card button (Action.Submit): a message whose value is the button's data, replying to the card. */
function submit(data: Json, card: { id: string; conversationId: string }, from = ALICE): Json {
  const where: Where =
    card.conversationId === PERSONAL ? 'personal' : card.conversationId === GROUP ? 'group' : 'channel';
  const thread = where === 'channel' ? /;messageid=(.+)$/.exec(card.conversationId)?.[1] : undefined;
  return activity({ type: 'message', value: data, replyToId: card.id, from }, where, thread);
}

function reaction(type: string, card: { id: string; conversationId: string }, added: boolean, from = ALICE): Json {
  const where: Where =
    card.conversationId === PERSONAL ? 'personal' : card.conversationId === GROUP ? 'group' : 'channel';
  const thread = where === 'channel' ? /;messageid=(.+)$/.exec(card.conversationId)?.[1] : undefined;
  return activity(
    { type: 'messageReaction', replyToId: card.id, from, [added ? 'reactionsAdded' : 'reactionsRemoved']: [{ type }] },
    where,
    thread,
  );
}

async function post(body: unknown, url = server.url, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function ok(body: unknown): Promise<void> {
  const res = await post(body);
  expect([res.status, await res.text()]).toEqual([200, '']);
}

function cardOf(call: RecordedCall): Json {
  const attachment = (call.body.attachments as Json[] | undefined)?.[0];
  expect(attachment?.contentType).toBe('application/vnd.microsoft.card.adaptive');
  return attachment.content;
}

/** Every text in a card, joined (to assert on what a user reads). */
function cardText(card: Json): string {
  const out: string[] = [];
  const walk = (x: Json) => {
    if (Array.isArray(x)) return x.forEach(walk);
    if (x && typeof x === 'object') {
      if (typeof x.text === 'string') out.push(x.text);
      if (typeof x.title === 'string') out.push(x.title);
      if (typeof x.value === 'string') out.push(x.value);
      Object.values(x).forEach(walk);
    }
  };
  walk(card);
  return out.join('\n');
}

function actionsOf(card: Json): Json[] {
  const out: Json[] = [...(card.actions ?? [])];
  const walk = (x: Json) => {
    if (Array.isArray(x)) return x.forEach(walk);
    if (x && typeof x === 'object') {
      if (x.type === 'ActionSet') out.push(...x.actions);
      Object.values(x).forEach(walk);
    }
  };
  walk(card.body);
  return out;
}

/** Sends `sentiment <text>` and returns the answer card's call (its id and conversation). */
async function ask(text: string, where: Where = 'personal', from = ALICE): Promise<RecordedCall> {
  const before = connector.calls.length;
  const incoming = message(`sentiment ${text}`, where, from);
  await ok(incoming);
  const replies = connector.of('reply', before);
  expect(replies).toHaveLength(1);
  expect(replies[0].activityId).toBe(incoming.id);
  return replies[0];
}

/** Voters as Sentinel names them: `teams:<tenant>:<Entra object id>` (the Emulator: `teams:emulator:<id>`). */
const VOTERS = {
  alice: `teams:${TENANT}:aad-alice`,
  bob: `teams:${TENANT}:aad-bob`,
  carol: `teams:${TENANT}:aad-carol`,
  emulator: 'teams:emulator:e7c4c5a0-user',
};

/**
 * The votes on a prediction, each voter shown as the namespaced id it was stored for (the store keeps a
 * keyed hash of it: matched here against the known voters), in that order.
 */
function votesOn(
  predictionId: string,
): Array<{ user_id: string; correct: number; true_label: string | null; source: string }> {
  const db = new Database(join(dir, 'sentinel.db'), { readonly: true });
  try {
    const rows = db
      .prepare('SELECT user_id, correct, true_label, source FROM feedback WHERE prediction_id = ?')
      .all(predictionId) as Json[];
    const named = new Map(Object.values(VOTERS).map((v) => [hashVoterId(voterKey, v), v]));
    return rows
      .map((r) => ({ ...r, user_id: named.get(r.user_id) ?? r.user_id }))
      .sort((a, b) => a.user_id.localeCompare(b.user_id));
  } finally {
    db.close();
  }
}

function predictionIdOf(card: Json): string {
  const data = card.actions.find((a: Json) => a.data?.sentinel === 'vote').data;
  return data.predictionId;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sentinel-teams-'));
  store = openSqliteStore(join(dir, 'sentinel.db'));
  await store.migrate();
  voterKey = (await store.voterKey()).key;
  scorer = await loadScorer('models/sentinel-bilstm');
  connector = await startBfConnector();
  server = await start({ TEAMS_ENABLED: 'true', TEAMS_ALERT_SCOPES: 'channel,groupChat' });
});

afterAll(async () => {
  await server?.app.close();
  await connector?.close();
  scorer?.dispose();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('start-up', () => {
  it('says that authentication is off without MicrosoftAppId', () => {
    const warning = server.logs().find((l) => /Teams on WITHOUT authentication/.test(l.msg));
    expect(warning).toMatchObject({ level: 40, url: '/api/messages' });
    expect(server.teams?.authEnabled).toBe(false);
  });

  it('runs without an app id on every loopback address', () => {
    for (const HOST of ['127.0.0.1', '::1', 'localhost'])
      expect(teamsSettings(loadConfig({ TEAMS_ENABLED: 'true', HOST }))).toMatchObject({ auth: null });
  });

  it("without an app id, refuses an activity whose serviceUrl is not this machine's (403): no SSRF", async () => {
    const before = connector.calls.length;
    for (const serviceUrl of [
      'https://evil.example/',
      'http://169.254.169.254/',
      'https://smba.trafficmanager.net/emea/',
    ]) {
      // An unsigned install would otherwise make the bot post its welcome (and then alerts) to that URL.
      const res = await post(activity({ type: 'installationUpdate', action: 'add', serviceUrl }, 'group'));
      expect(res.status).toBe(403);
    }
    expect(connector.calls.length).toBe(before);
    expect(await store.getCheckpoint('teams/conversations')).toBeNull();
  });

  it('is off without any Teams setting', async () => {
    const lines: string[] = [];
    const logger = createLogger('info', {
      stream: new Writable({
        write(c: Buffer, _e, done) {
          lines.push(c.toString());
          done();
        },
      }),
    });
    const config = loadConfig({});
    const slot = new ScorerSlot();
    const app = buildServer({ auth: OPEN_API, slot, config, logger });
    expect(startTeams({ config, app, slot, store, predictionLog: new PredictionLog(store), logger })).toBeNull();
    expect(lines.join('')).toContain('Teams off: set MicrosoftAppId and MicrosoftAppPassword');
    await app.close();
  });

  it.each([
    [{ MicrosoftAppId: '0b5d6e5c-1c1a-4a8e-9f3e-2d0c6c1b7a10' }, 'MicrosoftAppPassword', /client secret/],
    [{ MicrosoftAppPassword: 'pw' }, 'MicrosoftAppId', /because MicrosoftAppPassword is set/],
    [
      {
        MicrosoftAppId: '0b5d6e5c-1c1a-4a8e-9f3e-2d0c6c1b7a10',
        MicrosoftAppPassword: 'pw',
        MicrosoftAppType: 'SingleTenant',
      },
      'MicrosoftAppTenantId',
      /tenant id/,
    ],
    [
      {
        MicrosoftAppId: '0b5d6e5c-1c1a-4a8e-9f3e-2d0c6c1b7a10',
        MicrosoftAppPassword: 'pw',
        MicrosoftAppType: 'UserAssignedMSI',
        MicrosoftAppTenantId: TENANT,
      },
      'MicrosoftAppPassword',
      /must not be set/,
    ],
    [{ TEAMS_ENABLED: 'true', TEAMS_ALERT_SCOPES: 'channel,meetings' }, 'TEAMS_ALERT_SCOPES', /"meetings"/],
    // Without an app id (no authentication), only on a loopback address.
    [{ TEAMS_ENABLED: 'true', HOST: '0.0.0.0' }, 'TEAMS_ENABLED / HOST', /HOST=0\.0\.0\.0 is not one/],
    [{ TEAMS_ENABLED: 'true', HOST: '192.168.1.20' }, 'TEAMS_ENABLED / HOST', /set MicrosoftAppId/],
  ])('refuses %j with a message naming %s', (env, setting, message) => {
    let error: unknown;
    try {
      teamsSettings(loadConfig(env));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([{ setting, message: expect.stringMatching(message) }]);
  });
});

describe('commands', () => {
  it('answers `sentiment <text>` in a 1:1 chat with an Adaptive Card, keeps the prediction and links the card', async () => {
    const text = '@AirParadis flight delayed again';
    const call = await ask(text);
    expect(call.conversationId).toBe(PERSONAL);
    expect(call.body).toMatchObject({ type: 'message', replyToId: expect.any(String), from: { id: BOT.id } });
    const card = cardOf(call);
    expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
    const shown = cardText(card);
    expect(shown).toMatch(/🙁 \*\*Negative\*\* · \d+ % confident/);
    for (const label of ['negative', 'neutral', 'positive']) expect(shown).toContain(label);
    expect(shown).toMatch(/█+░*/); // probability bars
    expect(shown).toMatch(/Words that drove it: \*\*delayed\*\* \(\+\d+ pts\)/);
    expect(shown).toContain(`model ${scorer.info.version}`);
    expect(shown).toContain('Asked by Alice Martin');
    expect(card.actions.map((a: Json) => [a.type, a.title, a.data.sentinel, a.data.correct])).toEqual([
      ['Action.Submit', '✅ Right', 'vote', true],
      ['Action.Submit', '❌ Wrong', 'vote', false],
    ]);
    const predictionId = predictionIdOf(card);
    await server.predictionLog.flush();
    expect(await store.getPrediction(predictionId)).toMatchObject({ kind: 'command', text, label: 'negative' });
    expect(await store.findLink('teams', PERSONAL, call.id!)).toMatchObject({ predictionId });
  });

  it('answers a text in another language plainly: "I only read English tweets so far", no card, no label', async () => {
    for (const [text, name] of [
      [`@AirParadis ${UDHR.fr}`, 'French'],
      [UDHR.es, 'Spanish'],
    ]) {
      const before = connector.calls.length;
      await ok(message(`sentiment ${text}`));
      const replies = connector.of('reply', before);
      expect(replies).toHaveLength(1);
      expect(replies[0].body.text).toBe(`I only read English tweets so far — this looks like ${name}.`);
      expect(replies[0].body.attachments ?? []).toEqual([]);
      expect(JSON.stringify(replies[0].body)).not.toMatch(/negative|neutral|positive|confident/i);
    }
  });

  it('takes /sentiment in a group chat and an @mention in a channel (the mention stripped)', async () => {
    const group = await ask('the crew was lovely, thank you!', 'group');
    expect(group.conversationId).toBe(GROUP);
    const before = connector.calls.length;
    const incoming = message('/sentiment the crew was lovely, thank you!', 'channel', BOB);
    await ok(incoming);
    const [reply] = connector.of('reply', before);
    expect(reply.conversationId).toBe(`${ALERTS_CHANNEL.id};messageid=${incoming.id}`); // in the thread
    const id = predictionIdOf(cardOf(reply));
    await server.predictionLog.flush();
    expect((await store.getPrediction(id))?.text).toBe('the crew was lovely, thank you!');
    expect(cardText(cardOf(reply))).toContain('Asked by Bob Roux');
    expect(await store.findLink('teams', ALERTS_CHANNEL.id, reply.id!)).toMatchObject({ predictionId: id });
  });

  it("works with the Bot Framework Emulator's own activities (channelId emulator, no Teams channel data)", async () => {
    const emulator = (fields: Json) => ({
      id: nextId(),
      channelId: 'emulator',
      serviceUrl: connector.url,
      from: { id: 'e7c4c5a0-user', name: 'User', role: 'user' },
      recipient: { id: 'e7c4c5a0-bot', name: 'Bot', role: 'bot' },
      conversation: { id: 'a1b2c3d4|livechat' },
      timestamp: new Date().toISOString(),
      localTimestamp: new Date().toISOString(),
      locale: 'en-US',
      ...fields,
    });
    await ok(emulator({ type: 'conversationUpdate', membersAdded: [{ id: 'e7c4c5a0-bot', name: 'Bot' }] }));
    const before = connector.calls.length;
    await ok(emulator({ type: 'message', text: 'sentiment the crew was great' }));
    const [reply] = connector.of('reply', before);
    expect(reply.conversationId).toBe('a1b2c3d4|livechat');
    expect(cardText(cardOf(reply))).toContain('🙂 **Positive**');
    // The Emulator renders the card; its button comes back without Teams' channel data.
    const predictionId = predictionIdOf(cardOf(reply));
    await ok(
      emulator({ type: 'message', value: { sentinel: 'vote', predictionId, correct: true }, replyToId: reply.id }),
    );
    expect(votesOn(predictionId)).toEqual([
      { user_id: VOTERS.emulator, correct: 1, true_label: null, source: 'teams' },
    ]);
    // Its conversation was captured (a personal chat), and is forgotten when the bot leaves it.
    const kept = () => store.getCheckpoint('teams/conversations').then((raw) => JSON.parse(raw ?? '[]') as Json[]);
    expect(await kept()).toEqual([expect.objectContaining({ key: 'conv:a1b2c3d4|livechat', scope: 'personal' })]);
    await ok(emulator({ type: 'conversationUpdate', membersRemoved: [{ id: 'e7c4c5a0-bot', name: 'Bot' }] }));
    expect(await kept()).toEqual([]);
  });

  it('answers help, status, resume, an empty sentiment, an unknown text and a text over the limit', async () => {
    let before = connector.calls.length;
    await ok(message('help'));
    expect(cardText(cardOf(connector.of('reply', before)[0]))).toContain('sentiment <text>');

    before = connector.calls.length;
    await ok(message('status', 'channel'));
    const status = cardText(cardOf(connector.of('reply', before)[0]));
    expect(status).toContain(`**Model** ${scorer.info.version}`);
    expect(status).toContain('**Open alerts** none');
    expect(status).toContain('trend detection is not running');

    before = connector.calls.length;
    await ok(message('resume'));
    expect(connector.of('reply', before)[0].body.text).toBe('No mention source is set up here: nothing to resume.');

    before = connector.calls.length;
    await ok(message('sentiment'));
    const empty = connector.of('reply', before)[0];
    expect(empty.body.text).toContain('Tell me what to score');

    before = connector.calls.length;
    await ok(message('what is the weather'));
    expect(connector.of('reply', before)[0].body.text).toMatch(
      /I did not get “what is the weather”. Try `sentiment <text>`/,
    );

    before = connector.calls.length;
    await ok(message(`sentiment ${'a'.repeat(1001)}`));
    expect(connector.of('reply', before)[0].body.text).toBe(
      'Your text is 1,001 characters long; the limit is 1,000. Send a shorter text with `sentiment <text>`.',
    );
  });
});

describe('feedback', () => {
  it('records the card buttons, updates the card in place, and after ❌ asks for the right label', async () => {
    const call = await ask('my flight got Cancelled Flightled again, no rebooking offered');
    const where = { id: call.id!, conversationId: PERSONAL };
    const predictionId = predictionIdOf(cardOf(call));

    let before = connector.calls.length;
    await ok(submit({ sentinel: 'vote', predictionId, correct: true }, where, ALICE));
    expect(votesOn(predictionId)).toEqual([{ user_id: VOTERS.alice, correct: 1, true_label: null, source: 'teams' }]);
    let [update] = connector.of('update', before);
    expect(update).toMatchObject({ conversationId: PERSONAL, activityId: call.id });
    expect(cardText(cardOf(update))).toContain('Feedback: ✅ 1 · ❌ 0');

    before = connector.calls.length;
    await ok(submit({ sentinel: 'vote', predictionId, correct: false }, where, BOB));
    [update] = connector.of('update', before);
    const asking = cardOf(update);
    expect(cardText(asking)).toContain(
      'Thanks for the ❌, Bob Roux.** The model said *negative*: what should it have been?',
    );
    const labelButtons = actionsOf(asking).filter((a) => a.data?.sentinel === 'label');
    expect(labelButtons.map((a) => a.data.label)).toEqual(['neutral', 'positive']);

    before = connector.calls.length;
    await ok(submit(labelButtons[0].data, where, BOB));
    expect(votesOn(predictionId)).toEqual([
      { user_id: VOTERS.alice, correct: 1, true_label: null, source: 'teams' },
      { user_id: VOTERS.bob, correct: 0, true_label: 'neutral', source: 'teams' },
    ]);
    [update] = connector.of('update', before);
    const answered = cardOf(update);
    expect(cardText(answered)).toContain('Feedback: ✅ 1 · ❌ 1 (should have been neutral ×1)');
    expect(actionsOf(answered).some((a) => a.data?.sentinel === 'label')).toBe(false);
  });

  it('turns reactions into votes (like / ✅ right, angry / ❌ wrong) and retracts them when removed', async () => {
    const call = await ask('the lounge was fine I guess', 'group');
    const where = { id: call.id!, conversationId: GROUP };
    const predictionId = predictionIdOf(cardOf(call));
    const label = (await (server.predictionLog.flush(), store.getPrediction(predictionId)))!.label;

    await ok(reaction('like', where, true, CAROL));
    expect(votesOn(predictionId)).toEqual([{ user_id: VOTERS.carol, correct: 1, true_label: null, source: 'teams' }]);
    // ✅ as well, then 👍 removed: the ✅ still says right.
    await ok(reaction('2705_whiteheavycheckmark', where, true, CAROL));
    await ok(reaction('like', where, false, CAROL));
    expect(votesOn(predictionId)).toHaveLength(1);
    await ok(reaction('2705_whiteheavycheckmark', where, false, CAROL));
    expect(votesOn(predictionId)).toEqual([]);

    const before = connector.calls.length;
    await ok(reaction('274c_crossmark', where, true, BOB));
    expect(votesOn(predictionId)).toEqual([{ user_id: VOTERS.bob, correct: 0, true_label: null, source: 'teams' }]);
    const [update] = connector.of('update', before);
    expect(update).toMatchObject({ conversationId: GROUP, activityId: call.id });
    expect(cardText(cardOf(update))).toContain(`The model said *${label}*: what should it have been?`);

    await ok(reaction('angry', where, true, ALICE));
    expect(votesOn(predictionId).map((v) => [v.user_id, v.correct])).toEqual([
      [VOTERS.alice, 0],
      [VOTERS.bob, 0],
    ]);
    await ok(reaction('angry', where, false, ALICE));
    expect(votesOn(predictionId).map((v) => v.user_id)).toEqual([VOTERS.bob]);
  });

  it('logs an unknown reaction id and ignores it, and ignores reactions on messages it does not judge', async () => {
    const call = await ask('ok flight', 'personal');
    const predictionId = predictionIdOf(cardOf(call));
    const before = connector.calls.length;
    await ok(reaction('1f984_unicorn', { id: call.id!, conversationId: PERSONAL }, true, BOB));
    await ok(reaction('heart', { id: call.id!, conversationId: PERSONAL }, true, BOB));
    await ok(reaction('like', { id: '999999', conversationId: PERSONAL }, true, BOB));
    expect(votesOn(predictionId)).toEqual([]);
    expect(connector.calls.length).toBe(before);
    expect(server.logs().filter((l) => l.msg?.startsWith('teams: unknown reaction id'))).toEqual([
      expect.objectContaining({ reaction: '1f984_unicorn', added: true }),
    ]);
  });
});

describe('malformed activities', () => {
  it.each([
    ['not JSON', 400, 'malformed_json', '{"type": "message",'],
    ['an array', 400, 'invalid_activity', []],
    ['no type', 400, 'invalid_activity', { serviceUrl: 'http://127.0.0.1:1/', conversation: { id: 'x' } }],
    ['no serviceUrl', 400, 'invalid_activity', { type: 'message', conversation: { id: 'x' } }],
    ['no conversation', 400, 'invalid_activity', { type: 'message', serviceUrl: 'http://127.0.0.1:1/' }],
    [
      'reactions not a list',
      400,
      'invalid_activity',
      { type: 'messageReaction', serviceUrl: 'http://127.0.0.1:1/', conversation: { id: 'x' }, reactionsAdded: 'like' },
    ],
    [
      'a from without id',
      400,
      'invalid_activity',
      { type: 'message', serviceUrl: 'http://127.0.0.1:1/', conversation: { id: 'x' }, from: 'me' },
    ],
  ])('%s: %i %s', async (_name, status, code, body) => {
    const res = await post(body);
    expect(res.status).toBe(status);
    expect(((await res.json()) as Json).error.code).toBe(code);
  });

  it('answers bad button data and votes on unknown predictions in the chat, and keeps serving', async () => {
    let before = connector.calls.length;
    await ok(submit({ sentinel: 'vote', predictionId: 42 }, { id: '1', conversationId: PERSONAL }));
    expect(connector.of('reply', before)[0].body.text).toBe(
      'That button sent something I do not understand; nothing was recorded.',
    );
    before = connector.calls.length;
    await ok(
      submit({ sentinel: 'vote', predictionId: 'no-such-id', correct: true }, { id: '1', conversationId: PERSONAL }),
    );
    expect(connector.of('reply', before)[0].body.text).toBe('Not recorded: no prediction with id "no-such-id".');
    // An activity type the bot does not handle, a message without text, a reaction without replyToId.
    await ok(activity({ type: 'typing' }));
    await ok(activity({ type: 'message' }));
    await ok(activity({ type: 'messageReaction', reactionsAdded: [{ type: 'like' }] }));
    await ask('still here?');
    expect(server.logs().filter((l) => /a turn failed/.test(l.msg))).toEqual([]);
  });
});

describe('installation and proactive alerts', () => {
  const alertId = 'alert-teams-1';
  const mentions = [
    { id: '569900000000000001', text: '@AirParadis lost my bag AGAIN, third time this month' },
    { id: '569900000000000002', text: '@AirParadis 4 hours delay and no food vouchers #neveragain' },
  ];

  function content(kind: AlertContent['kind'], at: string, share: number): AlertContent {
    const points = Array.from({ length: 24 }, (_, h) => ({
      at: new Date(Date.parse('2015-02-22T00:00:00Z') + h * 3_600_000).toISOString(),
      total: 40 + h,
      negative: Math.round((40 + h) * (h > 18 ? share : 0.4)),
      baseline: 0.42,
    }));
    const png = renderTrendChart({
      stream: 'AirParadis',
      points,
      alertPeriods: [{ from: '2015-02-22T19:00:00Z', ...(kind === 'resolved' ? { to: at } : {}) }],
      title: 'AirParadis: negative mentions, last 24 h',
    });
    return {
      kind,
      alertId,
      stream: 'AirParadis',
      headline:
        kind === 'opened'
          ? `Bad buzz starting on AirParadis: ${Math.round(share * 100)} % of mentions negative in the last 3 h (normally 42 %)`
          : kind === 'updated'
            ? `Still going on AirParadis after 1 h: ${Math.round(share * 100)} % negative`
            : 'Over on AirParadis after 3 h (peak 81 %)',
      at,
      openedAt: '2015-02-22T21:00:00.000Z',
      ...(kind === 'resolved' ? { resolvedAt: at } : {}),
      durationMinutes: Math.round((Date.parse(at) - Date.parse('2015-02-22T21:00:00.000Z')) / 60_000),
      figures: {
        windowMinutes: 180,
        windowStart: '2015-02-22T18:00:00.000Z',
        negativeShare: share,
        baselineShare: 0.42,
        lift: share - 0.42,
        volume: 220,
        negatives: Math.round(220 * share),
        usualVolume: 120,
        z: 6.1,
        pValue: 2e-9,
      },
      rise: { previousShare: 0.44, previousVolume: 110, pointsPerHour: 11.3 },
      peak: { share: 0.81, at: '2015-02-22T22:00:00.000Z' },
      sparkline: { text: '▃▃▃▄▃▃▃▃▄▃▃▃▃▃▃▃▃▃▃▅▆▇██', from: '2015-02-22T00:00:00.000Z', to: '2015-02-23T00:00:00.000Z' },
      mentions: mentions.map((m, i) => ({
        id: m.id,
        url: `https://x.com/i/web/status/${m.id}`,
        text: m.text,
        createdAt: '2015-02-22T20:3' + i + ':00.000Z',
        author: `traveller${i}`,
        negative: 0.97 - i / 100,
      })),
      terms: [
        { term: 'bag', score: 5.2, count: 14, referenceCount: 2 },
        { term: 'delay', score: 3.9, count: 11, referenceCount: 3 },
      ],
      chart: { png, width: 800, height: 360, title: 'AirParadis: negative mentions, last 24 h' },
    };
  }

  async function conversations(): Promise<Json[]> {
    return JSON.parse((await store.getCheckpoint('teams/conversations')) ?? '[]');
  }

  it('captures the conversation from installationUpdate and conversationUpdate, and forgets it on removal', async () => {
    // The bot added to the team: conversationUpdate in the General channel.
    await ok(
      activity(
        {
          type: 'conversationUpdate',
          membersAdded: [BOT],
          conversation: { id: GENERAL, conversationType: 'channel', isGroup: true, tenantId: TENANT },
          channelData: {
            team: TEAM,
            channel: { id: GENERAL, name: 'General' },
            tenant: { id: TENANT },
            eventType: 'teamMemberAdded',
          },
        },
        'channel',
      ),
    );
    expect(await conversations()).toEqual([
      expect.objectContaining({
        key: `team:${TEAM.id}`,
        scope: 'channel',
        teamsChannelId: GENERAL,
        source: 'conversationUpdate',
      }),
    ]);
    // The installer picks the alerts channel: installationUpdate there wins, and Sentinel says hello.
    const before = connector.calls.length;
    await ok(activity({ type: 'installationUpdate', action: 'add' }, 'channel'));
    expect(await conversations()).toEqual([
      expect.objectContaining({
        key: `team:${TEAM.id}`,
        scope: 'channel',
        teamsChannelId: ALERTS_CHANNEL.id,
        teamId: TEAM.id,
        tenantId: TENANT,
        name: 'Social media',
        source: 'installationUpdate',
        reference: expect.objectContaining({
          serviceUrl: connector.url,
          channelId: 'msteams',
          bot: { id: BOT.id, name: BOT.name },
          conversation: expect.objectContaining({ id: ALERTS_CHANNEL.id }),
        }),
      }),
    ]);
    expect(connector.calls.slice(before).map((c) => c.body.text)).toEqual([
      expect.stringContaining('alerts about a bad buzz on X will be posted in this conversation'),
    ]);
    // A later conversationUpdate for the team does not move the alerts back to General.
    await ok(
      activity(
        {
          type: 'conversationUpdate',
          membersAdded: [BOT],
          conversation: { id: GENERAL, conversationType: 'channel', isGroup: true, tenantId: TENANT },
        },
        'channel',
      ),
    );
    expect((await conversations())[0].teamsChannelId).toBe(ALERTS_CHANNEL.id);
    // A group chat and a personal chat.
    await ok(activity({ type: 'installationUpdate', action: 'add' }, 'group'));
    await ok(activity({ type: 'conversationUpdate', membersAdded: [BOT, ALICE] }, 'personal'));
    expect((await conversations()).map((c: Json) => [c.key, c.scope])).toEqual([
      [`team:${TEAM.id}`, 'channel'],
      [`conv:${GROUP}`, 'groupChat'],
      [`conv:${PERSONAL}`, 'personal'],
    ]);
    // Removal.
    await ok(activity({ type: 'installationUpdate', action: 'remove' }, 'personal'));
    expect((await conversations()).map((c: Json) => c.key)).toEqual([`team:${TEAM.id}`, `conv:${GROUP}`]);
  });

  it('posts an alert (open → update → resolve) as a card with a thread, updated in place, exactly once', async () => {
    const sink = server.teams!.sink;
    await store.saveMentions(
      mentions.map((m) => ({
        id: m.id,
        stream: 'AirParadis',
        createdAt: '2015-02-22T20:30:00.000Z',
        text: m.text,
        prediction: {
          label: 'negative' as const,
          confidence: 0.97,
          probabilities: { negative: 0.97, neutral: 0.02, positive: 0.01 },
          modelVersion: scorer.info.version,
        },
      })),
    );

    // Open: a new thread in the alerts channel (POST /v3/conversations), a new message in the group chat
    // (personal chats are not in TEAMS_ALERT_SCOPES), each top mention as a card in the thread.
    let before = connector.calls.length;
    await sink.alertOpened(content('opened', '2015-02-22T21:00:00.000Z', 0.78));
    const [created] = connector.of('create', before);
    expect(created.body).toMatchObject({
      isGroup: true,
      channelData: { channel: { id: ALERTS_CHANNEL.id }, tenant: { id: TENANT } },
      tenantId: TENANT,
      bot: { id: BOT.id },
    });
    const opened = cardOf({ ...created, body: created.body.activity as Json });
    const shown = cardText(opened);
    expect(shown).toContain('🚨 **Bad buzz starting on AirParadis: 78 % of mentions negative');
    expect(shown).toContain('78 % in the last 3 h, normally 42 % (+36 pts, p = 2.0e-9)');
    expect(shown).toContain('220 mentions, 172 negative (usually about 120 in 3 h)');
    expect(shown).toContain('▃▃▃▄▃▃▃▃▄▃▃▃▃▃▃▃▃▃▃▅▆▇██');
    expect(shown).toContain('**About** bag · delay');
    expect(shown).toContain(`[@traveller0](https://x.com/i/web/status/${mentions[0].id})`);
    const image = JSON.stringify(opened).match(/"url":"(data:image\/png;base64,[^"]+)"/)?.[1];
    expect(Buffer.from(image!.split(',')[1], 'base64').subarray(1, 4).toString()).toBe('PNG');
    expect(opened.actions.map((a: Json) => a.data)).toEqual([
      { sentinel: 'alertVote', alertId, correct: true },
      { sentinel: 'alertVote', alertId, correct: false },
      { sentinel: 'alertAck', alertId },
      { sentinel: 'alertSnooze', alertId, hours: 1 },
      { sentinel: 'alertSnooze', alertId, hours: 4 },
    ]);
    const thread = `${ALERTS_CHANNEL.id};messageid=${created.id}`;
    const [groupCard] = connector.of('send', before);
    expect(groupCard.conversationId).toBe(GROUP);
    const replies = connector.of('reply', before);
    expect(replies.map((r) => [r.conversationId, r.activityId])).toEqual([
      [thread, created.id],
      [thread, created.id],
      [GROUP, groupCard.id],
      [GROUP, groupCard.id],
    ]);
    expect(cardText(cardOf(replies[0]))).toContain('**97 % negative** · [@traveller0]');
    expect(await store.findLink('teams', ALERTS_CHANNEL.id, created.id!)).toMatchObject({ alertId });
    expect(await store.findLink('teams', GROUP, groupCard.id!)).toMatchObject({ alertId });
    expect(await store.findLink('teams', ALERTS_CHANNEL.id, replies[0].id!)).toMatchObject({
      predictionId: `x:${mentions[0].id}`,
    });

    // Sent again (the trend monitor retries what a sink did not take): nothing is posted twice.
    before = connector.calls.length;
    await sink.alertOpened(content('opened', '2015-02-22T21:00:00.000Z', 0.78));
    expect(connector.calls.slice(before).map((c) => c.kind)).toEqual(['update', 'update']);

    // Update: the card updated in place, a reply in the thread.
    before = connector.calls.length;
    await sink.alertUpdated(content('updated', '2015-02-22T22:00:00.000Z', 0.81));
    const updates = connector.of('update', before);
    expect(updates.map((u) => [u.conversationId, u.activityId])).toEqual([
      [thread, created.id],
      [GROUP, groupCard.id],
    ]);
    expect(cardText(cardOf(updates[0]))).toContain('⚠️ **Still going on AirParadis after 1 h: 81 % negative**');
    const updateReplies = connector.of('reply', before);
    expect(updateReplies.map((r) => [r.conversationId, r.activityId])).toEqual([
      [thread, created.id],
      [GROUP, groupCard.id],
    ]);
    expect(cardText(cardOf(updateReplies[0]))).toContain('⚠️ **Update · Still going on AirParadis');

    // Resolution: likewise, once.
    before = connector.calls.length;
    await sink.alertResolved(content('resolved', '2015-02-23T00:00:00.000Z', 0.5));
    await sink.alertResolved(content('resolved', '2015-02-23T00:00:00.000Z', 0.5));
    // The channel's thread, then the group chat; the second delivery only refreshes the cards.
    expect(connector.calls.slice(before).map((c) => c.kind)).toEqual([
      'update',
      'reply',
      'update',
      'reply',
      'update',
      'update',
    ]);
    const resolved = cardOf(connector.of('update', before)[0]);
    expect(cardText(resolved)).toContain('🟢 **Resolved: Over on AirParadis after 3 h (peak 81 %)**');
    expect(cardText(resolved)).toContain('3 h (2015-02-22 21:00 UTC → 00:00 UTC), peak 81 % at 22:00 UTC');
    expect(cardText(cardOf(connector.of('reply', before)[0]))).toContain('🟢 **Over · Over on AirParadis');

    // Votes on the alert (button and reaction) and on a mention in its thread.
    before = connector.calls.length;
    await ok(
      submit({ sentinel: 'alertVote', alertId, correct: true }, { id: created.id!, conversationId: thread }, BOB),
    );
    await ok(reaction('274c_crossmark', { id: groupCard.id!, conversationId: GROUP }, true, CAROL));
    expect(votesOn(`alert:${alertId}`).map((v) => [v.user_id, v.correct])).toEqual([
      [VOTERS.bob, 1],
      [VOTERS.carol, 0],
    ]);
    expect(cardText(cardOf(connector.of('update', before).at(-1)!))).toContain('Judged: 1 real · 1 false alarm');
    await ok(reaction('like', { id: replies[0].id!, conversationId: thread }, true, ALICE));
    expect(votesOn(`x:${mentions[0].id}`)).toEqual([
      { user_id: VOTERS.alice, correct: 1, true_label: null, source: 'teams' },
    ]);
  });

  it('Acknowledge and Snooze on the alert card: the cards updated in place, a reply, the stream snoozed', async () => {
    const sink = server.teams!.sink;
    const id = 'alert-teams-ack';
    const HOUR = 3_600_000;
    let before = connector.calls.length;
    await sink.alertOpened({ ...content('opened', '2015-02-24T10:00:00.000Z', 0.7), alertId: id });
    const [created] = connector.of('create', before);
    const [groupCard] = connector.of('send', before);
    const thread = `${ALERTS_CHANNEL.id};messageid=${created.id}`;
    const inChannel = { id: created.id!, conversationId: thread };
    const inGroup = { id: groupCard.id!, conversationId: GROUP };
    const opened = cardOf({ ...created, body: created.body.activity as Json });
    expect(opened.actions.map((a: Json) => a.title)).toEqual([
      '✅ Real bad buzz',
      '❌ False alarm',
      '👀 Acknowledge',
      '💤 Snooze 1 h',
      '💤 Snooze 4 h',
    ]);
    const cardsUpdated = (from: number) =>
      connector.of('update', from).map((u) => [u.conversationId, u.activityId, cardText(cardOf(u))]);

    // Acknowledge: both cards show who, the thread it was clicked in says so.
    before = connector.calls.length;
    const ack = submit({ sentinel: 'alertAck', alertId: id }, inChannel, BOB);
    await ok(ack);
    expect(cardsUpdated(before)).toEqual([
      [thread, created.id, expect.stringContaining('👀 Acknowledged by Bob Roux')],
      [GROUP, groupCard.id, expect.stringContaining('👀 Acknowledged by Bob Roux')],
    ]);
    expect(connector.of('reply', before).map((r) => [r.conversationId, r.activityId, r.body.text])).toEqual([
      [thread, ack.id, '👀 Bob Roux acknowledged this alert.'],
    ]);
    // Clicked again by the same user: nothing changes, nothing is said twice.
    before = connector.calls.length;
    await ok(submit({ sentinel: 'alertAck', alertId: id }, inChannel, BOB));
    expect(connector.calls.slice(before)).toEqual([]);
    await ok(submit({ sentinel: 'alertAck', alertId: id }, inGroup, CAROL));
    expect(cardsUpdated(before).map((u) => u[2])).toEqual([
      expect.stringContaining('👀 Acknowledged by Bob Roux, Carol Petit'),
      expect.stringContaining('👀 Acknowledged by Bob Roux, Carol Petit'),
    ]);

    // Snooze without the trend module: said, nothing changes.
    before = connector.calls.length;
    await ok(submit({ sentinel: 'alertSnooze', alertId: id, hours: 1 }, inChannel, ALICE));
    expect(connector.of('update', before)).toEqual([]);
    expect(connector.of('reply', before).map((r) => r.body.text)).toEqual([
      'Snoozing needs the trend detection, which is not running here.',
    ]);

    monitor = new TrendMonitor({ store });
    try {
      // The stream was never judged here, so the snooze runs from the wall clock.
      const t0 = Date.now();
      before = connector.calls.length;
      const snooze = submit({ sentinel: 'alertSnooze', alertId: id, hours: 4 }, inGroup, ALICE);
      await ok(snooze);
      const until = (await monitor.snoozedUntil('AirParadis'))!;
      expect(Date.parse(until) - t0).toBeGreaterThanOrEqual(4 * HOUR);
      expect(Date.parse(until) - Date.now()).toBeLessThanOrEqual(4 * HOUR);
      const shown = `${until.slice(0, 10)} ${until.slice(11, 16)} UTC`;
      expect(cardsUpdated(before)).toEqual([
        [thread, created.id, expect.stringContaining(`💤 New alerts snoozed until ${shown} by Alice Martin`)],
        [GROUP, groupCard.id, expect.stringContaining(`💤 New alerts snoozed until ${shown} by Alice Martin`)],
      ]);
      expect(cardsUpdated(before)[0][2]).toContain('👀 Acknowledged by Bob Roux, Carol Petit');
      expect(connector.of('reply', before).map((r) => [r.conversationId, r.activityId, r.body.text])).toEqual([
        [GROUP, snooze.id, `💤 Alice Martin snoozed new alerts on **AirParadis** for 4 h (until ${shown}).`],
      ]);
      // Clicked again (or 1 h after 4 h): already snoozed at least that long, nothing changes.
      before = connector.calls.length;
      await ok(submit({ sentinel: 'alertSnooze', alertId: id, hours: 4 }, inGroup, ALICE));
      await ok(submit({ sentinel: 'alertSnooze', alertId: id, hours: 1 }, inChannel, BOB));
      expect(connector.calls.slice(before)).toEqual([]);
      expect(await monitor.snoozedUntil('AirParadis')).toBe(until);
    } finally {
      monitor = undefined;
    }

    // An alert Sentinel no longer knows: said in the chat.
    before = connector.calls.length;
    await ok(submit({ sentinel: 'alertAck', alertId: 'no-such-alert' }, inChannel, BOB));
    expect(connector.of('reply', before).map((r) => r.body.text)).toEqual([
      'I no longer know this alert, so I cannot record that.',
    ]);

    // Once over, the card keeps who acknowledged but offers only the votes.
    before = connector.calls.length;
    await sink.alertResolved({ ...content('resolved', '2015-02-24T13:00:00.000Z', 0.5), alertId: id });
    const resolved = cardOf(connector.of('update', before)[0]);
    expect(cardText(resolved)).toContain('👀 Acknowledged by Bob Roux, Carol Petit');
    expect(resolved.actions.map((a: Json) => a.data.sentinel)).toEqual(['alertVote', 'alertVote']);
  });

  it('forgets a conversation the connector says the bot was removed from (403), and still delivers elsewhere', async () => {
    const sink = server.teams!.sink;
    connector.failNext(1, 403);
    await sink.alertOpened({ ...content('opened', '2015-02-25T10:00:00.000Z', 0.7), alertId: 'alert-teams-2' });
    expect((await conversations()).map((c: Json) => c.key)).toEqual([`conv:${GROUP}`]);
    expect(server.logs().some((l) => /can no longer post in this conversation/.test(l.msg))).toBe(true);
  });

  it('never replays a post whose outcome is unknown: the card is posted again (may show twice), a reply is not', async () => {
    // Issue 12. The group chat is the one conversation left. The Bot Framework cannot be asked whether an
    // activity arrived, so the outcome of a post that failed without a usable answer (or was cut by a crash
    // after its intent was recorded) is decided, and said.
    const sink = server.teams!.sink;
    const alert = { ...content('opened', '2015-02-26T10:00:00.000Z', 0.7), alertId: 'alert-teams-3' };
    const said = (re: RegExp) => server.logs().filter((l) => re.test(l.msg) && l.alert === 'alert-teams-3');

    // The card's POST gets a 502: botbuilder's client would have sent it again (up to 3 times); it is not.
    let before = connector.calls.length;
    connector.failNext(1, 502);
    await expect(sink.alertOpened(alert)).rejects.toThrow('the opened alert alert-teams-3 is not fully in Teams');
    expect(connector.calls.slice(before).map((c) => c.kind)).toEqual(['send']);

    // Next delivery: the card is posted again, with a warning; its first mention card gets a 500.
    before = connector.calls.length;
    connector.failNext(1, 500, { after: 1 });
    await expect(sink.alertOpened(alert)).rejects.toThrow('is not fully in Teams');
    expect(connector.calls.slice(before).map((c) => c.kind)).toEqual(['send', 'reply', 'reply']);
    expect(said(/^teams: the alert card was begun before and its outcome is unknown/)).toHaveLength(1);
    expect(said(/posted again and may show twice$/)).toHaveLength(1);

    // Next delivery: that mention card is not posted again (it may be missing); the card is updated in place.
    before = connector.calls.length;
    await sink.alertOpened(alert);
    expect(connector.calls.slice(before).map((c) => c.kind)).toEqual(['update']);
    expect(
      said(new RegExp(`^teams: mention:${mentions[0].id} of alert alert-teams-3 was begun before .* may be missing`)),
    ).toHaveLength(1);
    const state = JSON.parse((await store.getCheckpoint('teams/alert:alert-teams-3'))!);
    expect(state.begun).toEqual({});
    const target = state.targets[`conv:${GROUP}`];
    expect(target.begun).toEqual({});
    expect([...target.done].sort()).toEqual(mentions.map((m) => `mention:${m.id}`));
  });

  it('waits out throttling (429 with Retry-After) and posts once', async () => {
    const sink = server.teams!.sink;
    const before = connector.calls.length;
    connector.failNext(1, 429, { retryAfter: 1 });
    const started = Date.now();
    await sink.alertOpened({ ...content('opened', '2015-02-27T10:00:00.000Z', 0.7), alertId: 'alert-teams-4' });
    const sends = connector.of('send', before);
    expect(sends).toHaveLength(2); // the 429, then the card, once
    expect(connector.of('reply', before)).toHaveLength(mentions.length);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });
});

describe('with MicrosoftAppId set', () => {
  let secured: Running;

  beforeAll(async () => {
    secured = await start({
      MicrosoftAppId: '0b5d6e5c-1c1a-4a8e-9f3e-2d0c6c1b7a10',
      MicrosoftAppPassword: 'not-a-real-secret',
      MicrosoftAppType: 'MultiTenant',
    });
  });

  afterAll(async () => {
    await secured?.app.close();
  });

  it('says authentication is on at start-up', () => {
    expect(secured.teams?.authEnabled).toBe(true);
    expect(secured.logs().find((l) => /^Teams on \(Bot Framework activities/.test(l.msg))).toMatchObject({
      appId: '0b5d6e5c-1c1a-4a8e-9f3e-2d0c6c1b7a10',
      appType: 'MultiTenant',
    });
    expect(JSON.stringify(secured.logs())).not.toContain('not-a-real-secret');
  });

  it('refuses an activity without a token (401) and posts nothing', async () => {
    const before = connector.calls.length;
    const res = await post(message('sentiment hello'), secured.url);
    expect(res.status).toBe(401);
    expect(((await res.json()) as Json).error.code).toBe('unauthorized');
    expect(connector.calls.length).toBe(before);
  });

  it('refuses an activity with a token that is not a Bot Framework JWT (401), in one log line', async () => {
    const spy = jest.spyOn(console, 'error'); // botbuilder's own report would land here
    try {
      const before = secured.logs().length;
      const res = await post(
        { ...message('sentiment hello'), serviceUrl: 'https://smba.trafficmanager.net/emea/' },
        secured.url,
        { authorization: 'Bearer not.a.jwt' },
      );
      expect(res.status).toBe(401);
      expect(((await res.json()) as Json).error.code).toBe('unauthorized');
      const lines = secured
        .logs()
        .slice(before)
        .filter((l) => l.level >= 30); // the access log line is debug
      expect(lines).toEqual([expect.objectContaining({ level: 40, msg: expect.stringMatching(/refused \(401\)/) })]);
      expect(lines[0]).not.toHaveProperty('err');
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it("refuses an activity whose serviceUrl is not the Bot Framework's (403), before any outgoing call", async () => {
    const before = connector.calls.length;
    const lines = secured.logs().length;
    for (const serviceUrl of [connector.url, 'https://evil.example/', 'http://169.254.169.254/latest/']) {
      const res = await post({ ...message('sentiment hello'), serviceUrl }, secured.url, {
        authorization: 'Bearer not.a.jwt',
      });
      expect(res.status).toBe(403);
      expect(((await res.json()) as Json).error.code).toBe('service_url_not_allowed');
    }
    expect(connector.calls.length).toBe(before);
    expect(
      secured
        .logs()
        .slice(lines)
        .filter((l) => l.level >= 30)
        .map((l) => l.level),
    ).toEqual([40, 40, 40]);
  });
});
