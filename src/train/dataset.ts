/** Labelled tweets from CSV, validated row by row so a bad file fails with the row and the reason. */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { LABELS, isLabel, type Label } from '../sentiment/labels';
import { decodeEntities, fixDatasetArtefacts } from '../sentiment/normalize';
import { seededRandom, shuffleInPlace } from './random';

// The label set belongs to the model (src/sentiment/labels.ts); re-exported for the training code.
export { LABELS, isLabel, type Label };

export interface LabelledText {
  text: string;
  label: Label;
}

export function readLabelledCsv(path: string): LabelledText[] {
  return readLabelledRows(path).map(({ text, label }) => ({ text, label }));
}

/** A labelled row with its tweet id, when the file has a `tweet_id` column (the training format). */
export interface LabelledRow extends LabelledText {
  tweetId?: string;
}

export function readLabelledRows(path: string): LabelledRow[] {
  let records: Record<string, string>[];
  try {
    records = parse(readFileSync(path), { columns: true, skip_empty_lines: true, bom: true });
  } catch (err) {
    throw new Error(`${path}: not a readable CSV: ${(err as Error).message}`, { cause: err });
  }
  if (records.length === 0) throw new Error(`${path}: no rows`);
  const columns = Object.keys(records[0]);
  for (const needed of ['label', 'text']) {
    if (!columns.includes(needed))
      throw new Error(`${path}: missing column "${needed}" (columns: ${columns.join(', ')})`);
  }
  return records.map((r, i) => {
    const label = r.label.trim();
    if (!isLabel(label)) {
      throw new Error(`${path}: row ${i + 2}: unknown label "${label}" (allowed: ${LABELS.join(', ')})`);
    }
    const tweetId = r.tweet_id?.trim();
    return tweetId ? { text: r.text, label, tweetId } : { text: r.text, label };
  });
}

/** Plain texts (no label needed), e.g. the Sentiment140 sample used only for embeddings. */
export function readTexts(path: string): string[] {
  const records: Record<string, string>[] = parse(readFileSync(path), {
    columns: true,
    skip_empty_lines: true,
    bom: true,
  });
  if (records.length && !('text' in records[0])) throw new Error(`${path}: missing column "text"`);
  return records.map((r) => r.text);
}

/**
 * What two texts have in common when they are the same tweet: HTML entities decoded, the data set's
 * "Late Flight" artefact undone, Unicode compatibility forms folded, case and spacing ignored. Lighter
 * than the model's normalisation on purpose: that one maps every @handle and number to one marker, which
 * would make "@united thanks" the same text as "@delta thanks".
 */
export function sameTextKey(text: string): string {
  return fixDatasetArtefacts(decodeEntities(text)).normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
}

/** What merging a feedback file into the training split did (npm run train -- --feedback). */
export interface FeedbackMergeCounts {
  /** Rows in the feedback file. */
  feedback_rows: number;
  /** Same text or tweet id as a row of the evaluation split: dropped, so evaluation stays clean. */
  dropped_eval: number;
  /** The same text (or tweet id) more than once in the feedback file: the later row is kept. */
  dropped_duplicates: number;
  /** No text. */
  dropped_blank: number;
  /** Feedback rows that replaced training rows (same text or tweet id): the people's label wins. */
  overridden: number;
  /** Of those, how many changed the label. */
  relabelled: number;
  /** Training rows replaced (a text can be in the training split more than once). */
  replaced_train_rows: number;
  /** Feedback rows with a text the training split did not have. */
  added: number;
  train_rows_before: number;
  train_rows_after: number;
}

/**
 * The training split with the people's labels merged in: a feedback row whose text (sameTextKey) or tweet id
 * is in the training split replaces those rows; a new one is added; one that is in the evaluation split is
 * dropped. Training rows first (in their order, without the replaced ones), then the feedback rows kept.
 */
