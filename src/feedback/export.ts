/**
 * Judged predictions → training rows (issue 13, "the loop"). Pure: the CLI (./export-cli.ts) reads the
 * judgments from the store and writes the CSV this module formats.
 *
 * The people's label is the majority of the votes, in two steps:
 * 1. the model's label against every other answer: each ✅ is a vote for the model's label, each ❌ a vote
 *    against it, whether or not it names a label. More ✅ than ❌: the model's label. As many: a tie.
 * 2. more ❌ than ✅: the people say "not the model's label"; which one is the label most ❌ name. A ❌ that
 *    names no label (a reaction nobody followed up) counted against the model's label in step 1 but chooses
 *    no other: when no label is named more often than every other one (none named, or two named as often)
 *    the people's label is undecided, and the prediction is dropped with the ties.
 *
 * Ties are dropped and counted; so are predictions whose text is gone (`/predict` with keep_text false, or
 * blanked by retention): a label without its text teaches nothing. Votes on alerts never reach here (the
 * store's judgments leave them out). Nothing here knows who voted: a Judgment carries no voter id.
 */
import type { Judgment, StoredPrediction } from '../store/types';
import { peopleLabel } from './people-label';

/** The training CSV's columns (as ../shared/data/airline_train.csv), then what the loop adds. */
export const TRAINING_COLUMNS = ['tweet_id', 'label', 'airline', 'created_at', 'text'] as const;
export const FEEDBACK_COLUMNS = [
  'model_label',
  'model_version',
  'votes_correct',
  'votes_wrong',
  'first_voted_at',
  'last_voted_at',
  'kind',
] as const;
export const EXPORT_COLUMNS = [...TRAINING_COLUMNS, ...FEEDBACK_COLUMNS] as const;

export type ExportRow = Record<(typeof EXPORT_COLUMNS)[number], string>;

/** `x:<tweet id>` predictions are tweets: the training format's tweet_id is the tweet's id. */
export function tweetIdOf(prediction: Pick<StoredPrediction, 'id'>): string {
  return /^x:\d+$/.test(prediction.id) ? prediction.id.slice(2) : prediction.id;
}

export interface ExportResult {
  rows: ExportRow[];
  /** Judged predictions read. */
  judged: number;
  /** No majority: ties, and ❌ majorities naming no label more often than the others (`droppedNoLabelNamed`). */
  droppedTies: number;
  /** Of droppedTies: ❌ won, but no label was named more often than every other one because none was named. */
  droppedNoLabelNamed: number;
  /** The text is gone (not kept, or blanked by retention). */
  droppedNoText: number;
}

/** Every judged prediction with a text and a people's label, as a row; oldest prediction first. */
export function exportJudgments(judgments: ReadonlyArray<Judgment>): ExportResult {
  const result: ExportResult = {
    rows: [],
    judged: judgments.length,
    droppedTies: 0,
    droppedNoLabelNamed: 0,
    droppedNoText: 0,
  };
  const ordered = [...judgments].sort(
    (a, b) =>
      a.prediction.createdAt.localeCompare(b.prediction.createdAt) || a.prediction.id.localeCompare(b.prediction.id),
  );
  for (const { prediction: p, votes, lastVotedAt } of ordered) {
    if (p.text.trim() === '') {
      result.droppedNoText++;
      continue;
    }
    const verdict = peopleLabel(p.label, votes);
    if ('undecided' in verdict) {
      result.droppedTies++;
      if (verdict.undecided === 'no_label_named') result.droppedNoLabelNamed++;
      continue;
    }
    const correct = votes.filter((v) => v.correct).length;
    const times = votes.map((v) => v.votedAt).sort();
    result.rows.push({
      tweet_id: tweetIdOf(p),
      label: verdict.label,
      airline: '', // a prediction does not say which stream (airline) it came from
      created_at: p.createdAt,
      text: p.text,
      model_label: p.label,
      model_version: p.modelVersion,
      votes_correct: String(correct),
      votes_wrong: String(votes.length - correct),
      first_voted_at: times[0] ?? lastVotedAt,
      last_voted_at: lastVotedAt,
      kind: p.kind,
    });
  }
  return result;
}

/** One CSV field (RFC 4180): quoted when it holds a comma, a quote, a line break or edge spaces; quotes doubled. */
export function csvField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** The rows as CSV, header first, CRLF-free (`\n` line ends, as the training files). */
export function toCsv(rows: ReadonlyArray<ExportRow>): string {
  const lines = [EXPORT_COLUMNS.join(',')];
  for (const row of rows) lines.push(EXPORT_COLUMNS.map((c) => csvField(row[c])).join(','));
  return lines.join('\n') + '\n';
}
