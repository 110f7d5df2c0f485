/** `colts index build|add|delete|compact|info`: writes and inspects PLAID indexes. */
import { ANALYZER_NAMES, builtInAnalyzer } from "../../bm25/analyzers.js";
import { ColBERT } from "../../encode/colbert.js";
import { ColtsError } from "../../errors.js";
import { corpusFile, encodedCorpusSource, spoolToFile, type CorpusOptions } from "../../plaid/corpus.js";
import { PlaidIndex } from "../../plaid/plaid-index.js";
import { addToIndex, buildIndex, compactIndex, deleteFromIndex } from "../../plaid/writer.js";
import { isDrifted, readManifest, type Manifest } from "../../plaid/manifest.js";
import { intFlag, oneOf, parse, stringFlag, type Options } from "../args.js";
import { modelLocation, resolvePath, writeOut, type CliIO } from "../io.js";
import { createProgressBar, hubProgressPrinter } from "../progress.js";

export const INDEX_USAGE = `colts index build <dir> --model M --input <corpus.jsonl | BEIR dir | -> [--nbits 1|2|4] [--pool-factor N]
                  [--id-field _id] [--text-field text] [--title-field title] [--metadata-fields a,b] [--overwrite]
                  [--bm25-analyzer english|cjk|japanese] [--mecab-dic DIR] [--centroids K]
                  [--assignment auto|exact|two-level]
  colts index add <dir> --input <corpus> [--model M]
  colts index delete <dir> --ids a,b,c
  colts index compact <dir> [--recluster]
  colts index info <dir> [--json]`;

const CORPUS_FLAGS: Options = {
  input: { type: "string", short: "i" },
  "id-field": { type: "string" },
  "text-field": { type: "string" },
  "title-field": { type: "string" },
  "metadata-fields": { type: "string" },
  "batch-size": { type: "string" },
  workers: { type: "string" },
  offline: { type: "boolean" },
};

function corpusOptions(values: Record<string, unknown>): CorpusOptions {
  const fields = stringFlag(values, "metadata-fields");
  return {
    ...(stringFlag(values, "id-field") ? { idField: stringFlag(values, "id-field") } : {}),
    ...(stringFlag(values, "text-field") ? { textField: stringFlag(values, "text-field") } : {}),
    ...(stringFlag(values, "title-field") ? { titleField: stringFlag(values, "title-field") } : {}),
    ...(fields ? { metadataFields: fields.split(",").map((f) => f.trim()).filter(Boolean) } : {}),
  };
}

function oneDir(positionals: string[], sub: string): string {
  const dir = positionals[0];
  if (!dir || positionals.length !== 1) throw new ColtsError("USAGE", `colts index ${sub}: expected one <dir>\n${INDEX_USAGE}`);
  return dir;
}

/** Opens the corpus (spooling stdin) and the model, runs `fn`, and cleans up. */
async function withCorpus<T>(io: CliIO, values: Record<string, unknown>, model: string, fn: (file: string, colbert: ColBERT) => Promise<T>): Promise<T> {
  const input = stringFlag(values, "input");
  if (!input) throw new ColtsError("USAGE", `--input is required\n${INDEX_USAGE}`);
  const spooled = input === "-" ? await spoolToFile(io.stdin) : null;
  const workers = intFlag(values, "workers", 0, 64);
  const colbert = await ColBERT.load(modelLocation(io, model), {
    env: io.env,
    onProgress: hubProgressPrinter(io.stderr),
    ...(workers !== undefined ? { workers } : {}),
    ...(values["offline"] ? { localFilesOnly: true } : {}),
  });
  try {
    return await fn(spooled?.file ?? corpusFile(resolvePath(io, input)), colbert);
  } finally {
    await colbert.close();
    spooled?.cleanup();
  }
}

function progress(io: CliIO): (e: { phase: string; done: number; total: number }) => void {
  const bars = new Map<string, ReturnType<typeof createProgressBar>>();
  return (e) => {
    let bar = bars.get(e.phase);
    if (!bar) {
      bar = createProgressBar({ stream: io.stderr, label: e.phase === "index" ? "indexing" : e.phase, total: e.total, unit: "items" });
      bars.set(e.phase, bar);
    }
    bar.update(e.done, e.total);
    if (e.done >= e.total) bar.finish();
  };
}

