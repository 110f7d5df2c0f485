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
import type { OnnxSession, RuntimeOptions } from "../session.js";
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
