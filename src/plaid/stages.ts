/**
 * The four PLAID stages (Santhanam et al. 2022; Stanford ColBERT `colbert/search/`), over the chunks
 * of an index held in memory:
 *   1. candidate generation: for each query vector the `ncells` best centroids; the union of their
 *      IVF lists;
 *   2. centroid interaction with pruning: a document's approximate score is the sum over query
 *      vectors of the best centroid score among its codes, ignoring centroids whose best score over
 *      all query vectors is below `centroidScoreThreshold`; keep the top `ndocs`;
 *   3. the same without pruning; keep the top ndocs / 4;
 *   4. decompress those documents and compute exact MaxSim; keep the top k.
 * Parameters are per call; defaults depend on k and never stick between calls (Stanford's searcher
 * keeps the first call's values, a known bug).
 */
import type { Chunk } from "./chunk.js";
import type { CodeArray, ResidualCodec } from "./codec.js";
import { copyRows, pairMaximaWasm, prunedMaximaWasm, runMaximaWasm, type Maxima, type PairsFill } from "./pruned-wasm.js";
import { ColtsError } from "../errors.js";

/** PLAID's search parameters, per call; any left out takes `plaidDefaults(k, documents)`'s value (never sticky). */
export interface PlaidParams {
  /** Centroids probed per query vector. Default by k: 1 (k <= 10), 2 (k <= 100), 4. Range >= 1. */
  ncells?: number;
  /** Centroids scoring below this for every query vector are ignored in stage 2. Default 0.5 / 0.45 / 0.4. */
  centroidScoreThreshold?: number;
  /**
   * Documents kept after stage 2 (stage 3 keeps a quarter). Default by k, 256 / 1024 / max(4k, 4096),
   * doubled for each doubling of the collection beyond NDOCS_SCALE_DOCS documents (x4 at 1M: 1024
   * for k = 10). More: higher recall, slower stages 2-4 (see `plaidDefaults`). Range >= 1.
   */
  ndocs?: number;
}

/** The library API takes parameters unchecked by a schema: refuse what would silently return nothing. */
function checkedParams(p: Required<PlaidParams>): Required<PlaidParams> {
  for (const name of ["ncells", "ndocs"] as const) {
    if (!Number.isInteger(p[name]) || p[name] < 1) throw new ColtsError("INPUT_INVALID", `PLAID parameter ${name} must be an integer >= 1, got ${p[name]}`);
  }
  if (!Number.isFinite(p.centroidScoreThreshold)) throw new ColtsError("INPUT_INVALID", `PLAID parameter centroidScoreThreshold must be a finite number, got ${p.centroidScoreThreshold}`);
  return p;
}

/** Hits a search returns when it names no k (PlaidIndex, Searcher, the HTTP API and the CLI). */
export const DEFAULT_K = 10;

/**
 * Collection size up to which PLAID's own ndocs holds; beyond it ndocs doubles per doubling of the
 * collection. Measured on the synthetic benchmark (bench/RESULTS.md, 100 queries, recall@10 against
 * `exact: true`): ndocs 256 keeps 0.986 at 100k documents but 0.745 at 1M, where 512 keeps 0.913 and
 * 1024 keeps 0.969 (p50 25.7 ms): the candidates of the probed cells grow with the collection, and
 * stages 2-3 must keep the same share of them.
 */
export const NDOCS_SCALE_DOCS = 250_000;

/** 1, 2, 4, ...: the smallest power of two f with f x NDOCS_SCALE_DOCS >= documents. */
export function ndocsScale(documents: number): number {
  let f = 1;
  while (f * NDOCS_SCALE_DOCS < documents) f *= 2;
  return f;
}

/**
 * PLAID's defaults by k (those of ColBERT's `Searcher.dense_search`: wider probing and more
 * candidates for deeper lists), with ndocs scaled by the collection size (`documents`, the documents
 * stored in the index; NDOCS_SCALE_DOCS says why). Up to 250,000 documents they are PLAID's.
 */
