/**
 * A loopback HTTP server speaking the subset of the Google Cloud Storage JSON API that
 * @google-cloud/storage 7 uses for the model registry, for contract tests through the real client
 * (`apiEndpoint: server.url`, GCS_ENDPOINT or STORAGE_EMULATOR_HOST).
 *
 * Honest: real HTTP, objects kept in memory with real checksums (CRC32C computed here by its own table,
 * independent of the client's, and MD5), generations that grow, preconditions evaluated as GCS does.
 *
 * Strict about paths, as GCS is: only the API's real paths are served — `/storage/v1/b/…` (JSON API),
 * `/upload/storage/v1/b/<bucket>/o` (uploads), `/download/storage/v1/b/<bucket>/o/<object>` (media, the
 * objects' `mediaLink`). Anything else (e.g. `/b/<bucket>/o/…` without `/storage/v1`, which the client sends
 * when STORAGE_EMULATOR_HOST is taken verbatim) is a 404 with GCS's JSON error body, never served.
 *
 * - `GET  /storage/v1/b/<bucket>` — the bucket.
 * - `GET  /storage/v1/b/<bucket>/o?prefix=&delimiter=&maxResults=&pageToken=` — list, with `prefixes`
 *   for a delimiter and page tokens.
 * - `GET  /storage/v1/b/<bucket>/o/<object>` — metadata (size, crc32c, md5Hash, generation, …);
 *   `?alt=media` — the bytes, with `x-goog-hash: crc32c=…,md5=…`, `x-goog-generation` and
 *   `x-goog-stored-content-encoding: identity` as GCS sends them (the client validates with them).
 *   `generation=` reads that generation only (404 otherwise).
 * - `POST /upload/storage/v1/b/<bucket>/o?uploadType=multipart&name=` — multipart/related (JSON
 *   metadata, then the media); `uploadType=resumable` starts a session (answer: `Location`), then `PUT`
 *   on the session URL with `Content-Range` (308 + `Range` until the last byte; an empty PUT asks the
 *   status; that is a Content-Range of "bytes &ast;/total"). A crc32c/md5Hash sent by the client is checked against the bytes received (400 if not).
 * - `GET  /download/storage/v1/b/<bucket>/o/<object>?alt=media` — the bytes, as above.
 * - `DELETE /storage/v1/b/<bucket>/o/<object>` — 204.
 * - Preconditions `ifGenerationMatch` (0 = must not exist) / `ifGenerationNotMatch` on reads, uploads
 *   (at the start and at the end of a resumable session, as GCS) and deletes: 412 when they fail.
 * - Object names follow GCS's rules, no more and no less: 1 to 1,024 bytes of UTF-8, no carriage return
 *   or line feed, not `.` or `..`, not under `.well-known/acme-challenge/` — anything else is 400 on
 *   upload and read. Like GCS, a name is a flat string: `a/../b` or `%2e%2e` is a valid name, stored and
 *   served as written, never normalised as a path (what a client does with it is the client's business).
 * - Private buckets: without `Authorization: Bearer <token>` a 401 with GCS's JSON error body.
 * - Faults on demand, each consumed by the first request it matches: `{ status }` (an error answer),
 *   `{ timeout: true }` (never answers), `{ truncate: n }` (media: headers for the whole object, n bytes,
 *   then the socket is destroyed), `{ corrupt: true }` (media: one byte flipped in transit, headers
 *   still describe the stored object).
 * - Every request is recorded (method, path, query, whether it had an Authorization header, status).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

// ---------------------------------------------------------------------------------------------------
// CRC32C (Castagnoli), as GCS reports it: the 4 bytes big-endian, base64.

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

export function crc32cOf(data: Buffer): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export function crc32cBase64(data: Buffer): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc32cOf(data));
  return b.toString('base64');
}

/** Why GCS would refuse `name` as an object name, or null (https://cloud.google.com/storage/docs/objects#naming). */
export function objectNameProblem(name: string): string | null {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes < 1 || bytes > 1024) return `object names are 1 to 1024 bytes of UTF-8 (this one is ${bytes})`;
  if (/[\ud800-\udfff]/u.test(name)) return 'object names must be valid UTF-8 (a lone surrogate is not)';
  if (/[\r\n]/.test(name)) return 'object names cannot contain carriage return or line feed characters';
  if (name === '.' || name === '..') return 'object names cannot be "." or ".."';
  if (name.startsWith('.well-known/acme-challenge/'))
    return 'object names cannot start with ".well-known/acme-challenge/"';
  return null;
}

