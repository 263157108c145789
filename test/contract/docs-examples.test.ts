/**
 * The HTTP examples of README.md and docs/*.md are what the server answers today.
 *
 * An example is marked in the markdown by `<!-- example: <name> -->`, followed by a ```sh block holding
 * one curl command and a ```json block holding the documented answer. Each is replayed against the
 * server built as src/main.ts builds it (the shipped model loaded through the ModelRegistry, a real
 * SQLite store, so predictions carry their id), over real HTTP on loopback, and the answer compared:
 * the same keys at every level, the same strings and booleans, numbers within 0.01 (another TensorFlow.js
 * backend may differ in the last digits). Values that differ on every call or machine (`id`, `path`,
 * `backend`) are compared by type only.
 *
 * The usage of a command-line tool quoted in a code block (a block starting `usage: npm run <script>`) is
 * compared with what `npm run <script> -- --help` prints.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../config/schema';
import { PredictionLog } from '../../src/feedback/prediction-log';
import { buildServer } from '../../src/http/server';
import { HealthBoard } from '../../src/ops/health';
import { SingleLeadership } from '../../src/ops/leadership';
import { ApiAuth } from '../../src/http/auth';

/** No API keys: the API is open, as in local mode on loopback. */
const OPEN_API = ApiAuth.fromEntries([]);
import { createLogger } from '../../src/log';
import { ModelRegistry } from '../../src/registry/model-registry';
import { ScorerSlot } from '../../src/sentiment/scorer-slot';
import { openSqliteStore } from '../../src/store/sqlite';
import type { Store } from '../../src/store/types';

const ROOT = resolve(__dirname, '../..');
const GENERATED = new Set(['docs/configuration.md']);
/** Compared by type only: a new UUID per call, a machine's path, the TensorFlow.js backend installed. */
// Values that differ from run to run (ids, paths, the machine's backend, who leads and since when): checked by type.
const VARIES = new Set(['id', 'path', 'backend', 'holder', 'since']);
const TOLERANCE = 0.01;

interface Example {
  name: string;
  where: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  documented: unknown;
}

function pages(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs].filter((p) => !GENERATED.has(p)).sort();
}

/** The fenced blocks after `from`: their info string and text. */
function fencedBlocksAfter(markdown: string, from: number): Array<{ lang: string; text: string }> {
  const out: Array<{ lang: string; text: string }> = [];
  const fence = /^```(\w*)\n([\s\S]*?)^```$/gm;
  fence.lastIndex = from;
  for (let m = fence.exec(markdown); m && out.length < 2; m = fence.exec(markdown)) {
    out.push({ lang: m[1], text: m[2] });
  }
  return out;
}

