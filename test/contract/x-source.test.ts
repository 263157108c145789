/**
 * The X source through the real twitter-api-v2 client against a loopback HTTPS server speaking the v2
 * recent-search JSON (test/helpers/x-server.ts), with tweets copied from the airline stream data.
 * Waits go through an injected clock that advances instantly, so a 15-minute rate-limit reset costs
 * nothing and is checked exactly.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { createLogger, type Logger } from '../../src/log';
import {
  XApiError,
  XAuthError,
  XRateLimitError,
  XResponseError,
  XSource,
  parseCheckpoint,
  type Clock,
  type XSourceOptions,
} from '../../src/mentions/x-source';
import type { Mention } from '../../src/mentions/types';
import { startXServer, tweetsFrom, type XServer, type XTweet, type XUser } from '../helpers/x-server';

const FIXTURE = join(__dirname, '../fixtures/airline_stream_sample.csv');
const TOKEN = 'AAAAAAAAAAAAAAAAAAAAAsecret-test-bearer-0123456789';

interface Row {
  tweet_id: string;
  created_at: string;
  text: string;
  airline: string;
}
const ROWS: Row[] = parse(readFileSync(FIXTURE), { columns: true, bom: true });
const USERS: XUser[] = [
  { id: '1001', username: 'frequent_flyer' },
  { id: '1002', username: 'gate_agent_fan' },
  { id: '1003', username: 'lost_luggage' },
];
/** Real tweets, in time order (oldest first), shaped as X serves them. */
const TWEETS: XTweet[] = tweetsFrom(
  ROWS.map((r) => ({ id: r.tweet_id, createdAt: r.created_at, text: r.text })),
  USERS,
);

class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  constructor(public t = Date.parse('2026-03-02T09:00:00Z')) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new Error('aborted');
    this.sleeps.push(ms);
    this.t += ms;
  }
}

function capture(): { logger: Logger; lines: () => Array<Record<string, unknown>>; raw: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    logger: createLogger('debug', { stream }),
    raw: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
  };
}

let server: XServer;
let clock: FakeClock;
let log: ReturnType<typeof capture>;

function source(opts: Partial<XSourceOptions> = {}): XSource {
  return new XSource({
    bearerToken: TOKEN,
    apiUrl: server.url,
    agent: server.agent,
    streams: { Delta: '@Delta -is:retweet', AirParadis: '@AirParadis -is:retweet' },
    maxResults: 10,
    clock,
    random: () => 0.5,
    logger: log.logger,
    ...opts,
  });
}

const ids = (ms: Mention[]) => ms.map((m) => m.id);
const byId = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

beforeEach(async () => {
  clock = new FakeClock();
  log = capture();
  server = await startXServer({ token: TOKEN, tweets: TWEETS.slice(0, 35), users: USERS, now: () => clock.now() });
});

afterEach(async () => {
  await server.close();
  // The bearer token never reaches a log line.
  expect(log.raw()).not.toContain(TOKEN);
  expect(log.raw()).not.toContain('secret-test-bearer');
});

