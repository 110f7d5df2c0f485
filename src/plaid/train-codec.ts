/**
 * Training a residual codec from embedded documents: PLAID's sample, k-means on most of it, bucket
 * calibration on a held-out part. Shared by every index location (the on-disk build and compaction,
 * the PostgreSQL build), so the same documents and settings give the same codec everywhere.
 */
import { ColtsError } from "../errors.js";
import { Rng } from "../util/rng.js";
import type { Nbits } from "./bitpack.js";
import { ResidualCodec, type CodeArray } from "./codec.js";
import { KeptSample } from "./kept-sample.js";
import { kmeans, plaidNumCentroids, plaidSampleSize } from "./kmeans.js";
import { usesTwoLevel } from "./nearest.js";
import { refineAssignment } from "./refine.js";
import { DEFAULT_SEED } from "./lloyd.js";
import { poolDoc, type EmbeddedDoc, type EmbeddingSource } from "./source.js";

/** How a codec is trained (every index location's build options extend these); every field is optional. */
export interface CodecTrainingOptions {
  /** Residual bits per dimension: 1, 2 or 4. Default 2. More bits: closer to exact scores, bigger index. */
  nbits?: Nbits;
  /** Token pooling factor (PyLate semantics). Default 1 = none; 2 halves the vectors (~no quality loss). */
  poolFactor?: number;
  /** Seed of the sample, k-means and held-out split. Default DEFAULT_SEED (123). */
  seed?: number;
  /** k-means iterations. Default 4 (PLAID's). */
  kmeansIterations?: number;
  /**
   * Number of centroids. Default PLAID's 2^floor(log2(16 sqrt(estimated vectors))). Fewer centroids
   * train faster (k-means cost grows with centroids x sample vectors) and make IVF lists longer.
   */
  numCentroids?: number;
  /**
   * k-means trains on at most this many sample vectors per centroid (faiss' max_points_per_centroid).
   * Default 256. Lower values train faster on large collections at some cost in centroid quality.
   */
  kmeansMaxPointsPerCentroid?: number;
  /**
   * Nearest-centroid assignment in k-means and compression: "exact" scores every centroid (PLAID);
   * "two-level" scores groups of centroids first (two-level.ts: ~99% identical codes at
   * probe 16, >10x fewer multiply-adds at k = 2^15); "auto" (default) is two-level from 16,384
   * centroids on, the sizes where exact assignment takes hours on a few CPU cores.
   */
  assignment?: "auto" | "exact" | "two-level";
  /**
   * Where the assignment is two-level: k-means rounds after the first, and the codes of the sampled
   * documents, start from each vector's previous centroid and score only its nearest centroids
   * (refine.ts: ~10x fewer multiply-adds, as close to exact as the two-level search). Default true.
   * false: every round and every document runs the two-level search (the build before this option).
   */
  warmStart?: boolean;
  /**
   * Progress of each phase, reported per batch: "sample" (documents of the codec sample read and
   * encoded), "train" (k-means rounds, then the residual calibration), "index" (documents compressed,
   * the kept sample included). Each phase ends with done === total.
   */
  onProgress?: (e: { phase: "sample" | "train" | "index"; done: number; total: number }) => void;
}

/** Positions of the k-means sample: PLAID's sample size, drawn without replacement with a seeded Rng. */
export function chooseSample(n: number, seed: number): Set<number> {
  const size = plaidSampleSize(n);
  const rng = new Rng(seed);
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < size; i++) {
    const j = i + rng.int(n - i);
    [perm[i], perm[j]] = [perm[j] as number, perm[i] as number];
  }
  return new Set(perm.slice(0, size));
}

/** Where a build keeps its codec sample for the index pass (see kept-sample.ts). */
export interface KeepSample {
  /** Most bytes of sampled vectors held in memory; more go to `spillFile`. */
  budgetBytes: number;
  spillFile: string;
}

/** A trained codec, and the sample it was trained on when the caller asked to keep it. */
export interface TrainedCodec {
  codec: ResidualCodec;
  kept: KeptSample | null;
}

