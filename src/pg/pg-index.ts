/**
 * A PostgreSQL index opened for search. Five retrievers (search-options.ts `PgRetriever`):
 *  - "plaid", the default: the folder index's PLAID pipeline over data read from PostgreSQL. The
 *    query's centroid scores (onnxruntime) name the probed centroids (`ncells` per query vector) and
 *    the kept ones (best score >= `centroidScoreThreshold`); their IVF lists (ivf.ts) are read in one
 *    statement; the probed lists' documents are the candidates (filtered in PostgreSQL when a
 *    filter or id list is given), ranked by stage 2 over the kept lists (plaid-search.ts, the
 *    folder's `prunedScores`); the best `ndocs` have their codes read for stage 3, and the best
 *    ndocs / 4 their residuals for exact MaxSim (stage 4). A filter that leaves fewer than k
 *    candidates falls back to exhaustive exact search over the matching documents, as the folder
 *    index does.
 *  - "fde": three stages. The query's MUVERA FDE (muvera/, with the FDE settings recorded
 * Each search runs in one read-only REPEATABLE READ transaction, so its statements see one state of
 * the index; searches on one PgIndex share its connection and run one after another.
 */
import { ColtsError } from "../errors.js";
import type { FdeEncoder } from "../muvera/fde.js";
import type { ResidualCodec } from "../plaid/codec.js";
import { isDrifted } from "../plaid/manifest.js";
import type { IndexInfo, SearchHit } from "../plaid/plaid-index.js";
import { allAdmissible, keptCentroids, plaidDefaults, rankExactly, stage3Scores, type Hit, type SearchView } from "../plaid/stages.js";
import { OrtCentroidScorer } from "../runtime/kernels/matmul.js";
import { ResidualMaxSim } from "../plaid/residual-maxsim.js";
import type { RuntimeOptions } from "../runtime/session.js";
import { fuse } from "../util/rank-fusion.js";
import { connect, disconnect, query, type PgSession } from "./connection.js";
import { encoderFor, halfvecLiteral, type PgFdeSettings } from "./fde.js";
import { codeRowsToChunk, rowsToChunk, type VectorRow } from "./rows.js";
import { listsChunk, probedDocuments, stage2Ordinals } from "./plaid-search.js";
import { checkPgvector, checkSchema, SCHEMA_VERSION, SHARDED_SCHEMA_VERSION, tables, type Tables } from "./schema.js";
import { LocalReads, type PgReads } from "./reads.js";
import { applyShardTimeout, ShardedReads } from "./shard-reads.js";
import { nodeName, readShardNodes, type ShardNode } from "./sharding.js";
import { resolveSearchOptions, type PgSearchOptions, type ResolvedSearch } from "./search-options.js";
import { loadSettings, type PgSettings } from "./settings.js";
import { parsePgUrl } from "./url.js";

export { DEFAULT_BATCH_DOCS, type PgSearchOptions, type PgRetriever } from "./search-options.js";

/** Options of `PgIndex.open`. */
export interface PgOpenOptions {
  /** onnxruntime settings of the MaxSim kernel. */
  runtime?: RuntimeOptions;
}

/** An encoded query: [tokens, dim] unit rows; `text` too for the keyword and hybrid retrievers. */
export interface PgEncodedQuery {
  /** [tokens, dim] row-major query vectors (a `MultiVector`'s); the first tokens x dim values are used. */
  vectors: Float32Array;
  /** Number of query vectors (>= 1). */
  tokens: number;
  /** Their dimension: the index's dim (DIM_UNSUPPORTED otherwise). */
  dim: number;
  /** The query text: needed by the keyword and hybrid retrievers, ignored by fde and exact. */
  text?: string;
}

/** A query for the keyword retriever alone: its text. */
export interface PgTextQuery {
  /** The query text, read by `websearch_to_tsquery` (quotes, OR, a leading - to exclude a word). */
  text: string;
  /** No vectors: fde, exact and hybrid refuse such a query (INPUT_INVALID). */
  vectors?: undefined;
}

/** What `PgIndex.search` takes: encoded vectors (fde, exact), text (keyword), or both (hybrid). */
export type PgQuery = PgEncodedQuery | PgTextQuery;

