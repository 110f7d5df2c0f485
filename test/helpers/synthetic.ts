/** Clustered synthetic unit vectors standing in for encoder output (index tests and benchmarks). */
import type { EmbeddedDoc } from "../../src/plaid/source.js";
import { Rng } from "../../src/util/rng.js";

/** `docs` documents of 8..24 unit vectors drawn around 40 random topic centres. */
export function syntheticDocs(docs: number, dim: number, seed: number, prefix = "d"): EmbeddedDoc[] {
  const rng = new Rng(seed);
  const centres = Array.from({ length: 40 }, () => rng.normalArray(dim, 1));
  return Array.from({ length: docs }, (_, i) => {
    const n = 8 + rng.int(17);
    const v = new Float32Array(n * dim);
    for (let t = 0; t < n; t++) {
      const c = centres[rng.int(centres.length)] as Float32Array;
      let norm = 0;
      for (let k = 0; k < dim; k++) {
        const x = (c[k] as number) + 0.35 * rng.normal();
        v[t * dim + k] = x;
        norm += x * x;
      }
      for (let k = 0; k < dim; k++) v[t * dim + k] = (v[t * dim + k] as number) / Math.sqrt(norm);
    }
    return { id: `${prefix}${i}`, vectors: v, n, metadata: { group: i % 3, name: `doc ${i}` } };
  });
}

/** n unit vectors around `centres` random centres, noise per dimension before normalising: [n, dim] row-major (the clustered shape PLAID's centroids have). */
export function clustered(n: number, dim: number, centres: number, noise: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const c = rng.normalArray(centres * dim, 1);
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const k = rng.int(centres);
    let s = 0;
    for (let t = 0; t < dim; t++) {
      const v = (c[k * dim + t] as number) + noise * rng.normal();
      x[i * dim + t] = v;
      s += v * v;
    }
    for (let t = 0; t < dim; t++) x[i * dim + t] = (x[i * dim + t] as number) / Math.sqrt(s);
  }
  return x;
}

/** n random unit vectors drawn from rng: [n, dim] row-major (e.g. k-means-free centroids). */
export function unitRows(rng: Rng, n: number, dim: number): Float32Array {
  const rows = rng.normalArray(n * dim, 1);
  for (let i = 0; i < n; i++) {
    const row = rows.subarray(i * dim, (i + 1) * dim);
    const norm = Math.hypot(...row);
    row.forEach((v, j) => (row[j] = v / norm));
  }
  return rows;
}
