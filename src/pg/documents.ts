/**
 * What the front ends need from a PostgreSQL index besides search and writes: a summary read without
 * opening the scoring kernel (the server's main thread reads it; the search runs in a worker), the
 * stored texts of hits (explanations, `withText`), and maintenance (VACUUM (ANALYZE)). Every message
 * names the location by its redacted URL.
 */
import { ColtsError } from "../errors.js";
import { isDrifted } from "../plaid/manifest.js";
import { connect, disconnect, query, type PgSession } from "./connection.js";
import { checkSchema, tables, type Tables } from "./schema.js";
import { applyShardTimeout, ShardedReads } from "./shard-reads.js";
import { readShardNodes } from "./sharding.js";
import { loadSettingsOnly } from "./settings.js";
import { parsePgUrl } from "./url.js";

/**
 * Checks the schema; for a sharded index, the reads through its coordinator (no partial results)
 * under its search timeout; null on one node.
 */
async function shardReadsOf(s: PgSession): Promise<ShardedReads | null> {
  const { sharded } = await checkSchema(s);
  if (!sharded) return null;
  const timeoutMs = await applyShardTimeout(s);
  return new ShardedReads(s, await readShardNodes(s), timeoutMs, false);
}

/** A PostgreSQL index's settings and counts, as the server reports an index. */
export interface PgSummary {
  /** The location, password redacted. */
  location: string;
  /** Committed writes so far. */
  generation: number;
  /** Live documents (a deleted document's rows are gone: there are no tombstones). */
  liveDocuments: number;
  /** Stored token vectors. */
  vectors: number;
  /** Dimension of the token vectors. */
  dim: number;
  /** Bits per residual dimension (1, 2 or 4). */
  nbits: number;
  /** Centroids of the codec. */
  centroids: number;
  /** Token pooling factor the index was built with (1 = none). */
  poolFactor: number;
  /** The model the index records, or null. */
  model: string | null;
  /** True when at least one document stores its text. */
  hasText: boolean;
  /** When the settings row was last written (ISO 8601). */
  updatedAt: string;
  /** True when added data sits far from the centroids (as a folder index's `drifted`): rebuild. */
  drifted: boolean;
}

/** Connects, checks the schema, runs `fn` (with the shard reads of a sharded index, null on one node), disconnects. */
async function withIndex<T>(url: string, fn: (s: PgSession, t: Tables, shards: ShardedReads | null) => Promise<T>): Promise<T> {
  const s = await connect(parsePgUrl(url));
  try {
    return await fn(s, tables(s.location.prefix), await shardReadsOf(s));
  } finally {
    await disconnect(s);
  }
}

/** The summary of the index at `url` (INDEX_NOT_FOUND, INDEX_VERSION, INDEX_CORRUPT, DATABASE_UNAVAILABLE). */
export async function readPgSummary(url: string): Promise<PgSummary> {
  return withIndex(url, async (s, t, shards) => {
    const st = await loadSettingsOnly(s, t);
    const r = await query<{ docs: string; vectors: string | null; texts: boolean; updated: Date }>(
      s,
      "count the index",
      shards
        ? `SELECT NULL AS docs, NULL AS vectors, false AS texts, (SELECT updated_at FROM ${t.settings}) AS updated`
        : `SELECT (SELECT count(*) FROM ${t.documents}) AS docs, (SELECT sum(doclen) FROM ${t.vectors}) AS vectors,
        EXISTS (SELECT 1 FROM ${t.documents} WHERE text IS NOT NULL) AS texts, (SELECT updated_at FROM ${t.settings}) AS updated`,
    );
    const row = r.rows[0];
    if (!row) throw new ColtsError("INDEX_CORRUPT", `${s.location.redacted}: the index tables cannot be counted`, { details: { location: s.location.redacted } });
    if (shards) {
      const counts = await shards.callShards<{ docs: string; vectors: string; texts: boolean }>("f_counts", [], "count the shards");
      row.docs = String(counts.reduce((n, c) => n + Number(c.docs), 0));
      row.vectors = String(counts.reduce((n, c) => n + Number(c.vectors), 0));
      row.texts = counts.some((c) => c.texts);
    }
    return {
      location: s.location.redacted,
      generation: st.generation,
      liveDocuments: Number(row.docs),
      vectors: Number(row.vectors ?? 0),
      dim: st.dim,
      nbits: st.nbits,
      centroids: st.numCentroids,
      poolFactor: st.poolFactor,
      model: st.model,
      hasText: row.texts,
      updatedAt: new Date(row.updated).toISOString(),
      drifted: isDrifted({ trainedAvgResidual: st.trainedAvgResidual, lastAddAvgResidual: st.lastAddAvgResidual }),
    };
  });
}

/**
 * VACUUM (ANALYZE) of the index's tables: reclaims the space of deleted rows for reuse and refreshes
 * the planner's statistics. Deletes leave no tombstones to compact away, so this is all a compaction
 * can do. Returns the tables vacuumed. VACUUM runs outside a transaction and takes no write lock; a
 * concurrent writer waits only for the table it is vacuuming.
 */
export async function vacuumPgIndex(url: string): Promise<string[]> {
  return withIndex(url, async (s, t, shards) => {
    // A sharded coordinator holds the reference tables alone; each shard's own autovacuum keeps its tables.
    const names = shards ? [t.settings, t.codec, t.schema] : [t.documents, t.vectors, t.settings, t.codec, t.schema];
    for (const name of names) await query(s, `vacuum ${name}`, `VACUUM (ANALYZE) ${name}`);
    return names.map((n) => n.replace(/"/g, ""));
  });
}

/** The stored texts of documents by ordinal, over a connection of its own. `close` when done. */
export class PgTexts {
  private closed = false;

  private constructor(
    private readonly s: PgSession,
    private readonly t: Tables,
    /** The shard reads of a sharded index, null on one node. */
    private readonly shards: ShardedReads | null,
  ) {}

  /** Connects and checks the schema (as `PgIndex.open`). */
  static async open(url: string): Promise<PgTexts> {
    const s = await connect(parsePgUrl(url));
    try {
      return new PgTexts(s, tables(s.location.prefix), await shardReadsOf(s));
    } catch (e) {
      await disconnect(s);
      throw e;
    }
  }

  /**
   * Texts in the order of `ordinals`; null for a document without text or one deleted since. On a
   * sharded index, `allowPartial` reads from the shards that answer (the hits of a partial search
   * come from them alone) instead of failing with SHARD_UNAVAILABLE.
   */
  async texts(ordinals: readonly number[], allowPartial = false): Promise<(string | null)[]> {
    if (this.closed) throw new ColtsError("CLOSED", "index is closed");
    if (ordinals.length === 0) return [];
    const rows = this.shards
      ? await this.shards.fresh(allowPartial).callShards<{ ordinal: string; text: string | null }>("f_texts", [[...ordinals]], "read document texts")
      : (await query<{ ordinal: string; text: string | null }>(this.s, "read document texts", `SELECT ordinal, text FROM ${this.t.documents} WHERE ordinal = ANY($1::bigint[])`, [[...ordinals]])).rows;
    const byOrdinal = new Map(rows.map((row) => [Number(row.ordinal), row.text]));
    return ordinals.map((o) => byOrdinal.get(o) ?? null);
  }

  /** Closes the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await disconnect(this.s);
  }
}
