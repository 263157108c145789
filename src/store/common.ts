/**
 * What the SQLite and PostgreSQL stores share: input checks and normalisation done before anything is
 * written, so both backends store (and refuse) exactly the same things.
 */
import type { ScoredMention } from '../mentions/types';
import { LABELS, type Label } from '../sentiment/types';
import {
  PRUNE_KINDS,
  type AlertRecord,
  type JsonEdit,
  type Judgment,
  type JudgmentQuery,
  type JudgmentVote,
  type MessageLink,
  type ShadowPrediction,
  type PruneKind,
  type StoredPrediction,
  type Vote,
} from './types';

/** The prediction id of a scored mention: feedback and message links point at it. */
export function mentionPredictionId(tweetId: string): string {
  return `x:${tweetId}`;
}

/** A write or read the store refuses because its input is wrong (not a database failure). */
export class StoreInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreInputError';
  }
}

/** A timestamp as stored: ISO-8601 in UTC with milliseconds, so text order is time order (SQLite). */
export function toIso(value: string, what: string): string {
  const ms = typeof value === 'string' && value.trim() !== '' ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw new StoreInputError(`${what} is not a valid timestamp: ${JSON.stringify(value)}`);
  const iso = new Date(ms).toISOString();
  // Years outside 0000-9999 would print as ±YYYYYY and break text ordering.
  if (!/^\d{4}-/.test(iso)) throw new StoreInputError(`${what} is out of range: ${JSON.stringify(value)}`);
  return iso;
}

export function nowIso(): string {
  return new Date().toISOString();
}

/** PostgreSQL text cannot hold NUL characters; both stores drop them so they behave the same. */
export function clean(s: string): string {
  return s.includes('\u0000') ? s.replaceAll('\u0000', '') : s;
}

function required(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new StoreInputError(`${what} must be a non-empty string`);
  return clean(value);
}

function optional(value: unknown, what: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new StoreInputError(`${what} must be a string`);
  return clean(value);
}

function label(value: unknown, what: string): Label {
  if (!(LABELS as readonly unknown[]).includes(value)) {
    throw new StoreInputError(`${what} must be one of ${LABELS.join(', ')}; got ${JSON.stringify(value)}`);
  }
  return value as Label;
}

function probabilities(value: unknown, what: string): Record<Label, number> {
  if (typeof value !== 'object' || value === null) throw new StoreInputError(`${what} must be an object`);
  const p = value as Record<string, unknown>;
  const out = {} as Record<Label, number>;
  for (const l of LABELS) {
    const v = p[l];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new StoreInputError(`${what}.${l} must be a finite number`);
    out[l] = v;
  }
  return out;
}

export interface PredictionRow {
  id: string;
  kind: StoredPrediction['kind'];
  text: string;
  label: Label;
  probabilities: string; // JSON
  modelVersion: string;
  createdAt: string;
}

export function predictionRow(p: StoredPrediction): PredictionRow {
  const id = required(p.id, 'prediction id');
  const what = `prediction ${JSON.stringify(id)}`;
  if (!['mention', 'command', 'api'].includes(p.kind)) {
    throw new StoreInputError(`${what}: kind must be mention, command or api; got ${JSON.stringify(p.kind)}`);
  }
  return {
    id,
    kind: p.kind,
    text: typeof p.text === 'string' ? clean(p.text) : required(p.text, `${what}: text`),
    label: label(p.label, `${what}: label`),
    probabilities: JSON.stringify(probabilities(p.probabilities, `${what}: probabilities`)),
    modelVersion: required(p.modelVersion, `${what}: modelVersion`),
    createdAt: toIso(p.createdAt, `${what}: createdAt`),
  };
}

export interface MentionRow {
  id: string;
  stream: string;
  authorId: string | null;
  authorHandle: string | null;
  createdAt: string;
  text: string;
  lang: string | null;
  metrics: string | null; // JSON
  humanLabel: Label | null;
  /** null: not scored (a language the model does not read). */
  prediction: PredictionRow | null;
  language: string | null;
}