/** One curl command → the request it sends (only the options the docs use: -X, -H, -d). */
function parseCurl(sh: string, where: string): Omit<Example, 'name' | 'where' | 'documented'> {
  const command = sh.replace(/\\\n\s*/g, ' ').trim();
  const url = /(?:https?:\/\/)?(?:localhost|127\.0\.0\.1):8080(\/\S*)/.exec(command);
  if (!command.startsWith('curl ') || !url) throw new Error(`${where}: expected one curl to localhost:8080`);
  const body = /\s-d\s+'([^']*)'/.exec(command)?.[1];
  const method = /\s-X\s+([A-Z]+)/.exec(command)?.[1] ?? (body === undefined ? 'GET' : 'POST');
  const headers: Record<string, string> = {};
  for (const h of command.matchAll(/\s-H\s+'([^':]+):\s*([^']*)'/g)) headers[h[1].toLowerCase()] = h[2];
  return { method, path: url[1].replace(/['"]$/, ''), headers, ...(body === undefined ? {} : { body }) };
}

function examples(): Example[] {
  const found: Example[] = [];
  for (const page of pages()) {
    const markdown = readFileSync(join(ROOT, page), 'utf8');
    for (const m of markdown.matchAll(/<!--\s*example:\s*([\w-]+)\s*-->/g)) {
      const where = `${page} (example ${m[1]})`;
      const [sh, answer] = fencedBlocksAfter(markdown, m.index + m[0].length);
      if (sh?.lang !== 'sh' || answer?.lang !== 'json')
        throw new Error(`${where}: expected a sh block with the curl command, then a json block with the answer`);
      let documented: unknown;
      try {
        documented = JSON.parse(answer.text);
      } catch (err) {
        throw new Error(`${where}: the json block is not JSON (${(err as Error).message})`, { cause: err });
      }
      found.push({ name: m[1], where, ...parseCurl(sh.text, where), documented });
    }
  }
  return found;
}

/** Where `documented` and `real` differ, as readable lines (empty: they agree). */
function differences(documented: unknown, real: unknown, at = '$', key = ''): string[] {
  const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  if (kind(documented) !== kind(real))
    return [`${at}: documented ${kind(documented)} ${JSON.stringify(documented)}, got ${JSON.stringify(real)}`];
  if (VARIES.has(key)) return [];
  if (Array.isArray(documented)) {
    const r = real as unknown[];
    if (documented.length !== r.length)
      return [`${at}: documented ${documented.length} items, got ${r.length}: ${JSON.stringify(r)}`];
    return documented.flatMap((d, i) => differences(d, r[i], `${at}[${i}]`, key));
  }
  if (documented !== null && typeof documented === 'object') {
    const d = documented as Record<string, unknown>;
    const r = real as Record<string, unknown>;
    const out: string[] = [];
    for (const k of Object.keys(r)) if (!(k in d)) out.push(`${at}.${k}: not documented (got ${JSON.stringify(r[k])})`);
    for (const k of Object.keys(d)) {
      if (!(k in r)) out.push(`${at}.${k}: documented, but not in the answer`);
      else out.push(...differences(d[k], r[k], `${at}.${k}`, k));
    }
    return out;
  }
  if (typeof documented === 'number' && Math.abs(documented - (real as number)) <= TOLERANCE) return [];
  return documented === real ? [] : [`${at}: documented ${JSON.stringify(documented)}, got ${JSON.stringify(real)}`];
}

// ---------------------------------------------------------------------------------------------------

const EXAMPLES = examples();
let dir: string;
let store: Store;
let predictionLog: PredictionLog;
let models: ModelRegistry;
let slot: ScorerSlot;
let app: FastifyInstance;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sentinel-docs-examples-'));
  store = openSqliteStore(join(dir, 'sentinel.db'));
  await store.migrate();
  const logger = createLogger('silent');
  const config = loadConfig({});
  slot = new ScorerSlot();
  // As src/main.ts does: the registry loads MODEL_DIR (no bucket) and records where the model came from.
  models = new ModelRegistry({ config: { ...config, modelDir: join(ROOT, config.modelDir) }, slot, logger });
  predictionLog = new PredictionLog(store, { logger });
  // As main.ts builds it in local mode (SQLite: this process leads), without a mention source or chat.
  const leadership = new SingleLeadership();
  leadership.start();
  const health = new HealthBoard();
  health.register('leader', () => leadership.health());
  app = buildServer({
    auth: OPEN_API,
    slot,
    config,
    logger,
    store,
    predictionLog,
    health,
    leader: () => leadership.status(),
    registries: [models.metrics],
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  await models.start();
});

afterAll(async () => {
  await app?.close();
  await models?.stop();
  await predictionLog?.flush();
  await store?.close();
  const state = slot?.current();
  if (state?.ready) state.scorer.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the HTTP examples of the docs', () => {
  it('are found, including /predict in the README and in docs/api.md, and /ready', () => {
    expect(EXAMPLES.map((e) => e.where)).toEqual(
      expect.arrayContaining([
        'README.md (example predict)',
        'docs/api.md (example predict)',
        'docs/api.md (example ready)',
      ]),
    );
  });

  it('are compared strictly (the comparison itself works)', () => {
    const real = { prediction: { id: 'a', label: 'negative', confidence: 0.9951, modelVersion: 'v2' } };
    expect(
      differences({ prediction: { id: 'b', label: 'negative', confidence: 0.99, modelVersion: 'v2' } }, real),
    ).toEqual([]);
    expect(differences({ prediction: { label: 'negative', confidence: 0.99, modelVersion: 'v1' } }, real)).toEqual([
      '$.prediction.id: not documented (got "a")',
      '$.prediction.modelVersion: documented "v1", got "v2"',
    ]);
  });

  it.each(EXAMPLES.map((e) => [e.where, e] as const))('%s is what the server answers', async (_where, example) => {
    const res = await fetch(`${url}${example.path}`, {
      method: example.method,
      headers: example.headers,
      ...(example.body === undefined ? {} : { body: example.body }),
    });
    const real: unknown = await res.json();
    expect(differences(example.documented, real)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Usage lines

interface Usage {
  where: string;
  script: string;
  text: string;
}

function usages(): Usage[] {
  const found: Usage[] = [];
  for (const page of pages()) {
    const markdown = readFileSync(join(ROOT, page), 'utf8');
    for (const m of markdown.matchAll(/^```\w*\n(usage: npm run ([\w:.-]+)[\s\S]*?)^```$/gm)) {
      found.push({ where: `${page} (npm run ${m[2]} -- --help)`, script: m[2], text: m[1].trim() });
    }
  }
  return found;
}

/** `npm run <script> -- --help`, without npm: the script's `tsx <file> [args]` run by this node. */
function help(script: string): string {
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
    .scripts;
  const command = /^tsx (\S+)((?: [\w:-]+)*)$/.exec(scripts[script] ?? '');
  if (!command) throw new Error(`package.json: script ${script} is not "tsx <file> [args]": ${scripts[script]}`);
  const args = command[2].trim() ? command[2].trim().split(' ') : [];
  const run = spawnSync(process.execPath, ['--import', 'tsx', command[1], ...args, '--help'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return `${run.stdout}${run.stderr}`.trim();
}

describe('the usage lines the docs quote', () => {
  const USAGES = usages();

  it('are found', () => {
    expect(USAGES.map((u) => u.script)).toEqual(expect.arrayContaining(['train', 'evaluate', 'replay']));
  });

  it.each(USAGES.map((u) => [u.where, u] as const))('%s is what it prints', (_where, usage) => {
    expect(help(usage.script)).toBe(usage.text);
  });
});
