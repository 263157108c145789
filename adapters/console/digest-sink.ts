/**
 * The daily digest in the terminal (local mode): the core's DigestSink port. The digest's plain text
 * (src/trends/digest.ts `digestText`) is printed word-wrapped to `width` columns after ./console-sink's
 * `terminal` escaping, its chart written as a PNG beside the alerts' (`<chartDir>/<stream>-digest-<date>.png`)
 * and its path printed. A quiet day is two lines, an empty day one.
 *
 * With a store, a digest is printed once per (stream, day) whatever runs it (a claim in the Store, kept
 * 30 days): a restart at the schedule's hour does not print yesterday again.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Store } from '../../src/store/types';
import { digestForChat, digestKey, digestText, type DigestContent, type DigestSink } from '../../src/trends/digest';
import { terminal } from './console-sink';
import { wrapLine, wrapText } from './wrap';

export interface ConsoleDigestSinkOptions {
  /** Where charts are written (created if missing), e.g. `<DATA_DIR>/alerts`. */
  chartDir: string;
  out?: NodeJS.WritableStream;
  width?: number;
  /** Prints each digest once across restarts (Store.claim); without it, every time asked. */
  store?: Pick<Store, 'claim'>;
}

const ONCE_MS = 30 * 24 * 3_600_000;

export class ConsoleDigestSink implements DigestSink {
  readonly name = 'console';
  private readonly out: NodeJS.WritableStream;
  private readonly width: number;

  constructor(private readonly opts: ConsoleDigestSinkOptions) {
    this.out = opts.out ?? process.stdout;
    this.width = Math.max(40, opts.width ?? 80);
  }

  async digest(received: DigestContent): Promise<void> {
    const c = digestForChat(received);
    if (this.opts.store && !(await this.opts.store.claim(`console:digest:${digestKey(c)}`, ONCE_MS))) return;
    const lines = ['', ...wrapText(terminal(`[digest] ${digestText(c)}`), this.width)];
    if (c.chart) {
      const dir = resolve(this.opts.chartDir);
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${c.stream.replace(/[^\w-]+/g, '_')}-digest-${c.day.date}.png`);
      writeFileSync(file, c.chart.png);
      lines.push(...wrapLine(`Chart: ${file}`, this.width, 2));
    }
    this.out.write(`${lines.join('\n')}\n`);
  }
}