/** Reads the sample (pooled), checking the source yields exactly the sampled documents. */
async function readSample(source: EmbeddingSource, sample: ReadonlySet<number>, dim: number, opts: CodecTrainingOptions): Promise<{ heads: Omit<EmbeddedDoc, "vectors">[]; all: Float32Array }> {
  const parts: Float32Array[] = [];
  const heads: Omit<EmbeddedDoc, "vectors">[] = [];
  let rows = 0;
  for await (const batch of source.batches(sample)) {
    for (const d of batch) {
      const { vectors, ...head } = poolDoc(checkDoc(d, dim), dim, opts.poolFactor ?? 1);
      parts.push(vectors.subarray(0, head.n * dim));
      heads.push(head);
      rows += head.n;
    }
    opts.onProgress?.({ phase: "sample", done: heads.length, total: sample.size });
  }
  if (heads.length !== sample.size) throw new ColtsError("INPUT_INVALID", `the source yielded ${heads.length} documents for a sample of ${sample.size}`);
  if (rows === 0) throw new ColtsError("INPUT_INVALID", "the sampled documents have no vectors");
  const all = new Float32Array(rows * dim);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  return { heads, all }; // the per-document arrays are garbage from here: one copy of the sample is held
}

/**
 * Trains the codec on PLAID's sample of the source. With `keep`, the sampled documents are returned
 * for the index pass (in their original row order), so the build need not read or encode them again.
 */
export async function trainCodec(source: EmbeddingSource, dim: number, opts: CodecTrainingOptions, keep: KeepSample): Promise<TrainedCodec & { kept: KeptSample }>;
export async function trainCodec(source: EmbeddingSource, dim: number, opts: CodecTrainingOptions): Promise<TrainedCodec>;
export async function trainCodec(source: EmbeddingSource, dim: number, opts: CodecTrainingOptions, keep: KeepSample | null = null): Promise<TrainedCodec> {
  const seed = opts.seed ?? DEFAULT_SEED;
  const sample = chooseSample(source.count, seed);
  const { heads, all } = await readSample(source, sample, dim, opts);
  const rows = all.length / dim;
  // Hold out ~5% of the sampled vectors (at most 50k) to calibrate the residual buckets, as PLAID does:
  // the rows are shuffled in place (a seeded Fisher-Yates), the first nHeld calibrate, the rest train.
  // The swaps are recorded so that the original order can be restored for the kept sample.
  const swaps = shuffleRows(all, rows, dim, new Rng(seed + 1));
  const nHeld = rows > 20 ? Math.min(50_000, Math.max(1, Math.floor(rows * 0.05))) : 0;
  const trainRows = rows - nHeld;
  const train = all.subarray(nHeld * dim);
  // Tiny samples (<= 20 vectors) calibrate on every vector.
  const heldRows = nHeld > 0 ? nHeld : rows;
  const held = all.subarray(0, heldRows * dim);
  const avgDoclen = rows / sample.size;
  const k = Math.max(1, Math.min(opts.numCentroids ?? plaidNumCentroids(avgDoclen * source.count), trainRows));
  const iterations = opts.kmeansIterations ?? 4;
  opts.onProgress?.({ phase: "train", done: 0, total: iterations + 1 });
  // With a two-level assignment, the kept sample's codes start from k-means' last round (refine.ts).
  let lastCodes: Int32Array | null = null;
  const warmStart = opts.warmStart ?? true;
  const warm = warmStart && keep !== null && usesTwoLevel(k, opts.assignment ? { assignment: opts.assignment } : {});
  const centroids = await kmeans(train, trainRows, dim, k, {
    seed,
    iterations,
    onIteration: (done) => opts.onProgress?.({ phase: "train", done, total: iterations + 1 }),
    warmStart,
    ...(warm ? { onLastCodes: (codes: Int32Array) => (lastCodes = codes) } : {}),
    ...(opts.kmeansMaxPointsPerCentroid ? { maxPointsPerCentroid: opts.kmeansMaxPointsPerCentroid } : {}),
    ...(opts.assignment ? { assignment: opts.assignment } : {}),
  });
  const codec = await ResidualCodec.train(centroids, k, dim, held, heldRows, { nbits: opts.nbits ?? 2, ...(opts.assignment ? { assignment: opts.assignment } : {}) });
  opts.onProgress?.({ phase: "train", done: iterations + 1, total: iterations + 1 });
  if (!keep) return { codec, kept: null };
  try {
    const codes = lastCodes ? await keptCodes(codec, all, rows, nHeld, lastCodes, opts) : null;
    unshuffleRows(all, dim, swaps);
    if (codes) unshuffleRows(codes, 1, swaps);
    const positions = [...sample].sort((a, b) => a - b);
    return { codec, kept: new KeptSample(positions, heads, all, dim, keep.budgetBytes, keep.spillFile, codes) };
  } catch (e) {
    await codec.releaseKernels();
    throw e;
  }
}