/** A language code as identified (ISO 639-1 "fr", "und"…): short, lower-case letters and hyphens. */
const LANGUAGE_CODE = /^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$/;

export function mentionRow(m: ScoredMention, storedAt: string): MentionRow {
  const id = required(m.id, 'mention id');
  const what = `mention ${JSON.stringify(id)}`;
  if (typeof m.text !== 'string') throw new StoreInputError(`${what}: text must be a string`);
  const createdAt = toIso(m.createdAt, `${what}: createdAt`);
  const language = optional(m.language, `${what}: language`);
  if (language !== null && !LANGUAGE_CODE.test(language))
    throw new StoreInputError(`${what}: language must be a code such as "en" or "fr"; got ${JSON.stringify(language)}`);
  const p = m.prediction;
  // Only a mention in a language the model does not read goes unscored, and it says which language.
  if (p === null && language === null)
    throw new StoreInputError(`${what}: has no prediction and no language to say why`);
  if (p === undefined || (p !== null && typeof p !== 'object')) throw new StoreInputError(`${what}: has no prediction`);
  const text = clean(m.text);
  return {
    id,
    stream: required(m.stream, `${what}: stream`),
    authorId: optional(m.authorId, `${what}: authorId`),
    authorHandle: optional(m.authorHandle, `${what}: authorHandle`),
    createdAt,
    text,
    lang: optional(m.lang, `${what}: lang`),
    metrics: m.metrics === undefined || m.metrics === null ? null : clean(JSON.stringify(m.metrics)),
    humanLabel: m.humanLabel === undefined || m.humanLabel === null ? null : label(m.humanLabel, `${what}: humanLabel`),
    prediction:
      p === null
        ? null
        : predictionRow({
            id: mentionPredictionId(id),
            kind: 'mention',
            text,
            label: p.label,
            probabilities: p.probabilities,
            modelVersion: p.modelVersion,
            createdAt: storedAt,
          }),
    language,
  };
}

/** A row as read back (either backend), turned into the port's ScoredMention; absent fields are omitted. */
export interface MentionRead {
  id: string;
  stream: string;
  author_id: string | null;
  author_handle: string | null;
  created_at: string;
  text: string;
  lang: string | null;
  metrics: Record<string, number> | null;
  human_label: string | null;
  language: string | null;
  /** All null for a mention that was not scored. */
  label: string | null;
  probabilities: Record<Label, number> | null;
  model_version: string | null;
}

export function toScoredMention(r: MentionRead): ScoredMention {
  const m: ScoredMention = {
    id: r.id,
    stream: r.stream,
    createdAt: r.created_at,
    text: r.text,
    prediction:
      r.label === null || r.probabilities === null || r.model_version === null
        ? null
        : {
            label: r.label as Label,
            confidence: r.probabilities[r.label as Label],
            probabilities: r.probabilities,
            modelVersion: r.model_version,
          },
  };
  if (r.author_id !== null) m.authorId = r.author_id;
  if (r.author_handle !== null) m.authorHandle = r.author_handle;
  if (r.lang !== null) m.lang = r.lang;
  if (r.metrics !== null) m.metrics = r.metrics;
  if (r.human_label !== null) m.humanLabel = r.human_label as Label;
  if (r.language !== null) m.language = r.language;
  return m;
}

export interface VoteRow {
  predictionId: string;
  userId: string;
  correct: boolean;
  trueLabel: Label | null;
  source: string | null;
}

export function voteRow(v: Vote): VoteRow {
  if (typeof v.correct !== 'boolean') throw new StoreInputError('vote: correct must be true or false');
  return {
    predictionId: required(v.predictionId, 'vote: predictionId'),
    userId: required(v.userId, 'vote: userId'),
    correct: v.correct,
    trueLabel: v.trueLabel === undefined || v.trueLabel === null ? null : label(v.trueLabel, 'vote: trueLabel'),
    source: optional(v.source, 'vote: source'),
  };
}

