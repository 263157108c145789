/**
 * Teams reactions as votes. A messageReaction activity names each reaction by an opaque id: the six classic
 * ones by name (`like`, `heart`, `laugh`, `surprised`, `sad`, `angry`), the newer emoji ones as
 * `<code point>_<name>` (`2705_whiteheavycheckmark` is ✅, `274c_crossmark` is ❌). Ids are compared as
 * strings; none is guessed from its shape.
 *
 * 👍 `like` and ✅ (and ✔️) say the message is right, 😠 `angry` and ❌ (and ❎) that it is wrong. The other
 * classic reactions are known and ignored; any other id is unknown, and logged so that a new id Teams starts
 * sending can be added here.
 */
export const CORRECT_REACTIONS: ReadonlySet<string> = new Set([
  'like',
  '2705_whiteheavycheckmark',
  '2714_heavycheckmark',
]);
export const WRONG_REACTIONS: ReadonlySet<string> = new Set([
  'angry',
  '274c_crossmark',
  '274e_negativesquaredcrossmark',
]);
/** Known reactions that judge nothing. */
export const OTHER_REACTIONS: ReadonlySet<string> = new Set(['heart', 'laugh', 'surprised', 'sad']);

export type ReactionMeaning = { verdict: boolean } | 'ignored' | 'unknown';

export function reactionMeaning(type: unknown): ReactionMeaning {
  if (typeof type !== 'string') return 'unknown';
  const id = type.trim().toLowerCase();
  if (CORRECT_REACTIONS.has(id)) return { verdict: true };
  if (WRONG_REACTIONS.has(id)) return { verdict: false };
  if (OTHER_REACTIONS.has(id)) return 'ignored';
  return 'unknown';
}
