/**
 * PLAID search benchmark on synthetic clustered unit vectors (bench/plaid-README.md).
 *
 *   npx tsc -p . && node dist/bench/plaid-synthetic.js [--docs 20000] [--dim 128] [--tokens 64]
 *     [--queries 100] [--nbits 2] [--centroids K] [--kmeans-points P] [--kmeans-iters I]
 *     [--lancedb] [--out bench/out/plaid-<docs>] [--phases build,exact,colts,lancedb]
 *     [--exact-queries 5] [--lancedb-flat-queries 20 (0: no flat scan)] [--lancedb-flat-only]
 *     [--lancedb-build-only (ingest and index, no searches)] [--extrapolate] [--rebuild]
 *     [--no-results]
 *
 * Data (tools/synthetic-corpus.ts): 4096 topics x 8 "terms" (sub-centres) on the unit sphere; a document takes 4 topics and
 * `tokens` +- 25% vectors, each a noisy copy of a term of one of its topics; a query is 32 vectors
 * drawn the same way from the topics of a random document (so every query has relevant documents).
 * Everything is a pure function of (seed, document number): documents are regenerated on demand, so
 * nothing needs the whole corpus in memory except the exhaustive baseline (kept when it fits).
 *
 * Systems, same data, same process, one after another:
 *   - colts: buildIndex + PlaidIndex.open/search at default parameters and a few others;
 *   - exhaustive exact MaxSim over the original float vectors (onnxruntime a·bᵀ blocks): the ground
 *     truth for recall@10, and its own per-query latency;
 *   - LanceDB (`--lancedb`): multivector column List<FixedSizeList<Float32, dim>>, cosine, flat and
 *     with an IVF_PQ index.
 * Slow phases cache their results in the output folder (index, truth.json, lancedb table), so a run
 * that does not fit one time slot can be continued; `--rebuild` discards the caches.
 * Results: a markdown table on stdout, `results.json` in the output folder, and (unless
 * `--no-results`) a dated section appended to bench/RESULTS.md.
 */
import { execSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type * as LanceDb from "@lancedb/lancedb";
import type * as Arrow from "apache-arrow";
import { assignBlocks } from "../src/plaid/nearest.js";
import type { Nbits } from "../src/plaid/bitpack.js";
import { readChunk } from "../src/plaid/chunk.js";
import { readCodec } from "../src/plaid/files.js";
import { plaidNumCentroids, plaidSampleSize } from "../src/plaid/kmeans.js";
import { readManifest } from "../src/plaid/validate.js";
import { PlaidIndex } from "../src/plaid/plaid-index.js";
import type { EmbeddingSource } from "../src/plaid/source.js";
import { buildIndex } from "../src/plaid/writer.js";
import { OrtCentroidScorer, OrtMatmul } from "../src/runtime/kernels/matmul.js";
import { maxSimByRows, maxSimByRowsWasm, ResidualMaxSim } from "../src/plaid/residual-maxsim.js";
import type { Chunk } from "../src/plaid/chunk.js";
import type { ResidualCodec } from "../src/plaid/codec.js";
import { plaidDefaults, plaidSearch, type PlaidParams, type PlaidStage, type SearchView } from "../src/plaid/stages.js";
import { Rng } from "../src/util/rng.js";
import { REPO_ROOT } from "./tools/paths.js";
import { DEFAULT_TOKEN_NOISE, exactTopsOver, makeBlock, QUERY_TOKENS, SyntheticCorpus, TERMS_PER_TOPIC, TopK, type Block } from "./tools/synthetic-corpus.js";

// ---------------------------------------------------------------------------------------------
// Arguments

const ROOT = REPO_ROOT;

const { values: argv } = parseArgs({
  options: {
    docs: { type: "string" },
    dim: { type: "string" },
    tokens: { type: "string" },
    queries: { type: "string" },
    nbits: { type: "string" },
    centroids: { type: "string" },
    "kmeans-points": { type: "string" },
    "kmeans-iters": { type: "string" },
    topics: { type: "string" },
    seed: { type: "string" },
    lancedb: { type: "boolean" },
    out: { type: "string" },
    phases: { type: "string" },
    "exact-queries": { type: "string" },
    "lancedb-flat-queries": { type: "string" },
    "lancedb-partitions": { type: "string" },
    "lancedb-subvectors": { type: "string" },
    "lancedb-flat-only": { type: "boolean" },
    "lancedb-build-only": { type: "boolean" },
    extrapolate: { type: "boolean" },
    "token-noise": { type: "string" },
    assignment: { type: "string" },
    "warm-start": { type: "string" },
    rebuild: { type: "boolean" },
    "no-results": { type: "boolean" },
  },
});
const num = (v: string | undefined, d: number): number => {
  if (v === undefined) return d;
  const x = Number(v);
  if (!Number.isFinite(x)) throw new Error(`not a number: ${v}`);
  return x;
};
const DOCS = num(argv.docs, 20_000);
const DIM = num(argv.dim, 128);
const TOKENS = num(argv.tokens, 64);
const QUERIES = num(argv.queries, 100);
const NBITS = num(argv.nbits, 2) as Nbits;
const CENTROIDS = argv.centroids === undefined ? undefined : num(argv.centroids, 0);
const KM_POINTS = argv["kmeans-points"] === undefined ? undefined : num(argv["kmeans-points"], 256);
const KM_ITERS = num(argv["kmeans-iters"], 4);
const TOPICS = num(argv.topics, 4096);
const SEED = num(argv.seed, 7);
const OUT = path.resolve(ROOT, argv.out ?? `bench/out/plaid-${DOCS}`);
const PHASES = new Set((argv.phases ?? `build,exact,colts${argv.lancedb ? ",lancedb" : ""}`).split(","));
const EXACT_QUERIES = num(argv["exact-queries"], 5);
const LANCE_FLAT_QUERIES = num(argv["lancedb-flat-queries"], 20);
const COMMAND = `node dist/bench/plaid-synthetic.js ${process.argv.slice(2).join(" ")}`.trim();

// ---------------------------------------------------------------------------------------------
// Synthetic data

/** Noise norm of a token around its term (relative to unit). */
const TOKEN_NOISE = num(argv["token-noise"], DEFAULT_TOKEN_NOISE);
const ASSIGNMENT = (argv.assignment ?? "auto") as "auto" | "exact" | "two-level";
if (!["auto", "exact", "two-level"].includes(ASSIGNMENT)) throw new Error(`--assignment must be auto, exact or two-level, got ${ASSIGNMENT}`);
/** `--warm-start off`: k-means rounds and the sample's codes without the warm start (BuildOptions.warmStart false). */
const WARM_START = (argv["warm-start"] ?? "on") === "on";
if (!["on", "off"].includes(argv["warm-start"] ?? "on")) throw new Error(`--warm-start must be on or off, got ${argv["warm-start"]}`);

// ---------------------------------------------------------------------------------------------
// Helpers

const ms = (t0: number): number => performance.now() - t0;
const sec = (t0: number): number => (performance.now() - t0) / 1000;

function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

function recallAt10(got: readonly number[], truth: readonly number[]): number {
  const t = new Set(truth.slice(0, 10));
  return got.slice(0, 10).filter((o) => t.has(o)).length / Math.min(10, t.size);
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

function readJson<T>(file: string): T | null {
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as T) : null;
}
function writeJson(file: string, v: unknown): void {
  fs.writeFileSync(file, JSON.stringify(v, null, 1));
}

// ---------------------------------------------------------------------------------------------
// Phase: build

interface BuildRecord {
  params: Record<string, unknown>;
  /** generate: time inside the corpus source (making the synthetic vectors, the stand-in for encoding); absent in old caches. */
  seconds: { total: number; sample: number; train: number; index: number; generate?: number };
  centroids: number;
  sampleDocs: number;
  vectors: number;
  bytesPerVector: number;
  sizeOnDisk: number;
  defaultCentroids: number;
}

const indexDir = path.join(OUT, "index");
const buildParams = { docs: DOCS, dim: DIM, tokens: TOKENS, topics: TOPICS, seed: SEED, tokenNoise: TOKEN_NOISE, assignment: ASSIGNMENT, warmStart: WARM_START, nbits: NBITS, centroids: CENTROIDS ?? null, kmeansPoints: KM_POINTS ?? null, kmeansIters: KM_ITERS };

/** The source, adding the time spent inside it (generating vectors) to spent.ms. */
function timedSource(source: EmbeddingSource, spent: { ms: number }): EmbeddingSource {
  return {
    count: source.count,
    async *batches(only, except) {
      const it = source.batches(only, except)[Symbol.asyncIterator]();
      for (;;) {
        const t = performance.now();
        const r = await it.next();
        spent.ms += performance.now() - t;
        if (r.done) return;
        yield r.value;
      }
    },
  };
}

async function phaseBuild(corpus: SyntheticCorpus): Promise<BuildRecord> {
  const file = path.join(OUT, "build.json");
  const cached = readJson<BuildRecord>(file);
  if (cached && !argv.rebuild && JSON.stringify(cached.params) === JSON.stringify(buildParams) && fs.existsSync(path.join(indexDir, "manifest.json"))) {
    console.log(`build: reusing ${indexDir} (built in ${cached.seconds.total.toFixed(1)} s)`);
    return cached;
  }
  const t0 = performance.now();
  let tTrainStart = 0;
  let tTrainEnd = 0;
  let lastLog = 0;
  const generation = { ms: 0 };
  await buildIndex(indexDir, timedSource(corpus.source(), generation), DIM, {
    nbits: NBITS,
    overwrite: true,
    kmeansIterations: KM_ITERS,
    ...(CENTROIDS !== undefined ? { numCentroids: CENTROIDS } : {}),
    assignment: ASSIGNMENT,
    warmStart: WARM_START,
    ...(KM_POINTS !== undefined ? { kmeansMaxPointsPerCentroid: KM_POINTS } : {}),
    onProgress: (e) => {
      if (e.phase === "train" && e.done === 0) tTrainStart = performance.now();
      if (e.phase === "train" && e.done === e.total) tTrainEnd = performance.now();
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        console.log(`  build ${e.phase} ${e.done}/${e.total} at ${sec(t0).toFixed(0)} s`);
      }
    },
  });
  const tEnd = performance.now();
  const index = await PlaidIndex.open(indexDir);
  const info = index.info();
  await index.close();
  const sampleDocs = plaidSampleSize(DOCS);
  const rec: BuildRecord = {
    params: buildParams,
    seconds: { total: (tEnd - t0) / 1000, sample: (tTrainStart - t0) / 1000, train: (tTrainEnd - tTrainStart) / 1000, index: (tEnd - tTrainEnd) / 1000, generate: generation.ms / 1000 },
    centroids: info.centroids,
    sampleDocs,
    vectors: info.vectors,
    bytesPerVector: info.bytesPerVector,
    sizeOnDisk: info.sizeOnDisk,
    defaultCentroids: plaidNumCentroids((info.vectors / DOCS) * DOCS),
  };
  writeJson(file, rec);
  console.log(`build: ${rec.seconds.total.toFixed(1)} s (sample ${rec.seconds.sample.toFixed(1)}, k-means+codec ${rec.seconds.train.toFixed(1)}, compress+write ${rec.seconds.index.toFixed(1)}), K ${rec.centroids}, ${rec.bytesPerVector.toFixed(2)} B/vector`);
  console.log(`build: ${generation.ms / 1000 > 0 ? (generation.ms / 1000).toFixed(1) : "0"} s of it generating the synthetic vectors (the stand-in for encoding); without it ${(rec.seconds.total - generation.ms / 1000).toFixed(1)} s`);
  return rec;
}