export interface AlertRow {
  id: string;
  stream: string;
  state: AlertRecord['state'];
  openedAt: string;
  updatedAt: string;
  resolvedAt: string | null;
  data: string; // JSON
}

export function alertRow(a: AlertRecord): AlertRow {
  const id = required(a.id, 'alert id');
  const what = `alert ${JSON.stringify(id)}`;
  if (a.state !== 'open' && a.state !== 'resolved') {
    throw new StoreInputError(`${what}: state must be open or resolved; got ${JSON.stringify(a.state)}`);
  }
  if (typeof a.data !== 'object' || a.data === null || Array.isArray(a.data)) {
    throw new StoreInputError(`${what}: data must be an object`);
  }
  return {
    id,
    stream: required(a.stream, `${what}: stream`),
    state: a.state,
    openedAt: toIso(a.openedAt, `${what}: openedAt`),
    updatedAt: toIso(a.updatedAt, `${what}: updatedAt`),
    resolvedAt: a.resolvedAt === undefined || a.resolvedAt === null ? null : toIso(a.resolvedAt, `${what}: resolvedAt`),
    data: clean(JSON.stringify(a.data)),
  };
}

export interface AlertRead {
  id: string;
  stream: string;
  state: string;
  opened_at: string;
  updated_at: string;
  resolved_at: string | null;
  data: Record<string, unknown>;
}

export function toAlert(r: AlertRead): AlertRecord {
  const a: AlertRecord = {
    id: r.id,
    stream: r.stream,
    state: r.state as AlertRecord['state'],
    openedAt: r.opened_at,
    updatedAt: r.updated_at,
    data: r.data,
  };
  if (r.resolved_at !== null) a.resolvedAt = r.resolved_at;
  return a;
}

export interface LinkRow {
  platform: string;
  channel: string;
  messageId: string;
  predictionId: string | null;
  alertId: string | null;
}

export function linkRow(l: MessageLink): LinkRow {
  const row = {
    platform: required(l.platform, 'message link: platform'),
    channel: required(l.channel, 'message link: channel'),
    messageId: required(l.messageId, 'message link: messageId'),
    predictionId: optional(l.predictionId, 'message link: predictionId'),
    alertId: optional(l.alertId, 'message link: alertId'),
  };
  if (row.predictionId === null && row.alertId === null) {
    throw new StoreInputError('message link: needs a predictionId or an alertId');
  }
  return row;
}

export function toLink(r: {
  platform: string;
  channel: string;
  message_id: string;
  prediction_id: string | null;
  alert_id: string | null;
}): MessageLink {
  const l: MessageLink = { platform: r.platform, channel: r.channel, messageId: r.message_id };
  if (r.prediction_id !== null) l.predictionId = r.prediction_id;
  if (r.alert_id !== null) l.alertId = r.alert_id;
  return l;
}

/**
 * Labelled examples from votes: a ✅ confirms the predicted label, a ❌ with a true label gives that label
 * (a ❌ without one says only "not this", which is no label). When several users judged the same
 * prediction, the label with the most votes wins; a tie gives no example.
 */
export function examplesFromVotes(
  rows: Array<{ prediction_id: string; text: string; label: string; correct: boolean; true_label: string | null }>,
): Array<{ text: string; label: Label }> {
  const byPrediction = new Map<string, { text: string; counts: Map<Label, number> }>();
  for (const r of rows) {
    const l = (r.correct ? r.label : r.true_label) as Label | null;
    if (l === null || r.text === '') continue; // a prediction whose text was not kept teaches nothing
    let entry = byPrediction.get(r.prediction_id);
    if (!entry) byPrediction.set(r.prediction_id, (entry = { text: r.text, counts: new Map() }));
    entry.counts.set(l, (entry.counts.get(l) ?? 0) + 1);
  }
  const out: Array<{ text: string; label: Label }> = [];
  for (const { text, counts } of byPrediction.values()) {
    const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1]);
    if (ranked.length > 1 && ranked[0][1] === ranked[1][1]) continue;
    out.push({ text, label: ranked[0][0] });
  }
  return out;
}

