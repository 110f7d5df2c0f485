/**
 * Reads a local model folder: detects its checkpoint layout(s), resolves the encoding conventions,
 * finds the ONNX graph and the projection head.
 *
 * Layouts and their precedence (a folder may have several; later ones override earlier ones field by
 * field, and the caller's overrides come last):
 *   1. Stanford  - `artifact.metadata` (ColBERTConfig), head `linear.weight` in `model.safetensors`
 *   2. PyLate    - `config_sentence_transformers.json` + `modules.json`, head in `1_Dense/` (and any
 *                  further Dense modules, applied in module order)
 *   3. ONNX      - `onnx_config.json` (next-plaid export): the graph already ends in head + L2 norm
 * `layout` in the result names the highest one found.
 */
import fs from "node:fs";
import path from "node:path";
import { ColtsError } from "../errors.js";
import { isBertJapanese, readVocab } from "../text/bert-japanese.js";
import { decodeSafetensor, parseSafetensorsHeader, type SafeTensor } from "./safetensors.js";
import {
  resolveSettings,
  settingsFromOnnxConfig,
  settingsFromPylate,
  settingsFromSentenceBert,
  settingsFromStanford,
  type ColbertSettings,
} from "./settings.js";

/** A checkpoint layout (see the file comment): Stanford ColBERT, PyLate, or a next-plaid ONNX export. */
export type LayoutKind = "stanford" | "pylate" | "onnx";

/** One linear layer of the projection head, torch layout. */
export interface DenseLayer {
  /** [outFeatures, inFeatures] row-major. */
  weight: Float32Array;
  /** [outFeatures], or null for a Linear without bias. */
  bias: Float32Array | null;
  /** Input width. */
  inFeatures: number;
  /** Output width. */
  outFeatures: number;
  /** Applied after the affine map. */
  activation: "identity" | "tanh";
  /** Where it came from, for messages. */
  source: string;
}

/** Everything `readModelFolder` found in a model folder, ready for the encoder. */
export interface ModelSpec {
  /** The folder. */
  dir: string;
  /** The layout whose conventions apply: the `layout` option, else the highest found. */
  layout: LayoutKind;
  /** Every layout detected, lowest precedence first. */
  layoutsFound: LayoutKind[];
  /** The encoding conventions, layouts merged and the caller's overrides applied. */
  settings: ColbertSettings;
  /** Absolute path of the graph to run, or null if the folder has none. */
  onnxPath: string | null;
  /** An int8 graph was asked for (LayoutOptions.quantized): one built from safetensors is quantized too. */
  quantized: boolean;
  /** Projection head found in the folder (empty if none); applied only if the graph lacks it. */
  dense: DenseLayer[];
  /**
   * Separate Matryoshka heads by output dimension (PyLate layout, `matryoshka_heads` in
   * config_sentence_transformers.json: {"64": "1_Dense_64"}): each replaces the last layer of
   * `dense` when that dimension is requested. Empty when smaller dimensions are truncations.
   */
  matryoshkaHeads: Map<number, DenseLayer>;
  /** `hidden_size` from config.json when present. */
  hiddenSize: number | null;
  /** Empty object when the tokenizer has no tokenizer.json (BertJapaneseTokenizer: see `vocab`). */
  tokenizerJson: Record<string, unknown>;
  /** tokenizer_config.json (special tokens, tokenizer class); empty object when absent. */
  tokenizerConfig: Record<string, unknown>;
  /** Lines of vocab.txt, read only for tokenizers without a tokenizer.json (BertJapaneseTokenizer). */
  vocab: string[] | null;
  /** Compiled MeCab dictionary folder requested by the caller (LayoutOptions.mecabDicDir), or null to search. */
  mecabDicDir: string | null;
}

/** How to read a model folder; every field overrides what the folder itself says. */
export interface LayoutOptions {
  /** Use this layout's conventions even if a higher one is present. Default: the highest found. */
  layout?: LayoutKind;
  /** Graph file relative to the folder; overrides the search below. */
  onnxFile?: string;
  /** Prefer an int8 graph (`model_int8.onnx`, `onnx/model_quantized.onnx`, ...). Default false. */
  quantized?: boolean;
  /** Field-by-field overrides of the conventions, applied last. */
  settings?: Partial<ColbertSettings>;
  /**
   * Compiled MeCab dictionary folder for Japanese models (BertJapaneseTokenizer, e.g. JaColBERT):
   * unidic_lite's `dicdir` reproduces the Python reference exactly. Default: searched
   * (`$COLTS_MECAB_DICDIR`, `<model>/mecab-dic`, Python's unidic_lite, Debian's unidic-mecab).
   */
  mecabDicDir?: string;
}

