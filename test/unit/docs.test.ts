/**
 * The documentation cannot drift from the code unnoticed: README.md and docs/*.md are read as text and
 * checked against what they describe.
 *
 * - Every environment-variable-looking name with one of Sentinel's prefixes is a real setting of
 *   config/schema.ts (a README once named TREND_OPEN_P_VALUE, which the schema never read).
 * - Every `npm run <script>` exists in package.json; every relative link points at a file of the
 *   repository, and every #anchor at a heading of that file.
 * - README.md stays short (≤ 12 KB), with the two commands near the top; no page grows a settings table
 *   again (docs/configuration.md, generated from the schema, is the one reference).
 *
 * docs/configuration.md is generated from the schema (and checked by its own test), so it is left out.
 * The JSON examples are checked against a running server in test/contract/docs-examples.test.ts.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { configSchema, envName, SETTING_PREFIXES } from '../../config/schema';

const ROOT = resolve(__dirname, '../..');
const GENERATED = new Set(['docs/configuration.md']);

/** README.md and docs/*.md, as paths relative to the repository root. */
function pages(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs].filter((p) => !GENERATED.has(p)).sort();
}

const read = (page: string): string => readFileSync(join(ROOT, page), 'utf8');

/** The text without its fenced code blocks (headings and links inside code are not headings and links). */
function prose(markdown: string): string {
  let fenced = false;
  return markdown
    .split('\n')
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        fenced = !fenced;
        return '';
      }
      return fenced ? '' : line;
    })
    .join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Setting names

/**
 * A name in the docs starting with one of these must be a setting: the prefixes start-up refuses unknown
 * variables for, and the ones it leaves alone because other programs use them too (the docs have no such excuse).
 */
const PREFIXES = [...SETTING_PREFIXES, 'MAX_', 'LOG_', 'DATA_', 'Microsoft'];

/**
 * Names with a setting's prefix that are not settings, on purpose. `context` must match the paragraph or
 * code block each occurrence is in, so that the exception cannot hide the same name used as a setting.
 */
const NOT_SETTINGS: Record<string, { reason: string; context: RegExp }> = {
  TREND_OPEN_P_VALUE: {
    reason: 'the misspelling the README shows being refused at start-up',
    context: /did you mean TREND_OPEN_PVALUE\?/,
  },
};

/** SCREAMING_SNAKE names, and the Bot Framework's own (MicrosoftAppId…). File names (MODEL_CARD.md) are not names. */
const NAME = /\b(?:[A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9]|Microsoft[A-Z][A-Za-z]*)\b(?!\.[a-z])/g;

interface Occurrence {
  page: string;
  name: string;
  line: number;
  context: string;
}

/** Paragraphs and code blocks (split at blank lines), with the line each starts at. */
function blocks(markdown: string): Array<{ text: string; line: number }> {
  const out: Array<{ text: string; line: number }> = [];
  let start = 1;
  let current: string[] = [];
  markdown.split('\n').forEach((line, i) => {
    if (line.trim() === '') {
      if (current.length) out.push({ text: current.join('\n'), line: start });
      current = [];
      start = i + 2;
    } else current.push(line);
  });
  if (current.length) out.push({ text: current.join('\n'), line: start });
  return out;
}

function settingLikeNames(page: string): Occurrence[] {
  const found: Occurrence[] = [];
  for (const block of blocks(read(page))) {
    block.text.split('\n').forEach((text, i) => {
      for (const m of text.matchAll(NAME)) {
        if (PREFIXES.some((p) => m[0].startsWith(p)))
          found.push({ page, name: m[0], line: block.line + i, context: block.text });
      }
    });
  }
  return found;
}

