/**
 * The index manifest: the one small JSON file that says which immutable data files make up the
 * current state. Every write (build, add, delete, compact) writes new data files first, then
 * replaces `manifest.json` atomically (store/atomic.ts). A crash at any point leaves the previous
 * manifest and everything it names intact, so the last good state always loads.
 */
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../store/atomic.js";
import type { Nbits } from "./bitpack.js";

export const MANIFEST_FILE = "manifest.json";
/** The manifest's `format`: marks a folder as a colts PLAID index. */
export const INDEX_FORMAT = "colts-plaid";
/**
 * The on-disk format version this colts writes; it reads versions 1 up to this one and refuses newer
 * ones (INDEX_VERSION). 2: chunks may store codes and inverted lists as u16 (chunk.ts), and the
 * keyword index may be the BM25 file's version 2, so an older colts refuses the whole index up front
 * rather than failing on its first chunk. A write that adds chunks to a version-1 index (add, compact)
 * upgrades its manifest to the current version.
 */
export const INDEX_FORMAT_VERSION = 2;

export interface ChunkEntry {
  /** File name inside the index folder. */
  file: string;
  /** Documents stored in the chunk (deleted ones included until compaction). */
  docs: number;
  /** Vectors stored in the chunk. */
  vectors: number;
}

/** The content of manifest.json: the index's parameters and the data files of its current generation. */
export interface Manifest {
  /** Always `INDEX_FORMAT`. */
  format: typeof INDEX_FORMAT;
  /** The format version the index was written in (see `INDEX_FORMAT_VERSION`). */
  version: number;
  /** Increases by one with every committed write. */
  generation: number;
  /** When the index was built, ISO 8601 UTC. */
  createdAt: string;
  /** When the last write was committed, ISO 8601 UTC. */
  updatedAt: string;
  /** Dimension of the stored vectors; queries must have it. */
  dim: number;
  /** Residual bits per dimension of the codec. */
  nbits: Nbits;
  /** Number of centroids of the codec. */
  numCentroids: number;
  /** Token pooling factor used at index time (1 = none). */
  poolFactor: number;
  /** Model the documents were encoded with (id or path as given), if known; queries must use the same. */
  model: string | null;
  /** The codec (centroids and buckets) file. */
  codecFile: string;
  /** The chunk files holding the compressed vectors, in ordinal order. */
  chunks: ChunkEntry[];
  /** Sorted deleted ordinals, or null when none. */
  tombstonesFile: string | null;
  /** Ordinals allocated so far; metadata rows at or beyond it are leftovers of an interrupted write. */
  numDocs: number;
  /** Documents not deleted. */
  liveDocs: number;
  /** SQLite file with ids, metadata and texts. */
  metadataFile: string;
  /** BM25 index over the stored texts (bm25/ format), or null when the documents had no text. */
  bm25File?: string | null;
  /**
   * Mean absolute residual of the vectors the codec was trained on, and of the last added batch.
   * When added data sits much further from the centroids than the training data did, the centroids
   * no longer describe the collection and `compact --recluster` should be run.
   */
  drift: { trainedAvgResidual: number; lastAddAvgResidual: number | null };
}

/**
 * Added vectors whose mean residual exceeds this multiple of the training data's mark the index as
 * drifted: its centroids no longer describe the collection.
 */
export const DRIFT_RATIO = 1.25;

/** Whether the last added batch sat so far from the centroids that `compact --recluster` should be run. */
export function isDrifted(drift: Manifest["drift"]): boolean {
  return drift.lastAddAvgResidual !== null && drift.lastAddAvgResidual > DRIFT_RATIO * drift.trainedAvgResidual;
}

export function writeManifest(dir: string, m: Manifest): void {
  writeFileAtomic(path.join(dir, MANIFEST_FILE), `${JSON.stringify(m, null, 2)}\n`);
}

/** Every data file the manifest refers to. */
export function referencedFiles(m: Manifest): Set<string> {
  return new Set([
    MANIFEST_FILE,
    m.codecFile,
    m.metadataFile,
    ...m.chunks.map((c) => c.file),
    ...(m.tombstonesFile ? [m.tombstonesFile] : []),
    ...(m.bm25File ? [m.bm25File] : []),
  ]);
}

/**
 * Files colts writes per generation (by prefix; `sample-g*` is a build's temporary copy of its codec
 * sample), and temporary files of interrupted writes.
 */
const GENERATION_FILE = /^(?:(?:codec|chunk|tombstones|bm25|sample)-g\d+.*|metadata(?:-g\d+)?\.sqlite(?:-wal|-shm|-journal)?|\..+\.tmp-\d+-\d+-\d+)$/;

/**
 * Deletes the files of older generations that the current manifest no longer names: run by every
 * write once its manifest is in place (so a crash before that loses nothing), and it removes what
 * any earlier interrupted write left too. Only files colts writes (by name) are touched; the current
 * metadata database's SQLite side files (-wal, -shm) are kept. A file that cannot be removed is
 * left for the next write: the committed write has succeeded either way.
 */
export function collectGarbage(dir: string, m: Manifest): string[] {
  const keep = referencedFiles(m);
  const removed: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (keep.has(name) || name.startsWith(`${m.metadataFile}-`) || !GENERATION_FILE.test(name)) continue;
    try {
      fs.rmSync(path.join(dir, name), { force: true });
      removed.push(name);
    } catch {
      // Kept for the next write (e.g. a file a reader holds open on Windows).
    }
  }
  return removed;
}
