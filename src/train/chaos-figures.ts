/**
 * The figures of `npm run chaos` (src/train/chaos.ts), computed from what the loopback servers recorded
 * and what the replicas' /ready said: pure functions, no I/O.
 *
 * - Slack posts per message: successful chat.postMessage calls grouped by the step key Sentinel puts in
 *   the message metadata (`metadata: {event_type: 'sentinel_step', event_payload: {step}}`), or, for a
 *   post without it, by channel + thread + text. A message posted twice is a group of two.
 * - Leadership: from /ready samples (every 200 ms), the changes of leader and the longest time no
 *   replica answered `leader.role === 'leader'`.
 * - Trends of a sampled series (RSS, event-loop lag): min, max, first, last, and a least-squares slope
 *   after the warm-up, to tell flat from a leak.
 */

/** What the harness keeps of one Slack Web API call (test/helpers/slack-api-server.ts records it). */
export interface PostCall {
  method: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  args: Record<string, any>;
  ok: boolean;
  at: number;
  client?: string;
}

/** The metadata event type Sentinel marks its posts with (issue 12). */
export const STEP_EVENT_TYPE = 'sentinel_step';

/** The step key of a post's metadata, or undefined when the post carries none. */
export function stepOf(call: PostCall): string | undefined {
  const meta = call.args.metadata;
  if (!meta || typeof meta !== 'object' || meta.event_type !== STEP_EVENT_TYPE) return undefined;
  const step = (meta.event_payload as { step?: unknown } | undefined)?.step;
  return step === undefined || step === null ? undefined : String(step);
}

/** The channel as the recording server files it (`#alerts` → `CALERTS`). */
export function channelIdOf(channel: unknown): string {
  const c = String(channel ?? '');
  return c.startsWith('#')
    ? `C${c
        .slice(1)
        .toUpperCase()
        .replace(/[^A-Z0-9]/g, '')}`
    : c;
}

