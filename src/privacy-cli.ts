/**
 * npm run privacy:erase -- --user <namespaced id> [--user …] [--tweet <id or URL> …]
 *
 * Erasure: removes every trace of a person (`--user slack:T123:U456`, `teams:<tenant>:<aad id>`,
 * `api:<key name>`, an X author `x:<author id>`, or a vote stored before hashing `legacy:<source>:<raw id>`)
 * or of a deleted tweet (`--tweet 569587140490866689`, or its URL) from the store the server uses —
 * DATABASE_URL or SQLITE_PATH, hashed with PRIVACY_USER_ID_SECRET, read from the environment exactly as
 * `npm start` reads it (src/ops/erase.ts says what goes). Prints what it removed and exits 0, also when
 * there was nothing to remove; bad arguments: usage on stderr, exit 2; a bad configuration, a store it
 * cannot open, or a key other than the one the votes were hashed with: exit 1.
 *
 * An entry point, beside src/main.ts: it may read process.env.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/schema';
import { eraseTweet, eraseUser, isNamespacedUserId, totalRemoved, type ErasureReport } from './ops/erase';
import { openConfiguredStore } from './store/open';
import type { Store } from './store/types';

const USAGE = `usage: npm run privacy:erase -- --user <id> | --tweet <id> [--user … --tweet …]
  --user   a namespaced id: slack:<team id>:<user id>, teams:<tenant id>:<aad object id>, api:<key name>,
           x:<X author id> (every stored tweet of that author), legacy:<source>:<raw id> (a vote stored
           before ids were hashed)
  --tweet  a tweet id (digits) or its URL (https://x.com/<user>/status/<id>)
Uses the store and key the server uses: DATABASE_URL or SQLITE_PATH, and PRIVACY_USER_ID_SECRET.`;

class UsageError extends Error {}

export type Subject = { kind: 'user'; id: string } | { kind: 'tweet'; id: string };

export function parseEraseArgs(argv: string[]): Subject[] | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        user: { type: 'string', multiple: true },
        tweet: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values } = parsed;
  if (values.help) return 'help';
  const subjects: Subject[] = [];
  for (const raw of values.user ?? []) {
    const id = raw.trim();
    if (!isNamespacedUserId(id)) {
      throw new UsageError(
        `--user ${JSON.stringify(raw)} is not a namespaced id: write slack:<team id>:<user id>, teams:<tenant id>:<aad object id>, api:<key name>, x:<author id> or legacy:<source>:<raw id>`,
      );
    }
    subjects.push({ kind: 'user', id });
  }
  for (const raw of values.tweet ?? []) {
    const id = tweetId(raw.trim());
    if (!id) throw new UsageError(`--tweet ${JSON.stringify(raw)} is neither a tweet id (digits) nor a tweet's URL`);
    subjects.push({ kind: 'tweet', id });
  }
  if (subjects.length === 0) throw new UsageError('say what to erase: --user <id> or --tweet <id>');
  return subjects;
}

/** `569587140490866689`, `x:569587140490866689` or `https://x.com/AirParadis/status/569587140490866689`. */
function tweetId(s: string): string | null {
  const m =
    /^(?:x:)?(\d{1,25})$/.exec(s) ??
    /^https?:\/\/(?:[\w-]+\.)?(?:x|twitter)\.com\/.+\/status(?:es)?\/(\d{1,25})(?:[/?#].*)?$/.exec(s);
  return m ? m[1] : null;
}

const LINES: Array<[keyof ErasureReport, string]> = [
  ['votes', 'votes'],
  ['mentions', 'mentions'],
  ['predictions', 'predictions'],
  ['links', 'message links'],
  ['alertRecords', 'alert records rewritten'],
  ['chatStates', 'chat state entries'],
];

export function formatReport(subject: Subject, r: ErasureReport): string {
  const head = subject.kind === 'user' ? `user ${subject.id}` : `tweet ${subject.id}`;
  const width = Math.max(...LINES.map(([, label]) => label.length));
  const lines = LINES.map(([k, label]) => `  ${label.padEnd(width)}  ${r[k]}`);
  return [head, ...lines, `  ${'removed in all'.padEnd(width)}  ${totalRemoved(r)}`].join('\n');
}

export async function runErase(
  argv: string[],
  env: Record<string, string | undefined>,
  out: (s: string) => void,
  err: (s: string) => void,
): Promise<number> {
  let subjects: Subject[] | 'help';
  try {
    subjects = parseEraseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`privacy:erase: ${e.message}\n${USAGE}\n`);
    return 2;
  }
  if (subjects === 'help') {
    out(`${USAGE}\n`);
    return 0;
  }

  let store: Store;
  let where: string;
  try {
    const config = loadConfig(env);
    if (config.mode === 'production' && !config.privacyUserIdSecret) {
      err(
        'privacy:erase: PRIVACY_USER_ID_SECRET is not set: in production mode votes are hashed with it; set it as the server has it\n',
      );
      return 1;
    }
    ({ store, where } = await openConfiguredStore(config));
  } catch (e) {
    err(`privacy:erase: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    out(`Erasing from ${where}\n`);
    for (const subject of subjects) {
      const report = subject.kind === 'user' ? await eraseUser(store, subject.id) : await eraseTweet(store, subject.id);
      out(`${formatReport(subject, report)}\n`);
    }
    return 0;
  } catch (e) {
    err(`privacy:erase: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await store.close();
  }
}

if (require.main === module) {
  void runErase(
    process.argv.slice(2),
    process.env,
    (s) => process.stdout.write(s),
    (s) => process.stderr.write(s),
  ).then((code) => {
    process.exitCode = code;
  });
}
