/**
 * A PostgreSQL index opened for search. Four retrievers (search-options.ts `PgRetriever`):
 *  - "fde", the default: two stages. The query's MUVERA FDE (muvera/, with the FDE settings recorded
 *    at build) is looked up in the HNSW index over the document FDEs (pgvector, inner product,
 *    `hnsw.ef_search` and an iterative scan with relaxed order set for the transaction, so that a
 *    selective metadata filter in the WHERE still yields `candidates` rows); the candidates'
 *    compressed vectors are then read, decompressed and scored by exact MaxSim with the folder index's
 *    own stage-4 code (plaid/stages.ts `rankExactly`, the same onnxruntime kernel). Every returned
 *    score is the document's exact MaxSim; ties by ordinal. With candidates >= the live documents it
 *    returns what "exact" returns.
 *  - "exact": exhaustive exact MaxSim over all live documents that pass the filter and id list, read
 *    in ordinal order batch by batch; equals a folder index's `exact` search on the same documents.
 *  - "keyword": PostgreSQL full-text search (search-sql.ts `keywordSql`): not BM25.
 *  - "hybrid": reciprocal rank fusion (util/rank-fusion.ts, the folder index's `fuse`) of the "fde" and
 *    "keyword" top `depth`.
 * Each search runs in one read-only REPEATABLE READ transaction, so its statements see one state of
 * the index; searches on one PgIndex share its connection and run one after another.
 */
