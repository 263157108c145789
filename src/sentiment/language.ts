/**
 * Which language a text is in, and whether the model reads it. The model is trained on English airline
 * tweets: a French or Spanish text would get a confident English-model answer, so every entry point asks
 * here first and answers such a text as not read (HTTP: `"supported": false` and no label; the chat: "I
 * only read English tweets so far"; the trend: stored, counted per language, left out of the negative share).
 *
 * The identifier is eld (Efficient Language Detector, Apache-2.0), its `small` n-gram database: on short
 * tweets it wrongly calls English "not English" ten to a hundred times less often than franc or cld3, and
 * the `large` database, which halves those errors again, costs 400 MB of memory against 155 MB (figures
 * and the command that measures them: docs/language.md, `npm run language:eval`).
 *
 * The rule (measured on real English tweets and on non-English text, docs/language.md):
 * - the text is normalised first — HTML entities decoded, links and @mentions removed, the `#` of
 *   hashtags dropped, letters repeated 3+ times cut to two (`sooooo` → `soo`) — so a French tweet to `@AirParadis` is not read as English because of the handle,
 *   nor an English one as Dutch because of a link;
 * - a text in Latin script with fewer than MIN_LETTERS letters is too short to tell: `und`, read as
 *   English (a short English tweet must never be refused). In another script (Cyrillic, CJK, Arabic…)
 *   two letters are enough: English is not written in them;
 * - another language is said only when it is ahead of English by MARGIN in eld's scores; closer than
 *   that, the text is `und` (undetermined) and read as English.
 *
 * eld ships as an ES module only, exporting nothing to require(); this CommonJS project loads its entry
 * file by path with require(), which Node ≥ 20.19 does synchronously for an ES module (and jest runs it
 * through its transform, jest.config.js). Loading takes about 0.5–1 s once per process:
 * `loadLanguageIdentifier()` at start-up, else the first call pays it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decodeEntities } from './normalize';

/** The languages the serving model reads (ISO 639-1). One place: a French model would add 'fr' here. */
export const SUPPORTED_LANGUAGES: readonly string[] = ['en'];

/** "Undetermined" (ISO 639-2): too short or too close to call; read as English. */
export const UNDETERMINED = 'und';

/** Below this many letters (Latin script), a text is too short to tell. */
export const MIN_LETTERS = 15;
/** How far another language must be ahead of English in eld's scores. */
export const MARGIN = 0.05;

export interface LanguageVerdict {
  /** ISO 639-1 ("en", "fr"), or "und" when too short or too uncertain to tell. */
  language: string;
  /** Whether the model reads it: an undetermined text is read (as English). */
  supported: boolean;
}

interface EldResult {
  language: string;
  getScores(): Record<string, number>;
}
interface Eld {
  detect(text: string): EldResult;
}

let detector: Eld | undefined;

/** Loads eld's database now (0.5–1 s) rather than at the first text. Idempotent. */
export function loadLanguageIdentifier(): void {
  identifier();
}

function identifier(): Eld {
  if (detector) return detector;
  // Node's own search path for `eld` (the package exports no require() entry, so require.resolve fails).
  const dir = (require.resolve.paths('eld') ?? [])
    .map((d) => join(d, 'eld'))
    .find((d) => existsSync(join(d, 'package.json')));
  if (!dir) throw new Error('the language identifier is not installed (npm package eld): run npm ci');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  detector = (require(join(dir, 'src', 'entries', 'static.small.js')) as { eld: Eld }).eld;
  return detector;
}

const URL = /\b(?:https?:\/\/|www\.)\S+/gi;
const MENTION = /@\w+/g;
const HASHTAG = /#(\w+)/g;

/** The text the identifier sees: entities decoded, links and @mentions out, hashtags as words. */
export function languageText(text: string): string {
  return decodeEntities(text)
    .replace(URL, ' ')
    .replace(MENTION, ' ')
    .replace(HASHTAG, ' $1 ')
    .replace(/(\p{L})\1{2,}/gu, '$1$1')
    .replace(/\s+/g, ' ')
    .trim();
}

export function isSupportedLanguage(language: string): boolean {
  return language === UNDETERMINED || SUPPORTED_LANGUAGES.includes(language);
}

/** The language of `text` and whether the model reads it (see the header for the rule). */
export function identifyLanguage(text: string): LanguageVerdict {
  const t = languageText(text);
  const letters = t.match(/\p{L}/gu)?.length ?? 0;
  const latin = t.match(/\p{Script=Latin}/gu)?.length ?? 0;
  const minimum = latin * 2 >= letters ? MIN_LETTERS : 2;
  if (letters < minimum) return verdict(UNDETERMINED);
  const result = identifier().detect(t);
  if (!result.language || result.language === 'en') return verdict(result.language || UNDETERMINED);
  const scores = result.getScores();
  const ahead = (scores[result.language] ?? 0) - (scores.en ?? 0);
  return verdict(ahead >= MARGIN ? result.language : UNDETERMINED);
}

function verdict(language: string): LanguageVerdict {
  return { language, supported: isSupportedLanguage(language) };
}

const NAMES = new Intl.DisplayNames(['en'], { type: 'language' });

/** The language's name in English ("fr" → "French"); the code itself when it has none. */
export function languageName(language: string): string {
  if (language === UNDETERMINED) return 'an undetermined language';
  try {
    return NAMES.of(language) ?? language;
  } catch {
    return language;
  }
}
