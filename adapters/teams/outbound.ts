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
 *
 * No blind replay (issue 12). The connector client botbuilder builds retries a failed request by itself
 * (up to 3 times on a network error, 408 or 5xx). Creating an activity is not idempotent and the Bot
 * Framework takes no idempotency key, so a 5xx after the connector had accepted the activity would show it
 * two or three times. For the three calls that create something (send, reply, thread) that retry is
 * removed from the client's pipeline; only throttling (429, or 503 with Retry-After: not processed) is
 * waited out and sent again. Any other failure reaches the caller, which knows whether the outcome is
 * unknown (`isAmbiguous`) and decides (adapters/teams/alerts.ts). Updates (PUT) keep botbuilder's retries:
 * replacing a card twice is harmless.
 */
import type { Activity, CloudAdapter, ConversationReference, TurnContext } from 'botbuilder';
import type { ServiceUrlPolicy } from './service-url';

/** The part of botframework-connector's ConnectorClient used here. */
interface Connector {
  conversations: {
    createConversation(parameters: Record<string, unknown>): Promise<{ id?: string; activityId?: string }>;
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

/**
 * A failure after which the connector may have created the activity anyway: no HTTP answer (a network error,
 * a timeout), 408 or 5xx. A 4xx answer (403 gone, 400 refused, 429 after its waits) created nothing.
 */
export function isAmbiguous(err: unknown): boolean {
  const status = connectorStatus(err);
  return status === undefined || status === 408 || status >= 500;
}

/** The part of @azure/core-rest-pipeline's Pipeline used here (the connector client's `client.pipeline`). */
interface PipelineLike {
  removePolicy(options: { name?: string }): unknown;
  addPolicy(policy: PolicyLike, options?: { phase?: 'Retry' }): void;
}
interface PolicyLike {
  name: string;
  sendRequest(
    request: unknown,
    next: (request: unknown) => Promise<{ status: number; headers: { get(name: string): string | undefined } }>,
  ): Promise<{ status: number; headers: { get(name: string): string | undefined } }>;
}

/** Throttling only: 429 (or 503 with Retry-After), which the service did not process, waited out, 3 times at most. */
const THROTTLING_ONLY: PolicyLike = {
  name: 'sentinelThrottlingOnly',
  async sendRequest(request, next) {
    for (let attempt = 1; ; attempt++) {
      const response = await next(request);
      const retryAfter = response.headers.get('retry-after');
      const throttled = response.status === 429 || (response.status === 503 && retryAfter !== undefined);
      if (!throttled || attempt > 3) return response;
      const seconds = Number(retryAfter);
      const ms = Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 1000 * 2 ** attempt;
      await new Promise((r) => setTimeout(r, Math.min(ms, 60_000)));
    }
  },
};

/** Takes botbuilder's replaying retry out of a connector client (a new one per proactive turn). */
function withoutReplay(connector: Connector): Connector {
  const pipeline = (connector as unknown as { client?: { pipeline?: PipelineLike } }).client?.pipeline;
  if (pipeline) {
    pipeline.removePolicy({ name: 'defaultRetryPolicy' });
    pipeline.removePolicy({ name: THROTTLING_ONLY.name });
    pipeline.addPolicy(THROTTLING_ONLY, { phase: 'Retry' });
  }
  return connector;
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
      const res = await withoutReplay(c).conversations.sendToConversation(
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
      const res = await withoutReplay(c).conversations.replyToActivity(
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
    // POST /v3/conversations through the stored conversation's connector (the same serviceUrl), as
    // CloudAdapter.createConversationAsync does, without its replaying retry.
    return this.withConnector(reference, async (c) => {
      const res = await withoutReplay(c).conversations.createConversation({
        isGroup: true,
        bot: reference.bot,
        channelData: { channel: { id: teamsChannelId }, ...(tenantId ? { tenant: { id: tenantId } } : {}) },
        activity: this.outgoing(reference, activity),
        ...(tenantId ? { tenantId } : {}),
      });
      const conversationId = res?.id;
      const activityId = /;messageid=(.+)$/.exec(conversationId ?? '')?.[1] ?? res?.activityId;
      if (!conversationId || !activityId) throw new Error('the connector answered without a conversation id');
      return { conversationId, activityId };
    });
  }
}
