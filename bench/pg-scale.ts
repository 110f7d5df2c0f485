/**
 * 100,000 documents on PostgreSQL, side by side with the on-disk PLAID index: build time and rate,
 * storage per vector, search latency and recall@10, all systems on the same synthetic corpus in
 * one process.
 *
 *   scripts/pg-local.sh start            # prints a URL (a throwaway server: see "Server settings")
 *   npx tsc -p . && node dist/bench/pg-scale.js --pg-url 'postgres://...' [--docs 100000 | --collection scifact] [--dim 128]
 *     [--tokens 64] [--queries 100] [--nbits 2] [--plaid default,ndocs=512,ndocs=1024] [--candidates 250,500,1000,1000/1000 (C or C/rerank)]
 *     [--index-exact-queries 0] [--pg-fde off|on] [--skip-build] [--systems folder,pg]
 *     [--shard-urls a,b] [--out bench/out/pg-scale-<docs>] [--no-results] ...
 *
 * Data (tools/synthetic-corpus.ts, the generator of plaid-synthetic.ts with its seed semantics):
 * 4096 topics x 8 terms, documents of `tokens` +- 25% unit vectors, queries of 32 vectors from a
 * random document's topics; each document is a pure function of (seed, document number) and is
 * regenerated whenever a system reads the corpus, so the 6.4M float vectors of 100k documents are
 * never all held in memory (the folder build keeps its codec sample, up to 1 GiB, as it always does).
 *
 * Or a real collection (--collection, tools/collection-corpus.ts): its documents and test queries
 * encoded once with the generated bench model, held in memory.
 *
 * Truth: exact MaxSim top-10 of every query over the original float vectors (onnxruntime, streamed
 * in blocks of 1,024 documents), cached in --out/truth.json for the same synthetic data and queries
 * (a collection's is computed again each run, in seconds).
 *
 * Systems (--systems, in this order):
 *   - folder: buildIndex + PlaidIndex.search at each --plaid setting (--out/index, replaced each run),
 *     after its exhaustive search (`exact: true`) on the first --index-exact-queries queries, whose
 *     top-10s are every system's "index's exhaustive search" column (same codec, same codes);
 *   - pg: buildPgIndex at --pg-url (replaced each run) + PgIndex.search, "plaid" retriever at each
 *     --plaid setting, "fde" retriever at each --candidates (efSearch: the library default), and the
 *     "exact" retriever on the first
 *     --pg-exact-queries queries, run first: each "fde" row's recall is also reported against
 *     that exhaustive top-10 on those queries (what the first stage loses, the codec's loss apart);
 *   - pg-sharded: the same, built across --shard-urls with --pg-url as coordinator (see
 *     `buildPgSharded` below), searched through the coordinator URL, under its own table prefix.
 * Every system trains its codec with the same settings (--nbits, --centroids, --kmeans-points,
 * default: the library's), so they store the same codes.
 *
 * Timing: by the build's progress events. Training: start -> last "train" event. Ingest: start ->
 * last "index" event (the last document row written; training included). For PostgreSQL, the rest
 * until the build returns is the HNSW (FDE) + GIN index build and the commit: "HNSW build". Search
 * latency: one warm-up query per setting, then p50 / p95 over the queries, one after another.
 *
 * Server settings: unless --maintenance-work-mem keep, the bench runs `ALTER SYSTEM SET
 * maintenance_work_mem` (default 2GB) and reloads the configuration on every PostgreSQL server it
 * builds on (superuser needed), so that pgvector builds the HNSW graph of 100k x 3,840-value halfvec
 * FDEs in memory: use a throwaway server (scripts/pg-local.sh). It prints the setting before and after.
 *
 * Output: a markdown table on stdout and (unless --no-results) a dated section appended to
 * bench/RESULTS.md with the machine, Node version, command and os.loadavg() at start and end;
 * --out/results.json after each system. A system that fails is reported as FAILED and the others
 * still run (exit code 1).
 */
import { execSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Nbits } from "../src/plaid/bitpack.js";
import type { PlaidParams } from "../src/plaid/stages.js";
import type { EmbeddingSource } from "../src/plaid/source.js";
import type { CodecTrainingOptions } from "../src/plaid/train-codec.js";
import { parsePgUrl, redactUrl } from "../src/pg/url.js";
import { buildPgIndex, type PgBuildOptions, type PgWriteResult } from "../src/pg/writer.js";
import { fmt } from "./tools/bench-stats.js";
import { REPO_ROOT } from "./tools/paths.js";
import { raiseMaintenanceWorkMem } from "./tools/pg-server-settings.js";
import { collectionCorpus } from "./tools/collection-corpus.js";
import type { FloatQuery } from "./tools/float-exhaustive.js";
import { runFolder, runPg, type BuildRecord, type SearchRow, type Workload } from "./tools/pg-scale-systems.js";
import { DEFAULT_TOKEN_NOISE, exactTopsOver, makeBlock, QUERY_TOKENS, SyntheticCorpus, TERMS_PER_TOPIC, type Block } from "./tools/synthetic-corpus.js";

// ---------------------------------------------------------------------------------------------
// Arguments

const { values: argv } = parseArgs({
  options: {
    /**
     * A real collection instead of the synthetic corpus: "scifact", "cacm", "cisi" or "cranfield" from
     * ../shared/datasets, encoded with the bench model (tools/collections.ts) at --dim; its first
     * --queries test queries. --docs, --tokens, --topics and --seed do not apply.
     */
    collection: { type: "string" },
    /** Documents. Default 100,000. The truth costs ~queries x docs x tokens x 32 x dim multiply-adds. */
    docs: { type: "string", default: "100000" },
    /** Vector dimension. Default 128. */
    dim: { type: "string", default: "128" },
    /** Mean vectors per document (each document: tokens +- 25%). Default 64. */
    tokens: { type: "string", default: "64" },
    /** Queries (32 vectors each). Default 100. */
    queries: { type: "string", default: "100" },
    /** Residual bits per dimension, 1, 2 or 4. Default 2. */
    nbits: { type: "string", default: "2" },
    /** Centroids of the codec. Default: the library's (PLAID's 2^floor(log2(16 sqrt(vectors)))); fewer train faster. */
    centroids: { type: "string" },
    /** k-means sample vectors per centroid. Default: the library's (256); fewer train faster. */
    "kmeans-points": { type: "string" },
    /** Topics of the synthetic corpus. Default 4096. */
    topics: { type: "string", default: "4096" },
    /** Seed of the synthetic corpus and queries. Default 7 (plaid-synthetic.ts's). */
    seed: { type: "string", default: "7" },
    /** PostgreSQL first-stage sizes ("fde" retriever candidates) to measure, comma-separated. Default 250,500,1000 (1000: the library default). */
    /** First-stage sizes: "C" (rerank: the library's default, C / 4) or "C/R" (rerank R), comma-separated. */
    candidates: { type: "string", default: "250,500,1000,1000/1000" },
    /** PLAID settings of the folder search and the "plaid" retriever: "default" or key=value pairs joined by ":" (ncells, threshold, ndocs), comma-separated. */
    plaid: { type: "string", default: "default,ndocs=512,ndocs=1024" },
    /** Queries the folder index's exhaustive search runs for (the column "vs the index's exhaustive search"); 0: none. */
    "index-exact-queries": { type: "string", default: "0" },
    /** "on": PostgreSQL builds store FDEs and their HNSW index (`fde: true`) and the "fde" rows are measured; "off" (the build's default): neither. */
    "pg-fde": { type: "string", default: "off" },
    /** PostgreSQL systems: search the indexes a previous run built (same data) instead of building them. */
    "skip-build": { type: "boolean", default: false },
    /** Queries measured with PostgreSQL's exhaustive "exact" retriever (a full scan each); 0: skip. Default 3. */
    "pg-exact-queries": { type: "string", default: "3" },
    /** Systems to run, comma-separated, among folder, pg, pg-sharded. Default folder,pg. */
    systems: { type: "string", default: "folder,pg" },
    /** PostgreSQL URL of pg (and coordinator of pg-sharded). Default $COLTS_PG_URL. The index under its prefix is replaced. */
    "pg-url": { type: "string", default: process.env["COLTS_PG_URL"] },
    /** Shard servers of pg-sharded, comma-separated URLs. */
    "shard-urls": { type: "string" },
    /** maintenance_work_mem set with ALTER SYSTEM on every server built on ("keep": leave it). Default 2GB. */
    "maintenance-work-mem": { type: "string", default: "2GB" },
    /** Folder for the truth cache and the folder index. Default bench/out/pg-scale-<docs>. */
    out: { type: "string" },
    /** pgvector's HNSW m of the PostgreSQL builds. Default: pgvector's (16). */
    "hnsw-m": { type: "string" },
    /** pgvector's HNSW ef_construction of the PostgreSQL builds. Default: pgvector's (64). */
    "hnsw-ef-construction": { type: "string" },
    /** Do not append to bench/RESULTS.md. */
    "no-results": { type: "boolean", default: false },
  },
});

