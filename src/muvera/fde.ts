/**
 * MUVERA fixed dimensional encodings: `queryFde` sums the (projected) token vectors that fall into each
 * SimHash partition, `documentFde` averages them (and fills empty partitions), so that
 * <queryFde(Q), documentFde(D)> = sum over repetitions and partitions of
 * (sum of Q's vectors there) . (mean of D's vectors there), which approximates the Chamfer / MaxSim
 * score sum_q max_d <q, d> when each query token's partition holds its best document tokens.
 *
 * Layout of the FDE (without final projection): [repetitions, 2^simhashBits, projectionDim]
 * row-major. Partition numbering follows the reference implementation (google/graph-mining,
 * sketching/point_cloud/fixed_dimensional_encoding.cc): the sign bits of the k SimHash projections,
 * first projection most significant, read as a Gray code (so partitions whose numbers differ by one
 * differ in one sign). The numbering does not change any inner product, only where blocks sit.
 */
import { ColtsError } from "../errors.js";
import { resolveFdeConfig, type FdeConfig, type ResolvedFdeConfig } from "./config.js";
import { fdeMatrices, type FdeMatrices, type Projection, type RepetitionMatrices } from "./random.js";

/** Raw SimHash sign bits (first plane = most significant bit) -> partition number (Gray decoding). */
export function partitionOfCode(code: number): number {
  let p = code >>> 0;
  for (let shift = 1; shift < 32; shift <<= 1) p ^= p >>> shift;
  return p >>> 0;
}

/** Partition number -> the raw sign bits it stands for (Gray encoding; inverse of `partitionOfCode`). */
export function codeOfPartition(partition: number): number {
  return (partition ^ (partition >>> 1)) >>> 0;
}

function popcount32(v: number): number {
  let x = v >>> 0;
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** SimHash codes. x: [n, dim] row-major; planes: [k, dim] row-major; returns [n] codes of k bits (bit k-1 = plane 0). */
function simhashCodes(x: Float32Array, n: number, dim: number, planes: Float32Array, k: number): Uint32Array {
  const codes = new Uint32Array(n);
  for (let t = 0; t < n; t++) {
    let code = 0;
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let d = 0, xo = t * dim, po = j * dim; d < dim; d++) s += (x[xo + d] as number) * (planes[po + d] as number);
      // Strictly positive is a 1 bit, as in the reference (an exact zero counts as negative).
      code = (code << 1) | (s > 0 ? 1 : 0);
    }
    codes[t] = code >>> 0;
  }
  return codes;
}

/** Projected tokens. x: [n, dim]; returns [n, dp] in float64 (a copy of x without projection). */
function projectTokens(x: Float32Array, n: number, dim: number, projection: Projection | null, dp: number): Float64Array {
  if (projection === null) return Float64Array.from(x);
  const y = new Float64Array(n * dp);
  if (projection.kind === "sparse") {
    const { index, sign } = projection;
    for (let t = 0; t < n; t++) {
      for (let d = 0, xo = t * dim, yo = t * dp; d < dim; d++) {
        const o = yo + (index[d] as number);
        y[o] = (y[o] as number) + (sign[d] as number) * (x[xo + d] as number);
      }
    }
    return y;
  }
  const m = projection.matrix; // [dp, dim]
  for (let t = 0; t < n; t++) {
    for (let j = 0; j < dp; j++) {
      let s = 0;
      for (let d = 0, xo = t * dim, po = j * dim; d < dim; d++) s += (x[xo + d] as number) * (m[po + d] as number);
      y[t * dp + j] = s;
    }
  }
  return y;
}

/** One repetition's partitions and projected tokens. */
interface RepetitionTokens {
  /** [n] raw SimHash codes. */
  codes: Uint32Array;
  /** [n] partition of each token. */
  partition: Uint32Array;
  /** [n, dp] projected tokens. */
  y: Float64Array;
}

function repetitionTokens(c: ResolvedFdeConfig, m: RepetitionMatrices, x: Float32Array, n: number): RepetitionTokens {
  const codes = simhashCodes(x, n, c.dim, m.simhash, c.simhashBits);
  const partition = codes.map(partitionOfCode);
  return { codes, partition, y: projectTokens(x, n, c.dim, m.projection, c.projectionDim) };
}

/** Adds each token to its partition's block. block: [partitions, dp] view of the FDE; returns [partitions] counts. */
function sumIntoPartitions(tok: RepetitionTokens, n: number, dp: number, block: Float64Array, partitions: number): Uint32Array {
  const counts = new Uint32Array(partitions);
  for (let t = 0; t < n; t++) {
    const p = tok.partition[t] as number;
    counts[p] = (counts[p] as number) + 1;
    for (let j = 0, o = p * dp, yo = t * dp; j < dp; j++) block[o + j] = (block[o + j] as number) + (tok.y[yo + j] as number);
  }
  return counts;
}