/**
 * The codec's codes of every sampled row, x: [rows, dim] in training order (the nHeld calibration rows
 * first, then the k-means rows, whose last-round codes are `hints`): the k-means rows refine their hint
 * against the final centroids (refine.ts; inner product, as `codec.codes`), the others are assigned
 * as usual. One call over the whole sample, so the writer need not assign these rows batch by batch.
 */
async function keptCodes(codec: ResidualCodec, x: Float32Array, rows: number, nHeld: number, hints: Int32Array, opts: CodecTrainingOptions): Promise<Int32Array> {
  const { dim, numCentroids: k } = codec;
  const codes = new Int32Array(rows);
  codes.set(await codec.codes(x.subarray(0, nHeld * dim), nHeld, opts.assignment ? { assignment: opts.assignment } : {}));
  const refined = await refineAssignment(x.subarray(nHeld * dim), rows - nHeld, hints, codec.centroids, k, dim, undefined);
  codes.set(refined.codes, nHeld);
  return codes;
}

/**
 * Seeded Fisher-Yates shuffle of the rows of x: [rows, dim] in place. Returns the swap partner of each
 * row (swaps[i] for i = rows-1 down to 1), which `unshuffleRows` replays backwards.
 */
function shuffleRows(x: Float32Array, rows: number, dim: number, rng: Rng): Uint32Array {
  const swaps = new Uint32Array(rows);
  const tmp = new Float32Array(dim);
  for (let i = rows - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    swaps[i] = j;
    if (j !== i) swapRows(x, i, j, dim, tmp);
  }
  return swaps;
}

/** Undoes `shuffleRows`: x: [rows, dim] (vectors, or codes with dim 1) returns to its order before the shuffle. */
function unshuffleRows(x: Float32Array | Int32Array, dim: number, swaps: Uint32Array): void {
  const tmp = x instanceof Float32Array ? new Float32Array(dim) : new Int32Array(dim);
  for (let i = 1; i < swaps.length; i++) {
    const j = swaps[i] as number;
    if (j !== i) swapRows(x, i, j, dim, tmp);
  }
}

/** Swaps rows i and j of x: [*, dim] row-major, through tmp: [dim]. */
function swapRows<T extends Float32Array | Int32Array>(x: T, i: number, j: number, dim: number, tmp: T): void {
  const a = i * dim;
  const b = j * dim;
  tmp.set(x.subarray(a, a + dim));
  x.copyWithin(a, b, b + dim);
  x.set(tmp, b);
}

/** Checks a document's id and vector count against `dim` (INPUT_INVALID); returns it. */
export function checkDoc(d: EmbeddedDoc, dim: number): EmbeddedDoc {
  if (typeof d.id !== "string" || d.id === "") throw new ColtsError("INPUT_INVALID", `document id must be a non-empty string, got ${JSON.stringify(d.id)}`);
  if (!Number.isInteger(d.n) || d.n < 0 || d.vectors.length < d.n * dim) {
    throw new ColtsError("INPUT_INVALID", `document ${d.id}: ${d.vectors.length} values do not hold ${d.n} vectors of dim ${dim}`);
  }
  return d;
}

/**
 * sum + the sum of |x - centroid| over the values of x: [codes.length, dim], one after another in
 * float64 (the drift statistic's numerator). Chained over a batch's documents it adds in the order
 * of one pass over the whole batch.
 */
export function addAbsResiduals(codec: ResidualCodec, x: Float32Array, codes: CodeArray, sum: number): number {
  const dim = codec.dim;
  let s = sum;
  for (let i = 0; i < codes.length; i++) {
    const c = (codes[i] as number) * dim;
    for (let t = 0; t < dim; t++) s += Math.abs((x[i * dim + t] as number) - (codec.centroids[c + t] as number));
  }
  return s;
}
