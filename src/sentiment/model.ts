/**
 * The BiLSTM of the reference system, in TensorFlow.js layers:
 * Embedding → SpatialDropout1D → Bidirectional(LSTM) → Dense(relu) → Dropout → Dense(softmax).
 * Padding id 0 is masked, so a text scores the same whatever length it is padded to — which lets the
 * scorer pad each batch only to its longest text instead of a fixed maximum.
 */
import * as tf from '@tensorflow/tfjs';

export interface BiLstmShape {
  vocabSize: number;
  embeddingDim: number;
  lstmUnits: number;
  denseUnits: number;
  spatialDropout: number;
  dropout: number;
  classes: number;
  seed: number;
  /** Initial embedding matrix [vocabSize × embeddingDim] (pretrained), or random when absent. */
  embeddings?: Float32Array;
  trainableEmbeddings: boolean;
}

export function buildBiLstm(s: BiLstmShape): tf.LayersModel {
  const model = tf.sequential({ name: 'sentinel_bilstm' });
  model.add(
    tf.layers.embedding({
      name: 'embedding',
      inputDim: s.vocabSize,
      outputDim: s.embeddingDim,
      maskZero: true,
      inputShape: [null as unknown as number],
      trainable: s.trainableEmbeddings,
      embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: s.seed }),
      weights: s.embeddings ? [tf.tensor2d(s.embeddings, [s.vocabSize, s.embeddingDim])] : undefined,
    }),
  );
  model.add(tf.layers.spatialDropout1d({ name: 'spatial_dropout', rate: s.spatialDropout, seed: s.seed + 1 }));
  model.add(
    tf.layers.bidirectional({
      name: 'bilstm',
      mergeMode: 'concat',
      layer: tf.layers.lstm({
        units: s.lstmUnits,
        recurrentActivation: 'sigmoid', // Keras' default; tfjs defaults to hardSigmoid
        kernelInitializer: tf.initializers.glorotUniform({ seed: s.seed + 2 }),
        recurrentInitializer: tf.initializers.orthogonal({ seed: s.seed + 3 }),
      }) as tf.RNN,
    }),
  );
  model.add(
    tf.layers.dense({
      name: 'dense',
      units: s.denseUnits,
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed: s.seed + 4 }),
    }),
  );
  model.add(tf.layers.dropout({ name: 'dropout', rate: s.dropout, seed: s.seed + 5 }));
  model.add(
    tf.layers.dense({
      name: 'output',
      units: s.classes,
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: s.seed + 6 }),
    }),
  );
  return model;
}

/** Cross-entropy with a weight per class: the answer to negative being ~63 % of the tweets. */
export function weightedCrossEntropy(classWeights: number[]) {
  const w = tf.tensor1d(classWeights);
  return (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor =>
    tf.tidy(() => {
      const p = tf.clipByValue(yPred, 1e-7, 1 - 1e-7);
      const perRow = tf.neg(tf.sum(tf.mul(tf.mul(yTrue, tf.log(p)), w), -1));
      return tf.mean(perRow);
    });
}
