/**
 * npm run loop:demo -- [--day 2015-02-22] [--votes 300] [--epochs 1] [--lr 0.0002] [--from-scratch [--units 32] [--dim 64]] [--max-drop x] [--keep]
 *
 * The learning loop end to end, on the real data, with no account anywhere (issue 13):
 *  1. a loopback GCS server (the strict one the registry's contract tests use) holds the shipped model as
 *     champion, published through the registry's own client (src/registry/model-bucket.ts);
 *  2. the bot (src/main.ts, a child process: SQLite in a temp dir, MODEL_BUCKET on that server, the
 *     pointer checked every second) replays one day of tweets of the TRAINING split, labels removed;
 *  3. "people" vote through the bot's POST /feedback on a slice of the replayed mentions, from the human
 *     labels: ✅ where the model agreed, ❌ with the true label where it did not;
 *  4. npm run feedback:export on the bot's SQLite; 5. npm run train -- --feedback, briefly;
 *  6. npm run model:promote (the gate: evaluation split and feedback set) publishes to the loopback bucket
 *     only if the candidate is not worse; 7. the running bot is watched until it serves the new version.
 * Every step is the real command, run as a child process as a person would run it.
 *
 * What is voted on and trained on comes only from the training split: the replayed day is read from it,
 * rows whose tweet id or text is in the evaluation split are left out (and counted), and the stream file
 * (airline_stream.csv, holding the held-out test split) is refused. Both the shipped model and the
 * retrained one learnt from that split, so the feedback set's figures are optimistic for both; in
 * production votes are on new mentions.
 *
 * Whatever the gate decides is reported as it is: a brief retrain is usually worse than the champion, and
 * then the demo says refused and swapped false. `--max-drop 1` makes the gate accept any candidate, to
 * watch the publication and the hot swap. Progress goes to stderr; the last stdout line is one JSON object
 * (votes, exported, candidate and champion with macro_f1 on both sets, decision, swapped). Children are
 * stopped and the temp dir removed on exit and on Ctrl-C.
 *
 * The loopback GCS server is imported from test/helpers/gcs-server.ts rather than copied: one strict
 * server, proven against the real client by the registry's tests. This file is therefore a development
 * tool, run with tsx and left out of the production build (tsconfig.build.json), like the benchmarks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { startGcsServer, type GcsServer } from '../../test/helpers/gcs-server';
import { csvField } from '../feedback/export';
import { ModelBucket } from '../registry/model-bucket';
import { isLabel, type Label } from '../sentiment/labels';
import { openStore } from '../store/open';
import type { Store } from '../store/types';
import { sameTextKey } from './dataset';

const ROOT = resolve(__dirname, '../..');
const SHIPPED = join(ROOT, 'models/sentinel-bilstm');
const BUCKET = 'loop-demo';
const PREFIX = 'sentinel-bilstm';

const USAGE = `usage: npm run loop:demo -- [options]
  --train <csv>      the training split; the replayed day is taken from it (default ../shared/data/airline_train.csv)
  --eval <csv>       the evaluation split, never voted on nor trained on (default ../shared/data/airline_val.csv)
  --day <date>       the day replayed, by the tweets' created_at (default 2015-02-22: 2,174 tweets)
  --votes <n>        replayed mentions that get a vote (default 300)
  --epochs <n> --lr <x>   the retrain: by default the champion fine-tuned on the training split and the votes
                          (npm run train -- --init; default 1 epoch at 0.0002)
  --from-scratch          train a new network instead (default 2 epochs; --units <n> --dim <n>
                          --embeddings random|word2vec: default 32, 64, random)
  --max-drop <x>     the gate's margin (default 0.01, PROMOTE_MAX_DROP's default); 1 accepts any candidate
  --swap-timeout <s> how long to wait for the bot to serve a promoted version (default 60)
  --keep             keep the working directory (bot log, SQLite, export, runs, models)`;

interface Options {
  train: string;
  eval: string;
  day: string;
  votes: number;
  epochs: number;
  lr: string;
  fromScratch: boolean;
  units: number;
  dim: number;
  embeddings: string;
  maxDrop?: string;
  swapTimeoutS: number;
  keep: boolean;
}

class UsageError extends Error {}

function options(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      train: { type: 'string', default: '../shared/data/airline_train.csv' },
      eval: { type: 'string', default: '../shared/data/airline_val.csv' },
      day: { type: 'string', default: '2015-02-22' },
      votes: { type: 'string', default: '300' },
      epochs: { type: 'string' },
      lr: { type: 'string', default: '0.0002' },
      'from-scratch': { type: 'boolean', default: false },
      units: { type: 'string', default: '32' },
      dim: { type: 'string', default: '64' },
      embeddings: { type: 'string', default: 'random' },
      'max-drop': { type: 'string' },
      'swap-timeout': { type: 'string', default: '60' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return null;
  const int = (name: 'votes' | 'epochs' | 'units' | 'dim' | 'swap-timeout', min: number) => {
    const v = Number(values[name] ?? (name === 'epochs' ? (values['from-scratch'] ? 2 : 1) : NaN));
    if (!Number.isInteger(v) || v < min)
      throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${values[name]}"`);
    return v;
  };
  if (!(Number(values.lr) > 0)) throw new UsageError(`--lr must be a number > 0, got "${values.lr}"`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(values.day))
    throw new UsageError(`--day must be a date like 2015-02-22, got "${values.day}"`);
  if (values.embeddings !== 'random' && values.embeddings !== 'word2vec')
    throw new UsageError('--embeddings must be random or word2vec');
  for (const [flag, path] of [
    ['--train', values.train],
    ['--eval', values.eval],
  ] as const)
    if (!existsSync(path)) throw new UsageError(`${flag} ${path} does not exist`);
  if (/stream/i.test(basename(values.train)))
    throw new UsageError(
      `--train ${values.train}: the stream file holds the held-out test split; it is replayed and evaluated, never voted on nor trained on`,
    );
  if (resolve(values.train) === resolve(values.eval)) throw new UsageError('--train and --eval are the same file');
  // The steps run in the repository's root: paths are given to them from there.
  const fromRoot = (p: string) => relative(ROOT, resolve(p)) || '.';
  return {
    train: fromRoot(values.train),
    eval: fromRoot(values.eval),
    day: values.day,
    votes: int('votes', 1),
    epochs: int('epochs', 1),
    lr: values.lr,
    fromScratch: values['from-scratch'],
    units: int('units', 1),
    dim: int('dim', 1),
    embeddings: values.embeddings,
    maxDrop: values['max-drop'],
    swapTimeoutS: int('swap-timeout', 1),
    keep: values.keep,
  };
}

// ---------------------------------------------------------------------------------------------------
// Children: every one is tracked, so that exit and Ctrl-C stop them all.

const children = new Set<ChildProcess>();
/** What Ctrl-C runs (the demo's cleanup, once it has something to clean), and whether it was pressed. */
let onInterrupt: (() => Promise<void>) | undefined;
let interrupted = false;