/** Times the nearest-centroid assignment (the cost unit of k-means and compression) at PLAID's default K. */
interface Extrapolation {
  K: number;
  secondsPerMillionAssignments: number;
  kmeansPoints: number;
  kmeansIterationSeconds: number;
  kmeansSeconds: number;
  compressSeconds: number;
}

async function extrapolateDefaultK(build: BuildRecord): Promise<Extrapolation> {
  const K = build.defaultCentroids;
  const rows = 16_384;
  const rng = new Rng(99);
  const x = rng.normalArray(rows * DIM, 1);
  const c = rng.normalArray(K * DIM, 1);
  const bias = new Float32Array(K);
  await assignBlocks(x.subarray(0, 256 * DIM), 256, c, K, DIM, bias); // warm-up
  const t0 = performance.now();
  await assignBlocks(x, rows, c, K, DIM, bias);
  const perPoint = sec(t0) / rows;
  const avgLen = build.vectors / DOCS;
  const trainVectors = Math.floor(build.sampleDocs * avgLen * 0.95);
  const kmeansPoints = Math.min(trainVectors, K * 256);
  const out = {
    K,
    secondsPerMillionAssignments: perPoint * 1e6,
    kmeansPoints,
    kmeansIterationSeconds: perPoint * kmeansPoints,
    kmeansSeconds: perPoint * kmeansPoints * 4,
    compressSeconds: perPoint * build.vectors,
  };
  console.log(`extrapolation at default K ${K}: ${out.secondsPerMillionAssignments.toFixed(1)} s per 1M vector assignments -> k-means ${kmeansPoints} points: ${out.kmeansIterationSeconds.toFixed(0)} s/iteration, ${out.kmeansSeconds.toFixed(0)} s for 4; compression ${out.compressSeconds.toFixed(0)} s`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Phase: exact (ground truth + exhaustive latency)

/** The longest synthetic document (tokens + 25%). */
function maxDocLen(): number {
  return TOKENS + Math.floor(TOKENS / 4);
}

/** Exact MaxSim top-k of every query over blocks of documents (synthetic-corpus.ts `exactTopsOver`). */
function exactTops(blocks: Iterable<Block>, queries: Float32Array[], docLen: number, label: string): Promise<TopK[]> {
  return exactTopsOver(blocks, queries, { queryTokens: QUERY_TOKENS, dim: DIM, docLen, total: DOCS, label });
}

/** The index's documents, decompressed, in blocks (what colts' `exact: true` scores). */
function* decompressedBlocks(codec: ResidualCodec, chunks: Chunk[], deleted: Uint8Array): Generator<Block> {
  for (const chunk of chunks) {
    for (let s = 0; s < chunk.ordinals.length; s += BLOCK_DOCS) {
      const local: number[] = [];
      for (let i = s; i < Math.min(chunk.ordinals.length, s + BLOCK_DOCS); i++) if (!deleted[chunk.ordinals[i] as number]) local.push(i);
      const offsets = new Int32Array(local.length + 1);
      local.forEach((i, j) => (offsets[j + 1] = (offsets[j] as number) + (chunk.doclens[i] as number)));
      const vectors = new Float32Array((offsets[local.length] as number) * DIM);
      const bpv = codec.bytesPerVector;
      local.forEach((i, j) => {
        const a = chunk.offsets[i] as number;
        const b = chunk.offsets[i + 1] as number;
        codec.decompressInto(chunk.codes.subarray(a, b), chunk.residuals.subarray(a * bpv, b * bpv), vectors, offsets[j] as number);
      });
      yield { first: 0, docs: local.length, vectors, offsets, ids: local.map((i) => chunk.ordinals[i] as number) };
    }
  }
}

interface ExactRecord {
  params: Record<string, unknown>;
  truth: number[][];
  truthScores: number[][];
  truthSeconds: number;
  exhaustiveMs: number[];
  exhaustiveNote: string;
}

const HOLD_BYTES = 8 * 2 ** 30;
const BLOCK_DOCS = 1024;

async function phaseExact(corpus: SyntheticCorpus, queries: Float32Array[]): Promise<ExactRecord> {
  const file = path.join(OUT, "truth.json");
  const params = { ...buildParams, queries: QUERIES, exactQueries: EXACT_QUERIES };
  const cached = readJson<ExactRecord>(file);
  if (cached && !argv.rebuild && JSON.stringify(cached.params) === JSON.stringify(params)) {
    console.log(`exact: reusing ${file}`);
    return cached;
  }
  const hold = DOCS * TOKENS * DIM * 4 <= HOLD_BYTES;
  const held: Block[] = [];
  function* corpusBlocks(): Generator<Block> {
    for (let first = 0; first < DOCS; first += BLOCK_DOCS) {
      const block = makeBlock(corpus, first, Math.min(BLOCK_DOCS, DOCS - first));
      if (hold) held.push(block);
      yield block;
    }
  }
  const t0 = performance.now();
  const tops = await exactTops(corpusBlocks(), queries, maxDocLen(), "truth");
  const truthSeconds = sec(t0);
  console.log(`exact: ground truth for ${QUERIES} queries in ${truthSeconds.toFixed(1)} s`);

  // Exhaustive per-query latency over the documents held in memory (a kernel with b = the query).
  const exhaustiveMs: number[] = [];
  let note = "all documents in memory, onnxruntime q·Dᵀ per 1024-document block, max/sum in the pairs kernel";
  const blocks = hold ? held : [makeBlock(corpus, 0, Math.min(BLOCK_DOCS * 8, DOCS))];
  const heldDocs = blocks.reduce((a, b) => a + b.docs, 0);
  if (!hold) note = `measured on ${heldDocs} documents held in memory, scaled x${(DOCS / heldDocs).toFixed(1)}`;
  for (let qi = 0; qi < Math.min(EXACT_QUERIES, QUERIES) + 1; qi++) {
    const q = queries[qi] as Float32Array;
    const t1 = performance.now();
    const k = await OrtMatmul.create(q, QUERY_TOKENS, DIM);
    const top = new TopK();
    for (const block of blocks) {
      const out = await k.run(block.vectors, block.vectors.length / DIM); // [rows, 32]
      const doclens = Array.from({ length: block.docs }, (_, d) => (block.offsets[d + 1] as number) - (block.offsets[d] as number));
      const scores = maxSimByRowsWasm(out, QUERY_TOKENS, doclens) ?? maxSimByRows(out, QUERY_TOKENS, doclens);
      scores.forEach((score, d) => top.push(score, block.first + d));
    }
    await k.release();
    if (qi > 0) exhaustiveMs.push(ms(t1) * (DOCS / heldDocs)); // query 0 is the warm-up
  }
  console.log(`exact: exhaustive p50 ${percentile(exhaustiveMs, 50).toFixed(0)} ms over ${exhaustiveMs.length} queries`);
  const rec: ExactRecord = { params, truth: tops.map((t) => t.ids), truthScores: tops.map((t) => t.scores), truthSeconds, exhaustiveMs, exhaustiveNote: note };
  writeJson(file, rec);
  return rec;
}

// ---------------------------------------------------------------------------------------------
// Phase: colts search

interface SearchRow {
  system: string;
  setting: string;
  p50: number;
  p95: number;
  /** Recall@10 against exact MaxSim over the original float vectors (codec + pipeline loss). */
  recall: number;
  /** Recall@10 against exact MaxSim over the decompressed vectors, colts' `--exact` (pipeline loss only). */
  recallVsExact?: number;
  queries: number;
  extra?: string;
}

interface StageProfile {
  centroidScoring: number;
  candidates: number;
  stage2: number;
  stage3: number;
  stage4: number;
  candidatesCount: number;
  stage2Kept: number;
  stage3Kept: number;
}

/**
 * Top-10 of exact MaxSim over the index's decompressed vectors for every query (what `exact: true`
 * returns): the reference of PLAID's pipeline loss. Cached per index (manifest mtime).
 */
async function decompressedTruth(queries: Float32Array[]): Promise<{ ids: number[][]; seconds: number }> {
  const file = path.join(OUT, "truth-decompressed.json");
  const params = { ...buildParams, queries: QUERIES, manifest: fs.statSync(path.join(indexDir, "manifest.json")).mtimeMs };
  const cached = readJson<{ params: unknown; ids: number[][]; seconds: number }>(file);
  if (cached && !argv.rebuild && JSON.stringify(cached.params) === JSON.stringify(params)) return cached;
  const m = readManifest(indexDir);
  const codec = readCodec(indexDir, m);
  const chunks = m.chunks.map((c) => readChunk(path.join(indexDir, c.file), m.numCentroids, codec.bytesPerVector));
  const docLen = Math.max(...chunks.map((c) => c.doclens.reduce((a, b) => Math.max(a, b), 1)));
  const t0 = performance.now();
  const tops = await exactTops(decompressedBlocks(codec, chunks, new Uint8Array(m.numDocs)), queries, docLen, "decompressed truth");
  const rec = { params, ids: tops.map((t) => t.ids), seconds: sec(t0) };
  console.log(`exact over decompressed vectors: ${QUERIES} queries in ${rec.seconds.toFixed(1)} s`);
  writeJson(file, rec);
  return rec;
}

/** The defaults plaidSearch picks for k = 10 over `docs` documents, as the results table names them. */
function describeDefaults(docs: number): string {
  const p = plaidDefaults(10, docs);
  return `ncells ${p.ncells}, thr ${p.centroidScoreThreshold}, ndocs ${p.ndocs}`;
}

async function phaseColts(queries: Float32Array[], truth: number[][]): Promise<{ rows: SearchRow[]; profile: StageProfile }> {
  const codecTruth = (await decompressedTruth(queries)).ids;
  const index = await PlaidIndex.open(indexDir);
  const settings: { name: string; params: PlaidParams }[] = [
    { name: `default (${describeDefaults(DOCS)})`, params: {} },
    { name: "ncells 2", params: { ncells: 2 } },
    { name: "ndocs 512", params: { ndocs: 512 } },
    { name: "ndocs 1024", params: { ndocs: 1024 } },
    { name: "ndocs 2048", params: { ndocs: 2048 } },
    { name: "ncells 2, ndocs 1024", params: { ncells: 2, ndocs: 1024 } },
    { name: "ncells 4, thr 0.4, ndocs 4096", params: { ncells: 4, centroidScoreThreshold: 0.4, ndocs: 4096 } },
  ];
  const rows: SearchRow[] = [];
  // One pass over every query first: the first setting measured would otherwise pay for touching
  // the index's pages and warming the JIT (at 1M documents its p50 came out 5 ms above the next one's).
  for (const q of queries) await index.search({ vectors: q, tokens: QUERY_TOKENS, dim: DIM }, { k: 10 });
  for (const s of settings) {
    for (let w = 0; w < Math.min(5, queries.length); w++) await index.search({ vectors: queries[w] as Float32Array, tokens: QUERY_TOKENS, dim: DIM }, { k: 10, params: s.params });
    const lat: number[] = [];
    const rec: number[] = [];
    const recExact: number[] = [];
    for (const [qi, q] of queries.entries()) {
      const t0 = performance.now();
      const hits = await index.search({ vectors: q, tokens: QUERY_TOKENS, dim: DIM }, { k: 10, params: s.params });
      lat.push(ms(t0));
      rec.push(recallAt10(hits.map((h) => h.ordinal), truth[qi] as number[]));
      recExact.push(recallAt10(hits.map((h) => h.ordinal), codecTruth[qi] as number[]));
    }
    rows.push({ system: "colts PLAID", setting: s.name, p50: percentile(lat, 50), p95: percentile(lat, 95), recall: mean(rec), recallVsExact: mean(recExact), queries: lat.length });
    console.log(`colts ${s.name}: p50 ${percentile(lat, 50).toFixed(2)} ms, p95 ${percentile(lat, 95).toFixed(2)} ms, recall@10 ${mean(rec).toFixed(3)} (vs --exact ${mean(recExact).toFixed(3)})`);
  }
  // Diagnostic: exhaustive MaxSim on the decompressed vectors (colts' `exact: true`): the recall
  // stage 4 could reach with perfect candidates, i.e. the loss due to the 2-bit codec alone.
  {
    // Latency and a check of the fused reference on a few queries; recall over all queries from it.
    const lat: number[] = [];
    const agree: number[] = [];
    for (let qi = 0; qi < Math.min(EXACT_QUERIES, queries.length); qi++) {
      const t0 = performance.now();
      const hits = await index.search({ vectors: queries[qi] as Float32Array, tokens: QUERY_TOKENS, dim: DIM }, { k: 10, exact: true });
      lat.push(ms(t0));
      agree.push(recallAt10(hits.map((h) => h.ordinal), codecTruth[qi] as number[]));
    }
    const rec = queries.map((_, qi) => recallAt10(codecTruth[qi] as number[], truth[qi] as number[]));
    rows.push({ system: "colts exact: true", setting: "all docs, decompressed (codec-only loss)", p50: percentile(lat, 50), p95: percentile(lat, 95), recall: mean(rec), recallVsExact: 1, queries: rec.length, extra: `latency over ${lat.length} queries` });
    console.log(`colts exact:true: p50 ${percentile(lat, 50).toFixed(0)} ms over ${lat.length} queries (top-10 equal to the fused reference: ${mean(agree).toFixed(3)}), recall@10 vs float ${mean(rec).toFixed(3)} over ${rec.length} queries`);
  }
  await index.close();

  // Stage profile at default parameters: plaidSearch itself, timed by its stage hook.
  const m = readManifest(indexDir);
  const codec = readCodec(indexDir, m);
  const chunks = m.chunks.map((c) => readChunk(path.join(indexDir, c.file), m.numCentroids, codec.bytesPerVector));
  // As PlaidIndex.open makes them: the kernels take turns, none keeps a core spinning.
  const exactKernel = await ResidualMaxSim.create(codec, { allowSpinning: false });
  const view: SearchView = { codec, chunks, allowed: null, deleted: new Uint8Array(m.numDocs), exactKernel };
  const scorer = await OrtCentroidScorer.create(codec.centroids, codec.numCentroids, DIM, { allowSpinning: false });
  const acc: StageProfile = { centroidScoring: 0, candidates: 0, stage2: 0, stage3: 0, stage4: 0, candidatesCount: 0, stage2Kept: 0, stage3Kept: 0 };
  const record = (stage: PlaidStage, t: number, count: number): void => {
    switch (stage) {
      case "centroids":
        acc.centroidScoring += t;
        break;
      case "candidates":
        acc.candidates += t;
        acc.candidatesCount += count;
        break;
      case "stage2":
        acc.stage2 += t;
        acc.stage2Kept += count;
        break;
      case "stage3":
        acc.stage3 += t;
        acc.stage3Kept += count;
        break;
      case "stage4":
        acc.stage4 += t;
        break;
    }
  };
  // The first pass warms up (page faults, JIT); the second is measured.
  for (let pass = 0; pass < 2; pass++) {
    const options = pass === 1 ? { onStage: record } : {};
    for (const q of queries) {
      await plaidSearch(view, q, QUERY_TOKENS, (ncells) => scorer.run(q, QUERY_TOKENS, Math.min(ncells, codec.numCentroids)), 10, {}, options);
    }
  }
  await scorer.release();
  await exactKernel.release();
  const n = queries.length;
  const profile = Object.fromEntries(Object.entries(acc).map(([k, v]) => [k, v / n])) as unknown as StageProfile;
  console.log(`profile (mean per query, default params): ${JSON.stringify(profile)}`);
  return { rows, profile };
}

// ---------------------------------------------------------------------------------------------
// Phase: LanceDB

interface LanceRecord {
  params: Record<string, unknown>;
  ingestSeconds: number;
  indexSeconds: number;
  indexParams: Record<string, unknown>;
  diskBytes: number;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
  }
  return total;
}

/** LanceDB and Arrow are optional (see bench/types/optional-modules.d.ts): loaded only for --lancedb. */
async function optionalModules(): Promise<{ lancedb: typeof LanceDb; arrow: typeof Arrow }> {
  try {
    return { lancedb: await import("@lancedb/lancedb"), arrow: await import("apache-arrow") };
  } catch (cause) {
    throw new Error("--lancedb needs @lancedb/lancedb and apache-arrow: npm install --no-save @lancedb/lancedb@0.39.0 apache-arrow@18.1.0 (LanceDB 0.39 asks for Node >= 22)", { cause });
  }
}

function arrowBatch(arrow: typeof Arrow, block: Block, dim: number): Arrow.Table {
  const floatType = new arrow.Float32();
  const fslType = new arrow.FixedSizeList(dim, new arrow.Field("item", floatType, true));
  const listType = new arrow.List(new arrow.Field("item", fslType, true));
  const rows = block.vectors.length / dim;
  const floats = arrow.makeData({ type: floatType, length: rows * dim, data: block.vectors });
  const fsl = arrow.makeData({ type: fslType, length: rows, child: floats });
  const list = arrow.makeData({ type: listType, length: block.docs, valueOffsets: block.offsets, child: fsl });
  const ids = arrow.makeData({ type: new arrow.Int32(), length: block.docs, data: Int32Array.from({ length: block.docs }, (_, i) => block.first + i) });
  const schema = new arrow.Schema([new arrow.Field("id", new arrow.Int32(), false), new arrow.Field("vector", listType, false)]);
  const struct = arrow.makeData({ type: new arrow.Struct(schema.fields), length: block.docs, children: [ids, list] });
  return new arrow.Table(schema, new arrow.RecordBatch(schema, struct));
}

async function phaseLance(corpus: SyntheticCorpus, queries: Float32Array[], truth: number[][]): Promise<{ rows: SearchRow[]; rec: LanceRecord }> {
  const dbDir = path.join(OUT, "lancedb");
  const file = path.join(OUT, "lancedb.json");
  const numVectors = DOCS * TOKENS;
  const partitions = num(argv["lancedb-partitions"], 2 ** Math.round(Math.log2(Math.sqrt(numVectors))));
  const subVectors = num(argv["lancedb-subvectors"], DIM / 8);
  const params = { ...buildParams, partitions, subVectors };
  let rec = readJson<LanceRecord>(file);
  const { lancedb, arrow } = await optionalModules();
  const db = await lancedb.connect(dbDir);
  const rows: SearchRow[] = [];
  const toQuery = (q: Float32Array): Float32Array[] => Array.from({ length: QUERY_TOKENS }, (_, t) => q.subarray(t * DIM, (t + 1) * DIM));
  // Warm-up queries: 2, or 1 for the flat scan (over a minute per query at 1M documents).
  const measure = async (table: LanceDb.Table, name: string, count: number, configure: (v: LanceDb.VectorQuery) => LanceDb.VectorQuery, warmups = 2): Promise<void> => {
    const run = async (q: Float32Array): Promise<number[]> => {
      const res = (await configure(table.vectorSearch(toQuery(q)).distanceType("cosine").limit(10).select(["id", "_distance"])).toArray()) as { id: number }[];
      return res.map((r) => r.id);
    };
    for (let w = 0; w < Math.min(warmups, count); w++) await run(queries[w] as Float32Array);
    const lat: number[] = [];
    const recs: number[] = [];
    for (let qi = 0; qi < Math.min(count, queries.length); qi++) {
      const t0 = performance.now();
      const ids = await run(queries[qi] as Float32Array);
      lat.push(ms(t0));
      recs.push(recallAt10(ids, truth[qi] as number[]));
    }
    rows.push({ system: "LanceDB multivector", setting: name, p50: percentile(lat, 50), p95: percentile(lat, 95), recall: mean(recs), queries: lat.length });
    console.log(`lancedb ${name}: p50 ${percentile(lat, 50).toFixed(1)} ms, p95 ${percentile(lat, 95).toFixed(1)} ms, recall@10 ${mean(recs).toFixed(3)} (${lat.length} queries)`);
  };

  let table: LanceDb.Table;
  if (!rec || argv.rebuild || JSON.stringify(rec.params) !== JSON.stringify(params)) {
    fs.rmSync(dbDir, { recursive: true, force: true });
    const db2 = await lancedb.connect(dbDir);
    const t0 = performance.now();
    table = await db2.createTable("docs", arrowBatch(arrow, makeBlock(corpus, 0, Math.min(BLOCK_DOCS * 4, DOCS)), DIM));
    for (let first = BLOCK_DOCS * 4; first < DOCS; first += BLOCK_DOCS * 4) {
      await table.add(arrowBatch(arrow, makeBlock(corpus, first, Math.min(BLOCK_DOCS * 4, DOCS - first)), DIM));
    }
    const ingestSeconds = sec(t0);
    console.log(`lancedb: ingested ${DOCS} documents in ${ingestSeconds.toFixed(1)} s (includes regenerating the vectors)`);
    // Flat search before the index exists (--lancedb-flat-queries 0: not measured).
    if (LANCE_FLAT_QUERIES > 0) await measure(table, "flat (no index)", LANCE_FLAT_QUERIES, (v) => v, 1);
    if (argv["lancedb-flat-only"]) {
      table.close();
      return { rows, rec: { params, ingestSeconds, indexSeconds: 0, indexParams: { type: "none (--lancedb-flat-only)" }, diskBytes: dirBytes(dbDir) } };
    }
    const indexParams = { type: "IVF_PQ", distanceType: "cosine", numPartitions: partitions, numSubVectors: subVectors, numBits: 8 };
    const t1 = performance.now();
    await table.createIndex("vector", { config: lancedb.Index.ivfPq({ distanceType: "cosine", numPartitions: partitions, numSubVectors: subVectors }) });
    const indexSeconds = sec(t1);
    console.log(`lancedb: IVF_PQ index in ${indexSeconds.toFixed(1)} s`);
    rec = { params, ingestSeconds, indexSeconds, indexParams, diskBytes: dirBytes(dbDir) };
    writeJson(file, rec);
    if (argv["lancedb-build-only"]) {
      // Building loads both cores for a long time; searches are measured by a later, quiet run.
      table.close();
      return { rows, rec };
    }
  } else {
    console.log(`lancedb: reusing ${dbDir}`);
    table = await db.openTable("docs");
    if (LANCE_FLAT_QUERIES > 0) await measure(table, "flat (bypassVectorIndex)", LANCE_FLAT_QUERIES, (v) => v.bypassVectorIndex(), 1);
  }
  if (rec.indexSeconds === 0) {
    // Built with --lancedb-flat-only: there is no index to measure.
    table.close();
    return { rows, rec };
  }
  await measure(table, "IVF_PQ nprobes 20 (default)", QUERIES, (v) => v);
  await measure(table, "IVF_PQ nprobes 20, refineFactor 4", QUERIES, (v) => v.refineFactor(4));
  await measure(table, "IVF_PQ nprobes 64, refineFactor 4", QUERIES, (v) => v.nprobes(64).refineFactor(4));
  table.close();
  return { rows, rec };
}

// ---------------------------------------------------------------------------------------------
// Report

function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "n/a";
}

