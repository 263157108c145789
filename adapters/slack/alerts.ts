/**
 * Alerts in Slack: the core's ChatSink port, and the headline's buttons.
 *
 * In each alert channel an alert is one headline message (Block Kit, linked to the alert so ✅ / ❌ on it
 * votes true / false alarm) and a thread under it: the chart (files.uploadV2), then each of the most
 * negative mentions as its own message (linked to the mention's prediction `x:<tweet id>`, so it can be
 * judged). An update edits the headline (chat.update) and adds a thread reply at most every
 * `threadUpdateMinutes`; the resolution edits the headline (buttons removed) and replies in the thread,
 * shown in the channel too. Buttons: Acknowledge (who, shown on the headline) and Snooze 1 h / 4 h
 * (through the trend module: no new alert on that stream meanwhile).
 *
 * Exactly once: every step done (headline posted with its ts, chart, each mention, each reply) is kept
 * per alert in the Store (checkpoint key `slack/alert:<alert id>`) before the next one starts. When a step
 * fails the sink throws after trying the others; the trend monitor sends the alert again later and the
 * steps already done are skipped — so nothing is posted twice, across restarts too, and nothing is lost.
 *
 * Intent, call, result (issue 12). Before each post the step's intent (`begun`: when, and for a chart its
 * file name) is written to that state, and after it the result. A crash between the call and the result
 * (or an error that leaves it unknown) leaves an intent without a result: the next delivery RESOLVES it
 * instead of posting again blindly. Every post carries its step as message metadata
 * (`{ event_type: "sentinel_step", event_payload: { step: "<alert id>/<channel>/<step>" } }`, see ./web),
 * so the message is looked up — conversations.history for a headline, conversations.replies for a thread
 * reply, from a little before the intent; a chart by its file name in the thread — and adopted when found
 * (its ts kept, its links made); only when it is not there is it posted. When Slack cannot be read at all
 * (a missing `channels:history` scope, a channel the bot is not in, a #name never seen as an id) the step
 * is posted again with a warning saying it may show twice; when Slack is unreachable nothing is posted and
 * the next delivery tries again. An intent the current delivery does not redo (an update superseded by a
 * newer one) is looked up too: found, it counts as done; not found, it is dropped.
 *
 * Ops notices (`opsNotice`) follow the same rule: each is kept as pending (`slack/ops-notices`) before it is
 * posted in each channel and confirmed after; one a crash left pending is looked up and posted only if it
 * is not there, by the next notice or by `resumeOpsNotices()` (for a replica taking over), within an hour.
 *
 * Grouped ops alerts (`opsAlert`, src/ops/error-alerts.ts) are ONE message per alert and ops channel, edited
 * in place (chat.update) as the alert evolves; when it is resolved the message is edited once more and a
 * short reply in its thread says it is over. Same rules: the message's intent is kept (`slack/ops-alert:<alert
 * id>`) before it is posted, with its step as metadata (`<alert id>/<channel>/message`, the reply
 * `…/over`), and looked up after a crash or an ambiguous failure; once its ts is kept it is only edited, by
 * whichever replica leads. Ops notices and ops alerts go to `opsChannels` (SLACK_OPS_CHANNEL), by default
 * the alert channels.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../src/log';
import { mentionPredictionId } from '../../src/store/common';
import type { Store } from '../../src/store/types';
import type { AlertContent } from '../../src/trends/content';
import type { ChatSink } from '../../src/trends/sink';
import type { OpsAlertContent } from '../../src/ops/ops-alert';
import { opsAlertMessage, opsAlertOverReply } from './ops-blocks';
import {
  ackReply,
  alertHeadline,
  alertResolutionReply,
  alertUpdateReply,
  mentionMessage,
  opsNoticeText,
  plainText,
  snoozeReply,
  type AlertMarks,
  type AlertSnapshot,
  type SlackMessage,
} from './blocks';
import type { Serial } from '../../src/chat/once';
import { publicChannelsByName } from './channels';
import { type SlackApi, type StepMark } from './web';
import { CannotTell, recoverPost } from './recover';
import { readJsonState, writeJsonState } from '../../src/chat/json-state';
import { alertForChat } from '../../src/chat/text';
import { dataNow, HOUR_MS } from '../../src/chat/snooze';
import type { ResumeOutcome } from '../../src/mentions/resume';

export { SNOOZE_HOURS } from '../../src/chat/snooze';

/** What the adapter needs from the trend module (its TrendMonitor fits). */
export interface AlertControls {
  /** No new alert (nor update) on `stream` until `until`, on the mentions' clock. */
  snooze(stream: string, until: Date): Promise<void>;
  /** `/sentiment resume`: paused mention sources tried again now (src/mentions/resume.ts). */
  resumeSources?(): Promise<ResumeOutcome>;
  /** Per stream: the last time judged (ISO, the mentions' clock), for the snooze's start and /sentiment status. */
  status?(): Promise<
    Array<{
      stream: string;
      phase: string;
      at: string | null;
      share: number | null;
      baseline: number | null;
      volume: number | null;
      reason: string | null;
      snoozedUntil: string | null;
    }>
  >;
}

