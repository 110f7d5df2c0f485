/**
 * Dense similarity kernels: c = a · bᵀ, the core of centroid scoring, k-means assignment and exact
 * MaxSim over many documents. Two implementations with one contract:
 *   - `matmulABtJs`: plain loops, the reference (about 3 GFLOP/s on this project's 2-core machine);
 *   - `OrtMatmul`: an onnxruntime MatMul graph written with the project's ONNX writer (about 50x faster
 *     on the same machine, multi-threaded, SIMD), for the hot paths.
 * The fast one is tested against the reference.
 */
import { GraphBuilder } from "../onnx/builder.js";
import { DataType, attr, encodeModel } from "../onnx/proto.js";
import { OnnxSession, type RuntimeOptions } from "../session.js";

/**
 * c[i, j] = sum_k a[i, k] * b[j, k].
 * a: [m, d] row-major; b: [n, d] row-major; returns c: [m, n] row-major.
 */
export function matmulABtJs(a: Float32Array, m: number, b: Float32Array, n: number, d: number): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    const ai = i * d;
    for (let j = 0; j < n; j++) {
      const bj = j * d;
      let s = 0;
      for (let k = 0; k < d; k++) s += (a[ai + k] as number) * (b[bj + k] as number);
      c[i * n + j] = s;
    }
  }
  return c;
}

/** b: [n, d] row-major -> bᵀ: [d, n] row-major (MatMul's right operand for a·bᵀ). */
export function transposeRows(b: Float32Array, n: number, d: number): Float32Array {
  const bt = new Float32Array(d * n);
  for (let j = 0; j < n; j++) for (let k = 0; k < d; k++) bt[k * n + j] = b[j * d + k] as number;
  return bt;
}

/** Input "a": [m, d] and the scores a·bᵀ (+ bias) against a fixed b: [n, d] stored in the graph. */
function fixedScores(g: GraphBuilder, b: Float32Array, n: number, d: number, bias: Float32Array | undefined): string {
  g.input("a", DataType.FLOAT, ["m", d]);
  const scores = g.matMul("a", g.initializer("b_t", transposeRows(b, n, d), [d, n]));
  return bias ? g.add(scores, g.initializer("bias", bias, [n])) : scores;
}

/** Outputs "codes" (arg-max per row, int64, ties: lowest) and "best" (max per row) of scores: [m, n]. */
function argmaxOutputs(g: GraphBuilder, scores: string): void {
  g.output("codes", DataType.INT64, ["m"], g.argMax(scores, 1, false));
  g.output("best", DataType.FLOAT, ["m"], g.reduceMax(scores, [1], false));
}

