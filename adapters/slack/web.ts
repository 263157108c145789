/**
 * Every Slack Web API call Sentinel makes goes through `SlackApi.call`: ONE retry layer, with rules.
 *
 * The WebClient itself is built with `retryConfig: { retries: 0 }` and `rejectRateLimitedCalls: true`
 * (see `webClientOptions`), so a failure surfaces here exactly once and is retried only here:
 *   - 429 (or `ok: false, error: "ratelimited"`): wait the Retry-After Slack gives, never less, then again.
 *     Slack did not process the request, so the retry cannot post twice.
 *   - a transient failure (HTTP 5xx, a network error, `internal_error`, `fatal_error`,
 *     `service_unavailable`, `request_timeout`): again after an exponential backoff with jitter.
 *   - anything else (`channel_not_found`, `invalid_blocks`, `not_in_channel`…): not retried, thrown.
 * After `maxAttempts` the error is logged with what was lost and thrown: the caller decides (the alert
 * sink throws so the trend monitor sends the alert again; a command tells the user). Nothing is dropped
 * silently. Steps that must happen once (a headline, a thread message) are remembered by their callers,
 * so a caller's own retry resumes where it stopped instead of posting again.
 *
 * Exactly once towards people (issue 12). A failure after which Slack may have done the work anyway (a
 * network error or a timeout, HTTP 5xx, `internal_error`, `fatal_error`) is ambiguous: blindly posting
 * again could show a message twice. So every post that must happen once carries a `StepMark`: the post
 * bears it as message metadata (`{ event_type: "sentinel_step", event_payload: { step } }`), and before
 * trying again after an ambiguous failure the message is looked up (`findStep`: conversations.history for
 * a channel post, conversations.replies for a thread reply, with `include_all_metadata`, from a little before
 * the intent): found, it is adopted instead of posted again. A chart has no metadata: its file share is
 * found by file name in the thread (`findFile`). The callers use the same lookups after a crash, for a step
 * whose intent they recorded and whose result they did not (adapters/slack/alerts.ts). Reading a channel
 * needs the bot in it and `channels:history` (`groups:history` for a private channel): see manifest.yml.
 */
import { webApi } from '@slack/bolt';
import type { Logger } from '../../src/log';

type WebClient = webApi.WebClient;
type WebClientOptions = webApi.WebClientOptions;

