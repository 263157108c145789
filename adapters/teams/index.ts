/**
 * The Microsoft Teams adapter (botbuilder: CloudAdapter, ConfigurationBotFrameworkAuthentication,
 * TeamsActivityHandler): `sentiment <text>`, `help`, `status`, ✅ / ❌ buttons and reactions as feedback,
 * alerts posted proactively to the conversations the app is installed in (with Acknowledge / Snooze). Everything Teams-specific lives
 * in this folder, so a move to the Microsoft 365 Agents SDK touches nothing else.
 *
 * The composition root calls `startTeams` once, BEFORE the HTTP server listens (it mounts POST
 * /api/messages on it), and adds the returned `sink` to the trend monitor's sinks:
 *
 *   const teams = startTeams({ config, app, slot, store, predictionLog, logger, trends: () => trends });
 *   if (teams) sinks.push(teams.sink);   // null when Teams is off
 *   ...
 *   await teams?.stop();                 // at shutdown, after the server has closed
 *
 * On when MicrosoftAppId is set (Bot Framework authentication on: every activity's token is checked, and
 * replies only go to the Bot Framework's own hosts, ./service-url), or with TEAMS_ENABLED=true and no app
 * id (authentication OFF, as the Bot Framework Emulator expects — said at start-up), which is allowed only
 * when the server listens on a loopback address (HOST 127.0.0.1, ::1 or localhost), and then replies only
 * go to this machine. Missing, malformed or unsafe settings: a ConfigError naming each one.
 */
import { ConfigurationBotFrameworkAuthentication, type TurnContext } from 'botbuilder';
import type { FastifyInstance } from 'fastify';
import { ConfigError, isLoopback, type Config, type ConfigProblem } from '../../config/schema';
import type { PredictionLog } from '../../src/feedback/prediction-log';
import type { Logger } from '../../src/log';
import type { ScorerSlot } from '../../src/sentiment/scorer-slot';
import type { Store } from '../../src/store/types';
import type { ChatSink } from '../../src/trends/sink';
import { TeamsAlertSink } from './alerts';
import { SentinelTeamsBot, type TeamsTrends } from './bot';
import { ConversationRegistry, SCOPES, type Scope } from './conversations';
import { MESSAGES_PATH, SentinelCloudAdapter, mountMessagesRoute } from './http';
import { JudgedCards } from './judged';
import { InFlight, Serial } from '../../src/chat/once';
import { Outbound } from './outbound';
import { botFrameworkServiceUrls, loopbackServiceUrls } from './service-url';
import type { DigestProvider, DigestSink } from '../../src/trends/digest';
import { TeamsDigestSink } from './digest-sink';

export type { TeamsTrends } from './bot';

export type TeamsConfig = Pick<
  Config,
  | 'teamsEnabled'
  | 'microsoftAppId'
  | 'microsoftAppPassword'
  | 'microsoftAppType'
  | 'microsoftAppTenantId'
  | 'teamsAlertScopes'
  | 'teamsOpsConversations'
  | 'maxTextChars'
  | 'host'
>;

export interface TeamsSettings {
  /** null: no authentication (the Emulator). */
  auth: {
    appId: string;
    appType: 'MultiTenant' | 'SingleTenant' | 'UserAssignedMSI';
    password?: string;
    tenantId?: string;
  } | null;
  alertScopes: Scope[];
  /** TEAMS_OPS_CONVERSATIONS: where ops notices and ops alerts go; empty: where alerts go. */
  opsConversations: string[];
}

