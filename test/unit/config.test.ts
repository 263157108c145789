import { Writable } from 'node:stream';
import { createLogger } from '../../src/log';
import {
  checkMode,
  ConfigError,
  configSchema,
  envName,
  isSecretKey,
  loadConfig,
  redactConfig,
  redactSecrets,
  type Config,
} from '../../config/schema';

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => `${p.setting}: ${p.message}`);
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('gives every setting its default from an empty environment', () => {
    expect(loadConfig({})).toEqual({
      mode: 'local',
      nodeEnv: 'development',
      logLevel: 'info',
      logFormat: 'auto',
      shutdownGraceMs: 9_000,
      port: 8080,
      host: '127.0.0.1',
      maxBodyBytes: 65_536,
      maxTextChars: 1000,
      maxTexts: 256,
      apiRateLimit: 600,
      httpRequestTimeoutMs: 10_000,
      httpMaxConnections: 1024,
      modelDir: 'models/sentinel-bilstm',
      scorerMaxBatch: 64,
      dataDir: 'data',
      sqlitePath: 'data/sentinel.db',
      xApiUrl: 'https://api.x.com/2/',
      xStreams: ['AirParadis=@AirParadis -is:retweet'],
      xMaxPagesPerPoll: 10,
      xMaxResults: 100,
      xMaxAttempts: 5,
      xTimeoutMs: 10_000,
      pollInterval: '60',
      replaySpeed: 'Infinity',
      replayChunk: 500,
      // Slack
      slackApiUrl: 'https://slack.com/api/',
      slackThreadUpdateMinutes: 30,
      // Models from GCS
      modelPrefix: 'sentinel-bilstm',
      modelCacheDir: 'data/models',
      modelCheckInterval: '300',
      modelCacheKeep: 2,
      gcsAccess: 'auto',
      gcsTimeoutMs: 10_000,
      gcsMaxRetries: 3,
      // Trend alerts
      trendBucketMinutes: 15,
      trendWindowMinutes: 180,
      trendLongWindowMinutes: 720,
      trendBaselineHalfLifeHours: 48,
      trendBaselineLookbackHours: 168,
      trendMinHistoryHours: 24,
      trendMinHistoryMentions: 150,
      trendMinVolume: 40,
      trendOpenPValue: 0.001,
      trendSustainPValue: 0.05,
      trendMinLift: 0.1,
      trendFloor: 0.5,
      trendDispersion: 2,
      trendCloseAfterMinutes: 90,
      trendCooldownMinutes: 180,
      trendUpdateMinutes: 60,
      trendScanMinutes: 0,
      trendScanThreshold: 7,
      trendScanOddsRatio: 2,
      trendScanVolumeRatio: 2,
      trendVolumeDispersion: 4.6,
      trendPrevalence: 'cc',
      bundledReplay: true,
      bundledReplaySpeed: 6000,
      // Teams
      teamsAlertScopes: ['channel', 'groupChat'],
      // Retention and privacy
      retentionPredictionTextDays: 7,
      retentionPredictionDays: 90,
      retentionMentionDays: 90,
      retentionAlertDays: 365,
      retentionSchedule: '3600',
      retentionBatchSize: 500,
      // Replicas
      leaderLeaseTtlMs: 15_000,
      // Operations
      opsAlertThreshold: 3,
      opsAlertWindowMinutes: 5,
      opsAlertResolveMinutes: 10,
      opsMisclassificationVotes: 50,
      opsMisclassificationRate: 0.4,
      xReadCostUsd: 0.005,
      xBudgetPollFloor: '3600',
      // Daily digest
      digestEnabled: true,
      digestCron: '0 0 8 * * *',
      digestTimezone: 'UTC',
      // Learning loop
      mlflowExperimentName: 'sentinel',
      promoteMaxDrop: 0.01,
      // Dashboard
      dashboardLinkDays: 7,
      dashboardSessionHours: 12,
    } satisfies Config);
  });

  it("reads the Teams settings from the Bot Framework's own variable names", () => {
    const appId = '0b5d6e5c-1c1a-4a8e-9f3e-2d0c6c1b7a10';
    expect(
      loadConfig({
        MicrosoftAppId: appId,
        MicrosoftAppPassword: 'pw~secret',
        MicrosoftAppType: 'singletenant',
        MicrosoftAppTenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
        TEAMS_ALERT_SCOPES: 'channel',
      }),
    ).toMatchObject({
      microsoftAppId: appId,
      microsoftAppPassword: 'pw~secret',
      microsoftAppType: 'SingleTenant',
      microsoftAppTenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      teamsAlertScopes: ['channel'],
    });
    expect(loadConfig({ MICROSOFT_APP_ID: appId }).microsoftAppId).toBeUndefined();
    expect(problemsOf({ MicrosoftAppId: 'my-bot', MicrosoftAppType: 'Tenant' })).toEqual([
      'MicrosoftAppId: expected the bot\'s Microsoft app id (a GUID: Azure Bot → Configuration), got "my-bot"',
      'MicrosoftAppType: expected one of MultiTenant, SingleTenant, UserAssignedMSI, got "Tenant"',
    ]);
  });

  it('reads each setting from its SCREAMING_SNAKE_CASE variable', () => {
    const config = loadConfig({
      PORT: '3000',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'DEBUG',
      MODEL_DIR: '/opt/models/v2',
      MAX_TEXT_CHARS: '280',
      MAX_TEXTS: '10',
      MAX_BODY_BYTES: '1048576',
      SCORER_MAX_BATCH: '128',
      DATA_DIR: '/var/lib/sentinel',
      NODE_ENV: 'test',
      SHUTDOWN_GRACE_MS: '0',
    });
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      logLevel: 'debug',
      modelDir: '/opt/models/v2',
      maxTextChars: 280,
      maxTexts: 10,
      maxBodyBytes: 1_048_576,
      scorerMaxBatch: 128,
      dataDir: '/var/lib/sentinel',
      nodeEnv: 'test',
      shutdownGraceMs: 0,
    });
  });

  it('trims blanks around values and treats blank values as unset', () => {
    expect(loadConfig({ PORT: ' 9000 ', HOST: '', MODEL_DIR: '   ' })).toMatchObject({
      port: 9000,
      host: '127.0.0.1',
      modelDir: 'models/sentinel-bilstm',
    });
  });

  it('ignores unrelated variables', () => {
    expect(loadConfig({ PATH: '/usr/bin', HOME: '/root', port: 'not-ours' }).port).toBe(8080);
  });

  it('maps every schema key to its variable name', () => {
    expect(Object.keys(configSchema.shape).map(envName)).toEqual(
      expect.arrayContaining([
        'PORT',
        'HOST',
        'LOG_LEVEL',
        'MODEL_DIR',
        'MAX_TEXT_CHARS',
        'MAX_TEXTS',
        'MAX_BODY_BYTES',
        'SCORER_MAX_BATCH',
        'DATA_DIR',
        'NODE_ENV',
      ]),
    );
  });

  describe('rejects invalid values with a message naming the setting, what was given and what is allowed', () => {
    it.each([
      ['PORT', 'abc', 'PORT: expected an integer between 1 and 65535, got "abc"'],
      ['PORT', '0', 'PORT: expected an integer between 1 and 65535, got "0"'],
      ['PORT', '65536', 'PORT: expected an integer between 1 and 65535, got "65536"'],
      ['PORT', '-1', 'PORT: expected an integer between 1 and 65535, got "-1"'],
      ['PORT', '80.5', 'PORT: expected an integer between 1 and 65535, got "80.5"'],
      ['PORT', '1e3', 'PORT: expected an integer between 1 and 65535, got "1e3"'],
      ['PORT', '0x50', 'PORT: expected an integer between 1 and 65535, got "0x50"'],
      ['PORT', '99999999999999999999', 'PORT: expected an integer between 1 and 65535, got "99999999999999999999"'],
      ['HOST', 'my host', 'HOST: expected a host name or IP address without spaces, got "my host"'],
      [
        'LOG_LEVEL',
        'verbose',
        'LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
      ],
      ['NODE_ENV', 'staging', 'NODE_ENV: expected one of production, development, test, got "staging"'],
      ['MAX_TEXT_CHARS', '0', 'MAX_TEXT_CHARS: expected an integer between 1 and 100000, got "0"'],
      ['MAX_TEXT_CHARS', 'lots', 'MAX_TEXT_CHARS: expected an integer between 1 and 100000, got "lots"'],
      ['MAX_TEXTS', '100000', 'MAX_TEXTS: expected an integer between 1 and 10000, got "100000"'],
      ['MAX_BODY_BYTES', '64KiB', 'MAX_BODY_BYTES: expected an integer between 1024 and 104857600, got "64KiB"'],
      ['MAX_BODY_BYTES', '10', 'MAX_BODY_BYTES: expected an integer between 1024 and 104857600, got "10"'],
      ['SCORER_MAX_BATCH', '0', 'SCORER_MAX_BATCH: expected an integer between 1 and 4096, got "0"'],
      ['SHUTDOWN_GRACE_MS', '-5', 'SHUTDOWN_GRACE_MS: expected an integer between 0 and 600000, got "-5"'],
    ])('%s=%j', (name, value, message) => {
      expect(problemsOf({ [name]: value })).toEqual([message]);
    });

    it('lists every bad setting at once, in one error message', () => {
      let error: ConfigError | undefined;
      try {
        loadConfig({ PORT: 'abc', LOG_LEVEL: 'loud', MAX_TEXTS: '0', HOST: 'ok' });
      } catch (err) {
        error = err as ConfigError;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect(error!.problems.map((p) => p.setting).sort()).toEqual(['LOG_LEVEL', 'MAX_TEXTS', 'PORT']);
      expect(error!.message).toMatch(/^Invalid configuration \(3 settings\):/);
      expect(error!.message).toContain('PORT: expected an integer between 1 and 65535, got "abc"');
      expect(error!.message).toContain('LOG_LEVEL: expected one of');
      expect(error!.message).toContain('MAX_TEXTS: expected an integer between 1 and 10000, got "0"');
    });
  });
});

