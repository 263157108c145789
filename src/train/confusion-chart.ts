/**
 * Confusion matrix as a heat map: SVG (vector, any viewer) and PNG (for chat uploads and model cards).
 *
 * Rows are the true labels, columns the predicted ones. Each cell shows its count and its share of the row
 * (the recall of that true class on the diagonal) and is shaded by that share, so a model that is good on a
 * rare class reads as good even when the class is small. Row totals are shown on the right.
 *
 * The PNG is drawn without native code: a raster in memory, a built-in 5×8 pixel font (drawn for this file;
 * ASCII letters, digits and common punctuation, anything else as a box), and a minimal PNG encoder on
 * node:zlib.
 */
import { deflateSync } from 'node:zlib';

interface Layout {
  k: number;
  cell: { w: number; h: number };
  left: number;
  top: number;
  width: number;
  height: number;
  rowTotals: number[];
  shares: number[][];
}

function validate(confusion: readonly (readonly number[])[], labels: readonly string[]): void {
  const k = labels.length;
  if (k === 0) throw new Error('confusion chart: no labels');
  if (confusion.length !== k || confusion.some((row) => row.length !== k)) {
    throw new Error(`confusion chart: the matrix must be ${k}×${k} (one row and one column per label)`);
  }
  if (confusion.some((row) => row.some((v) => !Number.isFinite(v) || v < 0))) {
    throw new Error('confusion chart: counts must be finite non-negative numbers');
  }
}

function layout(
  confusion: readonly (readonly number[])[],
  labels: readonly string[],
  cellW: number,
  cellH: number,
  left: number,
  top: number,
  right: number,
  bottom: number,
): Layout {
  const k = labels.length;
  const rowTotals = confusion.map((row) => row.reduce((a, b) => a + b, 0));
  const shares = confusion.map((row, i) => row.map((v) => (rowTotals[i] > 0 ? v / rowTotals[i] : 0)));
  return {
    k,
    cell: { w: cellW, h: cellH },
    left,
    top,
    width: left + k * cellW + right,
    height: top + k * cellH + bottom,
    rowTotals,
    shares,
  };
}

/** White → dark blue (ColorBrewer "Blues" end points). */
function shade(share: number): [number, number, number] {
  const from = [247, 251, 255];
  const to = [8, 48, 107];
  const t = Math.max(0, Math.min(1, share));
  return [0, 1, 2].map((i) => Math.round(from[i] + (to[i] - from[i]) * t)) as [number, number, number];
}

const hex = (rgb: readonly number[]) => `#${rgb.map((v) => v.toString(16).padStart(2, '0')).join('')}`;

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

