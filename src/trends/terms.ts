/**
 * "What it is about": the terms over-represented in the alert's negative mentions compared with the
 * baseline period, by the weighted log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi
 * & Quinn 2008, "Fightin' Words", §3.5). For each term w with counts y₁ (alert) and y₂ (reference) out of
 * n₁, n₂, and a prior α_w = α₀·f_w drawn from both corpora together:
 *
 *   δ_w = log((y₁ + α_w) / (n₁ + α₀ − y₁ − α_w)) − log((y₂ + α_w) / (n₂ + α₀ − y₂ − α_w))
 *   σ²_w ≈ 1/(y₁ + α_w) + 1/(y₂ + α_w),      score z_w = δ_w / σ_w
 *
 * The prior shrinks rare terms (a word seen twice is not news) without the arbitrary cut-offs of raw
 * frequency ratios. Counts are per mention (a term repeated in one tweet counts once), over the tokens of
 * `normalizeTweet` with markers (<url>, <user>, <num>…), punctuation, stop words and the stream's own name
 * removed; adjacent kept words also count as a bigram ("customer service").
 */
import { normalizeTweet } from '../sentiment/normalize';

export interface Term {
  term: string;
  /** The z-score of the weighted log-odds: how strongly the term is over-represented. */
  score: number;
  /** Mentions of the alert set containing it. */
  count: number;
  /** Mentions of the reference set containing it. */
  referenceCount: number;
}

export interface TermOptions {
  /** Extra words to leave out (e.g. the stream's name, which every mention contains). */
  exclude?: Iterable<string>;
  /** Most terms returned (default 8). */
  limit?: number;
  /** Least number of alert mentions a term must appear in (default 3). */
  minCount?: number;
  /** Least z-score (default 1.96: over-represented at the 5 % level). */
  minScore?: number;
  /** Prior strength α₀ in pseudo-counts (default: as strong as the alert set itself). */
  priorStrength?: number;
}

// A compact English stop list (function words, auxiliaries, pronouns) plus Twitter noise.
export const STOP_WORDS: ReadonlySet<string> = new Set(
  `a about above after again against all am an and any are aren't as at be because been before being below
  between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each
  few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers
  herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more
  most mustn't my myself no nor not of off on once only or other ought our ours ourselves out over own same
  shan't she she'd she'll she's should shouldn't so some such than that that's the their theirs them
  themselves then there there's these they they'd they'll they're they've this those through to too under
  until up very was wasn't we we'd we'll we're we've were weren't what what's when when's where where's which
  while who who's whom why why's with won't would wouldn't you you'd you'll you're you've your yours yourself
  yourselves im ive dont cant wont didnt doesnt isnt wasnt youre thats theres u ur r rt amp via just get got
  will also still even us one now would really yes yeah ok oh hi hey pls please thanks thank thx`
    .split(/\s+/)
    .filter(Boolean),
);

/** The distinct terms (unigrams and bigrams of kept words) of one text. */
export function termsOf(text: string, exclude: ReadonlySet<string> = new Set()): Set<string> {
  const out = new Set<string>();
  let prev: string | undefined;
  for (const token of normalizeTweet(text)) {
    const keep =
      !token.startsWith('<') &&
      token !== '!' &&
      token !== '?' &&
      token.length > 1 &&
      !/^\d+$/.test(token) &&
      !STOP_WORDS.has(token) &&
      !exclude.has(token);
    if (token === '<elong>' || token === '<allcaps>') continue; // markers after a word: not a break
    if (!keep) {
      prev = undefined;
      continue;
    }
    out.add(token);
    if (prev) out.add(`${prev} ${token}`);
    prev = token;
  }
  return out;
}

/** The words of a stream's name to leave out: "US Airways" → us, airways, usairways. */
export function nameWords(stream: string): string[] {
  const words = stream
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
  return [...words, words.join(''), `${words.join('')}air`];
}

/** Terms over-represented in `texts` (the alert's negative mentions) against `reference` (the baseline period). */
export function distinctiveTerms(texts: string[], reference: string[], opts: TermOptions = {}): Term[] {
  const exclude = new Set([...(opts.exclude ?? [])].map((w) => w.toLowerCase()));
  const count = (docs: string[]) => {
    const c = new Map<string, number>();
    for (const d of docs) for (const t of termsOf(d, exclude)) c.set(t, (c.get(t) ?? 0) + 1);
    return c;
  };
  const y1 = count(texts);
  const y2 = count(reference);
  const n1 = sumValues(y1);
  const n2 = sumValues(y2);
  if (n1 === 0) return [];
  const background = n1 + n2;
  const a0 = opts.priorStrength ?? n1;
  const minCount = opts.minCount ?? 3;
  const minScore = opts.minScore ?? 1.96;
  const terms: Term[] = [];
  for (const [term, c1] of y1) {
    if (c1 < minCount) continue;
    const c2 = y2.get(term) ?? 0;
    const aw = (a0 * (c1 + c2)) / background;
    const delta = Math.log((c1 + aw) / (n1 + a0 - c1 - aw)) - Math.log((c2 + aw) / (n2 + a0 - c2 - aw));
    const score = delta / Math.sqrt(1 / (c1 + aw) + 1 / (c2 + aw));
    if (score >= minScore) terms.push({ term, score, count: c1, referenceCount: c2 });
  }
  terms.sort((a, b) => b.score - a.score || b.count - a.count || a.term.localeCompare(b.term));
  return dropRedundant(terms).slice(0, opts.limit ?? 8);
}

/** A unigram inside a kept bigram with about the same count says nothing more ("customer" under "customer service"). */
function dropRedundant(terms: Term[]): Term[] {
  const bigrams = terms.filter((t) => t.term.includes(' '));
  return terms.filter(
    (t) => t.term.includes(' ') || !bigrams.some((b) => b.term.split(' ').includes(t.term) && b.count >= 0.8 * t.count),
  );
}

function sumValues(m: Map<string, number>): number {
  let s = 0;
  for (const v of m.values()) s += v;
  return s;
}
