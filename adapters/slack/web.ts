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

/** What to do after a failed call. */
export function classify(err: unknown): { retry: false } | { retry: true; afterMs?: number; reason: string } {
  const e = err as { code?: string; retryAfter?: number; statusCode?: number; data?: { error?: string } };
  switch (e?.code) {
    case webApi.ErrorCode.RateLimitedError:
      return { retry: true, afterMs: Math.max(0, Number(e.retryAfter) || 0) * 1000, reason: 'rate limited (429)' };
    case webApi.ErrorCode.RequestError:
      return { retry: true, reason: `network error: ${(err as Error).message}` };
    case webApi.ErrorCode.HTTPError:
      return (e.statusCode ?? 0) >= 500 ? { retry: true, reason: `HTTP ${e.statusCode}` } : { retry: false };
    case webApi.ErrorCode.PlatformError: {
      const code = e.data?.error ?? '';
      if (code === 'ratelimited') return { retry: true, reason: 'rate limited' };
      return TRANSIENT_PLATFORM_ERRORS.has(code) ? { retry: true, reason: code } : { retry: false };
    }
    default:
      return { retry: false };
  }
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

  /** Runs `fn` (one Web API call, or a few that are safe to redo together), retrying as the header says. */
  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const verdict = classify(err);
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

  postMessage(args: webApi.ChatPostMessageArguments): Promise<{ channel: string; ts: string }> {
    return this.call('chat.postMessage', async () => {
      const res = await this.client.chat.postMessage(args);
      if (!res.channel || !res.ts) throw new Error('chat.postMessage answered without channel or ts');
      return { channel: res.channel, ts: res.ts };
    });
  }

  async update(args: webApi.ChatUpdateArguments): Promise<void> {
    await this.call('chat.update', () => this.client.chat.update(args));
  }

  async postEphemeral(args: webApi.ChatPostEphemeralArguments): Promise<void> {
    await this.call('chat.postEphemeral', () => this.client.chat.postEphemeral(args));
  }

  /** files.uploadV2 into a thread: getUploadURLExternal, the upload, completeUploadExternal; redone from the start if it fails. */
  async uploadFile(args: {
    channel: string;
    threadTs: string;
    file: Buffer;
    filename: string;
    title: string;
    altText?: string;
    comment?: string;
  }): Promise<void> {
    await this.call('files.uploadV2', () =>
      this.client.filesUploadV2({
        channel_id: args.channel,
        thread_ts: args.threadTs,
        file: args.file,
        filename: args.filename,
        title: args.title,
        ...(args.altText ? { alt_text: args.altText } : {}),
        ...(args.comment ? { initial_comment: args.comment } : {}),
      }),
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
