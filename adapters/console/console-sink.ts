/**
 * The console adapter (local mode): alerts printed readably to the terminal (stdout), each chart written
 * as a PNG file whose path is printed with the alert. Implements the core's ChatSink port.
 *
 * Everything printed fits `width` columns (default 80, measured in display columns: emoji and CJK count
 * two): text is word-wrapped with a hanging indent, URLs and file paths are never broken (./wrap).
 *
 * Untrusted text (tweets, stream names, notices) goes through ONE function, `terminal`, after the alert's
 * mentions were decoded once (src/chat/text.ts): no escape sequence or control character from a tweet
 * reaches the terminal (a `\u001b[2J` would clear it, others rewrite lines or the title). Sentinel's own
 * colours are added after.
 *
 * Grouped ops alerts (`opsAlert`) print one notice per state change (opened, resolved), not one per update:
 * a terminal cannot edit what it printed, and a burst must not scroll the alerts away.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { alertText, duration, type AlertContent, type AlertKind } from '../../src/trends/content';
import { otherLanguagesText } from '../../src/trends/languages';
import type { ChatSink, StreamNotice } from '../../src/trends/sink';
import { opsAlertFacts, opsAlertHeadline, type OpsAlertContent } from '../../src/ops/ops-alert';
import { alertForChat, stripControls } from '../../src/chat/text';
import { displayWidth, packParts, wrapLine, wrapText } from './wrap';

/** THE escaping of untrusted text for the terminal: escape sequences and control characters out. */
export function terminal(text: string): string {
  return stripControls(text).replace(/\t/g, ' ');
}

export interface ConsoleSinkOptions {
  /** Where charts are written (created if missing), e.g. `<DATA_DIR>/alerts`. */
  chartDir: string;
  /** Default: process.stdout. */
  out?: NodeJS.WritableStream & { isTTY?: boolean };
  /** ANSI colours; default: when `out` is a terminal. */
  colour?: boolean;
  /** Columns every printed line fits in (default 80, the box included). */
  width?: number;
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
  private readonly width: number;
  /** The state last printed of each ops alert. */
  private readonly opsStates = new Map<string, OpsAlertContent['state']>();

  constructor(opts: ConsoleSinkOptions) {
    this.out = opts.out ?? process.stdout;
    this.colour = opts.colour ?? Boolean((this.out as { isTTY?: boolean }).isTTY);
    this.chartDir = resolve(opts.chartDir);
    this.width = Math.max(40, opts.width ?? 80);
  }

  async opsNotice(text: string): Promise<void> {
    this.out.write(`${this.notice('[sentinel] ⚠ ', terminal(text)).join('\n')}\n`);
  }

  /** One notice when an ops alert opens (with its last error) and one when it is resolved. */
  async opsAlert(alert: OpsAlertContent): Promise<void> {
    if (this.opsStates.get(alert.id) === alert.state) return;
    this.opsStates.set(alert.id, alert.state);
    const error = alert.state === 'open' ? opsAlertFacts(alert).find((f) => f.label === 'Last error') : undefined;
    const text = `${opsAlertHeadline(alert)}${error ? `. Last error: ${error.value}` : ''}`;
    const [mark, colour] = alert.state === 'open' ? ['🚨', '\x1b[1;31m'] : ['✓', '\x1b[1;32m'];
    const lines = this.notice(`[sentinel] ${mark} `, terminal(text));
    this.out.write(`${lines.map((l) => this.paint(colour, l)).join('\n')}\n`);
  }

  async alertOpened(alert: AlertContent): Promise<void> {
    this.print(alertForChat(alert));
  }

  /** Updates come often while an alert lasts: three lines (the figures, the sparkline, the chart), not a box. */
  async alertUpdated(received: AlertContent): Promise<void> {
    const alert = alertForChat(received);
    const chart = this.writeChart(alert);
    const f = alert.figures;
    const { colour } = TITLES.updated;
    const lines = [
      ...packParts(['▲ UPDATE', `${when(alert.at)} (data time)`, terminal(alert.headline)], this.width, ' · ', 2).map(
        (l) => this.paint(colour, l),
      ),
      ...packParts(
        [
          `  ${f.volume} mentions in ${duration(f.windowMinutes)}, peak so far ${Math.round(alert.peak.share * 100)} %`,
          ...(alert.why ? [`why now: ${alert.why.now}`, `how sure: ${alert.why.sure}`] : []),
          `last 24 h ${alert.sparkline.text}`,
          ...(alert.terms.length
            ? [
                `about: ${terminal(
                  alert.terms
                    .slice(0, 4)
                    .map((t) => t.term)
                    .join(', '),
                )}`,
              ]
            : []),
          ...(alert.otherLanguages?.total ? [otherLanguagesText(alert.otherLanguages)] : []),
        ],
        this.width,
        ' · ',
        2,
      ),
      ...(chart ? wrapLine(`  chart: ${chart}`, this.width, 4) : []),
      '',
    ];
    this.out.write(lines.join('\n'));
  }

  async alertResolved(alert: AlertContent): Promise<void> {
    this.print(alertForChat(alert));
  }

  async streamNotice(notice: StreamNotice): Promise<void> {
    const mark = notice.kind === 'learning' ? '…' : '✓';
    const lines = this.notice(`[sentinel] ${mark} `, `${terminal(notice.message)} (data time ${when(notice.at)})`);
    this.out.write(`${lines.map((l) => this.paint('\x1b[2m', l)).join('\n')}\n`);
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

  /** The alert in a box of `width` columns: a rule above, below and under the title, `│ ` before each line. */
  private print(alert: AlertContent): void {
    const { label, colour } = TITLES[alert.kind];
    const chart = this.writeChart(alert);
    const inner = this.width - 2; // after "│ "
    const rule = '─'.repeat(this.width - 1);
    const row = (l: string) => (l ? `│ ${l}` : '│');
    const title = packParts(
      [label, terminal(alert.stream), `${when(alert.at)} (data time)`, terminal(alert.alertId)],
      inner,
    );
    const lines = [
      '',
      this.paint(colour, `┌${rule}`),
      ...title.map((l) => this.paint(colour, row(l))),
      this.paint(colour, `├${rule}`),
      ...wrapText(terminal(alertText(alert)), inner).map(row),
      ...(chart ? ['│', ...wrapLine(`Chart (last 24 h): ${chart}`, inner, 2).map(row)] : []),
      ...(alert.dashboardUrl ? wrapLine(`Dashboard: ${alert.dashboardUrl}`, inner, 2).map(row) : []),
      this.paint(colour, `└${rule}`),
      '',
    ];
    this.out.write(`${lines.join('\n')}\n`);
  }

  /** A one-paragraph notice, its continuation lines indented under the text after `prefix`. */
  private notice(prefix: string, text: string): string[] {
    return wrapLine(`${prefix}${text}`, this.width, displayWidth(prefix));
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
