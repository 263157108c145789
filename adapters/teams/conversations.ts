/**
 * The conversations alerts go to: captured when the app is installed (installationUpdate `add`, which in a
 * team names the channel the installer picked) or when the bot is added to a conversation
 * (conversationUpdate with the bot among membersAdded), forgotten when it is removed.
 *
 * Kept as ONE JSON document in the Store's checkpoint table (key `teams/conversations`), so no migration
 * is needed and every replica sees the same list. Writes are serialised in this process; two replicas
 * capturing installs in the same millisecond could lose one (it comes back at the next install event).
 *
 * One entry per team (the channel picked at install wins over the General channel a conversationUpdate
 * names) and one per group or personal chat. Conversation ids are kept without Teams' `;messageid=…`
 * thread suffix.
 */
import type { Activity, ConversationReference } from 'botbuilder';
import type { Store } from '../../src/store/types';
import type { Serial } from '../../src/chat/once';

export const CONVERSATIONS_KEY = 'teams/conversations';

export type Scope = 'channel' | 'groupChat' | 'personal';
export const SCOPES: readonly Scope[] = ['channel', 'groupChat', 'personal'];

export interface StoredConversation {
  /** `team:<team id>` or `conv:<conversation id>`. */
  key: string;
  scope: Scope;
  /** What proactive messages need: serviceUrl, channelId, conversation (base id), bot. */
  reference: Partial<ConversationReference>;
  /** The Teams channel new alert threads are started in (channel scope). */
  teamsChannelId?: string;
  teamId?: string;
  tenantId?: string;
  /** Team or chat name, for logs and status. */
  name?: string;
  source: 'installationUpdate' | 'conversationUpdate';
  capturedAt: string;
}

/** `19:abc@thread.tacv2;messageid=123` → `19:abc@thread.tacv2`. */
export function baseConversationId(id: string): string {
  const at = id.indexOf(';messageid=');
  return at >= 0 ? id.slice(0, at) : id;
}

interface TeamsChannelData {
  team?: { id?: unknown; name?: unknown };
  channel?: { id?: unknown; name?: unknown };
  tenant?: { id?: unknown };
}

function str(x: unknown): string | undefined {
  return typeof x === 'string' && x.length > 0 ? x : undefined;
}

export function scopeOf(activity: Partial<Activity>): Scope {
  const type = activity.conversation?.conversationType;
  if (type === 'channel' || type === 'groupChat' || type === 'personal') return type;
  const data = (activity.channelData ?? {}) as TeamsChannelData;
  if (str(data.channel?.id) || str(data.team?.id)) return 'channel';
  return activity.conversation?.isGroup ? 'groupChat' : 'personal';
}

/** The conversation an activity comes from, as it is stored. */
export function conversationFrom(
  activity: Partial<Activity>,
  source: StoredConversation['source'],
  now = new Date(),
): StoredConversation {
  const data = (activity.channelData ?? {}) as TeamsChannelData;
  const scope = scopeOf(activity);
  const conversationId = baseConversationId(activity.conversation!.id);
  const teamId = str(data.team?.id);
  const tenantId = str(data.tenant?.id) ?? str(activity.conversation?.tenantId);
  const reference: Partial<ConversationReference> = {
    channelId: activity.channelId,
    serviceUrl: activity.serviceUrl,
    conversation: {
      id: conversationId,
      isGroup: scope !== 'personal',
      conversationType: scope,
      name: '',
      ...(tenantId ? { tenantId } : {}),
    },
    ...(activity.recipient ? { bot: { id: activity.recipient.id, name: activity.recipient.name ?? '' } } : {}),
  };
  if (scope === 'personal' && activity.from) {
    reference.user = { id: activity.from.id, name: activity.from.name ?? '' };
  }
  const name = str(data.team?.name) ?? str(activity.conversation?.name);
  return {
    key: scope === 'channel' && teamId ? `team:${teamId}` : `conv:${conversationId}`,
    scope,
    reference,
    ...(scope === 'channel' ? { teamsChannelId: str(data.channel?.id) ?? conversationId } : {}),
    ...(teamId ? { teamId } : {}),
    ...(tenantId ? { tenantId } : {}),
    ...(name ? { name } : {}),
    source,
    capturedAt: now.toISOString(),
  };
}

export class ConversationRegistry {
  constructor(
    private readonly store: Store,
    private readonly serial: Serial,
  ) {}

  async list(): Promise<StoredConversation[]> {
    const raw = await this.store.getCheckpoint(CONVERSATIONS_KEY);
    if (!raw) return [];
    try {
      const parsed = JSON.parse(raw) as unknown;
      return Array.isArray(parsed) ? (parsed as StoredConversation[]) : [];
    } catch {
      return [];
    }
  }

  /**
   * Keeps `c` (replacing the entry with its key). A conversationUpdate never replaces what an
   * installationUpdate captured for the same team: the installer's channel choice stands. Returns whether
   * the list changed.
   */
  add(c: StoredConversation): Promise<boolean> {
    return this.serial.run(CONVERSATIONS_KEY, async () => {
      const all = await this.list();
      const existing = all.find((x) => x.key === c.key);
      if (existing && existing.source === 'installationUpdate' && c.source === 'conversationUpdate') return false;
      const next = all.filter((x) => x.key !== c.key).concat(c);
      await this.store.setCheckpoint(CONVERSATIONS_KEY, JSON.stringify(next));
      return true;
    });
  }

  /** Forgets the entries `match` selects; returns them. */
  remove(match: (c: StoredConversation) => boolean): Promise<StoredConversation[]> {
    return this.serial.run(CONVERSATIONS_KEY, async () => {
      const all = await this.list();
      const gone = all.filter(match);
      if (gone.length) {
        await this.store.setCheckpoint(CONVERSATIONS_KEY, JSON.stringify(all.filter((c) => !match(c))));
      }
      return gone;
    });
  }
}
