/**
 * Lloyd's k-means as ColBERTv2 runs it through `faiss.Kmeans` (collection_indexer.py). It follows faiss' `Clustering::train` (ColBERT's settings: niter 4, not spherical), made
 * deterministic with colts' seeded `Rng`:
 *   1. if n > k * maxPointsPerCentroid, train on a random subset of k * maxPointsPerCentroid points;
 *   2. initial centroids = k distinct points drawn at random;
 *   3. `iterations` times: assign every point to its nearest centroid (L2), move each centroid to the
 *      mean of its points, re-seed empty clusters by splitting a populated one (faiss' `split_clusters`:
 *      a cluster is picked with probability (size - 1) / (n - k), copied, and both copies nudged by
 *      ±1/1024 in alternating dimensions); with `spherical`, L2-normalise the centroids after each step;
 *   4. with `normalize` (default), L2-normalise the final centroids, as ColBERT does after faiss.
 * Nearest-centroid assignment is argmax_j (x·c_j - ||c_j||²/2), computed by the `assign` function the
 * caller passes (kmeans.ts: exact or two-level); for unit centroids it is the maximum inner product.
 */
import { ColtsError } from "../errors.js";
import { Rng } from "../util/rng.js";
import { checkShape, type Assignment } from "./assign.js";

/**
 * Nearest centroid per point: points [n, dim], centroids [k, dim], bias [k] -> codes [n] (and scores).
 * From the second round on, `previous` holds each point's code of the round before (the centroid of
 * the same index has since moved to the mean of its points), which a warm-started assignment may use.
 */
export type AssignFunction = (points: Float32Array, n: number, centroids: Float32Array, k: number, dim: number, bias: Float32Array, previous?: Int32Array) => Promise<Assignment>;

/** The default seed of index building: sample, k-means and held-out split (ColBERT's faiss seed). */
export const DEFAULT_SEED = 123;

export interface LloydOptions {
  /** Seed of the Rng that draws the subsample, the initial centroids and the splits. Default DEFAULT_SEED (123). */
  seed?: number;
  /** Assign + update rounds. Default 4 (ColBERT's `kmeans_niters`). Range: integer >= 0 (0 = the initial sample). */
  iterations?: number;
  /** L2-normalise the returned centroids (PLAID does, after faiss). Default true. */
  normalize?: boolean;
  /** L2-normalise the centroids after every update (spherical k-means; faiss' `spherical`). Default false, as ColBERT. */
  spherical?: boolean;
  /**
   * Train on at most k * maxPointsPerCentroid points (a seeded random subset), as faiss does. Default 256
   * (faiss' default). Range: integer >= 1, or Infinity to always use every point.
   */
  maxPointsPerCentroid?: number;
  /** Called after each assign + update round with (rounds done, iterations): a progress bar's hook. */
  onIteration?: (done: number, total: number) => void;
  /**
   * Called once after the last round with every point's code in that round ([n]; the centroid of each
   * index then moved to the mean of its points, and is normalised afterwards): a warm start for the
   * caller's next assignment. Only when the rounds ran on every point (no subsample) and iterations >= 1.
   */
  onLastCodes?: (codes: Int32Array) => void;
}

/** faiss' perturbation when splitting a cluster to re-seed an empty one. */
const SPLIT_EPS = 1 / 1024;

/**
 * Trains k centroids on points.
 * points: [n, dim] row-major (ColBERT token vectors: unit norm); returns centroids: [k, dim] row-major.
 * `assign` gives each point's nearest centroid (the caller picks exact or two-level).
 * Deterministic for a given seed and assignment. Requires 1 <= k <= n.
 */