/** A post begun and not confirmed: when its intent was recorded (wall-clock ms) and, for a chart, its file. */
interface Begun {
  at: number;
  file?: string;
}

interface Thread {
  /** The channel id (as Slack answered; the setting may be a #name). */
  channel: string;
  /** The headline's ts: the thread. */
  ts: string;
  /** Steps done: `chart:open`, `mention:<id>`, `reply:<at>`, `chart:<at>`, `resolved`. */
  done: string[];
  /** Wall-clock ms of the last reply in the thread (rate limit of update replies). */
  lastReplyAt: number;
  /** Steps begun and not confirmed (absent in a state stored before issue 12). */
  begun?: Record<string, Begun>;
}

interface AlertState {
  alertId: string;
  stream: string;
  content: AlertSnapshot;
  marks: AlertMarks;
  /** By configured channel. */
  threads: Record<string, Thread>;
  /** Headlines begun and not confirmed, by configured channel. */
  begun?: Record<string, Begun>;
}

/** An ops alert's message in one ops channel. */
interface OpsAlertPost {
  /** The channel id (as Slack answered). */
  channel: string;
  ts: string;
  /** The revision the message shows. */
  revision: number;
  /** The thread reply saying it is over was posted. */
  over?: true;
  /** That reply was begun and not confirmed. */
  overBegun?: Begun;
}

/** One ops alert in Slack (`slack/ops-alert:<alert id>`). */
interface OpsAlertState {
  content: OpsAlertContent;
  /** By configured ops channel. */
  posts: Record<string, OpsAlertPost>;
  /** Messages begun and not confirmed, by configured ops channel. */
  begun?: Record<string, Begun>;
}

/** Ops notices not yet confirmed in every channel (`slack/ops-notices`). */
interface OpsNotices {
  pending: Array<{ id: string; text: string; at: number; channels: string[] }>;
}

/** An ops notice a crash left pending is still worth posting this long after it was decided. */
const OPS_NOTICE_MAX_AGE_MS = 60 * 60_000;

export interface SlackAlertSinkOptions {
  api: SlackApi;
  store: Store;
  channels: string[];
  /** Where ops notices and ops alerts go (SLACK_OPS_CHANNEL); default `channels`. */
  opsChannels?: string[];
  threadUpdateMinutes: number;
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  serial: Serial;
  trends: () => AlertControls | undefined;
  /** Messages posted in a thread, by `channel/ts`: the thread's ts (ephemeral questions go in the thread). */
  threadOf: Map<string, string>;
  now?: () => number;
  /** The wall clock of intents (compared with Slack's ts): Date.now unless a test says otherwise. */
  wallClock?: () => number;
}

export class AlertActionError extends Error {}

export class SlackAlertSink implements ChatSink {
  readonly name = 'slack';
  private readonly now: () => number;
  private readonly wall: () => number;
  private channelIds?: Promise<Record<string, string>>;
  /** When conversations.list was last asked for a #name not found (at most every CHANNEL_LIST_EVERY_MS). */
  private listedAt = -Infinity;

  constructor(private readonly opts: SlackAlertSinkOptions) {
    this.now = opts.now ?? Date.now;
    this.wall = opts.wallClock ?? Date.now;
  }

  alertOpened(alert: AlertContent): Promise<void> {
    return this.deliver(alert);
  }

  /** Where ops notices and ops alerts go: SLACK_OPS_CHANNEL, else the alert channels. */
  private get opsChannels(): string[] {
    return this.opts.opsChannels?.length ? this.opts.opsChannels : this.opts.channels;
  }