/** Throws the same error from every method of a closed store. */
export function closedError(kind: string): Error {
  return new Error(`the ${kind} store is closed`);
}

/** A readable reason for a driver error (Node's AggregateError for "localhost" refusals has no message). */
export function reason(err: unknown): string {
  // Duck-typed: errors from Node's core may come from another realm (jest), failing `instanceof Error`.
  if (typeof err !== 'object' || err === null) return String(err);
  const e = err as { message?: unknown; code?: unknown; errors?: unknown; name?: unknown };
  if (typeof e.message === 'string' && e.message !== '') return e.message;
  if (Array.isArray(e.errors) && e.errors.length > 0) return e.errors.map(reason).join('; ');
  return String(e.code ?? e.name ?? err);
}

/** A prune request's arguments, checked the same way by both stores. */
export function pruneArgs(kind: PruneKind, beforeIso: string, limit: number): { before: string; limit: number } {
  if (!(PRUNE_KINDS as readonly string[]).includes(kind)) {
    throw new StoreInputError(`prune: kind must be one of ${PRUNE_KINDS.join(', ')}; got ${JSON.stringify(kind)}`);
  }
  if (!Number.isSafeInteger(limit) || limit < 1) throw new StoreInputError('prune: limit must be a positive integer');
  return { before: toIso(beforeIso, 'prune: before'), limit };
}

/** The checkpoint-prune arguments. */
export function pruneCheckpointArgs(prefix: string, beforeIso: string, limit: number) {
  if (typeof prefix !== 'string' || prefix.length < 3) {
    throw new StoreInputError('pruneCheckpoints: the key prefix must be at least 3 characters');
  }
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new StoreInputError('pruneCheckpoints: limit must be a positive integer');
  }
  return { prefix, before: toIso(beforeIso, 'pruneCheckpoints: before'), limit };
}

/** Voter ids to erase: non-empty strings, deduplicated. */
export function voterIdList(ids: string[]): string[] {
  if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string' || id === '')) {
    throw new StoreInputError('eraseVotes expects an array of non-empty voter ids');
  }
  return [...new Set(ids)];
}

/** Store.claim's arguments checked (a key of at most 500 characters, a TTL of 1 ms to 30 days). */
export function claimArgs(key: string, ttlMs: number): { key: string; ttlMs: number } {
  if (typeof key !== 'string' || key === '' || key.length > 500) {
    throw new StoreInputError('claim: the key must be a non-empty string of at most 500 characters');
  }
  if (!Number.isFinite(ttlMs) || ttlMs < 1 || ttlMs > 30 * 86_400_000) {
    throw new StoreInputError('claim: ttlMs must be a number of milliseconds between 1 and 30 days');
  }
  return { key: clean(key), ttlMs: Math.round(ttlMs) };
}

/** Store.pruneClaims' limit checked. */
export function claimLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new StoreInputError('pruneClaims: limit must be a positive integer');
  }
  return limit;
}

