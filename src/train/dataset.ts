/** Labelled tweets from CSV, validated row by row so a bad file fails with the row and the reason. */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { LABELS, isLabel, type Label } from '../sentiment/labels';

// The label set belongs to the model (src/sentiment/labels.ts); re-exported for the training code.
export { LABELS, isLabel, type Label };

export interface LabelledText {
  text: string;
  label: Label;
}

export function readLabelledCsv(path: string): LabelledText[] {
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
    return { text: r.text, label };
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
