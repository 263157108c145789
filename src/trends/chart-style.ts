/**
 * The trend chart's colours and font, from the shared palette (../charts/palette): one place for the PNG the
 * server draws, the dashboard, and the tests that read pixels against them.
 */
import { PALETTE, rgbOf } from '../charts/palette';

/** The colours the chart draws with, from the shared palette (tests read pixels against them). */
export const TREND_CHART_STYLE = {
  share: PALETTE.negative,
  baseline: PALETTE.baseline,
  /** The band of normal variation: PALETTE.normalBand at this alpha. */
  normalBand: PALETTE.normalBand,
  normalAlpha: 0.1,
  /** Volume bars: sky blue, lightened (solid, so bars read the same under and outside bands). */
  volume: PALETTE.volume,
  bars: mix(PALETTE.volume, 0.38),
  /** An alert: PALETTE.negative at this alpha, with a solid edge at the opening. */
  alert: PALETTE.negative,
  alertAlpha: 0.14,
  resolved: PALETTE.resolved,
  /** The window that triggered an alert: PALETTE.trigger at this alpha, dashed outline. */
  trigger: PALETTE.trigger,
  triggerAlpha: 0.1,
  grid: PALETTE.grid,
  axis: PALETTE.axis,
  text: PALETTE.text,
  muted: PALETTE.muted,
} as const;

export const FONT = 'Noto Sans, sans-serif';

/** `hex` mixed with white: `alpha` of the colour (a solid light tint). */
export function mix(hex: string, alpha: number): string {
  const [r, g, b] = rgbOf(hex).map((c) => Math.round(c * alpha + 255 * (1 - alpha)));
  return `#${[r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

/** `hex` darkened towards black (text in a series' colour that stays legible on white). */
export function shade(hex: string, factor: number): string {
  const [r, g, b] = rgbOf(hex).map((c) => Math.round(c * factor));
  return `#${[r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}
