/**
 * The tables of one PostgreSQL index (all named `<prefix><table>`), created by the first build, and
 * the schema version check every open makes (as the on-disk manifest's version is checked).
 *
 *   <p>schema     one row: format "colts-pg", version (SCHEMA_VERSION), created_at
 *   <p>settings   one row: dim, nbits, centroids, pool factor, model, next ordinal, generation, drift;
 *                 the FDE parameters every document FDE was made with (R, k_sim, d_proj, projection
 *                 kind, fill, final dim, seed, size), so queries are encoded the same way; and the text
 *                 search configuration of the tsvector column
 *   <p>codec      one row: the residual codec, the bytes of the on-disk codec file ("plaid-codec" v1)
 *   <p>documents  ordinal (stable, never reused, the tie-break of equal scores), external id
 *                 (unique among live documents), shard (the part of a sharded index that holds it; 0 on one node), metadata (jsonb), text,
 *                 fde (pgvector halfvec(<FDE size>): the MUVERA encoding of the document's vectors,
 *                 HNSW-indexed with halfvec_ip_ops, the FDE first stage of search; NULL in an index
 *                 built without FDEs, settings.fde_enabled false, which has no HNSW index), tsv (tsvector of the
 *                 text in the recorded configuration, GIN-indexed; NULL without text)
 *   <p>vectors    ordinal -> doclen, codes (int32 little-endian [doclen]), residuals
 *                 ([doclen, dim * nbits / 8] packed as on disk); deleted with its document
 *   <p>ivf        centroid -> ordinals (uint32 little-endian) of the documents with a vector assigned
 *                 to it: the first stage of the "plaid" retriever (ivf.ts says how writes keep it)
 *
 * The HNSW and GIN indexes are created by a build after its bulk insert (building an HNSW graph
 * once is much faster than inserting row by row); add and delete keep them, as PostgreSQL maintains
 * indexes with the rows.
 *
 * Deleting a document deletes its rows (one transaction), so there are no tombstones. Ordinals come
 * from `settings.next_ordinal` under the write lock, not from a sequence: a failed write consumes
 * none, and the same documents get the same ordinals as in a folder index.
 *
 * Versions: 1 had no fde / tsv columns and no FDE settings. A version-1 location is refused
 * (INDEX_VERSION, saying to rebuild) by open, add and delete, and replaced by a build with
 * `overwrite`; it is not upgraded in place, because a document's FDE is made from its original
 * vectors, which version 1 kept only compressed. Version 3 was a sharded index's coordinator
 * (sharding.ts): schema, settings and codec as version 2, plus the shard list; its shards held
 * schema (format SHARD_FORMAT), documents and vectors. Versions 4 (one node) and 5 (sharded: the
 * coordinator, and the schema row of each shard) add the ivf table, on the node or on each shard.
 * Versions 2 and 3 are refused by open, add and delete (INDEX_VERSION), which name the upgrade:
 * upgrade.ts brings them to 4 and 5 in place, making the lists from the stored codes (no encoding).
 */
import { ColtsError } from "../errors.js";
import { query, type PgSession } from "./connection.js";
import { PREFIX_PATTERN } from "./url.js";

/** Format name in the schema table. */
export const SCHEMA_FORMAT = "colts-pg";
/** The schema of a single-node index; this colts reads it and SHARDED_SCHEMA_VERSION, and refuses others (INDEX_VERSION). */
export const SCHEMA_VERSION = 4;
/** Schema version of a sharded index's coordinator (sharding.ts): the single-node schema's reference tables plus a shard list. */
export const SHARDED_SCHEMA_VERSION = 5;
/** Format name in the schema table of one shard of a sharded index. */
export const SHARD_FORMAT = "colts-pg-shard";

/** The quoted table names of one index. */
export interface Tables {
  schema: string;
  settings: string;
  codec: string;
  documents: string;
  vectors: string;
  /** centroid -> ordinals of its documents (ivf.ts). */
  ivf: string;
  /** The HNSW index over documents.fde. */
  fdeIndex: string;
  /** The GIN index over documents.tsv. */
  textIndex: string;
}