export function plaidDefaults(k: number, documents = 0): Required<PlaidParams> {
  const f = ndocsScale(documents);
  if (k <= 10) return { ncells: 1, centroidScoreThreshold: 0.5, ndocs: 256 * f };
  if (k <= 100) return { ncells: 2, centroidScoreThreshold: 0.45, ndocs: 1024 * f };
  return { ncells: 4, centroidScoreThreshold: 0.4, ndocs: Math.max(4 * k, 4096) * f };
}

/** Documents stored in the view's chunks (deleted ones included until a compaction drops them). */
export function storedDocuments(view: Pick<SearchView, "chunks">): number {
  let n = 0;
  for (const c of view.chunks) n += c.doclens.length;
  return n;
}

/** What the stages read: the codec, the chunks, and which ordinals may be returned. */
export interface SearchView {
  codec: ResidualCodec;
  chunks: readonly Chunk[];
  /** 1 = may be returned (live and inside the filter) by ordinal; null = every live document. */
  allowed: Uint8Array | null;
  /** 1 = deleted, by ordinal. */
  deleted: Uint8Array;
  /**
   * false when no document is deleted: with no filter either, stage 1 then skips each candidate's
   * ordinal and tombstone reads (two cache misses per candidate, most of that stage at 1M documents).
   * Absent: `deleted` is consulted.
   */
  anyDeleted?: boolean;
  /**
   * Exact MaxSim over compressed documents for stage 4 and exhaustive search (residual-maxsim.ts
   * `ResidualMaxSim`: decompression in WebAssembly, the product on onnxruntime). Without it the
   * plain-loop reference (`decompressDoc` + `exactScore`) is used.
   */
  exactKernel?: CompressedMaxSim;
}

/** MaxSim of q against documents given as codes and residual bytes, one document's rows after another's. */
export interface CompressedMaxSim {
  // q: [nq, dim]; codes: [rows]; residuals: [rows, bytesPerVector]; doclens: [docs], summing to rows -> [docs]
  score(q: Float32Array, nq: number, codes: CodeArray, residuals: Uint8Array, doclens: ArrayLike<number>): Promise<Float32Array>;
}

/** Rows per kernel call: bounds memory on exhaustive search (dim x 4 bytes of decompressed vectors and nq x 8 bytes of similarities per row). */
const EXACT_BLOCK_ROWS = 1 << 16;

export interface Hit {
  ordinal: number;
  score: number;
}

/** A candidate document: chunk index and local index, packed as chunk * 2^32 + local. */
type Candidate = number;
const pack = (chunk: number, local: number): Candidate => chunk * 4294967296 + local;
const chunkOf = (c: Candidate): number => Math.floor(c / 4294967296);
const localOf = (c: Candidate): number => c % 4294967296;

/**
 * Top `n` centroid ids per query vector, best first (ties: lower centroid id first): the reference
 * of the scoring graph's TopK. scores: [nq, K] row-major (query-major) -> [nq][min(n, K)] centroid ids.
 */
export function topCentroids(scores: Float32Array, K: number, nq: number, n: number): Int32Array[] {
  const m = Math.min(n, K);
  return Array.from({ length: nq }, (_, q) => {
    const ids = new Int32Array(m).fill(-1);
    const vals = new Float32Array(m).fill(-Infinity);
    for (let c = 0; c < K; c++) {
      const s = scores[q * K + c] as number;
      if (s <= (vals[m - 1] as number)) continue;
      let i = m - 1;
      while (i > 0 && (vals[i - 1] as number) < s) {
        vals[i] = vals[i - 1] as number;
        ids[i] = ids[i - 1] as number;
        i--;
      }
      vals[i] = s;
      ids[i] = c;
    }
    return ids;
  });
}