  /**
   * A plain message in each ops channel (by default the alert channels). Kept as pending before it is posted
   * and confirmed after (see the header); notices a crash left pending go first.
   */
  opsNotice(text: string): Promise<void> {
    return this.opts.serial.run(OPS_KEY, async () => {
      const notice = { id: randomUUID(), text, at: this.wall(), channels: [...this.opsChannels] };
      const state = await this.loadNotices();
      state.pending.push(notice);
      await writeJsonState(this.opts.store, OPS_KEY, state);
      await this.sendNotices(notice.id);
    });
  }

  /** Ops notices a crash left pending: each found (adopted) or posted. For a replica taking over the posting. */
  resumeOpsNotices(): Promise<void> {
    return this.opts.serial.run(OPS_KEY, () => this.sendNotices());
  }

  alertUpdated(alert: AlertContent): Promise<void> {
    return this.deliver(alert);
  }

  /**
   * A grouped ops alert: its message posted once in each ops channel, then edited; resolved, a reply in its
   * thread. An older revision than the one kept (a send retried late) only refreshes what is shown.
   */
  opsAlert(alert: OpsAlertContent): Promise<void> {
    return this.opts.serial.run(opsKey(alert.id), async () => {
      const state: OpsAlertState = (await this.loadOps(alert.id)) ?? { content: alert, posts: {} };
      const shown = state.content;
      const stale = alert.revision < shown.revision || (shown.state === 'resolved' && alert.state === 'open');
      if (!stale) state.content = alert;
      const failures: string[] = [];
      for (const channel of this.opsChannels) {
        try {
          await this.opsAlertTo(channel, state);
        } catch (err) {
          failures.push(`${channel}: ${(err as Error).message}`);
        }
      }
      if (failures.length) throw new Error(`the ops alert ${alert.id} is not fully in Slack (${failures.join('; ')})`);
    });
  }

  private async opsAlertTo(channel: string, state: OpsAlertState): Promise<void> {
    const { api } = this.opts;
    const c = state.content;
    const message = opsAlertMessage(c);
    const what = (step: string) => `${step} of ops alert ${c.id} in ${channel}`;
    let post = state.posts[channel];
    if (!post) {
      const { posted, fresh } = await this.postFirst(
        channel,
        stepKey(c.id, channel, 'message'),
        state,
        what('the message'),
        message,
        () => this.saveOps(state),
      );
      // Adopted (found from an earlier attempt): shown as it was then, edited below.
      post = { channel: posted.channel, ts: posted.ts, revision: fresh ? c.revision : 0 };
      state.posts[channel] = post;
      delete state.begun![channel];
      await this.saveOps(state); // from here on, this message is only edited
      await this.learnChannelId(channel, posted.channel);
      this.opts.logger.info({ alert: c.id, channel, ts: post.ts }, `slack: ops alert posted: ${c.id}`);
    }
    if (post.revision < c.revision) {
      await api.update({ channel: post.channel, ts: post.ts, text: message.text, blocks: message.blocks });
      post.revision = c.revision;
      await this.saveOps(state);
    }
    if (c.state !== 'resolved' || post.over) return;
    const p = post;
    const mark: StepMark = { step: stepKey(c.id, channel, 'over'), since: 0 };
    let found: { channel: string; ts: string } | null = null;
    if (p.overBegun) {
      const begun = p.overBegun;
      found = await recoverPost(this.opts.logger, what('the reply'), () =>
        api.findStep(p.channel, { ...mark, since: begun.at }, p.ts),
      );
    }
    if (!found) {
      mark.since = this.wall();
      p.overBegun = { at: mark.since };
      await this.saveOps(state);
      await api.postMessage({ channel: p.channel, thread_ts: p.ts, text: opsAlertOverReply(c) }, mark);
    }
    p.over = true;
    delete p.overBegun;
    await this.saveOps(state);
  }

  alertResolved(alert: AlertContent): Promise<void> {
    return this.deliver(alert);
  }

