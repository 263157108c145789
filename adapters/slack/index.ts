/**
 * The Slack adapter (@slack/bolt): `/sentiment`, ✅ / ❌ reactions as feedback, alerts in channels.
 *
 * The composition root calls `startSlack` once, after `buildServer` and BEFORE `app.listen` (HTTP mode
 * mounts POST /slack/events on that server), and adds the returned `sink` to the trend monitor's sinks:
 *
 *   const slack = await startSlack({ config, app, slot, store, predictionLog, logger, trends });
 *   if (slack?.sink) sinks.push(slack.sink);   // the array given to new TrendMonitor({ sinks })
 *   ...
 *   await slack?.stop();                       // at shutdown, after the server and the poller have stopped
 *
 * `startSlack` returns null when no SLACK_* setting is set; `sink` is undefined without
 * SLACK_ALERT_CHANNELS. `trends` may also be a getter (`() => monitor`) when the monitor is built later.
 *
 * Modes, chosen by the settings: Socket Mode when SLACK_APP_TOKEN (xapp-…) is set (no public URL: a
 * laptop); otherwise the Events API over HTTP on the same server as the API (Cloud Run), which needs
 * SLACK_SIGNING_SECRET. Missing or malformed settings: a ConfigError naming each one. A bot token Slack
 * refuses: a ConfigError naming SLACK_BOT_TOKEN. Slack unreachable at start-up: a SlackUnavailableError.
 */
import { App, LogLevel, SocketModeReceiver, webApi, type Logger as BoltLogger } from '@slack/bolt';
import type { FastifyInstance } from 'fastify';
import { ConfigError, type Config, type ConfigProblem } from '../../config/schema';
import type { PredictionLog } from '../../src/feedback/prediction-log';
import type { Logger } from '../../src/log';
import type { ScorerSlot } from '../../src/sentiment/scorer-slot';
import type { Store } from '../../src/store/types';
import type { ChatSink } from '../../src/trends/sink';
import { SlackAlertSink, type AlertControls } from './alerts';
import { registerHandlers, type PollStatus } from './handlers';
import { InFlight, Serial } from '../../src/chat/once';
import { FastifyReceiver } from './receiver';
import { SlackApi, slackErrorCode, webClientOptions, type SlackApiOptions } from './web';

export type { AlertControls } from './alerts';
export type { PollStatus } from './handlers';

export type SlackConfig = Pick<
  Config,
  | 'slackBotToken'
  | 'slackSigningSecret'
  | 'slackAppToken'
  | 'slackAlertChannels'
  | 'slackApiUrl'
  | 'slackThreadUpdateMinutes'
  | 'maxTextChars'
>;

export interface SlackSettings {
  mode: 'http' | 'socket';
  botToken: string;
  signingSecret?: string;
  appToken?: string;
  alertChannels: string[];
  apiUrl: string;
  threadUpdateMinutes: number;
}

/** Slack's settings checked together: null when Slack is off (none set), else the mode; throws ConfigError. */
export function slackSettings(config: SlackConfig): SlackSettings | null {
  const { slackBotToken, slackSigningSecret, slackAppToken, slackAlertChannels } = config;
  const any = slackBotToken || slackSigningSecret || slackAppToken || slackAlertChannels?.length;
  if (!any) return null;
  const problems: ConfigProblem[] = [];
  if (!slackBotToken) {
    problems.push({
      setting: 'SLACK_BOT_TOKEN',
      message:
        'expected a Slack bot token (xoxb-…, "OAuth & Permissions" page of the app) because other SLACK_* settings are set, got nothing',
    });
  }
  if (!slackAppToken && !slackSigningSecret) {
    problems.push({
      setting: 'SLACK_SIGNING_SECRET',
      message:
        'expected the app\'s signing secret ("Basic Information" page) for the Events API over HTTP, ' +
        'or set SLACK_APP_TOKEN (xapp-…) for Socket Mode instead; got nothing',
    });
  }
  for (const channel of slackAlertChannels ?? []) {
    if (!/^([CGD][A-Z0-9]{2,}|#[a-z0-9][a-z0-9_-]{0,79})$/.test(channel)) {
      problems.push({
        setting: 'SLACK_ALERT_CHANNELS',
        message: `expected channel ids (C0123ABCD) or #names (lower case), got ${JSON.stringify(channel)}`,
      });
      break;
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    mode: slackAppToken ? 'socket' : 'http',
    botToken: slackBotToken!,
    ...(slackSigningSecret ? { signingSecret: slackSigningSecret } : {}),
    ...(slackAppToken ? { appToken: slackAppToken } : {}),
    alertChannels: slackAlertChannels ?? [],
    apiUrl: config.slackApiUrl,
    threadUpdateMinutes: config.slackThreadUpdateMinutes,
  };
}

/** Slack's Web API could not be reached at start-up (network, outage): not a settings problem. */
export class SlackUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SlackUnavailableError';
  }
}

