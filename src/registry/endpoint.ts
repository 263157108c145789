/**
 * Another GCS endpoint than Google's (GCS_ENDPOINT, STORAGE_EMULATOR_HOST) → the endpoint the client is given
 * (`apiEndpoint`): scheme, host, port and any base path (a proxy's), without the API's own paths, which the
 * client adds — `/storage/v1/…` (JSON API), `/upload/storage/v1/…` (uploads), as Google serves them.
 *
 * STORAGE_EMULATOR_HOST is written differently from one Google client library to the next, and the emulators'
 * guides follow them. All of these name the emulator at 127.0.0.1:4443:
 *   - `http://127.0.0.1:4443` or `http://127.0.0.1:4443/` — Python's client (it appends /storage/v1), and
 *     firebase-admin (it sets `http://${FIREBASE_STORAGE_EMULATOR_HOST}`);
 *   - `127.0.0.1:4443` — Go's client and the gcloud emulators: host:port, plain HTTP;
 *   - `http://127.0.0.1:4443/storage/v1` — what @google-cloud/storage 7 itself needs, as fake-gcs-server's Node
 *     example sets it: that client uses the variable verbatim as its JSON API base (googleapis/nodejs-storage
 *     #1314, #2069, #2092), so `http://host:port` alone makes it call `/b/…`, which only some emulators serve.
 * The client reads the variable from the environment itself; `createStorage` (./gcs) overrides what it made
 * of it, so that every form above reaches the real API paths.
 */

/** The JSON API's path, which the client adds and an endpoint therefore does not carry. */
const API_PATH = /\/storage\/v1\/?$/;

/**
 * The `apiEndpoint` for `value` (e.g. `http://127.0.0.1:4443`), or a sentence saying why it is not an endpoint.
 * Scheme-less `host:port` is plain HTTP (as Go's client and the emulators read it).
 */
export function gcsEndpoint(value: string): { endpoint: string } | { problem: string } {
  const raw = value.trim();
  if (!raw) return { problem: 'empty' };
  let u: URL;
  try {
    u = new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    return { problem: 'neither a URL (http://host:port) nor host:port' };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    return { problem: `${u.protocol}// is not http:// or https://` };
  if (!u.hostname) return { problem: 'no host' };
  if (u.search || u.hash) return { problem: 'an endpoint has no query string nor fragment' };
  if (u.username || u.password) return { problem: 'credentials do not belong in the endpoint' };
  const path = u.pathname.replace(API_PATH, '').replace(/\/+$/, '');
  return { endpoint: `${u.origin}${path}` };
}

/** `gcsEndpoint` for values already validated (the settings): the endpoint, or throws naming the value. */
export function apiEndpointOf(value: string): string {
  const r = gcsEndpoint(value);
  if ('problem' in r) throw new Error(`GCS endpoint ${JSON.stringify(value)}: ${r.problem}`);
  return r.endpoint;
}
