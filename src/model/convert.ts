/**
 * Builds the ONNX graph of a BERT-family checkpoint from its safetensors weights, for model folders
 * that have no exported graph (colbert-ir/colbertv2.0, most PyLate models on the hub). The graph is
 * the same one `colts model tiny` writes (bert-graph.ts), checked against a plain TypeScript forward
 * pass; the projection head stays in TypeScript.
 *
 * Weight names: Hugging Face BertModel names, bare (Sentence-Transformers / PyLate save the
 * transformer this way) or under "bert." (Stanford's HF_ColBERT) or "roberta." (XLMRobertaForX).
 * XLM-RoBERTa (config.json model_type "xlm-roberta") is the same network with RoBERTa position ids.
 */
import fs from "node:fs";
import path from "node:path";
import { ColtsError } from "../errors.js";
import { encodeModel, type OnnxModel } from "../runtime/onnx/proto.js";
import { readOnnxFloatInitializers } from "../runtime/onnx/read.js";
import { buildBertOnnx, transpose2d, type BertOnnxOptions } from "./bert-graph.js";
import { bertConfigFromHf, bertWeightShapes, isBertFamilyConfig, type BertConfig, type BertWeights } from "./bert-weights.js";
import { readSafetensorsTensors, type DenseLayer } from "./layout.js";

/** The folder's safetensors backbone, if it has one colts can convert (config.json model_type "bert" or "xlm-roberta"). */
export function findBertBackbone(dir: string): { file: string; config: Record<string, unknown> } | null {
  const file = path.join(dir, "model.safetensors");
  const configFile = path.join(dir, "config.json");
  if (!fs.existsSync(file) || !fs.existsSync(configFile)) return null;
  const config = JSON.parse(fs.readFileSync(configFile, "utf8")) as Record<string, unknown>;
  return isBertFamilyConfig(config) ? { file, config } : null;
}

/**
 * The backbone weights from a safetensors file: bare Hugging Face names, or under "bert." / "roberta."
 * (a BertForX / XLMRobertaForX checkpoint). A missing, non-float or misshapen weight is SAFETENSORS_INVALID.
 */
export function readBertBackboneWeights(file: string, cfg: BertConfig): BertWeights {
  const names = bertWeightShapes(cfg);
  const first = names[0]?.[0] ?? "";
  const probe = readSafetensorsTensors(file, ["bert.", "roberta."].map((p) => p + first));
  const prefix = ["bert.", "roberta."].find((p) => probe.has(p + first)) ?? "";
  const tensors = readSafetensorsTensors(file, names.map(([n]) => prefix + n));
  const weights: BertWeights = new Map();
  for (const [name, shape] of names) {
    const t = tensors.get(prefix + name);
    if (!t || !(t.data instanceof Float32Array) || t.shape.join(",") !== shape.join(",")) {
      throw new ColtsError("SAFETENSORS_INVALID", `${file}: missing, non-float or misshapen weight ${prefix + name} (expected [${shape.join(", ")}])`, {
        details: { file, tensor: prefix + name },
      });
    }
    weights.set(name, { shape: t.shape, data: t.data });
  }
  return weights;
}

/**
 * Reads the backbone weights and returns an ONNX graph (bytes) that outputs `last_hidden_state`
 * (XLM-R: RoBERTa position ids, no token_type_ids input, as the config says).
 */
export function bertGraphFromSafetensors(file: string, config: Record<string, unknown>, opts: Pick<BertOnnxOptions, "quantize" | "fused"> = {}): Uint8Array {
  return encodeModel(bertOnnxFromSafetensors(file, config, opts));
}

/**
 * The graph of bertGraphFromSafetensors as a model object; `quantize: "int8"` gives its int8 dynamically
 * quantized form (`colts model quantize` on a folder without an exported graph).
 */
export function bertOnnxFromSafetensors(file: string, config: Record<string, unknown>, opts: Pick<BertOnnxOptions, "quantize" | "producer" | "fused"> = {}): OnnxModel {
  const cfg = bertConfigFromHf(config);
  return buildBertOnnx(cfg, readBertBackboneWeights(file, cfg), { producer: "colts convert", ...opts });
}

/**
 * The weights of a BERT ColBERT graph that bert-graph.ts built (`colts model tiny --layout onnx`, the
 * `model.onnx` of every checkpoint colts writes), read back from its initializers: embeddings and
 * LayerNorms under their Hugging Face names, each Linear as `<name>.weight_t` ([in, out], transposed
 * back here; exact) plus `<name>.bias`, the in-graph head as `head.weight_t`. This is what lets a
 * model that exists only as such a graph be trained and merged. A graph from another exporter (other
 * initializer names) or an int8 one is refused with MODEL_NOT_FOUND naming the first missing weight.
 * `head` is null when the graph outputs hidden states.
 */
export function bertWeightsFromOnnx(file: string, cfg: BertConfig): { weights: BertWeights; head: DenseLayer | null } {
  const init = readOnnxFloatInitializers(file);
  const missing = (name: string, shape: number[]): never => {
    throw new ColtsError(
      "MODEL_NOT_FOUND",
      `${file} has no float initializer ${name} [${shape.join(", ")}]: only fp32 graphs colts wrote can be read back into weights (give a folder with a safetensors backbone)`,
      { details: { file, tensor: name } },
    );
  };
  const take = (name: string, shape: number[]): Float32Array => {
    const t = init.get(name);
    if (!t || t.dims.join(",") !== shape.join(",")) return missing(name, shape);
    return t.data;
  };
  const weights: BertWeights = new Map();
  for (const [name, shape] of bertWeightShapes(cfg)) {
    let data: Float32Array;
    const [rows, cols] = shape as [number, number];
    if (shape.length === 2 && !name.startsWith("embeddings.")) {
      // A Linear: the graph holds weight^T for its MatMul.
      data = transpose2d(take(`${name.slice(0, -".weight".length)}.weight_t`, [cols, rows]), cols, rows);
    } else if (name === "embeddings.token_type_embeddings.weight" && !init.has(name) && rows === 1) {
      // A graph without a token_type_ids input adds row 0 only; with one row that is the whole table.
      data = take(`${name}.row0`, [cols]);
    } else {
      data = take(name, shape);
    }
    weights.set(name, { shape, data });
  }
  const h = cfg.hiddenSize;
  const headT = init.get("head.weight_t");
  let head: DenseLayer | null = null;
  if (headT) {
    const dim = headT.dims[1] ?? 0;
    if (headT.dims.length !== 2 || headT.dims[0] !== h || dim < 1) {
      throw new ColtsError("ONNX_INVALID", `${file}: head.weight_t is [${headT.dims.join(", ")}], expected [${h}, dim]`, { details: { file, tensor: "head.weight_t" } });
    }
    head = { weight: transpose2d(headT.data, h, dim), bias: null, inFeatures: h, outFeatures: dim, activation: "identity", source: file };
  }
  return { weights, head };
}
