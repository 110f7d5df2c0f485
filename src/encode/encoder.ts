/**
 * The in-process encoder: tokenizer conventions + one ONNX session + the projection head when the
 * graph lacks it. Runs on the calling thread; `ColBERT` (colbert.ts) puts it inside worker threads.
 *
 * Batching: texts are sorted by token count (longest first) so that each batch pads to a similar
 * length, cut into batches of at most `batchSize` texts and `maxBatchTokens` padded tokens, then
 * results are put back into input order.
 */
import { ColtsError } from "../errors.js";
import type { DenseLayer, ModelSpec } from "../model/layout.js";
import { bertGraphFromSafetensors, findBertBackbone } from "../model/convert.js";
import { OnnxSession, type InputTensor, type RuntimeOptions } from "../runtime/session.js";
import { padBatch, planBatches as planByLength } from "./batching.js";
import { applyDense, normalizeRows, truncateColumns } from "./head.js";
import type { MultiVector } from "./multivector.js";
import { tokenizerForSpec, type ColbertTokenizer, type TokenizedText } from "./tokenize.js";

/** Options of one encode call. */
export interface EncodeOptions {
  /**
   * Texts per model call. Default 32; a positive integer (checked; `colts encode` allows up to 1024).
   * Larger batches amortise overhead but pad more.
   */
  batchSize?: number;
  /**
   * Upper bound on padded tokens per model call (batch x longest). Default 512 on the CPU provider,
   * 16384 on CUDA. On CPU, small calls are faster per token (no padding, activations stay in cache):
   * measured on 2 cores with an answerai-colbert-small-shaped model, batch 1 gave 2524 tokens/s,
   * batch 4 2223, batch 16 1779 (bench/encode-batch-sweep.ts); GPUs want large batches. A row longer
   * than the budget runs alone; an 8192-token document never shares a call.
   */
  maxBatchTokens?: number;
  /**
   * Output dimension (Matryoshka). Default: the model's full dimension. A smaller value keeps the
   * first `dim` components and re-normalises, which is how Matryoshka-trained ColBERT heads are
   * used; on models trained without Matryoshka it costs quality. If the model declares
   * `matryoshka_dims`, only those are accepted.
   */
  dim?: number;
}

/** How the graph's output relates to the head (decided once at load). */
interface HeadPlan {
  outputName: string;
  /** Layers to apply in TypeScript (empty when the graph ends in the head). */
  dense: DenseLayer[];
  /** Dimension of the final vectors at full size. */
  fullDim: number;
}

/** A ColBERT model loaded on the calling thread: texts in, one L2-normalised vector per kept token out. */
export class InProcessEncoder {
  private constructor(
    /** The model as read from its folder: conventions, head layers, graph path. */
    readonly spec: ModelSpec,
    /** The tokenizer with the model's query/document conventions (prefixes, lengths, expansion, skiplist). */
    readonly tokenizer: ColbertTokenizer,
    private readonly session: OnnxSession,
    private readonly plan: HeadPlan,
    private readonly usesTokenTypes: boolean,
    private readonly executionProvider: "cpu" | "cuda",
  ) {}

  /**
   * Opens the graph (`graph` bytes if given, else the spec's ONNX file, else one built from a BERT
   * model.safetensors) and decides with one probe run whether the projection head runs in the graph or
   * here. Throws ONNX_INVALID when the graph lacks input_ids / attention_mask or its output fits no
   * head, CONFIG_INVALID when the config's dimension differs from the output.
   */
  static async create(spec: ModelSpec, runtime: RuntimeOptions = {}, graph?: Uint8Array): Promise<InProcessEncoder> {
    const tokenizer = tokenizerForSpec(spec);
    const source = graph ?? spec.onnxPath ?? convertBackbone(spec.dir, spec.quantized);
    const session = await OnnxSession.create(source, runtime);
    const inputs = session.inputs.map((i) => i.name);
    for (const required of ["input_ids", "attention_mask"]) {
      if (!inputs.includes(required)) {
        throw new ColtsError("ONNX_INVALID", `${session.source} has no input "${required}" (inputs: ${inputs.join(", ")})`);
      }
    }
    const usesTokenTypes = inputs.includes("token_type_ids");
    const probe = buildFeeds([tokenizer.tokenizeDocument("")], tokenizer.padId, usesTokenTypes);
    const plan = await planHead(session, spec, probe);
    return new InProcessEncoder(spec, tokenizer, session, plan, usesTokenTypes, runtime.executionProvider ?? "cpu");
  }