describe('settings Sentinel does not know', () => {
  it('refuses a look-alike variable, naming the setting it probably meant', () => {
    expect(problemsOf({ TREND_OPEN_P_VALUE: '0.01', TREND_SUSTAIN_P_VALUE: '0.1' })).toEqual([
      'TREND_OPEN_P_VALUE: unknown setting TREND_OPEN_P_VALUE — did you mean TREND_OPEN_PVALUE?',
      'TREND_SUSTAIN_P_VALUE: unknown setting TREND_SUSTAIN_P_VALUE — did you mean TREND_SUSTAIN_PVALUE?',
    ]);
    expect(problemsOf({ SLACK_BOT_TOKN: 'xoxb-1' })).toEqual([
      'SLACK_BOT_TOKN: unknown setting SLACK_BOT_TOKN — did you mean SLACK_BOT_TOKEN?',
    ]);
    expect(problemsOf({ MicrosoftAppID: 'x' })).toEqual([
      'MicrosoftAppID: unknown setting MicrosoftAppID — did you mean MicrosoftAppId?',
    ]);
  });

  it('points to the reference when nothing is close, and reports bad values beside unknown names', () => {
    expect(problemsOf({ X_SOMETHING_ELSE_ENTIRELY: '1', PORT: 'abc' })).toEqual([
      'X_SOMETHING_ELSE_ENTIRELY: unknown setting X_SOMETHING_ELSE_ENTIRELY (docs/configuration.md lists every setting)',
      'PORT: expected an integer between 1 and 65535, got "abc"',
    ]);
  });

  it("leaves other programs' variables alone (NODE_OPTIONS, K_REVISION, PATH…)", () => {
    expect(() =>
      loadConfig({
        NODE_OPTIONS: '--max-old-space-size=512',
        NODE_EXTRA_CA_CERTS: '/ca.pem',
        K_REVISION: 'r1',
        PATH: '/bin',
      }),
    ).not.toThrow();
  });
});

