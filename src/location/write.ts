/**
 * Writes at a location, folder or PostgreSQL URL: build, add, delete, compact, and the in-place
 * upgrade of a PostgreSQL index written by an older colts. The folder functions
 * are plaid/writer.ts's, the PostgreSQL ones pg/writer.ts's; both take the same `EmbeddingSource`.
 */
import { ColtsError } from "../errors.js";
import { addToIndex, buildIndex, compactIndex, deleteFromIndex, type BuildOptions, type CompactOptions } from "../plaid/writer.js";
import type { EmbeddingSource } from "../plaid/source.js";
import type { PgIndexInfo } from "../pg/pg-index.js";
import type { PgUpgradeResult } from "../pg/upgrade.js";
import type * as PgWriter from "../pg/writer.js";
import { locationKind } from "./open.js";

/** pg/writer.ts, loaded on first use (node-postgres costs every folder user start-up time otherwise). */
function pgWriter(): Promise<typeof PgWriter> {
  return import("../pg/writer.js");
}

/** The outcome of a write. */
export interface WriteOutcome {
  /** The committed generation. */
  generation: number;
  /** Live documents after the write. */
  liveDocuments: number;
}

/**
 * Builds a new index at `location`. A PostgreSQL build takes the codec options, `model`,
 * `overwrite`, `onProgress`, `shards` (a sharded index whose coordinator is `location`), `hnsw`
 * (pgvector's build parameters) and `fde` (true or FDE settings: store FDEs for the FDE first stage; default none); the folder-only ones (chunks, BM25, the sample's memory) do not
 * apply there (its keyword side is PostgreSQL full-text search over the stored texts), and a folder
 * refuses the PostgreSQL-only ones.
 */
export async function buildAt(location: string, source: EmbeddingSource, dim: number, opts: BuildOptions & Pick<PgWriter.PgBuildOptions, "shards" | "hnsw" | "fde"> = {}): Promise<WriteOutcome> {
  if (locationKind(location) === "folder") {
    if (opts.shards !== undefined) throw new ColtsError("INPUT_INVALID", `shards are PostgreSQL nodes: ${location} is a folder; name the coordinator's postgres:// URL as the location`);
    if (opts.hnsw !== undefined) throw new ColtsError("INPUT_INVALID", `hnsw settings are pgvector's: ${location} is a folder (PLAID has no HNSW graph); leave them out or name a postgres:// URL`);
    if (opts.fde !== undefined) throw new ColtsError("INPUT_INVALID", `FDE settings are a PostgreSQL index's: ${location} is a folder; leave them out or name a postgres:// URL`);
    const m = await buildIndex(location, source, dim, opts);
    return { generation: m.generation, liveDocuments: m.liveDocs };
  }
  // The folder-only options are left out by name, so a new codec option reaches PostgreSQL builds too.
  const { chunkDocs, bm25, bm25Analyzer, sampleMemoryBytes, ...pgOpts } = opts;
  void [chunkDocs, bm25, bm25Analyzer, sampleMemoryBytes];
  const { buildPgIndex } = await pgWriter();
  const r = await buildPgIndex(location, source, dim, pgOpts);
  return { generation: r.generation, liveDocuments: r.liveDocuments };
}

/** Adds documents (new ids only) to the index at `location`. */
export async function addAt(location: string, source: EmbeddingSource, opts: Pick<BuildOptions, "onProgress"> = {}): Promise<WriteOutcome> {
  if (locationKind(location) === "folder") {
    const m = await addToIndex(location, source, opts);
    return { generation: m.generation, liveDocuments: m.liveDocs };
  }
  const { addToPgIndex } = await pgWriter();
  const r = await addToPgIndex(location, source, opts.onProgress ? { onProgress: opts.onProgress } : {});
  return { generation: r.generation, liveDocuments: r.liveDocuments };
}

/** Deletes documents by id; `missing` are ids not in the index (an id given twice is found once). */
export async function deleteAt(location: string, ids: readonly string[]): Promise<WriteOutcome & { deleted: string[]; missing: string[] }> {
  if (locationKind(location) === "folder") {
    const r = await deleteFromIndex(location, ids);
    return { generation: r.manifest.generation, liveDocuments: r.manifest.liveDocs, deleted: r.deleted, missing: r.missing };
  }
  const { deleteFromPgIndex } = await pgWriter();
  const r = await deleteFromPgIndex(location, ids);
  // The counts after the delete: read apart from its transaction, so a concurrent writer's rows may show.
  const { readPgSummary } = await import("../pg/documents.js");
  const s = await readPgSummary(location);
  return { generation: s.generation, liveDocuments: s.liveDocuments, ...r };
}

/** What a compaction did. */
export type CompactOutcome = FolderCompaction | PostgresCompaction;

/** A folder rewritten without its deleted documents. */
export interface FolderCompaction {
  /** Folder. */
  kind: "folder";
  /** Live documents after the compaction. */
  liveDocuments: number;
  /** Chunk files of the new generation. */
  chunks: number;
  /** Centroids of the codec (new ones after a recluster). */
  centroids: number;
}

/** PostgreSQL keeps no tombstones: its compaction is VACUUM (ANALYZE) of the index's tables. */
export interface PostgresCompaction {
  /** PostgreSQL. */
  kind: "postgres";
  /** The tables vacuumed. */
  vacuumed: string[];
}

/**
 * Compacts the index at `location`: a folder is rewritten without its deleted documents (and
 * reclustered with `recluster`); a PostgreSQL index gets VACUUM (ANALYZE). `recluster` of a
 * PostgreSQL index is refused (INPUT_INVALID): rebuild it with `overwrite`.
 */
export async function compactAt(location: string, opts: CompactOptions = {}): Promise<CompactOutcome> {
  if (locationKind(location) === "folder") {
    const m = await compactIndex(location, opts);
    return { kind: "folder", liveDocuments: m.liveDocs, chunks: m.chunks.length, centroids: m.numCentroids };
  }
  if (opts.recluster) throw new ColtsError("INPUT_INVALID", "recluster does not apply to a PostgreSQL index: rebuild it (index build --overwrite) to retrain its centroids");
  const { vacuumPgIndex } = await import("../pg/documents.js");
  return { kind: "postgres", vacuumed: await vacuumPgIndex(location) };
}

/** Statistics of a PostgreSQL index (PgIndex.info: PostgreSQL's own byte counts, location redacted). */
export async function pgInfo(url: string): Promise<PgIndexInfo> {
  const { PgIndex } = await import("../pg/pg-index.js");
  const index = await PgIndex.open(url);
  try {
    return await index.info();
  } finally {
    await index.close();
  }
}

/**
 * Brings the PostgreSQL index at `location` to this colts' schema in place, from the data it holds
 * (pg/upgrade.ts: nothing is encoded again; an index already current is left as it is). A folder is
 * refused (INPUT_INVALID): this colts reads the older folder formats it knows as they are.
 */
export async function upgradeAt(location: string): Promise<PgUpgradeResult> {
  if (locationKind(location) === "folder") {
    throw new ColtsError("INPUT_INVALID", `${location} is a folder: upgrade applies to PostgreSQL indexes; this colts reads the older folder formats it knows as they are`);
  }
  const { upgradePgIndex } = await import("../pg/upgrade.js");
  return upgradePgIndex(location);
}
