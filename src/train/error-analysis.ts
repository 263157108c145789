/**
 * npm run model:errors -- --model <dir> --data <csv> [--compare <dir>] [--markdown] [--examples 3]
 *
 * Where does a model go wrong? Scores a labelled CSV with the model (and with a second one to compare) and
 * sorts the rows into kinds a person recognises, each found by a simple rule on the text and the true label
 * (a row may be of several kinds). Per kind: its rows, the model's errors among them and the error rate;
 * with --compare, the other model's errors and how many the first fixed (the other was wrong, it is right)
 * and introduced (the other was right, it is wrong); and a few real examples — the model's most confident
 * errors of that kind. Prints one JSON line by default, or with --markdown the section the model card
 * includes (src/train/model-card.ts). Progress on stderr.
 *
 * The rules (tokens are those of the tweet normaliser, src/sentiment/normalize.ts, on the text with ’ read
 * as '; "words" are tokens with a letter that are not markers such as <user>):
 * - question: a "?" outside links.
 * - link: a link (http…, www.…) — news and shared articles.
 * - praise words in a negative tweet (sarcasm-like): the truth is negative and a praise word appears
 *   (PRAISE below: great, thanks, love, awesome, …): sarcasm, or politeness around a complaint.
 * - negation: not, no, never, nothing, nobody, none, nor, cannot, or a word ending in n't (or its
 *   apostrophe-less spelling: cant, dont, wont, …).
 * - mixed: AFINN (npm `sentiment`, as in src/train/peers.ts) finds both a positive and a negative word.
 * - no sentiment words: AFINN finds no word at all (a complaint told as facts: "3 hours on the tarmac").
 * - very short: at most 4 tokens that are words, numbers, emoji or emoticons (mentions, links and
 *   punctuation do not count).
 * - unknown words: the model reads nothing in the text (its `unreadable`), or at least 2 of its words — and
 *   at least a fifth of them — are missing from the first model's vocabulary (`<dir>/vocabulary.json`).
 * - emoji or emoticon: a pictograph or an emoticon token (`<smile>`, `<sadface>`, …).
 * - neutral ↔ negative, neutral ↔ positive, negative ↔ positive: rows whose truth is one of the pair; an
 *   error is a prediction of the other one of the pair (the confusion between two classes, both ways).
 */
import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { loadScorer } from '../sentiment/load';
import { decodeEntities, normalizeTweet } from '../sentiment/normalize';
import { Vocabulary } from '../sentiment/vocabulary';
import type { Prediction, Scorer } from '../sentiment/types';
import { readLabelledCsv, type Label, type LabelledText } from './dataset';
import { scoreWithAfinn } from './peers';
import { roundMetrics } from './metrics';

/** Praise words: in a tweet whose truth is negative they mark sarcasm or politeness around a complaint. */
export const PRAISE = new Set([
  'great',
  'thanks',
  'thank',
  'thx',
  'love',
  'loved',
  'loving',
  'awesome',
  'amazing',
  'nice',
  'best',
  'wonderful',
  'fantastic',
  'perfect',
  'excellent',
  'appreciate',
  'appreciated',
  'glad',
  'happy',
  'brilliant',
  'kudos',
]);

const NEGATORS = new Set(['not', 'no', 'never', 'nothing', 'nobody', 'none', 'nor', 'cannot']);
/** Contractions written without the apostrophe, as tweets often do. */
const BARE_NT = new Set([
  'cant',
  'dont',
  'wont',
  'didnt',
  'doesnt',
  'isnt',
  'wasnt',
  'arent',
  'werent',
  'havent',
  'hasnt',
  'hadnt',
  'couldnt',
  'wouldnt',
  'shouldnt',
  'aint',
]);
const EMOTICON = /^<(?:smile|sadface|lolface|wink|tongue|neutralface|heart|brokenheart)>$/;
const MARKER = /^<[a-z]+>$/;
const PICTOGRAPH = /^\p{Extended_Pictographic}/u;

/** What the rules look at in a text. */
export interface TextFacts {
  question: boolean;
  link: boolean;
  praise: boolean;
  negation: boolean;
  /** AFINN: at least one positive and one negative word. */
  mixed: boolean;
  /** AFINN: no word of its lexicon. */
  noLexicon: boolean;
  /** Words, numbers, emoji and emoticons (not mentions, links, punctuation or the <elong>/<allcaps> markers). */
  tokens: number;
  /** Tokens with a letter that are not markers. */
  words: number;
  /** Of `words`, those the model's vocabulary lacks (0 without a vocabulary). */
  unknownWords: number;
  /** The model's reason why it can read nothing in the text, or null. */
  unreadable: string | null;
  emoji: boolean;
}

