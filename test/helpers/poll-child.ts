/**
 * A poller process for the crash-safety test (test/contract/poller-crash.test.ts), run as
 * `node --import tsx test/helpers/poll-child.ts`: the real X source (trusting the loopback server's
 * certificate through NODE_EXTRA_CA_CERTS), the real model, a real SQLite file.
 *
 * It polls until a poll brings nothing new (or POLLS polls), printing one JSON line per poll on stdout.
 * Test-only crash switch, read here and nowhere in src/: SENTINEL_TEST_KILL_AT_CHECKPOINT=N makes the
 * process SIGKILL itself at its N-th checkpoint write, after the mentions are stored and before the
 * checkpoint is: the worst moment to die.
 */
import { loadScorer } from '../../src/sentiment/load';
import { Poller } from '../../src/mentions/poller';
import { XSource } from '../../src/mentions/x-source';
import { openSqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';
import { createCliLogger } from '../../src/log';

async function main(): Promise<void> {
  const env = process.env;
  const logger = createCliLogger('warn', 'poll-child');
  const killAt = Number(env.SENTINEL_TEST_KILL_AT_CHECKPOINT ?? 0);
  const store = openSqliteStore(env.SQLITE_PATH!);
  await store.migrate();

  let checkpointWrites = 0;
  const setCheckpoint = async (stream: string, checkpoint: string): Promise<void> => {
    checkpointWrites++;
    if (checkpointWrites === killAt) {
      process.stdout.write(
        JSON.stringify({ killing: true, stream, checkpoint, stored: await store.countMentions() }) + '\n',
      );
      process.kill(process.pid, 'SIGKILL');
      await new Promise(() => undefined); // never returns: the signal lands first
    }
    return store.setCheckpoint(stream, checkpoint);
  };
  const guarded = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'setCheckpoint') return setCheckpoint;
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as Store;

  const scorer = await loadScorer(env.MODEL_DIR!, { logger });
  const source = new XSource({
    bearerToken: env.X_BEARER_TOKEN!,
    apiUrl: env.X_API_URL,
    streams: { AirParadis: '@AirParadis -is:retweet' },
    maxResults: 10,
    maxPagesPerPoll: Number(env.PAGES ?? 2),
    logger,
  });
  const poller = new Poller({ streams: [{ source, stream: 'AirParadis' }], scorer, store: guarded, logger });
  const polls = Number(env.POLLS ?? 10);
  for (let i = 0; i < polls; i++) {
    const [report] = await poller.pollOnce();
    process.stdout.write(JSON.stringify({ scorer: scorer.info.version, ...report }) + '\n');
    if (report.result !== 'ok' || report.fetched === 0) break;
  }
  await poller.stop();
  await store.close();
  scorer.dispose();
}

main().catch((err) => {
  process.stderr.write(`poll-child: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
