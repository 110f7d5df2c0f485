/**
 * A BERT encoder as an ONNX graph: the computation of Hugging Face's BertModel (absolute positions,
 * post-LayerNorm blocks, exact GELU via Erf, scores / sqrt(headDim) plus the additive mask
 * (1 - mask) * float32-min, softmax over keys), optionally followed by a ColBERT projection head and
 * L2 normalisation, optionally with int8 dynamic quantization of every weight MatMul.
 */
import { ColtsError } from "../errors.js";
import { GraphBuilder } from "../runtime/onnx/builder.js";
import { attr, DataType, type OnnxModel } from "../runtime/onnx/proto.js";
import { bertWeight, checkConfig, type BertConfig, type BertWeights } from "./bert-weights.js";

/** Options of `buildBertOnnx`: inputs, what follows the encoder, quantization, positions, opset. */
export interface BertOnnxOptions {
  /**
   * Declare a token_type_ids input; without it every token has type 0. Default: true for BERT, false
   * with RoBERTa position ids (XLM-R models take no token types, as Jina-ColBERT-v2's graph).
   */
  tokenTypeIds?: boolean;
  /** Linear projection after the encoder, torch Linear layout weight [dim, hidden], no bias. */
  head?: { weight: Float32Array; dim: number };
  /** L2-normalise each output token vector: x / max(||x||, 1e-12), as torch.nn.functional.normalize. */
  normalize?: boolean;
  /**
   * Sequence classification instead of token vectors (HF BertForSequenceClassification, as
   * cross-encoders use): pooled = tanh(pooler @ hidden[:, 0] + b), logits = classifier @ pooled + b,
   * output `logits` [batch, labels]. Torch Linear layouts ([out, in]). Excludes `head` / `normalize`.
   */
  classifier?: SequenceClassifierWeights;
  /** "int8": dynamic quantization of every MatMul with a weight, as onnxruntime's quantize_dynamic. */
  quantize?: "int8";
  /**
   * Build each block with onnxruntime's contrib operators (domain com.microsoft, CPU and CUDA):
   * `Attention` (packed QKV [H, 3H] product, scaled softmax with the padding mask, heads merged),
   * `SkipLayerNormalization` (residual + bias + LayerNorm) and `BiasGelu` (bias + exact erf GELU).
   * Same function as the plain graph (vectors equal within float rounding, pinned to 1e-5 by a
   * test); fewer, larger kernels. Only for graphs run in memory: exported files keep the plain
   * operators every ONNX runtime knows (and that `bertWeightsFromOnnx` reads back). Ignored with
   * `quantize` and `classifier`. Default false.
   */
  fused?: boolean;
  /**
   * Position ids. Default "bert": 0..seq-1. { paddingIdx } = RoBERTa / XLM-R
   * (`create_position_ids_from_input_ids`): positions count non-padding tokens from paddingIdx + 1,
   * padding tokens get paddingIdx; the table then needs max length + paddingIdx + 1 rows.
   * Default: the config's (`BertConfig.roberta`).
   */
  roberta?: { paddingIdx: number };
  /** ONNX opset (>= 17, for LayerNormalization); default 17. */
  opset?: number;
  /** The model's producer_name (informational; shown by ONNX tools). Default "colts". */
  producer?: string;
}

/** The pooler and classifier of a BertForSequenceClassification (a cross-encoder's scoring head). */
export interface SequenceClassifierWeights {
  /** pooler.dense: [hidden, hidden] and [hidden]. */
  poolerWeight: Float32Array;
  /** pooler.dense bias: [hidden]. */
  poolerBias: Float32Array;
  /** classifier: [labels, hidden] and [labels]. */
  weight: Float32Array;
  /** classifier bias: [labels]. */
  bias: Float32Array;
  /** Number of output logits (1 for a relevance score). */
  labels: number;
}

/** torch.finfo(torch.float32).min, the value HF adds for masked keys. */
const FLOAT32_MIN = -3.4028234663852886e38;
/** torch.nn.functional.normalize's default eps. */
const NORMALIZE_EPS = 1e-12;

/** m: [rows, cols] row-major -> [cols, rows] row-major (torch Linear [out, in] to MatMul's [in, out]). */
export function transpose2d(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = m[row + c] ?? 0;
  }
  return out;
}

/** Round half to even, as numpy's round (used by onnxruntime's quantizer). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Per-tensor symmetric int8 quantization as onnxruntime's quantize_dynamic (QInt8, symmetric):
 * scale = max|w| / 127 (1 when w is all zeros), q = clamp(round(w / scale), -127, 127), zero point 0.
 */
