/**
 * Shadow scoring (issue 13, champion / challenger): every mention the champion scored is scored again by the
 * challenger and its answer stored apart (`shadow_predictions`), so the two can be compared on the same
 * mentions — how often they agree, and on the mentions people judged, how often each was right.
 *
 * Nothing here reaches a chat sink or the trend detector: the poller's mentions go to the trends unchanged,
 * and the shadow answers only to the store. A challenger that fails costs its own answers, never the
 * champion's work (errors are logged and counted, not thrown).
 */
import { Counter, Registry } from 'prom-client';
import type { Logger } from '../log';
import type { ScoredMention } from '../mentions/types';
import { mentionPredictionId } from '../store/common';
import type { Store } from '../store/types';
import type { ChallengerState } from '../registry/challenger';
import { peopleLabel } from './people-label';

export interface ShadowScorerOptions {
  challenger: () => ChallengerState | null;
  store: Pick<Store, 'saveShadowPredictions'>;
  logger?: Pick<Logger, 'warn' | 'error' | 'debug'>;
  registry?: Registry;
}

export class ShadowScorer {
  readonly registry: Registry;
  private readonly scored: Counter<'result'>;

  constructor(private readonly opts: ShadowScorerOptions) {
    this.registry = opts.registry ?? new Registry();
    this.scored = new Counter({
      name: 'sentinel_shadow_scored_total',
      help: 'Mentions scored in shadow by the challenger (MODEL_CHALLENGER), by result',
      labelNames: ['result'],
      registers: [this.registry],
    });
  }

  /**
   * Scores the mentions with the challenger, if one is loaded, and stores its answers. Never throws. Only
   * the mentions the champion scored: one in a language the model does not read has nothing to compare.
   */
  async score(given: readonly ScoredMention[]): Promise<number> {
    const mentions = given.filter((m) => m.prediction !== null);
    const c = this.opts.challenger();
    if (!c?.ready || mentions.length === 0) return 0;
    try {
      const predictions = await c.scorer.score(mentions.map((m) => m.text));
      if (predictions.length !== mentions.length)
        throw new Error(`the challenger returned ${predictions.length} predictions for ${mentions.length} texts`);
      const createdAt = new Date().toISOString();
      await this.opts.store.saveShadowPredictions(
        mentions.map((m, i) => ({
          predictionId: mentionPredictionId(m.id),
          modelVersion: c.version,
          label: predictions[i].label,
          probabilities: predictions[i].probabilities,
          createdAt,
        })),
      );
      this.scored.inc({ result: 'ok' }, mentions.length);
      return mentions.length;
    } catch (err) {
      this.scored.inc({ result: 'error' }, mentions.length);
      this.opts.logger?.error(
        { err, challenger: c.version, mentions: mentions.length },
        `challenger ${c.version}: shadow scoring failed (${(err as Error).message}); the serving model is not affected`,
      );
      return 0;
    }
  }
}

export interface ChallengerComparison {
  challenger: string;
  /** The champion versions these mentions were scored by (a hot swap may mix two). */
  champions: string[];
  /** Mentions both scored. */
  scored: number;
  /** Share of them both labelled alike; null without any. */
  agreement: number | null;
  /** Of those, the mentions people judged (majority of ✅/❌, a label decided). */
  judged: number;
  championCorrect: number;
  challengerCorrect: number;
}

/**
 * How the challenger compares with the champion on the latest `limit` mentions both scored since `sinceIso`.
 * On judged mentions the people's label is the one rule of ./people-label.ts: ✅ confirm the champion's
 * label, ❌ name another one.
 */
export async function compareChallenger(
  store: Pick<Store, 'shadowPairs' | 'judgments'>,
  challenger: string,
  opts: { sinceIso?: string; limit?: number } = {},
): Promise<ChallengerComparison> {
  const pairs = await store.shadowPairs(challenger, opts);
  const result: ChallengerComparison = {
    challenger,
    champions: [...new Set(pairs.map((p) => p.champion.modelVersion))].sort(),
    scored: pairs.length,
    agreement: pairs.length ? pairs.filter((p) => p.champion.label === p.challenger.label).length / pairs.length : null,
    judged: 0,
    championCorrect: 0,
    challengerCorrect: 0,
  };
  if (pairs.length === 0) return result;
  const judgments = await store.judgments({ kinds: ['mention'], createdSinceIso: pairs[0].champion.createdAt });
  const truth = new Map(judgments.map((j) => [j.prediction.id, peopleLabel(j.prediction.label, j.votes)] as const));
  for (const { champion, challenger: c } of pairs) {
    const verdict = truth.get(champion.id);
    if (!verdict || !('label' in verdict)) continue;
    result.judged++;
    if (champion.label === verdict.label) result.championCorrect++;
    if (c.label === verdict.label) result.challengerCorrect++;
  }
  return result;
}

/** "Challenger v2: agrees with the champion on 91 % of 1,204 mentions; on 57 judged: champion 81 %, challenger 84 %". */
export function comparisonLine(c: ChallengerComparison): string {
  const pct = (x: number) => `${Math.round(x * 100)} %`;
  if (c.scored === 0) return `Challenger ${c.challenger}: no mention scored in shadow yet`;
  const judged =
    c.judged === 0
      ? 'none judged yet'
      : `on ${c.judged} judged: champion ${pct(c.championCorrect / c.judged)}, challenger ${pct(c.challengerCorrect / c.judged)}`;
  return `Challenger ${c.challenger}: agrees with the champion on ${pct(c.agreement!)} of ${c.scored.toLocaleString('en-US')} mentions; ${judged}`;
}
