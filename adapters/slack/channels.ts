/**
 * Alert channels may be configured by `#name`, but Slack's reads (conversations.history, .replies, .join)
 * take channel ids. Public channels are listed by name with conversations.list (scope `channels:read`).
 * A private channel named by `#name` cannot be listed this way: configure it by id.
 */
import type { SlackApi } from './web';

/** Public channels by name (conversations.list, paged; archived ones left out). */
export async function publicChannelsByName(api: SlackApi): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor: string | undefined;
  for (let page = 0; page < 50; page++) {
    const res = await api.call('conversations.list', () =>
      api.client.conversations.list({
        types: 'public_channel',
        exclude_archived: true,
        limit: 1000,
        ...(cursor ? { cursor } : {}),
      }),
    );
    for (const c of res.channels ?? []) if (c.id && c.name) out.set(c.name, c.id);
    cursor = res.response_metadata?.next_cursor || undefined;
    if (!cursor) break;
  }
  return out;
}
