/**
 * Small dense kernels of the encoder: the projection head applied in TypeScript, L2 normalisation,
 * Matryoshka truncation. Row-major Float32Arrays throughout.
 */
import type { DenseLayer } from "../model/layout.js";

/**
 * y = act(x W^T + b) for each row.
 * x: [n, in] row-major; layer.weight: [out, in] (torch Linear layout); returns y: [n, out].
 */
export function applyDense(x: Float32Array, n: number, layer: DenseLayer): Float32Array {
  const { inFeatures: din, outFeatures: dout, weight, bias } = layer;
  const y = new Float32Array(n * dout);
  for (let r = 0; r < n; r++) {
    const xo = r * din;
    for (let o = 0; o < dout; o++) {
      const wo = o * din;
      let acc = 0;
      for (let i = 0; i < din; i++) acc += (x[xo + i] as number) * (weight[wo + i] as number);
      if (bias) acc += bias[o] as number;
      y[r * dout + o] = layer.activation === "tanh" ? Math.tanh(acc) : acc;
    }
  }
  return y;
}

/**
 * In-place row L2 normalisation with torch.nn.functional.normalize's convention: x / max(||x||, eps).
 * x: [n, dim] row-major.
 */
export function normalizeRows(x: Float32Array, n: number, dim: number, eps = 1e-12): Float32Array {
  for (let r = 0; r < n; r++) {
    const o = r * dim;
    let s = 0;
    for (let i = 0; i < dim; i++) s += (x[o + i] as number) ** 2;
    const inv = 1 / Math.max(Math.sqrt(s), eps);
    for (let i = 0; i < dim; i++) x[o + i] = (x[o + i] as number) * inv;
  }
  return x;
}

/**
 * Keeps the first `dim` columns of each row (Matryoshka truncation); the caller re-normalises.
 * x: [n, full] -> [n, dim].
 */
export function truncateColumns(x: Float32Array, n: number, full: number, dim: number): Float32Array {
  if (dim === full) return x;
  const y = new Float32Array(n * dim);
  for (let r = 0; r < n; r++) y.set(x.subarray(r * full, r * full + dim), r * dim);
  return y;
}
