/**
 * Exact block-wise nearest-centroid assignment: the heavy part of k-means and of PLAID compression
 * (nearest.ts chooses between it and the two-level assignment).
 * By default one onnxruntime graph computes scores and arg-max together (`OrtArgmax`); with an
 * injected `MatmulFactory` (e.g. the JS reference in tests) the scores come from that kernel and the
 * arg-max runs here. Either way one block of rows at a time, so memory stays bounded whatever the
 * number of vectors.
 */
import { ColtsError } from "../errors.js";
import { OrtArgmax, OrtMatmul, matmulABtJs } from "../runtime/kernels/matmul.js";
import type { RuntimeOptions } from "../runtime/session.js";

/** An a·bᵀ kernel with b fixed at creation (the shape of `OrtMatmul`). */
export interface MatmulKernel {
  /** a: [m, d] row-major -> a·bᵀ: [m, n] row-major. */
  run(a: Float32Array, m: number): Promise<Float32Array>;
  release(): Promise<void>;
}

/** Creates a kernel for b: [n, d] row-major. */
export type MatmulFactory = (b: Float32Array, n: number, d: number) => Promise<MatmulKernel>;

/** The onnxruntime kernel (multi-threaded, SIMD): the default everywhere in src/index. */
export function ortMatmulFactory(runtime: RuntimeOptions = {}): MatmulFactory {
  return (b, n, d) => OrtMatmul.create(b, n, d, runtime);
}

/** The plain-JS reference kernel (`matmulABtJs`), for tests and tiny inputs. */
export const jsMatmulFactory: MatmulFactory = (b, n, d) =>
  Promise.resolve({
    run: (a: Float32Array, m: number) => Promise.resolve(matmulABtJs(a, m, b, n, d)),
    release: () => Promise.resolve(),
  });

export interface ExactAssignOptions {
  /** a·bᵀ kernel factory; the arg-max then runs in JavaScript. Default: the fused onnxruntime arg-max graph. */
  matmul?: MatmulFactory;
  /** onnxruntime settings for the default kernel (threads). Ignored when `matmul` is given. */
  runtime?: RuntimeOptions;
  /**
   * Rows scored per kernel call. Default: as many as keep the [rows, k] score block at about 4M floats
   * (16 MiB), at least 1, at most n. Range: integer >= 1. Results do not depend on it (except for the
   * last-bit differences a multi-threaded kernel may show between block shapes).
   */
  blockRows?: number;
}

export interface Assignment {
  /** codes[i] = index of the best centroid for vector i: [n]. */
  codes: Int32Array;
  /** The best score per vector (dot product plus bias): [n]. */
  scores: Float32Array;
}

const BLOCK_FLOATS = 1 << 22;

/**
 * codes[i] = argmax_j (x_i · c_j + bias[j]); ties go to the lowest j.
 * vectors: [n, dim] row-major; centroids: [k, dim] row-major; bias: [k] or undefined (all zero).
 * With bias[j] = -||c_j||² / 2 this is the nearest centroid in L2 distance; without, the maximum inner
 * product (PLAID's `compress_into_codes`; equal to the nearest for unit centroids).
 */
export async function assignExact(
  vectors: Float32Array,
  n: number,
  centroids: Float32Array,
  k: number,
  dim: number,
  bias: Float32Array | undefined,
  options: ExactAssignOptions = {},
): Promise<Assignment> {
  checkAssignInputs(vectors, n, centroids, k, dim, bias);
  const blockRows = options.blockRows ?? Math.max(1, Math.floor(BLOCK_FLOATS / k));
  if (!Number.isInteger(blockRows) || blockRows < 1) throw new ColtsError("INPUT_INVALID", `blockRows must be an integer >= 1, got ${blockRows}`);

  const codes = new Int32Array(n);
  const scores = new Float32Array(n);
  if (n === 0) return { codes, scores };
  if (!options.matmul) {
    // Default: the arg-max runs inside onnxruntime (see OrtArgmax); larger blocks are fine since
    // only [rows] values come back.
    const fused = await OrtArgmax.create(centroids, k, dim, bias, options.runtime ?? {});
    try {
      for (let start = 0; start < n; start += blockRows) {
        const m = Math.min(blockRows, n - start);
        const r = await fused.run(vectors.subarray(start * dim, (start + m) * dim), m);
        codes.set(r.codes, start);
        scores.set(r.scores, start);
      }
    } finally {
      await fused.release();
    }
    return { codes, scores };
  }
  const factory = options.matmul;
  const kernel = await factory(centroids, k, dim);
  try {
    for (let start = 0; start < n; start += blockRows) {
      const m = Math.min(blockRows, n - start);
      const block = vectors.subarray(start * dim, (start + m) * dim); // [m, dim]
      const s = await kernel.run(block, m); // [m, k]
      for (let r = 0; r < m; r++) {
        const row = r * k;
        let best = 0;
        let bestScore = -Infinity;
        if (bias === undefined) {
          for (let j = 0; j < k; j++) {
            const v = s[row + j] as number;
            if (v > bestScore) {
              bestScore = v;
              best = j;
            }
          }
        } else {
          for (let j = 0; j < k; j++) {
            const v = (s[row + j] as number) + (bias[j] as number);
            if (v > bestScore) {
              bestScore = v;
              best = j;
            }
          }
        }
        codes[start + r] = best;
        scores[start + r] = bestScore;
      }
    }
  } finally {
    await kernel.release();
  }
  return { codes, scores };
}

/** Throws INPUT_INVALID unless vectors: [n, dim], centroids: [k >= 1, dim] and bias: [k] (or undefined). */
export function checkAssignInputs(vectors: Float32Array, n: number, centroids: Float32Array, k: number, dim: number, bias: Float32Array | undefined): void {
  checkShape("vectors", vectors, n, dim);
  checkShape("centroids", centroids, k, dim);
  if (k < 1) throw new ColtsError("INPUT_INVALID", "need at least one centroid");
  if (bias !== undefined && bias.length !== k) throw new ColtsError("INPUT_INVALID", `bias has ${bias.length} values, expected ${k}`);
}

/** Throws INPUT_INVALID unless x holds exactly rows * cols values and the sizes are sane. */
export function checkShape(name: string, x: Float32Array, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 1) {
    throw new ColtsError("INPUT_INVALID", `${name}: bad shape [${rows}, ${cols}]`);
  }
  if (x.length !== rows * cols) {
    throw new ColtsError("INPUT_INVALID", `${name}: expected ${rows * cols} values ([${rows}, ${cols}]), got ${x.length}`);
  }
}
