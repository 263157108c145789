/**
 * `npm run privacy:erase` as an operator runs it (a child process, configured through the environment like
 * the server), against a real SQLite file and against PostgreSQL, on data written the way Sentinel writes
 * it: votes through the feedback core (hashed), a vote from before hashing (re-keyed), an alert record
 * with an undelivered message quoting the tweet, and the chat state the Slack and Teams adapters keep.
 * Every trace of the user or tweet goes; nobody else's data is touched; an unknown user or tweet is
 * "0 removed", exit 0; bad arguments get the usage on stderr, exit 2; the wrong key, exit 1.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { recordAlertFeedback } from '../../src/feedback/alert-feedback';
import { recordFeedback } from '../../src/feedback/feedback';
import type { Store } from '../../src/store/types';
import { testStore, type TestStore } from '../helpers/stores';

const ROOT = resolve(__dirname, '../..');
const SECRET = 'test-secret-0123456789abcdefghijklmnop';
const TWEET = '569587140490866689';
const P = { negative: 0.9, neutral: 0.07, positive: 0.03 };

function erase(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/privacy-cli.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => ok({ code, stdout, stderr }));
  });
}

/** The counts a report prints, by label. */
function counts(stdout: string, heading: string): Record<string, number> {
  const lines = stdout.split('\n');
  const at = lines.indexOf(heading);
  expect(at).toBeGreaterThanOrEqual(0);
  const out: Record<string, number> = {};
  for (const line of lines.slice(at + 1)) {
    const m = /^ {2}(.+?) +(\d+)$/.exec(line);
    if (!m) break;
    out[m[1]] = Number(m[2]);
  }
  return out;
}

async function seed(store: Store): Promise<void> {
  await store.saveMentions([
    {
      id: TWEET,
      stream: 'airparadis',
      authorId: '1234567',
      authorHandle: 'angry_flyer',
      createdAt: '2015-02-24T11:35:52.000Z',
      text: '@AirParadis lost my bag, my name is Jane Doe',
      prediction: { label: 'negative', confidence: 0.9, probabilities: P, modelVersion: 'v1' },
    },
    {
      id: '569587140490866690',
      stream: 'airparadis',
      authorId: '7654321',
      createdAt: '2015-02-24T11:36:00.000Z',
      text: '@AirParadis great crew',
      prediction: { label: 'positive', confidence: 0.9, probabilities: P, modelVersion: 'v1' },
    },
  ]);
  await store.savePredictions([
    {
      id: 'p1',
      kind: 'command',
      text: 'is this negative?',
      label: 'negative',
      probabilities: P,
      modelVersion: 'v1',
      createdAt: new Date().toISOString(),
    },
  ]);
  // Votes as the channels cast them: namespaced ids, hashed by the feedback core.
  const jane = 'slack:T123:U456ABCDE';
  await recordFeedback(store, { predictionId: 'p1', userId: jane, correct: true, source: 'slack' });
  await recordFeedback(store, { predictionId: `x:${TWEET}`, userId: jane, correct: true, source: 'slack' });
  await recordFeedback(store, { predictionId: `x:${TWEET}`, userId: 'api:dashboard', correct: true, source: 'http' });
  await recordFeedback(store, { predictionId: 'p1', userId: 'teams:tenant-1:aad-0001-alice', correct: false });
  await recordAlertFeedback(store, { alertId: 'a1', userId: jane, trueAlarm: true, source: 'slack' });
  // A vote Jane cast before ids were hashed (raw Slack id), re-keyed by the store at start-up.
  await store.recordVote({ predictionId: 'x:569587140490866690', userId: 'U456ABCDE', correct: true, source: 'slack' });
  await store.hashLegacyVoters();
  await store.linkMessage({ platform: 'slack', channel: 'C1', messageId: '1.1', predictionId: `x:${TWEET}` });
  const quoted = {
    id: TWEET,
    url: `https://x.com/i/web/status/${TWEET}`,
    text: '@AirParadis lost my bag, my name is Jane Doe',
    createdAt: '2015-02-24T11:35:52.000Z',
    author: 'angry_flyer',
    negative: 0.9,
  };
  const other = {
    ...quoted,
    id: '569587140490866690',
    url: 'https://x.com/i/web/status/569587140490866690',
    text: '@AirParadis great crew',
  };
  await store.saveAlert({
    id: 'a1',
    stream: 'airparadis',
    state: 'open',
    openedAt: '2015-02-24T12:00:00.000Z',
    updatedAt: '2015-02-24T12:00:00.000Z',
    data: {
      kind: 'trend',
      headline: 'Bad buzz on airparadis',
      outbox: [{ kind: 'opened', message: { alertId: 'a1', mentions: [quoted, other] }, sinks: ['slack'] }],
    },
  });
  // The adapters' chat state: Slack's alert state (content, who acknowledged and snoozed), Teams' alert
  // state (votes by user), and the Teams card showing the tweet in the alert's thread.
  await store.setCheckpoint(
    'slack/alert:a1',
    JSON.stringify({
      alertId: 'a1',
      content: { mentions: [quoted, other] },
      marks: {
        acks: [
          { user: 'U456ABCDE', at: '2015-02-24T12:05:00.000Z' },
          { user: 'U999OTHER', at: '2015-02-24T12:06:00.000Z' },
        ],
        snooze: { user: 'U456ABCDE', until: '2015-02-24T16:00:00.000Z', hours: 4 },
      },
      threads: {},
    }),
  );
  await store.setCheckpoint(
    'teams/alert:a1',
    JSON.stringify({
      alertId: 'a1',
      content: { mentions: [other] },
      votes: { 'aad-0001-alice': true, 'aad-0002-bob': false },
    }),
  );
  await store.setCheckpoint(
    'teams/card:conv-1/act-1',
    JSON.stringify({ kind: 'mention', predictionId: `x:${TWEET}`, mention: quoted, votes: {} }),
  );
  await store.setCheckpoint('x:airparadis', TWEET);
}

