/**
 * Exact MaxSim of many queries against many documents in one onnxruntime graph: the a·bᵀ product, the
 * max over each document's vectors and the sum over each query's vectors all run natively, so only
 * [docs, queries] scores come back to JavaScript. Documents are padded to a fixed length by repeating
 * their first vector: a repeated row cannot change a maximum, so padding is exact whatever the signs.
 * Used for ground truth over large corpora (bench/plaid-synthetic.ts), where the JS max loop over
 * [vectors, query vectors] similarities cost more than the products.
 */
import { GraphBuilder } from "../onnx/builder.js";
import { DataType } from "../onnx/proto.js";
import type { InputTensor, OnnxSession, RuntimeOptions } from "../session.js";
import { compile, transposeRows } from "./matmul.js";
import { ColtsError } from "../../errors.js";

/** Queries fixed at construction, documents per call. */
export class OrtPaddedMaxSim {
  private constructor(
    private readonly session: OnnxSession,
    readonly queries: number,
    readonly queryLen: number,
    readonly docLen: number,
    readonly d: number,
  ) {}

  /**
   * q: [queries * queryLen, d] row-major (query after query); docLen: the padded document length
   * (every document passed to `run` must have 1..docLen vectors).
   */
  static async create(q: Float32Array, queries: number, queryLen: number, d: number, docLen: number, runtime: RuntimeOptions = {}): Promise<OrtPaddedMaxSim> {
    const cols = queries * queryLen;
    if (q.length !== cols * d) throw new ColtsError("INPUT_INVALID", `q: expected ${cols * d} values, got ${q.length}`);
    const g = new GraphBuilder({ name: "colts_padded_maxsim" });
    g.input("docs", DataType.FLOAT, ["rows", d]); // rows = batch * docLen
    const sims = g.matMul("docs", g.initializer("q_t", transposeRows(q, cols, d), [d, cols])); // [rows, cols]
    const perDoc = g.reduceMax(g.reshape(sims, [-1, docLen, cols]), [1], false); // [batch, cols]
    const scores = g.reduceSum(g.reshape(perDoc, [-1, queries, queryLen]), [2], false); // [batch, queries]
    g.output("scores", DataType.FLOAT, ["batch", queries], scores);
    return new OrtPaddedMaxSim(await compile(g, runtime), queries, queryLen, docLen, d);
  }

