/**
 * `colts/muvera`: MUVERA fixed dimensional encodings, one vector per query or document whose inner
 * product approximates MaxSim (the first stage of a single-vector index such as pgvector HNSW).
 * Re-exports only.
 */
export { FdeEncoder, queryFde, documentFde } from "./fde.js";
export { FDE_DEFAULTS, MAX_FDE_SIZE, MAX_INNER_FDE_SIZE, resolveFdeConfig, type FdeConfig, type ResolvedFdeConfig } from "./config.js";
