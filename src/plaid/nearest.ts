/**
 * Nearest-centroid assignment as PLAID's build uses it: exact (assign.ts) for small centroid counts or
 * an injected kernel, two-level (two-level.ts) from TWO_LEVEL_MIN_CENTROIDS centroids on.
 */
import { assignExact, checkAssignInputs, type Assignment, type ExactAssignOptions } from "./assign.js";
import { createTwoLevelAssigner, type TwoLevelOptions } from "./two-level.js";

export interface AssignOptions extends ExactAssignOptions {
  /**
   * "exact" scores every centroid (PLAID's assignment); "two-level" scores group means first and
   * then the centroids of the best groups only (two-level.ts: ~100x cheaper at k = 2^17, near-exact);
   * "auto" (default) is two-level from TWO_LEVEL_MIN_CENTROIDS centroids on. Ignored (always exact)
   * when `matmul` is given.
   */
  assignment?: "auto" | "exact" | "two-level";
  /** Settings of the two-level assignment. */
  twoLevel?: TwoLevelOptions;
}

/** From this many centroids on, "auto" assignment is two-level (below it exact is fast enough on 2 cores). */
export const TWO_LEVEL_MIN_CENTROIDS = 16_384;

/** Whether these options and k select the two-level assignment. */
export function usesTwoLevel(k: number, options: Pick<AssignOptions, "matmul" | "assignment">): boolean {
  if (options.matmul) return false;
  const mode = options.assignment ?? "auto";
  return mode === "two-level" || (mode === "auto" && k >= TWO_LEVEL_MIN_CENTROIDS);
}

/**
 * codes[i] = argmax_j (x_i · c_j + bias[j]), exact or two-level as `options` select (see
 * `assignExact` for shapes and ties).
 */
export async function assignBlocks(
  vectors: Float32Array,
  n: number,
  centroids: Float32Array,
  k: number,
  dim: number,
  bias: Float32Array | undefined,
  options: AssignOptions = {},
): Promise<Assignment> {
  checkAssignInputs(vectors, n, centroids, k, dim, bias);
  if (n === 0 || !usesTwoLevel(k, options)) return assignExact(vectors, n, centroids, k, dim, bias, options);
  const assigner = await createTwoLevelAssigner(centroids, k, dim, bias, { ...options.twoLevel, ...(options.runtime ? { runtime: options.runtime } : {}) });
  try {
    return await assigner.assign(vectors, n);
  } finally {
    await assigner.release();
  }
}

/**
 * PLAID's code per vector: the centroid with the largest dot product (ties: lowest index), computed
 * block-wise. vectors: [n, dim] row-major; centroids: [k, dim] row-major; returns codes: [n].
 */
export async function assignToCentroids(
  vectors: Float32Array,
  n: number,
  centroids: Float32Array,
  k: number,
  dim: number,
  options: AssignOptions = {},
): Promise<Int32Array> {
  return (await assignBlocks(vectors, n, centroids, k, dim, undefined, options)).codes;
}