/** How the first model reads: its vocabulary (when it has a sentinel one) and its `unreadable`. */
export interface ModelReader {
  knows?(token: string): boolean;
  unreadable?(text: string): string | null;
}

export function textFacts(text: string, reader: ModelReader = {}): TextFacts {
  const tokens = normalizeTweet(text.replace(/[\u2018\u2019\u02bc]/g, "'"));
  const content = tokens.filter(
    (t) => t === '<num>' || EMOTICON.test(t) || (!MARKER.test(t) && t !== '!' && t !== '?'),
  );
  const words = tokens.filter((t) => !MARKER.test(t) && /\p{L}/u.test(t));
  const afinn = scoreWithAfinn([text])[0].probs;
  return {
    question: tokens.includes('?'),
    link: tokens.includes('<url>'),
    praise: words.some((w) => PRAISE.has(w)),
    negation: words.some((w) => NEGATORS.has(w) || w.endsWith("n't") || BARE_NT.has(w)),
    mixed: afinn[0] > 0 && afinn[2] > 0,
    noLexicon: afinn[0] === 0 && afinn[2] === 0,
    tokens: content.length,
    words: words.length,
    unknownWords: reader.knows ? words.filter((w) => !reader.knows!(w)).length : 0,
    unreadable: reader.unreadable ? reader.unreadable(text) : null,
    emoji: tokens.some((t) => EMOTICON.test(t) || PICTOGRAPH.test(t)),
  };
}

export interface ErrorKind {
  id: string;
  /** The name a person reads. */
  title: string;
  /** The rule, in a few words (the model card prints it). */
  rule: string;
  applies(facts: TextFacts, truth: Label): boolean;
  /** Whether a prediction is an error of this kind (default: any wrong label). */
  wrong?(truth: Label, predicted: Label): boolean;
}

const pair =
  (a: Label, b: Label) =>
  (truth: Label, predicted: Label): boolean =>
    (truth === a && predicted === b) || (truth === b && predicted === a);

export const ERROR_KINDS: readonly ErrorKind[] = [
  { id: 'question', title: 'Question', rule: 'has a "?" (outside links)', applies: (f) => f.question },
  { id: 'link', title: 'News or link', rule: 'has a link', applies: (f) => f.link },
  {
    id: 'sarcasm_like',
    title: 'Praise words in a negative tweet (sarcasm-like)',
    rule: 'truth negative and a praise word (great, thanks, love, awesome, …)',
    applies: (f, truth) => truth === 'negative' && f.praise,
  },
  {
    id: 'negation',
    title: 'Negation',
    rule: "not, no, never, nothing, cannot, …n't",
    applies: (f) => f.negation,
  },
  {
    id: 'mixed',
    title: 'Mixed feelings',
    rule: 'AFINN finds a positive and a negative word',
    applies: (f) => f.mixed,
  },
  {
    id: 'no_sentiment_words',
    title: 'No sentiment words (facts only)',
    rule: 'AFINN finds no word of its lexicon',
    applies: (f) => f.noLexicon,
  },
  { id: 'short', title: 'Very short', rule: '≤ 4 words, numbers or emoji', applies: (f) => f.tokens <= 4 },
  {
    id: 'unknown_words',
    title: 'Unknown words',
    rule: "unreadable to the model, or ≥ 2 words (≥ 1/5 of them) not in the model's vocabulary",
    applies: (f) => f.unreadable !== null || (f.unknownWords >= 2 && f.unknownWords * 5 >= f.words),
  },
  { id: 'emoji', title: 'Emoji or emoticon', rule: 'has an emoji or an emoticon', applies: (f) => f.emoji },
  {
    id: 'neutral_negative',
    title: 'Neutral ↔ negative',
    rule: 'truth neutral or negative; error: read as the other',
    applies: (_f, t) => t === 'neutral' || t === 'negative',
    wrong: pair('neutral', 'negative'),
  },
  {
    id: 'neutral_positive',
    title: 'Neutral ↔ positive',
    rule: 'truth neutral or positive; error: read as the other',
    applies: (_f, t) => t === 'neutral' || t === 'positive',
    wrong: pair('neutral', 'positive'),
  },
  {
    id: 'negative_positive',
    title: 'Polarity flip (negative ↔ positive)',
    rule: 'truth negative or positive; error: read as the other',
    applies: (_f, t) => t === 'negative' || t === 'positive',
    wrong: pair('negative', 'positive'),
  },
];