describe('setting names in the docs', () => {
  const settings = new Set(Object.keys(configSchema.shape).map(envName));

  it('the schema gives the names the docs are checked against', () => {
    expect(settings).toContain('TREND_OPEN_PVALUE');
    expect(settings).toContain('MicrosoftAppId');
    expect(settings).not.toContain('TREND_OPEN_P_VALUE');
  });

  it('finds the names it must check (the scanner itself works)', () => {
    const names = settingLikeNames('README.md').map((o) => o.name);
    expect(names).toEqual(expect.arrayContaining(['X_BEARER_TOKEN', 'DATABASE_URL', 'MicrosoftAppId']));
    expect('see MODEL_CARD.md and TREND_X_Y.'.match(NAME)).toEqual(['TREND_X_Y']);
  });

  it.each(pages())('%s names only real settings', (page) => {
    const wrong = settingLikeNames(page)
      .filter((o) => !settings.has(o.name))
      .filter((o) => !NOT_SETTINGS[o.name]?.context.test(o.context))
      .map((o) => `${o.page}:${o.line}: ${o.name} is not a setting of config/schema.ts`);
    expect(wrong).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------
// npm scripts

describe('npm scripts in the docs', () => {
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;

  it.each(pages())('%s runs only scripts package.json has', (page) => {
    const text = read(page);
    const named = [
      ...[...text.matchAll(/\bnpm run(?:\s+-s)?\s+([\w:.-]+)/g)].map((m) => m[1]),
      ...[...text.matchAll(/\bnpm (start|test)\b/g)].map((m) => m[1]),
    ];
    expect(named.filter((s) => !(s in scripts))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Links

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = m[1]
      .replace(/`/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

function links(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
}

describe('links in the docs', () => {
  it('reads GitHub anchors as GitHub makes them', () => {
    expect(
      anchors('# A title\n## Replays (local mode)\n```\n# not a heading\n```\n## GET /health, GET /ready'),
    ).toEqual(new Set(['a-title', 'replays-local-mode', 'get-health-get-ready']));
  });

  it.each(pages())('%s links only to files of the repository, and to headings they have', (page) => {
    const broken: string[] = [];
    for (const target of links(read(page))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [path, anchor] = target.split('#');
      const file = path ? resolve(ROOT, dirname(page), decodeURIComponent(path)) : join(ROOT, page);
      if (relative(ROOT, file).startsWith('..')) {
        broken.push(`${target}: outside the repository`);
        continue;
      }
      if (!existsSync(file)) {
        broken.push(`${target}: no such file`);
        continue;
      }
      if (anchor && statSync(file).isFile() && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(anchor))
        broken.push(`${target}: no heading #${anchor} in ${relative(ROOT, file)}`);
    }
    expect(broken).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------
// The README itself

describe('README.md', () => {
  const readme = read('README.md');

  it('is at most 12 KB', () => {
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(12 * 1024);
  });

  it('starts with the two commands, each in a shell block', () => {
    const top = readme.split('\n').slice(0, 40).join('\n');
    expect(top).toMatch(/```sh\nnpm ci && npm start\n```/);
    expect(top).toMatch(/```sh\nnpm ci && npm test\n```/);
  });

  it('links the settings reference, the deploy guide and the licence', () => {
    expect(links(readme)).toEqual(expect.arrayContaining(['docs/configuration.md', 'docs/deploy.md', 'LICENSE']));
    expect(read('LICENSE')).toMatch(/^MIT License\n\nCopyright \(c\) 2026 Sentinel contributors\n/);
    expect((JSON.parse(read('package.json')) as { license: string }).license).toBe('MIT');
  });
});

describe('settings tables', () => {
  const settings = new Set(Object.keys(configSchema.shape).map(envName));

  /** A table with a `default` column whose rows name settings: what drifted before (five of them). */
  function settingsTables(markdown: string): string[] {
    const tables: string[] = [];
    const current: string[] = [];
    for (const line of [...prose(markdown).split('\n'), '']) {
      if (line.startsWith('|')) current.push(line);
      else if (current.length) tables.push(current.splice(0).join('\n'));
    }
    return tables.filter((table) => {
      const header = table.split('\n')[0].toLowerCase();
      const named = [...table.matchAll(/\b[A-Za-z][A-Za-z0-9_]*\b/g)].filter((m) => settings.has(m[0])).length;
      return /\|\s*defaults?\s*\|/.test(header) && named >= 2;
    });
  }

  it('recognises one', () => {
    const table = '| variable | default | meaning |\n| --- | --- | --- |\n| `PORT` / `HOST` | `8080` | where |';
    expect(settingsTables(`text\n\n${table}\n\nmore`)).toHaveLength(1);
  });

  it.each(pages())('%s has none (docs/configuration.md is the one reference)', (page) => {
    expect(settingsTables(read(page)).map((t) => t.split('\n')[0])).toEqual([]);
  });
});