function gitCommit(): string {
  try {
    return execSync("git rev-parse --short HEAD", { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

async function main(): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });
  const tGen = performance.now();
  const corpus = new SyntheticCorpus(SEED, DOCS, DIM, TOKENS, TOPICS, TOKEN_NOISE);
  const queries = Array.from({ length: QUERIES }, (_, j) => corpus.query(j).vectors);
  // The queries as raw float32 ([QUERIES * 32, DIM]), for profiling the index outside this script.
  fs.writeFileSync(path.join(OUT, "queries.f32"), Buffer.concat(queries.map((q) => Buffer.from(q.buffer, q.byteOffset, q.byteLength))));
  console.log(`data: ${DOCS} docs, ${TOPICS} topics x ${TERMS_PER_TOPIC} terms, dim ${DIM}, ${TOKENS} +-25% tokens/doc, ${QUERIES} queries x ${QUERY_TOKENS} (centres in ${sec(tGen).toFixed(1)} s)`);

  let build: BuildRecord | null = readJson<BuildRecord>(path.join(OUT, "build.json"));
  if (PHASES.has("build")) build = await phaseBuild(corpus);
  let extrapolation: Extrapolation | null = null;
  if (argv.extrapolate && build) extrapolation = await extrapolateDefaultK(build);
  let exact: ExactRecord | null = readJson<ExactRecord>(path.join(OUT, "truth.json"));
  if (PHASES.has("exact") || (exact === null && (PHASES.has("colts") || PHASES.has("lancedb")))) exact = await phaseExact(corpus, queries);
  if (!exact) {
    console.log("build only: no ground truth yet (run the exact phase next)");
    return;
  }
  const rows: SearchRow[] = [];
  rows.push({ system: "exhaustive exact MaxSim", setting: "float32, onnxruntime", p50: percentile(exact.exhaustiveMs, 50), p95: percentile(exact.exhaustiveMs, 95), recall: 1, queries: exact.exhaustiveMs.length, extra: exact.exhaustiveNote });
  let profile: StageProfile | null = null;
  if (PHASES.has("colts")) {
    const r = await phaseColts(queries, exact.truth);
    rows.push(...r.rows);
    profile = r.profile;
  }
  let lance: LanceRecord | null = null;
  if (PHASES.has("lancedb")) {
    const r = await phaseLance(corpus, queries, exact.truth);
    rows.push(...r.rows);
    lance = r.rec;
  }

  // Tables.
  const lines: string[] = [];
  const date = new Date().toISOString().slice(0, 10);
  lines.push(`## PLAID synthetic benchmark, ${DOCS.toLocaleString("en-US")} documents (${date})`, "");
  lines.push(`- Machine: ${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; commit ${gitCommit()} (working tree may differ: other files were being edited)`);
  lines.push(`- Command: \`${COMMAND}\``);
  lines.push(`- Data: ${DOCS} docs x ${TOKENS}+-25% unit vectors (dim ${DIM}; ${build ? build.vectors.toLocaleString("en-US") : "?"} vectors), ${TOPICS} topics x ${TERMS_PER_TOPIC} terms, 4 topics/doc, token noise ${TOKEN_NOISE} (cosine to its term ~${fmt(1 / Math.sqrt(1 + TOKEN_NOISE ** 2), 2)}); assignment ${ASSIGNMENT}; ${QUERIES} queries x ${QUERY_TOKENS} vectors; seed ${SEED}. Ground truth: exact MaxSim on the float vectors (${fmt(exact.truthSeconds)} s for all queries).`);
  if (build) {
    lines.push("", "| build | value |", "| --- | --- |");
    lines.push(`| centroids K | ${build.centroids} (PLAID default for this size: ${build.defaultCentroids}) |`);
    lines.push(`| k-means | ${KM_ITERS} iterations, max ${KM_POINTS ?? 256} points/centroid, sample ${build.sampleDocs} docs |`);
    lines.push(`| build time | ${fmt(build.seconds.total)} s = sample ${fmt(build.seconds.sample)} s + k-means & codec ${fmt(build.seconds.train)} s + compress & write ${fmt(build.seconds.index)} s |`);
    if (build.seconds.generate !== undefined) lines.push(`| build time without generating the vectors (encoding's stand-in) | ${fmt(build.seconds.total - build.seconds.generate)} s (generation ${fmt(build.seconds.generate)} s) |`);
    lines.push(`| bytes per vector (nbits ${NBITS}, chunk files) | ${fmt(build.bytesPerVector, 2)} B |`);
    lines.push(`| index size on disk | ${fmt(build.sizeOnDisk / 2 ** 20)} MiB |`);
    if (extrapolation) {
      lines.push(
        `| default K ${extrapolation.K} (extrapolated) | ${fmt(extrapolation.secondsPerMillionAssignments)} s per 1M assignments -> k-means ${fmt(extrapolation.kmeansIterationSeconds, 0)} s/iteration (${extrapolation.kmeansPoints} points), ${fmt(extrapolation.kmeansSeconds, 0)} s for 4 + compression ${fmt(extrapolation.compressSeconds, 0)} s |`,
      );
    }
    if (lance) {
      lines.push(`| LanceDB ingest | ${fmt(lance.ingestSeconds)} s (incl. regenerating vectors) |`);
      lines.push(`| LanceDB IVF_PQ build | ${fmt(lance.indexSeconds)} s, ${JSON.stringify(lance.indexParams)} |`);
      lines.push(`| LanceDB on disk | ${fmt(lance.diskBytes / 2 ** 20)} MiB (${fmt(lance.diskBytes / (build.vectors || 1), 1)} B/vector incl. raw float32) |`);
    }
  }
  lines.push("", "| system | setting | p50 ms | p95 ms | recall@10 vs float exact | recall@10 vs `--exact` (decompressed) | queries |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) lines.push(`| ${r.system} | ${r.setting} | ${fmt(r.p50, 2)} | ${fmt(r.p95, 2)} | ${fmt(r.recall, 3)} | ${r.recallVsExact === undefined ? "" : fmt(r.recallVsExact, 3)} | ${r.queries} |`);
  const colts = rows.find((r) => r.system === "colts PLAID");
  if (colts) {
    lines.push("", `Ratios (p50, colts default): exhaustive / colts = ${fmt(percentile(exact.exhaustiveMs, 50) / colts.p50)}x`);
    for (const r of rows.filter((x) => x.system.startsWith("LanceDB"))) lines.push(`; LanceDB ${r.setting} / colts = ${fmt(r.p50 / colts.p50)}x`);
  }
  if (profile) {
    lines.push("", "Search profile, colts default parameters (mean ms per query):", "");
    lines.push("| centroid scoring (ORT, with top centroids and per-centroid max) | candidates (IVF union) | stage 2 | stage 3 | stage 4 (decompress + exact) | candidates | after stage 2 | after stage 3 |");
    lines.push("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    lines.push(
      `| ${fmt(profile.centroidScoring, 2)} | ${fmt(profile.candidates, 2)} | ${fmt(profile.stage2, 2)} | ${fmt(profile.stage3, 2)} | ${fmt(profile.stage4, 2)} | ${fmt(profile.candidatesCount, 0)} | ${fmt(profile.stage2Kept, 0)} | ${fmt(profile.stage3Kept, 0)} |`,
    );
  }
  const text = lines.join("\n").replace(/\n; /g, "; ");
  console.log(`\n${text}\n`);
  // Runs split into phases each measure some systems: keep earlier rows of systems not re-measured.
  const previous = fs.existsSync(path.join(OUT, "results.json")) ? (JSON.parse(fs.readFileSync(path.join(OUT, "results.json"), "utf8")) as { rows?: SearchRow[] }).rows ?? [] : [];
  const measured = new Set(rows.map((r) => r.system));
  const merged = [...previous.filter((r) => !measured.has(r.system)), ...rows];
  writeJson(path.join(OUT, "results.json"), { date, command: COMMAND, build, extrapolation, lance, rows: merged, profile, exhaustiveNote: exact.exhaustiveNote });
  if (!argv["no-results"]) {
    const file = path.join(ROOT, "bench", "RESULTS.md");
    const prefix = fs.existsSync(file) ? "\n" : "# Benchmark results\n\nSections are appended by the benchmarks; newest last.\n\n";
    fs.appendFileSync(file, `${prefix}${text}\n`);
    console.log(`appended to ${file}`);
  }
}

await main();
