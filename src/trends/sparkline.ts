/** Text sparklines: one character per point, ▁ to █, "·" where there is no data. */

const BARS = '▁▂▃▄▅▆▇█';

/**
 * `values` scaled between `min` and `max` (default 0 and 1: shares stay comparable between messages);
 * null or NaN → "·".
 */
export function sparkline(values: ReadonlyArray<number | null>, min = 0, max = 1): string {
  const span = max - min || 1;
  return values
    .map((v) => {
      if (v === null || !Number.isFinite(v)) return '·';
      const x = Math.min(1, Math.max(0, (v - min) / span));
      return BARS[Math.min(BARS.length - 1, Math.floor(x * BARS.length))];
    })
    .join('');
}
