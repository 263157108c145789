/**
 * Live updates for open dashboards, as server-sent events: while at least one browser listens, the store's
 * fingerprint (Overview.fingerprint: data clocks, alerts, votes) is read every few seconds, and each change
 * is one `update` event to every listener, which then fetches what it shows. One reader for all listeners,
 * none when nobody listens. Every replica can serve it: it reads the shared store, not the leader's memory.
 *
 * A comment line every `heartbeatMs` keeps proxies (Cloud Run's front end) from closing an idle stream;
 * `retry:` tells the browser to reconnect after a few seconds when the stream ends (a deploy, Cloud Run's
 * request timeout). close() ends every stream: graceful shutdown does not wait for browsers.
 */
import type { ServerResponse } from 'node:http';

export interface LiveUpdatesOptions {
  fingerprint: () => Promise<string>;
  intervalMs?: number;
  heartbeatMs?: number;
  logger?: { warn(obj: object, msg: string): void };
}

export class LiveUpdates {
  private readonly listeners = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private last: string | undefined;
  private version = 0;
  private reading = false;
  private failing = false;
  private closed = false;

  constructor(private readonly opts: LiveUpdatesOptions) {}

  get size(): number {
    return this.listeners.size;
  }

  /** Streams events to `res` until the browser goes away or close() is called. */
  attach(res: ServerResponse): void {
    if (this.closed) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' });
      res.end('shutting down\n');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    res.write(`retry: 5000\nevent: hello\ndata: ${JSON.stringify({ version: this.version })}\n\n`);
    this.listeners.add(res);
    res.on('close', () => {
      this.listeners.delete(res);
      if (this.listeners.size === 0) this.stop();
    });
    this.start();
  }

  /** Ends every stream and stops reading (shutdown). */
  close(): void {
    this.closed = true;
    this.stop();
    for (const res of this.listeners) res.end();
    this.listeners.clear();
  }

  private start(): void {
    if (this.timer) return;
    const interval = this.opts.intervalMs ?? 5_000;
    this.timer = setInterval(() => void this.tick(), interval);
    this.heartbeat = setInterval(() => this.send(': keep-alive\n\n'), this.opts.heartbeatMs ?? 25_000);
    this.timer.unref();
    this.heartbeat.unref();
    void this.tick();
  }

  private stop(): void {
    clearInterval(this.timer);
    clearInterval(this.heartbeat);
    this.timer = undefined;
    this.heartbeat = undefined;
  }

  private async tick(): Promise<void> {
    if (this.reading) return; // a slow store: never two reads at once
    this.reading = true;
    try {
      const now = await this.opts.fingerprint();
      if (this.failing) this.send(`event: recovered\ndata: {}\n\n`);
      this.failing = false;
      if (this.last !== undefined && now !== this.last) {
        this.version += 1;
        this.send(`event: update\ndata: ${JSON.stringify({ version: this.version })}\n\n`);
      }
      this.last = now;
    } catch (err) {
      if (!this.failing) {
        this.opts.logger?.warn({ err }, `dashboard: cannot read what changed: ${(err as Error).message}`);
        this.send(
          `event: problem\ndata: ${JSON.stringify({ message: 'the store cannot be read: figures may be stale' })}\n\n`,
        );
      }
      this.failing = true;
    } finally {
      this.reading = false;
    }
  }

  private send(chunk: string): void {
    for (const res of this.listeners) res.write(chunk);
  }
}