import { ColtsError } from "../errors.js";
import type { FdeEncoder } from "../muvera/fde.js";
import type { ResidualCodec } from "../plaid/codec.js";
import { isDrifted } from "../plaid/manifest.js";
import type { IndexInfo, SearchHit } from "../plaid/plaid-index.js";
import { allAdmissible, rankExactly, type Hit, type SearchView } from "../plaid/stages.js";
import { OrtResidualMaxSim } from "../runtime/kernels/maxsim.js";
import type { RuntimeOptions } from "../runtime/session.js";
import { fuse } from "../util/rank-fusion.js";
import { connect, disconnect, inTransaction, query, type PgSession } from "./connection.js";
import { encoderFor, halfvecLiteral, type PgFdeSettings } from "./fde.js";
import { rowsToChunk, type VectorRow } from "./rows.js";
import { checkPgvector, checkSchema, SCHEMA_VERSION, tables, type Tables } from "./schema.js";
import { condition, exactPageSql, fdeCandidatesSql, HNSW_SETTINGS_SQL, keywordSql, vectorsOfSql } from "./search-sql.js";
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
  /** pg_total_relation_size (heap, TOAST, indexes) of each table, bytes. */
  tableBytes: { documents: number; vectors: number; codec: number; settings: number };
  /** pg_relation_size of the search indexes (included in tableBytes.documents), bytes. */
  indexBytes: { fdeHnsw: number; textGin: number };
  /** Vectors table bytes (codes, residuals, row overhead, its primary key) per stored vector. */
  bytesPerVector: number;
  /** FDE settings of the first stage (recorded at build). */
  fde: PgFdeSettings;
  /** Text search configuration of the keyword retriever. */
  textSearchConfig: string;
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
    private readonly exactKernel: OrtResidualMaxSim,
    private readonly fde: FdeEncoder,
  ) {}

  /** Connects and checks the schema version and pgvector (INDEX_NOT_FOUND, INDEX_VERSION, INDEX_CORRUPT, DATABASE_UNAVAILABLE, DATABASE_ERROR). */
  static async open(url: string, opts: PgOpenOptions = {}): Promise<PgIndex> {
    const location = parsePgUrl(url);
    const s = await connect(location);
    try {
      await checkSchema(s);
      await checkPgvector(s, false);
      const t = tables(location.prefix);
      const { settings, codec } = await loadSettings(s, t);
      const fde = encoderFor(settings.fde, location.redacted);
      const kernel = await OrtResidualMaxSim.create(codec, { ...opts.runtime, allowSpinning: opts.runtime?.allowSpinning ?? false });
      return new PgIndex(s, t, settings, codec, kernel, fde);
    } catch (e) {
      await disconnect(s);
      throw e;
    }
  }

  /**
   * Searches with one query (retrievers and options: search-options.ts). Hits carry ids, ordinals,
   * metadata and the retriever's score: exact MaxSim (fde, exact), ts_rank_cd (keyword), the fused
   * reciprocal-rank score (hybrid).
   */
  async search(q: PgQuery, opts: PgSearchOptions = {}): Promise<SearchHit[]> {
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

  private async retrieve(q: PgQuery, o: ResolvedSearch): Promise<SearchHit[]> {
    if (this.closed) throw new ColtsError("CLOSED", "index is closed");
    switch (o.retriever) {
      case "exact":
        return this.exactSearch(this.vectorsOf(q, o), o);
      case "fde": {
        const qv = this.vectorsOf(q, o);
        return inTransaction(this.s, () => this.fdeSearch(qv, o, o.k), "read snapshot");
      }
      case "keyword": {
        const text = textOf(q, o);
        return inTransaction(this.s, () => this.keywordSearch(text, o, o.k), "read snapshot");
      }
      case "hybrid": {
        const qv = this.vectorsOf(q, o);
        const text = textOf(q, o);
        return inTransaction(
          this.s,
          async () => {
            const dense = await this.fdeSearch(qv, o, o.depth);
            const keyword = await this.keywordSearch(text, o, o.depth);
            return fuse([dense, keyword], o.weights, o.rrfK, o.k);
          },
          "read snapshot",
        );
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
  private async exactSearch(q: { v: Float32Array; n: number }, o: ResolvedSearch): Promise<SearchHit[]> {
    const { where, params } = condition(o, 3);
    const sql = exactPageSql(this.t, where);
    let best: Hit[] = [];
    let after = -1;
    for (;;) {
      const r = await query<VectorRow>(this.s, "read vectors", sql, [after, o.batchDocs, ...params]);
      if (r.rows.length === 0) break;
      best = mergeTop(best, await this.score(r.rows, q.v, q.n, o.k), o.k);
      after = Number(r.rows[r.rows.length - 1]?.ordinal);
      if (r.rows.length < o.batchDocs) break;
    }
    return this.describe(best);
  }

  /** FDE candidates from the HNSW index, then exact MaxSim of their vectors; the best k. Inside a transaction. */
  private async fdeSearch(q: { v: Float32Array; n: number }, o: ResolvedSearch, k: number): Promise<SearchHit[]> {
    await query(this.s, "set the HNSW scan", HNSW_SETTINGS_SQL, [o.efSearch, o.maxScanTuples]);
    const { where, params } = condition(o, 3);
    const fde = halfvecLiteral(this.fde.query(q.v, q.n));
    const c = await query<{ ordinal: string }>(this.s, "find FDE candidates", fdeCandidatesSql(this.t, where), [fde, Math.max(k, o.candidates), ...params]);
    const ordinals = c.rows.map((r) => Number(r.ordinal)).sort((a, b) => a - b);
    let best: Hit[] = [];
    for (let i = 0; i < ordinals.length; i += o.batchDocs) {
      const r = await query<VectorRow>(this.s, "read candidate vectors", vectorsOfSql(this.t), [ordinals.slice(i, i + o.batchDocs)]);
      if (r.rows.length > 0) best = mergeTop(best, await this.score(r.rows, q.v, q.n, k), k);
    }
    return this.describe(best);
  }

  /** Full-text hits ranked by ts_rank_cd, ties by ordinal. Inside a transaction. */
  private async keywordSearch(text: string, o: ResolvedSearch, k: number): Promise<SearchHit[]> {
    const { where, params } = condition(o, 4);
    const r = await query<{ ordinal: string; id: string; meta: Record<string, unknown> | null; score: number }>(this.s, "search the texts", keywordSql(this.t, where), [
      this.settings.textSearchConfig,
      text,
      k,
      ...params,
    ]);
    return r.rows.map((row) => ({ id: row.id, score: row.score, ordinal: Number(row.ordinal), metadata: row.meta ?? null }));
  }

  /** Exact MaxSim of one batch of rows (stage 4 of the folder index); hits carry the rows' ordinals. */
  private async score(rows: VectorRow[], q: Float32Array, nq: number, k: number): Promise<Hit[]> {
    const { chunk, ordinals } = rowsToChunk(rows, this.codec.bytesPerVector, this.s.location.redacted);
    const view: SearchView = { codec: this.codec, chunks: [chunk], allowed: null, deleted: new Uint8Array(rows.length), exactKernel: this.exactKernel };
    const hits = await rankExactly(view, allAdmissible(view), q, nq, k);
    return hits.map((h) => ({ ordinal: ordinals[h.ordinal] as number, score: h.score }));
  }

  /** Ids and metadata of hits, in their order. */
  private async describe(hits: Hit[]): Promise<SearchHit[]> {
    if (hits.length === 0) return [];
    const r = await query<{ ordinal: string; id: string; meta: Record<string, unknown> | null }>(
      this.s,
      "read result documents",
      `SELECT ordinal, id, meta FROM ${this.t.documents} WHERE ordinal = ANY($1::bigint[])`,
      [hits.map((h) => h.ordinal)],
    );
    const byOrdinal = new Map(r.rows.map((row) => [Number(row.ordinal), row]));
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
    type Row = { docs: string; vectors: string | null; generation: string; last: number | null; documents_b: string; vectors_b: string; codec_b: string; settings_b: string };
    const r = await query<Row & { fde_b: string; tsv_b: string }>(
      this.s,
      "measure the index",
      `SELECT (SELECT count(*) FROM ${t.documents}) AS docs, (SELECT sum(doclen) FROM ${t.vectors}) AS vectors,
        (SELECT generation FROM ${t.settings}) AS generation, (SELECT last_add_avg_residual FROM ${t.settings}) AS last,
        pg_total_relation_size($1::regclass) AS documents_b, pg_total_relation_size($2::regclass) AS vectors_b,
        pg_total_relation_size($3::regclass) AS codec_b, pg_total_relation_size($4::regclass) AS settings_b,
        pg_relation_size($5::regclass) AS fde_b, pg_relation_size($6::regclass) AS tsv_b`,
      [t.documents, t.vectors, t.codec, t.settings, t.fdeIndex, t.textIndex],
    );
    const row = r.rows[0];
    if (!row) throw new ColtsError("INDEX_CORRUPT", `${this.s.location.redacted}: the index tables cannot be measured`);
    const vectors = Number(row.vectors ?? 0);
    const st = this.settings;
    return {
      location: this.s.location.redacted,
      schemaVersion: SCHEMA_VERSION,
      generation: Number(row.generation),
      liveDocuments: Number(row.docs),
      vectors,
      tableBytes: { documents: Number(row.documents_b), vectors: Number(row.vectors_b), codec: Number(row.codec_b), settings: Number(row.settings_b) },
      indexBytes: { fdeHnsw: Number(row.fde_b), textGin: Number(row.tsv_b) },
      bytesPerVector: vectors > 0 ? Number(row.vectors_b) / vectors : 0,
      nbits: st.nbits,
      centroids: st.numCentroids,
      dim: st.dim,
      poolFactor: st.poolFactor,
      model: st.model,
      drifted: isDrifted({ trainedAvgResidual: st.trainedAvgResidual, lastAddAvgResidual: row.last }),
      fde: st.fde,
      textSearchConfig: st.textSearchConfig,
    };
  }

  /** Releases the kernel and the connection; later searches throw CLOSED. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const results = await Promise.allSettled([this.exactKernel.release(), disconnect(this.s), this.codec.releaseKernels()]);
    const failed = results.find((x): x is PromiseRejectedResult => x.status === "rejected");
    if (failed) throw failed.reason;
  }
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
