/**
 * A small, independent PNG decoder for the chart tests, and a search for text drawn with the raster's font.
 */
import { inflateSync } from 'node:zlib';
import { Raster, type Rgb } from '../../src/charts/raster';

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
  expect([ihdr![8], ihdr![9], ihdr![10], ihdr![11], ihdr![12]]).toEqual([8, 2, 0, 0, 0]); // 8-bit RGB
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * 3;
  expect(raw.length).toBe((stride + 1) * height);
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    if (filter > 4) throw new Error(`row ${y}: unknown PNG filter ${filter}`);
    for (let i = 0; i < stride; i++) {
      const v = raw[y * (stride + 1) + 1 + i];
      const a = i >= 3 ? pixels[y * stride + i - 3] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + i] : 0;
      const c = i >= 3 && y > 0 ? pixels[(y - 1) * stride + i - 3] : 0;
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
    px: (x, y) => {
      const o = y * stride + x * 3;
      return [pixels[o], pixels[o + 1], pixels[o + 2]];
    },
  };
}

export const same = (a: readonly number[], b: Rgb) => a[0] === b[0] && a[1] === b[1] && a[2] === b[2];

/** Whether `text`, drawn with the chart's pixel font in `rgb`, appears anywhere in the image. */
export function containsText(img: Image, text: string, rgb: Rgb, scale = 1): boolean {
  const w = Raster.textWidth(text, scale);
  const h = 8 * scale;
  const stamp = new Raster(w, h);
  stamp.text(text, 0, 0, scale, [0, 0, 0]);
  // mask[y * width + x] = 1 where the image has exactly the text colour.
  const mask = new Uint8Array(img.width * img.height);
  for (let y = 0; y < img.height; y++)
    for (let x = 0; x < img.width; x++) mask[y * img.width + x] = same(img.px(x, y), rgb) ? 1 : 0;
  const want = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) want[y * w + x] = stamp.get(x, y)[0] === 0 ? 1 : 0;
  for (let y = 0; y + h <= img.height; y++) {
    search: for (let x = 0; x + w <= img.width; x++) {
      for (let dy = 0; dy < h; dy++) {
        for (let dx = 0; dx < w; dx++) if (mask[(y + dy) * img.width + x + dx] !== want[dy * w + dx]) continue search;
      }
      return true;
    }
  }
  return false;
}