export async function lloydKmeans(points: Float32Array, n: number, dim: number, k: number, assign: AssignFunction, options: LloydOptions = {}): Promise<Float32Array> {
  checkShape("points", points, n, dim);
  if (!Number.isInteger(k) || k < 1) throw new ColtsError("INPUT_INVALID", `k must be an integer >= 1, got ${k}`);
  if (k > n) throw new ColtsError("INPUT_INVALID", `k-means needs at least as many points as centroids (${n} points, k = ${k})`);
  const iterations = options.iterations ?? 4;
  if (!Number.isInteger(iterations) || iterations < 0) throw new ColtsError("INPUT_INVALID", `iterations must be an integer >= 0, got ${iterations}`);
  const maxPer = options.maxPointsPerCentroid ?? 256;
  if (!(maxPer >= 1) || (maxPer !== Infinity && !Number.isInteger(maxPer))) {
    throw new ColtsError("INPUT_INVALID", `maxPointsPerCentroid must be an integer >= 1 or Infinity, got ${maxPer}`);
  }
  const rng = new Rng(options.seed ?? DEFAULT_SEED);

  // 1. Subsample (faiss: "too many training points, sampling ...").
  let x = points;
  let nx = n;
  if (n > k * maxPer) {
    nx = k * maxPer;
    const idx = samplePermutationPrefix(rng, n, nx);
    x = new Float32Array(nx * dim);
    for (let i = 0; i < nx; i++) x.set(points.subarray((idx[i] as number) * dim, ((idx[i] as number) + 1) * dim), i * dim);
  }

  // 2. Initial centroids: k distinct points.
  const centroids = new Float32Array(k * dim);
  const init = samplePermutationPrefix(rng, nx, k);
  for (let j = 0; j < k; j++) centroids.set(x.subarray((init[j] as number) * dim, ((init[j] as number) + 1) * dim), j * dim);
  if (options.spherical) normalizeRows(centroids, k, dim);

  // 3. Lloyd iterations.
  const sums = new Float64Array(k * dim);
  const counts = new Float64Array(k);
  const bias = new Float32Array(k);
  let previous: Int32Array | undefined;
  for (let it = 0; it < iterations; it++) {
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let t = j * dim; t < (j + 1) * dim; t++) s += (centroids[t] as number) * (centroids[t] as number);
      bias[j] = -0.5 * s;
    }
    const { codes } = await assign(x, nx, centroids, k, dim, bias, previous);
    previous = codes;
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < nx; i++) {
      const c = codes[i] as number;
      counts[c] = (counts[c] as number) + 1;
      const o = c * dim;
      const xi = i * dim;
      for (let t = 0; t < dim; t++) sums[o + t] = (sums[o + t] as number) + (x[xi + t] as number);
    }
    for (let j = 0; j < k; j++) {
      const cnt = counts[j] as number;
      if (cnt === 0) continue; // re-seeded below
      const o = j * dim;
      for (let t = 0; t < dim; t++) centroids[o + t] = (sums[o + t] as number) / cnt;
    }
    splitEmptyClusters(centroids, counts, k, dim, nx, rng);
    if (options.spherical) normalizeRows(centroids, k, dim);
    options.onIteration?.(it + 1, iterations);
  }

  if (previous && x === points) options.onLastCodes?.(previous);

  // 4. PLAID normalises the trained centroids.
  if (options.normalize ?? true) normalizeRows(centroids, k, dim);
  return centroids;
}

/**
 * faiss' `split_clusters`, with colts' Rng: each empty cluster ci takes a copy of a cluster cj chosen
 * (scanning cj = 0, 1, ... cyclically) with probability (size_cj - 1) / (n - k); the two copies are
 * pushed apart by ±SPLIT_EPS in alternating dimensions and share cj's count.
 * centroids: [k, dim] row-major (updated in place); counts: [k] (updated in place).
 */
function splitEmptyClusters(centroids: Float32Array, counts: Float64Array, k: number, dim: number, n: number, rng: Rng): void {
  for (let ci = 0; ci < k; ci++) {
    if (counts[ci] !== 0) continue;
    let cj = 0;
    for (;; cj = (cj + 1) % k) {
      const size = counts[cj] as number;
      // n === k: no spare points; any cluster holding two or more can give one away.
      const p = n > k ? (size - 1) / (n - k) : size > 1 ? 1 : 0;
      if (rng.next() < p) break;
    }
    const oi = ci * dim;
    const oj = cj * dim;
    for (let t = 0; t < dim; t++) {
      const v = centroids[oj + t] as number;
      if (t % 2 === 0) {
        centroids[oi + t] = v * (1 + SPLIT_EPS);
        centroids[oj + t] = v * (1 - SPLIT_EPS);
      } else {
        centroids[oi + t] = v * (1 - SPLIT_EPS);
        centroids[oj + t] = v * (1 + SPLIT_EPS);
      }
    }
    counts[ci] = (counts[cj] as number) / 2;
    counts[cj] = (counts[cj] as number) - (counts[ci] as number);
  }
}

/** The first `count` entries of a seeded random permutation of 0..n-1 (partial Fisher-Yates). */
function samplePermutationPrefix(rng: Rng, n: number, count: number): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(n - i);
    const t = perm[i] as number;
    perm[i] = perm[j] as number;
    perm[j] = t;
  }
  return perm.subarray(0, count);
}

/** L2-normalises each row in place (rows of norm 0 stay 0, like torch.nn.functional.normalize). x: [rows, dim] row-major. */
export function normalizeRows(x: Float32Array, rows: number, dim: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let s = 0;
    for (let t = 0; t < dim; t++) s += (x[o + t] as number) * (x[o + t] as number);
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let t = 0; t < dim; t++) x[o + t] = (x[o + t] as number) * inv;
  }
}
