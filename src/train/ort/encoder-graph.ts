/**
 * The trainable ColBERT encoder as one differentiable ONNX graph (runtime/autodiff): Hugging Face
 * BERT (word + position + token-type embeddings, post-LayerNorm blocks, erf GELU; XLM-R is the same
 * network with RoBERTa's position ids, computed by the caller), the PyLate Dense head(s), Matryoshka
 * truncation and L2 normalisation, with dropout where BERT has it. Weights are graph inputs under
 * their checkpoint names, so one graph serves every step; with `backward`, the graph also takes the
 * gradient of each output and returns every weight's gradient (the encoder half of a GradCache step:
 * the loss is computed elsewhere over the whole batch's vectors).
 *
 * Shapes: B sequences of S tokens, hidden H, nh heads of width hd = H / nh, output dims d.
 * Inputs:  input_ids, position_ids, token_type_ids: int64 [B, S]; mask_bias: [B, 1, 1, S] (0 for
 *          attended keys, -1e9 for padding); with dropout, uint8 keep masks (1 keeps): drop_emb
 *          [B, S, H], drop_<l>_attn [B, nh, S, S], drop_<l>_attn_out and drop_<l>_out [B, S, H],
 *          where BERT applies dropout (hidden probability, attention probability for the attention
 *          weights), scaled by 1 / (1 - p).
 *          Packed (a sequence stream of the step graph): the ids, positions and types are [T], the
 *          real tokens of every sequence one after another, and so are the hidden-size dropout masks
 *          ([T, H]); pad_index [B·S] and unpad_index [T] map between the two layouts. Every per-token
 *          layer (embeddings, projections, feed-forward, LayerNorms, head) then runs on [T, ...]
 *          rows; only attention spreads them into [B, S]. Same numbers, none of the padding's work.
 * Outputs: emb_<d>: [B, S, d] unit rows, per requested dim d (zero rows at padding when packed).
 * Backward: inputs grad_emb_<d> [B, S, d], and for each of input_ids, position_ids and
 *           token_type_ids its distinct values <name>_unique [U] and their index per token
 *           <name>_inverse [B, S] (runtime/autodiff `dedupIds`); outputs grad/<weight name> with the
 *           weight's shape.
 */
import { ColtsError } from "../../errors.js";
import type { BertConfig } from "../../model/bert-weights.js";
import type { DenseLayer } from "../../model/layout.js";
import { DiffGraph, type FloatType, type Value } from "../../runtime/autodiff/diff-graph.js";
import type { Dim, OnnxModel } from "../../runtime/onnx/proto.js";

/** A head layer without its weights: sizes, activation and whether it has a bias. */
export type HeadShape = Pick<DenseLayer, "inFeatures" | "outFeatures" | "activation"> & {
  /** Whether the layer adds a bias (`<name>.bias` is then a weight). */
  bias: boolean;
};

/** What the graph computes. */
export interface EncoderGraphSpec {
  /** The BERT backbone's shape. */
  config: BertConfig;
  /** Head layers in order (`dense.<i>.weight` / `.bias`); empty for hidden states. */
  head: readonly HeadShape[];
  /** Separate Matryoshka heads by dim (`mhead.<d>.weight` / `.bias`): each replaces the last head layer for its dim. */
  ownHeads: ReadonlyMap<number, HeadShape>;
  /** Output dims; a dim without its own head is a truncation of the main head's output. */
  dims: readonly number[];
  /** Dropout probabilities (BERT's hidden and attention-weights dropout); null: no dropout inputs. */
  dropout: { hidden: number; attention: number } | null;
  /** Whether to append the backward pass. */
  backward: boolean;
  /** FLOAT for training, DOUBLE for gradient checks. Default FLOAT. */
  dtype?: FloatType;
  /** Whether the sequences come packed (see the module comment). Default false. */
  packed?: boolean;
}

/** The built graph and the names a caller feeds and reads. */
export interface EncoderGraph {
  /** The ONNX model. */
  model: OnnxModel;
  /** The backbone's shape (for the caller's dropout inputs). */
  config: BertConfig;
  /** Every weight input, in a fixed order, with its shape. */
  weights: { name: string; shape: number[] }[];
  /** Output name per dim (`emb_<d>`). */
  outputs: Map<number, string>;
  /** With backward: the gradient input per dim (`grad_emb_<d>`). */
  gradInputs: Map<number, string>;
  /** With backward: the gradient output per weight name (`grad/<name>`). */
  gradOutputs: Map<string, string>;
  /**
   * Weights no output depends on (a separate head for a dim not trained, the main head's last layer
   * when every trained dim has its own head): they get no gradient, so an optimizer leaves them alone.
   */
  unused: Set<string>;
}

