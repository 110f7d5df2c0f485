/**
 * Retrieval quality and latency of every retriever on the collections in ../shared/datasets
 * (SciFact test, CACM, CISI, Cranfield), with a generated model, through the same code paths as
 * the CLI (`colts index build`, `colts eval`). Appends a dated section to bench/RESULTS.md.
 *
 *   npm run build && node dist/bench/eval-collections.js [--collections scifact,cacm,cisi,cranfield]
 *
 * A generated model has random weights: its numbers show the pipeline works end to end and how far
 * an untrained encoder is from BM25, not what a trained checkpoint reaches.
 */
import { execSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { RetrieverResult } from "../src/cli/commands/eval.js";
import { MODEL_ARGS, SHARED_DATASETS, beirFolder, benchModel, colts } from "./tools/collections.js";
import { REPO_ROOT } from "./tools/paths.js";

const ROOT = REPO_ROOT;
const SHARED = SHARED_DATASETS;
const OUT = path.join(ROOT, "bench", "out", "eval");
const RETRIEVERS = "bm25,plaid,exact,bm25+rerank,hybrid";
const METRICS = "ndcg@10,recall@100,mrr@10";

async function main(): Promise<void> {
  if (!fs.existsSync(SHARED)) {
    console.log(`skipped: ${SHARED} is absent (the evaluation collections live in ../shared/datasets)`);
    return;
  }
  const arg = process.argv.indexOf("--collections");
  const names = (arg > 0 ? (process.argv[arg + 1] ?? "") : "scifact,cacm,cisi,cranfield").split(",");
  fs.mkdirSync(OUT, { recursive: true });
  const model = await benchModel(path.join(OUT, "model"));
  const rows: string[] = [];
  for (const name of names) {
    const dataset = beirFolder(name, OUT);
    if (!dataset) {
      console.log(`${name}: skipped (dataset missing)`);
      continue;
    }
    const index = path.join(OUT, `index-${name}`);
    const t0 = performance.now();
    await colts(["index", "build", index, "--model", model, "--input", dataset, "--overwrite"]);
    const buildS = (performance.now() - t0) / 1000;
    const report = JSON.parse(await colts(["eval", "--index", index, "--dataset", dataset, "--retriever", RETRIEVERS, "--metrics", METRICS, "--json"])) as {
      results: RetrieverResult[];
    };
    for (const r of report.results) {
      const m = r.metrics;
      rows.push(`| ${name} | ${r.retriever} | ${(m["ndcg@10"] ?? 0).toFixed(4)} | ${(m["recall@100"] ?? 0).toFixed(4)} | ${(m["mrr@10"] ?? 0).toFixed(4)} | ${r.msPerQuery.toFixed(1)} | ${r.queries} |`);
    }
    console.log(`${name}: index built in ${buildS.toFixed(1)} s`);
    console.log(rows.filter((r) => r.startsWith(`| ${name} `)).join("\n"));
  }
  let commit = "unknown";
  try {
    commit = execSync("git rev-parse --short HEAD", { cwd: ROOT }).toString().trim();
  } catch {
    // not a git checkout
  }
  const section = [
    `## Retrieval quality with a generated model (${new Date().toISOString().slice(0, 10)})`,
    "",
    `Machine: ${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} cores, Node ${process.version}; commit ${commit}.`,
    `Command: \`npm run build && node dist/bench/eval-collections.js --collections ${names.join(",")}\``,
    `Model: \`colts model tiny ${MODEL_ARGS.join(" ")}\` (random weights). ms/query includes query encoding.`,
    "",
    "| collection | retriever | nDCG@10 | Recall@100 | MRR@10 | ms/query | queries |",
    "|---|---|---|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
  fs.appendFileSync(path.join(ROOT, "bench", "RESULTS.md"), `\n${section}`);
  console.log(section);
}

await main();