/** Teams' settings checked together: null when Teams is off; throws ConfigError naming each bad one. */
export function teamsSettings(config: TeamsConfig): TeamsSettings | null {
  const { teamsEnabled, microsoftAppId, microsoftAppPassword, microsoftAppType, microsoftAppTenantId } = config;
  if (teamsEnabled === false) return null;
  const anyMicrosoft = microsoftAppId || microsoftAppPassword || microsoftAppType || microsoftAppTenantId;
  if (!teamsEnabled && !anyMicrosoft) return null;

  const problems: ConfigProblem[] = [];
  const alertScopes: Scope[] = [];
  for (const item of config.teamsAlertScopes) {
    const scope = SCOPES.find((s) => s.toLowerCase() === item.toLowerCase());
    if (scope) {
      if (!alertScopes.includes(scope)) alertScopes.push(scope);
    } else {
      problems.push({
        setting: 'TEAMS_ALERT_SCOPES',
        message: `expected conversation kinds among ${SCOPES.join(', ')}, got ${JSON.stringify(item)}`,
      });
      break;
    }
  }
  let auth: TeamsSettings['auth'] = null;
  if (!microsoftAppId) {
    if (!isLoopback(config.host)) {
      problems.push({
        setting: 'TEAMS_ENABLED / HOST',
        message:
          `TEAMS_ENABLED=true without MicrosoftAppId accepts unauthenticated activities (Bot Framework Emulator), ` +
          `allowed only on a loopback address, and HOST=${config.host} is not one: set MicrosoftAppId and ` +
          'MicrosoftAppPassword, or listen on HOST=127.0.0.1',
      });
    }
    if (anyMicrosoft) {
      const set = (
        [
          ['MicrosoftAppPassword', microsoftAppPassword],
          ['MicrosoftAppType', microsoftAppType],
          ['MicrosoftAppTenantId', microsoftAppTenantId],
        ] as const
      )
        .filter(([, v]) => v)
        .map(([n]) => n);
      problems.push({
        setting: 'MicrosoftAppId',
        message: `expected the bot's Microsoft app id (a GUID, Azure Bot → Configuration) because ${set.join(', ')} ${set.length > 1 ? 'are' : 'is'} set, got nothing`,
      });
    }
  } else {
    const appType = microsoftAppType ?? 'MultiTenant';
    if (appType === 'UserAssignedMSI') {
      if (microsoftAppPassword)
        problems.push({
          setting: 'MicrosoftAppPassword',
          message: 'must not be set with MicrosoftAppType=UserAssignedMSI (the managed identity has no password)',
        });
    } else if (!microsoftAppPassword) {
      problems.push({
        setting: 'MicrosoftAppPassword',
        message: `expected the bot's client secret (Azure Bot → Configuration → Manage Password) for a ${appType} app, got nothing`,
      });
    }
    if (appType !== 'MultiTenant' && !microsoftAppTenantId) {
      problems.push({
        setting: 'MicrosoftAppTenantId',
        message: `expected the Microsoft Entra tenant id (a GUID) for a ${appType} app, got nothing`,
      });
    }
    auth = {
      appId: microsoftAppId,
      appType,
      ...(microsoftAppPassword ? { password: microsoftAppPassword } : {}),
      ...(microsoftAppTenantId ? { tenantId: microsoftAppTenantId } : {}),
    };
  }
  if (problems.length) throw new ConfigError(problems);
  return { auth, alertScopes, opsConversations: config.teamsOpsConversations ?? [] };
}

export interface TeamsDeps {
  config: TeamsConfig;
  /** The HTTP API's fastify server (src/http/server.ts), not yet listening: POST /api/messages is mounted on it. */
  app: FastifyInstance;
  slot: ScorerSlot;
  store: Store;
  predictionLog: PredictionLog;
  logger: Logger;
  /**
   * The trend module (its TrendMonitor fits), for `status` and the alert card's Snooze. A getter, as the
   * monitor may be built after.
   */
  trends?: TeamsTrends | (() => TeamsTrends | undefined);
  /**
   * Tests: where the signing keys of Bot Framework tokens are published (OpenID metadata URLs), instead of
   * login.botframework.com (channel tokens) and login.microsoftonline.com (Emulator tokens).
   */
  openIdMetadata?: { channel?: string; emulator?: string };
  /** The daily digests (src/trends/digest.ts), for `digest`; a getter when built after. */
  digests?: DigestProvider | (() => DigestProvider | undefined);
}

export interface TeamsAdapter {
  /** Alerts into the conversations the app is installed in. */
  sink: ChatSink;
  /** The daily digest into the same conversations (give it to the DigestSchedule). */
  digestSink: DigestSink;
  adapter: SentinelCloudAdapter;
  bot: SentinelTeamsBot;
  authEnabled: boolean;
  /** Resolves when the work in flight (answers, votes, alert steps) is done. */
  idle(): Promise<void>;
  /** Waits for the work in flight (the HTTP server is closed by the composition root). */
  stop(): Promise<void>;
}

/**
 * botbuilder's public-cloud endpoints with other OpenID metadata URLs (tests). botbuilder takes its
 * endpoints either all from its constants or all from the configuration, so all are given: the values of
 * its AuthenticationConstants (and CallerIdConstants.PublicAzureChannel).
 */
function publicCloud(metadata: NonNullable<TeamsDeps['openIdMetadata']>): Record<string, string | boolean> {
  return {
    ValidateAuthority: true,
    ToChannelFromBotLoginUrl: 'https://login.microsoftonline.com/botframework.com',
    ToChannelFromBotOAuthScope: 'https://api.botframework.com',
    ToBotFromChannelTokenIssuer: 'https://api.botframework.com',
    OAuthUrl: 'https://api.botframework.com',
    ToBotFromChannelOpenIdMetadataUrl:
      metadata.channel ?? 'https://login.botframework.com/v1/.well-known/openidconfiguration',
    ToBotFromEmulatorOpenIdMetadataUrl:
      metadata.emulator ?? 'https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration',
    CallerId: 'urn:botframework:azure',
  };
}