it('a refused DATABASE_URL is shown without its password', () => {
  expect(problemsOf({ DATABASE_URL: 'mysql://sentinel:hunter2@db:3306/sentinel' })).toEqual([
    'DATABASE_URL: expected a URL starting with postgres:// or postgresql://, got "mysql://sentinel:[redacted]@db:3306/sentinel"',
  ]);
});

it('model names that would reach the file system are checked at start-up', () => {
  expect(problemsOf({ MODEL_PREFIX: '../escape', MODEL_PINNED_VERSION: 'v1/../../x' })).toEqual([
    'MODEL_PREFIX: expected an object prefix of names (1 to 128 letters, digits, dot, dash or underscore, not starting with a dot) joined by /, got "../escape"',
    'MODEL_PINNED_VERSION: expected a version name (1 to 128 letters, digits, dot, dash or underscore, not starting with a dot), got "v1/../../x"',
  ]);
  expect(loadConfig({ MODEL_PREFIX: 'models/sentinel-bilstm' }).modelPrefix).toBe('models/sentinel-bilstm');
});

describe('schedules are checked at start-up', () => {
  it.each([
    ['POLL_INTERVAL', 'abc'],
    ['POLL_INTERVAL', '45'],
    ['POLL_INTERVAL', '0'],
    ['MODEL_CHECK_INTERVAL', '* * *'],
  ])('%s=%j', (name, value) => {
    expect(problemsOf({ [name]: value })).toEqual([
      `${name}: expected seconds dividing a minute, an hour or a day (e.g. 30, 60, 300), or a cron expression, got ${JSON.stringify(value)}`,
    ]);
  });

  it('accepts divisors and cron expressions', () => {
    expect(loadConfig({ POLL_INTERVAL: '30', MODEL_CHECK_INTERVAL: '*/5 * * * *' })).toMatchObject({
      pollInterval: '30',
      modelCheckInterval: '*/5 * * * *',
    });
  });
});

