/**
 * Requests as Slack sends them to an app's Request URL: signed `v0=` HMAC-SHA256 of `v0:<ts>:<body>`
 * with the signing secret (X-Slack-Signature, X-Slack-Request-Timestamp), in Slack's three shapes: an
 * Events API JSON envelope, a slash command form, an interactivity form whose `payload` is JSON.
 */
import { createHmac } from 'node:crypto';

export function slackSignature(secret: string, timestamp: string, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export interface SendOptions {
  secret: string;
  /** Seconds; default now. */
  timestamp?: number;
  /** Overrides the computed signature (forgeries). */
  signature?: string;
  retryNum?: number;
  retryReason?: string;
}

export interface SlackRequest {
  body: string;
  contentType: string;
}

export async function sendSigned(
  url: string,
  req: SlackRequest,
  opts: SendOptions,
): Promise<{ status: number; text: string; json?: unknown }> {
  const ts = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = {
    'content-type': req.contentType,
    'x-slack-request-timestamp': ts,
    'x-slack-signature': opts.signature ?? slackSignature(opts.secret, ts, req.body),
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
  };
  if (opts.retryNum !== undefined) headers['x-slack-retry-num'] = String(opts.retryNum);
  if (opts.retryReason !== undefined) headers['x-slack-retry-reason'] = opts.retryReason;
  const res = await fetch(url, { method: 'POST', headers, body: req.body });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

let counter = 0;
const next = () => String(++counter).padStart(6, '0');

export function slashCommand(opts: {
  text: string;
  user?: string;
  channel?: string;
  responseUrl: string;
  command?: string;
  triggerId?: string;
  /** The workspace (team id) it comes from; default TPARADIS. */
  team?: string;
}): SlackRequest {
  const form = new URLSearchParams({
    token: 'verification-token-unused',
    team_id: opts.team ?? 'TPARADIS',
    team_domain: 'airparadis',
    channel_id: opts.channel ?? 'CSOCIAL',
    channel_name: 'social-team',
    user_id: opts.user ?? 'UAGENT7',
    user_name: 'agent7',
    command: opts.command ?? '/sentiment',
    text: opts.text,
    api_app_id: 'ASENTINEL',
    is_enterprise_install: 'false',
    response_url: opts.responseUrl,
    trigger_id: opts.triggerId ?? `trigger.${next()}`,
  });
  return { body: form.toString(), contentType: 'application/x-www-form-urlencoded' };
}

export function eventCallback(
  event: Record<string, unknown>,
  eventId = `Ev${next()}`,
  team = 'TPARADIS',
): SlackRequest {
  const body = {
    token: 'verification-token-unused',
    team_id: team,
    api_app_id: 'ASENTINEL',
    event: { event_ts: `${Math.floor(Date.now() / 1000)}.000200`, ...event },
    type: 'event_callback',
    event_id: eventId,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ team_id: team, user_id: 'UBOT', is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
  };
  return { body: JSON.stringify(body), contentType: 'application/json' };
}

export function reactionEvent(
  type: 'reaction_added' | 'reaction_removed',
  opts: { user: string; reaction: string; channel: string; ts: string; team?: string },
  eventId?: string,
): SlackRequest {
  return eventCallback(
    {
      type,
      user: opts.user,
      reaction: opts.reaction,
      item_user: 'UBOT',
      item: { type: 'message', channel: opts.channel, ts: opts.ts },
    },
    eventId,
    opts.team,
  );
}

export function blockAction(opts: {
  user: string;
  channel: string;
  messageTs: string;
  actionId: string;
  value: string;
  responseUrl: string;
  ephemeral?: boolean;
  triggerId?: string;
  /** The workspace (team id) it comes from; default TPARADIS. */
  team?: string;
}): SlackRequest {
  const team = opts.team ?? 'TPARADIS';
  const payload = {
    type: 'block_actions',
    user: { id: opts.user, username: 'agent', name: 'agent', team_id: team },
    api_app_id: 'ASENTINEL',
    token: 'verification-token-unused',
    container: {
      type: 'message',
      message_ts: opts.messageTs,
      channel_id: opts.channel,
      is_ephemeral: opts.ephemeral === true,
    },
    trigger_id: opts.triggerId ?? `trigger.${next()}`,
    team: { id: team, domain: 'airparadis' },
    channel: { id: opts.channel, name: 'alerts' },
    ...(opts.ephemeral ? {} : { message: { type: 'message', ts: opts.messageTs, bot_id: 'BBOT', text: '' } }),
    response_url: opts.responseUrl,
    actions: [
      {
        type: 'button',
        action_id: opts.actionId,
        block_id: 'b',
        text: { type: 'plain_text', text: 'x' },
        value: opts.value,
        action_ts: `${Math.floor(Date.now() / 1000)}.000300`,
      },
    ],
  };
  return {
    body: new URLSearchParams({ payload: JSON.stringify(payload) }).toString(),
    contentType: 'application/x-www-form-urlencoded',
  };
}
