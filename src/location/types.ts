/**
 * What the searcher, the server and the CLI need from an opened index, whatever its location: a
 * folder (plaid/, `PlaidIndex`) or a PostgreSQL URL (pg/, `PgIndex`). The one seam between the two;
 * `openIndex` (opened.ts) picks the implementation from the location string.
 */
import type { SearchHit, SearchOptions } from "../plaid/plaid-index.js";

/** Where an index lives: "folder" (PLAID files) or "postgres" (tables under a prefix). */
export type LocationKind = "folder" | "postgres";

/** Options of a dense search: PLAID's (folder), plus the PostgreSQL first stage's. */
export interface DenseOptions extends SearchOptions {
  /** PostgreSQL only (ignored by a folder index); see pg/search-options.ts for ranges and defaults. */
  postgres?: {
    /**
     * The first stage of the dense search: "ivf" (default), PLAID's candidate generation over the
     * index's IVF lists with the PLAID parameters of `params`; "fde", MUVERA FDEs in pgvector's HNSW
     * index with `candidates`, `rerank` and `efSearch` (which the "ivf" stage refuses).
     * Measured in bench/RESULTS.md ("PostgreSQL: IVF first stage").
     */
    firstStage?: "ivf" | "fde";
    /** FDE candidates taken from the HNSW index. Default 1,000; more: higher recall, slower. */
    candidates?: number;
    /** Candidates scored exactly after the centroid pass ranks them by their codes. Default candidates / 4; at candidates or above, all of them. */
    rerank?: number;
    /** pgvector's hnsw.ef_search. Default: the candidate count (at most 1,000). */
    efSearch?: number;
    /**
     * Sharded index: when a shard is down or silent, rank the hits of the shards that answer and mark
     * the list (`Hits.partial`) instead of failing with SHARD_UNAVAILABLE. Default false: results
     * are never silently partial. Ignored on one node and by a folder index.
     */
    allowPartial?: boolean;
  };
}

/** What a partial search left out. */
export interface PartialMark {
  /** The shards that did not answer, each as `shard N (host:port/database)` (never a password). */
  missingShards: string[];
}

/** A ranked list; `partial` is set only when an allowed partial search left shards out. */
export type Hits<T extends SearchHit = SearchHit> = T[] & {
  /** Set only when `allowPartial` let a sharded index rank without some shards. */
  partial?: PartialMark;
};

/** Options of a keyword (BM25 or full-text) search: the same restrictions as the dense search. */
export interface KeywordOptions {
  /** Metadata condition (metadata/filter.ts). */
  filter?: string;
  /** Only these external ids. */
  ids?: readonly string[];
  /** As `DenseOptions.postgres.allowPartial`: a sharded index's full-text search without the shards that do not answer. */
  allowPartial?: boolean;
}

/** An index opened for search (see the file comment). `close` when done. */
export interface OpenedIndex {
  /** Which kind of location this is. */
  readonly kind: LocationKind;
  /** The location for messages: the folder, or the URL with its password redacted. */
  readonly location: string;
  /** Dimension of the stored vectors. */
  readonly dim: number;
  /** The model the index records (queries must be encoded with it), or null. */
  readonly model: string | null;
  /**
   * True when this opened index shows every write up to `generation`. A folder index is a snapshot of
   * one manifest generation; a PostgreSQL index reads committed rows on every statement, so it always is.
   */
  covers(generation: number): boolean;
  /**
   * Dense search of one encoded query. q.vectors: [q.tokens, q.dim] row-major unit rows. `exact`
   * asks for exhaustive MaxSim where the location has a cheaper first stage.
   */
  search(q: { vectors: Float32Array; tokens: number; dim: number }, opts: DenseOptions): Promise<Hits>;
  /**
   * Throws INPUT_INVALID when this location cannot serve `retriever` (a PostgreSQL index has no BM25),
   * naming the retriever to use instead.
   */
  checkRetriever(retriever: string): void;
  /** Keyword search (the keyword side of every keyword retriever): the best `k` hits, metadata attached. */
  keywordSearch(text: string, k: number, opts: KeywordOptions): Promise<Hits>;
  /**
   * Stored texts by ordinal, in order (null where none is stored). `allowPartial`: a sharded
   * PostgreSQL index reads from the shards that answer (as `DenseOptions.postgres.allowPartial`).
   */
  texts(ordinals: readonly number[], allowPartial?: boolean): Promise<(string | null)[]>;
  /**
   * Loads now what a later search would load lazily (a folder's BM25 file, which a later write may
   * garbage-collect). Nothing to do for PostgreSQL.
   */
  preload(): Promise<void>;
  /** Releases kernels, files and connections. Idempotent. */
  close(): Promise<void>;
}
