/**
 * A PLAID index opened for search: the manifest's files loaded into memory (arrays are views over
 * one buffer per file, so memory is close to the files' size), the centroid-scoring kernel, and the
 * metadata database. Read-only: writes go through writer.ts and are picked up by opening again.
 */
import fs from "node:fs";
import path from "node:path";
import type { Bm25Index } from "../bm25/bm25-index.js";
import { loadBm25 } from "../bm25/store.js";
import { ColtsError } from "../errors.js";
import { OrtCentroidScorer } from "../runtime/kernels/matmul.js";
import type { RuntimeOptions } from "../runtime/session.js";
import { allAdmissible, DEFAULT_K, plaidSearch, rankExactly, type PlaidParams, type SearchView } from "./stages.js";
import type { Chunk } from "./chunk.js";
import type { ResidualCodec } from "./codec.js";
import { isDrifted, referencedFiles, type Manifest } from "./manifest.js";
import { loadIndexFiles, readManifest } from "./validate.js";
import { ResidualMaxSim } from "./residual-maxsim.js";
import { MetadataStore } from "../metadata/sqlite-store.js";

/** Options of `PlaidIndex.open`. */
export interface OpenOptions {
  /** Check every file's CRC-32 on open (reads each byte once more). Default true. */
  verify?: boolean;
  /** onnxruntime settings of the centroid-scoring kernel. */
  runtime?: RuntimeOptions;
}

/** Options of `PlaidIndex.search`. */
export interface SearchOptions {
  /** Results to return. Default 10; range 1..10000. */
  k?: number;
  /** PLAID parameters for this call (defaults depend on k; see plaid/stages.ts). */
  params?: PlaidParams;
  /** Exhaustive exact MaxSim over every admissible document instead of PLAID (the reference). */
  exact?: boolean;
  /** Metadata condition (SQL-like, see metadata/filter.ts); only matching documents are scored. */
  filter?: string;
  /** Only these external ids are scored. */
  ids?: readonly string[];
}

/** One search result. */
export interface SearchHit {
  /** External id of the document. */
  id: string;
  /** MaxSim of the query against the document's decompressed vectors; higher is better. */
  score: number;
  /** Internal ordinal (stable across compaction). */
  ordinal: number;
  /** The document's metadata object, or null when it was stored without one. */
  metadata: Record<string, unknown> | null;
}

/** What `PlaidIndex.info` reports: sizes, parameters and health of an index. */
export interface IndexInfo {
  /** The index folder. */
  dir: string;
  /** On-disk format version (`Manifest.version`). */
  formatVersion: number;
  /** Committed writes so far; increases by one with each. */
  generation: number;
  /** Ordinals allocated, deleted documents included. */
  documents: number;
  /** Documents not deleted. */
  liveDocuments: number;
  /** Stored vectors (after pooling), those of deleted documents included until compaction. */
  vectors: number;
  /** Bytes of chunk files per stored vector (code + packed residual + IVF and ids, amortised). */
  bytesPerVector: number;
  /** Residual bits per dimension. */
  nbits: number;
  /** Number of centroids. */
  centroids: number;
  /** Vector dimension. */
  dim: number;
  /** Token pooling factor used at index time (1 = none). */
  poolFactor: number;
  /** Model the documents were encoded with, if recorded; encode queries with the same one. */
  model: string | null;
  /** Bytes of every file of the current generation, SQLite's write-ahead log included. */
  sizeOnDisk: number;
  /** True when added data sits far from the centroids (mean residual > DRIFT_RATIO x training's): recluster. */
  drifted: boolean;
}

/** A PLAID index opened for search (read-only; see the file comment). Open with `open`, `close` when done. */
export class PlaidIndex {
  private closed = false;
  private bm25: Promise<Bm25Index> | null = null;

