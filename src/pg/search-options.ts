/**
 * The options of `PgIndex.search`, their defaults and their checks, apart from the class so that
 * each option's meaning, range and trade-off is written once, where it is declared.
 */
import { ColtsError } from "../errors.js";
import { DEFAULT_K, type PlaidParams } from "../plaid/stages.js";

/**
 * How `PgIndex.search` finds documents.
 *  - "plaid" (default): PLAID's candidate generation over the index's IVF lists (ivf.ts): the
 *    centroids nearest each query vector (`ncells`) name the candidates, which are ranked by their
 *    codes among the centroids above `centroidScoreThreshold` (stage 2), then by all their codes
 *    (stage 3, the best `ndocs`), and the best ndocs / 4 are scored by exact MaxSim of their
 *    decompressed vectors (stage 4). The folder index's search, with the lists and codes read from
 *    PostgreSQL. Approximate as the folder index's is; every returned score is exact MaxSim.
 *  - "fde": MUVERA FDE of the query -> the `candidates` nearest document FDEs by inner
 *    product from the HNSW index (pgvector, iterative scan so filters still fill the list) -> exact
 *    MaxSim of those candidates' decompressed vectors. Approximate: a document the first stage misses
 *    is not returned, but every returned score is its exact MaxSim.
 *  - "exact": exact MaxSim over every live document that passes the filter (exhaustive; equals a
 *    folder index's `exact` search).
 *  - "keyword": PostgreSQL full-text search over the document texts (`websearch_to_tsquery` in the
 *    index's text search configuration, ranked by `ts_rank_cd`). This is NOT BM25: scores and order
 *    differ from a folder index's Lucene BM25 (`bm25` retriever).
 *  - "hybrid": reciprocal rank fusion of the "fde" and "keyword" lists' top `depth` (as the folder
 *    index's hybrid fuses plaid and bm25).
 */
export type PgRetriever = "plaid" | "fde" | "exact" | "keyword" | "hybrid";

/** First-stage candidates when `candidates` is not given (bench/RESULTS.md, "MUVERA FDE recall as a first stage"). */
export const DEFAULT_CANDIDATES = 1000;
/** rerank = ceil(candidates / this) when not given: PLAID's stage 4 keeps a quarter of stage 3's documents. */
export const DEFAULT_RERANK_DIVISOR = 4;
/** Documents read and scored per statement when `PgSearchOptions.batchDocs` is not given. */
export const DEFAULT_BATCH_DOCS = 10_000;
/** pgvector's range of hnsw.ef_search. */
export const MAX_EF_SEARCH = 1000;
/**
 * efSearch = candidates x this (at most 1,000) when not given. Measured with bench/pg-ef-search.ts
 * (bench/RESULTS.md, "PostgreSQL FDE first stage: ef_search"; 2,000 synthetic documents, 100
 * queries, default FDE): raising ef_search from candidates to 2x and 4x candidates brought the HNSW
 * list closer to the brute-force FDE top-C (0.87 -> 0.99 at 50 candidates, 0.97 -> 1.00 at 200) but
 * not the recall of the exact top-10 (0.49, 0.65, 0.79 at 50, 100, 200 candidates, within 0.01 at
 * every factor): the FDE neighbours HNSW misses are at the list's tail and rarely in the top-10.
 * So ef_search = candidates: spend on more candidates, not on a wider graph search.
 */
export const DEFAULT_EF_FACTOR = 1;
/** pgvector's default hnsw.max_scan_tuples. */
export const DEFAULT_MAX_SCAN_TUPLES = 20_000;
/** Hybrid: top of each list fused when `depth` is not given (as the folder index's hybrid). */
export const DEFAULT_DEPTH = 100;
/** Hybrid: the RRF constant when not given (as the folder index's hybrid). */
export const DEFAULT_RRF_K = 60;

