/**
 * The Adaptive Card of a grouped ops alert (src/ops/error-alerts.ts): one card, updated in place
 * (updateActivity) as the alert evolves. The words are the core's (src/ops/ops-alert.ts), so Teams, Slack
 * and the console say the same; every one of them goes through `md` (./cards), the last error being text
 * from elsewhere.
 */
import { opsAlertFacts, opsAlertFooter, opsAlertHeadline, type OpsAlertContent } from '../../src/ops/ops-alert';
import { cardMessage, md, type AdaptiveCard } from './cards';

const EMOJI = { open: '🚨', resolved: '🟢' } as const;

export function opsAlertCard(a: OpsAlertContent): AdaptiveCard {
  return {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.4',
    body: [
      {
        type: 'TextBlock',
        text: `${EMOJI[a.state]} ${md(opsAlertHeadline(a))}`,
        weight: 'Bolder',
        size: 'Medium',
        color: a.state === 'open' ? 'Attention' : 'Good',
        wrap: true,
      },
      {
        type: 'FactSet',
        facts: opsAlertFacts(a).map((f) => ({ title: md(f.label), value: md(f.value) })),
      },
      { type: 'TextBlock', text: md(opsAlertFooter(a)), isSubtle: true, size: 'Small', wrap: true },
    ],
  };
}

/** The message activity carrying the card; its summary is the headline. */
export function opsAlertActivity(a: OpsAlertContent) {
  return cardMessage(opsAlertCard(a), opsAlertHeadline(a));
}