/** What stages 1 to 3 read from one query's centroid scores. */
export interface CentroidScores {
  /**
   * [K, nq] row-major (centroid-major): centroid c's score for query vector q at c * nq + q. Stages 2
   * and 3 read a document's codes one after another, so a centroid's nq scores are contiguous.
   */
  scores: Float32Array;
  /** [nq, n] row-major: query vector q's n = min(ncells, K) best centroids, best first (ties: lower id). */
  top: Int32Array;
  /** [K]: each centroid's best score over the query vectors (stage 2 prunes on it). */
  max: Float32Array;
}

/** Computes a query's centroid scores with its `ncells` best centroids (onnxruntime in PlaidIndex). */
export type CentroidScorer = (ncells: number) => Promise<CentroidScores>;

/**
 * The reference of `CentroidScores` in plain loops (the kernel is tested against it).
 * byQuery: [nq, K] row-major, the scores query vector by query vector.
 */
export function centroidScoresJs(byQuery: Float32Array, K: number, nq: number, ncells: number): CentroidScores {
  const best = topCentroids(byQuery, K, nq, ncells); // [nq][n]
  const n = Math.min(ncells, K);
  const top = new Int32Array(nq * n);
  best.forEach((ids, q) => top.set(ids, q * n));
  const max = new Float32Array(K).fill(-Infinity);
  const scores = new Float32Array(K * nq);
  for (let q = 0; q < nq; q++) {
    for (let c = 0; c < K; c++) {
      const s = byQuery[q * K + c] as number;
      max[c] = Math.max(max[c] as number, s);
      scores[c * nq + q] = s;
    }
  }
  return { scores, top, max };
}

/**
 * Stage 1: candidates from the IVF lists of the probed centroids (ids, any order, repeats and -1
 * ignored), minus deleted / filtered out; chunk by chunk, cells in order of first appearance.
 */
export function candidates(view: SearchView, probed: ArrayLike<number>): Candidate[] {
  const cells = distinctCells(probed);
  const out: Candidate[] = [];
  // One marker array for every chunk, cleared after each, instead of a fresh one per chunk.
  const seen = new Uint8Array(maxChunkDocs(view));
  // Nothing deleted and no filter: every document of the lists is admissible, no ordinal to read.
  const everyOne = view.allowed === null && view.anyDeleted === false;
  // Plain loops over hoisted arrays: the body runs once per IVF entry of the probed cells.
  for (let ci = 0; ci < view.chunks.length; ci++) {
    const { ivfOffsets, ivfDocs, ordinals } = view.chunks[ci] as Chunk;
    for (let j = 0; j < cells.length; j++) {
      const c = cells[j] as number;
      const end = ivfOffsets[c + 1] as number;
      for (let p = ivfOffsets[c] as number; p < end; p++) {
        const local = ivfDocs[p] as number;
        if (seen[local]) continue;
        seen[local] = 1;
        if (everyOne || admissible(view, ordinals[local] as number)) out.push(pack(ci, local));
      }
    }
    seen.fill(0);
  }
  return out;
}

/** The ids >= 0 of probed, each once, in order of first appearance. */
function distinctCells(probed: ArrayLike<number>): number[] {
  const cells = new Set<number>();
  for (let i = 0; i < probed.length; i++) {
    const c = probed[i] as number;
    if (c >= 0) cells.add(c);
  }
  return [...cells];
}

/** The largest chunk's document count. */
function maxChunkDocs(view: Pick<SearchView, "chunks">): number {
  return view.chunks.reduce((m, c) => Math.max(m, c.ordinals.length), 0);
}

function admissible(view: SearchView, ordinal: number): boolean {
  return !view.deleted[ordinal] && (view.allowed === null || view.allowed[ordinal] === 1);
}

/** Every admissible document (used when a filter leaves fewer documents than the IVF would probe). */
export function allAdmissible(view: SearchView): Candidate[] {
  const out: Candidate[] = [];
  view.chunks.forEach((chunk, ci) => chunk.ordinals.forEach((o, local) => admissible(view, o) && out.push(pack(ci, local))));
  return out;
}

