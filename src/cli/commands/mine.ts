/**
 * `colts mine`: hard negatives for a BEIR split's qrels (see train/mine.ts for the policy), written as
 * training JSONL (train/format.ts) with ids and texts.
 */
import { Bm25Index } from "../../bm25/index.js";
import { ColtsError } from "../../errors.js";
import { loadBeir } from "../../eval/io.js";
import { RETRIEVERS, Searcher, type RetrieverName } from "../../search/searcher.js";
import { serializeTrainingExample } from "../../train/format.js";
import { mineTriples, parseWindow, type Retrieve, type ShortPolicy } from "../../train/mine.js";
import { intFlag, oneOf, parse, stringFlag } from "../args.js";
import { modelLocation, openOutput, resolvePath, writeOut, type CliIO } from "../io.js";
import { createProgressBar, hubProgressPrinter } from "../progress.js";

export const MINE_USAGE = `colts mine --dataset <BEIR dir> --output triples.jsonl [--split train] [--index <dir>]
            [--retriever bm25|plaid|exact|bm25+rerank|hybrid] [--negatives 8] [--window 10-100]
            [--seed 1] [--short drop|keep] [--model M]
  One line per (query, positive) of the split's qrels, with negatives sampled from the retriever's
  ranks FIRST-LAST, never a positive. Without --index: BM25 over the dataset's corpus, built in memory.`;

interface Backend {
  retrieve: Retrieve;
  close(): Promise<void>;
}

/** BM25 over the corpus, built in memory (Anserini's BEIR "flat": title + " " + text). */
function corpusBm25(docs: Map<string, string>): Backend {
  const bm25 = new Bm25Index();
  const all = [...docs].map(([id, text]) => ({ id, text }));
  for (let i = 0; i < all.length; i += 4096) bm25.add(all.slice(i, i + 4096));
  return { retrieve: (texts, k) => Promise.resolve(texts.map((t) => bm25.search(t, k).map((h) => h.id))), close: () => Promise.resolve() };
}

async function indexBackend(io: CliIO, indexDir: string, retriever: RetrieverName, model: string | undefined): Promise<Backend> {
  const searcher = await Searcher.open(resolvePath(io, indexDir), {
    ...(model ? { model: modelLocation(io, model) } : {}),
    env: io.env,
    onProgress: hubProgressPrinter(io.stderr),
  });
  return {
    retrieve: async (texts, k) => (await searcher.search(texts, { k, retriever })).map((hits) => hits.map((h) => h.id)),
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
      retriever: { type: "string", short: "r" },
      negatives: { type: "string" },
      window: { type: "string" },
      seed: { type: "string" },
      short: { type: "string" },
      model: { type: "string", short: "m" },
      output: { type: "string", short: "o" },
    },
    "colts mine",
  );
  const dataset = stringFlag(values, "dataset");
  const output = stringFlag(values, "output");
  if (!dataset || !output || positionals.length > 0) throw new ColtsError("USAGE", `colts mine: --dataset and --output are required\n${MINE_USAGE}`);
  const indexDir = stringFlag(values, "index");
  const retriever = oneOf<RetrieverName>(values, "retriever", RETRIEVERS) ?? (indexDir ? "plaid" : "bm25");
  if (!indexDir && retriever !== "bm25") throw new ColtsError("USAGE", `--retriever ${retriever} needs --index (only bm25 runs over the corpus directly)`);
  const opts = {
    negatives: intFlag(values, "negatives", 1, 1000) ?? 8,
    window: parseWindow(stringFlag(values, "window") ?? "10-100"),
    seed: intFlag(values, "seed", 0, 2 ** 32 - 1) ?? 1,
    short: oneOf<ShortPolicy>(values, "short", ["drop", "keep"]) ?? "drop",
  };
  const start = performance.now();
  const data = await loadBeir(resolvePath(io, dataset), stringFlag(values, "split") ?? "train");
  const docs = new Map(data.corpus.map((d) => [d.id, d.title.trim() !== "" ? `${d.title} ${d.text}` : d.text]));
  const backend = indexDir ? await indexBackend(io, indexDir, retriever, stringFlag(values, "model")) : corpusBm25(docs);
  const out = openOutput(io, output);
  const bar = io.stderr.isTTY ? createProgressBar({ stream: io.stderr, label: "mine", total: data.queries.size, unit: "items" }) : null;
  let done = 0;
  try {
    const retrieve: Retrieve = async (texts, k) => {
      const r = await backend.retrieve(texts, k);
      bar?.update((done += texts.length));
      return r;
    };
    const stats = await mineTriples({ queries: data.queries, qrels: data.qrels, docText: (id) => docs.get(id) }, retrieve, opts, (ex) =>
      writeOut(out.stream, `${serializeTrainingExample(ex)}\n`),
    );
    bar?.finish();
    await out.commit();
    const seconds = (performance.now() - start) / 1000;
    io.stderr.write(`mined ${stats.lines} lines (${stats.negatives} negatives) for ${stats.queries} queries with ${retriever}; ${stats.dropped} pairs dropped (too few candidates); ${seconds.toFixed(1)} s\n`);
    return 0;
  } catch (e) {
    out.abort();
    throw e;
  } finally {
    await backend.close();
  }
}
