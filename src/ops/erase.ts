/**
 * Erasure (GDPR art. 17, and X's rule that a deleted tweet is deleted everywhere): every trace of one
 * person, or of one tweet, removed from the store. `npm run privacy:erase` (src/privacy-cli.ts) runs these.
 *
 * A user, by namespaced id (`slack:T123:U456`, `teams:<tenant>:<aad id>`, `api:<key name>`):
 * - their votes on predictions and alerts, found by the keyed hash of that id — and by the hash of
 *   `legacy:<channel>:<raw id>`, the form votes stored before hashing were re-keyed to (for Slack and Teams
 *   the raw id was the id's last part; `--user legacy:<source>:<raw id>` names any other one directly);
 * - the entries about them in the chat state the adapters keep as JSON (votes on a card by user id,
 *   acknowledgements, who snoozed): map entries keyed by the id are deleted, list entries naming it
 *   (`id`, `user`, `userId`, `aadObjectId`) removed, and a single object naming it (a snooze) loses the name.
 * An X author, `x:<author id>`: every stored mention they wrote, each erased as a tweet below.
 *
 * A tweet, by id: the mention, its prediction `x:<id>`, the votes on it, the message links to it, its
 * copies inside alert records (an alert's undelivered messages list its top mentions with their text) and
 * in the adapters' chat state (a Teams card showing it is deleted; alert content loses that mention).
 *
 * What is outside the store is not reached: messages already posted in Slack or Teams, logs, backups
 * (docs/privacy.md says what to do about each).
 */
import { hashVoterId, legacyVoterId } from '../store/voter-ids';
import { mentionPredictionId } from '../store/common';
import type { JsonEdit, Store } from '../store/types';

export interface ErasureReport {
  votes: number;
  mentions: number;
  predictions: number;
  links: number;
  /** Alert records rewritten without the tweet's copies (or the user). */
  alertRecords: number;
  /** Chat state values (the adapters' JSON in the checkpoints table) deleted or rewritten. */
  chatStates: number;
}

const EMPTY: ErasureReport = { votes: 0, mentions: 0, predictions: 0, links: 0, alertRecords: 0, chatStates: 0 };

/** Everything removed or rewritten: 0 when the user or tweet left no trace. */
export function totalRemoved(r: ErasureReport): number {
  return r.votes + r.mentions + r.predictions + r.links + r.alertRecords + r.chatStates;
}

/** The store's votes were hashed with another key: erasing by user would silently find nothing. */
export class ErasureKeyError extends Error {
  constructor() {
    super(
      "PRIVACY_USER_ID_SECRET is not the key this database's votes were hashed with: set it exactly as the server has it (or unset it if the server has none)",
    );
    this.name = 'ErasureKeyError';
  }
}

/** Platforms of namespaced voter ids; `x` is a tweet author, `legacy` a vote stored before hashing. */
export const USER_NAMESPACES = ['slack', 'teams', 'api', 'x', 'legacy'] as const;
const NAMESPACED = new RegExp(`^(${USER_NAMESPACES.join('|')}):(.+)$`);

export function isNamespacedUserId(id: string): boolean {
  return NAMESPACED.test(id) && id.length <= 200;
}

/** Which channel stored a platform's votes before hashing (Vote.source). */
const LEGACY_SOURCE: Record<string, string> = { slack: 'slack', teams: 'teams', api: 'http' };

/** The stored (hashed) forms a user's votes may have, and the raw forms chat state may hold. */
function userForms(key: Buffer, id: string): { hashed: string[]; raw: string[] } {
  const [, platform, rest] = NAMESPACED.exec(id) ?? [];
  if (platform === 'legacy') return { hashed: [hashVoterId(key, id)], raw: [] };
  const bare = rest.split(':').at(-1)!;
  const source = LEGACY_SOURCE[platform] ?? platform;
  const legacy = [legacyVoterId(source, bare), legacyVoterId(source, rest)];
  return {
    hashed: [...new Set([hashVoterId(key, id), ...legacy.map((l) => hashVoterId(key, l))])],
    // A bare id too short to be unique (a test's "U1") is not matched inside JSON.
    raw: [...new Set([id, ...(bare.length >= 6 ? [bare] : [])])],
  };
}

