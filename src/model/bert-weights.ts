/**
 * BERT encoder configuration and weights, named as Hugging Face's BertModel names them (without the
 * "bert." prefix a BertForX checkpoint adds). Linear weights keep torch's [out, in] layout.
 * XLM-RoBERTa is the same network with other position ids (`BertConfig.roberta`); its weights have
 * the same names (under "roberta." in an XLMRobertaForX checkpoint).
 */
import { ColtsError } from "../errors.js";
import { Rng } from "../util/rng.js";

/** The shape of a BERT encoder, as Hugging Face's config.json gives it (`bertConfigFromHf`). */
export interface BertConfig {
  /** Number of token ids the word embedding table holds (HF vocab_size). */
  vocabSize: number;
  /** Width of every token vector between layers (HF hidden_size); a multiple of numHeads. */
  hiddenSize: number;
  /** Number of transformer layers (HF num_hidden_layers). */
  numLayers: number;
  /** Attention heads per layer (HF num_attention_heads); head size = hiddenSize / numHeads. */
  numHeads: number;
  /** Width of the feed-forward layer inside each block (HF intermediate_size). */
  intermediateSize: number;
  /** Rows of the absolute position embedding table = longest sequence (HF max_position_embeddings). */
  maxPositions: number;
  /** Rows of the token type (segment) embedding table (HF type_vocab_size, 2 for BERT). */
  typeVocabSize: number;
  /** Epsilon inside every LayerNorm (HF layer_norm_eps, 1e-12 for BERT, 1e-5 for XLM-R). */
  layerNormEps: number;
  /**
   * XLM-RoBERTa (HF model_type "xlm-roberta") position ids, as `create_position_ids_from_input_ids`:
   * the k-th token whose id is not `paddingIdx` (k = 1, 2, ...) gets position paddingIdx + k, every
   * padding token gets paddingIdx. `paddingIdx` is HF pad_token_id (1 for XLM-R), an integer in
   * [0, vocabSize); the position table needs longest sequence + paddingIdx + 1 rows. Absent (default):
   * BERT's positions 0..seq-1.
   */
  roberta?: { paddingIdx: number };
}

/** Tensors by HF name; `data` is row-major with `shape`. */
export type BertWeights = Map<string, { shape: number[]; data: Float32Array }>;

const LINEARS = [
  "attention.self.query",
  "attention.self.key",
  "attention.self.value",
  "attention.output.dense",
  "intermediate.dense",
  "output.dense",
] as const;

/**
 * Every tensor of a BertModel with its shape, in the fixed order randomBertWeights draws them:
 * embeddings (word, position, token type, LayerNorm weight, bias), then per layer: query, key, value,
 * attention output dense (weight then bias each), attention LayerNorm, intermediate dense, output
 * dense, output LayerNorm (weight then bias each).
 */
export function bertWeightShapes(cfg: BertConfig): [string, number[]][] {
  const h = cfg.hiddenSize;
  const out: [string, number[]][] = [
    ["embeddings.word_embeddings.weight", [cfg.vocabSize, h]],
    ["embeddings.position_embeddings.weight", [cfg.maxPositions, h]],
    ["embeddings.token_type_embeddings.weight", [cfg.typeVocabSize, h]],
    ["embeddings.LayerNorm.weight", [h]],
    ["embeddings.LayerNorm.bias", [h]],
  ];
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `encoder.layer.${i}.`;
    for (const lin of LINEARS) {
      const [outDim, inDim] =
        lin === "intermediate.dense" ? [cfg.intermediateSize, h] : lin === "output.dense" ? [h, cfg.intermediateSize] : [h, h];
      out.push([`${p}${lin}.weight`, [outDim, inDim]], [`${p}${lin}.bias`, [outDim]]);
      if (lin === "attention.output.dense") out.push([`${p}attention.output.LayerNorm.weight`, [h]], [`${p}attention.output.LayerNorm.bias`, [h]]);
    }
    out.push([`${p}output.LayerNorm.weight`, [h]], [`${p}output.LayerNorm.bias`, [h]]);
  }
  return out;
}

/**
 * Random weights, deterministic in `seed` (one Rng drawn in bertWeightShapes order): matrices,
 * embeddings and biases N(0, 0.02^2); LayerNorm weights 1 + N(0, 0.02^2), LayerNorm biases N(0, 0.02^2).
 */
export function randomBertWeights(cfg: BertConfig, seed: number): BertWeights {
  checkConfig(cfg);
  const rng = new Rng(seed);
  const weights: BertWeights = new Map();
  for (const [name, shape] of bertWeightShapes(cfg)) {
    const data = rng.normalArray(shape.reduce((a, b) => a * b, 1), 0.02);
    if (name.endsWith("LayerNorm.weight")) for (let i = 0; i < data.length; i++) data[i] = 1 + (data[i] ?? 0);
    weights.set(name, { shape, data });
  }
  return weights;
}

/** Looks a weight up and checks its shape; missing or misshapen weights are CONFIG_INVALID. */
export function bertWeight(weights: BertWeights, name: string, shape: number[]): Float32Array {
  const w = weights.get(name);
  if (!w) throw new ColtsError("CONFIG_INVALID", `BERT weight "${name}" is missing`, { details: { name } });
  const count = shape.reduce((a, b) => a * b, 1);
  if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i]) || w.data.length !== count) {
    throw new ColtsError("CONFIG_INVALID", `BERT weight "${name}" has shape [${w.shape.join(", ")}], expected [${shape.join(", ")}]`, {
      details: { name, shape: w.shape, expected: shape },
    });
  }
  return w.data;
}