export function mergeFeedback(
  train: ReadonlyArray<LabelledRow>,
  feedback: ReadonlyArray<LabelledRow>,
  val: ReadonlyArray<LabelledRow>,
): { rows: LabelledText[]; counts: FeedbackMergeCounts } {
  const counts: FeedbackMergeCounts = {
    feedback_rows: feedback.length,
    dropped_eval: 0,
    dropped_duplicates: 0,
    dropped_blank: 0,
    overridden: 0,
    relabelled: 0,
    replaced_train_rows: 0,
    added: 0,
    train_rows_before: train.length,
    train_rows_after: 0,
  };
  const valTexts = new Set(val.map((r) => sameTextKey(r.text)));
  const valIds = new Set(val.flatMap((r) => (r.tweetId ? [r.tweetId] : [])));

  // The later of two rows about the same text or tweet wins (the export writes oldest first).
  const kept: Array<LabelledRow & { key: string }> = [];
  const seenText = new Map<string, number>();
  const seenId = new Map<string, number>();
  for (const row of feedback) {
    const key = sameTextKey(row.text);
    if (key === '') {
      counts.dropped_blank++;
      continue;
    }
    if (valTexts.has(key) || (row.tweetId !== undefined && valIds.has(row.tweetId))) {
      counts.dropped_eval++;
      continue;
    }
    const earlier = seenText.get(key) ?? (row.tweetId !== undefined ? seenId.get(row.tweetId) : undefined);
    const index = earlier ?? kept.length;
    if (earlier !== undefined) counts.dropped_duplicates++;
    kept[index] = { ...row, key };
    seenText.set(key, index);
    if (row.tweetId !== undefined) seenId.set(row.tweetId, index);
  }
  const byText = new Map(kept.map((r, i) => [r.key, i]));
  const byId = new Map(kept.flatMap((r, i) => (r.tweetId !== undefined ? [[r.tweetId, i] as const] : [])));

  const replaced = new Map<number, Label[]>(); // feedback row → labels of the training rows it replaced
  const rows: LabelledText[] = [];
  for (const row of train) {
    const at = byText.get(sameTextKey(row.text)) ?? (row.tweetId !== undefined ? byId.get(row.tweetId) : undefined);
    if (at === undefined) {
      rows.push({ text: row.text, label: row.label });
      continue;
    }
    counts.replaced_train_rows++;
    replaced.set(at, [...(replaced.get(at) ?? []), row.label]);
  }
  kept.forEach((row, i) => {
    const before = replaced.get(i);
    if (before) {
      counts.overridden++;
      if (before.some((l) => l !== row.label)) counts.relabelled++;
    } else {
      counts.added++;
    }
    rows.push({ text: row.text, label: row.label });
  });
  counts.train_rows_after = rows.length;
  return { rows, counts };
}

/**
 * `k` folds of `rows` (row indices), stratified by label, with every copy of a text (sameTextKey) in one
 * fold so that no text is both trained on and judged. Seeded: the same rows and seed give the same folds.
 */
export function stratifiedFolds(rows: readonly LabelledText[], k: number, seed: number): number[][] {
  if (!Number.isInteger(k) || k < 2) throw new Error(`stratifiedFolds: k must be an integer ≥ 2, got ${k}`);
  const groups = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const key = sameTextKey(r.text);
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  });
  const random = seededRandom(seed);
  const folds: number[][] = Array.from({ length: k }, () => []);
  for (const label of LABELS) {
    const ofLabel = shuffleInPlace(
      [...groups.values()].filter((g) => rows[g[0]].label === label),
      random,
    );
    // Each group goes to the fold that has the fewest rows of this label so far: sizes stay within a group.
    const counts = new Array<number>(k).fill(0);
    for (const group of ofLabel) {
      const target = counts.indexOf(Math.min(...counts));
      folds[target].push(...group);
      counts[target] += group.length;
    }
  }
  return folds.map((f) => f.sort((a, b) => a - b));
}

/** Rows split into the training part and the held-out fold `fold` of `stratifiedFolds(rows, k, seed)`. */
export function splitOffFold<T extends LabelledText>(
  rows: readonly T[],
  k: number,
  fold: number,
  seed: number,
): { rest: T[]; held: T[] } {
  const held = new Set(stratifiedFolds(rows, k, seed)[fold]);
  return { rest: rows.filter((_, i) => !held.has(i)), held: rows.filter((_, i) => held.has(i)) };
}
