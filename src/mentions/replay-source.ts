/**
 * Replays historical tweets from a CSV through the same pipeline as live X mentions: the format of
 * ../shared/data/airline_stream.csv (header row; `tweet_id`, `created_at`, `text` required; `label`
 * optional, the human label; `airline` optional, the stream name; any other column ignored).
 *
 * - Every row is validated once, at load. A bad row (wrong number of fields, empty or non-numeric
 *   tweet_id, a date that is not ISO-8601 with an offset, empty or over-long text, a label outside
 *   negative/neutral/positive, an empty stream name, a tweet id already seen) is skipped with a warning
 *   naming its row number and the reason, and counted in `stats`. A missing required column, or a file
 *   that is not CSV at all, is an Error naming the file.
 * - Rows are sorted by created_at (stable: ties keep file order) and split by stream (the `airline`
 *   column; `defaultStream` when the file has none).
 * - `fetch(stream, checkpoint)`: the next chunk of that stream after the checkpoint, which is the id of
 *   the last tweet emitted. `speed: Infinity` (default) emits `chunkSize` rows per fetch as fast as the
 *   poller asks; `speed: N` emits the rows whose timestamp is at most replay-origin + elapsed × N, where
 *   the replay clock starts at the first fetch and its origin is the first tweet of the file, or the
 *   checkpoint's tweet when that first fetch resumes one (so a restarted replay goes on where it was).
 * Tweet ids stay strings.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import type { Logger } from '../log';
import { LABELS, type Label } from '../sentiment/types';
import type { FetchResult, Mention, MentionSource } from './types';

export const REQUIRED_COLUMNS = ['tweet_id', 'created_at', 'text'] as const;

export interface ReplaySourceOptions {
  /** The CSV file. */
  path: string;
  /** `Infinity` (default): as fast as polled; N > 0: N× real time. */
  speed?: number;
  /** Most rows per fetch (default 500). */
  chunkSize?: number;
  /** The stream of every row when the file has no `airline` column (default `replay`). */
  defaultStream?: string;
  /** Longer texts make a row bad (default 10,000 characters). */
  maxTextChars?: number;
  /** Warnings logged one by one before a summary takes over (default 50). */
  maxRowWarnings?: number;
  clock?: { now(): number };
  logger?: Pick<Logger, 'info' | 'warn'>;
}

export interface SkippedRow {
  /** 1-based data row (the header is not counted). */
  row: number;
  /** 1-based line of the file where the row starts. */
  line: number;
  reason: string;
}

export interface ReplayStats {
  rows: number;
  accepted: number;
  skipped: number;
  skippedRows: SkippedRow[];
  ignoredColumns: string[];
  streams: Record<string, number>;
}

interface Row {
  mention: Mention;
  time: number;
}

const ISO_8601 = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?) ?(Z|[+-]\d{2}:?\d{2})$/;

export class ReplaySource implements MentionSource {
  readonly name = 'replay';
  readonly path: string;
  readonly stats: ReplayStats;
  private readonly speed: number;
  private readonly chunkSize: number;
  private readonly clock: { now(): number };
  private readonly byStream = new Map<string, Row[]>();
  private readonly position = new Map<string, Map<string, number>>();
  private readonly dataStart: number;
  /** Set by the first fetch: wall time and data time the replay clock starts from. */
  private origin?: { wall: number; data: number };

  constructor(opts: ReplaySourceOptions) {
    this.path = opts.path;
    this.speed = opts.speed ?? Infinity;
    if (!(this.speed > 0)) throw new Error(`ReplaySource: speed must be > 0 or Infinity, got ${this.speed}`);
    this.chunkSize = opts.chunkSize ?? 500;
    if (!Number.isInteger(this.chunkSize) || this.chunkSize < 1)
      throw new Error(`ReplaySource: chunkSize must be a positive integer, got ${this.chunkSize}`);
    this.clock = opts.clock ?? { now: () => Date.now() };
    const { rows, stats } = loadRows(opts);
    this.stats = stats;
    rows.sort((a, b) => a.time - b.time); // stable: ties keep file order
    for (const r of rows) {
      let list = this.byStream.get(r.mention.stream);
      if (!list) this.byStream.set(r.mention.stream, (list = []));
      list.push(r);
    }
    for (const [stream, list] of this.byStream)
      this.position.set(stream, new Map(list.map((r, i) => [r.mention.id, i])));
    this.dataStart = rows.length > 0 ? rows[0].time : 0;
    opts.logger?.info(
      {
        path: opts.path,
        rows: stats.rows,
        accepted: stats.accepted,
        skipped: stats.skipped,
        streams: stats.streams,
        ignoredColumns: stats.ignoredColumns,
        speed: this.speed,
      },
      `replay: ${stats.accepted} tweets from ${opts.path} in ${this.byStream.size} stream(s)` +
        (stats.skipped ? `, ${stats.skipped} bad row(s) skipped` : ''),
    );
  }

