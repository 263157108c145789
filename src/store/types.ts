/**
 * The persistence port. Two implementations share one behavioural test suite: SQLite (embedded default)
 * and PostgreSQL (several replicas). Every write is idempotent: replaying the same input changes nothing.
 */
import type { Label } from '../sentiment/types';
import type { ScoredMention } from '../mentions/types';

/** Every prediction Sentinel shows or acts on has an id, so feedback can point at it. */
export interface StoredPrediction {
  id: string; // e.g. "x:<tweet id>" for mentions, a UUID for /sentiment and /predict
  kind: 'mention' | 'command' | 'api';
  text: string;
  label: Label;
  probabilities: Record<Label, number>;
  modelVersion: string;
  createdAt: string;
}

export interface Vote {
  predictionId: string;
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

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Apply pending versioned migrations. Safe to call on every start and from several replicas. */
  migrate(): Promise<void>;

  /** Stores mentions and their predictions; returns how many were new. The same tweet twice is one row. */
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

  /** Insert or replace by id. */
  saveAlert(a: AlertRecord): Promise<void>;
  openAlert(stream: string): Promise<AlertRecord | null>;
  listAlerts(stream?: string): Promise<AlertRecord[]>;

  linkMessage(link: MessageLink): Promise<void>;
  findLink(platform: string, channel: string, messageId: string): Promise<MessageLink | null>;

  close(): Promise<void>;
}
