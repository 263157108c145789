/**
 * Exactly once towards people, for real (issue 12): a Sentinel process (test/helpers/slack-sink-child.ts)
 * posts an alert into the recording Slack Web API and is SIGKILLed by the server at the worst moment —
 * after Slack did the work (the headline posted, the chart shared, a mention posted) and before its answer
 * left — three times, then restarted each time on the same store (a SQLite file; a PostgreSQL schema). At
 * the end every message exists exactly once, the thread continues on the one headline, and each adopted
 * message is linked as if its answer had arrived.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { SlackApiServer, type SlackCall } from '../helpers/slack-api-server';
import { testStore, type TestStore } from '../helpers/stores';
import { CHILD_MENTIONS } from '../helpers/slack-sink-child';

const ROOT = resolve(__dirname, '../..');
const CHILD = join(ROOT, 'test/helpers/slack-sink-child.ts');
const TOKEN = 'xoxb-crash-test';
const OPENED_AT = '2026-03-05T09:00:00.000Z';

interface Run {
  signal: NodeJS.Signals | null;
  code: number | null;
  lines: Array<Record<string, unknown>>;
  stderr: string;
}

/** Runs the child until it exits; `killWhen` picks the call after which the server kills it, unanswered. */
function runChild(
  api: SlackApiServer,
  db: TestStore,
  alertId: string,
  killWhen?: (call: SlackCall, calls: SlackCall[]) => boolean,
): Promise<Run> {
  return new Promise((done, fail) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...db.env,
        SLACK_BOT_TOKEN: TOKEN,
        SLACK_API_URL: api.apiUrl,
        SLACK_ALERT_CHANNELS: 'CALERTS',
        ALERT_ID: alertId,
        OPENED_AT,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d));
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    api.beforeAnswer = killWhen
      ? async (call) => {
          if (!killWhen(call, api.calls)) return;
          api.beforeAnswer = undefined;
          child.kill('SIGKILL');
          await exited; // the answer is written to a process that no longer exists
        }
      : undefined;
    child.on('error', fail);
    child.on('exit', (code, signal) =>
      done({
        code,
        signal,
        stderr,
        lines: stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      }),
    );
  });
}

/** The run found `step` of the alert in Slack and adopted it (one log line says both). */
const adopted = (run: Run, step: string) =>
  run.lines.some((l) => {
    const msg = String(l.msg ?? '');
    return msg.startsWith(`slack: ${step} of alert`) && msg.endsWith('adopted, not posted again');
  });

describe.each([['sqlite'], ['postgres']] as const)('a Slack post interrupted by SIGKILL, on %s', (kind) => {
  let api: SlackApiServer;
  let db: TestStore;

  beforeAll(async () => {
    api = await SlackApiServer.start(TOKEN);
    api.joined.add('CALERTS'); // the bot is a member of its alert channel (it joins it at start)
    db = testStore(kind);
    await db.open(); // creates (and migrates) the schema the child's DATABASE_URL points at
  });

  afterAll(async () => {
    await db?.cleanup();
    await api?.close();
  });

  it('is adopted after a restart, never posted twice: headline, chart and mention each exist once', async () => {
    const alertId = `AirParadis@${OPENED_AT}`;
    const posts = () => api.calls.filter((c) => c.method === 'chat.postMessage' && c.ok);
    const isHeadline = (c: SlackCall) => c.method === 'chat.postMessage' && !c.args.thread_ts;

    // 1. Killed once Slack has posted the headline: the process never learns its ts.
    const run1 = await runChild(api, db, alertId, isHeadline);
    expect(run1.signal).toBe('SIGKILL');
    expect(posts()).toHaveLength(1);

    // 2. Restarted: the headline is found by its metadata (conversations.history) and adopted. Killed once
    //    the chart is shared in its thread.
    const run2 = await runChild(api, db, alertId, (c) => c.method === 'files.completeUploadExternal');
    expect(run2.signal).toBe('SIGKILL');
    expect(adopted(run2, 'the headline')).toBe(true);
    expect(posts().filter(isHeadline)).toHaveLength(1);
    const history = api.calls.find((c) => c.method === 'conversations.history')!;
    expect(history.args).toMatchObject({ channel: 'CALERTS', include_all_metadata: 'true', inclusive: 'true' });
    expect(Number(history.args.oldest)).toBeGreaterThan(Date.now() / 1000 - 3600); // bounded by the intent

    // 3. Restarted: the chart is found in the thread by its file name; the first mention is posted, and the
    //    process is killed once Slack has posted the second.
    const run3 = await runChild(
      api,
      db,
      alertId,
      (c, calls) =>
        c.method === 'chat.postMessage' &&
        Boolean(c.args.thread_ts) &&
        calls.filter((x) => x.method === 'chat.postMessage' && x.args.thread_ts).length === 2,
    );
    expect(run3.signal).toBe('SIGKILL');
    expect(adopted(run3, 'chart:open')).toBe(true);
    expect(api.calls.filter((c) => c.method === 'files.completeUploadExternal')).toHaveLength(1);

    // 4. Restarted: the second mention is found in the thread (conversations.replies) and adopted; the third
    //    is posted; the run ends.
    const run4 = await runChild(api, db, alertId);
    expect(run4.stderr).toBe('');
    expect(run4.code).toBe(0);
    expect(run4.lines.some((l) => l.done === true)).toBe(true);
    expect(adopted(run4, 'mention:9200000000000000001')).toBe(true);
    expect(api.calls.some((c) => c.method === 'conversations.replies' && c.args.include_all_metadata === 'true')).toBe(
      true,
    );

    // Each message exactly once, and the thread continues on the one headline.
    const messages = [...api.messages.values()];
    const headlines = messages.filter((m) => m.channel === 'CALERTS' && !m.thread_ts);
    expect(headlines).toHaveLength(1);
    const headline = headlines[0];
    expect(headline.metadata).toEqual({
      event_type: 'sentinel_step',
      event_payload: { step: `${alertId}/CALERTS/headline` },
    });
    const thread = messages.filter((m) => m.thread_ts === headline.ts);
    expect(thread.map((m) => m.text?.replace(/^\d+ % negative: /, ''))).toEqual(CHILD_MENTIONS);
    expect(thread.map((m) => m.metadata?.event_payload.step)).toEqual(
      CHILD_MENTIONS.map((_, i) => `${alertId}/CALERTS/mention:920000000000000000${i}`),
    );
    expect(posts()).toHaveLength(1 + CHILD_MENTIONS.length);
    const shares = [...api.fileMessages.values()];
    expect(shares).toHaveLength(1);
    expect(shares[0]).toMatchObject({ channel: 'CALERTS', thread_ts: headline.ts });

    // The adopted messages are linked as if their answers had arrived; nothing is left begun.
    const store = await db.open();
    expect((await store.findLink('slack', 'CALERTS', headline.ts))?.alertId).toBe(alertId);
    for (const [i, m] of thread.entries()) {
      expect((await store.findLink('slack', 'CALERTS', m.ts))?.predictionId).toBe(`x:920000000000000000${i}`);
    }
    const state = JSON.parse((await store.getCheckpoint(`slack/alert:${alertId}`))!);
    expect(state.begun ?? {}).toEqual({});
    expect(state.threads.CALERTS).toMatchObject({ channel: 'CALERTS', ts: headline.ts, begun: {} });
    expect([...state.threads.CALERTS.done].sort()).toEqual(
      ['chart:open', ...CHILD_MENTIONS.map((_, i) => `mention:920000000000000000${i}`)].sort(),
    );
  }, 120_000);
});
