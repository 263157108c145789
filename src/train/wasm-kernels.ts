/**
 * The wasm backend of TensorFlow.js 4.22 has no `UnsortedSegmentSum` kernel, and that op is the gradient
 * of `gather` — i.e. of the Embedding layer. Without it the embedding can only be trained frozen.
 * The kernel below fills the gap: it runs in JavaScript directly on the wasm heap (no copies), which is
 * cheap because the gradient it accumulates is only [batch × length, dim].
 */
import { registerKernel, getKernel, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs';

interface WasmBackendHeap {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array;
}

const unsortedSegmentSum: KernelConfig = {
  kernelName: 'UnsortedSegmentSum',
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs, backend }) => {
    const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
    const numSegments = (attrs as { numSegments: number }).numSegments;
    const wasm = backend as unknown as WasmBackendHeap;
    const rows = segmentIds.shape.reduce((a, b) => a * b, 1);
    const innerShape = x.shape.slice(segmentIds.shape.length);
    const inner = innerShape.reduce((a, b) => a * b, 1);
    const out = wasm.makeOutput([numSegments, ...innerShape], x.dtype);
    const values = wasm.typedArrayFromHeap(x);
    const ids = wasm.typedArrayFromHeap(segmentIds);
    const sums = wasm.typedArrayFromHeap(out);
    sums.fill(0);
    for (let r = 0; r < rows; r++) {
      const s = ids[r];
      if (s < 0 || s >= numSegments) continue; // TensorFlow drops out-of-range ids the same way
      const src = r * inner;
      const dst = s * inner;
      for (let j = 0; j < inner; j++) sums[dst + j] += values[src + j];
    }
    return out;
  },
};

export function registerWasmTrainingKernels(): void {
  if (!getKernel('UnsortedSegmentSum', 'wasm')) registerKernel(unsortedSegmentSum);
}
