/**
 * npm run teams:package -- [--app-id <guid>] [--domain <host>]… [--version <x.y.z>] [--out <file.zip>]
 *
 * Builds the Teams app package to upload (Teams admin center, or "Upload a custom app" in Teams): a zip of
 * manifest.json (from adapters/teams/manifest/, with the bot's app id filled in) and its two icons, at the
 * zip's root as Teams requires. The app id defaults to the MicrosoftAppId setting; `--domain` (repeatable)
 * fills validDomains, e.g. the host Sentinel is served from. The manifest and icons are checked against
 * Teams' limits first; a problem is reported with what to fix and the exit code is 1.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../../config/schema';
import { MANIFEST_DIR } from './icons';
import { zip } from './zip';

const USAGE =
  'usage: npm run teams:package -- [--app-id <guid>] [--domain <host>]... [--version <x.y.z>] [--out <file.zip>]';
const GUID = /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i;
const HOST = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(:\d{1,5})?$/i;
export const DEFAULT_OUT = join('dist', 'teams', 'sentinel-teams.zip');

export interface PackageOptions {
  appId: string;
  domains?: string[];
  version?: string;
  /** Where manifest.json and the icons are (default adapters/teams/manifest). */
  dir?: string;
}

export class PackageError extends Error {}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Manifest = Record<string, any>;

function pngSize(png: Buffer): { width: number; height: number } | null {
  if (png.length < 24 || png.subarray(0, 8).toString('hex') !== '89504e470d0a1a0a') return null;
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** The manifest with the app id filled in, and the zip to upload. Throws PackageError listing every problem. */
export function buildTeamsPackage(opts: PackageOptions): { manifest: Manifest; zip: Buffer } {
  const dir = opts.dir ?? MANIFEST_DIR;
  const problems: string[] = [];
  if (!GUID.test(opts.appId))
    problems.push(`the app id must be the bot's Microsoft app id (a GUID), got ${JSON.stringify(opts.appId)}`);
  for (const d of opts.domains ?? [])
    if (!HOST.test(d))
      problems.push(
        `--domain takes a host name without scheme or path (sentinel.example.com), got ${JSON.stringify(d)}`,
      );
  if (opts.version !== undefined && !/^\d{1,5}\.\d{1,5}\.\d{1,5}$/.test(opts.version))
    problems.push(`--version takes major.minor.patch (1.0.1), got ${JSON.stringify(opts.version)}`);
  if (problems.length) throw new PackageError(problems.join('\n'));

  const template = readFileSync(join(dir, 'manifest.json'), 'utf8');
  const manifest = JSON.parse(template.replaceAll('{{MicrosoftAppId}}', opts.appId)) as Manifest;
  if (opts.version) manifest.version = opts.version;
  manifest.validDomains = [...new Set([...(manifest.validDomains ?? []), ...(opts.domains ?? [])])];

  // Teams' limits (manifest schema 1.17).
  const text = JSON.stringify(manifest);
  if (text.includes('{{')) problems.push('manifest.json still has an unfilled {{…}} template field');
  if ((manifest.name?.short ?? '').length > 30) problems.push('name.short is longer than 30 characters');
  if ((manifest.name?.full ?? '').length > 100) problems.push('name.full is longer than 100 characters');
  if ((manifest.description?.short ?? '').length > 80) problems.push('description.short is longer than 80 characters');
  if ((manifest.description?.full ?? '').length > 4000)
    problems.push('description.full is longer than 4000 characters');
  for (const bot of manifest.bots ?? [])
    for (const list of bot.commandLists ?? [])
      for (const c of list.commands ?? []) {
        if (String(c.title).length > 32) problems.push(`command "${c.title}": the title is longer than 32 characters`);
        if (String(c.description).length > 128)
          problems.push(`command "${c.title}": the description is longer than 128 characters`);
      }
  const icons: Array<[string, number]> = [
    [manifest.icons?.color, 192],
    [manifest.icons?.outline, 32],
  ];
  const files: Array<{ name: string; data: Buffer }> = [];
  for (const [name, side] of icons) {
    let png: Buffer;
    try {
      png = readFileSync(join(dir, String(name)));
    } catch {
      problems.push(`icon ${String(name)} is missing from ${dir} (npx tsx adapters/teams/icons.ts draws them)`);
      continue;
    }
    const size = pngSize(png);
    if (!size || size.width !== side || size.height !== side)
      problems.push(`icon ${name} must be a ${side}×${side} PNG`);
    files.push({ name: String(name), data: png });
  }
  if (problems.length) throw new PackageError(problems.join('\n'));
  const json = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
  return { manifest, zip: zip([{ name: 'manifest.json', data: json }, ...files]) };
}

export function runCli(argv: string[], env: Record<string, string | undefined>): number {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'app-id': { type: 'string' },
        domain: { type: 'string', multiple: true },
        version: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 1;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let appId = values['app-id'];
  if (!appId) {
    try {
      appId = loadConfig(env).microsoftAppId;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(`teams:package: ${err.message}\n`);
      return 1;
    }
  }
  if (!appId) {
    process.stderr.write(
      `teams:package: pass --app-id <guid> or set MicrosoftAppId (the Azure Bot's app id)\n${USAGE}\n`,
    );
    return 1;
  }
  try {
    const built = buildTeamsPackage({
      appId,
      ...(values.domain ? { domains: values.domain } : {}),
      ...(values.version ? { version: values.version } : {}),
    });
    const out = resolve(values.out ?? DEFAULT_OUT);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, built.zip);
    process.stdout.write(
      `${out}: manifest ${built.manifest.version} for bot ${appId} (${built.zip.length} bytes); upload it in Teams → Apps → Manage your apps → Upload an app\n`,
    );
    return 0;
  } catch (err) {
    if (!(err instanceof PackageError)) throw err;
    process.stderr.write(`teams:package: cannot build the package:\n${err.message}\n`);
    return 1;
  }
}

if (require.main === module) {
  process.exitCode = runCli(process.argv.slice(2), process.env);
}
