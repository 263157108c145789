import type { ConfusionRates } from './confusion-rates';
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
  /** Its confusion measured on labelled tweets it never trained on (manifest metrics.prevalence), if known. */
  prevalence?: ConfusionRates;
}

/** The port every consumer (HTTP, chat adapters, poller) scores through. */
export interface Scorer {
  readonly info: ScorerInfo;
  score(texts: string[]): Promise<Prediction[]>;
  explain(text: string): Promise<Explained>;
  /**
   * Why the model can read nothing in `text` — a short reason for a person ("the text is empty",
   * "empty after removing invisible characters", "only mentions and links", "only punctuation", "no
   * words the model knows") — or null when it can read at least one real token: a word it knows, or an
   * emoticon or emoji token it knows (not a mention, link, number, `!`/`?` or other marker). Synchronous
   * and cheap (tokenisation only). `score` still scores such a text (its prior): callers decide — HTTP
   * answers 400 `nothing_to_read`, the chat says so, the trend stores the mention but does not count it.
   */
  unreadable(text: string): string | null;
  dispose(): void;
  /** Resolves when every call made so far has settled (a hot swap disposes the old scorer after it). */
  whenIdle?(): Promise<void>;
}
