/**
 * A generated cross-encoder (BERT sequence classification) with seeded random weights, written
 * through the project's ONNX writer, for tests and benchmarks (same options, same bytes). The folder
 * reads as `CrossEncoder` reads a real one (see encode/cross-encoder.ts).
 */
import fs from "node:fs";
import path from "node:path";
import { buildBertOnnx, type SequenceClassifierWeights } from "../model/bert-graph.js";
import { bertConfigToHf, randomBertWeights, type BertConfig, type BertWeights } from "../model/bert-weights.js";
import { serializeSafetensors, type TensorToWrite } from "../model/safetensors.js";
import { writeOnnxModel } from "../runtime/onnx/write.js";
import { Rng } from "../util/rng.js";
import { bertTokenizerFiles } from "./bert-tokenizer.js";
import { bertBaseUncasedVocab } from "./tiny-model.js";

/** Shape and seed of a generated cross-encoder; same options, same bytes. */
export interface TinyCrossEncoderOptions {
  /** Hidden size. Default 32. */
  hidden?: number;
  /** Layers. Default 1. */
  layers?: number;
  /** Attention heads. Default 2. */
  heads?: number;
  /** 1 (a relevance logit, the default) or 2 (not relevant / relevant). */
  labels?: 1 | 2;
  /** Seed of every weight. Default 1. */
  seed?: number;
}

/** The generated model's arrays (what writeTinyCrossEncoder writes), for reference computations. */
export function tinyCrossEncoderWeights(opts: TinyCrossEncoderOptions = {}): { config: BertConfig; weights: BertWeights; classifier: SequenceClassifierWeights } {
  const hidden = opts.hidden ?? 32;
  const config: BertConfig = {
    vocabSize: 30522,
    hiddenSize: hidden,
    numLayers: opts.layers ?? 1,
    numHeads: opts.heads ?? 2,
    intermediateSize: 4 * hidden,
    maxPositions: 512,
    typeVocabSize: 2,
    layerNormEps: 1e-12,
  };
  const seed = opts.seed ?? 1;
  const weights = randomBertWeights(config, seed);
  // The heads get their own stream and a 1/sqrt(hidden) scale, so scores spread over a useful range.
  const rng = new Rng((seed ^ 0x5bd1e995) >>> 0);
  const labels = opts.labels ?? 1;
  const classifier: SequenceClassifierWeights = {
    poolerWeight: rng.normalArray(hidden * hidden, 1 / Math.sqrt(hidden)),
    poolerBias: rng.normalArray(hidden, 0.02),
    weight: rng.normalArray(labels * hidden, 1 / Math.sqrt(hidden)),
    bias: rng.normalArray(labels, 0.02),
    labels,
  };
  return { config, weights, classifier };
}

function json(v: unknown): string {
  return `${JSON.stringify(v, null, 2)}\n`;
}

/** Writes a generated cross-encoder folder (see module comment); returns the files written, sorted. */
export async function writeTinyCrossEncoder(dir: string, opts: TinyCrossEncoderOptions = {}): Promise<string[]> {
  const { config, weights, classifier: c } = tinyCrossEncoderWeights(opts);
  const H = config.hiddenSize;
  const tok = bertTokenizerFiles(bertBaseUncasedVocab());
  const labels = Object.fromEntries(Array.from({ length: c.labels }, (_, i) => [String(i), `LABEL_${i}`]));
  const tensors: TensorToWrite[] = [
    ...[...weights].map(([name, t]) => ({ name: `bert.${name}`, shape: t.shape, data: t.data })),
    { name: "bert.pooler.dense.weight", shape: [H, H], data: c.poolerWeight },
    { name: "bert.pooler.dense.bias", shape: [H], data: c.poolerBias },
    { name: "classifier.weight", shape: [c.labels, H], data: c.weight },
    { name: "classifier.bias", shape: [c.labels], data: c.bias },
  ];
  const files = new Map<string, string | Uint8Array>([
    ["config.json", json({ ...bertConfigToHf(config), architectures: ["BertForSequenceClassification"], id2label: labels, label2id: Object.fromEntries(Object.entries(labels).map(([k, v]) => [v, Number(k)])) })],
    ["tokenizer.json", json(tok.tokenizerJson)],
    ["tokenizer_config.json", json({ ...tok.tokenizerConfig, pad_token: "[PAD]" })],
    ["special_tokens_map.json", json({ ...tok.specialTokensMap, pad_token: "[PAD]" })],
    ["model.safetensors", serializeSafetensors(tensors)],
  ]);
  fs.mkdirSync(path.join(dir, "onnx"), { recursive: true });
  for (const [name, content] of files) fs.writeFileSync(path.join(dir, name), content);
  await writeOnnxModel(path.join(dir, "onnx/model.onnx"), buildBertOnnx(config, weights, { classifier: c, producer: "colts cross-encoder tiny" }));
  return [...files.keys(), "onnx/model.onnx"].sort();
}