export interface SlackApiOptions {
  logger: Pick<Logger, 'warn' | 'error' | 'debug'>;
  /** Attempts per call, the first included (default 6). */
  maxAttempts?: number;
  /** First backoff for transient failures, doubled each time (default 1 s, at most 30 s). */
  backoffMs?: number;
  /** Longest Retry-After honoured; a longer one fails the call (default 10 min). */
  maxRetryAfterMs?: number;
  /** Injectable for tests. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Options for the WebClient (Bolt's `clientOptions`): no retry of its own, rate limits reported to us. */
export function webClientOptions(slackApiUrl: string, logger?: WebClientOptions['logger']): WebClientOptions {
  return {
    slackApiUrl: slackApiUrl.endsWith('/') ? slackApiUrl : `${slackApiUrl}/`,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 30_000,
    ...(logger ? { logger } : {}),
  };
}

const TRANSIENT_PLATFORM_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout']);
/** Slack's own words for these two: "it's possible some aspect of the operation succeeded". */
const AMBIGUOUS_PLATFORM_ERRORS = new Set(['internal_error', 'fatal_error']);

/**
 * What to do after a failed call. `maybeDone`: Slack may have done the work before failing (a network
 * error or timeout, HTTP 5xx, internal_error, fatal_error), so a post must be looked up before it is redone.
 */
export function classify(
  err: unknown,
): { retry: false } | { retry: true; afterMs?: number; reason: string; maybeDone: boolean } {
  const e = err as { code?: string; retryAfter?: number; statusCode?: number; data?: { error?: string } };
  switch (e?.code) {
    case webApi.ErrorCode.RateLimitedError:
      return {
        retry: true,
        afterMs: Math.max(0, Number(e.retryAfter) || 0) * 1000,
        reason: 'rate limited (429)',
        maybeDone: false,
      };
    case webApi.ErrorCode.RequestError:
      return { retry: true, reason: `network error: ${(err as Error).message}`, maybeDone: true };
    case webApi.ErrorCode.HTTPError:
      return (e.statusCode ?? 0) >= 500
        ? { retry: true, reason: `HTTP ${e.statusCode}`, maybeDone: true }
        : { retry: false };
    case webApi.ErrorCode.PlatformError: {
      const code = e.data?.error ?? '';
      if (code === 'ratelimited') return { retry: true, reason: 'rate limited', maybeDone: false };
      return TRANSIENT_PLATFORM_ERRORS.has(code)
        ? { retry: true, reason: code, maybeDone: AMBIGUOUS_PLATFORM_ERRORS.has(code) }
        : { retry: false };
    }
    default:
      return { retry: false };
  }
}

/** The metadata event type of Sentinel's own posts; `event_payload.step` names the step. */
export const STEP_EVENT_TYPE = 'sentinel_step';

/** A post that must happen once: its step key, carried as message metadata, and when it was decided. */
export interface StepMark {
  /** `<alert id>/<channel>/<step>` for an alert's steps; unique per post. */
  step: string;
  /** Wall-clock ms when the intent was recorded: the lookup starts `LOOKUP_MARGIN_MS` before. */
  since: number;
  /** Where to look it up when the post names its channel by #name: the channel's id (if known). */
  channelId?: string;
}

/** How far before an intent a lookup starts (a clock difference between this host and Slack). */
export const LOOKUP_MARGIN_MS = 5 * 60_000;
/** Pages of 200 messages a lookup reads at most before giving up (it then cannot tell). */
const LOOKUP_PAGES = 20;

export function stepMetadata(step: string): { event_type: string; event_payload: { step: string } } {
  return { event_type: STEP_EVENT_TYPE, event_payload: { step } };
}

/** A Slack `ts` for a wall-clock time in ms. */
export function slackTs(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(6);
}

/** A lookup that read everything it may and still could not tell. */
export class LookupIncompleteError extends Error {}

interface SeenMessage {
  ts?: string;
  bot_id?: string;
  metadata?: { event_type?: string; event_payload?: Record<string, unknown> };
  files?: Array<{ name?: string }>;
}

/** The Slack error code (`channel_not_found`…) of a failed call, if Slack gave one. */
export function slackErrorCode(err: unknown): string | undefined {
  const e = err as { code?: string; data?: { error?: string } };
  return e?.code === webApi.ErrorCode.PlatformError ? e.data?.error : undefined;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class SlackApi {
  private readonly abort = new AbortController();
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;

  constructor(
    readonly client: WebClient,
    private readonly opts: SlackApiOptions,
  ) {
    this.maxAttempts = opts.maxAttempts ?? 6;
    this.backoffMs = opts.backoffMs ?? 1000;
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 10 * 60_000;
    this.sleep = opts.sleep ?? abortableSleep;
  }

  /**
   * Runs `fn` (one Web API call, or a few that are safe to redo together), retrying as the header says.
   * `recheck`: after a failure where Slack may have done the work, asked before `fn` is run again; what it
   * finds (`{ value }`) is returned instead, and `null` (not done, or cannot tell) lets `fn` run again.
   */
  async call<T>(what: string, fn: () => Promise<T>, recheck?: () => Promise<{ value: T } | null>): Promise<T> {
    let mayBeDone = false; // an earlier attempt may have been done at Slack
    for (let attempt = 1; ; attempt++) {
      try {
        if (mayBeDone && recheck) {
          const found = await recheck().catch((err: unknown) => {
            this.opts.logger.warn({ err, call: what }, `Slack ${what}: could not check whether it was done; again`);
            return null;
          });
          if (found) {
            this.opts.logger.warn({ call: what, attempt }, `Slack ${what}: done at the previous attempt; not redone`);
            return found.value;
          }
        }
        return await fn();
      } catch (err) {
        const verdict = classify(err);
        if (verdict.retry && verdict.maybeDone) mayBeDone = true;
        if (!verdict.retry || attempt >= this.maxAttempts || this.abort.signal.aborted) {
          this.opts.logger.error(
            { err, call: what, attempts: attempt, slackError: slackErrorCode(err) },
            `Slack ${what} failed after ${attempt} attempt(s): ${(err as Error).message}`,
          );
          throw err;
        }
        const backoff = Math.min(30_000, this.backoffMs * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5);
        const waitMs = verdict.afterMs ?? backoff;
        if (waitMs > this.maxRetryAfterMs) {
          this.opts.logger.error({ call: what, waitMs }, `Slack ${what}: told to wait ${waitMs} ms, more than allowed`);
          throw err;
        }
        this.opts.logger.warn(
          { call: what, attempt, waitMs: Math.round(waitMs), reason: verdict.reason },
          `Slack ${what}: ${verdict.reason}; trying again in ${Math.round(waitMs)} ms`,
        );
        await this.sleep(waitMs, this.abort.signal);
      }
    }
  }

  /** Ends waits in progress (shutdown): their calls fail at once instead of sitting out a Retry-After. */
  stop(): void {
    this.abort.abort(new Error('the Slack adapter is stopping'));
  }

  /**
   * chat.postMessage. With a `mark` the message carries it as metadata, and after an ambiguous failure the
   * message is looked up (in its thread when `thread_ts` is given) before it is posted again.
   */
  postMessage(args: webApi.ChatPostMessageArguments, mark?: StepMark): Promise<{ channel: string; ts: string }> {
    const sent = (mark ? { ...args, metadata: stepMetadata(mark.step) } : args) as webApi.ChatPostMessageArguments;
    const thread = typeof args.thread_ts === 'string' ? args.thread_ts : undefined;
    return this.call(
      'chat.postMessage',
      async () => {
        const res = await this.client.chat.postMessage(sent);
        if (!res.channel || !res.ts) throw new Error('chat.postMessage answered without channel or ts');
        return { channel: res.channel, ts: res.ts };
      },
      mark
        ? async () => {
            const found = await this.findStep(mark.channelId ?? args.channel, mark, thread);
            return found ? { value: found } : null;
          }
        : undefined,
    );
  }

  /** Who the bot is (auth.test, asked once): its messages are the only ones a lookup adopts. */
  private me?: Promise<string | undefined>;
  private botId(): Promise<string | undefined> {
    this.me ??= this.call('auth.test', () => this.client.auth.test()).then(
      (res) => res.bot_id,
      () => {
        this.me = undefined; // ask again next time
        return undefined;
      },
    );
    return this.me;
  }

  /**
   * The messages of `channel` (top level: conversations.history, newest first) or of one thread
   * (conversations.replies, oldest first) since `oldestMs`, metadata included, page after page.
   * Throws LookupIncompleteError past LOOKUP_PAGES pages.
   */
  private async *since(channel: string, oldestMs: number, threadTs?: string): AsyncGenerator<SeenMessage> {
    let cursor: string | undefined;
    for (let page = 0; page < LOOKUP_PAGES; page++) {
      const common = {
        channel,
        oldest: slackTs(oldestMs),
        inclusive: true,
        include_all_metadata: true,
        limit: 200,
        ...(cursor ? { cursor } : {}),
      };
      const res = threadTs
        ? await this.call('conversations.replies', () => this.client.conversations.replies({ ...common, ts: threadTs }))
        : await this.call('conversations.history', () => this.client.conversations.history(common));
      for (const m of (res.messages ?? []) as SeenMessage[]) yield m;
      cursor = res.response_metadata?.next_cursor || undefined;
      if (!res.has_more || !cursor) return;
    }
    throw new LookupIncompleteError(
      `more than ${LOOKUP_PAGES * 200} messages in ${channel} since the intent: cannot tell whether it was posted`,
    );
  }

  /**
   * The message Sentinel posted for `mark` in `channel` (in the thread `threadTs` when given), or null when
   * there is none since a little before `mark.since`. Needs a channel id (not a #name). Throws when Slack
   * cannot be read (the caller cannot tell then).
   */
  async findStep(channel: string, mark: StepMark, threadTs?: string): Promise<{ channel: string; ts: string } | null> {
    const me = await this.botId();
    for await (const m of this.since(channel, mark.since - LOOKUP_MARGIN_MS, threadTs)) {
      const meta = m.metadata;
      if (meta?.event_type !== STEP_EVENT_TYPE || meta.event_payload?.step !== mark.step || !m.ts) continue;
      if (me && m.bot_id && m.bot_id !== me) continue; // another app's message (another Sentinel install?)
      return { channel, ts: m.ts };
    }
    return null;
  }

  /** Whether a file named `filename` was shared by the bot in the thread since a little before `sinceMs`. */
  async findFile(channel: string, threadTs: string, filename: string, sinceMs: number): Promise<boolean> {
    const me = await this.botId();
    for await (const m of this.since(channel, sinceMs - LOOKUP_MARGIN_MS, threadTs)) {
      if (me && m.bot_id && m.bot_id !== me) continue;
      if ((m.files ?? []).some((f) => f.name === filename)) return true;
    }
    return false;
  }

  async update(args: webApi.ChatUpdateArguments): Promise<void> {
    await this.call('chat.update', () => this.client.chat.update(args));
  }

  async postEphemeral(args: webApi.ChatPostEphemeralArguments): Promise<void> {
    await this.call('chat.postEphemeral', () => this.client.chat.postEphemeral(args));
  }

  /**
   * files.uploadV2 into a thread: getUploadURLExternal, the upload, completeUploadExternal; redone from the
   * start if it fails — after an ambiguous failure, only when the thread shows no file of that name since
   * `since` (wall-clock ms of the intent; default now).
   */
  async uploadFile(
    args: {
      channel: string;
      threadTs: string;
      file: Buffer;
      filename: string;
      title: string;
      altText?: string;
      comment?: string;
    },
    since = Date.now(),
  ): Promise<void> {
    await this.call(
      'files.uploadV2',
      async () => {
        await this.client.filesUploadV2({
          channel_id: args.channel,
          thread_ts: args.threadTs,
          file: args.file,
          filename: args.filename,
          title: args.title,
          ...(args.altText ? { alt_text: args.altText } : {}),
          ...(args.comment ? { initial_comment: args.comment } : {}),
        });
      },
      async () =>
        (await this.findFile(args.channel, args.threadTs, args.filename, since)) ? { value: undefined } : null,
    );
  }

  /** The reactions on a message (reactions:read), each with the users who added it. */
  async reactions(channel: string, ts: string): Promise<Array<{ name: string; users: string[] }>> {
    return this.call('reactions.get', async () => {
      const res = await this.client.reactions.get({ channel, timestamp: ts, full: true });
      return (res.message?.reactions ?? []).map((r) => ({ name: r.name ?? '', users: r.users ?? [] }));
    });
  }
}