/**
 * Stages 2 and 3, document by document: the approximate score of each candidate is the sum over
 * query vectors of the best centroid score among its codes, counting only centroids with keep[c] = 1
 * (stage 2's pruning) or all of them (keep null, stage 3); `noCodeScore(nq)` for a document with no
 * such code.
 * scores: [K, nq] centroid-major (`CentroidScores.scores`) -> [cands.length].
 */
export function approximateScores(view: SearchView, cands: readonly Candidate[], scores: Float32Array, nq: number, keep: Uint8Array | null): Float32Array {
  const out = new Float32Array(cands.length);
  const best = new Float32Array(nq);
  // A code repeated within a document adds nothing to a maximum: seen[c] = 1 + the candidate that last read c.
  const seen = new Int32Array(view.codec.numCentroids);
  cands.forEach((cand, i) => {
    const chunk = view.chunks[chunkOf(cand)] as Chunk;
    const local = localOf(cand);
    best.fill(-Infinity);
    let any = false;
    for (let v = chunk.offsets[local] as number; v < (chunk.offsets[local + 1] as number); v++) {
      const c = chunk.codes[v] as number;
      if ((keep && !keep[c]) || seen[c] === i + 1) continue;
      seen[c] = i + 1;
      any = true;
      const o = c * nq;
      for (let q = 0; q < nq; q++) {
        const s = scores[o + q] as number;
        if (s > (best[q] as number)) best[q] = s;
      }
    }
    out[i] = any ? sumRow(best, 0, nq) : noCodeScore(nq);
  });
  return out;
}

/**
 * Approximate score of a document none of whose codes counts: ColBERT's C++ (`filter_pids`) starts
 * every query vector's maximum at -9999 and sums, so such a document ranks below any document with
 * a counted code, even one whose sum is negative.
 */
export function noCodeScore(nq: number): number {
  return -9999 * nq;
}

function sumRow(values: Float32Array, start: number, n: number): number {
  let total = 0;
  for (let q = 0; q < n; q++) total += values[start + q] as number;
  return total;
}

/**
 * Stage 2, centroid by centroid: the same scores as `approximateScores(view, cands, scores, nq, keep)`
 * (to the bit), from the kept centroids' IVF lists instead of each candidate's codes. Few centroids
 * pass the threshold (about 60 of 65,536 on the 1M synthetic index, where a candidate holds 64 codes,
 * 16 of them kept), so walking their lists touches a few hot score rows instead of testing every code
 * of every candidate against `keep`. The maxima run in a WebAssembly SIMD kernel (pruned-wasm.ts)
 * where the engine has one, else in `prunedScoresJs`'s loop. Candidates must be distinct (a repeat is
 * refused).
 */
export function prunedScores(view: SearchView, cands: readonly Candidate[], scores: Float32Array, nq: number, keep: Uint8Array): Float32Array {
  const kept = keptList(keep);
  const lists = candidateLists(view, cands);
  const fill = (pairs: Int32Array, any: Uint8Array): number => keptPairs(kept, lists.visit, pairs, any);
  const maxima = prunedMaximaWasm(kept, scores, nq, cands.length, fill, lists.entries(kept)) ?? prunedMaximaJs(kept, scores, nq, cands.length, fill, lists.entries(kept));
  return sumMaxima(maxima, nq);
}

/** `prunedScores` with the maxima in a JavaScript loop: the reference of the kernel, and its fallback. */
export function prunedScoresJs(view: SearchView, cands: readonly Candidate[], scores: Float32Array, nq: number, keep: Uint8Array): Float32Array {
  const kept = keptList(keep);
  const lists = candidateLists(view, cands);
  return sumMaxima(prunedMaximaJs(kept, scores, nq, cands.length, (pairs, any) => keptPairs(kept, lists.visit, pairs, any), lists.entries(kept)), nq);
}

