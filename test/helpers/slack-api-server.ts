/**
 * A recording Slack Web API on loopback, for contract tests of the Slack adapter through the real
 * @slack/web-api WebClient (Bolt's `clientOptions.slackApiUrl` = `apiUrl`).
 *
 * - Methods: POST /api/<method> with Slack's form (or JSON) bodies and `Authorization: Bearer <token>`
 *   (a wrong token: `{ok: false, error: "invalid_auth"}`). Answered: auth.test, chat.postMessage,
 *   chat.update, chat.postEphemeral, files.getUploadURLExternal, files.completeUploadExternal,
 *   reactions.get; the upload URL it hands out (POST /upload/<file id>, multipart as the WebClient sends
 *   it); response URLs (POST /response/<id>, JSON, as Bolt's `respond` sends it); anything else
 *   `unknown_method`.
 * - State: messages by `channel/ts` (text, blocks, thread, edits, metadata), files, reactions (set by the
 *   test, read by reactions.get). Channel names (#alerts) become ids (CALERTS). `ts` are Slack's: the wall
 *   clock in seconds with six decimals, unique and increasing.
 * - Message metadata as Slack documents it: `metadata` must be an object with `event_type` and an object
 *   `event_payload` (else `invalid_metadata_format`); an `event_type` with anything but letters, digits, `_`
 *   and `-` is answered `ok` with the warning `invalid_metadata_schema` and not kept. conversations.history
 *   (a channel's top-level messages and thread broadcasts, newest first) and conversations.replies (a
 *   thread: its parent, then its replies and file shares, oldest first) take `oldest` / `latest` /
 *   `inclusive` / `limit` / `cursor` and return a message's metadata only with `include_all_metadata`.
 *   Both need a channel id (a #name is `channel_not_found`), the bot's membership (`joined`, else
 *   `not_in_channel`) and the `channels:history` (C…) or `groups:history` (G…) scope, read from the bot
 *   scopes of adapters/slack/manifest.yml (`scopes`; else `missing_scope`).
 * - files.completeUploadExternal shares the file as Slack does: a message carrying `files` (id, name,
 *   title) in the channel or thread, kept in `fileMessages` and listed by conversations.replies.
 * - Faults on demand, consumed one per call of that method in order: `{ status: 429, retryAfter }`
 *   (with `Retry-After`), `{ status: 500 }` (or 502, 503), `{ error: "channel_not_found" }` (an `ok: false`
 *   answer), `{ pass: true }` (answered normally), `{ status: 500, processed: true }` (the method runs, as
 *   when Slack did the work and the answer was lost, then the failure is answered).
 * - Every call is recorded, failed ones included: method, arguments (JSON fields decoded), status, time.
 *   `onCall` (if set) sees each call once it is answered; `beforeAnswer` (if set) is awaited after the
 *   method ran and before its answer is written (a test kills the client there: the work is done at
 *   Slack, the client never hears of it). With `clientTags` on, paths prefixed
 *   `/as/<tag>/` are accepted (SLACK_API_URL=http://127.0.0.1:PORT/as/replica-1/api/) and the tag is
 *   recorded as the call's `client`, to tell several clients apart.
 * - Socket Mode: apps.connections.open (with the app-level token `appToken`) hands out a ws:// URL on this
 *   server; the WebSocket (RFC 6455, written here: text frames, ping/pong, close) says `hello`, and
 *   `sendEnvelope` delivers an envelope as Slack does (`events_api`, `slash_commands`, `interactive`);
 *   the app's acks (`{envelope_id, payload}`) land in `socketAcks`.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseForm } from 'node:querystring';

export interface SlackCall {
  method: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  args: Record<string, any>;
  token?: string;
  /** HTTP status answered. */
  status: number;
  /** The `ok` answered (false for Slack errors and faults). */
  ok: boolean;
  error?: string;
  at: number;
  /** With `clientTags`: the tag of an `/as/<tag>/` path. */
  client?: string;
}

export interface SlackMessage {
  channel: string;
  ts: string;
  text?: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  blocks?: any[];
  thread_ts?: string;
  reply_broadcast?: boolean;
  edits: number;
  /** As kept by Slack: `{ event_type, event_payload }`. */
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  /** A file share (files.completeUploadExternal): the files shared. */
  files?: Array<{ id: string; name: string; title?: string }>;
}

