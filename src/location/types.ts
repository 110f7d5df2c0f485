/**
 * What the searcher, the server and the CLI need from an opened index, whatever its location: a
 * folder (plaid/, `PlaidIndex`) or a PostgreSQL URL (pg/, `PgIndex`). The one seam between the two;
 * `openIndex` (opened.ts) picks the implementation from the location string.
 */
import type { SearchHit, SearchOptions } from "../plaid/plaid-index.js";

/** Where an index lives: "folder" (PLAID files) or "postgres" (tables under a prefix). */
export type LocationKind = "folder" | "postgres";

/** Options of a keyword (BM25 or full-text) search: the same restrictions as the dense search. */
export interface KeywordOptions {
  /** Metadata condition (metadata/filter.ts). */
  filter?: string;
  /** Only these external ids. */
  ids?: readonly string[];
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
  search(q: { vectors: Float32Array; tokens: number; dim: number }, opts: SearchOptions): Promise<SearchHit[]>;
  /** Keyword search (the bm25 side of bm25, bm25+rerank and hybrid): the best `k` hits, metadata attached. */
  keywordSearch(text: string, k: number, opts: KeywordOptions): Promise<SearchHit[]>;
  /** Stored texts by ordinal, in order (null where none is stored). */
  texts(ordinals: readonly number[]): Promise<(string | null)[]>;
  /**
   * Loads now what a later search would load lazily (a folder's BM25 file, which a later write may
   * garbage-collect). Nothing to do for PostgreSQL.
   */
  preload(): Promise<void>;
  /** Releases kernels, files and connections. Idempotent. */
  close(): Promise<void>;
}