  /** Records who acknowledged, shows it on the headline(s) and says it in the thread where it was clicked. */
  acknowledge(alertId: string, user: string, where: { channel: string; ts: string }): Promise<void> {
    return this.opts.serial.run(key(alertId), async () => {
      const state = await this.load(alertId);
      if (!state) throw new AlertActionError('I no longer know this alert, so I cannot record that.');
      if (!state.marks.acks.some((a) => a.user === user)) {
        state.marks.acks.push({ user, at: new Date(this.now()).toISOString() });
      }
      await this.save(state);
      this.opts.logger.info({ alert: alertId, user }, `slack: alert ${alertId} acknowledged by ${user}`);
      await this.refreshHeadlines(state);
      await this.opts.api.postMessage(
        { channel: where.channel, thread_ts: where.ts, text: ackReply(user) },
        { step: `${alertId}/${where.channel}/ack:${randomUUID()}`, since: this.wall() },
      );
    });
  }

  /** Snoozes new alerts on the alert's stream for `hours` through the trend module, and says so. */
  snooze(alertId: string, hours: number, user: string, where: { channel: string; ts: string }): Promise<string> {
    return this.opts.serial.run(key(alertId), async () => {
      const controls = this.opts.trends();
      if (!controls) throw new AlertActionError('Snoozing needs the trend detection, which is not running here.');
      const state = await this.load(alertId);
      if (!state) throw new AlertActionError('I no longer know this alert, so I cannot snooze its stream.');
      const from = await dataNow(controls, state.stream, this.now);
      const until = new Date(from + hours * HOUR_MS).toISOString();
      await controls.snooze(state.stream, new Date(until));
      state.marks.snooze = { user, until, hours };
      await this.save(state);
      this.opts.logger.info({ alert: alertId, stream: state.stream, user, until }, `slack: ${state.stream} snoozed`);
      await this.refreshHeadlines(state);
      await this.opts.api.postMessage(
        { channel: where.channel, thread_ts: where.ts, text: snoozeReply(user, state.stream, hours, until) },
        { step: `${alertId}/${where.channel}/snooze:${randomUUID()}`, since: this.wall() },
      );
      return until;
    });
  }

  private deliver(received: AlertContent): Promise<void> {
    const alert = alertForChat(received); // the mentions' text decoded once, here
    return this.opts.serial.run(key(alert.alertId), async () => {
      const { chart, ...snapshot } = alert;
      const state: AlertState = (await this.load(alert.alertId)) ?? {
        alertId: alert.alertId,
        stream: alert.stream,
        content: snapshot,
        marks: { acks: [] },
        threads: {},
      };
      // A message sent again (after a failure) may be older than what is shown: never go back, and add
      // nothing to the thread for it (the headline is only refreshed).
      const stale = (state.content.kind === 'resolved' && alert.kind !== 'resolved') || alert.at < state.content.at;
      if (!stale) state.content = snapshot;
      const failures: string[] = [];
      for (const channel of this.opts.channels) {
        try {
          await this.deliverTo(channel, state, alert, chart, stale);
        } catch (err) {
          failures.push(`${channel}: ${(err as Error).message}`);
        }
      }
      if (failures.length) {
        throw new Error(`the ${alert.kind} alert ${alert.alertId} is not fully in Slack (${failures.join('; ')})`);
      }
    });
  }

