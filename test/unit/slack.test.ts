/**
 * The Slack adapter's pure parts: signature checks, the retry rules, the Block Kit layouts, and the app
 * manifest agreeing with what the code serves.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { webApi } from '@slack/bolt';
import {
  bar,
  clip,
  escapeText,
  link,
  mentionMessage,
  predictionMessage,
  reactionVerdict,
  trueLabelQuestion,
  userMention,
} from '../../adapters/slack/blocks';
import { CLAIM_TTL_MS, ClaimedIds, SeenIds, Serial } from '../../src/chat/once';
import { parseSlackBody, signatureProblem } from '../../adapters/slack/receiver';
import { SlackApi, classify } from '../../adapters/slack/web';

const SECRET = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const sign = (ts: string, body: string) =>
  `v0=${createHmac('sha256', SECRET).update(`v0:${ts}:${body}`).digest('hex')}`;

describe('signatureProblem', () => {
  const now = 1_700_000_000_000;
  const ts = String(now / 1000);
  const body = 'token=x&command=%2Fsentiment&text=hello';

  it('accepts Slack’s signature and refuses everything else, saying why', () => {
    expect(signatureProblem(SECRET, body, ts, sign(ts, body), now)).toBeNull();
    expect(signatureProblem(SECRET, body, ts, sign(ts, body), now + 299_000)).toBeNull();
    expect(signatureProblem(SECRET, `${body}x`, ts, sign(ts, body), now)).toBe('signature mismatch');
    expect(signatureProblem(SECRET, body, ts, sign(ts, body), now + 301_000)).toMatch(/^stale timestamp \(301 s/);
    expect(signatureProblem(SECRET, body, ts, sign(ts, body), now - 301_000)).toMatch(/^stale timestamp/);
    expect(signatureProblem(SECRET, body, undefined, sign(ts, body), now)).toMatch(/^missing/);
    expect(signatureProblem(SECRET, body, '12e5', sign(ts, body), now)).toMatch(/not a number/);
    expect(signatureProblem(SECRET, body, ts, sign(ts, body).replace('v0=', 'v1='), now)).toMatch(/not a v0/);
    expect(signatureProblem(SECRET, body, ts, 'v0=abc', now)).toMatch(/not a v0/);
  });
});

describe('parseSlackBody', () => {
  it('reads the three shapes Slack sends, and refuses the rest', () => {
    expect(parseSlackBody('{"type":"event_callback"}', 'application/json')).toEqual({ type: 'event_callback' });
    expect(parseSlackBody('command=%2Fsentiment&text=a+b', 'application/x-www-form-urlencoded')).toMatchObject({
      command: '/sentiment',
      text: 'a b',
    });
    expect(
      parseSlackBody(
        `payload=${encodeURIComponent('{"type":"block_actions"}')}`,
        'application/x-www-form-urlencoded; charset=utf-8',
      ),
    ).toEqual({ type: 'block_actions' });
    expect(() => parseSlackBody('"text"', 'application/json')).toThrow('not an object');
    expect(() => parseSlackBody('payload=%7B', 'application/x-www-form-urlencoded')).toThrow();
  });
});

describe('classify (the retry rules)', () => {
  it('retries rate limits after Retry-After, transient failures with backoff, nothing else', () => {
    expect(classify(new webApi.WebAPIRateLimitedError(7))).toMatchObject({ retry: true, afterMs: 7000 });
    expect(classify(new webApi.WebAPIHTTPError(503, 'Service Unavailable', {}))).toMatchObject({ retry: true });
    expect(classify(new webApi.WebAPIHTTPError(404, 'Not Found', {}))).toEqual({ retry: false });
    expect(classify(new webApi.WebAPIRequestError(new Error('ECONNRESET')))).toMatchObject({ retry: true });
    expect(classify(new webApi.WebAPIPlatformError({ ok: false, error: 'internal_error' }))).toMatchObject({
      retry: true,
    });
    expect(classify(new webApi.WebAPIPlatformError({ ok: false, error: 'channel_not_found' }))).toEqual({
      retry: false,
    });
    expect(classify(new Error('boom'))).toEqual({ retry: false });
  });

  it('tells when Slack may have done the work anyway (a post must then be looked up, not redone)', () => {
    const maybeDone = (err: unknown) => (classify(err) as { maybeDone?: boolean }).maybeDone;
    expect(maybeDone(new webApi.WebAPIRateLimitedError(7))).toBe(false);
    expect(maybeDone(new webApi.WebAPIPlatformError({ ok: false, error: 'ratelimited' }))).toBe(false);
    expect(maybeDone(new webApi.WebAPIPlatformError({ ok: false, error: 'service_unavailable' }))).toBe(false);
    expect(maybeDone(new webApi.WebAPIRequestError(new Error('socket hang up')))).toBe(true);
    expect(maybeDone(new webApi.WebAPIHTTPError(502, 'Bad Gateway', {}))).toBe(true);
    expect(maybeDone(new webApi.WebAPIPlatformError({ ok: false, error: 'fatal_error' }))).toBe(true);
    expect(maybeDone(new webApi.WebAPIPlatformError({ ok: false, error: 'internal_error' }))).toBe(true);
  });

  it('waits what Slack says, at most maxAttempts times, and stops waiting on stop()', async () => {
    const waits: number[] = [];
    const logger = { warn: jest.fn(), error: jest.fn(), debug: jest.fn() };
    const api = new SlackApi({} as webApi.WebClient, {
      logger,
      maxAttempts: 3,
      sleep: async (ms) => void waits.push(ms),
    });
    let calls = 0;
    await expect(
      api.call('chat.postMessage', async () => {
        calls++;
        throw new webApi.WebAPIRateLimitedError(2);
      }),
    ).rejects.toThrow();
    expect(calls).toBe(3);
    expect(waits).toEqual([2000, 2000]);
    expect(logger.error).toHaveBeenCalledTimes(1);

    const stopping = new SlackApi({} as webApi.WebClient, { logger });
    const pending = stopping.call('chat.update', async () => {
      throw new webApi.WebAPIRateLimitedError(600);
    });
    stopping.stop();
    await expect(pending).rejects.toThrow();
  });
});

describe('blocks', () => {
  it('escapes, clips and draws bars', () => {
    expect(escapeText('<!here> & <@U1>')).toBe('&lt;!here&gt; &amp; &lt;@U1&gt;');
    expect(clip('a  b\n c', 10, true)).toBe('a b c');
    expect(clip('abcdef', 4)).toBe('abc…');
    expect(bar(0.5, 10)).toBe('█████░░░░░');
    expect(bar(1.2, 4)).toBe('████');
    expect(bar(NaN, 4)).toBe('░░░░');
  });

  it('escapes once, within a length, and writes only checked mentions and links', () => {
    // Decoded text in, Slack's three entities out, once; control characters dropped.
    expect(escapeText('5 > 4 & I <3 it\u001b[2J')).toBe('5 &gt; 4 &amp; I &lt;3 it');
    // The limit counts the entities, and never cuts one.
    expect(escapeText('<<<<', 10)).toBe('&lt;&lt;…');
    expect(escapeText('abc', 3)).toBe('abc');
    expect(userMention('U0123LEAD')).toBe('<@U0123LEAD>');
    expect(userMention('<!channel>')).toBe('&lt;!channel&gt;');
    expect(link('https://x.com/i/web/status/1', '@a')).toBe('<https://x.com/i/web/status/1|@a>');
    expect(link('https://evil.example|Reset', '@a')).toBe('@a');
    expect(link('javascript:alert(1)', '@a')).toBe('@a');
  });

  it('escapes the text fallback as the blocks (a mention in a thread)', () => {
    const msg = mentionMessage({
      id: '1',
      url: 'https://x.com/i/web/status/1',
      text: '<!channel> read <https://evil.example|Reset your password> 5 > 4',
      createdAt: '2026-03-01T08:50:00.000Z',
      author: 'a<b',
      negative: 0.9,
    });
    expect(msg.text).toBe(
      '90 % negative: &lt;!channel&gt; read &lt;https://evil.example|Reset your password&gt; 5 &gt; 4',
    );
    expect(JSON.stringify(msg.blocks)).toContain('<https://x.com/i/web/status/1|@a&lt;b>');
    expect(JSON.stringify(msg.blocks)).not.toContain('<!channel>');
  });

  it('knows which reactions judge', () => {
    expect(
      ['white_check_mark', 'heavy_check_mark', 'x', 'negative_squared_cross_mark', 'thumbsup'].map(reactionVerdict),
    ).toEqual([true, true, false, false, undefined]);
    expect(reactionVerdict('white_check_mark::skin-tone-2')).toBe(true);
  });

  it('lays out a prediction and the question after ❌', () => {
    const msg = predictionMessage(
      {
        label: 'positive',
        confidence: 0.91,
        probabilities: { negative: 0.03, neutral: 0.06, positive: 0.91 },
        modelVersion: 'v1',
        words: [
          { word: 'great', weight: 0.3 },
          { word: 'flight', weight: -0.01 },
          { word: 'crew', weight: 0.004 },
        ],
      },
      'great crew, great flight',
      'U1',
    );
    expect(msg.text).toBe('Positive (91 % confident): “great crew, great flight”');
    expect(JSON.stringify(msg.blocks)).toContain('Words that drove it, strongest first: *great* (+30 pts) · *crew*');
    expect(JSON.stringify(msg.blocks)).toContain('positive  ██████████████████░░   91 %');
    const q = trueLabelQuestion('p-1', 'positive', 'great crew');
    const actions = q.blocks[1] as { elements: Array<{ action_id: string; value: string }> };
    expect(actions.elements.map((e) => [e.action_id, JSON.parse(e.value)])).toEqual([
      ['sentinel_true_label_negative', { p: 'p-1', l: 'negative' }],
      ['sentinel_true_label_neutral', { p: 'p-1', l: 'neutral' }],
    ]);
  });
});

describe('once', () => {
  it('SeenIds: first time only, within the TTL', () => {
    let t = 0;
    const seen = new SeenIds(1000, 2, () => t);
    expect(seen.first('a')).toBe(true);
    expect(seen.first('a')).toBe(false);
    t = 1001;
    expect(seen.first('a')).toBe(true);
    seen.first('b');
    seen.first('c'); // over the bound: the oldest goes
    expect(seen.first('a')).toBe(true);
  });

  it('ClaimedIds: the store decides; repeats seen here skip it; a store failure applies the delivery, saying so', async () => {
    const claimed = new Map<string, number>();
    const store = {
      claim: jest.fn(async (key: string, ttlMs: number) => {
        if (key.startsWith('broken')) throw new Error('connection refused');
        if (claimed.has(key)) return false;
        claimed.set(key, ttlMs);
        return true;
      }),
    };
    const warn = jest.fn();
    const here = new ClaimedIds(store, { logger: { warn } });
    const there = new ClaimedIds(store); // another replica, or this one after a restart
    expect(await here.first('slack:event:Ev1')).toBe(true);
    expect(await there.first('slack:event:Ev1')).toBe(false);
    expect(await here.first('slack:event:Ev1')).toBe(false);
    expect(store.claim).toHaveBeenCalledTimes(2); // the repeat here never reached the store
    expect(claimed.get('slack:event:Ev1')).toBe(CLAIM_TTL_MS);
    expect(await here.first('broken:1')).toBe(true);
    expect(warn.mock.calls[0][1]).toMatch(/could not check whether broken:1 was already handled .*; handling it$/);
    const long = `teams:activity:${'x'.repeat(400)}:1`;
    expect(await here.first(long)).toBe(true);
    expect(await there.first(long)).toBe(false);
    const key = store.claim.mock.calls.at(-1)![0];
    expect(key).toMatch(/^teams:activity:x+#[0-9a-f]{64}$/);
    expect(key.length).toBeLessThanOrEqual(200);
  });

  it('Serial: one key at a time, in order', async () => {
    const serial = new Serial();
    const order: string[] = [];
    const slow = serial.run('k', async () => {
      await new Promise((r) => setTimeout(r, 20));
      order.push('first');
    });
    const fast = serial.run('k', async () => void order.push('second'));
    const other = serial.run('other', async () => void order.push('other'));
    await Promise.all([slow, fast, other]);
    expect(order).toEqual(['other', 'first', 'second']);
    await serial.idle();
  });
});

describe('manifest.yml', () => {
  const manifest = readFileSync(join(__dirname, '../../adapters/slack/manifest.yml'), 'utf8');

  it('declares the command, events, scopes and URLs the adapter serves', () => {
    expect(manifest).toMatch(/^ {4}- command: \/sentiment$/m);
    for (const scope of ['commands', 'chat:write', 'chat:write.public', 'reactions:read', 'files:write'])
      expect(manifest).toMatch(new RegExp(`^ {6}- ${scope.replace('.', '\\.')}( |$)`, 'm'));
    for (const event of ['reaction_added', 'reaction_removed'])
      expect(manifest).toMatch(new RegExp(`^ {6}- ${event}$`, 'm'));
    const urls = [...manifest.matchAll(/(?:url|request_url): (\S+)/g)].map((m) => m[1]);
    expect(urls).toHaveLength(3);
    for (const u of urls) expect(new URL(u).pathname).toBe('/slack/events');
    expect(manifest).toMatch(/^ {2}interactivity:\n {4}is_enabled: true$/m);
  });
});
