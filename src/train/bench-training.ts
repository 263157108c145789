/**
 * npm run bench:train — one training step of the BiLSTM (batch of 64 tweets, 20 tokens, trainable
 * embedding) on each TensorFlow.js backend available here, to show why training runs on wasm.
 * The cpu backend takes minutes for one step: it is measured once. Last stdout line: one JSON object.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { buildBiLstm, weightedCrossEntropy } from '../sentiment/model';
import { registerWasmTrainingKernels } from './wasm-kernels';

async function stepMs(backend: string, steps: number): Promise<number> {
  await tf.setBackend(backend);
  registerWasmTrainingKernels();
  const model = buildBiLstm({
    vocabSize: 8303,
    embeddingDim: 100,
    lstmUnits: 64,
    denseUnits: 64,
    spatialDropout: 0.3,
    dropout: 0.5,
    classes: 3,
    seed: 1,
    trainableEmbeddings: true,
  });
  model.compile({ optimizer: tf.train.adam(0.001), loss: weightedCrossEntropy([1, 1, 1]) });
  const x = tf.randomUniform([64, 20], 1, 8303, 'int32');
  const y = tf.oneHot(tf.randomUniform([64], 0, 3, 'int32'), 3).toFloat();
  await model.trainOnBatch(x, y); // compile kernels, allocate
  const started = performance.now();
  for (let i = 0; i < steps; i++) await model.trainOnBatch(x, y);
  const ms = (performance.now() - started) / steps;
  tf.dispose([x, y]);
  model.dispose();
  return Math.round(ms);
}

async function main(): Promise<void> {
  const result: Record<string, number> = {};
  for (const [backend, steps] of [
    ['wasm', 10],
    ['cpu', 1],
  ] as const) {
    process.stderr.write(`${backend}: ${steps} training step(s)…\n`);
    result[`${backend}_train_step_ms`] = await stepMs(backend, steps);
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err) => {
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exit(1);
});
