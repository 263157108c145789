/**
 * Voters' ids as stored: a keyed hash of the namespaced platform id (`slack:T123:U456`, `teams:<tenant>:<aad
 * id>`, `api:<key name>`), never the id itself. Votes only need equality (one vote per user per prediction,
 * a retraction by the same user), which a keyed hash keeps; a leaked database does not say who voted.
 *
 *   h1:<base64url HMAC-SHA256(key, namespaced id)>      (46 characters)
 *
 * `h1:` names the scheme and key generation, so a later rotation can tell old hashes from new ones. The key
 * is PRIVACY_USER_ID_SECRET (required in production mode); without it the store generates a random key once
 * and keeps it in its own `privacy_keys` table, so hashes survive restarts — but the key then lives beside
 * the data (docs/privacy.md). The store also records a fingerprint of the first key it hashed with, so a
 * process started with another key (a CLI without the secret, a changed secret) can tell it would not find
 * anyone's votes.
 *
 * The primitive lives here, under the store, because the store's start-up step re-keys votes stored before
 * hashing existed (`legacyVoterId`); the feedback core (src/feedback/voter.ts) is what every channel calls.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const VOTER_HASH_PREFIX = 'h1:';
/** Shortest PRIVACY_USER_ID_SECRET accepted. */
export const MIN_VOTER_KEY_CHARS = 32;

const HASHED = /^h1:[A-Za-z0-9_-]{43}$/;

/** The stored form of a voter id. */
export function hashVoterId(key: Buffer, namespacedId: string): string {
  return VOTER_HASH_PREFIX + createHmac('sha256', key).update(namespacedId, 'utf8').digest('base64url');
}

export function isHashedVoterId(s: string): boolean {
  return HASHED.test(s);
}

/**
 * What a vote stored before hashing (a raw platform id, with the channel in `source`) is hashed as:
 * `legacy:<source>:<raw id>`. Those ids were not namespaced (`U456`, not `slack:T123:U456`), so they cannot
 * be matched to today's voters; erasure finds them by this form (src/ops/erase.ts).
 */
export function legacyVoterId(source: string | null | undefined, rawId: string): string {
  return `legacy:${source || 'unknown'}:${rawId}`;
}

/** A new random key for a store without PRIVACY_USER_ID_SECRET (32 bytes, base64url). */
export function generateVoterKey(): string {
  return randomBytes(32).toString('base64url');
}

/** A short fingerprint of a key (not the key): recorded once, compared at every start. */
export function voterKeyFingerprint(key: Buffer): string {
  return createHmac('sha256', key).update('sentinel:voter-key-fingerprint', 'utf8').digest('hex').slice(0, 16);
}

/** The key a store hashes voters' ids with. */
export interface VoterKey {
  key: Buffer;
  /** configured: PRIVACY_USER_ID_SECRET; generated: kept in the store's privacy_keys table. */
  source: 'configured' | 'generated';
  /**
   * False when the store's votes were hashed with another key (its fingerprint differs): votes cast before
   * cannot be matched to their voters with this one. Erasure refuses to run then.
   */
  matchesStored: boolean;
}

/** Checks a configured key; throws with the reason (no echo of the value). */
export function checkConfiguredKey(key: string | undefined): Buffer | undefined {
  if (key === undefined || key === '') return undefined;
  if (key.length < MIN_VOTER_KEY_CHARS) {
    throw new Error(
      `PRIVACY_USER_ID_SECRET (the voter id key) is ${key.length} characters long; it needs at least ${MIN_VOTER_KEY_CHARS}`,
    );
  }
  return Buffer.from(key, 'utf8');
}
