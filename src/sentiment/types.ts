import type { Label } from './labels';
export type { Label } from './labels';
export { LABELS } from './labels';

export interface Prediction {
  /** Set once the prediction is kept (HTTP API, chat replies): what feedback points at. */
  id?: string;
  label: Label;
  /** Probability of the chosen label. */
  confidence: number;
  probabilities: Record<Label, number>;
  /** The model version that made this prediction, so feedback is attributable. */
  modelVersion: string;
}

/** A word and how much it pushed the prediction: the drop in the predicted label's probability when it is removed. */
export interface WordWeight {
  word: string;
  weight: number;
}

export interface Explained extends Prediction {
  words: WordWeight[];
}

export interface ScorerInfo {
  name: string;
  version: string;
  backend: string;
  labels: readonly Label[];
  maxLength: number;
}

/** The port every consumer (HTTP, chat adapters, poller) scores through. */
export interface Scorer {
  readonly info: ScorerInfo;
  score(texts: string[]): Promise<Prediction[]>;
  explain(text: string): Promise<Explained>;
  dispose(): void;
  /** Resolves when every call made so far has settled (a hot swap disposes the old scorer after it). */
  whenIdle?(): Promise<void>;
}
