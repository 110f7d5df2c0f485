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
import { writeOnnxModel } from "../runtime/onnx/write.js";
import { Rng } from "../util/rng.js";
import { buildBertOnnx } from "../model/bert-graph.js";
import { bertTokenizerFiles } from "./bert-tokenizer.js";
import { bertConfigToHf, randomBertWeights, type BertConfig, type BertWeights } from "../model/bert-weights.js";
import { denseFolderFiles, json, matryoshkaHeadFiles, pylateConfig, type DenseToWrite } from "../model/pylate-files.js";
import { serializeSafetensors, type TensorToWrite } from "../model/safetensors.js";
import { ASCII_PUNCTUATION } from "../model/settings.js";
import { XLMR_MARKERS, xlmrTokenizerFiles } from "./xlmr-tokenizer.js";
import { japaneseVocab } from "../text/bert-japanese.js";

/** tokenizer_config.json keys of cl-tohoku/bert-base-japanese-v3 (JaColBERT's tokenizer). */
const JAPANESE_TOKENIZER_CONFIG = {
  tokenizer_class: "BertJapaneseTokenizer",
  do_lower_case: false,
  word_tokenizer_type: "mecab",
  subword_tokenizer_type: "wordpiece",
  mecab_kwargs: { mecab_dic: "unidic_lite" },
};

/** The checkpoint layout a generated model is written in (see model/layout.ts). */
export type TinyLayout = "pylate" | "stanford" | "onnx";
/** Backbone family: BERT (WordPiece) or XLM-RoBERTa (Unigram, Jina-ColBERT-v2 conventions). */
export type TinyArch = "bert" | "xlm-roberta";

/** Shape, conventions and seed of a generated ColBERT model; same options, same bytes. */
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
  /** Vocabulary; default bert-base-uncased (ignored for xlm-roberta and Japanese models). */
  vocab?: string[];
  /**
   * Backbone. Default "bert". "xlm-roberta" = Jina-ColBERT-v2's conventions: generated Unigram
   * tokenizer (xlmr-tokenizer.ts), markers [QueryMarker]/[DocumentMarker], <mask> expansion that
   * is attended, no token_type_ids input, RoBERTa position ids (padding_idx 1), LayerNorm eps 1e-5,
   * a position table of max(queryLength, documentLength) + 2 rows. Layouts pylate and onnx only.
   */
  arch?: TinyArch;
  /**
   * JaColBERT conventions: cl-tohoku/bert-base-japanese-v3's vocabulary and a BertJapaneseTokenizer
   * tokenizer_config.json (MeCab + unidic_lite, then WordPiece), no tokenizer.json. Default false.
   * BERT only.
   */
  japanese?: boolean;
  /** Compiled MeCab dictionary folder copied into the model as `mecab-dic/` (Japanese models). Default: none. */
  mecabDicDir?: string;
  /**
   * Matryoshka dimensions declared in config_sentence_transformers.json (`matryoshka_dims`),
   * largest first; the first must equal `dim`. Default: none declared. PyLate layout only.
   */
  matryoshkaDims?: number[];
  /**
   * Give each smaller Matryoshka dimension its own projection head (`1_Dense_<d>/`, declared in
   * `matryoshka_heads`) instead of truncation of the main head. Default false.
   */
  matryoshkaHeads?: boolean;
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

function tensors(weights: BertWeights, prefix: string): TensorToWrite[] {
  return [...weights].map(([name, t]) => ({ name: prefix + name, shape: t.shape, data: t.data }));
}

