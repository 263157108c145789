/**
 * Scores texts with a BiLSTM layers model.
 *
 * Two forward passes, same numbers:
 * - `fused`, for our architecture: both LSTM directions advance in one matMul per time step (a
 *   block-diagonal recurrent kernel), input projections for all steps come from one matMul, and each
 *   batch is padded only to its own longest text (the model masks padding). On the wasm backend this is
 *   ~3× faster than `model.predict`, whose RNN loop issues dozens of small kernels per step.
 * - `generic`, `model.predict` on inputs padded to the vocabulary's fixed length: any other architecture,
 *   e.g. a Keras model brought from the reference system.
 *
 * Calls are queued and flushed together, so a burst of requests costs one forward pass. The queue is
 * fair: each forward pass takes texts round-robin from the calls waiting (at most `maxBatch` in all) and
 * the event loop runs between passes, so a one-text request waits for about one pass, not behind every
 * text of the big batches queued before it.
 */
import * as tf from '@tensorflow/tfjs';
import { normalizeTweet, kerasTokenize } from './normalize';
import { kerasReadingTokens, unreadableReason, type Reader } from './readable';
import type { Vocabulary } from './vocabulary';
import type { Ensemble } from './ensemble';
import type { Explained, Label, Prediction, Scorer, ScorerInfo, WordWeight } from './types';

interface Encoded {
  tokens: string[]; // the tokens that received an id, for explanations
  ids: number[];
  /** Every token of the text (the ensemble's linear model reads them all), and where each of `tokens` sits in it. */
  all: string[];
  positions: number[];
}

interface FusedWeights {
  /**
   * Embedding × input kernel + bias, precomputed for every word [V, 8U]: the input projection of a step
   * is then a row lookup instead of a matMul (it was half the forward pass's arithmetic).
   */
  projection: Float32Array;
  recurrentKernel: tf.Tensor2D; // [2U, 8U], block-diagonal
  units: number;
  recurrentActivation: (x: tf.Tensor) => tf.Tensor;
  head: Array<{ kernel: tf.Tensor2D; bias: tf.Tensor1D; activation: 'relu' | 'softmax' | 'sigmoid' | 'linear' }>;
}

interface Pending {
  ids: number[];
  /** The score/explain call it belongs to: passes are shared out between calls, not texts. */
  call: object;
  resolve: (p: number[]) => void;
  reject: (e: Error) => void;
}

export interface BiLstmScorerOptions {
  model: tf.LayersModel;
  vocabulary: Vocabulary;
  labels: readonly Label[];
  info: Omit<ScorerInfo, 'labels' | 'maxLength'>;
  maxBatch?: number;
  /** Force the generic path (tests compare both). */
  generic?: boolean;
  /** Combine the BiLSTM with a linear model and calibrate (src/sentiment/ensemble.ts). */
  ensemble?: Ensemble;
}

export class BiLstmScorer implements Scorer {
  readonly info: ScorerInfo;
  readonly path: 'fused' | 'generic';
  private readonly fused: FusedWeights | null;
  private readonly queue: Pending[] = [];
  private flushScheduled = false;
  private disposed = false;
  private readonly maxBatch: number;
  /** score/explain calls not yet settled, and who waits for them all to settle (a hot swap, before dispose). */
  private active = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly reader: Reader;

  constructor(private readonly opts: BiLstmScorerOptions) {
    this.maxBatch = opts.maxBatch ?? 64;
    this.fused = opts.generic ? null : extractFusedWeights(opts.model);
    this.path = this.fused ? 'fused' : 'generic';
    this.info = { ...opts.info, labels: opts.labels, maxLength: opts.vocabulary.maxLength };
    const vocab = opts.vocabulary;
    this.reader = {
      tokenize: vocab.tokenizer === 'keras' ? kerasReadingTokens : normalizeTweet,
      knows: (token) => vocab.knows(token),
    };
  }

  /** See Scorer.unreadable: null when this model's vocabulary knows at least one real token of `text`. */
  unreadable(text: string): string | null {
    return unreadableReason(text, this.reader);
  }

  encode(text: string): Encoded {
    const vocab = this.opts.vocabulary;
    const raw = vocab.tokenizer === 'keras' ? kerasTokenize(text) : normalizeTweet(text);
    const tokens: string[] = [];
    const ids: number[] = [];
    const positions: number[] = [];
    for (let i = 0; i < raw.length; i++) {
      const id = vocab.id(raw[i]);
      if (id === null) continue;
      tokens.push(raw[i]);
      ids.push(id);
      positions.push(i);
      if (ids.length === vocab.maxLength) break;
    }
    return { tokens, ids, all: raw, positions };
  }

