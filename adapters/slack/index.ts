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
 * refuses: a ConfigError naming SLACK_BOT_TOKEN. Slack unreachable at start-up: the adapter starts anyway
 * and connects in the background (./connection.ts), joining the alert channels once it can.
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
import { SlackConnection, SlackUnavailableError, isRefusedToken } from './connection';
import type { DependencyHealth } from '../../src/ops/health';
import type { DigestProvider, DigestSink } from '../../src/trends/digest';
import { SlackDigestSink } from './digest-sink';

export { SlackUnavailableError } from './connection';

export type { AlertControls } from './alerts';
export type { PollStatus } from './handlers';

export type SlackConfig = Pick<
  Config,
  | 'slackBotToken'
  | 'slackSigningSecret'
  | 'slackAppToken'
  | 'slackAlertChannels'
  | 'slackOpsChannel'
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
  /** SLACK_OPS_CHANNEL: where ops notices and ops alerts go; empty: the alert channels. */
  opsChannels: string[];
  apiUrl: string;
  threadUpdateMinutes: number;
}

/** Slack's settings checked together: null when Slack is off (none set), else the mode; throws ConfigError. */
export function slackSettings(config: SlackConfig): SlackSettings | null {
  const { slackBotToken, slackSigningSecret, slackAppToken, slackAlertChannels } = config;
  const any =
    slackBotToken ||
    slackSigningSecret ||
    slackAppToken ||
    slackAlertChannels?.length ||
    config.slackOpsChannel?.length;
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
  for (const [setting, channels] of [
    ['SLACK_ALERT_CHANNELS', slackAlertChannels],
    ['SLACK_OPS_CHANNEL', config.slackOpsChannel],
  ] as const) {
    for (const channel of channels ?? []) {
      if (!/^([CGD][A-Z0-9]{2,}|#[a-z0-9][a-z0-9_-]{0,79})$/.test(channel)) {
        problems.push({
          setting,
          message: `expected channel ids (C0123ABCD) or #names (lower case), got ${JSON.stringify(channel)}`,
        });
        break;
      }
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    mode: slackAppToken ? 'socket' : 'http',
    botToken: slackBotToken!,
    ...(slackSigningSecret ? { signingSecret: slackSigningSecret } : {}),
    ...(slackAppToken ? { appToken: slackAppToken } : {}),
    alertChannels: slackAlertChannels ?? [],
    opsChannels: config.slackOpsChannel ?? [],
    apiUrl: config.slackApiUrl,
    threadUpdateMinutes: config.slackThreadUpdateMinutes,
  };
}

/** Slack's Web API could not be reached at start-up (network, outage): not a settings problem. */

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
  /** The daily digests (src/trends/digest.ts), for `/sentiment digest`; a getter when built after. */
  digests?: DigestProvider | (() => DigestProvider | undefined);
  /** Tests: the retry layer's options (e.g. a shorter backoff) and the clock of the thread-reply rate limit. */
  apiOptions?: Partial<SlackApiOptions>;
  /** Tests: the background reconnection's pauses. */
  connectionOptions?: { retryMs?: number; maxRetryMs?: number };
  now?: () => number;
}

export interface SlackAdapter {
  mode: 'http' | 'socket';
  /** Alerts into SLACK_ALERT_CHANNELS, ops notices and alerts into SLACK_OPS_CHANNEL; undefined when neither is set. */
  sink?: ChatSink;
  /** The daily digest into SLACK_ALERT_CHANNELS (give it to the DigestSchedule); undefined when none is set. */
  digestSink?: DigestSink;
  bolt: App;
  /** The bot's user id (auth.test); undefined until Slack could be reached. */
  readonly botUserId: string | undefined;
  /** Reachable, members of the alert channels, or why not (for /ready). */
  health(): DependencyHealth;
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
  const blog = boltLogger(logger);
  const receiver =
    settings.mode === 'socket'
      ? new SocketModeReceiver({
          appToken: settings.appToken!,
          logger: blog,
          installerOptions: { clientOptions: { slackApiUrl: webClientOptions(settings.apiUrl).slackApiUrl } },
        })
      : new FastifyReceiver({ server: deps.app!, signingSecret: settings.signingSecret!, logger });
  const client = new webApi.WebClient(settings.botToken, webClientOptions(settings.apiUrl, blog));
  const api = new SlackApi(client, { logger, ...deps.apiOptions });
  // Slack may be unreachable now: the adapter starts anyway and learns who the bot is when it can.
  const connection = new SlackConnection({
    botToken: settings.botToken,
    apiUrl: settings.apiUrl,
    // The ops channel too: a post there is looked up after a crash, which needs the bot in the channel.
    alertChannels: [...new Set([...settings.alertChannels, ...settings.opsChannels])],
    api,
    logger,
    ...deps.connectionOptions,
    ...(settings.mode === 'socket' ? { onConnected: () => startSocket() } : {}),
  });
  // Bolt asks who the bot is at each event (ignoring its own), not at construction: no call at start.
  const bolt = new App({
    authorize: async () => {
      const me = await connection.identity();
      return { botToken: settings.botToken, botUserId: me.userId, ...(me.botId ? { botId: me.botId } : {}) };
    },
    receiver,
    logger: blog,
    clientOptions: webClientOptions(settings.apiUrl, blog),
  });
  const startSocket = async () => {
    try {
      await bolt.start();
    } catch (err) {
      await bolt.stop().catch(() => undefined);
      const code = slackErrorCode(err);
      if (isRefusedToken(code))
        throw new ConfigError([
          {
            setting: 'SLACK_APP_TOKEN',
            message: `Slack refused this app-level token (${code}); it needs connections:write`,
          },
        ]);
      throw new SlackUnavailableError(`cannot start Slack Socket Mode: ${code ?? (err as Error).message}`);
    }
  };
  const trends =
    typeof deps.trends === 'function' ? deps.trends : (): AlertControls | undefined => deps.trends as AlertControls;
  const serial = new Serial();
  const inFlight = new InFlight();
  const threadOf = new Map<string, string>();
  const sink =
    settings.alertChannels.length || settings.opsChannels.length
      ? new SlackAlertSink({
          api,
          store: deps.store,
          channels: settings.alertChannels,
          opsChannels: settings.opsChannels,
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
    ...(deps.digests
      ? {
          digests:
            typeof deps.digests === 'function'
              ? deps.digests
              : (): DigestProvider | undefined => deps.digests as DigestProvider,
        }
      : {}),
    serial,
    inFlight,
    threadOf,
  });

  // Over HTTP, start() only mounts POST /slack/events on our server (before it listens): no network.
  if (settings.mode === 'http') await bolt.start();
  try {
    await connection.start();
  } catch (err) {
    api.stop();
    await bolt.stop().catch(() => undefined);
    throw err;
  }
  logger.info(
    {
      mode: settings.mode,
      bot: connection.known?.userId ?? 'not known yet (Slack unreachable)',
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
  const digestSink = settings.alertChannels.length
    ? new SlackDigestSink({ api, store: deps.store, channels: settings.alertChannels, logger, serial })
    : undefined;
  return {
    mode: settings.mode,
    ...(sink ? { sink } : {}),
    ...(digestSink ? { digestSink } : {}),
    bolt,
    get botUserId() {
      return connection.known?.userId;
    },
    health: () => connection.health(),
    idle,
    stop: async () => {
      connection.stop();
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
