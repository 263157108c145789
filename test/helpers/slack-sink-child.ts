/**
 * A Sentinel process that posts one alert into Slack and exits, for the crash test of the Slack alert sink
 * (test/contract/slack-crash.test.ts), run as `node --import tsx test/helpers/slack-sink-child.ts`: the real
 * Slack adapter (Bolt, the WebClient, the retry layer) against the recording Slack Web API at
 * SLACK_API_URL, the real store at SQLITE_PATH or DATABASE_URL. It delivers the opening of the alert
 * ALERT_ID with its chart and three mentions, then prints `{"done":true}` and exits. Its log lines (JSON)
 * go to stdout. The test SIGKILLs it from the Slack server, after Slack did the work and before the answer.
 */
import Fastify from 'fastify';
import { loadConfig } from '../../config/schema';
import { startSlack } from '../../adapters/slack';
import { PredictionLog } from '../../src/feedback/prediction-log';
import { createLogger } from '../../src/log';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import { openStore } from '../../src/store/open';
import { renderTrendChart } from '../../src/trends/chart';
import type { AlertContent } from '../../src/trends/content';

export const CHILD_STREAM = 'AirParadis';
export const CHILD_MENTIONS = [
  '@AirParadis flight cancelled AGAIN and nobody at the desk',
  '@AirParadis 4 hours delayed and no food vouchers',
  '@AirParadis lost my bag for the third time this year',
];

/** The opening of the alert `alertId` as the trend monitor gives it (mention ids 9200…0, …1, …2). */
export function childAlert(alertId: string, openedAt: string): AlertContent {
  const points = Array.from({ length: 24 }, (_, i) => ({
    at: new Date(Date.parse(openedAt) - (23 - i) * 3_600_000).toISOString(),
    total: 40 + i,
    negative: i > 20 ? 30 : 8,
  }));
  const title = `${CHILD_STREAM}: negative mentions, last 24 h`;
  return {
    kind: 'opened',
    alertId,
    stream: CHILD_STREAM,
    headline: `Bad buzz starting on ${CHILD_STREAM}: 78 % of mentions negative in the last 3 h (normally 31 %)`,
    at: openedAt,
    openedAt,
    durationMinutes: 0,
    figures: {
      windowMinutes: 180,
      windowStart: new Date(Date.parse(openedAt) - 180 * 60_000).toISOString(),
      negativeShare: 0.78,
      baselineShare: 0.31,
      lift: 0.47,
      volume: 212,
      negatives: 165,
      usualVolume: 60,
      z: 9.1,
      pValue: 2e-9,
    },
    rise: { previousShare: 0.3, previousVolume: 58, pointsPerHour: 16.7 },
    peak: { share: 0.78, at: openedAt },
    sparkline: { text: '▂▂▃▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▆▇█', from: points[0].at, to: openedAt },
    mentions: CHILD_MENTIONS.map((text, i) => ({
      id: `920000000000000000${i}`,
      url: `https://x.com/i/web/status/920000000000000000${i}`,
      text,
      createdAt: openedAt,
      author: `traveller${i}`,
      negative: 0.97 - i * 0.01,
    })),
    terms: [],
    chart: {
      png: renderTrendChart({
        stream: CHILD_STREAM,
        points,
        alertPeriods: [{ from: openedAt }],
        title,
        width: 400,
        height: 200,
      }),
      width: 400,
      height: 200,
      title,
    },
  };
}

async function main(): Promise<void> {
  const env = process.env;
  const logger = createLogger('info', { format: 'json' });
  const store = await openStore({ databaseUrl: env.DATABASE_URL, sqlitePath: env.SQLITE_PATH ?? '' });
  const config = loadConfig({
    SLACK_BOT_TOKEN: env.SLACK_BOT_TOKEN!,
    SLACK_SIGNING_SECRET: '0123456789abcdef0123456789abcdef',
    SLACK_ALERT_CHANNELS: env.SLACK_ALERT_CHANNELS!,
    SLACK_API_URL: env.SLACK_API_URL!,
  });
  const app = Fastify();
  const slot = new ScorerSlot();
  const predictionLog = new PredictionLog(store);
  const slack = await startSlack({ config, app, slot, store, predictionLog, logger, apiOptions: { backoffMs: 20 } });
  await slack!.sink!.alertOpened(childAlert(env.ALERT_ID!, env.OPENED_AT!));
  process.stdout.write(JSON.stringify({ done: true }) + '\n');
  await slack!.stop();
  await app.close();
  await predictionLog.flush();
  await store.close();
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`slack-sink-child: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
