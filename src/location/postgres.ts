/**
 * `OpenedIndex` over a PostgreSQL index (pg/pg-index.ts). Retrievers map as follows: plaid and exact
 * both run `PgIndex.search` (exhaustive exact MaxSim for now; PLAID's parameters do not apply);
 * the keyword side of bm25, bm25+rerank and hybrid is `pgKeywordSearch`, the one place that decides
 * what a keyword search of a PostgreSQL index is.
 */
import { ColtsError } from "../errors.js";
import type { SearchHit, SearchOptions } from "../plaid/plaid-index.js";
import { PgTexts } from "../pg/documents.js";
import { PgIndex, type PgOpenOptions } from "../pg/pg-index.js";
import type { KeywordOptions, OpenedIndex } from "./types.js";

/**
 * The keyword search of a PostgreSQL index. Its keyword retriever is PostgreSQL's full-text search,
 * which `PgIndex.search` does not offer yet: until it does, a clear INPUT_INVALID.
 */
export function pgKeywordSearch(index: PgIndex, text: string, k: number, opts: KeywordOptions): Promise<SearchHit[]> {
  void index;
  void text;
  void k;
  void opts;
  return Promise.reject(
    new ColtsError(
      "INPUT_INVALID",
      "the keyword retrievers (bm25, bm25+rerank, hybrid) are not available on a PostgreSQL index yet: its keyword retriever is PostgreSQL full-text search, which comes as an option of the PostgreSQL search; use plaid or exact",
    ),
  );
}

/** A PostgreSQL index behind the `OpenedIndex` seam; `pg` is the index itself. */
export class PostgresIndex implements OpenedIndex {
  /** Tables in a PostgreSQL database. */
  readonly kind = "postgres";

  /** `pg`: the opened PostgreSQL index; `documents`: the connection that reads texts. */
  private constructor(
    /** The opened PostgreSQL index. */
    readonly pg: PgIndex,
    private readonly documents: PgTexts,
    /** The URL, password redacted. */
    readonly location: string,
  ) {}

  /** Opens the index at `url` (PgIndex.open's codes); a second connection reads texts. */
  static async open(url: string, opts: PgOpenOptions = {}): Promise<PostgresIndex> {
    const pg = await PgIndex.open(url, opts);
    try {
      const documents = await PgTexts.open(url);
      return new PostgresIndex(pg, documents, (await pg.info()).location);
    } catch (e) {
      await pg.close();
      throw e;
    }
  }

  /** Dimension of the stored vectors (the settings row's). */
  get dim(): number {
    return this.pg.settings.dim;
  }

  /** The model the settings row records, or null. */
  get model(): string | null {
    return this.pg.settings.model;
  }

  /** Always true: every statement reads the committed rows. */
  covers(generation: number): boolean {
    void generation;
    return true;
  }

  /** plaid and exact alike: `PgIndex.search` with k, filter and ids (see the file comment). */
  search(q: { vectors: Float32Array; tokens: number; dim: number }, opts: SearchOptions): Promise<SearchHit[]> {
    return this.pg.search(q, {
      ...(opts.k !== undefined ? { k: opts.k } : {}),
      ...(opts.filter !== undefined ? { filter: opts.filter } : {}),
      ...(opts.ids !== undefined ? { ids: opts.ids } : {}),
    });
  }

  /** The keyword side: `pgKeywordSearch`. */
  keywordSearch(text: string, k: number, opts: KeywordOptions): Promise<SearchHit[]> {
    return pgKeywordSearch(this.pg, text, k, opts);
  }

  /** Stored texts, read over the second connection. */
  texts(ordinals: readonly number[]): Promise<(string | null)[]> {
    return this.documents.texts(ordinals);
  }

  /** Nothing to load ahead. */
  preload(): Promise<void> {
    return Promise.resolve();
  }

  /** Closes both connections and the kernel; the first failure is reported. */
  async close(): Promise<void> {
    const results = await Promise.allSettled([this.pg.close(), this.documents.close()]);
    const failed = results.find((x): x is PromiseRejectedResult => x.status === "rejected");
    if (failed) throw failed.reason;
  }
}