describe('an open API only on loopback', () => {
  it.each(['0.0.0.0', '10.0.0.5', '::'])('HOST=%s without API_KEYS stops start-up, in any mode', (host) => {
    expect(() => checkMode(loadConfig({ HOST: host }))).toThrow(
      `Sentinel cannot start:\n  API_KEYS: not set, and HOST=${host} is not a loopback address: the HTTP API would be open to the network; make a key with npm run apikey, or listen on HOST=127.0.0.1`,
    );
  });

  it.each(['127.0.0.1', '127.0.0.2', '::1', 'localhost'])('HOST=%s may stay open', (host) => {
    expect(() => checkMode(loadConfig({ HOST: host }))).not.toThrow();
  });
});

describe('the issue 13 settings', () => {
  it('MODEL_CHALLENGER needs MODEL_BUCKET (a challenger is a registry version)', () => {
    expect(() => checkMode(loadConfig({ MODEL_CHALLENGER: 'v2' }))).toThrow(
      'MODEL_CHALLENGER: names a registry version (v2) but MODEL_BUCKET is not set: a challenger comes from the bucket',
    );
    expect(() => checkMode(loadConfig({ MODEL_CHALLENGER: 'v2', MODEL_BUCKET: 'air-paradis-models' }))).not.toThrow();
  });

  it('rules, budget, time zone and cron are checked when read', () => {
    expect(() =>
      loadConfig({
        OPS_ALERT_RULES: 'http=20/5,disk=1/1',
        X_MONTHLY_READ_BUDGET: '0',
        DIGEST_TIMEZONE: 'Mars/Olympus',
        DIGEST_CRON: 'every morning',
      }),
    ).toThrow(
      /OPS_ALERT_RULES: expected a comma-separated list of kind=count\/minutes[\s\S]*X_MONTHLY_READ_BUDGET: expected an integer between 1 and 1000000000[\s\S]*DIGEST_TIMEZONE: expected an IANA time zone/,
    );
    expect(
      loadConfig({
        OPS_ALERT_RULES: 'http=20/5, source=3/15',
        DIGEST_TIMEZONE: 'europe/paris',
        X_MONTHLY_READ_BUDGET: '100000',
      }),
    ).toMatchObject({
      opsAlertRules: ['http=20/5', 'source=3/15'],
      digestTimezone: 'Europe/Paris',
      xMonthlyReadBudget: 100000,
    });
  });
});

