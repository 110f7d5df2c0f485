/**
 * Reference engine (tfjs on WebAssembly, independent of onnxruntime): the trainer colts had before its
 * onnxruntime trainer, kept for the parity tests (test/train/ort-trainer.test.ts) and the training
 * benchmark. Not part of the package.
 *
 * The trainable ColBERT encoder: HF BERT (embeddings with token types and positions, post-LayerNorm
 * blocks, erf GELU; XLM-R's RoBERTa position ids when the config has them) + the PyLate Dense head, as tfjs variables named like the checkpoint
 * (`embeddings.word_embeddings.weight`, ..., `dense.0.weight`, `mhead.<d>.weight` for a separate
 * Matryoshka head of dimension d). The same computation as
 * src/testing/bert-reference.ts and the ONNX graph of bert-graph.ts, so the exported model encodes what
 * was trained (test/train/model.test.ts checks this against onnxruntime).
 *
 * Shapes: B sequences of S tokens, hidden H, heads nh of width hd = H / nh, output dim D.
 * No dropout: training is deterministic given the data order, which is what makes resume exact.
 */
import { ColtsError } from "../../../src/errors.js";
import type { BertConfig, BertWeights } from "../../../src/model/bert-weights.js";
import type { ColbertCheckpoint } from "../../../src/model/checkpoint.js";
import type { DenseLayer } from "../../../src/model/layout.js";
import type { TokenBatch } from "../../../src/train/batch.js";
import { tf } from "./tf.js";

export type { TokenBatch } from "../../../src/train/batch.js";


/** Attention logits of masked keys; exp() of it is exactly 0 in float32, like the reference's FLOAT32_MIN. */
const MASKED = -1e9;

let instances = 0;

/** RoBERTa position ids of rows of S ids: cumulative count of non-padding ids, times "not padding", plus paddingIdx. */
function robertaPositions(ids: Int32Array, S: number, paddingIdx: number): Int32Array {
  const out = new Int32Array(ids.length);
  for (let r = 0; r < ids.length / S; r++) {
    let count = 0;
    for (let s = 0; s < S; s++) {
      const notPad = ids[r * S + s] === paddingIdx ? 0 : 1;
      count += notPad;
      out[r * S + s] = count * notPad + paddingIdx;
    }
  }
  return out;
}

export class TrainableColbert {
  readonly config: BertConfig;
  /** tfjs variable names are global: each model's are `m<n>/<param name>`. */
  readonly prefix = `m${instances++}/`;
  readonly params: Map<string, tf.Variable>;
  /** Head layers without their weights (activation, bias presence, sizes). */
  private readonly headShape: Omit<DenseLayer, "weight" | "bias">[];

  /** Separate Matryoshka heads (sizes only), by dimension; their weights are `mhead.<d>.weight` / `.bias`. */
  private readonly ownHeads: Map<number, Omit<DenseLayer, "weight" | "bias">>;

  constructor(ckpt: Pick<ColbertCheckpoint, "config" | "weights" | "dense"> & Partial<Pick<ColbertCheckpoint, "matryoshkaHeads">>) {
    this.config = ckpt.config;
    this.params = new Map();
    for (const [name, t] of ckpt.weights) this.params.set(name, tf.variable(tf.tensor(t.data, t.shape), true, this.prefix + name));
    this.headShape = ckpt.dense.map(({ weight: _w, bias: _b, ...shape }) => shape);
    for (const [i, l] of ckpt.dense.entries()) {
      this.params.set(`dense.${i}.weight`, tf.variable(tf.tensor(l.weight, [l.outFeatures, l.inFeatures]), true, `${this.prefix}dense.${i}.weight`));
      if (l.bias) this.params.set(`dense.${i}.bias`, tf.variable(tf.tensor(l.bias, [l.outFeatures]), true, `${this.prefix}dense.${i}.bias`));
    }
    this.ownHeads = new Map();
    for (const [d, l] of ckpt.matryoshkaHeads ?? []) {
      const { weight, bias, ...shape } = l;
      this.ownHeads.set(d, shape);
      this.params.set(`mhead.${d}.weight`, tf.variable(tf.tensor(weight, [l.outFeatures, l.inFeatures]), true, `${this.prefix}mhead.${d}.weight`));
      if (bias) this.params.set(`mhead.${d}.bias`, tf.variable(tf.tensor(bias, [l.outFeatures]), true, `${this.prefix}mhead.${d}.bias`));
    }
  }

  /** True when dimension `d` (smaller than `dim`) has its own head rather than a truncation of the main one. */
  hasOwnHead(d: number): boolean {
    return d !== this.dim && this.ownHeads.has(d);
  }