/** Starts the Teams adapter, or returns null when Teams is off. See the header for the wiring. */
export function startTeams(deps: TeamsDeps): TeamsAdapter | null {
  const settings = teamsSettings(deps.config);
  if (!settings) {
    deps.logger.info(
      'Teams off: set MicrosoftAppId and MicrosoftAppPassword to turn it on (or TEAMS_ENABLED=true for the Bot Framework Emulator)',
    );
    return null;
  }
  const logger = deps.logger.child({ component: 'teams' });
  const auth = settings.auth;
  const metadata = deps.openIdMetadata ?? {};
  const authentication = new ConfigurationBotFrameworkAuthentication(
    auth
      ? {
          MicrosoftAppId: auth.appId,
          MicrosoftAppType: auth.appType,
          ...(auth.password ? { MicrosoftAppPassword: auth.password } : {}),
          ...(auth.tenantId ? { MicrosoftAppTenantId: auth.tenantId } : {}),
          ...(metadata.channel || metadata.emulator ? publicCloud(metadata) : {}),
        }
      : {},
  );
  const adapter = new SentinelCloudAdapter(authentication);
  const serviceUrls = auth ? botFrameworkServiceUrls() : loopbackServiceUrls();
  adapter.onTurnError = async (context, err) => {
    logger.error({ err, type: context.activity?.type }, `teams: a turn failed: ${(err as Error)?.message ?? err}`);
    if (context.activity?.type === 'message') {
      await context
        .sendActivity('Sorry, something went wrong on my side; the error was logged.')
        .catch(() => undefined);
    }
  };

  const serial = new Serial();
  const inFlight = new InFlight();
  const conversations = new ConversationRegistry(deps.store, serial);
  const cards = new JudgedCards(deps.store);
  const trends =
    typeof deps.trends === 'function' ? deps.trends : (): TeamsTrends | undefined => deps.trends as TeamsTrends;
  const sink = new TeamsAlertSink({
    outbound: new Outbound(adapter, auth?.appId ?? '', serviceUrls),
    store: deps.store,
    conversations,
    cards,
    scopes: settings.alertScopes,
    opsConversations: settings.opsConversations,
    serial,
    logger,
    trends,
    serviceUrls,
  });
  const bot = new SentinelTeamsBot({
    slot: deps.slot,
    store: deps.store,
    predictionLog: deps.predictionLog,
    logger,
    maxTextChars: deps.config.maxTextChars,
    conversations,
    cards,
    sink,
    scopes: settings.alertScopes,
    trends,
    serial,
    inFlight,
    ...(deps.digests
      ? {
          digests:
            typeof deps.digests === 'function'
              ? deps.digests
              : (): DigestProvider | undefined => deps.digests as DigestProvider,
        }
      : {}),
  });
  const digestSink = new TeamsDigestSink({
    outbound: new Outbound(adapter, auth?.appId ?? '', serviceUrls),
    store: deps.store,
    targets: () => sink.targets(),
    logger,
    serial,
  });
  mountMessagesRoute(deps.app, {
    adapter,
    authentication,
    logic: (context: TurnContext) => bot.run(context),
    authEnabled: auth !== null,
    ...(auth?.appId ? { appId: auth.appId } : {}),
    serviceUrls,
    logger,
  });

  if (auth) {
    logger.info(
      {
        url: MESSAGES_PATH,
        appId: auth.appId,
        appType: auth.appType,
        alertScopes: settings.alertScopes,
        serviceUrls: serviceUrls.describe(),
      },
      `Teams on (Bot Framework activities at POST ${MESSAGES_PATH}, authenticated as app ${auth.appId})`,
    );
  } else {
    logger.warn(
      { url: MESSAGES_PATH, alertScopes: settings.alertScopes },
      `Teams on WITHOUT authentication (TEAMS_ENABLED=true and no MicrosoftAppId): POST ${MESSAGES_PATH} accepts ` +
        'unsigned activities, as the Bot Framework Emulator sends them, on this loopback address only, and replies ' +
        'only to this machine. Set MicrosoftAppId and MicrosoftAppPassword to serve Teams.',
    );
  }

  const idle = async () => {
    await inFlight.settled();
    await serial.idle();
  };
  return {
    sink,
    digestSink,
    adapter,
    bot,
    authEnabled: auth !== null,
    idle,
    stop: async () => {
      await idle();
      logger.info('Teams stopped');
    },
  };
}