  private async deliverTo(
    channel: string,
    state: AlertState,
    alert: AlertContent,
    chart: AlertContent['chart'],
    stale: boolean,
  ): Promise<void> {
    const { api, store } = this.opts;
    const headline = alertHeadline(state.content, state.marks);
    const what = (step: string) => `${step} of alert ${alert.alertId} in ${channel}`;
    let thread = state.threads[channel];
    let fresh = false;
    if (!thread) {
      const { posted } = await this.postFirst(
        channel,
        stepKey(alert.alertId, channel, 'headline'),
        state,
        what('the headline'),
        headline,
        () => this.save(state),
      );
      thread = state.threads[channel] = { channel: posted.channel, ts: posted.ts, done: [], lastReplyAt: this.now() };
      delete state.begun![channel];
      fresh = true;
      await this.save(state); // from here on, this headline is never posted again
      await this.learnChannelId(channel, posted.channel);
      await store.linkMessage({
        platform: 'slack',
        channel: posted.channel,
        messageId: posted.ts,
        alertId: alert.alertId,
      });
    } else {
      await api.update({ channel: thread.channel, ts: thread.ts, text: headline.text, blocks: headline.blocks });
    }

    const t = thread;
    const errors: unknown[] = [];
    const touched = new Set<string>();
    /** One step: skipped when done; a begun one is looked up first; else intent, post, result. */
    const step = async <P>(
      id: string,
      run: {
        file?: string;
        post: (mark: StepMark) => Promise<P>;
        find: (mark: StepMark, begun: Begun) => Promise<P | null>;
        then?: (result: P) => Promise<void>;
      },
    ) => {
      touched.add(id);
      if (t.done.includes(id)) return;
      try {
        const mark: StepMark = { step: stepKey(alert.alertId, channel, id), since: 0 };
        const begun = t.begun?.[id];
        let result: P | null = null;
        if (begun)
          result = await recoverPost(this.opts.logger, what(id), () => run.find({ ...mark, since: begun.at }, begun));
        if (result === null) {
          mark.since = this.wall();
          (t.begun ??= {})[id] = { at: mark.since, ...(run.file ? { file: run.file } : {}) };
          await this.save(state);
          result = await run.post(mark);
        }
        await run.then?.(result);
        t.done.push(id);
        delete t.begun?.[id];
        await this.save(state);
      } catch (err) {
        errors.push(err);
      }
    };
    const linkMention = async (mentionId: string, posted: { channel: string; ts: string }) => {
      this.opts.threadOf.set(`${posted.channel}/${posted.ts}`, t.ts);
      await store.linkMessage({
        platform: 'slack',
        channel: posted.channel,
        messageId: posted.ts,
        predictionId: mentionPredictionId(mentionId),
      });
    };
    const postChart = (id: string) => {
      if (!chart) return Promise.resolve();
      const filename = `${alert.stream}-${alert.kind}-${alert.at.replace(/[:.]/g, '')}.png`.replace(/[^\w.-]+/g, '_');
      return step<true>(id, {
        file: filename,
        post: async (mark) => {
          await api.uploadFile(
            {
              channel: t.channel,
              threadTs: t.ts,
              file: chart.png,
              filename,
              title: plainText(chart.title),
              altText: plainText(chart.title),
            },
            mark.since,
          );
          return true;
        },
        // The file name the intent recorded: this delivery's alert may be a later one than the crashed one.
        find: async (mark, begun) =>
          (await api.findFile(t.channel, t.ts, begun.file ?? filename, mark.since)) ? true : null,
      });
    };
    const postMentions = async () => {
      for (const m of alert.mentions) {
        await step(`mention:${m.id}`, {
          post: (mark) => {
            const msg = mentionMessage(m);
            return api.postMessage(
              {
                channel: t.channel,
                thread_ts: t.ts,
                text: msg.text,
                blocks: msg.blocks,
                unfurl_links: false,
                unfurl_media: false,
              },
              mark,
            );
          },
          find: (mark) => api.findStep(t.channel, mark, t.ts),
          then: (posted) => linkMention(m.id, posted),
        });
      }
    };
    const reply = (mark: StepMark, msg: { text: string; blocks: unknown[] }, broadcast = false) =>
      api.postMessage(
        {
          channel: t.channel,
          thread_ts: t.ts,
          text: msg.text,
          blocks: msg.blocks,
          ...(broadcast ? { reply_broadcast: true } : {}),
        } as Parameters<SlackApi['postMessage']>[0],
        mark,
      );

    if (alert.kind === 'opened' || fresh) {
      await postChart('chart:open');
      await postMentions();
    }
    if (alert.kind === 'updated' && !fresh && !stale) {
      const id = `reply:${alert.at}`;
      const due = this.now() - t.lastReplyAt >= this.opts.threadUpdateMinutes * 60_000;
      if (!t.done.includes(id) && (due || t.begun?.[id])) {
        const msg = alertUpdateReply(state.content);
        await step(id, {
          post: (mark) => reply(mark, msg),
          find: (mark) => api.findStep(t.channel, mark, t.ts),
          then: async () => {
            t.lastReplyAt = this.now();
          },
        });
        if (t.done.includes(id)) {
          await postChart(`chart:${alert.at}`);
          await postMentions();
        }
      }
    }
    if (alert.kind === 'resolved' && !stale) {
      const msg = alertResolutionReply(state.content);
      await step('resolved', {
        post: (mark) => reply(mark, msg, true),
        find: (mark) => api.findStep(t.channel, mark, t.ts),
        then: async () => {
          t.lastReplyAt = this.now();
        },
      });
      if (t.done.includes('resolved')) await postChart('chart:resolved');
    }

    // Steps begun earlier that this delivery does not redo (an update superseded by a newer one, a mention
    // no longer shown): found, they count as done; not there, they are dropped.
    for (const [id, begun] of Object.entries(t.begun ?? {})) {
      if (touched.has(id)) continue;
      const mark: StepMark = { step: stepKey(alert.alertId, channel, id), since: begun.at };
      try {
        const found = id.startsWith('chart:')
          ? (await api.findFile(t.channel, t.ts, begun.file ?? '', mark.since)) || null
          : await api.findStep(t.channel, mark, t.ts);
        if (found) {
          if (typeof found === 'object' && id.startsWith('mention:')) await linkMention(id.slice(8), found);
          t.done.push(id);
        }
        this.opts.logger.info(
          { alert: alert.alertId, channel, step: id, found: Boolean(found) },
          `slack: ${what(id)}, begun before a restart, ${found ? 'was posted: kept as done' : 'was not posted: dropped'}`,
        );
        delete t.begun![id];
        await this.save(state);
      } catch (err) {
        this.opts.logger.warn({ err, alert: alert.alertId, step: id }, `slack: cannot check ${what(id)} yet`);
      }
    }
    if (errors.length) throw errors[0];
  }