/** The first token whose SimHash code is nearest (Hamming) to the partition's code. */
function nearestToken(codes: Uint32Array, partition: number): number {
  const target = codeOfPartition(partition);
  let best = 0;
  let bestDistance = Infinity;
  for (let t = 0; t < codes.length; t++) {
    const distance = popcount32((codes[t] as number) ^ target);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = t;
    }
  }
  return best;
}

/** Turns sums into means; empty partitions get their nearest token when filling (never with one partition: none is empty). */
function averagePartitions(c: ResolvedFdeConfig, tok: RepetitionTokens, counts: Uint32Array, block: Float64Array): void {
  const dp = c.projectionDim;
  for (let p = 0; p < c.partitions; p++) {
    const count = counts[p] as number;
    const o = p * dp;
    if (count > 0) {
      for (let j = 0; j < dp; j++) block[o + j] = (block[o + j] as number) / count;
    } else if (c.fillEmptyPartitions && c.simhashBits > 0) {
      const t = nearestToken(tok.codes, p);
      block.set(tok.y.subarray(t * dp, (t + 1) * dp), o);
    }
  }
}

function checkVectors(c: ResolvedFdeConfig, vectors: Float32Array, n: number, side: string): void {
  if (!Number.isInteger(n) || n < 1) throw new ColtsError("INPUT_INVALID", `${side} FDE: the number of vectors must be a positive integer, got ${n}`, { details: { n } });
  if (vectors.length !== n * c.dim) {
    throw new ColtsError("INPUT_INVALID", `${side} FDE: ${vectors.length} values are not ${n} vectors of dim ${c.dim}`, { details: { length: vectors.length, n, dim: c.dim } });
  }
  for (let i = 0; i < vectors.length; i++) {
    if (!Number.isFinite(vectors[i])) throw new ColtsError("INPUT_INVALID", `${side} FDE: value ${i} is not finite`, { details: { index: i } });
  }
}

/** Encodes token vectors with precomputed matrices; draw them once per config and reuse the encoder. */
export class FdeEncoder {
  /** The settings with defaults applied. */
  readonly config: ResolvedFdeConfig;
  private readonly matrices: FdeMatrices;

  /** Checks the config (INPUT_INVALID) and draws its random matrices. */
  constructor(config: FdeConfig) {
    this.config = resolveFdeConfig(config);
    this.matrices = fdeMatrices(this.config);
  }

  /** Length of every FDE this encoder returns. */
  get size(): number {
    return this.config.size;
  }

  /** Query FDE: per partition the sum of the query's projected vectors. vectors: [n, dim] row-major; returns [size]. */
  query(vectors: Float32Array, n: number): Float32Array {
    return this.encode(vectors, n, "query");
  }

  /** Document FDE: per partition the mean of the document's projected vectors (empty ones filled if set). vectors: [n, dim]; returns [size]. */
  document(vectors: Float32Array, n: number): Float32Array {
    return this.encode(vectors, n, "document");
  }

  private encode(vectors: Float32Array, n: number, side: "query" | "document"): Float32Array {
    const c = this.config;
    checkVectors(c, vectors, n, side);
    const blockSize = c.partitions * c.projectionDim;
    const inner = new Float64Array(c.innerSize); // [repetitions, partitions, dp]
    this.matrices.repetitions.forEach((m, r) => {
      const tok = repetitionTokens(c, m, vectors, n);
      const block = inner.subarray(r * blockSize, (r + 1) * blockSize);
      const counts = sumIntoPartitions(tok, n, c.projectionDim, block, c.partitions);
      if (side === "document") averagePartitions(c, tok, counts, block);
    });
    return this.finish(inner);
  }

  /** Applies the final count sketch when configured; float64 -> float32. */
  private finish(inner: Float64Array): Float32Array {
    const sketch = this.matrices.countSketch;
    if (sketch === null) return Float32Array.from(inner);
    const out = new Float64Array(this.config.size);
    for (let i = 0; i < inner.length; i++) {
      const o = sketch.index[i] as number;
      out[o] = (out[o] as number) + (sketch.sign[i] as number) * (inner[i] as number);
    }
    return Float32Array.from(out);
  }
}

/** Encoders of recently used configs (drawing the matrices costs more than encoding a short query). */
const CACHE_LIMIT = 8;
const cache = new Map<string, FdeEncoder>();

function encoderFor(config: FdeConfig): FdeEncoder {
  const key = JSON.stringify(resolveFdeConfig(config));
  let encoder = cache.get(key);
  if (encoder === undefined) {
    encoder = new FdeEncoder(config);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(key, encoder);
  }
  return encoder;
}

/** Query FDE of n token vectors. vectors: [n, dim] row-major; returns [R * 2^k_sim * d_proj] (or [finalDim]). */
export function queryFde(vectors: Float32Array, n: number, config: FdeConfig): Float32Array {
  return encoderFor(config).query(vectors, n);
}

/** Document FDE of n token vectors. vectors: [n, dim] row-major; returns [R * 2^k_sim * d_proj] (or [finalDim]). */
export function documentFde(vectors: Float32Array, n: number, config: FdeConfig): Float32Array {
  return encoderFor(config).document(vectors, n);
}