  /** Stream names, in order of first appearance in time. */
  allStreams(): string[] {
    return [...this.byStream.keys()];
  }

  /** How many tweets of `stream` come after `checkpoint`. */
  remaining(stream: string, checkpoint: string | null): number {
    const rows = this.rowsOf(stream);
    return rows.length - this.indexAfter(stream, checkpoint);
  }

  async fetch(stream: string, checkpoint: string | null): Promise<FetchResult> {
    const rows = this.rowsOf(stream);
    const start = this.indexAfter(stream, checkpoint);
    let end = Math.min(rows.length, start + this.chunkSize);
    if (Number.isFinite(this.speed)) {
      if (!this.origin) {
        const resumeAt = start > 0 ? rows[start - 1].time : this.dataStart;
        this.origin = { wall: this.clock.now(), data: resumeAt };
      }
      const due = this.origin.data + (this.clock.now() - this.origin.wall) * this.speed;
      let i = start;
      while (i < end && rows[i].time <= due) i++;
      end = i;
    }
    const mentions = rows.slice(start, end).map((r) => ({ ...r.mention }));
    return { mentions, checkpoint: end > start ? rows[end - 1].mention.id : checkpoint };
  }

  private rowsOf(stream: string): Row[] {
    const rows = this.byStream.get(stream);
    if (!rows)
      throw new Error(
        `replay: no stream "${stream}" in ${this.path} (streams: ${this.allStreams().join(', ') || 'none'})`,
      );
    return rows;
  }

  private indexAfter(stream: string, checkpoint: string | null): number {
    if (checkpoint === null || checkpoint === '') return 0;
    const i = this.position.get(stream)!.get(checkpoint);
    if (i === undefined)
      throw new Error(
        `replay: checkpoint ${JSON.stringify(checkpoint)} is not a tweet id of stream "${stream}" in ${this.path}`,
      );
    return i + 1;
  }
}

