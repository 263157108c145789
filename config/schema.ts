/**
 * Every setting Sentinel reads, in ONE zod schema with its default.
 *
 * - Keys are camelCase in the parsed `Config`; each is read from the environment variable of the same
 *   name in SCREAMING_SNAKE_CASE (`maxTextChars` ← `MAX_TEXT_CHARS`). Nothing else in the code base
 *   reads `process.env`: `src/main.ts` passes it to `loadConfig` once.
 * - An unset or blank variable takes the default.
 * - An invalid value makes `loadConfig` throw a `ConfigError` naming every bad setting, what was given
 *   and what is allowed, e.g. `PORT: expected an integer between 1 and 65535, got "abc"`.
 * - Values of secret settings (a name containing TOKEN, SECRET, PASSWORD, KEY, CREDENTIAL) are never
 *   echoed, not even in errors, and `redactConfig` masks them for logs.
 *
 * Adding a setting: one line in `configSchema` with one of the field builders below
 * (`integer`, `oneOf`, `nonEmpty`, `boolean`, `url`, `secret`, `list`, `optional(...)`), e.g.
 *   slackBotToken: optional(secret('a Slack bot token (xoxb-…)', /^xoxb-/)),
 *   databaseUrl: url(['postgres:', 'postgresql:', 'sqlite:']).default('sqlite:data/sentinel.db'),
 * Group new settings under a comment per subsystem (Slack, X, GCS, database, …).
 */
import { z } from 'zod';
import { closest, distance } from 'fastest-levenshtein';
import { toCronExpression } from '../src/schedule';
import { gcsEndpoint } from '../src/registry/endpoint';
import { PREVALENCE_METHODS } from '../src/trends/prevalence';
import { NAME_RULE, nameProblem, prefixProblem } from '../src/registry/names';

// ---------------------------------------------------------------------------------------------------
// Field builders: each takes the raw string from the environment and either returns the typed value or
// reports ONE message saying what is allowed ("expected …"). The given value is added by loadConfig.

