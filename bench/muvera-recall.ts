/**
 * MUVERA fixed dimensional encodings as a first stage: the share of the exact-MaxSim top-10 found
 * among the top-C documents by FDE inner product (C = 10, 100, 200, 500, 1000), for several FDE
 * settings that fit pgvector's halfvec HNSW limit (size <= 4000), on SciFact encoded with a
 * generated model (random weights, real tokens; no pretrained weights can be had here).
 *
 *   npm run build && nice -n 19 node dist/bench/muvera-recall.js [--dim 128] [--docs N]
 *     [--configs "R,k,dproj[,final][,nofill][,dense];..."] [--no-results]
 *
 * dproj "id" = no projection (d_proj = dim). Exact MaxSim (float vectors, onnxruntime) is the truth;
 * it is computed once per model dimension and document count and kept in bench/out/muvera-recall/.
 * FDE scores are exact inner products (brute force), so the figures are the first stage's ceiling:
 * an HNSW index over the FDEs loses a little more. Recall is not a timing: no speeds are reported.
 * Reads ../shared/datasets/scifact-beir (says so and stops when absent).
 */
import { execSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ColBERT } from "../src/encode/colbert.js";
import type { MultiVector } from "../src/encode/multivector.js";
import { loadBeir } from "../src/eval/io.js";
import { FdeEncoder, type FdeConfig } from "../src/muvera/index.js";
import { encodedCorpusSource } from "../src/plaid/corpus.js";
import type { EmbeddedDoc } from "../src/plaid/source.js";
import { OrtMatmulDynamic, maxsimFromSimilarities } from "../src/runtime/kernels/matmul.js";
import { packBlocks } from "./tools/blocks.js";
import { beirFolder, benchModel, modelArgs } from "./tools/collections.js";
import { REPO_ROOT } from "./tools/paths.js";
import { stringFlag as flag } from "./tools/args.js";

const OUT = path.join(REPO_ROOT, "bench", "out", "muvera-recall");
const K = 10;
const CANDIDATES = [10, 100, 200, 500, 1000];
const DIM = Number(flag("--dim", "128"));
const MAX_DOCS = Number(flag("--docs", "0"));
/** R,k,dproj[,final][,nofill][,dense]: the baseline (one partition, 128) and the best settings of 2,560 and 3,840 values at dim 128 (RESULTS.md). */
const DEFAULT_CONFIGS = ["1,0,id", "10,5,8", "20,5,4", "30,4,8", "15,6,4", "15,6,4,,nofill"].join(";");
/** Rows of document vectors (or FDEs) per kernel call: bounds the [queries, rows] product. */
const BLOCK_VALUES = 1 << 24;

function parseConfig(spec: string): { label: string; config: FdeConfig } {
  const [r, k, dp, final, ...flags] = spec.split(",");
  const dense = flags.includes("dense");
  const fill = flags.includes("nofill") ? "nofill" : "fill";
  const config: FdeConfig = {
    dim: DIM,
    repetitions: Number(r),
    simhashBits: Number(k),
    projectionDim: dp === "id" ? "identity" : Number(dp),
    fillEmptyPartitions: fill !== "nofill",
    projection: dense ? "dense" : "sparse",
    seed: 1,
    ...(final ? { finalDim: Number(final) } : {}),
  };
  const label = `R ${r}, k_sim ${k}, d_proj ${dp === "id" ? `${DIM} (identity)` : dp}${final ? `, final ${final}` : ""}${dense ? ", dense projection" : ""}${fill === "nofill" ? ", no filling" : ""}`;
  return { label, config };
}

const topIndices = (scores: Float64Array | Float32Array, k: number): number[] =>
  Array.from(scores.keys())
    .sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b)
    .slice(0, k);

/** Exact MaxSim top-10 document indices per query (cached per dimension and document count). */
async function exactTop(docs: EmbeddedDoc[], queries: MultiVector[]): Promise<number[][]> {
  const file = path.join(OUT, `truth-dim${DIM}-docs${docs.length}-queries${queries.length}.json`);
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8")) as number[][];
  const kernel = await OrtMatmulDynamic.create(DIM);
  const bs = packBlocks(docs.map((d) => d.vectors.subarray(0, d.n * DIM)), docs.map((d) => d.n), BLOCK_VALUES);
  const tops: number[][] = [];
  try {
    for (const q of queries) {
      const scores = new Float64Array(docs.length);
      for (const b of bs) scores.set(maxsimFromSimilarities(await kernel.run(q.vectors, q.tokens, b.values, b.values.length / DIM), q.tokens, b.lens), b.first);
      tops.push(topIndices(scores, K));
    }
  } finally {
    await kernel.release();
  }
  fs.writeFileSync(file, JSON.stringify(tops));
  return tops;
}

