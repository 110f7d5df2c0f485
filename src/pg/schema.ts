/**
 * The tables of one PostgreSQL index (all named `<prefix><table>`), created by the first build, and
 * the schema version check every open makes (as the on-disk manifest's version is checked).
 *
 *   <p>schema     one row: format "colts-pg", version (SCHEMA_VERSION), created_at
 *   <p>settings   one row: dim, nbits, centroids, pool factor, model, next ordinal, generation, drift
 *   <p>codec      one row: the residual codec, the bytes of the on-disk codec file ("plaid-codec" v1)
 *   <p>documents  ordinal (stable, never reused, the tie-break of equal scores), external id
 *                 (unique among live documents), shard (0 until sharding), metadata (jsonb), text
 *   <p>vectors    ordinal -> doclen, codes (int32 little-endian [doclen]), residuals
 *                 ([doclen, dim * nbits / 8] packed as on disk); deleted with its document
 *
 * Deleting a document deletes its rows (one transaction), so there are no tombstones. Ordinals come
 * from `settings.next_ordinal` under the write lock, not from a sequence: a failed write consumes
 * none, and the same documents get the same ordinals as in a folder index.
 */
import { ColtsError } from "../errors.js";
import { query, type PgSession } from "./connection.js";
import { PREFIX_PATTERN } from "./url.js";

/** Format name in the schema table. */
export const SCHEMA_FORMAT = "colts-pg";
/** The schema this colts writes and reads; a location with another version is refused (INDEX_VERSION). */
export const SCHEMA_VERSION = 1;

/** The quoted table names of one index. */
export interface Tables {
  schema: string;
  settings: string;
  codec: string;
  documents: string;
  vectors: string;
}

/** Table names for a prefix; the prefix is checked against PREFIX_PATTERN again, as it is spliced into SQL. */
export function tables(prefix: string): Tables {
  if (!PREFIX_PATTERN.test(prefix)) throw new ColtsError("INPUT_INVALID", `table prefix ${JSON.stringify(prefix)} must match ${PREFIX_PATTERN.source}`);
  const t = (name: string): string => `"${prefix}${name}"`;
  return { schema: t("schema"), settings: t("settings"), codec: t("codec"), documents: t("documents"), vectors: t("vectors") };
}

/** CREATE statements of the current schema, in dependency order. */
export function createStatements(t: Tables): string[] {
  return [
    `CREATE TABLE ${t.schema} (format text NOT NULL, version integer NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE TABLE ${t.settings} (
       one boolean PRIMARY KEY DEFAULT true CHECK (one),
       dim integer NOT NULL, nbits integer NOT NULL, num_centroids integer NOT NULL, pool_factor integer NOT NULL,
       model text, next_ordinal bigint NOT NULL, generation bigint NOT NULL,
       trained_avg_residual double precision NOT NULL, last_add_avg_residual double precision,
       created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE TABLE ${t.codec} (one boolean PRIMARY KEY DEFAULT true CHECK (one), data bytea NOT NULL)`,
    `CREATE TABLE ${t.documents} (
       ordinal bigint PRIMARY KEY, id text NOT NULL UNIQUE, shard integer NOT NULL DEFAULT 0, meta jsonb, text text)`,
    `CREATE TABLE ${t.vectors} (
       ordinal bigint PRIMARY KEY REFERENCES ${t.documents} (ordinal) ON DELETE CASCADE,
       doclen integer NOT NULL, codes bytea NOT NULL, residuals bytea NOT NULL)`,
  ];
}

/** DROP statements for an overwrite (children first). */
export function dropStatements(t: Tables): string[] {
  return [t.vectors, t.documents, t.codec, t.settings, t.schema].map((name) => `DROP TABLE IF EXISTS ${name}`);
}

/** True when the location holds an index under this prefix (its schema table exists). */
export async function indexExists(s: PgSession): Promise<boolean> {
  const r = await query<{ exists: boolean }>(s, "look for the index", "SELECT to_regclass($1) IS NOT NULL AS exists", [`"${s.location.prefix}schema"`]);
  return r.rows[0]?.exists === true;
}

/**
 * Checks the schema table like a manifest: INDEX_NOT_FOUND when there is no index under the prefix,
 * INDEX_VERSION for another schema version, INDEX_CORRUPT for a table that is not colts'.
 */
export async function checkSchema(s: PgSession): Promise<void> {
  const where = `${s.location.redacted} (prefix ${s.location.prefix})`;
  if (!(await indexExists(s))) {
    throw new ColtsError("INDEX_NOT_FOUND", `no colts index at ${where}: build one first`, { details: { location: s.location.redacted } });
  }
  const r = await query<{ format: string; version: number }>(s, "read the schema version", `SELECT format, version FROM ${tables(s.location.prefix).schema}`);
  const row = r.rows[0];
  if (r.rows.length !== 1 || row?.format !== SCHEMA_FORMAT) {
    throw new ColtsError("INDEX_CORRUPT", `${where}: the schema table does not describe a colts index`, { details: { location: s.location.redacted } });
  }
  if (row.version !== SCHEMA_VERSION) {
    const hint = row.version > SCHEMA_VERSION ? "upgrade colts" : "rebuild the index with this colts";
    throw new ColtsError("INDEX_VERSION", `${where}: schema version ${row.version}, this colts reads ${SCHEMA_VERSION}; ${hint}`, {
      details: { location: s.location.redacted, version: row.version },
    });
  }
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