function loadRows(opts: ReplaySourceOptions): { rows: Row[]; stats: ReplayStats } {
  const maxTextChars = opts.maxTextChars ?? 10_000;
  const maxWarnings = opts.maxRowWarnings ?? 50;
  const defaultStream = opts.defaultStream ?? 'replay';
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(readFileSync(opts.path), {
      bom: true,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
    }) as unknown as typeof records;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new Error(`replay: ${opts.path} does not exist`, { cause: err });
    throw new Error(`replay: ${opts.path} is not a readable CSV file: ${e.message}`, { cause: err });
  }
  if (records.length === 0)
    throw new Error(`replay: ${opts.path} is empty (expected a header row with ${REQUIRED_COLUMNS.join(', ')})`);

  const header = records[0].record.map((h) => h.trim());
  const missing = REQUIRED_COLUMNS.filter((c) => !header.includes(c));
  if (missing.length) {
    throw new Error(
      `replay: ${opts.path} lacks the required column(s) ${missing.join(', ')} (header: ${header.join(', ')}; required: ${REQUIRED_COLUMNS.join(', ')})`,
    );
  }
  const dup = header.find((h, i) => header.indexOf(h) !== i);
  if (dup) throw new Error(`replay: ${opts.path} has the column "${dup}" twice`);
  const col = (name: string) => header.indexOf(name);
  const idCol = col('tweet_id');
  const timeCol = col('created_at');
  const textCol = col('text');
  const labelCol = col('label');
  const streamCol = col('airline');
  const known = new Set(['tweet_id', 'created_at', 'text', 'label', 'airline']);
  const ignoredColumns = header.filter((h) => !known.has(h));

  const stats: ReplayStats = { rows: 0, accepted: 0, skipped: 0, skippedRows: [], ignoredColumns, streams: {} };
  const rows: Row[] = [];
  const seen = new Map<string, number>();
  let prevEndLine = records[0].info.lines;

  const skip = (row: number, line: number, reason: string) => {
    stats.skipped++;
    stats.skippedRows.push({ row, line, reason });
    if (stats.skipped <= maxWarnings)
      opts.logger?.warn(
        { path: opts.path, row, line, reason },
        `replay: ${opts.path} row ${row} (line ${line}) skipped: ${reason}`,
      );
    else if (stats.skipped === maxWarnings + 1)
      opts.logger?.warn({ path: opts.path }, `replay: more bad rows in ${opts.path}; the rest are only counted`);
  };

  for (let k = 1; k < records.length; k++) {
    const { record, info } = records[k];
    const row = k;
    const line = prevEndLine + 1;
    prevEndLine = info.lines;
    stats.rows++;
    if (record.length !== header.length) {
      skip(row, line, `${record.length} field(s), expected ${header.length} (${header.join(', ')})`);
      continue;
    }
    const id = record[idCol].trim();
    if (id === '') {
      skip(row, line, 'tweet_id is empty');
      continue;
    }
    if (!/^[1-9]\d{0,19}$/.test(id)) {
      skip(row, line, `tweet_id ${JSON.stringify(id.slice(0, 40))} is not a tweet id (digits only)`);
      continue;
    }
    const rawTime = record[timeCol].trim();
    const time = parseTime(rawTime);
    if (time === undefined) {
      skip(
        row,
        line,
        `created_at ${JSON.stringify(rawTime.slice(0, 40))} is not an ISO-8601 date with a time zone (e.g. 2015-02-24T11:35:52-08:00)`,
      );
      continue;
    }
    const text = record[textCol];
    if (text.trim() === '') {
      skip(row, line, 'text is empty');
      continue;
    }
    if (text.length > maxTextChars) {
      skip(row, line, `text has ${text.length} characters, over the limit of ${maxTextChars}`);
      continue;
    }
    let humanLabel: Label | undefined;
    if (labelCol >= 0) {
      const l = record[labelCol].trim();
      if (l !== '') {
        if (!(LABELS as readonly string[]).includes(l)) {
          skip(row, line, `label ${JSON.stringify(l.slice(0, 40))} is not one of ${LABELS.join(', ')} (or empty)`);
          continue;
        }
        humanLabel = l as Label;
      }
    }
    let stream = defaultStream;
    if (streamCol >= 0) {
      stream = record[streamCol].trim();
      if (stream === '') {
        skip(row, line, 'airline (the stream) is empty');
        continue;
      }
    }
    const first = seen.get(id);
    if (first !== undefined) {
      skip(row, line, `tweet_id ${id} already appears in row ${first}`);
      continue;
    }
    seen.set(id, row);
    const mention: Mention = { id, stream, createdAt: new Date(time).toISOString(), text };
    if (humanLabel) mention.humanLabel = humanLabel;
    rows.push({ mention, time });
    stats.accepted++;
    stats.streams[stream] = (stats.streams[stream] ?? 0) + 1;
  }
  if (stats.skipped > maxWarnings) {
    opts.logger?.warn(
      { path: opts.path, skipped: stats.skipped },
      `replay: ${stats.skipped} bad rows skipped in ${opts.path} in all`,
    );
  }
  return { rows, stats };
}

/** ISO-8601 with an offset (`2015-02-24T11:35:52-08:00`, `…Z`, or the raw Kaggle `2015-02-24 11:35:52 -0800`). */
function parseTime(raw: string): number | undefined {
  const m = ISO_8601.exec(raw);
  if (!m) return undefined;
  const [y, mo, d] = m[1].split('-').map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > new Date(Date.UTC(y, mo, 0)).getUTCDate()) return undefined; // no 30 February
  let zone = m[3];
  if (zone !== 'Z' && !zone.includes(':')) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const t = Date.parse(`${m[1]}T${m[2]}${zone}`);
  return Number.isNaN(t) ? undefined : t;
}