/** Sizes of a PostgreSQL index, as PostgreSQL counts them; the shared fields mean what they mean for a folder index. */
export interface PgIndexInfo extends Pick<IndexInfo, "generation" | "liveDocuments" | "vectors" | "nbits" | "centroids" | "dim" | "poolFactor" | "model" | "drifted"> {
  /** The location, password redacted. */
  location: string;
  /** Schema version of its tables. */
  schemaVersion: number;
  /** pg_total_relation_size (heap, TOAST, indexes) of each table, bytes (ivf: the lists of the "plaid" retriever, about 4 bytes per distinct (centroid, document) pair). */
  tableBytes: { documents: number; vectors: number; ivf: number; codec: number; settings: number };
  /** pg_relation_size of the search indexes (included in tableBytes.documents), bytes. */
  indexBytes: { fdeHnsw: number; textGin: number };
  /** Vectors table bytes (codes, residuals, row overhead, its primary key) per stored vector. */
  bytesPerVector: number;
  /** FDE settings of the FDE first stage (recorded at build). */
  fde: PgFdeSettings;
  /** False when the index was built without FDEs (the default; `fde: true` stores them): no HNSW index, no "fde" retriever. */
  fdeEnabled: boolean;
  /** Text search configuration of the keyword retriever. */
  textSearchConfig: string;
  /** A sharded index: each shard node (host:port/database) with its documents and vectors. */
  shards?: { node: string; documents: number; vectors: number }[];
}