export function quantizeInt8Symmetric(w: Float32Array): { q: Int8Array; scale: number } {
  let absMax = 0;
  for (const v of w) absMax = Math.max(absMax, Math.abs(v));
  // Scale is stored as float32, so quantize with the float32 value the runtime will multiply by.
  const scale = Math.fround(absMax > 0 ? absMax / 127 : 1);
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.max(-127, Math.min(127, roundHalfEven((w[i] ?? 0) / scale)));
  return { q, scale };
}

/**
 * The ONNX model. Inputs: input_ids, attention_mask (and token_type_ids unless disabled), all int64
 * [batch, sequence]. Output: `output` float [batch, sequence, head.dim] with a head, else
 * `last_hidden_state` float [batch, sequence, hidden].
 */
export function buildBertOnnx(cfg: BertConfig, weights: BertWeights, opts: BertOnnxOptions = {}): OnnxModel {
  checkConfig(cfg);
  const H = cfg.hiddenSize;
  const heads = cfg.numHeads;
  const headDim = H / heads;
  const g = new GraphBuilder({ name: "bert", opset: opts.opset ?? 17 });
  const init = (name: string, shape: number[]): string => g.initializer(name, bertWeight(weights, name, shape), shape);

  const ids = g.input("input_ids", DataType.INT64, ["batch", "sequence"]);
  const mask = g.input("attention_mask", DataType.INT64, ["batch", "sequence"]);
  const roberta = opts.roberta ?? cfg.roberta;
  const types = !(opts.tokenTypeIds ?? !roberta) ? undefined : g.input("token_type_ids", DataType.INT64, ["batch", "sequence"]);

  // Embeddings, x: [batch, seq, H] = word[ids] + position[0..seq) + type[types], then LayerNorm.
  let x = g.gather(init("embeddings.word_embeddings.weight", [cfg.vocabSize, H]), ids);
  const positionTable = init("embeddings.position_embeddings.weight", [cfg.maxPositions, H]);
  if (roberta) {
    // not_pad: [b, s] int64 = ids != paddingIdx; positions = cumsum(not_pad) * not_pad + paddingIdx.
    const padIdx = g.initializer("padding_idx", new BigInt64Array([BigInt(roberta.paddingIdx)]), []);
    const notPad = g.cast(g.op("Not", [g.op("Equal", [ids, padIdx])]), DataType.INT64);
    const axis = g.initializer("position_axis", new BigInt64Array([1n]), []);
    const positions = g.add(g.mul(g.op("CumSum", [notPad, axis]), notPad), padIdx);
    x = g.add(x, g.gather(positionTable, positions)); // + [b, s, H]
  } else {
    const seqLen = g.shape(ids, 1, 2); // int64 [1]
    x = g.add(x, g.slice(positionTable, [0], seqLen, [0])); // + [seq, H]
  }
  const typeName = "embeddings.token_type_embeddings.weight";
  if (types) {
    x = g.add(x, g.gather(init(typeName, [cfg.typeVocabSize, H]), types));
  } else {
    // Token type 0 everywhere: add row 0 of the table, [H], broadcast over batch and sequence.
    x = g.add(x, g.floats(bertWeight(weights, typeName, [cfg.typeVocabSize, H]).subarray(0, H), [H], `${typeName}.row0`));
  }
  const layerNorm = (v: string, prefix: string): string =>
    g.layerNorm(v, init(`${prefix}.weight`, [H]), init(`${prefix}.bias`, [H]), cfg.layerNormEps);
  x = layerNorm(x, "embeddings.LayerNorm");

  // Additive mask [batch, 1, 1, seq]: 0 for attended keys, float32-min for padding (fused blocks
  // take the raw mask instead: contrib Attention builds its own).
  const fused = opts.fused === true && opts.quantize === undefined && !opts.classifier;
  const one = fused ? "" : g.floats([1], [], "one");
  const additiveMask = fused ? "" : g.mul(g.sub(one, g.unsqueeze(g.cast(mask, DataType.FLOAT), [1, 2])), g.floats([FLOAT32_MIN], [], "float32_min"));

  // Dynamic quantization state: one DynamicQuantizeLinear per activation, shared by its MatMuls.
  const quantized = new Map<string, [string, string, string]>();
  const weightZeroPoint = opts.quantize === "int8" ? g.initializer("weight_zero_point", new Int8Array([0]), []) : "";
  /** x: [.., inDim] @ weight^T (+ bias) -> [.., outDim]; weight [outDim, inDim] torch layout. */
  const linear = (v: string, name: string, weight: Float32Array, outDim: number, inDim: number, bias?: Float32Array): string => {
    const wt = transpose2d(weight, outDim, inDim); // [inDim, outDim]
    let y: string;
    if (opts.quantize === "int8") {
      let q = quantized.get(v);
      if (!q) quantized.set(v, (q = g.dynamicQuantizeLinear(v)));
      const [vq, vScale, vZeroPoint] = q;
      const w8 = quantizeInt8Symmetric(wt);
      const wq = g.initializer(`${name}.weight_quantized`, w8.q, [inDim, outDim]);
      const scale = g.mul(vScale, g.floats([w8.scale], [], `${name}.weight_scale`));
      y = g.mul(g.cast(g.matMulInteger(vq, wq, vZeroPoint, weightZeroPoint), DataType.FLOAT), scale);
    } else {
      y = g.matMul(v, g.initializer(`${name}.weight_t`, wt, [inDim, outDim]));
    }
    return bias ? g.add(y, g.initializer(`${name}.bias`, bias, [outDim])) : y;
  };
  const dense = (v: string, name: string, outDim: number, inDim: number): string =>
    linear(v, name, bertWeight(weights, `${name}.weight`, [outDim, inDim]), outDim, inDim, bertWeight(weights, `${name}.bias`, [outDim]));

  if (fused) {
    // [b, s] int32, 1 attends.
    const maskIndex = g.cast(mask, DataType.INT32);
    for (let i = 0; i < cfg.numLayers; i++) x = fusedBlock(g, cfg, weights, x, maskIndex, `encoder.layer.${i}.`);
  }
  const splitHeads = fused ? "" : g.int64s([0, 0, heads, headDim], [4], "split_heads_shape"); // [b, s, H] -> [b, s, heads, headDim]
  const mergeHeads = fused ? "" : g.int64s([0, 0, H], [3], "merge_heads_shape"); // [b, s, heads, headDim] -> [b, s, H]
  const scoreScale = fused ? "" : g.floats([Math.sqrt(headDim)], [], "sqrt_head_dim");
  const sqrt2 = fused ? "" : g.floats([Math.SQRT2], [], "sqrt2");
  const half = fused ? "" : g.floats([0.5], [], "half");
  for (let i = 0; i < (fused ? 0 : cfg.numLayers); i++) {
    const p = `encoder.layer.${i}.`;
    // q, v: [b, heads, s, headDim]; k: [b, heads, headDim, s].
    const q = g.transpose(g.reshape(dense(x, `${p}attention.self.query`, H, H), splitHeads), [0, 2, 1, 3]);
    const k = g.transpose(g.reshape(dense(x, `${p}attention.self.key`, H, H), splitHeads), [0, 2, 3, 1]);
    const v = g.transpose(g.reshape(dense(x, `${p}attention.self.value`, H, H), splitHeads), [0, 2, 1, 3]);
    const scores = g.add(g.div(g.matMul(q, k), scoreScale), additiveMask); // [b, heads, s, s]
    const context = g.matMul(g.softmax(scores, -1), v); // [b, heads, s, headDim]
    const merged = g.reshape(g.transpose(context, [0, 2, 1, 3]), mergeHeads); // [b, s, H]
    const h = layerNorm(g.add(dense(merged, `${p}attention.output.dense`, H, H), x), `${p}attention.output.LayerNorm`);
    const inner = dense(h, `${p}intermediate.dense`, cfg.intermediateSize, H); // [b, s, I]
    const gelu = g.mul(g.mul(inner, g.add(g.erf(g.div(inner, sqrt2)), one)), half); // x * (1 + erf(x / sqrt2)) / 2
    x = layerNorm(g.add(dense(gelu, `${p}output.dense`, H, cfg.intermediateSize), h), `${p}output.LayerNorm`);
  }

  if (opts.classifier) {
    const c = opts.classifier;
    if (opts.head || opts.normalize) throw new ColtsError("CONFIG_INVALID", "a classifier graph has no token head or normalisation");
    if (c.poolerWeight.length !== H * H || c.poolerBias.length !== H || c.weight.length !== c.labels * H || c.bias.length !== c.labels) {
      throw new ColtsError("CONFIG_INVALID", `classifier weights are not pooler [${H}, ${H}] + [${H}] and classifier [${c.labels}, ${H}] + [${c.labels}]`);
    }
    const cls = g.gather(x, g.int64s([0], [], "cls_position"), 1); // [b, H]: the [CLS] token
    const pooled = g.op("Tanh", [linear(cls, "pooler.dense", c.poolerWeight, H, H, c.poolerBias)]); // [b, H]
    g.output("logits", DataType.FLOAT, ["batch", c.labels], linear(pooled, "classifier", c.weight, c.labels, H, c.bias)); // [b, labels]
    return g.toModel({ producer: opts.producer ?? "colts" });
  }

  let outDim = H;
  if (opts.head) {
    const { weight, dim } = opts.head;
    if (!Number.isInteger(dim) || dim <= 0 || weight.length !== dim * H) {
      throw new ColtsError("CONFIG_INVALID", `head weight has ${weight.length} values, expected [${dim}, ${H}]`);
    }
    x = linear(x, "head", weight, dim, H); // [b, s, dim]
    outDim = dim;
  }
  if (opts.normalize) {
    const norm = g.max(g.reduceL2(x, [-1], true), g.floats([NORMALIZE_EPS], [], "normalize_eps")); // [b, s, 1]
    x = g.div(x, norm);
  }
  g.output(opts.head ? "output" : "last_hidden_state", DataType.FLOAT, ["batch", "sequence", outDim], x);
  return g.toModel({ producer: opts.producer ?? "colts", ...(fused ? { extraOpsets: [{ domain: MS_DOMAIN, version: 1 }] } : {}) });
}

