/**
 * How many of a window's mentions are negative, estimated from the model's answers: the detector's share
 * is a prevalence estimate, not a count of the model's labels.
 *
 * Counting the model's labels ("classify and count", cc) reads every rise too low: a model that misses
 * 9 % of negatives and calls 16 % of the others negative compresses a rise from 40 % to 70 % into one from
 * 43 % to 66 %. The known answers (Forman 2008; Bella et al. 2010) correct it with the model's rates
 * measured on labelled tweets it never trained on (the validation split):
 *
 *   acc  (adjusted classify and count)       share = (cc share − fpr) / (tpr − fpr)
 *   pcc  (probabilistic classify and count)  share = mean calibrated P(negative)
 *   pacc (probabilistic adjusted)            share = (pcc share − m₀) / (m₁ − m₀)
 *
 * with tpr / fpr the rates at which negatives / other mentions are labelled negative, and m₁ / m₀ the
 * mean P(negative) on negatives / on the others. Each correction is linear, so it is applied per mention:
 * a mention contributes its estimate (possibly below 0 or above 1) and a window's estimated negatives are
 * the sum. A mention scored by another model version is corrected with the rates of the model serving now
 * (a hot swap changes them by a point or two).
 */
import type { ConfusionRates } from '../sentiment/confusion-rates';

export type { ConfusionRates } from '../sentiment/confusion-rates';

export const PREVALENCE_METHODS = ['cc', 'acc', 'pcc', 'pacc'] as const;
export type PrevalenceMethod = (typeof PREVALENCE_METHODS)[number];

/**
 * A mention's contribution to the estimated negatives. Throws when an adjusted method has no rates, or
 * rates that cannot tell negatives apart (tpr ≤ fpr): an uncorrectable model must be seen, not guessed.
 */
export function mentionEstimate(
  method: PrevalenceMethod,
  pNegative: number,
  labelledNegative: boolean,
  rates?: ConfusionRates,
): number {
  if (method === 'cc') return labelledNegative ? 1 : 0;
  if (method === 'pcc') return pNegative;
  if (!rates)
    throw new Error(`TREND_PREVALENCE=${method} needs the model's confusion rates (manifest metrics.prevalence)`);
  if (method === 'acc') {
    if (!(rates.tpr - rates.fpr > 0.05))
      throw new Error(`the model's tpr ${rates.tpr} and fpr ${rates.fpr} are too close to adjust`);
    return ((labelledNegative ? 1 : 0) - rates.fpr) / (rates.tpr - rates.fpr);
  }
  const gap = rates.meanOnNegative - rates.meanOnOther;
  if (!(gap > 0.05)) throw new Error(`the model's mean P(negative) on negatives and others are too close to adjust`);
  return (pNegative - rates.meanOnOther) / gap;
}

/**
 * The monitor's estimate for the model's mentions: `method` with the rates of the model serving now. A
 * model without measured rates (an imported one) cannot be adjusted: its mentions are estimated by the
 * unadjusted method (acc → cc, pacc → pcc), and `onUnadjusted` is told once per model version (the log
 * says it), never silently.
 */
export function mentionEstimator(
  method: PrevalenceMethod,
  model: () => { version: string; prevalence?: ConfusionRates } | undefined,
  onUnadjusted: (version: string, used: PrevalenceMethod) => void = () => undefined,
): (m: { prediction: { probabilities: { negative: number } } | null }, negative: boolean) => number {
  const told = new Set<string>();
  return (m, negative) => {
    const p = m.prediction?.probabilities.negative ?? (negative ? 1 : 0);
    const serving = model();
    if ((method === 'acc' || method === 'pacc') && !serving?.prevalence) {
      const used = method === 'acc' ? 'cc' : 'pcc';
      const version = serving?.version ?? 'none';
      if (!told.has(version)) {
        told.add(version);
        onUnadjusted(version, used);
      }
      return mentionEstimate(used, p, negative);
    }
    return mentionEstimate(method, p, negative, serving?.prevalence);
  };
}
