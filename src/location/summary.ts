/** What a location holds, read without opening it for search (the server's main thread reads it). */
import { isDrifted } from "../plaid/manifest.js";
import { readManifest } from "../plaid/validate.js";
import { locationKind } from "./open.js";
import type { LocationKind } from "./types.js";

/** Counts and parameters of an index, the same fields for both kinds of location. */
export interface LocationSummary {
  /** Folder or PostgreSQL. */
  kind: LocationKind;
  /** The folder, or the URL with its password redacted. */
  location: string;
  /** Committed writes so far; moves on every write. */
  generation: number;
  /** Ordinals allocated, deleted documents included until a compaction (PostgreSQL: live documents, it keeps no tombstones). */
  documents: number;
  /** Documents not deleted. */
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
  /** True when the index stores texts (keyword retrievers and explanations work). */
  hasText: boolean;
  /** When the index was last written (ISO 8601). */
  updatedAt: string;
  /** True when added data sits far from the centroids. */
  drifted: boolean;
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