/** Options of `PgIndex.search`. Every field is optional. */
export interface PgSearchOptions {
  /** Results to return. Default 10; range 1..10000. */
  k?: number;
  /** Metadata condition (metadata/filter.ts; run in PostgreSQL by pg/filter-sql.ts). Honoured by every retriever. */
  filter?: string;
  /** Only these external ids are considered. Honoured by every retriever. */
  ids?: readonly string[];
  /**
   * Documents fetched and scored per round trip (exact MaxSim). Default 10,000; range 1..1,000,000.
   * More: fewer round trips, more memory (about doclen x (4 + dim * nbits / 8) bytes a document).
   */
  batchDocs?: number;
  /** Which retriever (see `PgRetriever`). Default "plaid", or "exact" when `exact` is true. */
  retriever?: PgRetriever;
  /**
   * true: the exhaustive exact retriever (same as `retriever: "exact"`; naming another retriever
   * with it is refused). Default false.
   */
  exact?: boolean;
  /**
   * "plaid" (and hybrid's dense list): PLAID's parameters, as a folder index's search takes them
   * (plaid/stages.ts `PlaidParams`: ncells, centroidScoreThreshold, ndocs). Any left out takes
   * `plaidDefaults(k, documents)`, documents being the ordinals given so far (deleted ones included).
   */
  plaid?: PlaidParams;
  /**
   * "fde": documents taken from the HNSW index and scored exactly. Default
   * 1,000; range 1..100,000; at least k is used. More: higher recall of the exact top-k (about 0.75
   * of the exact top-10 within 1,000 on SciFact, bench/RESULTS.md), proportionally more vectors read
   * and decompressed. Past `maxScanTuples` (20,000 by default) raise that too, or fewer come back.
   */
  candidates?: number;
  /**
   * "fde": candidates whose vectors are decompressed and scored exactly, after all candidates are
   * ranked by their centroid codes alone (PLAID's stage 3: the sum over query tokens of the best
   * centroid score among the document's codes, read without its residuals). Default candidates / 4
   * (as PLAID keeps ndocs / 4), at least k; range 1..100,000; at or above candidates the centroid pass
   * is skipped and every candidate is scored exactly. Less: fewer bytes read and decompressed (the
   * largest cost of a search), more risk that a true top-k document is ranked out by its centroids.
   */
  rerank?: number;
  /**
   * "fde": pgvector's hnsw.ef_search, the size of the HNSW search's candidate list. Default
   * candidates (DEFAULT_EF_FACTOR 1, measured), at most 1,000; range 1..1000 (pgvector's). Larger
   * finds the true FDE neighbours more reliably and visits more of the graph; measured, that did not
   * raise the recall of the exact top-10, more candidates did. With candidates above 1,000 (or a
   * filter), the iterative scan goes on past ef_search until the candidates are found.
   */
  efSearch?: number;
  /**
   * "fde": pgvector's hnsw.max_scan_tuples, the most index entries one iterative scan visits before
   * it stops (returning fewer candidates). Default 20,000 (pgvector's); range 1..2,147,483,647. A
   * filter matching a small share of the documents needs about candidates / share; more costs time.
   */
  maxScanTuples?: number;
  /** Hybrid: top of each list that is fused. Default 100; range 1..10000; at least k is used. */
  depth?: number;
  /**
   * Hybrid: score = sum over lists of weight / (rrfK + rank), rank from 1. Defaults: weights 1 and 1,
   * rrfK 60 (as the folder index's hybrid). Weights finite and >= 0, rrfK finite and >= 0. A larger
   * rrfK flattens the advantage of the top ranks.
   */
  fusion?: { denseWeight?: number; keywordWeight?: number; rrfK?: number };
  /**
   * Sharded index: when a shard is down or does not answer, search the shards that do and return
   * their hits marked partial (`PgHits.partial` names the missing shards) instead of failing with
   * SHARD_UNAVAILABLE. Default false: never silently partial. Ignored on one node.
   */
  allowPartial?: boolean;
}