describe('modes', () => {
  const production = {
    NODE_ENV: 'production',
    X_BEARER_TOKEN: 'AAAA-bearer',
    DATABASE_URL: 'postgres://sentinel@db/sentinel',
    SLACK_BOT_TOKEN: 'xoxb-1-2-3',
    SLACK_SIGNING_SECRET: '0123456789abcdef0123456789abcdef',
    SLACK_ALERT_CHANNELS: 'C0123ABCD',
    API_KEYS: `dashboard:predict+feedback:${'ab'.repeat(32)}`,
    PRIVACY_USER_ID_SECRET: 'a-long-random-secret-for-the-voter-hashes',
  };

  it('local by default, on loopback; production with NODE_ENV=production or on Cloud Run, on every interface', () => {
    expect(loadConfig({})).toMatchObject({ mode: 'local', host: '127.0.0.1' });
    expect(loadConfig({ NODE_ENV: 'production' })).toMatchObject({ mode: 'production', host: '0.0.0.0' });
    expect(loadConfig({ K_SERVICE: 'sentinel' })).toMatchObject({ mode: 'production', host: '0.0.0.0' });
    expect(loadConfig({ K_SERVICE: 'sentinel', HOST: '10.0.0.5' }).host).toBe('10.0.0.5');
  });

  it('production starts with a source, PostgreSQL and a chat sink (Slack or Teams)', () => {
    expect(() => checkMode(loadConfig(production))).not.toThrow();
    const teams = { ...production, SLACK_BOT_TOKEN: '', SLACK_SIGNING_SECRET: '', SLACK_ALERT_CHANNELS: '' };
    expect(() =>
      checkMode(
        loadConfig({ ...teams, MicrosoftAppId: '0b5d6e5c-1c1a-4a8e-9f3e-2d0c6c1b7a10', MicrosoftAppPassword: 'pw' }),
      ),
    ).not.toThrow();
    expect(() => checkMode(loadConfig({}))).not.toThrow(); // local mode needs nothing
  });

  it('the dashboard in production: its secret needs an https address, and a short secret is refused', () => {
    const secret = 'a-dashboard-secret-of-more-than-32-chars';
    expect(() =>
      checkMode(
        loadConfig({ ...production, DASHBOARD_SECRET: secret, DASHBOARD_BASE_URL: 'https://sentinel.example' }),
      ),
    ).not.toThrow();
    expect(() => checkMode(loadConfig({ ...production, DASHBOARD_SECRET: secret }))).toThrow(
      'DASHBOARD_BASE_URL: not set while DASHBOARD_SECRET is: alerts could not link to the dashboard',
    );
    expect(() =>
      checkMode(loadConfig({ ...production, DASHBOARD_SECRET: secret, DASHBOARD_BASE_URL: 'http://sentinel.example' })),
    ).toThrow('DASHBOARD_BASE_URL: is http:, refused in production mode');
    expect(() => loadConfig({ DASHBOARD_SECRET: 'short' })).toThrow(
      'DASHBOARD_SECRET: expected at least 32 characters (e.g. `openssl rand -base64 48`)',
    );
    expect(() => checkMode(loadConfig({ DASHBOARD_SECRET: secret }))).not.toThrow(); // local: the default address
  });

  it('production without them names each missing setting', () => {
    let error: ConfigError | undefined;
    try {
      checkMode(loadConfig({ K_SERVICE: 'sentinel', TEAMS_ENABLED: 'true', REPLAY_CSV: 'x.csv' }));
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.message.split('\n')[0]).toBe('Production mode (K_SERVICE=sentinel) cannot start:');
    expect(error?.problems.map((p) => p.setting)).toEqual([
      'API_KEYS',
      'X_BEARER_TOKEN',
      'REPLAY_CSV',
      'DATABASE_URL',
      'SLACK_BOT_TOKEN / MicrosoftAppId',
      'TEAMS_ENABLED',
      'PRIVACY_USER_ID_SECRET',
    ]);
    // Slack without alert channels posts nothing: not a sink.
    expect(() => checkMode(loadConfig({ ...production, SLACK_ALERT_CHANNELS: '' }))).toThrow(/no chat sink/);
  });
});

