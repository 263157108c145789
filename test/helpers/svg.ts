/**
 * The text an SVG chart shows: its <text> elements (ECharts writes one per label, title and legend item),
 * entities decoded, each with its fill. Tests check words in the SVG and pixels in the PNG.
 */
export interface SvgText {
  text: string;
  fill: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(s: string): string {
  return s.replace(/&(?:#(\d+)|#x([0-9a-f]+)|(\w+));/gi, (m, dec?: string, hex?: string, name?: string) => {
    if (dec) return String.fromCodePoint(Number(dec));
    if (hex) return String.fromCodePoint(parseInt(hex, 16));
    return ENTITIES[name!.toLowerCase()] ?? m;
  });
}

export function svgTexts(svg: string): SvgText[] {
  return [...svg.matchAll(/<text([^>]*)>([^<]*)<\/text>/g)].map((m) => ({
    text: decode(m[2]),
    fill: /\bfill="([^"]+)"/.exec(m[1])?.[1] ?? '',
  }));
}