/** The weight names and shapes of a backbone and head (as readColbertCheckpoint names them). */
export function encoderWeightShapes(spec: Pick<EncoderGraphSpec, "config" | "head" | "ownHeads">): { name: string; shape: number[] }[] {
  const c = spec.config;
  const H = c.hiddenSize;
  const out: { name: string; shape: number[] }[] = [
    { name: "embeddings.word_embeddings.weight", shape: [c.vocabSize, H] },
    { name: "embeddings.position_embeddings.weight", shape: [c.maxPositions, H] },
    { name: "embeddings.token_type_embeddings.weight", shape: [c.typeVocabSize, H] },
    { name: "embeddings.LayerNorm.weight", shape: [H] },
    { name: "embeddings.LayerNorm.bias", shape: [H] },
  ];
  const linear = (name: string, o: number, i: number, bias = true): void => {
    out.push({ name: `${name}.weight`, shape: [o, i] });
    if (bias) out.push({ name: `${name}.bias`, shape: [o] });
  };
  for (let l = 0; l < c.numLayers; l++) {
    const p = `encoder.layer.${l}.`;
    for (const n of ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]) linear(p + n, H, H);
    out.push({ name: `${p}attention.output.LayerNorm.weight`, shape: [H] }, { name: `${p}attention.output.LayerNorm.bias`, shape: [H] });
    linear(`${p}intermediate.dense`, c.intermediateSize, H);
    linear(`${p}output.dense`, H, c.intermediateSize);
    out.push({ name: `${p}output.LayerNorm.weight`, shape: [H] }, { name: `${p}output.LayerNorm.bias`, shape: [H] });
  }
  spec.head.forEach((l, i) => linear(`dense.${i}`, l.outFeatures, l.inFeatures, l.bias));
  for (const [d, l] of [...spec.ownHeads].sort((a, b) => a[0] - b[0])) linear(`mhead.${d}`, l.outFeatures, l.inFeatures, l.bias);
  return out;
}

/** The encoder's weights in a DiffGraph, by checkpoint name. */
export type WeightValues = (name: string) => Value;

/** Declares every weight of `spec` as a parameter of `dg`; returns the lookup and the shapes. */
export function declareWeights(dg: DiffGraph, spec: Pick<EncoderGraphSpec, "config" | "head" | "ownHeads">): { W: WeightValues; shapes: { name: string; shape: number[] }[] } {
  const shapes = encoderWeightShapes(spec);
  const w = new Map<string, Value>(shapes.map((s) => [s.name, dg.param(s.name, s.shape)]));
  const W = (name: string): Value => {
    const v = w.get(name);
    if (!v) throw new ColtsError("SAFETENSORS_INVALID", `the encoder graph has no weight ${name}`);
    return v;
  };
  return { W, shapes };
}

/** Checks the spec's dims against its head; returns the main head's output dim. */
function checkDims(spec: Pick<EncoderGraphSpec, "config" | "head" | "ownHeads" | "dims">): number {
  const c = spec.config;
  if (c.hiddenSize % c.numHeads !== 0) throw new ColtsError("CONFIG_INVALID", `hidden size ${c.hiddenSize} is not a multiple of ${c.numHeads} heads`);
  const mainDim = spec.head[spec.head.length - 1]?.outFeatures ?? c.hiddenSize;
  for (const d of spec.dims) {
    if (!Number.isInteger(d) || d < 1 || (d > mainDim && !spec.ownHeads.has(d))) throw new ColtsError("DIM_UNSUPPORTED", `output dim ${d} is not in [1, ${mainDim}]`);
  }
  return mainDim;
}

/**
 * The encoder applied to one set of sequences inside `dg`: its inputs are the module comment's,
 * each name prefixed by `prefix` ("" for the encoder graph; "q_" and "d_" when one graph encodes
 * queries and documents). Returns the unit vectors per dim. `withDedup` declares the ids' distinct
 * values and inverse indices that the embedding gathers' gradients read; `packed` takes the packed
 * inputs of the module comment.
 */
