/**
 * The Teams app icons, written to adapters/teams/manifest/ as SVG rendered by resvg (src/charts/render.ts):
 *
 * - color.png, 192×192: a rising trend line with an alert dot, white on Sentinel's blue;
 * - outline.png, 32×32: the same line in white on a transparent background, as Teams requires.
 *
 * Regenerate with `npx tsx adapters/teams/icons.ts` (the files are kept in the repository).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PALETTE } from '../../src/charts/palette';
import { svgToPng } from '../../src/charts/render';

export const ACCENT = PALETTE.accent;
const ALERT = '#E83B3B';

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

const points = (line: Array<[number, number]>) => line.map(([x, y]) => `${x.toFixed(2)},${y.toFixed(2)}`).join(' ');

export function colorIcon(): Buffer {
  const line = scaled(192, 8);
  const [x, y] = line[line.length - 1];
  return svgToPng(
    `<svg xmlns="http://www.w3.org/2000/svg" width="192" height="192" viewBox="0 0 192 192">
  <rect width="192" height="192" rx="36" fill="${ACCENT}"/>
  <polyline points="${points(line)}" fill="none" stroke="#ffffff" stroke-width="14" stroke-linecap="round" stroke-linejoin="round"/>
  <circle cx="${x + 4}" cy="${y - 4}" r="22" fill="${ALERT}"/>
  <circle cx="${x + 4}" cy="${y - 4}" r="8" fill="#ffffff"/>
</svg>`,
    { background: null },
  );
}

export function outlineIcon(): Buffer {
  const line = scaled(32, 1);
  const [x, y] = line[line.length - 1];
  return svgToPng(
    `<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">
  <polyline points="${points(line)}" fill="none" stroke="#ffffff" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/>
  <circle cx="${x + 1}" cy="${y - 1}" r="3.6" fill="#ffffff"/>
</svg>`,
    { background: null },
  );
}

export const MANIFEST_DIR = join(__dirname, 'manifest');

if (require.main === module) {
  writeFileSync(join(MANIFEST_DIR, 'color.png'), colorIcon());
  writeFileSync(join(MANIFEST_DIR, 'outline.png'), outlineIcon());
  process.stdout.write(`icons written to ${MANIFEST_DIR}\n`);
}
