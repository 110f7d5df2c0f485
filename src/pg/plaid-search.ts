/**
 * Stages 1 and 2 of the "plaid" retriever over IVF lists read from PostgreSQL (ivf.ts), with the
 * folder index's own stage-2 code: the lists become a chunk that holds nothing but an IVF, whose
 * documents are the listed ordinals, and `prunedScores` walks it exactly as it walks a chunk file's.
 * Stages 3 and 4 read the chosen documents' codes and then their residuals (pg-index.ts).
 */
import { ColtsError } from "../errors.js";
import type { Chunk } from "../plaid/chunk.js";
import type { ResidualCodec } from "../plaid/codec.js";
import { prunedScores, topIndexes, type SearchView } from "../plaid/stages.js";
import { listOrdinals } from "./ivf.js";

/** An IVF row as read: a centroid and its list's bytes (sharded: one row per shard holding the centroid). */
export interface IvfRow {
  centroid: number;
  ordinals: Buffer;
}

/** The lists of the read rows as one IVF-only chunk: its local documents are the distinct listed ordinals, ascending. */
export interface ListsChunk {
  chunk: Chunk;
  /** local index -> ordinal. */
  ordinals: Uint32Array;
}

/**
 * The rows' lists as a chunk (no codes, no residuals): ivfOffsets [K + 1] over ivfDocs, local indexes
 * of the ordinals, each centroid's entries ascending (lists of one centroid from several rows, one per
 * shard, are merged), so that the chunk is the same whatever the rows' order or sharding. `extra`:
 * ordinals to hold as documents even if no list names them (a filter's fallback candidates).
 * INDEX_CORRUPT for a centroid outside 0..K-1.
 */
export function listsChunk(rows: readonly IvfRow[], numCentroids: number, where: string, extra: readonly number[] = []): ListsChunk {
  const lists = rows.map((r) => {
    if (!Number.isInteger(r.centroid) || r.centroid < 0 || r.centroid >= numCentroids) {
      throw new ColtsError("INDEX_CORRUPT", `${where}: an IVF list names centroid ${r.centroid}, the codec has ${numCentroids}`, { details: { centroid: r.centroid } });
    }
    return { centroid: r.centroid, ordinals: listOrdinals(r.ordinals, r.centroid, where) };
  });
  let total = 0;
  for (const l of lists) total += l.ordinals.length;
  const { ordinals, localOf } = localIndexes(lists.map((l) => l.ordinals), extra, total);
  const ivfOffsets = new Uint32Array(numCentroids + 1);
  for (const l of lists) ivfOffsets[l.centroid + 1] = (ivfOffsets[l.centroid + 1] as number) + l.ordinals.length;
  for (let c = 0; c < numCentroids; c++) ivfOffsets[c + 1] = (ivfOffsets[c + 1] as number) + (ivfOffsets[c] as number);
  const fill = ivfOffsets.slice(0, numCentroids);
  const ivfDocs = new Uint32Array(total);
  // A list stored ascending (as writes keep them) needs no sort; one centroid's rows from several
  // shards, or a list out of order, are sorted after the fill.
  const unsorted = new Set<number>();
  for (const l of lists) {
    let p = fill[l.centroid] as number;
    if (p > (ivfOffsets[l.centroid] as number)) unsorted.add(l.centroid);
    let previous = -1;
    for (const o of l.ordinals) {
      const local = localOf(o);
      if (local < previous) unsorted.add(l.centroid);
      ivfDocs[p++] = previous = local;
    }
    fill[l.centroid] = p;
  }
  for (const c of unsorted) ivfDocs.subarray(ivfOffsets[c], ivfOffsets[c + 1]).sort();
  const n = ordinals.length;
  const chunk: Chunk = { ordinals, doclens: new Uint32Array(n), offsets: new Float64Array(n + 1), codes: new Int32Array(0), residuals: new Uint8Array(0), ivfOffsets, ivfDocs };
  return { chunk, ordinals };
}

/**
 * The distinct values of some lists and `extra`, ascending, and the position of each among them.
 * total: the lists' summed length. When the values span a range within a few times their count (a
 * query's lists usually name a good share of a collection) a slot per value in the range replaces
 * the sort and the hash map: at SciFact's size a query's ~1,000 lists hold ~67,000 entries over 5,183
 * documents, and the map lookups were the largest JavaScript cost of a search.
 */