export function encodeSequences(dg: DiffGraph, W: WeightValues, spec: Omit<EncoderGraphSpec, "backward" | "dtype" | "packed">, prefix: string, withDedup: boolean, packed = false): Map<number, Value> {
  const c = spec.config;
  const H = c.hiddenSize;
  const nh = c.numHeads;
  const hd = H / nh;
  const mainDim = checkDims(spec);
  // Symbolic dims are per stream: onnxruntime plans buffers by dim name, and queries and documents
  // differ in both.
  const Bn = `${prefix}B`;
  const Sn = `${prefix}S`;
  // Per-token inputs: [B, S], or [T] when packed (only the real tokens, sequence after sequence).
  const Tn = `${prefix}T`;
  const tokens: Dim[] = packed ? [Tn] : [Bn, Sn];
  const ids = dg.indices(`${prefix}input_ids`, tokens);
  const positions = dg.indices(`${prefix}position_ids`, tokens);
  const types = dg.indices(`${prefix}token_type_ids`, tokens);
  const maskBias = dg.input(`${prefix}mask_bias`, [Bn, 1, 1, Sn]);
  const layout = packed ? packedLayout(dg, prefix, maskBias, Tn) : null;
  const rates = spec.dropout;
  const drop = (name: string, shape: (string | number)[], x: Value, p: number): Value => (rates && p > 0 ? dg.dropout(x, dg.bytes(prefix + name, shape), p) : x);
  /** x: [.., in] @ Wᵀ + b, W: [out, in] (torch Linear layout). */
  const linear = (x: Value, name: string, bias = true): Value => {
    const y = dg.matMul(x, dg.transpose(W(`${name}.weight`), [1, 0]));
    return bias ? dg.add(y, W(`${name}.bias`)) : y;
  };
  const layerNorm = (x: Value, name: string): Value => dg.layerNorm(x, W(`${name}.weight`), W(`${name}.bias`), c.layerNormEps);
  // Attention needs each sequence's tokens side by side: packed rows are spread into [B·S, H] first.
  const heads = (x: Value): Value => {
    const padded = layout ? dg.reshape(layout.pad(x), layout.shape([nh, hd]), [Bn, Sn, nh, hd]) : dg.reshape(x, [0, 0, nh, hd], [Bn, Sn, nh, hd]);
    return dg.transpose(padded, [0, 2, 1, 3]); // [B, nh, S, hd]
  };
  const merge = (context: Value): Value => {
    const bsh = dg.transpose(context, [0, 2, 1, 3]); // [B, S, nh, hd]
    return layout ? layout.unpad(dg.reshape(bsh, [-1, H], [`${prefix}BS`, H])) : dg.reshape(bsh, [0, 0, H], [Bn, Sn, H]);
  };
  const hiddenShape: Dim[] = [...tokens, H];

  // Only a backward pass reads the ids' distinct values, so only its graph declares them.
  const dedup = (name: string): { unique: string; inverse: string } =>
    withDedup ? { unique: dg.indices(`${prefix}${name}_unique`, [`U_${prefix}${name}`]), inverse: dg.indices(`${prefix}${name}_inverse`, tokens) } : { unique: "", inverse: "" };
  const words = dg.gather(W("embeddings.word_embeddings.weight"), ids, tokens, dedup("input_ids"));
  const pos = dg.gather(W("embeddings.position_embeddings.weight"), positions, tokens, dedup("position_ids"));
  const typ = dg.gather(W("embeddings.token_type_embeddings.weight"), types, tokens, dedup("token_type_ids"));
  const hidden = rates?.hidden ?? 0;
  const attention = rates?.attention ?? 0;
  let x = drop("drop_emb", hiddenShape, layerNorm(dg.add(dg.add(words, pos), typ), "embeddings.LayerNorm"), hidden); // [B, S, H] or [T, H]
  for (let l = 0; l < c.numLayers; l++) {
    const p = `encoder.layer.${l}.`;
    const q = heads(linear(x, `${p}attention.self.query`));
    const k = heads(linear(x, `${p}attention.self.key`));
    const v = heads(linear(x, `${p}attention.self.value`));
    const scores = dg.add(dg.scale(dg.matMul(q, dg.transpose(k, [0, 1, 3, 2])), 1 / Math.sqrt(hd)), maskBias); // [B, nh, S, S]
    const probs = drop(`drop_${l}_attn`, [Bn, nh, Sn, Sn], dg.softmax(scores, -1), attention);
    const context = merge(dg.matMul(probs, v)); // [B, S, H] or [T, H]
    const a = layerNorm(dg.add(drop(`drop_${l}_attn_out`, hiddenShape, linear(context, `${p}attention.output.dense`), hidden), x), `${p}attention.output.LayerNorm`);
    const inner = dg.gelu(linear(a, `${p}intermediate.dense`)); // [B, S, I] or [T, I]
    x = layerNorm(dg.add(drop(`drop_${l}_out`, hiddenShape, linear(inner, `${p}output.dense`), hidden), a), `${p}output.LayerNorm`);
  }

  // Head: every layer in order; a dim with its own head swaps in that head for the last layer.
  const activate = (y: Value, shape: HeadShape): Value => (shape.activation === "tanh" ? dg.tanh(y) : y);
  const projected = new Map<number, Value>();
  let y = x;
  spec.head.forEach((layer, i) => {
    if (i === spec.head.length - 1) {
      for (const d of spec.dims) {
        const own = spec.ownHeads.get(d);
        if (own && d !== mainDim) projected.set(d, activate(linear(y, `mhead.${d}`, own.bias), own));
      }
    }
    y = activate(linear(y, `dense.${i}`, layer.bias), layer);
  });
  const unit = (d: number): Value => dg.l2Normalize(projected.get(d) ?? dg.sliceLast(y, d));
  // Packed vectors go back to [B, S, d] (zero rows at padding) for the caller's MaxSim.
  const padded = (d: number): Value => (layout ? dg.reshape(layout.pad(unit(d)), layout.shape([d]), [Bn, Sn, d]) : unit(d));
  return new Map(spec.dims.map((d) => [d, padded(d)] as const));
}