/** Writes a generated model into `dir` (created if needed) and returns the files written, sorted. */
export async function writeTinyModel(dir: string, opts: TinyModelOptions = {}): Promise<string[]> {
  const layout = opts.layout ?? "pylate";
  const hidden = opts.hidden ?? 64;
  const dim = opts.dim ?? 32;
  const seed = opts.seed ?? 1;
  const arch = opts.arch ?? "bert";
  const xlmr = arch === "xlm-roberta";
  if (xlmr && (layout === "stanford" || opts.japanese)) {
    throw new ColtsError("INPUT_INVALID", "xlm-roberta tiny models exist in the pylate and onnx layouts only, and are not Japanese");
  }
  const queryLength = opts.queryLength ?? 32;
  const documentLength = opts.documentLength ?? 180;
  const vocab = opts.japanese ? japaneseVocab() : (opts.vocab ?? bertBaseUncasedVocab());
  const xtok = xlmr ? xlmrTokenizerFiles({ modelMaxLength: documentLength }) : null;
  const cfg: BertConfig = {
    vocabSize: xtok ? xtok.vocabSize : vocab.length,
    hiddenSize: hidden,
    numLayers: opts.layers ?? 2,
    numHeads: opts.heads ?? Math.max(1, Math.floor(hidden / 16)),
    intermediateSize: opts.intermediate ?? 4 * hidden,
    // RoBERTa positions start at padding_idx + 1 = 2.
    maxPositions: xlmr ? Math.max(queryLength, documentLength) + 2 : Math.max(512, queryLength, documentLength),
    typeVocabSize: xlmr ? 1 : 2,
    layerNormEps: xlmr ? 1e-5 : 1e-12,
    ...(xlmr ? { roberta: { paddingIdx: 1 } } : {}),
  };
  if (!Number.isInteger(dim) || dim < 1) throw new ColtsError("INPUT_INVALID", `dim must be a positive integer, got ${dim}`);
  const mdims = opts.matryoshkaDims ?? [];
  if (mdims.length > 0 && (mdims[0] !== dim || mdims.some((d, i) => !Number.isInteger(d) || d < 1 || (i > 0 && d >= (mdims[i - 1] ?? 0))))) {
    throw new ColtsError("INPUT_INVALID", `matryoshkaDims must start with dim ${dim} and decrease, got [${mdims.join(", ")}]`);
  }
  const weights = randomBertWeights(cfg, seed);
  const wordStd = opts.wordEmbeddingStd ?? 0.02;
  if (wordStd !== 0.02) {
    const words = weights.get("embeddings.word_embeddings.weight");
    if (words) for (let i = 0; i < words.data.length; i++) words.data[i] = ((words.data[i] as number) * wordStd) / 0.02;
  }
  // The head has its own stream so that changing dim leaves the backbone identical.
  const head = new Rng((seed ^ 0x9e3779b9) >>> 0).normalArray(dim * hidden, 1 / Math.sqrt(hidden));
  const tok = xtok ?? bertTokenizerFiles(vocab, { markers: ["[unused0]", "[unused1]"] });
  const [queryMarker, documentMarker] = xlmr ? XLMR_MARKERS : ["[unused0]", "[unused1]"];
  const ids = xtok ? xtok.ids : new Map(vocab.map((t, i) => [t, i]));
  const files = new Map<string, string | Uint8Array>([
    ["config.json", json(bertConfigToHf(cfg))],
    ["special_tokens_map.json", json(tok.specialTokensMap)],
  ]);
  if (opts.japanese) {
    files.set("vocab.txt", `${vocab.join("\n")}\n`);
    files.set("tokenizer_config.json", json({ ...tok.tokenizerConfig, ...JAPANESE_TOKENIZER_CONFIG }));
  } else {
    files.set("tokenizer.json", json(tok.tokenizerJson));
    files.set("tokenizer_config.json", json(tok.tokenizerConfig));
  }
  const graphs: [string, Parameters<typeof buildBertOnnx>[2]][] = [];
  const headTensor: TensorToWrite = { name: "linear.weight", shape: [dim, hidden], data: head };
  if (layout === "pylate") {
    files.set("modules.json", json([
      { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
      { idx: 1, name: "1", path: "1_Dense", type: "pylate.models.Dense.Dense" },
    ]));
    const headDims = opts.matryoshkaHeads ? mdims.slice(1) : [];
    files.set("config_sentence_transformers.json", json(pylateConfig({
      queryPrefix: queryMarker,
      documentPrefix: documentMarker,
      queryLength,
      documentLength,
      attendToExpansionTokens: xlmr,
      skiplistWords: [...ASCII_PUNCTUATION],
      doQueryExpansion: true,
      matryoshkaDims: mdims,
    }, headDims)));
    // Each separate head draws from its own stream.
    const heads = new Map(headDims.map((d): [number, DenseToWrite] => [d, {
      weight: new Rng((seed ^ 0x85ebca6b ^ d) >>> 0).normalArray(d * hidden, 1 / Math.sqrt(hidden)),
      bias: null, inFeatures: hidden, outFeatures: d, activation: "identity",
    }]));
    for (const [name, content] of matryoshkaHeadFiles(heads)) files.set(name, content);
    files.set("sentence_bert_config.json", json({ max_seq_length: documentLength - 1, do_lower_case: false }));
    for (const [name, content] of denseFolderFiles("1_Dense", { weight: head, bias: null, inFeatures: hidden, outFeatures: dim, activation: "identity" })) files.set(name, content);
    files.set("model.safetensors", serializeSafetensors(tensors(weights, "")));
    // The config carries the XLM-R conventions into every graph (no token_type_ids, RoBERTa positions).
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
    const mask = xlmr ? "<mask>" : "[MASK]";
    files.set("onnx_config.json", json({
      model_type: xlmr ? "xlm-roberta" : "bert",
      query_prefix: queryMarker,
      document_prefix: documentMarker,
      query_length: queryLength,
      document_length: documentLength,
      do_query_expansion: true,
      attend_to_expansion_tokens: xlmr,
      skiplist_words: ASCII_PUNCTUATION,
      embedding_dim: dim,
      mask_token_id: ids.get(mask),
      pad_token_id: ids.get(xlmr ? "<pad>" : "[MASK]"),
      query_prefix_id: ids.get(queryMarker),
      document_prefix_id: ids.get(documentMarker),
      uses_token_type_ids: !xlmr,
      do_lower_case: !xlmr && !opts.japanese,
    }));
    const withHead = { head: { weight: head, dim }, normalize: true };
    graphs.push(["model.onnx", withHead]);
    if (opts.int8) graphs.push(["model_int8.onnx", { ...withHead, quantize: "int8" }]);
  }
  fs.mkdirSync(dir, { recursive: true });
  if (opts.mecabDicDir) {
    for (const f of ["sys.dic", "unk.dic", "matrix.bin", "char.bin", "dicrc"]) {
      const from = path.join(opts.mecabDicDir, f);
      if (fs.existsSync(from)) files.set(`mecab-dic/${f}`, fs.readFileSync(from));
    }
  }
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
