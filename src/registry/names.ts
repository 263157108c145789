/**
 * The one check for a name that becomes part of a path on disk or of an object name in the bucket: a
 * model version (`latest.json`, MODEL_PINNED_VERSION, `--promote`, a manifest's `version`, a cache
 * directory), a file of a manifest or of model.json's weight manifest, a segment of the bucket prefix.
 *
 * Allowed: 1 to 128 of letters, digits, `.`, `-`, `_`, not starting with a dot (so never `.` or `..`,
 * and never the `.…part` names the cache uses for downloads in progress). Everything else is refused
 * with the reason, never cleaned up: a name that needs cleaning is not the name someone meant.
 */

export const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
export const NAME_RULE = '1 to 128 letters, digits, dot, dash or underscore, not starting with a dot';

/** Why `value` is not a safe name (a phrase that follows "it": "contains a path separator"), or null when it is one. */
export function nameProblem(value: unknown): string | null {
  if (typeof value !== 'string') return `is not a string (${value === null ? 'null' : typeof value})`;
  if (value === '') return 'is empty';
  if (value.includes('\0')) return 'contains a NUL character';
  if (value === '.' || value === '..') return `is "${value}", which names a directory, not an entry in it`;
  if (/^(?:[\\/]|[A-Za-z]:)/.test(value)) return 'is an absolute path';
  if (/[\\/]/.test(value)) return 'contains a path separator';
  if (value.includes('%')) return 'contains "%" (percent-encoding is never decoded: write the name itself)';
  if (value.startsWith('.')) return 'starts with a dot';
  if (value.length > 128) return `is ${value.length} characters long (128 at most)`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'contains a control character';
  if (!NAME_PATTERN.test(value)) return `has characters other than letters, digits, dot, dash and underscore`;
  return null;
}

/** `value` if it is a safe name (see the header), else an Error naming `what` and the problem. */
export function checkName(value: unknown, what: string): string {
  const problem = nameProblem(value);
  if (problem) throw new Error(`${what} ${JSON.stringify(value)} is not a safe name: it ${problem}`);
  return value as string;
}

/** A bucket prefix: one or more safe names joined by "/" (leading and trailing slashes ignored). */
export function prefixProblem(prefix: string): string | null {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return 'is empty';
  for (const segment of trimmed.split('/')) {
    const problem = nameProblem(segment);
    if (problem) return `has a segment ${JSON.stringify(segment)} that ${problem}`;
  }
  return null;
}