/**
 * The index inputs of a packed stream and the moves between its layouts: `pad` spreads packed rows
 * [T, C] into [B·S, C], `unpad` takes them back, `shape` is [B, S, ...tail] read from the mask.
 * Inputs: <prefix>pad_index [B·S] (the packed row of each slot; T for a padding slot) and
 * <prefix>unpad_index [T] (the slot of each packed row), int64.
 */
function packedLayout(dg: DiffGraph, prefix: string, maskBias: Value, Tn: string): { pad: (x: Value) => Value; unpad: (x: Value) => Value; shape: (tail: number[]) => string } {
  const BS = `${prefix}BS`;
  const padIndex = dg.indices(`${prefix}pad_index`, [BS]);
  const unpadIndex = dg.indices(`${prefix}unpad_index`, [Tn]);
  const g = dg.g;
  const bs = g.concat([g.shape(maskBias.name, 0, 1), g.shape(maskBias.name, 3, 4)], 0);
  return {
    pad: (x) => dg.padRows(x, padIndex, unpadIndex, BS),
    unpad: (x) => dg.unpadRows(x, unpadIndex, padIndex, Tn),
    shape: (tail) => g.concat([bs, g.int64s(tail)], 0),
  };
}

/**
 * Weights no output of `spec` depends on: a separate head only reaches its own dim; the main head's
 * last layer reaches every dim without its own head.
 */
export function unusedWeights(spec: Pick<EncoderGraphSpec, "config" | "head" | "ownHeads" | "dims">, names: readonly string[]): Set<string> {
  const mainDim = checkDims(spec);
  const lastMainUsed = spec.dims.some((d) => !(spec.ownHeads.has(d) && d !== mainDim));
  const reaches = (name: string): boolean => {
    const own = /^mhead\.(\d+)\./.exec(name);
    if (own) return spec.dims.includes(Number(own[1])) && Number(own[1]) !== mainDim;
    if (spec.head.length > 0 && name.startsWith(`dense.${spec.head.length - 1}.`)) return lastMainUsed;
    return true;
  };
  return new Set(names.filter((name) => !reaches(name)));
}

/** Builds the encoder graph (see the module comment). */
export function buildEncoderGraph(spec: EncoderGraphSpec): EncoderGraph {
  const c = spec.config;
  const dg = new DiffGraph({ name: "colbert_train", ...(spec.dtype ? { dtype: spec.dtype } : {}) });
  const { W, shapes } = declareWeights(dg, spec);
  const embeddings = encodeSequences(dg, W, spec, "", spec.backward, spec.packed ?? false);
  const outputs = new Map<number, string>();
  for (const [d, e] of embeddings) {
    dg.output(`emb_${d}`, e);
    outputs.set(d, `emb_${d}`);
  }

  const gradInputs = new Map<number, string>();
  const gradOutputs = new Map<string, string>();
  if (spec.backward) {
    const seeds = spec.dims.map((d) => {
      const grad = dg.input(`grad_emb_${d}`, ["B", "S", d]).name;
      gradInputs.set(d, grad);
      return { value: embeddings.get(d) as Value, grad };
    });
    const params = shapes.map((s) => W(s.name));
    dg.gradients(seeds, params).forEach((g, i) => {
      const s = shapes[i] as { name: string; shape: number[] };
      dg.g.output(`grad/${s.name}`, dg.dtype, s.shape, g);
      gradOutputs.set(s.name, `grad/${s.name}`);
    });
  }
  const unused = unusedWeights(spec, shapes.map((s) => s.name));
  return { model: dg.toModel("colts trainer"), config: c, weights: shapes, outputs, gradInputs, gradOutputs, unused };
}
