/**
 * A BERT-family ColBERT checkpoint (BERT, or XLM-RoBERTa: the same network with RoBERTa position ids,
 * `BertConfig.roberta`) as plain arrays: read from a PyLate or Stanford folder with a
 * safetensors backbone, written back as a complete model folder. Training (initial weights, export),
 * checkpoint merging and any other weight-level tool go through these two functions, so every model
 * colts writes loads the same way (`colts encode`, `colts index build`, PyLate).
 *
 * A written folder holds two layouts at once (see layout.ts for their precedence):
 *   - PyLate: `model.safetensors` (HF BertModel names), `config.json` (model_type "bert" or "xlm-roberta"), `modules.json`,
 *     `config_sentence_transformers.json`, `sentence_bert_config.json`, `1_Dense/...` (one folder per
 *     head layer), `1_Dense_<d>/` per separate Matryoshka head (pylate-files.ts), tokenizer files,
 *     and `onnx/model.onnx` that outputs hidden states (head in TS);
 *   - next-plaid ONNX: `model.onnx` with head + L2 norm inside the graph, `onnx_config.json`
 *     (written only when the head is one bias-free identity layer and there are no separate
 *     Matryoshka heads, the form that graph can hold).
 * The folder is written under a temporary name and renamed into place, so a crash never leaves a
 * half-written model where a loadable one is expected.
 */
import fs from "node:fs";
import path from "node:path";
import { ColtsError } from "../errors.js";
import { writeOnnxModel } from "../runtime/onnx/write.js";
import { buildBertOnnx } from "./bert-graph.js";
import { bertConfigFromHf, bertConfigToHf, isBertFamilyConfig, type BertConfig, type BertWeights } from "./bert-weights.js";
import { bertWeightsFromOnnx, findBertBackbone, readBertBackboneWeights } from "./convert.js";
import { readModelFolder, type DenseLayer, type LayoutOptions } from "./layout.js";
import { denseFolderFiles, json, matryoshkaHeadFiles, pylateConfig } from "./pylate-files.js";
import { serializeSafetensors, type TensorToWrite } from "./safetensors.js";
import type { ColbertSettings } from "./settings.js";

/** Files copied verbatim from the source model (the tokenizer must not change under training). */
export const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "sentencepiece.bpe.model"] as const;

/** A ColBERT model held in memory (what `readColbertCheckpoint` reads, training changes and `writeColbertCheckpoint` writes). */
export interface ColbertCheckpoint {
  /** Shape of the BERT backbone; `config.roberta` set for an XLM-R model (its position ids). */
  config: BertConfig;
  /** Backbone weights under Hugging Face BertModel names, without a "bert." / "roberta." prefix. */
  weights: BertWeights;
  /** Projection head, applied in order (PyLate Dense modules); weights `[out, in]` row-major. */
  dense: DenseLayer[];
  /** Encoding conventions (markers, lengths, expansion, skiplist, Matryoshka dims). */
  settings: ColbertSettings;
  /** Tokenizer files by name, copied byte for byte. */
  tokenizerFiles: Map<string, Uint8Array>;
  /**
   * Separate Matryoshka heads by output dimension (PyLate `matryoshka_heads`): each replaces the last
   * layer of `dense` when its dimension is requested. Empty when smaller dimensions are truncations.
   */
  matryoshkaHeads: Map<number, DenseLayer>;
}

/**
 * Reads a checkpoint from a local folder: the BERT or XLM-R backbone from its safetensors (PyLate or
 * Stanford layout; config.json model_type "bert" or "xlm-roberta"), or, for a folder without one,
 * from the fp32 graph colts wrote (ONNX layout, e.g. `colts model tiny --layout onnx`; see
 * bertWeightsFromOnnx), whose in-graph head is then the head.
 */
