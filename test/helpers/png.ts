/**
 * A small, independent PNG decoder for the chart tests (RGB and RGBA, composited over white), and colour checks.
 */
import { inflateSync } from 'node:zlib';

// A small, independent PNG decoder: checks the signature and every chunk's CRC, reads IHDR, inflates the
// IDAT stream and undoes the scanline filters (all five, although the encoder only writes "none").

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface Image {
  width: number;
  height: number;
  chunks: string[];
  px(x: number, y: number): [number, number, number];
}

export function decodePng(png: Buffer): Image {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const chunks: string[] = [];
  const idat: Buffer[] = [];
  let ihdr: Buffer | undefined;
  for (let o = 8; o < png.length;) {
    const length = png.readUInt32BE(o);
    const type = png.toString('ascii', o + 4, o + 8);
    const data = png.subarray(o + 8, o + 8 + length);
    expect(png.readUInt32BE(o + 8 + length)).toBe(crc(png.subarray(o + 4, o + 8 + length)));
    chunks.push(type);
    if (type === 'IHDR') ihdr = data;
    if (type === 'IDAT') idat.push(data);
    o += 12 + length;
  }
  expect(chunks[0]).toBe('IHDR');
  expect(chunks[chunks.length - 1]).toBe('IEND');
  const width = ihdr!.readUInt32BE(0);
  const height = ihdr!.readUInt32BE(4);
  // 8-bit RGB or RGBA (what resvg writes), not interlaced.
  const [depth, colourType, , , interlace] = [ihdr![8], ihdr![9], ihdr![10], ihdr![11], ihdr![12]];
  expect(depth).toBe(8);
  expect([2, 6]).toContain(colourType);
  expect(interlace).toBe(0);
  const bpp = colourType === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  expect(raw.length).toBe((stride + 1) * height);
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    if (filter > 4) throw new Error(`row ${y}: unknown PNG filter ${filter}`);
    for (let i = 0; i < stride; i++) {
      const v = raw[y * (stride + 1) + 1 + i];
      const a = i >= bpp ? pixels[y * stride + i - bpp] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + i] : 0;
      const c = i >= bpp && y > 0 ? pixels[(y - 1) * stride + i - bpp] : 0;
      let predictor = 0;
      if (filter === 1) predictor = a;
      else if (filter === 2) predictor = b;
      else if (filter === 3) predictor = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      pixels[y * stride + i] = (v + predictor) & 0xff;
    }
  }
  return {
    width,
    height,
    chunks,
    // RGBA is composited over white: what a viewer shows on a white page.
    px: (x, y) => {
      const o = y * stride + x * bpp;
      const alpha = bpp === 4 ? pixels[o + 3] / 255 : 1;
      const over = (v: number) => Math.round(v * alpha + 255 * (1 - alpha));
      return [over(pixels[o]), over(pixels[o + 1]), over(pixels[o + 2])];
    },
  };
}

/** An RGB colour, 0–255 per channel. */
export type Rgb = readonly number[];

export const same = (a: readonly number[], b: Rgb) => a[0] === b[0] && a[1] === b[1] && a[2] === b[2];

/** Within `tolerance` on every channel: anti-aliased edges and blended bands are never exact. */
export const near = (a: readonly number[], b: readonly number[], tolerance = 12) =>
  a.every((v, i) => Math.abs(v - b[i]) <= tolerance);