/** The ids of the kinds a row is of. */
export function kindsOf(facts: TextFacts, truth: Label, kinds: readonly ErrorKind[] = ERROR_KINDS): string[] {
  return kinds.filter((k) => k.applies(facts, truth)).map((k) => k.id);
}

/** A model's answer for one row: what the analysis needs of a Prediction. */
export interface Answer {
  label: Label;
  confidence: number;
}

export interface AnalysedRow {
  text: string;
  truth: Label;
  /** Ids of the kinds the row is of (`kindsOf`). */
  kinds: readonly string[];
}

export interface ErrorExample {
  text: string;
  truth: Label;
  predicted: Label;
  confidence: number;
  /** The compared model's answer, with --compare. */
  compare_predicted?: Label;
  compare_confidence?: number;
}

export interface KindReport {
  id: string;
  title: string;
  rule: string;
  rows: number;
  errors: number;
  error_rate: number;
  compare_errors?: number;
  compare_error_rate?: number;
  /** Rows of this kind the compared model got wrong and the model gets right. */
  fixed?: number;
  /** Rows of this kind the compared model got right and the model gets wrong. */
  introduced?: number;
  /** The model's errors of this kind by "truth → predicted", most frequent first. */
  confusions: Record<string, number>;
  examples: ErrorExample[];
}

export interface ModelName {
  name: string;
  version: string;
}

export interface ErrorReport {
  data: string;
  model: ModelName;
  compare?: ModelName;
  n: number;
  errors: number;
  error_rate: number;
  compare_errors?: number;
  fixed?: number;
  introduced?: number;
  kinds: KindReport[];
}

/** Up to ~`max` characters on one line, cut at a word boundary with an ellipsis. */
export function shorten(text: string, max = 100): string {
  const one = text.replace(/\s+/g, ' ').trim();
  if ([...one].length <= max) return one;
  const cut = [...one].slice(0, max - 1).join('');
  const space = cut.lastIndexOf(' ');
  return `${(space > max * 0.6 ? cut.slice(0, space) : cut).replace(/[\s.,;:!?-]+$/, '')}…`;
}

/**
 * Counts per kind for `rows` answered by a model (and a compared model): rows, errors, error rate, the
 * errors by "truth → predicted", fixed / introduced, and `examples` of the model's errors of each kind: the
 * most confident first (row order on ties), preferring rows no earlier kind showed, so that one tweet does
 * not stand for every kind it belongs to. Kinds no row is of are kept, with 0 rows.
 */
/** What both report builders take besides the rows: the compared model's answers, examples per kind, names. */
interface ReportOptions {
  compare?: readonly Answer[];
  examples?: number;
  data?: string;
  model?: ModelName;
  compareModel?: ModelName;
}

export function aggregateErrors(
  rows: readonly AnalysedRow[],
  answers: readonly Answer[],
  opts: ReportOptions & { kinds?: readonly ErrorKind[] } = {},
): ErrorReport {
  if (answers.length !== rows.length) throw new Error(`${answers.length} answers for ${rows.length} rows`);
  if (opts.compare && opts.compare.length !== rows.length)
    throw new Error(`${opts.compare.length} answers of the compared model for ${rows.length} rows`);
  const kinds = opts.kinds ?? ERROR_KINDS;
  const examples = opts.examples ?? 3;
  const cmp = opts.compare;
  const wrongAny = (t: Label, p: Label) => t !== p;
  const report: ErrorReport = {
    data: opts.data ?? '',
    model: opts.model ?? { name: '', version: '' },
    n: rows.length,
    errors: rows.filter((r, i) => answers[i].label !== r.truth).length,
    error_rate: 0,
    kinds: [],
  };
  report.error_rate = rows.length ? report.errors / rows.length : 0;
  if (cmp) {
    report.compare = opts.compareModel ?? { name: '', version: '' };
    report.compare_errors = rows.filter((r, i) => cmp[i].label !== r.truth).length;
    report.fixed = rows.filter((r, i) => cmp[i].label !== r.truth && answers[i].label === r.truth).length;
    report.introduced = rows.filter((r, i) => cmp[i].label === r.truth && answers[i].label !== r.truth).length;
  }
  const shown = new Set<number>();
  for (const kind of kinds) {
    const wrong = kind.wrong ?? wrongAny;
    const members = rows.map((r, i) => ({ r, i })).filter(({ r }) => r.kinds.includes(kind.id));
    const errs = members.filter(({ r, i }) => wrong(r.truth, answers[i].label));
    const byConfidence = [...errs].sort((a, b) => answers[b.i].confidence - answers[a.i].confidence || a.i - b.i);
    const picked = [...byConfidence.filter(({ i }) => !shown.has(i)), ...byConfidence.filter(({ i }) => shown.has(i))]
      .slice(0, examples)
      .sort((a, b) => answers[b.i].confidence - answers[a.i].confidence || a.i - b.i);
    for (const { i } of picked) shown.add(i);
    const confusions = new Map<string, number>();
    for (const { r, i } of errs) {
      const key = `${r.truth} → ${answers[i].label}`;
      confusions.set(key, (confusions.get(key) ?? 0) + 1);
    }
    const k: KindReport = {
      id: kind.id,
      title: kind.title,
      rule: kind.rule,
      rows: members.length,
      errors: errs.length,
      error_rate: members.length ? errs.length / members.length : 0,
      confusions: Object.fromEntries([...confusions].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))),
      examples: picked.map(({ r, i }) => ({
        text: shorten(decodeEntities(r.text)),
        truth: r.truth,
        predicted: answers[i].label,
        confidence: answers[i].confidence,
        ...(cmp ? { compare_predicted: cmp[i].label, compare_confidence: cmp[i].confidence } : {}),
      })),
    };
    if (cmp) {
      const before = members.filter(({ r, i }) => wrong(r.truth, cmp[i].label));
      k.compare_errors = before.length;
      k.compare_error_rate = members.length ? before.length / members.length : 0;
      k.fixed = members.filter(({ r, i }) => wrong(r.truth, cmp[i].label) && !wrong(r.truth, answers[i].label)).length;
      k.introduced = members.filter(
        ({ r, i }) => !wrong(r.truth, cmp[i].label) && wrong(r.truth, answers[i].label),
      ).length;
    }
    report.kinds.push(k);
  }
  return report;
}