/** Where exporters put graphs, in the order they are tried. */
export const ONNX_CANDIDATES = {
  fp32: ["model.onnx", "onnx/model.onnx"],
  int8: ["model_int8.onnx", "onnx/model_int8.onnx", "onnx/model_quantized.onnx", "model_quantized.onnx", "onnx/model_qint8.onnx"],
} as const;

/** Files the loader may read; a hub download fetches only these (plus the chosen graph's external data). */
export function isModelMetadataFile(file: string): boolean {
  const base = path.posix.basename(file);
  const top = !file.includes("/");
  if (top && (base.endsWith(".json") || base === "artifact.metadata" || base === "vocab.txt")) return true;
  return /^\d+_Dense\/(config\.json|model\.safetensors)$/.test(file);
}

export function chooseOnnxFile(files: readonly string[], opts: Pick<LayoutOptions, "onnxFile" | "quantized">): string | null {
  if (opts.onnxFile) return files.includes(opts.onnxFile) ? opts.onnxFile : null;
  const order = opts.quantized ? ONNX_CANDIDATES.int8 : ONNX_CANDIDATES.fp32;
  return order.find((f) => files.includes(f)) ?? null;
}

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (cause) {
    throw new ColtsError("MODEL_NOT_FOUND", `cannot read ${file}`, { cause, details: { file } });
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not a JSON object");
    return v as Record<string, unknown>;
  } catch (cause) {
    throw new ColtsError("CONFIG_INVALID", `${file} is not a JSON object: ${String(cause)}`, { cause, details: { file } });
  }
}

function readJsonIfExists(file: string): Record<string, unknown> | null {
  return fs.existsSync(file) ? readJson(file) : null;
}

