/**
 * Is there anything in a text the model can read? A text with no real token — empty, invisible
 * characters only (zero-width, NUL, lone surrogates, the braille blank U+2800…), only punctuation, only
 * mentions, links and numbers, or only words the model does not know — scores the model's prior, which
 * is no opinion: the HTTP API answers it with 400 `nothing_to_read`, the chat says so, and the trend
 * leaves such mentions out of its counts (they are still stored).
 *
 * A real token is one the tokeniser produces and the model knows (`knows`), other than the markers
 * that carry no opinion on their own: `<user>`, `<url>`, `<num>`, `<elong>`, `<allcaps>`, `!` and `?`.
 * Emoticons (`<smile>`, `<sadface>`…) and emoji are real tokens. Mentions and links never count, for the
 * Keras tokeniser too (which would otherwise read `@AirParadis` as the word "airparadis"): a tweet that
 * only names the airline holds no opinion.
 */
import { kerasTokenize, normalizeTweet } from './normalize';

/**
 * Characters that show nothing: controls (NUL…), format characters (zero-width space and joiners,
 * BOM, soft hyphen, bidi marks, tags), lone surrogates, every space, Unicode's default-ignorable code
 * points (Hangul fillers, variation selectors, the combining grapheme joiner…), and the braille blank
 * U+2800 that people use to post "empty" text.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Z}\s\p{Default_Ignorable_Code_Point}\u2800]/gu;

const NO_OPINION = new Set(['<user>', '<url>', '<num>', '<elong>', '<allcaps>', '!', '?']);
const URL = /\b(?:https?:\/\/|www\.)\S+/gi;
const MENTION = /@\w+/g;
const NUMBER = /[$£€]?\d+(?:[.,:]\d+)*(?:%|st|nd|rd|th|am|pm|k)?\b/gi;
const PICTOGRAPH = /\p{Extended_Pictographic}/u;

/** How a model reads: its tokeniser, and whether it knows a token. */
export interface Reader {
  tokenize(text: string): string[];
  knows(token: string): boolean;
}

export function withoutInvisible(text: string): string {
  return text.replace(INVISIBLE, '');
}

/** Keras' tokeniser on the text without its mentions and links (see the header). */
export function kerasReadingTokens(text: string): string[] {
  return kerasTokenize(text.replace(URL, ' ').replace(MENTION, ' '));
}

/**
 * Why the model behind `reader` can read nothing in `text` (a short reason for a person), or null when
 * it can read at least one real token. Without a reader, any word, emoticon or emoji counts: the
 * model-free check (what the trend uses for a stored mention whose readability was not recorded).
 */
export function unreadableReason(text: string, reader?: Reader): string | null {
  const tokens = reader ? reader.tokenize(text) : normalizeTweet(text);
  const content = tokens.filter((t) => !NO_OPINION.has(t) && withoutInvisible(t) !== '');
  if (content.some((t) => !reader || reader.knows(t))) return null;

  const visible = withoutInvisible(text);
  if (visible === '') return text.trim() === '' ? 'the text is empty' : 'empty after removing invisible characters';
  // The reason describes the text as the tweet normaliser sees it, whichever tokeniser the model uses.
  const seen = reader ? normalizeTweet(text) : tokens;
  const words = seen.filter((t) => !NO_OPINION.has(t) && withoutInvisible(t) !== '');
  if (words.length > 0 || content.length > 0)
    return words.some((w) => PICTOGRAPH.test(w)) ? 'no words or emoji the model knows' : 'no words the model knows';
  const parts: string[] = [];
  if (seen.includes('<user>')) parts.push('mentions');
  if (seen.includes('<url>')) parts.push('links');
  if (seen.includes('<num>')) parts.push('numbers');
  const rest = text
    .replace(INVISIBLE, ' ')
    .replace(URL, ' ')
    .replace(MENTION, ' ')
    .replace(NUMBER, ' ')
    .replace(/ +/g, '');
  if (/\p{P}/u.test(rest)) parts.push('punctuation');
  if (/[^\p{P}]/u.test(rest)) parts.push('symbols');
  return `only ${parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}` : (parts[0] ?? 'symbols')}`;
}
