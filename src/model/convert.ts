/**
 * Builds the ONNX graph of a BERT-family checkpoint from its safetensors weights, for model folders
 * that have no exported graph (colbert-ir/colbertv2.0, most PyLate models on the hub). The graph is
 * the same one `colts model tiny` writes (bert-graph.ts), checked against a plain TypeScript forward
 * pass; the projection head stays in TypeScript.
 *
 * Weight names: Hugging Face BertModel names, bare (Sentence-Transformers / PyLate save the
 * transformer this way) or under "bert." (Stanford's HF_ColBERT).
 */
import fs from "node:fs";
import path from "node:path";
import { ColtsError } from "../errors.js";
import { encodeModel } from "../runtime/onnx/proto.js";
import { buildBertOnnx } from "./bert-graph.js";
import { bertConfigFromHf, bertWeightShapes, type BertWeights } from "./bert-weights.js";
import { readSafetensorsTensors } from "./layout.js";

/** The folder's safetensors backbone, if it has one colts can convert. */
export function findBertBackbone(dir: string): { file: string; config: Record<string, unknown> } | null {
  const file = path.join(dir, "model.safetensors");
  const configFile = path.join(dir, "config.json");
  if (!fs.existsSync(file) || !fs.existsSync(configFile)) return null;
  const config = JSON.parse(fs.readFileSync(configFile, "utf8")) as Record<string, unknown>;
  return config["model_type"] === "bert" ? { file, config } : null;
}

/** Reads the backbone weights and returns an ONNX graph (bytes) that outputs `last_hidden_state`. */
export function bertGraphFromSafetensors(file: string, config: Record<string, unknown>): Uint8Array {
  const cfg = bertConfigFromHf(config);
  const names = bertWeightShapes(cfg).map(([n]) => n);
  const probe = readSafetensorsTensors(file, [names[0] as string, `bert.${names[0] as string}`]);
  const prefix = probe.has(`bert.${names[0] as string}`) ? "bert." : "";
  const tensors = readSafetensorsTensors(file, names.map((n) => prefix + n));
  const weights: BertWeights = new Map();
  for (const name of names) {
    const t = tensors.get(prefix + name);
    if (!t || !(t.data instanceof Float32Array)) {
      throw new ColtsError("SAFETENSORS_INVALID", `${file}: missing or non-float BERT weight ${prefix + name}`, { details: { file, tensor: prefix + name } });
    }
    weights.set(name, { shape: t.shape, data: t.data });
  }
  return encodeModel(buildBertOnnx(cfg, weights, { tokenTypeIds: true, producer: "colts convert" }));
}