  /** Gradients from tf.variableGrads (keyed by variable name) re-keyed by parameter name; nulls dropped. */
  gradsByParam(grads: Record<string, tf.Tensor | null>): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const [k, t] of Object.entries(grads)) if (t !== null && k.startsWith(this.prefix)) out[k.slice(this.prefix.length)] = t;
    return out;
  }

  /** Output dimension of the head (hidden size without one). */
  get dim(): number {
    return this.headShape[this.headShape.length - 1]?.outFeatures ?? this.config.hiddenSize;
  }

  private p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new ColtsError("SAFETENSORS_INVALID", `trainable model has no weight ${name}`);
    return v;
  }

  /** x: [n, in] @ W^T + b, W: [out, in] (torch Linear layout). */
  private linear(x: tf.Tensor2D, name: string, bias = true): tf.Tensor2D {
    const y = tf.matMul<tf.Tensor2D>(x, this.p(`${name}.weight`), false, true);
    return bias ? tf.add<tf.Tensor2D>(y, this.p(`${name}.bias`)) : y;
  }

  /** Over the last axis: (x - mean) / sqrt(var + eps) * gamma + beta (biased variance, as HF). */
  private layerNorm(x: tf.Tensor2D, name: string): tf.Tensor2D {
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.config.layerNormEps)));
    return tf.add(tf.mul(normed, this.p(`${name}.weight`)), this.p(`${name}.bias`));
  }

  /** Last hidden state [B*S, H] of a batch. */
  hidden(batch: TokenBatch): tf.Tensor2D {
    const { rows: B, length: S } = batch;
    const H = this.config.hiddenSize;
    const nh = this.config.numHeads;
    const hd = H / nh;
    const pad = this.config.roberta?.paddingIdx;
    if ((pad === undefined ? S : pad + S + 1) > this.config.maxPositions) throw new ColtsError("INPUT_INVALID", `${S} tokens > ${this.config.maxPositions} positions`);
    const ids = tf.tensor1d(batch.ids, "int32");
    const words = tf.gather(this.p("embeddings.word_embeddings.weight"), ids) as tf.Tensor2D;
    const table = this.p("embeddings.position_embeddings.weight");
    // BERT: rows 0..S-1, broadcast over the batch. XLM-R: per token, gathered (HF
    // create_position_ids_from_input_ids: padding ids at paddingIdx, the others counted from paddingIdx + 1).
    const positions = pad === undefined ? tf.slice(table, [0, 0], [S, H]) : tf.reshape(tf.gather(table, tf.tensor1d(robertaPositions(batch.ids, S, pad), "int32")), [B, S, H]);
    // Token types are all 0 (as the encoder feeds them): row 0 of the type table, broadcast.
    const types = tf.slice(this.p("embeddings.token_type_embeddings.weight"), [0, 0], [1, H]);
    const emb = tf.add<tf.Tensor2D>(tf.reshape(tf.add(tf.reshape(words, [B, S, H]), positions), [B * S, H]), types);
    let x = this.layerNorm(emb, "embeddings.LayerNorm");
    const attn = tf.tensor2d(batch.attention, [B, S]);
    const maskBias = tf.reshape(tf.mul(tf.sub(1, attn), MASKED), [B, 1, 1, S]);
    const heads = (t: tf.Tensor2D): tf.Tensor4D => tf.transpose(tf.reshape(t, [B, S, nh, hd]), [0, 2, 1, 3]);
    for (let l = 0; l < this.config.numLayers; l++) {
      const p = `encoder.layer.${l}.`;
      const q = heads(this.linear(x, `${p}attention.self.query`));
      const k = heads(this.linear(x, `${p}attention.self.key`));
      const v = heads(this.linear(x, `${p}attention.self.value`));
      const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)), maskBias); // [B, nh, S, S]
      const ctx = tf.matMul(tf.softmax(scores), v); // [B, nh, S, hd]
      const merged = tf.reshape<tf.Rank.R2>(tf.transpose(ctx, [0, 2, 1, 3]), [B * S, H]);
      const a = this.layerNorm(tf.add(this.linear(merged, `${p}attention.output.dense`), x), `${p}attention.output.LayerNorm`);
      const u = this.linear(a, `${p}intermediate.dense`);
      const gelu = tf.mul<tf.Tensor2D>(tf.mul(u, 0.5), tf.add(1, tf.erf(tf.mul(u, Math.SQRT1_2))));
      x = this.layerNorm(tf.add(this.linear(gelu, `${p}output.dense`), a), `${p}output.LayerNorm`);
    }
    return x;
  }

  /** Head output before normalisation: [B, S, D]. */
  project(batch: TokenBatch): tf.Tensor3D {
    const projected = this.projectDims(batch, [this.dim]).get(this.dim);
    if (!projected) throw new ColtsError("DIM_UNSUPPORTED", `no output of dim ${this.dim}`);
    return projected;
  }

  /**
   * Head outputs before normalisation for each requested dimension, from one backbone pass:
   * d -> [B, S, D] (the main head, to be truncated to d) or [B, S, d] when d has its own head, which
   * replaces the last head layer (as the encoder applies it, src/encode/encoder.ts).
   */
  projectDims(batch: TokenBatch, dims: readonly number[]): Map<number, tf.Tensor3D> {
    let y = this.hidden(batch);
    const last = this.headShape.length - 1;
    const out = new Map<number, tf.Tensor3D>();
    const shaped = (t: tf.Tensor2D, width: number): tf.Tensor3D => tf.reshape(t, [batch.rows, batch.length, width]);
    for (const [i, l] of this.headShape.entries()) {
      if (i === last) {
        for (const d of dims.filter((x) => this.hasOwnHead(x))) out.set(d, shaped(this.layer(y, `mhead.${d}`, this.ownHeads.get(d)?.activation ?? "identity"), d));
      }
      y = this.layer(y, `dense.${i}`, l.activation);
    }
    const full = shaped(y, this.dim);
    for (const d of dims) if (!out.has(d)) out.set(d, full);
    return out;
  }

  /** One head layer: linear (bias when the checkpoint has one), then its activation. */
  private layer(x: tf.Tensor2D, name: string, activation: DenseLayer["activation"]): tf.Tensor2D {
    const y = this.linear(x, name, this.params.has(`${name}.bias`));
    return activation === "tanh" ? tf.tanh(y) : y;
  }

  /** Weights back as a checkpoint's arrays (for export and training state). */
  snapshot(): { weights: BertWeights; dense: DenseLayer[]; matryoshkaHeads: Map<number, DenseLayer> } {
    const weights: BertWeights = new Map();
    for (const [name, v] of this.params) {
      if (!name.startsWith("dense.") && !name.startsWith("mhead.")) weights.set(name, { shape: v.shape.slice(), data: new Float32Array(v.dataSync()) });
    }
    const read = (shape: Omit<DenseLayer, "weight" | "bias">, name: string): DenseLayer => ({
      ...shape,
      weight: new Float32Array(this.p(`${name}.weight`).dataSync()),
      bias: this.params.has(`${name}.bias`) ? new Float32Array(this.p(`${name}.bias`).dataSync()) : null,
    });
    const dense = this.headShape.map((l, i) => read(l, `dense.${i}`));
    const matryoshkaHeads = new Map([...this.ownHeads].map(([d, l]) => [d, read(l, `mhead.${d}`)] as const));
    return { weights, dense, matryoshkaHeads };
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}

