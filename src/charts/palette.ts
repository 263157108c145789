/**
 * One palette for every picture Sentinel makes (PNG charts, the dashboard) and its chat messages: the
 * Okabe–Ito colours, which people with any of the common colour-vision deficiencies tell apart, mapped to
 * what the Slack and Teams messages already say with colour — attention (an alert open), warning (the
 * window that triggered it), good (over) — and the Teams cards' accent.
 */
export const PALETTE = {
  background: '#ffffff',
  text: '#222222',
  muted: '#5f6368',
  axis: '#8c8c8c',
  grid: '#e8e8e8',
  /** The Teams cards' accent (adapters/teams/icons.ts): titles. */
  accent: '#1F4E79',
  /** Okabe–Ito vermillion: the negative share, and an open alert (Teams "attention"). */
  negative: '#D55E00',
  /** Okabe–Ito sky blue: volume (mentions per bucket). */
  volume: '#56B4E9',
  /** The expected share (baseline) and its band of normal variation. */
  baseline: '#4d4d4d',
  normalBand: '#0072B2',
  /** Okabe–Ito orange: the window whose figures opened the alert (Teams "warning"). */
  trigger: '#E69F00',
  /** Okabe–Ito bluish green: a resolved alert (Teams "good"). */
  resolved: '#009E73',
  /** Okabe–Ito blue, reddish purple, yellow: other series (before/after, several models). */
  blue: '#0072B2',
  purple: '#CC79A7',
  yellow: '#F0E442',
} as const;

export type PaletteColour = keyof typeof PALETTE;

/** `#rrggbb` → [r, g, b] (tests read pixels against the palette). */
export function rgbOf(hex: string): [number, number, number] {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new Error(`palette: not a #rrggbb colour: ${hex}`);
  return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
}

/** `#rrggbb` with an alpha, as CSS `rgba(…)` (ECharts and the dashboard take it). */
export function rgba(hex: string, alpha: number): string {
  const [r, g, b] = rgbOf(hex);
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

/** What `hex` at `alpha` over white looks like (the pixels a test expects inside a translucent band). */
export function overWhite(hex: string, alpha: number): [number, number, number] {
  return rgbOf(hex).map((c) => Math.round(c * alpha + 255 * (1 - alpha))) as [number, number, number];
}