  /** Full output dimension of this model. */
  get dim(): number {
    return this.plan.fullDim;
  }

  /** Whether the projection head runs in TypeScript (true) or inside the graph (false). */
  get headInTypeScript(): boolean {
    return this.plan.dense.length > 0;
  }

  /**
   * Encodes queries (query prefix; cut to the query length, filled up to it with expansion tokens when
   * the model expands queries); one result per text, in order.
   */
  async encodeQueries(texts: readonly string[], opts: EncodeOptions = {}): Promise<MultiVector[]> {
    return this.encode(texts.map((t) => this.tokenizer.tokenizeQuery(t)), opts);
  }

  /** Encodes documents (document prefix, truncated to the document length, skiplist tokens dropped); one result per text, in order. */
  async encodeDocuments(texts: readonly string[], opts: EncodeOptions = {}): Promise<MultiVector[]> {
    return this.encode(texts.map((t) => this.tokenizer.tokenizeDocument(t)), opts);
  }

  /** Releases the ONNX session; the encoder cannot encode afterwards. */
  async close(): Promise<void> {
    await this.session.release();
  }

  /** Checks a requested dimension against the model; returns the dimension to produce. */
  resolveDim(dim: number | undefined): number {
    const full = this.plan.fullDim;
    if (dim === undefined || dim === full) return full;
    const declared = this.spec.settings.matryoshkaDims;
    if (!Number.isInteger(dim) || dim < 1 || dim > full || (declared.length > 0 && !declared.includes(dim))) {
      const allowed = declared.length > 0 ? declared.join(", ") : `1..${full}`;
      throw new ColtsError("DIM_UNSUPPORTED", `dim ${dim} is not available for this model (allowed: ${allowed})`, { details: { dim, allowed } });
    }
    if (this.spec.matryoshkaHeads.has(dim) && this.plan.dense.length === 0) {
      throw new ColtsError("DIM_UNSUPPORTED", `dim ${dim} has its own head, but this graph already applies the ${full}-d head; use a graph without the head (hidden-state output)`, {
        details: { dim },
      });
    }
    return dim;
  }

  private async encode(rows: TokenizedText[], opts: EncodeOptions): Promise<MultiVector[]> {
    const dim = this.resolveDim(opts.dim);
    const out = new Array<MultiVector>(rows.length);
    const budget = opts.maxBatchTokens ?? (this.executionProvider === "cuda" ? 16384 : 512);
    for (const batch of planBatches(rows, opts.batchSize ?? 32, budget)) {
      const vectors = await this.runBatch(batch.map((i) => rows[i] as TokenizedText), dim);
      batch.forEach((i, j) => (out[i] = vectors[j] as MultiVector));
    }
    return out;
  }

  /** One model call over texts padded to the longest of them. */
  private async runBatch(rows: TokenizedText[], dim: number): Promise<MultiVector[]> {
    const feeds = buildFeeds(rows, this.tokenizer.padId, this.usesTokenTypes);
    const len = feeds.input_ids.dims[1] ?? 0;
    const result = (await this.session.run(feeds, [this.plan.outputName]))[this.plan.outputName];
    const hidden = result?.dims[2];
    if (!result || hidden === undefined) throw new ColtsError("ONNX_INVALID", `${this.session.source}: output has no [batch, seq, dim] shape`);
    return rows.map((r, b) => this.postprocess(r, result.data.subarray(b * len * hidden, (b + 1) * len * hidden), hidden, dim));
  }

  /** Keeps the selected positions, applies the head, normalises, truncates. h: [len, hidden]. */
  private postprocess(r: TokenizedText, h: Float32Array, hidden: number, dim: number): MultiVector {
    const kept: number[] = [];
    r.keep.forEach((k, t) => k && kept.push(t));
    let x: Float32Array = new Float32Array(kept.length * hidden);
    kept.forEach((t, i) => x.set(h.subarray(t * hidden, (t + 1) * hidden), i * hidden));
    let width = hidden;
    // Matryoshka: a separate head for `dim` replaces the last layer; otherwise truncate below.
    const ownHead = dim !== this.plan.fullDim ? this.spec.matryoshkaHeads.get(dim) : undefined;
    const layers = ownHead ? [...this.plan.dense.slice(0, -1), ownHead] : this.plan.dense;
    for (const layer of layers) {
      x = applyDense(x, kept.length, layer);
      width = layer.outFeatures;
    }
    normalizeRows(x, kept.length, width);
    if (dim !== width) x = normalizeRows(truncateColumns(x, kept.length, width, dim), kept.length, dim);
    return { vectors: x, tokens: kept.length, dim, tokenIds: Int32Array.from(kept, (t) => r.ids[t] as number) };
  }
}

