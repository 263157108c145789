/**
 * Tweet text → tokens, the same way at training and at scoring time.
 *
 * Rules (each one exists because it changes what the model can learn):
 * - HTML entities are decoded first: the data is "as published", so `&amp;` and `&lt;3` are still encoded.
 * - The airline data set replaced, case-sensitively and even inside words, "cancel" by "Cancelled Flight"
 *   ("cancelled" → "Cancelled Flightled", "cancellation" → "Cancelled Flightlation") and "late" by
 *   "Late Flight" ("later" → "Late Flightr", "related" → "reLate Flightd"). Live mentions use the real
 *   words, so the artefact is undone; the exact capitalisation makes a real "late flight" rare to touch.
 * - URLs → `<url>`, @mentions → `<user>`, numbers (incl. times and prices) → `<num>`: their identity
 *   carries no sentiment but their presence does (a link is usually news, i.e. neutral).
 * - Hashtags keep their word (`#fail` → `fail`): people tag what they feel.
 * - Emoticons become named tokens (`:-)` and `:)` → `<smile>`), emoji stay as one token each.
 * - Letters repeated 3+ times are cut to 2 (`sooooo` → `soo`), and `<elong>` marks that it happened.
 * - Lower case, with `<allcaps>` after a word written in capitals (shouting).
 * - `!` and `?` are kept as tokens; other punctuation is dropped.
 */

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1].toLowerCase() === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

// Order matters: the most specific faces first; `<3` before `<num>` swallows the 3.
const EMOTICONS: Array<[RegExp, string]> = [
  [/(?:^|\s)(?:<\/3)(?=\s|$)/g, ' <brokenheart> '],
  [/<3+/g, ' <heart> '],
  [/(?:^|\s)[:=;8]['`\-^o]?[dD]+(?=\s|$|[!?.,])/g, ' <lolface> '],
  [/(?:^|\s)(?:[:=8]['`\-^o]?[)\]}>]+|\(+['`\-^o]?[:=8]|\^_*\^)(?=\s|$|[!?.,])/g, ' <smile> '],
  [/(?:^|\s)[;]['`\-^o]?[)\]}>dDpP]+(?=\s|$|[!?.,])/g, ' <wink> '],
  [/(?:^|\s)[:=8]['`\-^o]?[pP]+(?=\s|$|[!?.,])/g, ' <tongue> '],
  [/(?:^|\s)(?:[:=8]['`\-^o]?[([{<]+|[)\]]+['`\-^o]?[:=8]|[:=]['`]\(+|T_T|;_;)(?=\s|$|[!?.,])/g, ' <sadface> '],
  [/(?:^|\s)[:=8]['`\-^o]?[/\\|]+(?=\s|$|[!?.,])/g, ' <neutralface> '],
];

const URL = /\b(?:https?:\/\/|www\.)\S+/gi;
const MENTION = /@\w+/g;
const HASHTAG = /#(\w+)/g;
const NUMBER = /[$£€]?\d+(?:[.,:]\d+)*(?:%|st|nd|rd|th|am|pm|k)?\b/gi;
// One emoji (with its modifiers and joiners) is one token.
const EMOJI = /\p{Extended_Pictographic}(?:\uFE0F|\p{Emoji_Modifier}|\u200D\p{Extended_Pictographic})*/gu;

export function fixDatasetArtefacts(text: string): string {
  return text.replace(/Cancelled Flight/g, 'cancel').replace(/Late Flight/g, 'late');
}

export function normalizeTweet(raw: string): string[] {
  let text = fixDatasetArtefacts(decodeEntities(raw));
  text = text.replace(URL, ' <url> ').replace(MENTION, ' <user> ').replace(HASHTAG, ' $1 ');
  text = ` ${text} `;
  for (const [pattern, token] of EMOTICONS) text = text.replace(pattern, token);
  text = text.replace(EMOJI, (e) => ` ${e} `).replace(NUMBER, ' <num> ');
  text = text.replace(/!+/g, ' ! ').replace(/\?+/g, ' ? ');

  const tokens: string[] = [];
  for (const piece of text.split(/\s+/)) {
    if (!piece) continue;
    if (/^<[a-z]+>$/.test(piece) || piece === '!' || piece === '?' || /^\p{Extended_Pictographic}/u.test(piece)) {
      tokens.push(piece);
      continue;
    }
    // Words: letters, digits, inner apostrophes; everything else is a separator.
    for (const word of piece.split(/[^\p{L}\p{N}']+/u)) {
      const w = word.replace(/^'+|'+$/g, '');
      if (!w) continue;
      const shouted = w.length >= 2 && /\p{Lu}/u.test(w) && w === w.toUpperCase() && /^\p{L}+$/u.test(w);
      const lower = w.toLowerCase();
      const squeezed = lower.replace(/(\p{L})\1{2,}/gu, '$1$1');
      tokens.push(squeezed);
      if (squeezed !== lower) tokens.push('<elong>');
      if (shouted) tokens.push('<allcaps>');
    }
  }
  return tokens;
}

/** Keras' `Tokenizer` defaults (filters, lower, split on space), for models brought from the reference system. */
const KERAS_FILTERS = new Set('!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n');
export function kerasTokenize(text: string): string[] {
  let out = '';
  for (const ch of text.toLowerCase()) out += KERAS_FILTERS.has(ch) ? ' ' : ch;
  return out.split(' ').filter((w) => w.length > 0);
}
