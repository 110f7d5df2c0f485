/**
 * Generated ColBERT models with seeded random weights, in each checkpoint layout, so that every code
 * path (loading, tokenization, head in TypeScript or in the graph, int8) runs without pretrained
 * weights. Same options and seed -> same bytes. `colts model tiny` is the CLI front.
 *
 * The vocabulary is bert-base-uncased's (assets/bert-base-uncased-vocab.txt), so real text tokenizes
 * exactly as it does for colbertv2.0 and answerai-colbert-small-v1.
 */
import fs from "node:fs";
import path from "node:path";
import { ColtsError } from "../errors.js";
import { writeOnnxModel } from "../onnx/write.js";
import { Rng } from "../util/rng.js";
import { buildBertOnnx } from "./bert-graph.js";
import { bertTokenizerFiles } from "./bert-tokenizer.js";
import { bertConfigToHf, randomBertWeights, type BertConfig, type BertWeights } from "./bert-weights.js";
import { serializeSafetensors, type TensorToWrite } from "./safetensors.js";
import { ASCII_PUNCTUATION } from "./settings.js";

export type TinyLayout = "pylate" | "stanford" | "onnx";

export interface TinyModelOptions {
  /** Checkpoint layout to write. Default "pylate". */
  layout?: TinyLayout;
  /** Hidden size. Default 64; must be divisible by `heads`. */
  hidden?: number;
  /** Transformer layers. Default 2. */
  layers?: number;
  /** Attention heads. Default max(1, hidden / 16). */
  heads?: number;
  /** Feed-forward size. Default 4 x hidden. */
  intermediate?: number;
  /** Output dimension of the projection head. Default 32. */
  dim?: number;
  /** Seed of every random weight. Default 1. */
  seed?: number;
  /** Query length in tokens. Default 32. */
  queryLength?: number;
  /** Document length in tokens. Default 180. */
  documentLength?: number;
  /** Also write an int8 dynamically quantized graph. Default false. */
  int8?: boolean;
  /** Vocabulary; default bert-base-uncased. */
  vocab?: string[];
  /**
   * Standard deviation of the word embeddings. Default 0.02 (BERT's initialisation, the same as the
   * position embeddings). Trained ColBERT vectors are dominated by token identity, which is what
   * makes PLAID's centroid pruning work; a larger value (e.g. 1) gives random models that property,
   * for tests and benchmarks of the index.
   */
  wordEmbeddingStd?: number;
}

const VOCAB_URL = new URL("../../../assets/bert-base-uncased-vocab.txt", import.meta.url);

