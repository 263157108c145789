import type { Label, Prediction } from '../sentiment/types';

/** A mention as it comes from a source, before scoring. Ids are strings: 18-digit ids do not fit a double. */
export interface Mention {
  id: string;
  /** The stream it belongs to (one per configured query / airline). */
  stream: string;
  createdAt: string; // ISO-8601
  text: string;
  authorId?: string;
  authorHandle?: string;
  lang?: string;
  metrics?: { retweets?: number; replies?: number; likes?: number; quotes?: number };
  /** A human label, when the source has one (replayed labelled data): used only to score alerts against an oracle. */
  humanLabel?: Label;
}

export interface ScoredMention extends Mention {
  /**
   * The model's answer; null when the mention was not scored because it is in a language the model does
   * not read (`language`, src/sentiment/language.ts): no English label is ever recorded for it.
   */
  prediction: Prediction | null;
  /**
   * The language identified (ISO 639-1, or "und" when too short or too close to call: read as English).
   * Absent for mentions stored before languages were identified. Not X's own `lang` tag.
   */
  language?: string;
  /**
   * Why the model could read nothing in the text (Scorer.unreadable), null when it could read it. Such a
   * mention is stored and scored like any other, but the trend does not count it (no opinion is not a
   * neutral opinion). Absent when nobody asked (e.g. a mention read back from the store, which does not
   * keep it): the trend monitor then asks its own check (TrendMonitorOptions.unreadable).
   */
  unreadable?: string | null;
}

/** One fetch of new mentions for a stream, oldest first, and where the next fetch should start. */
export interface FetchResult {
  mentions: Mention[];
  /** The checkpoint to store once these mentions are stored (opaque to the poller). */
  checkpoint: string | null;
}

/** The port a poller reads from: the X API, or a CSV replay. */
export interface MentionSource {
  readonly name: string;
  /** `signal` aborts waits (rate limits, backoff) so a shutdown does not sit out a 15-minute X reset. */
  fetch(stream: string, checkpoint: string | null, signal?: AbortSignal): Promise<FetchResult>;
}
