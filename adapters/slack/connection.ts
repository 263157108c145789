/**
 * Slack's side of start-up, kept out of the way of everything else: who the bot is (auth.test), and the
 * alert channels it must be a member of. Slack may be unreachable when Sentinel starts (a network blip, an
 * outage): then Sentinel starts anyway, says so in `/ready` (slack: down) and tries again in the
 * background with a growing pause, and comes back by itself. A token Slack refuses is a configuration
 * error (ConfigError naming SLACK_BOT_TOKEN): no retry can fix it.
 *
 * Alert channels: Slack only sends `reaction_added` for conversations the bot is in, so ✅ / ❌ on an alert
 * posted through `chat:write.public` would never arrive. Once the bot is known it joins every public alert
 * channel (`conversations.join`, scope `channels:join`; `#names` found with `conversations.list`, scope
 * `channels:read`) and warns by name about each one it cannot join (a private channel: invite the bot).
 */
import { webApi } from '@slack/bolt';
import { ConfigError } from '../../config/schema';
import type { Logger } from '../../src/log';
import type { DependencyHealth } from '../../src/ops/health';
import { publicChannelsByName } from './channels';
import { SlackApi, slackErrorCode, webClientOptions } from './web';

export interface SlackIdentity {
  userId: string;
  botId?: string;
  team?: string;
}

/** Slack could not be reached (not a refusal): retried in the background. */
export class SlackUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SlackUnavailableError';
  }
}

const REFUSED_TOKEN = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'not_allowed_token_type',
]);

export function isRefusedToken(code: string | undefined): boolean {
  return code !== undefined && REFUSED_TOKEN.has(code);
}

export interface SlackConnectionOptions {
  botToken: string;
  apiUrl: string;
  alertChannels: string[];
  /** The Web API with its retry layer, for the channel calls. */
  api: SlackApi;
  logger: Logger;
  /** First pause before trying again (ms), doubled up to `maxRetryMs`; defaults 5 s and 5 min. */
  retryMs?: number;
  maxRetryMs?: number;
  /** Runs once, when the bot is first known (e.g. Socket Mode's connection). A throw is retried like auth.test. */
  onConnected?: (me: SlackIdentity) => Promise<void>;
}

export class SlackConnection {
  private me: SlackIdentity | undefined;
  private connected = false;
  private failure: { reason: string; since: string } | undefined;
  private unjoined: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopped = false;
  private trying: Promise<void> | undefined;

  constructor(private readonly opts: SlackConnectionOptions) {}

  /** Tries once now; when Slack cannot be reached, keeps trying in the background. Throws only ConfigError. */
  async start(): Promise<void> {
    await this.tryNow();
  }

  /** Who the bot is; while unknown, one more try now (a request from Slack proves Slack is back). */
  async identity(): Promise<SlackIdentity> {
    if (!this.me) await this.tryNow();
    if (!this.me) throw new SlackUnavailableError(this.failure?.reason ?? 'Slack is not reachable yet');
    return this.me;
  }

  get known(): SlackIdentity | undefined {
    return this.me;
  }

  health(): DependencyHealth {
    if (!this.connected)
      return {
        status: 'down',
        reason: this.failure?.reason ?? 'connecting to Slack',
        ...(this.failure ? { since: this.failure.since } : {}),
      };
    if (this.unjoined.length)
      return {
        status: 'degraded',
        reason: `not a member of ${this.unjoined.join(', ')}: reactions there are not received (invite the bot)`,
      };
    return { status: 'ok', ...(this.me?.team ? { team: this.me.team } : {}) };
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private tryNow(): Promise<void> {
    this.trying ??= this.connect().finally(() => (this.trying = undefined));
    return this.trying;
  }

  private async connect(): Promise<void> {
    if (this.connected || this.stopped) return;
    const { logger } = this.opts;
    try {
      this.me ??= await whoAmI(this.opts.botToken, this.opts.apiUrl, logger);
      await this.opts.onConnected?.(this.me);
      this.connected = true;
      clearTimeout(this.timer);
      if (this.failure) logger.info({ downSince: this.failure.since }, 'Slack reachable again');
      this.failure = undefined;
      this.attempt = 0;
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      const reason = (err as Error).message;
      this.failure = { reason, since: this.failure?.since ?? new Date().toISOString() };
      const wait = Math.min(this.opts.maxRetryMs ?? 300_000, (this.opts.retryMs ?? 5_000) * 2 ** this.attempt++);
      logger.warn(
        { retryInMs: wait },
        `Slack unreachable (${reason}); Sentinel serves on and tries again in ${Math.round(wait / 1000)} s`,
      );
      clearTimeout(this.timer);
      if (!this.stopped)
        this.timer = setTimeout(
          () => void this.tryNow().catch((e: unknown) => logger.error({ err: e }, 'Slack: cannot connect')),
          wait,
        );
      this.timer?.unref();
      return;
    }
    await this.joinAlertChannels();
  }

  /** Joins each public alert channel; says which it cannot join and why. */
  private async joinAlertChannels(): Promise<void> {
    const { api, logger, alertChannels } = this.opts;
    if (alertChannels.length === 0) return;
    const unjoined: string[] = [];
    let byName: Map<string, string> | undefined;
    for (const channel of alertChannels) {
      try {
        let id = channel;
        if (channel.startsWith('#')) {
          byName ??= await publicChannelsByName(api);
          const found = byName.get(channel.slice(1));
          if (!found) {
            unjoined.push(channel);
            logger.warn({ channel }, `Slack: no public channel ${channel}: if it is private, invite the bot to it`);
            continue;
          }
          id = found;
        }
        await api.call('conversations.join', () => api.client.conversations.join({ channel: id }));
        logger.info({ channel, id }, `Slack: member of ${channel}`);
      } catch (err) {
        const code = slackErrorCode(err) ?? (err as Error).message;
        unjoined.push(channel);
        logger.warn(
          { channel, error: code },
          code === 'missing_scope'
            ? `Slack: cannot join ${channel}: the app lacks the channels:join scope (reinstall it with adapters/slack/manifest.yml)`
            : `Slack: cannot join ${channel} (${code}): invite the bot to it, or ✅ / ❌ on alerts there will not be received`,
        );
      }
    }
    this.unjoined = unjoined;
  }
}

/** auth.test with the bot token: who the bot is; a refused token is a ConfigError, anything else unavailable. */
async function whoAmI(botToken: string, apiUrl: string, logger: Logger): Promise<SlackIdentity> {
  const client = new webApi.WebClient(botToken, { ...webClientOptions(apiUrl), timeout: 10_000 });
  const api = new SlackApi(client, { logger, maxAttempts: 2, backoffMs: 500, maxRetryAfterMs: 30_000 });
  try {
    const res = await api.call('auth.test', () => client.auth.test());
    if (!res.user_id) throw new Error('auth.test answered without user_id');
    return {
      userId: res.user_id,
      ...(res.bot_id ? { botId: res.bot_id } : {}),
      ...(res.team ? { team: res.team } : {}),
    };
  } catch (err) {
    const code = slackErrorCode(err);
    if (isRefusedToken(code))
      throw new ConfigError([
        {
          setting: 'SLACK_BOT_TOKEN',
          message: `Slack refused this token (${code}): copy the Bot User OAuth Token again`,
        },
      ]);
    throw new SlackUnavailableError(
      `cannot reach the Slack Web API at SLACK_API_URL=${apiUrl}: ${code ?? (err as Error).message}`,
    );
  } finally {
    api.stop();
  }
}