/** Reads named tensors from a safetensors file without loading the rest (checkpoints can be GBs). */
export function readSafetensorsTensors(file: string, names: string[]): Map<string, SafeTensor> {
  const fd = fs.openSync(file, "r");
  try {
    const lenBuf = Buffer.alloc(8);
    fs.readSync(fd, lenBuf, 0, 8, 0);
    const n = Number(lenBuf.readBigUInt64LE(0));
    const size = fs.fstatSync(fd).size;
    if (8 + n > size) throw new ColtsError("SAFETENSORS_INVALID", `${file}: header length ${n} exceeds file size ${size}`, { details: { file } });
    const head = Buffer.alloc(8 + n);
    fs.readSync(fd, head, 0, 8 + n, 0);
    const entries = parseSafetensorsHeader(head, file);
    const out = new Map<string, SafeTensor>();
    for (const name of names) {
      const e = entries.get(name);
      if (!e) continue;
      if (e.end > size) throw new ColtsError("SAFETENSORS_INVALID", `${file}: tensor ${name} is truncated`, { details: { file } });
      const bytes = Buffer.alloc(e.end - e.begin);
      fs.readSync(fd, bytes, 0, bytes.length, e.begin);
      out.set(name, decodeSafetensor(e, bytes, name, file));
    }
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

function f32(t: SafeTensor, name: string, file: string): Float32Array {
  if (!(t.data instanceof Float32Array)) throw new ColtsError("SAFETENSORS_INVALID", `${file}: ${name} is ${t.dtype}, expected a float tensor`);
  return t.data;
}

function activationOf(name: unknown, source: string): DenseLayer["activation"] {
  if (name === undefined || name === null || (typeof name === "string" && /Identity$/.test(name))) return "identity";
  if (typeof name === "string" && /Tanh$/.test(name)) return "tanh";
  throw new ColtsError("CONFIG_INVALID", `${source}: unsupported Dense activation ${JSON.stringify(name)}`);
}

function readLinear(file: string, prefix: string, activation: DenseLayer["activation"]): DenseLayer | null {
  const wName = `${prefix}weight`;
  const tensors = readSafetensorsTensors(file, [wName, `${prefix}bias`]);
  const w = tensors.get(wName);
  if (!w) return null;
  const [out, inp] = w.shape;
  if (w.shape.length !== 2 || out === undefined || inp === undefined) {
    throw new ColtsError("SAFETENSORS_INVALID", `${file}: ${wName} must be 2-D, has shape [${w.shape.join(", ")}]`);
  }
  const b = tensors.get(`${prefix}bias`);
  return { weight: f32(w, wName, file), bias: b ? f32(b, `${prefix}bias`, file) : null, inFeatures: inp, outFeatures: out, activation, source: file };
}

function readModules(dir: string): { path?: string; type?: string }[] {
  const file = path.join(dir, "modules.json");
  if (!fs.existsSync(file)) return [];
  try {
    const v = JSON.parse(fs.readFileSync(file, "utf8")) as unknown;
    if (!Array.isArray(v)) throw new Error("not a JSON array");
    return v as { path?: string; type?: string }[];
  } catch (cause) {
    throw new ColtsError("CONFIG_INVALID", `${file} is not a JSON array of modules: ${String(cause)}`, { cause, details: { file } });
  }
}

function pylateDense(dir: string): DenseLayer[] {
  const list = readModules(dir);
  const layers: DenseLayer[] = [];
  for (const m of list) {
    if (typeof m.type !== "string" || !/Dense$/.test(m.type) || typeof m.path !== "string") continue;
    const sub = path.join(dir, m.path);
    const cfg = readJsonIfExists(path.join(sub, "config.json")) ?? {};
    const file = path.join(sub, "model.safetensors");
    if (!fs.existsSync(file)) {
      throw new ColtsError("MODEL_NOT_FOUND", `${sub} has no model.safetensors (PyTorch .bin heads cannot be read; re-save with safetensors)`, {
        details: { file },
      });
    }
    const layer = readLinear(file, "linear.", activationOf(cfg["activation_function"], file));
    if (!layer) throw new ColtsError("SAFETENSORS_INVALID", `${file} has no linear.weight`, { details: { file } });
    layers.push(layer);
  }
  return layers;
}

/** `matryoshka_heads`: {"<dim>": "<folder with config.json + model.safetensors>"}. */
function readMatryoshkaHeads(dir: string, declared: unknown): Map<number, DenseLayer> {
  const heads = new Map<number, DenseLayer>();
  if (declared === undefined || declared === null) return heads;
  if (typeof declared !== "object" || Array.isArray(declared)) {
    throw new ColtsError("CONFIG_INVALID", `${dir}: matryoshka_heads must be an object {"<dim>": "<folder>"}`);
  }
  for (const [key, folder] of Object.entries(declared as Record<string, unknown>)) {
    const d = Number(key);
    if (!Number.isInteger(d) || d < 1 || typeof folder !== "string") {
      throw new ColtsError("CONFIG_INVALID", `${dir}: matryoshka_heads entry ${key} -> ${String(folder)} is not <dim> -> <folder>`);
    }
    const file = path.join(dir, folder, "model.safetensors");
    if (!fs.existsSync(file)) throw new ColtsError("MODEL_NOT_FOUND", `${dir}: Matryoshka head ${d} has no ${folder}/model.safetensors`, { details: { file } });
    const cfg = readJsonIfExists(path.join(dir, folder, "config.json")) ?? {};
    const layer = readLinear(file, "linear.", activationOf(cfg["activation_function"], file));
    if (!layer || layer.outFeatures !== d) throw new ColtsError("SAFETENSORS_INVALID", `${file}: expected a linear.weight with ${d} rows`, { details: { file } });
    heads.set(d, layer);
  }
  return heads;
}

function stanfordDense(dir: string): DenseLayer[] {
  const file = path.join(dir, "model.safetensors");
  if (!fs.existsSync(file)) return [];
  const layer = readLinear(file, "linear.", "identity");
  return layer ? [layer] : [];
}

/** Files of a model folder as posix paths relative to it, two folder levels deep (symlinks to files count). */
export function listFiles(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory() && rel.split("/").length < 3) out.push(...listFiles(dir, rel));
    else if (e.isFile() || e.isSymbolicLink()) out.push(rel);
  }
  return out;
}

