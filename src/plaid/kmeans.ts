/**
 * PLAID codec training: how many documents to sample, how many centroids to train, and the k-means
 * itself (Lloyd's iterations in lloyd.ts, with exact or two-level nearest-centroid assignment).
 */
import { ColtsError } from "../errors.js";
import type { RuntimeOptions } from "../runtime/session.js";
import type { MatmulFactory } from "./assign.js";
import { lloydKmeans, type LloydOptions } from "./lloyd.js";
import { assignBlocks, usesTwoLevel, type AssignOptions } from "./nearest.js";
import { refineAssignment, type RefineOptions } from "./refine.js";

/**
 * Number of documents PLAID samples to train its codec (`_sample_pids`):
 * min(1 + floor(16 * sqrt(120 * nDocs)), nDocs). 120 is ColBERT's "typical doclen", fixed whatever the
 * real document length. nDocs: integer >= 0.
 */
export function plaidSampleSize(nDocs: number): number {
  if (!Number.isInteger(nDocs) || nDocs < 0) throw new ColtsError("INPUT_INVALID", `nDocs must be an integer >= 0, got ${nDocs}`);
  return Math.min(1 + Math.floor(16 * Math.sqrt(120 * nDocs)), nDocs);
}

/**
 * Number of centroids PLAID trains (`setup`): 2^floor(log2(16 * sqrt(nTokens))), where ColBERT's
 * nTokens is the estimate nDocs * (average sampled document length), a real number. nTokens >= 1
 * (so at least 16 centroids). The caller must still keep it <= the number of training vectors.
 */
export function plaidNumCentroids(nTokens: number): number {
  if (!Number.isFinite(nTokens) || nTokens < 1) throw new ColtsError("INPUT_INVALID", `nTokens must be >= 1, got ${nTokens}`);
  return 2 ** Math.floor(Math.log2(16 * Math.sqrt(nTokens)));
}

/** Options of `kmeans`: Lloyd's settings (seed, iterations, normalisation, subsample) and the assignment kernel. */
export interface KmeansOptions extends LloydOptions {
  /** a·bᵀ kernel factory for the assignment. Default: onnxruntime (`OrtMatmul`). */
  matmul?: MatmulFactory;
  /** onnxruntime settings for the default kernel. Ignored when `matmul` is given. */
  runtime?: RuntimeOptions;
  /** Rows per assignment block (see `AssignOptions.blockRows`). Default: about 4M scores per block. */
  blockRows?: number;
  /** Exact or two-level assignment (see `AssignOptions.assignment`). Default "auto". */
  assignment?: AssignOptions["assignment"];
  /** Settings of the two-level assignment. */
  twoLevel?: AssignOptions["twoLevel"];
  /**
   * Where the assignment is two-level, the rounds after the first score each vector only against the
   * centroids nearest to its previous centroid (refine.ts: ~10x faster, as close to exact as the
   * two-level search). Default true. false: every round runs the two-level search.
   */
  warmStart?: boolean;
  /** Settings of the warm-started rounds. */
  refine?: RefineOptions;
}


/**
 * Trains k centroids on points (see lloyd.ts for the algorithm).
 * points: [n, dim] row-major (ColBERT token vectors: unit norm); returns centroids: [k, dim] row-major.
 * Deterministic for a given seed and kernel. Requires 1 <= k <= n.
 */
export async function kmeans(points: Float32Array, n: number, dim: number, k: number, options: KmeansOptions = {}): Promise<Float32Array> {
  const assignOptions: AssignOptions = {
    ...(options.matmul ? { matmul: options.matmul } : {}),
    ...(options.runtime ? { runtime: options.runtime } : {}),
    ...(options.blockRows !== undefined ? { blockRows: options.blockRows } : {}),
    ...(options.assignment ? { assignment: options.assignment } : {}),
    ...(options.twoLevel ? { twoLevel: options.twoLevel } : {}),
  };
  const warm = (options.warmStart ?? true) && usesTwoLevel(k, assignOptions);
  const refineOptions: RefineOptions = { ...(options.runtime ? { runtime: options.runtime } : {}), ...options.refine };
  return lloydKmeans(
    points,
    n,
    dim,
    k,
    (x, nx, c, kk, d, bias, previous) => (warm && previous ? refineAssignment(x, nx, previous, c, kk, d, bias, refineOptions) : assignBlocks(x, nx, c, kk, d, bias, assignOptions)),
    options,
  );
}