export function readColbertCheckpoint(dir: string, opts: LayoutOptions = {}): ColbertCheckpoint {
  const spec = readModelFolder(dir, opts);
  const backbone = findBertBackbone(dir);
  let config: BertConfig;
  let weights: BertWeights;
  let dense = spec.dense;
  if (backbone) {
    config = bertConfigFromHf(backbone.config);
    weights = readBertBackboneWeights(backbone.file, config);
  } else {
    const hfConfig = readBertConfigJson(dir);
    if (!hfConfig || !spec.onnxPath) {
      throw new ColtsError("MODEL_NOT_FOUND", `${dir} has no BERT backbone (model.safetensors, or an ONNX graph colts wrote, + config.json with model_type "bert" or "xlm-roberta")`, {
        details: { dir },
      });
    }
    config = bertConfigFromHf(hfConfig);
    const fromGraph = bertWeightsFromOnnx(spec.onnxPath, config);
    weights = fromGraph.weights;
    if (fromGraph.head) dense = [fromGraph.head];
  }
  const tokenizerFiles = new Map<string, Uint8Array>();
  for (const f of TOKENIZER_FILES) {
    const p = path.join(dir, f);
    if (fs.existsSync(p)) tokenizerFiles.set(f, fs.readFileSync(p));
  }
  return { config, weights, dense, settings: spec.settings, tokenizerFiles, matryoshkaHeads: spec.matryoshkaHeads };
}

/** config.json when it declares a BERT or XLM-R model, else null. */
function readBertConfigJson(dir: string): Record<string, unknown> | null {
  const file = path.join(dir, "config.json");
  if (!fs.existsSync(file)) return null;
  const config = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  return isBertFamilyConfig(config) ? config : null;
}

/**
 * Dimension of the vectors the checkpoint produces: the last head layer's output, or the hidden size
 * when there is no head. Separate Matryoshka heads are smaller alternatives and do not count.
 */
export function headOutputDim(ckpt: Pick<ColbertCheckpoint, "config" | "dense">): number {
  return ckpt.dense[ckpt.dense.length - 1]?.outFeatures ?? ckpt.config.hiddenSize;
}

/** Checks that the head chains from the backbone's hidden size; returns the output dimension. */
function checkHead(ckpt: ColbertCheckpoint): number {
  let width = ckpt.config.hiddenSize;
  for (const [i, layer] of ckpt.dense.entries()) {
    if (layer.inFeatures !== width || layer.weight.length !== layer.inFeatures * layer.outFeatures) {
      throw new ColtsError("INPUT_INVALID", `head layer ${i} is [${layer.outFeatures}, ${layer.inFeatures}] but its input is ${width} wide`, {
        details: { layer: i },
      });
    }
    width = layer.outFeatures;
  }
  // A separate head replaces the last layer: it reads that layer's input, and its dim must be declared.
  const input = ckpt.dense[ckpt.dense.length - 1]?.inFeatures;
  for (const [d, head] of ckpt.matryoshkaHeads) {
    if (input === undefined || head.inFeatures !== input || head.outFeatures !== d || head.weight.length !== d * input || d >= width) {
      throw new ColtsError("INPUT_INVALID", `Matryoshka head ${d} is [${head.outFeatures}, ${head.inFeatures}]; it must be [${d}, ${input ?? "?"}] with ${d} < ${width}`, {
        details: { dim: d },
      });
    }
    if (!ckpt.settings.matryoshkaDims.includes(d)) {
      throw new ColtsError("INPUT_INVALID", `Matryoshka head ${d} is not among the declared Matryoshka dims [${ckpt.settings.matryoshkaDims.join(", ")}]`, { details: { dim: d } });
    }
  }
  return width;
}

function tokenIdOf(tokenizerJson: Uint8Array | undefined, token: string | null): number | undefined {
  if (!tokenizerJson || token === null) return undefined;
  const parsed = JSON.parse(Buffer.from(tokenizerJson).toString("utf8")) as { model?: { vocab?: unknown }; added_tokens?: { id: number; content: string }[] };
  const added = parsed.added_tokens?.find((t) => t.content === token);
  if (added) return added.id;
  const vocab = parsed.model?.vocab;
  if (vocab && typeof vocab === "object" && !Array.isArray(vocab)) {
    const id = (vocab as Record<string, unknown>)[token];
    return typeof id === "number" ? id : undefined;
  }
  return undefined;
}

