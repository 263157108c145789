/**
 * `npm run apikey -- --name NAME --scopes predict,feedback,metrics`: makes an API key for the HTTP API.
 * Prints the key (for the caller; shown once, never stored) and the API_KEYS entry that lets it in (only
 * its SHA-256: the entry may sit in a secret store or a settings file without giving the key away).
 */
import { parseArgs } from 'node:util';
import { SCOPES, newApiKey, type Scope } from './http/auth';

const USAGE = `usage: npm run apikey -- --name NAME --scopes SCOPE[,SCOPE…]
  --name    who the key is for: a-z, 0-9, _ and -, up to 40 characters (votes are counted per name)
  --scopes  what it may call: ${SCOPES.join(', ')}`;

export function runCli(argv: string[]): { code: number; out: string; err: string } {
  let values: { name?: string; scopes?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { name: { type: 'string' }, scopes: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    return { code: 2, out: '', err: `${(err as Error).message}\n${USAGE}\n` };
  }
  if (values.help) return { code: 0, out: `${USAGE}\n`, err: '' };
  const problems: string[] = [];
  const name = values.name ?? '';
  if (!/^[a-z0-9][a-z0-9_-]{0,39}$/.test(name))
    problems.push(`--name: expected a-z, 0-9, _ or -, got ${JSON.stringify(name)}`);
  const scopes = (values.scopes ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (scopes.length === 0) problems.push(`--scopes: expected some of ${SCOPES.join(', ')}`);
  if (unknown.length) problems.push(`--scopes: unknown ${unknown.join(', ')} (known: ${SCOPES.join(', ')})`);
  if (problems.length) return { code: 2, out: '', err: `${problems.join('\n')}\n${USAGE}\n` };
  const { key, entry } = newApiKey(name, [...new Set(scopes)] as Scope[]);
  return {
    code: 0,
    out:
      `API key for ${name} (give it to the caller now: it is not stored anywhere, and cannot be shown again):\n` +
      `  ${key}\n` +
      `Add this entry to API_KEYS (comma-separated with the others), then restart Sentinel:\n` +
      `  ${entry}\n` +
      `Callers send it as: Authorization: Bearer ${key.slice(0, 8)}…\n`,
    err: '',
  };
}

if (require.main === module) {
  const { code, out, err } = runCli(process.argv.slice(2));
  process.stdout.write(out);
  process.stderr.write(err);
  process.exitCode = code;
}
