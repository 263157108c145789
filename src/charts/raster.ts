/**
 * Shared raster drawing for the server-side PNG charts (confusion matrix, trend alerts), without native code:
 * an RGB raster in memory, a built-in 5×8 pixel font (drawn for Sentinel; ASCII letters, digits and common
 * punctuation, anything else as a box), a few primitives (rectangles, blending, lines, dashes) and a minimal
 * PNG encoder on node:zlib.
 */
import { deflateSync } from 'node:zlib';

export type Rgb = readonly number[];

/** 5 columns × 7 rows (+ an optional 8th for descenders); '#' = ink. Drawn for Sentinel. */
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
/** Glyph cell in font pixels (before scaling); characters advance by GLYPH_W + 1. */
export const GLYPH_W = 5;
export const GLYPH_H = 8;

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

/** An RGB image, white to start with. Drawing outside the image is clipped silently. */
export class Raster {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = new Uint8Array(width * height * 3).fill(255);
  }

  set(x: number, y: number, rgb: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (y * this.width + x) * 3;
    this.data[o] = rgb[0];
    this.data[o + 1] = rgb[1];
    this.data[o + 2] = rgb[2];
  }

  rect(x: number, y: number, w: number, h: number, rgb: Rgb): void {
    for (let yy = y; yy < y + h; yy++) for (let xx = x; xx < x + w; xx++) this.set(xx, yy, rgb);
  }

  /** Mixes `rgb` into the pixel with opacity `alpha` (0..1). */
  blend(x: number, y: number, rgb: Rgb, alpha: number): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (y * this.width + x) * 3;
    for (let i = 0; i < 3; i++) this.data[o + i] = Math.round(this.data[o + i] * (1 - alpha) + rgb[i] * alpha);
  }

  blendRect(x: number, y: number, w: number, h: number, rgb: Rgb, alpha: number): void {
    for (let yy = y; yy < y + h; yy++) for (let xx = x; xx < x + w; xx++) this.blend(xx, yy, rgb, alpha);
  }

  get(x: number, y: number): [number, number, number] {
    const o = (y * this.width + x) * 3;
    return [this.data[o], this.data[o + 1], this.data[o + 2]];
  }

  /**
   * A polyline through integer-rounded points, `thickness` pixels wide (a square pen). With `dash` = [on, off]
   * (in pixels along the path) it is dashed; the dash pattern runs on across the vertices.
   */
  polyline(
    points: ReadonlyArray<readonly [number, number]>,
    rgb: Rgb,
    thickness = 1,
    dash?: readonly [number, number],
  ): void {
    const t = Math.max(1, Math.round(thickness));
    const off = Math.floor((t - 1) / 2);
    let travelled = 0;
    const stamp = (x: number, y: number) => {
      if (dash && travelled % (dash[0] + dash[1]) >= dash[0]) return;
      this.rect(x - off, y - off, t, t, rgb);
    };
    if (points.length === 1) stamp(Math.round(points[0][0]), Math.round(points[0][1]));
    for (let i = 1; i < points.length; i++) {
      let x0 = Math.round(points[i - 1][0]);
      let y0 = Math.round(points[i - 1][1]);
      const x1 = Math.round(points[i][0]);
      const y1 = Math.round(points[i][1]);
      // Bresenham; each step advances the dash phase by one pixel.
      const dx = Math.abs(x1 - x0);
      const dy = -Math.abs(y1 - y0);
      const sx = x0 < x1 ? 1 : -1;
      const sy = y0 < y1 ? 1 : -1;
      let err = dx + dy;
      for (;;) {
        stamp(x0, y0);
        if (x0 === x1 && y0 === y1) break;
        const e2 = 2 * err;
        if (e2 >= dy) {
          err += dy;
          x0 += sx;
        }
        if (e2 <= dx) {
          err += dx;
          y0 += sy;
        }
        travelled++;
      }
    }
  }

  static textWidth(text: string, scale: number): number {
    return [...text].length * (GLYPH_W + 1) * scale - scale;
  }

  /** Text with its top-left corner at (x, y); `vertical` draws it rotated 90° counter-clockwise, reading upwards from (x, y). */
  text(text: string, x: number, y: number, scale: number, rgb: Rgb, vertical = false): void {
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

  centred(text: string, cx: number, y: number, scale: number, rgb: Rgb): void {
    this.text(text, Math.round(cx - Raster.textWidth(text, scale) / 2), y, scale, rgb);
  }

  rightAligned(text: string, right: number, y: number, scale: number, rgb: Rgb): void {
    this.text(text, right - Raster.textWidth(text, scale), y, scale, rgb);
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

export function crc32(bytes: Uint8Array): number {
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