describe.each([['sqlite'], ['postgres']] as const)('npm run privacy:erase on %s', (kind) => {
  let db: TestStore;
  let store: Store;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = testStore(kind);
    store = await db.open({ voterKey: SECRET });
    await seed(store);
    env = { ...db.env, PRIVACY_USER_ID_SECRET: SECRET };
  });

  afterAll(async () => {
    await db.cleanup();
  });

  test('--user removes their votes (hashed, and from before hashing) and their traces in chat state', async () => {
    const { code, stdout, stderr } = await erase(['--user', 'slack:T123:U456ABCDE'], env);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout.split('\n')[0]).toBe(
      kind === 'sqlite'
        ? `Erasing from SQLite at ${env.SQLITE_PATH}`
        : 'Erasing from PostgreSQL at 127.0.0.1:5432/sentinel_test',
    );
    expect(counts(stdout, 'user slack:T123:U456ABCDE')).toEqual({
      votes: 4,
      mentions: 0,
      predictions: 0,
      'message links': 0,
      'alert records rewritten': 0,
      'chat state entries': 1,
      'removed in all': 5,
    });
    const slack = JSON.parse((await store.getCheckpoint('slack/alert:a1'))!);
    expect(slack.marks).toEqual({
      acks: [{ user: 'U999OTHER', at: '2015-02-24T12:06:00.000Z' }],
      snooze: { until: '2015-02-24T16:00:00.000Z', hours: 4 }, // still in effect, no longer attributed
    });
    // Everyone else's votes stay: api:dashboard on the tweet, Alice on p1.
    expect(await store.accuracyByModel()).toEqual([{ modelVersion: 'v1', votes: 2, correct: 1, accuracy: 0.5 }]);

    // Again: nothing left to remove.
    const again = await erase(['--user', 'slack:T123:U456ABCDE'], env);
    expect(again.code).toBe(0);
    expect(counts(again.stdout, 'user slack:T123:U456ABCDE')['removed in all']).toBe(0);
  });

  test('a Teams user: their vote and their entry in the Teams alert state', async () => {
    const { code, stdout } = await erase(['--user', 'teams:tenant-1:aad-0001-alice'], env);
    expect(code).toBe(0);
    expect(counts(stdout, 'user teams:tenant-1:aad-0001-alice')).toMatchObject({
      votes: 1,
      'chat state entries': 1,
      'removed in all': 2,
    });
    expect(JSON.parse((await store.getCheckpoint('teams/alert:a1'))!).votes).toEqual({ 'aad-0002-bob': false });
  });

  test('--tweet removes the mention, its prediction, votes and links, and its copies in alerts and chat state', async () => {
    const { code, stdout, stderr } = await erase(['--tweet', `https://x.com/angry_flyer/status/${TWEET}`], env);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(counts(stdout, `tweet ${TWEET}`)).toEqual({
      votes: 1, // api:dashboard's (Jane's went with her)
      mentions: 1,
      predictions: 1,
      'message links': 1,
      'alert records rewritten': 1,
      'chat state entries': 2,
      'removed in all': 7,
    });
    expect(await store.countMentions()).toBe(1);
    expect(await store.getPrediction(`x:${TWEET}`)).toBeNull();
    expect(await store.findLink('slack', 'C1', '1.1')).toBeNull();
    const [alert] = await store.listAlerts();
    const everything = JSON.stringify(alert) + (await store.getCheckpoint('slack/alert:a1'));
    expect(everything).not.toContain(TWEET);
    expect(everything).not.toContain('Jane Doe');
    expect(everything).toContain('569587140490866690'); // the other tweet stays
    expect(await store.getCheckpoint('teams/card:conv-1/act-1')).toBeNull();
    expect(await store.getCheckpoint('x:airparadis')).toBe(TWEET); // the poller's cursor, not a copy
  });

  test('an X author: every stored tweet of theirs', async () => {
    const { code, stdout } = await erase(['--user', 'x:7654321'], env);
    expect(code).toBe(0);
    expect(counts(stdout, 'user x:7654321')).toMatchObject({ mentions: 1, predictions: 1 });
    expect(await store.countMentions()).toBe(0);
  });

  test('unknown user and tweet: 0 removed, exit 0', async () => {
    const { code, stdout } = await erase(['--user', 'slack:T1:UNOBODY1', '--tweet', '1'], env);
    expect(code).toBe(0);
    expect(counts(stdout, 'user slack:T1:UNOBODY1')['removed in all']).toBe(0);
    expect(counts(stdout, 'tweet 1')['removed in all']).toBe(0);
  });

  test('a key other than the one the votes were hashed with: refused, exit 1', async () => {
    const { code, stdout, stderr } = await erase(['--user', 'slack:T123:U456ABCDE'], {
      ...db.env,
      PRIVACY_USER_ID_SECRET: 'another-secret-0123456789abcdefghijkl',
    });
    expect(code).toBe(1);
    expect(stderr).toBe(
      "privacy:erase: PRIVACY_USER_ID_SECRET is not the key this database's votes were hashed with: set it exactly as the server has it (or unset it if the server has none)\n",
    );
    expect(stdout).not.toMatch(/votes/);
  });
});

