/** `colts model tiny <dir> ...`: writes a generated test model; `colts model quantize <model> <out>`: an int8 copy of a model. */
import { ColtsError } from "../../errors.js";
import { resolveModelDir } from "../../model/resolve.js";
import { quantizeModel } from "../../model/quantize.js";
import { MODEL_FLAGS, modelLoadOptions } from "../model-flags.js";
import { writeTinyCrossEncoder } from "../../testing/tiny-cross-encoder.js";
import { writeTinyModel, type TinyArch, type TinyLayout } from "../../testing/tiny-model.js";
import { intFlag, oneOf, parse, usageError, type Command, type CommandSpec } from "../args.js";
import { modelLocation, resolvePath, writeOut, type CliIO } from "../io.js";

const TINY_SPEC: CommandSpec = {
  name: "model tiny",
  summary: "write a small ColBERT model with seeded random weights (tests, demos)",
  usage: ["<dir>"],
  description: `Same seed, same bytes. --arch xlm-roberta: Jina-ColBERT-v2 conventions (Unigram tokenizer,
[QueryMarker]/[DocumentMarker], attended <mask> expansion, no token_type_ids). --japanese: JaColBERT
conventions (cl-tohoku vocab, BertJapaneseTokenizer = MeCab + WordPiece).`,
  flags: [
    { name: "layout", type: "string", arg: "pylate|stanford|onnx", default: "pylate", help: "checkpoint layout to write" },
    { name: "hidden", type: "string", arg: "N", default: "64", help: "hidden size, 8..4096, divisible by --heads" },
    { name: "layers", type: "string", arg: "N", default: "2", help: "transformer layers, 1..48" },
    { name: "heads", type: "string", arg: "N", default: "max(1, hidden / 16)", help: "attention heads, 1..64" },
    { name: "dim", type: "string", arg: "N", default: "32", help: "output dimension of the projection head" },
    { name: "seed", type: "string", arg: "N", default: "1", help: "seed of every random weight" },
    { name: "query-length", type: "string", arg: "N", default: "32", help: "query length in tokens" },
    { name: "document-length", type: "string", arg: "N", default: "180", help: "document length in tokens" },
    { name: "int8", type: "boolean", help: "also write an int8 dynamically quantized graph" },
    { name: "word-embedding-std", type: "string", arg: "X", default: "0.02", help: "standard deviation of the word embeddings" },
    { name: "arch", type: "string", arg: "bert|xlm-roberta", default: "bert", help: "backbone and tokenizer conventions" },
    { name: "japanese", type: "boolean", help: "JaColBERT conventions (BERT only)" },
    { name: "mecab-dic", type: "string", arg: "DIR", help: "compiled MeCab dictionary copied into the model (--japanese)" },
    { name: "matryoshka-dims", type: "string", arg: "a,b,...", default: "none", help: "Matryoshka dimensions, largest first, the first = --dim (pylate layout)" },
    { name: "matryoshka-heads", type: "boolean", help: "give each smaller Matryoshka dimension its own head instead of truncation" },
  ],
  example: "colts model tiny demo-model --hidden 32 --layers 1 --dim 16 --seed 7",
};

const TINY_CROSS_ENCODER_SPEC: CommandSpec = {
  name: "model tiny-cross-encoder",
  summary: "write a small BERT cross-encoder with seeded random weights (for colts teacher)",
  usage: ["<dir>"],
  description: 'Sequence classification, ONNX output "logits".',
  flags: [
    { name: "hidden", type: "string", arg: "N", default: "32", help: "hidden size, 8..4096" },
    { name: "layers", type: "string", arg: "N", default: "1", help: "transformer layers, 1..48" },
    { name: "heads", type: "string", arg: "N", default: "2", help: "attention heads, 1..64" },
    { name: "labels", type: "string", arg: "1|2", default: "1", help: "1: a relevance logit; 2: not relevant / relevant" },
    { name: "seed", type: "string", arg: "N", default: "1", help: "seed of every weight" },
  ],
  example: "colts model tiny-cross-encoder ce-model --seed 5",
};

const QUANTIZE_SPEC: CommandSpec = {
  name: "model quantize",
  summary: "write an int8 copy of a model (for --quantized)",
  usage: ["<model> <out>"],
  description: `<model> is a model folder or hub id. <out> gets the model's files plus model_int8.onnx, an int8
dynamically quantized graph (as onnxruntime's quantize_dynamic: every MatMul with a float weight runs
as DynamicQuantizeLinear + MatMulInteger, weights int8 symmetric per tensor; Gemm and everything else
stays as it was). It is made from the model's fp32 ONNX graph, or, without one, from its BERT /
XLM-R model.safetensors. Load <out> with --quantized to use it; without --quantized <out> loads the
copied fp32 model as before (unless --int8-only).`,
  flags: [
    { name: "overwrite", type: "boolean", help: "replace an existing non-empty <out> folder" },
    { name: "int8-only", type: "boolean", help: "leave out the fp32 graph and safetensors weights (smaller; <out> then loads only with --quantized)" },
    // A hub id as <model>: the hub flags of the model-loading commands (the model is read, never run).
    ...MODEL_FLAGS.filter((f) => f.name === "revision" || f.name === "offline").map((f) => ({ ...f, group: "Hub flags (when <model> is a hub id)" })),
  ],
  example: "colts model quantize ./my-model ./my-model-int8 && colts encode -m ./my-model-int8 --quantized --queries",
};

