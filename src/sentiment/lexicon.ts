/**
 * What a human-made word list says of a text: AFINN-165 (Finn Årup Nielsen's 3,382 words and phrases rated −5…+5
 * by hand, with its emoji ratings and negation handling, from the npm package `sentiment`). The ensemble's
 * stacker reads it beside its two models because it knows words the 10,000 training tweets rate poorly or
 * never show ("appalling", "stellar"): measured, it lowers the stacker's held-out log-loss (docs/models.md).
 *
 * Read on the tokens the models read (src/sentiment/normalize.ts), markers such as <url> left out, so that the
 * explanation's occlusion (a word removed, the rest re-scored) removes the word from this evidence too.
 */

interface AfinnResult {
  score: number;
  calculation: Array<Record<string, number>>;
}
export interface AfinnAnalyzer {
  analyze(text: string): AfinnResult;
}

// The package ships no type declarations; this is the part used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Sentiment = require('sentiment') as new () => AfinnAnalyzer;

let analyzer: AfinnAnalyzer | undefined;

/** The shared AFINN analyser (the package's English word list). */
export function afinn(): AfinnAnalyzer {
  return (analyzer ??= new Sentiment());
}

/**
 * AFINN's negative and positive weight in a text: N and P, the summed magnitudes of its negative and positive
 * ratings (after negation), as [N, P] / (N + 1 + P) — both 0 for a text with no rated word, and below 1.
 */
export function afinnWeights(text: string): [number, number] {
  let pos = 0;
  let neg = 0;
  for (const entry of afinn().analyze(text).calculation) {
    for (const value of Object.values(entry)) {
      if (value > 0) pos += value;
      else neg -= value;
    }
  }
  const total = neg + 1 + pos;
  return [neg / total, pos / total];
}

const MARKER = /^<[a-z_]+>$/;

/** The stacker's lexicon inputs for a text already normalised into tokens. */
export function lexiconInputs(tokens: readonly string[]): [number, number] {
  return afinnWeights(tokens.filter((t) => !MARKER.test(t)).join(' '));
}
