/**
 * Sentinel processes for `npm run chaos`: N replicas of `node --import tsx src/main.ts`, each in a slot
 * that is refilled when its process dies (as Cloud Run starts a new instance), each generation with its
 * own tag (`s<slot>g<generation>`, used in its X and Slack URLs so the loopback servers can tell who
 * called), its own port and its own log file. A sampler asks every replica's /ready every 200 ms and
 * keeps what it said about leadership (`leader: {role, holder, token, since}`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { ReadySample, SampledRole } from './chaos-figures';

export interface Replica {
  slot: number;
  gen: number;
  tag: string;
  port: number;
  pid: number;
  child: ChildProcess;
  state: 'starting' | 'ready' | 'stopped' | 'exited';
  startedAt: number;
  readyAt?: number;
  /** Why the harness ended it, if it did. */
  endedBy?: 'SIGKILL' | 'shutdown';
  exit?: { code: number | null; signal: string | null; at: number };
  log: string;
  /** The `leader` of its last /ready answer. */
  lease?: { role?: string; holder?: string; token?: string | number; since?: string };
  role: SampledRole;
}

export interface FleetOptions {
  replicas: number;
  /** The environment of a replica with this tag and port. */
  env: (tag: string, port: number) => Record<string, string>;
  /** Where the replicas' logs go. */
  dir: string;
  /** Delay before a dead replica's slot gets a new process. */
  restartDelayMs: number;
  log: (m: string) => void;
}

export class Fleet {
  /** Every process started, in order. */
  readonly all: Replica[] = [];
  readonly samples: ReadySample[] = [];
  /** Exits the harness did not cause. */
  readonly unexpectedExits: Array<{
    tag: string;
    code: number | null;
    signal: string | null;
    at: string;
    last: string;
  }> = [];
  readonly restarts: Array<{ slot: number; tag: string; at: string }> = [];
  private readonly current = new Map<number, Replica>();
  private running = true;
  private sampler?: NodeJS.Timeout;
  private sampling = false;

  constructor(private readonly opts: FleetOptions) {
    mkdirSync(opts.dir, { recursive: true });
  }

  /** The live process of each slot. */
  live(): Replica[] {
    return [...this.current.values()];
  }

  byTag(tag: string | undefined): Replica | undefined {
    return tag === undefined ? undefined : this.all.find((r) => r.tag === tag);
  }

  /** Starts every slot and waits until each answers /ready with 200. */
  async start(timeoutMs = 180_000): Promise<void> {
    for (let slot = 0; slot < this.opts.replicas; slot++) await this.spawn(slot, 0);
    await Promise.all(this.live().map((r) => this.waitReady(r, timeoutMs)));
  }

