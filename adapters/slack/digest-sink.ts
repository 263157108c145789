/**
 * The daily digest in Slack: the core's DigestSink port. In each alert channel, the digest is one message
 * (./digest-blocks) and its chart goes in that message's thread (files.uploadV2), as an alert's does.
 *
 * Exactly once, with the rules of ./alerts.ts and its helpers (./web):
 * - what is done is kept per digest in the Store (checkpoint `slack/digest:<stream>:<date>:<zone>`: per channel
 *   the message's ts, whether the chart is up, and the intent of a post begun and not confirmed);
 * - a digest already complete is not posted again (a run twice, a restart, a replica taking over);
 * - one delivery at a time per digest, whichever process or replica asks: a claim in the Store
 *   (`slack:digest:<stream>:<date>:<zone>`, held `claimTtlMs`, 10 min); another delivery meanwhile does nothing;
 * - every post carries its step as message metadata (`digest:<stream>:<date>:<zone>/<channel>`), so a post begun
 *   before a crash or an ambiguous failure is looked up (conversations.history; the chart by its file name
 *   in the thread) and adopted when found, posted only when it is not there. When Slack cannot be read (a
 *   missing scope, a #name never seen as an id) it is posted again with a warning that it may show twice.
 *
 * Who acknowledged an alert is kept by ./alerts.ts in the alert's state (`slack/alert:<id>`, `marks.acks`):
 * `slackAcknowledgements` reads it for the digest.
 */
import type { Logger } from '../../src/log';
import type { Serial } from '../../src/chat/once';
import { readJsonState, writeJsonState } from '../../src/chat/json-state';
import type { Store } from '../../src/store/types';
import { digestForChat, digestKey, type AckReader, type DigestContent, type DigestSink } from '../../src/trends/digest';
import { plainText } from './blocks';
import { publicChannelsByName } from './channels';
import { digestMessage } from './digest-blocks';
import { type SlackApi, type StepMark } from './web';
import { CannotTell, recoverPost } from './recover';

export interface SlackDigestSinkOptions {
  api: SlackApi;
  store: Pick<Store, 'getCheckpoint' | 'setCheckpoint' | 'claim'>;
  /** SLACK_ALERT_CHANNELS. */
  channels: string[];
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  serial: Serial;
  /** How long one delivery holds the digest against another (default 10 min). */
  claimTtlMs?: number;
  /** The wall clock of intents (compared with Slack's ts). */
  wallClock?: () => number;
}

interface ChannelState {
  /** The channel id Slack answered. */
  channel?: string;
  ts?: string;
  /** Wall-clock ms of a message post begun and not confirmed. */
  begun?: number;
  chart?: boolean;
  /** Wall-clock ms of a chart upload begun and not confirmed. */
  chartBegun?: number;
}

interface DigestState {
  /** digestKey */
  key: string;
  channels: Record<string, ChannelState>;
}

/** The alert sink's state key of #name → channel id (adapters/slack/alerts.ts): shared, read only here. */
const CHANNEL_IDS_KEY = 'slack/channel-ids';

export class SlackDigestSink implements DigestSink {
  readonly name = 'slack';
  private readonly wall: () => number;

  constructor(private readonly opts: SlackDigestSinkOptions) {
    this.wall = opts.wallClock ?? Date.now;
  }

  digest(received: DigestContent): Promise<void> {
    const c = digestForChat(received); // the mentions' text decoded once, here
    const key = stateKey(c);
    return this.opts.serial.run(key, async () => {
      const { store, logger } = this.opts;
      if (this.complete(await this.load(c), c)) {
        logger.debug({ stream: c.stream, date: c.day.date }, 'slack: this digest is posted already');
        return;
      }
      if (!(await store.claim(`slack:digest:${digestKey(c)}`, this.opts.claimTtlMs ?? 10 * 60_000))) {
        logger.info(
          { stream: c.stream, date: c.day.date },
          `slack: the digest of ${c.stream} for ${c.day.date} is being posted by another delivery; not posted here`,
        );
        return;
      }
      const state = await this.load(c); // as the last delivery left it
      const failures: string[] = [];
      for (const channel of this.opts.channels) {
        try {
          await this.deliverTo(channel, state, c);
        } catch (err) {
          failures.push(`${channel}: ${(err as Error).message}`);
        }
      }
      if (failures.length)
        throw new Error(`the digest of ${c.stream} for ${c.day.date} is not fully in Slack (${failures.join('; ')})`);
    });
  }