/** Checks that every field is a positive integer (eps positive) and heads divide the hidden size. */
export function checkConfig(cfg: BertConfig): void {
  const ints = ["vocabSize", "hiddenSize", "numLayers", "numHeads", "intermediateSize", "maxPositions", "typeVocabSize"] as const;
  for (const k of ints) {
    if (!Number.isInteger(cfg[k]) || cfg[k] <= 0) throw new ColtsError("CONFIG_INVALID", `BERT config ${k} must be a positive integer, got ${cfg[k]}`);
  }
  if (!(cfg.layerNormEps > 0)) throw new ColtsError("CONFIG_INVALID", `BERT config layerNormEps must be > 0, got ${cfg.layerNormEps}`);
  if (cfg.hiddenSize % cfg.numHeads !== 0) {
    throw new ColtsError("CONFIG_INVALID", `BERT hidden size ${cfg.hiddenSize} is not a multiple of ${cfg.numHeads} heads`);
  }
  const pad = cfg.roberta?.paddingIdx;
  if (pad !== undefined && !(Number.isInteger(pad) && pad >= 0 && pad < cfg.vocabSize && pad + 1 < cfg.maxPositions)) {
    throw new ColtsError("CONFIG_INVALID", `XLM-R padding idx must be an integer in [0, ${cfg.vocabSize}) below ${cfg.maxPositions - 1}, got ${pad}`);
  }
}

/** Hugging Face model_type values colts reads as this network: "bert", and "xlm-roberta" (RoBERTa position ids). */
export const BERT_FAMILY_MODEL_TYPES = ["bert", "xlm-roberta"] as const;

/** Whether a config.json object declares a model this network computes (see BERT_FAMILY_MODEL_TYPES). */
export function isBertFamilyConfig(json: Record<string, unknown>): boolean {
  return (BERT_FAMILY_MODEL_TYPES as readonly unknown[]).includes(json["model_type"]);
}

/**
 * Reads a HF BERT or XLM-RoBERTa config.json object (model_type "xlm-roberta": RoBERTa position ids
 * with pad_token_id, default 1, as padding idx; type_vocab_size defaults to 1 and layer_norm_eps to
 * 1e-5 there). Only absolute positions and exact GELU are supported.
 */
export function bertConfigFromHf(json: unknown): BertConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ColtsError("CONFIG_INVALID", "BERT config.json is not an object");
  }
  const o = json as Record<string, unknown>;
  const num = (key: string, fallback?: number): number => {
    const v = o[key] ?? fallback;
    if (typeof v !== "number") throw new ColtsError("CONFIG_INVALID", `BERT config.json: "${key}" must be a number`, { details: { key } });
    return v;
  };
  const act = o["hidden_act"] ?? "gelu";
  if (act !== "gelu") throw new ColtsError("CONFIG_INVALID", `BERT config.json: hidden_act ${JSON.stringify(act)} is not supported (only "gelu")`);
  const xlmr = o["model_type"] === "xlm-roberta";
  const pos = o["position_embedding_type"] ?? "absolute";
  if (pos !== "absolute") throw new ColtsError("CONFIG_INVALID", `BERT config.json: position_embedding_type ${JSON.stringify(pos)} is not supported`);
  const cfg: BertConfig = {
    vocabSize: num("vocab_size"),
    hiddenSize: num("hidden_size"),
    numLayers: num("num_hidden_layers"),
    numHeads: num("num_attention_heads"),
    intermediateSize: num("intermediate_size"),
    maxPositions: num("max_position_embeddings"),
    typeVocabSize: num("type_vocab_size", xlmr ? 1 : 2),
    layerNormEps: num("layer_norm_eps", xlmr ? 1e-5 : 1e-12),
    ...(xlmr ? { roberta: { paddingIdx: num("pad_token_id", 1) } } : {}),
  };
  checkConfig(cfg);
  return cfg;
}

/**
 * A HF-style config.json object for a BertModel with this configuration, or an XLMRobertaModel
 * (bos 0, eos 2, pad = the padding idx) when it has RoBERTa position ids.
 */
export function bertConfigToHf(cfg: BertConfig): Record<string, unknown> {
  const xlmr = cfg.roberta ? { bos_token_id: 0, eos_token_id: 2, pad_token_id: cfg.roberta.paddingIdx } : null;
  return {
    architectures: [xlmr ? "XLMRobertaModel" : "BertModel"],
    model_type: xlmr ? "xlm-roberta" : "bert",
    attention_probs_dropout_prob: 0.1,
    hidden_act: "gelu",
    hidden_dropout_prob: 0.1,
    hidden_size: cfg.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: cfg.intermediateSize,
    layer_norm_eps: cfg.layerNormEps,
    max_position_embeddings: cfg.maxPositions,
    num_attention_heads: cfg.numHeads,
    num_hidden_layers: cfg.numLayers,
    pad_token_id: 0,
    position_embedding_type: "absolute",
    torch_dtype: "float32",
    type_vocab_size: cfg.typeVocabSize,
    use_cache: true,
    vocab_size: cfg.vocabSize,
    ...xlmr,
  };
}
