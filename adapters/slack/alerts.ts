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
 */
import type { Logger } from '../../src/log';
import { mentionPredictionId } from '../../src/store/common';
import type { Store } from '../../src/store/types';
import type { AlertContent } from '../../src/trends/content';
import type { ChatSink } from '../../src/trends/sink';
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
} from './blocks';
import type { Serial } from '../../src/chat/once';
import type { SlackApi } from './web';
import { readJsonState, writeJsonState } from '../../src/chat/json-state';
import { alertForChat } from '../../src/chat/text';
import { dataNow, HOUR_MS } from '../../src/chat/snooze';

export { SNOOZE_HOURS } from '../../src/chat/snooze';

/** What the adapter needs from the trend module (its TrendMonitor fits). */
export interface AlertControls {
  /** No new alert (nor update) on `stream` until `until`, on the mentions' clock. */
  snooze(stream: string, until: Date): Promise<void>;
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

interface Thread {
  /** The channel id (as Slack answered; the setting may be a #name). */
  channel: string;
  /** The headline's ts: the thread. */
  ts: string;
  /** Steps done: `chart:open`, `mention:<id>`, `reply:<at>`, `chart:<at>`, `resolved`. */
  done: string[];
  /** Wall-clock ms of the last reply in the thread (rate limit of update replies). */
  lastReplyAt: number;
}

interface AlertState {
  alertId: string;
  stream: string;
  content: AlertSnapshot;
  marks: AlertMarks;
  /** By configured channel. */
  threads: Record<string, Thread>;
}

export interface SlackAlertSinkOptions {
  api: SlackApi;
  store: Store;
  channels: string[];
  threadUpdateMinutes: number;
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  serial: Serial;
  trends: () => AlertControls | undefined;
  /** Messages posted in a thread, by `channel/ts`: the thread's ts (ephemeral questions go in the thread). */
  threadOf: Map<string, string>;
  now?: () => number;
}

export class AlertActionError extends Error {}

export class SlackAlertSink implements ChatSink {
  readonly name = 'slack';
  private readonly now: () => number;

  constructor(private readonly opts: SlackAlertSinkOptions) {
    this.now = opts.now ?? Date.now;
  }

  alertOpened(alert: AlertContent): Promise<void> {
    return this.deliver(alert);
  }

  /** A plain message in each alert channel: the team's ops channel is where its alerts go. */
  async opsNotice(text: string): Promise<void> {
    for (const channel of this.opts.channels) {
      await this.opts.api.postMessage({ channel, text: opsNoticeText(text) });
    }
  }

  alertUpdated(alert: AlertContent): Promise<void> {
    return this.deliver(alert);
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
      await this.opts.api.postMessage({ channel: where.channel, thread_ts: where.ts, text: ackReply(user) });
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
      await this.opts.api.postMessage({
        channel: where.channel,
        thread_ts: where.ts,
        text: snoozeReply(user, state.stream, hours, until),
      });
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
    let thread = state.threads[channel];
    let fresh = false;
    if (!thread) {
      const posted = await api.postMessage({
        channel,
        text: headline.text,
        blocks: headline.blocks,
        unfurl_links: false,
        unfurl_media: false,
      });
      thread = state.threads[channel] = { channel: posted.channel, ts: posted.ts, done: [], lastReplyAt: this.now() };
      fresh = true;
      await this.save(state); // from here on, this headline is never posted again
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
    const step = async (id: string, work: () => Promise<void>) => {
      if (t.done.includes(id)) return;
      try {
        await work();
        t.done.push(id);
        await this.save(state);
      } catch (err) {
        errors.push(err);
      }
    };
    const postChart = (id: string) =>
      chart
        ? step(id, () =>
            api.uploadFile({
              channel: t.channel,
              threadTs: t.ts,
              file: chart.png,
              filename: `${alert.stream}-${alert.kind}-${alert.at.replace(/[:.]/g, '')}.png`.replace(/[^\w.-]+/g, '_'),
              title: plainText(chart.title),
              altText: plainText(chart.title),
            }),
          )
        : Promise.resolve();
    const postMentions = async () => {
      for (const m of alert.mentions) {
        await step(`mention:${m.id}`, async () => {
          const msg = mentionMessage(m);
          const posted = await api.postMessage({
            channel: t.channel,
            thread_ts: t.ts,
            text: msg.text,
            blocks: msg.blocks,
            unfurl_links: false,
            unfurl_media: false,
          });
          this.opts.threadOf.set(`${posted.channel}/${posted.ts}`, t.ts);
          await store.linkMessage({
            platform: 'slack',
            channel: posted.channel,
            messageId: posted.ts,
            predictionId: mentionPredictionId(m.id),
          });
        });
      }
    };

    if (alert.kind === 'opened' || fresh) {
      await postChart('chart:open');
      await postMentions();
    }
    if (alert.kind === 'updated' && !fresh && !stale) {
      const id = `reply:${alert.at}`;
      const due = this.now() - t.lastReplyAt >= this.opts.threadUpdateMinutes * 60_000;
      if (!t.done.includes(id) && due) {
        const msg = alertUpdateReply(state.content);
        await step(id, async () => {
          await api.postMessage({ channel: t.channel, thread_ts: t.ts, text: msg.text, blocks: msg.blocks });
          t.lastReplyAt = this.now();
        });
        if (t.done.includes(id)) {
          await postChart(`chart:${alert.at}`);
          await postMentions();
        }
      }
    }
    if (alert.kind === 'resolved' && !stale) {
      const msg = alertResolutionReply(state.content);
      await step('resolved', async () => {
        await api.postMessage({
          channel: t.channel,
          thread_ts: t.ts,
          reply_broadcast: true,
          text: msg.text,
          blocks: msg.blocks,
        });
        t.lastReplyAt = this.now();
      });
      if (t.done.includes('resolved')) await postChart('chart:resolved');
    }
    if (errors.length) throw errors[0];
  }

  private async refreshHeadlines(state: AlertState): Promise<void> {
    const headline = alertHeadline(state.content, state.marks);
    for (const t of Object.values(state.threads)) {
      await this.opts.api.update({ channel: t.channel, ts: t.ts, text: headline.text, blocks: headline.blocks });
    }
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
