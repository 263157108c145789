/**
 * The model bucket through @google-cloud/storage 7: the client (endpoint, credentials, timeouts,
 * retries), the few object operations the registry needs, and GCS errors turned into messages that say
 * what to do.
 *
 * Endpoint: GCS_ENDPOINT, else STORAGE_EMULATOR_HOST (the Google libraries' convention), else Google; either
 * with or without a path, as Google's clients and the emulators write them (./endpoint): the client always
 * calls the real API paths (/storage/v1/…, /upload/storage/v1/…) under it. With another endpoint the client
 * sends no credentials unless GCS_ACCESS=adc.
 * Credentials: `auto` uses Application Default Credentials (on GCP the attached service account;
 * elsewhere GOOGLE_APPLICATION_CREDENTIALS or gcloud's login) and, when none are found, goes on
 * unauthenticated, which a public bucket accepts; `anonymous` never looks for credentials; a private
 * bucket without credentials fails with a message saying how to provide them.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CRC32C, Storage, type Bucket, type StorageOptions } from '@google-cloud/storage';
import { PassThroughClient, type AuthClient } from 'google-auth-library';
import type { Config } from '../../config/schema';
import { apiEndpointOf } from './endpoint';

export type GcsAccess = 'auto' | 'anonymous' | 'adc';

export interface GcsSettings {
  bucket: string;
  /** Object prefix of the versions and the pointer (no trailing slash). */
  prefix: string;
  /** Another endpoint than Google's (GCS_ENDPOINT or STORAGE_EMULATOR_HOST). */
  endpoint?: string;
  access: GcsAccess;
  /** Per request; a download that receives nothing for this long is abandoned too. */
  timeoutMs: number;
  /** Retries of a failed request by the client (5xx, 429, network errors), with exponential backoff. */
  maxRetries: number;
  /** Longest wait between retries, in seconds (GCS's default is 64; at least 1). */
  maxRetryDelaySeconds?: number;
  /** Credentials to use instead of Application Default Credentials (sent to any endpoint). */
  authClient?: AuthClient;
}

export type RegistryConfig = Pick<
  Config,
  'modelBucket' | 'modelPrefix' | 'gcsEndpoint' | 'storageEmulatorHost' | 'gcsAccess' | 'gcsTimeoutMs' | 'gcsMaxRetries'
>;

export function gcsSettings(config: RegistryConfig & { modelBucket: string }): GcsSettings {
  return {
    bucket: config.modelBucket,
    prefix: config.modelPrefix,
    ...(config.gcsEndpoint || config.storageEmulatorHost
      ? { endpoint: apiEndpointOf((config.gcsEndpoint ?? config.storageEmulatorHost)!) }
      : {}),
    access: config.gcsAccess,
    timeoutMs: config.gcsTimeoutMs,
    maxRetries: config.gcsMaxRetries,
  };
}

export function createStorage(s: GcsSettings): Storage {
  const options: StorageOptions = {
    timeout: s.timeoutMs,
    retryOptions: {
      autoRetry: s.maxRetries > 0,
      maxRetries: s.maxRetries,
      // Uploads retry through async-retry, whose first delay is 1 s: a shorter cap is refused.
      ...(s.maxRetryDelaySeconds ? { maxRetryDelay: Math.max(1, s.maxRetryDelaySeconds) } : {}),
    },
  };
  const endpoint = s.endpoint ? apiEndpointOf(s.endpoint) : undefined;
  if (endpoint) options.apiEndpoint = endpoint;
  if (s.authClient) {
    options.authClient = s.authClient;
    options.useAuthWithCustomEndpoint = true;
  } else if (s.access === 'anonymous') {
    options.authClient = new PassThroughClient();
  } else if (s.access === 'adc' && s.endpoint) {
    options.useAuthWithCustomEndpoint = true;
  }
  const storage = new Storage(options);
  // @google-cloud/storage 7 takes STORAGE_EMULATOR_HOST from the environment, verbatim, as the base of its
  // JSON API calls — whatever `apiEndpoint` says (googleapis/nodejs-storage#2069, #2092): `http://host:port`
  // makes it call `/b/…` instead of `/storage/v1/b/…`, and GCS_ENDPOINT would not even win. Its uploads
  // already follow `apiEndpoint`; the JSON API is made to as well.
  if (endpoint) storage.baseUrl = `${storage.apiEndpoint}/storage/v1`;
  return storage;
}

// ---------------------------------------------------------------------------------------------------
// Errors

export type GcsErrorKind =
  | 'access' // 401/403, or no credentials for a private bucket
  | 'not_found'
  | 'conflict' // a precondition (ifGenerationMatch) failed
  | 'checksum' // the bytes do not match their crc32c/sha256/size
  | 'timeout'
  | 'unreachable'
  | 'server' // 5xx after the client's retries
  | 'invalid'; // a pointer or manifest that is not what it should be

export class GcsError extends Error {
  /** Worth another try: the bytes were damaged or cut in transit, not wrong at rest. */
  readonly transient: boolean;