  async score(texts: string[]): Promise<Prediction[]> {
    return this.track(async () => {
      const call = {};
      const encoded = texts.map((t) => this.encode(t));
      const probs = await Promise.all(encoded.map((e) => this.enqueue(e.ids, call)));
      return this.combine(
        probs,
        encoded.map((e) => e.all),
      ).map((p) => this.toPrediction(p));
    });
  }

  /** The BiLSTM's probabilities, or the ensemble's when the model has one. */
  private combine(bilstm: number[][], docs: string[][]): number[][] {
    const ensemble = this.opts.ensemble;
    if (!ensemble) return bilstm;
    const linear = ensemble.linearProbabilities(docs);
    return bilstm.map((p, i) => ensemble.combine(p, linear[i], docs[i]));
  }

  /** Occlusion: each word is removed in turn and the text re-scored, all variants in one batch. */
  async explain(text: string, top = 5): Promise<Explained> {
    return this.track(() => this.explainNow(text, top));
  }

  /**
   * Resolves once every score/explain call made so far has settled. A hot swap waits for this before
   * `dispose()`, which rejects whatever is still queued: requests in flight finish on the old model.
   */
  whenIdle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async track<T>(call: () => Promise<T>): Promise<T> {
    this.active++;
    try {
      return await call();
    } finally {
      if (--this.active === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async explainNow(text: string, top: number): Promise<Explained> {
    const { tokens, ids, all, positions } = this.encode(text);
    const variants = ids.map((_, i) => ids.filter((__, j) => j !== i));
    const call = {};
    const [base, ...without] = this.combine(await Promise.all([ids, ...variants].map((v) => this.enqueue(v, call))), [
      all,
      ...positions.map((at) => all.filter((_, j) => j !== at)),
    ]);
    const prediction = this.toPrediction(base);
    const k = this.opts.labels.indexOf(prediction.label);
    const byWord = new Map<string, number>();
    without.forEach((p, i) => {
      if (
        tokens[i].startsWith('<') &&
        tokens[i] !== '<heart>' &&
        !tokens[i].endsWith('face>') &&
        tokens[i] !== '<smile>'
      )
        return; // markers like <user>, <url>, <num> are not words a person would recognise
      const weight = base[k] - p[k];
      if (Math.abs(weight) > Math.abs(byWord.get(tokens[i]) ?? 0)) byWord.set(tokens[i], weight);
    });
    const words: WordWeight[] = [...byWord.entries()]
      .map(([word, weight]) => ({ word, weight: round(weight) }))
      .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight))
      .slice(0, top);
    return { ...prediction, words };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of this.queue.splice(0)) p.reject(new Error('scorer disposed'));
    if (this.fused) {
      const f = this.fused;
      tf.dispose([f.recurrentKernel, ...f.head.flatMap((h) => [h.kernel, h.bias])]);
    }
    this.opts.model.dispose();
  }

  private toPrediction(p: number[]): Prediction {
    const labels = this.opts.labels;
    const probabilities = { negative: 0, neutral: 0, positive: 0 } as Record<Label, number>;
    let best = 0;
    labels.forEach((l, i) => {
      probabilities[l] = round(p[i]);
      if (p[i] > p[best]) best = i;
    });
    return { label: labels[best], confidence: round(p[best]), probabilities, modelVersion: this.info.version };
  }

