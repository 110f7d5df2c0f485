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
import { writeOutputFileSync } from "../../store/output.js";
import { intFlag, parse, stringFlag, usageError, type CommandSpec, type Values } from "../args.js";
import { MODEL_FLAGS, modelLoadOptions } from "../model-flags.js";
import { modelLocation, resolveIndexLocation, resolvePath, writeOut, type CliIO } from "../io.js";
import { printableLocation } from "../../location/open.js";
import { createProgressBar } from "../progress.js";

/** `colts eval`: its flags and help page, the one declaration that parsing and `--help` read. */
export const EVAL_SPEC: CommandSpec = {
  name: "eval",
  summary: "run retrievers over a dataset's queries and report trec_eval measures and latency",
  usage: ["--index <dir> --dataset <BEIR dir | SQuAD .json>", "--index <dir> --topics <file> --qrels <file>"],
  description: "Queries judged in the qrels but answered with nothing count as zeros (trec_eval -c).",
  flags: [
    { name: "index", type: "string", arg: "LOCATION", help: "the index to search: a folder or a postgres://user@host:port/db?prefix=... URL (required)" },
    { name: "dataset", type: "string", arg: "PATH", help: "a BEIR folder (queries.jsonl, qrels/<split>.tsv) or a SQuAD-format .json" },
    { name: "split", type: "string", arg: "NAME", default: "test", help: "BEIR qrels split" },
    { name: "topics", type: "string", arg: "FILE", help: "TREC topics file (TSV qid<TAB>text, <top> SGML or <DOC> blocks); with --qrels" },
    { name: "qrels", type: "string", arg: "FILE", help: "TREC qrels file; with --topics" },
    { name: "retriever", short: "r", type: "string", arg: "a,b", default: "plaid", help: `comma-separated retrievers of ${RETRIEVERS.join(", ")}` },
    { name: "metrics", type: "string", arg: "a,b", default: "ndcg@10,recall@100,mrr@10", help: "trec_eval measures" },
    { name: "k", short: "k", type: "string", arg: "N", default: "100", help: "hits per query, 1..10000" },
    { name: "json", type: "boolean", help: "print the report as JSON instead of a table" },
    { name: "report", type: "string", arg: "FILE", help: "also write the report as JSON, atomically (a symlink's target; a device or FIFO in place)" },
    { name: "output", short: "o", type: "string", arg: "FILE", help: "write each retriever's TREC run (run.<retriever>.trec when several)" },
    { name: "model", short: "m", type: "string", arg: "M", default: "the model the index records", help: "model to encode queries with" },
    ...MODEL_FLAGS,
  ],
  example: "colts eval --index idx --dataset beir/scifact --retriever plaid,bm25,hybrid --metrics ndcg@10,recall@100",
};

export interface RetrieverResult {
  retriever: RetrieverName;
  queries: number;
  metrics: Record<string, number>;
  /** Mean wall-clock milliseconds per query (encoding included). */
  msPerQuery: number;
}

async function loadDataset(io: CliIO, values: Values): Promise<{ name: string; queries: Queries; qrels: Qrels }> {
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
  throw usageError(EVAL_SPEC, "give --dataset <BEIR dir>, or --topics and --qrels");
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
  const { values, positionals } = parse(argv, EVAL_SPEC);
  const indexDir = stringFlag(values, "index");
  if (!indexDir || positionals.length > 0) throw usageError(EVAL_SPEC, "--index is required");
  const retrievers = (stringFlag(values, "retriever") ?? "plaid").split(",").map((r) => r.trim());
  for (const r of retrievers) {
    if (!(RETRIEVERS as readonly string[]).includes(r)) throw new ColtsError("USAGE", `--retriever ${r} is not one of ${RETRIEVERS.join(", ")}`);
  }
  const metrics = (stringFlag(values, "metrics") ?? "ndcg@10,recall@100,mrr@10").split(",").map((m) => m.trim());
  const k = intFlag(values, "k", 1, 10_000) ?? 100;
  const loadOptions = modelLoadOptions(values, io);
  const { name, queries, qrels } = await loadDataset(io, values);
  for (const m of metrics) parseMeasure(m); // refuse unknown metric names before any work
  const model = stringFlag(values, "model");
  const location = resolveIndexLocation(io, indexDir);
  const searcher = await Searcher.open(location, { ...loadOptions, ...(model ? { model: modelLocation(io, model) } : {}) });
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
  const report = { dataset: name, index: printableLocation(location), k, results };
  const reportFile = stringFlag(values, "report");
  if (reportFile) writeOutputFileSync(resolvePath(io, reportFile), `${JSON.stringify(report, null, 2)}\n`);
  await writeOut(io.stdout, values["json"] ? `${JSON.stringify(report)}\n` : `${table(name, metrics, results)}\n`);
  return 0;
}
