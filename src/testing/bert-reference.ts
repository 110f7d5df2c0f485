/**
 * Plain TypeScript forward pass of the BERT encoder (+ optional head and normalisation) that
 * bert-graph.ts builds as ONNX. Float64 loops, slow and obvious on purpose: it is the reference the
 * ONNX graph (and later training code) is checked against. Sequences are processed one at a time.
 */
import { ColtsError } from "../errors.js";
import { bertWeight, checkConfig, type BertConfig, type BertWeights } from "../model/bert-weights.js";

/** Token inputs of `bertForward`, one row per sequence. */
export interface BertBatch {
  /** Token ids per sequence (rows may differ in length; each row is its own sequence). */
  inputIds: number[][];
  /** 1 = attended, 0 = padding; same shape as inputIds. */
  attentionMask: number[][];
  /** Segment ids; all 0 when omitted. */
  tokenTypeIds?: number[][];
}

/** What follows the encoder in `bertForward`, as in `BertOnnxOptions`; default: nothing (hidden states). */
export interface BertForwardOptions {
  /** Projection [dim, hidden] (torch Linear layout, no bias). */
  head?: { weight: Float32Array; dim: number };
  /** x / max(||x||, 1e-12) per token, after the head. */
  normalize?: boolean;
  /**
   * RoBERTa / XLM-R position ids: the k-th non-padding token (k = 1, 2, ...) gets position
   * paddingIdx + k, a padding token gets paddingIdx. Default: BERT's 0..seq-1.
   */
  roberta?: { paddingIdx: number };
}

const FLOAT32_MIN = -3.4028234663852886e38;

/** erf(x) to ~1e-15: positive-term series for |x| < 3 (no cancellation), continued fraction for erfc beyond. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    // erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n x (2x^2)^n / (1*3*...*(2n+1))
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200 && term > 1e-17 * sum; n++) {
      term *= (2 * ax * ax) / (2 * n + 1);
      sum += term;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-ax * ax) * sum;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))), evaluated bottom-up.
  let k = ax;
  for (let n = 60; n >= 1; n--) k = ax + n / 2 / k;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / k;
  return Math.sign(x) * (1 - erfc);
}

/** x: [rows, inDim] @ w^T + b -> [rows, outDim]; w: [outDim, inDim] torch Linear layout. */
function linear(x: Float64Array, rows: number, inDim: number, w: Float32Array, outDim: number, b?: Float32Array): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let s = b ? (b[o] ?? 0) : 0;
      for (let i = 0; i < inDim; i++) s += (x[r * inDim + i] ?? 0) * (w[o * inDim + i] ?? 0);
      y[r * outDim + o] = s;
    }
  }
  return y;
}

/** In place over each row of x: [rows, dim]: (x - mean) / sqrt(var + eps) * gamma + beta (biased variance). */
function layerNorm(x: Float64Array, rows: number, dim: number, gamma: Float32Array, beta: Float32Array, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * dim, (r + 1) * dim);
    let mean = 0;
    for (const v of row) mean += v;
    mean /= dim;
    let variance = 0;
    for (const v of row) variance += (v - mean) * (v - mean);
    const inv = 1 / Math.sqrt(variance / dim + eps);
    for (let i = 0; i < dim; i++) row[i] = ((row[i] ?? 0) - mean) * inv * (gamma[i] ?? 0) + (beta[i] ?? 0);
  }
}

/** a += b elementwise. */
function addInto(a: Float64Array, b: Float64Array): void {
  for (let i = 0; i < a.length; i++) a[i] = (a[i] ?? 0) + (b[i] ?? 0);
}