  private enqueue(ids: number[], call: object): Promise<number[]> {
    if (this.disposed) return Promise.reject(new Error('scorer disposed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ ids, call, resolve, reject });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** One forward pass over a fair share of the queue; the rest waits for the next turn of the event loop. */
  private flush(): void {
    this.flushScheduled = false;
    const chunk = takeRoundRobin(this.queue, this.maxBatch);
    if (this.queue.length > 0) this.scheduleFlush();
    // Sorting by length keeps the pass's padding small.
    chunk.sort((a, b) => a.ids.length - b.ids.length);
    try {
      const out = this.forward(chunk.map((c) => c.ids));
      chunk.forEach((c, i) => c.resolve(out[i]));
    } catch (err) {
      for (const c of chunk) c.reject(err as Error);
    }
  }

  /** Probabilities per row, in label order. Synchronous: one tidy, one download. */
  forward(batch: number[][]): number[][] {
    const outputs = this.fused ? fusedForward(this.fused, batch) : this.genericForward(batch);
    const rows: number[][] = [];
    const n = outputs.length / batch.length;
    for (let i = 0; i < batch.length; i++) rows.push(Array.from(outputs.subarray(i * n, (i + 1) * n)));
    // A single sigmoid unit (binary Keras models) means P(positive).
    return n === 1 ? rows.map(([p]) => [1 - p, p]) : rows;
  }

  private genericForward(batch: number[][]): Float32Array {
    const len = this.opts.vocabulary.maxLength;
    const pre = this.opts.vocabulary.padding === 'pre';
    const flat = new Int32Array(batch.length * len);
    batch.forEach((ids, i) => flat.set(ids, i * len + (pre ? len - ids.length : 0)));
    return tf.tidy(() => {
      const out = this.opts.model.predict(tf.tensor2d(flat, [batch.length, len], 'int32')) as tf.Tensor;
      return out.dataSync() as Float32Array;
    });
  }
}

/**
 * Removes and returns up to `max` items of `queue`, taken one per call in turn (calls in the order they
 * first queued), so every waiting call gets a share of the pass. Items of one call keep their order.
 */
export function takeRoundRobin<T extends { call: object }>(queue: T[], max: number): T[] {
  if (queue.length <= max) return queue.splice(0);
  const byCall = new Map<object, T[]>();
  for (const item of queue) {
    const list = byCall.get(item.call);
    if (list) list.push(item);
    else byCall.set(item.call, [item]);
  }
  const taken = new Set<T>();
  const lists = [...byCall.values()];
  for (let round = 0; taken.size < max; round++) {
    let any = false;
    for (const list of lists) {
      if (round < list.length && taken.size < max) {
        taken.add(list[round]);
        any = true;
      }
    }
    if (!any) break;
  }
  const rest = queue.filter((item) => !taken.has(item));
  queue.splice(0, queue.length, ...rest);
  return [...taken];
}

function fusedForward(w: FusedWeights, batch: number[][]): Float32Array {
  const B = batch.length;
  const T = Math.max(1, ...batch.map((ids) => ids.length));
  const U = w.units;
  const G = 8 * U;
  const ragged = batch.some((ids) => ids.length !== T);
  // Inputs are assembled here, time-major [T, B, 8U], from the precomputed projection table: the forward
  // direction's columns take word t, the backward direction's take word T-1-t. (In wasm, gather and
  // unstack on these shapes cost more than the whole recurrence; a typed-array copy costs ~1 ms.)
  const inputs = new Float32Array(T * B * G);
  const mask = ragged ? new Float32Array(T * B * 2 * U) : null;
  const table = w.projection;
  batch.forEach((ids, b) => {
    const offset = T - ids.length; // pre-padding
    for (let t = 0; t < T; t++) {
      const fwdWord = t >= offset ? ids[t - offset] : -1;
      const bwdPos = T - 1 - t;
      const bwdWord = bwdPos >= offset ? ids[bwdPos - offset] : -1;
      const dst = (t * B + b) * G;
      for (let k = 0; k < 8; k++) {
        const word = k % 2 === 0 ? fwdWord : bwdWord; // columns alternate [fwd U | bwd U] per gate
        if (word < 0) continue; // padding: masked below, leave zeros
        const src = word * G + k * U;
        inputs.set(table.subarray(src, src + U), dst + k * U);
      }
      if (mask) {
        const m = (t * B + b) * 2 * U;
        mask.fill(fwdWord >= 0 ? 1 : 0, m, m + U);
        mask.fill(bwdWord >= 0 ? 1 : 0, m + U, m + 2 * U);
      }
    }
  });
  return tf.tidy(() => {
    let h: tf.Tensor = tf.zeros([B, 2 * U]);
    let c: tf.Tensor = tf.zeros([B, 2 * U]);
    for (let t = 0; t < T; t++) {
      // Per-step inputs are uploaded from the typed array: wasm's Slice kernel is slower than a copy.
      const xt = tf.tensor2d(inputs.subarray(t * B * G, (t + 1) * B * G), [B, G]);
      const [zi, zf, zo, zg] = tf.split(tf.add(tf.matMul(h, w.recurrentKernel), xt), 4, 1);
      const cNext = tf.add(tf.mul(w.recurrentActivation(zf), c), tf.mul(w.recurrentActivation(zi), tf.tanh(zg)));
      const hNext = tf.mul(w.recurrentActivation(zo), tf.tanh(cNext));
      if (mask) {
        // Padding leaves the state as it was, exactly as Keras' masking does.
        const mt = tf.tensor2d(mask.subarray(t * B * 2 * U, (t + 1) * B * 2 * U), [B, 2 * U]);
        c = tf.add(c, tf.mul(mt, tf.sub(cNext, c)));
        h = tf.add(h, tf.mul(mt, tf.sub(hNext, h)));
      } else {
        c = cNext;
        h = hNext;
      }
    }
    let y: tf.Tensor = h;
    for (const layer of w.head) {
      y = tf.add(tf.matMul(y, layer.kernel), layer.bias);
      if (layer.activation === 'relu') y = tf.relu(y);
      else if (layer.activation === 'softmax') y = tf.softmax(y);
      else if (layer.activation === 'sigmoid') y = tf.sigmoid(y);
    }
    return y.dataSync() as Float32Array;
  });
}

type LayerConfig = Record<string, unknown>;

/**
 * Our architecture, recognised from the layers; anything else (or any unusual setting) returns null
 * and the generic path is used.
 */
function extractFusedWeights(model: tf.LayersModel): FusedWeights | null {
  const layers = model.layers.filter((l) => !['Dropout', 'SpatialDropout1D', 'InputLayer'].includes(l.getClassName()));
  const [emb, bi, ...head] = layers;
  if (!emb || emb.getClassName() !== 'Embedding' || !bi || bi.getClassName() !== 'Bidirectional') return null;
  const biConfig = bi.getConfig() as LayerConfig & { layer: { className: string; config: LayerConfig } };
  const cell = biConfig.layer;
  if (biConfig.mergeMode !== 'concat' || cell.className !== 'LSTM') return null;
  const c = cell.config;
  if (c.activation !== 'tanh' || c.returnSequences || c.goBackwards || c.useBias === false) return null;
  const act = c.recurrentActivation as string;
  const recurrentActivation =
    act === 'sigmoid'
      ? (x: tf.Tensor) => tf.sigmoid(x)
      : act === 'hardSigmoid' || act === 'hard_sigmoid'
        ? (x: tf.Tensor) => tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1)
        : null;
  if (!recurrentActivation) return null;
  const denseHead: FusedWeights['head'] = [];
  for (const l of head) {
    const lc = l.getConfig() as LayerConfig;
    if (l.getClassName() !== 'Dense' || lc.useBias === false) return null;
    if (!['relu', 'softmax', 'sigmoid', 'linear'].includes(lc.activation as string)) return null;
    const [kernel, bias] = l.getWeights();
    denseHead.push({
      kernel: tf.clone(kernel) as tf.Tensor2D,
      bias: tf.clone(bias) as tf.Tensor1D,
      activation: lc.activation as FusedWeights['head'][number]['activation'],
    });
  }
  // Bidirectional weights: forward [kernel, recurrent, bias], then backward, gates ordered i, f, c, o.
  const [kF, rF, bF, kB, rB, bB] = bi.getWeights();
  const U = rF.shape[0];
  const embedding = emb.getWeights()[0] as tf.Tensor2D;
  const kernels = tf.tidy(() => {
    // Reorder gate columns to [i_f i_b | f_f f_b | o_f o_b | g_f g_b]: one sigmoid over 6U, one tanh over 2U,
    // and the state is simply [forward | backward].
    const gate = (t: tf.Tensor, k: number) => t.slice([0, k * U], [t.shape[0], U]);
    const order = [0, 1, 3, 2]; // i, f, o, c(g)
    const layout = (fwd: tf.Tensor | null, bwd: tf.Tensor | null, rows: number) => {
      const z = tf.zeros([rows, U]);
      return tf.concat(
        order.flatMap((k) => [fwd ? gate(fwd, k) : z, bwd ? gate(bwd, k) : z]),
        1,
      );
    };
    const D = kF.shape[0];
    const inputKernel = tf.concat([layout(kF, null, D), layout(null, kB, D)], 0) as tf.Tensor2D;
    const recurrentKernel = tf.concat([layout(rF, null, U), layout(null, rB, U)], 0) as tf.Tensor2D;
    const bias = layout(bF.reshape([1, 4 * U]), bB.reshape([1, 4 * U]), 1).reshape([8 * U]);
    // Each column belongs to one direction, so the forward and backward halves add without overlap.
    const projection = tf.add(tf.matMul(tf.concat([embedding, embedding], 1), inputKernel), bias);
    return { projection, recurrentKernel };
  });
  const projection = kernels.projection.dataSync() as Float32Array;
  kernels.projection.dispose();
  return { projection, recurrentKernel: kernels.recurrentKernel, units: U, recurrentActivation, head: denseHead };
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