/** A setting parsed from its string form; `allowed` completes "expected …" in error messages. */
function fromEnv<T>(allowed: string, parse: (raw: string) => T | undefined) {
  return z
    .string({ error: `expected ${allowed}` })
    .transform((raw, ctx): T => {
      const value = parse(raw.trim());
      if (value === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected ${allowed}` });
        return z.NEVER;
      }
      return value;
    })
    .meta({ allowed });
}

/** A whole number in [min, max]. Accepts `1_000`-free plain decimal digits only (no `1e3`, no `0x10`). */
export function integer(min: number, max: number) {
  return fromEnv(`an integer between ${min} and ${max}`, (s) => {
    if (!/^[+-]?\d+$/.test(s)) return undefined;
    const n = Number(s);
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
  });
}

/** A decimal number in [min, max] (plain notation: `0.001`, `2`, `.5`; no exponent, no hex). */
export function decimal(min: number, max: number) {
  return fromEnv(`a number between ${min} and ${max}`, (s) => {
    if (!/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(s)) return undefined;
    const n = Number(s);
    return Number.isFinite(n) && n >= min && n <= max ? n : undefined;
  });
}

/** One of a fixed set of words (case-insensitive; the canonical spelling is returned). */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return fromEnv(`one of ${values.join(', ')}`, (s): T[number] | undefined =>
    values.find((v) => v.toLowerCase() === s.toLowerCase()),
  );
}

/** Any non-empty text (leading/trailing blanks removed), e.g. a path or a host name. */
export function nonEmpty(what: string, pattern?: RegExp) {
  return fromEnv(what, (s) => (s.length > 0 && (!pattern || pattern.test(s)) ? s : undefined));
}

/** true/false, also accepting 1/0, yes/no, on/off. */
export function boolean() {
  return fromEnv('true or false', (s) => {
    const v = s.toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
    return undefined;
  });
}

/** An absolute URL with one of the given protocols (e.g. ['https:', 'http:']). */
export function url(protocols: readonly string[]) {
  return fromEnv(`a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`, (s) => {
    try {
      return protocols.includes(new URL(s).protocol) ? s : undefined;
    } catch {
      return undefined;
    }
  });
}

/** A secret (token, password…): validated like text, never echoed; name the setting *TOKEN*, *SECRET*, *PASSWORD*… */
export function secret(what: string, pattern?: RegExp) {
  return nonEmpty(what, pattern);
}

/** A comma-separated list of non-empty items. */
export function list(what: string) {
  return fromEnv(`a comma-separated list of ${what}`, (s) => {
    const items = s.split(',').map((x) => x.trim());
    return items.every((x) => x.length > 0) ? items : undefined;
  });
}

/**
 * A schedule: seconds that divide a minute, an hour or a day (kept as given), or a cron expression.
 * Checked here so that a bad value stops start-up naming the setting, not a timer later.
 */
export function schedule() {
  const allowed = 'seconds dividing a minute, an hour or a day (e.g. 30, 60, 300), or a cron expression';
  return fromEnv(allowed, (s) => {
    try {
      toCronExpression(s);
      return s;
    } catch {
      return undefined;
    }
  });
}

/** One API_KEYS entry: `name:scope+scope:sha256hex` (src/http/auth.ts). */
export const API_KEY_ENTRY =
  /^([a-z0-9][a-z0-9_-]{0,39}):((?:predict|feedback|metrics)(?:\+(?:predict|feedback|metrics))*):([0-9a-f]{64})$/;

/** A setting with no default: `undefined` when unset (e.g. a Slack token, absent when Slack is off). */
export function optional<T extends z.ZodType>(field: T) {
  return field.optional();
}

/** What docs/configuration.md and .env.example say of a setting (`npm run config:docs` writes both). */
export interface SettingMeta {
  /** What it does, in a sentence or two. */
  doc?: string;
  /** What values are allowed ("an integer between 1 and 65535"), set by the field builders. */
  allowed?: string;
  /** The section it is listed under. */
  group?: string;
  /** What production mode asks of it, when it asks something ("required", "Slack or Teams"). */
  production?: string;
  /** The default as a person writes it, when the parsed default reads badly (an array, a mode-dependent value). */
  shownDefault?: string;
}

/** Documents a field: `doc(integer(1, 65535).default(8080), 'Port the HTTP API listens on.')`. */
function doc<T extends z.ZodType>(field: T, text: string, extra: Omit<SettingMeta, 'doc'> = {}): T {
  return field.meta({ ...(field.meta() ?? {}), doc: text, ...extra }) as T;
}

/** Puts every field of a block under one heading of the settings reference. */
function section<T extends Record<string, z.ZodType>>(group: string, fields: T): T {
  return Object.fromEntries(
    Object.entries(fields).map(([key, field]) => [key, field.meta({ ...(field.meta() ?? {}), group })]),
  ) as T;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const NODE_ENVS = ['production', 'development', 'test'] as const;
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;

// ---------------------------------------------------------------------------------------------------
// THE schema. Defaults are the embedded configuration `npm start` runs with (local mode).

export const configSchema = z.object({
  ...section('Process and mode', {
    nodeEnv: doc(
      oneOf(NODE_ENVS).default('development'),
      'production turns on production mode (docs/configuration.md, Modes); development and test run in local mode.',
    ),
    kService: doc(
      optional(nonEmpty('a Cloud Run service name')),
      'Set by Cloud Run to the service name, never by hand: when present Sentinel runs in production mode.',
    ),
    logLevel: doc(oneOf(LOG_LEVELS).default('info'), 'Least severe log level written.'),
    logFormat: doc(
      oneOf(LOG_FORMATS).default('auto'),
      'auto: readable lines in a terminal, JSON lines otherwise (what Cloud Logging parses); json or pretty force one.',
    ),
    shutdownGraceMs: doc(
      integer(0, 600_000).default(9_000),
      'On SIGTERM or SIGINT, how long Sentinel finishes in-flight work before it exits anyway, in ms (Cloud Run kills the instance 10 s after SIGTERM).',
    ),
  }),

  ...section('HTTP API', {
    port: doc(integer(1, 65535).default(8080), 'Port the HTTP API (and the Slack and Teams endpoints) listens on.'),
    host: doc(
      optional(nonEmpty('a host name or IP address without spaces', /^\S+$/)),
      'Address the HTTP server binds to. Local mode keeps the unauthenticated API on this machine; a container must listen on every interface.',
      { shownDefault: '127.0.0.1 in local mode, 0.0.0.0 in production mode' },
    ),
    maxBodyBytes: doc(
      integer(1024, 100 * 1024 * 1024).default(64 * 1024),
      'Largest request body accepted, in bytes (413 above).',
    ),
    maxTextChars: doc(
      integer(1, 100_000).default(1000),
      'Longest text /predict accepts, in characters (Unicode code points).',
    ),
    maxTexts: doc(integer(1, 10_000).default(256), 'Most texts accepted in one /predict batch.'),
    apiKeys: doc(
      optional(
        fromEnv('a comma-separated list of name:scopes:sha256 entries (npm run apikey makes them)', (s) => {
          const items = s.split(',').map((x) => x.trim());
          return items.every((x) => API_KEY_ENTRY.test(x)) ? items : undefined;
        }),
      ),
      'Who may call /predict, /feedback and /metrics: one name:scopes:sha256 entry per API key (scopes predict, feedback, metrics joined by +), made by `npm run apikey -- --name NAME --scopes predict,feedback`. Unset: the API is open, which is allowed only on a loopback HOST.',
      { production: 'required (production listens on 0.0.0.0)' },
    ),
    apiRateLimit: doc(
      integer(1, 10_000_000).default(600),
      'Requests per minute each API key may make to /predict, /feedback and /metrics (per client address when the API is open); 429 with Retry-After above.',
    ),
    httpRequestTimeoutMs: doc(
      integer(1000, 600_000).default(10_000),
      'A request must arrive whole within this many ms: a client that sends its body slowly is cut off (408).',
    ),
    httpMaxConnections: doc(
      integer(1, 1_000_000).default(1024),
      'Most open connections; more are refused until some close.',
    ),
  }),

  ...section('Dashboard', {
    dashboardSecret: doc(
      optional(secret('at least 32 characters (e.g. `openssl rand -base64 48`)', /^\S{32,}$/)),
      'Key of the HMAC-SHA256 that signs the dashboard\'s links (the "Open in dashboard" button of every alert) and its sessions. Unset with an open API (local mode on loopback): the dashboard needs no sign-in. Unset otherwise: the dashboard is off and alerts carry no link. Changing it revokes every link and session (docs/dashboard.md).',
    ),
    dashboardBaseUrl: doc(
      optional(url(['https:', 'http:'])),
      'The address people open Sentinel at (the Cloud Run service URL, or the domain in front of it): the links in alerts start with it. Unset: http://127.0.0.1:PORT in local mode; in production mode alerts then carry no link.',
    ),
    dashboardLinkDays: doc(
      integer(1, 90).default(7),
      "How long an alert's link opens the dashboard, in days from the message (the link is refreshed with each update of the alert).",
    ),
    dashboardSessionHours: doc(
      integer(1, 720).default(12),
      'How long the dashboard stays open in a browser after following a link, in hours.',
    ),
  }),

  ...section('Model and scoring', {
    modelDir: doc(
      nonEmpty('a directory path').default('models/sentinel-bilstm'),
      'The model served when no MODEL_BUCKET is set, and the fallback of last resort when one is.',
    ),
    scorerMaxBatch: doc(
      integer(1, 4096).default(64),
      'Largest batch the scorer runs in one forward pass; bigger requests are split.',
    ),
  }),

  ...section('Storage', {
    dataDir: doc(
      nonEmpty('a directory path').default('data'),
      'Working directory for local files (alert charts of the console adapter).',
    ),
    sqlitePath: doc(
      nonEmpty('a file path').default('data/sentinel.db'),
      'The SQLite file used when DATABASE_URL is not set (one process only).',
    ),
    databaseUrl: doc(
      optional(url(['postgres:', 'postgresql:'])),
      'PostgreSQL connection URL; the store for production and for several replicas. Cloud SQL through its socket: postgresql://USER:PASSWORD@localhost/DB?host=/cloudsql/PROJECT:REGION:INSTANCE.',
      { production: 'required' },
    ),
  }),

  ...section('Mentions from X', {
    xBearerToken: doc(
      optional(secret('an X API app-only bearer token')),
      'X API app-only bearer token. Set: mentions are polled from X. Unset: no X source.',
      { production: 'required' },
    ),
    xApiUrl: doc(url(['https:']).default('https://api.x.com/2/'), 'Base URL of the X API v2.'),
    xStreams: doc(
      list('name=query pairs').default(['AirParadis=@AirParadis -is:retweet']),
      'Streams to watch, as name=query pairs: a recent-search query, or mentions:<user id> for the mentions timeline. Each stream has its own checkpoint and alerts.',
      { shownDefault: 'AirParadis=@AirParadis -is:retweet' },
    ),
    xMaxPagesPerPoll: doc(
      integer(1, 100).default(10),
      'Most result pages read per stream in one poll; the rest is read by the next poll.',
    ),
    xMaxResults: doc(integer(10, 100).default(100), 'Posts asked for per page (X allows 10 to 100).'),
    xMaxAttempts: doc(integer(1, 10).default(5), 'Attempts per X request on 5xx answers and network errors.'),
    xTimeoutMs: doc(integer(100, 120_000).default(10_000), 'Timeout of one X request, in ms.'),
    pollInterval: doc(
      schedule().default('60'),
      'How often the mention streams are polled: seconds dividing a minute, an hour or a day (30, 60, 300…), or a six-field cron expression.',
    ),
  }),

  ...section('Replays (local mode)', {
    replayCsv: doc(
      optional(nonEmpty('a CSV file path')),
      'Replays a CSV of tweets (the columns of ../shared/data/airline_stream.csv) as a mention source, one stream per airline. Local mode only.',
    ),
    replaySpeed: doc(
      nonEmpty('Infinity or a positive number', /^(Infinity|\d+(\.\d+)?)$/).default('Infinity'),
      'REPLAY_CSV speed: Infinity (as fast as possible) or N times real time.',
    ),
    replayChunk: doc(integer(1, 100_000).default(500), 'Most replayed tweets handed over per poll.'),
    bundledReplay: doc(
      boolean().default(true),
      'Local mode without X_BEARER_TOKEN and REPLAY_CSV: replay the bundled sample of real tweets (src/mentions/sample), a real bad-buzz day, so that an alert shows within a minute. Never in production mode.',
    ),
    bundledReplaySpeed: doc(
      integer(1, 10_000_000).default(6000),
      'Speed of the bundled replay, in times real time (6,000×: its alert shows about 35 s after the model loads).',
    ),
  }),

  ...section('Slack', {
    slackBotToken: doc(
      optional(secret('a Slack bot token (xoxb-…)', /^xoxb-\S+$/)),
      'Bot token (xoxb-…, "OAuth & Permissions"). Set: Slack is on.',
      { production: 'Slack or Teams' },
    ),
    slackSigningSecret: doc(
      optional(secret('the Slack app signing secret (32 hexadecimal characters)', /^[0-9a-f]{32}$/i)),
      'Signing secret ("Basic Information"): the Events API on this server\'s /slack/events checks every request with it.',
      { production: 'with SLACK_BOT_TOKEN, unless SLACK_APP_TOKEN' },
    ),
    slackAppToken: doc(
      optional(secret('a Slack app-level token (xapp-…) for Socket Mode', /^xapp-\S+$/)),
      'App-level token (xapp-…): Socket Mode instead of the Events API (no public URL needed).',
    ),
    slackAlertChannels: doc(
      optional(list('Slack channel ids or #names')),
      'Channel ids (C0123ABCD) or names (#alerts) that alerts are posted in; unset: no alerts in Slack.',
      { production: 'with SLACK_BOT_TOKEN' },
    ),
    slackApiUrl: doc(url(['https:', 'http:']).default('https://slack.com/api/'), 'Base URL of the Slack Web API.'),
    slackThreadUpdateMinutes: doc(
      integer(0, 24 * 60).default(30),
      'While an alert lasts its headline is edited at every update, and a reply added in its thread at most this often (minutes).',
    ),
  }),

  ...section('Microsoft Teams', {
    teamsEnabled: doc(
      optional(boolean()),
      'false turns Teams off. true without MicrosoftAppId: unauthenticated, for the Bot Framework Emulator only: refused on a non-loopback HOST and in production mode.',
    ),
    microsoftAppId: doc(
      optional(
        nonEmpty(
          "the bot's Microsoft app id (a GUID: Azure Bot → Configuration)",
          /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i,
        ),
      ),
      "The bot's Microsoft app id (Azure Bot → Configuration). Set: Teams is on, on /api/messages.",
      { production: 'Slack or Teams' },
    ),
    microsoftAppPassword: doc(
      optional(secret("the bot's client secret (Azure Bot → Configuration → Manage Password)")),
      "The bot's client secret.",
      { production: 'with MicrosoftAppId' },
    ),
    microsoftAppType: doc(
      optional(oneOf(['MultiTenant', 'SingleTenant', 'UserAssignedMSI'] as const)),
      "The Azure Bot's app type (the Bot Framework's default: MultiTenant).",
    ),
    microsoftAppTenantId: doc(
      optional(nonEmpty('a Microsoft Entra tenant id (a GUID)', /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i)),
      'The tenant of a SingleTenant bot.',
    ),
    teamsAlertScopes: doc(
      list('conversation kinds (channel, groupChat, personal)').default(['channel', 'groupChat']),
      'Kinds of conversation the app is installed in that get alerts.',
      { shownDefault: 'channel,groupChat' },
    ),
  }),

  ...section('Models from Google Cloud Storage', {
    modelBucket: doc(
      optional(nonEmpty('a GCS bucket name (3-222 of a-z 0-9 . _ -)', /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/)),
      'Set: model versions are hydrated from gs://MODEL_BUCKET/MODEL_PREFIX/<version>/, verified, cached and hot-swapped when <prefix>/latest.json changes. Unset: MODEL_DIR is served.',
    ),
    modelPrefix: doc(
      fromEnv(`an object prefix of names (${NAME_RULE}) joined by /`, (p) =>
        prefixProblem(p) === null ? p.replace(/^\/+|\/+$/g, '') : undefined,
      ).default('sentinel-bilstm'),
      'Object prefix of the model versions in the bucket.',
    ),
    modelPinnedVersion: doc(
      optional(fromEnv(`a version name (${NAME_RULE})`, (v) => (nameProblem(v) === null ? v : undefined))),
      'Serve this version instead of the one latest.json names.',
    ),
    modelCacheDir: doc(nonEmpty('a directory path').default('data/models'), 'Local cache of hydrated versions.'),
    modelCheckInterval: doc(
      schedule().default('300'),
      'How often latest.json is checked: seconds dividing a minute, an hour or a day, or a cron expression.',
    ),
    modelCacheKeep: doc(
      integer(0, 100).default(2),
      'Cached versions kept besides the serving one (older ones are deleted after a swap).',
    ),
    gcsEndpoint: doc(
      optional(url(['https:', 'http:'])),
      'Another GCS endpoint (a proxy, a private endpoint, an emulator), e.g. http://127.0.0.1:4443.',
    ),
    storageEmulatorHost: doc(
      optional(
        fromEnv('http://host:port, host:port (plain HTTP) or http://host:port/storage/v1', (s) => {
          const r = gcsEndpoint(s);
          return 'endpoint' in r ? r.endpoint : undefined;
        }),
      ),
      "The Google client libraries' own emulator setting, in any of their forms (they name the same endpoint); GCS_ENDPOINT wins if both are set.",
    ),
    gcsAccess: doc(
      oneOf(['auto', 'anonymous', 'adc'] as const).default('auto'),
      'auto: Application Default Credentials when found, else anonymous; anonymous: never send credentials (a public bucket); adc: always (also with GCS_ENDPOINT).',
    ),
    gcsTimeoutMs: doc(
      integer(100, 600_000).default(10_000),
      'Per-request timeout, also how long a download may receive nothing, in ms.',
    ),
    gcsMaxRetries: doc(integer(0, 10).default(3), 'Retries of a failed GCS request.'),
  }),

  // Defaults justified in docs/alerts.md. Times are the mentions' own clock.
  ...section('Trend alerts', {
    trendBucketMinutes: doc(
      integer(1, 1440).default(15),
      'Mentions are counted in buckets of this many minutes; the detector judges at the end of each.',
    ),
    trendWindowMinutes: doc(integer(5, 10_080).default(180), 'The short window judged (a whole number of buckets).'),
    trendLongWindowMinutes: doc(integer(0, 10_080).default(720), 'The long window, for day-long rises (0: off).'),
    trendBaselineHalfLifeHours: doc(
      decimal(1, 2160).default(48),
      'The baseline negative share is averaged over history with this half-life…',
    ),
    trendBaselineLookbackHours: doc(integer(1, 2160).default(168), '…this far back.'),
    trendMinHistoryHours: doc(
      integer(0, 2160).default(24),
      'With less history than this a stream says "too little history" instead of alerting…',
    ),
    trendMinHistoryMentions: doc(integer(0, 1_000_000).default(150), '…or fewer mentions than this.'),
    trendMinVolume: doc(integer(1, 1_000_000).default(40), 'Least mentions in a window to judge it.'),
    trendOpenPValue: doc(decimal(1e-12, 0.5).default(0.001), 'One-sided p-value that opens an alert.'),
    trendSustainPValue: doc(decimal(1e-12, 0.5).default(0.05), 'The looser p-value that keeps an alert open.'),
    trendMinLift: doc(
      decimal(0, 1).default(0.1),
      "The window's negative share must exceed the baseline by at least this much…",
    ),
    trendFloor: doc(decimal(0, 1).default(0.5), '…and be at least this.'),
    trendDispersion: doc(
      decimal(1, 100).default(2),
      'Extra-binomial variance of window shares as TREND_PREVALENCE estimates them (measured on the airline data).',
    ),
    trendCloseAfterMinutes: doc(
      integer(0, 10_080).default(90),
      'An alert closes after its window has been back to normal this long.',
    ),
    trendCooldownMinutes: doc(
      integer(0, 43_200).default(180),
      'After an alert closes, a new one on the same stream waits this long.',
    ),
    trendUpdateMinutes: doc(integer(1, 10_080).default(60), 'An open alert is updated at most this often.'),
    trendScanMinutes: doc(
      integer(0, 10_080).default(0),
      'Alerts open on the multi-scale scan of every window from one bucket to this long (0: off, the fixed windows open them; 720 with TREND_PREVALENCE=pcc and TREND_DISPERSION=1.2 is the measured scan, docs/alerts.md).',
    ),
    trendScanThreshold: doc(
      decimal(0.1, 1000).default(7),
      "The scan's log-likelihood ratio that opens an alert: the false-alarm budget. 7 is the lowest within 1 false alarm per stream per 2 weeks on the tuning days (npm run alerts:eval, docs/alerts.md).",
    ),
    trendScanOddsRatio: doc(
      decimal(1.01, 100).default(2),
      'The rise the scan looks for: the normal odds of a negative mention multiplied by this.',
    ),
    trendScanVolumeRatio: doc(
      decimal(0, 100).default(2),
      'The surge in volume the scan weighs (× the usual for those hours; ≤ 1: volume unused). Never opens alone.',
    ),
    trendVolumeDispersion: doc(
      decimal(1, 1000).default(4.6),
      'Extra-Poisson variance of the volume against the usual for the hour (measured on the airline data).',
    ),
    trendPrevalence: doc(
      oneOf(PREVALENCE_METHODS).default('cc'),
      "How a window's negative share is estimated from the model's answers: cc (count its labels), acc (adjusted), pcc (mean probability), pacc (adjusted mean probability).",
    ),
  }),

  // What is kept, for how long, and how people are named in it (docs/privacy.md, src/ops/retention.ts).
  ...section('Retention and privacy', {
    privacyUserIdSecret: doc(
      optional(secret('at least 32 characters (e.g. `openssl rand -base64 48`)', /^\S{32,}$/)),
      "Secret key of the HMAC-SHA256 that voters' ids are stored as (votes only need equality). Unset in local mode: a random key is generated once and kept in the database itself, beside the votes. Changing it disconnects past votes from their voters.",
      { production: 'required' },
    ),
    retentionPredictionTextDays: doc(
      integer(0, 36_500).default(7),
      'Days the text of a /predict or /sentiment prediction is kept; then it is blanked (the prediction stays votable). 0: kept as long as the prediction.',
    ),
    retentionPredictionDays: doc(
      integer(0, 36_500).default(90),
      'Days /predict and /sentiment predictions are kept, with their votes. 0: forever.',
    ),
    retentionMentionDays: doc(
      integer(0, 36_500).default(90),
      'Days mentions are kept after they are stored, with their predictions and votes. Keep it above TREND_BASELINE_LOOKBACK_HOURS (the baseline needs that history). 0: forever.',
    ),
    retentionAlertDays: doc(
      integer(0, 36_500).default(365),
      'Days a resolved alert (its record with its top mentions, its votes, its chat state) is kept after Sentinel last saved it (its resolution, on a live stream). 0: forever.',
    ),
    retentionSchedule: doc(
      schedule().default('3600'),
      'How often the retention job deletes what is past its time: seconds dividing a day, or a cron expression.',
    ),
    retentionBatchSize: doc(
      integer(1, 100_000).default(500),
      'Rows deleted per statement by the retention job (short transactions, a pause between them).',
    ),
  }),

  // Issue 13: grouped error alerts to the ops channel, the X read budget (docs/operations.md).
  ...section('Operations', {
    slackOpsChannel: doc(
      optional(list('Slack channel ids or #names')),
      'Where ops alerts and notices go in Slack (errors, the X read budget, a model that is often wrong). Unset: the alert channels.',
      { shownDefault: 'SLACK_ALERT_CHANNELS' },
    ),
    teamsOpsConversations: doc(
      optional(list('Teams conversation ids')),
      'Where ops alerts and notices go in Teams: ids of conversations the app is installed in (docs/operations.md says how to find one). Unset: the conversations alerts go to.',
    ),
    opsAlertThreshold: doc(
      integer(1, 10_000).default(3),
      'Errors of one kind that open an ops alert when they happen within OPS_ALERT_WINDOW_MINUTES…',
    ),
    opsAlertWindowMinutes: doc(integer(1, 1440).default(5), '…this many minutes (the reference system: 3 in 5).'),
    opsAlertRules: doc(
      optional(
        fromEnv(
          'a comma-separated list of kind=count/minutes (kinds: scoring, store, source, chat, model, http)',
          (s) => {
            const items = s.split(',').map((x) => x.trim());
            return items.every((x) => /^(scoring|store|source|chat|model|http)=\d{1,5}\/\d{1,4}$/.test(x))
              ? items
              : undefined;
          },
        ),
      ),
      'Per-kind thresholds replacing the two above, e.g. `http=20/5,source=3/15`.',
    ),
    opsAlertResolveMinutes: doc(
      integer(1, 1440).default(10),
      'An ops alert is marked resolved after this many minutes without an error of its kind.',
    ),
    opsMisclassificationVotes: doc(
      integer(5, 10_000).default(50),
      'The model is judged on this many of the latest judged mentions (votes ✅/❌)…',
    ),
    opsMisclassificationRate: doc(
      decimal(0.01, 1).default(0.4),
      '…and an ops alert opens when at least this share of them was judged wrong.',
    ),
    xMonthlyReadBudget: doc(
      optional(integer(1, 1_000_000_000)),
      'Posts Sentinel may read from X per calendar month (UTC); X bills every post read. At 80 % the ops channel is warned; at 100 % polling slows to X_BUDGET_POLL_FLOOR. Unset: counted, not limited.',
    ),
    xReadCostUsd: doc(decimal(0, 100).default(0.005), 'What X bills per post read, in US dollars (pay-per-use, 2026).'),
    xBudgetPollFloor: doc(
      schedule().default('3600'),
      "How often streams are polled once the month's X read budget is spent: seconds dividing a day, or a cron expression.",
    ),
  }),

  // Issue 13: what the team reads every morning (src/trends/digest.ts, docs/digest.md).
  ...section('Daily digest', {
    digestEnabled: doc(boolean().default(true), 'Post a daily digest of each stream to the alert channels.'),
    digestCron: doc(
      schedule().default('0 0 8 * * *'),
      'When the digest is posted: a six-field cron expression (second minute hour day month weekday) in DIGEST_TIMEZONE.',
    ),
    digestTimezone: doc(
      fromEnv('an IANA time zone such as Europe/Paris or UTC', (s) => {
        try {
          return new Intl.DateTimeFormat('en', { timeZone: s }).resolvedOptions().timeZone;
        } catch {
          return undefined;
        }
      }).default('UTC'),
      'Time zone of DIGEST_CRON and of the digest\'s day ("yesterday" is midnight to midnight there).',
    ),
  }),

  // Issue 13: the learning loop (docs/learning-loop.md).
  ...section('Learning loop', {
    modelChallenger: doc(
      optional(fromEnv(`a version name (${NAME_RULE})`, (v) => (nameProblem(v) === null ? v : undefined))),
      'A registry version (in MODEL_BUCKET) that scores every mention in shadow beside the serving model: never shown, never alerting; `/sentiment status` and the digest compare them.',
    ),
    mlflowTrackingUri: doc(
      optional(url(['http:', 'https:'])),
      'An MLflow tracking server: training runs and promotion decisions are also logged there (REST API). Unset: runs/ only.',
    ),
    mlflowExperimentName: doc(
      nonEmpty('an experiment name').default('sentinel'),
      'The MLflow experiment runs are logged under (created when missing).',
    ),
    promoteMaxDrop: doc(
      decimal(0, 1).default(0.01),
      "npm run model:promote refuses a candidate whose macro-F1 or negative recall is below the champion's by more than this, on the evaluation split or on the production feedback set.",
    ),
  }),

  // Several replicas on one PostgreSQL: one leader at a time (src/ops/leadership.ts, docs/deploy.md).
  ...section('Replicas', {
    leaderLeaseTtlMs: doc(
      integer(500, 600_000).default(15_000),
      "With PostgreSQL, the leader's lease (ms): the leader renews it every third of this; a replica that dies is replaced after at most this plus a third; a leader whose renewal fails steps down at once. SQLite is one process and has no lease.",
    ),
  }),
});

/** local: a laptop (SQLite, loopback, the bundled demo replay); production: a container (see checkMode). */
export type Mode = 'local' | 'production';

export type Config = Omit<z.output<typeof configSchema>, 'host'> & {
  /** Derived: production when NODE_ENV=production or K_SERVICE is set (Cloud Run), else local. */
  mode: Mode;
  /** HOST, or the mode's default. */
  host: string;
};
export type ConfigKey = keyof Config;

/** Settings read from a variable the rule of envName does not give: the Bot Framework's own names (Teams). */
const ENV_NAMES: Readonly<Record<string, string>> = {
  microsoftAppId: 'MicrosoftAppId',
  microsoftAppPassword: 'MicrosoftAppPassword',
  microsoftAppType: 'MicrosoftAppType',
  microsoftAppTenantId: 'MicrosoftAppTenantId',
};

/** `maxTextChars` → `MAX_TEXT_CHARS` (or the name in ENV_NAMES). */
export function envName(key: string): string {
  return ENV_NAMES[key] ?? key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** Keys that hold secrets, whatever their case or style (slackBotToken, DB_PASSWORD, client_secret, apiKey…); their text values are masked. */
const SECRET_KEY = /token|secret|passw(or)?d|pwd|credential|api_?key|private_?key|auth(orization)?$|cookie/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

export const REDACTED = '[redacted]';

/** A deep copy with secret values masked and passwords in URLs (postgres://u:pw@h) removed. */
export function redactSecrets<T>(value: T, seen = new WeakSet<object>()): T {
  if (typeof value === 'string') return redactUrlPassword(value) as T;
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]' as T;
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, seen)) as T;
  if (value instanceof Date || value instanceof URL || ArrayBuffer.isView(value)) return value;
  if (value instanceof Error) return redactError(value) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    // Only text is masked: a count named `tokens` is not a secret; objects are walked (credentials.private_key).
    out[k] =
      isSecretKey(k) && (typeof v === 'string' || Buffer.isBuffer(v)) && v.length > 0
        ? REDACTED
        : redactSecrets(v, seen);
  }
  return out as T;
}

function redactError(err: Error): Error {
  // Errors are logged through pino's serializer; mask URL passwords in the message only.
  const message = redactUrlPassword(err.message);
  if (message === err.message) return err;
  const copy = Object.create(Object.getPrototypeOf(err)) as Error;
  Object.assign(copy, err, { message, stack: err.stack?.replace(err.message, message) });
  return copy;
}

/** `postgres://user:pw@host/db` → `postgres://user:[redacted]@host/db`, anywhere in a text. */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)[^\s@/]+@/gi;

function redactUrlPassword(s: string): string {
  if (!s.includes('@')) return s;
  return s.replace(URL_PASSWORD, `$1${REDACTED}@`);
}

/** The config as it may be logged at start-up: secrets masked. */
export function redactConfig(config: Config): Record<string, unknown> {
  return redactSecrets(config as Record<string, unknown>);
}

export interface ConfigProblem {
  /** The environment variable, e.g. PORT. */
  setting: string;
  /** e.g. `expected an integer between 1 and 65535, got "abc"`. */
  message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly problems: ConfigProblem[],
    headline = `Invalid configuration (${problems.length} setting${problems.length === 1 ? '' : 's'})`,
  ) {
    super(`${headline}:\n` + problems.map((p) => `  ${p.setting}: ${p.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

/**
 * Environment variables with these prefixes are taken to be meant for Sentinel: one that is not a setting
 * (a typo, a name from an old README) stops start-up instead of being silently ignored. Prefixes other
 * programs use too (NODE_, K_, LOG_…) are not checked.
 */
export const SETTING_PREFIXES = [
  'TREND_',
  'SLACK_',
  'TEAMS_',
  'X_',
  'MODEL_',
  'GCS_',
  'REPLAY_',
  'BUNDLED_',
  'POLL_',
  'SCORER_',
  'SENTINEL_',
  'DATABASE_',
  'SQLITE_',
  'SHUTDOWN_',
  'MicrosoftApp',
  'RETENTION_',
  'PRIVACY_',
  'LEADER_',
  'OPS_',
  'DIGEST_',
  'MLFLOW_',
  'PROMOTE_',
  'DASHBOARD_',
] as const;

/** Every environment variable the schema reads. */
export function settingNames(): string[] {
  return Object.keys(configSchema.shape).map(envName);
}

/** "unknown setting TREND_OPEN_P_VALUE — did you mean TREND_OPEN_PVALUE?" for each look-alike variable. */
export function unknownSettings(env: Record<string, string | undefined>): ConfigProblem[] {
  const known = settingNames();
  const knownSet = new Set(known);
  const problems: ConfigProblem[] = [];
  for (const name of Object.keys(env).sort()) {
    if (knownSet.has(name) || !SETTING_PREFIXES.some((p) => name.startsWith(p))) continue;
    const near = closest(name, known);
    const hint =
      distance(name, near) <= Math.max(2, Math.floor(near.length / 4))
        ? ` — did you mean ${near}?`
        : ' (docs/configuration.md lists every setting)';
    problems.push({ setting: name, message: `unknown setting ${name}${hint}` });
  }
  return problems;
}

/** Reads every setting from `env` (usually process.env), applying defaults. Throws ConfigError listing all bad settings. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const input: Record<string, string> = {};
  const raw = new Map<string, string>();
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[envName(key)];
    if (value === undefined || value.trim() === '') continue;
    input[key] = value;
    raw.set(key, value);
  }
  const unknown = unknownSettings(env);
  const result = configSchema.safeParse(input);
  if (result.success && unknown.length === 0) {
    const mode: Mode = result.data.nodeEnv === 'production' || result.data.kService ? 'production' : 'local';
    return { ...result.data, mode, host: result.data.host ?? (mode === 'production' ? '0.0.0.0' : '127.0.0.1') };
  }

  const problems = new Map<string, ConfigProblem>();
  for (const issue of result.error?.issues ?? []) {
    const key = String(issue.path[0] ?? '');
    if (problems.has(key)) continue;
    const given = raw.get(key);
    const shown =
      given === undefined
        ? 'nothing'
        : isSecretKey(key)
          ? `a value of ${given.length} characters`
          : JSON.stringify(redactSecrets(given)); // a URL's password is a secret too
    problems.set(key, { setting: envName(key), message: `${issue.message}, got ${shown}` });
  }
  throw new ConfigError([...unknown, ...problems.values()]);
}

/**
 * What production mode needs before it may start: a real mention source, PostgreSQL and a chat sink. A
 * container's disk is thrown away with the instance and the bundled replay is a 2015 demo: started without
 * them, a deployed Sentinel would post fake alerts from a database it then loses. Throws ConfigError
 * naming each missing setting; local mode needs nothing.
 */
export function checkMode(config: Config): void {
  const problems: ConfigProblem[] = [];
  if (!config.apiKeys && !isLoopback(config.host))
    problems.push({
      setting: 'API_KEYS',
      message: `not set, and HOST=${config.host} is not a loopback address: the HTTP API would be open to the network; make a key with npm run apikey, or listen on HOST=127.0.0.1`,
    });
  if (config.modelChallenger && !config.modelBucket)
    problems.push({
      setting: 'MODEL_CHALLENGER',
      message: `names a registry version (${config.modelChallenger}) but MODEL_BUCKET is not set: a challenger comes from the bucket`,
    });
  if (config.mode === 'production' && config.dashboardSecret && !config.dashboardBaseUrl)
    problems.push({
      setting: 'DASHBOARD_BASE_URL',
      message:
        'not set while DASHBOARD_SECRET is: alerts could not link to the dashboard; set the address people open Sentinel at (the Cloud Run service URL)',
    });
  if (config.mode === 'production' && config.dashboardBaseUrl?.startsWith('http:'))
    problems.push({
      setting: 'DASHBOARD_BASE_URL',
      message: `is http:, refused in production mode: the dashboard shows customers' tweets and its links are credentials; use https://`,
    });
  if (config.mode === 'production') problems.push(...productionProblems(config));
  if (problems.length > 0) {
    const why = config.kService ? `K_SERVICE=${config.kService}` : 'NODE_ENV=production';
    throw new ConfigError(
      problems,
      config.mode === 'production' ? `Production mode (${why}) cannot start` : 'Sentinel cannot start',
    );
  }
}

/** Loopback: only this machine's own programs can connect. */
export function isLoopback(host: string): boolean {
  return /^(127(\.\d{1,3}){3}|::1|\[::1\]|localhost)$/i.test(host);
}

function productionProblems(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (!config.xBearerToken)
    problems.push({
      setting: 'X_BEARER_TOKEN',
      message: 'not set: production mode needs a real mention source (the bundled replay is a local-mode demo)',
    });
  if (config.replayCsv)
    problems.push({ setting: 'REPLAY_CSV', message: 'a replay is for local mode: unset it in production' });
  if (!config.databaseUrl)
    problems.push({
      setting: 'DATABASE_URL',
      message: "not set: production mode needs PostgreSQL (a container's SQLite file is lost with the instance)",
    });
  const slack = Boolean(config.slackBotToken && config.slackAlertChannels?.length);
  const teams = Boolean(config.microsoftAppId && config.teamsEnabled !== false);
  if (!slack && !teams)
    problems.push({
      setting: 'SLACK_BOT_TOKEN / MicrosoftAppId',
      message:
        'no chat sink: production mode posts alerts to a team; set SLACK_BOT_TOKEN with SLACK_ALERT_CHANNELS (and SLACK_SIGNING_SECRET or SLACK_APP_TOKEN), or MicrosoftAppId with MicrosoftAppPassword',
    });
  if (config.teamsEnabled && !config.microsoftAppId)
    problems.push({
      setting: 'TEAMS_ENABLED',
      message:
        'true without MicrosoftAppId accepts unauthenticated activities (Bot Framework Emulator): refused in production mode',
    });
  if (!config.privacyUserIdSecret)
    problems.push({
      setting: 'PRIVACY_USER_ID_SECRET',
      message:
        "not set: production mode hashes voters' ids with a key kept outside the database; set 32+ random characters (openssl rand -base64 48)",
    });
  return problems;
}
