/**
 * Picks the fastest TensorFlow.js backend that works on this machine:
 * the native `tensorflow` backend when the optional @tensorflow/tfjs-node loads (the production image),
 * else WebAssembly, else the pure-JS `cpu` backend (measured: ~5× slower than wasm for the BiLSTM).
 */
import * as tf from '@tensorflow/tfjs';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

let chosen: Promise<BackendName> | null = null;

export function initBackend(prefer?: BackendName): Promise<BackendName> {
  chosen ??= pick(prefer);
  return chosen;
}

async function pick(prefer?: BackendName): Promise<BackendName> {
  const order: BackendName[] = prefer ? [prefer] : ['tensorflow', 'wasm', 'cpu'];
  const failures: string[] = [];
  for (const name of order) {
    try {
      // Loaded on demand: tfjs-node is optional, and importing a backend registers it.
      /* eslint-disable @typescript-eslint/no-require-imports */
      if (name === 'tensorflow') require('@tensorflow/tfjs-node');
      if (name === 'wasm') require('@tensorflow/tfjs-backend-wasm');
      /* eslint-enable @typescript-eslint/no-require-imports */
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
      failures.push(`${name}: did not initialise`);
    } catch (err) {
      failures.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`no TensorFlow.js backend works here (${failures.join('; ')})`);
}
