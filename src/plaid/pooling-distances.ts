/**
 * Pairwise distances of token pooling, 1 - x_i·x_j with PyLate's float32 roundings, as a square
 * float64 matrix (both triangles, so that the linkage reads any cluster's distances as one contiguous
 * row). The WebAssembly SIMD kernel (pooling-wasm.ts) computes them; this JavaScript kernel is the
 * fallback where WebAssembly is unavailable, with the same bits (see `cosineDistanceCondensed`).
 */
import { distanceMatrixWasm } from "./pooling-wasm.js";

/** A square distance matrix: d[i * stride + j] for i, j < n, stride >= n; the diagonal is +Infinity. */
export interface DistanceMatrix {
  /** [stride, stride] row-major, float64; entries past row or column n - 1 are not meaningful. */
  d: Float64Array;
  /** Row length of `d` (n, or n rounded up by the SIMD kernel's blocking). */
  stride: number;
}

/**
 * Distances of every pair of rows: max(0, f32(1 - f32(x_i·x_j))), the dot product summed in float64
 * in coordinate order (see `cosineDistanceCondensed` for why these roundings and the clamp).
 * x: [n, dim] row-major -> see `DistanceMatrix`. `kernel` picks the implementation: "auto" (the SIMD
 * kernel where WebAssembly runs, otherwise JavaScript) or "js" (tests compare the two).
 */
export function distanceMatrix(x: Float32Array, n: number, dim: number, kernel: "auto" | "js" = "auto"): DistanceMatrix {
  if (kernel === "auto") {
    const fast = distanceMatrixWasm(x, n, dim);
    if (fast !== null) return fast;
  }
  return distanceMatrixJs(x, n, dim);
}

/** The JavaScript kernel: x: [n, dim] row-major -> [n, n] (stride n), diagonal +Infinity. */
function distanceMatrixJs(x: Float32Array, n: number, dim: number): DistanceMatrix {
  const y = Float64Array.from(x); // float64 loads are cheaper than float32 ones in V8
  const d = new Float64Array(n * n);
  const put = (i: number, j: number, dot: number): void => {
    const v = Math.max(0, Math.fround(1 - Math.fround(dot)));
    d[i * n + j] = v;
    d[j * n + i] = v;
  };
  for (let i = 0; i < n; i++) d[i * n + i] = Infinity;
  // Two rows i, i+1 against four rows j..j+3 at a time: each loaded value is used 4 or 2 times.
  for (let i = 0; i + 1 < n; i += 2) {
    const a0 = i * dim;
    const a1 = a0 + dim;
    let d01 = 0;
    for (let t = 0; t < dim; t++) d01 += (y[a0 + t] as number) * (y[a1 + t] as number);
    put(i, i + 1, d01);
    let j = i + 2;
    for (; j + 3 < n; j += 4) {
      const b0 = j * dim;
      const b1 = b0 + dim;
      const b2 = b1 + dim;
      const b3 = b2 + dim;
      let p0 = 0;
      let p1 = 0;
      let p2 = 0;
      let p3 = 0;
      let q0 = 0;
      let q1 = 0;
      let q2 = 0;
      let q3 = 0;
      for (let t = 0; t < dim; t++) {
        const u = y[a0 + t] as number;
        const w = y[a1 + t] as number;
        const c0 = y[b0 + t] as number;
        const c1 = y[b1 + t] as number;
        const c2 = y[b2 + t] as number;
        const c3 = y[b3 + t] as number;
        p0 += u * c0;
        p1 += u * c1;
        p2 += u * c2;
        p3 += u * c3;
        q0 += w * c0;
        q1 += w * c1;
        q2 += w * c2;
        q3 += w * c3;
      }
      put(i, j, p0);
      put(i, j + 1, p1);
      put(i, j + 2, p2);
      put(i, j + 3, p3);
      put(i + 1, j, q0);
      put(i + 1, j + 1, q1);
      put(i + 1, j + 2, q2);
      put(i + 1, j + 3, q3);
    }
    for (; j < n; j++) {
      const b = j * dim;
      let p = 0;
      let q = 0;
      for (let t = 0; t < dim; t++) {
        p += (y[a0 + t] as number) * (y[b + t] as number);
        q += (y[a1 + t] as number) * (y[b + t] as number);
      }
      put(i, j, p);
      put(i + 1, j, q);
    }
  }
  return { d, stride: n };
}
