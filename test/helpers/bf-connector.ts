/**
 * A recording Bot Framework connector on loopback: what a bot's `serviceUrl` points at. It answers the
 * Connector REST API calls a bot makes as Teams does and keeps every request for the test to read:
 *
 *   POST /v3/conversations                                  create a conversation (a new channel thread):
 *                                                           { id: "<channel>;messageid=<id>", activityId }
 *   POST /v3/conversations/:conversationId/activities        send to the conversation: { id }
 *   POST /v3/conversations/:conversationId/activities/:id    reply to an activity: { id }
 *   PUT  /v3/conversations/:conversationId/activities/:id    update an activity: { id }
 *
 * Ids are numeric strings like Teams' (milliseconds-ish, increasing). `failNext(n, status)` makes the next
 * n calls fail with `status` (Teams' error body), e.g. 403 for a bot removed from the team; `after` lets that
 * many calls through first, `retryAfter` adds a Retry-After header (seconds), as Teams throttles.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedCall {
  method: string;
  path: string;
  /** The decoded conversation id of the path (none for POST /v3/conversations). */
  conversationId?: string;
  /** The activity id in the path (reply to / update). */
  activityId?: string;
  kind: 'create' | 'send' | 'reply' | 'update' | 'other';
  /** The returned id (send, reply, create: the new activity's). */
  id?: string;
  /** The HTTP status answered when the call was made to fail (`failNext`). */
  status?: number;
  authorization?: string;
  body: Record<string, unknown>;
}

export interface BfConnector {
  url: string;
  calls: RecordedCall[];
  /** Calls after index `from` (default all) of the given kind. */
  of(kind: RecordedCall['kind'], from?: number): RecordedCall[];
  /** Resolves when `predicate` holds for the calls (polling), or rejects after `timeoutMs`. */
  waitFor(predicate: (calls: RecordedCall[]) => boolean, timeoutMs?: number): Promise<void>;
  failNext(count: number, status: number, opts?: { after?: number; retryAfter?: number }): void;
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { unparsed: text };
  }
}

export async function startBfConnector(): Promise<BfConnector> {
  const calls: RecordedCall[] = [];
  let next = 1_700_000_000_000;
  let failures: { count: number; status: number; after: number; retryAfter?: number } | null = null;
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readJson(req);
      const path = (req.url ?? '').split('?')[0];
      const method = req.method ?? '';
      const m = /^\/v3\/conversations(?:\/([^/]+)\/activities(?:\/([^/]+))?)?\/?$/.exec(path);
      const call: RecordedCall = {
        method,
        path,
        kind: 'other',
        body,
        ...(typeof req.headers.authorization === 'string' ? { authorization: req.headers.authorization } : {}),
      };
      if (m?.[1]) call.conversationId = decodeURIComponent(m[1]);
      if (m?.[2]) call.activityId = decodeURIComponent(m[2]);
      const answer = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(json));
      };
      if (failures && failures.count > 0 && failures.after > 0) {
        failures.after--;
      } else if (failures && failures.count > 0) {
        failures.count--;
        calls.push(call);
        // Recorded as what it tried to do (a failed send is still a send), with the status answered.
        if (m) call.kind = method === 'POST' ? (!m[1] ? 'create' : m[2] ? 'reply' : 'send') : m[2] ? 'update' : 'other';
        call.status = failures.status;
        const code = failures.status === 403 ? 'BotNotInConversationRoster' : 'ServiceError';
        if (failures.retryAfter !== undefined) res.setHeader('retry-after', String(failures.retryAfter));
        return answer(failures.status, { error: { code, message: `test failure ${failures.status}` } });
      }
      if (!m) {
        calls.push(call);
        return answer(404, { error: { code: 'NotFound', message: `no route ${method} ${path}` } });
      }
      const id = String(++next);
      if (method === 'POST' && !m[1]) {
        call.kind = 'create';
        call.id = id;
        calls.push(call);
        const channel = (body.channelData as { channel?: { id?: string } } | undefined)?.channel?.id;
        return answer(201, { id: channel ? `${channel};messageid=${id}` : `a:created-${id}`, activityId: id });
      }
      if (method === 'POST') {
        call.kind = m[2] ? 'reply' : 'send';
        call.id = id;
        calls.push(call);
        return answer(201, { id });
      }
      if (method === 'PUT' && m[2]) {
        call.kind = 'update';
        calls.push(call);
        return answer(200, { id: m[2] });
      }
      calls.push(call);
      return answer(405, { error: { code: 'MethodNotAllowed', message: `${method} ${path}` } });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    calls,
    of: (kind, from = 0) => calls.slice(from).filter((c) => c.kind === kind),
    async waitFor(predicate, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      while (!predicate(calls)) {
        if (Date.now() > until) throw new Error(`bf-connector: condition not met in ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    failNext(count, status, opts = {}) {
      failures = {
        count,
        status,
        after: opts.after ?? 0,
        ...(opts.retryAfter !== undefined ? { retryAfter: opts.retryAfter } : {}),
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
