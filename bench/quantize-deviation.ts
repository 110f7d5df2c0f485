/**
 * How far int8 (`colts model quantize`, loaded with `quantized: true`) moves MaxSim scores and
 * rankings from fp32, on SciFact, with a generated model of answerai-colbert-small-v1's shape
 * (hidden 384, 12 layers, 12 heads, intermediate 1536, dim 96; random weights, so the figures
 * describe quantization error at that shape, not a trained model's).
 *
 *   node dist/bench/quantize-deviation.js [--queries 300] [--docs 2000] [--threads 2] [--no-results]
 *
 * Queries: the first N SciFact test queries (qrels/test.tsv order). Documents: the documents judged
 * relevant to them, then corpus.jsonl in file order up to --docs. Every query is scored against every
 * document with exact MaxSim (onnxruntime, float32) on both models. Reported: mean and max over all
 * pairs of |MaxSim(int8) - MaxSim(fp32)| / |MaxSim(fp32)|, the mean top-10 overlap of each query's
 * int8 ranking with its fp32 ranking, and the cosine between int8 and fp32 token vectors. No timing:
 * this is about accuracy, so it may run on a busy machine.
 */
import { execSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { ColBERT } from "../src/encode/colbert.js";
import type { MultiVector } from "../src/encode/multivector.js";
import { quantizeModel } from "../src/model/quantize.js";
import { OrtPaddedMaxSim } from "../src/runtime/kernels/maxsim.js";
import { writeTinyModel, type TinyModelOptions } from "../src/testing/tiny-model.js";
import { REPO_ROOT } from "./tools/paths.js";
import { SHARED_DATASETS } from "./tools/collections.js";

const MODEL_OPTIONS: TinyModelOptions = { layout: "pylate", hidden: 384, layers: 12, heads: 12, intermediate: 1536, dim: 96, documentLength: 300, seed: 1 };
const OUT_DIR = path.join(REPO_ROOT, "bench", "out");
const MODEL_DIR = path.join(OUT_DIR, "colbert-h384-l12-seed1");
const INT8_DIR = path.join(OUT_DIR, "colbert-h384-l12-seed1-int8");
const SCIFACT = path.join(SHARED_DATASETS, "scifact-beir", "beir-format");
const RESULTS_MD = path.join(REPO_ROOT, "bench", "RESULTS.md");
/** Documents per MaxSim call (padded to the document length: 64 x 300 rows x 9600 query vectors). */
const SCORE_BATCH = 64;

interface Args {
  queries: number;
  docs: number;
  threads: number;
  writeResults: boolean;
}

function readArgs(): Args {
  const { values } = parseArgs({ options: { queries: { type: "string" }, docs: { type: "string" }, threads: { type: "string" }, "no-results": { type: "boolean", default: false } } });
  const int = (v: string | undefined, name: string, fallback: number): number => {
    const n = v === undefined ? fallback : Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
    return n;
  };
  return { queries: int(values.queries, "queries", 300), docs: int(values.docs, "docs", 2000), threads: int(values.threads, "threads", 2), writeResults: !values["no-results"] };
}

function jsonl(file: string): Record<string, unknown>[] {
  return fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The first `nq` test queries and `nd` documents: their relevant ones first, then corpus order. */
function loadData(nq: number, nd: number): { queries: { id: string; text: string }[]; docs: { id: string; text: string }[]; relevant: number } {
  const qrels = fs.readFileSync(path.join(SCIFACT, "qrels", "test.tsv"), "utf8").trim().split("\n").slice(1).map((l) => l.split("\t"));
  const queryIds: string[] = [];
  for (const [q] of qrels) if (q && !queryIds.includes(q)) queryIds.push(q);
  const chosen = new Set(queryIds.slice(0, nq));
  const allQueries = new Map(jsonl(path.join(SCIFACT, "queries.jsonl")).map((q) => [String(q["_id"]), String(q["text"])]));
  const queries = [...chosen].map((id) => ({ id, text: allQueries.get(id) ?? "" }));
  const relevantIds = new Set(qrels.filter(([q]) => q && chosen.has(q)).map(([, d]) => d as string));
  const str = (v: unknown): string => (typeof v === "string" ? v : "");
  const corpus = jsonl(path.join(SCIFACT, "corpus.jsonl")).map((d) => ({ id: String(d["_id"]), text: `${str(d["title"])} ${str(d["text"])}`.trim() }));
  const docs = [...corpus.filter((d) => relevantIds.has(d.id)), ...corpus.filter((d) => !relevantIds.has(d.id))].slice(0, nd);
  return { queries, docs, relevant: relevantIds.size };
}

/** Encodes with one model; queries must all have the same number of vectors (expansion fills them). */
async function encodeAll(dir: string, quantized: boolean, threads: number, queries: string[], docs: string[]): Promise<{ q: MultiVector[]; d: MultiVector[] }> {
  const model = await ColBERT.load(dir, { workers: 0, threads, localFilesOnly: true, ...(quantized ? { quantized: true } : {}) });
  try {
    const q = await model.encodeQueries(queries);
    const d: MultiVector[] = [];
    for (let i = 0; i < docs.length; i += 256) {
      d.push(...(await model.encodeDocuments(docs.slice(i, i + 256))));
      process.stderr.write(`\r${quantized ? "int8" : "fp32"}: ${d.length}/${docs.length} documents`);
    }
    process.stderr.write("\n");
    return { q, d };
  } finally {
    await model.close();
  }
}

/** scores: [docs, queries] row-major, exact MaxSim in float32 on onnxruntime. */
async function scoreAll(q: MultiVector[], d: MultiVector[], threads: number): Promise<Float32Array> {
  const dim = q[0]?.dim ?? 0;
  const qLen = q[0]?.tokens ?? 0;
  if (q.some((x) => x.tokens !== qLen)) throw new Error("queries have different numbers of vectors");
  const qAll = new Float32Array(q.length * qLen * dim);
  q.forEach((x, i) => qAll.set(x.vectors, i * qLen * dim));
  const docLen = Math.max(...d.map((x) => x.tokens));
  const kernel = await OrtPaddedMaxSim.create(qAll, q.length, qLen, dim, docLen, { intraOpThreads: threads });
  const scores = new Float32Array(d.length * q.length);
  try {
    for (let i = 0; i < d.length; i += SCORE_BATCH) {
      const batch = d.slice(i, i + SCORE_BATCH);
      const offsets = [0];
      for (const x of batch) offsets.push((offsets[offsets.length - 1] as number) + x.tokens);
      const vectors = new Float32Array((offsets[offsets.length - 1] as number) * dim);
      batch.forEach((x, j) => vectors.set(x.vectors, (offsets[j] as number) * dim));
      scores.set(await kernel.run(vectors, offsets), i * q.length);
    }
  } finally {
    await kernel.release();
  }
  return scores;
}

/** Indices of the k highest scores of query `j` (ties: lower document index first). */
function topK(scores: Float32Array, nDocs: number, nQueries: number, j: number, k: number): number[] {
  const order = Array.from({ length: nDocs }, (_, i) => i);
  order.sort((a, b) => (scores[b * nQueries + j] as number) - (scores[a * nQueries + j] as number) || a - b);
  return order.slice(0, k);
}

interface Figures {
  meanRel: number;
  maxRel: number;
  overlap10: number;
  minOverlap10: number;
  meanCos: number;
  minCos: number;
  tokenMismatch: number;
}

function compare(fp: { q: MultiVector[]; d: MultiVector[] }, i8: { q: MultiVector[]; d: MultiVector[] }, s32: Float32Array, s8: Float32Array): Figures {
  let sumRel = 0;
  let maxRel = 0;
  for (let i = 0; i < s32.length; i++) {
    const rel = Math.abs((s8[i] as number) - (s32[i] as number)) / Math.abs(s32[i] as number);
    sumRel += rel;
    maxRel = Math.max(maxRel, rel);
  }
  const nq = fp.q.length;
  const nd = fp.d.length;
  let sumOverlap = 0;
  let minOverlap = 1;
  for (let j = 0; j < nq; j++) {
    const a = new Set(topK(s32, nd, nq, j, 10));
    const o = topK(s8, nd, nq, j, 10).filter((x) => a.has(x)).length / 10;
    sumOverlap += o;
    minOverlap = Math.min(minOverlap, o);
  }
  // Token vectors: same kept tokens on both sides (the tokenizer does not change), so rows pair up.
  let sumCos = 0;
  let minCos = 1;
  let rows = 0;
  let tokenMismatch = 0;
  [...fp.q.map((x, i) => [x, i8.q[i]!] as const), ...fp.d.map((x, i) => [x, i8.d[i]!] as const)].forEach(([a, b]) => {
    if (a.tokens !== b.tokens) {
      tokenMismatch++;
      return;
    }
    for (let r = 0; r < a.tokens; r++) {
      let dot = 0;
      for (let k = 0; k < a.dim; k++) dot += (a.vectors[r * a.dim + k] as number) * (b.vectors[r * a.dim + k] as number);
      sumCos += dot;
      minCos = Math.min(minCos, dot);
      rows++;
    }
  });
  return { meanRel: sumRel / s32.length, maxRel, overlap10: sumOverlap / nq, minOverlap10: minOverlap, meanCos: sumCos / rows, minCos, tokenMismatch };
}

function gitCommit(): string {
  try {
    return execSync("git rev-parse --short HEAD", { cwd: REPO_ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

async function main(): Promise<void> {
  const args = readArgs();
  if (!fs.existsSync(SCIFACT)) {
    console.error(`SciFact not found at ${SCIFACT} (the shared datasets folder beside the checkout); nothing measured.`);
    process.exit(1);
  }
  const started = new Date();
  if (!fs.existsSync(path.join(MODEL_DIR, "onnx", "model.onnx"))) await writeTinyModel(MODEL_DIR, MODEL_OPTIONS);
  const q = await quantizeModel(MODEL_DIR, INT8_DIR, { overwrite: true, int8Only: true });
  console.log(`int8 graph: ${q.quantizedMatMuls} MatMuls from ${q.sourceFile}`);
  const data = loadData(args.queries, args.docs);
  const queries = data.queries.map((x) => x.text);
  const docs = data.docs.map((x) => x.text);
  const fp = await encodeAll(MODEL_DIR, false, args.threads, queries, docs);
  const i8 = await encodeAll(INT8_DIR, true, args.threads, queries, docs);
  const s32 = await scoreAll(fp.q, fp.d, args.threads);
  const s8 = await scoreAll(i8.q, i8.d, args.threads);
  const f = compare(fp, i8, s32, s8);
  const minutes = (Date.now() - started.getTime()) / 60000;
  const vectors = fp.d.reduce((a, x) => a + x.tokens, 0);
  const lines = [
    `## ${started.toISOString().slice(0, 16).replace("T", " ")} UTC: int8 quantization deviation (colts model quantize), SciFact, generated model`,
    "",
    `- Machine: ${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} cores (shared, busy; accuracy only, no timing), Node ${process.version}; commit ${gitCommit()}`,
    `- Command: \`nice -n 19 node dist/bench/quantize-deviation.js --queries ${args.queries} --docs ${args.docs} --threads ${args.threads}\` (${minutes.toFixed(1)} min)`,
    `- Model: generated PyLate layout (random weights, seed 1), hidden 384, 12 layers, 12 heads, intermediate 1536, dim 96, document length 300 (\`bench/out/colbert-h384-l12-seed1\`, head in TypeScript). int8: \`colts model quantize\` of its \`onnx/model.onnx\` (${q.quantizedMatMuls} weight MatMuls -> DynamicQuantizeLinear + MatMulInteger), loaded with \`quantized: true\`. The deviation is that of a generated model of this shape, not of a trained checkpoint: trained weights have other ranges (outliers make per-tensor int8 coarser).`,
    `- Data: the first ${data.queries.length} SciFact test queries; ${data.docs.length} documents = the ${data.relevant} judged relevant to them + corpus order (title + " " + text); ${vectors} document vectors. Exact MaxSim of every query against every document (${data.queries.length * data.docs.length} pairs), float32 on onnxruntime.`,
    "",
    "| measure | value |",
    "| --- | ---: |",
    `| mean \\|MaxSim(int8) - MaxSim(fp32)\\| / \\|MaxSim(fp32)\\| | ${f.meanRel.toExponential(2)} |`,
    `| max \\|MaxSim(int8) - MaxSim(fp32)\\| / \\|MaxSim(fp32)\\| | ${f.maxRel.toExponential(2)} |`,
    `| top-10 overlap with the fp32 ranking, mean over queries | ${f.overlap10.toFixed(3)} |`,
    `| top-10 overlap, worst query | ${f.minOverlap10.toFixed(1)} |`,
    `| cosine(int8 token vector, fp32 token vector), mean | ${f.meanCos.toFixed(5)} |`,
    `| cosine, minimum | ${f.minCos.toFixed(5)} |`,
    `| texts whose kept-token count differs | ${f.tokenMismatch} |`,
    "",
  ];
  console.log(lines.join("\n"));
  if (args.writeResults) fs.appendFileSync(RESULTS_MD, `\n${lines.join("\n")}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
