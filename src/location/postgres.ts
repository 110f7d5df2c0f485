/**
 * `OpenedIndex` over a PostgreSQL index (pg/pg-index.ts). Retrievers map as follows: plaid runs
 * `PgIndex.search`'s default, PLAID over the IVF lists stored in the database (or, with
 * `postgres.firstStage` "fde", the FDE first stage in pgvector's HNSW index plus exact MaxSim of the
 * candidates, on an index built with FDEs); exact its exhaustive exact MaxSim; the keyword side of keyword and hybrid is its
 * PostgreSQL full-text search (`pgKeywordSearch`); bm25 and bm25+rerank are refused, as full-text
 * ranking is not BM25 and the name must not silently change meaning.
 */
import { ColtsError } from "../errors.js";
import { PgTexts } from "../pg/documents.js";
import { PgIndex, type PgOpenOptions } from "../pg/pg-index.js";
import { redactUrl } from "../pg/url.js";
import type { DenseOptions, Hits, KeywordOptions, OpenedIndex } from "./types.js";

/** The keyword search of a PostgreSQL index: its full-text search (`PgIndex.search` retriever "keyword"). */
export function pgKeywordSearch(index: PgIndex, text: string, k: number, opts: KeywordOptions): Promise<Hits> {
  return index.search(
    { text },
    {
      retriever: "keyword",
      k,
      ...(opts.filter !== undefined ? { filter: opts.filter } : {}),
      ...(opts.ids !== undefined ? { ids: opts.ids } : {}),
      ...(opts.allowPartial === true ? { allowPartial: true } : {}),
    },
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
      return new PostgresIndex(pg, documents, redactUrl(url));
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

  /**
   * `PgIndex.search`: exhaustive with `exact`, else PLAID over the IVF lists (`opts.params`), or with
   * `postgres.firstStage` "fde" the FDE first stage (candidates, rerank, efSearch from `opts.postgres`).
   */
  search(q: { vectors: Float32Array; tokens: number; dim: number }, opts: DenseOptions): Promise<Hits> {
    const pg = opts.postgres ?? {};
    const fde = pg.firstStage === "fde";
    if (!fde && opts.exact !== true) {
      const given = (["candidates", "rerank", "efSearch"] as const).filter((name) => pg[name] !== undefined);
      if (given.length > 0) {
        throw new ColtsError("INPUT_INVALID", `${given.join(", ")} set the FDE first stage: choose it with firstStage "fde" (CLI: --first-stage fde); the default IVF stage takes ncells, threshold and ndocs`, {
          details: { field: given[0] },
        });
      }
    }
    return this.pg.search(q, {
      retriever: opts.exact === true ? "exact" : fde ? "fde" : "plaid",
      ...(opts.params !== undefined ? { plaid: opts.params } : {}),
      ...(opts.k !== undefined ? { k: opts.k } : {}),
      ...(opts.filter !== undefined ? { filter: opts.filter } : {}),
      ...(opts.ids !== undefined ? { ids: opts.ids } : {}),
      ...(pg.candidates !== undefined ? { candidates: pg.candidates } : {}),
      ...(pg.efSearch !== undefined ? { efSearch: pg.efSearch } : {}),
      ...(pg.rerank !== undefined ? { rerank: pg.rerank } : {}),
      ...(pg.allowPartial === true ? { allowPartial: true } : {}),
    });
  }

  /** bm25 and bm25+rerank need a BM25 index, which a PostgreSQL index does not have. */
  checkRetriever(retriever: string): void {
    if (retriever === "bm25" || retriever === "bm25+rerank") {
      throw new ColtsError(
        "INPUT_INVALID",
        `a PostgreSQL index has no BM25 index, so no ${retriever} retriever: use keyword (PostgreSQL full-text search, ranked by ts_rank_cd, not BM25), hybrid, plaid or exact`,
        { details: { retriever } },
      );
    }
  }

  /** The keyword side: `pgKeywordSearch`. */
  keywordSearch(text: string, k: number, opts: KeywordOptions): Promise<Hits> {
    return pgKeywordSearch(this.pg, text, k, opts);
  }

  /** Stored texts, read over the second connection (PgTexts.texts). */
  texts(ordinals: readonly number[], allowPartial = false): Promise<(string | null)[]> {
    return this.documents.texts(ordinals, allowPartial);
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
