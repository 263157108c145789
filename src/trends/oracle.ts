/**
 * Scoring the model's alerts against the oracle's (the same detector run on the human labels): an oracle
 * alert is caught when a model alert on the same stream overlaps it in time. Alerts still open at the end
 * of the data run to its end.
 *
 *   precision = model alerts overlapping some oracle alert / model alerts
 *   recall    = oracle alerts caught / oracle alerts
 *   delay     = opening of the first overlapping model alert − opening of the oracle alert (minutes; negative
 *               when the model was earlier), median over the caught oracle alerts
 */
export interface AlertSpan {
  stream: string;
  opened_at: string;
  resolved_at: string | null;
  peak_negative_share: number;
}

export interface OracleScore {
  precision: number | null;
  recall: number | null;
  median_delay_minutes: number | null;
  delays_minutes: number[];
}

export function scoreAgainstOracle(model: AlertSpan[], oracle: AlertSpan[], dataEnd: string): OracleScore {
  const end = Date.parse(dataEnd);
  const span = (a: AlertSpan) => [Date.parse(a.opened_at), a.resolved_at ? Date.parse(a.resolved_at) : end] as const;
  const overlaps = (a: AlertSpan, b: AlertSpan) => {
    if (a.stream !== b.stream) return false;
    const [a0, a1] = span(a);
    const [b0, b1] = span(b);
    return a0 <= b1 && b0 <= a1;
  };
  const delays: number[] = [];
  let caught = 0;
  for (const o of oracle) {
    const hits = model.filter((m) => overlaps(m, o));
    if (hits.length === 0) continue;
    caught++;
    const first = Math.min(...hits.map((m) => Date.parse(m.opened_at)));
    delays.push(Math.round((first - Date.parse(o.opened_at)) / 60_000));
  }
  const truePositives = model.filter((m) => oracle.some((o) => overlaps(m, o))).length;
  return {
    precision: model.length ? round(truePositives / model.length) : null,
    recall: oracle.length ? round(caught / oracle.length) : null,
    median_delay_minutes: delays.length ? median(delays) : null,
    delays_minutes: delays,
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