function int(name: string, v: string | undefined, min: number): number {
  const x = Number(v);
  if (!Number.isInteger(x) || x < min) throw new Error(`--${name} must be an integer >= ${min}, got ${v}`);
  return x;
}
const DOCS = int("docs", argv.docs, 1);
const DIM = int("dim", argv.dim, 1);
const TOKENS = int("tokens", argv.tokens, 1);
const QUERIES = int("queries", argv.queries, 1);
const NBITS = int("nbits", argv.nbits, 1) as Nbits;
const TOPICS = int("topics", argv.topics, 1);
const SEED = int("seed", argv.seed, 0);
// "C" (rerank: the library default) or "C/R" (rerank R).
const CANDIDATES = (argv.candidates ?? "").split(",").map((c) => {
  const [cand, rerank] = c.split("/");
  return { candidates: int("candidates", cand ?? "", 1), ...(rerank !== undefined ? { rerank: int("rerank", rerank, 1) } : {}) };
});
const PG_EXACT_QUERIES = int("pg-exact-queries", argv["pg-exact-queries"], 0);
const INDEX_EXACT_QUERIES = int("index-exact-queries", argv["index-exact-queries"], 0);
// "default" or "ncells=2:ndocs=1024" ("threshold" is centroidScoreThreshold).
const PLAID: PlaidParams[] = (argv.plaid ?? "").split(",").filter((x) => x !== "").map((setting) => {
  if (setting === "default") return {};
  const p: PlaidParams = {};
  for (const pair of setting.split(":")) {
    const [key, value] = pair.split("=");
    if (key === "ncells" || key === "ndocs") p[key] = int(key, value ?? "", 1);
    else if (key === "threshold") p.centroidScoreThreshold = Number(value);
    else throw new Error(`--plaid: unknown parameter ${String(key)} (ncells, threshold, ndocs)`);
  }
  return p;
});
const SYSTEMS = (argv.systems ?? "").split(",").filter((s) => s !== "");
for (const s of SYSTEMS) if (!["folder", "pg", "pg-sharded"].includes(s)) throw new Error(`--systems: unknown system ${s} (folder, pg, pg-sharded)`);
const SHARD_URLS = (argv["shard-urls"] ?? "").split(",").filter((u) => u !== "");
const COLLECTION = argv.collection;
const OUT = path.resolve(REPO_ROOT, argv.out ?? `bench/out/pg-scale-${COLLECTION ?? DOCS}`);
const TRAINING: CodecTrainingOptions = {
  nbits: NBITS,
  ...(argv.centroids !== undefined ? { numCentroids: int("centroids", argv.centroids, 1) } : {}),
  ...(argv["kmeans-points"] !== undefined ? { kmeansMaxPointsPerCentroid: int("kmeans-points", argv["kmeans-points"], 1) } : {}),
};
const HNSW =
  argv["hnsw-m"] !== undefined || argv["hnsw-ef-construction"] !== undefined
    ? {
        ...(argv["hnsw-m"] !== undefined ? { m: int("hnsw-m", argv["hnsw-m"], 2) } : {}),
        ...(argv["hnsw-ef-construction"] !== undefined ? { efConstruction: int("hnsw-ef-construction", argv["hnsw-ef-construction"], 4) } : {}),
      }
    : undefined;
const COMMAND = `node dist/bench/pg-scale.js ${process.argv
  .slice(2)
  .map((a) => (a.startsWith("postgres") ? a.split(",").map(redactUrl).join(",") : a))
  .join(" ")}`.trim();

// ---------------------------------------------------------------------------------------------
// pg-sharded

/**
 * The sharded build: `shardUrls` as shard nodes (their prefix replaced by the coordinator's),
 * `coordinatorUrl` as coordinator. Its "index" progress events and its return are what is timed; the
 * shards build their HNSW indexes at the same time.
 */
