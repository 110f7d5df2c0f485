/**
 * The pairwise cosine distances of token pooling as a WebAssembly SIMD kernel, assembled here from a
 * readable instruction list (no build step, no binary blob). Why WebAssembly: the kernel is ~n^2/2 * dim
 * multiply-adds (5.7M for a 300-token, 128-d document) and V8 runs JavaScript floating point one lane
 * at a time with a bounds check per load; f64x2 lanes halve the instruction count and drop the checks.
 *
 * Exactness: each lane holds one (row, column) pair and sums its products in float64 in the order
 * t = 0, 1, ..., dim - 1, which is exactly the scalar loop of the reference (WebAssembly forbids fused
 * multiply-add and reassociation), so every dot product is bit-identical to the JavaScript one. The
 * float32 roundings (torch's float32 `mm` and `1 - cos`) are demote/promote pairs, which round to
 * nearest even as `Math.fround` does, and the clamp is f64x2.max (NaN propagates as in `Math.max`).
 */

import { compileModule, emitter, ensureMemory, get, I32, i32, instantiate, kernelModuleBytes, mem, op, set, SIMD, simd, V128, type WasmMemory } from "../util/wasm.js";

// Locals of `distances`: the six parameters, then i32 scratch, then v128 registers.
const [B, S, ROWS_END, NB, DIM, NS] = [0, 1, 2, 3, 4, 5];
const [I0, JB, A, C, END, OUT, P, BLOCK_BYTES, NSB] = [6, 7, 8, 9, 10, 11, 12, 13, 14];
const [A0, A1] = [15, 16];
const CK = [17, 18, 19, 20];
const S0 = [21, 22, 23, 24];
const S1 = [25, 26, 27, 28];
const [ONE, ZERO] = [29, 30];

/** lanes of i8x16.shuffle taking f64 lane `l` of the first and of the second operand: (a[l], b[l]). */
function pairLanes(l: number): number[] {
  const lanes: number[] = [];
  for (let b = 0; b < 8; b++) lanes.push(8 * l + b);
  for (let b = 0; b < 8; b++) lanes.push(16 + 8 * l + b);
  return lanes;
}

/**
 * distances(B, S, rowsEnd, nb, dim, ns), all byte offsets / counts as i32:
 *   B: [nb, dim, 8] f64, blocks of 8 rows interleaved per coordinate (row 8b + l, coordinate t at
 *      B[(b * dim + t) * 8 + l]); rows past n are zero;
 *   S: [ns, ns] f64 out, ns = 8 * nb; S[i, j] = max(0, f32(1 - f32(x_i . x_j))) for every i != j < n
 *      (both triangles; the diagonal and the padding hold junk the caller overwrites or never reads).
 * For each pair of rows (i0, i0 + 1), i0 even < rowsEnd, and each block of 8 columns from the one
 * holding i0 on: 8 f64x2 accumulators (2 rows x 4 column pairs), then the upper triangle stored row-wise
 * and the lower one through a 2 x 2 in-register transpose. dot(i, j) and dot(j, i) have the same bits
 * (same products, same order), so cells written twice near the diagonal get the same value.
 */