describe('pagination and checkpoints', () => {
  test('follows next_token across pages and returns every mention, oldest first, mapped from v2 JSON', async () => {
    const x = source();
    const { mentions, checkpoint } = await x.fetch('Delta', null);

    const searches = server.searches();
    expect(searches).toHaveLength(4); // 35 tweets, 10 per page
    expect(searches[0].query).toEqual({
      query: '@Delta -is:retweet',
      max_results: '10',
      'tweet.fields': 'created_at,lang,public_metrics,author_id',
      expansions: 'author_id',
      'user.fields': 'username',
    });
    expect(searches[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(searches.slice(1).every((r) => typeof r.query.next_token === 'string')).toBe(true);
    expect(searches.every((r) => r.query.since_id === undefined)).toBe(true);

    const expected = TWEETS.slice(0, 35)
      .map((t) => t.id!)
      .sort(byId);
    expect(ids(mentions)).toEqual(expected);
    const times = mentions.map((m) => Date.parse(m.createdAt));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(checkpoint).toBe(expected[expected.length - 1]);

    const first = mentions[0];
    const tweet = TWEETS.find((t) => t.id === first.id)!;
    expect(first).toEqual({
      id: tweet.id,
      stream: 'Delta',
      createdAt: tweet.created_at,
      text: tweet.text,
      authorId: tweet.author_id,
      authorHandle: USERS.find((u) => u.id === tweet.author_id)!.username,
      lang: 'en',
      metrics: {
        retweets: tweet.public_metrics!.retweet_count,
        replies: tweet.public_metrics!.reply_count,
        likes: tweet.public_metrics!.like_count,
        quotes: 0,
      },
    });
    expect(typeof first.id).toBe('string');

    // Usage logged per poll: reads, pages, the rate limit left.
    const usage = log.lines().find((l) => String(l.msg).startsWith('X usage'))!;
    expect(usage).toMatchObject({ stream: 'Delta', pages: 4, tweetsRead: 35, kept: 35, requests: 4 });
    expect(usage.rateLimit).toEqual({ limit: 450, remaining: 446, reset: Math.floor(clock.now() / 1000) + 900 });
    expect(x.lastUsage('Delta')).toMatchObject({ pages: 4, tweetsRead: 35 });
  });

  test('sends the checkpoint as since_id and returns only what is newer', async () => {
    const x = source();
    const first = await x.fetch('Delta', null);
    server.addTweets(...TWEETS.slice(35, 38));
    const second = await x.fetch('Delta', first.checkpoint);
    const req = server.searches().at(-1)!;
    expect(req.query.since_id).toBe(first.checkpoint);
    expect(ids(second.mentions)).toEqual(
      TWEETS.slice(35, 38)
        .map((t) => t.id!)
        .sort(byId),
    );
    expect(second.checkpoint).toBe(
      TWEETS.slice(35, 38)
        .map((t) => t.id!)
        .sort(byId)[2],
    );

    // Nothing new: no mention, the checkpoint stays.
    const third = await x.fetch('Delta', second.checkpoint);
    expect(third).toEqual({ mentions: [], checkpoint: second.checkpoint });
  });

  test('page cap hit: the older remainder is fetched next poll, nothing lost or repeated', async () => {
    const all = TWEETS.slice(0, 35)
      .map((t) => t.id!)
      .sort(byId);
    const stored = all[4]; // the 5 oldest were stored by an earlier poll
    const x = source({ maxPagesPerPoll: 2 });

    // Poll 1: 30 newer tweets, 2 pages of 10 allowed: the 20 newest come, a gap remains.
    const p1 = await x.fetch('Delta', stored);
    expect(ids(p1.mentions)).toEqual(all.slice(15));
    expect(JSON.parse(p1.checkpoint!)).toEqual({ since_id: stored, until_id: all[15], newest_id: all[34] });
    expect(server.searches().map((r) => r.query.since_id)).toEqual([stored, stored]);

    // A burst goes on meanwhile.
    server.addTweets(...TWEETS.slice(35, 47));
    const burst = TWEETS.slice(35, 47)
      .map((t) => t.id!)
      .sort(byId);

    // Poll 2: the gap first (since_id..until_id), closed in one page; the second page allowed reads what is new.
    server.requests.length = 0;
    const p2 = await x.fetch('Delta', p1.checkpoint);
    const r2 = server.searches();
    expect(r2[0].query).toMatchObject({ since_id: stored, until_id: all[15] });
    expect(r2[1].query).toMatchObject({ since_id: all[34] });
    expect(r2[1].query.until_id).toBeUndefined();
    expect(r2).toHaveLength(2);
    // 10 gap tweets + the 10 newest of the burst; the 2 oldest of the burst are a new gap.
    expect(ids(p2.mentions)).toEqual([...all.slice(5, 15), ...burst.slice(2)]);
    expect(JSON.parse(p2.checkpoint!)).toEqual({ since_id: all[34], until_id: burst[2], newest_id: burst[11] });

    // Poll 3: closes that gap, then nothing newer: plain checkpoint at the newest tweet.
    const p3 = await x.fetch('Delta', p2.checkpoint);
    expect(ids(p3.mentions)).toEqual(burst.slice(0, 2));
    expect(p3.checkpoint).toBe(burst[11]);

    const seen = [...ids(p1.mentions), ...ids(p2.mentions), ...ids(p3.mentions)];
    expect(new Set(seen).size).toBe(seen.length); // no duplicate
    expect([...seen].sort(byId)).toEqual([...all.slice(5), ...burst]); // nothing lost
    expect(log.lines().some((l) => String(l.msg).includes('page cap reached'))).toBe(true);
  });

  test('checkpoints: plain ids, the gap form, and a clear error for anything else', () => {
    expect(parseCheckpoint(null)).toEqual({ since: null });
    expect(parseCheckpoint('567588278875213824')).toEqual({ since: '567588278875213824' });
    expect(parseCheckpoint('{"since_id":null,"until_id":"5","newest_id":"9"}')).toEqual({
      since: null,
      gap: { until: '5', newest: '9' },
    });
    expect(() => parseCheckpoint('yesterday')).toThrow(/neither a tweet id nor the JSON gap form/);
    expect(() => parseCheckpoint('{"since_id":"1"}')).toThrow(/expected \{"since_id"/);
  });
});

describe('rate limits and faults', () => {
  test('429: waits until x-rate-limit-reset, never sooner, then goes on', async () => {
    const reset = Math.floor(clock.now() / 1000) + 600;
    server.failNext({ status: 429, reset });
    const { mentions } = await source().fetch('Delta', null);
    expect(mentions).toHaveLength(35);
    const searches = server.searches();
    expect(searches[0].answer).toBe(429);
    expect(searches[1].at).toBeGreaterThanOrEqual(reset * 1000);
    expect(searches).toHaveLength(5);
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(reset * 1000 - searches[0].at);
    expect(log.lines().some((l) => l.level === 40 && String(l.msg).includes('rate limit (429)'))).toBe(true);
  });

  test('429 with a reset further than the longest wait: XRateLimitError, and no request until the reset', async () => {
    const reset = Math.floor(clock.now() / 1000) + 3600;
    server.failNext({ status: 429, reset });
    const x = source({ maxRateLimitWaitMs: 16 * 60_000 });
    await expect(x.fetch('Delta', null)).rejects.toThrow(XRateLimitError);
    await expect(x.fetch('Delta', null)).rejects.toThrow(/no request before/);
    expect(server.searches()).toHaveLength(1);
    clock.t = reset * 1000;
    await expect(x.fetch('Delta', null)).resolves.toMatchObject({ mentions: expect.any(Array) });
    expect(server.searches()).toHaveLength(5);
  });

  test('a spent quota (remaining 0) is waited out before the next request', async () => {
    server.remaining = 2; // the first page leaves 1, the second 0
    const reset = Math.floor(clock.now() / 1000) + 300;
    server.reset = reset;
    await source().fetch('Delta', null);
    const s = server.searches();
    expect(s).toHaveLength(4);
    expect(s[1].at).toBeLessThan(reset * 1000);
    expect(s[2].at).toBe(reset * 1000);
    expect(s.every((r) => r.answer === 200)).toBe(true);
  });

  test('5xx: retried with exponential backoff and jitter, then success', async () => {
    server.failNext({ status: 500 }, { status: 503 }, { status: 502 });
    const { mentions } = await source({ maxAttempts: 4, backoffBaseMs: 1000 }).fetch('Delta', null);
    expect(mentions).toHaveLength(35);
    expect(server.searches().map((r) => r.answer)).toEqual([500, 503, 502, 200, 200, 200, 200]);
    // random() = 0.5: half the step plus a quarter of it, the step doubling each attempt.
    expect(clock.sleeps).toEqual([750, 1500, 3000]);
  });

  test('5xx on every attempt: XApiError after maxAttempts requests, nothing returned', async () => {
    server.failNext({ status: 500 }, { status: 500 }, { status: 500 });
    await expect(source({ maxAttempts: 3 }).fetch('Delta', null)).rejects.toThrow(
      new XApiError(
        'X API HTTP 500 (Internal Server Error: Something went wrong) for stream Delta, 3 attempt(s): giving up for this poll',
      ),
    );
    expect(server.searches()).toHaveLength(3);
  });

  test('a timeout and a dropped connection are retried', async () => {
    server.failNext({ timeout: true }, { drop: true });
    const { mentions } = await source({ timeoutMs: 300 }).fetch('Delta', null);
    expect(mentions).toHaveLength(35);
    expect(server.searches().map((r) => r.answer)).toEqual(['timeout', 'drop', 200, 200, 200, 200]);
    const retries = log.lines().filter((l) => String(l.msg).includes('retry'));
    expect(retries.map((l) => l.reason)).toEqual([
      'timeout (no data for 300 ms)',
      expect.stringMatching(/^network error|response cut short/),
    ]);
  });

  test('401 (wrong token): XAuthError at once, no retry, token not echoed', async () => {
    const x = new XSource({
      bearerToken: 'wrong-token-value',
      apiUrl: server.url,
      agent: server.agent,
      clock,
      logger: log.logger,
    });
    const err = await x.fetch('AirParadis', null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XAuthError);
    expect((err as XAuthError).status).toBe(401);
    expect((err as Error).message).toBe(
      'X API refused the credentials (HTTP 401: Unauthorized: Unauthorized); check X_BEARER_TOKEN (app-only bearer token with access to recent search or the mentions timeline)',
    );
    expect(server.searches()).toHaveLength(1);
    expect(server.searches()[0].query.query).toBe('@AirParadis -is:retweet');
    expect(JSON.stringify(err) + String((err as Error).stack)).not.toContain('wrong-token-value');
  });

  test('403: XAuthError', async () => {
    server.failNext({ status: 403 });
    await expect(source().fetch('Delta', null)).rejects.toMatchObject({ name: 'XAuthError', status: 403 });
  });

  test('other 4xx: a clear XApiError with X explanation, not retried', async () => {
    server.failNext({
      status: 400,
      body: {
        title: 'Invalid Request',
        detail: 'One or more parameters to your request was invalid.',
        type: 'https://api.twitter.com/2/problems/invalid-request',
      },
    });
    await expect(source().fetch('Delta', null)).rejects.toThrow(
      'X API answered HTTP 400 for stream Delta: Invalid Request: One or more parameters to your request was invalid.',
    );
    expect(server.searches()).toHaveLength(1);
  });
});

describe('bad responses', () => {
  test('tweets missing fields are skipped with a warning naming the field; the rest are kept', async () => {
    const [a, b, c, d, e, f] = TWEETS.slice(0, 6);
    const { id: _noId, ...withoutId } = a;
    const { text: _noText, ...withoutText } = b;
    const { created_at: _noDate, ...withoutDate } = c;
    server.failNext({
      json: {
        data: [withoutId, withoutText, withoutDate, { ...d, text: '' }, e, f],
        includes: { users: USERS },
        meta: { result_count: 6, newest_id: f.id, oldest_id: b.id },
      },
    });
    const { mentions, checkpoint } = await source().fetch('Delta', null);
    expect(ids(mentions)).toEqual([e.id!, f.id!].sort(byId));
    expect(checkpoint).toBe(f.id);
    const warnings = log.lines().filter((l) => l.level === 40 && String(l.msg).includes('skipped'));
    expect(warnings.map((w) => w.field)).toEqual(['id', 'text', 'created_at', 'text']);
    expect(warnings.map((w) => String(w.msg).replace(/^.*skipped: /, ''))).toEqual([
      'missing field "id"',
      'missing field "text"',
      'missing field "created_at"',
      'field "text" is empty',
    ]);
    expect(x_usage()).toMatchObject({ tweetsRead: 6, kept: 2, skipped: 4 });
  });

  test.each([
    [
      { body: '<html>Bad gateway</html>', contentType: 'text/html' },
      /page 1\) is malformed: expected a JSON object, got a string \("<html>Bad gateway<\/html>"\)/,
    ],
    [
      { body: '{"data": [', contentType: 'application/json' },
      /X API response for stream Delta is not valid JSON \(HTTP 200\)/,
    ],
    [{ body: '', contentType: 'application/json' }, /page 1\) is malformed: expected a JSON object, got an empty body/],
    [{ json: { data: { id: '1' }, meta: {} } }, /"data" is an object, expected an array/],
    [{ json: { data: [] } }, /"meta" is missing, expected an object/],
    [{ json: { data: [], meta: { next_token: 7 } } }, /"meta.next_token" is number 7/],
    [{ json: { data: [], includes: { users: 'x' }, meta: {} } }, /"includes.users" is a string/],
  ])('malformed body %j → XResponseError', async (fault, message) => {
    server.failNext(fault);
    const err = await source()
      .fetch('Delta', null)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XResponseError);
    expect((err as Error).message).toMatch(message);
    expect(server.searches()).toHaveLength(1);
  });
});