function md5Base64(data: Buffer): string {
  return createHash('md5').update(data).digest('base64');
}

// ---------------------------------------------------------------------------------------------------

export interface StoredObject {
  name: string;
  data: Buffer;
  generation: string;
  metageneration: string;
  contentType: string;
  crc32c: string;
  md5Hash: string;
  updated: string;
  metadata?: Record<string, string>;
}

export interface FaultMatch {
  method?: string;
  /** Tested against the decoded path, e.g. /weights\.bin/ or /latest\.json/. */
  path?: RegExp;
  /** Only downloads (alt=media). */
  media?: boolean;
}

export type Fault = FaultMatch &
  ({ status: number; message?: string } | { timeout: true } | { truncate: number } | { corrupt: true });

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorized: boolean;
  status?: number | 'timeout' | 'truncated' | 'corrupted';
}

interface Session {
  bucket: string;
  name: string;
  metadata: Record<string, unknown>;
  ifGenerationMatch?: string;
  chunks: Buffer[];
  received: number;
}

export class GcsServer {
  readonly requests: RecordedRequest[] = [];
  private readonly buckets = new Map<string, Map<string, StoredObject>>();
  private readonly privateBuckets = new Map<string, string>();
  private readonly sessions = new Map<string, Session>();
  private faults: Fault[] = [];
  private generation = Date.now() * 1000;
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        if (!res.headersSent) this.error(res, 500, `test server error: ${err.message}`);
        else res.destroy();
      });
    });
    // Google's front ends keep an idle connection for 610 s; Node's 5 s default would close sockets the
    // client's keep-alive agent is about to reuse, an ECONNRESET the real service does not cause.
    this.server.keepAliveTimeout = 610_000;
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // --- state -------------------------------------------------------------------------------------

  bucket(name: string): Map<string, StoredObject> {
    let b = this.buckets.get(name);
    if (!b) this.buckets.set(name, (b = new Map()));
    return b;
  }

  /** Requests to `bucket` need `Authorization: Bearer <token>`. */
  makePrivate(bucket: string, token: string): void {
    this.privateBuckets.set(bucket, token);
  }

  makePublic(bucket: string): void {
    this.privateBuckets.delete(bucket);
  }

  /** Stores an object as an upload would (new generation, honest checksums). */
  put(bucket: string, name: string, data: Buffer | string, contentType = 'application/octet-stream'): StoredObject {
    const problem = objectNameProblem(name);
    if (problem) throw new Error(`GCS would refuse the object name ${JSON.stringify(name)}: ${problem}`);
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data);
    const obj: StoredObject = {
      name,
      data: bytes,
      generation: String(++this.generation),
      metageneration: '1',
      contentType,
      crc32c: crc32cBase64(bytes),
      md5Hash: md5Base64(bytes),
      updated: new Date().toISOString(),
    };
    this.bucket(bucket).set(name, obj);
    return obj;
  }

  get(bucket: string, name: string): StoredObject | undefined {
    return this.buckets.get(bucket)?.get(name);
  }

  delete(bucket: string, name: string): void {
    this.buckets.get(bucket)?.delete(name);
  }

  names(bucket: string): string[] {
    return [...this.bucket(bucket).keys()].sort();
  }

  /** Faults are consumed in order, each by the first request it matches. */
  fault(...faults: Fault[]): void {
    this.faults.push(...faults);
  }

  clearFaults(): void {
    this.faults = [];
  }

  pendingFaults(): number {
    return this.faults.length;
  }

  // --- HTTP --------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(u.searchParams);
    // The client sends object names percent-encoded as one path segment.
    let path = u.pathname;
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: safeDecode(path),
      query,
      authorized: typeof req.headers.authorization === 'string',
    };
    this.requests.push(record);
    res.on('finish', () => (record.status ??= res.statusCode));

    const body = await readBody(req);

    const isMedia = query.alt === 'media';
    const faultIndex = this.faults.findIndex(
      (f) =>
        (!f.method || f.method === record.method) &&
        (!f.path || f.path.test(record.path)) &&
        (f.media === undefined || f.media === isMedia),
    );
    const fault = faultIndex >= 0 ? this.faults.splice(faultIndex, 1)[0] : undefined;
    if (fault && 'timeout' in fault) {
      record.status = 'timeout';
      return; // never answers; the client's timeout has to end it
    }
    if (fault && 'status' in fault) return this.error(res, fault.status, fault.message ?? `injected ${fault.status}`);

    // The API's real paths only: the JSON API, uploads, downloads. Anything else is GCS's 404.
    const api = (['/storage/v1/', '/upload/storage/v1/', '/download/storage/v1/'] as const).find((p) =>
      path.startsWith(p),
    );
    if (!api) return this.error(res, 404, 'Not Found', 'notFound');
    const upload = api === '/upload/storage/v1/';
    path = path.slice(api.length - 1);

    const m = /^\/b\/([^/]+)(?:\/o(?:\/(.+))?)?$/.exec(path);
    if (!m) return this.error(res, 404, 'Not Found', 'notFound');
    const isObjects = path.startsWith(`/b/${m[1]}/o`);
    // Uploads are POST (start) and PUT (a session's bytes) on /b/<bucket>/o; downloads are GETs of an object.
    if (upload && (!isObjects || m[2] !== undefined || !['POST', 'PUT'].includes(req.method ?? '')))
      return this.error(res, 404, 'Not Found', 'notFound');
    if (api === '/download/storage/v1/' && (m[2] === undefined || req.method !== 'GET'))
      return this.error(res, 404, 'Not Found', 'notFound');
    let bucket: string;
    let objectName: string | undefined;
    try {
      bucket = decodeURIComponent(m[1]);
      objectName = m[2] !== undefined ? decodeURIComponent(m[2]) : undefined;
    } catch {
      return this.error(res, 400, 'Invalid object name: object names must be valid UTF-8', 'invalid');
    }

    const token = this.privateBuckets.get(bucket);
    if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
      const who = req.headers.authorization ? 'The caller' : 'Anonymous caller';
      return this.error(
        res,
        req.headers.authorization ? 403 : 401,
        `${who} does not have storage.objects.${objectName ? 'get' : 'list'} access to the Google Cloud Storage bucket. Permission 'storage.objects.get' denied on resource (or it may not exist).`,
      );
    }
    if (!this.buckets.has(bucket)) return this.error(res, 404, 'The specified bucket does not exist.');

    if (upload && req.method === 'POST' && isObjects && objectName === undefined) {
      return this.startUpload(req, res, bucket, query, body);
    }
    if (upload && req.method === 'PUT' && query.upload_id) return this.continueUpload(req, res, query.upload_id, body);

    if (!isObjects) {
      if (req.method === 'GET') return this.json(res, 200, { kind: 'storage#bucket', name: bucket, id: bucket });
      return this.error(res, 405, 'method not allowed');
    }
    if (objectName === undefined) {
      if (req.method === 'GET') return this.list(res, bucket, query);
      return this.error(res, 405, 'method not allowed');
    }

    const badName = objectNameProblem(objectName);
    if (badName) return this.error(res, 400, `Invalid object name: ${badName}`, 'invalid');
    const obj = this.bucket(bucket).get(objectName);
    if (req.method === 'DELETE') {
      if (!obj) return this.error(res, 404, `No such object: ${bucket}/${objectName}`);
      if (!this.preconditionsHold(obj, query)) return this.preconditionFailed(res);
      this.bucket(bucket).delete(objectName);
      res.writeHead(204).end();
      return;
    }
    if (req.method !== 'GET') return this.error(res, 405, 'method not allowed');
    if (!obj || (query.generation && query.generation !== obj.generation)) {
      return this.error(res, 404, `No such object: ${bucket}/${objectName}`);
    }
    if (!this.preconditionsHold(obj, query)) return this.preconditionFailed(res);
    if (!isMedia) return this.json(res, 200, this.resource(bucket, obj));

    // alt=media
    let data = obj.data;
    if (fault && 'corrupt' in fault && data.length > 0) {
      record.status = 'corrupted';
      data = Buffer.from(data);
      data[data.length >> 1] ^= 0xff;
    }
    res.writeHead(200, {
      'content-type': obj.contentType,
      'content-length': String(obj.data.length),
      'x-goog-hash': `crc32c=${obj.crc32c},md5=${obj.md5Hash}`,
      'x-goog-generation': obj.generation,
      'x-goog-metageneration': obj.metageneration,
      'x-goog-stored-content-encoding': 'identity',
      'x-goog-stored-content-length': String(obj.data.length),
    });
    if (fault && 'truncate' in fault) {
      record.status = 'truncated';
      res.write(data.subarray(0, Math.min(fault.truncate, data.length)), () => {
        // Give the bytes a moment to leave, then cut the connection mid-body.
        setTimeout(() => res.destroy(), 5);
      });
      return;
    }
    res.end(data);
  }

  private list(res: ServerResponse, bucket: string, query: Record<string, string>): void {
    const prefix = query.prefix ?? '';
    const delimiter = query.delimiter;
    const maxResults = Math.max(1, Math.min(1000, Number(query.maxResults ?? 1000) || 1000));
    const start = query.pageToken ? Buffer.from(query.pageToken, 'base64url').toString() : '';
    const items: StoredObject[] = [];
    const prefixes = new Set<string>();
    let nextPageToken: string | undefined;
    let last = '';
    for (const name of this.names(bucket)) {
      if (!name.startsWith(prefix) || name <= start) continue;
      if (items.length + prefixes.size >= maxResults) {
        nextPageToken = Buffer.from(last).toString('base64url');
        break;
      }
      last = name;
      const rest = name.slice(prefix.length);
      const cut = delimiter ? rest.indexOf(delimiter) : -1;
      if (delimiter && cut >= 0) prefixes.add(prefix + rest.slice(0, cut + delimiter.length));
      else items.push(this.bucket(bucket).get(name)!);
    }
    this.json(res, 200, {
      kind: 'storage#objects',
      ...(items.length ? { items: items.map((o) => this.resource(bucket, o)) } : {}),
      ...(prefixes.size ? { prefixes: [...prefixes] } : {}),
      ...(nextPageToken ? { nextPageToken } : {}),
    });
  }

  private startUpload(
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    query: Record<string, string>,
    body: Buffer,
  ): void {
    const type = query.uploadType;
    if (type === 'multipart') {
      const boundary = /boundary=("?)([^";]+)\1/.exec(req.headers['content-type'] ?? '')?.[2];
      if (!boundary) return this.error(res, 400, 'multipart upload without a boundary');
      const parts = splitMultipart(body, boundary);
      if (parts.length !== 2) return this.error(res, 400, `multipart upload with ${parts.length} parts, expected 2`);
      let metadata: Record<string, unknown>;
      try {
        metadata = JSON.parse(parts[0].body.toString('utf8')) as Record<string, unknown>;
      } catch {
        return this.error(res, 400, 'the first part of a multipart upload must be JSON metadata');
      }
      const name = query.name ?? (metadata.name as string | undefined);
      if (!name) return this.error(res, 400, 'upload without an object name');
      const badName = objectNameProblem(name);
      if (badName) return this.error(res, 400, `Invalid object name: ${badName}`, 'invalid');
      const existing = this.bucket(bucket).get(name);
      if (!this.preconditionsHold(existing, query)) return this.preconditionFailed(res);
      return this.finishUpload(res, bucket, name, metadata, parts[1].body, parts[1].contentType);
    }
    if (type === 'resumable') {
      let metadata: Record<string, unknown> = {};
      if (body.length) {
        try {
          metadata = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
        } catch {
          return this.error(res, 400, 'resumable upload metadata must be JSON');
        }
      }
      const name = query.name ?? (metadata.name as string | undefined);
      if (!name) return this.error(res, 400, 'upload without an object name');
      const badName = objectNameProblem(name);
      if (badName) return this.error(res, 400, `Invalid object name: ${badName}`, 'invalid');
      if (!this.preconditionsHold(this.bucket(bucket).get(name), query)) return this.preconditionFailed(res);
      const id = randomUUID();
      this.sessions.set(id, {
        bucket,
        name,
        metadata: { ...metadata, contentType: metadata.contentType ?? req.headers['x-upload-content-type'] },
        ifGenerationMatch: query.ifGenerationMatch,
        chunks: [],
        received: 0,
      });
      const location = `${this.url}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&upload_id=${id}`;
      res.writeHead(200, { location, 'content-length': '0' }).end();
      return;
    }
    this.error(res, 400, `unsupported uploadType ${JSON.stringify(type)}`);
  }

  private continueUpload(req: IncomingMessage, res: ServerResponse, id: string, body: Buffer): void {
    const s = this.sessions.get(id);
    if (!s) return this.error(res, 404, 'No such upload session');
    const range = String(req.headers['content-range'] ?? '');
    const status = /^bytes \*\/(\*|\d+)$/.exec(range);
    const chunk = /^bytes (\d+)-(\d+|\*)\/(\*|\d+)$/.exec(range);
    let total: number | undefined;
    if (status) {
      total = status[1] === '*' ? undefined : Number(status[1]);
    } else if (chunk) {
      const from = Number(chunk[1]);
      if (from !== s.received) return this.error(res, 400, `chunk starts at ${from}, ${s.received} bytes received`);
      s.chunks.push(body);
      s.received += body.length;
      // `bytes n-*/*`: this request carries the rest of the object (a single-request upload), as GCS reads it.
      total = chunk[3] !== '*' ? Number(chunk[3]) : chunk[2] === '*' ? s.received : undefined;
    } else if (!range && body.length) {
      s.chunks.push(body);
      s.received += body.length;
      total = s.received;
    } else {
      return this.error(res, 400, `bad Content-Range ${JSON.stringify(range)}`);
    }
    if (total === undefined || s.received < total) {
      res.writeHead(308, s.received ? { range: `bytes=0-${s.received - 1}` } : {}).end();
      return;
    }
    this.sessions.delete(id);
    const existing = this.bucket(s.bucket).get(s.name);
    const query: Record<string, string> =
      s.ifGenerationMatch !== undefined ? { ifGenerationMatch: s.ifGenerationMatch } : {};
    if (!this.preconditionsHold(existing, query)) return this.preconditionFailed(res);
    const hashes = String(req.headers['x-goog-hash'] ?? '');
    const sent: Record<string, unknown> = { ...s.metadata };
    for (const pair of hashes.split(',').filter(Boolean)) {
      const at = pair.indexOf('=');
      const [k, v] = [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
      if (k === 'crc32c') sent.crc32c = v;
      if (k === 'md5') sent.md5Hash = v;
    }
    this.finishUpload(res, s.bucket, s.name, sent, Buffer.concat(s.chunks), s.metadata.contentType as string);
  }

  private finishUpload(
    res: ServerResponse,
    bucket: string,
    name: string,
    metadata: Record<string, unknown>,
    data: Buffer,
    contentType?: string,
  ): void {
    if (typeof metadata.crc32c === 'string' && metadata.crc32c !== crc32cBase64(data)) {
      return this.error(res, 400, `Provided CRC32C "${metadata.crc32c}" doesn't match calculated CRC32C`);
    }
    if (typeof metadata.md5Hash === 'string' && metadata.md5Hash !== md5Base64(data)) {
      return this.error(res, 400, `Provided MD5 hash "${metadata.md5Hash}" doesn't match calculated MD5 hash`);
    }
    const obj = this.put(
      bucket,
      name,
      data,
      (metadata.contentType as string | undefined) ?? contentType ?? 'application/octet-stream',
    );
    if (metadata.metadata && typeof metadata.metadata === 'object') obj.metadata = metadata.metadata as never;
    this.json(res, 200, this.resource(bucket, obj));
  }

  private preconditionsHold(obj: StoredObject | undefined, query: Record<string, string>): boolean {
    const current = obj ? obj.generation : '0';
    if (query.ifGenerationMatch !== undefined && query.ifGenerationMatch !== current) return false;
    if (query.ifGenerationNotMatch !== undefined && query.ifGenerationNotMatch === current) return false;
    if (query.ifMetagenerationMatch !== undefined && (!obj || query.ifMetagenerationMatch !== obj.metageneration))
      return false;
    return true;
  }

  private preconditionFailed(res: ServerResponse): void {
    this.error(res, 412, 'At least one of the pre-conditions you specified did not hold.', 'conditionNotMet');
  }

  private resource(bucket: string, o: StoredObject): Record<string, unknown> {
    return {
      kind: 'storage#object',
      id: `${bucket}/${o.name}/${o.generation}`,
      selfLink: `${this.url}/storage/v1/b/${bucket}/o/${encodeURIComponent(o.name)}`,
      mediaLink: `${this.url}/download/storage/v1/b/${bucket}/o/${encodeURIComponent(o.name)}?generation=${o.generation}&alt=media`,
      name: o.name,
      bucket,
      generation: o.generation,
      metageneration: o.metageneration,
      contentType: o.contentType,
      storageClass: 'STANDARD',
      size: String(o.data.length),
      md5Hash: o.md5Hash,
      crc32c: o.crc32c,
      etag: Buffer.from(o.generation).toString('base64'),
      timeCreated: o.updated,
      updated: o.updated,
      ...(o.metadata ? { metadata: o.metadata } : {}),
    };
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=UTF-8',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  private error(res: ServerResponse, code: number, message: string, reason = 'error'): void {
    this.json(res, code, { error: { code, message, errors: [{ message, domain: 'global', reason }] } });
  }
}

/** The path as recorded: decoded when it is valid percent-encoded UTF-8, as sent otherwise. */
function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** multipart/related → parts (headers parsed for Content-Type only), binary-safe. */
function splitMultipart(body: Buffer, boundary: string): Array<{ contentType?: string; body: Buffer }> {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Array<{ contentType?: string; body: Buffer }> = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break; // the closing delimiter
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    let part = body.subarray(start, next);
    if (part.subarray(0, 2).toString() === '\r\n') part = part.subarray(2);
    if (part.subarray(part.length - 2).toString() === '\r\n') part = part.subarray(0, part.length - 2);
    const headerEnd = part.indexOf('\r\n\r\n');
    const head = headerEnd >= 0 ? part.subarray(0, headerEnd).toString() : '';
    const contentType = /content-type:\s*([^\r\n]+)/i.exec(head)?.[1]?.trim();
    parts.push({ contentType, body: headerEnd >= 0 ? part.subarray(headerEnd + 4) : part });
    at = next;
  }
  return parts;
}

export async function startGcsServer(): Promise<GcsServer> {
  return new GcsServer().start();
}
