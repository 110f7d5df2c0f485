/**
 * The settings of a MUVERA fixed dimensional encoding (FDE; Dhulipala et al., 2024, "MUVERA:
 * Multi-Vector Retrieval via Fixed Dimensional Encodings"), their defaults and their checks.
 *
 * An FDE turns a variable number of token vectors into one vector whose inner product with another
 * FDE approximates the Chamfer (MaxSim) similarity of the two sets. It is the first stage of a
 * two-stage search: a single-vector index (pgvector HNSW) returns candidates by FDE inner product,
 * exact MaxSim re-ranks them. Queries and documents must be encoded with the same settings and seed.
 */
import { ColtsError } from "../errors.js";

/**
 * The largest FDE size accepted: pgvector indexes `halfvec` columns with HNSW up to 4,000 dimensions
 * (`vector` columns only up to 2,000). An FDE larger than that cannot be the first stage of the
 * PostgreSQL index location, so it is refused rather than produced and stored unindexed.
 */
export const MAX_FDE_SIZE = 4000;

/**
 * Upper bound on repetitions x partitions x projection dimension before the final projection: the
 * intermediate vector is that many float64 values per encoded text (2^20 = 8 MiB).
 */
export const MAX_INNER_FDE_SIZE = 1 << 20;

/** How a set of token vectors becomes one vector. Queries and documents must use the same settings. */
export interface FdeConfig {
  /** Dimension of the input token vectors (the model's `dim`, e.g. 96 or 128). Required; 1 to 65,536. */
  dim: number;
  /**
   * R, independent repetitions (each with its own SimHash and projection), concatenated. Default 15.
   * Range 1 to 1,000. More repetitions average out unlucky partitions (better recall) at a linear cost
   * in FDE size and encoding time.
   */
  repetitions?: number;
  /**
   * k_sim, SimHash hyperplanes per repetition: the space is cut into 2^k_sim partitions by the signs
   * of k_sim Gaussian projections. Default 6. Range 0 to 16 (0 = one partition: the FDE is then a
   * plain sum / mean of the vectors). More partitions separate the query tokens' nearest document
   * tokens more finely (closer to MaxSim) but double the size per bit and leave more document
   * partitions empty.
   */
  simhashBits?: number;
  /**
   * d_proj: each token vector is first reduced to this many dimensions by a random AMS sketch (see
   * `projection`), independent per repetition. `"identity"`: no projection,
   * d_proj = dim (the vectors are used as they are). Default 4. Range 1 to 4,000. Smaller trades
   * precision of every inner product (variance about 1/d_proj) for room for more repetitions or
   * partitions within the size limit; identity is exact but leaves room for few partitions at
   * dim 96 or 128.
   */
  projectionDim?: number | "identity";
  /**
   * How token vectors are reduced to d_proj dimensions (ignored with `"identity"`). `"sparse"` (the
   * default, the reference implementation's AMS sketch): each input coordinate is added with a random
   * sign to one random output coordinate; costs one addition per input coordinate. `"dense"` (the
   * paper's description): a full matrix of ±1/sqrt(d_proj) entries; costs d_proj multiply-adds per
   * input coordinate. Both keep inner products unbiased with the same variance
   * ((|x|^2 |y|^2 + <x,y>^2 - 2 sum_i x_i^2 y_i^2) / d_proj), so sparse is the cheaper equal.
   */
  projection?: "sparse" | "dense";
  /**
   * Documents only: a partition that no document token falls into gets the (projected) token whose
   * SimHash code is nearest in Hamming distance to the partition's code (first such token on ties),
   * instead of zeros, so that a query token landing there still meets a plausible nearest neighbour.
   * Default false (the reference implementation's default). The paper fills; on SciFact (long
   * documents, bench/RESULTS.md) filling found less of the exact-MaxSim top-10 (0.726 vs 0.747 within
   * the top 1,000 at the default size): a filled partition scores a query token against one token
   * rather than a mean, which favours documents with many empty partitions. Queries are never
   * filled: their partitions are sums, and an empty one correctly contributes nothing.
   */
  fillEmptyPartitions?: boolean;
  /**
   * Optional final projection of the whole FDE to this many dimensions by a count sketch (each
   * coordinate added with a random sign to one random output coordinate; a sparse Johnson-Lindenstrauss
   * map). Absent (the default): no final projection. Range 1 to 4,000. Lets a large inner FDE
   * (repetitions x 2^simhashBits x d_proj up to 2^20) fit the size limit, at the price of collision noise.
   */
  finalDim?: number;
  /**
   * Seed of all randomness (SimHash planes, projections, count sketch): the same settings and seed
   * give the same FDE on every platform. Default 1 (the reference implementation's default).
   * Any integer 0 to 2^32 - 1.
   */
  seed?: number;
}