/** A PostgreSQL index opened for search (see the file comment). Open with `open`, `close` when done. */
export class PgIndex {
  private closed = false;
  /** The tail of the searches queued on the connection (a transaction must not interleave with another). */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly s: PgSession,
    private readonly t: Tables,
    /** The settings row read at open. */
    readonly settings: PgSettings,
    /** The index's residual codec. */
    readonly codec: ResidualCodec,
    private readonly exactKernel: ResidualMaxSim,
    /** Centroid scores of a query ([K, nq]) and the approximate MaxSim over codes: the centroid pass. */
    private readonly centroids: OrtCentroidScorer,
    private readonly fde: FdeEncoder,
    /** The shard nodes of a sharded index; null on one node. */
    private readonly nodes: ShardNode[] | null,
    /** The statement timeout searches run under (ms, 0: none). */
    private readonly timeoutMs: number,
  ) {
    this.local = new LocalReads(s, t);
  }

  private readonly local: LocalReads;

  /** Connects and checks the schema version and pgvector (INDEX_NOT_FOUND, INDEX_VERSION, INDEX_CORRUPT, DATABASE_UNAVAILABLE, DATABASE_ERROR). */
  static async open(url: string, opts: PgOpenOptions = {}): Promise<PgIndex> {
    const location = parsePgUrl(url);
    const s = await connect(location);
    try {
      const { sharded } = await checkSchema(s);
      // A sharded coordinator holds no vectors: pgvector is needed on the shards alone.
      if (!sharded) await checkPgvector(s, false);
      const nodes = sharded ? await readShardNodes(s) : null;
      const timeoutMs = sharded ? await applyShardTimeout(s) : location.statementTimeoutMs;
      const t = tables(location.prefix);
      const { settings, codec } = await loadSettings(s, t);
      const fde = encoderFor(settings.fde, location.redacted);
      const runtime = { ...opts.runtime, allowSpinning: opts.runtime?.allowSpinning ?? false };
      const kernel = await ResidualMaxSim.create(codec, runtime);
      const centroids = await OrtCentroidScorer.create(codec.centroids, codec.numCentroids, codec.dim, runtime);
      return new PgIndex(s, t, settings, codec, kernel, centroids, fde, nodes, timeoutMs);
    } catch (e) {
      await disconnect(s);
      throw e;
    }
  }

  /**
   * Searches with one query (retrievers and options: search-options.ts). Hits carry ids, ordinals,
   * metadata and the retriever's score: exact MaxSim (fde, exact), ts_rank_cd (keyword), the fused
   * reciprocal-rank score (hybrid). On a sharded index, a shard that is down or silent fails the
   * search with SHARD_UNAVAILABLE naming it, or with `allowPartial` leaves it out and marks the hits
   * (`partial`).
   */
  async search(q: PgQuery, opts: PgSearchOptions = {}): Promise<PgHits> {
    if (this.closed) throw new ColtsError("CLOSED", "index is closed");
    const o = resolveSearchOptions(opts);
    return this.serial(() => this.retrieve(q, o));
  }

  /** Runs `fn` after every statement already queued on the connection (transactions must not interleave). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async retrieve(q: PgQuery, o: ResolvedSearch): Promise<PgHits> {
    if (this.closed) throw new ColtsError("CLOSED", "index is closed");
    const reads = this.nodes ? new ShardedReads(this.s, this.nodes, this.timeoutMs, o.allowPartial) : this.local;
    const hits: PgHits = await this.retrieveWith(reads, q, o);
    if (reads instanceof ShardedReads && reads.missing.length > 0) hits.partial = { missingShards: reads.missing.map(nodeName) };
    return hits;
  }

  private async retrieveWith(reads: PgReads, q: PgQuery, o: ResolvedSearch): Promise<SearchHit[]> {
    switch (o.retriever) {
      case "exact":
        return this.exactSearch(reads, this.vectorsOf(q, o), o);
      case "plaid": {
        const qv = this.vectorsOf(q, o);
        return reads.run(() => this.plaidSearch(reads, qv, o, o.k));
      }
      case "fde": {
        if (!this.settings.fdeEnabled) {
          throw new ColtsError("INPUT_INVALID", `${this.s.location.redacted} was built without FDEs (the default), so it has no FDE first stage: use the plaid retriever (its IVF lists), or rebuild with FDEs (fde: true; CLI: index build --fde)`, {
            details: { retriever: "fde" },
          });
        }
        const qv = this.vectorsOf(q, o);
        return reads.run(() => this.fdeSearch(reads, qv, o, o.k));
      }
      case "keyword": {
        const text = textOf(q, o);
        return reads.run(() => reads.keyword(this.settings.textSearchConfig, text, o.k, o));
      }
      case "hybrid": {
        const qv = this.vectorsOf(q, o);
        const text = textOf(q, o);
        return reads.run(async () => {
          const dense = await this.plaidSearch(reads, qv, o, o.depth);
          const keyword = await reads.keyword(this.settings.textSearchConfig, text, o.depth, o);
          return fuse([dense, keyword], o.weights, o.rrfK, o.k);
        });
      }
    }
  }

  /** The query's vectors (INPUT_INVALID without, DIM_UNSUPPORTED for another dim). q.vectors: [q.tokens, dim]. */
  private vectorsOf(q: PgQuery, o: ResolvedSearch): { v: Float32Array; n: number } {
    if (q.vectors === undefined) throw new ColtsError("INPUT_INVALID", `retriever ${o.retriever} needs the query's encoded vectors, not only its text`);
    if (q.dim !== this.codec.dim) {
      throw new ColtsError("DIM_UNSUPPORTED", `query vectors are ${q.dim}-d, the index holds ${this.codec.dim}-d vectors (encode with the index's model and dim)`);
    }
    if (!Number.isInteger(q.tokens) || q.tokens < 1 || q.vectors.length < q.tokens * q.dim) {
      throw new ColtsError("INPUT_INVALID", `the query needs at least one token and tokens x dim values (${q.tokens} x ${q.dim}, ${q.vectors.length} given)`);
    }
    return { v: q.vectors.subarray(0, q.tokens * q.dim), n: q.tokens };
  }

  /** Exhaustive exact MaxSim, batch by batch in ordinal order. */
  private async exactSearch(reads: PgReads, q: { v: Float32Array; n: number }, o: ResolvedSearch): Promise<SearchHit[]> {
    let best: Hit[] = [];
    for await (const rows of reads.exactPages(o)) best = mergeTop(best, await this.score(rows, q.v, q.n, o.k), o.k);
    return this.describe(reads, best);
  }

  /**
   * PLAID over the IVF lists (the file comment): stages 1-2 from the lists, 3 from the codes, 4 from
   * the residuals; the best k. Inside `reads.run`.
   */
  private async plaidSearch(reads: PgReads, q: { v: Float32Array; n: number }, o: ResolvedSearch, k: number): Promise<SearchHit[]> {
    const p = { ...plaidDefaults(k, this.settings.nextOrdinal), ...o.plaid };
    const { scores, top, max } = await this.centroids.run(q.v, q.n, Math.min(p.ncells, this.codec.numCentroids)); // scores: [K, nq]
    const keep = keptCentroids(max, p.centroidScoreThreshold);
    const cells = new Set<number>(top);
    keep.forEach((kept, c) => kept && cells.add(c));
    const rows = await reads.ivf([...cells]);
    let lists = listsChunk(rows, this.codec.numCentroids, this.s.location.redacted);
    let cands = probedDocuments(lists.chunk, top);
    if (o.filter !== undefined || o.ids !== undefined) {
      const admitted = new Set(cands.length > 0 ? await reads.admit(Array.from(cands, (i) => lists.ordinals[i] as number), o) : []);
      cands = cands.filter((i) => admitted.has(lists.ordinals[i] as number));
      if (cands.length < k) {
        // As the folder index: a selective filter can leave fewer than k candidates in the probed
        // cells; then every matching document is a candidate, so that k results come back when k match.
        const all = (await reads.admit(null, o)).sort((a, b) => a - b);
        lists = listsChunk(rows, this.codec.numCentroids, this.s.location.redacted, all);
        const local = new Map(Array.from(lists.ordinals, (ordinal, i) => [ordinal, i]));
        cands = all.map((ordinal) => local.get(ordinal) as number);
      }
    }
    const stage2 = stage2Ordinals(this.codec, lists, cands, scores, q.n, keep, p.ndocs); // best first
    const keep3 = Math.max(k, Math.floor(p.ndocs / 4));
    const stage3 = stage2.length > keep3 ? await this.byCentroids(reads, scores, q.n, stage2, keep3, o.batchDocs) : stage2;
    return this.describe(reads, await this.rankExactly(reads, q, stage3, k, o.batchDocs));
  }

  /** FDE candidates from the HNSW index, then exact MaxSim of their vectors; the best k. Inside `reads.run`. */
  private async fdeSearch(reads: PgReads, q: { v: Float32Array; n: number }, o: ResolvedSearch, k: number): Promise<SearchHit[]> {
    const fde = halfvecLiteral(this.fde.query(q.v, q.n));
    let ordinals = (await reads.candidates(fde, Math.max(k, o.candidates), o)).sort((a, b) => a - b);
    if (ordinals.length > Math.max(k, o.rerank)) {
      const { scores } = await this.centroids.run(q.v, q.n, 1); // [K, nq]
      ordinals = await this.byCentroids(reads, scores, q.n, ordinals, Math.max(k, o.rerank), o.batchDocs);
    }
    return this.describe(reads, await this.rankExactly(reads, q, ordinals, k, o.batchDocs));
  }

  /** Stage 4: exact MaxSim of the ordinals' decompressed vectors, read `batchDocs` at a time; the best k. */
  private async rankExactly(reads: PgReads, q: { v: Float32Array; n: number }, ordinals: readonly number[], k: number, batchDocs: number): Promise<Hit[]> {
    let best: Hit[] = [];
    for (let i = 0; i < ordinals.length; i += batchDocs) {
      const rows = await reads.vectorsOf(ordinals.slice(i, i + batchDocs));
      if (rows.length > 0) best = mergeTop(best, await this.score(rows, q.v, q.n, k), k);
    }
    return best;
  }

  /**
   * The centroid pass: the `keep` of `ordinals` with the best approximate MaxSim over their centroid
   * codes (PLAID's stage 3, read without residuals; ties: earlier in `ordinals` first), in ordinal
   * order. scores: [K, nq] centroid-major.
   */
  private async byCentroids(reads: PgReads, scores: Float32Array, nq: number, ordinals: readonly number[], keep: number, batchDocs: number): Promise<number[]> {
    const rank = new Map(ordinals.map((o, i) => [o, i]));
    const byOrdinal = [...ordinals].sort((a, b) => a - b);
    const scored: { ordinal: number; score: number; rank: number }[] = [];
    for (let i = 0; i < byOrdinal.length; i += batchDocs) {
      const rows = await reads.codesOf(byOrdinal.slice(i, i + batchDocs));
      if (rows.length === 0) continue;
      const { chunk, ordinals: ords } = codeRowsToChunk(rows, this.s.location.redacted);
      const view: SearchView = { codec: this.codec, chunks: [chunk], allowed: null, deleted: new Uint8Array(rows.length) };
      const approx = stage3Scores(view, allAdmissible(view), scores, nq);
      ords.forEach((ordinal, j) => scored.push({ ordinal, score: approx[j] as number, rank: rank.get(ordinal) as number }));
    }
    scored.sort((a, b) => b.score - a.score || a.rank - b.rank);
    return scored
      .slice(0, keep)
      .map((x) => x.ordinal)
      .sort((a, b) => a - b);
  }

  /** Exact MaxSim of one batch of rows (stage 4 of the folder index); hits carry the rows' ordinals. */
  private async score(rows: VectorRow[], q: Float32Array, nq: number, k: number): Promise<Hit[]> {
    const { chunk, ordinals } = rowsToChunk(rows, this.codec.bytesPerVector, this.s.location.redacted);
    const view: SearchView = { codec: this.codec, chunks: [chunk], allowed: null, deleted: new Uint8Array(rows.length), exactKernel: this.exactKernel };
    const hits = await rankExactly(view, allAdmissible(view), q, nq, k);
    return hits.map((h) => ({ ordinal: ordinals[h.ordinal] as number, score: h.score }));
  }

  /** Ids and metadata of hits, in their order. */
  private async describe(reads: PgReads, hits: Hit[]): Promise<SearchHit[]> {
    if (hits.length === 0) return [];
    const rows = await reads.describe(hits.map((h) => h.ordinal));
    const byOrdinal = new Map(rows.map((row) => [Number(row.ordinal), row]));
    // A document deleted between the two statements (exact path, outside a snapshot) is left out rather than shown without its id.
    return hits.flatMap((h) => {
      const row = byOrdinal.get(h.ordinal);
      return row ? [{ id: row.id, score: h.score, ordinal: h.ordinal, metadata: row.meta ?? null }] : [];
    });
  }

  /** Sizes and parameters, with PostgreSQL's own byte counts. */
  async info(): Promise<PgIndexInfo> {
    if (this.closed) throw new ColtsError("CLOSED", "index is closed");
    return this.serial(() => this.measure());
  }

  private async measure(): Promise<PgIndexInfo> {
    const t = this.t;
    const r = await query<{ generation: string; last: number | null; codec_b: string; settings_b: string }>(
      this.s,
      "measure the index",
      `SELECT generation, last_add_avg_residual AS last, pg_total_relation_size($1::regclass) AS codec_b, pg_total_relation_size($2::regclass) AS settings_b FROM ${t.settings}`,
      [t.codec, t.settings],
    );
    const row = r.rows[0];
    if (!row) throw new ColtsError("INDEX_CORRUPT", `${this.s.location.redacted}: the index tables cannot be measured`);
    const sizes = this.nodes ? await this.shardSizes() : [await this.localSizes()];
    const sum = (f: (x: PartSizes) => number): number => sizes.reduce((acc, x) => acc + f(x), 0);
    const vectors = sum((x) => x.vectors);
    const st = this.settings;
    return {
      location: this.s.location.redacted,
      schemaVersion: this.nodes ? SHARDED_SCHEMA_VERSION : SCHEMA_VERSION,
      generation: Number(row.generation),
      liveDocuments: sum((x) => x.docs),
      vectors,
      tableBytes: { documents: sum((x) => x.documentsBytes), vectors: sum((x) => x.vectorsBytes), ivf: sum((x) => x.ivfBytes), codec: Number(row.codec_b), settings: Number(row.settings_b) },
      indexBytes: { fdeHnsw: sum((x) => x.fdeBytes), textGin: sum((x) => x.tsvBytes) },
      bytesPerVector: vectors > 0 ? sum((x) => x.vectorsBytes) / vectors : 0,
      nbits: st.nbits,
      centroids: st.numCentroids,
      dim: st.dim,
      poolFactor: st.poolFactor,
      model: st.model,
      drifted: isDrifted({ trainedAvgResidual: st.trainedAvgResidual, lastAddAvgResidual: row.last }),
      fde: st.fde,
      fdeEnabled: st.fdeEnabled,
      textSearchConfig: st.textSearchConfig,
      ...(this.nodes ? { shards: sizes.map((x) => ({ node: nodeName(this.nodes?.[x.part] as ShardNode), documents: x.docs, vectors: x.vectors })) } : {}),
    };
  }

  /** Counts and sizes of a single node's tables. */
  private async localSizes(): Promise<PartSizes> {
    const t = this.t;
    const r = await query<Record<"docs" | "vectors" | "documents_b" | "vectors_b" | "ivf_b" | "fde_b" | "tsv_b", string | null>>(
      this.s,
      "measure the index",
      `SELECT (SELECT count(*) FROM ${t.documents}) AS docs, (SELECT sum(doclen) FROM ${t.vectors}) AS vectors,
        pg_total_relation_size($1::regclass) AS documents_b, pg_total_relation_size($2::regclass) AS vectors_b,
        COALESCE(pg_relation_size(to_regclass($3)), 0) AS fde_b, pg_relation_size($4::regclass) AS tsv_b, pg_total_relation_size($5::regclass) AS ivf_b`,
      [t.documents, t.vectors, t.fdeIndex, t.textIndex, t.ivf],
    );
    return partSizes(0, r.rows[0] ?? {});
  }

  /** Counts and sizes of each shard's tables, through the coordinator. */
  private async shardSizes(): Promise<PartSizes[]> {
    const reads = new ShardedReads(this.s, this.nodes ?? [], this.timeoutMs, false);
    const counts = await reads.callShards<{ part: number; docs: string; vectors: string }>("f_counts", [], "count the shards");
    const sizes = await reads.callShards<{ part: number; documents_b: string; vectors_b: string; ivf_b: string; fde_b: string; tsv_b: string }>("f_sizes", [], "measure the shards");
    return counts.sort((a, b) => a.part - b.part).map((c) => partSizes(c.part, { ...sizes.find((x) => x.part === c.part), ...c }));
  }

  /** Releases the kernel and the connection; later searches throw CLOSED. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const results = await Promise.allSettled([this.exactKernel.release(), this.centroids.release(), disconnect(this.s), this.codec.releaseKernels()]);
    const failed = results.find((x): x is PromiseRejectedResult => x.status === "rejected");
    if (failed) throw failed.reason;
  }
}

/** Hits of a search; `partial` is set when shards were left out (`allowPartial`). */
export type PgHits = SearchHit[] & { partial?: { missingShards: string[] } };