  constructor(
    readonly kind: GcsErrorKind,
    message: string,
    options?: { cause?: unknown; transient?: boolean },
  ) {
    super(message, options);
    this.name = 'GcsError';
    this.transient = options?.transient ?? (kind === 'timeout' || kind === 'unreachable' || kind === 'server');
  }
}

interface ClientError {
  code?: number | string;
  message?: string;
  type?: string;
  errors?: Array<{ message?: string }>;
}

/** Any error of a GCS operation on `what` (gs://…) → a GcsError whose message says what happened and what to do. */
export function gcsError(err: unknown, what: string, s: Pick<GcsSettings, 'access' | 'endpoint'>): GcsError {
  if (err instanceof GcsError) return err;
  const e = (err ?? {}) as ClientError;
  const message = String(e.message ?? err);
  const code = e.code;
  const status = typeof code === 'number' ? code : /^\d{3}$/.test(String(code)) ? Number(code) : undefined;
  const where = s.endpoint ? ` (endpoint ${s.endpoint})` : '';
  if (status === 401 || status === 403 || /Could not load the default credentials/i.test(message)) {
    const anonymous =
      s.access === 'anonymous' || /Could not load the default credentials|Anonymous caller/i.test(message);
    const how = anonymous
      ? 'the bucket is private and Sentinel sent no credentials: on GCP give the service account roles/storage.objectViewer on the bucket (roles/storage.objectAdmin to publish); elsewhere set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file or run `gcloud auth application-default login`' +
        (s.access === 'anonymous'
          ? ', and set GCS_ACCESS=auto (GCS_ACCESS=anonymous only works with a public bucket)'
          : s.endpoint && s.access !== 'adc'
            ? '; credentials are only sent to another endpoint with GCS_ACCESS=adc'
            : '')
      : 'the credentials in use lack permission on the bucket: grant roles/storage.objectViewer (objectAdmin to publish)';
    return new GcsError('access', `${what}: access denied${status ? ` (${status})` : ''}${where}: ${how}`, {
      cause: err,
    });
  }
  if (status === 404) return new GcsError('not_found', `${what}: not found${where}`, { cause: err });
  if (status === 412)
    return new GcsError('conflict', `${what}: changed by someone else (precondition failed)`, { cause: err });
  if (code === 'CONTENT_DOWNLOAD_MISMATCH' || /mismatch/i.test(message))
    return new GcsError('checksum', `${what}: the bytes received do not match the object's crc32c (${message})`, {
      cause: err,
      transient: true,
    });
  if (
    e.type === 'request-timeout' ||
    e.type === 'body-timeout' ||
    code === 'ETIMEDOUT' ||
    code === 'ESOCKETTIMEDOUT' ||
    /timeout|timed out/i.test(message)
  )
    return new GcsError('timeout', `${what}: timed out${where} (${message})`, { cause: err });
  if (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    code === 'ECONNRESET' ||
    /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|socket hang up|Premature close|ECONNRESET|aborted/i.test(message)
  )
    return new GcsError('unreachable', `${what}: the bucket could not be reached${where} (${message})`, { cause: err });
  if (status !== undefined && status >= 500)
    return new GcsError('server', `${what}: GCS answered ${status}${where} (${message})`, { cause: err });
  return new GcsError('server', `${what}: ${message}${where}`, { cause: err });
}

// ---------------------------------------------------------------------------------------------------
// Object operations

export interface ObjectInfo {
  name: string;
  size: number;
  crc32c?: string;
  md5Hash?: string;
  generation: string;
  updated?: string;
}

export interface Expected {
  size: number;
  sha256: string;
  /** GCS's crc32c of the object (base64), from its metadata. */
  crc32c?: string;
}

/** One bucket and prefix, with errors translated. */
export class GcsObjects {
  readonly storage: Storage;
  readonly bucket: Bucket;

  constructor(readonly settings: GcsSettings) {
    this.storage = createStorage(settings);
    this.bucket = this.storage.bucket(settings.bucket);
  }

  url(name = ''): string {
    return `gs://${this.settings.bucket}/${name}`;
  }

  /** Objects whose name starts with `prefix`, with their size, crc32c and generation (all pages). */
  async list(prefix: string): Promise<ObjectInfo[]> {
    try {
      const [files] = await this.bucket.getFiles({ prefix, autoPaginate: true });
      return files.map((f) => ({
        name: f.name,
        size: Number(f.metadata.size ?? 0),
        crc32c: f.metadata.crc32c,
        md5Hash: f.metadata.md5Hash,
        generation: String(f.metadata.generation ?? ''),
        updated: f.metadata.updated,
      }));
    } catch (err) {
      throw gcsError(err, this.url(prefix), this.settings);
    }
  }

