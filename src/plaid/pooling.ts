/**
 * Token pooling with PyLate's semantics (`ColBERT.pool_embeddings_hierarchical`, pylate/models/colbert.py;
 * the same code as sentence-transformers' `pool_document_embeddings`), for one document at a time:
 *   - the first `protectedTokens` rows (default 1, the [CLS]/[D] row) are set aside unchanged;
 *   - on the n' remaining rows, clusters = max(floor(n' / poolFactor), 1); if clusters >= n' nothing
 *     is pooled (a copy of the input comes back);
 *   - distances 1 - x_i·x_j (cosine for unit rows) in float32, as torch.mm gives them, condensed
 *     (negative ones clamped to 0, see `cosineDistanceCondensed`: the one input class where PyLate fails);
 *   - SciPy's `linkage(condensed, method="ward")`: the nearest-neighbour-chain algorithm applying the
 *     Ward Lance-Williams update directly to those (non-Euclidean) distances, then a stable sort of the
 *     merges by distance and union-find relabelling; reproduced step by step, ties included;
 *   - SciPy's `fcluster(Z, t=clusters, criterion="maxclust")`: the smallest merge-distance threshold
 *     giving at most `clusters` flat clusters, labelled 1.. in the dendrogram's depth-first order;
 *   - each cluster becomes the mean of its rows (not re-normalised), in label order 1, 2, ...;
 *   - output = protected rows first, then the cluster means (current PyLate order; earlier PyLate
 *     releases appended the protected rows after the clusters instead).
 * Stanford ColBERT's own variant (checkpoint.py) passes the square distance matrix to `linkage`, which
 * SciPy then treats as observation vectors: a different clustering. colts follows PyLate.
 *
 * Speed without changing a bit of the result (test/plaid/pooling-fast.test.ts checks it against the
 * straightforward version kept in test/helpers/pooling-reference.ts): pooling-wasm.ts computes the
 * distances with WebAssembly SIMD (pooling-distances.ts has the JavaScript fallback),
 * pooling-linkage.ts runs the chain on a square float64 matrix so that every scan reads one contiguous
 * row (8 n^2 bytes per document: 0.7 MB at 300 tokens), pooling-fcluster.ts cuts the tree.
 */
import { ColtsError } from "../errors.js";
import { checkShape } from "./assign.js";
import { distanceMatrix } from "./pooling-distances.js";
import { fclusterMaxclust } from "./pooling-fcluster.js";
import { wardLinkageSquare } from "./pooling-linkage.js";

export { fclusterMaxclust } from "./pooling-fcluster.js";
export { wardLinkage } from "./pooling-linkage.js";

/** Options of `poolTokens`: how strongly to pool, and which leading rows to keep as they are. */
export interface PoolOptions {
  /**
   * Keep about 1/poolFactor of the unprotected rows: clusters = max(floor(n' / poolFactor), 1).
   * Default 1 (no pooling). Range: finite number >= 1 (PyLate uses integers: 2 halves, 3 keeps a third).
   */
  poolFactor?: number;
  /** Leading rows never pooled and kept first, unchanged. Default 1 (PyLate's default). Range: integer >= 0. */
  protectedTokens?: number;
}

/** A document's rows after pooling, and which cluster each input row went into. */
export interface PooledDocument {
  /** [count, dim] row-major: protected rows, then one mean per cluster in label order. */
  vectors: Float32Array;
  /** Number of rows in `vectors`. */
  count: number;
  /**
   * fcluster label (1-based) of each unprotected input row: [n - protected]; row i of the input
   * (i >= protectedTokens) went into output row protectedTokens + labels[i - protectedTokens] - 1.
   * When nothing was pooled, labels are 1, 2, ... (identity).
   */
  labels: Int32Array;
}

/**
 * Pools one document's token vectors.
 * vectors: [n, dim] row-major (unit rows, as the encoder emits them) -> see `PooledDocument`.
 */
