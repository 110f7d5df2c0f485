/**
 * `colts/pg`: the PostgreSQL index location (`postgres://user@host:port/db?prefix=...`): build, add,
 * delete, upgrade in place, and search over an index kept in PostgreSQL tables (PLAID over IVF lists
 * stored in the database, an optional FDE first stage in a pgvector HNSW index + exact MaxSim,
 * exhaustive exact MaxSim, full-text keyword search, and their hybrid), and the URL helpers.
 * Re-exports only.
 */
export {
  buildPgIndex,
  addToPgIndex,
  deleteFromPgIndex,
  DEFAULT_INSERT_DOCS,
  DEFAULT_TEXT_SEARCH_CONFIG,
  type PgBuildOptions,
  type PgWriteOptions,
  type PgWriteResult,
} from "./writer.js";
export { PgIndex, type PgOpenOptions, type PgIndexInfo, type PgQuery, type PgEncodedQuery, type PgTextQuery } from "./pg-index.js";
export {
  DEFAULT_BATCH_DOCS,
  DEFAULT_CANDIDATES,
  DEFAULT_EF_FACTOR,
  DEFAULT_MAX_SCAN_TUPLES,
  DEFAULT_DEPTH,
  DEFAULT_RRF_K,
  MAX_EF_SEARCH,
  type PgSearchOptions,
  type PgRetriever,
} from "./search-options.js";
export { type PgFdeOptions, type PgFdeSettings } from "./fde.js";
export { parsePgUrl, redactUrl, isPgUrl, DEFAULT_PREFIX, PREFIX_PATTERN, type PgLocation } from "./url.js";
export { filterToPgSql, type PgCondition } from "./filter-sql.js";
export { readPgSummary, vacuumPgIndex, PgTexts, type PgSummary } from "./documents.js";
export { SCHEMA_VERSION, SCHEMA_FORMAT, SHARDED_SCHEMA_VERSION, MIN_PGVECTOR } from "./schema.js";
export { upgradePgIndex, UPGRADABLE_VERSION, UPGRADABLE_SHARDED_VERSION, type PgUpgradeOptions, type PgUpgradeResult } from "./upgrade.js";