describe('mentions timeline (X_STREAMS name=mentions:<user id>)', () => {
  const USER_ID = '1234567890';
  const timeline = (opts: Partial<XSourceOptions> = {}) =>
    source({ streams: { AirParadis: `mentions:${USER_ID}` }, ...opts });

  test('GET /2/users/:id/mentions, paged with pagination_token, then since_id from the checkpoint', async () => {
    const x = timeline();
    const first = await x.fetch('AirParadis', null);
    const reqs = server.timelines();
    expect(server.searches()).toHaveLength(0);
    expect(reqs).toHaveLength(4); // 35 tweets, 10 per page
    expect(reqs.every((r) => r.path === `/2/users/${USER_ID}/mentions`)).toBe(true);
    expect(reqs[0].query).toEqual({
      max_results: '10',
      'tweet.fields': 'created_at,lang,public_metrics,author_id',
      expansions: 'author_id',
      'user.fields': 'username',
    });
    expect(reqs.slice(1).every((r) => typeof r.query.pagination_token === 'string')).toBe(true);
    expect(reqs.every((r) => r.query.next_token === undefined)).toBe(true);
    const all = TWEETS.slice(0, 35)
      .map((t) => t.id!)
      .sort(byId);
    expect(ids(first.mentions)).toEqual(all);
    expect(first.mentions[0]).toMatchObject({ stream: 'AirParadis', authorHandle: expect.any(String) });
    expect(first.checkpoint).toBe(all[34]);

    server.addTweets(...TWEETS.slice(35, 50));
    const burst = TWEETS.slice(35, 50)
      .map((t) => t.id!)
      .sort(byId);
    server.requests.length = 0;
    const second = await x.fetch('AirParadis', first.checkpoint);
    expect(server.timelines().map((r) => r.query.since_id)).toEqual([all[34], all[34]]);
    expect(server.timelines()[1].query.pagination_token).toEqual(expect.any(String));
    expect(ids(second.mentions)).toEqual(burst);
    expect(second.checkpoint).toBe(burst[14]);
  });

  test('page cap hit: the remainder is read next poll (since_id..until_id), nothing lost or repeated', async () => {
    const all = TWEETS.slice(0, 35)
      .map((t) => t.id!)
      .sort(byId);
    const x = timeline({ maxPagesPerPoll: 2 });
    const p1 = await x.fetch('AirParadis', all[4]);
    expect(ids(p1.mentions)).toEqual(all.slice(15));
    expect(JSON.parse(p1.checkpoint!)).toEqual({ since_id: all[4], until_id: all[15], newest_id: all[34] });

    server.requests.length = 0;
    const p2 = await x.fetch('AirParadis', p1.checkpoint);
    expect(server.timelines()[0].query).toMatchObject({ since_id: all[4], until_id: all[15] });
    expect(ids(p2.mentions)).toEqual(all.slice(5, 15));
    expect(p2.checkpoint).toBe(all[34]);
    expect(log.lines().some((l) => String(l.msg).includes('page cap reached'))).toBe(true);
  });

  test('401: XAuthError at once, no retry', async () => {
    const x = new XSource({
      bearerToken: 'wrong-token-value',
      apiUrl: server.url,
      agent: server.agent,
      streams: { AirParadis: `mentions:${USER_ID}` },
      clock,
      logger: log.logger,
    });
    const err = await x.fetch('AirParadis', null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XAuthError);
    expect((err as XAuthError).status).toBe(401);
    expect(server.timelines()).toHaveLength(1);
    expect(JSON.stringify(err) + String((err as Error).stack)).not.toContain('wrong-token-value');
  });

  test('mentions: without a numeric user id is a clear error naming X_STREAMS', () => {
    for (const bad of ['mentions:', 'mentions:@AirParadis', 'mentions:12ab', 'mentions:0123']) {
      expect(() => new XSource({ bearerToken: 't', streams: { AirParadis: bad } })).toThrow(
        /^XSource: stream "AirParadis" in X_STREAMS is ".*": the mentions timeline needs a numeric user id after "mentions:" \(e\.g\. AirParadis=mentions:1234567890\)$/,
      );
    }
    expect(() => new XSource({ bearerToken: 't', streams: { a: ' mentions: 42 ' } })).not.toThrow();
  });
});

