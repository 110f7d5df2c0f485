/**
 * PLAID's residual codec (ColBERTv2, colbert/indexing/codecs/residual.py and
 * collection_indexer.py `_compute_avg_residual`).
 *
 * A vector x is stored as code = argmax_j x·c_j (its centroid) and, per dimension, the bucket of its
 * residual r = x - c_code: bucket = number of cutoffs strictly below r (torch.bucketize, right=False),
 * packed with nbits bits per dimension (see bitpack.ts). Decompression is c_code + weights[bucket] per
 * dimension, then L2 normalisation.
 *
 * Training (from held-out vectors, ColBERT uses 5% of the k-means sample, at most 50k vectors): the
 * residuals of the held-out vectors against their codes are pooled over all dimensions; with
 * m = 2^nbits, cutoffs = quantiles at i/m (i = 1..m-1) and weights = quantiles at (i + 0.5)/m
 * (i = 0..m-1), torch.quantile's default linear interpolation (computed here in float64);
 * avgResidual = mean |r| over all values (ColBERT keeps it; search does not use it).
 */
import { ColtsError } from "../errors.js";
import type { RuntimeOptions } from "../runtime/session.js";
import { checkShape, type MatmulFactory } from "./assign.js";
import { assignToCentroids, usesTwoLevel, type AssignOptions } from "./nearest.js";
import { createTwoLevelAssigner, type Assigner } from "./two-level.js";
import { isNbits, packedBytesPerVector, unpackTable, type Nbits } from "./bitpack.js";
import { WasmBinarizer } from "./binarize-wasm.js";

export type { Nbits } from "./bitpack.js";

/** Everything a codec is made of, as plain typed arrays (what an index stores on disk). */
export interface ResidualCodecParams {
  /** Vector dimension; dim * nbits must be a multiple of 8. */
  dim: number;
  /** Residual bits per dimension: 1, 2 or 4. */
  nbits: Nbits;
  /** Number of centroids k. */
  numCentroids: number;
  /** [numCentroids, dim] row-major, unit rows (k-means output). */
  centroids: Float32Array;
  /** [2^nbits - 1] ascending bucket boundaries. */
  bucketCutoffs: Float32Array;
  /** [2^nbits] value added to the centroid for each bucket. */
  bucketWeights: Float32Array;
  /** Mean absolute held-out residual (kept for parity with ColBERT's avg_residual.pt). */
  avgResidual: number;
}

export interface CodecKernelOptions {
  /** a·bᵀ kernel factory for the code assignment. Default: onnxruntime (`OrtMatmul`). */
  matmul?: MatmulFactory;
  /** onnxruntime settings for the default kernel. Ignored when `matmul` is given. */
  runtime?: RuntimeOptions;
  /** Rows per assignment block (see `AssignOptions.blockRows`). Default: about 4M scores per block. */
  blockRows?: number;
  /** Exact or two-level code assignment (see `AssignOptions.assignment`). Default "auto". */
  assignment?: AssignOptions["assignment"];
  /** Settings of the two-level assignment. */
  twoLevel?: AssignOptions["twoLevel"];
}

/** Options of `ResidualCodec.train`: the residual precision and how codes are assigned. */
export interface TrainCodecOptions extends CodecKernelOptions {
  /** Residual bits per dimension. Default 2 (ColBERTv2's usual setting). Range: 1, 2, 4. */
  nbits?: Nbits;
}

/** Vectors as the codec stores them: a centroid code and packed residual buckets each. */
export interface CompressedVectors {
  /** Centroid id per vector: [n]. */
  codes: Int32Array;
  /** Packed residual buckets: [n, dim * nbits / 8] row-major. */
  residuals: Uint8Array;
}

/**
 * torch.quantile(interpolation="linear") of an ascending array: position q * (N - 1), linear between
 * its two neighbours (lerp written as torch writes it).
 */