  private constructor(
    /** The index folder. */
    readonly dir: string,
    /** The manifest of the generation that was opened. */
    readonly manifest: Manifest,
    /** The index's residual codec. */
    readonly codec: ResidualCodec,
    private readonly chunks: Chunk[],
    private readonly deleted: Uint8Array,
    private readonly metadata: MetadataStore,
    private readonly scorer: OrtCentroidScorer,
    private readonly exactKernel: ResidualMaxSim,
  ) {
    this.anyDeleted = deleted.includes(1);
  }

  /** Whether any document of this generation is deleted (the tombstones never change while open). */
  private readonly anyDeleted: boolean;

  /**
   * Loads the current generation of the index in `dir`, checked by plaid/validate.ts. Throws
   * INDEX_NOT_FOUND when `dir` holds no index, INDEX_VERSION for a newer format, INDEX_CORRUPT (naming
   * the file) for a damaged, missing or inconsistent file.
   */
  static async open(dir: string, opts: OpenOptions = {}): Promise<PlaidIndex> {
    const m = readManifest(dir);
    const { codec, chunks, tombstones } = loadIndexFiles(dir, m, opts.verify ?? true);
    const deleted = new Uint8Array(m.numDocs);
    for (const o of tombstones) deleted[o] = 1;
    const metadataPath = path.join(dir, m.metadataFile);
    const metadata = MetadataStore.open(metadataPath, { readonly: true });
    // The kernels take turns with JS work in between: none may keep a core spinning.
    const runtime = { ...opts.runtime, allowSpinning: opts.runtime?.allowSpinning ?? false };
    const made: { release(): Promise<void> }[] = [];
    const keep = <T extends { release(): Promise<void> }>(kernel: T): T => (made.push(kernel), kernel);
    try {
      const scorer = keep(await OrtCentroidScorer.create(codec.centroids, codec.numCentroids, codec.dim, runtime));
      const exactKernel = keep(await ResidualMaxSim.create(codec, runtime));
      return new PlaidIndex(dir, m, codec, chunks, deleted, metadata, scorer, exactKernel);
    } catch (e) {
      // A kernel failed (e.g. the CUDA provider missing): release what was made, then report.
      metadata.close();
      await Promise.allSettled(made.map((k) => k.release()));
      throw e;
    }
  }

  /** Searches one encoded query. q.vectors: [q.tokens, dim] unit rows. */
  async search(q: { vectors: Float32Array; tokens: number; dim: number }, opts: SearchOptions = {}): Promise<SearchHit[]> {
    if (this.closed) throw new ColtsError("CLOSED", "index is closed");
    const k = opts.k ?? DEFAULT_K;
    if (!Number.isInteger(k) || k < 1 || k > 10_000) throw new ColtsError("INPUT_INVALID", `k must be an integer in 1..10000, got ${k}`);
    if (q.dim !== this.codec.dim) {
      throw new ColtsError("DIM_UNSUPPORTED", `query vectors are ${q.dim}-d, the index holds ${this.codec.dim}-d vectors (encode with the index's model and dim)`);
    }
    const view: SearchView = { codec: this.codec, chunks: this.chunks, deleted: this.deleted, anyDeleted: this.anyDeleted, allowed: this.admissibleSet(opts), exactKernel: this.exactKernel };
    const qv = q.vectors.subarray(0, q.tokens * q.dim);
    const hits = opts.exact
      ? await rankExactly(view, allAdmissible(view), qv, q.tokens, k)
      : await plaidSearch(view, qv, q.tokens, (ncells) => this.scorer.run(qv, q.tokens, Math.min(ncells, this.codec.numCentroids)), k, opts.params);
    // One row read per hit gives both its id and its metadata.
    const docs = this.metadata.docsForOrdinals(hits.map((h) => h.ordinal));
    return hits.map((h, i) => ({ id: docs[i]?.id ?? String(h.ordinal), score: h.score, ordinal: h.ordinal, metadata: docs[i]?.meta ?? null }));
  }