/** No exported graph: build one (int8 when asked) from a BERT safetensors backbone, or explain what is missing. */
function convertBackbone(dir: string, quantized: boolean): Uint8Array {
  const backbone = findBertBackbone(dir);
  if (!backbone) {
    throw new ColtsError(
      "MODEL_NOT_FOUND",
      `${dir} has no ONNX graph (looked for model.onnx, onnx/model.onnx and int8 variants) and no BERT model.safetensors to build one from; export the model to ONNX`,
      { details: { dir } },
    );
  }
  // In memory only, so onnxruntime's contrib blocks (BertOnnxOptions.fused: same vectors to 2.5e-7,
  // 1.07x end to end on 2 cores, bench/fused-graph.ts) are safe: no other runtime reads this graph.
  return bertGraphFromSafetensors(backbone.file, backbone.config, quantized ? { quantize: "int8" } : { fused: true });
}

/**
 * Groups row indexes into batches: longest first, at most `batchSize` rows (a positive integer,
 * checked) and `maxTokens` padded tokens each (a row longer than maxTokens runs alone). The rule is
 * batching.ts' planBatches, which the cross-encoder shares: same sort and same cut, so the batches are
 * those this function always produced.
 */
export function planBatches(rows: readonly { ids: readonly number[] }[], batchSize: number, maxTokens: number): number[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ColtsError("INPUT_INVALID", `batchSize must be a positive integer, got ${batchSize}`);
  return planByLength(
    rows.map((r) => r.ids.length),
    { maxRows: batchSize, maxTokens },
  );
}

type Feeds = Record<"input_ids" | "attention_mask", InputTensor> & { token_type_ids?: InputTensor };

/** Pads a batch to its longest row (batching.ts padBatch): ids/mask [n, len] int64; token types all 0, fed when the graph takes them. */
export function buildFeeds(rows: readonly TokenizedText[], padId: number, withTokenTypes: boolean): Feeds {
  const { input_ids, attention_mask, token_type_ids } = padBatch(rows, padId);
  return withTokenTypes ? { input_ids, attention_mask, token_type_ids } : { input_ids, attention_mask };
}

/**
 * Picks the output and decides, from a probe run, whether the head must be applied in TypeScript:
 * if the graph outputs hidden states (width = the head's input) the head runs here; if it outputs
 * the head's width (or there is no head) the graph is used as is.
 */
async function planHead(session: OnnxSession, spec: ModelSpec, probe: Feeds): Promise<HeadPlan> {
  const names = session.outputs.map((o) => o.name);
  const outputName = ["output", "last_hidden_state"].find((n) => names.includes(n)) ?? names[0];
  if (!outputName) throw new ColtsError("ONNX_INVALID", `${session.source} has no outputs`);
  const outDim = (await session.run(probe, [outputName]))[outputName]?.dims[2];
  if (outDim === undefined) throw new ColtsError("ONNX_INVALID", `${session.source}: output "${outputName}" is not [batch, seq, dim]`);
  const dense = spec.dense;
  const first = dense[0];
  const last = dense[dense.length - 1];
  let plan: HeadPlan;
  if (first && last && first.inFeatures === outDim && (outDim !== last.outFeatures || spec.hiddenSize === outDim)) {
    plan = { outputName, dense, fullDim: last.outFeatures };
  } else if (!last || last.outFeatures === outDim) {
    plan = { outputName, dense: [], fullDim: outDim };
  } else {
    throw new ColtsError("ONNX_INVALID", `${session.source} outputs ${outDim}-d vectors but the head maps ${first?.inFeatures ?? "?"} -> ${last.outFeatures}`);
  }
  const declared = spec.settings.embeddingDim;
  if (declared !== null && declared !== plan.fullDim) {
    throw new ColtsError("CONFIG_INVALID", `config declares dim ${declared} but the model produces ${plan.fullDim}-d vectors`);
  }
  return plan;
}