/** The message a post is: its channel and step key, else channel, thread and text. */
export function messageKey(call: PostCall): string {
  const channel = channelIdOf(call.args.channel);
  const step = stepOf(call);
  if (step !== undefined) return `${channel}|step:${step}`;
  return `${channel}|thread:${call.args.thread_ts ?? ''}|text:${String(call.args.text ?? '')}`;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function blocksOf(call: PostCall): any[] {
  return Array.isArray(call.args.blocks) ? call.args.blocks : [];
}

/** An alert headline (its first block is `sentinel_alert_headline`, adapters/slack/blocks.ts). */
export function isAlertHeadline(call: PostCall): boolean {
  return !call.args.thread_ts && blocksOf(call).some((b) => b?.block_id === 'sentinel_alert_headline');
}

/**
 * Alert id and stream of a headline: the alert id from its step key (`<alert id>/<channel>/headline`), or
 * from its buttons' value `{a, s}` (gone once resolved).
 */
export function headlineAlert(call: PostCall): { alertId?: string; stream?: string } {
  const step = stepOf(call);
  if (step !== undefined && step.includes('/')) {
    const alertId = step.slice(0, step.indexOf('/'));
    return { alertId, stream: alertId.includes('@') ? alertId.slice(0, alertId.lastIndexOf('@')) : undefined };
  }
  for (const block of blocksOf(call)) {
    for (const el of Array.isArray(block?.elements) ? block.elements : []) {
      if (typeof el?.value !== 'string') continue;
      try {
        const v = JSON.parse(el.value) as { a?: unknown; s?: unknown };
        if (typeof v.a === 'string') return { alertId: v.a, stream: typeof v.s === 'string' ? v.s : undefined };
      } catch {
        // not an alert button
      }
    }
  }
  return {};
}

/** A post about an alert: its headline or a message in a thread, in an alert channel. */
export function isAlertPost(call: PostCall, alertChannels: Set<string>): boolean {
  if (call.method !== 'chat.postMessage') return false;
  if (!alertChannels.has(channelIdOf(call.args.channel))) return false;
  return Boolean(call.args.thread_ts) || isAlertHeadline(call);
}

export interface PostsFigures {
  /** Successful chat.postMessage calls. */
  posts: number;
  /** Distinct messages they make. */
  messages: number;
  /** Posts carrying the `sentinel_step` metadata. */
  with_metadata: number;
  /** The most posts of one message (1: nothing doubled). */
  max: number;
  /** By kind of message: alert headlines and thread messages, and everything else (ops notices…). */
  max_alert_posts: number;
  max_other_posts: number;
  /** Messages posted more than once: key (text cut), how many times, by which clients, when. */
  doubled: Array<{ key: string; posts: number; clients: string[]; at: string[] }>;
}

export function postsPerMessage(calls: PostCall[], alertChannels: Set<string>): PostsFigures {
  const posts = calls.filter((c) => c.method === 'chat.postMessage' && c.ok);
  const groups = new Map<string, PostCall[]>();
  for (const c of posts) {
    const key = messageKey(c);
    const group = groups.get(key);
    if (group) group.push(c);
    else groups.set(key, [c]);
  }
  let max = 0;
  let maxAlert = 0;
  let maxOther = 0;
  const doubled: PostsFigures['doubled'] = [];
  for (const [key, group] of groups) {
    max = Math.max(max, group.length);
    if (isAlertPost(group[0], alertChannels)) maxAlert = Math.max(maxAlert, group.length);
    else maxOther = Math.max(maxOther, group.length);
    if (group.length > 1)
      doubled.push({
        key: key.length > 160 ? `${key.slice(0, 157)}...` : key,
        posts: group.length,
        clients: group.map((c) => c.client ?? '?'),
        at: group.map((c) => new Date(c.at).toISOString()),
      });
  }
  doubled.sort((a, b) => b.posts - a.posts);
  return {
    posts: posts.length,
    messages: groups.size,
    with_metadata: posts.filter((c) => stepOf(c) !== undefined).length,
    max,
    max_alert_posts: maxAlert,
    max_other_posts: maxOther,
    doubled: doubled.slice(0, 20),
  };
}

/** One /ready sample of one replica: its role as it said, or why there is none. */
export type SampledRole = 'leader' | 'follower' | 'single' | 'no-field' | 'no-answer' | 'stopped' | 'starting';

export interface ReadySample {
  /** Wall-clock ms. */
  t: number;
  /** Role by replica tag. */
  roles: Record<string, SampledRole>;
  /** The leader's lease as the leader reported it (holder, token), when one did. */
  lease?: { tag: string; holder?: string; token?: string | number };
}

export interface LeadershipFigures {
  /** Whether any replica's /ready carried a `leader` field. */
  interface_present: boolean;
  /** How many times the leader (its token, else its tag) changed after the first one was seen. */
  leader_changes: number;
  /** Longest stretch with no replica answering role 'leader', from the first leader seen to the end. */
  max_leaderless_s: number | null;
  /** Stretches of at least 1 s without a leader: start (wall ISO) and seconds. */
  leaderless: Array<{ from: string; s: number }>;
  /** Samples in which two or more replicas said they led. */
  samples_with_two_leaders: number;
  /** Successive leaders: tag, token, first seen. */
  leaders: Array<{ tag: string; holder?: string; token?: string | number; since: string }>;
}

export function leadership(samples: ReadySample[], end?: number): LeadershipFigures {
  const present = samples.some((s) => Object.values(s.roles).some((r) => r !== 'no-field' && isRole(r)));
  const leaders: LeadershipFigures['leaders'] = [];
  const leaderless: LeadershipFigures['leaderless'] = [];
  let twoLeaders = 0;
  let lastLeaderAt: number | undefined;
  let maxGap = 0;
  let current: string | undefined;
  for (const s of samples) {
    if (end !== undefined && s.t > end) break;
    const leading = Object.entries(s.roles).filter(([, r]) => r === 'leader');
    if (leading.length > 1) twoLeaders++;
    if (leading.length === 0) continue;
    if (lastLeaderAt !== undefined) {
      const gap = s.t - lastLeaderAt;
      maxGap = Math.max(maxGap, gap);
      if (gap >= 1000) leaderless.push({ from: new Date(lastLeaderAt).toISOString(), s: round(gap / 1000, 1) });
    }
    lastLeaderAt = s.t;
    const tag = s.lease?.tag ?? leading[0][0];
    const id = s.lease?.token !== undefined ? `token:${s.lease.token}` : `tag:${tag}`;
    if (id !== current) {
      current = id;
      leaders.push({
        tag,
        ...(s.lease?.holder !== undefined ? { holder: s.lease.holder } : {}),
        ...(s.lease?.token !== undefined ? { token: s.lease.token } : {}),
        since: new Date(s.t).toISOString(),
      });
    }
  }
  if (lastLeaderAt !== undefined && end !== undefined) maxGap = Math.max(maxGap, end - lastLeaderAt);
  return {
    interface_present: present,
    leader_changes: Math.max(0, leaders.length - 1),
    max_leaderless_s: lastLeaderAt === undefined ? null : round(maxGap / 1000, 2),
    leaderless,
    samples_with_two_leaders: twoLeaders,
    leaders,
  };
}

function isRole(r: SampledRole): boolean {
  return r === 'leader' || r === 'follower' || r === 'single';
}

export interface SeriesFigures {
  samples: number;
  min: number;
  max: number;
  first: number;
  last: number;
  mean: number;
  /** Least-squares slope per minute over the samples after the first quarter (warm-up left out). */
  slope_per_min: number;
  /** Mean of the last third minus mean of the second third (after warm-up), relative to the latter. */
  drift: number;
}

/** Summary of a series of (wall ms, value) samples. */
export function series(points: Array<{ t: number; v: number }>, digits = 1): SeriesFigures | null {
  const pts = points.filter((p) => Number.isFinite(p.v));
  if (pts.length === 0) return null;
  const values = pts.map((p) => p.v);
  const warm = pts.slice(Math.floor(pts.length / 4));
  const slope = leastSquaresSlope(warm.map((p) => ({ x: (p.t - pts[0].t) / 60_000, y: p.v })));
  const third = Math.max(1, Math.floor(warm.length / 3));
  const middle = mean(warm.slice(third, 2 * third).map((p) => p.v));
  const lastThird = mean(warm.slice(warm.length - third).map((p) => p.v));
  return {
    samples: pts.length,
    min: round(Math.min(...values), digits),
    max: round(Math.max(...values), digits),
    first: round(values[0], digits),
    last: round(values[values.length - 1], digits),
    mean: round(mean(values), digits),
    slope_per_min: round(slope, 3),
    drift: middle > 0 ? round((lastThird - middle) / middle, 3) : 0,
  };
}

export function leastSquaresSlope(pts: Array<{ x: number; y: number }>): number {
  if (pts.length < 2) return 0;
  const mx = mean(pts.map((p) => p.x));
  const my = mean(pts.map((p) => p.y));
  let num = 0;
  let den = 0;
  for (const p of pts) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

export function round(x: number, digits: number): number {
  return Math.round(x * 10 ** digits) / 10 ** digits;
}

export interface AlertRow {
  stream: string;
  opened_at: string;
}

/** Whether two alert lists name the same streams opening at the same data times (order ignored). */
export function sameAlerts(a: AlertRow[], b: AlertRow[]): boolean {
  const key = (x: AlertRow) => `${x.stream}@${x.opened_at}`;
  const sa = a.map(key).sort();
  const sb = b.map(key).sort();
  return sa.length === sb.length && sa.every((k, i) => k === sb[i]);
}

/** A Prometheus text exposition's sample values by metric name (labels ignored: the first sample wins). */
export function promValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && !out.has(m[1])) out.set(m[1], Number(m[3]));
  }
  return out;
}