describe('configuration', () => {
  test('bad settings are clear errors', () => {
    expect(() => new XSource({ bearerToken: '' })).toThrow('XSource: a bearer token is required (X_BEARER_TOKEN)');
    expect(() => new XSource({ bearerToken: 't', apiUrl: 'http://127.0.0.1:9/2/' })).toThrow(/must use https:\/\//);
    expect(() => new XSource({ bearerToken: 't', apiUrl: 'not a url' })).toThrow(/is not a URL/);
    expect(() => new XSource({ bearerToken: 't', maxResults: 500 })).toThrow(/maxResults must be 10–100/);
    expect(() => new XSource({ bearerToken: 't', streams: { a: ' ' } })).toThrow(/stream "a" has an empty query/);
  });

  test('an unknown stream is a clear error; a bare origin gets /2/', async () => {
    const x = source({ apiUrl: server.url.replace(/\/2\/$/, '') });
    await expect(x.fetch('United', null)).rejects.toThrow(
      'XSource: unknown stream "United" (configured: Delta, AirParadis)',
    );
    await x.fetch('Delta', null);
    expect(server.searches()).toHaveLength(4);
  });
});

function x_usage(): Record<string, unknown> {
  return log.lines().find((l) => String(l.msg).startsWith('X usage'))!;
}