/** Options with every default applied and every value checked. */
export interface ResolvedSearch {
  retriever: PgRetriever;
  k: number;
  /** PLAID parameters given (checked); defaults are applied with the collection size. */
  plaid: PlaidParams;
  filter: string | undefined;
  ids: readonly string[] | undefined;
  batchDocs: number;
  candidates: number;
  rerank: number;
  efSearch: number;
  maxScanTuples: number;
  depth: number;
  weights: [number, number];
  rrfK: number;
  allowPartial: boolean;
}

function intIn(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) throw new ColtsError("INPUT_INVALID", `${name} must be an integer in ${min}..${max}, got ${v}`, { details: { field: name } });
  return v;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new ColtsError("INPUT_INVALID", `${name} must be a finite number >= 0, got ${String(v)}`, { details: { field: name } });
  return v;
}

function retrieverOf(opts: PgSearchOptions): PgRetriever {
  const r = opts.retriever ?? (opts.exact === true ? "exact" : "plaid");
  if (!["plaid", "fde", "exact", "keyword", "hybrid"].includes(r)) throw new ColtsError("INPUT_INVALID", `retriever must be plaid, fde, exact, keyword or hybrid, got ${String(r)}`, { details: { field: "retriever" } });
  if (opts.exact === true && r !== "exact") throw new ColtsError("INPUT_INVALID", `exact: true is the exact retriever; it cannot be combined with retriever ${r}`, { details: { field: "exact" } });
  return r;
}

/** The PLAID parameters given, each checked (INPUT_INVALID naming it). */
function plaidParams(p: PlaidParams | undefined): PlaidParams {
  const out: PlaidParams = {};
  if (p?.ncells !== undefined) out.ncells = intIn("plaid.ncells", p.ncells, 1, 1, 1 << 20);
  if (p?.ndocs !== undefined) out.ndocs = intIn("plaid.ndocs", p.ndocs, 1, 1, 1 << 24);
  if (p?.centroidScoreThreshold !== undefined) {
    const v = p.centroidScoreThreshold;
    if (typeof v !== "number" || !Number.isFinite(v)) throw new ColtsError("INPUT_INVALID", `plaid.centroidScoreThreshold must be a finite number, got ${String(v)}`, { details: { field: "plaid.centroidScoreThreshold" } });
    out.centroidScoreThreshold = v;
  }
  return out;
}

/** Applies the defaults and checks every value (INPUT_INVALID naming the option and its range). */
export function resolveSearchOptions(opts: PgSearchOptions): ResolvedSearch {
  const k = intIn("k", opts.k, DEFAULT_K, 1, 10_000);
  const candidates = Math.max(k, intIn("candidates", opts.candidates, DEFAULT_CANDIDATES, 1, 100_000));
  const depth = Math.max(k, intIn("depth", opts.depth, DEFAULT_DEPTH, 1, 10_000));
  return {
    retriever: retrieverOf(opts),
    k,
    plaid: plaidParams(opts.plaid),
    filter: opts.filter,
    ids: opts.ids,
    batchDocs: intIn("batchDocs", opts.batchDocs, DEFAULT_BATCH_DOCS, 1, 1_000_000),
    candidates,
    rerank: Math.max(k, intIn("rerank", opts.rerank, Math.ceil(candidates / DEFAULT_RERANK_DIVISOR), 1, 100_000)),
    efSearch: intIn("efSearch", opts.efSearch, Math.min(MAX_EF_SEARCH, candidates * DEFAULT_EF_FACTOR), 1, MAX_EF_SEARCH),
    maxScanTuples: intIn("maxScanTuples", opts.maxScanTuples, DEFAULT_MAX_SCAN_TUPLES, 1, 2_147_483_647),
    depth,
    weights: [nonNegative("fusion.denseWeight", opts.fusion?.denseWeight, 1), nonNegative("fusion.keywordWeight", opts.fusion?.keywordWeight, 1)],
    rrfK: nonNegative("fusion.rrfK", opts.fusion?.rrfK, DEFAULT_RRF_K),
    allowPartial: opts.allowPartial === true,
  };
}