function buildPgSharded(coordinatorUrl: string, shardUrls: readonly string[], source: EmbeddingSource, dim: number, opts: PgBuildOptions): Promise<PgWriteResult> {
  // Shards hold their tables under the coordinator's prefix.
  const prefix = parsePgUrl(coordinatorUrl).prefix;
  const shards = shardUrls.map((u) => {
    const x = new URL(u);
    x.searchParams.set("prefix", prefix);
    return x.toString();
  });
  return buildPgIndex(coordinatorUrl, source, dim, { ...opts, shards });
}

/** The coordinator URL of pg-sharded: --pg-url under its own table prefix, so pg and pg-sharded can run on one server. */
function shardedCoordinatorUrl(url: string): string {
  const u = new URL(url);
  u.searchParams.set("prefix", `${parsePgUrl(url).prefix}sharded_`);
  return u.toString();
}

// ---------------------------------------------------------------------------------------------
// Truth

interface TruthRecord {
  params: Record<string, unknown>;
  /** Exact top-10 document numbers per query. */
  truth: number[][];
  seconds: number;
}

/** What the systems are measured on, and how the report describes it. */
interface BenchData {
  corpus: Workload["corpus"];
  queries: FloatQuery[];
  /** Exact float MaxSim top-10 document numbers per query. */
  truth: number[][];
  /** The report's title, after "PostgreSQL at scale: ". */
  title: string;
  /** The report's "Data:" line. */
  description: string;
}

async function syntheticData(): Promise<BenchData> {
  const corpus = new SyntheticCorpus(SEED, DOCS, DIM, TOKENS, TOPICS);
  const vectors = Array.from({ length: QUERIES }, (_, j) => corpus.query(j).vectors);
  console.log(`data: ${DOCS} docs x ${TOKENS} +- 25% vectors (dim ${DIM}), ${QUERIES} queries x ${QUERY_TOKENS}; systems ${SYSTEMS.join(", ")}`);
  const truth = await exactTruth(corpus, vectors);
  return {
    corpus,
    queries: vectors.map((v) => ({ vectors: v, tokens: QUERY_TOKENS })),
    truth: truth.truth,
    title: `${DOCS.toLocaleString("en-US")} synthetic documents`,
    description: `${DOCS} docs x ${TOKENS} +- 25% unit vectors (dim ${DIM}), ${TOPICS} topics x ${TERMS_PER_TOPIC} terms, seed ${SEED}; ${QUERIES} queries x ${QUERY_TOKENS} vectors. Truth: exact MaxSim top-10 on the float vectors (${fmt(truth.seconds)} s for all queries).`,
  };
}

async function realData(name: string): Promise<BenchData> {
  const c = await collectionCorpus(name, DIM, OUT, QUERIES);
  console.log(`data: ${name}, ${c.docs.length} docs, ${c.vectors} vectors (dim ${DIM}), ${c.queries.length} queries; encoded in ${fmt(c.encodeSeconds)} s, truth in ${fmt(c.truthSeconds)} s; systems ${SYSTEMS.join(", ")}`);
  return {
    corpus: { dim: DIM, source: () => c.source() },
    queries: c.queries,
    truth: c.truth,
    title: `${name} (${c.docs.length.toLocaleString("en-US")} documents, generated model)`,
    description: `${name}, ${c.docs.length} documents, ${c.vectors} vectors (${fmt(c.vectors / c.docs.length)} a document), dim ${DIM}, encoded with \`colts model tiny ${c.modelArgs.join(" ")}\` (random weights; encoding ${fmt(c.encodeSeconds)} s, not part of any build below); its first ${c.queries.length} test queries (${c.queries[0]?.tokens ?? "?"} vectors each). Truth: exact MaxSim top-10 on the float vectors (${fmt(c.truthSeconds)} s for all queries).`,
  };
}

const BLOCK_DOCS = 1024;