  /**
   * vectors: [offsets[n], d] row-major, the n documents one after another; offsets: [n + 1] row starts.
   * Returns scores: [n, queries] row-major, scores[i * queries + j] = MaxSim(query j, document i).
   */
  async run(vectors: Float32Array, offsets: ArrayLike<number>): Promise<Float32Array> {
    const n = offsets.length - 1;
    const padded = padDocuments(vectors, offsets, this.docLen, this.d);
    const out = await this.session.run({ docs: { data: padded, dims: [n * this.docLen, this.d] } }, ["scores"]);
    const scores = out["scores"]?.data;
    if (!scores) throw new ColtsError("INFERENCE_FAILED", "maxsim graph returned no scores");
    return scores;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Runs a kernel graph; returns its float32 output `name` (INFERENCE_FAILED naming `label` when missing). */
async function floatOutput(session: OnnxSession, name: string, label: string, feeds: Record<string, InputTensor>): Promise<Float32Array> {
  const out = await session.runMixed(feeds, [name]);
  const data = out[name]?.data;
  if (!(data instanceof Float32Array)) throw new ColtsError("INFERENCE_FAILED", `${label} graph returned no scores`);
  return data;
}

/** What a residual codec's decompression needs (plaid/codec.ts `ResidualCodec` has these). */
export interface ResidualTables {
  /** [numCentroids, dim] row-major. */
  centroids: Float32Array;
  numCentroids: number;
  dim: number;
  /** Packed bits per dimension: 1, 2 or 4. */
  nbits: number;
  /** [256 * 8 / nbits]: for every byte value, the bucket weight of each dimension it packs, first dimension first. */
  byteWeights: Float32Array;
}

/**
 * Exact MaxSim of one query against compressed documents, decompression included, in one
 * onnxruntime graph: v = centroids[code] + the bucket weights of the residual bytes, then
 * MaxSim(q, v / |v|). Documents come padded to a common length by repeating their first code and
 * residual (a repeated vector cannot change a maximum). This is stage 4 of PLAID and the exhaustive
 * `--exact` search. Measured on this project's 2-core machine (256 documents of 64 vectors, 1M index,
 * 40 runs, median): 9.3 ms against 13.8 ms for JS decompression plus the product kernel plus the JS
 * max loop. The product is v · qᵀ, not q · vᵀ: no transposed copy of the [rows, dim] values (256 x 64
 * rows, K 65,536, 40 alternating runs: 9.47 against 9.83 ms, paired median 1.05x). Most of the rest
 * is the decompression itself (the two gathers and the add: about 7 of 12 ms on 256 x 80 rows).
 */
export class OrtResidualMaxSim {
  private constructor(
    private readonly session: OnnxSession,
    readonly dim: number,
    readonly bytesPerVector: number,
  ) {}

  static async create(t: ResidualTables, runtime: RuntimeOptions = {}): Promise<OrtResidualMaxSim> {
    const { dim: d, nbits } = t;
    const perByte = 8 / nbits;
    const bpv = d / perByte;
    if (![1, 2, 4].includes(nbits) || !Number.isInteger(bpv)) throw new ColtsError("INPUT_INVALID", `residual MaxSim: nbits ${nbits} with dim ${d}`);
    if (t.byteWeights.length !== 256 * perByte) throw new ColtsError("INPUT_INVALID", `residual MaxSim: byteWeights must have ${256 * perByte} values`);
    const g = new GraphBuilder({ name: "colts_residual_maxsim" });
    g.input("q", DataType.FLOAT, ["nq", d]);
    g.input("codes", DataType.INT32, ["rows"]); // rows = docs * docLen
    g.input("residuals", DataType.UINT8, ["rows", bpv]);
    g.input("layout", DataType.INT64, [3]); // [docs, docLen, nq]: reshape of [rows, nq]
    const base = g.gather(g.initializer("centroids", t.centroids, [t.numCentroids, d]), "codes"); // [rows, d]
    const offsets = g.gather(g.initializer("byte_weights", t.byteWeights, [256, perByte]), g.cast("residuals", DataType.INT32)); // [rows, bpv, perByte]
    const v = g.add(base, g.reshape(offsets, [-1, d])); // [rows, d], not normalised
    const norm = g.max(g.sqrt(g.reduceSumSquare(v, [1], true)), g.floats([1e-12], [1])); // [rows, 1]
    // v · qᵀ rather than q · vᵀ: the [rows, d] operand is read in place, with no transposed copy,
    // and the division by the norms runs over [rows, nq] values.
    const sims = g.div(g.matMul(v, g.transpose("q", [1, 0])), norm); // [rows, nq]: cosines
    const perDoc = g.reduceMax(g.reshape(sims, "layout"), [1], false); // [docs, nq]
    g.output("scores", DataType.FLOAT, ["docs"], g.reduceSum(perDoc, [1], false));
    return new OrtResidualMaxSim(await compile(g, runtime), d, bpv);
  }

  /**
   * q: [nq, dim] row-major; codes: [docs * docLen]; residuals: [docs * docLen, bytesPerVector], each
   * document's rows padded to docLen (`padCompressed`). Returns scores: [docs].
   */
  async score(q: Float32Array, nq: number, codes: Int32Array, residuals: Uint8Array, docs: number, docLen: number): Promise<Float32Array> {
    const rows = docs * docLen;
    if (codes.length !== rows || residuals.length !== rows * this.bytesPerVector || q.length !== nq * this.dim) {
      throw new ColtsError("INPUT_INVALID", `residual MaxSim: expected ${rows} codes, ${rows * this.bytesPerVector} residual bytes, ${nq * this.dim} query values`);
    }
    return floatOutput(this.session, "scores", "residual MaxSim", {
      q: { data: q, dims: [nq, this.dim] },
      codes: { data: codes, dims: [rows] },
      residuals: { data: residuals, dims: [rows, this.bytesPerVector] },
      layout: { data: BigInt64Array.of(BigInt(docs), BigInt(docLen), BigInt(nq)), dims: [3] },
    });
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * PLAID's stage 3 in one onnxruntime graph: a document's approximate score is the sum over query
 * vectors of the best centroid score among its codes. The graph gathers the score rows of the
 * documents' codes (padded by repeating a document's first code, which cannot change a maximum),
 * takes the maximum per document and query vector and sums over query vectors, so only [docs]
 * scores come back. The JS loop it replaces (plaid/stages.ts `approximateScores`, its reference)
 * waits on one random 128-byte row of an 8 MB table per code.
 */
export class OrtCodeMaxSim {
  private constructor(private readonly session: OnnxSession) {}

  static async create(runtime: RuntimeOptions = {}): Promise<OrtCodeMaxSim> {
    const g = new GraphBuilder({ name: "colts_code_maxsim" });
    g.input("scores", DataType.FLOAT, ["centroids", "nq"]);
    g.input("codes", DataType.INT32, ["rows"]); // rows = docs * docLen
    g.input("layout", DataType.INT64, [3]); // [docs, docLen, nq]
    const rows = g.gather("scores", "codes"); // [rows, nq]
    const perDoc = g.reduceMax(g.reshape(rows, "layout"), [1], false); // [docs, nq]
    g.output("scores_out", DataType.FLOAT, ["docs"], g.reduceSum(perDoc, [1], false));
    return new OrtCodeMaxSim(await compile(g, runtime));
  }

  /**
   * scores: [K, nq] row-major (centroid-major); codes: [docs * docLen], each document's codes padded
   * to docLen. Returns [docs].
   */
  async score(scores: Float32Array, K: number, nq: number, codes: Int32Array, docs: number, docLen: number): Promise<Float32Array> {
    if (scores.length !== K * nq || codes.length !== docs * docLen) throw new ColtsError("INPUT_INVALID", `code MaxSim: expected ${K * nq} scores and ${docs * docLen} codes`);
    return floatOutput(this.session, "scores_out", "code MaxSim", {
      scores: { data: scores, dims: [K, nq] },
      codes: { data: codes, dims: [docs * docLen] },
      layout: { data: BigInt64Array.of(BigInt(docs), BigInt(docLen), BigInt(nq)), dims: [3] },
    });
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Documents [offsets[n], d] -> [n * docLen, d]: each document followed by copies of its first vector up
 * to docLen rows. A document must have 1..docLen vectors.
 */
export function padDocuments(vectors: Float32Array, offsets: ArrayLike<number>, docLen: number, d: number): Float32Array {
  const n = offsets.length - 1;
  const out = new Float32Array(n * docLen * d);
  for (let i = 0; i < n; i++) {
    const start = offsets[i] as number;
    const len = (offsets[i + 1] as number) - start;
    if (len < 1 || len > docLen) throw new ColtsError("INPUT_INVALID", `document ${i} has ${len} vectors; padded MaxSim takes 1..${docLen}`);
    const o = i * docLen * d;
    out.set(vectors.subarray(start * d, (start + len) * d), o);
    const first = vectors.subarray(start * d, (start + 1) * d);
    for (let r = len; r < docLen; r++) out.set(first, o + r * d);
  }
  return out;
}