function say(m: string): void {
  process.stderr.write(`${m}\n`);
}

/** Runs a CLI of this repository (with tsx) to its end; its stderr is shown indented, its stdout returned. */
function runStep(
  script: string,
  args: string[],
  env: Record<string, string>,
  opts: { quiet?: (line: string) => boolean } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; json: Record<string, unknown> | null }> {
  return new Promise((ok, fail) => {
    if (interrupted) return fail(new Error('interrupted'));
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: ROOT,
      env: baseEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const lines = (partial + d.toString()).split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim() && !opts.quiet?.(l)) say(`      ${l}`);
    });
    child.on('error', fail);
    child.on('exit', (code) => {
      children.delete(child);
      const last = stdout.trim().split('\n').pop() ?? '';
      let json: Record<string, unknown> | null;
      try {
        json = JSON.parse(last) as Record<string, unknown>;
      } catch {
        json = null; // no JSON line: the step failed before its end
      }
      ok({ code, stdout, stderr, json });
    });
  });
}

/** Children get a clean environment: nothing of the caller's accounts (Slack, Teams, X, a real bucket) leaks in. */
function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'development', ...extra };
}

async function stopChildren(): Promise<void> {
  await Promise.all(
    [...children].map(
      (c) =>
        new Promise<void>((done) => {
          if (c.exitCode !== null || c.signalCode !== null) return done();
          const force = setTimeout(() => c.kill('SIGKILL'), 10_000);
          c.once('exit', () => {
            clearTimeout(force);
            done();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => ok(port));
    });
  });
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>, alive?: () => void): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    alive?.();
    const got = await probe().catch(() => undefined);
    if (got !== undefined) return got;
    if (Date.now() > end) throw new Error(`timed out after ${Math.round(ms / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const seconds = (since: number) => Math.round((performance.now() - since) / 100) / 10;

// ---------------------------------------------------------------------------------------------------

interface Tweet {
  tweet_id: string;
  label: Label;
  airline: string;
  created_at: string;
  text: string;
}

/** The day's tweets of the training split, minus any whose id or text is in the evaluation split. */
function replayDay(opts: Options): { tweets: Tweet[]; leftOut: number } {
  const read = (path: string) =>
    parse(readFileSync(resolve(ROOT, path)), { columns: true, skip_empty_lines: true, bom: true }) as Array<
      Record<string, string>
    >;
  const evalRows = read(opts.eval);
  const evalIds = new Set(evalRows.map((r) => r.tweet_id));
  const evalTexts = new Set(evalRows.map((r) => sameTextKey(r.text ?? '')));
  let leftOut = 0;
  const tweets: Tweet[] = [];
  for (const r of read(opts.train)) {
    if (!r.created_at?.startsWith(opts.day)) continue;
    const label = r.label?.trim();
    if (!isLabel(label))
      throw new UsageError(`--train ${opts.train}: tweet ${r.tweet_id} has no label: not a training split`);
    if (evalIds.has(r.tweet_id) || evalTexts.has(sameTextKey(r.text))) {
      leftOut++;
      continue;
    }
    tweets.push({ tweet_id: r.tweet_id, label, airline: r.airline, created_at: r.created_at, text: r.text });
  }
  return { tweets, leftOut };
}

/** `n` mentions spread evenly over the day (people vote all day long, not on the first hour only). */
function slice<T>(items: T[], n: number): T[] {
  if (n >= items.length) return items;
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)]);
}

async function demo(opts: Options): Promise<Record<string, unknown>> {
  const started = performance.now();
  const work = mkdtempSync(join(tmpdir(), 'sentinel-loop-'));
  say(`loop demo: working in ${work}${opts.keep ? '' : ' (removed at the end; --keep keeps it)'}`);
  let gcs: GcsServer | undefined;
  let store: Store | undefined;
  let cleaning: Promise<void> | undefined;
  // Once, whoever asks first (the end of the demo, a failure, or Ctrl-C).
  const cleanup = () =>
    (cleaning ??= (async () => {
      await stopChildren();
      await store?.close().catch(() => undefined);
      await gcs?.stop().catch(() => undefined);
      if (!opts.keep) rmSync(work, { recursive: true, force: true });
    })());
  onInterrupt = cleanup;
  try {
    // 1. The bucket, with the shipped model as champion.
    let t = performance.now();
    gcs = await startGcsServer();
    gcs.bucket(BUCKET); // an empty bucket, as made in the console
    const bucket = new ModelBucket({
      bucket: BUCKET,
      prefix: PREFIX,
      endpoint: gcs.url,
      access: 'anonymous',
      timeoutMs: 10_000,
      maxRetries: 0,
    });
    const champion = (await bucket.publish(SHIPPED)).version;
    say(
      `[1/7] bucket: loopback GCS at ${gcs.url}; champion ${champion} (the shipped model) published to ${bucket.url()}, latest.json → ${champion} (${seconds(t)} s)`,
    );

    // 2. The bot, replaying a day of the training split (labels removed: the bot sees only the tweets).
    t = performance.now();
    const { tweets, leftOut } = replayDay(opts);
    if (tweets.length === 0) throw new UsageError(`--day ${opts.day}: no tweet of ${opts.train} was created that day`);
    const replayCsv = join(work, `replay-${opts.day}.csv`);
    const columns = ['tweet_id', 'airline', 'created_at', 'text'] as const;
    writeFileSync(
      replayCsv,
      [columns.join(','), ...tweets.map((r) => columns.map((c) => csvField(r[c])).join(','))].join('\n') + '\n',
    );
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const sqlitePath = join(work, 'sentinel.db');
    const botLog = join(work, 'bot.log');
    const logFd = openSync(botLog, 'a');
    if (interrupted) throw new Error('interrupted');
    const bot = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: baseEnv({
        PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: work,
        SQLITE_PATH: sqlitePath,
        REPLAY_CSV: replayCsv,
        REPLAY_SPEED: 'Infinity',
        POLL_INTERVAL: '1',
        BUNDLED_REPLAY: 'false',
        MODEL_DIR: SHIPPED,
        MODEL_BUCKET: BUCKET,
        MODEL_PREFIX: PREFIX,
        GCS_ENDPOINT: gcs.url,
        GCS_ACCESS: 'anonymous',
        MODEL_CACHE_DIR: join(work, 'bot-models'),
        MODEL_CHECK_INTERVAL: '1',
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'info',
      }),
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);
    children.add(bot);
    bot.on('exit', () => children.delete(bot));
    const botAlive = () => {
      if (bot.exitCode !== null || bot.signalCode !== null)
        throw new Error(`the bot exited (${bot.exitCode ?? bot.signalCode}); its log:\n${tail(botLog)}`);
    };
    const ready = () =>
      fetch(`${url}/ready`).then(async (r) =>
        r.ok ? ((await r.json()) as { model: { version: string }; origin?: { source: string } }) : undefined,
      );
    const first = await until('the bot to be ready', 120_000, ready, botAlive);
    say(
      `[2/7] bot: pid ${bot.pid} on ${url}, serving ${first.model.version} from ${first.origin?.source ?? '?'}; replaying ${tweets.length} tweets of ${opts.day} from ${opts.train}` +
        `${leftOut ? ` (${leftOut} left out: in the evaluation split)` : ''}, labels removed (${seconds(t)} s; log ${botLog})`,
    );

    // 3. Wait until every replayed tweet is scored and stored, then vote as people would.
    t = performance.now();
    store = await openStore({ sqlitePath });
    const s = store;
    await until(
      `the replay of ${tweets.length} tweets`,
      300_000,
      async () => ((await s.countMentions()) >= tweets.length ? true : undefined),
      botAlive,
    );
    const voted = slice(tweets, opts.votes);
    let agreed = 0;
    let corrected = 0;
    for (const tweet of voted) {
      const p = await s.getPrediction(`x:${tweet.tweet_id}`);
      if (!p) throw new Error(`the bot stored no prediction for tweet ${tweet.tweet_id}`);
      const right = p.label === tweet.label;
      const res = await fetch(`${url}/feedback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(
          right
            ? { prediction_id: p.id, correct: true }
            : { prediction_id: p.id, correct: false, true_label: tweet.label },
        ),
      });
      if (res.status !== 201) throw new Error(`POST /feedback answered ${res.status}: ${await res.text()}`);
      if (right) agreed++;
      else corrected++;
    }
    await store.close();
    store = undefined;
    say(
      `[3/7] votes: ${tweets.length} mentions scored and stored; ${voted.length} of them voted on through POST /feedback: ` +
        `${agreed} ✅ (the model agreed with the human label), ${corrected} ❌ with the true label (${seconds(t)} s)`,
    );

    // 4. Export the judged predictions from the bot's SQLite.
    t = performance.now();
    const feedbackCsv = join(work, 'feedback.csv');
    say(
      "[4/7] export: npm run feedback:export -- --out <work>/feedback.csv  (SQLITE_PATH=<work>/sentinel.db, the bot's store)",
    );
    const exported = await runStep('src/feedback/export-cli.ts', ['--out', feedbackCsv], { SQLITE_PATH: sqlitePath });
    if (exported.code !== 0 || !exported.json) throw new Error(`feedback:export failed (exit ${exported.code})`);
    say(`      → ${exported.json.exported} rows in ${feedbackCsv} (${seconds(t)} s)`);

    // 5. Retrain briefly, with the feedback merged in.
    t = performance.now();
    const version = `loop-demo-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`;
    const runs = join(work, 'runs');
    const trainArgs = [
      ...['--train', opts.train, '--val', opts.eval, '--feedback', feedbackCsv],
      ...['--out', join(work, 'candidate'), '--runs', runs, '--version', version],
      ...['--epochs', String(opts.epochs)],
      // Fine-tuning the champion keeps what it learnt; a new network starts from nothing (and, briefly
      // trained, is worse: the gate refuses it).
      ...(opts.fromScratch
        ? ['--embeddings', opts.embeddings, '--units', String(opts.units), '--dim', String(opts.dim)]
        : ['--init', relative(ROOT, SHIPPED), '--lr', opts.lr]),
    ];
    say(`[5/7] retrain: npm run train -- ${trainArgs.map((a) => a.replace(work, '<work>')).join(' ')}`);
    // The progress bars repeat every few seconds: their last line per epoch says enough.
    const trained = await runStep('src/train/train.ts', trainArgs, {}, { quiet: (l) => /\| .*\d+\/\d+/.test(l) });
    if (trained.code !== 0 || !trained.json) throw new Error(`train failed (exit ${trained.code})`);
    const run = String(trained.json.run);
    say(`      → candidate ${version}, run ${run} (${seconds(t)} s)`);

    // 6. The gate.
    t = performance.now();
    say(`[6/7] gate: npm run model:promote -- --candidate ${run} --feedback <work>/feedback.csv`);
    const gate = await runStep(
      'src/registry/promote-cli.ts',
      [
        ...['--candidate', run, '--runs', runs, '--feedback', feedbackCsv, '--eval', opts.eval, '--json'],
        ...(opts.maxDrop !== undefined ? ['--max-drop', opts.maxDrop] : []),
      ],
      {
        MODEL_BUCKET: BUCKET,
        MODEL_PREFIX: PREFIX,
        GCS_ENDPOINT: gcs.url,
        GCS_ACCESS: 'anonymous',
        MODEL_CACHE_DIR: join(work, 'gate-models'),
      },
    );
    if ((gate.code !== 0 && gate.code !== 1) || !gate.json) throw new Error(`model:promote failed (exit ${gate.code})`);
    const decision = gate.json.decision as 'promoted' | 'refused';
    say(`      → ${decision} (${seconds(t)} s)`);

    // 7. Does the running bot serve the new version? Promoted: wait for it; refused: it must still serve the champion.
    t = performance.now();
    let serving: string;
    let swapped = false;
    if (decision === 'promoted') {
      try {
        serving = await until(
          `the bot to serve ${version}`,
          opts.swapTimeoutS * 1000,
          async () => ((await ready())?.model.version === version ? version : undefined),
          botAlive,
        );
        swapped = true;
      } catch (err) {
        serving = (await ready().catch(() => undefined))?.model.version ?? 'nothing';
        say(`      ${(err as Error).message}`);
      }
    } else {
      serving = (await ready())?.model.version ?? 'nothing';
    }
    // What a client sees: a prediction names the version that made it.
    const predicted = await fetch(`${url}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: '@united 3 hours on the tarmac and nobody tells us anything', keep_text: false }),
    }).then((r) => r.json() as Promise<{ prediction?: { modelVersion: string } }>);
    say(
      `[7/7] hot swap: ${
        swapped
          ? `the running bot swapped ${champion} → ${version} without a restart (${seconds(t)} s); /predict answers with modelVersion ${predicted.prediction?.modelVersion}`
          : decision === 'promoted'
            ? `NOT swapped: the bot still serves ${serving}`
            : `nothing to swap (refused): the bot still serves ${serving}; /predict answers with modelVersion ${predicted.prediction?.modelVersion}`
      }`,
    );

    type Scores = Record<string, { macro_f1: number; negative_recall: number } | null | string>;
    const c = gate.json.candidate as Scores;
    const k = gate.json.champion as Scores;
    const per = (s: Scores, metric: 'macro_f1' | 'negative_recall') => ({
      evaluation: (s.evaluation as { [m: string]: number } | null)?.[metric] ?? null,
      feedback: (s.feedback as { [m: string]: number } | null)?.[metric] ?? null,
    });
    return {
      day: opts.day,
      replayed: tweets.length,
      votes: voted.length,
      agreed,
      corrected,
      exported: exported.json.exported,
      candidate: {
        version,
        run,
        from: opts.fromScratch ? 'scratch' : `fine-tuned ${champion}`,
        macro_f1: per(c, 'macro_f1'),
        negative_recall: per(c, 'negative_recall'),
      },
      champion: { version: champion, macro_f1: per(k, 'macro_f1'), negative_recall: per(k, 'negative_recall') },
      max_drop: gate.json.max_drop,
      decision,
      reasons: gate.json.reasons,
      published: gate.json.published,
      swapped,
      serving,
      seconds: seconds(started),
    };
  } finally {
    await cleanup();
  }
}

function tail(path: string, lines = 30): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

if (require.main === module) {
  // Ctrl-C (or a SIGTERM): stop the bot and any step in flight, remove the working directory, then exit.
  // What the interrupted step then reports (a child gone) is not a failure of the demo: not printed.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      say(`\n${signal}: stopping the bot and the running step…`);
      void (onInterrupt ?? stopChildren)().finally(() => process.exit(130));
    });
  }
  let opts: Options | null;
  try {
    opts = options(process.argv.slice(2));
  } catch (err) {
    say(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (!opts) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  demo(opts).then(
    (result) => {
      if (interrupted) return;
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      if (interrupted) return;
      say(`loop demo failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}
