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

// ---------------------------------------------------------------------------------------------------
// Field builders: each takes the raw string from the environment and either returns the typed value or
// reports ONE message saying what is allowed ("expected …"). The given value is added by loadConfig.

/** A setting parsed from its string form; `allowed` completes "expected …" in error messages. */
function fromEnv<T>(allowed: string, parse: (raw: string) => T | undefined) {
  return z.string({ error: `expected ${allowed}` }).transform((raw, ctx): T => {
    const value = parse(raw.trim());
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${allowed}` });
      return z.NEVER;
    }
    return value;
  });
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

/** A setting with no default: `undefined` when unset (e.g. a Slack token, absent when Slack is off). */
export function optional<T extends z.ZodType>(field: T) {
  return field.optional();
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const NODE_ENVS = ['production', 'development', 'test'] as const;

// ---------------------------------------------------------------------------------------------------
// THE schema. Defaults are the embedded configuration `npm start` runs with.

export const configSchema = z.object({
  // Process
  nodeEnv: oneOf(NODE_ENVS).default('production'),
  logLevel: oneOf(LOG_LEVELS).default('info'),
  /** How long shutdown waits for in-flight requests before forcing exit, in ms. */
  shutdownGraceMs: integer(0, 600_000).default(10_000),

  // HTTP API
  port: integer(1, 65535).default(8080),
  host: nonEmpty('a host name or IP address without spaces', /^\S+$/).default('0.0.0.0'),
  /** Largest request body accepted, in bytes (413 above). */
  maxBodyBytes: integer(1024, 100 * 1024 * 1024).default(64 * 1024),
  /** Longest text accepted by /predict, in characters (Unicode code points). */
  maxTextChars: integer(1, 100_000).default(1000),
  /** Most texts accepted in one /predict batch. */
  maxTexts: integer(1, 10_000).default(256),

  // Model and scoring
  modelDir: nonEmpty('a directory path').default('models/sentinel-bilstm'),
  /** Largest batch the scorer runs in one forward pass; bigger requests are split. */
  scorerMaxBatch: integer(1, 4096).default(64),

  // Storage: SQLite file by default; a postgres:// URL for several replicas.
  dataDir: nonEmpty('a directory path').default('data'),
  sqlitePath: nonEmpty('a file path').default('data/sentinel.db'),
  databaseUrl: optional(url(['postgres:', 'postgresql:'])),

  // Mentions from X (off without a bearer token) and from a CSV replay (off without a file).
  xBearerToken: optional(secret('an X API app-only bearer token')),
  xApiUrl: url(['https:']).default('https://api.x.com/2/'),
  /** `name=query` pairs; each name is a stream with its own checkpoint and alerts. */
  xStreams: list('name=query pairs').default(['AirParadis=@AirParadis -is:retweet']),
  xMaxPagesPerPoll: integer(1, 100).default(10),
  xMaxResults: integer(10, 100).default(100),
  xMaxAttempts: integer(1, 10).default(5),
  xTimeoutMs: integer(100, 120_000).default(10_000),
  /** Seconds between polls (dividing a minute, hour or day) or a cron expression. */
  pollInterval: nonEmpty('a number of seconds or a cron expression').default('60'),
  replayCsv: optional(nonEmpty('a CSV file path')),
  /** `Infinity` (as fast as possible) or N× real time. */
  replaySpeed: nonEmpty('Infinity or a positive number', /^(Infinity|\d+(\.\d+)?)$/).default('Infinity'),
  replayChunk: integer(1, 100_000).default(500),

  // Slack (adapters/slack): on when SLACK_BOT_TOKEN is set. Socket Mode with SLACK_APP_TOKEN, else the
  // Events API on this server's /slack/events (needs SLACK_SIGNING_SECRET).
  slackBotToken: optional(secret('a Slack bot token (xoxb-…)', /^xoxb-\S+$/)),
  slackSigningSecret: optional(secret('the Slack app signing secret (32 hexadecimal characters)', /^[0-9a-f]{32}$/i)),
  slackAppToken: optional(secret('a Slack app-level token (xapp-…) for Socket Mode', /^xapp-\S+$/)),
  /** Channel ids (C0123ABCD) or names (#alerts) the alerts are posted in; none: no alerts in Slack. */
  slackAlertChannels: optional(list('Slack channel ids or #names')),
  slackApiUrl: url(['https:', 'http:']).default('https://slack.com/api/'),
  /** While an alert lasts, its headline is edited at every update, and a reply added in its thread at most this often. */
  slackThreadUpdateMinutes: integer(0, 24 * 60).default(30),

  // Models from Google Cloud Storage (src/registry): on when MODEL_BUCKET is set. Versions live in
  // gs://<bucket>/<prefix>/<version>/ and <prefix>/latest.json names the current one; they are hydrated
  // into MODEL_CACHE_DIR and hot-swapped. Without a bucket, MODEL_DIR is served as before.
  modelBucket: optional(nonEmpty('a GCS bucket name (3-222 of a-z 0-9 . _ -)', /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/)),
  modelPrefix: nonEmpty('an object prefix without leading or trailing slash', /^[^/\s](\S*[^/\s])?$/).default(
    'sentinel-bilstm',
  ),
  /** Serve this version instead of the one latest.json names. */
  modelPinnedVersion: optional(nonEmpty('a version name (letters, digits, dot, dash, underscore)', /^[\w.-]+$/)),
  modelCacheDir: nonEmpty('a directory path').default('data/models'),
  /** Seconds between checks of latest.json (dividing a minute, hour or day) or a cron expression. */
  modelCheckInterval: nonEmpty('a number of seconds or a cron expression').default('300'),
  /** Cached versions kept besides the serving one (older ones are deleted after a swap). */
  modelCacheKeep: integer(0, 100).default(2),
  /** Another GCS endpoint (a proxy, a private endpoint, an emulator), e.g. http://127.0.0.1:4443. */
  gcsEndpoint: optional(url(['https:', 'http:'])),
  /** The Google client libraries' own emulator setting, as a URL (http://localhost:4443); GCS_ENDPOINT wins if both are set. */
  storageEmulatorHost: optional(url(['http:', 'https:'])),
  /** auto: Application Default Credentials when found, else anonymous; anonymous: never send credentials (a public bucket); adc: always (also on GCS_ENDPOINT). */
  gcsAccess: oneOf(['auto', 'anonymous', 'adc'] as const).default('auto'),
  /** Per-request timeout, also how long a download may receive nothing (a cut connection is noticed
   * this way: the client does not report it); and how often a failed GCS request is retried. */
  gcsTimeoutMs: integer(100, 600_000).default(10_000),
  gcsMaxRetries: integer(0, 10).default(3),

  // Trend alerts (src/trends; defaults justified in docs/alerts.md). Times are the mentions' own clock.
  /** Mentions are counted in buckets of this many minutes; the detector judges at each bucket's end. */
  trendBucketMinutes: integer(1, 1440).default(15),
  /** The short window (a whole number of buckets) and the long one for day-long rises (0: off). */
  trendWindowMinutes: integer(5, 10_080).default(180),
  trendLongWindowMinutes: integer(0, 10_080).default(720),
  /** The baseline: negative share averaged over history with this half-life, this far back. */
  trendBaselineHalfLifeHours: decimal(1, 2160).default(48),
  trendBaselineLookbackHours: integer(1, 2160).default(168),
  /** Below this much history a stream says "too little history" instead of alerting. */
  trendMinHistoryHours: integer(0, 2160).default(24),
  trendMinHistoryMentions: integer(0, 1_000_000).default(150),
  /** Least mentions in a window to judge it. */
  trendMinVolume: integer(1, 1_000_000).default(40),
  /** One-sided p-value to open an alert, and the looser one that keeps it open. */
  trendOpenPValue: decimal(1e-12, 0.5).default(0.001),
  trendSustainPValue: decimal(1e-12, 0.5).default(0.05),
  /** The window's negative share must be this much above the baseline, and at least the floor. */
  trendMinLift: decimal(0, 1).default(0.1),
  trendFloor: decimal(0, 1).default(0.5),
  /** Extra-binomial variance of window shares (measured on the airline data). */
  trendDispersion: decimal(1, 100).default(2),
  trendCloseAfterMinutes: integer(0, 10_080).default(90),
  trendCooldownMinutes: integer(0, 43_200).default(180),
  /** Updates of an open alert at most this often. */
  trendUpdateMinutes: integer(1, 10_080).default(60),
  /** Local mode: without X_BEARER_TOKEN and REPLAY_CSV, replay the bundled sample of real tweets (src/mentions/sample). */
  bundledReplay: boolean().default(true),
  /** …at this many times real time (6,000×: the bad-buzz alert shows about 35 s after the model loads). */
  bundledReplaySpeed: integer(1, 10_000_000).default(6000),

  // Microsoft Teams (adapters/teams, botbuilder): on when MicrosoftAppId is set, or with TEAMS_ENABLED=true
  // and no app id: then WITHOUT authentication, for the Bot Framework Emulator only. The four Microsoft*
  // settings keep the Bot Framework's own variable names (ENV_NAMES below).
  teamsEnabled: optional(boolean()),
  microsoftAppId: optional(
    nonEmpty(
      "the bot's Microsoft app id (a GUID: Azure Bot → Configuration)",
      /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i,
    ),
  ),
  microsoftAppPassword: optional(secret("the bot's client secret (Azure Bot → Configuration → Manage Password)")),
  microsoftAppType: optional(oneOf(['MultiTenant', 'SingleTenant', 'UserAssignedMSI'] as const)),
  microsoftAppTenantId: optional(
    nonEmpty('a Microsoft Entra tenant id (a GUID)', /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i),
  ),
  /** Kinds of conversation the app is installed in that get alerts: channel, groupChat, personal. */
  teamsAlertScopes: list('conversation kinds (channel, groupChat, personal)').default(['channel', 'groupChat']),

  // Slack, X, GCS, database: add here (see the header comment).
});

export type Config = z.output<typeof configSchema>;
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
  constructor(readonly problems: ConfigProblem[]) {
    super(
      `Invalid configuration (${problems.length} setting${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  ${p.setting}: ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
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
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;

  const problems = new Map<string, ConfigProblem>();
  for (const issue of result.error.issues) {
    const key = String(issue.path[0] ?? '');
    if (problems.has(key)) continue;
    const given = raw.get(key);
    const shown =
      given === undefined
        ? 'nothing'
        : isSecretKey(key)
          ? `a value of ${given.length} characters`
          : JSON.stringify(given);
    problems.set(key, { setting: envName(key), message: `${issue.message}, got ${shown}` });
  }
  throw new ConfigError([...problems.values()]);
}
