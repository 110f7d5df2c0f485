/**
 * A chunk: a group of documents with their compressed vectors and their own inverted file (IVF), in
 * one immutable file ("plaid-chunk" v2). Adding documents writes new chunks; deleting marks
 * tombstones; compaction rewrites chunks. Nothing is ever modified in place.
 *
 * Arrays (n = documents, v = vectors, k = centroids, b = dim * nbits / 8):
 *   ordinals    u32     [n]      index-wide document ordinal of each local document (stable ids)
 *   doclens     u32     [n]      vectors per document
 *   codes       u16|i32 [v]      centroid of each vector, documents one after another
 *   residuals   u8      [v, b]   packed residual buckets
 *   ivfOffsets  u32     [k + 1]  CSR offsets into ivfDocs per centroid
 *   ivfDocs     u16|u32 [e]      local document indexes having a vector in that centroid, ascending, unique
 *
 * Version 2 stores codes as u16 when the codec has at most 65,536 centroids and ivfDocs as u16 when
 * the chunk holds at most 65,536 documents (the defaults: PLAID's k reaches 2^16 only past ~16M
 * vectors, chunks hold 25,000 documents): at nbits 2, dim 128 that is ~36 bytes per vector instead of
 * ~38.5, and the narrow arrays stay narrow in memory. Version 1 (always i32 / u32) is still read.
 */
import { ColtsError } from "../errors.js";
import { getArray, readArrays, writeArrays, type ArraysFile, type StoredArray } from "../store/arrays.js";
import type { CodeArray } from "./codec.js";

export const CHUNK_KIND = "plaid-chunk";
export const CHUNK_VERSION = 2;

/** Largest count a u16 array can index: codes below it, local documents below it. */
const U16_LIMIT = 65_536;

/** Local document indexes of a chunk's IVF: u16 when the chunk holds at most 65,536 documents. */
export type LocalDocArray = Uint32Array | Uint16Array;

export interface Chunk {
  ordinals: Uint32Array;
  doclens: Uint32Array;
  /** Prefix sums of doclens: vectors of local doc i are [offsets[i], offsets[i + 1]). Derived, not stored. */
  offsets: Float64Array;
  codes: CodeArray;
  residuals: Uint8Array;
  ivfOffsets: Uint32Array;
  ivfDocs: LocalDocArray;
}

/** Codes in the narrowest array the codec's centroid count allows (u16 up to 65,536 centroids). */
export function narrowCodes(codes: CodeArray, numCentroids: number): CodeArray {
  if (numCentroids > U16_LIMIT) return codes instanceof Int32Array ? codes : Int32Array.from(codes);
  return codes instanceof Uint16Array ? codes : Uint16Array.from(codes);
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
export function buildIvf(codes: CodeArray, doclens: Uint32Array, numCentroids: number): { ivfOffsets: Uint32Array; ivfDocs: LocalDocArray } {
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
  const entries = counts[numCentroids] as number;
  const ivfDocs = doclens.length <= U16_LIMIT ? new Uint16Array(entries) : new Uint32Array(entries);
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

export function makeChunk(ordinals: Uint32Array, doclens: Uint32Array, codes: CodeArray, residuals: Uint8Array, numCentroids: number): Chunk {
  const narrow = narrowCodes(codes, numCentroids);
  return { ordinals, doclens, offsets: prefixSums(doclens), codes: narrow, residuals, ...buildIvf(narrow, doclens, numCentroids) };
}

/** An array stored as one of `wide` or (from version 2 on) `narrow`. */
function getEither<W extends StoredArray, N extends StoredArray>(f: ArraysFile, name: string, wide: new (...args: never[]) => W, narrow: new (...args: never[]) => N, file: string): W | N {
  const a = f.arrays.get(name);
  if (f.version >= 2 && a instanceof narrow) return a;
  return getArray(f, name, wide, file);
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
    codes: getEither(f, "codes", Int32Array, Uint16Array, file),
    residuals: getArray(f, "residuals", Uint8Array, file),
    ivfOffsets: getArray(f, "ivfOffsets", Uint32Array, file),
    ivfDocs: getEither(f, "ivfDocs", Uint32Array, Uint16Array, file),
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
