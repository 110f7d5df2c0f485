/** `colts/server`: the HTTP API and web UI over one or more indexes (what `colts serve` runs). Re-exports only. */
export { buildServer, type ServerDeps, type ColtsServer } from "./build.js";
export { Engine, type EngineOptions, type IndexSummary, type QueryInput } from "./engine.js";
export { DEFAULT_LIMITS, type ServerLimits } from "./schemas.js";
