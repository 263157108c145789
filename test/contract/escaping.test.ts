/**
 * Untrusted text through EVERY message Sentinel can post, over the real protocols on loopback: the Slack
 * adapter against the recording Slack Web API (every chat.postMessage / chat.update / chat.postEphemeral
 * body and every response_url answer), the Teams adapter against the recording Bot Framework connector
 * (every reply, card, update and proactive post), and the console box.
 *
 * The hostile text holds Slack's pings and links (`<!channel>`, `<!here>`, `<!everyone>`, `<@U…>`,
 * `<#C…|…>`, `<https://…|label>`), entities (`&gt;`, `&lt;3`, `&amp;`), a markdown link, a Teams `<at>`
 * mention, a fragment of card JSON and a terminal escape sequence. It comes in as a tweet (alert mentions,
 * their thread messages and cards, the ❌ question) and as what people type (`/sentiment`, `sentiment`,
 * an unknown command) — sources that give `&`, `<`, `>` encoded (X, the data set, Slack and Teams) — and,
 * decoded, as what is plain text at its source: a display name (Teams), a stream name (headlines, status,
 * snooze replies), a reason (status, ops notices), a headline, button data.
 *
 * Nothing arrives live (no ping, mention, channel link, forged link, tag or escape sequence) and nothing
 * arrives double-escaped: a tweet's `&gt;` is decoded once and shown as Slack's `&gt;` once in mrkdwn
 * (`&amp;gt;` never), as `>` in Teams and the terminal.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../config/schema';
import { ConsoleSink } from '../../adapters/console/console-sink';
import { startSlack, type SlackAdapter } from '../../adapters/slack';
import { startTeams, type TeamsAdapter } from '../../adapters/teams';
import { PredictionLog } from '../../src/feedback/prediction-log';
import { ApiAuth } from '../../src/http/auth';
import { buildServer } from '../../src/http/server';
import { createLogger } from '../../src/log';
import { loadScorer } from '../../src/sentiment/load';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import type { Scorer } from '../../src/sentiment/types';
import { openSqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';
import { renderTrendChart } from '../../src/trends/chart';
import type { AlertContent } from '../../src/trends/content';
import { startBfConnector, type BfConnector } from '../helpers/bf-connector';
import { SlackApiServer } from '../helpers/slack-api-server';
import { blockAction, reactionEvent, sendSigned, slashCommand, type SlackRequest } from '../helpers/slack-requests';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const HOSTILE = [
  'great flight',
  '<!channel>',
  '<!here>',
  '<!everyone>',
  '<@U0123LEAD>',
  '<#C0123|general>',
  '<https://evil.example|Reset your password>',
  '&gt;',
  '&lt;3',
  '&amp;',
  '[click](https://evil.example)',
  '<at>Lead</at>',
  '"}]}',
  '\u001b[2J',
  'thanks crew',
].join(' ');

/** The same, as plain text (a name, a stream, a reason: nothing encoded at the source). */
const PLAIN = HOSTILE.replace('&gt;', '>').replace('&lt;3', '<3').replace('&amp;', '&');

/** HOSTILE as Slack mrkdwn must show it: decoded once, escaped once, the escape sequence gone. */
const SLACK_SHOWN =
  'great flight &lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt; &lt;@U0123LEAD&gt; &lt;#C0123|general&gt; ' +
  '&lt;https://evil.example|Reset your password&gt; &gt; &lt;3 &amp; [click](https://evil.example) ' +
  '&lt;at&gt;Lead&lt;/at&gt; "}]}  thanks crew';

/** HOSTILE as Teams markdown must show it: `>` and `<3` as they are, every tag and link broken (U+2060). */
const J = '\u2060';
const TEAMS_SHOWN =
  `great flight <${J}!channel> <${J}!here> <${J}!everyone> <@U0123LEAD> <#C0123|general> ` +
  `<${J}https://evil.example|Reset your password> > <3 & \\[click\\]${J}(https://evil.example) ` +
  `<${J}at>Lead<${J}/at> "}\\]}  thanks crew`;

/** What must never reach a user: Slack's pings and links; Teams' mentions, tags and markdown links. */
const SLACK_LIVE = [
  '<!channel>',
  '<!here>',
  '<!everyone>',
  '<@U0123LEAD>',
  '<#C0123|general>',
  '<https://evil',
  '\u001b',
];
const TEAMS_LIVE = ['<at>', '</at>', '<!channel>', '<https://evil', '](https://evil.example)', '\u001b'];
const DOUBLE_ESCAPED = /&amp;(gt|lt|amp);/;