  private complete(state: DigestState, c: DigestContent): boolean {
    return this.opts.channels.every((ch) => state.channels[ch]?.ts && (!c.chart || state.channels[ch]?.chart));
  }

  private async deliverTo(channel: string, state: DigestState, c: DigestContent): Promise<void> {
    const { api } = this.opts;
    const t = (state.channels[channel] ??= {});
    const what = (step: string) => `${step} of the digest of ${c.stream} for ${c.day.date} in ${channel}`;
    if (!t.ts) {
      const mark: StepMark = { step: `digest:${digestKey(c)}/${channel}`, since: 0 };
      let posted: { channel: string; ts: string } | null = null;
      if (t.begun !== undefined) {
        const since = t.begun;
        posted = await recoverPost(this.opts.logger, what('the message'), async () => {
          const id = await this.channelIdOf(channel);
          if (!id) throw new CannotTell(`${channel} is a #name whose channel id Sentinel has not seen yet`);
          return api.findStep(id, { ...mark, since });
        });
      }
      if (!posted) {
        mark.since = this.wall();
        const id = await this.channelIdOf(channel);
        if (id) mark.channelId = id;
        t.begun = mark.since;
        await this.save(state); // the intent: a crash from here on is looked up, not posted again blindly
        const msg = digestMessage(c, 'thread');
        posted = await api.postMessage(
          { channel, text: msg.text, blocks: msg.blocks, unfurl_links: false, unfurl_media: false },
          mark,
        );
      }
      t.channel = posted.channel;
      t.ts = posted.ts;
      delete t.begun;
      await this.save(state);
      this.opts.logger.info({ stream: c.stream, date: c.day.date, channel, ts: posted.ts }, 'slack: digest posted');
    }
    if (c.chart && !t.chart) {
      const chart = c.chart;
      const filename = `${c.stream}-digest-${c.day.date}.png`.replace(/[^\w.-]+/g, '_');
      let found = false;
      if (t.chartBegun !== undefined) {
        const since = t.chartBegun;
        found =
          (await recoverPost(this.opts.logger, what('the chart'), async () =>
            (await api.findFile(t.channel!, t.ts!, filename, since)) ? true : null,
          )) === true;
      }
      if (!found) {
        t.chartBegun = this.wall();
        await this.save(state);
        await api.uploadFile(
          {
            channel: t.channel!,
            threadTs: t.ts!,
            file: chart.png,
            filename,
            title: plainText(chart.title),
            altText: plainText(chart.title),
          },
          t.chartBegun,
        );
      }
      t.chart = true;
      delete t.chartBegun;
      await this.save(state);
    }
  }

  /** The id of a configured channel: itself, or for a #name the id learnt by the alerts or listed by Slack. */
  private async channelIdOf(channel: string): Promise<string | undefined> {
    if (!channel.startsWith('#')) return channel;
    const known = await readJsonState<Record<string, string>>(this.opts.store, CHANNEL_IDS_KEY, this.opts.logger);
    if (known?.[channel]) return known[channel];
    try {
      return (await publicChannelsByName(this.opts.api)).get(channel.slice(1));
    } catch (err) {
      this.opts.logger.warn({ err, channel }, `slack: cannot list the public channels to find ${channel}`);
      return undefined;
    }
  }

  private async load(c: DigestContent): Promise<DigestState> {
    const state = await readJsonState<DigestState>(this.opts.store, stateKey(c), this.opts.logger);
    return state && typeof state.channels === 'object' && state.channels ? state : { key: digestKey(c), channels: {} };
  }

  private save(state: DigestState): Promise<void> {
    return writeJsonState(this.opts.store, `slack/digest:${state.key}`, state);
  }
}

function stateKey(c: DigestContent): string {
  return `slack/digest:${digestKey(c)}`;
}

/** Who acknowledged an alert in Slack: the `marks.acks` ./alerts.ts keeps in `slack/alert:<alert id>`. */
export function slackAcknowledgements(store: Pick<Store, 'getCheckpoint'>, logger: Pick<Logger, 'error'>): AckReader {
  return async (alertId) => {
    const state = await readJsonState<{ marks?: { acks?: Array<{ user?: unknown; at?: unknown }> } }>(
      store,
      `slack/alert:${alertId}`,
      logger,
    );
    return (state?.marks?.acks ?? [])
      .filter((a): a is { user: string; at: string } => typeof a.user === 'string' && typeof a.at === 'string')
      .map((a) => ({ platform: 'slack', user: a.user, at: a.at }));
  };
}