/** Kinds and counts for labelled rows answered by a model (and a compared one). */
export function analyseErrors(
  rows: readonly LabelledText[],
  answers: readonly Answer[],
  opts: ReportOptions & { reader?: ModelReader } = {},
): ErrorReport {
  const analysed = rows.map((r) => ({
    text: r.text,
    truth: r.label,
    kinds: kindsOf(textFacts(r.text, opts.reader), r.label),
  }));
  return aggregateErrors(analysed, answers, opts);
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

/** Tweet text safe inside a markdown paragraph (no emphasis, links, HTML or table breaks). */
export function markdownText(text: string): string {
  return text.replace(/[\\`*_[\]<>|#~]/g, (c) => `\\${c}`);
}

/** The most frequent "truth → predicted" of a kind's errors, with its count. */
function commonest(k: KindReport): string {
  const top = Object.entries(k.confusions)[0];
  return top ? `${top[0]} (${top[1]})` : '—';
}

/** The model card's "Error analysis" section. */
export function errorMarkdown(report: ErrorReport, heading = '## Error analysis'): string {
  const cmp = report.compare;
  const v = report.model.version;
  const lines: string[] = [heading, ''];
  let summary = `On \`${report.data}\` (${report.n} tweets), ${v} gets ${report.errors} wrong (${pct(report.error_rate)})`;
  if (cmp)
    summary += `; ${cmp.version} got ${report.compare_errors} wrong (${pct((report.compare_errors ?? 0) / (report.n || 1))}): ${v} fixes ${report.fixed} of them and gets ${report.introduced} others wrong`;
  lines.push(
    `${summary}.`,
    '',
    'Each kind is found by a simple rule on the text (and the true label; the rules are in `src/train/error-analysis.ts`);',
    'a tweet may be of several kinds, so the rows do not add up. For the last three kinds an error is a confusion of the two',
    'classes named, either way.',
    '',
  );
  if (cmp) {
    lines.push(
      `| kind | rule | tweets | errors ${v} | error rate | most common | errors ${cmp.version} | error rate | fixed | new errors |`,
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const k of report.kinds)
      lines.push(
        `| ${k.title} | ${markdownText(k.rule)} | ${k.rows} | ${k.errors} | ${pct(k.error_rate)} | ${commonest(k)} | ${k.compare_errors} | ${pct(k.compare_error_rate ?? 0)} | ${k.fixed} | ${k.introduced} |`,
      );
  } else {
    lines.push('| kind | rule | tweets | errors | error rate | most common |', '| --- | --- | --- | --- | --- | --- |');
    for (const k of report.kinds)
      lines.push(
        `| ${k.title} | ${markdownText(k.rule)} | ${k.rows} | ${k.errors} | ${pct(k.error_rate)} | ${commonest(k)} |`,
      );
  }
  lines.push(
    '',
    `Examples: the most confident errors of ${v} of each kind (a tweet shown under one kind is not repeated under the next when`,
    'there are others).',
    '',
  );
  for (const k of report.kinds) {
    if (!k.examples.length) continue;
    lines.push(`**${k.title}**`, '');
    for (const e of k.examples) {
      const was =
        cmp && e.compare_predicted
          ? `; ${cmp.version}: ${e.compare_predicted} ${e.compare_confidence!.toFixed(2)}`
          : '';
      lines.push(
        `- "${markdownText(e.text)}" — true ${e.truth}, read as ${e.predicted} (${e.confidence.toFixed(2)})${was}`,
      );
    }
    lines.push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

/** Predictions for many texts, 256 at a time, with progress. */
export async function scoreAll(
  scorer: Scorer,
  texts: readonly string[],
  progress?: (done: number, total: number) => void,
): Promise<Prediction[]> {
  const out: Prediction[] = [];
  for (let i = 0; i < texts.length; i += 256) {
    out.push(...(await scorer.score(texts.slice(i, i + 256))));
    progress?.(out.length, texts.length);
  }
  return out;
}

/** How the model in `dir` reads (its vocabulary when it has a sentinel-vocab-v1 vocabulary.json). */
export function modelReader(dir: string, scorer?: Scorer): ModelReader {
  const reader: ModelReader = {};
  if (scorer) reader.unreadable = (text) => scorer.unreadable(text);
  const path = join(dir, 'vocabulary.json');
  if (existsSync(path)) {
    const vocabulary = Vocabulary.fromJSON(JSON.parse(readFileSync(path, 'utf8')));
    if (vocabulary.tokenizer === 'tweet') reader.knows = (token) => vocabulary.knows(token);
  }
  return reader;
}

/** Loads the model (and the compared one), scores `data` and analyses the errors. */
export async function errorReportFor(opts: {
  model: string;
  data: string;
  compare?: string;
  examples?: number;
  log?: (message: string) => void;
}): Promise<ErrorReport> {
  const log = opts.log ?? (() => undefined);
  const rows = readLabelledCsv(opts.data);
  const texts = rows.map((r) => r.text);
  const answer = async (dir: string) => {
    const scorer = await loadScorer(dir, { maxBatch: 256 });
    try {
      log(`${scorer.info.name} ${scorer.info.version} on ${scorer.info.backend}: scoring ${rows.length} rows…`);
      const predictions = await scoreAll(scorer, texts, (done, total) => {
        if (done === total || done % 1024 === 0) log(`  ${done}/${total}`);
      });
      return { scorer, predictions, reader: modelReader(dir, scorer) };
    } catch (err) {
      scorer.dispose();
      throw err;
    }
  };
  const first = await answer(opts.model);
  try {
    let compare: Awaited<ReturnType<typeof answer>> | undefined;
    if (opts.compare) compare = await answer(opts.compare);
    try {
      log('sorting the errors into kinds…');
      return analyseErrors(rows, first.predictions, {
        reader: first.reader,
        compare: compare?.predictions,
        examples: opts.examples,
        data: basename(opts.data),
        model: { name: first.scorer.info.name, version: first.scorer.info.version },
        compareModel: compare && { name: compare.scorer.info.name, version: compare.scorer.info.version },
      });
    } finally {
      compare?.scorer.dispose();
    }
  } finally {
    first.scorer.dispose();
  }
}

const HELP = 'usage: npm run model:errors -- --model <dir> --data <csv> [--compare <dir>] [--markdown] [--examples 3]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'models/sentinel-bilstm' },
      data: { type: 'string' },
      compare: { type: 'string' },
      markdown: { type: 'boolean', default: false },
      examples: { type: 'string', default: '3' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return void process.stdout.write(`${HELP}\n`);
  const fail = (message: string): never => {
    process.stderr.write(`error: ${message}\n${HELP}\n`);
    process.exit(2);
  };
  if (!values.data) fail('--data <csv> is required');
  const examples = Number(values.examples);
  if (!Number.isInteger(examples) || examples < 0)
    fail(`--examples must be a whole number ≥ 0, not ${values.examples}`);
  if (!existsSync(values.data!)) fail(`no file at ${values.data}`);
  for (const dir of [values.model, values.compare].filter((d): d is string => !!d))
    if (!existsSync(dir)) fail(`no model directory at ${dir}`);
  if (values.compare && resolve(values.compare) === resolve(values.model))
    fail('--compare names the same directory as --model');
  const report = await errorReportFor({
    model: values.model,
    data: values.data!,
    compare: values.compare,
    examples,
    log: (m) => process.stderr.write(`${m}\n`),
  });
  process.stdout.write(values.markdown ? errorMarkdown(report) : `${JSON.stringify(roundMetrics(report))}\n`);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