function keptList(keep: Uint8Array): number[] {
  const kept: number[] = [];
  for (let c = 0; c < keep.length; c++) if (keep[c]) kept.push(c);
  return kept;
}

/**
 * The candidates by chunk: visit(chunk, slot) runs once per chunk holding candidates, with slot[local]
 * = the candidate's index in cands for that chunk's documents (-1 for the others); entries(kept)
 * bounds the IVF entries such a walk over the kept centroids reads.
 */
function candidateLists(view: SearchView, cands: readonly Candidate[]): { visit: (f: (chunk: Chunk, slot: Int32Array) => void) => void; entries: (kept: readonly number[]) => number } {
  const byChunk = view.chunks.map(() => [] as number[]);
  cands.forEach((cand, i) => (byChunk[chunkOf(cand)] as number[]).push(i));
  const visit = (f: (chunk: Chunk, slot: Int32Array) => void): void => {
    const slot = new Int32Array(maxChunkDocs(view)).fill(-1);
    byChunk.forEach((members, ci) => {
      if (members.length === 0) return;
      for (const i of members) {
        const local = localOf(cands[i] as Candidate);
        // A repeated candidate would keep only its last copy's slot; candidates() never repeats one.
        if ((slot[local] as number) >= 0) throw new ColtsError("INPUT_INVALID", `prunedScores: candidate ${cands[i]} appears twice`);
        slot[local] = i;
      }
      f(view.chunks[ci] as Chunk, slot);
      for (const i of members) slot[localOf(cands[i] as Candidate)] = -1;
    });
  };
  const entries = (kept: readonly number[]): number => {
    let n = 0;
    byChunk.forEach((members, ci) => {
      if (members.length === 0) return;
      const offsets = (view.chunks[ci] as Chunk).ivfOffsets;
      for (const c of kept) n += (offsets[c + 1] as number) - (offsets[c] as number);
    });
    return n;
  };
  return { visit, entries };
}

/**
 * The walk of stage 2: for every IVF entry of a kept centroid that is a candidate, the pair
 * (candidate index, index into kept) goes to pairs ([n, 2]) and any[candidate] = 1. Returns n.
 */
function keptPairs(kept: readonly number[], visit: (f: (chunk: Chunk, slot: Int32Array) => void) => void, pairs: Int32Array, any: Uint8Array): number {
  let n = 0;
  visit((chunk, slot) => {
    kept.forEach((c, k) => {
      for (let p = chunk.ivfOffsets[c] as number; p < (chunk.ivfOffsets[c + 1] as number); p++) {
        const i = slot[chunk.ivfDocs[p] as number] as number;
        if (i < 0) continue;
        any[i] = 1;
        pairs[n++] = i;
        pairs[n++] = k;
      }
    });
  });
  return n / 2;
}

/** The maxima of the walk's pairs in a JavaScript loop; pairsBound as for `prunedMaximaWasm`. */
function prunedMaximaJs(kept: readonly number[], scores: Float32Array, nq: number, n: number, fill: PairsFill, pairsBound: number): Maxima {
  const best = new Float32Array(n * nq).fill(-Infinity);
  const any = new Uint8Array(n);
  const pairs = new Int32Array(pairsBound * 2);
  const count = fill(pairs, any);
  for (let e = 0; e < count; e++) {
    const b = (pairs[2 * e] as number) * nq;
    const row = (kept[pairs[2 * e + 1] as number] as number) * nq;
    for (let q = 0; q < nq; q++) {
      const s = scores[row + q] as number;
      if (s > (best[b + q] as number)) best[b + q] = s;
    }
  }
  return { best, lanes: nq, any };
}

function sumMaxima(m: Maxima, nq: number): Float32Array {
  const out = new Float32Array(m.any.length);
  for (let i = 0; i < out.length; i++) out[i] = m.any[i] ? sumRow(m.best, i * m.lanes, nq) : noCodeScore(nq);
  return out;
}

