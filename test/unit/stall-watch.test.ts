/**
 * The stall watch tells a busy process from one that did not run: the first by blocking the loop with
 * work, the second by stopping a child process with SIGSTOP and waking it.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { watchStalls, type Stall } from '../../src/ops/stall-watch';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a loop blocked by this process’s own work is reported as busy, with the CPU it used', async () => {
  const stalls: Stall[] = [];
  const lines: string[] = [];
  const watch = watchStalls({
    logger: { warn: (_o: unknown, m?: string) => lines.push(String(m)) },
    everyMs: 100,
    thresholdMs: 500,
    onStall: (s) => stalls.push(s),
  });
  try {
    await sleep(150);
    const until = Date.now() + 900;
    while (Date.now() < until); // a long synchronous job
    await sleep(250);
    expect(stalls).toHaveLength(1);
    expect(stalls[0].cause).toBe('busy');
    expect(stalls[0].stalledMs).toBeGreaterThanOrEqual(500);
    expect(lines[0]).toMatch(/^event loop blocked for \d\.\d s by this process's own work \(\d+ ms of CPU\)$/);
  } finally {
    watch.stop();
  }
});

test('a process stopped from outside (SIGSTOP) is reported as not running', async () => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `
    const { watchStalls } = require(${JSON.stringify(resolve(__dirname, '../../src/ops/stall-watch.ts'))});
    watchStalls({ logger: { warn: (o) => { console.log(JSON.stringify(o)); process.exit(0); } }, everyMs: 100, thresholdMs: 500 });
    setInterval(() => {}, 1000);
    console.log('ready');
  `,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  try {
    for (let i = 0; i < 100 && !out.includes('ready'); i++) await sleep(100);
    expect(out).toContain('ready');
    child.kill('SIGSTOP');
    await sleep(1200);
    child.kill('SIGCONT');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(0);
    const stall = JSON.parse(out.split('\n').find((l) => l.startsWith('{'))!) as Stall;
    expect(stall.cause).toBe('not_running');
    expect(stall.stalledMs).toBeGreaterThanOrEqual(500);
  } finally {
    child.kill('SIGKILL');
  }
});