  /** The "directories" right under `prefix` (which ends with '/'). */
  async listPrefixes(prefix: string): Promise<string[]> {
    const out: string[] = [];
    try {
      let pageToken: string | undefined;
      do {
        const [, next, response] = await this.bucket.getFiles({
          prefix,
          delimiter: '/',
          autoPaginate: false,
          pageToken,
        });
        out.push(...(((response as { prefixes?: string[] })?.prefixes ?? []) as string[]));
        pageToken = (next as { pageToken?: string } | null)?.pageToken;
      } while (pageToken);
    } catch (err) {
      throw gcsError(err, this.url(prefix), this.settings);
    }
    return out;
  }

  /** A small object in memory (pointer, manifest), crc32c-validated by the client; null if it does not exist. */
  async read(name: string): Promise<{ data: Buffer; generation: string } | null> {
    const file = this.bucket.file(name);
    try {
      const chunks: Buffer[] = [];
      let generation = '';
      const stream = file.createReadStream({ validation: 'crc32c' });
      stream.on('response', (res: { headers?: Record<string, string> }) => {
        generation = String(res.headers?.['x-goog-generation'] ?? '');
      });
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return { data: Buffer.concat(chunks), generation };
    } catch (err) {
      const e = gcsError(err, this.url(name), this.settings);
      if (e.kind === 'not_found') return null;
      throw e;
    }
  }

  /**
   * Downloads one generation of `name` to `dest` (which must not exist), hashing while it streams:
   * the size, sha256 and crc32c must all match `expected`, else `dest` is removed and a GcsError thrown.
   * The client validates the crc32c of what it received against the response's x-goog-hash too.
   * Gives up when nothing arrives for `timeoutMs`.
   */
  async download(name: string, generation: string | undefined, dest: string, expected: Expected): Promise<void> {
    const what = this.url(name);
    const file = this.bucket.file(name, generation ? { generation } : {});
    const sha = createHash('sha256');
    const crc = new CRC32C();
    let bytes = 0;
    const abort = new AbortController();
    let stall: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(stall);
      stall = setTimeout(
        () => abort.abort(new GcsError('timeout', `${what}: nothing received for ${this.settings.timeoutMs} ms`)),
        this.settings.timeoutMs,
      );
    };
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > expected.size) {
          done(new GcsError('checksum', `${what}: more than the ${expected.size} bytes expected`, { transient: true }));
          return;
        }
        sha.update(chunk);
        crc.update(chunk);
        arm();
        done(null, chunk);
      },
    });
    arm();
    try {
      await pipeline(file.createReadStream({ validation: 'crc32c' }), meter, createWriteStream(dest, { flags: 'wx' }), {
        signal: abort.signal,
      });
      if (bytes !== expected.size)
        throw new GcsError('checksum', `${what}: ${bytes} bytes received, ${expected.size} expected (truncated)`, {
          transient: true,
        });
      // crc32c first: a mismatch is damage in transit (worth another try); a sha256 mismatch with the right
      // crc32c means the object itself is not the file the manifest describes.
      if (expected.crc32c && crc.toString() !== expected.crc32c)
        throw new GcsError(
          'checksum',
          `${what}: crc32c ${crc.toString()} does not match the object's metadata (${expected.crc32c})`,
          { transient: true },
        );
      const sum = sha.digest('hex');
      if (sum !== expected.sha256)
        throw new GcsError(
          'checksum',
          `${what}: sha256 ${sum.slice(0, 12)}… does not match manifest.json (${expected.sha256.slice(0, 12)}…)`,
        );
    } catch (err) {
      await unlink(dest).catch(() => undefined);
      const reason = abort.signal.aborted ? abort.signal.reason : err;
      throw gcsError(reason, what, this.settings);
    } finally {
      clearTimeout(stall);
    }
  }

  /**
   * Uploads `data` as `name`, only if the object's generation is `ifGenerationMatch` (0: it must not
   * exist). Multipart (one request) up to `resumableAbove` bytes, a resumable session above. The client
   * checks the crc32c GCS reports against the bytes sent.
   */
  async write(
    name: string,
    data: Buffer,
    opts: { ifGenerationMatch: string | number; contentType?: string; resumableAbove?: number },
  ): Promise<ObjectInfo> {
    const file = this.bucket.file(name);
    const resumable = data.length > (opts.resumableAbove ?? 8 * 1024 * 1024);
    try {
      await file.save(data, {
        resumable,
        validation: 'crc32c',
        contentType: opts.contentType ?? contentTypeOf(name),
        metadata: { cacheControl: name.endsWith('latest.json') ? 'no-store' : 'private, max-age=31536000, immutable' },
        preconditionOpts: { ifGenerationMatch: Number(opts.ifGenerationMatch) },
      });
      const m = file.metadata;
      return {
        name,
        size: Number(m.size ?? data.length),
        crc32c: m.crc32c,
        md5Hash: m.md5Hash,
        generation: String(m.generation ?? ''),
      };
    } catch (err) {
      throw gcsError(err, this.url(name), this.settings);
    }
  }
}

function contentTypeOf(name: string): string {
  if (name.endsWith('.json')) return 'application/json';
  if (name.endsWith('.md')) return 'text/markdown; charset=utf-8';
  if (name.endsWith('.png')) return 'image/png';
  return 'application/octet-stream';
}