async function build(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      ...CORPUS_FLAGS,
      model: { type: "string", short: "m" },
      nbits: { type: "string" },
      "pool-factor": { type: "string" },
      overwrite: { type: "boolean" },
      "bm25-analyzer": { type: "string" },
      "mecab-dic": { type: "string" },
      centroids: { type: "string" },
      assignment: { type: "string" },
    },
    "colts index build",
  );
  const dir = resolvePath(io, oneDir(positionals, "build"));
  const model = stringFlag(values, "model");
  if (!model) throw new ColtsError("USAGE", `colts index build: --model is required\n${INDEX_USAGE}`);
  const nbits = oneOf(values, "nbits", ["1", "2", "4"] as const);
  const poolFactor = intFlag(values, "pool-factor", 1, 64);
  const batchSize = intFlag(values, "batch-size", 1, 100_000);
  // Codec size and how vectors are assigned to centroids (BuildOptions.numCentroids / assignment).
  const numCentroids = intFlag(values, "centroids", 1, 1 << 22);
  const assignment = oneOf(values, "assignment", ["auto", "exact", "two-level"] as const);
  // BM25 analyser: english (default), cjk (bigrams) or japanese (MeCab; --mecab-dic or $COLTS_MECAB_DICDIR).
  const analyzerName = oneOf(values, "bm25-analyzer", ANALYZER_NAMES);
  const mecabDic = stringFlag(values, "mecab-dic");
  const bm25Analyzer = analyzerName ? builtInAnalyzer(analyzerName, mecabDic ? { mecabDicDir: resolvePath(io, mecabDic) } : {}) : undefined;
  const m = await withCorpus(io, values, model, async (file, colbert) => {
    const source = await encodedCorpusSource(file, colbert, { ...corpusOptions(values), ...(batchSize ? { batchSize } : {}) });
    return buildIndex(dir, source, colbert.dim, {
      model: modelLocation(io, model),
      ...(nbits ? { nbits: Number(nbits) as 1 | 2 | 4 } : {}),
      ...(poolFactor ? { poolFactor } : {}),
      ...(numCentroids ? { numCentroids } : {}),
      ...(assignment ? { assignment } : {}),
      overwrite: values["overwrite"] === true,
      onProgress: progress(io),
      ...(bm25Analyzer ? { bm25Analyzer } : {}),
    });
  });
  await writeOut(io.stdout, `built ${dir}: ${m.liveDocs} documents, ${m.chunks.reduce((a, c) => a + c.vectors, 0)} vectors, ${m.numCentroids} centroids, nbits ${m.nbits}\n`);
  return 0;
}

async function add(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, { ...CORPUS_FLAGS, model: { type: "string", short: "m" } }, "colts index add");
  const dir = resolvePath(io, oneDir(positionals, "add"));
  const model = stringFlag(values, "model") ?? readManifest(dir).model;
  if (!model) throw new ColtsError("USAGE", "colts index add: the index records no model; pass --model");
  const m = await withCorpus(io, values, model, async (file, colbert) =>
    addToIndex(dir, await encodedCorpusSource(file, colbert, corpusOptions(values)), { onProgress: progress(io) }),
  );
  await writeOut(io.stdout, `${dir}: ${m.liveDocs} live documents (generation ${m.generation})${driftNote(m.drift)}\n`);
  return 0;
}

function driftNote(d: Manifest["drift"]): string {
  return isDrifted(d)
    ? "\nnote: the new documents sit far from the index's centroids; run `colts index compact <dir> --recluster`"
    : "";
}

async function remove(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, { ids: { type: "string" } }, "colts index delete");
  const dir = resolvePath(io, oneDir(positionals, "delete"));
  const ids = (stringFlag(values, "ids") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  if (ids.length === 0) throw new ColtsError("USAGE", "colts index delete: --ids a,b,c is required");
  const r = await deleteFromIndex(dir, ids);
  await writeOut(io.stdout, `deleted ${r.deleted.length}${r.missing.length ? `; not found: ${r.missing.join(",")}` : ""}\n`);
  return r.missing.length > 0 && r.deleted.length === 0 ? 1 : 0;
}

async function compact(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, { recluster: { type: "boolean" } }, "colts index compact");
  const dir = resolvePath(io, oneDir(positionals, "compact"));
  const m = await compactIndex(dir, { recluster: values["recluster"] === true });
  await writeOut(io.stdout, `compacted ${dir}: ${m.liveDocs} documents in ${m.chunks.length} chunks, ${m.numCentroids} centroids\n`);
  return 0;
}

async function info(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: "boolean" } }, "colts index info");
  const index = await PlaidIndex.open(resolvePath(io, oneDir(positionals, "info")), { verify: false });
  try {
    const i = index.info();
    if (values["json"]) await writeOut(io.stdout, `${JSON.stringify(i)}\n`);
    else {
      const rows: [string, string][] = [
        ["documents", String(i.documents)],
        ["live documents", String(i.liveDocuments)],
        ["vectors", String(i.vectors)],
        ["bytes per vector", i.bytesPerVector.toFixed(2)],
        ["nbits", String(i.nbits)],
        ["centroids", String(i.centroids)],
        ["dim", String(i.dim)],
        ["pool factor", String(i.poolFactor)],
        ["model", i.model ?? "-"],
        ["format version", String(i.formatVersion)],
        ["size on disk", `${(i.sizeOnDisk / 1048576).toFixed(2)} MiB`],
        ["drift", i.drifted ? "new data far from centroids: run compact --recluster" : "ok"],
      ];
      await writeOut(io.stdout, rows.map(([k, v]) => `${k.padEnd(16)} ${v}`).join("\n") + "\n");
    }
    return 0;
  } finally {
    await index.close();
  }
}

const SUBCOMMANDS: Record<string, (argv: string[], io: CliIO) => Promise<number>> = { build, add, delete: remove, compact, info };

export async function indexCommand(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  const run = sub ? SUBCOMMANDS[sub] : undefined;
  if (!run) throw new ColtsError("USAGE", `colts index: unknown subcommand ${sub ?? "(none)"}\n  ${INDEX_USAGE}`);
  return run(rest, io);
}