/** A stream name and a person's name are untrusted text too. */
const STREAM = 'AirParadis <!here> <at>Lead</at> *x*';
const HOSTILE_ID = '<at>Lead</at> <!channel> [x](https://evil.example) >';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const MALLORY = {
  id: '29:mallory',
  name: '<at>Lead</at> [boss](https://evil.example) <!channel> >',
  aadObjectId: 'aad-m',
};
const BOT = { id: '28:sentinel', name: 'Sentinel' };
const GROUP = '19:groupchat-escaping@thread.v2';
const SECRET = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const TOKEN = 'xoxb-1234-5678-escaping';
/** A tweet as X's API gives it: entities still encoded. */
const X_TEXT = '@AirParadis I &lt;3 you but 4 h &gt; 2 h &amp; &lt;!channel&gt; is not a mention, lost bag';

let dir: string;
let store: Store;
let scorer: Scorer;
let api: SlackApiServer;
let connector: BfConnector;
let server: FastifyInstance;
let url: string;
let slack: SlackAdapter;
let teams: TeamsAdapter;
let predictionLog: PredictionLog;
let snoozedUntil: string | null = null;

/** The trend module as both adapters see it: a stream with a hostile name and reason. */
const trends = {
  status: async () => [
    {
      stream: STREAM,
      phase: 'learning',
      at: '2026-03-01T10:00:00.000Z',
      share: null,
      baseline: null,
      volume: null,
      reason: PLAIN,
      snoozedUntil,
    },
  ],
  snooze: async (_stream: string, until: Date) => {
    snoozedUntil = until.toISOString();
  },
};

const send = (req: SlackRequest) => sendSigned(`${url}/slack/events`, req, { secret: SECRET });

function content(kind: AlertContent['kind'], at: string): AlertContent {
  const opened = '2026-03-01T09:00:00.000Z';
  const title = `${STREAM}: negative mentions, last 24 h`;
  const png = renderTrendChart({
    stream: STREAM,
    points: Array.from({ length: 24 }, (_, i) => ({
      at: new Date(Date.parse('2026-02-28T10:00:00Z') + i * 3_600_000).toISOString(),
      total: 40,
      negative: i > 20 ? 30 : 8,
    })),
    alertPeriods: [{ from: opened }],
    title,
    width: 400,
    height: 200,
  });
  return {
    kind,
    alertId: 'escaping-alert',
    stream: STREAM,
    headline: `Bad buzz on ${STREAM}: ${PLAIN}`,
    at,
    openedAt: opened,
    ...(kind === 'resolved' ? { resolvedAt: at } : {}),
    durationMinutes: (Date.parse(at) - Date.parse(opened)) / 60_000,
    figures: {
      windowMinutes: 180,
      windowStart: '2026-03-01T06:00:00.000Z',
      negativeShare: 0.7,
      baselineShare: 0.3,
      lift: 0.4,
      volume: 100,
      negatives: 70,
      usualVolume: 50,
      z: 6,
      pValue: 1e-9,
    },
    rise: { previousShare: 0.3, previousVolume: 40, pointsPerHour: 10 },
    peak: { share: 0.8, at: '2026-03-01T10:00:00.000Z' },
    sparkline: { text: '▂▂▃▇█', from: '2026-02-28T10:00:00.000Z', to: '2026-03-01T10:00:00.000Z' },
    mentions: [
      {
        id: '910000000000000001',
        url: 'https://x.com/i/web/status/910000000000000001',
        text: HOSTILE,
        createdAt: '2026-03-01T08:50:00.000Z',
        author: 'mal<!here>lory',
        negative: 0.97,
      },
      {
        id: '910000000000000002',
        url: 'https://x.com/i/web/status/910000000000000002',
        text: X_TEXT,
        createdAt: '2026-03-01T08:51:00.000Z',
        author: 'traveller',
        negative: 0.95,
      },
    ],
    terms: [{ term: '<!channel> bag', score: 5, count: 9, referenceCount: 1 }],
    chart: { png, width: 400, height: 200, title },
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sentinel-escaping-'));
  store = openSqliteStore(join(dir, 'sentinel.db'));
  await store.migrate();
  scorer = await loadScorer('models/sentinel-bilstm');
  const slot = new ScorerSlot();
  slot.set(scorer);
  api = await SlackApiServer.start(TOKEN);
  connector = await startBfConnector();
  const config = loadConfig({
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_ALERT_CHANNELS: '#alerts',
    SLACK_API_URL: api.apiUrl,
    SLACK_THREAD_UPDATE_MINUTES: '1',
    TEAMS_ENABLED: 'true',
    TEAMS_ALERT_SCOPES: 'groupChat',
  });
  const logger = createLogger('warn', { stream: new Writable({ write: (_c, _e, done) => done() }) });
  predictionLog = new PredictionLog(store, { flushMs: 5, logger });
  server = buildServer({ auth: ApiAuth.fromEntries([]), slot, config, logger, store, predictionLog });
  const polls = () => [{ stream: STREAM, at: '2026-03-01T10:00:00.000Z', result: PLAIN }];
  let clock = Date.parse('2026-03-01T12:00:00Z');
  slack = (await startSlack({
    config,
    app: server,
    slot,
    store,
    predictionLog,
    logger,
    trends,
    polls,
    apiOptions: { backoffMs: 10 },
    now: () => (clock += 5 * 60_000),
  }))!;
  teams = startTeams({ config, app: server, slot, store, predictionLog, logger, trends })!;
  await server.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  // The alert's mentions are stored, scored predictions (x:<tweet id>), as the poller leaves them.
  const alert = content('opened', '2026-03-01T09:00:00.000Z');
  const predictions = await scorer.score(alert.mentions.map((m) => m.text));
  await store.saveMentions(
    alert.mentions.map((m, i) => ({
      id: m.id,
      stream: STREAM,
      createdAt: m.createdAt,
      text: m.text,
      prediction: predictions[i],
    })),
  );
});

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

