/**
 * The running maxima of PLAID's stage 2 as a WebAssembly SIMD kernel. Stage 2 walks the IVF lists of
 * the kept centroids; every (candidate, centroid) entry raises the candidate's nq per-query-vector
 * maxima to the centroid's scores. At 1M documents that is ~2M scalar max updates per query, which V8
 * runs one lane at a time with a bounds check per load; here JavaScript only walks the lists and
 * records (candidate, kept row) pairs (stages.ts), and the kernel applies them four lanes per
 * instruction.
 *
 * Exactness: f32x4.pmax(best, s) is `best < s ? s : best` per lane, the JavaScript update
 * `if (s > best) best = s` (NaN and signed zeros included), and the sums over query vectors run in
 * JavaScript in the same order as the reference, so scores are bit-identical to `prunedScoresJs`.
 */
import { compileModule, emitter, ensureMemory, get, I32, i32, instantiate, kernelModuleBytes, mem, op, set, SIMD, simd, type WasmMemory } from "../util/wasm.js";

// Locals of `maxPairs`: the five parameters, then i32 scratch.
const [PAIRS, PAIRS_END, ROW_BYTES, BEST, ROWS] = [0, 1, 2, 3, 4];
const [B, R, B_END] = [5, 6, 7];

/**
 * maxPairs(pairs, pairsEnd, rowBytes, best, rows), byte offsets / sizes as i32:
 *   pairs .. pairsEnd: [n, 2] i32, each (candidate i, kept row k); best: [candidates, rowBytes],
 *   rows: [kept, rowBytes], rowBytes a multiple of 16: best row i = pmax(best row i, rows row k) lane-wise.
 */
function maxPairsBody(): number[] {
  const c: number[] = [];
  const emit = emitter(c);
  emit(op.block, op.loop); // pairs
  emit(get(PAIRS), get(PAIRS_END), op.geU, op.brIf, 1);
  emit(get(PAIRS), op.load, ...mem(2, 0), get(ROW_BYTES), op.mul, get(BEST), op.add, set(B));
  emit(get(PAIRS), op.load, ...mem(2, 4), get(ROW_BYTES), op.mul, get(ROWS), op.add, set(R));
  emit(get(B), get(ROW_BYTES), op.add, set(B_END));
  emit(op.loop); // 16-byte lanes of the row (rowBytes >= 16)
  emit(get(B), get(B), simd(SIMD.load, ...mem(4, 0)), get(R), simd(SIMD.load, ...mem(4, 0)), simd(SIMD.f32x4Pmax), simd(SIMD.store, ...mem(4, 0)));
  emit(get(B), i32(16), op.add, set(B));
  emit(get(R), i32(16), op.add, set(R));
  emit(get(B), get(B_END), op.ltU, op.brIf, 0, op.end);
  emit(get(PAIRS), i32(8), op.add, set(PAIRS), op.br, 0, op.end, op.end);
  return c;
}

interface MaxPairsInstance {
  memory: WasmMemory;
  maxPairs: (pairs: number, pairsEnd: number, rowBytes: number, best: number, rows: number) => void;
}

let compiled: object | null | undefined;
/** Memory kept between queries up to this size; a larger call gets a throwaway instance. */
const KEEP_BYTES = 64 << 20;
let kept: MaxPairsInstance | null = null;

function newInstance(module: object): MaxPairsInstance {
  const exports = instantiate(module);
  return { memory: exports["memory"] as WasmMemory, maxPairs: exports["maxPairs"] as MaxPairsInstance["maxPairs"] };
}

/** An instance with at least `bytes` of memory, or null where WebAssembly (SIMD) is unavailable. */
function instanceFor(bytes: number): MaxPairsInstance | null {
  if (compiled === undefined) compiled = compileModule(kernelModuleBytes([{ name: "maxPairs", params: 5, locals: [[3, I32]], body: maxPairsBody() }]));
  if (compiled === null || bytes > 2 ** 31) return null;
  const inst = bytes <= KEEP_BYTES ? (kept ??= newInstance(compiled)) : newInstance(compiled);
  return ensureMemory(inst.memory, bytes) ? inst : null;
}

/**
 * Writes the walk's (candidate, kept row) pairs into pairs ([n, 2]), sets any[candidate] = 1 for each,
 * and returns n (stages.ts `keptPairs`).
 */
export type PairsFill = (pairs: Int32Array, any: Uint8Array) => number;

/**
 * Stage 2's per-candidate maxima by the kernel, or null where WebAssembly is unavailable.
 * kept: the kept centroids; scores: [K, nq] centroid-major; fill: the walk; pairsBound: at least the
 * number of pairs it writes.
 * Returns best: [candidates, lanes] (lanes = nq rounded up to 4; lane q < nq is query vector q's
 * maximum, -Infinity where no kept code counted) and any: [candidates], 1 where a kept code counted.
 */
export function prunedMaximaWasm(
  kept: readonly number[],
  scores: Float32Array,
  nq: number,
  candidates: number,
  fill: PairsFill,
  pairsBound: number,
): { best: Float32Array; lanes: number; any: Uint8Array } | null {
  const lanes = Math.ceil(nq / 4) * 4;
  const rowBytes = lanes * 4;
  const rowsBytes = kept.length * rowBytes;
  const bestBytes = candidates * rowBytes;
  const inst = instanceFor(rowsBytes + bestBytes + pairsBound * 8);
  if (inst === null) return null;
  const buffer = inst.memory.buffer;
  const rows = new Float32Array(buffer, 0, kept.length * lanes).fill(-Infinity);
  kept.forEach((c, k) => rows.set(scores.subarray(c * nq, (c + 1) * nq), k * lanes));
  const best = new Float32Array(buffer, rowsBytes, candidates * lanes).fill(-Infinity);
  const start = rowsBytes + bestBytes;
  const any = new Uint8Array(candidates);
  const n = fill(new Int32Array(buffer, start, pairsBound * 2), any);
  inst.maxPairs(start, start + n * 8, rowBytes, rowsBytes, 0);
  return { best, lanes, any };
}
