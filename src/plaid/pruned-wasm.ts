/**
 * Running maxima over (item, row) pairs as a WebAssembly SIMD kernel: every pair raises the item's
 * nq maxima to the row's nq values. PLAID uses it three times per query:
 * - stage 2: items = candidates, rows = the kept centroids' scores, pairs from the kept centroids' IVF
 *   lists (~2M scalar max updates per query at 1M documents);
 * - stage 3: items = stage 2's documents, rows = every centroid's scores, each document's codes as
 *   one run (`maxRuns`, the module's second function: the item's maxima stay in registers while its
 *   run is read; pairs for queries of more than 64 vectors);
 * - stage 4: items = stage 3's documents, rows = their vectors' similarities to the query vectors.
 * V8 runs such a loop one lane at a time with a bounds check per load; here JavaScript only records
 * the pairs (or copies the runs) and the kernel applies them four lanes per instruction.
 *
 * Exactness: f32x4.pmax(best, s) is `best < s ? s : best` per lane, the JavaScript update
 * `if (s > best) best = s` (NaN and signed zeros included), and the sums over query vectors run in
 * JavaScript in the same order as the reference, so scores are bit-identical to the loops they replace.
 */
import { compileModule, emitter, ensureMemory, get, I32, i32, instantiate, kernelModuleBytes, mem, op, set, SIMD, simd, V128, type KernelFunction, type WasmMemory } from "../util/wasm.js";

// Locals of `maxPairs`: the five parameters, then i32 scratch.
const [PAIRS, PAIRS_END, ROW_BYTES, BEST, ROWS] = [0, 1, 2, 3, 4];
const [B, R, B_END] = [5, 6, 7];

/**
 * maxPairs(pairs, pairsEnd, rowBytes, best, rows), byte offsets / sizes as i32:
 *   pairs .. pairsEnd: [n, 2] i32, each (item i, row k); best: [items, rowBytes],
 *   rows: [rowCount, rowBytes], rowBytes a multiple of 16: best row i = pmax(best row i, rows row k) lane-wise.
 * With `unrolled` (rowBytes = 16 x unrolled) the lanes of a row are straight-line code: about 30
 * instructions per pair instead of ~100, so the processor overlaps the row reads of several pairs
 * (stage 3's rows are random 128-byte reads from a table of several MB).
 */
function maxPairsBody(unrolled: number | null): number[] {
  const c: number[] = [];
  const emit = emitter(c);
  emit(op.block, op.loop); // pairs
  emit(get(PAIRS), get(PAIRS_END), op.geU, op.brIf, 1);
  emit(get(PAIRS), op.load, ...mem(2, 0), get(ROW_BYTES), op.mul, get(BEST), op.add, set(B));
  emit(get(PAIRS), op.load, ...mem(2, 4), get(ROW_BYTES), op.mul, get(ROWS), op.add, set(R));
  if (unrolled !== null) {
    for (let v = 0; v < unrolled; v++) {
      emit(get(B), get(B), simd(SIMD.load, ...mem(4, 16 * v)), get(R), simd(SIMD.load, ...mem(4, 16 * v)), simd(SIMD.f32x4Pmax), simd(SIMD.store, ...mem(4, 16 * v)));
    }
  } else {
    emit(get(B), get(ROW_BYTES), op.add, set(B_END));
    emit(op.loop); // 16-byte lanes of the row (rowBytes >= 16)
    emit(get(B), get(B), simd(SIMD.load, ...mem(4, 0)), get(R), simd(SIMD.load, ...mem(4, 0)), simd(SIMD.f32x4Pmax), simd(SIMD.store, ...mem(4, 0)));
    emit(get(B), i32(16), op.add, set(B));
    emit(get(R), i32(16), op.add, set(R));
    emit(get(B), get(B_END), op.ltU, op.brIf, 0, op.end);
  }
  emit(get(PAIRS), i32(8), op.add, set(PAIRS), op.br, 0, op.end, op.end);
  return c;
}

// Locals of `maxRuns`: the six parameters, then i32 scratch, then one v128 accumulator per 16-byte lane.
const [CODES, ENDS, ENDS_END, RUN_ROW_BYTES, RUN_BEST, RUN_ROWS] = [0, 1, 2, 3, 4, 5];
const [P, E, RR, RB, ACC0] = [6, 7, 8, 9, 10];

/**
 * maxRuns(codes, ends, endsEnd, rowBytes, best, rows), byte offsets / sizes as i32:
 *   codes: [total] i32 row ids, the items' runs one after another; ends .. endsEnd: [items] i32, the
 *   index in codes where each item's run ends (cumulative); best: [items, rowBytes]; rows: [rowCount,
 *   rowBytes], rowBytes = 16 x unrolled: best row i = pmax(best row i, rows row r) lane-wise for every
 *   r of item i's run. An item's maxima stay in `unrolled` v128 locals while its run is read, so a code
 *   costs one row read instead of a read and a write of the item's row (the pairs kernel's cost).
 */