/**
 * Stage 2's pruning: 1 for centroids whose best score over the query vectors reaches `threshold`.
 * max: [K] (`CentroidScores.max`) -> [K].
 */
export function keptCentroids(max: Float32Array, threshold: number): Uint8Array {
  const keep = new Uint8Array(max.length);
  for (let c = 0; c < max.length; c++) keep[c] = (max[c] as number) >= threshold ? 1 : 0;
  return keep;
}

/**
 * Indexes of the `n` largest values, best first (ties: lower index first): the first n of a full
 * sort (`topIndexesBySort`, the reference), without sorting every index. The n-th largest value is
 * found with a native numeric sort of a copy, then only the indexes reaching it are sorted.
 */
export function topIndexes(values: Float32Array | Float64Array, count: number): number[] {
  const n = Math.floor(count);
  if (!(n > 0)) return [];
  if (n >= values.length) return topIndexesBySort(values, n);
  const threshold = Float64Array.from(values).sort()[values.length - n] as number;
  // NaN sorts last and compares with nothing: leave such inputs to the reference.
  if (Number.isNaN(threshold)) return topIndexesBySort(values, n);
  const above: number[] = [];
  const at: number[] = [];
  values.forEach((v, i) => (v > threshold ? above.push(i) : v === threshold && at.push(i)));
  // Every value above the threshold is in; values equal to it fill the rest, lower indexes first.
  const picked = above.concat(at.slice(0, n - above.length));
  return picked.sort((a, b) => (values[b] as number) - (values[a] as number) || a - b);
}

/** The reference of `topIndexes`: every index sorted by value, best first, ties by index. */
export function topIndexesBySort(values: Float32Array | Float64Array, n: number): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => (values[b] as number) - (values[a] as number) || a - b);
  return idx.slice(0, Math.max(0, Math.floor(n)));
}

/** Exact MaxSim of a decompressed document. q: [nq, dim]; doc: [n, dim]. */
export function exactScore(q: Float32Array, nq: number, doc: Float32Array, n: number, dim: number): number {
  let total = 0;
  for (let i = 0; i < nq; i++) {
    let top = -Infinity;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += (q[i * dim + k] as number) * (doc[j * dim + k] as number);
      if (s > top) top = s;
    }
    if (n > 0) total += top;
  }
  return total;
}

/** Decompressed vectors of one candidate: [doclen, dim]. */
export function decompressDoc(view: SearchView, cand: Candidate): { vectors: Float32Array; n: number } {
  const chunk = view.chunks[chunkOf(cand)] as Chunk;
  const local = localOf(cand);
  const start = chunk.offsets[local] as number;
  const end = chunk.offsets[local + 1] as number;
  const bpv = view.codec.bytesPerVector;
  const vectors = view.codec.decompress(chunk.codes.subarray(start, end), chunk.residuals.subarray(start * bpv, end * bpv));
  return { vectors, n: end - start };
}

function doclen(view: SearchView, cand: Candidate): number {
  return (view.chunks[chunkOf(cand)] as Chunk).doclens[localOf(cand)] as number;
}

export function ordinalOf(view: SearchView, cand: Candidate): number {
  return (view.chunks[chunkOf(cand)] as Chunk).ordinals[localOf(cand)] as number;
}

/** The steps of `plaidSearch` as its `onStage` hook names them. */
export type PlaidStage = "centroids" | "candidates" | "stage2" | "stage3" | "stage4";

/** Instrumentation of one `plaidSearch` call (benchmarks' stage profiles); none by default. */
export interface PlaidSearchOptions {
  /**
   * Called after each stage that ran, in order, with its wall time in ms (>= 0) and what it passed
   * on: centroids: probed cells (query vectors x ncells); candidates: candidate documents; stage2 and
   * stage3: documents kept; stage4: hits. A search without candidates stops after "candidates".
   * When absent no clock is read.
   */
  onStage?: (stage: PlaidStage, ms: number, count: number) => void;
}

