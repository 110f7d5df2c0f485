/**
 * `colts mine`: hard negatives for a BEIR split's qrels (see train/mine.ts for the policy), written as
 * training JSONL (train/format.ts) with ids and texts.
 */
import { Bm25Index } from "../../bm25/bm25-index.js";
import { ColtsError } from "../../errors.js";
import { loadBeir, readTrecRun } from "../../eval/io.js";
import { PlaidIndex } from "../../plaid/plaid-index.js";
import { RETRIEVERS, Searcher, type RetrieverName } from "../../search/searcher.js";
import { serializeTrainingExample } from "../../train/format.js";
import { mineTriples, parseWindow, type Retrieve, type ShortPolicy } from "../../train/mine.js";
import { intFlag, oneOf, parse, stringFlag } from "../args.js";
import { modelLocation, openOutput, resolvePath, writeOut, type CliIO } from "../io.js";
import { createProgressBar, hubProgressPrinter } from "../progress.js";
import { documentText } from "../../corpus/reader.js";

export const MINE_USAGE = `colts mine --dataset <BEIR dir> --output triples.jsonl [--split train] [--index <dir> | --run <run.trec>]
            [--retriever bm25|plaid|exact|bm25+rerank|hybrid] [--negatives 8] [--window 10-100]
            [--seed 1] [--short drop|keep] [--positive-grade 1] [--model M]
  One line per (query, positive >= --positive-grade) of the split's qrels, with negatives sampled
  from the retriever's ranks FIRST-LAST, never a document graded > 0. Without --index: BM25 over the
  dataset's corpus, built in memory; with --run: the ranking of a precomputed TREC run (by query id).`;

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

async function indexBackend(io: CliIO, indexDir: string, retriever: RetrieverName, model: string | undefined): Promise<Backend> {
  if (retriever === "bm25") {
    // Keywords only: the index's BM25 side, without loading a model.
    const index = await PlaidIndex.open(resolvePath(io, indexDir));
    try {
      const bm25 = await index.keywordIndex();
      return { retrieve: (queries, k) => Promise.resolve(queries.map((q) => bm25.search(q.text, k).map((h) => h.id))), close: () => index.close() };
    } catch (e) {
      await index.close();
      throw e;
    }
  }
  const searcher = await Searcher.open(resolvePath(io, indexDir), {
    ...(model ? { model: modelLocation(io, model) } : {}),
    env: io.env,
    onProgress: hubProgressPrinter(io.stderr),
  });
  return {
    retrieve: async (queries, k) => (await searcher.search(queries.map((q) => q.text), { k, retriever })).map((hits) => hits.map((h) => h.id)),
    close: () => searcher.close(),
  };
}

export async function mineCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      dataset: { type: "string" },
      split: { type: "string" },
      index: { type: "string" },
      run: { type: "string" },
      retriever: { type: "string", short: "r" },
      negatives: { type: "string" },
      window: { type: "string" },
      seed: { type: "string" },
      short: { type: "string" },
      "positive-grade": { type: "string" },
      model: { type: "string", short: "m" },
      output: { type: "string", short: "o" },
    },
    "colts mine",
  );
  const dataset = stringFlag(values, "dataset");
  const output = stringFlag(values, "output");
  if (!dataset || !output || positionals.length > 0) throw new ColtsError("USAGE", `colts mine: --dataset and --output are required\n${MINE_USAGE}`);
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
  const start = performance.now();
  const data = await loadBeir(resolvePath(io, dataset), stringFlag(values, "split") ?? "train");
  const docs = new Map(data.corpus.map((d) => [d.id, documentText(d.title, d.text)]));
  const backend = runFile
    ? await runBackend(resolvePath(io, runFile))
    : indexDir
      ? await indexBackend(io, indexDir, retriever, stringFlag(values, "model"))
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
    out.abort();
    throw e;
  } finally {
    await backend.close();
  }
}
