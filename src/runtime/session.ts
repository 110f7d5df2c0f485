/**
 * The one module of colts that imports onnxruntime. Everything else talks to `OnnxSession`.
 *
 * onnxruntime-node runs a graph synchronously on the calling thread (its `run` only defers to
 * setImmediate), so callers that must keep an event loop free run sessions inside worker threads
 * (see workers/pool.ts).
 */
import * as ort from "onnxruntime-node";
import { ColtsError } from "../errors.js";

/** How onnxruntime runs a session: threads, execution provider, graph optimisation, spinning. */
export interface RuntimeOptions {
  /**
   * Threads one graph run may use (onnxruntime intra-op threads). Default: 0 = onnxruntime's choice
   * (one per physical core). With several workers, give each `cores / workers` (workers/pool.ts
   * `threadsPerWorker`).
   */
  intraOpThreads?: number;
  /**
   * Execution provider. "cpu" (default) always works. "cuda" needs onnxruntime-node's CUDA add-on,
   * which the default install skips (see README, "CUDA"); a session asked for "cuda" without it fails
   * with ONNX_INVALID naming the fix.
   */
  executionProvider?: "cpu" | "cuda";
  /** Graph optimisation level. Default "all" (fuses LayerNorm, GELU, attention where it can). */
  graphOptimization?: "disabled" | "basic" | "extended" | "all";
  /**
   * Whether the session's intra-op threads busy-wait for more work after a run (onnxruntime's
   * `session.intra_op.allow_spinning`). Default true, onnxruntime's default: the lowest latency when
   * one session runs back to back. false frees the cores at once, which matters when several
   * sessions take turns on few cores: PLAID's centroid scorer and stage-4 kernel run one after the
   * other, and a session still spinning slows the next one (measured on this project's 2 cores: a
   * 32 x 128 x 65,536 product after another session's run, 7-8 ms spinning vs 3.6-6.4 ms not).
   */
  allowSpinning?: boolean;
}

/** A tensor fed to a session. */
export interface InputTensor {
  /** int64 ids / masks, float32 values, int32 indices, uint8 packed bytes (compute graphs) or float64 values (gradient checks). */
  data: BigInt64Array | Float32Array | Float64Array | Int32Array | Uint8Array;
  /** Shape; the product must equal data.length. */
  dims: number[];
}

/** A float32 tensor a session returned. */
export interface OutputTensor {
  /** Values, row-major. */
  data: Float32Array;
  /** Shape, as computed by the run. */
  dims: number[];
}

/** A declared input or output of a graph. */
export interface ValueInfo {
  /** The name feeds and fetches use. */
  name: string;
  /** Numbers for fixed dims, strings for symbolic ones, null when unknown. */
  shape: (number | string)[] | null;
}

/** One loaded ONNX graph on onnxruntime; `release` it when done. */
export class OnnxSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    /** The graph's file path, or "<in-memory ONNX>": for messages. */
    readonly source: string,
  ) {}

  /** Loads a graph from a file (external data next to it is found) or from bytes. */
  static async create(model: string | Uint8Array, opts: RuntimeOptions = {}): Promise<OnnxSession> {
    const source = typeof model === "string" ? model : "<in-memory ONNX>";
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: [opts.executionProvider ?? "cpu"],
      graphOptimizationLevel: opts.graphOptimization ?? "all",
      interOpNumThreads: 1,
      executionMode: "sequential",
      ...(opts.intraOpThreads ? { intraOpNumThreads: opts.intraOpThreads } : {}),
      ...(opts.allowSpinning === false ? { extra: { session: { intra_op: { allow_spinning: "0" } } } } : {}),
    };
    try {
      const session =
        typeof model === "string" ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
      return new OnnxSession(session, source);
    } catch (cause) {
      const hint =
        opts.executionProvider === "cuda"
          ? " (the CUDA provider needs onnxruntime-node's CUDA add-on: see README, section CUDA)"
          : "";
      throw new ColtsError("ONNX_INVALID", `cannot load ONNX model ${source}: ${String(cause)}${hint}`, { cause, details: { file: source } });
    }
  }

  /** The graph's inputs, in declaration order. */
  get inputs(): ValueInfo[] {
    return this.session.inputMetadata.map(describe);
  }

  /** The graph's outputs, in declaration order. */
  get outputs(): ValueInfo[] {
    return this.session.outputMetadata.map(describe);
  }

  /** Runs the graph; returns the requested float outputs. */
  async run(feeds: Record<string, InputTensor>, outputNames: string[]): Promise<Record<string, OutputTensor>> {
    const raw = await this.runMixed(feeds, outputNames);
    const out: Record<string, OutputTensor> = {};
    for (const name of outputNames) {
      const t = raw[name];
      if (!t || !(t.data instanceof Float32Array)) throw new ColtsError("ONNX_INVALID", `${this.source}: output "${name}" is missing or not float32`);
      out[name] = { data: t.data, dims: t.dims };
    }
    return out;
  }

  /** Runs the graph; returns float32 or int64 outputs (compute graphs such as arg-max). */
  async runMixed(feeds: Record<string, InputTensor>, outputNames: string[]): Promise<Record<string, { data: Float32Array | Float64Array | BigInt64Array; dims: number[] }>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrtTensor(t);
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      result = await this.session.run(ortFeeds, outputNames);
    } catch (cause) {
      throw new ColtsError("INFERENCE_FAILED", `running ${this.source} failed: ${String(cause)}`, { cause });
    }
    const out: Record<string, { data: Float32Array | Float64Array | BigInt64Array; dims: number[] }> = {};
    for (const name of outputNames) {
      const t = result[name];
      if (!t || (t.type !== "float32" && t.type !== "float64" && t.type !== "int64")) {
        throw new ColtsError("ONNX_INVALID", `${this.source}: output "${name}" is missing or not float32, float64 or int64`);
      }
      out[name] = { data: t.data as Float32Array | Float64Array | BigInt64Array, dims: [...t.dims] };
    }
    return out;
  }

  /** Frees the native session; the object must not be used afterwards. */
  async release(): Promise<void> {
    await this.session.release();
  }
}

function describe(m: ort.InferenceSession.ValueMetadata): ValueInfo {
  return { name: m.name, shape: m.isTensor ? [...m.shape] : null };
}

function toOrtTensor(t: InputTensor): ort.Tensor {
  if (t.data instanceof Float32Array) return new ort.Tensor("float32", t.data, t.dims);
  if (t.data instanceof Float64Array) return new ort.Tensor("float64", t.data, t.dims);
  if (t.data instanceof Int32Array) return new ort.Tensor("int32", t.data, t.dims);
  if (t.data instanceof Uint8Array) return new ort.Tensor("uint8", t.data, t.dims);
  return new ort.Tensor("int64", t.data, t.dims);
}