/** Table names for a prefix; the prefix is checked against PREFIX_PATTERN again, as it is spliced into SQL. */
export function tables(prefix: string): Tables {
  if (!PREFIX_PATTERN.test(prefix)) throw new ColtsError("INPUT_INVALID", `table prefix ${JSON.stringify(prefix)} must match ${PREFIX_PATTERN.source}`);
  const t = (name: string): string => `"${prefix}${name}"`;
  return {
    schema: t("schema"),
    settings: t("settings"),
    codec: t("codec"),
    documents: t("documents"),
    vectors: t("vectors"),
    ivf: t("ivf"),
    fdeIndex: t("documents_fde"),
    textIndex: t("documents_tsv"),
  };
}

/**
 * Which tables a location holds: all of them (one node), the reference data (a sharded index's
 * coordinator: schema, settings, codec) or the documents (a shard: schema, documents, vectors).
 */
export type TablePart = "all" | "coordinator" | "shard";

/**
 * CREATE statements of the current schema, in dependency order, for one kind of location. fdeSize: the FDE length (a checked
 * integer, 1..4000, from muvera/config.ts), spliced as the halfvec type modifier.
 */
export function createStatements(t: Tables, fdeSize: number, part: TablePart = "all"): string[] {
  if (!Number.isInteger(fdeSize) || fdeSize < 1 || fdeSize > 4000) throw new ColtsError("INPUT_INVALID", `FDE size must be an integer in 1..4000, got ${fdeSize}`);
  const [schema, settings, codec, documents, vectors, ivf] = [
    `CREATE TABLE ${t.schema} (format text NOT NULL, version integer NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE TABLE ${t.settings} (
       one boolean PRIMARY KEY DEFAULT true CHECK (one),
       dim integer NOT NULL, nbits integer NOT NULL, num_centroids integer NOT NULL, pool_factor integer NOT NULL,
       model text, next_ordinal bigint NOT NULL, generation bigint NOT NULL,
       trained_avg_residual double precision NOT NULL, last_add_avg_residual double precision,
       fde_repetitions integer NOT NULL, fde_simhash_bits integer NOT NULL, fde_projection_dim integer NOT NULL,
       fde_projection text NOT NULL, fde_fill boolean NOT NULL, fde_final_dim integer, fde_seed bigint NOT NULL, fde_size integer NOT NULL,
       fde_enabled boolean NOT NULL,
       text_search_config text NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE TABLE ${t.codec} (one boolean PRIMARY KEY DEFAULT true CHECK (one), data bytea NOT NULL)`,
    `CREATE TABLE ${t.documents} (
       ordinal bigint PRIMARY KEY, id text NOT NULL UNIQUE, shard integer NOT NULL DEFAULT 0, meta jsonb, text text,
       fde halfvec(${fdeSize}), tsv tsvector)`,
    `CREATE TABLE ${t.vectors} (
       ordinal bigint PRIMARY KEY REFERENCES ${t.documents} (ordinal) ON DELETE CASCADE,
       doclen integer NOT NULL, codes bytea NOT NULL, residuals bytea NOT NULL)`,
    ivfTableStatement(t),
  ] as [string, string, string, string, string, string];
  if (part === "coordinator") return [schema, settings, codec];
  if (part === "shard") return [schema, documents, vectors, ivf];
  return [schema, settings, codec, documents, vectors, ivf];
}

/** The CREATE statement of the ivf table (versions 4 and 5; upgrade.ts adds it to older indexes). */
export function ivfTableStatement(t: Tables): string {
  return `CREATE TABLE ${t.ivf} (centroid integer PRIMARY KEY, ordinals bytea NOT NULL)`;
}

/**
 * pgvector's HNSW build parameters (PgBuildOptions.hnsw): `m`, the links per node (2..100, default
 * 16), and `efConstruction`, the candidate list while linking (4..1000 and at least 2m, default 64).
 */
export interface HnswBuildParams {
  m: number;
  efConstruction: number;
}

/** pgvector's defaults. */
export const DEFAULT_HNSW: HnswBuildParams = { m: 16, efConstruction: 64 };

