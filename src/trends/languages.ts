/**
 * Mentions in languages the model does not read (src/sentiment/language.ts): the poller stores them without
 * a prediction, the trend and the digest leave them out of every figure and count them here, per language,
 * so an alert, the digest and `/sentiment status` can say how many were not read.
 */
import type { ScoredMention } from '../mentions/types';

export interface OtherLanguages {
  total: number;
  /** Most frequent first (ties by code). */
  byLanguage: Array<{ language: string; count: number }>;
}

/** A mention stored without a prediction: in a language the model does not read. */
export function notRead(m: Pick<ScoredMention, 'prediction'>): boolean {
  return m.prediction === null;
}

export function countOtherLanguages(
  mentions: Iterable<Pick<ScoredMention, 'prediction' | 'language'>>,
): OtherLanguages {
  const counts = new Map<string, number>();
  for (const m of mentions) {
    if (!notRead(m)) continue;
    const language = m.language ?? 'und';
    counts.set(language, (counts.get(language) ?? 0) + 1);
  }
  const byLanguage = [...counts]
    .map(([language, count]) => ({ language, count }))
    .sort((a, b) => b.count - a.count || a.language.localeCompare(b.language));
  return { total: byLanguage.reduce((n, l) => n + l.count, 0), byLanguage };
}

/** "12 mentions in other languages (fr 9, es 3) were not read"; "1 mention in another language (fr) …". */
export function otherLanguagesText(c: OtherLanguages): string {
  const list =
    c.byLanguage.length === 1
      ? c.byLanguage[0].language
      : c.byLanguage.map((l) => `${l.language} ${l.count}`).join(', ');
  return c.total === 1
    ? `1 mention in another language (${list}) was not read`
    : `${c.total} mentions in other languages (${list}) were not read`;
}
