/**
 * The ChatSink port: where alerts go. The core calls it; adapters implement it (console in local mode,
 * Slack and Teams later). Each call gets the full, platform-neutral content (./content): the adapter
 * decides how to lay it out. A sink that throws is logged and does not stop the others; the alert stays
 * marked as not delivered and is sent again at the next poll of its stream.
 */
import type { AlertContent } from './content';
import type { OpsAlertContent } from '../ops/ops-alert';

export type { OpsAlertContent } from '../ops/ops-alert';

export interface StreamNotice {
  stream: string;
  /** `learning`: too little history to judge yet (said instead of guessing); `watching`: baseline learnt. */
  kind: 'learning' | 'watching';
  /** Data time (the mentions' clock), ISO-8601. */
  at: string;
  message: string;
}

export interface ChatSink {
  readonly name: string;
  alertOpened(alert: AlertContent): Promise<void>;
  alertUpdated(alert: AlertContent): Promise<void>;
  alertResolved(alert: AlertContent): Promise<void>;
  /** A stream starts or stops being judged (optional: chat platforms may prefer silence). */
  streamNotice?(notice: StreamNotice): Promise<void>;
  /** Something the team should know about Sentinel itself (a model update failed, X refused the token). */
  opsNotice?(text: string): Promise<void>;
  /** Sends the ops notices a previous leader recorded but did not get out (a replica taking over). */
  resumeOpsNotices?(): Promise<void>;
  /**
   * A grouped ops alert (src/ops/error-alerts.ts) opened, changed or resolved: the whole content each time.
   * The first call for an `id` posts ONE message in the ops channel; later ones edit it (a revision lower than
   * the one shown changes nothing). Idempotent: the same content twice shows once.
   */
  opsAlert?(alert: OpsAlertContent): Promise<void>;
}