function distancesBody(): number[] {
  const c: number[] = [];
  const emit = emitter(c);
  emit(get(DIM), i32(64), op.mul, set(BLOCK_BYTES));
  emit(get(NS), i32(8), op.mul, set(NSB));
  emit(0x44, [...new Uint8Array(Float64Array.of(1).buffer)], simd(SIMD.f64x2Splat), set(ONE));
  emit(simd(SIMD.const, ...new Array<number>(16).fill(0)), set(ZERO));
  emit(op.block, op.loop); // rows
  emit(get(I0), get(ROWS_END), op.geU, op.brIf, 1);
  emit(get(I0), i32(3), op.shrU, set(JB));
  emit(op.block, op.loop); // column blocks
  emit(get(JB), get(NB), op.geU, op.brIf, 1);
  emit(get(B), get(I0), i32(3), op.shrU, get(BLOCK_BYTES), op.mul, op.add, get(I0), i32(7), op.and, i32(3), op.shl, op.add, set(A));
  emit(get(B), get(JB), get(BLOCK_BYTES), op.mul, op.add, set(C));
  emit(get(C), get(BLOCK_BYTES), op.add, set(END));
  for (const s of [...S0, ...S1]) emit(get(ZERO), set(s));
  emit(op.loop); // t = 0 .. dim - 1 (dim >= 1)
  emit(get(A), simd(SIMD.load64Splat, ...mem(3, 0)), set(A0));
  emit(get(A), simd(SIMD.load64Splat, ...mem(3, 8)), set(A1));
  for (let k = 0; k < 4; k++) emit(get(C), simd(SIMD.load, ...mem(4, 16 * k)), set(CK[k] as number));
  for (let k = 0; k < 4; k++) {
    emit(get(S0[k] as number), get(A0), get(CK[k] as number), simd(SIMD.f64x2Mul), simd(SIMD.f64x2Add), set(S0[k] as number));
    emit(get(S1[k] as number), get(A1), get(CK[k] as number), simd(SIMD.f64x2Mul), simd(SIMD.f64x2Add), set(S1[k] as number));
  }
  emit(get(A), i32(64), op.add, set(A));
  emit(get(C), i32(64), op.add, set(C));
  emit(get(C), get(END), op.ltU, op.brIf, 0, op.end);
  for (const s of [...S0, ...S1]) {
    // max(0, f32(1 - f32(dot)))
    emit(get(ONE), get(s), simd(SIMD.demoteF64x2Zero), simd(SIMD.promoteLowF32x4), simd(SIMD.f64x2Sub));
    emit(simd(SIMD.demoteF64x2Zero), simd(SIMD.promoteLowF32x4), get(ZERO), simd(SIMD.f64x2Max), set(s));
  }
  // upper: rows i0, i0 + 1, columns 8 jb .. 8 jb + 7
  emit(get(S), get(I0), get(NS), op.mul, get(JB), i32(3), op.shl, op.add, i32(3), op.shl, op.add, set(OUT));
  for (let k = 0; k < 4; k++) emit(get(OUT), get(S0[k] as number), simd(SIMD.store, ...mem(4, 16 * k)));
  emit(get(OUT), get(NSB), op.add, set(OUT));
  for (let k = 0; k < 4; k++) emit(get(OUT), get(S1[k] as number), simd(SIMD.store, ...mem(4, 16 * k)));
  // lower: rows 8 jb .. 8 jb + 7, columns i0, i0 + 1
  emit(get(S), get(JB), i32(3), op.shl, get(NS), op.mul, get(I0), op.add, i32(3), op.shl, op.add, set(P));
  for (let k = 0; k < 4; k++) {
    for (let l = 0; l < 2; l++) {
      emit(get(P), get(S0[k] as number), get(S1[k] as number), simd(SIMD.shuffle, ...pairLanes(l)), simd(SIMD.store, ...mem(4, 0)));
      emit(get(P), get(NSB), op.add, set(P));
    }
  }
  emit(get(JB), i32(1), op.add, set(JB), op.br, 0, op.end, op.end);
  emit(get(I0), i32(2), op.add, set(I0), op.br, 0, op.end, op.end);
  return c;
}

/** The module: one exported memory ("memory", 1 page to start) and the exported function "distances". */
function distancesModuleBytes(): Uint8Array {
  return kernelModuleBytes([{ name: "distances", params: 6, locals: [[9, I32], [16, V128]], body: distancesBody() }]);
}

interface DistancesInstance {
  memory: WasmMemory;
  distances: (b: number, s: number, rowsEnd: number, nb: number, dim: number, ns: number) => void;
}

let compiled: object | null | undefined;

/** The compiled module, or null where WebAssembly (SIMD) is unavailable, e.g. under node --jitless. */
function distancesModule(): object | null {
  if (compiled === undefined) compiled = compileModule(distancesModuleBytes());
  return compiled;
}

/** Memory kept between documents up to this size; a longer document gets a throwaway instance. */
const KEEP_BYTES = 64 << 20;
let kept: DistancesInstance | null = null;

function newInstance(module: object): DistancesInstance {
  const exports = instantiate(module);
  return { memory: exports["memory"] as WasmMemory, distances: exports["distances"] as DistancesInstance["distances"] };
}

/**
 * Square distance matrix by the SIMD kernel, or null where WebAssembly is unavailable or the document
 * is too long for 32-bit memory. x: [n, dim] row-major -> d: [stride, stride] row-major (a view of
 * the kernel's memory, valid until the next call), d[i * stride + j] for i != j < n; the diagonal is
 * set to +Infinity (a cluster is never its own neighbour).
 */
export function distanceMatrixWasm(x: Float32Array, n: number, dim: number): { d: Float64Array; stride: number } | null {
  const module = distancesModule();
  if (module === null) return null;
  const nb = Math.ceil(n / 8);
  const ns = nb * 8;
  const bBytes = nb * dim * 64;
  const bytes = bBytes + ns * ns * 8;
  if (bytes > 2 ** 31) return null;
  let inst: DistancesInstance;
  if (bytes <= KEEP_BYTES) {
    kept ??= newInstance(module);
    inst = kept;
  } else {
    inst = newInstance(module);
  }
  // The engine may refuse the memory: the JavaScript kernel then allocates its own.
  if (!ensureMemory(inst.memory, bytes)) return null;
  const packed = new Float64Array(inst.memory.buffer, 0, bBytes / 8); // [nb, dim, 8]
  for (let i = 0; i < ns; i++) {
    const base = (i >> 3) * dim * 8 + (i & 7);
    if (i < n) {
      const row = i * dim;
      for (let t = 0; t < dim; t++) packed[base + t * 8] = x[row + t] as number;
    } else {
      for (let t = 0; t < dim; t++) packed[base + t * 8] = 0;
    }
  }
  inst.distances(0, bBytes, n + (n & 1), nb, dim, ns);
  const d = new Float64Array(inst.memory.buffer, bBytes, ns * ns);
  for (let i = 0; i < n; i++) d[i * ns + i] = Infinity;
  return { d, stride: ns };
}
