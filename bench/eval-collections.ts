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
import { PassThrough, Readable } from "node:stream";
import { runMain } from "../src/cli/main.js";
import type { RetrieverResult } from "../src/cli/commands/eval.js";
import { REPO_ROOT } from "./tools/paths.js";

const ROOT = REPO_ROOT;
const SHARED = path.resolve(ROOT, "..", "shared", "datasets");
const OUT = path.join(ROOT, "bench", "out", "eval");
const RETRIEVERS = "bm25,plaid,exact,bm25+rerank,hybrid";
const METRICS = "ndcg@10,recall@100,mrr@10";
const MODEL_ARGS = ["--layout", "onnx", "--hidden", "64", "--layers", "2", "--dim", "32", "--seed", "1", "--document-length", "300", "--word-embedding-std", "0.2"];

async function colts(argv: string[]): Promise<string> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks: Buffer[] = [];
  const errs: Buffer[] = [];
  out.on("data", (b: Buffer) => chunks.push(b));
  err.on("data", (b: Buffer) => errs.push(b));
  const code = await runMain(argv, { stdin: Readable.from([""]), stdout: out, stderr: err, env: process.env, cwd: ROOT });
  if (code !== 0) throw new Error(`colts ${argv.join(" ")} failed (${code}): ${Buffer.concat(errs).toString()}`);
  return Buffer.concat(chunks).toString();
}

/** The collection as a BEIR folder (SMART collections are converted once). */
function beirFolder(name: string): string | null {
  if (name === "scifact") {
    const dir = path.join(SHARED, "scifact-beir", "beir-format");
    return fs.existsSync(dir) ? dir : null;
  }
  const dir = path.join(OUT, `beir-${name}`);
  if (!fs.existsSync(path.join(dir, "corpus.jsonl"))) {
    execSync(`node ${path.join(ROOT, "dist", "bench", "tools", "smart-to-beir.js")} ${name} ${dir}`, { stdio: "ignore" });
  }
  return dir;
}

async function main(): Promise<void> {
  if (!fs.existsSync(SHARED)) {
    console.log(`skipped: ${SHARED} is absent (the evaluation collections live in ../shared/datasets)`);
    return;
  }
  const arg = process.argv.indexOf("--collections");
  const names = (arg > 0 ? (process.argv[arg + 1] ?? "") : "scifact,cacm,cisi,cranfield").split(",");
  fs.mkdirSync(OUT, { recursive: true });
  const model = path.join(OUT, "model");
  if (!fs.existsSync(path.join(model, "model.onnx"))) await colts(["model", "tiny", model, ...MODEL_ARGS]);
  const rows: string[] = [];
  for (const name of names) {
    const dataset = beirFolder(name);
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