export interface SlackDeps {
  config: SlackConfig;
  /** The HTTP API's fastify server (src/http/server.ts), not yet listening: HTTP mode mounts POST /slack/events. */
  app?: FastifyInstance;
  slot: ScorerSlot;
  store: Store;
  predictionLog: PredictionLog;
  logger: Logger;
  /** The trend module (its TrendMonitor fits): snoozes and `/sentiment status`. A getter, as the monitor may be built after. */
  trends?: AlertControls | (() => AlertControls | undefined);
  /** The last poll of each stream, for `/sentiment status` (optional). */
  polls?: () => PollStatus[];
  /** The slash command's name (default /sentiment, as in manifest.yml). */
  command?: string;
  /** Tests: the retry layer's options (e.g. a shorter backoff) and the clock of the thread-reply rate limit. */
  apiOptions?: Partial<SlackApiOptions>;
  now?: () => number;
}

export interface SlackAdapter {
  mode: 'http' | 'socket';
  /** Alerts into SLACK_ALERT_CHANNELS; undefined when none is set. */
  sink?: ChatSink;
  bolt: App;
  /** The bot's user id (auth.test). */
  botUserId: string;
  /** Resolves when the work in flight (answers being posted, reactions, alert steps) is done. */
  idle(): Promise<void>;
  /** Stops Socket Mode, cuts Web API waits short and waits for the work in flight. */
  stop(): Promise<void>;
}

/** The pino logger as Bolt's Logger. */
export function boltLogger(logger: Logger): BoltLogger {
  const log = logger.child({ component: 'slack-bolt' });
  let level = LogLevel.INFO;
  const line = (msgs: unknown[]) => msgs.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join(' ');
  return {
    debug: (...msgs) => log.debug(line(msgs)),
    info: (...msgs) => log.info(line(msgs)),
    warn: (...msgs) => log.warn(line(msgs)),
    error: (...msgs) => log.error(line(msgs)),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

const REFUSED_TOKEN = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'not_allowed_token_type',
]);

/** auth.test with the bot token: who the bot is, or a clear error naming the setting. */
async function whoAmI(
  settings: SlackSettings,
  logger: Logger,
): Promise<{ userId: string; botId?: string; team?: string }> {
  const client = new webApi.WebClient(settings.botToken, { ...webClientOptions(settings.apiUrl), timeout: 10_000 });
  const api = new SlackApi(client, { logger, maxAttempts: 3, backoffMs: 500, maxRetryAfterMs: 30_000 });
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
    if (code && REFUSED_TOKEN.has(code)) {
      throw new ConfigError([
        {
          setting: 'SLACK_BOT_TOKEN',
          message: `Slack refused this token (${code}): copy the Bot User OAuth Token again`,
        },
      ]);
    }
    throw new SlackUnavailableError(
      `cannot reach the Slack Web API at SLACK_API_URL=${settings.apiUrl}: ${code ?? (err as Error).message}`,
    );
  }
}