/** Exact MaxSim top-10 per query over the float vectors (cached in OUT/truth.json for the same data and queries). */
async function exactTruth(corpus: SyntheticCorpus, queries: Float32Array[]): Promise<TruthRecord> {
  const file = path.join(OUT, "truth.json");
  const params = { docs: DOCS, dim: DIM, tokens: TOKENS, topics: TOPICS, seed: SEED, tokenNoise: DEFAULT_TOKEN_NOISE, queries: QUERIES };
  if (fs.existsSync(file)) {
    const cached = JSON.parse(fs.readFileSync(file, "utf8")) as TruthRecord;
    if (JSON.stringify(cached.params) === JSON.stringify(params)) {
      console.log(`truth: reusing ${file} (computed in ${cached.seconds.toFixed(1)} s)`);
      return cached;
    }
  }
  function* blocks(): Generator<Block> {
    for (let first = 0; first < DOCS; first += BLOCK_DOCS) yield makeBlock(corpus, first, Math.min(BLOCK_DOCS, DOCS - first));
  }
  const t0 = performance.now();
  const tops = await exactTopsOver(blocks(), queries, { queryTokens: QUERY_TOKENS, dim: DIM, docLen: corpus.maxDocLen, total: DOCS, label: "truth" });
  const rec: TruthRecord = { params, truth: tops.map((t) => t.ids), seconds: (performance.now() - t0) / 1000 };
  fs.writeFileSync(file, JSON.stringify(rec));
  console.log(`truth: exact MaxSim top-10 of ${QUERIES} queries over ${DOCS} documents in ${rec.seconds.toFixed(1)} s`);
  return rec;
}

// ---------------------------------------------------------------------------------------------
// Report

