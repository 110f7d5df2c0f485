/**
 * Exact MaxSim of one query against compressed documents: PLAID's stage 4 and the exhaustive
 * `--exact` search. Three steps, each where it runs fastest:
 * 1. decompression in WebAssembly (decompress-wasm.ts; the codec's JavaScript loop where WebAssembly
 *    SIMD is missing): [rows, dim] unit vectors;
 * 2. the product v · qᵀ on onnxruntime (AVX2 on every core): [rows, nq];
 * 3. each document's maximum per query vector (the pairs kernel of pruned-wasm.ts), summed.
 * Documents are ragged (no padding). This replaced one onnxruntime graph that decompressed with two
 * Gathers and an Add (bench/RESULTS.md, "Stages 3 and 4 in WebAssembly").
 */
import type { CompressedMaxSim } from "./stages.js";
import type { CodeArray, ResidualCodec } from "./codec.js";
import { WasmDecompressor } from "./decompress-wasm.js";
import { copyRows, pairMaximaWasm } from "./pruned-wasm.js";
import { OrtMatmulDynamic } from "../runtime/kernels/matmul.js";
import type { RuntimeOptions } from "../runtime/session.js";
import { ColtsError } from "../errors.js";

/**
 * `maxSimByRows` with the maxima in the pairs kernel (pruned-wasm.ts; bit-identical), or null where
 * WebAssembly is unavailable.
 */
export function maxSimByRowsWasm(sims: Float32Array, nq: number, doclens: ArrayLike<number>): Float32Array | null {
  const rows = sims.length / nq;
  const fill = (pairs: Int32Array, any: Uint8Array): number => {
    let row = 0;
    for (let d = 0; d < doclens.length; d++) {
      const len = doclens[d] as number;
      if (len > 0) any[d] = 1;
      for (let r = row; r < row + len; r++) {
        pairs[2 * r] = d;
        pairs[2 * r + 1] = r;
      }
      row += len;
    }
    return row;
  };
  const maxima = pairMaximaWasm(rows, nq, (table, lanes) => copyRows(sims, nq, table, lanes, null, rows), doclens.length, fill, rows);
  if (maxima === null) return null;
  const out = new Float32Array(doclens.length);
  for (let d = 0; d < doclens.length; d++) {
    if (!maxima.any[d]) continue;
    let total = 0;
    for (let q = 0; q < nq; q++) total += maxima.best[d * maxima.lanes + q] as number;
    out[d] = total;
  }
  return out;
}

/**
 * Each document's MaxSim from its rows' similarities (the reference of `maxSimByRowsWasm`).
 * sims: [rows, nq] row-major (documents' rows one after another); doclens: rows per document,
 * summing to rows -> [docs]: sum over q of the max over the document's rows (0 for an empty document).
 */
export function maxSimByRows(sims: Float32Array, nq: number, doclens: ArrayLike<number>): Float32Array {
  const out = new Float32Array(doclens.length);
  const best = new Float32Array(nq);
  let row = 0;
  for (let d = 0; d < doclens.length; d++) {
    const len = doclens[d] as number;
    if (len === 0) continue;
    best.set(sims.subarray(row * nq, (row + 1) * nq));
    for (let r = row + 1; r < row + len; r++) {
      const o = r * nq;
      for (let q = 0; q < nq; q++) {
        const s = sims[o + q] as number;
        if (s > (best[q] as number)) best[q] = s;
      }
    }
    let total = 0;
    for (let q = 0; q < nq; q++) total += best[q] as number;
    out[d] = total;
    row += len;
  }
  return out;
}

/** Stage 4's kernel for one codec (see the file comment); `release` it with the index. */
export class ResidualMaxSim implements CompressedMaxSim {
  /** Calls run one after another: the decompressed rows live in the kernel's memory until the product has read them. */
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly codec: ResidualCodec,
    private readonly wasm: WasmDecompressor | null,
    private readonly product: OrtMatmulDynamic,
  ) {}

  /** wasm: false decompresses in JavaScript (the reference loop; tests compare both). */
  static async create(codec: ResidualCodec, runtime: RuntimeOptions = {}, wasm = true): Promise<ResidualMaxSim> {
    return new ResidualMaxSim(codec, wasm ? WasmDecompressor.create(codec) : null, await OrtMatmulDynamic.create(codec.dim, runtime));
  }

  /** Whether decompression runs in WebAssembly (false: the codec's JavaScript loop). */
  get usesWasm(): boolean {
    return this.wasm !== null;
  }

  /**
   * q: [nq, dim] unit rows; codes: [rows]; residuals: [rows, bytesPerVector]; doclens: rows per
   * document (summing to rows) -> [docs] MaxSim scores.
   */
  score(q: Float32Array, nq: number, codes: CodeArray, residuals: Uint8Array, doclens: ArrayLike<number>): Promise<Float32Array> {
    const run = this.tail.then(() => this.scoreNow(q, nq, codes, residuals, doclens));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async scoreNow(q: Float32Array, nq: number, codes: CodeArray, residuals: Uint8Array, doclens: ArrayLike<number>): Promise<Float32Array> {
    const { dim } = this.codec;
    const rows = codes.length;
    let total = 0;
    for (let d = 0; d < doclens.length; d++) total += doclens[d] as number;
    if (total !== rows || q.length !== nq * dim) throw new ColtsError("INPUT_INVALID", `residual MaxSim: ${rows} codes for documents of ${total} rows, ${q.length} query values for ${nq} x ${dim}`);
    if (rows === 0 || nq === 0) return new Float32Array(doclens.length);
    const vectors = this.wasm?.decompress(codes, residuals) ?? this.codec.decompress(codes, residuals);
    const sims = await this.product.run(vectors, rows, q, nq); // [rows, nq]
    return maxSimByRowsWasm(sims, nq, doclens) ?? maxSimByRows(sims, nq, doclens);
  }

  async release(): Promise<void> {
    await this.product.release();
  }
}
