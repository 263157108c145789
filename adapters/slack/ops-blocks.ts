/**
 * Block Kit layout of a grouped ops alert (src/ops/error-alerts.ts): one message, edited as the alert evolves
 * (chat.update), and the short thread reply that says it is over. The words are the core's
 * (src/ops/ops-alert.ts), so Slack, Teams and the console say the same; every one of them goes through
 * `escapeText` (./blocks), the last error being text from elsewhere.
 */
import type { types } from '@slack/bolt';
import {
  opsAlertFacts,
  opsAlertFooter,
  opsAlertHeadline,
  opsAlertOverText,
  type OpsAlertContent,
} from '../../src/ops/ops-alert';
import { escapeText, type SlackMessage } from './blocks';

const EMOJI = { open: ':rotating_light:', resolved: ':large_green_circle:' } as const;

/** The alert's message: headline, facts, and a line saying how it evolves. */
export function opsAlertMessage(a: OpsAlertContent): SlackMessage {
  const headline = escapeText(opsAlertHeadline(a), 280);
  const facts = opsAlertFacts(a)
    .map((f) => `*${f.label}:* ${escapeText(f.value, 600)}`)
    .join('\n');
  const footer = escapeText(opsAlertFooter(a));
  const blocks: types.KnownBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `${EMOJI[a.state]} *${headline}*` } },
    { type: 'section', text: { type: 'mrkdwn', text: facts } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: footer }] },
  ];
  return { text: `${EMOJI[a.state]} Sentinel ${headline.charAt(0).toLowerCase()}${headline.slice(1)}`, blocks };
}

/** The thread reply when it is resolved. */
export function opsAlertOverReply(a: OpsAlertContent): string {
  return `${EMOJI.resolved} ${escapeText(opsAlertOverText(a), 1000)}`;
}