/** `pass`: this call is answered normally (to let some calls through before a fault). */
export type SlackFault =
  | { status: 429; retryAfter: number }
  | { status: 500 | 502 | 503; processed?: true }
  | { error: string }
  | { pass: true };

export class SlackApiServer {
  readonly calls: SlackCall[] = [];
  readonly responses: Array<{ id: string; body: Record<string, unknown>; at: number }> = [];
  readonly uploads: Array<{ fileId: string; bytes: number; png: boolean }> = [];
  readonly files = new Map<
    string,
    { filename: string; length: number; completed?: { channel: string; thread_ts?: string; title?: string } }
  >();
  readonly messages = new Map<string, SlackMessage>();
  /** File shares (files.completeUploadExternal), by `channel/ts`: listed by conversations.replies / history. */
  readonly fileMessages = new Map<string, SlackMessage>();
  /** The bot token's scopes: those adapters/slack/manifest.yml asks for (tests may change them). */
  readonly scopes = new Set<string>(manifestBotScopes());
  readonly reactions = new Map<string, Array<{ name: string; users: string[] }>>();
  readonly socketAcks: Array<{ envelope_id: string; payload?: Record<string, unknown> }> = [];
  private readonly sockets = new Set<Socket>();
  readonly appToken = 'xapp-1-ASENTINEL-1-test';
  private readonly faults = new Map<string, SlackFault[]>();
  /** The workspace's public channels, name → id (conversations.list / join); `addChannel` adds more. */
  readonly publicChannels = new Map<string, string>([
    ['alerts', 'CALERTS'],
    ['general', 'CGENERAL'],
  ]);
  /** Channel ids that are private: conversations.join refuses them. */
  readonly privateChannels = new Set<string>();
  /** Channels the bot joined. */
  readonly joined = new Set<string>();
  /** Accept `/as/<tag>/…` paths and record the tag as the call's `client` (off: such paths are 404). */
  clientTags = false;
  /** Called with each Web API call once its answer is written. */
  onCall?: (call: SlackCall) => void;
  /** Awaited after a Web API method ran, before its answer is written. */
  beforeAnswer?: (call: SlackCall) => void | Promise<void>;
  /** The last ts handed out, in microseconds. */
  private lastTsMicros = 0;
  private fileSeq = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly token: string,
    readonly bot: { userId: string; botId: string; teamId: string },
  ) {}

  static async start(token = 'xoxb-test-token'): Promise<SlackApiServer> {
    const holder: { api?: SlackApiServer } = {};
    const server = createServer((req, res) => {
      void holder.api!.handle(req, res).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
    server.on('upgrade', (req: IncomingMessage, socket: Socket) => holder.api!.upgrade(req, socket));
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const { port } = server.address() as AddressInfo;
    holder.api = new SlackApiServer(server, `http://127.0.0.1:${port}/`, token, {
      userId: 'UBOT',
      botId: 'BBOT',
      teamId: 'TPARADIS',
    });
    return holder.api;
  }

  /** What to give the WebClient as `slackApiUrl`. */
  get apiUrl(): string {
    return `${this.url}api/`;
  }

  /** A response_url for a command or an interaction; what is posted to it lands in `responses`. */
  responseUrl(id: string): string {
    return `${this.url}response/${id}`;
  }

  /** The next call(s) of `method` fail this way, in order. */
  fail(method: string, ...faults: SlackFault[]): void {
    this.faults.set(method, [...(this.faults.get(method) ?? []), ...faults]);
  }

  /** Successful calls of `method`. */
  ok(method: string): SlackCall[] {
    return this.calls.filter((c) => c.method === method && c.ok);
  }

  /** Channel id for a name: `#alerts` → `CALERTS`; ids pass through. */
  channelId(channel: string): string {
    return channel.startsWith('#')
      ? `C${channel
          .slice(1)
          .toUpperCase()
          .replace(/[^A-Z0-9]/g, '')}`
      : channel;
  }

  /** A channel of the workspace (public: listed and joinable; private: neither). */
  addChannel(name: string, id: string, opts: { private?: boolean } = {}): void {
    if (opts.private) this.privateChannels.add(id);
    else this.publicChannels.set(name, id);
  }

  /** Resolves when `predicate` holds (polled), or rejects after `ms`. */
  async waitFor(what: string, predicate: () => boolean, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!predicate()) {
      if (Date.now() > end)
        throw new Error(`timed out waiting for ${what}; calls: ${this.calls.map((c) => c.method).join(', ')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  reset(): void {
    this.calls.length = 0;
    this.responses.length = 0;
    this.uploads.length = 0;
    this.faults.clear();
  }

  /** Number of open Socket Mode connections. */
  get socketConnections(): number {
    return this.sockets.size;
  }

  /** Delivers an envelope on every open Socket Mode connection, as Slack does. */
  sendEnvelope(envelope: { envelope_id: string; type: string; payload: unknown; retry_attempt?: number }): void {
    const message = {
      accepts_response_payload: envelope.type !== 'events_api',
      retry_attempt: 0,
      retry_reason: '',
      ...envelope,
    };
    for (const socket of this.sockets) socket.write(frame(0x1, Buffer.from(JSON.stringify(message))));
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    return new Promise((ok) => this.server.close(() => ok()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    let path = (req.url ?? '').split('?')[0];
    const tagged = this.clientTags ? /^\/as\/([^/]+)(\/.*)$/.exec(path) : null;
    if (tagged) path = tagged[2];

    if (path.startsWith('/upload/')) {
      const fileId = path.slice('/upload/'.length);
      const png = raw.includes(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      this.uploads.push({ fileId, bytes: raw.length, png });
      res.writeHead(this.files.has(fileId) ? 200 : 404, { 'content-type': 'text/plain' });
      res.end(`OK - ${raw.length}`);
      return;
    }
    if (path.startsWith('/response/')) {
      this.responses.push({
        id: path.slice('/response/'.length),
        body: JSON.parse(raw.toString() || '{}'),
        at: Date.now(),
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
      return;
    }
    if (!path.startsWith('/api/')) {
      res.writeHead(404);
      res.end();
      return;
    }

    const method = path.slice('/api/'.length);
    const args = this.parseArgs(raw.toString(), String(req.headers['content-type'] ?? ''));
    const auth = String(req.headers.authorization ?? '');
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : typeof args.token === 'string' ? args.token : undefined;
    const call: SlackCall = {
      method,
      args,
      status: 200,
      ok: true,
      at: Date.now(),
      ...(token ? { token } : {}),
      ...(tagged ? { client: decodeURIComponent(tagged[1]) } : {}),
    };
    this.calls.push(call);

    const next = this.faults.get(method)?.shift();
    const fault = next && 'pass' in next ? undefined : next;
    if (fault && 'status' in fault) {
      if ('processed' in fault && fault.processed) this.answer(method, args); // done at Slack, answer lost
      call.status = fault.status;
      call.ok = false;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (fault.status === 429) headers['retry-after'] = String(fault.retryAfter);
      res.writeHead(fault.status, headers);
      res.end(JSON.stringify({ ok: false, error: fault.status === 429 ? 'ratelimited' : 'internal_error' }));
      this.onCall?.(call);
      return;
    }
    const expected = method === 'apps.connections.open' ? this.appToken : this.token;
    const answer = fault
      ? { ok: false, error: fault.error }
      : token !== expected
        ? { ok: false, error: 'invalid_auth' }
        : this.answer(method, args);
    if (answer.ok === false) {
      call.ok = false;
      call.error = String(answer.error);
    }
    await this.beforeAnswer?.(call);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer));
    this.onCall?.(call);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private parseArgs(raw: string, contentType: string): Record<string, any> {
    if (contentType.startsWith('application/json')) return raw ? JSON.parse(raw) : {};
    const form = parseForm(raw) as Record<string, string>;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const out: Record<string, any> = {};
    for (const [k, v] of Object.entries(form)) {
      if (typeof v === 'string' && /^[[{]/.test(v)) {
        try {
          out[k] = JSON.parse(v);
          continue;
        } catch {
          // not JSON: keep the text
        }
      }
      out[k] = v;
    }
    return out;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private answer(method: string, args: Record<string, any>): Record<string, unknown> {
    switch (method) {
      case 'apps.connections.open':
        return { ok: true, url: `${this.url.replace('http:', 'ws:')}socket/link?ticket=${this.nextTs()}` };
      case 'auth.test':
        return {
          ok: true,
          url: 'https://airparadis.slack.com/',
          team: 'Air Paradis',
          user: 'sentinel',
          team_id: this.bot.teamId,
          user_id: this.bot.userId,
          bot_id: this.bot.botId,
        };
      case 'chat.postMessage': {
        if (!args.channel) return { ok: false, error: 'channel_not_found' };
        if (!args.text && !args.blocks) return { ok: false, error: 'no_text' };
        const metadata = checkMetadata(args.metadata);
        if ('error' in metadata) return { ok: false, error: metadata.error };
        const channel = this.channelId(String(args.channel));
        const ts = this.nextTs();
        const message: SlackMessage = {
          channel,
          ts,
          text: args.text,
          blocks: args.blocks,
          edits: 0,
          ...(args.thread_ts ? { thread_ts: String(args.thread_ts) } : {}),
          ...(args.reply_broadcast === 'true' || args.reply_broadcast === true ? { reply_broadcast: true } : {}),
          ...(metadata.keep ? { metadata: metadata.keep } : {}),
        };
        this.messages.set(`${channel}/${ts}`, message);
        return {
          ok: true,
          channel,
          ts,
          message: {
            type: 'message',
            text: args.text,
            ts,
            bot_id: this.bot.botId,
            ...(metadata.keep ? { metadata: metadata.keep } : {}),
          },
          ...('warning' in metadata ? { warning: metadata.warning } : {}),
        };
      }
      case 'chat.update': {
        const key = `${args.channel}/${args.ts}`;
        const message = this.messages.get(key);
        if (!message) return { ok: false, error: 'message_not_found' };
        const metadata = checkMetadata(args.metadata);
        if ('error' in metadata) return { ok: false, error: metadata.error };
        message.text = args.text;
        message.blocks = args.blocks;
        if (metadata.keep) message.metadata = metadata.keep; // without `metadata`, what was there stays
        message.edits++;
        return { ok: true, channel: args.channel, ts: args.ts, text: args.text };
      }
      case 'chat.postEphemeral':
        if (!args.channel || !args.user) return { ok: false, error: 'channel_not_found' };
        return { ok: true, message_ts: this.nextTs() };
      case 'files.getUploadURLExternal': {
        const length = Number(args.length);
        if (!args.filename || !Number.isFinite(length) || length <= 0) return { ok: false, error: 'invalid_arguments' };
        const fileId = `F${String(++this.fileSeq).padStart(8, '0')}`;
        this.files.set(fileId, { filename: String(args.filename), length });
        return { ok: true, upload_url: `${this.url}upload/${fileId}`, file_id: fileId };
      }
      case 'files.completeUploadExternal': {
        const files = (Array.isArray(args.files) ? args.files : []) as Array<{ id: string; title?: string }>;
        for (const f of files) {
          const file = this.files.get(f.id);
          if (!file || !this.uploads.some((u) => u.fileId === f.id)) return { ok: false, error: 'file_not_found' };
          file.completed = {
            channel: String(args.channel_id),
            ...(args.thread_ts ? { thread_ts: String(args.thread_ts) } : {}),
            ...(f.title ? { title: f.title } : {}),
          };
        }
        if (files.length && args.channel_id) {
          // Shared as Slack does: a message with the files, in the channel or the thread.
          const channel = this.channelId(String(args.channel_id));
          const ts = this.nextTs();
          this.fileMessages.set(`${channel}/${ts}`, {
            channel,
            ts,
            text: typeof args.initial_comment === 'string' ? args.initial_comment : '',
            edits: 0,
            ...(args.thread_ts ? { thread_ts: String(args.thread_ts) } : {}),
            files: files.map((f) => ({
              id: f.id,
              name: this.files.get(f.id)!.filename,
              ...(f.title ? { title: f.title } : {}),
            })),
          });
        }
        return { ok: true, files: files.map((f) => ({ id: f.id, title: f.title })) };
      }
      case 'reactions.get': {
        const reactions = this.reactions.get(`${args.channel}/${args.timestamp}`) ?? [];
        return {
          ok: true,
          type: 'message',
          channel: args.channel,
          message: {
            type: 'message',
            ts: args.timestamp,
            reactions: reactions.map((r) => ({ ...r, count: r.users.length })),
          },
        };
      }
      case 'conversations.list': {
        // Public channels only (types=public_channel is what Sentinel asks for), as Slack pages them.
        if (args.types !== undefined && args.types !== 'public_channel') return { ok: false, error: 'invalid_types' };
        const channels = [...this.publicChannels].map(([name, id]) => ({
          id,
          name,
          is_channel: true,
          is_private: false,
        }));
        return { ok: true, channels, response_metadata: { next_cursor: '' } };
      }
      case 'conversations.join': {
        if (!args.channel) return { ok: false, error: 'channel_not_found' };
        const id = String(args.channel);
        // Slack answers private channels this way: only an invitation lets a bot in.
        if (this.privateChannels.has(id)) return { ok: false, error: 'method_not_supported_for_channel_type' };
        const name = [...this.publicChannels].find(([, c]) => c === id)?.[0];
        if (!name) return { ok: false, error: 'channel_not_found' };
        this.joined.add(id);
        return { ok: true, channel: { id, name, is_channel: true, is_member: true } };
      }
      case 'conversations.history': {
        const refused = this.historyRefusal(args);
        if (refused) return refused;
        const channel = String(args.channel);
        const top = [...this.messages.values(), ...this.fileMessages.values()]
          .filter((m) => m.channel === channel && (!m.thread_ts || m.thread_ts === m.ts || m.reply_broadcast))
          .sort((a, b) => b.ts.localeCompare(a.ts));
        return { ok: true, ...this.page(top, args), pin_count: 0 };
      }
      case 'conversations.replies': {
        const refused = this.historyRefusal(args);
        if (refused) return refused;
        const thread = this.threadOf(String(args.channel), String(args.ts ?? ''));
        if (!thread.length) return { ok: false, error: 'thread_not_found' };
        return { ok: true, ...this.page(thread, args, true) };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  private upgrade(req: IncomingMessage, socket: Socket): void {
    const key = req.headers['sec-websocket-key'];
    if (!String(req.url).startsWith('/socket/') || typeof key !== 'string') {
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => this.sockets.delete(socket));
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const parsed = parseFrame(buffer);
        if (!parsed) break;
        buffer = buffer.subarray(parsed.size);
        if (parsed.opcode === 0x8) {
          socket.end(frame(0x8, Buffer.alloc(0)));
          this.sockets.delete(socket);
        } else if (parsed.opcode === 0x9) {
          socket.write(frame(0xa, parsed.payload));
        } else if (parsed.opcode === 0x1) {
          const message = JSON.parse(parsed.payload.toString()) as {
            envelope_id: string;
            payload?: Record<string, unknown>;
          };
          this.socketAcks.push(message);
        }
      }
    });
    socket.write(
      frame(
        0x1,
        Buffer.from(JSON.stringify({ type: 'hello', num_connections: 1, connection_info: { app_id: 'ASENTINEL' } })),
      ),
    );
  }

  /** A message ts as Slack makes them: the wall clock in seconds, six decimals, unique and increasing. */
  private nextTs(): string {
    this.lastTsMicros = Math.max(Date.now() * 1000, this.lastTsMicros + 1);
    return `${Math.floor(this.lastTsMicros / 1e6)}.${String(this.lastTsMicros % 1e6).padStart(6, '0')}`;
  }

  /** A message as conversations.history / conversations.replies show it. */
  private shown(m: SlackMessage, withMetadata: boolean): Record<string, unknown> {
    const replies = m.thread_ts === undefined ? this.threadOf(m.channel, m.ts).length - 1 : 0;
    return {
      type: 'message',
      ...(m.reply_broadcast ? { subtype: 'thread_broadcast' } : {}),
      ts: m.ts,
      text: m.text ?? '',
      user: this.bot.userId,
      bot_id: this.bot.botId,
      app_id: 'ASENTINEL',
      ...(m.blocks ? { blocks: m.blocks } : {}),
      ...(m.thread_ts ? { thread_ts: m.thread_ts } : replies > 0 ? { thread_ts: m.ts, reply_count: replies } : {}),
      ...(m.files
        ? { files: m.files.map((f) => ({ ...f, mimetype: 'image/png', filetype: 'png' })), upload: true }
        : {}),
      ...(withMetadata && m.metadata ? { metadata: m.metadata } : {}),
    };
  }

  /** A thread: its parent, then every reply and file share in it, oldest first. */
  private threadOf(channel: string, ts: string): SlackMessage[] {
    const parent = this.messages.get(`${channel}/${ts}`);
    if (!parent) return [];
    const replies = [...this.messages.values(), ...this.fileMessages.values()].filter(
      (m) => m.channel === channel && m.thread_ts === ts && m.ts !== ts,
    );
    return [parent, ...replies.sort((a, b) => a.ts.localeCompare(b.ts))];
  }

  /** Why the bot may not read `channel`'s history, or null. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private historyRefusal(args: Record<string, any>): Record<string, unknown> | null {
    const channel = typeof args.channel === 'string' ? args.channel : '';
    if (!/^[CGD][A-Z0-9]{2,}$/.test(channel)) return { ok: false, error: 'channel_not_found' };
    const needed = channel.startsWith('G')
      ? 'groups:history'
      : channel.startsWith('D')
        ? 'im:history'
        : 'channels:history';
    if (!this.scopes.has(needed)) {
      return { ok: false, error: 'missing_scope', needed, provided: [...this.scopes].join(',') };
    }
    if (!channel.startsWith('D') && !this.joined.has(channel)) return { ok: false, error: 'not_in_channel' };
    return null;
  }

  /** One page of `messages` (in the order given) within oldest / latest, after the cursor. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private page(messages: SlackMessage[], args: Record<string, any>, keepFirst = false) {
    const inclusive = args.inclusive === true || args.inclusive === 'true' || args.inclusive === '1';
    const oldest = Number(args.oldest ?? 0);
    const latest = args.latest === undefined ? Infinity : Number(args.latest);
    const within = (m: SlackMessage) => {
      const t = Number(m.ts);
      return (inclusive ? t >= oldest : t > oldest) && (inclusive ? t <= latest : t < latest);
    };
    let list = messages.filter((m, i) => (keepFirst && i === 0) || within(m));
    if (typeof args.cursor === 'string' && args.cursor) {
      const after = Buffer.from(args.cursor, 'base64').toString().replace(/^ts:/, '');
      const at = list.findIndex((m) => m.ts === after);
      list = at >= 0 ? list.slice(at + 1) : [];
    }
    const limit = Math.min(999, Math.max(1, Number(args.limit ?? 100) || 100));
    const shown = list.slice(0, limit);
    const more = list.length > limit;
    return {
      messages: shown.map((m) =>
        this.shown(m, args.include_all_metadata === true || args.include_all_metadata === 'true'),
      ),
      has_more: more,
      response_metadata: {
        next_cursor: more ? Buffer.from(`ts:${shown[shown.length - 1].ts}`).toString('base64') : '',
      },
    };
  }
}

/** The bot scopes adapters/slack/manifest.yml asks for (the `oauth_config.scopes.bot` list). */
function manifestBotScopes(): string[] {
  const text = readFileSync(resolve(__dirname, '../../adapters/slack/manifest.yml'), 'utf8');
  const block = /\n {4}bot:\n((?: {6}- .*\n)+)/.exec(text)?.[1] ?? '';
  return [...block.matchAll(/^ {6}- ([\w:.]+)/gm)].map((m) => m[1]);
}

/**
 * A `metadata` argument checked as Slack does: the metadata to keep, null when there is none, or the
 * error / warning to answer.
 */
function checkMetadata(
  raw: unknown,
): { keep: SlackMessage['metadata'] | null } | { error: string } | { warning: string; keep: null } {
  if (raw === undefined || raw === '') return { keep: null };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { error: 'invalid_metadata_format' };
  const m = raw as { event_type?: unknown; event_payload?: unknown };
  if (typeof m.event_type !== 'string' || typeof m.event_payload !== 'object' || m.event_payload === null) {
    return { error: 'invalid_metadata_format' };
  }
  if (Array.isArray(m.event_payload)) return { error: 'invalid_metadata_format' };
  if (!/^[A-Za-z0-9_-]+$/.test(m.event_type)) return { warning: 'invalid_metadata_schema', keep: null };
  return { keep: { event_type: m.event_type, event_payload: m.event_payload as Record<string, unknown> } };
}

/** One unmasked WebSocket frame from the server (FIN set). */
function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head =
    len < 126
      ? Buffer.from([0x80 | opcode, len])
      : len < 65536
        ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 127]), bigLength(len)]);
  return Buffer.concat([head, payload]);
}

function bigLength(len: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(len));
  return b;
}

/** A whole (masked, client-to-server) frame at the start of `buf`, or null if it has not fully arrived. */
function parseFrame(buf: Buffer): { opcode: number; payload: Buffer; size: number } | null {
  if (buf.length < 2) return null;
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let offset = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    offset = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    len = Number(buf.readBigUInt64BE(2));
    offset = 10;
  }
  const maskOffset = offset;
  if (masked) offset += 4;
  if (buf.length < offset + len) return null;
  const payload = Buffer.from(buf.subarray(offset, offset + len));
  if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[maskOffset + (i % 4)];
  return { opcode, payload, size: offset + len };
}
