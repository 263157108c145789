/**
 * When the model bucket cannot be read, Sentinel still starts on the shipped model — and tells the team,
 * not only its logs: the process (src/main.ts) against a bucket endpoint that refuses connections, with the
 * console adapter (local mode) as the chat sink.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => ok(port));
    });
  });
}

it('falls back to the shipped model and posts an ops notice saying so', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-ops-'));
  const [port, closed] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      SQLITE_PATH: join(dir, 's.db'),
      MODEL_CACHE_DIR: join(dir, 'models'),
      MODEL_BUCKET: 'air-paradis-models',
      GCS_ENDPOINT: `http://127.0.0.1:${closed}`, // nothing listens there
      GCS_ACCESS: 'anonymous',
      GCS_MAX_RETRIES: '0',
      BUNDLED_REPLAY: 'false',
      LOG_LEVEL: 'silent',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  try {
    const ready = await (async () => {
      for (let i = 0; i < 150; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/ready`).catch(() => null);
        if (res?.ok) return (await res.json()) as { model: { version: string } };
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`not ready; stdout: ${stdout}`);
    })();
    expect(ready.model.version).toMatch(/\S/); // serving: the shipped model
    // The console wraps notices at 80 columns: read it as one paragraph.
    expect(stdout.replace(/\s+/g, ' ')).toMatch(/⚠ Model FALLBACK: .*Serving the shipped version/);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
});