/** Recall of the exact top-10 within the FDE top-C, per C, averaged over queries. */
async function fdeRecall(config: FdeConfig, docs: EmbeddedDoc[], queries: MultiVector[], truth: number[][]): Promise<{ size: number; recall: number[]; emptyShare: number }> {
  const encoder = new FdeEncoder(config);
  const size = encoder.size;
  const docFdes = docs.map((d) => encoder.document(d.vectors.subarray(0, d.n * DIM), d.n));
  const queryFdes = new Float32Array(queries.length * size);
  queries.forEach((q, i) => queryFdes.set(encoder.query(q.vectors, q.tokens), i * size));
  const kernel = await OrtMatmulDynamic.create(size);
  const scores = queries.map(() => new Float32Array(docs.length));
  try {
    for (const b of packBlocks(docFdes, docFdes.map(() => 1), BLOCK_VALUES)) {
      const sims = await kernel.run(queryFdes, queries.length, b.values, b.lens.length); // [queries, rows]
      scores.forEach((s, qi) => s.set(sims.subarray(qi * b.lens.length, (qi + 1) * b.lens.length), b.first));
    }
  } finally {
    await kernel.release();
  }
  const recall = CANDIDATES.map(() => 0);
  scores.forEach((s, qi) => {
    const ranked = topIndices(s, CANDIDATES[CANDIDATES.length - 1] as number);
    const want = new Set(truth[qi]);
    CANDIDATES.forEach((c, ci) => (recall[ci] = (recall[ci] as number) + ranked.slice(0, c).filter((d) => want.has(d)).length / want.size));
  });
  return { size, recall: recall.map((r) => r / queries.length), emptyShare: emptyPartitionShare(config, docs) };
}

/** Share of (document, repetition, partition) cells with no document token: what filling fills. */
function emptyPartitionShare(config: FdeConfig, docs: EmbeddedDoc[]): number {
  const encoder = new FdeEncoder({ ...config, fillEmptyPartitions: false, finalDim: undefined, repetitions: 1 });
  const c = encoder.config;
  let empty = 0;
  for (const d of docs) {
    const f = encoder.document(d.vectors.subarray(0, d.n * DIM), d.n);
    for (let p = 0; p < c.partitions; p++) if (f.subarray(p * c.projectionDim, (p + 1) * c.projectionDim).every((x) => x === 0)) empty++;
  }
  return empty / (docs.length * c.partitions);
}

async function main(): Promise<void> {
  const dataset = beirFolder("scifact", OUT);
  if (!dataset) {
    console.log("skipped: ../shared/datasets/scifact-beir is absent");
    return;
  }
  fs.mkdirSync(OUT, { recursive: true });
  const modelDir = await benchModel(path.join(OUT, `model-dim${DIM}`), modelArgs(DIM));
  const model = await ColBERT.load(modelDir);
  const docs: EmbeddedDoc[] = [];
  let queries: MultiVector[];
  try {
    for await (const batch of (await encodedCorpusSource(path.join(dataset, "corpus.jsonl"), model, { storeText: false })).batches()) {
      docs.push(...batch);
      if (MAX_DOCS > 0 && docs.length >= MAX_DOCS) break;
    }
    if (MAX_DOCS > 0) docs.length = Math.min(docs.length, MAX_DOCS);
    const { queries: texts } = await loadBeir(dataset, "test", { corpus: false });
    queries = await model.encodeQueries([...texts.values()]);
  } finally {
    await model.close();
  }
  const vectors = docs.reduce((a, d) => a + d.n, 0);
  console.log(`${docs.length} documents, ${vectors} vectors, ${queries.length} queries`);
  const truth = await exactTop(docs, queries);
  const rows: string[] = [];
  for (const spec of flag("--configs", DEFAULT_CONFIGS).split(";")) {
    const { label, config } = parseConfig(spec);
    const r = await fdeRecall(config, docs, queries, truth);
    const row = `| ${label} | ${r.size} | ${r.recall.map((x) => x.toFixed(3)).join(" | ")} | ${(100 * r.emptyShare).toFixed(1)}% |`;
    console.log(row);
    rows.push(row);
  }
  let commit = "unknown";
  try {
    commit = execSync("git rev-parse --short HEAD", { cwd: REPO_ROOT }).toString().trim();
  } catch {
    // not a git checkout
  }
  const section = [
    `## MUVERA FDE recall as a first stage, SciFact with a generated model (${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC)`,
    "",
    `- Machine: ${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} cores, Node ${process.version}; commit ${commit}.`,
    `- Command: \`npm run build && nice -n 19 node dist/bench/muvera-recall.js --dim ${DIM}${MAX_DOCS > 0 ? ` --docs ${MAX_DOCS}` : ""}${process.argv.includes("--configs") ? ` --configs "${flag("--configs", "")}"` : ""}\``,
    `- Model: \`colts model tiny ${modelArgs(DIM).join(" ")}\` (random weights, real WordPiece tokens); ${docs.length} documents, ${vectors} vectors; ${queries.length} test queries (32 vectors each).`,
    "- Truth: exact MaxSim top-10 over the float vectors. Cell: mean share of it within the top-C by FDE inner product (brute force, so the first stage's ceiling before HNSW). Seed 1. Empty: share of a document's partitions with no token (one repetition), which filling fills.",
    "",
    `| FDE | size | ${CANDIDATES.map((c) => `recall@${c}`).join(" | ")} | empty |`,
    `| --- | ---: | ${CANDIDATES.map(() => "---:").join(" | ")} | ---: |`,
    ...rows,
    "",
  ].join("\n");
  console.log(section);
  if (!process.argv.includes("--no-results")) fs.appendFileSync(path.join(REPO_ROOT, "bench", "RESULTS.md"), `\n${section}`);
}

await main();