export function poolTokens(vectors: Float32Array, n: number, dim: number, options: PoolOptions = {}): PooledDocument {
  checkShape("vectors", vectors, n, dim);
  const poolFactor = options.poolFactor ?? 1;
  const protectedTokens = options.protectedTokens ?? 1;
  if (!(Number.isFinite(poolFactor) && poolFactor >= 1)) throw new ColtsError("INPUT_INVALID", `poolFactor must be a number >= 1, got ${poolFactor}`);
  if (!Number.isInteger(protectedTokens) || protectedTokens < 0) throw new ColtsError("INPUT_INVALID", `protectedTokens must be an integer >= 0, got ${protectedTokens}`);

  const kept = Math.min(protectedTokens, n);
  const m = n - kept; // rows to pool
  const clusters = Math.max(Math.floor(m / poolFactor), 1);
  if (clusters >= m) {
    const labels = new Int32Array(m);
    for (let i = 0; i < m; i++) labels[i] = i + 1;
    return { vectors: vectors.slice(), count: n, labels };
  }

  const rows = vectors.subarray(kept * dim); // [m, dim]
  const labels = wardClusterLabels(rows, m, dim, clusters);
  let numLabels = 0;
  for (let i = 0; i < m; i++) numLabels = Math.max(numLabels, labels[i] as number);

  const sums = new Float64Array(numLabels * dim);
  const counts = new Int32Array(numLabels);
  for (let i = 0; i < m; i++) {
    const c = (labels[i] as number) - 1;
    counts[c] = (counts[c] as number) + 1;
    for (let t = 0; t < dim; t++) sums[c * dim + t] = (sums[c * dim + t] as number) + (rows[i * dim + t] as number);
  }
  // fcluster labels are consecutive, so every label 1..numLabels has members; PyLate skips empty ones anyway.
  let count = kept;
  for (let c = 0; c < numLabels; c++) if ((counts[c] as number) > 0) count++;
  const out = new Float32Array(count * dim);
  out.set(vectors.subarray(0, kept * dim));
  let r = kept;
  for (let c = 0; c < numLabels; c++) {
    const cnt = counts[c] as number;
    if (cnt === 0) continue;
    for (let t = 0; t < dim; t++) out[r * dim + t] = (sums[c * dim + t] as number) / cnt;
    r++;
  }
  return { vectors: out, count, labels };
}

/**
 * PyLate's clustering of one document's (unprotected) rows: Ward linkage on 1 - cosine, cut into at
 * most `clusters` flat clusters. x: [n, dim] row-major -> labels: [n], 1-based, consecutive.
 */
export function wardClusterLabels(x: Float32Array, n: number, dim: number, clusters: number): Int32Array {
  checkShape("x", x, n, dim);
  if (n === 0) return new Int32Array(0);
  if (n === 1) return Int32Array.of(1);
  const { d, stride } = distanceMatrix(x, n, dim);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1, at = i * stride + j; j < n; j++, at++) {
      if (!Number.isFinite(d[at])) throw new ColtsError("INPUT_INVALID", "token pooling: vectors contain non-finite values");
    }
  }
  const z = wardLinkageSquare(d, n, stride);
  return fclusterMaxclust(z, n, clusters);
}

/**
 * Condensed 1 - x_i·x_j for i < j, in SciPy's order (row-major upper triangle): entry
 * n*i - i*(i+1)/2 + (j - i - 1). Each dot product (summed in float64 in coordinate order) is rounded
 * to float32 and 1 - dot is rounded to float32 again, as PyLate's float32 torch.mm and `1 - cos_sim`
 * produce them (SciPy then promotes to float64). One deliberate difference: a negative value (the dot
 * product of (near-)identical unit rows rounding above 1) is clamped to 0. PyLate passes it on and
 * SciPy then refuses the linkage ("Z contains negative distances"), so this only changes inputs on
 * which PyLate fails; colts pools such duplicates together instead. x: [n, dim] row-major ->
 * [n * (n - 1) / 2]. (Pooling itself uses the square form, `distanceMatrix`, with the same values.)
 */
export function cosineDistanceCondensed(x: Float32Array, n: number, dim: number): Float64Array {
  checkShape("x", x, n, dim);
  const out = new Float64Array((n * (n - 1)) / 2);
  if (n < 2) return out;
  const { d, stride } = distanceMatrix(x, n, dim);
  let k = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out[k++] = d[i * stride + j] as number;
  return out;
}
