/**
 * A PostgreSQL index opened for search. For now every search is exhaustive: exact MaxSim over the
 * decompressed vectors of all live documents that pass the filter and id list, read from the
 * database in ordinal order, batch by batch, and scored by the folder index's own stage-4 code
 * (plaid/stages.ts `rankExactly` with the same onnxruntime kernel), so results equal a folder index's
 * `exact` search on the same documents. A first stage (FDE candidates from an HNSW index) comes later.
 */
import { ColtsError } from "../errors.js";
import { parseFilter } from "../metadata/filter.js";
import type { ResidualCodec } from "../plaid/codec.js";
import { isDrifted } from "../plaid/manifest.js";
import type { IndexInfo, SearchHit } from "../plaid/plaid-index.js";
import { allAdmissible, DEFAULT_K, rankExactly, type Hit, type SearchView } from "../plaid/stages.js";
import { OrtResidualMaxSim } from "../runtime/kernels/maxsim.js";
import type { RuntimeOptions } from "../runtime/session.js";
import { connect, disconnect, query, type PgSession } from "./connection.js";
import { filterToPgSql } from "./filter-sql.js";
import { rowsToChunk, type VectorRow } from "./rows.js";
import { checkSchema, SCHEMA_VERSION, tables, type Tables } from "./schema.js";
import { loadSettings, type PgSettings } from "./settings.js";
import { parsePgUrl } from "./url.js";

/** Documents read and scored per statement when `PgSearchOptions.batchDocs` is not given. */
export const DEFAULT_BATCH_DOCS = 10_000;

/** Options of `PgIndex.open`. */
export interface PgOpenOptions {
  /** onnxruntime settings of the MaxSim kernel. */
  runtime?: RuntimeOptions;
}

/** Options of `PgIndex.search`. */
export interface PgSearchOptions {
  /** Results to return. Default 10; range 1..10000. */
  k?: number;
  /** Metadata condition (metadata/filter.ts; run in PostgreSQL by pg/filter-sql.ts). */
  filter?: string;
  /** Only these external ids are scored. */
  ids?: readonly string[];
  /**
   * Documents fetched and scored per round trip. Default 10,000; range 1..1,000,000. More: fewer
   * round trips, more memory (about doclen x (4 + dim * nbits / 8) bytes a document).
   */
  batchDocs?: number;
}

/** Sizes of a PostgreSQL index, as PostgreSQL counts them; the shared fields mean what they mean for a folder index. */
export interface PgIndexInfo extends Pick<IndexInfo, "generation" | "liveDocuments" | "vectors" | "nbits" | "centroids" | "dim" | "poolFactor" | "model" | "drifted"> {
  /** The location, password redacted. */
  location: string;
  /** Schema version of its tables. */
  schemaVersion: number;
  /** pg_total_relation_size (heap, TOAST, indexes) of each table, bytes. */
  tableBytes: { documents: number; vectors: number; codec: number; settings: number };
  /** Vectors table bytes (codes, residuals, row overhead, its primary key) per stored vector. */
  bytesPerVector: number;
}

/** A PostgreSQL index opened for search (see the file comment). Open with `open`, `close` when done. */
export class PgIndex {
  private closed = false;

  private constructor(
    private readonly s: PgSession,
    private readonly t: Tables,
    /** The settings row read at open. */
    readonly settings: PgSettings,
    /** The index's residual codec. */
    readonly codec: ResidualCodec,
    private readonly exactKernel: OrtResidualMaxSim,
  ) {}

  /** Connects and checks the schema version (INDEX_NOT_FOUND, INDEX_VERSION, INDEX_CORRUPT, DATABASE_UNAVAILABLE). */
  static async open(url: string, opts: PgOpenOptions = {}): Promise<PgIndex> {
    const location = parsePgUrl(url);
    const s = await connect(location);
    try {
      await checkSchema(s);
      const t = tables(location.prefix);
      const { settings, codec } = await loadSettings(s, t);
      const kernel = await OrtResidualMaxSim.create(codec, { ...opts.runtime, allowSpinning: opts.runtime?.allowSpinning ?? false });
      return new PgIndex(s, t, settings, codec, kernel);
    } catch (e) {
      await disconnect(s);
      throw e;
    }
  }

