/**
 * An ops alert as every chat platform receives it (issue 13): platform-neutral content and the words it is
 * shown with. ./error-alerts decides when one opens, changes and ends; the sinks (Slack, Teams, the console)
 * lay these words out and escape them, each with its own escaping function (src/chat/text.ts): the last
 * error is text from elsewhere (an exception's message) and is treated as untrusted like a tweet.
 *
 * One alert is ONE message, edited as it evolves: the same `id` comes back with a higher `revision` for
 * each change. A sink never shows an older revision over a newer one, nor an open state over a resolved one.
 */

/** Where errors come from (OPS_ALERT_RULES names these). */
export const ERROR_KINDS = ['scoring', 'store', 'source', 'chat', 'model', 'http'] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** `feedback`: the model judged wrong too often by people's ✅/❌ (not counted errors). */
export type OpsAlertKind = ErrorKind | 'feedback';

export interface OpsAlertContent {
  /** `ops:<kind>@<firstAt>`: stable for the alert's whole life, new for the next one of its kind. */
  id: string;
  kind: OpsAlertKind;
  /** What it is about, lower case: "mention source errors". */
  title: string;
  state: 'open' | 'resolved';
  /** Increases with every change; a sink keeps the highest it has shown. */
  revision: number;
  /** Errors since it opened, the ones that opened it included (feedback: mentions judged wrong). */
  count: number;
  /** The first error of the window that opened it (feedback: when it opened). ISO. */
  firstAt: string;
  /** The latest error (feedback: the latest change of the figure). ISO. */
  lastAt: string;
  resolvedAt?: string;
  /** The latest error's message, secrets masked, on one line, at most 300 characters ('' for feedback). */
  lastError: string;
  /** The rule that opened it: `threshold` errors within `windowMinutes` (feedback: 0). */
  threshold: number;
  windowMinutes: number;
  /** Resolved after this long without an error of its kind (feedback: when the share falls under the rate). */
  resolveAfterMinutes: number;
  /** Feedback alerts: the figure. */
  judged?: { total: number; wrong: number; rate: number; threshold: number };
}

const TITLES: Record<OpsAlertKind, string> = {
  scoring: 'scoring failures',
  store: 'store errors',
  source: 'mention source errors',
  chat: 'chat delivery failures',
  model: 'model update failures',
  http: 'HTTP 5xx answers',
  feedback: 'the model is often wrong',
};

export function opsAlertTitle(kind: OpsAlertKind): string {
  return TITLES[kind];
}

/** One line: what a notification, a log line or the console shows. */
export function opsAlertHeadline(a: OpsAlertContent): string {
  if (a.judged) {
    const figure = `the model is wrong on ${pct(a.judged.rate)} of the last ${a.judged.total} judged mentions`;
    return a.state === 'open'
      ? `Ops alert: ${figure}`
      : `Resolved: ${figure}, under the ${pct(a.judged.threshold)} threshold`;
  }
  return a.state === 'open'
    ? `Ops alert: ${a.title}, ${a.count} since ${hhmm(a.firstAt)} UTC`
    : `Resolved: ${a.title}, ${a.count} from ${hhmm(a.firstAt)} to ${hhmm(a.lastAt)} UTC`;
}

/**
 * The facts under the headline, as label and value. `Last error` is the one untrusted value: escape it
 * (every value, to be simple) with the platform's escaping function.
 */
export function opsAlertFacts(a: OpsAlertContent): Array<{ label: string; value: string }> {
  if (a.judged) {
    const j = a.judged;
    return [
      {
        label: 'Judged wrong',
        value: `${j.wrong} of the last ${j.total} judged mentions (${pct(j.rate)}), by a majority of ✅/❌ votes`,
      },
      {
        label: 'Rule',
        value: `opens at ${pct(j.threshold)} wrong; resolved when the share falls under it`,
      },
      ...(a.state === 'resolved' && a.resolvedAt ? [{ label: 'Resolved', value: when(a.resolvedAt) }] : []),
    ];
  }
  return [
    {
      label: 'Errors',
      value:
        a.count === 1
          ? `1, at ${when(a.lastAt)}`
          : `${a.count} since ${when(a.firstAt)}, the last at ${hhmm(a.lastAt)} UTC`,
    },
    ...(a.lastError ? [{ label: 'Last error', value: a.lastError }] : []),
    {
      label: 'Rule',
      value: `${a.threshold} in ${a.windowMinutes} min opens it; resolved after ${a.resolveAfterMinutes} min without one`,
    },
    ...(a.state === 'resolved' && a.resolvedAt
      ? [{ label: 'Resolved', value: `${when(a.resolvedAt)}, none for ${a.resolveAfterMinutes} min` }]
      : []),
  ];
}

/** How the message evolves, said under it. */
export function opsAlertFooter(a: OpsAlertContent): string {
  if (a.state === 'resolved') return 'Sentinel will not edit this message again.';
  return a.judged
    ? 'Sentinel edits this message as the figure moves, and marks it resolved when it falls under the rule.'
    : `Sentinel edits this message while the errors go on, and marks it resolved after ${a.resolveAfterMinutes} min without one.`;
}

/** The short reply that says it is over (Slack's thread reply). */
export function opsAlertOverText(a: OpsAlertContent): string {
  if (a.judged) {
    return `Over: the model is wrong on ${pct(a.judged.rate)} of the last ${a.judged.total} judged mentions, under ${pct(a.judged.threshold)}.`;
  }
  return `Over: no ${a.title} for ${a.resolveAfterMinutes} min. ${a.count} in all, from ${hhmm(a.firstAt)} to ${hhmm(a.lastAt)} UTC.`;
}

export function pct(x: number): string {
  return Number.isFinite(x) ? `${Math.round(x * 100)} %` : '–';
}

function when(isoTime: string): string {
  return `${isoTime.slice(0, 10)} ${hhmm(isoTime)} UTC`;
}

function hhmm(isoTime: string): string {
  return isoTime.slice(11, 16);
}
