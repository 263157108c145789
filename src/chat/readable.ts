/**
 * A text with nothing the model can read (zero-width characters only, NUL, a thousand `@`…) is not an
 * opinion: scored, it would get the model's prior (neutral 0.35) and a prediction id to vote on. Chat
 * adapters ask the serving scorer first (`Scorer.unreadable`: null when it can read the text, else a short
 * reason) and answer such a text with this plain message: nothing scored, nothing kept, no ✅ / ❌.
 */

/** The plain answer to a text with nothing to read (each adapter escapes it for its format). */
export function nothingToScore(reason: string): string {
  return `Nothing to score in that text: ${reason.trim().replace(/[.\s]+$/, '')}. Try a sentence.`;
}