/** `p` with pgvector's defaults filled in, checked against its ranges (INPUT_INVALID naming the option). */
export function resolveHnsw(p: Partial<HnswBuildParams> = {}): HnswBuildParams {
  const m = p.m ?? DEFAULT_HNSW.m;
  const efConstruction = p.efConstruction ?? DEFAULT_HNSW.efConstruction;
  if (!Number.isInteger(m) || m < 2 || m > 100) throw new ColtsError("INPUT_INVALID", `hnsw.m must be an integer in 2..100, got ${m}`, { details: { field: "hnsw.m" } });
  if (!Number.isInteger(efConstruction) || efConstruction < 4 || efConstruction > 1000 || efConstruction < 2 * m) {
    throw new ColtsError("INPUT_INVALID", `hnsw.efConstruction must be an integer in 4..1000 and at least 2 x m (${2 * m}), got ${efConstruction}`, { details: { field: "hnsw.efConstruction" } });
  }
  return { m, efConstruction };
}

/**
 * The search indexes, created after a build's bulk insert: HNSW over the FDEs by inner product
 * (unless the index is built without FDEs: `fde` false) and GIN over the tsvectors. CREATE INDEX
 * takes no bind parameters, so `hnsw` is checked by `resolveHnsw` here, where it is spliced into SQL,
 * whatever the caller checked before.
 */
export function indexStatements(t: Tables, hnsw: HnswBuildParams = DEFAULT_HNSW, fde = true): string[] {
  const h = resolveHnsw(hnsw);
  return [
    ...(fde ? [`CREATE INDEX ${t.fdeIndex} ON ${t.documents} USING hnsw (fde halfvec_ip_ops) WITH (m = ${h.m}, ef_construction = ${h.efConstruction})`] : []),
    `CREATE INDEX ${t.textIndex} ON ${t.documents} USING gin (tsv)`,
  ];
}

/** DROP statements for an overwrite (children first). */
export function dropStatements(t: Tables): string[] {
  return [t.ivf, t.vectors, t.documents, t.codec, t.settings, t.schema].map((name) => `DROP TABLE IF EXISTS ${name}`);
}

/** True when the location holds an index under this prefix (its schema table exists). */
export async function indexExists(s: PgSession): Promise<boolean> {
  const r = await query<{ exists: boolean }>(s, "look for the index", "SELECT to_regclass($1) IS NOT NULL AS exists", [`"${s.location.prefix}schema"`]);
  return r.rows[0]?.exists === true;
}

/**
 * Checks the schema table like a manifest: INDEX_NOT_FOUND when there is no index under the prefix,
 * INDEX_VERSION for another schema version, INDEX_CORRUPT for a table that is not colts' (or for a
 * shard of a sharded index, which is opened through its coordinator). Returns whether the location
 * is a sharded index's coordinator (version SHARDED_SCHEMA_VERSION; one node: SCHEMA_VERSION).
 */
export async function checkSchema(s: PgSession): Promise<{ sharded: boolean }> {
  const where = `${s.location.redacted} (prefix ${s.location.prefix})`;
  if (!(await indexExists(s))) {
    throw new ColtsError("INDEX_NOT_FOUND", `no colts index at ${where}: build one first`, { details: { location: s.location.redacted } });
  }
  const row = await coltsSchemaRow(s, where, "name its coordinator instead");
  if (row.version !== SCHEMA_VERSION && row.version !== SHARDED_SCHEMA_VERSION) {
    const hint =
      row.version > SHARDED_SCHEMA_VERSION
        ? "upgrade colts"
        : row.version >= 2
          ? "upgrade it in place (colts index upgrade <location>; library: upgradeAt)"
          : "rebuild the index with this colts (build with overwrite)";
    throw new ColtsError("INDEX_VERSION", `${where}: schema version ${row.version}, this colts reads ${SCHEMA_VERSION} (one node) and ${SHARDED_SCHEMA_VERSION} (sharded); ${hint}`, {
      details: { location: s.location.redacted, version: row.version },
    });
  }
  return { sharded: row.version === SHARDED_SCHEMA_VERSION };
}