/** Every string shown to a user in a message body: `text` and `summary` fields, card titles, facts, alt texts. */
function shown(x: Json, keys = ['text', 'summary', 'title', 'value', 'altText', 'alt_text']): string[] {
  if (Array.isArray(x)) return x.flatMap((y) => shown(y, keys));
  if (!x || typeof x !== 'object') return [];
  return Object.entries(x).flatMap(([k, v]) =>
    typeof v === 'string' ? (keys.includes(k) ? [v] : []) : shown(v, keys),
  );
}

function expectNothingLive(texts: string[], LIVE: string[]): void {
  expect(texts.length).toBeGreaterThan(0);
  for (const t of texts) {
    for (const live of LIVE) expect([live, t.includes(live)]).toEqual([live, false]);
    expect(t).not.toMatch(DOUBLE_ESCAPED);
  }
}

// ---------------------------------------------------------------------------------------------------

describe('Slack', () => {
  /** Every message body Slack received, and every response_url answer: what people read. */
  function slackShown(): string[] {
    const bodies = [
      ...api.calls
        .filter((c) => ['chat.postMessage', 'chat.update', 'chat.postEphemeral'].includes(c.method))
        .map((c) => ({ text: c.args.text, blocks: c.args.blocks })),
      ...api.responses.map((r) => r.body),
    ];
    return shown(bodies, ['text']);
  }

  it('/sentiment <hostile text>: the answer, blocks and text fallback, escaped once', async () => {
    await send(slashCommand({ text: HOSTILE, user: 'UAGENT7', channel: 'CSOCIAL', responseUrl: api.responseUrl('a') }));
    await api.waitFor('the answer', () => api.ok('chat.postMessage').length === 1);
    await slack.idle();
    const [answer] = api.ok('chat.postMessage');
    expect(shown(answer.args.blocks, ['text']).join('\n')).toContain(`>${SLACK_SHOWN}`);
    expect(answer.args.text).toContain(SLACK_SHOWN.slice(0, 120)); // the fallback: the same text, clipped
    expect(JSON.stringify(answer.args.blocks)).toContain('Asked by <@UAGENT7>'); // a verified user: mentioned
    expectNothingLive([answer.args.text, ...shown(answer.args.blocks, ['text'])], SLACK_LIVE);
  });

  it('❌ on it: the question about the right label, escaped once', async () => {
    const answer = [...api.messages.values()].find((m) => m.channel === 'CSOCIAL')!;
    await send(reactionEvent('reaction_added', { user: 'U1', reaction: 'x', channel: 'CSOCIAL', ts: answer.ts }));
    await slack.idle();
    const [question] = api.ok('chat.postEphemeral');
    expect(question.args.text).toContain('great flight &lt;!channel&gt;');
    expect(shown(question.args.blocks, ['text']).join('\n')).toContain(SLACK_SHOWN.slice(0, 150));
  });

  it('the answer it could not post in the channel, shown only to the asker', async () => {
    api.fail('chat.postMessage', { error: 'channel_not_found' });
    await send(slashCommand({ text: HOSTILE, channel: 'DPRIVATE', responseUrl: api.responseUrl('fallback') }));
    await api.waitFor('the fallback', () => api.responses.some((r) => r.id === 'fallback'));
    const body = api.responses.find((r) => r.id === 'fallback')!.body;
    expect(shown(body, ['text']).join('\n')).toContain(SLACK_SHOWN);
  });

  it('a button naming a hostile prediction id, and /sentiment status with a hostile stream', async () => {
    await send(
      blockAction({
        user: 'U1',
        channel: 'CSOCIAL',
        messageTs: '',
        actionId: 'sentinel_true_label_neutral',
        value: JSON.stringify({ p: HOSTILE_ID, l: 'neutral' }),
        responseUrl: api.responseUrl('label'),
        ephemeral: true,
      }),
    );
    await send(slashCommand({ text: 'status', responseUrl: api.responseUrl('status') }));
    await api.waitFor('both answers', () => ['label', 'status'].every((id) => api.responses.some((r) => r.id === id)));
    expect(api.responses.find((r) => r.id === 'label')!.body.text).toMatch(/^Not recorded: .*&lt;at&gt;Lead/);
    const status = shown(api.responses.find((r) => r.id === 'status')!.body, ['text']).join('\n');
    expect(status).toContain('*AirParadis &lt;!here&gt; &lt;at&gt;Lead&lt;/at&gt; *x**');
    expect(status).toContain(SLACK_SHOWN);
  });

  it('an alert opened, updated and resolved: headlines, thread mentions, replies, ack, snooze, ops notice', async () => {
    const sink = slack.sink!;
    await sink.alertOpened(content('opened', '2026-03-01T09:00:00.000Z'));
    const headline = [...api.messages.values()].find((m) => m.channel === 'CALERTS' && !m.thread_ts)!;
    const thread = [...api.messages.values()].filter((m) => m.thread_ts === headline.ts);
    expect(headline.text).toBe(`Bad buzz on AirParadis &lt;!here&gt; &lt;at&gt;Lead&lt;/at&gt; *x*: ${SLACK_SHOWN}`);
    expect(thread.map((m) => m.text)).toEqual([
      expect.stringContaining('97 % negative: great flight &lt;!channel&gt;'),
      '95 % negative: @AirParadis I &lt;3 you but 4 h &gt; 2 h &amp; &lt;!channel&gt; is not a mention, lost bag',
    ]);
    expect(JSON.stringify(thread[0].blocks)).toContain(
      '<https://x.com/i/web/status/910000000000000001|@mal&lt;!here&gt;lory>',
    );
    // ❌ on the X mention: the question quotes the stored tweet, decoded once.
    await send(reactionEvent('reaction_added', { user: 'U2', reaction: 'x', channel: 'CALERTS', ts: thread[1].ts }));
    for (const [action, id] of [
      ['sentinel_alert_ack', 'ack'],
      ['sentinel_alert_snooze_1', 'snooze'],
    ]) {
      await send(
        blockAction({
          user: 'UMANAGER',
          channel: 'CALERTS',
          messageTs: headline.ts,
          actionId: action,
          value: JSON.stringify({ a: 'escaping-alert', s: STREAM }),
          responseUrl: api.responseUrl(id),
        }),
      );
    }
    await slack.idle();
    await sink.alertUpdated(content('updated', '2026-03-01T10:00:00.000Z'));
    await sink.alertResolved(content('resolved', '2026-03-01T12:00:00.000Z'));
    await sink.opsNotice!(`Model update failed: ${PLAIN}`);

    const question = api.ok('chat.postEphemeral').find((c) => c.args.user === 'U2')!;
    expect(question.args.text).toContain('I &lt;3 you but 4 h &gt; 2 h &amp; &lt;!channel&gt;');
    const texts = api.ok('chat.postMessage').map((c) => c.args.text as string);
    expect(texts).toEqual(
      expect.arrayContaining([
        ':eyes: <@UMANAGER> acknowledged this alert.',
        expect.stringMatching(/^:zzz: <@UMANAGER> snoozed new alerts on \*AirParadis &lt;!here&gt; &lt;at&gt;Lead/),
        expect.stringMatching(/^Update: Bad buzz on AirParadis &lt;!here&gt;/),
        expect.stringMatching(/^Over: Bad buzz on AirParadis &lt;!here&gt;/),
        `:warning: Sentinel: Model update failed: ${SLACK_SHOWN}`,
      ]),
    );
    expect(api.ok('chat.update').at(-1)!.args.text).toMatch(/^Resolved: Bad buzz on AirParadis &lt;!here&gt;/);
    // The chart's file title is plain text: no escape sequence, nothing to escape.
    expect(JSON.stringify(api.ok('files.completeUploadExternal').map((c) => c.args))).not.toContain('\\u001b');
  });

  it('none of it arrived live, none double-escaped: every body and answer Slack received', () => {
    const texts = slackShown();
    expectNothingLive(texts, SLACK_LIVE);
    // The only <…> Sentinel writes: mentions of verified users and links to the tweets.
    for (const t of texts)
      for (const [token] of t.matchAll(/<[^<>]*>/g))
        expect([t, token]).toEqual([
          t,
          expect.stringMatching(/^<(@U[A-Z0-9]+|https:\/\/x\.com\/i\/web\/status\/\d+\|[^<>]*)>$/),
        ]);
    // The decoded `>` of a tweet, shown as Slack's entity once.
    expect(texts.some((t) => t.includes('4 h &gt; 2 h'))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------

describe('Teams', () => {
  let seq = 1_700_000_000_000;
  /** What Teams sends: the text HTML-encoded (`&`, `<`, `>`), the sender named as they named themselves. */
  const teamsEncoded = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

  function activity(fields: Json): Json {
    return {
      id: String(++seq),
      channelId: 'msteams',
      serviceUrl: connector.url,
      from: MALLORY,
      recipient: BOT,
      conversation: { id: GROUP, conversationType: 'groupChat', isGroup: true, tenantId: TENANT },
      channelData: { tenant: { id: TENANT } },
      ...fields,
    };
  }

  async function ok(body: Json): Promise<void> {
    const res = await fetch(`${url}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect([res.status, await res.text()]).toEqual([200, '']);
  }

  const cardOf = (body: Json) => body.attachments?.[0]?.content ?? body.activity?.attachments?.[0]?.content;

  it('sentiment <hostile text> from a hostile name: the card shows it escaped, its JSON intact', async () => {
    await ok(activity({ type: 'installationUpdate', action: 'add' }));
    const before = connector.calls.length;
    await ok(activity({ type: 'message', text: `sentiment ${teamsEncoded(PLAIN)}`, textFormat: 'plain' }));
    const [reply] = connector.of('reply', before);
    const card = cardOf(reply.body);
    expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
    expect(card.actions.map((a: Json) => a.data.sentinel)).toEqual(['vote', 'vote']);
    const texts = shown(card);
    expect(texts).toContain(TEAMS_SHOWN);
    expect(texts.join('\n')).toContain(
      `Asked by <${J}at>Lead<${J}/at> \\[boss\\]${J}(https://evil.example) <${J}!channel> >`,
    );
    // Unknown command: echoed, escaped.
    const echo = connector.calls.length;
    await ok(activity({ type: 'message', text: teamsEncoded(PLAIN), textFormat: 'plain' }));
    expect(connector.of('reply', echo)[0].body.text).toContain(`I did not get “great flight <${J}!channel>`);
    // ❌ by the hostile name: the card redrawn with the question naming them.
    const predictionId = card.actions[0].data.predictionId;
    const vote = connector.calls.length;
    await ok(
      activity({ type: 'message', value: { sentinel: 'vote', predictionId, correct: false }, replyToId: reply.id }),
    );
    const [update] = connector.of('update', vote);
    expect(shown(cardOf(update.body)).join('\n')).toContain(`Thanks for the ❌, <${J}at>Lead<${J}/at>`);
    // A button naming a hostile prediction id, and status with a hostile stream.
    await ok(
      activity({
        type: 'message',
        value: { sentinel: 'vote', predictionId: HOSTILE_ID, correct: true },
        replyToId: '1',
      }),
    );
    await ok(activity({ type: 'message', text: 'status', textFormat: 'plain' }));
  });

  it('an alert opened, updated and resolved, Acknowledge and Snooze by a hostile name, an ops notice', async () => {
    const sink = teams.sink;
    const before = connector.calls.length;
    await sink.alertOpened(content('opened', '2026-03-01T09:00:00.000Z'));
    const [card] = connector.of('send', before);
    const mentionCards = connector.of('reply', before);
    expect(shown(cardOf(card.body)).join('\n')).toContain(
      `Bad buzz on AirParadis <${J}!here> <${J}at>Lead<${J}/at> \\*x\\*`,
    );
    expect(shown(cardOf(mentionCards[1].body)).join('\n')).toContain(
      `@AirParadis I <3 you but 4 h > 2 h & <${J}!channel> is not a mention, lost bag`,
    );
    expect(mentionCards[1].body.summary).toBe(
      `95 % negative: @AirParadis I <3 you but 4 h > 2 h & <${J}!channel> is not a mention, lost bag`,
    );
    const onCard = (value: Json) => activity({ type: 'message', value, replyToId: card.id });
    await ok(onCard({ sentinel: 'alertAck', alertId: 'escaping-alert' }));
    await ok(onCard({ sentinel: 'alertSnooze', alertId: 'escaping-alert', hours: 1 }));
    await ok(
      activity({
        type: 'messageReaction',
        replyToId: mentionCards[1].id,
        reactionsAdded: [{ type: '274c_crossmark' }],
      }),
    );
    await sink.alertUpdated(content('updated', '2026-03-01T10:00:00.000Z'));
    await sink.alertResolved(content('resolved', '2026-03-01T12:00:00.000Z'));
    await sink.opsNotice!(`Model update failed: ${PLAIN}`);
    await teams.idle();
    const replies = connector.calls
      .slice(before)
      .map((c) => c.body.text)
      .filter(Boolean);
    expect(replies).toEqual(
      expect.arrayContaining([
        `👀 <${J}at>Lead<${J}/at> \\[boss\\]${J}(https://evil.example) <${J}!channel> > acknowledged this alert.`,
        expect.stringMatching(new RegExp(`^💤 .* snoozed new alerts on \\*\\*AirParadis <${J}!here>`)),
        `⚠️ Sentinel: Model update failed: ${TEAMS_SHOWN}`,
      ]),
    );
  });

  it('none of it arrived live, none double-escaped, every card intact: every body the connector received', () => {
    expect(connector.calls.filter((c) => 'unparsed' in c.body)).toEqual([]); // every body was valid JSON
    const texts = shown(connector.calls.map((c) => c.body));
    expectNothingLive(texts, TEAMS_LIVE);
    for (const t of texts) {
      expect(t).not.toMatch(/<(at|a|img|script)\b/i); // no tag (Sentinel's own `sentiment <text>` hint aside)
      expect(t).not.toMatch(/&(gt|lt|amp);/); // decoded once: never shown as an entity
    }
    expect(texts.some((t) => t.includes('4 h > 2 h'))).toBe(true); // a tweet's `&gt;` shown as `>`
  });
});

// ---------------------------------------------------------------------------------------------------

describe('the console', () => {
  it('prints the alert, its updates, notices: no escape sequence reaches the terminal, entities decoded', async () => {
    const out = new PassThrough();
    let printed = '';
    out.on('data', (c: Buffer) => (printed += c.toString()));
    const sink = new ConsoleSink({ chartDir: join(dir, 'charts'), out, colour: false, width: 100 });
    await sink.alertOpened(content('opened', '2026-03-01T09:00:00.000Z'));
    await sink.alertUpdated(content('updated', '2026-03-01T10:00:00.000Z'));
    await sink.alertResolved(content('resolved', '2026-03-01T12:00:00.000Z'));
    await sink.opsNotice(`Model update failed: ${PLAIN}`);
    await sink.streamNotice({ stream: STREAM, kind: 'learning', at: '2026-03-01T09:00:00.000Z', message: PLAIN });
    expect(printed).not.toContain('\u001b');
    // eslint-disable-next-line no-control-regex
    expect(printed).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(printed).toContain('I <3 you but 4 h > 2 h & <!channel>');
    expect(printed).not.toMatch(/&(gt|lt|amp);/);
  });
});
