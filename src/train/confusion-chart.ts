/**
 * Confusion matrix as a heat map: SVG (vector, any viewer) and PNG (for chat uploads and model cards).
 *
 * Rows are the true labels, columns the predicted ones. Each cell shows its count and its share of the row
 * (the recall of that true class on the diagonal) and is shaded by that share, so a model that is good on a
 * rare class reads as good even when the class is small. Row totals are shown on the right.
 *
 * The PNG is drawn without native code, with the shared raster, 5×8 pixel font and PNG encoder of
 * src/charts/raster.ts.
 */
import { encodePng, Raster } from '../charts/raster';

export { encodePng };

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