/** The schema table's one row; undefined when it holds none or several (not a colts table). */
export async function readSchemaRow(s: PgSession): Promise<{ format: string; version: number } | undefined> {
  const r = await query<{ format: string; version: number }>(s, "read the schema version", `SELECT format, version FROM ${tables(s.location.prefix).schema}`);
  return r.rows.length === 1 ? r.rows[0] : undefined;
}

/**
 * The schema row of an index (a single node's or a coordinator's); INDEX_CORRUPT for one shard of a
 * sharded index (`onShard` says what to do instead) or a table that is not colts'. `where` names the
 * location in messages.
 */
export async function coltsSchemaRow(s: PgSession, where: string, onShard: string): Promise<{ format: string; version: number }> {
  const row = await readSchemaRow(s);
  const details = { location: s.location.redacted };
  if (row?.format === SHARD_FORMAT) throw new ColtsError("INDEX_CORRUPT", `${where} is one shard of a sharded index: ${onShard}`, { details });
  if (row?.format !== SCHEMA_FORMAT) throw new ColtsError("INDEX_CORRUPT", `${where}: the schema table does not describe a colts index`, { details });
  return row;
}

/**
 * Takes the index's write lock for the current transaction (released by COMMIT / ROLLBACK), or throws
 * INDEX_BUSY when another writer holds it. One writer per index, as the folder's lock file.
 */
export async function lockForWrite(s: PgSession): Promise<void> {
  const r = await query<{ ok: boolean }>(s, "take the write lock", "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS ok", [`colts-index:${s.location.prefix}`]);
  if (r.rows[0]?.ok !== true) {
    throw new ColtsError("INDEX_BUSY", `${s.location.redacted} (prefix ${s.location.prefix}) is being written by another connection`, { details: { location: s.location.redacted } });
  }
}

/** The oldest pgvector with what search needs: halfvec HNSW (0.7) and iterative index scans (0.8). */
export const MIN_PGVECTOR = [0, 8, 0] as const;

/** Whether a pgvector version string ("0.8.0") is older than MIN_PGVECTOR; unparsable counts as older. */
export function olderThanMinimum(version: string): boolean {
  const parts = version.split(".").map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < MIN_PGVECTOR.length; i++) {
    const v = parts[i] ?? 0;
    if (Number.isNaN(v)) return true;
    if (v !== MIN_PGVECTOR[i]) return v < (MIN_PGVECTOR[i] as number);
  }
  return false;
}

/**
 * Checks that the pgvector extension (`vector`) is installed in the database, at least 0.8.0;
 * with `create`, a build first runs CREATE EXTENSION IF NOT EXISTS (which needs the privilege to).
 * DATABASE_ERROR saying what to run otherwise.
 */
export async function checkPgvector(s: PgSession, create: boolean): Promise<void> {
  const where = s.location.redacted;
  const installed = async (): Promise<string | undefined> =>
    (await query<{ extversion: string }>(s, "read the pgvector version", "SELECT extversion FROM pg_extension WHERE extname = 'vector'")).rows[0]?.extversion;
  let version = await installed();
  // Created only when missing: an installed extension needs no privilege from this role.
  if (version === undefined && create) {
    try {
      await query(s, "create the vector extension", "CREATE EXTENSION IF NOT EXISTS vector");
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new ColtsError("DATABASE_ERROR", `${where}: the pgvector extension is needed and could not be created (${why}); have an administrator run CREATE EXTENSION vector in this database`, {
        cause: e,
        details: { location: where },
      });
    }
    version = await installed();
  }
  if (version === undefined) throw new ColtsError("DATABASE_ERROR", `${where}: the pgvector extension is not installed in this database (CREATE EXTENSION vector)`, { details: { location: where } });
  if (olderThanMinimum(version)) {
    throw new ColtsError("DATABASE_ERROR", `${where}: pgvector ${version} is too old, colts needs ${MIN_PGVECTOR.join(".")} or later (ALTER EXTENSION vector UPDATE)`, {
      details: { location: where, version },
    });
  }
}
