/**
 * The Slack adapter over the real protocol: the real Bolt app mounted on the real HTTP server
 * (src/http/server.ts) on loopback, requests signed exactly as Slack signs them, Bolt's WebClient pointed at
 * a recording Slack Web API on loopback, the real model, a real SQLite store and the real trend monitor
 * (for snoozes). Every Web API call the adapter makes is checked as Slack would receive it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { webApi } from '@slack/bolt';
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig } from '../../config/schema';
import { slackSettings, startSlack, type SlackAdapter } from '../../adapters/slack';
import { buildServer } from '../../src/http/server';
import { ApiAuth } from '../../src/http/auth';

/** No API keys: the API is open, as in local mode on loopback. */
const OPEN_API = ApiAuth.fromEntries([]);
import { createLogger } from '../../src/log';
import { PredictionLog } from '../../src/feedback/prediction-log';
import { loadScorer } from '../../src/sentiment/load';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import type { Scorer } from '../../src/sentiment/types';
import { openSqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';
import { renderTrendChart } from '../../src/trends/chart';
import type { AlertContent } from '../../src/trends/content';
import { TrendMonitor } from '../../src/trends/monitor';
import Database from 'better-sqlite3';
import { hashVoterId } from '../../src/store/voter-ids';
import { SlackApiServer } from '../helpers/slack-api-server';
import { UDHR } from '../helpers/languages';
import {
  blockAction,
  eventCallback,
  reactionEvent,
  sendSigned,
  slashCommand,
  type SlackRequest,
} from '../helpers/slack-requests';

const SECRET = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const TOKEN = 'xoxb-1234-5678-sentineltest';
const MODEL_DIR = resolve(__dirname, '../../models/sentinel-bilstm');

let dir: string;
let store: Store;
let scorer: Scorer;
let slot: ScorerSlot;
let predictionLog: PredictionLog;
let api: SlackApiServer;
let server: FastifyInstance;
let slack: SlackAdapter;
let monitor: TrendMonitor;
/** The key the store hashes voters' ids with. */
let voterKey: Buffer;
let url: string;
let clock = Date.parse('2026-03-01T12:00:00Z');
const logLines: Array<Record<string, unknown>> = [];

function logCapture() {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line));
      done();
    },
  });
}

const send = (req: SlackRequest, opts: Partial<Parameters<typeof sendSigned>[2]> = {}) =>
  sendSigned(`${url}/slack/events`, req, { secret: SECRET, ...opts });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sentinel-slack-'));
  store = openSqliteStore(join(dir, 'sentinel.db'));
  await store.migrate();
  voterKey = (await store.voterKey()).key;
  scorer = await loadScorer(MODEL_DIR);
  slot = new ScorerSlot();
  slot.set(scorer);
  predictionLog = new PredictionLog(store);
  api = await SlackApiServer.start(TOKEN);
  const config = loadConfig({
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_ALERT_CHANNELS: '#alerts',
    SLACK_API_URL: api.apiUrl,
    SLACK_THREAD_UPDATE_MINUTES: '30',
    MAX_TEXT_CHARS: '280',
  });
  const logger = createLogger('info', { stream: logCapture() });
  server = buildServer({ auth: OPEN_API, slot, config, logger, store, predictionLog });
  const started = await startSlack({
    config,
    app: server,
    slot,
    store,
    predictionLog,
    logger,
    trends: () => monitor,
    apiOptions: { backoffMs: 20 },
    now: () => clock,
  });
  slack = started!;
  // As the composition root does: the monitor is built after Slack, with Slack's sink; Slack reads it through a getter.
  monitor = new TrendMonitor({ store, logger, sinks: [slack.sink!] });
  await server.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
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

beforeEach(() => api.reset());