/**
 * The whole pipeline for one query.
 * q: [nq, dim] unit rows; scoreCentroids: q's centroid scores (the caller's kernel).
 */
export async function plaidSearch(
  view: SearchView,
  q: Float32Array,
  nq: number,
  scoreCentroids: CentroidScorer,
  k: number,
  params: PlaidParams = {},
  options: PlaidSearchOptions = {},
): Promise<Hit[]> {
  const p = checkedParams({ ...plaidDefaults(k, storedDocuments(view)), ...params });
  const onStage = options.onStage;
  let t = onStage ? performance.now() : 0;
  /** Reports a stage and restarts the clock (only called when there is a hook). */
  const done = (stage: PlaidStage, count: number): void => {
    if (!onStage) return;
    const now = performance.now();
    onStage(stage, now - t, count);
    t = performance.now();
  };
  const { scores, top, max } = await scoreCentroids(p.ncells);
  done("centroids", top.length);
  let cands = candidates(view, top);
  // A selective filter can leave fewer than k candidates in the probed cells: then score every
  // admissible document, so that k results come back whenever k documents match.
  if (view.allowed !== null && cands.length < k) cands = allAdmissible(view);
  done("candidates", cands.length);
  if (cands.length === 0) return [];
  const s2 = prunedScores(view, cands, scores, nq, keptCentroids(max, p.centroidScoreThreshold));
  const stage2 = topIndexes(s2, p.ndocs).map((i) => cands[i] as Candidate);
  done("stage2", stage2.length);
  const s3 = stage3Scores(view, stage2, scores, nq);
  const stage3 = topIndexes(s3, Math.max(k, Math.floor(p.ndocs / 4))).map((i) => stage2[i] as Candidate);
  done("stage3", stage3.length);
  const hits = await rankExactly(view, stage3, q, nq, k);
  done("stage4", hits.length);
  return hits;
}

/**
 * Stage 4 (and the exhaustive search): exact MaxSim on decompressed vectors, top k. With a kernel,
 * the candidates' codes and residuals are gathered into blocks of at most EXACT_BLOCK_ROWS rows (a
 * longer document alone) and each block is scored in one kernel call.
 */
export async function rankExactly(view: SearchView, cands: readonly Candidate[], q: Float32Array, nq: number, k: number): Promise<Hit[]> {
  const dim = view.codec.dim;
  const hits: Hit[] = [];
  const kernel = view.exactKernel;
  if (!kernel) {
    for (const c of cands) {
      const d = decompressDoc(view, c);
      hits.push({ ordinal: ordinalOf(view, c), score: exactScore(q, nq, d.vectors, d.n, dim) });
    }
  } else {
    for (const block of rowBlocks(cands.map((c) => doclen(view, c)), EXACT_BLOCK_ROWS)) {
      const members = cands.slice(block.start, block.end);
      const { codes, residuals, doclens } = gatherCompressed(view, members);
      const scores = await kernel.score(q, nq, codes, residuals, doclens);
      members.forEach((c, i) => hits.push({ ordinal: ordinalOf(view, c), score: scores[i] as number }));
    }
  }
  hits.sort((a, b) => b.score - a.score || a.ordinal - b.ordinal);
  return hits.slice(0, k);
}

/**
 * Consecutive ranges [start, end) of documents whose lengths sum to at most maxRows (a longer
 * document forms a range of its own); empty input gives no range.
 */
export function rowBlocks(lengths: readonly number[], maxRows: number): { start: number; end: number }[] {
  const blocks: { start: number; end: number }[] = [];
  let start = 0;
  let rows = 0;
  lengths.forEach((len, i) => {
    if (i > start && rows + len > maxRows) {
      blocks.push({ start, end: i });
      start = i;
      rows = 0;
    }
    rows += len;
  });
  if (lengths.length > start) blocks.push({ start, end: lengths.length });
  return blocks;
}

