/**
 * `colts mine`: hard negatives for a BEIR split's qrels (see train/mine.ts for the policy), written as
 * training JSONL (train/format.ts) with ids and texts.
 */
import { Bm25Index } from "../../bm25/bm25-index.js";
import type { LoadOptions } from "../../encode/colbert.js";
import { ColtsError } from "../../errors.js";
import { loadBeir, readTrecRun } from "../../eval/io.js";
import { openIndex } from "../../location/open.js";
import { RETRIEVERS, Searcher, type RetrieverName } from "../../search/searcher.js";
import { serializeTrainingExample } from "../../train/format.js";
import { mineTriples, parseWindow, type Retrieve, type ShortPolicy } from "../../train/mine.js";
import { intFlag, oneOf, parse, stringFlag, usageError, type CommandSpec } from "../args.js";
import { MODEL_FLAGS, modelLoadOptions } from "../model-flags.js";
import { modelLocation, openOutput, resolveIndexLocation, resolvePath, writeOut, type CliIO } from "../io.js";
import { createProgressBar } from "../progress.js";
import { documentText } from "../../corpus/reader.js";

/** `colts mine`: its flags and help page, the one declaration that parsing and `--help` read. */
export const MINE_SPEC: CommandSpec = {
  name: "mine",
  summary: "mine hard negatives for a BEIR split's qrels into training JSONL",
  usage: ["--dataset <BEIR dir> --output triples.jsonl"],
  description: `One line per (query, positive >= --positive-grade) of the split's qrels, with negatives sampled
from the retriever's ranks FIRST-LAST, never a document graded > 0. Without --index: BM25 over the
dataset's corpus, built in memory; with --run: the ranking of a precomputed TREC run (by query id).
The model flags apply with --index and a retriever that encodes queries.`,
  flags: [
    { name: "dataset", type: "string", arg: "DIR", help: "BEIR folder: corpus.jsonl, queries.jsonl, qrels/ (required)" },
    { name: "output", short: "o", type: "string", arg: "FILE", help: "training JSONL to write, atomically (a symlink's target; a device or FIFO in place) (required)" },
    { name: "split", type: "string", arg: "NAME", default: "train", help: "qrels split" },
    { name: "index", type: "string", arg: "LOCATION", help: "retrieve from this index (a folder or a postgres:// URL) instead of the corpus" },
    { name: "run", type: "string", arg: "FILE", help: "take each query's ranking from a TREC run instead" },
    { name: "retriever", short: "r", type: "string", arg: RETRIEVERS.join("|"), default: "plaid with --index, else bm25", help: "retriever of the candidates" },
    { name: "negatives", type: "string", arg: "N", default: "8", help: "negatives per line, 1..1000" },
    { name: "window", type: "string", arg: "FIRST-LAST", default: "10-100", help: "ranks the negatives are sampled from" },
    { name: "seed", type: "string", arg: "N", default: "1", help: "sampling seed (same seed, same file)" },
    { name: "short", type: "string", arg: "drop|keep", default: "drop", help: "lines with fewer candidates than --negatives" },
    { name: "positive-grade", type: "string", arg: "N", default: "1", help: "lowest qrels grade that counts as a positive" },
    { name: "model", short: "m", type: "string", arg: "M", default: "the model the index records", help: "model to encode queries with (with --index)" },
    ...MODEL_FLAGS,
  ],
  example: "colts mine --dataset beir/scifact --split train --negatives 8 --window 10-100 --output triples.jsonl",
};

interface Backend {
  retrieve: Retrieve;
  close(): Promise<void>;
}

/** BM25 over the corpus, built in memory (Anserini's BEIR "flat": title + " " + text). */
function corpusBm25(docs: Map<string, string>): Backend {
  const bm25 = new Bm25Index();
  const all = [...docs].map(([id, text]) => ({ id, text }));
  for (let i = 0; i < all.length; i += 4096) bm25.add(all.slice(i, i + 4096));
  return { retrieve: (queries, k) => Promise.resolve(queries.map((q) => bm25.search(q.text, k).map((h) => h.id))), close: () => Promise.resolve() };
}

/** A precomputed TREC run: each query's documents by descending score (ties by id, as trec_eval). */
async function runBackend(file: string): Promise<Backend> {
  const run = await readTrecRun(file);
  const ranked = new Map([...run].map(([qid, entries]) => [qid, [...entries].sort((a, b) => b.score - a.score || (a.docid < b.docid ? 1 : a.docid > b.docid ? -1 : 0)).map((e) => e.docid)]));
  return { retrieve: (queries, k) => Promise.resolve(queries.map((q) => (ranked.get(q.id) ?? []).slice(0, k))), close: () => Promise.resolve() };
}

