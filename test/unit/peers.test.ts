import { scoreWithAfinn, scoreWithVader } from '../../src/train/peers';
import { evaluatePredictions } from '../../src/train/metrics';

const texts = [
  '@united I love this airline, great service! Thank you',
  '@united worst flight ever, terrible and awful service',
  '@united the flight leaves at 5pm from gate 12',
];

describe.each([
  ['AFINN (sentiment)', scoreWithAfinn],
  ['VADER (vader-sentiment)', scoreWithVader],
])('%s', (_name, score) => {
  it('labels obvious texts', () => {
    expect(score(texts).map((p) => p.label)).toEqual(['positive', 'negative', 'neutral']);
  });

  it('gives three non-negative probs summing to 1 that agree with clear labels on negative vs positive', () => {
    const out = score(texts);
    for (const { probs } of out) {
      expect(probs).toHaveLength(3);
      expect(Math.min(...probs)).toBeGreaterThanOrEqual(0);
      expect(probs[0] + probs[1] + probs[2]).toBeCloseTo(1, 9);
    }
    expect(out[0].probs[2]).toBeGreaterThan(out[0].probs[0]);
    expect(out[1].probs[0]).toBeGreaterThan(out[1].probs[2]);
    expect(out[2].probs).toEqual([0, 1, 0]);
    const m = evaluatePredictions(['positive', 'negative'], [out[0].label, out[1].label], [out[0].probs, out[1].probs]);
    expect(m.binary_accuracy).toBe(1);
  });

  it('is deterministic and copes with empty text', () => {
    expect(score(texts)).toEqual(score(texts));
    expect(score([''])).toEqual([{ label: 'neutral', probs: [0, 1, 0] }]);
  });
});

it('AFINN probs follow [N, 1, P] / (N + 1 + P) of the word scores', () => {
  // "good" +3, "bad" −3 → score 0 (neutral), probs [3, 1, 3] / 7
  expect(scoreWithAfinn(['good bad'])[0]).toEqual({ label: 'neutral', probs: [3 / 7, 1 / 7, 3 / 7] });
});

it('feeds the tools decoded HTML entities, as a user would', () => {
  // VADER knows the "<3" emoticon, but not its encoded form "&lt;3"
  expect(scoreWithVader(['I &lt;3 you'])[0].label).toBe('positive');
});
