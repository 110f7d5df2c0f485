/**
 * `colts eval`: runs one or more retrievers over a dataset's queries against an index and reports
 * trec_eval-compatible measures and latency, as a table (or JSON). Queries judged in the qrels but
 * answered with nothing count as zeros (trec_eval -c), so retrievers are compared on the same set.
 */
import path from "node:path";
import { ColtsError } from "../../errors.js";
import { loadBeir, readText, readTopics, readTrecQrels, writeTrecRun } from "../../eval/io.js";
import { parseSquadRetrieval } from "../../eval/squad.js";
import { parseMeasure } from "../../eval/measures.js";
import { evaluate } from "../../eval/metrics.js";
import type { Queries, Qrels, Run } from "../../eval/types.js";
import { RETRIEVERS, Searcher, type RetrieverName } from "../../search/searcher.js";
import { writeFileAtomic } from "../../store/atomic.js";
import { intFlag, parse, stringFlag } from "../args.js";
import { modelLocation, resolvePath, writeOut, type CliIO } from "../io.js";
import { createProgressBar, hubProgressPrinter } from "../progress.js";

export const EVAL_USAGE = `colts eval --index <dir> (--dataset <BEIR dir> [--split test] | --dataset <SQuAD .json> | --topics <file> --qrels <file>)
             [--retriever plaid,exact,bm25,bm25+rerank,hybrid] [--metrics ndcg@10,recall@100,mrr@10]
             [-k 100] [--json] [--report results.json] [--output run.trec] [--model M]`;

export interface RetrieverResult {
  retriever: RetrieverName;
  queries: number;
  metrics: Record<string, number>;
  /** Mean wall-clock milliseconds per query (encoding included). */
  msPerQuery: number;
}

async function loadDataset(io: CliIO, values: Record<string, unknown>): Promise<{ name: string; queries: Queries; qrels: Qrels }> {
  const dataset = stringFlag(values, "dataset");
  const topics = stringFlag(values, "topics");
  const qrelsFile = stringFlag(values, "qrels");
  if (dataset && !topics && !qrelsFile && dataset.endsWith(".json")) {
    // A SQuAD-format QA file (JSQuAD, JaQuAD): question -> its paragraph (see eval/squad.ts).
    const file = resolvePath(io, dataset);
    const set = parseSquadRetrieval(await readText(file), file);
    return { name: path.basename(file), queries: new Map(set.queries.map((q) => [q.id, q.text])), qrels: set.qrels };
  }
  if (dataset && !topics && !qrelsFile) {
    const split = stringFlag(values, "split") ?? "test";
    const d = await loadBeir(resolvePath(io, dataset), split, { corpus: false });
    return { name: `${path.basename(resolvePath(io, dataset))}/${split}`, queries: d.queries, qrels: d.qrels };
  }
  if (!dataset && topics && qrelsFile) {
    const qrels = await readTrecQrels(resolvePath(io, qrelsFile));
    const all = await readTopics(resolvePath(io, topics));
    const queries: Queries = new Map([...all].filter(([id]) => qrels.has(id)));
    return { name: path.basename(topics), queries, qrels };
  }
  throw new ColtsError("USAGE", `colts eval: give --dataset <BEIR dir>, or --topics and --qrels\n${EVAL_USAGE}`);
}

function runFile(output: string, retriever: string, several: boolean): string {
  if (!several) return output;
  const ext = path.extname(output);
  return `${output.slice(0, output.length - ext.length)}.${retriever.replace("+", "-")}${ext}`;
}

function table(name: string, metrics: string[], results: RetrieverResult[]): string {
  const head = ["retriever", ...metrics, "ms/query"];
  const rows = results.map((r) => [r.retriever, ...metrics.map((m) => (r.metrics[m] ?? 0).toFixed(4)), r.msPerQuery.toFixed(1)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");
  return [`${name}: ${results[0]?.queries ?? 0} queries`, line(head), ...rows.map(line)].join("\n");
}

export async function evalCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      index: { type: "string" },
      dataset: { type: "string" },
      split: { type: "string" },
      topics: { type: "string" },
      qrels: { type: "string" },
      retriever: { type: "string", short: "r" },
      metrics: { type: "string" },
      k: { type: "string", short: "k" },
      json: { type: "boolean" },
      report: { type: "string" },
      output: { type: "string", short: "o" },
      model: { type: "string", short: "m" },
      workers: { type: "string" },
    },
    "colts eval",
  );
  const indexDir = stringFlag(values, "index");
  if (!indexDir || positionals.length > 0) throw new ColtsError("USAGE", `colts eval: --index is required\n${EVAL_USAGE}`);
  const retrievers = (stringFlag(values, "retriever") ?? "plaid").split(",").map((r) => r.trim());
  for (const r of retrievers) {
    if (!(RETRIEVERS as readonly string[]).includes(r)) throw new ColtsError("USAGE", `--retriever ${r} is not one of ${RETRIEVERS.join(", ")}`);
  }
  const metrics = (stringFlag(values, "metrics") ?? "ndcg@10,recall@100,mrr@10").split(",").map((m) => m.trim());
  const k = intFlag(values, "k", 1, 10_000) ?? 100;
  const { name, queries, qrels } = await loadDataset(io, values);
  for (const m of metrics) parseMeasure(m); // refuse unknown metric names before any work
  const model = stringFlag(values, "model");
  const workers = intFlag(values, "workers", 0, 64);
  const searcher = await Searcher.open(resolvePath(io, indexDir), {
    ...(model ? { model: modelLocation(io, model) } : {}),
    ...(workers !== undefined ? { workers } : {}),
    env: io.env,
    onProgress: hubProgressPrinter(io.stderr),
  });
  const results: RetrieverResult[] = [];
  try {
    const ids = [...queries.keys()];
    for (const retriever of retrievers as RetrieverName[]) {
      const bar = io.stderr.isTTY ? createProgressBar({ stream: io.stderr, label: retriever, total: ids.length, unit: "items" }) : null;
      const run: Run = new Map();
      const start = performance.now();
      for (let i = 0; i < ids.length; i += 32) {
        const batch = ids.slice(i, i + 32);
        const hits = await searcher.search(batch.map((id) => queries.get(id) ?? ""), { k, retriever });
        batch.forEach((id, j) => run.set(id, (hits[j] ?? []).map((h) => ({ docid: h.id, score: h.score }))));
        bar?.update(Math.min(ids.length, i + 32));
      }
      bar?.finish();
      const ms = (performance.now() - start) / Math.max(1, ids.length);
      const e = evaluate(run, qrels, metrics, { averageComplete: true });
      results.push({ retriever, queries: ids.length, metrics: e.mean, msPerQuery: ms });
      const output = stringFlag(values, "output");
      if (output) await writeTrecRun(runFile(resolvePath(io, output), retriever, retrievers.length > 1), run, { tag: `colts-${retriever}` });
    }
  } finally {
    await searcher.close();
  }
  const report = { dataset: name, index: resolvePath(io, indexDir), k, results };
  const reportFile = stringFlag(values, "report");
  if (reportFile) writeFileAtomic(resolvePath(io, reportFile), `${JSON.stringify(report, null, 2)}\n`);
  await writeOut(io.stdout, values["json"] ? `${JSON.stringify(report)}\n` : `${table(name, metrics, results)}\n`);
  return 0;
}
