/**
 * Proactive messages (outside a turn: alerts) through the Bot Framework connector of a stored conversation.
 * Each call opens a proactive turn with `CloudAdapter.continueConversationAsync` (or
 * `createConversationAsync` to start a thread in a Teams channel), so authentication, the connector's
 * service URL and its token come from botbuilder, and then calls the one connector operation it names:
 *
 *   send    POST /v3/conversations/{id}/activities                  a new message (a chat; a channel: a new thread)
 *   reply   POST /v3/conversations/{id}/activities/{replyToId}      into a thread
 *   update  PUT  /v3/conversations/{id}/activities/{activityId}     a card updated in place
 *   thread  POST /v3/conversations  { isGroup, channelData.channel } a new thread in a Teams channel
 *
 * botbuilder's own `sendActivity` inside a proactive turn would set a random `replyToId` (the continuation
 * event's id); calling the connector directly says exactly which of the above is meant. Errors (the
 * connector's RestError: `statusCode`, `code`) are thrown to the caller, never swallowed by the adapter's
 * onTurnError. A reference whose serviceUrl the policy (./service-url) refuses is never called.
 */
import type { Activity, CloudAdapter, ConversationReference, TurnContext } from 'botbuilder';
import type { ServiceUrlPolicy } from './service-url';

/** The part of botframework-connector's ConnectorClient used here. */
interface Connector {
  conversations: {
    sendToConversation(conversationId: string, activity: Partial<Activity>): Promise<{ id?: string }>;
    replyToActivity(conversationId: string, activityId: string, activity: Partial<Activity>): Promise<{ id?: string }>;
    updateActivity(conversationId: string, activityId: string, activity: Partial<Activity>): Promise<{ id?: string }>;
  };
}

export type OutgoingActivity = Partial<Activity> & { type: 'message' };

/** The HTTP status of a connector error, if it has one. */
export function connectorStatus(err: unknown): number | undefined {
  const e = err as { statusCode?: unknown; response?: { status?: unknown } } | null;
  const status = e?.statusCode ?? e?.response?.status;
  return typeof status === 'number' ? status : undefined;
}

/** A connector answer saying the bot can no longer post there (removed from the team, chat deleted). */
export function isGone(err: unknown): boolean {
  const status = connectorStatus(err);
  return status === 403 || status === 404;
}

export class Outbound {
  constructor(
    private readonly adapter: CloudAdapter,
    /** The Microsoft app id, '' without authentication (the Emulator). */
    private readonly botAppId: string,
    /** Where messages may go (default: anywhere, for tests of this class alone). */
    private readonly serviceUrls?: ServiceUrlPolicy,
  ) {}

  private check(reference: Partial<ConversationReference>): void {
    if (this.serviceUrls && !this.serviceUrls.allows(reference.serviceUrl)) {
      throw new Error(
        `refused to send to serviceUrl ${JSON.stringify(reference.serviceUrl)}: not a Bot Framework service`,
      );
    }
  }

  private async withConnector<T>(
    reference: Partial<ConversationReference>,
    work: (connector: Connector, context: TurnContext) => Promise<T>,
  ): Promise<T> {
    this.check(reference);
    let result: { value: T } | { error: unknown } | undefined;
    await this.adapter.continueConversationAsync(this.botAppId, reference, async (context) => {
      try {
        const connector = context.turnState.get<Connector>(context.adapter.ConnectorClientKey);
        result = { value: await work(connector, context) };
      } catch (error) {
        result = { error };
      }
    });
    if (!result) throw new Error('the proactive turn did not run');
    if ('error' in result) throw result.error;
    return result.value;
  }

  private outgoing(reference: Partial<ConversationReference>, activity: OutgoingActivity): Partial<Activity> {
    return {
      ...activity,
      channelId: reference.channelId,
      serviceUrl: reference.serviceUrl,
      conversation: reference.conversation,
      ...(reference.bot ? { from: reference.bot } : {}),
      ...(reference.user ? { recipient: reference.user } : {}),
    } as Partial<Activity>;
  }

  /** A new message in the conversation; returns its activity id. */
  async send(reference: Partial<ConversationReference>, activity: OutgoingActivity): Promise<string> {
    return this.withConnector(reference, async (c) => {
      const res = await c.conversations.sendToConversation(
        reference.conversation!.id,
        this.outgoing(reference, activity),
      );
      if (!res?.id) throw new Error('the connector answered without an activity id');
      return res.id;
    });
  }

  /** A reply to `replyToId` (in a channel: in its thread); returns the reply's activity id. */
  async reply(
    reference: Partial<ConversationReference>,
    replyToId: string,
    activity: OutgoingActivity,
  ): Promise<string> {
    return this.withConnector(reference, async (c) => {
      const res = await c.conversations.replyToActivity(
        reference.conversation!.id,
        replyToId,
        this.outgoing(reference, { ...activity, replyToId }),
      );
      return res?.id ?? '';
    });
  }

  /** Replaces the message `activityId` (a card updated in place). */
  async update(
    reference: Partial<ConversationReference>,
    activityId: string,
    activity: OutgoingActivity,
  ): Promise<void> {
    await this.withConnector(reference, async (c) => {
      await c.conversations.updateActivity(
        reference.conversation!.id,
        activityId,
        this.outgoing(reference, { ...activity, id: activityId }),
      );
    });
  }

  /**
   * Starts a new thread in a Teams channel with `activity` as its first message. Returns the thread's
   * conversation id (`<channel>;messageid=<id>`) and the message's activity id.
   */
  async startThread(
    reference: Partial<ConversationReference>,
    teamsChannelId: string,
    tenantId: string | undefined,
    activity: OutgoingActivity,
  ): Promise<{ conversationId: string; activityId: string }> {
    this.check(reference);
    let created: { conversationId: string; activityId: string } | undefined;
    let failure: unknown;
    await this.adapter.createConversationAsync(
      this.botAppId,
      reference.channelId ?? 'msteams',
      reference.serviceUrl!,
      undefined as unknown as string, // the audience: botbuilder's default (the Bot Framework's OAuth scope)
      {
        isGroup: true,
        bot: reference.bot as NonNullable<ConversationReference['bot']>,
        channelData: { channel: { id: teamsChannelId }, ...(tenantId ? { tenant: { id: tenantId } } : {}) },
        activity: this.outgoing(reference, activity) as Activity,
        ...(tenantId ? { tenantId } : {}),
      } as Parameters<CloudAdapter['createConversationAsync']>[4],
      async (context) => {
        try {
          const conversationId = context.activity.conversation.id;
          const match = /;messageid=(.+)$/.exec(conversationId);
          const activityId = match?.[1] ?? context.activity.id;
          if (!conversationId || !activityId) throw new Error('the connector answered without a conversation id');
          created = { conversationId, activityId };
        } catch (err) {
          failure = err;
        }
      },
    );
    if (failure) throw failure;
    if (!created) throw new Error('the create-conversation turn did not run');
    return created;
  }
}
