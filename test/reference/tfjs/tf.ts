/**
 * Reference engine (tfjs on WebAssembly, independent of onnxruntime): the trainer colts had before its
 * onnxruntime trainer, kept for the parity tests (test/train/ort-trainer.test.ts) and the training
 * benchmark. Not part of the package.
 *
 * The autograd library of colts training: `@tensorflow/tfjs-core` on the WebAssembly backend, set up
 * once per process with two fixes for gaps measured on this backend (see docs/DESIGN.md "Training"):
 *
 *   1. `UnsortedSegmentSum` is missing on wasm, and the gradient of `gather` (the embedding lookup)
 *      needs it. We register it: a scatter-add over rows in plain TypeScript (no one-hot matrix).
 *   2. `BatchMatMul` with a transposed operand runs ~10x slower than transposing first (the wasm
 *      kernel walks the transposed operand with a large stride). The kernel is wrapped so that a
 *      transposed operand is materialised by the `Transpose` kernel and the fast path is used. This
 *      also covers the backward pass, whose matMul gradients are exactly such products.
 *
 * The .wasm files are loaded from node_modules (resolved next to the installed package), so training
 * works offline. The only module that imports tfjs for setup; model/loss code imports `tf` from here.
 */
import { createRequire } from "node:module";
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { ColtsError } from "../../../src/errors.js";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
// Gradient functions: tfjs-core's Node bundle does not register them and its ESM build cannot be
// imported by Node (extensionless paths); the union package's Node bundle registers all 101 of them
// on the same tfjs-core instance. Imported for that side effect only.
import "@tensorflow/tfjs";

export { tf };

const BACKEND = "wasm";
let ready: Promise<void> | null = null;

/** Folder holding the backend's .wasm binaries inside the installed package. */
export function wasmDirectory(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") + path.sep;
}

type Values = Float32Array | Int32Array | Uint8Array;
interface WasmBackendLike {
  readSync(dataId: unknown): unknown;
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: Values): tf.TensorInfo;
  disposeData(dataId: unknown): boolean;
}

/**
 * out[seg[i], :] += x[i, :]. x: [n, inner...] float32, segmentIds: [n] int32 -> [numSegments, inner...].
 * Ids outside [0, numSegments) are dropped, as TensorFlow does.
 */
export function segmentSumRows(x: Float32Array, ids: Int32Array, numSegments: number): Float32Array {
  const n = ids.length;
  const inner = n === 0 ? 0 : x.length / n;
  const out = new Float32Array(numSegments * inner);
  for (let i = 0; i < n; i++) {
    const s = ids[i] as number;
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let k = 0; k < inner; k++) out[dst + k] = (out[dst + k] as number) + (x[src + k] as number);
  }
  return out;
}

function registerSegmentSum(): void {
  if (tf.getKernel("UnsortedSegmentSum", BACKEND)) return;
  tf.registerKernel({
    kernelName: "UnsortedSegmentSum",
    backendName: BACKEND,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as WasmBackendLike;
      const x = inputs["x"] as tf.TensorInfo;
      const seg = inputs["segmentIds"] as tf.TensorInfo;
      const numSegments = (attrs as { numSegments: number }).numSegments;
      const xs = Float32Array.from(b.readSync(x.dataId) as ArrayLike<number>);
      const ids = Int32Array.from(b.readSync(seg.dataId) as ArrayLike<number>);
      const out = segmentSumRows(xs, ids, numSegments);
      return b.makeOutput([numSegments, ...x.shape.slice(seg.shape.length)], "float32", undefined, out);
    },
  });
}

/** Set by registerFastMatMul; tests and the benchmark read it to compare both paths. */
let fastMatMul = true;

/** Turns the explicit-transpose fix on or off (the benchmark measures both; default on). */
export function useExplicitTranspose(on: boolean): void {
  fastMatMul = on;
}

function registerFastMatMul(): void {
  const original = tf.getKernel("BatchMatMul", BACKEND);
  const transpose = tf.getKernel("Transpose", BACKEND);
  if (!original || !transpose || (original as { coltsWrapped?: boolean }).coltsWrapped) return;
  tf.unregisterKernel("BatchMatMul", BACKEND);
  const wrapped: tf.KernelConfig & { coltsWrapped: boolean } = {
    kernelName: "BatchMatMul",
    backendName: BACKEND,
    coltsWrapped: true,
    kernelFunc: (args) => {
      const attrs = args.attrs as { transposeA: boolean; transposeB: boolean };
      if (!fastMatMul || (!attrs.transposeA && !attrs.transposeB)) return original.kernelFunc(args);
      const b = args.backend as unknown as WasmBackendLike;
      const temps: tf.TensorInfo[] = [];
      const materialise = (t: tf.TensorInfo, on: boolean): tf.TensorInfo => {
        if (!on) return t;
        const perm = t.shape.map((_, i) => i);
        const r = perm.length;
        [perm[r - 2], perm[r - 1]] = [r - 1, r - 2];
        const out = transpose.kernelFunc({ inputs: { x: t }, backend: args.backend, attrs: { perm } }) as tf.TensorInfo;
        temps.push(out);
        return out;
      };
      const a = materialise(args.inputs["a"] as tf.TensorInfo, attrs.transposeA);
      const bb = materialise(args.inputs["b"] as tf.TensorInfo, attrs.transposeB);
      const out = original.kernelFunc({ ...args, inputs: { ...args.inputs, a, b: bb }, attrs: { ...attrs, transposeA: false, transposeB: false } });
      for (const t of temps) b.disposeData(t.dataId);
      return out;
    },
  };
  tf.registerKernel(wrapped);
}

/**
 * Selects the wasm backend (binaries from node_modules) and installs the kernel fixes; idempotent,
 * safe to call from every entry point. Single-threaded: the threaded build needs SharedArrayBuffer
 * workers that Node does not give it, and the CLI shares the machine with other work anyway.
 */
export function initTraining(): Promise<void> {
  ready ??= (async () => {
    setWasmPaths(wasmDirectory());
    const ok = await tf.setBackend(BACKEND);
    if (!ok) throw new ColtsError("TRAIN_BACKEND_FAILED", `the tfjs wasm backend did not start (binaries looked up in ${wasmDirectory()})`);
    registerSegmentSum();
    registerFastMatMul();
  })();
  return ready;
}
