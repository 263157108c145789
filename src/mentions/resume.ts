/**
 * `/sentiment resume` (Slack) and `resume` (Teams): try paused mention sources again now, not at the next
 * 15-minute retry (e.g. once the X token or the CA bundle was fixed).
 *
 * The command reaches whichever replica Slack or Teams picked, but only the leader polls. So the request is
 * stored (a checkpoint row, the time it was made) and the leader's poller reads it at its next poll: any
 * source paused before that time is tried again (src/mentions/poller.ts). When this replica leads, its
 * poller is also told directly, so the answer can list what was paused. The outcome (works again, or still
 * refused) reaches the ops channel as the pause did.
 */
import type { LeaderStatus } from '../ops/leadership';
import type { Store } from '../store/types';

export const RESUME_REQUEST_KEY = 'control:resume-sources';

export interface PausedSource {
  source: string;
  reason: string;
  since: string;
}

export interface ResumeOutcome {
  /**
   * Where the sources are polled: here (this replica leads, or SQLite), by another replica, by nobody yet
   * (no leader seen), or nowhere (this process leads and has no mention source).
   */
  polledBy: 'here' | 'leader' | 'nobody' | 'no_source';
  /** The sources paused here and now retried (only known when polled here). */
  paused: PausedSource[];
}

export interface ResumeTarget {
  store: Pick<Store, 'setCheckpoint'>;
  leader: () => LeaderStatus;
  /** This replica's poller, when it leads. */
  poller: () => { pausedSources(): PausedSource[]; resume(source: string): void } | undefined;
  now?: () => number;
}

export async function requestResume(t: ResumeTarget): Promise<ResumeOutcome> {
  await t.store.setCheckpoint(RESUME_REQUEST_KEY, new Date((t.now ?? Date.now)()).toISOString());
  const poller = t.poller();
  if (poller) {
    const paused = poller.pausedSources().map(({ source, reason, since }) => ({ source, reason, since }));
    for (const p of paused) poller.resume(p.source);
    return { polledBy: 'here', paused };
  }
  const { role, holder } = t.leader();
  if (role !== 'follower') return { polledBy: 'no_source', paused: [] };
  return { polledBy: holder ? 'leader' : 'nobody', paused: [] };
}

/** The answer to the user, the same words on both platforms (plain text: no platform's markup). */
export function resumeReply(o: ResumeOutcome): string {
  if (o.polledBy === 'leader')
    return 'Asked the leading replica to try every paused source again at its next poll. If one was paused, the ops channel says when it works again.';
  if (o.polledBy === 'no_source') return 'No mention source is set up here: nothing to resume.';
  if (o.polledBy === 'nobody')
    return 'No replica polls the sources right now (no leader yet); the request is kept and the next leader tries paused sources at once.';
  if (o.paused.length === 0) return 'No source is paused: nothing to resume.';
  const list = o.paused.map(
    (p) => `${p.source} (paused since ${p.since.slice(0, 16).replace('T', ' ')} UTC: ${p.reason})`,
  );
  return `Trying again at the next poll: ${list.join('; ')}. The ops channel says when it works again.`;
}

/** The command's whole answer: `resume` is the trend controls' (absent: no source here); a store error is told. */
export async function answerResume(
  resume: (() => Promise<ResumeOutcome>) | undefined,
  onError: (err: Error) => void,
): Promise<string> {
  if (!resume) return resumeReply({ polledBy: 'no_source', paused: [] });
  try {
    return resumeReply(await resume());
  } catch (err) {
    onError(err as Error);
    return 'The request could not be recorded (the store did not answer); try again in a minute.';
  }
}