function gitCommit(): string {
  try {
    return execSync("git rev-parse --short HEAD", { cwd: REPO_ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

const loads = (): string => os.loadavg().map((x) => x.toFixed(2)).join(" / ");

/** A start load (1 minute) below a quarter of the cores: nothing else was busy when the bench began. */
function quietNote(startLoad: number[], endLoads: string): string {
  const cores = os.cpus().length;
  const quiet = (startLoad[0] ?? 0) < cores / 4;
  return `load average (1/5/15 min) at start ${startLoad.map((x) => x.toFixed(2)).join(" / ")}, at end ${endLoads} (the end figure includes this bench's own load); ${quiet ? "the machine was quiet at start" : "the machine was NOT quiet at start: other work ran alongside, latencies and build times are inflated"}`;
}

/** How many queries `system`'s exhaustive search ran for (its rows' recall against it covers those); the folder's when the system ran none. */
function exactQueries(rows: SearchRow[], system: string): number {
  const own = rows.find((r) => r.system === system && r.setting.startsWith("exact"));
  return own?.queries ?? rows.find((r) => r.system === "folder" && r.setting.startsWith("exact"))?.queries ?? 0;
}

function report(builds: BuildRecord[], rows: SearchRow[], data: BenchData, settingsLines: string[], startLoad: number[], endLoads: string): string {
  const cpu = os.cpus();
  const lines = [`## PostgreSQL at scale: ${data.title}, ${SYSTEMS.join(" / ")} (${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC)`, ""];
  lines.push(`- Machine: ${cpu[0]?.model ?? "?"}, ${cpu.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}; Node ${process.version}; commit ${gitCommit()}`);
  lines.push(`- Command: \`${COMMAND}\``);
  lines.push(`- Load: ${quietNote(startLoad, endLoads)}`);
  lines.push(
    `- Data: ${data.description} Codec: nbits ${NBITS}, centroids ${TRAINING.numCentroids ?? "library default"}, k-means points/centroid ${TRAINING.kmeansMaxPointsPerCentroid ?? "library default"}; HNSW m ${HNSW?.m ?? "16 (pgvector's)"}, ef_construction ${HNSW?.efConstruction ?? "64 (pgvector's)"}.`,
  );
  for (const s of settingsLines) lines.push(`- ${s.startsWith("FAILED") ? s : `Server: ${s}`}`);
  lines.push("", "| system | training s | ingest s (training included) | docs/s | vectors/s | HNSW build s | total s | bytes/vector | total MiB | notes |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const b of builds) {
    const idx = b.indexBuildSeconds === null ? "-" : fmt(b.indexBuildSeconds);
    lines.push(`| ${b.system} | ${fmt(b.trainSeconds)} | ${fmt(b.ingestSeconds)} | ${fmt(b.docs / b.ingestSeconds, 0)} | ${fmt(b.vectors / b.ingestSeconds, 0)} | ${idx} | ${fmt(b.totalSeconds)} | ${fmt(b.bytesPerVector, 2)} | ${fmt(b.totalBytes / 2 ** 20)} | ${b.note} |`);
  }
  lines.push("", "| system | setting | p50 ms | p95 ms | recall@10 vs float exact | recall@10 vs the index's exhaustive search | queries |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) lines.push(`| ${r.system} | ${r.setting} | ${fmt(r.p50, 2)} | ${fmt(r.p95, 2)} | ${fmt(r.recall, 3)} | ${r.recallVsIndexExact === null ? "-" : `${fmt(r.recallVsIndexExact, 3)} (first ${exactQueries(rows, r.system)} queries)`} | ${r.queries} |`);
  lines.push(
    "",
    "Ingest: start -> last document row written (codec training included); HNSW build (PostgreSQL): the rest of the build (HNSW over the FDEs, GIN over the tsvectors, commit). bytes/vector: folder chunk files; PostgreSQL vectors table (heap, TOAST, primary key). total MiB: folder on disk; PostgreSQL all tables with their indexes. Latency: one warm-up query per setting, then one query at a time.",
  );
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Main

/** Builds and measures one system of --systems. */
function runSystem(system: string, w: Workload): Promise<{ build: BuildRecord; rows: SearchRow[] }> {
  const pgOpts = { candidates: CANDIDATES, exactQueries: PG_EXACT_QUERIES, skipBuild: argv["skip-build"] === true };
  const url = argv["pg-url"] as string;
  if (system === "folder") return runFolder(w, path.join(OUT, "index"));
  if (system === "pg") return runPg(w, "pg", url, buildPgIndex, pgOpts);
  return runPg(w, "pg-sharded", shardedCoordinatorUrl(url), (u, s, d, o) => buildPgSharded(u, SHARD_URLS, s, d, o), pgOpts);
}

async function main(): Promise<void> {
  const startLoad = os.loadavg();
  console.log(`load average at start: ${loads()} (${os.cpus().length} cores)`);
  if (SYSTEMS.some((s) => s !== "folder") && !argv["pg-url"]) throw new Error("give --pg-url postgres://... (scripts/pg-local.sh start prints one) or set COLTS_PG_URL");
  if (SYSTEMS.includes("pg-sharded") && SHARD_URLS.length === 0) throw new Error("pg-sharded needs --shard-urls url1,url2");
  fs.mkdirSync(OUT, { recursive: true });
  const data = COLLECTION ? await realData(COLLECTION) : await syntheticData();
  const w: Workload = { corpus: data.corpus, queries: data.queries, truth: data.truth, training: TRAINING, plaid: PLAID, indexExactQueries: INDEX_EXACT_QUERIES, pgFde: argv["pg-fde"] === "on", ...(HNSW ? { hnsw: HNSW } : {}) };

  const settingsLines: string[] = [];
  const mwm = argv["maintenance-work-mem"] ?? "2GB";
  const urls = [...(SYSTEMS.some((s) => s !== "folder") && argv["pg-url"] ? [argv["pg-url"]] : []), ...(SYSTEMS.includes("pg-sharded") ? SHARD_URLS : [])];
  // One ALTER SYSTEM per server (several URLs may name one server under different prefixes).
  const servers = [...new Map(urls.map((u) => [`${parsePgUrl(u).host}:${parsePgUrl(u).port}`, u])).values()];
  if (mwm !== "keep") {
    for (const url of servers) {
      settingsLines.push(await raiseMaintenanceWorkMem(url, mwm));
      console.log(settingsLines[settingsLines.length - 1]);
    }
  }

  const builds: BuildRecord[] = [];
  const rows: SearchRow[] = [];
  const failures: string[] = [];
  for (const system of SYSTEMS) {
    console.log(`\n${system}:`);
    try {
      const r = await runSystem(system, w);
      builds.push(r.build);
      rows.push(...r.rows);
    } catch (e) {
      // One system's failure (an hour into a 100k run) must not lose the others' measurements.
      failures.push(`${system}: ${e instanceof Error ? e.message : String(e)}`);
      console.error(`${system} failed:`, e);
    }
    fs.writeFileSync(path.join(OUT, "results.json"), JSON.stringify({ command: COMMAND, builds, rows, failures }, null, 1));
  }

  const endLoads = loads();
  console.log(`load average at end: ${endLoads}`);
  const text = report(builds, rows, data, [...settingsLines, ...failures.map((f) => `FAILED ${f}`)], startLoad, endLoads);
  console.log(`\n${text}\n`);
  if (!argv["no-results"]) {
    const file = path.join(REPO_ROOT, "bench", "RESULTS.md");
    fs.appendFileSync(file, `\n${text}\n`);
    console.log(`appended to ${file}`);
  }
  if (failures.length > 0) process.exitCode = 1;
}

await main();