/**
 * Unit vectors of the first `dims` coordinates (Matryoshka truncation; `dims` = D is the plain model):
 * y: [B, S, D] -> [B, S, dims], each row divided by max(||row||, 1e-12) as the encoder does.
 */
export function normalizeTruncated(y: tf.Tensor3D, dims: number): tf.Tensor3D {
  const [B, S, D] = y.shape;
  const t = dims === D ? y : tf.slice(y, [0, 0, 0], [B, S, dims]);
  const norm = tf.sqrt(tf.sum(tf.square(t), -1, true));
  return tf.div(t, tf.maximum(norm, 1e-12));
}

/**
 * MaxSim of every query against every document, in one product.
 * q: [nq, Lq, d] unit rows, qKeep: [nq, Lq]; docs: [nd, Ld, d] unit rows, dKeep: [nd, Ld] -> [nq, nd].
 * Removed document tokens get -1e4 so they never win the max (cosines lie in [-1, 1]); removed query
 * tokens contribute 0.
 */
export function maxsimScores(q: tf.Tensor3D, qKeep: tf.Tensor2D, docs: tf.Tensor3D, dKeep: tf.Tensor2D): tf.Tensor2D {
  const [nq, lq, d] = q.shape;
  const [nd, ld] = docs.shape;
  const sims = tf.reshape(tf.matMul(tf.reshape(q, [nq * lq, d]), tf.reshape(docs, [nd * ld, d]), false, true), [nq, lq, nd, ld]);
  const masked = tf.add(sims, tf.reshape(tf.mul(tf.sub(dKeep, 1), 1e4), [1, 1, nd, ld]));
  const best = tf.max(masked, 3); // [nq, Lq, nd]
  return tf.sum(tf.mul(best, tf.reshape(qKeep, [nq, lq, 1])), 1);
}