export function confusionSvg(confusion: number[][], labels: readonly string[], title: string): string {
  validate(confusion, labels);
  const longest = Math.max(...labels.map((l) => [...l].length));
  const L = layout(confusion, labels, Math.max(130, longest * 9 + 16), 80, Math.max(150, 60 + longest * 9), 90, 90, 30);
  const { k, cell, left, top } = L;
  L.width = Math.max(L.width, Math.ceil([...title].length * 10.5) + 40);
  const font = 'font-family="Helvetica, Arial, sans-serif"';
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${L.height}" viewBox="0 0 ${L.width} ${L.height}" ${font}>`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${L.width / 2}" y="28" text-anchor="middle" font-size="18" font-weight="bold" fill="#222">${escapeXml(title)}</text>`,
    `<text x="${left + (k * cell.w) / 2}" y="${top - 38}" text-anchor="middle" font-size="15" font-weight="bold" fill="#444">predicted</text>`,
    `<text transform="translate(28 ${top + (k * cell.h) / 2}) rotate(-90)" text-anchor="middle" font-size="15" font-weight="bold" fill="#444">true</text>`,
    `<text x="${left + k * cell.w + 12}" y="${top - 12}" font-size="12" fill="#666">row total</text>`,
  );
  labels.forEach((label, j) => {
    parts.push(
      `<text x="${left + j * cell.w + cell.w / 2}" y="${top - 12}" text-anchor="middle" font-size="14" fill="#222">${escapeXml(label)}</text>`,
    );
  });
  labels.forEach((label, i) => {
    const cy = top + i * cell.h + cell.h / 2;
    parts.push(
      `<text x="${left - 12}" y="${cy + 5}" text-anchor="end" font-size="14" fill="#222">${escapeXml(label)}</text>`,
    );
    parts.push(`<text x="${left + k * cell.w + 12}" y="${cy + 5}" font-size="13" fill="#444">${L.rowTotals[i]}</text>`);
    for (let j = 0; j < k; j++) {
      const share = L.shares[i][j];
      const x = left + j * cell.w;
      const y = top + i * cell.h;
      const ink = share > 0.5 ? '#ffffff' : '#111111';
      parts.push(
        `<rect x="${x}" y="${y}" width="${cell.w}" height="${cell.h}" fill="${hex(shade(share))}" stroke="#ffffff" stroke-width="2"/>`,
        `<text x="${x + cell.w / 2}" y="${y + cell.h / 2 - 2}" text-anchor="middle" font-size="20" font-weight="bold" fill="${ink}">${confusion[i][j]}</text>`,
        `<text x="${x + cell.w / 2}" y="${y + cell.h / 2 + 20}" text-anchor="middle" font-size="13" fill="${ink}">${percent(share)}</text>`,
      );
    }
  });
  parts.push(
    `<text x="${left}" y="${L.height - 10}" font-size="11" fill="#666">cells: count and share of the true row; shade = share</text>`,
  );
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------------
// PNG

/** 5 columns × 7 rows (+ an optional 8th for descenders); '#' = ink. Drawn for this file. */
const GLYPHS: Record<string, string> = {
  ' ': '..... ..... ..... ..... ..... ..... .....',
  '0': '.###. #...# #..## #.#.# ##..# #...# .###.',
  '1': '..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.',
  '2': '.###. #...# ....# ...#. ..#.. .#... #####',
  '3': '##### ...#. ..#.. ...#. ....# #...# .###.',
  '4': '...#. ..##. .#.#. #..#. ##### ...#. ...#.',
  '5': '##### #.... ####. ....# ....# #...# .###.',
  '6': '..##. .#... #.... ####. #...# #...# .###.',
  '7': '##### ....# ...#. ..#.. .#... .#... .#...',
  '8': '.###. #...# #...# .###. #...# #...# .###.',
  '9': '.###. #...# #...# .#### ....# ...#. .##..',
  A: '.###. #...# #...# ##### #...# #...# #...#',
  B: '####. #...# #...# ####. #...# #...# ####.',
  C: '.###. #...# #.... #.... #.... #...# .###.',
  D: '####. #...# #...# #...# #...# #...# ####.',
  E: '##### #.... #.... ####. #.... #.... #####',
  F: '##### #.... #.... ####. #.... #.... #....',
  G: '.###. #...# #.... #.### #...# #...# .####',
  H: '#...# #...# #...# ##### #...# #...# #...#',
  I: '.###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  J: '..### ...#. ...#. ...#. ...#. #..#. .##..',
  K: '#...# #..#. #.#.. ##... #.#.. #..#. #...#',
  L: '#.... #.... #.... #.... #.... #.... #####',
  M: '#...# ##.## #.#.# #.#.# #...# #...# #...#',
  N: '#...# #...# ##..# #.#.# #..## #...# #...#',
  O: '.###. #...# #...# #...# #...# #...# .###.',
  P: '####. #...# #...# ####. #.... #.... #....',
  Q: '.###. #...# #...# #...# #.#.# #..#. .##.#',
  R: '####. #...# #...# ####. #.#.. #..#. #...#',
  S: '.#### #.... #.... .###. ....# ....# ####.',
  T: '##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  U: '#...# #...# #...# #...# #...# #...# .###.',
  V: '#...# #...# #...# #...# #...# .#.#. ..#..',
  W: '#...# #...# #...# #.#.# #.#.# #.#.# .#.#.',
  X: '#...# #...# .#.#. ..#.. .#.#. #...# #...#',
  Y: '#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..',
  Z: '##### ....# ...#. ..#.. .#... #.... #####',
  a: '..... ..... .###. ....# .#### #...# .####',
  b: '#.... #.... #.##. ##..# #...# #...# ####.',
  c: '..... ..... .###. #.... #.... #...# .###.',
  d: '....# ....# .##.# #..## #...# #...# .####',
  e: '..... ..... .###. #...# ##### #.... .###.',
  f: '..##. .#..# .#... ###.. .#... .#... .#...',
  g: '..... ..... .#### #...# #...# .#### ....# .###.',
  h: '#.... #.... #.##. ##..# #...# #...# #...#',
  i: '..#.. ..... .##.. ..#.. ..#.. ..#.. .###.',
  j: '...#. ..... ..##. ...#. ...#. ...#. #..#. .##..',
  k: '#.... #.... #..#. #.#.. ##... #.#.. #..#.',
  l: '.##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  m: '..... ..... ##.#. #.#.# #.#.# #.#.# #.#.#',
  n: '..... ..... #.##. ##..# #...# #...# #...#',
  o: '..... ..... .###. #...# #...# #...# .###.',
  p: '..... ..... ####. #...# #...# ####. #.... #....',
  q: '..... ..... .#### #...# #...# .#### ....# ....#',
  r: '..... ..... #.##. ##..# #.... #.... #....',
  s: '..... ..... .###. #.... .###. ....# ####.',
  t: '.#... .#... ###.. .#... .#... .#..# ..##.',
  u: '..... ..... #...# #...# #...# #..## .##.#',
  v: '..... ..... #...# #...# #...# .#.#. ..#..',
  w: '..... ..... #...# #...# #.#.# #.#.# .#.#.',
  x: '..... ..... #...# .#.#. ..#.. .#.#. #...#',
  y: '..... ..... #...# #...# #...# .#### ....# .###.',
  z: '..... ..... ##### ...#. ..#.. .#... #####',
  '%': '##..# ##..# ...#. ..#.. .#... #..## #..##',
  '.': '..... ..... ..... ..... ..... .##.. .##..',
  ',': '..... ..... ..... ..... .##.. .##.. ..#.. .#...',
  ':': '..... .##.. .##.. ..... .##.. .##.. .....',
  ';': '..... .##.. .##.. ..... .##.. .##.. ..#.. .#...',
  '(': '...#. ..#.. .#... .#... .#... ..#.. ...#.',
  ')': '.#... ..#.. ...#. ...#. ...#. ..#.. .#...',
  '[': '.###. .#... .#... .#... .#... .#... .###.',
  ']': '.###. ...#. ...#. ...#. ...#. ...#. .###.',
  '-': '..... ..... ..... ##### ..... ..... .....',
  '+': '..... ..#.. ..#.. ##### ..#.. ..#.. .....',
  '=': '..... ..... ##### ..... ##### ..... .....',
  '/': '....# ....# ...#. ..#.. .#... #.... #....',
  _: '..... ..... ..... ..... ..... ..... #####',
  '!': '..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..',
  '?': '.###. #...# ....# ...#. ..#.. ..... ..#..',
  "'": '..#.. ..#.. .#... ..... ..... ..... .....',
  '"': '.#.#. .#.#. ..... ..... ..... ..... .....',
  '#': '.#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.',
  '&': '.##.. #..#. #.#.. .#... #.#.# #..#. .##.#',
  '<': '...#. ..#.. .#... #.... .#... ..#.. ...#.',
  '>': '.#... ..#.. ...#. ....# ...#. ..#.. .#...',
  '*': '..... #.#.# .###. ##### .###. #.#.# .....',
  '|': '..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
};
const UNKNOWN_GLYPH = '##### #...# #...# #...# #...# #...# #####';
const GLYPH_W = 5;
const GLYPH_H = 8;

const glyphCache = new Map<string, boolean[][]>();
function glyph(ch: string): boolean[][] {
  let g = glyphCache.get(ch);
  if (!g) {
    const rows = (GLYPHS[ch] ?? UNKNOWN_GLYPH).split(' ').map((r) => [...r].map((c) => c === '#'));
    while (rows.length < GLYPH_H) rows.push(new Array<boolean>(GLYPH_W).fill(false));
    g = rows;
    glyphCache.set(ch, g);
  }
  return g;
}

class Raster {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = new Uint8Array(width * height * 3).fill(255);
  }

  set(x: number, y: number, rgb: readonly number[]): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (y * this.width + x) * 3;
    this.data[o] = rgb[0];
    this.data[o + 1] = rgb[1];
    this.data[o + 2] = rgb[2];
  }

  rect(x: number, y: number, w: number, h: number, rgb: readonly number[]): void {
    for (let yy = y; yy < y + h; yy++) for (let xx = x; xx < x + w; xx++) this.set(xx, yy, rgb);
  }

  static textWidth(text: string, scale: number): number {
    return [...text].length * (GLYPH_W + 1) * scale - scale;
  }

  /** Text with its top-left corner at (x, y); `vertical` draws it rotated 90° counter-clockwise, reading upwards from (x, y). */
  text(text: string, x: number, y: number, scale: number, rgb: readonly number[], vertical = false): void {
    let pen = 0;
    for (const ch of text) {
      const g = glyph(ch);
      for (let r = 0; r < GLYPH_H; r++) {
        for (let c = 0; c < GLYPH_W; c++) {
          if (!g[r][c]) continue;
          const gx = pen + c * scale;
          const gy = r * scale;
          if (vertical) this.rect(x + gy, y - gx - scale, scale, scale, rgb);
          else this.rect(x + gx, y + gy, scale, scale, rgb);
        }
      }
      pen += (GLYPH_W + 1) * scale;
    }
  }

  centred(text: string, cx: number, y: number, scale: number, rgb: readonly number[]): void {
    this.text(text, Math.round(cx - Raster.textWidth(text, scale) / 2), y, scale, rgb);
  }
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** 8-bit RGB PNG of a raster. */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  if (rgb.length !== width * height * 3) throw new Error('encodePng: pixel buffer does not match the size');
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0; // filter: none
    Buffer.from(rgb.buffer, rgb.byteOffset + y * width * 3, width * 3).copy(raw, y * (width * 3 + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

export function confusionPng(confusion: number[][], labels: readonly string[], title: string): Buffer {
  validate(confusion, labels);
  const longest = Math.max(...labels.map((l) => Raster.textWidth(l, 2)));
  const L = layout(confusion, labels, Math.max(150, longest + 20), 84, Math.max(170, 70 + longest), 100, 110, 20);
  const { k, cell, left, top } = L;
  const width = Math.max(L.width, Raster.textWidth(title, 2) + 40);
  const img = new Raster(width, L.height);
  const dark = [34, 34, 34];
  const grey = [90, 90, 90];
  img.centred(title, width / 2, 16, 2, dark);
  img.centred('predicted', left + (k * cell.w) / 2, top - 58, 2, grey);
  img.text('true', 20, top + (k * cell.h) / 2 + Raster.textWidth('true', 2) / 2, 2, grey, true);
  img.text('row total', left + k * cell.w + 10, top - 24, 1, grey);
  labels.forEach((label, j) => img.centred(label, left + j * cell.w + cell.w / 2, top - 26, 2, dark));
  labels.forEach((label, i) => {
    const y = top + i * cell.h;
    img.text(label, left - 12 - Raster.textWidth(label, 2), y + cell.h / 2 - 8, 2, dark);
    img.text(String(L.rowTotals[i]), left + k * cell.w + 10, y + cell.h / 2 - 8, 2, grey);
    for (let j = 0; j < k; j++) {
      const share = L.shares[i][j];
      const x = left + j * cell.w;
      img.rect(x + 1, y + 1, cell.w - 2, cell.h - 2, shade(share));
      const ink = share > 0.5 ? [255, 255, 255] : [17, 17, 17];
      img.centred(String(confusion[i][j]), x + cell.w / 2, y + 16, 3, ink);
      img.centred(percent(share), x + cell.w / 2, y + 52, 2, ink);
    }
  });
  return encodePng(img.width, img.height, img.data);
}