/** bert-base-uncased's 30,522 WordPiece tokens, one per line. */
export function bertBaseUncasedVocab(): string[] {
  const lines = fs.readFileSync(VOCAB_URL, "utf8").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

function json(v: unknown): string {
  return `${JSON.stringify(v, null, 2)}\n`;
}

function tensors(weights: BertWeights, prefix: string): TensorToWrite[] {
  return [...weights].map(([name, t]) => ({ name: prefix + name, shape: t.shape, data: t.data }));
}

/** Writes a generated model into `dir` (created if needed) and returns the files written, sorted. */
export async function writeTinyModel(dir: string, opts: TinyModelOptions = {}): Promise<string[]> {
  const layout = opts.layout ?? "pylate";
  const hidden = opts.hidden ?? 64;
  const dim = opts.dim ?? 32;
  const seed = opts.seed ?? 1;
  const vocab = opts.vocab ?? bertBaseUncasedVocab();
  const cfg: BertConfig = {
    vocabSize: vocab.length,
    hiddenSize: hidden,
    numLayers: opts.layers ?? 2,
    numHeads: opts.heads ?? Math.max(1, Math.floor(hidden / 16)),
    intermediateSize: opts.intermediate ?? 4 * hidden,
    maxPositions: 512,
    typeVocabSize: 2,
    layerNormEps: 1e-12,
  };
  if (!Number.isInteger(dim) || dim < 1) throw new ColtsError("INPUT_INVALID", `dim must be a positive integer, got ${dim}`);
  const queryLength = opts.queryLength ?? 32;
  const documentLength = opts.documentLength ?? 180;
  const weights = randomBertWeights(cfg, seed);
  const wordStd = opts.wordEmbeddingStd ?? 0.02;
  if (wordStd !== 0.02) {
    const words = weights.get("embeddings.word_embeddings.weight");
    if (words) for (let i = 0; i < words.data.length; i++) words.data[i] = ((words.data[i] as number) * wordStd) / 0.02;
  }
  // The head has its own stream so that changing dim leaves the backbone identical.
  const head = new Rng((seed ^ 0x9e3779b9) >>> 0).normalArray(dim * hidden, 1 / Math.sqrt(hidden));
  const tok = bertTokenizerFiles(vocab, { markers: ["[unused0]", "[unused1]"] });

  const files = new Map<string, string | Uint8Array>([
    ["config.json", json(bertConfigToHf(cfg))],
    ["tokenizer.json", json(tok.tokenizerJson)],
    ["tokenizer_config.json", json(tok.tokenizerConfig)],
    ["special_tokens_map.json", json(tok.specialTokensMap)],
  ]);
  const graphs: [string, Parameters<typeof buildBertOnnx>[2]][] = [];
  const headTensor: TensorToWrite = { name: "linear.weight", shape: [dim, hidden], data: head };
  if (layout === "pylate") {
    files.set("modules.json", json([
      { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
      { idx: 1, name: "1", path: "1_Dense", type: "pylate.models.Dense.Dense" },
    ]));
    files.set("config_sentence_transformers.json", json({
      query_prefix: "[unused0]",
      document_prefix: "[unused1]",
      query_length: queryLength,
      document_length: documentLength,
      attend_to_expansion_tokens: false,
      skiplist_words: ASCII_PUNCTUATION,
      do_query_expansion: true,
      similarity_fn_name: "MaxSim",
    }));
    files.set("sentence_bert_config.json", json({ max_seq_length: documentLength - 1, do_lower_case: false }));
    files.set("1_Dense/config.json", json({ in_features: hidden, out_features: dim, bias: false, activation_function: "torch.nn.modules.linear.Identity" }));
    files.set("1_Dense/model.safetensors", serializeSafetensors([headTensor]));
    files.set("model.safetensors", serializeSafetensors(tensors(weights, "")));
    graphs.push(["onnx/model.onnx", {}]);
    if (opts.int8) graphs.push(["onnx/model_quantized.onnx", { quantize: "int8" }]);
  } else if (layout === "stanford") {
    files.set("artifact.metadata", json({
      query_token_id: "[unused0]",
      doc_token_id: "[unused1]",
      query_token: "[Q]",
      doc_token: "[D]",
      query_maxlen: queryLength,
      doc_maxlen: documentLength,
      dim,
      similarity: "cosine",
      mask_punctuation: true,
      attend_to_mask_tokens: false,
      interaction: "colbert",
      checkpoint: "colts/tiny",
    }));
    files.set("model.safetensors", serializeSafetensors([...tensors(weights, "bert."), headTensor]));
    graphs.push(["model.onnx", {}]);
    if (opts.int8) graphs.push(["model_int8.onnx", { quantize: "int8" }]);
  } else {
    const ids = new Map(vocab.map((t, i) => [t, i]));
    files.set("onnx_config.json", json({
      model_type: "bert",
      query_prefix: "[unused0]",
      document_prefix: "[unused1]",
      query_length: queryLength,
      document_length: documentLength,
      do_query_expansion: true,
      attend_to_expansion_tokens: false,
      skiplist_words: ASCII_PUNCTUATION,
      embedding_dim: dim,
      mask_token_id: ids.get("[MASK]"),
      pad_token_id: ids.get("[MASK]"),
      query_prefix_id: ids.get("[unused0]"),
      document_prefix_id: ids.get("[unused1]"),
      uses_token_type_ids: true,
      do_lower_case: true,
    }));
    const withHead = { head: { weight: head, dim }, normalize: true };
    graphs.push(["model.onnx", withHead]);
    if (opts.int8) graphs.push(["model_int8.onnx", { ...withHead, quantize: "int8" }]);
  }
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, content] of files) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  for (const [name, graphOpts] of graphs) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    await writeOnnxModel(path.join(dir, name), buildBertOnnx(cfg, weights, { ...graphOpts, producer: "colts model tiny" }));
  }
  return [...files.keys(), ...graphs.map(([n]) => n)].sort();
}