/** Row counts and relation sizes of one part (the node itself, or one shard). */
interface PartSizes {
  part: number;
  docs: number;
  vectors: number;
  documentsBytes: number;
  vectorsBytes: number;
  ivfBytes: number;
  fdeBytes: number;
  tsvBytes: number;
}

function partSizes(part: number, r: Partial<Record<"docs" | "vectors" | "documents_b" | "vectors_b" | "ivf_b" | "fde_b" | "tsv_b", string | null>>): PartSizes {
  const n = (v: string | null | undefined): number => Number(v ?? 0);
  return { part, docs: n(r.docs), vectors: n(r.vectors), documentsBytes: n(r.documents_b), vectorsBytes: n(r.vectors_b), ivfBytes: n(r.ivf_b), fdeBytes: n(r.fde_b), tsvBytes: n(r.tsv_b) };
}

/** The best k of two hit lists, by score (higher first), ties by ordinal (lower first), as `rankExactly` orders. */
export function mergeTop(a: readonly Hit[], b: readonly Hit[], k: number): Hit[] {
  return [...a, ...b].sort((x, y) => y.score - x.score || x.ordinal - y.ordinal).slice(0, k);
}

/** The query's text (INPUT_INVALID without). */
function textOf(q: PgQuery, o: ResolvedSearch): string {
  if (typeof q.text !== "string") throw new ColtsError("INPUT_INVALID", `retriever ${o.retriever} needs the query text, not only its vectors`);
  return q.text;
}