/** One sequence through the encoder; returns the last hidden state [seq, H]. */
function encodeSequence(cfg: BertConfig, weights: BertWeights, ids: number[], mask: number[], types: number[], positions: number[]): Float64Array {
  const H = cfg.hiddenSize;
  const S = ids.length;
  const heads = cfg.numHeads;
  const hd = H / heads;
  const w = (name: string, shape: number[]): Float32Array => bertWeight(weights, name, shape);
  const word = w("embeddings.word_embeddings.weight", [cfg.vocabSize, H]);
  const pos = w("embeddings.position_embeddings.weight", [cfg.maxPositions, H]);
  const typ = w("embeddings.token_type_embeddings.weight", [cfg.typeVocabSize, H]);
  let x: Float64Array = new Float64Array(S * H);
  for (let s = 0; s < S; s++) {
    const id = ids[s] ?? -1;
    const t = types[s] ?? 0;
    if (!(id >= 0 && id < cfg.vocabSize) || !(t >= 0 && t < cfg.typeVocabSize)) {
      throw new ColtsError("INPUT_INVALID", `token ${s}: id ${id} or type ${t} out of range`);
    }
    const ps = positions[s] ?? s;
    for (let i = 0; i < H; i++) x[s * H + i] = (word[id * H + i] ?? 0) + (pos[ps * H + i] ?? 0) + (typ[t * H + i] ?? 0);
  }
  layerNorm(x, S, H, w("embeddings.LayerNorm.weight", [H]), w("embeddings.LayerNorm.bias", [H]), cfg.layerNormEps);
  const dense = (v: Float64Array, name: string, outDim: number, inDim: number): Float64Array =>
    linear(v, S, inDim, w(`${name}.weight`, [outDim, inDim]), outDim, w(`${name}.bias`, [outDim]));

  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `encoder.layer.${l}.`;
    const q = dense(x, `${p}attention.self.query`, H, H); // [S, H], head h = columns [h*hd, (h+1)*hd)
    const k = dense(x, `${p}attention.self.key`, H, H);
    const v = dense(x, `${p}attention.self.value`, H, H);
    const ctx = new Float64Array(S * H);
    const scores = new Float64Array(S);
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < S; i++) {
        let max = -Infinity;
        for (let j = 0; j < S; j++) {
          let dot = 0;
          for (let d = 0; d < hd; d++) dot += (q[i * H + h * hd + d] ?? 0) * (k[j * H + h * hd + d] ?? 0);
          const sc = dot / Math.sqrt(hd) + (1 - (mask[j] ?? 0)) * FLOAT32_MIN;
          scores[j] = sc;
          max = Math.max(max, sc);
        }
        let sum = 0;
        for (let j = 0; j < S; j++) sum += scores[j] = Math.exp((scores[j] ?? 0) - max);
        for (let j = 0; j < S; j++) {
          const pj = (scores[j] ?? 0) / sum;
          for (let d = 0; d < hd; d++) ctx[i * H + h * hd + d] = (ctx[i * H + h * hd + d] ?? 0) + pj * (v[j * H + h * hd + d] ?? 0);
        }
      }
    }
    const attn = dense(ctx, `${p}attention.output.dense`, H, H);
    addInto(attn, x);
    layerNorm(attn, S, H, w(`${p}attention.output.LayerNorm.weight`, [H]), w(`${p}attention.output.LayerNorm.bias`, [H]), cfg.layerNormEps);
    const inner = dense(attn, `${p}intermediate.dense`, cfg.intermediateSize, H);
    for (let i = 0; i < inner.length; i++) {
      const u = inner[i] ?? 0;
      inner[i] = 0.5 * u * (1 + erf(u / Math.SQRT2));
    }
    const out = dense(inner, `${p}output.dense`, H, cfg.intermediateSize);
    addInto(out, attn);
    layerNorm(out, S, H, w(`${p}output.LayerNorm.weight`, [H]), w(`${p}output.LayerNorm.bias`, [H]), cfg.layerNormEps);
    x = out;
  }
  return x;
}

/** Per sequence: Float32Array [seq, outDim] row-major (outDim = head.dim or hidden size). */
export function bertForward(cfg: BertConfig, weights: BertWeights, batch: BertBatch, opts: BertForwardOptions = {}): Float32Array[] {
  checkConfig(cfg);
  const H = cfg.hiddenSize;
  return batch.inputIds.map((ids, b) => {
    const mask = batch.attentionMask[b];
    const types = batch.tokenTypeIds?.[b] ?? ids.map(() => 0);
    if (!mask || mask.length !== ids.length || types.length !== ids.length) {
      throw new ColtsError("INPUT_INVALID", `sequence ${b}: attention mask / token types do not match ${ids.length} ids`);
    }
    let positions = ids.map((_, s) => s);
    if (opts.roberta) {
      const padIdx = opts.roberta.paddingIdx;
      let seen = 0;
      positions = ids.map((id) => (id === padIdx ? padIdx : padIdx + ++seen));
    }
    const last = Math.max(-1, ...positions);
    if (last >= cfg.maxPositions) throw new ColtsError("INPUT_INVALID", `sequence ${b}: position ${last} >= ${cfg.maxPositions} positions`);
    let y: Float64Array = encodeSequence(cfg, weights, ids, mask, types, positions);
    let dim = H;
    if (opts.head) {
      if (opts.head.weight.length !== opts.head.dim * H) throw new ColtsError("CONFIG_INVALID", `head weight is not [${opts.head.dim}, ${H}]`);
      y = linear(y, ids.length, H, opts.head.weight, opts.head.dim);
      dim = opts.head.dim;
    }
    if (opts.normalize) {
      for (let s = 0; s < ids.length; s++) {
        const row = y.subarray(s * dim, (s + 1) * dim);
        let n = 0;
        for (const v of row) n += v * v;
        const denom = Math.max(Math.sqrt(n), 1e-12);
        for (let i = 0; i < dim; i++) row[i] = (row[i] ?? 0) / denom;
      }
    }
    return Float32Array.from(y);
  });
}