  /**
   * A post begun before a crash (or an unknown outcome): the message found and adopted, or null when it is
   * not there (or cannot be looked up: then posted again, with a warning). Throws when Slack cannot be
   * reached now: nothing is posted, and the next delivery asks again.
   */
  /**
   * The first message of a step in `channel`, posted once: a post begun before (its intent in `state.begun`)
   * is looked up first (conversations.history, by its metadata); else the intent is stored (`save`), then the
   * message posted with its mark. `fresh`: posted now (false: found from an earlier attempt). The caller
   * records the message and clears `state.begun[channel]`.
   */
  private async postFirst(
    channel: string,
    step: string,
    state: { begun?: Record<string, Begun> },
    what: string,
    message: SlackMessage,
    save: () => Promise<void>,
  ): Promise<{ posted: { channel: string; ts: string }; fresh: boolean }> {
    const { api } = this.opts;
    const mark: StepMark = { step, since: 0 };
    const begun = state.begun?.[channel];
    if (begun) {
      const found = await recoverPost(this.opts.logger, what, async () => {
        const id = await this.channelIdOf(channel);
        if (!id) throw new CannotTell(`${channel} is a #name whose channel id Sentinel has not seen yet`);
        return api.findStep(id, { ...mark, since: begun.at });
      });
      if (found) return { posted: found, fresh: false };
    }
    mark.since = this.wall();
    const id = await this.channelIdOf(channel);
    if (id) mark.channelId = id;
    (state.begun ??= {})[channel] = { at: mark.since };
    await save(); // the intent: a crash from here on is resolved, not posted again blindly
    const posted = await api.postMessage(
      { channel, text: message.text, blocks: message.blocks, unfurl_links: false, unfurl_media: false },
      mark,
    );
    return { posted, fresh: true };
  }

  /**
   * The channel id of a configured channel: itself, or for a #name the id learned from an earlier post (by
   * any replica: re-read from the store on a miss) or else from Slack's list of public channels. Without it
   * a post cut short by an ambiguous failure or a crash could not be looked up, and would be posted again.
   */
  private async channelIdOf(channel: string): Promise<string | undefined> {
    if (!channel.startsWith('#')) return channel;
    const known = (await this.knownChannelIds())[channel];
    if (known) return known;
    this.channelIds = undefined;
    const stored = (await this.knownChannelIds())[channel];
    if (stored) return stored;
    if (this.wall() - this.listedAt < CHANNEL_LIST_EVERY_MS) return undefined;
    this.listedAt = this.wall();
    try {
      const id = (await publicChannelsByName(this.opts.api)).get(channel.slice(1));
      if (id) await this.learnChannelId(channel, id);
      return id;
    } catch (err) {
      this.opts.logger.warn({ err, channel }, `slack: cannot list the public channels to find ${channel}`);
      return undefined;
    }
  }