describe('start-up', () => {
  it('checked the bot token with auth.test and runs in HTTP mode on the API server', () => {
    expect(slack.mode).toBe('http');
    expect(slack.botUserId).toBe('UBOT');
    expect(logLines.some((l) => l.msg === 'Slack on (Events API at POST /slack/events on this server)')).toBe(true);
    // No secret reaches the logs.
    expect(JSON.stringify(logLines)).not.toContain(SECRET);
    expect(JSON.stringify(logLines)).not.toContain(TOKEN);
  });

  it('names the missing or malformed setting', async () => {
    const problems = (env: Record<string, string>) => {
      try {
        slackSettings(loadConfig(env));
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems.map((p) => `${p.setting}: ${p.message}`);
      }
      return [];
    };
    expect(problems({ SLACK_BOT_TOKEN: TOKEN })).toEqual([
      expect.stringMatching(/^SLACK_SIGNING_SECRET: expected the app's signing secret .* or set SLACK_APP_TOKEN/),
    ]);
    expect(problems({ SLACK_SIGNING_SECRET: SECRET })).toEqual([expect.stringMatching(/^SLACK_BOT_TOKEN: expected/)]);
    expect(
      problems({ SLACK_BOT_TOKEN: TOKEN, SLACK_APP_TOKEN: 'xapp-1-A1-1-abc', SLACK_ALERT_CHANNELS: 'alerts' }),
    ).toEqual([expect.stringMatching(/^SLACK_ALERT_CHANNELS: expected channel ids \(C0123ABCD\) or #names/)]);
    expect(slackSettings(loadConfig({}))).toBeNull();
    expect(slackSettings(loadConfig({ SLACK_BOT_TOKEN: TOKEN, SLACK_APP_TOKEN: 'xapp-1-A1-1-abc' }))?.mode).toBe(
      'socket',
    );

    // Malformed values are refused by the schema, without echoing the secret.
    try {
      loadConfig({ SLACK_BOT_TOKEN: 'xoxp-user-token', SLACK_SIGNING_SECRET: 'nothex', SLACK_APP_TOKEN: 'xoxb-1' });
      throw new Error('expected a ConfigError');
    } catch (err) {
      const text = (err as Error).message;
      expect(text).toContain('SLACK_BOT_TOKEN: expected a Slack bot token (xoxb-…), got a value of 15 characters');
      expect(text).toContain('SLACK_SIGNING_SECRET: expected the Slack app signing secret (32 hexadecimal characters)');
      expect(text).toContain('SLACK_APP_TOKEN: expected a Slack app-level token (xapp-…)');
      expect(text).not.toContain('xoxp-user-token');
    }
  });

  it('refuses a bot token Slack refuses, naming SLACK_BOT_TOKEN', async () => {
    const config = loadConfig({
      SLACK_BOT_TOKEN: 'xoxb-revoked',
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: api.apiUrl,
    });
    const other = buildServer({ auth: OPEN_API, slot, config, logger: createLogger('silent'), store, predictionLog });
    await expect(
      startSlack({ config, app: other, slot, store, predictionLog, logger: createLogger('silent') }),
    ).rejects.toThrow(/SLACK_BOT_TOKEN: Slack refused this token \(invalid_auth\)/);
    await other.close();
  });
});

describe('request verification', () => {
  it('answers url_verification with the challenge', async () => {
    const body = JSON.stringify({ token: 't', challenge: 'c-3q4t', type: 'url_verification' });
    const res = await send({ body, contentType: 'application/json' });
    expect(res).toMatchObject({ status: 200, json: { challenge: 'c-3q4t' } });
  });

  it('refuses a forged signature, a stale or missing timestamp with 401 and does nothing', async () => {
    const req = slashCommand({ text: 'my flight was cancelled', responseUrl: api.responseUrl('forged') });
    expect((await send(req, { signature: `v0=${'0'.repeat(64)}` })).status).toBe(401);
    expect((await send(req, { secret: 'ffffffffffffffffffffffffffffffff' })).status).toBe(401);
    expect((await send(req, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 })).status).toBe(401);
    expect((await send(req, { timestamp: Math.floor(Date.now() / 1000) + 6 * 60 })).status).toBe(401);
    const bare = await fetch(`${url}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': req.contentType },
      body: req.body,
    });
    expect(bare.status).toBe(401);
    // A body altered after signing.
    const ts = String(Math.floor(Date.now() / 1000));
    const { slackSignature } = await import('../helpers/slack-requests');
    const tampered = await fetch(`${url}/slack/events`, {
      method: 'POST',
      headers: {
        'content-type': req.contentType,
        'x-slack-request-timestamp': ts,
        'x-slack-signature': slackSignature(SECRET, ts, req.body),
      },
      body: req.body.replace('cancelled', 'fine'),
    });
    expect(tampered.status).toBe(401);
    await new Promise((r) => setTimeout(r, 100));
    expect(api.calls).toEqual([]);
    expect(api.responses).toEqual([]);
    expect(logLines.some((l) => String(l.msg).includes('stale timestamp'))).toBe(true);
  });

  it('answers malformed payloads without crashing, and keeps serving', async () => {
    expect((await send({ body: '{"type": "event_callback", ', contentType: 'application/json' })).status).toBe(400);
    expect((await send({ body: 'payload=%7Bnot-json', contentType: 'application/x-www-form-urlencoded' })).status).toBe(
      400,
    );
    expect((await send({ body: '[1,2]', contentType: 'application/json' })).status).toBe(400);
    // Well-formed but of no known type: no listener, 404 (as Bolt's own receivers answer).
    expect((await send({ body: '{"hello": "world"}', contentType: 'application/json' })).status).toBe(404);
    // An event without the fields a listener reads.
    expect((await send(eventCallback({ type: 'reaction_added' }))).status).toBe(200);
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    const help = await send(slashCommand({ text: 'help', responseUrl: api.responseUrl('after-bad') }));
    expect(help.status).toBe(200);
  });
});

describe('/sentiment', () => {
  it('shows the usage for help and for no text, ephemerally', async () => {
    for (const text of ['help', '', '  HELP ']) {
      const res = await send(slashCommand({ text, responseUrl: api.responseUrl('help') }));
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({
        response_type: 'ephemeral',
        text: expect.stringContaining('/sentiment <text>'),
      });
      expect(JSON.stringify(res.json)).toContain('/sentiment status');
      expect(JSON.stringify(res.json)).toContain('280 characters');
    }
    expect(api.calls).toEqual([]);
  });

  it('refuses a text over the limit with a clear ephemeral error', async () => {
    const res = await send(slashCommand({ text: 'late '.repeat(70), responseUrl: api.responseUrl('long') }));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      response_type: 'ephemeral',
      text: 'Your text is 349 characters long; the limit is 280. Send a shorter text with `/sentiment <text>`.',
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(api.ok('chat.postMessage')).toEqual([]);
  });

  it('acks at once, then posts the scored answer in the channel, kept and linked for reactions', async () => {
    const text = '@AirParadis 3 hours on the tarmac and no one tells us anything. Worst airline ever';
    const started = Date.now();
    const res = await send(
      slashCommand({ text, user: 'UAGENT7', channel: 'CSOCIAL', responseUrl: api.responseUrl('happy') }),
    );
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect(Date.now() - started).toBeLessThan(3000);
    await api.waitFor('the answer', () => api.ok('chat.postMessage').length === 1);
    await slack.idle();

    const call = api.ok('chat.postMessage')[0];
    expect(call.token).toBe(TOKEN);
    expect(call.args.channel).toBe('CSOCIAL');
    expect(call.args.text).toMatch(/^Negative \(\d+ % confident\): “@AirParadis 3 hours on the tarmac/);
    const blocks = JSON.stringify(call.args.blocks);
    expect(blocks).toContain(':slightly_frowning_face: *Negative*');
    expect(blocks).toMatch(/negative {2}█+░*  +\d+ %/);
    expect(blocks).toMatch(/neutral {3}[█░]{20}/);
    expect(blocks).toMatch(/positive {2}[█░]{20}/);
    expect(blocks).toContain('Words that drove it, strongest first: *worst* · *hours* · ');
    expect(blocks).toContain(`model \`${scorer.info.version}\``);
    expect(blocks).toContain('React :white_check_mark: if this is right, :x: if it is wrong');
    expect(blocks).toContain('Asked by <@UAGENT7>');

    const posted = [...api.messages.values()].find((m) => m.channel === 'CSOCIAL')!;
    const link = await store.findLink('slack', 'CSOCIAL', posted.ts);
    expect(link?.predictionId).toMatch(/^[0-9a-f-]{36}$/);
    const prediction = await store.getPrediction(link!.predictionId!);
    expect(prediction).toMatchObject({ kind: 'command', text, label: 'negative', modelVersion: scorer.info.version });
  });

  it('escapes what the user typed so it cannot ping or forge links', async () => {
    await send(
      slashCommand({
        text: 'hey <!channel> & <https://evil.example|click> great flight',
        responseUrl: api.responseUrl('esc'),
      }),
    );
    await api.waitFor('the answer', () => api.ok('chat.postMessage').length === 1);
    const blocks = JSON.stringify(api.ok('chat.postMessage')[0].args.blocks);
    expect(blocks).toContain('&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;');
    expect(blocks).not.toContain('<!channel>');
  });

  it('answers a text with nothing to read plainly, ephemerally: nothing scored, kept or posted', async () => {
    for (const text of ['@AirParadis @united', '\u200b\u200b\u200b', '@@@@ !!! ???']) {
      const res = await send(slashCommand({ text, responseUrl: api.responseUrl('unreadable') }));
      expect(res.status).toBe(200);
      expect(res.json).toEqual({
        response_type: 'ephemeral',
        text: expect.stringMatching(/^Nothing to score in that text: .+\. Try a sentence\.$/),
      });
      expect(JSON.stringify(res.json)).not.toMatch(/confident|:white_check_mark:/);
    }
    await new Promise((r) => setTimeout(r, 100));
    await slack.idle();
    expect(api.ok('chat.postMessage')).toEqual([]);
  });

  it('answers a text in another language plainly, ephemerally: "I only read English tweets so far", no label', async () => {
    for (const [text, name] of [
      [`@AirParadis ${UDHR.fr}`, 'French'],
      [UDHR.de, 'German'],
    ]) {
      const res = await send(slashCommand({ text, responseUrl: api.responseUrl('language') }));
      expect(res.status).toBe(200);
      expect(res.json).toEqual({
        response_type: 'ephemeral',
        text: `I only read English tweets so far — this looks like ${name}.`,
      });
    }
    await new Promise((r) => setTimeout(r, 100));
    await slack.idle();
    expect(api.ok('chat.postMessage')).toEqual([]);
  });

  it('answers status ephemerally: model, backend, streams, open alerts', async () => {
    const res = await send(slashCommand({ text: 'status', responseUrl: api.responseUrl('status') }));
    expect(res.status).toBe(200);
    await api.waitFor('the status', () => api.responses.some((r) => r.id === 'status'));
    const body = api.responses.find((r) => r.id === 'status')!.body;
    expect(body.response_type).toBe('ephemeral');
    const text = JSON.stringify(body.blocks);
    expect(text).toContain(`*Model* \`${scorer.info.version}\``);
    expect(text).toContain(`running on *${scorer.info.backend}*`);
    expect(text).toContain('*Streams*');
    expect(text).toContain('*Open alerts*');
    expect(api.ok('chat.postMessage')).toEqual([]);
  });

  it('answers resume: nothing to resume without a source; the paused sources, escaped, when there are', async () => {
    await send(slashCommand({ text: 'resume', responseUrl: api.responseUrl('resume-none') }));
    await api.waitFor('the answer', () => api.responses.some((r) => r.id === 'resume-none'));
    expect(api.responses.find((r) => r.id === 'resume-none')!.body).toEqual({
      response_type: 'ephemeral',
      text: 'No mention source is set up here: nothing to resume.',
    });
    const paused = [{ source: 'x', reason: 'X refused the token <401> & paused', since: '2026-12-03T07:10:00.000Z' }];
    const controls = Object.assign(monitor, { resumeSources: async () => ({ polledBy: 'here' as const, paused }) });
    try {
      await send(slashCommand({ text: 'Resume', responseUrl: api.responseUrl('resume-x') }));
      await api.waitFor('the answer', () => api.responses.some((r) => r.id === 'resume-x'));
      expect(api.responses.find((r) => r.id === 'resume-x')!.body.text).toBe(
        'Trying again at the next poll: x (paused since 2026-12-03 07:10 UTC: X refused the token &lt;401&gt; &amp; paused). ' +
          'The ops channel says when it works again.',
      );
    } finally {
      delete (controls as Partial<typeof controls>).resumeSources;
    }
    expect(api.ok('chat.postMessage')).toEqual([]);
  });

  it('says the model is not ready instead of answering without it', async () => {
    slot.fail('the model is still loading from models/x');
    try {
      const res = await send(slashCommand({ text: 'great crew', responseUrl: api.responseUrl('nr') }));
      expect(res.json).toEqual({
        response_type: 'ephemeral',
        text: 'The sentiment model is not ready: the model is still loading from models/x. Try again in a moment.',
      });
    } finally {
      slot.set(scorer);
    }
  });

  it('answers ephemerally when it cannot post in the conversation', async () => {
    api.fail('chat.postMessage', { error: 'channel_not_found' });
    await send(slashCommand({ text: 'lost my bag again', channel: 'DPRIVATE', responseUrl: api.responseUrl('dm') }));
    await api.waitFor('the fallback', () => api.responses.some((r) => r.id === 'dm'));
    await slack.idle();
    const body = api.responses.find((r) => r.id === 'dm')!.body;
    expect(body.response_type).toBe('ephemeral');
    expect(String(body.text)).toContain('I cannot post in this conversation (channel_not_found): invite me');
    expect(api.calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(1); // not retried: it cannot work
  });

  it('waits out a 429 (Retry-After) and posts once', async () => {
    api.fail('chat.postMessage', { status: 429, retryAfter: 1 });
    await send(slashCommand({ text: 'the crew was lovely, thanks!', responseUrl: api.responseUrl('429') }));
    await api.waitFor('the retried post', () => api.ok('chat.postMessage').length === 1, 15_000);
    await slack.idle();
    const attempts = api.calls.filter((c) => c.method === 'chat.postMessage');
    expect(attempts.map((c) => c.status)).toEqual([429, 200]);
    expect(attempts[1].at - attempts[0].at).toBeGreaterThanOrEqual(1000);
    expect(api.messages.size).toBeGreaterThan(0);
    expect([...api.messages.values()].filter((m) => m.text?.includes('the crew was lovely'))).toHaveLength(1);
  });

  it('retries a post that failed with a 5xx, and posts once', async () => {
    api.fail('chat.postMessage', { status: 500 }, { error: 'internal_error' });
    await send(slashCommand({ text: 'where is my refund', responseUrl: api.responseUrl('500') }));
    await api.waitFor('the retried post', () => api.ok('chat.postMessage').length === 1);
    await slack.idle();
    expect(api.calls.filter((c) => c.method === 'chat.postMessage').map((c) => c.status)).toEqual([500, 200, 200]);
    expect([...api.messages.values()].filter((m) => m.text?.includes('where is my refund'))).toHaveLength(1);
  });
});

/** Posts a /sentiment answer and returns its message. */
async function ask(text: string, user = 'UASKER'): Promise<{ channel: string; ts: string; predictionId: string }> {
  const before = api.ok('chat.postMessage').length;
  await send(slashCommand({ text, user, channel: 'CSOCIAL', responseUrl: api.responseUrl(`ask-${before}`) }));
  await api.waitFor('the answer', () => api.ok('chat.postMessage').length === before + 1);
  await slack.idle();
  const { ts } = [...api.messages.values()].pop()!;
  const link = await store.findLink('slack', 'CSOCIAL', ts);
  return { channel: 'CSOCIAL', ts, predictionId: link!.predictionId! };
}

/** A voter as Sentinel names them: `slack:<team id>:<user id>` (the test workspace is TPARADIS). */
const V = (user: string, team = 'TPARADIS') => `slack:${team}:${user}`;
const KNOWN_USERS = ['U1', 'U2', 'U3', 'U5', 'U7', 'U8', 'U9', 'ULAPTOP', 'UTWIN'];

/**
 * Every vote, each voter shown as the namespaced id it was stored for (the store keeps a keyed hash of it:
 * matched here against the known users of both test workspaces), ordered by prediction and voter.
 */
function feedbackRows(): Array<{
  prediction_id: string;
  user_id: string;
  correct: number;
  true_label: string | null;
  source: string;
}> {
  const named = new Map(KNOWN_USERS.flatMap((u) => [V(u), V(u, 'TOTHERCO')]).map((v) => [hashVoterId(voterKey, v), v]));
  const db = new Database(join(dir, 'sentinel.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT prediction_id, user_id, correct, true_label, source FROM feedback').all() as Array<{
      prediction_id: string;
      user_id: string;
      correct: number;
      true_label: string | null;
      source: string;
    }>;
    return rows
      .map((r) => ({ ...r, user_id: named.get(r.user_id) ?? r.user_id }))
      .sort((a, b) => a.prediction_id.localeCompare(b.prediction_id) || a.user_id.localeCompare(b.user_id));
  } finally {
    db.close();
  }
}

describe('reactions', () => {
  it('turns ✅ / ❌ into votes, one per user, and reaction_removed retracts', async () => {
    const m = await ask('Flight attendants were amazing, best flight in years');
    const votes = () => feedbackRows().filter((r) => r.prediction_id === m.predictionId);

    await send(
      reactionEvent('reaction_added', { user: 'U1', reaction: 'white_check_mark', channel: m.channel, ts: m.ts }),
    );
    await send(
      reactionEvent('reaction_added', { user: 'U2', reaction: 'heavy_check_mark', channel: m.channel, ts: m.ts }),
    );
    await send(reactionEvent('reaction_added', { user: 'U3', reaction: 'thumbsup', channel: m.channel, ts: m.ts }));
    await slack.idle();
    expect(votes()).toEqual([
      { prediction_id: m.predictionId, user_id: V('U1'), correct: 1, true_label: null, source: 'slack' },
      { prediction_id: m.predictionId, user_id: V('U2'), correct: 1, true_label: null, source: 'slack' },
    ]);

    // U1 changes their mind: ❌ replaces ✅ (one vote per user), and the bot asks U1 for the right label.
    await send(reactionEvent('reaction_added', { user: 'U1', reaction: 'x', channel: m.channel, ts: m.ts }));
    await slack.idle();
    expect(votes()[0]).toMatchObject({ user_id: V('U1'), correct: 0 });
    const eph = api.ok('chat.postEphemeral');
    expect(eph).toHaveLength(1);
    expect(eph[0].args).toMatchObject({ channel: m.channel, user: 'U1' });

    // U1 removes ✅ but still has ❌ on the message: the vote stays ❌.
    api.reactions.set(`${m.channel}/${m.ts}`, [
      { name: 'x', users: ['U1'] },
      { name: 'heavy_check_mark', users: ['U2'] },
    ]);
    await send(
      reactionEvent('reaction_removed', { user: 'U1', reaction: 'white_check_mark', channel: m.channel, ts: m.ts }),
    );
    await slack.idle();
    expect(votes()[0]).toMatchObject({ user_id: V('U1'), correct: 0 });

    // U2 removes their only judging reaction: the vote is retracted.
    api.reactions.set(`${m.channel}/${m.ts}`, [{ name: 'x', users: ['U1'] }]);
    await send(
      reactionEvent('reaction_removed', { user: 'U2', reaction: 'heavy_check_mark', channel: m.channel, ts: m.ts }),
    );
    await slack.idle();
    expect(votes().map((v) => v.user_id)).toEqual([V('U1')]);
    expect(api.ok('reactions.get')).toHaveLength(2);
  });

  it('asks for the right label after ❌, and the button records it', async () => {
    const m = await ask('I have been on hold for two hours, still no answer');
    await send(
      reactionEvent('reaction_added', {
        user: 'U9',
        reaction: 'negative_squared_cross_mark',
        channel: m.channel,
        ts: m.ts,
      }),
    );
    await slack.idle();
    const [question] = api.ok('chat.postEphemeral');
    expect(question.args).toMatchObject({ channel: m.channel, user: 'U9' });
    expect(question.args.text).toContain('What should');
    const buttons = question.args.blocks[1].elements as Array<{
      action_id: string;
      value: string;
      text: { text: string };
    }>;
    expect(buttons.map((b) => b.text.text)).toEqual(['Neutral', 'Positive']);

    const neutral = buttons.find((b) => b.text.text === 'Neutral')!;
    const res = await send(
      blockAction({
        user: 'U9',
        channel: m.channel,
        messageTs: '',
        actionId: neutral.action_id,
        value: neutral.value,
        responseUrl: api.responseUrl('label'),
        ephemeral: true,
      }),
    );
    expect(res.status).toBe(200);
    await api.waitFor('the thanks', () => api.responses.some((r) => r.id === 'label'));
    expect(api.responses.find((r) => r.id === 'label')!.body).toEqual({
      replace_original: true,
      text: 'Thanks, recorded: it should have been *neutral*.',
    });
    expect(feedbackRows().find((r) => r.prediction_id === m.predictionId && r.user_id === V('U9'))).toEqual({
      prediction_id: m.predictionId,
      user_id: V('U9'),
      correct: 0,
      true_label: 'neutral',
      source: 'slack',
    });
    expect(await store.feedbackExamples()).toContainEqual({
      text: 'I have been on hold for two hours, still no answer',
      label: 'neutral',
    });
  });

  it('names voters by workspace: the same user id in two workspaces is two voters, each changing only their own vote', async () => {
    const m = await ask('the crew was friendly and the seats were comfortable');
    const votes = () => feedbackRows().filter((r) => r.prediction_id === m.predictionId);
    const react = (type: 'reaction_added' | 'reaction_removed', reaction: string, team: string) =>
      send(reactionEvent(type, { user: 'UTWIN', reaction, channel: m.channel, ts: m.ts, team }));
    await react('reaction_added', 'white_check_mark', 'TPARADIS');
    await react('reaction_added', 'x', 'TOTHERCO'); // another workspace (a shared channel), the same raw user id
    await slack.idle();
    expect(votes().map((v) => [v.user_id, v.correct])).toEqual([
      [V('UTWIN', 'TOTHERCO'), 0],
      [V('UTWIN'), 1],
    ]);
    // The other workspace's user removes their ❌ (nothing left under that id): their vote goes, the first stays.
    api.reactions.set(`${m.channel}/${m.ts}`, []);
    await react('reaction_removed', 'x', 'TOTHERCO');
    await slack.idle();
    expect(votes().map((v) => [v.user_id, v.correct])).toEqual([[V('UTWIN'), 1]]);
    // The label button after a ❌ is the same voter as the reaction: it replaces that vote, nobody else's.
    const res = await send(
      blockAction({
        user: 'UTWIN',
        team: 'TOTHERCO',
        channel: m.channel,
        messageTs: '',
        actionId: 'sentinel_true_label_negative',
        value: JSON.stringify({ p: m.predictionId, l: 'negative' }),
        responseUrl: api.responseUrl('twin-label'),
        ephemeral: true,
      }),
    );
    expect(res.status).toBe(200);
    await api.waitFor('the thanks', () => api.responses.some((r) => r.id === 'twin-label'));
    expect(votes().map((v) => [v.user_id, v.correct, v.true_label])).toEqual([
      [V('UTWIN', 'TOTHERCO'), 0, 'negative'],
      [V('UTWIN'), 1, null],
    ]);
  });

  it('records no vote from a payload that names no workspace', async () => {
    const m = await ask('lost my luggage twice this month');
    const body = JSON.parse(
      reactionEvent('reaction_added', { user: 'U5', reaction: 'x', channel: m.channel, ts: m.ts }).body,
    );
    delete body.team_id;
    delete body.authorizations;
    expect((await send({ body: JSON.stringify(body), contentType: 'application/json' })).status).toBe(200);
    await slack.idle();
    expect(feedbackRows().filter((r) => r.prediction_id === m.predictionId)).toEqual([]);
    expect(logLines.some((l) => String(l.msg).includes('without a user or workspace id'))).toBe(true);
  });

  it("ignores reactions on messages that are not Sentinel's, silently", async () => {
    const before = feedbackRows().length;
    const res = await send(
      reactionEvent('reaction_added', { user: 'U1', reaction: 'x', channel: 'CSOCIAL', ts: '1699999999.000001' }),
    );
    expect(res.status).toBe(200);
    await send(
      reactionEvent('reaction_removed', { user: 'U1', reaction: 'x', channel: 'CRANDOM', ts: '1699999999.000002' }),
    );
    await slack.idle();
    expect(feedbackRows()).toHaveLength(before);
    expect(api.calls).toEqual([]);
  });

  it('applies an event Slack retries once (same event_id, X-Slack-Retry-Num)', async () => {
    const m = await ask('they cancelled my flight and lost my luggage');
    api.reset();
    const event = reactionEvent(
      'reaction_added',
      { user: 'U5', reaction: 'x', channel: m.channel, ts: m.ts },
      'Ev0RETRY01',
    );
    expect((await send(event)).status).toBe(200);
    expect((await send(event, { retryNum: 1, retryReason: 'http_timeout' })).status).toBe(200);
    expect((await send(event, { retryNum: 2, retryReason: 'http_timeout' })).status).toBe(200);
    await slack.idle();
    expect(api.ok('chat.postEphemeral')).toHaveLength(1);
    expect(feedbackRows().filter((r) => r.prediction_id === m.predictionId)).toHaveLength(1);
    expect(
      logLines.some((l) => l.msg === 'slack: a delivery already handled came again; ignored' && l.retryNum === 2),
    ).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------
// Alerts

const STREAM = 'AirParadis';
const OPENED_AT = '2026-03-01T09:00:00.000Z';
const ALERT_ID = `${STREAM}@${OPENED_AT}`;
const MENTION_TEXTS = [
  '@AirParadis flight cancelled AGAIN and nobody at the desk, this is a disgrace',
  '@AirParadis 4 hours delayed and no food vouchers, never flying with you again',
  '@AirParadis lost my bag for the third time this year, absolutely useless',
];

function chart(kind: string) {
  const points = Array.from({ length: 24 }, (_, i) => ({
    at: new Date(Date.parse('2026-02-28T10:00:00Z') + i * 3_600_000).toISOString(),
    total: 40 + i,
    negative: i > 20 ? 30 : 8,
  }));
  const title = `${STREAM}: negative mentions, last 24 h (${kind})`;
  return {
    png: renderTrendChart({
      stream: STREAM,
      points,
      alertPeriods: [{ from: OPENED_AT }],
      title,
      width: 400,
      height: 200,
    }),
    width: 400,
    height: 200,
    title,
  };
}

function content(
  kind: AlertContent['kind'],
  at: string,
  share: number,
  extra: Partial<AlertContent> = {},
): AlertContent {
  const headline =
    kind === 'opened'
      ? `Bad buzz starting on ${STREAM}: ${Math.round(share * 100)} % of mentions negative in the last 3 h (normally 31 %)`
      : kind === 'updated'
        ? `Still going on ${STREAM} after 1 h: ${Math.round(share * 100)} % of mentions negative in the last 3 h (normally 31 %)`
        : `Over on ${STREAM} after 3 h (peak 81 %): ${Math.round(share * 100)} % negative in the last 3 h, normally 31 %`;
  return {
    kind,
    alertId: ALERT_ID,
    stream: STREAM,
    headline,
    at,
    openedAt: OPENED_AT,
    ...(kind === 'resolved' ? { resolvedAt: at } : {}),
    durationMinutes: (Date.parse(at) - Date.parse(OPENED_AT)) / 60_000,
    figures: {
      windowMinutes: 180,
      windowStart: new Date(Date.parse(at) - 180 * 60_000).toISOString(),
      negativeShare: share,
      baselineShare: 0.31,
      lift: share - 0.31,
      volume: 212,
      negatives: Math.round(212 * share),
      usualVolume: 60,
      z: 9.1,
      pValue: 2e-9,
    },
    rise: { previousShare: 0.3, previousVolume: 58, pointsPerHour: 16.7 },
    peak: { share: 0.81, at: '2026-03-01T10:00:00.000Z' },
    sparkline: { text: '▂▂▃▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▆▇█', from: '2026-02-28T10:00:00.000Z', to: '2026-03-01T10:00:00.000Z' },
    mentions: MENTION_TEXTS.map((text, i) => ({
      id: `90000000000000000${i}`,
      url: `https://x.com/i/web/status/90000000000000000${i}`,
      text,
      createdAt: `2026-03-01T08:5${i}:00.000Z`,
      author: `traveller${i}`,
      negative: 0.97 - i * 0.01,
    })),
    terms: [
      { term: 'cancelled', negative: 40, reference: 3, lift: 5.2 } as never,
      { term: 'desk', negative: 21, reference: 1, lift: 4.1 } as never,
    ],
    chart: chart(kind === 'resolved' ? 'resolved' : 'alert'),
    ...extra,
  };
}

describe('alerts through the ChatSink port', () => {
  let headlineTs: string;

  beforeAll(async () => {
    // The mentions the alert shows are stored, scored predictions (id x:<tweet id>), as the poller leaves them.
    const predictions = await scorer.score(MENTION_TEXTS);
    await store.saveMentions(
      MENTION_TEXTS.map((text, i) => ({
        id: `90000000000000000${i}`,
        stream: STREAM,
        createdAt: `2026-03-01T08:5${i}:00.000Z`,
        text,
        prediction: predictions[i],
      })),
    );
  });

  it('opens: a Block Kit headline with buttons, then in its thread the chart and each mention', async () => {
    await slack.sink!.alertOpened(content('opened', '2026-03-01T09:00:00.000Z', 0.78));
    const posts = api.ok('chat.postMessage');
    expect(posts).toHaveLength(1 + MENTION_TEXTS.length);

    const headline = posts[0];
    expect(headline.args.channel).toBe('#alerts');
    expect(headline.args.text).toBe(
      `Bad buzz starting on ${STREAM}: 78 % of mentions negative in the last 3 h (normally 31 %)`,
    );
    const blocks = headline.args.blocks as Array<Record<string, unknown>>;
    expect(blocks[0]).toMatchObject({
      type: 'section',
      text: { text: expect.stringContaining(':rotating_light: *Bad buzz starting') },
    });
    expect(JSON.stringify(blocks)).toContain('*Negative share*\\n78 % in the last 3 h\\nnormally 31 % (+47 pts');
    expect(JSON.stringify(blocks)).toContain('*About* cancelled · desk');
    const actions = blocks.find((b) => b.type === 'actions') as {
      elements: Array<{ action_id: string; text: { text: string } }>;
    };
    expect(actions.elements.map((e) => e.text.text)).toEqual(['Acknowledge', 'Snooze 1 h', 'Snooze 4 h']);
    headlineTs = [...api.messages.values()].find((m) => m.channel === 'CALERTS' && !m.thread_ts)!.ts;

    // The chart: files.uploadV2 = getUploadURLExternal, the upload, completeUploadExternal into the thread.
    const [getUrl] = api.ok('files.getUploadURLExternal');
    expect(getUrl.args).toMatchObject({ filename: expect.stringMatching(/\.png$/), length: expect.any(String) });
    expect(api.uploads).toEqual([{ fileId: 'F00000001', bytes: expect.any(Number), png: true }]);
    const [complete] = api.ok('files.completeUploadExternal');
    expect(complete.args).toMatchObject({ channel_id: 'CALERTS', thread_ts: headlineTs });
    expect(api.files.get('F00000001')?.completed).toMatchObject({
      channel: 'CALERTS',
      thread_ts: headlineTs,
      title: expect.stringContaining('last 24 h'),
    });

    // Each mention: its own thread message, linked to the mention's prediction.
    for (const [i, post] of posts.slice(1).entries()) {
      expect(post.args).toMatchObject({ channel: 'CALERTS', thread_ts: headlineTs });
      expect(JSON.stringify(post.args.blocks)).toContain(
        `https://x.com/i/web/status/90000000000000000${i}|@traveller${i}`,
      );
    }
    const mentionMessages = [...api.messages.values()].filter((m) => m.thread_ts === headlineTs);
    const links = await Promise.all(mentionMessages.map((m) => store.findLink('slack', 'CALERTS', m.ts)));
    expect(links.map((l) => l?.predictionId)).toEqual(MENTION_TEXTS.map((_, i) => `x:90000000000000000${i}`));
    expect((await store.findLink('slack', 'CALERTS', headlineTs))?.alertId).toBe(ALERT_ID);
  });

  it('sending the same opening again posts nothing twice', async () => {
    await slack.sink!.alertOpened(content('opened', '2026-03-01T09:00:00.000Z', 0.78));
    expect(api.ok('chat.postMessage')).toEqual([]);
    expect(api.ok('files.getUploadURLExternal')).toEqual([]);
    expect(api.ok('chat.update')).toHaveLength(1);
  });

  it('a reaction on a mention votes on its prediction; on the headline, on the alert', async () => {
    const mention = [...api.messages.values()].find((m) => m.thread_ts === headlineTs)!;
    await send(
      reactionEvent('reaction_added', { user: 'U7', reaction: 'white_check_mark', channel: 'CALERTS', ts: mention.ts }),
    );
    await send(reactionEvent('reaction_added', { user: 'U7', reaction: 'x', channel: 'CALERTS', ts: headlineTs }));
    await send(
      reactionEvent('reaction_added', { user: 'U8', reaction: 'heavy_check_mark', channel: 'CALERTS', ts: headlineTs }),
    );
    await slack.idle();
    const rows = feedbackRows();
    expect(rows).toContainEqual({
      prediction_id: 'x:900000000000000000',
      user_id: V('U7'),
      correct: 1,
      true_label: null,
      source: 'slack',
    });
    expect(rows).toContainEqual({
      prediction_id: `alert:${ALERT_ID}`,
      user_id: V('U7'),
      correct: 0,
      true_label: null,
      source: 'slack',
    });
    expect(rows).toContainEqual({
      prediction_id: `alert:${ALERT_ID}`,
      user_id: V('U8'),
      correct: 1,
      true_label: null,
      source: 'slack',
    });
    // A false-alarm ❌ asks nothing; alert votes never count in the model's accuracy.
    expect(api.ok('chat.postEphemeral')).toEqual([]);
    expect((await store.accuracyByModel()).reduce((n, r) => n + r.votes, 0)).toBe(
      rows.filter((r) => !r.prediction_id.startsWith('alert:')).length,
    );

    api.reactions.set(`CALERTS/${headlineTs}`, [{ name: 'heavy_check_mark', users: ['U8'] }]);
    await send(reactionEvent('reaction_removed', { user: 'U7', reaction: 'x', channel: 'CALERTS', ts: headlineTs }));
    await slack.idle();
    expect(
      feedbackRows()
        .filter((r) => r.prediction_id === `alert:${ALERT_ID}`)
        .map((r) => r.user_id),
    ).toEqual([V('U8')]);
  });

  it('Acknowledge records who, on the headline and in the thread', async () => {
    const value = JSON.stringify({ a: ALERT_ID, s: STREAM });
    const res = await send(
      blockAction({
        user: 'UMANAGER',
        channel: 'CALERTS',
        messageTs: headlineTs,
        actionId: 'sentinel_alert_ack',
        value,
        responseUrl: api.responseUrl('ack'),
      }),
    );
    expect(res.status).toBe(200);
    await slack.idle();
    const [update] = api.ok('chat.update');
    expect(update.args).toMatchObject({ channel: 'CALERTS', ts: headlineTs });
    expect(JSON.stringify(update.args.blocks)).toContain(':eyes: Acknowledged by <@UMANAGER>');
    const [reply] = api.ok('chat.postMessage');
    expect(reply.args).toMatchObject({
      channel: 'CALERTS',
      thread_ts: headlineTs,
      text: ':eyes: <@UMANAGER> acknowledged this alert.',
    });
  });

  it('Snooze 1 h snoozes the stream through the trend monitor and says until when', async () => {
    const value = JSON.stringify({ a: ALERT_ID, s: STREAM });
    await send(
      blockAction({
        user: 'UMANAGER',
        channel: 'CALERTS',
        messageTs: headlineTs,
        actionId: 'sentinel_alert_snooze_1',
        value,
        responseUrl: api.responseUrl('snooze'),
      }),
    );
    await slack.idle();
    const until = await monitor.snoozedUntil(STREAM);
    expect(until).not.toBeNull();
    // The stream was never judged in this test, so the snooze runs from the wall clock of the adapter.
    expect(Date.parse(until!)).toBe(clock + 3_600_000);
    const [update] = api.ok('chat.update');
    expect(JSON.stringify(update.args.blocks)).toContain(
      `:zzz: New alerts snoozed until ${until!.slice(0, 10)} ${until!.slice(11, 16)} UTC by <@UMANAGER>`,
    );
    expect(JSON.stringify(update.args.blocks)).toContain('Acknowledged by <@UMANAGER>'); // kept
    expect(api.ok('chat.postMessage')[0].args.text).toContain('snoozed new alerts on *AirParadis* for 1 h');
  });

  it('an unknown alert button answers ephemerally', async () => {
    await send(
      blockAction({
        user: 'U1',
        channel: 'CALERTS',
        messageTs: '1.2',
        actionId: 'sentinel_alert_ack',
        value: JSON.stringify({ a: 'nope@2020', s: 'x' }),
        responseUrl: api.responseUrl('unknown'),
      }),
    );
    await api.waitFor('the answer', () => api.responses.some((r) => r.id === 'unknown'));
    expect(api.responses.find((r) => r.id === 'unknown')!.body).toMatchObject({
      response_type: 'ephemeral',
      text: 'I no longer know this alert, so I cannot record that.',
    });
  });

  it('updates: the headline is edited each time, the thread gets a reply at most every 30 minutes', async () => {
    clock += 10 * 60_000; // 10 min after the opening's thread
    await slack.sink!.alertUpdated(content('updated', '2026-03-01T10:00:00.000Z', 0.81));
    expect(api.ok('chat.update')).toHaveLength(1);
    expect(api.ok('chat.update')[0].args.text).toContain('Still going on AirParadis after 1 h: 81 %');
    expect(api.ok('chat.postMessage')).toEqual([]);

    clock += 25 * 60_000; // 35 min: a reply is due
    await slack.sink!.alertUpdated(content('updated', '2026-03-01T11:00:00.000Z', 0.8));
    expect(api.ok('chat.update')).toHaveLength(2);
    const replies = api.ok('chat.postMessage');
    expect(replies).toHaveLength(1);
    expect(replies[0].args).toMatchObject({
      channel: 'CALERTS',
      thread_ts: headlineTs,
      text: expect.stringMatching(/^Update: Still going/),
    });
    expect(api.ok('files.completeUploadExternal')).toHaveLength(1); // the chart of the update
    // The acknowledgement and the snooze stay on the edited headline.
    expect(JSON.stringify(api.ok('chat.update')[1].args.blocks)).toContain('Acknowledged by <@UMANAGER>');
  });

  it('resolves: the headline says it is over (no buttons) and the thread gets the resolution, shown in the channel', async () => {
    clock += 5 * 60_000;
    await slack.sink!.alertResolved(content('resolved', '2026-03-01T12:00:00.000Z', 0.33));
    const [update] = api.ok('chat.update');
    expect(update.args.text).toMatch(/^Resolved: Over on AirParadis after 3 h/);
    expect((update.args.blocks as Array<{ type: string }>).some((b) => b.type === 'actions')).toBe(false);
    expect(JSON.stringify(update.args.blocks)).toContain(':large_green_circle: *Over on AirParadis');
    expect(JSON.stringify(update.args.blocks)).toContain('*Lasted*\\n3 h (2026-03-01 09:00 UTC → 12:00 UTC)');
    const [reply] = api.ok('chat.postMessage');
    expect(reply.args).toMatchObject({ channel: 'CALERTS', thread_ts: headlineTs, reply_broadcast: 'true' });
    expect(reply.args.text).toMatch(/^Over: Over on AirParadis/);
    expect(api.ok('files.completeUploadExternal')).toHaveLength(1);

    // Sent again (the monitor redelivers what a sink did not confirm): nothing is posted twice.
    api.reset();
    await slack.sink!.alertResolved(content('resolved', '2026-03-01T12:00:00.000Z', 0.33, { chart: undefined }));
    expect(api.ok('chat.postMessage')).toEqual([]);
    // An older update arriving late (even when a thread reply would be due) does not bring the headline
    // back to "still going" and adds nothing to the thread.
    clock += 45 * 60_000;
    await slack.sink!.alertUpdated(content('updated', '2026-03-01T11:00:00.000Z', 0.8));
    expect(api.ok('chat.update').every((c) => String(c.args.text).startsWith('Resolved:'))).toBe(true);
    expect(api.ok('chat.postMessage')).toEqual([]);
  });

  it('a failed step is retried at the next delivery, without posting what was done', async () => {
    const id = `${STREAM}@2026-03-02T09:00:00.000Z`;
    const c = content('opened', '2026-03-02T09:00:00.000Z', 0.7, { alertId: id, openedAt: '2026-03-02T09:00:00.000Z' });
    // The headline and the first mention go through; the second mention fails on every attempt; the third goes through.
    api.fail(
      'chat.postMessage',
      { pass: true },
      { pass: true },
      ...Array.from({ length: 6 }, () => ({ status: 500 as const })),
    );
    await expect(slack.sink!.alertOpened(c)).rejects.toThrow(`the opened alert ${id} is not fully in Slack`);
    expect(api.ok('chat.postMessage')).toHaveLength(3);
    expect(api.calls.filter((x) => x.method === 'chat.postMessage' && x.status === 500)).toHaveLength(6);

    await slack.sink!.alertOpened(c);
    expect(api.ok('chat.postMessage')).toHaveLength(4);
    const headlines = [...api.messages.values()].filter((m) => !m.thread_ts && m.text?.includes('70 %'));
    expect(headlines).toHaveLength(1);
    const thread = [...api.messages.values()].filter((m) => m.thread_ts === headlines[0].ts);
    expect(thread).toHaveLength(MENTION_TEXTS.length);
    expect(new Set(thread.map((m) => m.text)).size).toBe(MENTION_TEXTS.length);
    expect(api.ok('files.completeUploadExternal')).toHaveLength(1);
  });

  it('"Open in dashboard": a link button on the headline, still there once it is over; its click is only acknowledged', async () => {
    const id = `${STREAM}@2026-04-01T09:00:00.000Z`;
    const url = `https://sentinel.example/dashboard/alerts/${encodeURIComponent(id)}?exp=1999999999&sig=${'s'.repeat(43)}`;
    const at = '2026-04-01T09:00:00.000Z';
    api.reset();
    await slack.sink!.alertOpened(
      content('opened', at, 0.7, { alertId: id, openedAt: at, dashboardUrl: url, chart: undefined }),
    );
    const [headline] = api.ok('chat.postMessage');
    type Actions = { type: string; elements: Array<{ action_id: string; url?: string; text: { text: string } }> };
    const actionsOf = (blocks: unknown) => (blocks as Actions[]).find((b) => b.type === 'actions')!;
    const opened = actionsOf(headline.args.blocks);
    expect(opened.elements.map((e) => e.text.text)).toEqual([
      'Open in dashboard',
      'Acknowledge',
      'Snooze 1 h',
      'Snooze 4 h',
    ]);
    expect(opened.elements[0]).toMatchObject({ action_id: 'sentinel_open_dashboard', url });

    const ts = [...api.messages.values()].find(
      (m) => !m.thread_ts && m.metadata?.event_payload.step === `${id}/#alerts/headline`,
    )!.ts;
    api.reset();
    const res = await send(
      blockAction({
        user: 'UMANAGER',
        channel: 'CALERTS',
        messageTs: ts,
        actionId: 'sentinel_open_dashboard',
        value: '',
        responseUrl: api.responseUrl('dashboard'),
      }),
    );
    expect(res.status).toBe(200);
    await slack.idle();
    expect(api.calls).toEqual([]); // nothing posted, edited or answered

    const end = '2026-04-01T12:00:00.000Z';
    await slack.sink!.alertResolved(
      content('resolved', end, 0.3, { alertId: id, openedAt: at, dashboardUrl: url, chart: undefined }),
    );
    const resolved = api.ok('chat.update').find((c) => c.args.ts === ts)!;
    expect(actionsOf(resolved.args.blocks).elements.map((e) => e.action_id)).toEqual(['sentinel_open_dashboard']);
  });
});

describe('exactly once towards people (issue 12): a post whose outcome is unknown is looked up, not redone', () => {
  const at = (day: string) => `2026-03-${day}T09:00:00.000Z`;
  const threadOf = (ts: string) => [...api.messages.values()].filter((m) => m.thread_ts === ts);
  const headlineOf = (id: string) =>
    [...api.messages.values()].find((m) => !m.thread_ts && m.metadata?.event_payload.step === `${id}/#alerts/headline`);

  it('every post carries its step as message metadata, the way Slack keeps and returns it', async () => {
    const id = `${STREAM}@${at('03')}`;
    await slack.sink!.alertOpened(content('opened', at('03'), 0.72, { alertId: id, openedAt: at('03') }));
    const headline = headlineOf(id)!;
    expect(api.ok('chat.postMessage')[0].args.metadata).toEqual({
      event_type: 'sentinel_step',
      event_payload: { step: `${id}/#alerts/headline` },
    });
    expect(threadOf(headline.ts).map((m) => m.metadata?.event_payload.step)).toEqual(
      MENTION_TEXTS.map((_, i) => `${id}/#alerts/mention:90000000000000000${i}`),
    );
    // conversations.replies returns it only with include_all_metadata, as Slack does.
    const client = new webApi.WebClient(TOKEN, { slackApiUrl: api.apiUrl });
    const bare = await client.conversations.replies({ channel: 'CALERTS', ts: headline.ts });
    expect(bare.messages?.some((m) => 'metadata' in m)).toBe(false);
    const full = await client.conversations.replies({
      channel: 'CALERTS',
      ts: headline.ts,
      include_all_metadata: true,
    });
    // The parent, the chart's file share (no metadata: files carry none), then the three mentions.
    expect(full.messages?.map((m) => (m.files ? 'file' : m.metadata?.event_type))).toEqual([
      'sentinel_step',
      'file',
      'sentinel_step',
      'sentinel_step',
      'sentinel_step',
    ]);
    expect(full.messages?.[2]).toMatchObject({ bot_id: 'BBOT', thread_ts: headline.ts });
    // Slack refuses malformed metadata, and ignores (with a warning) an event type with punctuation.
    await expect(
      client.chat.postMessage({ channel: 'CALERTS', text: 'x', metadata: 'nope' as never }),
    ).rejects.toMatchObject({ data: { error: 'invalid_metadata_format' } });
    const dotted = await client.chat.postMessage({
      channel: 'CALERTS',
      text: 'x',
      metadata: { event_type: 'sentinel.step', event_payload: { step: 'x' } },
    });
    expect(dotted.warning).toBe('invalid_metadata_schema');
    expect(api.messages.get(`CALERTS/${dotted.ts}`)?.metadata).toBeUndefined();
  });

  it('a headline in a #name channel whose id no replica has learned yet: found through conversations.list, posted once', async () => {
    // A replica on a fresh database: nothing has been posted in #alerts yet, so its id is nowhere stored.
    const freshStore = openSqliteStore(join(dir, 'fresh-replica.db'));
    await freshStore.migrate();
    const config = loadConfig({
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_ALERT_CHANNELS: '#alerts',
      SLACK_API_URL: api.apiUrl,
    });
    const otherLog = new PredictionLog(freshStore);
    const quiet = createLogger('silent');
    const otherServer = buildServer({
      auth: OPEN_API,
      slot,
      config,
      logger: quiet,
      store: freshStore,
      predictionLog: otherLog,
    });
    const other = (await startSlack({
      config,
      app: otherServer,
      slot,
      store: freshStore,
      predictionLog: otherLog,
      logger: quiet,
      apiOptions: { backoffMs: 20 },
    }))!;
    try {
      api.reset();
      const id = `${STREAM}@${at('05')}`;
      api.fail('chat.postMessage', { status: 503, processed: true }); // Slack posts it; the answer is lost
      await other.sink!.alertOpened(content('opened', at('05'), 0.71, { alertId: id, openedAt: at('05') }));
      expect(
        [...api.messages.values()].filter((m) => m.metadata?.event_payload.step === `${id}/#alerts/headline`),
      ).toHaveLength(1);
      expect(api.calls.filter((c) => c.method === 'conversations.history').map((c) => c.args.channel)).toEqual([
        'CALERTS',
      ]);
    } finally {
      await other.stop();
      await otherServer.close();
      await otherLog.flush();
      await freshStore.close();
    }
  });

  it('a mention and the chart Slack made before their answers were lost (5xx) are found, not posted twice', async () => {
    const id = `${STREAM}@${at('04')}`;
    // The headline goes through; Slack posts the first mention and shares the chart, but answers 500 / 502.
    api.fail('chat.postMessage', { pass: true }, { status: 500, processed: true });
    api.fail('files.completeUploadExternal', { status: 502, processed: true });
    await slack.sink!.alertOpened(content('opened', at('04'), 0.73, { alertId: id, openedAt: at('04') }));
    const headline = headlineOf(id)!;
    const thread = threadOf(headline.ts);
    expect(thread.map((m) => m.text?.replace(/^\d+ % negative: /, ''))).toEqual(MENTION_TEXTS);
    expect([...api.fileMessages.values()].filter((m) => m.thread_ts === headline.ts)).toHaveLength(1);
    expect(api.calls.filter((c) => c.method === 'files.completeUploadExternal')).toHaveLength(1);
    expect(api.calls.filter((c) => c.method === 'conversations.replies').length).toBeGreaterThanOrEqual(2);
    for (const [i, m] of thread.entries()) {
      expect((await store.findLink('slack', 'CALERTS', m.ts))?.predictionId).toBe(`x:90000000000000000${i}`);
    }
    expect(logLines.filter((l) => String(l.msg).endsWith('done at the previous attempt; not redone'))).toHaveLength(2);
  });

  it('an ops notice whose answer was lost is posted once; one a crash left pending goes out with the next', async () => {
    api.fail('chat.postMessage', { status: 503, processed: true });
    await slack.sink!.opsNotice!('mentions from X paused: 401');
    expect([...api.messages.values()].filter((m) => m.text?.includes('mentions from X paused'))).toHaveLength(1);

    // A crash after Slack posted one notice and before the answer (its intent still pending), and another
    // crash before a second one was posted at all.
    const posted = await new webApi.WebClient(TOKEN, { slackApiUrl: api.apiUrl }).chat.postMessage({
      channel: 'CALERTS',
      text: ':warning: Sentinel: store failing: disk full',
      metadata: { event_type: 'sentinel_step', event_payload: { step: 'ops/n-posted/#alerts' } },
    });
    await store.setCheckpoint(
      'slack/ops-notices',
      JSON.stringify({
        pending: [
          { id: 'n-posted', text: 'store failing: disk full', at: Date.now() - 1000, channels: ['#alerts'] },
          { id: 'n-lost', text: 'store: writes work again', at: Date.now() - 500, channels: ['#alerts'] },
        ],
      }),
    );
    api.reset();
    await slack.sink!.opsNotice!('model v9 loaded');
    const texts = api.ok('chat.postMessage').map((c) => c.args.text);
    expect(texts).toEqual([':warning: Sentinel: store: writes work again', ':warning: Sentinel: model v9 loaded']);
    expect([...api.messages.values()].filter((m) => m.text?.includes('disk full')).map((m) => m.ts)).toEqual([
      posted.ts,
    ]);
    expect(JSON.parse((await store.getCheckpoint('slack/ops-notices'))!)).toEqual({ pending: [] });
  });

  it('when Slack cannot be read (no channels:history), a begun headline is posted again with a warning', async () => {
    const id = `${STREAM}@${at('05')}`;
    await store.setCheckpoint(
      `slack/alert:${id}`,
      JSON.stringify({
        alertId: id,
        stream: STREAM,
        content: { ...content('opened', at('05'), 0.74, { alertId: id, openedAt: at('05') }), chart: undefined },
        marks: { acks: [] },
        threads: {},
        begun: { '#alerts': { at: Date.now() - 2000 } },
      }),
    );
    api.scopes.delete('channels:history');
    try {
      await slack.sink!.alertOpened(content('opened', at('05'), 0.74, { alertId: id, openedAt: at('05') }));
    } finally {
      api.scopes.add('channels:history');
    }
    expect(api.calls.find((c) => c.method === 'conversations.history')).toMatchObject({
      ok: false,
      error: 'missing_scope',
    });
    expect(headlineOf(id)).toBeDefined();
    expect(
      logLines.some(
        (l) =>
          String(l.msg).startsWith(`slack: cannot check whether the headline of alert ${id} in #alerts was posted`) &&
          String(l.msg).includes('reinstall it with adapters/slack/manifest.yml') &&
          String(l.msg).endsWith('so it may show twice'),
      ),
    ).toBe(true);
  });

  it('a step begun and not redone by this delivery (a superseded update reply) is looked up: found, it is done', async () => {
    const id = `${STREAM}@${at('04')}`;
    const key = `slack/alert:${id}`;
    const state = JSON.parse((await store.getCheckpoint(key))!);
    const thread = state.threads['#alerts'];
    // An update reply was posted at Slack, then the process died before its result was kept.
    const reply = await new webApi.WebClient(TOKEN, { slackApiUrl: api.apiUrl }).chat.postMessage({
      channel: 'CALERTS',
      thread_ts: thread.ts,
      text: 'Update: Still going',
      metadata: {
        event_type: 'sentinel_step',
        event_payload: { step: `${id}/#alerts/reply:2026-03-04T10:00:00.000Z` },
      },
    });
    thread.begun = {
      'reply:2026-03-04T10:00:00.000Z': { at: Date.now() - 1000 },
      'reply:2026-03-04T10:30:00.000Z': { at: Date.now() - 500 }, // never reached Slack
    };
    await store.setCheckpoint(key, JSON.stringify(state));
    api.reset();
    // The next delivery is a newer update (no thread reply due yet): only the headline is edited.
    await slack.sink!.alertUpdated(
      content('updated', '2026-03-04T11:00:00.000Z', 0.75, { alertId: id, openedAt: at('04') }),
    );
    expect(api.ok('chat.postMessage')).toEqual([]);
    const after = JSON.parse((await store.getCheckpoint(key))!).threads['#alerts'];
    expect(after.begun).toEqual({});
    expect(after.done).toContain('reply:2026-03-04T10:00:00.000Z');
    expect(after.done).not.toContain('reply:2026-03-04T10:30:00.000Z');
    expect(
      threadOf(thread.ts)
        .filter((m) => m.text === 'Update: Still going')
        .map((m) => m.ts),
    ).toEqual([reply.ts]);
  });
});

describe('Socket Mode (SLACK_APP_TOKEN)', () => {
  let socket: SlackAdapter;

  beforeAll(async () => {
    const config = loadConfig({
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_APP_TOKEN: api.appToken,
      SLACK_API_URL: api.apiUrl,
      MAX_TEXT_CHARS: '280',
    });
    const logger = createLogger('info', { stream: logCapture() });
    socket = (await startSlack({ config, slot, store, predictionLog, logger }))!;
    await api.waitFor('the WebSocket', () => api.socketConnections === 1);
  });

  afterAll(async () => {
    await socket?.stop();
  });

  it('connects through apps.connections.open with the app-level token, without any public URL', () => {
    expect(socket.mode).toBe('socket');
    expect(socket.sink).toBeUndefined(); // no SLACK_ALERT_CHANNELS
    expect(logLines.some((l) => l.msg === 'Slack on (Socket Mode)')).toBe(true);
  });

  it('answers /sentiment delivered as an envelope: acked on the socket, then posted', async () => {
    const command = Object.fromEntries(
      new URLSearchParams(slashCommand({ text: 'help', responseUrl: api.responseUrl('sm-help') }).body),
    );
    api.sendEnvelope({ envelope_id: 'env-help', type: 'slash_commands', payload: command });
    await api.waitFor('the ack', () => api.socketAcks.some((a) => a.envelope_id === 'env-help'));
    expect(api.socketAcks.find((a) => a.envelope_id === 'env-help')!.payload).toMatchObject({
      response_type: 'ephemeral',
      text: expect.stringContaining('/sentiment <text>'),
    });

    const ask = Object.fromEntries(
      new URLSearchParams(
        slashCommand({ text: 'Great crew, smooth landing', channel: 'CLAPTOP', responseUrl: api.responseUrl('sm') })
          .body,
      ),
    );
    api.sendEnvelope({ envelope_id: 'env-ask', type: 'slash_commands', payload: ask });
    await api.waitFor('the answer', () => api.ok('chat.postMessage').length === 1);
    await socket.idle();
    expect(api.socketAcks.find((a) => a.envelope_id === 'env-ask')).toEqual({ envelope_id: 'env-ask', payload: {} });
    const posted = api.ok('chat.postMessage')[0];
    expect(posted.args.channel).toBe('CLAPTOP');
    expect(posted.args.text).toMatch(/^Positive/);

    // A reaction delivered as an events_api envelope (twice: a redelivery) is one vote.
    const { ts } = [...api.messages.values()].find((m) => m.channel === 'CLAPTOP')!;
    const event = JSON.parse(
      reactionEvent(
        'reaction_added',
        { user: 'ULAPTOP', reaction: 'white_check_mark', channel: 'CLAPTOP', ts },
        'EvSOCKET1',
      ).body,
    );
    api.sendEnvelope({ envelope_id: 'env-r1', type: 'events_api', payload: event });
    api.sendEnvelope({ envelope_id: 'env-r2', type: 'events_api', payload: event, retry_attempt: 1 });
    await api.waitFor('both acks', () =>
      ['env-r1', 'env-r2'].every((id) => api.socketAcks.some((a) => a.envelope_id === id)),
    );
    await socket.idle();
    const link = await store.findLink('slack', 'CLAPTOP', ts);
    expect(feedbackRows().filter((r) => r.prediction_id === link!.predictionId)).toEqual([
      { prediction_id: link!.predictionId, user_id: V('ULAPTOP'), correct: 1, true_label: null, source: 'slack' },
    ]);
  });

  it('refuses an app-level token Slack refuses, naming SLACK_APP_TOKEN', async () => {
    const config = loadConfig({ SLACK_BOT_TOKEN: TOKEN, SLACK_APP_TOKEN: 'xapp-1-wrong', SLACK_API_URL: api.apiUrl });
    await expect(startSlack({ config, slot, store, predictionLog, logger: createLogger('silent') })).rejects.toThrow(
      /SLACK_APP_TOKEN: Slack refused this app-level token \(invalid_auth\)/,
    );
  });
});

it('tells the alert channel about Sentinel itself (a model update that failed) in a plain message', async () => {
  const before = api.ok('chat.postMessage').length;
  await slack.sink!.opsNotice!('Model update failed (hydrate, version v9): sha256 mismatch. Still serving v8.');
  const posts = api.ok('chat.postMessage').slice(before);
  expect(posts.map((p) => [p.args.channel, p.args.text])).toEqual([
    ['#alerts', ':warning: Sentinel: Model update failed (hydrate, version v9): sha256 mismatch. Still serving v8.'],
  ]);
});