function maxRunsBody(unrolled: number): number[] {
  const c: number[] = [];
  const emit = emitter(c);
  emit(get(CODES), set(P), get(RUN_BEST), set(RB));
  emit(op.block, op.loop); // items
  emit(get(ENDS), get(ENDS_END), op.geU, op.brIf, 1);
  emit(get(ENDS), op.load, ...mem(2, 0), i32(2), op.shl, get(CODES), op.add, set(E));
  for (let v = 0; v < unrolled; v++) emit(get(RB), simd(SIMD.load, ...mem(4, 16 * v)), set(ACC0 + v));
  emit(op.block, op.loop); // the item's codes
  emit(get(P), get(E), op.geU, op.brIf, 1);
  emit(get(P), op.load, ...mem(2, 0), get(RUN_ROW_BYTES), op.mul, get(RUN_ROWS), op.add, set(RR));
  for (let v = 0; v < unrolled; v++) emit(get(ACC0 + v), get(RR), simd(SIMD.load, ...mem(4, 16 * v)), simd(SIMD.f32x4Pmax), set(ACC0 + v));
  emit(get(P), i32(4), op.add, set(P), op.br, 0, op.end, op.end);
  for (let v = 0; v < unrolled; v++) emit(get(RB), get(ACC0 + v), simd(SIMD.store, ...mem(4, 16 * v)));
  emit(get(RB), get(RUN_ROW_BYTES), op.add, set(RB));
  emit(get(ENDS), i32(4), op.add, set(ENDS), op.br, 0, op.end, op.end);
  return c;
}

interface MaxPairsInstance {
  memory: WasmMemory;
  maxPairs: (pairs: number, pairsEnd: number, rowBytes: number, best: number, rows: number) => void;
  /** Only in modules for rows of up to MAX_UNROLLED lanes. */
  maxRuns?: (codes: number, ends: number, endsEnd: number, rowBytes: number, best: number, rows: number) => void;
}

/** Rows of up to this many 16-byte lanes (64 query vectors) get an unrolled kernel. */
const MAX_UNROLLED = 16;
/** Compiled modules by lanes per row (0: the looping kernel); null where WebAssembly (SIMD) is unavailable. */
const compiled = new Map<number, object | null>();
/** Memory kept between queries up to this size; a larger call gets a throwaway instance. */
const KEEP_BYTES = 64 << 20;
const kept = new Map<number, MaxPairsInstance>();

function newInstance(module: object): MaxPairsInstance {
  const exports = instantiate(module);
  return { memory: exports["memory"] as WasmMemory, maxPairs: exports["maxPairs"] as MaxPairsInstance["maxPairs"], maxRuns: exports["maxRuns"] as MaxPairsInstance["maxRuns"] };
}

/** The module's functions for rows of `key` 16-byte lanes (0: longer rows, looping kernel, no maxRuns). */
function kernelFunctions(key: number): KernelFunction[] {
  const pairs: KernelFunction = { name: "maxPairs", params: 5, locals: [[3, I32]], body: maxPairsBody(key === 0 ? null : key) };
  return key === 0 ? [pairs] : [pairs, { name: "maxRuns", params: 6, locals: [[4, I32], [key, V128]], body: maxRunsBody(key) }];
}

/** An instance for rows of `rowBytes` with at least `bytes` of memory, or null where WebAssembly (SIMD) is unavailable. */
function instanceFor(bytes: number, rowBytes: number): MaxPairsInstance | null {
  const key = rowBytes / 16 <= MAX_UNROLLED ? rowBytes / 16 : 0;
  if (!compiled.has(key)) compiled.set(key, compileModule(kernelModuleBytes(kernelFunctions(key))));
  const module = compiled.get(key) ?? null;
  if (module === null || bytes > 2 ** 31) return null;
  let inst: MaxPairsInstance;
  if (bytes > KEEP_BYTES) inst = newInstance(module);
  else {
    inst = kept.get(key) ?? newInstance(module);
    kept.set(key, inst);
  }
  return ensureMemory(inst.memory, bytes) ? inst : null;
}

/**
 * Writes the walk's (candidate, kept row) pairs into pairs ([n, 2]), sets any[candidate] = 1 for each,
 * and returns n (stages.ts `keptPairs`).
 */
export type PairsFill = (pairs: Int32Array, any: Uint8Array) => number;

/** Per-item maxima as the kernels leave them: best [items, lanes], any [items]. */
export interface Maxima {
  best: Float32Array;
  lanes: number;
  any: Uint8Array;
}

/** Writes rows of nq values into the kernel's [rowCount, lanes] table. */
type WriteRows = (rows: Float32Array, lanes: number) => void;

/**
 * Both kernels' memory: the rows [rowCount, lanes] from 0, best [items, lanes] from rowsBytes, then
 * the call's pairs or runs from `end`.
 */