function collectFiles(ckpt: ColbertCheckpoint, dim: number): Map<string, string | Uint8Array> {
  const files = new Map<string, string | Uint8Array>([
    ["config.json", json(bertConfigToHf(ckpt.config))],
    ["config_sentence_transformers.json", json(pylateConfig(ckpt.settings, [...ckpt.matryoshkaHeads.keys()]))],
    ["sentence_bert_config.json", json({ max_seq_length: ckpt.settings.documentLength - 1, do_lower_case: ckpt.settings.lowercase })],
    ["model.safetensors", serializeSafetensors([...ckpt.weights].map(([name, t]): TensorToWrite => ({ name, shape: t.shape, data: t.data })))],
  ]);
  const modules: Record<string, unknown>[] = [{ idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" }];
  for (const [i, layer] of ckpt.dense.entries()) {
    const folder = `${i + 1}_Dense`;
    modules.push({ idx: i + 1, name: String(i + 1), path: folder, type: "pylate.models.Dense.Dense" });
    for (const [name, content] of denseFolderFiles(folder, layer)) files.set(name, content);
  }
  for (const [name, content] of matryoshkaHeadFiles(ckpt.matryoshkaHeads)) files.set(name, content);
  files.set("modules.json", json(modules));
  for (const [name, bytes] of ckpt.tokenizerFiles) files.set(name, bytes);
  const s = ckpt.settings;
  const tok = ckpt.tokenizerFiles.get("tokenizer.json");
  if (plainHead(ckpt)) {
    // next-plaid's conventions per family (as `colts model tiny --layout onnx` writes them).
    const xlmr = ckpt.config.roberta !== undefined;
    files.set("onnx_config.json", json({
      model_type: xlmr ? "xlm-roberta" : "bert",
      ...pylateConfig(s),
      embedding_dim: dim,
      mask_token_id: tokenIdOf(tok, xlmr ? "<mask>" : "[MASK]"),
      pad_token_id: tokenIdOf(tok, xlmr ? "<pad>" : "[MASK]"),
      query_prefix_id: tokenIdOf(tok, s.queryPrefix),
      document_prefix_id: tokenIdOf(tok, s.documentPrefix),
      uses_token_type_ids: !xlmr,
      do_lower_case: s.lowercase,
    }));
  }
  return files;
}

/**
 * The in-graph head of bert-graph.ts holds exactly one bias-free identity Linear, and no separate
 * Matryoshka heads (that graph's output can only be truncated; the PyLate layout serves those dims).
 */
function plainHead(ckpt: ColbertCheckpoint): boolean {
  const [only, ...rest] = ckpt.dense;
  return only !== undefined && rest.length === 0 && only.bias === null && only.activation === "identity" && ckpt.matryoshkaHeads.size === 0;
}

/** Options of `writeColbertCheckpoint`. */
export interface WriteCheckpointOptions {
  /** Written into the ONNX graphs' producer field. Default "colts". */
  producer?: string;
  /** Replace an existing folder at `dir`. Default false: an existing non-empty folder is refused. */
  overwrite?: boolean;
}

/**
 * Writes `ckpt` as a complete model folder at `dir` (see the module comment for the files) and
 * returns the files written, sorted.
 */
export async function writeColbertCheckpoint(dir: string, ckpt: ColbertCheckpoint, opts: WriteCheckpointOptions = {}): Promise<string[]> {
  const dim = checkHead(ckpt);
  if (!ckpt.tokenizerFiles.has("tokenizer.json")) throw new ColtsError("INPUT_INVALID", "a checkpoint needs tokenizer.json to be written");
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0 && !opts.overwrite) {
    throw new ColtsError("INPUT_INVALID", `${dir} exists and is not empty (pass overwrite to replace it)`, { details: { dir } });
  }
  const files = collectFiles(ckpt, dim);
  const tmp = `${dir.replace(/[\\/]+$/, "")}.tmp-${process.pid}-${Date.now()}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  try {
    for (const [name, content] of files) {
      fs.mkdirSync(path.dirname(path.join(tmp, name)), { recursive: true });
      fs.writeFileSync(path.join(tmp, name), content);
    }
    const producer = opts.producer ?? "colts";
    fs.mkdirSync(path.join(tmp, "onnx"), { recursive: true });
    await writeOnnxModel(path.join(tmp, "onnx/model.onnx"), buildBertOnnx(ckpt.config, ckpt.weights, { producer }));
    const graphs = ["onnx/model.onnx"];
    const head = ckpt.dense[0];
    if (plainHead(ckpt) && head) {
      await writeOnnxModel(path.join(tmp, "model.onnx"), buildBertOnnx(ckpt.config, ckpt.weights, { head: { weight: head.weight, dim }, normalize: true, producer }));
      graphs.push("model.onnx");
    }
    // Swap: the old folder (if any) moves aside first, so `dir` is never a half-written model.
    const old = `${tmp}.old`;
    if (fs.existsSync(dir)) fs.renameSync(dir, old);
    fs.renameSync(tmp, dir);
    fs.rmSync(old, { recursive: true, force: true });
    return [...files.keys(), ...graphs].sort();
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
