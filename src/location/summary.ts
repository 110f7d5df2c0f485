/** What a location holds, read without opening it for search (the server's main thread reads it). */
import type { PgSummary } from "../pg/documents.js";
import { isDrifted } from "../plaid/manifest.js";
import { readManifest } from "../plaid/validate.js";
import { locationKind } from "./open.js";
import type { LocationKind } from "./types.js";

/**
 * Counts and parameters of an index, the same fields for both kinds of location: a PostgreSQL
 * index's summary (pg/documents.ts) plus the kind and the ordinal count. For a folder, `location` is
 * the folder, `liveDocuments` excludes tombstones and `hasText` says the index stores texts.
 */
export interface LocationSummary extends PgSummary {
  /** Folder or PostgreSQL. */
  kind: LocationKind;
  /** Ordinals allocated, deleted documents included until a compaction (PostgreSQL: live documents, it keeps no tombstones). */
  documents: number;
}

/** The summary of the index at `location` (a folder: readManifest's codes; a URL: readPgSummary's). */
export async function summarize(location: string): Promise<LocationSummary> {
  if (locationKind(location) === "postgres") {
    // Loaded on first use (see open.ts).
    const { readPgSummary } = await import("../pg/documents.js");
    const s = await readPgSummary(location);
    return { kind: "postgres", ...s, documents: s.liveDocuments };
  }
  const m = readManifest(location);
  return {
    kind: "folder",
    location,
    generation: m.generation,
    documents: m.numDocs,
    liveDocuments: m.liveDocs,
    vectors: m.chunks.reduce((a, c) => a + c.vectors, 0),
    dim: m.dim,
    nbits: m.nbits,
    centroids: m.numCentroids,
    poolFactor: m.poolFactor,
    model: m.model,
    hasText: Boolean(m.bm25File),
    updatedAt: m.updatedAt,
    drifted: isDrifted(m.drift),
  };
}