async function quantizeCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, QUANTIZE_SPEC);
  const [model, out] = positionals;
  if (!model || !out || positionals.length > 2) throw usageError(QUANTIZE_SPEC, "expected <model> <out>");
  const { env, revision, localFilesOnly, onProgress, onWarning } = modelLoadOptions(values, io);
  const dir = await resolveModelDir(modelLocation(io, model), {
    ...(env ? { env } : {}),
    ...(revision ? { revision } : {}),
    ...(localFilesOnly ? { localFilesOnly } : {}),
    ...(onProgress ? { onProgress } : {}),
    ...(onWarning ? { onWarning } : {}),
  });
  const target = resolvePath(io, out);
  const r = await quantizeModel(dir, target, { overwrite: values["overwrite"] === true, int8Only: values["int8-only"] === true });
  const from = r.source === "onnx" ? `fp32 graph ${r.sourceFile}` : `${r.sourceFile} (no ONNX graph)`;
  const gemm = r.gemmLeftFloat > 0 ? `, ${r.gemmLeftFloat} Gemm left float` : "";
  await writeOut(io.stdout, `wrote ${target}/${r.graph}: ${r.quantizedMatMuls} MatMuls int8 (from the ${from}${gemm}); ${r.files.length} files\n${r.files.map((f) => `  ${f}`).join("\n")}\n`);
  return 0;
}

async function tinyCrossEncoderCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, TINY_CROSS_ENCODER_SPEC);
  const dir = positionals[0];
  if (!dir || positionals.length > 1) throw usageError(TINY_CROSS_ENCODER_SPEC, "expected one <dir>");
  const labels = oneOf(values, "labels", ["1", "2"]);
  const target = resolvePath(io, dir);
  const files = await writeTinyCrossEncoder(target, {
    ...defined({
      hidden: intFlag(values, "hidden", 8, 4096),
      layers: intFlag(values, "layers", 1, 48),
      heads: intFlag(values, "heads", 1, 64),
      seed: intFlag(values, "seed", 0, 2 ** 32 - 1),
    }),
    ...(labels ? { labels: labels === "2" ? 2 : 1 } : {}),
  });
  await writeOut(io.stdout, `wrote ${files.length} files to ${target}\n${files.map((f) => `  ${f}`).join("\n")}\n`);
  return 0;
}

async function tinyCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, TINY_SPEC);
  const dir = positionals[0];
  if (!dir || positionals.length > 1) throw usageError(TINY_SPEC, "expected one <dir>");
  const layout = oneOf<TinyLayout>(values, "layout", ["pylate", "stanford", "onnx"]);
  const target = resolvePath(io, dir);
  const rawStd = values["word-embedding-std"];
  const wordStd = typeof rawStd === "string" ? Number(rawStd) : undefined;
  if (wordStd !== undefined && !(Number.isFinite(wordStd) && wordStd > 0)) {
    throw new ColtsError("USAGE", `--word-embedding-std must be a positive number, got ${String(rawStd)}`);
  }
  const arch = oneOf<TinyArch>(values, "arch", ["bert", "xlm-roberta"]);
  const rawDims = values["matryoshka-dims"];
  const matryoshkaDims = typeof rawDims === "string" ? rawDims.split(",").map((d) => Number(d.trim())) : undefined;
  if (matryoshkaDims?.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new ColtsError("USAGE", `--matryoshka-dims must be comma-separated positive integers, got ${String(rawDims)}`);
  }
  const mecabDic = values["mecab-dic"];
  const files = await writeTinyModel(target, {
    ...(arch ? { arch } : {}),
    ...(values["japanese"] === true ? { japanese: true } : {}),
    ...(typeof mecabDic === "string" ? { mecabDicDir: resolvePath(io, mecabDic) } : {}),
    ...(matryoshkaDims ? { matryoshkaDims } : {}),
    ...(values["matryoshka-heads"] === true ? { matryoshkaHeads: true } : {}),
    ...(layout ? { layout } : {}),
    ...defined({
      hidden: intFlag(values, "hidden", 8, 4096),
      layers: intFlag(values, "layers", 1, 48),
      heads: intFlag(values, "heads", 1, 64),
      dim: intFlag(values, "dim", 1, 4096),
      seed: intFlag(values, "seed", 0, 2 ** 32 - 1),
      queryLength: intFlag(values, "query-length", 4, 8192),
      documentLength: intFlag(values, "document-length", 4, 8192),
    }),
    int8: values["int8"] === true,
    ...(wordStd !== undefined ? { wordEmbeddingStd: wordStd } : {}),
  });
  await writeOut(io.stdout, `wrote ${files.length} files to ${target}\n${files.map((f) => `  ${f}`).join("\n")}\n`);
  return 0;
}

function defined<T extends Record<string, number | undefined>>(o: T): { [K in keyof T]?: number } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: number };
}

/** `colts model <sub>`: the sub-commands by name. */
export const MODEL_COMMANDS: Record<string, Command> = {
  tiny: { spec: TINY_SPEC, run: tinyCommand },
  "tiny-cross-encoder": { spec: TINY_CROSS_ENCODER_SPEC, run: tinyCrossEncoderCommand },
  quantize: { spec: QUANTIZE_SPEC, run: quantizeCommand },
};