export function quantileSorted(sorted: Float32Array, q: number): number {
  const N = sorted.length;
  if (N === 0) throw new ColtsError("INPUT_INVALID", "quantile of an empty set");
  const rank = q * (N - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const w = rank - lo;
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return w < 0.5 ? a + w * (b - a) : b - (b - a) * (1 - w);
}

/** Centroid ids of vectors: Int32Array from `compress`; Uint16Array in chunks of codecs with at most 65,536 centroids. */
export type CodeArray = Int32Array | Uint16Array;

/** PLAID's residual codec (see the file comment): trained once per index, then compresses and decompresses vectors. */
export class ResidualCodec {
  /** Vector dimension. */
  readonly dim: number;
  /** Residual bits per dimension: 1, 2 or 4. */
  readonly nbits: Nbits;
  /** Number of centroids k. */
  readonly numCentroids: number;
  /** [numCentroids, dim] row-major. */
  readonly centroids: Float32Array;
  /** [2^nbits - 1]. */
  readonly bucketCutoffs: Float32Array;
  /** [2^nbits]. */
  readonly bucketWeights: Float32Array;
  /** Mean absolute held-out residual (ColBERT's avg_residual; search does not use it). */
  readonly avgResidual: number;
  /** dim * nbits / 8. */
  readonly bytesPerVector: number;
  /** Cached two-level assigner (large k only), created on the first `codes` call that needs it. */
  private twoLevel: Promise<Assigner> | null = null;
  /** The compression kernel (binarize-wasm.ts), made on first use; null where WebAssembly cannot run it. */
  private binarizer: WasmBinarizer | null | undefined = undefined;
  private readonly table: Uint8Array;
  /** [256 * 8 / nbits]: for every byte value, the bucket weight of each field it packs (decompression LUT). */
  readonly byteWeights: Float32Array;

  private constructor(p: ResidualCodecParams) {
    this.dim = p.dim;
    this.nbits = p.nbits;
    this.numCentroids = p.numCentroids;
    this.centroids = p.centroids;
    this.bucketCutoffs = p.bucketCutoffs;
    this.bucketWeights = p.bucketWeights;
    this.avgResidual = p.avgResidual;
    this.bytesPerVector = packedBytesPerVector(p.dim, p.nbits);
    this.table = unpackTable(p.nbits);
    this.byteWeights = Float32Array.from(this.table, (b) => p.bucketWeights[b] as number);
  }

  /**
   * Calibrates the buckets on held-out vectors.
   * centroids: [k, dim] row-major (unit rows); heldout: [nHeldout, dim] row-major, nHeldout >= 1.
   */
  static async train(
    centroids: Float32Array,
    k: number,
    dim: number,
    heldout: Float32Array,
    nHeldout: number,
    options: TrainCodecOptions = {},
  ): Promise<ResidualCodec> {
    const nbits = options.nbits ?? 2;
    if (!isNbits(nbits)) throw new ColtsError("INPUT_INVALID", `nbits must be 1, 2 or 4, got ${String(nbits)}`);
    packedBytesPerVector(dim, nbits);
    checkShape("centroids", centroids, k, dim);
    checkShape("heldout", heldout, nHeldout, dim);
    if (k < 1 || nHeldout < 1) throw new ColtsError("INPUT_INVALID", `codec training needs centroids and held-out vectors (k ${k}, held out ${nHeldout})`);

    const codes = await assignToCentroids(heldout, nHeldout, centroids, k, dim, options);
    const residuals = new Float32Array(nHeldout * dim); // [nHeldout, dim], pooled below
    let absSum = 0;
    for (let i = 0; i < nHeldout; i++) {
      const o = i * dim;
      const c = (codes[i] as number) * dim;
      for (let t = 0; t < dim; t++) {
        const r = Math.fround((heldout[o + t] as number) - (centroids[c + t] as number));
        residuals[o + t] = r;
        absSum += Math.abs(r);
      }
    }
    residuals.sort();
    const m = 1 << nbits;
    const bucketCutoffs = new Float32Array(m - 1);
    for (let i = 1; i < m; i++) bucketCutoffs[i - 1] = quantileSorted(residuals, i / m);
    const bucketWeights = new Float32Array(m);
    for (let i = 0; i < m; i++) bucketWeights[i] = quantileSorted(residuals, (i + 0.5) / m);
    return new ResidualCodec({
      dim,
      nbits,
      numCentroids: k,
      centroids: centroids.slice(),
      bucketCutoffs,
      bucketWeights,
      avgResidual: absSum / residuals.length,
    });
  }

  /** Rebuilds a codec from `serialize()` output (validated; arrays are used, not copied). */
  static deserialize(p: ResidualCodecParams): ResidualCodec {
    if (!isNbits(p.nbits)) throw new ColtsError("INPUT_INVALID", `codec: nbits must be 1, 2 or 4, got ${String(p.nbits)}`);
    packedBytesPerVector(p.dim, p.nbits);
    checkShape("codec centroids", p.centroids, p.numCentroids, p.dim);
    if (p.numCentroids < 1) throw new ColtsError("INPUT_INVALID", "codec: no centroids");
    const m = 1 << p.nbits;
    if (p.bucketCutoffs.length !== m - 1) throw new ColtsError("INPUT_INVALID", `codec: expected ${m - 1} bucket cutoffs, got ${p.bucketCutoffs.length}`);
    if (p.bucketWeights.length !== m) throw new ColtsError("INPUT_INVALID", `codec: expected ${m} bucket weights, got ${p.bucketWeights.length}`);
    for (let i = 1; i < p.bucketCutoffs.length; i++) {
      if (!((p.bucketCutoffs[i] as number) >= (p.bucketCutoffs[i - 1] as number))) throw new ColtsError("INPUT_INVALID", "codec: bucket cutoffs are not ascending");
    }
    if (!Number.isFinite(p.avgResidual)) throw new ColtsError("INPUT_INVALID", "codec: avgResidual is not a finite number");
    return new ResidualCodec(p);
  }

  /** The codec's parameters as plain typed arrays (shared, not copied). */
  serialize(): ResidualCodecParams {
    return {
      dim: this.dim,
      nbits: this.nbits,
      numCentroids: this.numCentroids,
      centroids: this.centroids,
      bucketCutoffs: this.bucketCutoffs,
      bucketWeights: this.bucketWeights,
      avgResidual: this.avgResidual,
    };
  }

  /** Centroid ids only. vectors: [n, dim] row-major -> codes: [n]. */
  async codes(vectors: Float32Array, n: number, options: CodecKernelOptions = {}): Promise<Int32Array> {
    if (!usesTwoLevel(this.numCentroids, options)) return assignToCentroids(vectors, n, this.centroids, this.numCentroids, this.dim, options);
    // The two-level setup (grouping the centroids, one session per group) is paid once per codec.
    this.twoLevel ??= createTwoLevelAssigner(this.centroids, this.numCentroids, this.dim, undefined, {
      ...options.twoLevel,
      ...(options.runtime ? { runtime: options.runtime } : {}),
    });
    return (await (await this.twoLevel).assign(vectors, n)).codes;
  }

  /** Frees the cached assignment kernels (the codec stays usable; they are rebuilt on demand). */
  async releaseKernels(): Promise<void> {
    const pending = this.twoLevel;
    this.twoLevel = null;
    if (pending) await (await pending).release();
  }

  /**
   * Encodes vectors. vectors: [n, dim] row-major ->
   * codes: [n], residuals: [n, dim * nbits / 8] row-major (ColBERT's packed layout).
   */
  async compress(vectors: Float32Array, n: number, options: CodecKernelOptions = {}): Promise<CompressedVectors> {
    checkShape("vectors", vectors, n, this.dim);
    const codes = await this.codes(vectors, n, options);
    return { codes, residuals: this.binarize(vectors, codes) };
  }

  /**
   * Packed residual buckets of vectors against the given codes.
   * vectors: [n, dim] row-major; codes: [n] -> [n, dim * nbits / 8] row-major.
   */
  binarize(vectors: Float32Array, codes: Int32Array): Uint8Array {
    const out = new Uint8Array(codes.length * this.bytesPerVector);
    this.binarizeInto(vectors, codes, out, 0);
    return out;
  }

  /**
   * Same as `binarize`, written into `out` from row `row` on (an index build compresses each document
   * into its batch's array). vectors: [n, dim]; codes: [n]; out: [>= row + n, bytesPerVector]. Runs the
   * WebAssembly kernel (binarize-wasm.ts, identical bytes) where it can, else `binarizeJs`.
   */
  binarizeInto(vectors: Float32Array, codes: Int32Array, out: Uint8Array, row: number): void {
    checkShape("vectors", vectors, codes.length, this.dim);
    if (this.binarizer === undefined) this.binarizer = WasmBinarizer.create(this);
    if (this.binarizer?.binarizeInto(vectors, codes, out, row)) return;
    out.set(this.binarizeJs(vectors, codes), row * this.bytesPerVector);
  }

  /** `binarize` in plain loops: the reference of the kernel, and its fallback. */
  binarizeJs(vectors: Float32Array, codes: Int32Array): Uint8Array {
    const dim = this.dim;
    const n = codes.length;
    checkShape("vectors", vectors, n, dim);
    const nbits = this.nbits;
    const perByte = 8 / nbits; // dims per output byte
    const bytesPerVector = packedBytesPerVector(dim, nbits);
    const centroids = this.centroids;
    const cut = this.bucketCutoffs;
    const nc = cut.length;
    // A bucket's bits in packed order: bit j (LSB first) of dim d is bit d * nbits + j of the
    // vector's big-endian bit string, so within its slot of a byte the bucket appears bit-reversed.
    const reversed = Uint8Array.from({ length: 1 << nbits }, (_, b) => reverseBits(b, nbits));
    const out = new Uint8Array(n * bytesPerVector); // [n, bytesPerVector]; dim is a multiple of perByte
    for (let i = 0; i < n; i++) {
      const code = codes[i] as number;
      if (!(code >= 0 && code < this.numCentroids)) throw new ColtsError("INPUT_INVALID", `code ${code} out of range [0, ${this.numCentroids})`);
      const o = i * dim;
      const c = code * dim;
      let w = i * bytesPerVector;
      for (let t = 0; t < dim; t += perByte) {
        let byte = 0;
        for (let s = 0; s < perByte; s++) {
          const r = Math.fround((vectors[o + t + s] as number) - (centroids[c + t + s] as number));
          let b = 0;
          while (b < nc && (cut[b] as number) < r) b++; // torch.bucketize(right=False): cutoffs strictly below r
          byte |= (reversed[b] as number) << (8 - nbits * (s + 1));
        }
        out[w++] = byte;
      }
    }
    return out;
  }

  /**
   * Decodes vectors: centroid + bucket weight per dimension, L2-normalised.
   * codes: [n]; residuals: [n, dim * nbits / 8] row-major -> [n, dim] row-major.
   */
  decompress(codes: CodeArray, residuals: Uint8Array): Float32Array {
    const out = new Float32Array(codes.length * this.dim);
    this.decompressInto(codes, residuals, out, 0);
    return out;
  }

  /**
   * Same as `decompress`, written into `out` from row `row` on (no allocation: stage 4 decompresses
   * many documents into one block). codes: [n]; residuals: [n, bytesPerVector]; out: [>= row + n, dim].
   */
  decompressInto(codes: CodeArray, residuals: Uint8Array, out: Float32Array, row: number): void {
    const dim = this.dim;
    const n = codes.length;
    const bpv = this.bytesPerVector;
    if (residuals.length !== n * bpv) throw new ColtsError("INPUT_INVALID", `decompress: expected ${n * bpv} residual bytes ([${n}, ${bpv}]), got ${residuals.length}`);
    const perByte = 8 / this.nbits;
    const weights = this.byteWeights;
    const centroids = this.centroids;
    for (let i = 0; i < n; i++) {
      const code = codes[i] as number;
      if (!(code >= 0 && code < this.numCentroids)) throw new ColtsError("INPUT_INVALID", `code ${code} out of range [0, ${this.numCentroids})`);
      const o = (row + i) * dim;
      const c = code * dim;
      let t = 0;
      let s = 0;
      if (perByte === 4) {
        // nbits 2 (the default), unrolled: four dimensions per byte.
        for (let byte = i * bpv; byte < (i + 1) * bpv; byte++, t += 4) {
          const w = (residuals[byte] as number) * 4;
          const x0 = (centroids[c + t] as number) + (weights[w] as number);
          const x1 = (centroids[c + t + 1] as number) + (weights[w + 1] as number);
          const x2 = (centroids[c + t + 2] as number) + (weights[w + 2] as number);
          const x3 = (centroids[c + t + 3] as number) + (weights[w + 3] as number);
          out[o + t] = x0;
          out[o + t + 1] = x1;
          out[o + t + 2] = x2;
          out[o + t + 3] = x3;
          // Summed one term at a time, in the order of the general loop (same result to the bit).
          s += x0 * x0;
          s += x1 * x1;
          s += x2 * x2;
          s += x3 * x3;
        }
      } else {
        for (let byte = i * bpv; byte < (i + 1) * bpv; byte++) {
          const w = (residuals[byte] as number) * perByte;
          for (let f = 0; f < perByte; f++, t++) {
            const x = (centroids[c + t] as number) + (weights[w + f] as number);
            out[o + t] = x;
            s += x * x;
          }
        }
      }
      const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
      for (let u = 0; u < dim; u++) out[o + u] = (out[o + u] as number) * inv;
    }
  }
}

/** b's low `bits` bits in reverse order (b = 0b01, bits 2 -> 0b10). */
function reverseBits(b: number, bits: number): number {
  let r = 0;
  for (let j = 0; j < bits; j++) r |= ((b >> j) & 1) << (bits - 1 - j);
  return r;
}