/** A checkpoint value worth handing to rewriteJson's edit: JSON objects and arrays, not plain cursors. */
export function parseJsonState(raw: string): unknown {
  const t = raw.trimStart();
  if (!t.startsWith('{') && !t.startsWith('[')) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

/** An edit's outcome checked against the table (alert records are rewritten, never deleted). */
export function checkJsonEdit(table: 'alerts' | 'checkpoints', key: string, e: JsonEdit): JsonEdit {
  if (e.action === 'delete' && table === 'alerts') {
    throw new StoreInputError(`rewriteJson: alert ${JSON.stringify(key)} cannot be deleted this way, only rewritten`);
  }
  if (e.action === 'replace' && table === 'alerts' && (typeof e.value !== 'object' || e.value === null)) {
    throw new StoreInputError(`rewriteJson: alert ${JSON.stringify(key)}: data must stay an object`);
  }
  return e;
}

/** How many times a compare-and-set rewrite is tried when another writer changes the value meanwhile. */
export const REWRITE_ATTEMPTS = 5;

/** A shadow prediction checked before it is written (the same rules as a prediction's). */
export function shadowRow(p: ShadowPrediction): Omit<PredictionRow, 'id' | 'kind' | 'text'> & { predictionId: string } {
  const predictionId = required(p.predictionId, 'shadow prediction id');
  const what = `shadow prediction ${JSON.stringify(predictionId)}`;
  return {
    predictionId,
    label: label(p.label, `${what}: label`),
    probabilities: JSON.stringify(probabilities(p.probabilities, `${what}: probabilities`)),
    modelVersion: required(p.modelVersion, `${what}: modelVersion`),
    createdAt: toIso(p.createdAt, `${what}: createdAt`),
  };
}

/** The earliest time a query's optional lower bound stands for. */
export const EPOCH_ISO = '1970-01-01T00:00:00.000Z';

/** A judgment query checked: bounds as ISO, kinds known, a positive whole limit (or none). */
export function judgmentArgs(q: JudgmentQuery = {}): {
  since: string;
  createdSince: string;
  kinds: string[];
  limit: number | null;
} {
  const kinds = q.kinds ?? ['mention', 'command', 'api'];
  for (const k of kinds)
    if (!['mention', 'command', 'api'].includes(k))
      throw new StoreInputError(`judgments: kind must be mention, command or api; got ${JSON.stringify(k)}`);
  if (q.limit !== undefined && (!Number.isSafeInteger(q.limit) || q.limit < 1))
    throw new StoreInputError(`judgments: limit must be a whole number ≥ 1, got ${String(q.limit)}`);
  return {
    since: q.sinceIso === undefined ? EPOCH_ISO : toIso(q.sinceIso, 'judgments: sinceIso'),
    createdSince: q.createdSinceIso === undefined ? EPOCH_ISO : toIso(q.createdSinceIso, 'judgments: createdSinceIso'),
    kinds: [...kinds],
    limit: q.limit ?? null,
  };
}

/** Rows of (prediction, vote), ordered by judgment then vote → Judgment[]. */
export function groupJudgments(rows: Array<{ prediction: StoredPrediction; vote: JudgmentVote }>): Judgment[] {
  const out: Judgment[] = [];
  for (const { prediction, vote } of rows) {
    const last = out[out.length - 1];
    if (last && last.prediction.id === prediction.id) {
      last.votes.push(vote);
      if (vote.votedAt > last.lastVotedAt) last.lastVotedAt = vote.votedAt;
    } else out.push({ prediction, votes: [vote], lastVotedAt: vote.votedAt });
  }
  return out;
}

/** shadowPairs' arguments checked. */
export function shadowPairArgs(
  modelVersion: string,
  opts: { sinceIso?: string; limit?: number },
): { since: string; limit: number | null } {
  required(modelVersion, 'shadowPairs: model version');
  if (opts.limit !== undefined && (!Number.isSafeInteger(opts.limit) || opts.limit < 1))
    throw new StoreInputError(`shadowPairs: limit must be a whole number ≥ 1, got ${String(opts.limit)}`);
  return {
    since: opts.sinceIso === undefined ? EPOCH_ISO : toIso(opts.sinceIso, 'shadowPairs: sinceIso'),
    limit: opts.limit ?? null,
  };
}

/** Alert ids for alertVotes: strings, each non-empty (an empty list reads nothing). */
export function alertIdList(ids: string[]): string[] {
  if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string' || id === ''))
    throw new StoreInputError('alertVotes: alert ids must be non-empty strings');
  return [...new Set(ids)];
}
