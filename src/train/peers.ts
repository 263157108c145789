/**
 * The lexicon tools a user might pick instead of Sentinel, called the way a user would call them: on the raw
 * tweet with its HTML entities decoded (no other normalisation), with each package's usual thresholds.
 *
 * - AFINN (npm `sentiment`): score > 0 → positive, < 0 → negative, 0 → neutral (comparative = score / tokens
 *   has the same sign, so either gives the same label).
 * - VADER (npm `vader-sentiment`): compound >= 0.05 → positive, <= -0.05 → negative, otherwise neutral.
 *
 * `probs` ([neg, neu, pos]) are NOT calibrated probabilities and their argmax need not equal `label`: they exist
 * only so that `evaluatePredictions` can compute the negative-vs-positive accuracy (negative iff p_neg >= p_pos)
 * the same way for every system.
 * - AFINN: with P the sum of the positive word scores and N the sum of the magnitudes of the negative ones
 *   (after the package's negation handling, so P − N = score), probs = [N, 1, P] / (N + 1 + P). Hence
 *   p_pos > p_neg exactly when score > 0, and a text with no lexicon word gets [0, 1, 0].
 * - VADER: its own neg / neu / pos proportions, divided by their sum; [0, 1, 0] when all three are 0.
 */
import { afinnWeights } from '../sentiment/lexicon';
import { decodeEntities } from '../sentiment/normalize';
import type { Label } from './dataset';

export interface PeerPrediction {
  label: Label;
  probs: [number, number, number];
}

interface VaderScores {
  neg: number;
  neu: number;
  pos: number;
  compound: number;
}

// The package ships no type declarations; this is the part used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const vader = require('vader-sentiment') as {
  SentimentIntensityAnalyzer: { polarity_scores(text: string): VaderScores };
};

export const VADER_THRESHOLD = 0.05;

export function scoreWithAfinn(texts: readonly string[]): PeerPrediction[] {
  return texts.map((text) => {
    const [neg, pos] = afinnWeights(decodeEntities(text)); // N and P over N + 1 + P; the score is P − N
    const label: Label = pos > neg ? 'positive' : pos < neg ? 'negative' : 'neutral';
    return { label, probs: [neg, 1 - neg - pos, pos] };
  });
}

export function scoreWithVader(texts: readonly string[]): PeerPrediction[] {
  return texts.map((text) => {
    const s = vader.SentimentIntensityAnalyzer.polarity_scores(decodeEntities(text));
    const label: Label =
      s.compound >= VADER_THRESHOLD ? 'positive' : s.compound <= -VADER_THRESHOLD ? 'negative' : 'neutral';
    const sum = s.neg + s.neu + s.pos;
    const probs: [number, number, number] = sum > 0 ? [s.neg / sum, s.neu / sum, s.pos / sum] : [0, 1, 0];
    return { label, probs };
  });
}