/** The candidates' codes [rows] and residual bytes [rows, bytesPerVector], one document after another, with their lengths. */
export function gatherCompressed(view: SearchView, cands: readonly Candidate[]): { codes: Int32Array; residuals: Uint8Array; doclens: Uint32Array } {
  const bpv = view.codec.bytesPerVector;
  const doclens = Uint32Array.from(cands, (c) => doclen(view, c));
  const rows = doclens.reduce((a, b) => a + b, 0);
  const codes = new Int32Array(rows);
  const residuals = new Uint8Array(rows * bpv);
  let row = 0;
  for (const cand of cands) {
    const chunk = view.chunks[chunkOf(cand)] as Chunk;
    const local = localOf(cand);
    const start = chunk.offsets[local] as number;
    const end = chunk.offsets[local + 1] as number;
    codes.set(chunk.codes.subarray(start, end), row);
    residuals.set(chunk.residuals.subarray(start * bpv, end * bpv), row * bpv);
    row += end - start;
  }
  return { codes, residuals, doclens };
}

/**
 * Stage 3: `approximateScores(view, cands, scores, nq, null)`, by the pairs kernel where the engine
 * has WebAssembly SIMD (bit-identical). scores: [K, nq] -> [cands.length].
 */
export function stage3Scores(view: SearchView, cands: readonly Candidate[], scores: Float32Array, nq: number): Float32Array {
  return approximateScoresWasm(view, cands, scores, nq) ?? approximateScores(view, cands, scores, nq, null);
}

/**
 * `approximateScores(view, cands, scores, nq, null)` with the maxima in the pairs kernel
 * (pruned-wasm.ts; bit-identical), or null where WebAssembly is unavailable: the rows are every
 * centroid's scores, the pairs each candidate's codes. scores: [K, nq] -> [cands.length].
 */
export function approximateScoresWasm(view: SearchView, cands: readonly Candidate[], scores: Float32Array, nq: number): Float32Array | null {
  const K = view.codec.numCentroids;
  let rows = 0;
  for (const c of cands) rows += doclen(view, c);
  const writeRows = (table: Float32Array, lanes: number): void => copyRows(scores, nq, table, lanes, null, K);
  // Each candidate's codes as one run: copied natively, no pair per code written in JavaScript.
  const runs = (codes: Int32Array, ends: Int32Array, any: Uint8Array): void => {
    let n = 0;
    cands.forEach((cand, i) => {
      const chunk = view.chunks[chunkOf(cand)] as Chunk;
      const local = localOf(cand);
      const start = chunk.offsets[local] as number;
      const end = chunk.offsets[local + 1] as number;
      const source = chunk.codes;
      for (let v = start; v < end; v++) codes[n++] = source[v] as number;
      ends[i] = n;
      if (end > start) any[i] = 1;
    });
  };
  const byRuns = runMaximaWasm(K, nq, writeRows, cands.length, runs, rows);
  if (byRuns !== null) return sumMaxima(byRuns, nq);
  const fill = (pairs: Int32Array, any: Uint8Array): number => {
    let n = 0;
    cands.forEach((cand, i) => {
      const chunk = view.chunks[chunkOf(cand)] as Chunk;
      const local = localOf(cand);
      const end = chunk.offsets[local + 1] as number;
      for (let v = chunk.offsets[local] as number; v < end; v++) {
        pairs[n++] = i;
        pairs[n++] = chunk.codes[v] as number;
      }
      if (end > (chunk.offsets[local] as number)) any[i] = 1;
    });
    return n / 2;
  };
  const maxima = pairMaximaWasm(K, nq, writeRows, cands.length, fill, rows);
  return maxima === null ? null : sumMaxima(maxima, nq);
}