  /** Exact search of one encoded query. q.vectors: [q.tokens, dim] unit rows. */
  async search(q: { vectors: Float32Array; tokens: number; dim: number }, opts: PgSearchOptions = {}): Promise<SearchHit[]> {
    if (this.closed) throw new ColtsError("CLOSED", "index is closed");
    const k = opts.k ?? DEFAULT_K;
    if (!Number.isInteger(k) || k < 1 || k > 10_000) throw new ColtsError("INPUT_INVALID", `k must be an integer in 1..10000, got ${k}`);
    const batch = opts.batchDocs ?? DEFAULT_BATCH_DOCS;
    if (!Number.isInteger(batch) || batch < 1 || batch > 1_000_000) throw new ColtsError("INPUT_INVALID", `batchDocs must be an integer in 1..1000000, got ${batch}`);
    if (q.dim !== this.codec.dim) {
      throw new ColtsError("DIM_UNSUPPORTED", `query vectors are ${q.dim}-d, the index holds ${this.codec.dim}-d vectors (encode with the index's model and dim)`);
    }
    const qv = q.vectors.subarray(0, q.tokens * q.dim);
    const { where, params } = this.condition(opts);
    const sql = `SELECT v.ordinal, v.doclen, v.codes, v.residuals FROM ${this.t.vectors} v JOIN ${this.t.documents} d ON d.ordinal = v.ordinal
      WHERE v.ordinal > $1 AND ${where} ORDER BY v.ordinal LIMIT $2`;
    let best: Hit[] = [];
    let after = -1;
    for (;;) {
      const r = await query<VectorRow>(this.s, "read vectors", sql, [after, batch, ...params]);
      if (r.rows.length === 0) break;
      best = mergeTop(best, await this.score(r.rows, qv, q.tokens, k), k);
      after = Number(r.rows[r.rows.length - 1]?.ordinal);
      if (r.rows.length < batch) break;
    }
    return this.describe(best);
  }

  /** The WHERE condition for the filter and id list; placeholders from $3 on ($1, $2: paging). */
  private condition(opts: PgSearchOptions): { where: string; params: unknown[] } {
    const parts: string[] = ["true"];
    const params: unknown[] = [];
    if (opts.filter !== undefined) {
      const c = filterToPgSql(parseFilter(opts.filter), "d.meta", 3);
      parts.push(c.sql);
      params.push(...c.params);
    }
    if (opts.ids !== undefined) {
      params.push([...opts.ids]);
      parts.push(`d.id = ANY($${params.length + 2}::text[])`);
    }
    return { where: parts.join(" AND "), params };
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
    // A document deleted between the two statements is left out rather than shown without its id.
    return hits.flatMap((h) => {
      const row = byOrdinal.get(h.ordinal);
      return row ? [{ id: row.id, score: h.score, ordinal: h.ordinal, metadata: row.meta ?? null }] : [];
    });
  }

  /** Sizes and parameters, with PostgreSQL's own byte counts. */
  async info(): Promise<PgIndexInfo> {
    if (this.closed) throw new ColtsError("CLOSED", "index is closed");
    const t = this.t;
    const r = await query<{ docs: string; vectors: string | null; generation: string; last: number | null; documents_b: string; vectors_b: string; codec_b: string; settings_b: string }>(
      this.s,
      "measure the index",
      `SELECT (SELECT count(*) FROM ${t.documents}) AS docs, (SELECT sum(doclen) FROM ${t.vectors}) AS vectors,
        (SELECT generation FROM ${t.settings}) AS generation, (SELECT last_add_avg_residual FROM ${t.settings}) AS last,
        pg_total_relation_size($1::regclass) AS documents_b, pg_total_relation_size($2::regclass) AS vectors_b,
        pg_total_relation_size($3::regclass) AS codec_b, pg_total_relation_size($4::regclass) AS settings_b`,
      [t.documents, t.vectors, t.codec, t.settings],
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
      bytesPerVector: vectors > 0 ? Number(row.vectors_b) / vectors : 0,
      nbits: st.nbits,
      centroids: st.numCentroids,
      dim: st.dim,
      poolFactor: st.poolFactor,
      model: st.model,
      drifted: isDrifted({ trainedAvgResidual: st.trainedAvgResidual, lastAddAvgResidual: row.last }),
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
