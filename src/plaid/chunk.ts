/**
 * A chunk: a group of documents with their compressed vectors and their own inverted file (IVF), in
 * one immutable file ("plaid-chunk" v1). Adding documents writes new chunks; deleting marks
 * tombstones; compaction rewrites chunks. Nothing is ever modified in place.
 *
 * Arrays (n = documents, v = vectors, k = centroids, b = dim * nbits / 8):
 *   ordinals    u32 [n]      index-wide document ordinal of each local document (stable ids)
 *   doclens     u32 [n]      vectors per document
 *   codes       i32 [v]      centroid of each vector, documents one after another
 *   residuals   u8  [v, b]   packed residual buckets
 *   ivfOffsets  u32 [k + 1]  CSR offsets into ivfDocs per centroid
 *   ivfDocs     u32 [e]      local document indexes having a vector in that centroid, ascending, unique
 */
import { ColtsError } from "../errors.js";
import { getArray, readArrays, writeArrays } from "../store/arrays.js";

export const CHUNK_KIND = "plaid-chunk";
export const CHUNK_VERSION = 1;

export interface Chunk {
  ordinals: Uint32Array;
  doclens: Uint32Array;
  /** Prefix sums of doclens: vectors of local doc i are [offsets[i], offsets[i + 1]). Derived, not stored. */
  offsets: Float64Array;
  codes: Int32Array;
  residuals: Uint8Array;
  ivfOffsets: Uint32Array;
  ivfDocs: Uint32Array;
}

export function prefixSums(doclens: Uint32Array): Float64Array {
  const offsets = new Float64Array(doclens.length + 1);
  for (let i = 0; i < doclens.length; i++) offsets[i + 1] = (offsets[i] as number) + (doclens[i] as number);
  return offsets;
}

/**
 * Builds the chunk's IVF from its codes: for each centroid, the sorted unique local documents that
 * have at least one vector assigned to it.
 */
export function buildIvf(codes: Int32Array, doclens: Uint32Array, numCentroids: number): { ivfOffsets: Uint32Array; ivfDocs: Uint32Array } {
  const counts = new Uint32Array(numCentroids + 1);
  const seen = new Int32Array(numCentroids).fill(-1);
  let v = 0;
  for (let d = 0; d < doclens.length; d++) {
    for (let t = 0; t < (doclens[d] as number); t++, v++) {
      const c = codes[v] as number;
      if (seen[c] !== d) {
        seen[c] = d;
        counts[c + 1] = (counts[c + 1] as number) + 1;
      }
    }
  }
  for (let c = 0; c < numCentroids; c++) counts[c + 1] = (counts[c + 1] as number) + (counts[c] as number);
  const ivfDocs = new Uint32Array(counts[numCentroids] as number);
  const fill = counts.slice(0, numCentroids);
  seen.fill(-1);
  v = 0;
  // Documents are visited in ascending order, so every list comes out sorted.
  for (let d = 0; d < doclens.length; d++) {
    for (let t = 0; t < (doclens[d] as number); t++, v++) {
      const c = codes[v] as number;
      if (seen[c] !== d) {
        seen[c] = d;
        ivfDocs[fill[c] as number] = d;
        fill[c] = (fill[c] as number) + 1;
      }
    }
  }
  return { ivfOffsets: counts, ivfDocs };
}

export function makeChunk(ordinals: Uint32Array, doclens: Uint32Array, codes: Int32Array, residuals: Uint8Array, numCentroids: number): Chunk {
  return { ordinals, doclens, offsets: prefixSums(doclens), codes, residuals, ...buildIvf(codes, doclens, numCentroids) };
}

export function writeChunk(file: string, c: Chunk): number {
  return writeArrays(file, CHUNK_KIND, CHUNK_VERSION, {
    ordinals: c.ordinals,
    doclens: c.doclens,
    codes: c.codes,
    residuals: c.residuals,
    ivfOffsets: c.ivfOffsets,
    ivfDocs: c.ivfDocs,
  });
}

/** Reads and cross-checks a chunk (sizes must agree with each other and with the codec). */
export function readChunk(file: string, numCentroids: number, bytesPerVector: number, verify = true): Chunk {
  const f = readArrays(file, { kind: CHUNK_KIND, maxVersion: CHUNK_VERSION, verify });
  const doclens = getArray(f, "doclens", Uint32Array, file);
  const chunk: Chunk = {
    ordinals: getArray(f, "ordinals", Uint32Array, file),
    doclens,
    offsets: prefixSums(doclens),
    codes: getArray(f, "codes", Int32Array, file),
    residuals: getArray(f, "residuals", Uint8Array, file),
    ivfOffsets: getArray(f, "ivfOffsets", Uint32Array, file),
    ivfDocs: getArray(f, "ivfDocs", Uint32Array, file),
  };
  const v = chunk.offsets[doclens.length] as number;
  const consistent =
    chunk.ordinals.length === doclens.length &&
    chunk.codes.length === v &&
    chunk.residuals.length === v * bytesPerVector &&
    chunk.ivfOffsets.length === numCentroids + 1 &&
    chunk.ivfOffsets[numCentroids] === chunk.ivfDocs.length;
  if (!consistent) throw new ColtsError("INDEX_CORRUPT", `${file}: array sizes disagree with each other or with the codec`, { details: { file } });
  return chunk;
}
