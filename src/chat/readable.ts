/**
 * A text with nothing the model can read (zero-width characters only, NUL, a thousand `@`…) is not an
 * opinion: scored, it would get the model's prior (neutral 0.35) and a prediction id to vote on. Chat
 * adapters ask the serving scorer first (`Scorer.unreadable`: null when it can read the text, else a short
 * reason) and answer such a text with this plain message: nothing scored, nothing kept, no ✅ / ❌.
 *
 * A text in a language the model does not read (src/sentiment/language.ts, asked before the model) gets
 * `onlyEnglish` the same way: no label, nothing kept.
 */
import { languageName } from '../sentiment/language';

/** The plain answer to a text with nothing to read (each adapter escapes it for its format). */
export function nothingToScore(reason: string): string {
  return `Nothing to score in that text: ${reason.trim().replace(/[.\s]+$/, '')}. Try a sentence.`;
}

/** The plain answer to a text in a language the model does not read: "… this looks like French." */
export function onlyEnglish(language: string): string {
  return `I only read English tweets so far — this looks like ${languageName(language)}.`;
}