  private knownChannelIds(): Promise<Record<string, string>> {
    this.channelIds ??= readJsonState<Record<string, string>>(this.opts.store, CHANNEL_IDS_KEY, this.opts.logger).then(
      (ids) => ids ?? {},
    );
    return this.channelIds;
  }

  /** Keeps the id Slack answered for a #name, so a headline begun there can be looked up after a crash. */
  private async learnChannelId(channel: string, id: string): Promise<void> {
    if (!channel.startsWith('#')) return;
    const ids = await this.knownChannelIds();
    if (ids[channel] === id) return;
    ids[channel] = id;
    await writeJsonState(this.opts.store, CHANNEL_IDS_KEY, ids);
  }

  private async loadNotices(): Promise<OpsNotices> {
    const state = await readJsonState<OpsNotices>(this.opts.store, OPS_KEY, this.opts.logger);
    return state && Array.isArray(state.pending) ? state : { pending: [] };
  }

  /** Posts every pending ops notice in the channels it still lacks; `fresh` was just decided (no lookup). */
  private async sendNotices(fresh?: string): Promise<void> {
    const { api, store, logger } = this.opts;
    const state = await this.loadNotices();
    const failures: string[] = [];
    for (const notice of [...state.pending]) {
      if (notice.id !== fresh && this.wall() - notice.at > OPS_NOTICE_MAX_AGE_MS) {
        logger.warn(
          { notice: notice.text },
          'slack: an ops notice left pending by a crash is over an hour old; dropped',
        );
        state.pending = state.pending.filter((n) => n !== notice);
        await writeJsonState(store, OPS_KEY, state);
        continue;
      }
      for (const channel of [...notice.channels]) {
        const id = await this.channelIdOf(channel);
        const mark: StepMark = {
          step: `ops/${notice.id}/${channel}`,
          since: notice.at,
          ...(id ? { channelId: id } : {}),
        };
        try {
          let posted: { channel: string; ts: string } | null = null;
          if (notice.id !== fresh) {
            posted = await recoverPost(this.opts.logger, `the ops notice "${notice.text}" in ${channel}`, async () => {
              if (!id) throw new CannotTell(`${channel} is a #name whose channel id Sentinel has not seen yet`);
              return api.findStep(id, mark);
            });
          }
          posted ??= await api.postMessage({ channel, text: opsNoticeText(notice.text) }, mark);
          await this.learnChannelId(channel, posted.channel);
          notice.channels = notice.channels.filter((c) => c !== channel);
        } catch (err) {
          failures.push(`${channel}: ${(err as Error).message}`);
        }
      }
      if (!notice.channels.length) state.pending = state.pending.filter((n) => n !== notice);
      await writeJsonState(store, OPS_KEY, state);
    }
    if (failures.length) throw new Error(`an ops notice is not fully in Slack (${failures.join('; ')})`);
  }

  private async refreshHeadlines(state: AlertState): Promise<void> {
    const headline = alertHeadline(state.content, state.marks);
    for (const t of Object.values(state.threads)) {
      await this.opts.api.update({ channel: t.channel, ts: t.ts, text: headline.text, blocks: headline.blocks });
    }
  }

  private loadOps(alertId: string): Promise<OpsAlertState | null> {
    return readJsonState<OpsAlertState>(this.opts.store, opsKey(alertId), this.opts.logger);
  }

  private saveOps(state: OpsAlertState): Promise<void> {
    return writeJsonState(this.opts.store, opsKey(state.content.id), state);
  }

  private load(alertId: string): Promise<AlertState | null> {
    return readJsonState<AlertState>(this.opts.store, key(alertId), this.opts.logger);
  }

  private save(state: AlertState): Promise<void> {
    return writeJsonState(this.opts.store, key(state.alertId), state);
  }
}

function key(alertId: string): string {
  return `slack/alert:${alertId}`;
}

function opsKey(alertId: string): string {
  return `slack/ops-alert:${alertId}`;
}

const OPS_KEY = 'slack/ops-notices';
const CHANNEL_IDS_KEY = 'slack/channel-ids';
/** conversations.list is Tier 2 (20 a minute): a #name it does not list is asked again after this. */
const CHANNEL_LIST_EVERY_MS = 5 * 60_000;

/** The step a post carries as metadata: `<alert id>/<configured channel>/<step>`. */
function stepKey(alertId: string, channel: string, step: string): string {
  return `${alertId}/${channel}/${step}`;
}