/** Reads a model folder into a ModelSpec. Errors name the folder and what was looked for. */
export function readModelFolder(dir: string, opts: LayoutOptions = {}): ModelSpec {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new ColtsError("MODEL_NOT_FOUND", `model folder ${dir} does not exist`, { details: { dir } });
  }
  const stanford = readJsonIfExists(path.join(dir, "artifact.metadata"));
  const pylate = readJsonIfExists(path.join(dir, "config_sentence_transformers.json"));
  const onnxCfg = readJsonIfExists(path.join(dir, "onnx_config.json"));
  const found: LayoutKind[] = [];
  if (stanford) found.push("stanford");
  if (pylate) found.push("pylate");
  if (onnxCfg) found.push("onnx");
  const layout = opts.layout ?? found[found.length - 1];
  if (!layout || !found.includes(layout)) {
    throw new ColtsError(
      "LAYOUT_UNKNOWN",
      `${dir} has no ColBERT config (looked for onnx_config.json, config_sentence_transformers.json, artifact.metadata)` +
        (opts.layout ? `; layout "${opts.layout}" was requested` : ""),
      { details: { dir, found } },
    );
  }
  // Conventions: every layout up to the chosen one, in precedence order.
  const upTo = found.slice(0, found.indexOf(layout) + 1);
  const sentenceBert = readJsonIfExists(path.join(dir, "sentence_bert_config.json")) ?? {};
  const layers = upTo.map((k) =>
    k === "stanford"
      ? settingsFromStanford(stanford ?? {})
      : k === "pylate"
        ? { ...settingsFromSentenceBert(sentenceBert), ...settingsFromPylate(pylate ?? {}) }
        : settingsFromOnnxConfig(onnxCfg ?? {}),
  );
  const settings = resolveSettings(...layers, opts.settings ?? {});
  const dense = found.includes("pylate") ? pylateDense(dir) : found.includes("stanford") ? stanfordDense(dir) : [];
  const matryoshkaHeads = pylate ? readMatryoshkaHeads(dir, pylate["matryoshka_heads"]) : new Map<number, DenseLayer>();
  const tokenizerFile = path.join(dir, "tokenizer.json");
  const tokenizerConfig = readJsonIfExists(path.join(dir, "tokenizer_config.json")) ?? {};
  // BertJapaneseTokenizer has no fast version: vocab.txt + MeCab instead of tokenizer.json.
  const japanese = isBertJapanese(tokenizerConfig);
  const vocabFile = path.join(dir, "vocab.txt");
  if (japanese && !fs.existsSync(vocabFile)) {
    throw new ColtsError("TOKENIZER_INVALID", `${dir} has a BertJapaneseTokenizer config but no vocab.txt`, { details: { dir } });
  }
  if (!japanese && !fs.existsSync(tokenizerFile)) {
    throw new ColtsError("TOKENIZER_INVALID", `${dir} has no tokenizer.json (a fast tokenizer file is required)`, { details: { dir } });
  }
  const files = listFiles(dir);
  const onnxRel = chooseOnnxFile(files, opts);
  if (opts.onnxFile && !onnxRel) {
    throw new ColtsError("MODEL_NOT_FOUND", `${dir} has no ${opts.onnxFile}`, { details: { dir, onnxFile: opts.onnxFile } });
  }
  // An int8 graph was asked for and only an fp32 one exists: say how to make one rather than either
  // running fp32 silently or claiming there is no graph at all. (With no graph at all, the encoder
  // builds the int8 graph from model.safetensors.)
  if (opts.quantized && !onnxRel && chooseOnnxFile(files, { quantized: false })) {
    throw new ColtsError("MODEL_NOT_FOUND", `${dir} has no int8 graph (looked for ${ONNX_CANDIDATES.int8.join(", ")}); make one with "colts model quantize <model> <out>" (quantizeModel), or load it without quantized`, {
      details: { dir },
    });
  }
  const hidden = readJsonIfExists(path.join(dir, "config.json"))?.["hidden_size"];
  return {
    dir,
    layout,
    layoutsFound: found,
    settings,
    onnxPath: onnxRel ? path.join(dir, onnxRel) : null,
    quantized: opts.quantized === true,
    dense,
    matryoshkaHeads,
    hiddenSize: typeof hidden === "number" ? hidden : null,
    tokenizerJson: japanese ? {} : readJson(tokenizerFile),
    tokenizerConfig,
    vocab: japanese ? readVocab(vocabFile) : null,
    mecabDicDir: opts.mecabDicDir ?? null,
  };
}