/** Starts the Slack adapter, or returns null when no Slack setting is set. See the header for the wiring. */
export async function startSlack(deps: SlackDeps): Promise<SlackAdapter | null> {
  const settings = slackSettings(deps.config);
  if (!settings) {
    deps.logger.info('Slack off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN) to turn it on');
    return null;
  }
  const logger = deps.logger.child({ component: 'slack' });
  if (settings.mode === 'http' && !deps.app) {
    throw new Error('Slack over HTTP needs the HTTP server: pass `app` (src/http/server.ts) to startSlack');
  }
  const me = await whoAmI(settings, logger);

  const blog = boltLogger(logger);
  const receiver =
    settings.mode === 'socket'
      ? new SocketModeReceiver({
          appToken: settings.appToken!,
          logger: blog,
          installerOptions: { clientOptions: { slackApiUrl: webClientOptions(settings.apiUrl).slackApiUrl } },
        })
      : new FastifyReceiver({ server: deps.app!, signingSecret: settings.signingSecret!, logger });
  const bolt = new App({
    token: settings.botToken,
    botUserId: me.userId,
    ...(me.botId ? { botId: me.botId } : {}),
    receiver,
    logger: blog,
    clientOptions: webClientOptions(settings.apiUrl, blog),
  });
  const api = new SlackApi(bolt.client, { logger, ...deps.apiOptions });
  const trends =
    typeof deps.trends === 'function' ? deps.trends : (): AlertControls | undefined => deps.trends as AlertControls;
  const serial = new Serial();
  const inFlight = new InFlight();
  const threadOf = new Map<string, string>();
  const sink = settings.alertChannels.length
    ? new SlackAlertSink({
        api,
        store: deps.store,
        channels: settings.alertChannels,
        threadUpdateMinutes: settings.threadUpdateMinutes,
        logger,
        serial,
        trends,
        threadOf,
        ...(deps.now ? { now: deps.now } : {}),
      })
    : undefined;
  registerHandlers(bolt, {
    api,
    slot: deps.slot,
    store: deps.store,
    predictionLog: deps.predictionLog,
    logger,
    maxTextChars: deps.config.maxTextChars,
    command: deps.command ?? '/sentiment',
    ...(sink ? { sink } : {}),
    trends,
    ...(deps.polls ? { polls: deps.polls } : {}),
    serial,
    inFlight,
    threadOf,
  });

  try {
    await bolt.start();
  } catch (err) {
    api.stop();
    await bolt.stop().catch(() => undefined);
    const code = slackErrorCode(err);
    if (settings.mode === 'socket' && code && REFUSED_TOKEN.has(code)) {
      throw new ConfigError([
        {
          setting: 'SLACK_APP_TOKEN',
          message: `Slack refused this app-level token (${code}); it needs connections:write`,
        },
      ]);
    }
    throw new SlackUnavailableError(`cannot start Slack ${settings.mode} mode: ${code ?? (err as Error).message}`);
  }
  logger.info(
    {
      mode: settings.mode,
      bot: me.userId,
      team: me.team,
      alertChannels: settings.alertChannels,
      ...(settings.mode === 'http' ? { url: '/slack/events' } : {}),
    },
    settings.mode === 'socket'
      ? 'Slack on (Socket Mode)'
      : 'Slack on (Events API at POST /slack/events on this server)',
  );
  if (!sink) logger.info('Slack alerts off: set SLACK_ALERT_CHANNELS to post alerts');

  const idle = async () => {
    await inFlight.settled();
    await serial.idle();
  };
  return {
    mode: settings.mode,
    ...(sink ? { sink } : {}),
    bolt,
    botUserId: me.userId,
    idle,
    stop: async () => {
      api.stop();
      try {
        if (receiver instanceof SocketModeReceiver) {
          // Bolt's stop() does not wait for the WebSocket's close handshake: wait for it (a bounded time).
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([receiver.client.disconnect(), new Promise((r) => (timer = setTimeout(r, 5000)))]).finally(
            () => clearTimeout(timer),
          );
        } else {
          await bolt.stop();
        }
      } catch (err) {
        logger.warn({ err }, 'slack: error while stopping');
      }
      await idle();
      logger.info('Slack stopped');
    },
  };
}
