/**
 * The statements of PostgreSQL search, built from table names (schema.ts `tables`) and a WHERE
 * condition compiled by filter-sql.ts: no user text is ever part of them, every value is a parameter.
 * Exported so tests can EXPLAIN exactly what search runs.
 */
import { parseFilter } from "../metadata/filter.js";
import { filterToPgSql } from "./filter-sql.js";
import type { Tables } from "./schema.js";

/** A WHERE condition over documents `d` and its parameter values, numbered from a given placeholder. */
export interface Condition {
  where: string;
  params: unknown[];
}

/** The condition for a filter and an id list, placeholders from `first` on. */
export function condition(opts: { filter?: string | undefined; ids?: readonly string[] | undefined }, first: number): Condition {
  const parts: string[] = ["true"];
  const params: unknown[] = [];
  if (opts.filter !== undefined) {
    const c = filterToPgSql(parseFilter(opts.filter), "d.meta", first);
    parts.push(c.sql);
    params.push(...c.params);
  }
  if (opts.ids !== undefined) {
    params.push([...opts.ids]);
    parts.push(`d.id = ANY($${first + params.length - 1}::text[])`);
  }
  return { where: parts.join(" AND "), params };
}

/** Exact path: a page of vectors in ordinal order. $1: after this ordinal, $2: page size; condition from $3. */
export function exactPageSql(t: Tables, where: string): string {
  return `SELECT v.ordinal, v.doclen, v.codes, v.residuals FROM ${t.vectors} v JOIN ${t.documents} d ON d.ordinal = v.ordinal
      WHERE v.ordinal > $1 AND ${where} ORDER BY v.ordinal LIMIT $2`;
}

/**
 * First stage: the ordinals of the documents whose FDE has the largest inner product with the query
 * FDE ($1, halfvec text), at most $2 of them; condition from $3. `<#>` is pgvector's negative inner
 * product, the order the HNSW index with halfvec_ip_ops serves.
 */
export function fdeCandidatesSql(t: Tables, where: string): string {
  return `SELECT d.ordinal FROM ${t.documents} d WHERE ${where} ORDER BY d.fde <#> $1::halfvec LIMIT $2`;
}

/**
 * The settings of one first-stage scan, local to the transaction: $1 ef_search, $2 max_scan_tuples.
 * Iterative scans (pgvector 0.8) go on past ef_search when a filter leaves too few rows; relaxed
 * order is enough because the candidates are re-scored exactly.
 *
 * enable_seqscan off: the planner prices a sequential scan by the heap pages alone, but FDEs
 * (3,840 halfvec values, 7.5 KB) live in TOAST: 30,000 of them are 2 MB of heap and 317 MB in all.
 * So once the limit is a sizeable part of the table it picks Seq Scan + Sort over the HNSW index,
 * and reads every FDE: measured on 30,000 rows at limit 2,000, 351-398 ms against 119-136 ms for
 * the index scan (EXPLAIN ANALYZE). A shard holds a fraction of the rows and is asked for the full
 * limit, so it met this first. Other plans (an id list through the primary key) stay open.
 * `FDE_SCAN_RESET_SQL` restores the planner for the statements that follow.
 */
export const HNSW_SETTINGS_SQL =
  "SELECT set_config('hnsw.ef_search', $1::text, true), set_config('hnsw.max_scan_tuples', $2::text, true), set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('enable_seqscan', 'off', true)";

/** Undoes HNSW_SETTINGS_SQL's enable_seqscan for the rest of the transaction. */
export const FDE_SCAN_RESET_SQL = "SELECT set_config('enable_seqscan', 'on', true)";

/** Second stage: the vectors of some ordinals ($1, bigint[]), in ordinal order. */
export function vectorsOfSql(t: Tables): string {
  return `SELECT v.ordinal, v.doclen, v.codes, v.residuals FROM ${t.vectors} v WHERE v.ordinal = ANY($1::bigint[]) ORDER BY v.ordinal`;
}

/**
 * Keyword search: documents whose tsvector matches `websearch_to_tsquery($1 config, $2 text)`,
 * ranked by `ts_rank_cd` with normalisation 1 (divided by 1 + log of the document's length), ties by
 * ordinal; at most $3; condition from $4. Documents without text have no tsvector and never match.
 */
export function keywordSql(t: Tables, where: string): string {
  return `SELECT d.ordinal, d.id, d.meta, ts_rank_cd(d.tsv, websearch_to_tsquery($1::regconfig, $2::text), 1) AS score
      FROM ${t.documents} d WHERE d.tsv @@ websearch_to_tsquery($1::regconfig, $2::text) AND ${where}
      ORDER BY score DESC, d.ordinal LIMIT $3`;
}

/** The centroid codes of some ordinals ($1, bigint[]), in ordinal order: the centroid pass reads no residuals. */
export function codesOfSql(t: Tables): string {
  return `SELECT v.ordinal, v.doclen, v.codes FROM ${t.vectors} v WHERE v.ordinal = ANY($1::bigint[]) ORDER BY v.ordinal`;
}

/** The IVF lists of some centroids ($1, integer[]): the "plaid" retriever's first stage. */
export function ivfSql(t: Tables): string {
  return `SELECT centroid, ordinals FROM ${t.ivf} WHERE centroid = ANY($1::integer[])`;
}

/**
 * Which of some ordinals ($1, bigint[]; NULL: every document) pass a condition (from $2): the
 * "plaid" retriever's filter, and its fallback when too few candidates pass.
 */
export function admitSql(t: Tables, where: string): string {
  return `SELECT d.ordinal FROM ${t.documents} d WHERE ($1::bigint[] IS NULL OR d.ordinal = ANY($1::bigint[])) AND ${where}`;
}