function layoutOf(rowCount: number, nq: number, items: number): { lanes: number; rowBytes: number; rowsBytes: number; end: number } {
  const lanes = Math.ceil(nq / 4) * 4;
  const rowBytes = lanes * 4;
  const rowsBytes = rowCount * rowBytes;
  return { lanes, rowBytes, rowsBytes, end: rowsBytes + items * rowBytes };
}

/** Writes the rows (padding lanes -Infinity) and returns best, all -Infinity. */
function prepare(buffer: ArrayBuffer, rowCount: number, nq: number, items: number, writeRows: WriteRows): Float32Array {
  const { lanes, rowsBytes } = layoutOf(rowCount, nq, items);
  const rows = new Float32Array(buffer, 0, rowCount * lanes);
  if (lanes !== nq) rows.fill(-Infinity);
  writeRows(rows, lanes);
  return new Float32Array(buffer, rowsBytes, items * lanes).fill(-Infinity);
}

/**
 * Per-item maxima over (item, row) pairs by the kernel, or null where WebAssembly is unavailable.
 * rowCount rows of nq values are written by writeRows into a [rowCount, lanes] table (lanes = nq
 * rounded up to 4; lanes past nq are ignored); fill writes the pairs (item i, row r) and sets any[i].
 * Returns best: [items, lanes] (lane q < nq is the maximum of value q over the item's rows,
 * -Infinity where it has none) and any: [items].
 */
export function pairMaximaWasm(rowCount: number, nq: number, writeRows: WriteRows, items: number, fill: PairsFill, pairsBound: number): Maxima | null {
  const { lanes, rowBytes, rowsBytes, end: start } = layoutOf(rowCount, nq, items);
  const inst = instanceFor(start + pairsBound * 8, rowBytes);
  if (inst === null) return null;
  const buffer = inst.memory.buffer;
  const best = prepare(buffer, rowCount, nq, items, writeRows);
  const any = new Uint8Array(items);
  const n = fill(new Int32Array(buffer, start, pairsBound * 2), any);
  inst.maxPairs(start, start + n * 8, rowBytes, rowsBytes, 0);
  return { best, lanes, any };
}

/**
 * Writes each item's row ids, the items one after another, into codes ([total]), the cumulative end of
 * each item's ids into ends ([items]), and sets any[item] = 1 for an item with at least one id.
 */
export type RunsFill = (codes: Int32Array, ends: Int32Array, any: Uint8Array) => void;

/**
 * Per-item maxima over runs of row ids by the `maxRuns` kernel; null where WebAssembly is unavailable
 * or rows are longer than MAX_UNROLLED lanes (the caller then uses `pairMaximaWasm`). The rows are
 * written by writeRows as for `pairMaximaWasm`; fill writes `total` row ids in all. Returns as
 * `pairMaximaWasm`, with the same values.
 */
export function runMaximaWasm(rowCount: number, nq: number, writeRows: WriteRows, items: number, fill: RunsFill, total: number): Maxima | null {
  const { lanes, rowBytes, rowsBytes, end: codesStart } = layoutOf(rowCount, nq, items);
  if (lanes / 4 > MAX_UNROLLED) return null;
  const endsStart = codesStart + total * 4;
  const inst = instanceFor(endsStart + items * 4, rowBytes);
  if (inst === null || inst.maxRuns === undefined) return null;
  const buffer = inst.memory.buffer;
  const best = prepare(buffer, rowCount, nq, items, writeRows);
  const any = new Uint8Array(items);
  fill(new Int32Array(buffer, codesStart, total), new Int32Array(buffer, endsStart, items), any);
  inst.maxRuns(codesStart, endsStart, endsStart + items * 4, rowBytes, rowsBytes, 0);
  return { best, lanes, any };
}

/**
 * Copies rows of nq values from `source` ([*, nq]) into `rows` ([*, lanes]): row ids[k] (or row k
 * when ids is null, `count` rows) goes to row k. One native copy when lanes == nq and ids is null.
 */
export function copyRows(source: Float32Array, nq: number, rows: Float32Array, lanes: number, ids: readonly number[] | null, count: number): void {
  if (ids === null && lanes === nq) {
    rows.set(source.subarray(0, count * nq));
    return;
  }
  for (let k = 0; k < count; k++) {
    const r = ids === null ? k : (ids[k] as number);
    rows.set(source.subarray(r * nq, (r + 1) * nq), k * lanes);
  }
}

/**
 * Stage 2's per-candidate maxima by the kernel, or null where WebAssembly is unavailable.
 * kept: the kept centroids; scores: [K, nq] centroid-major; fill: the walk (pairs of candidate and
 * index into kept); pairsBound: at least the number of pairs it writes. Returns as `pairMaximaWasm`.
 */
export function prunedMaximaWasm(
  kept: readonly number[],
  scores: Float32Array,
  nq: number,
  candidates: number,
  fill: PairsFill,
  pairsBound: number,
): Maxima | null {
  return pairMaximaWasm(kept.length, nq, (rows, lanes) => copyRows(scores, nq, rows, lanes, kept, kept.length), candidates, fill, pairsBound);
}
