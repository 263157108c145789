import { decodePng, near, type Image } from '../helpers/png';
import { svgTexts as texts } from '../helpers/svg';
import { PALETTE, rgbOf } from '../../src/charts/palette';
import {
  confusionInk,
  confusionLayout,
  confusionPng,
  confusionShade,
  confusionSvg,
} from '../../src/train/confusion-chart';

const LABELS = ['negative', 'neutral', 'positive'];
const M = [
  [1244, 84, 34],
  [132, 284, 42],
  [50, 31, 272],
];
const TITLE = 'sentinel-bilstm 20261203-ensemble, validation split';

/** Pixels of a w × h box whose top-left corner is (x, y). */
const box = (img: Image, x: number, y: number, w: number, h: number) =>
  [...Array(h).keys()].flatMap((dy) => [...Array(w).keys()].map((dx) => img.px(x + dx, y + dy)));

describe('confusion matrix (ECharts heat map)', () => {
  const svg = confusionSvg(M, LABELS, TITLE);
  const png = confusionPng(M, LABELS, TITLE);
  const img = decodePng(png);
  const L = confusionLayout(LABELS, TITLE);
  /** The inside of cell (row i, column j), away from its border and its centred label. */
  const cornerOf = (i: number, j: number) => [L.left + j * L.cell.w + 6, L.top + i * L.cell.h + 6] as const;
  const rowShare = (i: number, j: number) => M[i][j] / M[i].reduce((a, b) => a + b, 0);

  it('is a PNG of the layout size, on white', () => {
    expect([img.width, img.height]).toEqual([L.width, L.height]);
    expect(img.px(2, 2)).toEqual([255, 255, 255]);
    expect(svg).toMatch(new RegExp(`^<svg[^>]* width="${L.width}" height="${L.height}"`));
  });

  it('writes the title, the axes, every label, count, row share and row total as text', () => {
    const all = texts(svg).map((t) => t.text);
    expect(all).toEqual(expect.arrayContaining([TITLE, 'predicted', 'true', 'row total', ...LABELS]));
    expect(all).toEqual(expect.arrayContaining(['1244', '91.3%', '284', '62.0%', '272', '77.1%', '50', '14.2%']));
    expect(all).toEqual(expect.arrayContaining(['1362', '458', '353']));
    expect(all.filter((t) => t === 'negative')).toHaveLength(2); // a row and a column
  });

  it('shades each cell by its share of the true row, white to Okabe–Ito blue', () => {
    expect(confusionShade(0)).toEqual([255, 255, 255]);
    expect(confusionShade(1)).toEqual(rgbOf(PALETTE.blue));
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        const [x, y] = cornerOf(i, j);
        expect(near(img.px(x, y), confusionShade(rowShare(i, j)), 3)).toBe(true);
      }
    // The diagonal (recall) is the darkest cell of each row.
    const darkness = (i: number, j: number) => -img.px(...cornerOf(i, j)).reduce((a, b) => a + b, 0);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) if (j !== i) expect(darkness(i, i)).toBeGreaterThan(darkness(i, j));
  });

  it('writes each cell in the ink that contrasts most with it, and draws the letters (the fonts are loaded)', () => {
    expect(confusionInk(0.913)).toBe('#ffffff');
    expect(confusionInk(0.062)).toBe(PALETTE.text);
    const fills = Object.fromEntries(texts(svg).map((t) => [t.text, t.fill]));
    expect(fills['1244']).toBe('#ffffff');
    expect(fills['84']).toBe(PALETTE.text);
    // Around the centre of the top-left cell ("1244" in white on dark blue) there are white pixels, and in
    // the light cell next to it dark ones: resvg found a font.
    const cx = L.left + L.cell.w / 2;
    const cy = L.top + L.cell.h / 2;
    expect(box(img, cx - 25, cy - 20, 50, 20).some((p) => near(p, [255, 255, 255], 20))).toBe(true);
    expect(box(img, cx + L.cell.w - 15, cy - 20, 30, 20).some((p) => near(p, rgbOf(PALETTE.text), 40))).toBe(true);
  });

  it('keeps labels with accents as they are, and widens for long labels and titles', () => {
    const fr = confusionSvg(
      [
        [3, 1],
        [0, 2],
      ],
      ['négatif', 'très positif, ça'],
      'modèle français',
    );
    const all = texts(fr).map((t) => t.text);
    expect(all).toEqual(expect.arrayContaining(['négatif', 'très positif, ça', 'modèle français']));
    expect(confusionLayout(['a', 'b'], 'x').cell.w).toBeLessThan(confusionLayout(['a', 'b'.repeat(30)], 'x').cell.w);
    expect(confusionLayout(['a', 'b'], 'x'.repeat(90)).width).toBeGreaterThan(confusionLayout(['a', 'b'], 'x').width);
  });

  it('draws an empty row as white cells with 0.0% rather than dividing by zero', () => {
    const all = texts(
      confusionSvg(
        [
          [5, 1],
          [0, 0],
        ],
        ['a', 'b'],
        't',
      ),
    ).map((t) => t.text);
    expect(all.filter((t) => t === '0.0%')).toHaveLength(2);
    expect(all).not.toContain('NaN%');
  });

  it('refuses a matrix that does not fit the labels, and bad counts', () => {
    expect(() => confusionPng([[1]], [], 't')).toThrow(/no labels/);
    expect(() => confusionPng([[1, 2]], ['a', 'b'], 't')).toThrow(/must be 2×2/);
    expect(() =>
      confusionSvg(
        [
          [1, -1],
          [0, 1],
        ],
        ['a', 'b'],
        't',
      ),
    ).toThrow(/finite non-negative/);
  });
});
