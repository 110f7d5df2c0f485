/**
 * The statements a search reads with, behind one interface so that PgIndex's retrievers are written
 * once: `LocalReads` runs them on a single-node index's own tables, `ShardedReads`
 * (shard-reads.ts) calls the shard functions through the coordinator's PL/Proxy functions.
 */
import type { SearchHit } from "../plaid/plaid-index.js";
import { inTransaction, query, type PgSession } from "./connection.js";
import type { VectorRow } from "./rows.js";
import type { Tables } from "./schema.js";
import type { IvfRow } from "./plaid-search.js";
import { admitSql, codesOfSql, condition, exactPageSql, FDE_SCAN_RESET_SQL, fdeCandidatesSql, HNSW_SETTINGS_SQL, ivfSql, keywordSql, vectorsOfSql } from "./search-sql.js";
import type { ResolvedSearch } from "./search-options.js";

/** A hit's id and metadata (`describe`). */
export interface DescribedRow {
  ordinal: string;
  id: string;
  meta: Record<string, unknown> | null;
}

/** A vectors row without its residuals. */
export type CodeRow = Omit<VectorRow, "residuals">;

/** What the retrievers read; the filter and id list of `o` apply to every document-level read. */
export interface PgReads {
  /** Runs one search: in one read-only snapshot on one node; sharded, each shard call sees its own. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** First stage: at most `limit` ordinals whose FDE has the largest inner product with `fde` (halfvec text). */
  candidates(fde: string, limit: number, o: ResolvedSearch): Promise<number[]>;
  /** The IVF lists of these centroids (sharded: one row per shard that has a list for it). */
  ivf(centroids: readonly number[]): Promise<IvfRow[]>;
  /** Those of `ordinals` (null: of every document) that pass the filter and id list of `o`. */
  admit(ordinals: readonly number[] | null, o: ResolvedSearch): Promise<number[]>;
  /** The vectors rows of these ordinals (those still live). */
  vectorsOf(ordinals: readonly number[]): Promise<VectorRow[]>;
  /** The centroid codes of these ordinals (those still live), without their residuals. */
  codesOf(ordinals: readonly number[]): Promise<CodeRow[]>;
  /** Every live vectors row passing the filter, `o.batchDocs` documents per page. */
  exactPages(o: ResolvedSearch): AsyncIterable<VectorRow[]>;
  /** Full-text hits (ts_rank_cd, ties by ordinal), at most k. */
  keyword(config: string, text: string, k: number, o: ResolvedSearch): Promise<SearchHit[]>;
  /** Ids and metadata of these ordinals (those still live). */
  describe(ordinals: readonly number[]): Promise<DescribedRow[]>;
}

/** Keyword rows as hits. */
export function keywordHits(rows: readonly { ordinal: string; id: string; meta: Record<string, unknown> | null; score: number }[]): SearchHit[] {
  return rows.map((row) => ({ id: row.id, score: row.score, ordinal: Number(row.ordinal), metadata: row.meta ?? null }));
}

/** The reads of a single-node index, over its connection. */
export class LocalReads implements PgReads {
  constructor(
    private readonly s: PgSession,
    private readonly t: Tables,
  ) {}

  run<T>(fn: () => Promise<T>): Promise<T> {
    return inTransaction(this.s, fn, "read snapshot");
  }

  async candidates(fde: string, limit: number, o: ResolvedSearch): Promise<number[]> {
    await query(this.s, "set the HNSW scan", HNSW_SETTINGS_SQL, [o.efSearch, o.maxScanTuples]);
    const { where, params } = condition(o, 3);
    const c = await query<{ ordinal: string }>(this.s, "find FDE candidates", fdeCandidatesSql(this.t, where), [fde, limit, ...params]);
    await query(this.s, "reset the planner", FDE_SCAN_RESET_SQL);
    return c.rows.map((r) => Number(r.ordinal));
  }

  async ivf(centroids: readonly number[]): Promise<IvfRow[]> {
    return (await query<IvfRow>(this.s, "read the IVF lists", ivfSql(this.t), [centroids])).rows;
  }

  async admit(ordinals: readonly number[] | null, o: ResolvedSearch): Promise<number[]> {
    const { where, params } = condition(o, 2);
    return (await query<{ ordinal: string }>(this.s, "filter the candidates", admitSql(this.t, where), [ordinals, ...params])).rows.map((r) => Number(r.ordinal));
  }

  async vectorsOf(ordinals: readonly number[]): Promise<VectorRow[]> {
    return (await query<VectorRow>(this.s, "read candidate vectors", vectorsOfSql(this.t), [ordinals])).rows;
  }

  async codesOf(ordinals: readonly number[]): Promise<CodeRow[]> {
    return (await query<CodeRow>(this.s, "read candidate codes", codesOfSql(this.t), [ordinals])).rows;
  }

  async *exactPages(o: ResolvedSearch): AsyncIterable<VectorRow[]> {
    const { where, params } = condition(o, 3);
    const sql = exactPageSql(this.t, where);
    let after = -1;
    for (;;) {
      const r = await query<VectorRow>(this.s, "read vectors", sql, [after, o.batchDocs, ...params]);
      if (r.rows.length > 0) yield r.rows;
      if (r.rows.length < o.batchDocs) return;
      after = Number(r.rows[r.rows.length - 1]?.ordinal);
    }
  }

  async keyword(config: string, text: string, k: number, o: ResolvedSearch): Promise<SearchHit[]> {
    const { where, params } = condition(o, 4);
    const r = await query<{ ordinal: string; id: string; meta: Record<string, unknown> | null; score: number }>(this.s, "search the texts", keywordSql(this.t, where), [config, text, k, ...params]);
    return keywordHits(r.rows);
  }

  async describe(ordinals: readonly number[]): Promise<DescribedRow[]> {
    const r = await query<DescribedRow>(this.s, "read result documents", `SELECT ordinal, id, meta FROM ${this.t.documents} WHERE ordinal = ANY($1::bigint[])`, [ordinals]);
    return r.rows;
  }
}
