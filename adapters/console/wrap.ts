/**
 * Text for a terminal of a given width, measured in display columns (string-width: emoji and CJK take two
 * columns, ANSI colour codes none). Lines are word-wrapped with a hanging indent; URLs and file paths are
 * never broken (a terminal keeps them clickable and copyable): one that does not fit moves to a line of
 * its own, and only one longer than the whole width is left to overflow. Other words longer than the
 * width are cut.
 */
import stringWidth from 'string-width';

/** Display columns of `text` (ANSI codes excluded). */
export function displayWidth(text: string): number {
  return stringWidth(text);
}

/** URLs and absolute paths: kept whole. */
const UNBREAKABLE = /^(?:[a-z][a-z0-9+.-]*:\/\/\S+|\/\S*\/\S*|[A-Za-z]:\\\S+)$/i;

/**
 * The indent of the lines after the first: the leading blanks, plus a leading label or figure followed
 * by two or more spaces ("Volume           43 mentions…", "  100 %  the tweet…"), when that is short.
 */
export function hangingIndent(line: string, width: number): number {
  const lead = /^\s*/.exec(line)![0];
  const label = /^\s*\S+(?: \S+)*\s{2,}(?=\S)/.exec(line)?.[0];
  if (label && displayWidth(label) <= Math.floor(width / 2)) return displayWidth(label);
  return Math.min(displayWidth(lead), Math.floor(width / 2));
}

/**
 * One line → lines of at most `width` columns (see the header). A line that fits is returned as it is;
 * `indent` (default: `hangingIndent`) spaces start each continuation line.
 */
export function wrapLine(line: string, width: number, indent = hangingIndent(line, width)): string[] {
  if (displayWidth(line) <= width) return [line];
  const pad = ' '.repeat(indent);
  const out: string[] = [];
  const lead = /^\s*/.exec(line)![0];
  let current = lead;
  let currentWidth = displayWidth(lead);
  let fresh = true; // nothing but the indent on `current` yet
  const newLine = () => {
    out.push(current.trimEnd());
    current = pad;
    currentWidth = indent;
    fresh = true;
  };
  // Words and the blanks between them; the blanks before a word are dropped when it starts a line. A
  // lone mark ("…", "—", ":") stays with the word before it rather than start a line.
  const tokens: string[] = [];
  for (const t of line.slice(lead.length).match(/\s+|\S+/g) ?? []) {
    const n = tokens.length;
    if (n >= 2 && /^\s+$/.test(tokens[n - 1]) && /^[…—–:;,.!?)\]]+$/u.test(t))
      tokens.splice(n - 2, 2, tokens[n - 2] + tokens[n - 1] + t);
    else tokens.push(t);
  }
  let gap = '';
  for (const token of tokens) {
    if (/^\s/.test(token)) {
      gap = token;
      continue;
    }
    const w = displayWidth(token);
    const sep = fresh ? '' : gap;
    gap = '';
    if (currentWidth + displayWidth(sep) + w <= width) {
      current += sep + token;
      currentWidth += displayWidth(sep) + w;
      fresh = false;
      continue;
    }
    if (!fresh) newLine();
    if (currentWidth + w <= width || UNBREAKABLE.test(token)) {
      // Fits on a line of its own, or must not be broken (then it overflows, alone on its line).
      current += token;
      currentWidth += w;
      fresh = false;
      continue;
    }
    // A word longer than a whole line: cut it, grapheme by grapheme.
    for (const piece of cut(token, width - indent, width - currentWidth)) {
      if (!fresh) newLine();
      current += piece;
      currentWidth += displayWidth(piece);
      fresh = false;
    }
  }
  if (!fresh || out.length === 0) out.push(current.trimEnd());
  return out;
}

/** Every line of `text` wrapped (see `wrapLine`). */
export function wrapText(text: string, width: number): string[] {
  return text.split('\n').flatMap((l) => wrapLine(l, width));
}

/**
 * Parts joined with `sep` on as few lines as fit in `width`, breaking between parts first (a part that is
 * longer than a line on its own is word-wrapped). Continuation lines start with `indent` spaces.
 */
export function packParts(parts: string[], width: number, sep = ' · ', indent = 0): string[] {
  const out: string[] = [];
  const pad = ' '.repeat(indent);
  let current = '';
  for (const part of parts) {
    const candidate = current ? current + sep + part : part;
    if (displayWidth(candidate) <= width) {
      current = candidate;
      continue;
    }
    if (current) out.push(current);
    const start = out.length ? pad + part.trimStart() : part;
    const lines = wrapLine(start, width, indent);
    out.push(...lines.slice(0, -1));
    current = lines[lines.length - 1];
  }
  if (current || out.length === 0) out.push(current);
  return out;
}

/** `word` in pieces of at most `width` columns, the first at most `first` columns (grapheme-safe). */
function cut(word: string, width: number, first: number): string[] {
  const pieces: string[] = [];
  let piece = '';
  let limit = first > 0 ? first : width;
  for (const { segment } of new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(word)) {
    if (piece && displayWidth(piece + segment) > limit) {
      pieces.push(piece);
      piece = '';
      limit = width;
    }
    piece += segment;
  }
  if (piece) pieces.push(piece);
  return pieces;
}