describe('secrets', () => {
  it('recognises secret-looking names in any style', () => {
    for (const k of [
      'SLACK_BOT_TOKEN',
      'slackBotToken',
      'slackSigningSecret',
      'DB_PASSWORD',
      'dbPassword',
      'client_secret',
      'apiKey',
      'X_API_KEY',
      'authorization',
      'privateKey',
    ]) {
      expect([k, isSecretKey(k)]).toEqual([k, true]);
    }
    for (const k of ['port', 'host', 'maxTextChars', 'modelDir', 'author', 'keyboard']) {
      expect([k, isSecretKey(k)]).toEqual([k, false]);
    }
  });

  it('redactConfig masks secret values and URL passwords, leaving the rest', () => {
    const config: Config & Record<string, unknown> = {
      ...loadConfig({}),
      slackBotToken: 'xoxb-123-456-abcdef',
      slackSigningSecret: 'shh',
      databasePassword: 'hunter2',
      databaseUrl: 'postgres://sentinel:hunter2@127.0.0.1:5432/sentinel',
      emptyToken: undefined,
    };
    const shown = redactConfig(config);
    const text = JSON.stringify(shown);
    expect(text).not.toContain('xoxb-123');
    expect(text).not.toContain('shh');
    expect(text).not.toContain('hunter2');
    expect(shown).toMatchObject({
      port: 8080,
      slackBotToken: '[redacted]',
      slackSigningSecret: '[redacted]',
      databasePassword: '[redacted]',
      databaseUrl: 'postgres://sentinel:[redacted]@127.0.0.1:5432/sentinel',
    });
    expect(config.slackBotToken).toBe('xoxb-123-456-abcdef'); // the config itself is untouched
  });

  it('redactSecrets walks nested objects and arrays but keeps non-text values of secret-looking keys', () => {
    expect(
      redactSecrets({ a: { gcs: { credentials: { private_key: 'PEM' } } }, list: [{ token: 't' }], tokens: 12 }),
    ).toEqual({
      a: { gcs: { credentials: { private_key: '[redacted]' } } },
      list: [{ token: '[redacted]' }],
      tokens: 12,
    });
  });

  it('the logger masks secrets in logged objects, child bindings, errors and messages', () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger('info', { stream });
    const config = { ...loadConfig({}), slackBotToken: 'xoxb-leak-1', dbPassword: 'leak-2' };
    logger.info({ config: redactConfig(config) }, 'starting');
    logger.info({ config }, 'even unredacted');
    logger.child({ apiKey: 'leak-3' }).info({ headers: { authorization: 'Bearer leak-4' } }, 'child');
    logger.error({ err: new Error('cannot connect to postgres://u:leak-5@db:5432/x') }, 'db down');
    logger.warn('connecting to postgres://u:leak-6@db:5432/x');
    const out = lines.join('');
    expect(lines).toHaveLength(5);
    for (const leak of ['xoxb-leak-1', 'leak-2', 'leak-3', 'leak-4', 'leak-5', 'leak-6'])
      expect(out).not.toContain(leak);
    expect(out).toContain('"slackBotToken":"[redacted]"');
    expect(out).toContain('"port":8080'); // the rest is kept
    expect(out).toContain('postgres://u:[redacted]@db:5432/x');
  });
});
