/**
 * `colts/pg`: the PostgreSQL index location (`postgres://user@host:port/db?prefix=...`): build, add,
 * delete and exact search over an index kept in PostgreSQL tables, and the URL helpers. Re-exports only.
 */
export { buildPgIndex, addToPgIndex, deleteFromPgIndex, DEFAULT_INSERT_DOCS, type PgBuildOptions, type PgWriteOptions, type PgWriteResult } from "./writer.js";
export { PgIndex, DEFAULT_BATCH_DOCS, type PgOpenOptions, type PgSearchOptions, type PgIndexInfo } from "./pg-index.js";
export { parsePgUrl, redactUrl, isPgUrl, DEFAULT_PREFIX, PREFIX_PATTERN, type PgLocation } from "./url.js";
export { filterToPgSql, type PgCondition } from "./filter-sql.js";
export { SCHEMA_VERSION, SCHEMA_FORMAT } from "./schema.js";
export { readPgSummary, vacuumPgIndex, PgTexts, type PgSummary } from "./documents.js";