describe('npm run privacy:erase: bad arguments and configuration', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['nothing to erase', [], /^privacy:erase: say what to erase: --user <id> or --tweet <id>\nusage: /],
    ['an unknown option', ['--everyone'], /^privacy:erase: Unknown option '--everyone'/],
    ['a missing value', ['--user'], /^privacy:erase: Option '--user <value>' argument missing/],
    [
      'a raw platform id',
      ['--user', 'U456ABCDE'],
      /^privacy:erase: --user "U456ABCDE" is not a namespaced id: write slack:<team id>:<user id>/,
    ],
    ['a tweet id that is not one', ['--tweet', 'abc'], /^privacy:erase: --tweet "abc" is neither a tweet id/],
  ];
  test.each(cases)('%s: usage on stderr, exit 2', async (_what, args, message) => {
    const { code, stdout, stderr } = await erase(args, { SQLITE_PATH: '/nonexistent/never-opened.db' });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr).toContain('usage: npm run privacy:erase -- --user <id> | --tweet <id>');
  });

  test('production mode without PRIVACY_USER_ID_SECRET: refused, exit 1', async () => {
    const { code, stderr } = await erase(['--tweet', '1'], { NODE_ENV: 'production' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^privacy:erase: PRIVACY_USER_ID_SECRET is not set/);
  });

  test('a bad setting names it, exit 1', async () => {
    const { code, stderr } = await erase(['--tweet', '1'], { PRIVACY_USER_ID_SECRET: 'short' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/PRIVACY_USER_ID_SECRET: expected at least 32 characters/);
  });
});