  /** The BM25 index beside the vectors (loaded on first use); INDEX_NOT_FOUND when none was built. */
  keywordIndex(): Promise<Bm25Index> {
    const file = this.manifest.bm25File;
    if (!file) {
      return Promise.reject(new ColtsError("INDEX_NOT_FOUND", `${this.dir} has no BM25 index (its documents were indexed without text)`, { details: { dir: this.dir } }));
    }
    this.bm25 ??= loadBm25(this.dir, { fileName: file });
    return this.bm25;
  }

  /**
   * Checks what `open` does not read in full: the BM25 file (loaded, its checksum included) and the
   * metadata database (SQLite's quick_check). INDEX_CORRUPT naming the file when either is damaged.
   */
  async checkIntegrity(): Promise<void> {
    if (this.closed) throw new ColtsError("CLOSED", "index is closed");
    this.metadata.check();
    if (this.manifest.bm25File) await this.keywordIndex();
  }

  /** Ordinals of live documents by external id (ids not found are absent). */
  ordinalsForIds(ids: readonly string[]): Map<string, number> {
    return this.metadata.ordinalsForIds([...ids], this.manifest.numDocs, (o) => !this.deleted[o]);
  }

  /** Metadata of documents by ordinal. */
  metadataFor(ordinals: readonly number[]): (Record<string, unknown> | null)[] {
    return this.metadata.metaForOrdinals([...ordinals]);
  }

  /** Ids of live documents matching a metadata filter (for retrievers that score outside PLAID). */
  idsMatching(filter: string): Set<string> {
    return new Set(this.metadata.idsForOrdinals(this.metadata.filterOrdinals(filter, this.manifest.numDocs, (o) => !this.deleted[o])));
  }

  /** Stored texts of documents (null where none was stored). */
  texts(ordinals: readonly number[]): (string | null)[] {
    return this.metadata.textsForOrdinals([...ordinals]);
  }

  /** Live documents matching the filter and id list, or null when neither is given. */
  private admissibleSet(opts: SearchOptions): Uint8Array | null {
    if (opts.filter === undefined && opts.ids === undefined) return null;
    const n = this.manifest.numDocs;
    let allowed: Uint8Array | null = null;
    if (opts.filter !== undefined) {
      allowed = new Uint8Array(n);
      for (const o of this.metadata.filterOrdinals(opts.filter, n)) allowed[o] = 1;
    }
    if (opts.ids !== undefined) {
      const byId = new Uint8Array(n);
      for (const o of this.metadata.ordinalsForIds([...opts.ids], n).values()) byId[o] = 1;
      allowed = allowed ? allowed.map((a, i) => a & (byId[i] as number)) : byId;
    }
    return allowed;
  }

  /** Sizes and parameters of the opened generation (stats the files on disk). */
  info(): IndexInfo {
    const m = this.manifest;
    const vectors = m.chunks.reduce((a, c) => a + c.vectors, 0);
    const size = (f: string): number => {
      try {
        return fs.statSync(path.join(this.dir, f)).size;
      } catch {
        return 0;
      }
    };
    const chunkBytes = m.chunks.reduce((a, c) => a + size(c.file), 0);
    const sizeOnDisk = [...referencedFiles(m)].reduce((a, f) => a + size(f), 0) + size(`${m.metadataFile}-wal`);
    return {
      dir: this.dir,
      formatVersion: m.version,
      generation: m.generation,
      documents: m.numDocs,
      liveDocuments: m.liveDocs,
      vectors,
      bytesPerVector: vectors > 0 ? chunkBytes / vectors : 0,
      nbits: m.nbits,
      centroids: m.numCentroids,
      dim: m.dim,
      poolFactor: m.poolFactor,
      model: m.model,
      sizeOnDisk,
      drifted: isDrifted(m.drift),
    };
  }

  /** Releases the kernels and the metadata database; later searches throw CLOSED. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Everything is released even if one part fails; the first failure is reported.
    const results = await Promise.allSettled([
      Promise.resolve().then(() => this.metadata.close()),
      this.scorer.release(),
      this.exactKernel.release(),
      // Search never assigns codes with the codec, but a caller of `index.codec.compress` may have.
      this.codec.releaseKernels(),
    ]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }
}
