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
  // Four input rows share each pass over a weight row (4x fewer weight loads); the sums are
  // accumulated in the same order as the one-row loop, so results are bit-identical to it.
  let r = 0;
  for (; r + 4 <= n; r += 4) {
    const x0 = r * din;
    const x1 = x0 + din;
    const x2 = x1 + din;
    const x3 = x2 + din;
    for (let o = 0; o < dout; o++) {
      const wo = o * din;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let i = 0; i < din; i++) {
        const w = weight[wo + i] as number;
        a0 += (x[x0 + i] as number) * w;
        a1 += (x[x1 + i] as number) * w;
        a2 += (x[x2 + i] as number) * w;
        a3 += (x[x3 + i] as number) * w;
      }
      const b = bias ? (bias[o] as number) : 0;
      y[r * dout + o] = activate(a0 + b, layer.activation);
      y[(r + 1) * dout + o] = activate(a1 + b, layer.activation);
      y[(r + 2) * dout + o] = activate(a2 + b, layer.activation);
      y[(r + 3) * dout + o] = activate(a3 + b, layer.activation);
    }
  }
  for (; r < n; r++) {
    const xo = r * din;
    for (let o = 0; o < dout; o++) {
      const wo = o * din;
      let acc = 0;
      for (let i = 0; i < din; i++) acc += (x[xo + i] as number) * (weight[wo + i] as number);
      y[r * dout + o] = activate(acc + (bias ? (bias[o] as number) : 0), layer.activation);
    }
  }
  return y;
}

function activate(v: number, activation: DenseLayer["activation"]): number {
  return activation === "tanh" ? Math.tanh(v) : v;
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