  async waitReady(r: Replica, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (r.state === 'exited') throw new Error(`replica ${r.tag} exited during start-up: ${lastLines(r.log)}`);
      try {
        const res = await fetch(`http://127.0.0.1:${r.port}/ready`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.ok) {
          r.state = 'ready';
          r.readyAt ??= Date.now();
          return;
        }
      } catch {
        // not listening yet
      }
      await sleep(250);
    }
    throw new Error(`replica ${r.tag} not ready after ${timeoutMs} ms: ${lastLines(r.log)}`);
  }

  private async spawn(slot: number, gen: number): Promise<Replica> {
    const port = await freePort();
    const tag = `s${slot}g${gen}`;
    const log = join(this.opts.dir, `${tag}.log`);
    const out = openSync(log, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: this.opts.env(tag, port),
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    const r: Replica = {
      slot,
      gen,
      tag,
      port,
      pid: child.pid ?? -1,
      child,
      state: 'starting',
      startedAt: Date.now(),
      log,
      role: 'starting',
    };
    this.all.push(r);
    this.current.set(slot, r);
    child.on('exit', (code, signal) => this.exited(r, code, signal));
    return r;
  }

  private exited(r: Replica, code: number | null, signal: string | null): void {
    r.state = 'exited';
    r.exit = { code, signal, at: Date.now() };
    if (r.endedBy === 'shutdown' || !this.running) return;
    if (r.endedBy !== 'SIGKILL') {
      this.unexpectedExits.push({ tag: r.tag, code, signal, at: new Date().toISOString(), last: lastLines(r.log) });
      this.opts.log(`replica ${r.tag} exited by itself (code ${code}, signal ${signal}): ${lastLines(r.log, 3)}`);
    }
    setTimeout(() => {
      if (!this.running || this.current.get(r.slot) !== r) return;
      void this.spawn(r.slot, r.gen + 1).then((next) => {
        this.restarts.push({ slot: r.slot, tag: next.tag, at: new Date().toISOString() });
        this.opts.log(`slot ${r.slot}: ${r.tag} replaced by ${next.tag} (pid ${next.pid})`);
        void this.waitReady(next, 180_000).catch((err: Error) => this.opts.log(err.message));
      });
    }, this.opts.restartDelayMs);
  }

  /** kill -9: the slot is refilled after the restart delay. */
  kill(r: Replica): void {
    if (r.state === 'exited') return;
    r.endedBy = 'SIGKILL';
    process.kill(r.pid, 'SIGKILL');
  }

  stop(r: Replica): void {
    if (r.state === 'exited') return;
    process.kill(r.pid, 'SIGSTOP');
    r.state = 'stopped';
    r.role = 'stopped';
  }

  cont(r: Replica): void {
    if (r.state !== 'stopped') return;
    process.kill(r.pid, 'SIGCONT');
    r.state = r.readyAt ? 'ready' : 'starting';
  }

  /** /ready of every live replica every `everyMs`, kept in `samples`. */
  startSampling(everyMs = 200): void {
    this.sampler = setInterval(() => {
      if (this.sampling) return; // the previous round is still out (a slow answer)
      this.sampling = true;
      void this.sampleOnce(Math.min(everyMs, 180)).finally(() => (this.sampling = false));
    }, everyMs);
  }

  stopSampling(): void {
    if (this.sampler) clearInterval(this.sampler);
  }

  private async sampleOnce(timeoutMs: number): Promise<void> {
    const t = Date.now();
    const roles: Record<string, SampledRole> = {};
    let lease: ReadySample['lease'];
    await Promise.all(
      this.live().map(async (r) => {
        if (r.state === 'stopped' || r.state === 'exited') {
          roles[r.tag] = r.state === 'stopped' ? 'stopped' : 'no-answer';
          return;
        }
        try {
          const res = await fetch(`http://127.0.0.1:${r.port}/ready`, { signal: AbortSignal.timeout(timeoutMs) });
          const body = (await res.json().catch(() => ({}))) as { leader?: Replica['lease'] };
          if (res.ok && r.state === 'starting') {
            r.state = 'ready';
            r.readyAt ??= Date.now();
          }
          const leader = body.leader;
          if (!leader || typeof leader !== 'object') {
            r.role = r.state === 'starting' ? 'starting' : 'no-field';
          } else {
            r.lease = leader;
            r.role =
              leader.role === 'leader' || leader.role === 'follower' || leader.role === 'single'
                ? leader.role
                : 'no-field';
            if (leader.role === 'leader') lease = { tag: r.tag, holder: leader.holder, token: leader.token };
          }
        } catch {
          r.role = r.state === 'starting' ? 'starting' : 'no-answer';
        }
        roles[r.tag] = r.role;
      }),
    );
    this.samples.push({ t, roles, ...(lease ? { lease } : {}) });
  }

  /** The replica whose last /ready said it leads, if one did. */
  leader(): Replica | undefined {
    return this.live().find((r) => r.role === 'leader' && r.state !== 'exited');
  }

  /** Whether any replica has answered a `leader` field. */
  leaderInterface(): boolean {
    return this.all.some((r) => r.lease !== undefined);
  }

  /** SIGTERM every process (SIGCONT first for a stopped one), SIGKILL after `graceMs`. */
  async shutdown(graceMs = 15_000): Promise<void> {
    this.running = false;
    this.stopSampling();
    const alive = this.all.filter((r) => r.state !== 'exited');
    for (const r of alive) {
      r.endedBy = 'shutdown';
      try {
        if (r.state === 'stopped') process.kill(r.pid, 'SIGCONT');
        process.kill(r.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    const until = Date.now() + graceMs;
    while (alive.some((r) => r.state !== 'exited') && Date.now() < until) await sleep(100);
    for (const r of alive)
      if (r.state !== 'exited') {
        this.opts.log(`replica ${r.tag} did not stop within ${graceMs} ms of SIGTERM: SIGKILL`);
        try {
          process.kill(r.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
  }

  /** Error and fatal lines of every replica's log (pino JSON, level ≥ 50): how many, and a few distinct ones. */
  logErrors(): { count: number; examples: Array<{ tag: string; msg: string }> } {
    let count = 0;
    const seen = new Set<string>();
    const examples: Array<{ tag: string; msg: string }> = [];
    for (const r of this.all) {
      let text: string;
      try {
        text = readFileSync(r.log, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) {
        if (!line.startsWith('{')) {
          // Not pino's: the console sink's alerts, Node's warnings; an uncaught error's first line counts.
          if (/^(\w*Error|Uncaught)\b/.test(line)) {
            count++;
            if (examples.length < 12) examples.push({ tag: r.tag, msg: line.slice(0, 200) });
          }
          continue;
        }
        try {
          const rec = JSON.parse(line) as { level?: number; msg?: string };
          if ((rec.level ?? 0) < 50) continue;
          count++;
          const msg = String(rec.msg ?? '').slice(0, 200);
          const key = msg.replace(/\d+/g, 'N');
          if (!seen.has(key) && examples.length < 12) {
            seen.add(key);
            examples.push({ tag: r.tag, msg });
          }
        } catch {
          // a partial line (a killed process)
        }
      }
    }
    return { count, examples };
  }
}

function lastLines(path: string, n = 5): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-n).join(' | ').slice(0, 2000);
  } catch {
    return '(no log)';
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
