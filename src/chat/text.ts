/**
 * Untrusted text on its way into a chat message — tweets, what people typed after `/sentiment`, their
 * display names, stream names, reasons — goes through two steps, each done exactly once:
 *
 * 1. **Decoded once, where it enters the chat layer.** Tweets are stored as published: X's API and the
 *    airline data give `&amp;`, `&lt;3`, `&gt;` still encoded, so an alert's mentions are decoded by
 *    `alertForChat` when a sink receives the alert, and a stored mention's text by `storedText`. Slack
 *    encodes `&`, `<` and `>` in the text of a slash command, Teams in a message's text: each adapter
 *    decodes that text with `decodeOnce` as it reads the request. Nothing decodes twice, nothing is shown
 *    encoded (`&gt;` once showed as `&gt;`).
 * 2. **Escaped by ONE function per output format**, which all start with `stripControls` here: Slack
 *    mrkdwn `escapeText` (adapters/slack/blocks.ts: blocks and the `text` fallback alike), Adaptive Card
 *    and Teams message markdown `md`, Teams plain text `plain` (adapters/teams/cards.ts), the terminal
 *    `terminal` (adapters/console/console-sink.ts). Charts draw no tweet text (src/trends/chart.ts only
 *    draws the stream name and figures, as SVG text that ECharts escapes); the dashboard's page inserts
 *    every text as a DOM text node (src/http/dashboard/client/app.ts).
 */
import { decodeEntities } from '../sentiment/normalize';
import type { AlertContent } from '../trends/content';

/** HTML entities (`&amp;`, `&lt;`, `&#39;`, `&#x1F600;`…) decoded; call it once, where the text enters. */
export function decodeOnce(text: string): string {
  return decodeEntities(text);
}

// Terminal escape sequences: CSI (`ESC [ … final`), OSC (`ESC ] … BEL` or `ESC \`), and the others
// (`ESC` + intermediate bytes + a final byte: `ESC c` resets the terminal).
// eslint-disable-next-line no-control-regex
const ESCAPE_SEQUENCE = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[ -/]*[0-~]?)/g;
// C0 controls but tab and newline, DEL, C1 controls; bidirectional overrides and isolates (text that
// shows in another order than it reads: "Trojan Source"); the BOM.
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/**
 * Control characters out: terminal escape sequences whole (a tweet's `\u001b[2J` would clear the
 * terminal), other C0 / C1 controls, bidirectional overrides; `\r\n` and `\r` become `\n`. Tabs and
 * newlines stay. The first step of every escaping function.
 */
export function stripControls(text: string): string {
  return text.replace(/\r\n?/g, '\n').replace(ESCAPE_SEQUENCE, '').replace(CONTROLS, '');
}

/**
 * The alert as the chat layer shows it: its mentions' text and author decoded once. Every sink (Slack,
 * Teams, the console) calls it on the alert it receives, and keeps what it returns.
 */
export function alertForChat<T extends Pick<AlertContent, 'mentions'>>(alert: T): T {
  return {
    ...alert,
    mentions: alert.mentions.map((m) => ({
      ...m,
      text: decodeOnce(m.text),
      ...(m.author !== undefined ? { author: decodeOnce(m.author) } : {}),
    })),
  };
}

/**
 * A stored prediction's text, as a chat message shows it: a mention's (`kind: 'mention'`) is stored as
 * published, so it is decoded; a command's was decoded when it was read.
 */
export function storedText(prediction: { kind: string; text: string }): string {
  return prediction.kind === 'mention' ? decodeOnce(prediction.text) : prediction.text;
}
