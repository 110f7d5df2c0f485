/**
 * The systems of bench/pg-scale.ts: build each on the same corpus (synthetic, or a real collection
 * encoded with the bench model), time the build by its
 * progress events, then time searches and score them against the exact top-10.
 */
import { PlaidIndex } from "../../src/plaid/plaid-index.js";
import type { PlaidParams } from "../../src/plaid/stages.js";
import type { CodecTrainingOptions } from "../../src/plaid/train-codec.js";
import { buildIndex } from "../../src/plaid/writer.js";
import { PgIndex } from "../../src/pg/pg-index.js";
import type { PgBuildOptions, PgWriteResult } from "../../src/pg/writer.js";
import type { EmbeddingSource } from "../../src/plaid/source.js";
import { mean, percentile, recallAt10 } from "./bench-stats.js";
import type { FloatQuery } from "./float-exhaustive.js";

/** What every system is measured on. */
export interface Workload {
  /** The documents, ids "d<i>" (i: the document's number, which `truth` names). */
  corpus: { dim: number; source(): EmbeddingSource };
  /** [tokens, dim] each. */
  queries: FloatQuery[];
  /** Exact top-10 document numbers per query (float vectors). */
  truth: number[][];
  /** Codec training settings, the same for every system (so every system trains the same codec). */
  training: CodecTrainingOptions;
  /** pgvector's HNSW build parameters of the PostgreSQL systems (PgBuildOptions.hnsw). Default: pgvector's. */
  hnsw?: { m?: number; efConstruction?: number };
  /** PLAID settings measured on every system (folder search, PostgreSQL "plaid" retriever); {} = the defaults. */
  plaid: PlaidParams[];
  /**
   * Queries the folder index's exhaustive search runs for (0: none). Its top-10s are the "index's
   * exhaustive search" of every system: all train the same codec on the same data (the PostgreSQL
   * tests check that the two layouts' exact searches agree), so they store the same codes.
   */
  indexExactQueries: number;
  /** Filled by the folder system: the exhaustive top-10s of the first indexExactQueries queries. */
  indexExact?: number[][];
  /** True: PostgreSQL builds store FDEs and their HNSW index (`fde: true`) and "fde" rows are measured; false: neither (the build's default). */
  pgFde: boolean;
}

/** A PLAID setting as a row label. */
export function plaidLabel(p: PlaidParams): string {
  const parts = Object.entries(p).map(([k, v]) => `${k} ${String(v)}`);
  return `plaid, ${parts.length > 0 ? parts.join(", ") : "default parameters"}`;
}

/** How long a build took, by phase (seconds), and what it stored. */
export interface BuildRecord {
  system: string;
  /** Start -> last "train" event: sample read + k-means + residual calibration. */
  trainSeconds: number;
  /** Start -> last "index" event: everything up to the last document row written (training included). */
  ingestSeconds: number;
  /** Last "index" event -> return: PostgreSQL's HNSW + GIN index build and commit; null for a folder. */
  indexBuildSeconds: number | null;
  /** Start -> return. */
  totalSeconds: number;
  docs: number;
  vectors: number;
  /** Compressed vector storage per vector (folder: chunk files; PostgreSQL: vectors table). */
  bytesPerVector: number;
  /** Everything the index occupies, bytes (folder: on disk; PostgreSQL: all tables with their indexes). */
  totalBytes: number;
  /** One line of system-specific sizes. */
  note: string;
}

/** One search setting's latency and recall. */
export interface SearchRow {
  system: string;
  setting: string;
  p50: number;
  p95: number;
  /** Recall@10 against exact MaxSim on the original float vectors. */
  recall: number;
  /**
   * Recall@10 against the same index's exhaustive search (exact MaxSim over every document's stored,
   * decompressed vectors) on the queries that search was run for: what the first stage loses, apart
   * from what the codec loses. Null where not measured.
   */
  recallVsIndexExact: number | null;
  queries: number;
}

/** Records when each build phase last reported, and logs progress every 10 s. */
class BuildClock {
  readonly t0 = performance.now();
  lastTrain = this.t0;
  lastIndex = this.t0;
  private lastLog = this.t0;
  constructor(private readonly label: string) {}

  readonly onProgress = (e: { phase: "sample" | "train" | "index"; done: number; total: number }): void => {
    const now = performance.now();
    if (e.phase === "train") this.lastTrain = now;
    if (e.phase === "index") this.lastIndex = now;
    if (now - this.lastLog > 10_000) {
      this.lastLog = now;
      console.log(`  ${this.label} build: ${e.phase} ${e.done}/${e.total} at ${this.seconds(now).toFixed(0)} s`);
    }
  };

