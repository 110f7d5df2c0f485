/**
 * fp32 vs int8 on real collections with a generated model: `colts index build` end to end (reading,
 * encoding, k-means, compression, writing; a fresh process timed by /usr/bin/time), then the latency
 * of one query as a user sees it (query encoding + PLAID search, `Searcher.search` of one text),
 * fp32 and int8 alternating query by query, and nDCG@10 of both indexes on the collection's qrels.
 *
 *   npm run build && node dist/bench/int8-collections.js [--collections cacm,cisi,cranfield] [--queries 64]
 *
 * Model: `colts model tiny` at the answerai-colbert-small-v1 shape (hidden 384, 12 layers, 12 heads,
 * dim 96, seed 1, random weights); its int8 copy comes from `colts model quantize`. Builds use the
 * default encoder layout; searches `Searcher.open` defaults (one worker on all cores). Collections
 * come from ../shared/datasets (SMART collections converted to BEIR once); absent ones are skipped
 * with a message. Prints a markdown table; appends nothing.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { readBeirQrels, readBeirQueries } from "../src/eval/io.js";
import { evaluate } from "../src/eval/metrics.js";
import type { RunEntry } from "../src/eval/types.js";
import { Searcher } from "../src/search/searcher.js";
import { beirFolder, colts } from "./tools/collections.js";
import { REPO_ROOT } from "./tools/paths.js";
import { stringFlag as flag } from "./tools/args.js";

const OUT = path.join(REPO_ROOT, "bench", "out", "int8-collections");
const COLLECTIONS = flag("--collections", "cacm,cisi,cranfield").split(",");
const QUERIES = Number(flag("--queries", "64"));
const MODEL_384 = ["--layout", "pylate", "--hidden", "384", "--layers", "12", "--heads", "12", "--dim", "96", "--seed", "1", "--word-embedding-std", "0.2"];

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** One `colts index build` in a fresh process: wall seconds and peak RSS (MiB). */
function timedBuild(dir: string, model: string, input: string, int8: boolean): { seconds: number; rssMiB: number } {
  const report = path.join(OUT, "time.txt");
  execFileSync(
    "/usr/bin/time",
    ["-o", report, "-f", "%e %M", process.execPath, path.join(REPO_ROOT, "bin", "colts.js"), "index", "build", dir, "--model", model, "--input", input, "--overwrite", ...(int8 ? ["--quantized"] : [])],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const [seconds, kb] = fs.readFileSync(report, "utf8").trim().split(/\s+/).slice(-2).map(Number);
  return { seconds: seconds ?? NaN, rssMiB: (kb ?? NaN) / 1024 };
}

async function main(): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });
  const fp32 = path.join(OUT, "model-384");
  const int8 = path.join(OUT, "model-384-int8");
  if (!fs.existsSync(path.join(fp32, "config.json"))) await colts(["model", "tiny", fp32, ...MODEL_384]);
  if (!fs.existsSync(int8)) await colts(["model", "quantize", fp32, int8]);
  const rows: string[] = [];
  for (const name of COLLECTIONS) {
    const data = beirFolder(name, OUT);
    if (!data) {
      console.log(`SKIP ${name}: not in ../shared/datasets`);
      continue;
    }
    const builds = { fp32: timedBuild(path.join(OUT, `${name}-fp32`), fp32, data, false), int8: timedBuild(path.join(OUT, `${name}-int8`), int8, data, true) };
    const queries = (await readBeirQueries(path.join(data, "queries.jsonl"))).slice(0, QUERIES);
    const qrels = await readBeirQrels(fs.existsSync(path.join(data, "qrels", "test.tsv")) ? path.join(data, "qrels", "test.tsv") : path.join(data, "qrels", "train.tsv"));
    const searchers = {
      fp32: await Searcher.open(path.join(OUT, `${name}-fp32`), { model: fp32 }),
      int8: await Searcher.open(path.join(OUT, `${name}-int8`), { model: int8, quantized: true }),
    };
    const ms: Record<"fp32" | "int8", number[]> = { fp32: [], int8: [] };
    const runs: Record<"fp32" | "int8", Map<string, RunEntry[]>> = { fp32: new Map(), int8: new Map() };
    for (const kind of ["fp32", "int8"] as const) for (const q of queries.slice(0, 4)) await searchers[kind].search([q.text]); // warm-up
    for (const [i, q] of queries.entries()) {
      for (const kind of i % 2 === 0 ? (["fp32", "int8"] as const) : (["int8", "fp32"] as const)) {
        const t0 = performance.now();
        const [hits] = await searchers[kind].search([q.text], { k: 10 });
        ms[kind].push(performance.now() - t0);
        runs[kind].set(q.id, (hits ?? []).map((h) => ({ docid: h.id, score: h.score })));
      }
    }
    for (const s of Object.values(searchers)) await s.close();
    const ndcg = (kind: "fp32" | "int8"): number => evaluate(runs[kind], qrels, ["ndcg@10"]).mean["ndcg@10"] ?? NaN;
    rows.push(
      `| ${name} | ${builds.fp32.seconds.toFixed(1)} s / ${builds.fp32.rssMiB.toFixed(0)} MiB | ${builds.int8.seconds.toFixed(1)} s / ${builds.int8.rssMiB.toFixed(0)} MiB | ${(builds.fp32.seconds / builds.int8.seconds).toFixed(2)}x | ` +
        `${median(ms.fp32).toFixed(1)} ms | ${median(ms.int8).toFixed(1)} ms | ${queries.length} | ${ndcg("fp32").toFixed(4)} | ${ndcg("int8").toFixed(4)} |`,
    );
    console.log(rows[rows.length - 1]);
  }
  console.log(
    [
      "",
      `- Machine: ${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.availableParallelism()} cores, Node ${process.version}; ${new Date().toISOString()}`,
      `- Command: \`node dist/bench/int8-collections.js ${process.argv.slice(2).join(" ")}\``,
      "",
      "| collection | build fp32 (wall / peak RSS) | build int8 | fp32 / int8 | p50 query fp32 | p50 query int8 | queries | nDCG@10 fp32 | nDCG@10 int8 |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...rows,
    ].join("\n"),
  );
}

await main();
