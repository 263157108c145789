/**
 * The console adapter (local mode): alerts printed readably to the terminal (stdout), each chart written
 * as a PNG file whose path is printed with the alert. Implements the core's ChatSink port.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { alertText, type AlertContent, type AlertKind } from '../../src/trends/content';
import type { ChatSink, StreamNotice } from '../../src/trends/sink';

export interface ConsoleSinkOptions {
  /** Where charts are written (created if missing), e.g. `<DATA_DIR>/alerts`. */
  chartDir: string;
  /** Default: process.stdout. */
  out?: NodeJS.WritableStream & { isTTY?: boolean };
  /** ANSI colours; default: when `out` is a terminal. */
  colour?: boolean;
}

const TITLES: Record<AlertKind, { label: string; colour: string }> = {
  opened: { label: 'ALERT', colour: '\x1b[1;31m' },
  updated: { label: 'ALERT UPDATE', colour: '\x1b[1;33m' },
  resolved: { label: 'RESOLVED', colour: '\x1b[1;32m' },
};

export class ConsoleSink implements ChatSink {
  readonly name = 'console';
  private readonly out: NodeJS.WritableStream;
  private readonly colour: boolean;
  private readonly chartDir: string;

  constructor(opts: ConsoleSinkOptions) {
    this.out = opts.out ?? process.stdout;
    this.colour = opts.colour ?? Boolean((this.out as { isTTY?: boolean }).isTTY);
    this.chartDir = resolve(opts.chartDir);
  }

  async opsNotice(text: string): Promise<void> {
    this.out.write(`[sentinel] ⚠ ${text}\n`);
  }

  async alertOpened(alert: AlertContent): Promise<void> {
    this.print(alert);
  }

  /** Updates come often while an alert lasts: three lines (the figures, the sparkline, the chart), not a box. */
  async alertUpdated(alert: AlertContent): Promise<void> {
    const chart = this.writeChart(alert);
    const f = alert.figures;
    const { colour } = TITLES.updated;
    this.out.write(
      [
        this.paint(colour, `▲ UPDATE · ${when(alert.at)} (data time) · ${alert.headline}`),
        `  ${f.volume} mentions in ${f.windowMinutes / 60} h, peak so far ${Math.round(alert.peak.share * 100)} % · last 24 h ${alert.sparkline.text}` +
          (alert.terms.length
            ? ` · about: ${alert.terms
                .slice(0, 4)
                .map((t) => t.term)
                .join(', ')}`
            : ''),
        ...(chart ? [`  chart: ${chart}`] : []),
        '',
      ].join('\n'),
    );
  }

  async alertResolved(alert: AlertContent): Promise<void> {
    this.print(alert);
  }

  async streamNotice(notice: StreamNotice): Promise<void> {
    const mark = notice.kind === 'learning' ? '…' : '✓';
    this.out.write(`${this.paint('\x1b[2m', `[sentinel] ${mark} ${notice.message} (data time ${when(notice.at)})`)}\n`);
  }

  /** Writes the chart (if any) and returns its path. */
  writeChart(alert: AlertContent): string | undefined {
    if (!alert.chart) return undefined;
    mkdirSync(this.chartDir, { recursive: true });
    const stamp = alert.at.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const file = join(this.chartDir, `${slug(alert.stream)}-${stamp}-${alert.kind}.png`);
    writeFileSync(file, alert.chart.png);
    return file;
  }

  private print(alert: AlertContent): void {
    const { label, colour } = TITLES[alert.kind];
    const chart = this.writeChart(alert);
    const rule = '─'.repeat(78);
    const body = alertText(alert)
      .split('\n')
      .map((l) => `│ ${l}`)
      .join('\n');
    const lines = [
      '',
      this.paint(colour, `┌${rule}`),
      this.paint(colour, `│ ${label} · ${alert.stream} · ${when(alert.at)} (data time) · ${alert.alertId}`),
      this.paint(colour, `├${rule}`),
      body,
      ...(chart ? [`│`, `│ Chart (last 24 h): ${chart}`] : []),
      this.paint(colour, `└${rule}`),
      '',
    ];
    this.out.write(`${lines.join('\n')}\n`);
  }

  private paint(code: string, text: string): string {
    return this.colour ? `${code}${text}\x1b[0m` : text;
  }
}

function when(isoTime: string): string {
  return `${isoTime.slice(0, 10)} ${isoTime.slice(11, 16)} UTC`;
}

function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'stream'
  );
}
