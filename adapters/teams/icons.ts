/**
 * The Teams app icons, drawn here (no image tools needed) and written to adapters/teams/manifest/:
 *
 * - color.png, 192×192: a rising trend line with an alert dot, white on Sentinel's blue;
 * - outline.png, 32×32: the same line in white on a transparent background, as Teams requires.
 *
 * Regenerate with `npx tsx adapters/teams/icons.ts` (the files are kept in the repository).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { crc32 } from '../../src/charts/raster';

type Rgba = readonly [number, number, number, number];

class Canvas {
  readonly px: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.px = new Uint8Array(width * height * 4);
  }

  /** Blends `colour` with coverage `a` (0..1) over pixel (x, y). */
  blend(x: number, y: number, colour: Rgba, a: number): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || a <= 0) return;
    const i = (y * this.width + x) * 4;
    const srcA = (colour[3] / 255) * Math.min(1, a);
    const dstA = this.px[i + 3] / 255;
    const outA = srcA + dstA * (1 - srcA);
    for (let c = 0; c < 3; c++) {
      const v = outA > 0 ? (colour[c] * srcA + this.px[i + c] * dstA * (1 - srcA)) / outA : 0;
      this.px[i + c] = Math.round(v);
    }
    this.px[i + 3] = Math.round(outA * 255);
  }

  /** Fills every pixel whose centre is at signed distance d from a shape with coverage clamp(0.5 - d). */
  shape(colour: Rgba, distance: (x: number, y: number) => number): void {
    for (let y = 0; y < this.height; y++)
      for (let x = 0; x < this.width; x++) {
        const d = distance(x + 0.5, y + 0.5);
        this.blend(x, y, colour, Math.max(0, Math.min(1, 0.5 - d)));
      }
  }

  roundedRect(colour: Rgba, x0: number, y0: number, x1: number, y1: number, r: number): void {
    this.shape(colour, (x, y) => {
      const dx = Math.max(x0 + r - x, 0, x - (x1 - r));
      const dy = Math.max(y0 + r - y, 0, y - (y1 - r));
      return Math.hypot(dx, dy) - r;
    });
  }

  polyline(colour: Rgba, points: Array<[number, number]>, width: number): void {
    this.shape(colour, (x, y) => {
      let best = Infinity;
      for (let i = 1; i < points.length; i++) best = Math.min(best, segment(x, y, points[i - 1], points[i]));
      return best - width / 2;
    });
  }

  disc(colour: Rgba, cx: number, cy: number, r: number): void {
    this.shape(colour, (x, y) => Math.hypot(x - cx, y - cy) - r);
  }

  png(): Buffer {
    const header = Buffer.alloc(13);
    header.writeUInt32BE(this.width, 0);
    header.writeUInt32BE(this.height, 4);
    header[8] = 8; // bit depth
    header[9] = 6; // colour type: RGBA
    const stride = this.width * 4;
    const raw = Buffer.alloc((stride + 1) * this.height);
    for (let y = 0; y < this.height; y++)
      Buffer.from(this.px.buffer, y * stride, stride).copy(raw, y * (stride + 1) + 1);
    return Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', header),
      chunk('IDAT', deflateSync(raw, { level: 9 })),
      chunk('IEND', Buffer.alloc(0)),
    ]);
  }
}

function segment(x: number, y: number, a: [number, number], b: [number, number]): number {
  const [ax, ay] = a;
  const [bx, by] = b;
  const l2 = (bx - ax) ** 2 + (by - ay) ** 2;
  const t = l2 === 0 ? 0 : Math.max(0, Math.min(1, ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / l2));
  return Math.hypot(x - (ax + t * (bx - ax)), y - (ay + t * (by - ay)));
}

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

export const ACCENT = '#1F4E79';
const BLUE: Rgba = [0x1f, 0x4e, 0x79, 255];
const WHITE: Rgba = [255, 255, 255, 255];
const RED: Rgba = [0xe8, 0x3b, 0x3b, 255];

/** The trend line in a unit square (0..1), flat then rising: the start of a bad buzz. */
const LINE: Array<[number, number]> = [
  [0.12, 0.68],
  [0.3, 0.6],
  [0.44, 0.66],
  [0.58, 0.54],
  [0.72, 0.3],
];

function scaled(size: number, margin: number): Array<[number, number]> {
  const span = size - 2 * margin;
  return LINE.map(([x, y]) => [margin + x * span, margin + y * span]);
}

export function colorIcon(): Buffer {
  const c = new Canvas(192, 192);
  c.roundedRect(BLUE, 0, 0, 192, 192, 36);
  const line = scaled(192, 8);
  c.polyline(WHITE, line, 14);
  const [x, y] = line[line.length - 1];
  c.disc(RED, x + 4, y - 4, 22);
  c.disc(WHITE, x + 4, y - 4, 8);
  return c.png();
}

export function outlineIcon(): Buffer {
  const c = new Canvas(32, 32);
  const line = scaled(32, 1);
  c.polyline(WHITE, line, 2.6);
  const [x, y] = line[line.length - 1];
  c.disc(WHITE, x + 1, y - 1, 3.6);
  return c.png();
}

export const MANIFEST_DIR = join(__dirname, 'manifest');

if (require.main === module) {
  writeFileSync(join(MANIFEST_DIR, 'color.png'), colorIcon());
  writeFileSync(join(MANIFEST_DIR, 'outline.png'), outlineIcon());
  process.stdout.write(`icons written to ${MANIFEST_DIR}\n`);
}