export async function eraseUser(store: Store, namespacedId: string): Promise<ErasureReport> {
  if (!isNamespacedUserId(namespacedId)) {
    throw new Error(
      `not a namespaced user id: ${JSON.stringify(namespacedId)} (expected slack:<team>:<user>, teams:<tenant>:<aad id>, api:<key name>, x:<author id> or legacy:<source>:<id>)`,
    );
  }
  const key = await store.voterKey();
  if (!key.matchesStored) throw new ErasureKeyError();
  const report = { ...EMPTY };
  if (namespacedId.startsWith('x:')) {
    for (const tweet of await store.mentionIdsByAuthor(namespacedId.slice(2))) {
      add(report, await eraseTweet(store, tweet));
    }
  }
  const forms = userForms(key.key, namespacedId);
  report.votes += await store.eraseVotes(forms.hashed);
  const names = new Set([...forms.raw, ...forms.hashed]);
  const edit = (value: unknown): JsonEdit => {
    const r = scrubUser(value, names);
    if (r.removed === 0) return { action: 'keep' };
    return r.whole ? { action: 'delete' } : { action: 'replace', value: r.value };
  };
  report.chatStates += await store.rewriteJson('checkpoints', edit);
  report.alertRecords += await store.rewriteJson('alerts', (value) => {
    const r = scrubUser(value, names);
    return r.removed === 0 || r.whole ? { action: 'keep' } : { action: 'replace', value: r.value };
  });
  return report;
}

export async function eraseTweet(store: Store, tweetId: string): Promise<ErasureReport> {
  if (!/^\d{1,25}$/.test(tweetId)) throw new Error(`not a tweet id: ${JSON.stringify(tweetId)} (digits only)`);
  const report = { ...EMPTY };
  Object.assign(report, await store.eraseMention(tweetId));
  report.alertRecords = await store.rewriteJson('alerts', (value) => {
    const r = scrubTweet(value, tweetId);
    return r.removed === 0 ? { action: 'keep' } : { action: 'replace', value: r.value };
  });
  report.chatStates = await store.rewriteJson('checkpoints', (value) => {
    if (isObject(value) && value.predictionId === mentionPredictionId(tweetId)) return { action: 'delete' };
    const r = scrubTweet(value, tweetId);
    return r.removed === 0 ? { action: 'keep' } : { action: 'replace', value: r.value };
  });
  return report;
}

function add(into: ErasureReport, more: ErasureReport): void {
  for (const k of Object.keys(into) as Array<keyof ErasureReport>) into[k] += more[k];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------------
// JSON scrubbing: pure functions, returning a new value and how many entries went.

const IDENTITY_FIELDS = ['id', 'user', 'userId', 'voter', 'aadObjectId'] as const;

/** The JSON without the user: map entries keyed by them, list entries naming them, names on single objects. */
export function scrubUser(
  value: unknown,
  names: ReadonlySet<string>,
): { value: unknown; removed: number; whole: boolean } {
  let removed = 0;
  const naming = (o: Record<string, unknown>) =>
    IDENTITY_FIELDS.some((f) => typeof o[f] === 'string' && names.has(o[f] as string));
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) {
      const kept = v.filter((x) => {
        const drop = (typeof x === 'string' && names.has(x)) || (isObject(x) && naming(x));
        if (drop) removed++;
        return !drop;
      });
      return kept.map(walk);
    }
    if (!isObject(v)) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (names.has(k)) {
        removed++;
        continue;
      }
      if (isObject(x) && naming(x)) {
        // A single object naming them (who snoozed): it stays in effect, without the name.
        removed++;
        const rest = Object.fromEntries(
          Object.entries(x).filter(([f]) => !(IDENTITY_FIELDS as readonly string[]).includes(f) && f !== 'name'),
        );
        out[k] = walk(rest);
        continue;
      }
      out[k] = walk(x);
    }
    return out;
  };
  const whole = isObject(value) && naming(value);
  if (whole) return { value: undefined, removed: 1, whole: true };
  return { value: walk(value), removed, whole: false };
}

/** The JSON without copies of the tweet: list entries that are that mention (its id with a url or text). */
export function scrubTweet(value: unknown, tweetId: string): { value: unknown; removed: number } {
  let removed = 0;
  const predictionId = mentionPredictionId(tweetId);
  const isCopy = (x: unknown) =>
    isObject(x) &&
    ((x.id === tweetId && (typeof x.url === 'string' || typeof x.text === 'string')) ||
      x.predictionId === predictionId);
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) {
      return v
        .filter((x) => {
          if (!isCopy(x)) return true;
          removed++;
          return false;
        })
        .map(walk);
    }
    if (!isObject(v)) return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
  };
  return { value: walk(value), removed };
}