async function indexBackend(io: CliIO, indexDir: string, retriever: RetrieverName, model: string | undefined, loadOptions: LoadOptions): Promise<Backend> {
  if (retriever === "bm25" || retriever === "keyword") {
    // Keywords only: the index's keyword side, without loading a model.
    const index = await openIndex(resolveIndexLocation(io, indexDir));
    try {
      index.checkRetriever(retriever);
      await index.preload();
      return {
        retrieve: async (queries, k) => Promise.all(queries.map(async (q) => (await index.keywordSearch(q.text, k, {})).map((h) => h.id))),
        close: () => index.close(),
      };
    } catch (e) {
      await index.close();
      throw e;
    }
  }
  const searcher = await Searcher.open(resolveIndexLocation(io, indexDir), { ...loadOptions, ...(model ? { model: modelLocation(io, model) } : {}) });
  return {
    retrieve: async (queries, k) => (await searcher.search(queries.map((q) => q.text), { k, retriever })).map((hits) => hits.map((h) => h.id)),
    close: () => searcher.close(),
  };
}

export async function mineCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, MINE_SPEC);
  const dataset = stringFlag(values, "dataset");
  const output = stringFlag(values, "output");
  if (!dataset || !output || positionals.length > 0) throw usageError(MINE_SPEC, "--dataset and --output are required");
  const indexDir = stringFlag(values, "index");
  const runFile = stringFlag(values, "run");
  if (indexDir && runFile) throw new ColtsError("USAGE", "colts mine: give --index or --run, not both");
  const chosen = oneOf<RetrieverName>(values, "retriever", RETRIEVERS);
  if (runFile && chosen) throw new ColtsError("USAGE", "colts mine: --retriever does not apply to --run (the run is the ranking)");
  const retriever = chosen ?? (indexDir ? "plaid" : "bm25");
  if (!indexDir && retriever !== "bm25") throw new ColtsError("USAGE", `--retriever ${retriever} needs --index (only bm25 runs over the corpus directly)`);
  const opts = {
    negatives: intFlag(values, "negatives", 1, 1000) ?? 8,
    window: parseWindow(stringFlag(values, "window") ?? "10-100"),
    seed: intFlag(values, "seed", 0, 2 ** 32 - 1) ?? 1,
    short: oneOf<ShortPolicy>(values, "short", ["drop", "keep"]) ?? "drop",
    positiveGrade: intFlag(values, "positive-grade", 1, 1000) ?? 1,
  };
  const loadOptions = modelLoadOptions(values, io);
  const start = performance.now();
  const data = await loadBeir(resolvePath(io, dataset), stringFlag(values, "split") ?? "train");
  const docs = new Map(data.corpus.map((d) => [d.id, documentText(d.title, d.text)]));
  const backend = runFile
    ? await runBackend(resolvePath(io, runFile))
    : indexDir
      ? await indexBackend(io, indexDir, retriever, stringFlag(values, "model"), loadOptions)
      : corpusBm25(docs);
  const source = runFile ? `run ${runFile}` : retriever;
  const out = openOutput(io, output);
  const bar = io.stderr.isTTY ? createProgressBar({ stream: io.stderr, label: "mine", total: data.queries.size, unit: "items" }) : null;
  let done = 0;
  try {
    const retrieve: Retrieve = async (queries, k) => {
      const r = await backend.retrieve(queries, k);
      bar?.update((done += queries.length));
      return r;
    };
    const stats = await mineTriples({ queries: data.queries, qrels: data.qrels, docText: (id) => docs.get(id) }, retrieve, opts, (ex) =>
      writeOut(out.stream, `${serializeTrainingExample(ex)}\n`),
    );
    bar?.finish();
    await out.commit();
    const seconds = (performance.now() - start) / 1000;
    io.stderr.write(`mined ${stats.lines} lines (${stats.negatives} negatives) for ${stats.queries} queries with ${source}; ${stats.dropped} pairs dropped (too few candidates); ${seconds.toFixed(1)} s\n`);
    return 0;
  } catch (e) {
    await out.abort();
    throw e;
  } finally {
    await backend.close();
  }
}
