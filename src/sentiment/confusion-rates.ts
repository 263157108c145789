/**
 * The model's confusion on labelled tweets it never trained on, kept in its manifest (`metrics.prevalence`):
 * what the trend's prevalence estimate corrects for (src/trends/prevalence.ts). Written by training and by
 * `npm run model:rates`.
 */
import { z } from 'zod';

/** The model's confusion on labelled tweets it never trained on (manifest `metrics.prevalence`). */
export const confusionRatesSchema = z.object({
  /** P(labelled negative | negative). */
  tpr: z.number().min(0).max(1),
  /** P(labelled negative | neutral or positive). */
  fpr: z.number().min(0).max(1),
  /** Mean P(negative) over negatives. */
  meanOnNegative: z.number().min(0).max(1),
  /** Mean P(negative) over the others. */
  meanOnOther: z.number().min(0).max(1),
  /** Tweets measured, and where. */
  n: z.number().int().positive(),
  data: z.string(),
});
export type ConfusionRates = z.infer<typeof confusionRatesSchema>;

/** Measures the rates from P(negative), the model's label and the truth of each labelled tweet. */
export function measureConfusionRates(
  rows: ReadonlyArray<{ pNegative: number; labelledNegative: boolean; negative: boolean }>,
  data: string,
): ConfusionRates {
  const neg = rows.filter((r) => r.negative);
  const other = rows.filter((r) => !r.negative);
  if (neg.length === 0 || other.length === 0)
    throw new Error(
      `measuring confusion rates needs negative and other tweets; ${data} has ${neg.length} / ${other.length}`,
    );
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const r4 = (x: number) => Math.round(x * 10_000) / 10_000;
  return {
    tpr: r4(mean(neg.map((r) => (r.labelledNegative ? 1 : 0)))),
    fpr: r4(mean(other.map((r) => (r.labelledNegative ? 1 : 0)))),
    meanOnNegative: r4(mean(neg.map((r) => r.pNegative))),
    meanOnOther: r4(mean(other.map((r) => r.pNegative))),
    n: rows.length,
    data,
  };
}

/** Reads `metrics.prevalence` of a manifest; undefined when absent, an error naming the problem when malformed. */
export function ratesFromManifest(metrics: Record<string, unknown>, where: string): ConfusionRates | undefined {
  if (metrics.prevalence === undefined) return undefined;
  const parsed = confusionRatesSchema.safeParse(metrics.prevalence);
  if (!parsed.success)
    throw new Error(
      `${where}: metrics.prevalence is malformed: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}
