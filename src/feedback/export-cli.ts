/**
 * npm run feedback:export -- --out <csv> [--since <iso>] [--kinds mention,command,api]
 *
 * Every judged prediction of the store the server uses (DATABASE_URL or SQLITE_PATH, read from the
 * environment exactly as `npm start` reads it), with the people's label, as a CSV in the training format
 * (./export.ts says how votes become a label). Progress and the summary go to stderr; the last stdout line
 * is one JSON object: {exported, dropped_ties, dropped_no_text, judged, out}. Bad arguments: usage on
 * stderr, exit 2; a bad configuration or a store it cannot read: exit 1. The file is written whole or not
 * at all (a temporary file renamed).
 *
 * An entry point, beside src/main.ts: it may read process.env.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/schema';
import { openConfiguredStore } from '../store/open';
import type { Store, StoredPrediction } from '../store/types';
import { exportJudgments, toCsv } from './export';

const KINDS = ['mention', 'command', 'api'] as const;

export const USAGE = `usage: npm run feedback:export -- --out <csv> [--since <iso time>] [--kinds mention,command,api]
  --out    the CSV to write (training format: tweet_id,label,airline,created_at,text, then the votes)
  --since  only predictions with a vote cast at or after this time (e.g. 2026-11-01 or 2026-11-01T00:00:00Z)
  --kinds  which predictions: mention (X mentions), command (/sentiment), api (POST /predict); default all
Uses the store the server uses: DATABASE_URL or SQLITE_PATH.`;

class UsageError extends Error {}

export interface ExportArgs {
  out: string;
  sinceIso?: string;
  kinds: Array<StoredPrediction['kind']>;
}

export function parseExportArgs(argv: string[]): ExportArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' },
        since: { type: 'string' },
        kinds: { type: 'string' },
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
  if (!values.out?.trim()) throw new UsageError('--out <csv> is required');
  let sinceIso: string | undefined;
  if (values.since !== undefined) {
    const t = Date.parse(values.since);
    if (!/^\d{4}-\d{2}-\d{2}/.test(values.since) || Number.isNaN(t))
      throw new UsageError(
        `--since ${JSON.stringify(values.since)} is not an ISO date or time (e.g. 2026-11-01T00:00:00Z)`,
      );
    sinceIso = new Date(t).toISOString();
  }
  const kinds = (values.kinds ?? KINDS.join(','))
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  for (const k of kinds) {
    if (!(KINDS as readonly string[]).includes(k))
      throw new UsageError(`--kinds: unknown kind ${JSON.stringify(k)} (allowed: ${KINDS.join(', ')})`);
  }
  if (kinds.length === 0) throw new UsageError(`--kinds names no kind (allowed: ${KINDS.join(', ')})`);
  return { out: values.out, sinceIso, kinds: [...new Set(kinds)] as ExportArgs['kinds'] };
}

export async function runExport(
  argv: string[],
  env: Record<string, string | undefined>,
  out: (s: string) => void,
  err: (s: string) => void,
): Promise<number> {
  let args: ExportArgs | 'help';
  try {
    args = parseExportArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`feedback:export: ${e.message}\n${USAGE}\n`);
    return 2;
  }
  if (args === 'help') {
    out(`${USAGE}\n`);
    return 0;
  }

  let store: Store;
  let where: string;
  try {
    const config = loadConfig(env);
    ({ store, where } = await openConfiguredStore(config));
  } catch (e) {
    err(`feedback:export: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    const scope = [`kinds ${args.kinds.join(', ')}`, ...(args.sinceIso ? [`votes since ${args.sinceIso}`] : [])];
    err(`Reading judged predictions from ${where} (${scope.join('; ')})\n`);
    const judgments = await store.judgments({
      kinds: args.kinds,
      ...(args.sinceIso ? { sinceIso: args.sinceIso } : {}),
    });
    const result = exportJudgments(judgments);
    mkdirSync(dirname(args.out), { recursive: true });
    const tmp = `${args.out}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, toCsv(result.rows));
      renameSync(tmp, args.out);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
    const noLabel = result.droppedNoLabelNamed
      ? ` (${result.droppedNoLabelNamed} of them: ❌ won but named no label)`
      : '';
    err(
      `${result.judged} judged predictions: ${result.rows.length} exported to ${args.out}, ` +
        `${result.droppedTies} dropped as ties${noLabel}, ${result.droppedNoText} dropped without text\n`,
    );
    out(
      `${JSON.stringify({
        exported: result.rows.length,
        dropped_ties: result.droppedTies,
        dropped_no_text: result.droppedNoText,
        judged: result.judged,
        out: args.out,
      })}\n`,
    );
    return 0;
  } catch (e) {
    err(`feedback:export: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await store.close();
  }
}

if (require.main === module) {
  void runExport(
    process.argv.slice(2),
    process.env,
    (s) => process.stdout.write(s),
    (s) => process.stderr.write(s),
  ).then((code) => {
    process.exitCode = code;
  });
}