/** A kernel graph built with the project's GraphBuilder -> an onnxruntime session. */
export function compile(g: GraphBuilder, runtime: RuntimeOptions): Promise<OnnxSession> {
  return OnnxSession.create(encodeModel(g.toModel({ producer: "colts kernels" })), runtime);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Non-negative int64 indices below 2^31 -> Int32Array: the low words of the values (on little-endian
 * machines; converting each BigInt costs more than the graph run of a small arg-max).
 */
function lowWords(v: BigInt64Array): Int32Array {
  if (!LITTLE_ENDIAN) return Int32Array.from(v, Number);
  const words = new Int32Array(v.buffer, v.byteOffset, v.length * 2);
  const out = new Int32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = words[2 * i] as number;
  return out;
}

async function runArgmax(session: OnnxSession, feeds: Parameters<OnnxSession["runMixed"]>[0]): Promise<{ codes: Int32Array; scores: Float32Array }> {
  const r = await session.runMixed(feeds, ["codes", "best"]);
  const codes = r["codes"]?.data;
  const best = r["best"]?.data;
  if (!(codes instanceof BigInt64Array) || !(best instanceof Float32Array)) throw new Error("argmax graph returned unexpected outputs");
  return { codes: lowWords(codes), scores: best };
}

/**
 * a · bᵀ on onnxruntime with `b` fixed at construction (e.g. the centroids): the graph stores bᵀ as an
 * initializer, so each call only ships `a`.
 */
export class OrtMatmul {
  private constructor(
    private readonly session: OnnxSession,
    /** Rows of the fixed operand b. */
    readonly n: number,
    /** Shared inner dimension of a and b. */
    readonly d: number,
  ) {}

  /**
   * b: [n, d] row-major (copied into the graph).
   * `transposed: true` makes `run` return cᵀ = b·aᵀ, [n, m] row-major, computed directly (no copy):
   * centroid scoring wants one row of query-token scores per centroid.
   */
  static async create(b: Float32Array, n: number, d: number, runtime: RuntimeOptions = {}, transposed = false): Promise<OrtMatmul> {
    const g = new GraphBuilder({ name: "colts_matmul_abt" });
    g.input("a", DataType.FLOAT, ["m", d]);
    let out: string;
    if (transposed) {
      out = g.matMul(g.initializer("b", b, [n, d]), g.transpose("a", [1, 0]));
      g.output("c", DataType.FLOAT, [n, "m"], out);
    } else {
      out = g.matMul("a", g.initializer("b_t", transposeRows(b, n, d), [d, n]));
      g.output("c", DataType.FLOAT, ["m", n], out);
    }
    const session = await compile(g, runtime);
    return new OrtMatmul(session, n, d);
  }

  /** a: [m, d] row-major -> c: [m, n] row-major (or [n, m] when created transposed). */
  async run(a: Float32Array, m: number): Promise<Float32Array> {
    const r = await this.session.run({ a: { data: a, dims: [m, this.d] } }, ["c"]);
    const c = r["c"];
    if (!c) throw new Error("matmul graph returned no output");
    return c.data;
  }

  /** Frees the onnxruntime session; `run` must not be called afterwards. */
  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * a · bᵀ on onnxruntime with both operands given per call (exact MaxSim over many decompressed
 * documents at once). One session is reused for every shape.
 */
export class OrtMatmulDynamic {
  private constructor(
    private readonly session: OnnxSession,
    /** Shared inner dimension of a and b. */
    readonly d: number,
  ) {}

  /** Compiles the graph for inner dimension d (m and n vary per call). */
  static async create(d: number, runtime: RuntimeOptions = {}): Promise<OrtMatmulDynamic> {
    const g = new GraphBuilder({ name: "colts_matmul_abt_dynamic" });
    g.input("a", DataType.FLOAT, ["m", d]);
    g.input("b", DataType.FLOAT, ["n", d]);
    g.output("c", DataType.FLOAT, ["m", "n"], g.matMul("a", g.transpose("b", [1, 0])));
    return new OrtMatmulDynamic(await compile(g, runtime), d);
  }

  /** a: [m, d], b: [n, d] row-major -> c: [m, n] row-major. */
  async run(a: Float32Array, m: number, b: Float32Array, n: number): Promise<Float32Array> {
    if (n === 0 || m === 0) return new Float32Array(0);
    const r = await this.session.run({ a: { data: a, dims: [m, this.d] }, b: { data: b, dims: [n, this.d] } }, ["c"]);
    const c = r["c"];
    if (!c) throw new Error("matmul graph returned no output");
    return c.data;
  }

  /** Frees the onnxruntime session; `run` must not be called afterwards. */
  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * MaxSim of one query against many documents from their concatenated vectors.
 * sims: [nq, V] row-major (query-vector x document-vector similarities, documents one after another);
 * doclens: vectors per document, summing to V. Returns one score per document (0 for empty ones).
 */
export function maxsimFromSimilarities(sims: Float32Array, nq: number, doclens: ArrayLike<number>): Float64Array {
  const V = nq > 0 ? sims.length / nq : 0;
  const scores = new Float64Array(doclens.length);
  let start = 0;
  for (let d = 0; d < doclens.length; d++) {
    const end = start + (doclens[d] as number);
    if (end > start) {
      let total = 0;
      for (let q = 0; q < nq; q++) {
        const row = q * V;
        let top = -Infinity;
        for (let v = start; v < end; v++) {
          const s = sims[row + v] as number;
          if (s > top) top = s;
        }
        total += top;
      }
      scores[d] = total;
    }
    start = end;
  }
  return scores;
}

/**
 * Nearest-centroid assignment in one onnxruntime graph: argmax_j (a · b_jᵀ + bias_j) and its value,
 * so only [m] codes and [m] scores leave the runtime instead of an [m, n] score block scanned in
 * JavaScript (the cost that dominated k-means and compression). Ties go to the lowest j (ArgMax
 * with select_last_index = 0); the bias is added in float32.
 */
export class OrtArgmax {
  private constructor(
    private readonly session: OnnxSession,
    readonly n: number,
    readonly d: number,
  ) {}

  /** b: [n, d] row-major; bias: [n] or undefined. */
  static async create(b: Float32Array, n: number, d: number, bias: Float32Array | undefined, runtime: RuntimeOptions = {}): Promise<OrtArgmax> {
    const g = new GraphBuilder({ name: "colts_argmax_abt" });
    argmaxOutputs(g, fixedScores(g, b, n, d, bias));
    return new OrtArgmax(await compile(g, runtime), n, d);
  }

  /** a: [m, d] row-major -> codes: [m] (Int32), best scores: [m]. */
  run(a: Float32Array, m: number): Promise<{ codes: Int32Array; scores: Float32Array }> {
    return runArgmax(this.session, { a: { data: a, dims: [m, this.d] } });
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The p best columns of a·bᵀ (+ bias) per row, in one onnxruntime graph (MatMul, Add, TopK), for the
 * coarse stage of two-level assignment: only [m, p] indices come back.
 */
export class OrtTopK {
  private constructor(
    private readonly session: OnnxSession,
    readonly n: number,
    readonly d: number,
    readonly p: number,
  ) {}

  /** b: [n, d] row-major; bias: [n] or undefined; 1 <= p <= n. */
  static async create(b: Float32Array, n: number, d: number, p: number, bias: Float32Array | undefined, runtime: RuntimeOptions = {}): Promise<OrtTopK> {
    const g = new GraphBuilder({ name: "colts_topk_abt" });
    const [, indices] = g.topK(fixedScores(g, b, n, d, bias), p, 1);
    g.output("indices", DataType.INT64, ["m", p], indices);
    return new OrtTopK(await compile(g, runtime), n, d, p);
  }

  /** a: [m, d] row-major -> indices: [m, p] row-major (Int32), best first. */
  async run(a: Float32Array, m: number): Promise<Int32Array> {
    const r = await this.session.runMixed({ a: { data: a, dims: [m, this.d] } }, ["indices"]);
    const idx = r["indices"]?.data;
    if (!(idx instanceof BigInt64Array)) throw new Error("top-k graph returned unexpected outputs");
    return lowWords(idx);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Arg-max of a[rows] · bᵀ + bias with every operand given per call: one session serves many small
 * centroid sets (the fine stage of two-level assignment) instead of one session per set, whose thread
 * pools would compete; the rows of `a` are picked inside the graph (Gather), so one block of vectors
 * is shipped once without copying rows in JavaScript (that copy cost more than the multiply-adds).
 */
export class OrtArgmaxRows {
  private constructor(
    private readonly session: OnnxSession,
    readonly d: number,
  ) {}

  static async create(d: number, runtime: RuntimeOptions = {}): Promise<OrtArgmaxRows> {
    const g = new GraphBuilder({ name: "colts_argmax_rows_abt" });
    g.input("a", DataType.FLOAT, ["m", d]);
    g.input("rows", DataType.INT32, ["r"]);
    g.input("b", DataType.FLOAT, ["n", d]);
    g.input("bias", DataType.FLOAT, ["n"]);
    const picked = g.gather("a", "rows", 0); // [r, d]
    argmaxOutputs(g, g.add(g.matMul(picked, g.transpose("b", [1, 0])), "bias"));
    return new OrtArgmaxRows(await compile(g, runtime), d);
  }

  /**
   * a: [m, d] row-major, rows: [r] indices into a (each in 0..m-1), b: [n, d] row-major, bias: [n]
   * -> codes: [r] (Int32, ties: lowest), best scores: [r].
   */
  run(a: Float32Array, m: number, rows: Int32Array, b: Float32Array, n: number, bias: Float32Array): Promise<{ codes: Int32Array; scores: Float32Array }> {
    return runArgmax(this.session, {
      a: { data: a, dims: [m, this.d] },
      rows: { data: rows, dims: [rows.length] },
      b: { data: b, dims: [n, this.d] },
      bias: { data: bias, dims: [n] },
    });
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Arg-max over per-slot candidate sets, for assignment warm-started from a previous one (refine.ts):
 * each slot holds up to `p` rows of `a` that share a hint, and the `l` centroids to score them against.
 * One call scores many slots as a batched product, [s, p, d] x [s, d, l], so thousands of small
 * products cost one runtime call; the rows and candidates are picked inside the graph (Gather).
 */
export class OrtArgmaxSlots {
  private constructor(
    private readonly session: OnnxSession,
    readonly d: number,
    readonly p: number,
    readonly l: number,
  ) {}

  static async create(d: number, p: number, l: number, runtime: RuntimeOptions = {}): Promise<OrtArgmaxSlots> {
    const g = new GraphBuilder({ name: "colts_argmax_slots" });
    g.input("a", DataType.FLOAT, ["m", d]);
    g.input("rows", DataType.INT32, ["s", p]);
    g.input("cand", DataType.INT32, ["s", l]);
    g.input("c", DataType.FLOAT, ["k", d]);
    g.input("bias", DataType.FLOAT, ["k"]);
    const rows = g.gather("a", "rows", 0); // [s, p, d]
    const cands = g.transpose(g.gather("c", "cand", 0), [0, 2, 1]); // [s, d, l]
    const scores = g.add(g.matMul(rows, cands), g.unsqueeze(g.gather("bias", "cand", 0), [1])); // [s, p, l]
    g.output("codes", DataType.INT64, ["s", p], g.argMax(scores, 2, false));
    g.output("best", DataType.FLOAT, ["s", p], g.reduceMax(scores, [2], false));
    return new OrtArgmaxSlots(await compile(g, runtime), d, p, l);
  }

  /**
   * a: [m, d] row-major; rows: [s, p] indices into a; cand: [s, l] centroid ids; c: [k, d] row-major;
   * bias: [k] -> codes: [s, p] positions in each slot's `cand` row (Int32, ties: lowest), scores: [s, p].
   */
  run(a: Float32Array, m: number, rows: Int32Array, cand: Int32Array, c: Float32Array, k: number, bias: Float32Array): Promise<{ codes: Int32Array; scores: Float32Array }> {
    const s = rows.length / this.p;
    return runArgmax(this.session, {
      a: { data: a, dims: [m, this.d] },
      rows: { data: rows, dims: [s, this.p] },
      cand: { data: cand, dims: [s, this.l] },
      c: { data: c, dims: [k, this.d] },
      bias: { data: bias, dims: [k] },
    });
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * PLAID's centroid scoring in one graph: the scores of every centroid for every query vector, each
 * query vector's `n` best centroids (TopK) and each centroid's best score over the query vectors
 * (ReduceMax), so the scans of the scores that stages 1 and 2 need run natively. The product is
 * query-major, [nq, K], and the scores returned are its transpose, centroid-major [K, nq], the layout
 * stages 2 and 3 read (a document's codes one after another). Measured at K = 65,536, nq = 32 on
 * this project's 2-core machine (/tmp micro-benchmark, 40 runs, median): the query-major graph
 * returning [nq, K] took 5.7 ms, returning its in-graph transpose 6.5 ms; the centroid-major product
 * with TopK over its first axis 13.0 ms; the JS transpose the search did before, 5.7 ms.
 */
export class OrtCentroidScorer {
  private constructor(
    private readonly session: OnnxSession,
    readonly k: number,
    readonly d: number,
  ) {}

  /** centroids: [k, d] row-major (stored transposed in the graph). */
  static async create(centroids: Float32Array, k: number, d: number, runtime: RuntimeOptions = {}): Promise<OrtCentroidScorer> {
    const g = new GraphBuilder({ name: "colts_centroid_scores" });
    g.input("q", DataType.FLOAT, ["nq", d]);
    g.input("n", DataType.INT64, [1]);
    const scores = g.matMul("q", g.initializer("c_t", transposeRows(centroids, k, d), [d, k])); // [nq, k]
    const [, top] = g.node("TopK", [scores, "n"], { axis: attr.int(1), largest: attr.int(1), sorted: attr.int(1) }, { outputs: 2 }); // [nq, n]
    const byCentroid = g.transpose(scores, [1, 0]); // [k, nq]
    // Over the transposed scores' rows: 6.5 ms for the graph against 7.3 ms over the product's columns.
    const max = g.reduceMax(byCentroid, [1], false); // [k]
    // Outputs last: naming an output renames the value it is made from.
    g.output("top", DataType.INT64, ["nq", "n"], top ?? "");
    g.output("max", DataType.FLOAT, [k], max);
    g.output("scores", DataType.FLOAT, [k, "nq"], byCentroid);
    return new OrtCentroidScorer(await compile(g, runtime), k, d);
  }

  /**
   * q: [nq, d] row-major, n in 1..k -> scores: [k, nq] row-major (centroid-major); top: [nq, n] row-major (Int32, row q
   * = query vector q's best centroids, best first, ties: lower id); max: [k].
   */
  async run(q: Float32Array, nq: number, n: number): Promise<{ scores: Float32Array; top: Int32Array; max: Float32Array }> {
    const r = await this.session.runMixed({ q: { data: q, dims: [nq, this.d] }, n: { data: BigInt64Array.of(BigInt(n)), dims: [1] } }, ["scores", "top", "max"]);
    const scores = r["scores"]?.data;
    const top = r["top"]?.data;
    const max = r["max"]?.data;
    if (!(scores instanceof Float32Array) || !(top instanceof BigInt64Array) || !(max instanceof Float32Array)) throw new Error("centroid scoring graph returned unexpected outputs");
    return { scores, top: lowWords(top), max };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
