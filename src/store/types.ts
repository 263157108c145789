/**
 * The persistence port. Two implementations share one behavioural test suite: SQLite (embedded default)
 * and PostgreSQL (several replicas). Every write is idempotent: replaying the same input changes nothing.
 */
import type { Label } from '../sentiment/types';
import type { ScoredMention } from '../mentions/types';
import type { VoterKey } from './voter-ids';
import type { Fence } from './fence';

export type { VoterKey } from './voter-ids';
export type { Fence } from './fence';

/** Every prediction Sentinel shows or acts on has an id, so feedback can point at it. */
export interface StoredPrediction {
  id: string; // e.g. "x:<tweet id>" for mentions, a UUID for /sentiment and /predict
  kind: 'mention' | 'command' | 'api';
  /** '' when the text was not kept (`/predict` with keep_text false) or has passed its retention. */
  text: string;
  label: Label;
  probabilities: Record<Label, number>;
  modelVersion: string;
  createdAt: string;
}

export interface Vote {
  predictionId: string;
  /** As stored: the keyed hash of the voter's namespaced id (src/feedback/voter.ts), never a raw id. */
  userId: string;
  correct: boolean;
  /** What the user says the label should have been (asked after a ❌). */
  trueLabel?: Label;
  source?: string; // 'slack' | 'teams' | 'http' ...
}

export interface AccuracyRow {
  modelVersion: string;
  votes: number;
  correct: number;
  accuracy: number;
}

/** Chat message ↔ prediction (or alert) links, so a reaction on a message finds what it judges. */
export interface MessageLink {
  platform: string;
  channel: string;
  messageId: string;
  predictionId?: string;
  alertId?: string;
}

/** An alert's stored state; its content (figures, mentions) is the trend module's business, kept as JSON. */
export interface AlertRecord {
  id: string;
  stream: string;
  state: 'open' | 'resolved';
  openedAt: string;
  updatedAt: string;
  resolvedAt?: string;
  data: Record<string, unknown>;
}

/** One ✅/❌ on a prediction, without who cast it (what the learning loop and the figures need). */
export interface JudgmentVote {
  correct: boolean;
  /** What the voter said the label should have been (after a ❌), when they said. */
  trueLabel?: Label;
  votedAt: string;
  source?: string;
}

/** A prediction people judged, with its votes. Votes on alerts (`alert:<id>`) are not predictions: never here. */
export interface Judgment {
  prediction: StoredPrediction;
  /** Oldest first. */
  votes: JudgmentVote[];
  /** The latest vote's time. */
  lastVotedAt: string;
}

export interface JudgmentQuery {
  /** Only predictions with a vote cast at or after this time. */
  sinceIso?: string;
  /** Only predictions made at or after this time. */
  createdSinceIso?: string;
  kinds?: ReadonlyArray<StoredPrediction['kind']>;
  /** The `limit` most recently voted (by lastVotedAt); the result is still oldest vote first. */
  limit?: number;
}

/** Votes on an alert's headline (`alert:<id>` in the feedback table, src/feedback/alert-feedback.ts). */
export interface AlertVoteCount {
  alertId: string;
  real: number;
  falseAlarm: number;
}

/** What a challenger model said of a mention, in shadow (issue 13: never shown, never alerting). */
export interface ShadowPrediction {
  /** The champion's prediction id (`x:<tweet id>`). */
  predictionId: string;
  modelVersion: string;
  label: Label;
  probabilities: Record<Label, number>;
  createdAt: string;
}

/** A shadow prediction beside the champion's prediction of the same mention. */
export interface ShadowPair {
  champion: StoredPrediction;
  challenger: ShadowPrediction;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Apply pending versioned migrations. Safe to call on every start and from several replicas. */
  migrate(): Promise<void>;

  /**
   * Stores mentions and their predictions; returns how many were new. The same tweet twice is one row. A
   * mention with `prediction: null` (a language the model does not read) is stored with its `language` and
   * no prediction row; it must name its language.
   */
  saveMentions(mentions: ScoredMention[]): Promise<number>;
  countMentions(stream?: string): Promise<number>;
  mentionsBetween(stream: string, fromIso: string, toIso: string): Promise<ScoredMention[]>;

  getCheckpoint(stream: string): Promise<string | null>;
  setCheckpoint(stream: string, checkpoint: string): Promise<void>;

  /** In one transaction; an id already stored is left as it was. */
  savePredictions(ps: StoredPrediction[]): Promise<void>;
  getPrediction(id: string): Promise<StoredPrediction | null>;

  /** One vote per user per prediction: a second vote replaces the first. */
  recordVote(v: Vote): Promise<void>;
  /** Returns whether there was a vote to retract. */
  retractVote(predictionId: string, userId: string): Promise<boolean>;
  accuracyByModel(): Promise<AccuracyRow[]>;
  /** Labelled examples from feedback, for the next training run. */
  feedbackExamples(): Promise<Array<{ text: string; label: Label }>>;

  /** Judged predictions with their votes (never a voter id), for production accuracy, digests and export. */
  judgments(q?: JudgmentQuery): Promise<Judgment[]>;
  /** How many votes were cast at or after `sinceIso`, on predictions and alerts alike (votes per hour). */
  countVotesSince(sinceIso: string): Promise<number>;