function localIndexes(lists: readonly Uint32Array[], extra: readonly number[], total: number): { ordinals: Uint32Array; localOf: (ordinal: number) => number } {
  let min = Infinity;
  let max = -Infinity;
  for (const l of lists) {
    for (const o of l) {
      if (o < min) min = o;
      if (o > max) max = o;
    }
  }
  for (const o of extra) {
    if (o < min) min = o;
    if (o > max) max = o;
  }
  if (max < min) return { ordinals: new Uint32Array(0), localOf: () => -1 };
  const range = max - min + 1;
  if (range > DENSE_FACTOR * (total + extra.length) + DENSE_SLACK) return sparseIndexes(lists, extra);
  const slot = new Int32Array(range).fill(-1); // ordinal - min -> local index (-1: absent)
  for (const l of lists) for (const o of l) slot[o - min] = 0;
  for (const o of extra) slot[o - min] = 0;
  let n = 0;
  for (let i = 0; i < range; i++) if (slot[i] === 0) slot[i] = n++;
  const ordinals = new Uint32Array(n);
  for (let i = 0; i < range; i++) if ((slot[i] as number) >= 0) ordinals[slot[i] as number] = i + min;
  return { ordinals, localOf: (o) => slot[o - min] as number };
}

/** The slot array is used while the range is at most this many times the values' count (plus DENSE_SLACK). */
const DENSE_FACTOR = 8;
const DENSE_SLACK = 4096;

/** `localIndexes` by sorting every value and a hash map, for values spread over a wide range. */
function sparseIndexes(lists: readonly Uint32Array[], extra: readonly number[]): { ordinals: Uint32Array; localOf: (ordinal: number) => number } {
  const all = new Uint32Array(lists.reduce((n, l) => n + l.length, 0) + extra.length);
  let at = 0;
  for (const l of lists) {
    all.set(l, at);
    at += l.length;
  }
  all.set(extra, at);
  all.sort();
  let n = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) all[n++] = all[i] as number;
  const ordinals = all.slice(0, n);
  const local = new Map<number, number>();
  ordinals.forEach((o, i) => local.set(o, i));
  return { ordinals, localOf: (o) => local.get(o) as number };
}

/**
 * The distinct local documents of the probed centroids' lists (ids < 0 ignored), in the order the
 * folder index's stage 1 gives them: probed centroid by probed centroid, each list ascending. Stage
 * 2 breaks ties by this order. probed: [nq * ncells].
 */
export function probedDocuments(chunk: Chunk, probed: ArrayLike<number>): number[] {
  const seen = new Uint8Array(chunk.ordinals.length);
  const cells = new Set<number>();
  for (let i = 0; i < probed.length; i++) {
    const c = probed[i] as number;
    if (c >= 0 && c + 1 < chunk.ivfOffsets.length) cells.add(c);
  }
  const out: number[] = [];
  for (const c of cells) {
    for (let p = chunk.ivfOffsets[c] as number; p < (chunk.ivfOffsets[c + 1] as number); p++) {
      const local = chunk.ivfDocs[p] as number;
      if (seen[local]) continue;
      seen[local] = 1;
      out.push(local);
    }
  }
  return out;
}

/**
 * Stage 2: the `ndocs` candidates (local documents of `lists`) with the best pruned approximate
 * score, counting only the centroids with keep[c] = 1; their ordinals, best first (ties: earlier in
 * `cands` first).
 * scores: [K, nq] centroid-major; keep: [K].
 */
export function stage2Ordinals(codec: ResidualCodec, lists: ListsChunk, cands: readonly number[], scores: Float32Array, nq: number, keep: Uint8Array, ndocs: number): number[] {
  if (cands.length === 0) return [];
  const view: SearchView = { codec, chunks: [lists.chunk], allowed: null, deleted: new Uint8Array(0) };
  const s2 = prunedScores(view, cands, scores, nq, keep);
  return topIndexes(s2, ndocs).map((i) => lists.ordinals[cands[i] as number] as number);
}