/** onnxruntime's contrib operator domain. */
const MS_DOMAIN = "com.microsoft";

/** [rows, a] and [rows, b] ... row-major side by side -> [rows, a + b + ...]. */
function concatColumns(parts: readonly Float32Array[], rows: number): Float32Array {
  const widths = parts.map((m) => m.length / rows);
  const total = widths.reduce((a, b) => a + b, 0);
  const out = new Float32Array(rows * total);
  for (let r = 0; r < rows; r++) {
    let at = r * total;
    parts.forEach((m, j) => {
      const w = widths[j] as number;
      out.set(m.subarray(r * w, (r + 1) * w), at);
      at += w;
    });
  }
  return out;
}

/**
 * One post-LayerNorm BERT block from contrib operators (see BertOnnxOptions.fused).
 * x: [b, s, H]; maskIndex: [b, s] int32 (1 = attend); returns [b, s, H].
 */
function fusedBlock(g: GraphBuilder, cfg: BertConfig, weights: BertWeights, x: string, maskIndex: string, p: string): string {
  const H = cfg.hiddenSize;
  const I = cfg.intermediateSize;
  const w = (name: string, shape: number[]): Float32Array => bertWeight(weights, `${p}${name}`, shape);
  const t = (name: string, out: number, inDim: number): Float32Array => transpose2d(w(`${name}.weight`, [out, inDim]), out, inDim); // [in, out]
  const qkv = concatColumns(["query", "key", "value"].map((n) => t(`attention.self.${n}`, H, H)), H); // [H, 3H]
  const qkvBias = concatColumns(["query", "key", "value"].map((n) => w(`attention.self.${n}.bias`, [H])), 1); // [3H]
  const attention = g.op(
    "Attention",
    [x, g.initializer(`${p}attention.qkv.weight_t`, qkv, [H, 3 * H]), g.initializer(`${p}attention.qkv.bias`, qkvBias, [3 * H]), maskIndex],
    { num_heads: attr.int(cfg.numHeads) },
    { domain: MS_DOMAIN },
  ); // [b, s, H], heads merged
  const skipLayerNorm = (v: string, skip: string, name: string, lnName: string, outDim: number): string =>
    g.op(
      "SkipLayerNormalization",
      [v, skip, g.initializer(`${p}${lnName}.weight`, w(`${lnName}.weight`, [outDim]), [outDim]), g.initializer(`${p}${lnName}.bias`, w(`${lnName}.bias`, [outDim]), [outDim]), g.initializer(`${p}${name}.bias`, w(`${name}.bias`, [outDim]), [outDim])],
      { epsilon: attr.float(cfg.layerNormEps) },
      { domain: MS_DOMAIN },
    ); // LayerNorm(v + skip + bias)
  const projected = g.matMul(attention, g.initializer(`${p}attention.output.dense.weight_t`, t("attention.output.dense", H, H), [H, H]));
  const h = skipLayerNorm(projected, x, "attention.output.dense", "attention.output.LayerNorm", H);
  const inner = g.matMul(h, g.initializer(`${p}intermediate.dense.weight_t`, t("intermediate.dense", I, H), [H, I])); // [b, s, I]
  const gelu = g.op("BiasGelu", [inner, g.initializer(`${p}intermediate.dense.bias`, w("intermediate.dense.bias", [I]), [I])], {}, { domain: MS_DOMAIN });
  const out = g.matMul(gelu, g.initializer(`${p}output.dense.weight_t`, t("output.dense", H, I), [I, H]));
  return skipLayerNorm(out, h, "output.dense", "output.LayerNorm", H);
}
