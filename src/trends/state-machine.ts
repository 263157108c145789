/**
 * The alert state machine of one stream, as a pure step function: ok → open → (updates) → resolved (ok).
 * The state is plain JSON, persisted by the monitor in the open alert's record, so a restart resumes it.
 *
 * - ok → open: the window is `elevated`, the cooldown after the last alert is over, and the stream is not
 *   snoozed.
 * - open → open (update): the window is sustained, `updateEveryMinutes` have passed since the last
 *   message (opening or update) and there is news — a new peak, or a share at least half `minLift` away
 *   from the last message's — or, failing news, 4 × `updateEveryMinutes` have passed (a heartbeat).
 *   Held back while snoozed.
 * - open → resolved: `closeAfterMinutes` without a sustained window (the hysteresis: opening needs
 *   p < openPValue with the lift and the floor; staying open needs only p < sustainPValue above the floor).
 *   Then the cooldown starts.
 */
import type { Evaluation, WindowEvaluation } from './detector';
import { MINUTE, type TrendSettings } from './settings';

export interface Peak {
  share: number;
  at: number;
  total: number;
  negative: number;
  baseline: number;
}

export type StreamState =
  | { phase: 'ok'; cooldownUntil?: number }
  | {
      phase: 'open';
      openedAt: number;
      /** Last message posted (opening or update), and the share and peak it showed. */
      lastMessageAt: number;
      lastMessageShare?: number;
      lastMessagePeak?: number;
      /** Since when no window has been sustained (undefined while it is). */
      quietSince?: number;
      peak: Peak;
      /** The baseline when the alert opened (it is frozen while the alert is open). */
      baselineAtOpen: number;
    };

export type StepAction = 'none' | 'open' | 'update' | 'resolve';

export interface StepResult {
  state: StreamState;
  action: StepAction;
  /** Set when the step is held back: 'cooldown', 'snoozed'. */
  suppressed?: 'cooldown' | 'snoozed';
}

export function step(state: StreamState, ev: Evaluation, settings: TrendSettings, snoozedUntil?: number): StepResult {
  const snoozed = snoozedUntil !== undefined && ev.at < snoozedUntil;
  if (state.phase === 'ok') {
    if (ev.status !== 'elevated') return { state, action: 'none' };
    if (state.cooldownUntil !== undefined && ev.at < state.cooldownUntil)
      return { state, action: 'none', suppressed: 'cooldown' };
    if (snoozed) return { state, action: 'none', suppressed: 'snoozed' };
    return {
      state: {
        phase: 'open',
        openedAt: ev.at,
        lastMessageAt: ev.at,
        lastMessageShare: ev.share,
        lastMessagePeak: ev.share,
        peak: peakOf(ev.windows[0]?.total >= settings.minVolume ? ev.windows[0] : ev),
        baselineAtOpen: ev.baseline!.share,
      },
      action: 'open',
    };
  }

  const next = { ...state };
  const short = ev.windows[0] ?? ev;
  if (short.total >= settings.minVolume && short.share > next.peak.share) next.peak = peakOf(short);
  if (ev.sustained) {
    next.quietSince = undefined;
    const every = settings.updateEveryMinutes * MINUTE;
    const since = ev.at - next.lastMessageAt;
    const news =
      next.peak.share > (next.lastMessagePeak ?? -Infinity) ||
      Math.abs(ev.share - (next.lastMessageShare ?? -Infinity)) >= settings.minLift / 2;
    if (since >= every && (news || since >= 4 * every)) {
      if (snoozed) return { state: next, action: 'none', suppressed: 'snoozed' };
      next.lastMessageAt = ev.at;
      next.lastMessageShare = ev.share;
      next.lastMessagePeak = next.peak.share;
      return { state: next, action: 'update' };
    }
    return { state: next, action: 'none' };
  }
  next.quietSince ??= ev.at;
  if (ev.at - next.quietSince >= settings.closeAfterMinutes * MINUTE) {
    return { state: { phase: 'ok', cooldownUntil: ev.at + settings.cooldownMinutes * MINUTE }, action: 'resolve' };
  }
  return { state: next, action: 'none' };
}

function peakOf(ev: WindowEvaluation): Peak {
  return { share: ev.share, at: ev.at, total: ev.total, negative: ev.negative, baseline: ev.baseline?.share ?? NaN };
}
