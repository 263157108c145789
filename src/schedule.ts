/**
 * Schedules as node-cron expressions: the poller's interval (POLL_INTERVAL) and the model registry's
 * check (MODEL_CHECK_INTERVAL) are given as seconds or as a cron expression. A helper of its own, so that
 * neither of them (nor the config schema that validates the settings) imports the other.
 */
import cron from 'node-cron';

/**
 * Seconds (a divisor of a minute, an hour or a day) or a cron expression → a node-cron expression.
 * `what` names the setting in the error messages.
 */
export function toCronExpression(interval: number | string, what = 'poll interval'): string {
  const raw = typeof interval === 'string' ? interval.trim() : interval;
  if (typeof raw === 'number' || /^\d+$/.test(raw)) {
    const s = Number(raw);
    if (!Number.isInteger(s) || s < 1)
      throw new Error(
        `${what}: expected a whole number of seconds ≥ 1 or a cron expression, got ${JSON.stringify(interval)}`,
      );
    if (s < 60 && 60 % s === 0) return s === 1 ? '* * * * * *' : `*/${s} * * * * *`;
    if (s % 60 === 0 && s < 3600 && 60 % (s / 60) === 0) return s === 60 ? '0 * * * * *' : `0 */${s / 60} * * * *`;
    if (s % 3600 === 0 && s <= 86_400 && 24 % (s / 3600) === 0)
      return s === 3600 ? '0 0 * * * *' : `0 0 */${s / 3600} * * *`;
    throw new Error(
      `${what}: ${s} s cannot be scheduled evenly by cron; use a divisor of 60 s, of 60 min or of 24 h (e.g. 30, 60, 300), or a cron expression`,
    );
  }
  if (!cron.validate(raw))
    throw new Error(`${what}: ${JSON.stringify(raw)} is neither a number of seconds nor a valid cron expression`);
  return raw;
}