  seconds(t: number): number {
    return (t - this.t0) / 1000;
  }
}

/** Document number of a benchmark document id ("d<i>"). */
const docNumber = (id: string): number => Number(id.slice(1));

/**
 * Latency and recall@10 of `search` over the first `count` queries, after `warmups` unmeasured
 * queries (connection, kernels, JIT, page cache of what one query reads).
 */
export async function measure(w: Workload, system: string, setting: string, search: (q: FloatQuery) => Promise<string[]>, count = w.queries.length, warmups = 1, indexExact: number[][] = []): Promise<SearchRow & { tops: number[][] }> {
  for (let i = 0; i < Math.min(warmups, w.queries.length); i++) await search(w.queries[i] as FloatQuery);
  const lat: number[] = [];
  const rec: number[] = [];
  const tops: number[][] = [];
  for (let qi = 0; qi < Math.min(count, w.queries.length); qi++) {
    const t0 = performance.now();
    const ids = await search(w.queries[qi] as FloatQuery);
    lat.push(performance.now() - t0);
    tops.push(ids.map(docNumber));
    rec.push(recallAt10(ids.map(docNumber), w.truth[qi] as number[]));
  }
  const vsExact = indexExact.length > 0 ? mean(indexExact.map((exact, qi) => recallAt10(tops[qi] ?? [], exact))) : null;
  const row = { system, setting, p50: percentile(lat, 50), p95: percentile(lat, 95), recall: mean(rec), recallVsIndexExact: vsExact, queries: lat.length, tops };
  console.log(`  ${system} ${setting}: p50 ${row.p50.toFixed(1)} ms, p95 ${row.p95.toFixed(1)} ms, recall@10 ${row.recall.toFixed(3)}${vsExact === null ? "" : `, vs the index's exhaustive top-10 ${vsExact.toFixed(3)} (first ${indexExact.length} queries)`} (${row.queries} queries)`);
  return row;
}

/** A measured row without its per-query hits. */
const rowOf = (r: SearchRow & { tops: number[][] }): SearchRow => ({ system: r.system, setting: r.setting, p50: r.p50, p95: r.p95, recall: r.recall, recallVsIndexExact: r.recallVsIndexExact, queries: r.queries });

const encoded = (w: Workload, q: FloatQuery): { vectors: Float32Array; tokens: number; dim: number } => ({ vectors: q.vectors, tokens: q.tokens, dim: w.corpus.dim });

/** The on-disk PLAID index in `dir` (replaced), searched at its default parameters. */
export async function runFolder(w: Workload, dir: string): Promise<{ build: BuildRecord; rows: SearchRow[] }> {
  const clock = new BuildClock("folder");
  await buildIndex(dir, w.corpus.source(), w.corpus.dim, { ...w.training, ...(w.hnsw ? { hnsw: w.hnsw } : {}), overwrite: true, onProgress: clock.onProgress });
  const end = performance.now();
  const index = await PlaidIndex.open(dir);
  try {
    const info = index.info();
    const build: BuildRecord = {
      system: "folder",
      trainSeconds: clock.seconds(clock.lastTrain),
      ingestSeconds: clock.seconds(end),
      indexBuildSeconds: null,
      totalSeconds: clock.seconds(end),
      docs: info.liveDocuments,
      vectors: info.vectors,
      bytesPerVector: info.bytesPerVector,
      totalBytes: info.sizeOnDisk,
      note: `K ${info.centroids}, nbits ${info.nbits}`,
    };
    console.log(`folder: built in ${build.totalSeconds.toFixed(1)} s (training ${build.trainSeconds.toFixed(1)} s), ${build.bytesPerVector.toFixed(2)} B/vector`);
    const rows: SearchRow[] = [];
    if (w.indexExactQueries > 0) {
      const exact = await measure(w, "folder", "exact (exhaustive)", async (q) => (await index.search(encoded(w, q), { k: 10, exact: true })).map((h) => h.id), w.indexExactQueries);
      w.indexExact = exact.tops;
      rows.push({ ...rowOf(exact), recallVsIndexExact: 1 });
    }
    for (const params of w.plaid) {
      rows.push(rowOf(await measure(w, "folder", plaidLabel(params), async (q) => (await index.search(encoded(w, q), { k: 10, params })).map((h) => h.id), w.queries.length, 1, w.indexExact ?? [])));
    }
    return { build, rows };
  } finally {
    await index.close();
  }
}

/** Builds a PostgreSQL index at a URL (buildPgIndex, or the sharded build). */
export type PgBuilder = (url: string, source: EmbeddingSource, dim: number, opts: PgBuildOptions) => Promise<PgWriteResult>;

/** What runPg measures besides the build. */
export interface PgRunOptions {
  /** First-stage sizes of the "fde" retriever to measure, each with its rerank (undefined: the library default; efSearch: the library default). */
  candidates: { candidates: number; rerank?: number }[];
  /** Open the index already at the URL instead of building it (its build is not timed). */
  skipBuild?: boolean;
  /** Queries measured with the exhaustive "exact" retriever (after one warm-up); 0: none. */
  exactQueries: number;
}

/** A PostgreSQL index built by `build` at `url` (replaced), searched through `PgIndex.open(url)`. */
export async function runPg(w: Workload, system: string, url: string, build: PgBuilder, opts: PgRunOptions): Promise<{ build: BuildRecord; rows: SearchRow[] }> {
  const clock = new BuildClock(system);
  if (!opts.skipBuild) await build(url, w.corpus.source(), w.corpus.dim, { ...w.training, fde: w.pgFde, overwrite: true, onProgress: clock.onProgress });
  const end = performance.now();
  const index = await PgIndex.open(url);
  try {
    const info = await index.info();
    const totalBytes = Object.values(info.tableBytes).reduce((a, b) => a + b, 0);
    const rec: BuildRecord = {
      system,
      trainSeconds: clock.seconds(clock.lastTrain),
      ingestSeconds: clock.seconds(clock.lastIndex),
      indexBuildSeconds: (end - clock.lastIndex) / 1000,
      totalSeconds: clock.seconds(end),
      docs: info.liveDocuments,
      vectors: info.vectors,
      bytesPerVector: info.bytesPerVector,
      totalBytes,
      note: `K ${info.centroids}, nbits ${info.nbits}, ${info.fdeEnabled ? `FDE ${info.fde.size} values` : "no FDEs"}; HNSW ${(info.indexBytes.fdeHnsw / 2 ** 20).toFixed(1)} MiB, documents table ${(info.tableBytes.documents / 2 ** 20).toFixed(1)} MiB, vectors table ${(info.tableBytes.vectors / 2 ** 20).toFixed(1)} MiB, IVF lists ${(info.tableBytes.ivf / 2 ** 20).toFixed(1)} MiB (${(info.tableBytes.ivf / Math.max(1, info.vectors)).toFixed(2)} B/vector)`,
    };
    console.log(`${system}: built in ${rec.totalSeconds.toFixed(1)} s (training ${rec.trainSeconds.toFixed(1)} s, rows until ${rec.ingestSeconds.toFixed(1)} s, HNSW + GIN ${(rec.indexBuildSeconds ?? 0).toFixed(1)} s), ${rec.bytesPerVector.toFixed(2)} B/vector; ${rec.note}`);
    const rows: SearchRow[] = [];
    // The exhaustive search first: its top-10s are what the first stage's rows are also scored against
    // (the folder's, when it ran them: the same codes).
    let indexExact: number[][] = w.indexExact ?? [];
    if (opts.exactQueries > 0) {
      const exact = await measure(w, system, "exact (exhaustive)", async (q) => (await index.search(encoded(w, q), { k: 10, retriever: "exact" })).map((h) => h.id), opts.exactQueries);
      indexExact = exact.tops;
      rows.push({ ...rowOf(exact), recallVsIndexExact: 1 });
    }
    for (const plaid of w.plaid) {
      rows.push(rowOf(await measure(w, system, plaidLabel(plaid), async (q) => (await index.search(encoded(w, q), { k: 10, retriever: "plaid", plaid })).map((h) => h.id), w.queries.length, 1, indexExact)));
    }
    for (const c of info.fdeEnabled ? opts.candidates : []) {
      const label = `fde, candidates ${c.candidates}, rerank ${c.rerank ?? `default (${Math.ceil(c.candidates / 4)})`}`;
      rows.push(rowOf(await measure(w, system, label, async (q) => (await index.search(encoded(w, q), { k: 10, retriever: "fde", ...c })).map((h) => h.id), w.queries.length, 1, indexExact)));
    }
    return { build: rec, rows };
  } finally {
    await index.close();
  }
}