  /** The ✅ (a real bad buzz) and ❌ (a false alarm) on these alerts' headlines; alerts without a vote absent. */
  alertVotes(alertIds: string[]): Promise<AlertVoteCount[]>;

  /** Stores a challenger's predictions; the same (prediction, model version) twice is one row. */
  saveShadowPredictions(ps: ShadowPrediction[]): Promise<void>;
  /** The latest `limit` shadow predictions of `modelVersion` made at or after `sinceIso`, each with the champion's. */
  shadowPairs(modelVersion: string, opts?: { sinceIso?: string; limit?: number }): Promise<ShadowPair[]>;

  /** Insert or replace by id. */
  saveAlert(a: AlertRecord): Promise<void>;
  openAlert(stream: string): Promise<AlertRecord | null>;
  listAlerts(stream?: string): Promise<AlertRecord[]>;

  linkMessage(link: MessageLink): Promise<void>;
  findLink(platform: string, channel: string, messageId: string): Promise<MessageLink | null>;

  // --- Privacy and retention (src/feedback/voter.ts, src/ops/retention.ts, src/ops/erase.ts) ---

  /** The key voters' ids are hashed with: the configured one, or one generated once and kept here. */
  voterKey(): Promise<VoterKey>;
  /**
   * Re-keys up to `limit` votes still stored with a raw user id (before hashing) as the hash of
   * `legacy:<source>:<raw id>`; returns how many. Idempotent; run by `migrate()` and by every retention run.
   */
  hashLegacyVoters(limit?: number): Promise<number>;
  /**
   * One batch of the retention job: removes up to `limit` rows of `kind` older than `beforeIso`, with what
   * hangs on them, in one short transaction; returns how many rows of `kind`. Safe to run from several
   * processes at once (PostgreSQL skips rows another one is deleting).
   */
  prune(kind: PruneKind, beforeIso: string, limit: number): Promise<number>;
  /** Deletes up to `limit` checkpoints whose key starts with `prefix`, last written before `beforeIso`. */
  pruneCheckpoints(prefix: string, beforeIso: string, limit: number): Promise<number>;
  /** Deletes every vote cast under one of these (hashed) voter ids; returns how many. */
  eraseVotes(voterIds: string[]): Promise<number>;
  /** Deletes a tweet: the mention, its prediction `x:<id>`, the votes on it and the message links to it. */
  eraseMention(tweetId: string): Promise<MentionErasure>;
  /** Ids of the stored mentions written by this X author (for an author's erasure). */
  mentionIdsByAuthor(authorId: string): Promise<string[]>;
  /**
   * Rewrites JSON kept in `table` (alert records' data, or checkpoint values that are JSON objects or
   * arrays): `edit` sees each value and says to keep, replace or (checkpoints only) delete it. Each change is
   * a compare-and-set, retried on a concurrent write. Returns how many values changed.
   */
  rewriteJson(table: 'alerts' | 'checkpoints', edit: (value: unknown, key: string) => JsonEdit): Promise<number>;

  // --- Deliveries applied once across replicas and restarts (issue 12, src/chat/once.ts) ---

  /**
   * Claims `key` (e.g. `slack:event:<event_id>`) for `ttlMs`: true for the first caller, false while the
   * claim lasts — atomically, whichever process or replica asks. An expired claim is taken over. Keys are
   * non-empty, at most 500 characters; the TTL a positive number of milliseconds (at most 30 days).
   */
  claim(key: string, ttlMs: number): Promise<boolean>;
  /** Deletes up to `limit` expired claims (by the store's clock); returns how many. */
  pruneClaims(limit: number): Promise<number>;

  // --- Fencing (issue 12, src/store/fence.ts) ---

  /**
   * A view whose writes succeed only while `fence.token` is the token of the lease `fence.name` and the lease
   * has not expired, checked in each write's own transaction; otherwise they throw FencedOutError and write
   * nothing. Reads are not checked; `close()` on the view closes nothing. SQLite (one process): the store itself.
   */
  fenced(fence: Fence): Store;

  close(): Promise<void>;
}

/**
 * What the retention job prunes, each with its clock:
 * - `prediction_texts`: the text of /predict and /sentiment predictions (created_at) is blanked;
 * - `predictions`: /predict and /sentiment predictions (created_at), with their votes and message links;
 * - `mentions`: mentions (stored_at), with their predictions `x:<id>`, votes and message links;
 * - `alerts`: resolved alerts (resolved_at; never an open one), with their votes and message links;
 * - `orphan_votes`: votes (voted_at) on a prediction or alert that no longer exists.
 */
export const PRUNE_KINDS = ['prediction_texts', 'predictions', 'mentions', 'alerts', 'orphan_votes'] as const;
export type PruneKind = (typeof PRUNE_KINDS)[number];

export interface MentionErasure {
  mentions: number;
  predictions: number;
  votes: number;
  links: number;
}

export type JsonEdit = { action: 'keep' } | { action: 'replace'; value: unknown } | { action: 'delete' };