/** An `FdeConfig` with every default applied and every value checked. */
export interface ResolvedFdeConfig {
  /** Input dimension. */
  dim: number;
  /** R. */
  repetitions: number;
  /** k_sim. */
  simhashBits: number;
  /** 2^k_sim. */
  partitions: number;
  /** d_proj actually used: `projectionDim`, or `dim` without projection. */
  projectionDim: number;
  /** The projection applied to token vectors: none (identity), the sparse or the dense AMS sketch. */
  projection: "identity" | "sparse" | "dense";
  /** Whether empty document partitions are filled. */
  fillEmptyPartitions: boolean;
  /** Final count-sketch dimension, or null for none. */
  finalDim: number | null;
  /** Seed. */
  seed: number;
  /** repetitions x partitions x projectionDim: the FDE size before the final projection. */
  innerSize: number;
  /** Length of the FDE returned: `finalDim` when set, else `innerSize`. */
  size: number;
}

/**
 * Defaults of the optional settings (see `FdeConfig` for what each trades). R 15 x 2^6 partitions x
 * d_proj 4 = 3,840 values whatever the model's dim: the best of the settings under 4,000 measured on
 * SciFact (bench/RESULTS.md, "MUVERA FDE recall"): at equal size, more partitions with a smaller
 * d_proj found more of the exact-MaxSim top-10 than more repetitions or a larger d_proj, and so did
 * leaving empty partitions empty.
 */
export const FDE_DEFAULTS: Readonly<Required<Omit<FdeConfig, "dim" | "finalDim">>> = {
  repetitions: 15,
  simhashBits: 6,
  projectionDim: 4,
  projection: "sparse",
  fillEmptyPartitions: false,
  seed: 1,
};

function checkInt(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new ColtsError("INPUT_INVALID", `FDE config: ${field} must be an integer from ${min} to ${max}, got ${String(value)}`, {
      details: { field, value: typeof value === "number" ? value : String(value), min, max },
    });
  }
  return value;
}

/** Applies the defaults and checks every value (INPUT_INVALID names the field and its range). */
export function resolveFdeConfig(config: FdeConfig): ResolvedFdeConfig {
  const dim = checkInt("dim", config.dim, 1, 65536);
  const repetitions = checkInt("repetitions", config.repetitions ?? FDE_DEFAULTS.repetitions, 1, 1000);
  const simhashBits = checkInt("simhashBits", config.simhashBits ?? FDE_DEFAULTS.simhashBits, 0, 16);
  const requested = config.projectionDim ?? FDE_DEFAULTS.projectionDim;
  const projectionDim = requested === "identity" ? dim : checkInt("projectionDim", requested, 1, MAX_FDE_SIZE);
  const kind = config.projection ?? FDE_DEFAULTS.projection;
  if (kind !== "sparse" && kind !== "dense") {
    throw new ColtsError("INPUT_INVALID", `FDE config: projection must be "sparse" or "dense", got ${String(kind)}`, { details: { field: "projection", value: String(kind) } });
  }
  const projection = requested === "identity" ? "identity" : kind;
  const finalDim = config.finalDim === undefined ? null : checkInt("finalDim", config.finalDim, 1, MAX_FDE_SIZE);
  const seed = checkInt("seed", config.seed ?? FDE_DEFAULTS.seed, 0, 0xffffffff);
  const fill = config.fillEmptyPartitions ?? FDE_DEFAULTS.fillEmptyPartitions;
  if (typeof fill !== "boolean") throw new ColtsError("INPUT_INVALID", `FDE config: fillEmptyPartitions must be a boolean`, { details: { field: "fillEmptyPartitions" } });
  const partitions = 2 ** simhashBits;
  const innerSize = repetitions * partitions * projectionDim;
  const size = finalDim ?? innerSize;
  const shape = `${repetitions} repetitions x ${partitions} partitions x ${projectionDim} dims = ${innerSize}`;
  if (finalDim === null && innerSize > MAX_FDE_SIZE) {
    throw new ColtsError("INPUT_INVALID", `FDE config: ${shape} exceeds ${MAX_FDE_SIZE} (pgvector's HNSW limit for halfvec); lower repetitions, simhashBits or projectionDim, or set finalDim`, {
      details: { field: "size", value: innerSize, max: MAX_FDE_SIZE },
    });
  }
  if (innerSize > MAX_INNER_FDE_SIZE) {
    throw new ColtsError("INPUT_INVALID", `FDE config: ${shape} exceeds ${MAX_INNER_FDE_SIZE} before the final projection`, {
      details: { field: "innerSize", value: innerSize, max: MAX_INNER_FDE_SIZE },
    });
  }
  return { dim, repetitions, simhashBits, partitions, projectionDim, projection, fillEmptyPartitions: fill, finalDim, seed, innerSize, size };
}
