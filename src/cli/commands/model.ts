/** `colts model tiny <dir> ...`: writes a generated test model. */
import { ColtsError } from "../../errors.js";
import { writeTinyCrossEncoder } from "../../testing/tiny-cross-encoder.js";
import { writeTinyModel, type TinyArch, type TinyLayout } from "../../testing/tiny-model.js";
import { intFlag, oneOf, parse } from "../args.js";
import { resolvePath, writeOut, type CliIO } from "../io.js";

export const MODEL_USAGE = `colts model tiny <dir> [--layout pylate|stanford|onnx] [--hidden 64] [--layers 2] [--heads N]
                 [--dim 32] [--seed 1] [--query-length 32] [--document-length 180] [--int8]
                 [--word-embedding-std 0.02] [--arch bert|xlm-roberta] [--japanese [--mecab-dic DIR]]
                 [--matryoshka-dims 32,24,16 [--matryoshka-heads]]
  Writes a small ColBERT model with seeded random weights (same seed, same bytes).
  --arch xlm-roberta: Jina-ColBERT-v2 conventions (Unigram tokenizer, [QueryMarker]/[DocumentMarker],
  attended <mask> expansion, no token_type_ids). --japanese: JaColBERT conventions (cl-tohoku vocab,
  BertJapaneseTokenizer = MeCab + WordPiece); --mecab-dic copies a compiled MeCab dictionary into it.
  --matryoshka-dims declares Matryoshka dimensions (first = --dim); --matryoshka-heads gives each
  smaller one its own head instead of truncation.
colts model tiny-cross-encoder <dir> [--hidden 32] [--layers 1] [--heads 2] [--labels 1|2] [--seed 1]
  Writes a small BERT cross-encoder (sequence classification, ONNX output "logits"), for colts teacher.`;

async function tinyCrossEncoderCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { hidden: { type: "string" }, layers: { type: "string" }, heads: { type: "string" }, labels: { type: "string" }, seed: { type: "string" } },
    "colts model tiny-cross-encoder",
  );
  const dir = positionals[0];
  if (!dir || positionals.length > 1) throw new ColtsError("USAGE", `colts model tiny-cross-encoder: expected one <dir>\n${MODEL_USAGE}`);
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

export async function modelCommand(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "tiny-cross-encoder") return tinyCrossEncoderCommand(rest, io);
  if (sub !== "tiny") throw new ColtsError("USAGE", `colts model: unknown subcommand ${sub ?? "(none)"}\n${MODEL_USAGE}`);
  const { values, positionals } = parse(
    rest,
    {
      layout: { type: "string" },
      hidden: { type: "string" },
      layers: { type: "string" },
      heads: { type: "string" },
      dim: { type: "string" },
      seed: { type: "string" },
      "query-length": { type: "string" },
      "document-length": { type: "string" },
      int8: { type: "boolean" },
      "word-embedding-std": { type: "string" },
      arch: { type: "string" },
      japanese: { type: "boolean" },
      "mecab-dic": { type: "string" },
      "matryoshka-dims": { type: "string" },
      "matryoshka-heads": { type: "boolean" },
    },
    "colts model tiny",
  );
  const dir = positionals[0];
  if (!dir || positionals.length > 1) throw new ColtsError("USAGE", `colts model tiny: expected one <dir>\n${MODEL_USAGE}`);
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
