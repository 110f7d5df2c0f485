/**
 * The residual codec's compression step (`ResidualCodec.binarizeJs`, the reference) as a WebAssembly
 * SIMD kernel: for every vector x with code c, each dimension's residual r = x - centroid[c] gets the
 * bucket b = number of cutoffs strictly below r, and b's nbits bits are packed in ColBERT's order.
 * An index build runs it over every vector (64M at 1M documents); the JavaScript loop took about a
 * sixth of a 100k build's compression pass (CPU profile), most of it the per-dimension bucket walk.
 *
 * One step handles 8 dimensions (two v128 of residuals), which fill exactly nbits bytes:
 * - m_j = (cut_j < r) per lane, for every cutoff j (f32x4.lt: the reference's float32 comparison);
 * - the cutoffs ascend, so the m_j are monotone and bit k of b = count of set m_j is the XOR of the
 *   m_j with (j + 1) a multiple of 2^k (bit 0: all of them; nbits 2, bit 1: m_1);
 * - i32x4.bitmask gathers bit k of 4 dimensions into 4 bits, the two halves into an 8-bit index, and a
 *   table per k ([256] u32) places those 8 bits where the packed layout wants them (bit k of dimension
 *   s goes to bit s * nbits + k of the step's big-endian bit string; see bitpack.ts);
 * - the tables' values OR together into the step's nbits bytes, stored little-endian.
 *
 * Exactness: r is the float32 difference and the comparisons are float32, as in the reference (NaN
 * compares false everywhere: bucket 0, as there), so the bytes are identical to the reference's
 * (test/plaid/binarize-wasm.test.ts).
 */
import { ColtsError } from "../errors.js";
import { align16, compileModule, emitter, ensureMemory, get, I32, i32, instantiate, kernelModuleBytes, mem, op, set, SIMD, simd, V128, type WasmMemory } from "../util/wasm.js";

/** Opcodes this kernel needs beyond util/wasm.ts' common set. */
const OP = { or: 0x72, store32: 0x36, store16: 0x3b, store8: 0x3a, f32x4Sub: 0xe5, f32x4Lt: 0x43, v128Xor: 0x51, i32x4Bitmask: 0xa4, load32Splat: 0x09 } as const;

// Parameters of `binarize`, then i32 scratch, then v128 registers.
const [X, X_END, CODES, CENT, TABLES, OUT, DIM_BYTES, CUTS] = [0, 1, 2, 3, 4, 5, 6, 7];
const [C, ROW_END] = [8, 9];
const FIRST_IDX = 10; // nbits i32 locals: the step's table index per bit
const V = (nbits: number): { v0: number; v1: number; cut: number; m: number } => {
  const base = FIRST_IDX + nbits;
  const cuts = (1 << nbits) - 1;
  return { v0: base, v1: base + 1, cut: base + 2, m: base + 2 + cuts };
};

/** For bit k of the bucket: the cutoffs j whose masks XOR into it ((j + 1) a multiple of 2^k). */
function cutoffsOfBit(nbits: number, k: number): number[] {
  const cuts = (1 << nbits) - 1;
  return Array.from({ length: cuts }, (_, j) => j).filter((j) => (j + 1) % (1 << k) === 0);
}

/**
 * binarize(x, xEnd, codes, cent, tables, out, dimBytes, cuts), byte offsets / sizes as i32:
 *   x .. xEnd: [rows, dim] f32; codes: [rows] i32 (valid ids); cent: [K, dim] f32;
 *   tables: [nbits, 256] u32; cuts: [2^nbits - 1] f32; out: [rows, dim * nbits / 8] u8.
 * dim must be a multiple of 8.
 */
function binarizeBody(nbits: number): number[] {
  const c: number[] = [];
  const emit = emitter(c);
  const cuts = (1 << nbits) - 1;
  const r = V(nbits);
  const mask = (half: number, j: number): number => r.m + half * cuts + j;
  for (let j = 0; j < cuts; j++) emit(get(CUTS), simd(OP.load32Splat, ...mem(2, 4 * j)), set(r.cut + j));
  emit(op.block, op.loop); // rows
  emit(get(X), get(X_END), op.geU, op.brIf, 1);
  emit(get(CODES), op.load, ...mem(2, 0), get(DIM_BYTES), op.mul, get(CENT), op.add, set(C));
  emit(get(X), get(DIM_BYTES), op.add, set(ROW_END));
  emit(op.loop); // steps of 8 dimensions
  emit(get(X), simd(SIMD.load, ...mem(2, 0)), get(C), simd(SIMD.load, ...mem(2, 0)), simd(OP.f32x4Sub), set(r.v0));
  emit(get(X), simd(SIMD.load, ...mem(2, 16)), get(C), simd(SIMD.load, ...mem(2, 16)), simd(OP.f32x4Sub), set(r.v1));
  for (const [half, v] of [r.v0, r.v1].entries()) {
    for (let j = 0; j < cuts; j++) emit(get(r.cut + j), get(v), simd(OP.f32x4Lt), set(mask(half, j)));
  }
  for (let k = 0; k < nbits; k++) {
    const js = cutoffsOfBit(nbits, k);
    for (const half of [0, 1]) {
      emit(get(mask(half, js[0] as number)));
      for (const j of js.slice(1)) emit(get(mask(half, j)), simd(OP.v128Xor));
      emit(simd(OP.i32x4Bitmask));
    }
    emit(i32(4), op.shl, OP.or, set(FIRST_IDX + k)); // low half | high half << 4
  }
  emit(get(OUT));
  for (let k = 0; k < nbits; k++) {
    emit(get(FIRST_IDX + k), i32(2), op.shl, get(TABLES), op.add, op.load, ...mem(2, 1024 * k));
    if (k > 0) emit(OP.or);
  }
  if (nbits === 1) emit(OP.store8, ...mem(0, 0));
  else if (nbits === 2) emit(OP.store16, ...mem(0, 0));
  else emit(OP.store32, ...mem(0, 0));
  emit(get(OUT), i32(nbits), op.add, set(OUT));
  emit(get(X), i32(32), op.add, set(X), get(C), i32(32), op.add, set(C));
  emit(get(X), get(ROW_END), op.ltU, op.brIf, 0, op.end);
  emit(get(CODES), i32(4), op.add, set(CODES));
  emit(op.br, 0, op.end, op.end);
  return c;
}

/**
 * The kernel's tables: [nbits, 256] u32. Entry i of table k places bit s of i (dimension s of a step,
 * bit k of its bucket) at bit s * nbits + k of the step's big-endian bit string, read as the
 * little-endian u32 of the step's bytes (string bit p is bit 7 - p % 8 of byte p / 8).
 */
export function placementTables(nbits: number): Uint32Array {
  const t = new Uint32Array(nbits * 256);
  for (let k = 0; k < nbits; k++) {
    for (let i = 0; i < 256; i++) {
      let v = 0;
      for (let s = 0; s < 8; s++) {
        if (((i >> s) & 1) === 0) continue;
        const p = s * nbits + k;
        v |= 1 << ((p >> 3) * 8 + 7 - (p & 7));
      }
      t[k * 256 + i] = v >>> 0;
    }
  }
  return t;
}

/** Compiled modules by nbits; null where WebAssembly (SIMD) is unavailable. */
const compiled = new Map<number, object | null>();
function moduleFor(nbits: number): object | null {
  if (!compiled.has(nbits)) {
    const cuts = (1 << nbits) - 1;
    const locals: [number, number][] = [[2 + nbits, I32], [2 + 3 * cuts, V128]];
    compiled.set(nbits, compileModule(kernelModuleBytes([{ name: "binarize", params: 8, locals, body: binarizeBody(nbits) }])));
  }
  return compiled.get(nbits) ?? null;
}

/** Rows per kernel call: 8 MiB of vectors at dim 128. */
const SLICE_ROWS = 16_384;

/** What compression needs of a residual codec (`ResidualCodec` has these). */
export interface BinarizeTables {
  /** [numCentroids, dim] row-major. */
  centroids: Float32Array;
  numCentroids: number;
  dim: number;
  /** Packed bits per dimension: 1, 2 or 4. */
  nbits: number;
  /** [2^nbits - 1] ascending. */
  bucketCutoffs: Float32Array;
}

/**
 * One codec's compression kernel. Its memory holds the centroids, the placement tables and the
 * cutoffs from `create` on, then each call's codes, vectors and output after them. One call at a time.
 */
export class WasmBinarizer {
  private constructor(
    private readonly memory: WasmMemory,
    private readonly run: (x: number, xEnd: number, codes: number, cent: number, tables: number, out: number, dimBytes: number, cuts: number) => void,
    readonly numCentroids: number,
    readonly dim: number,
    readonly bytesPerVector: number,
    private readonly tablesAt: number,
    private readonly cutsAt: number,
    /** Bytes taken by the centroids, tables and cutoffs; each call's data starts here. */
    private readonly fixedBytes: number,
  ) {}

  /** The kernel for a codec, or null where WebAssembly (SIMD) is unavailable or dim is not a multiple of 8. */
  static create(t: BinarizeTables): WasmBinarizer | null {
    if (![1, 2, 4].includes(t.nbits) || t.dim % 8 !== 0 || t.bucketCutoffs.length !== (1 << t.nbits) - 1) return null;
    const module = moduleFor(t.nbits);
    if (module === null) return null;
    const exports = instantiate(module);
    const memory = exports["memory"] as WasmMemory;
    const tables = placementTables(t.nbits);
    const tablesAt = align16(t.centroids.byteLength);
    const cutsAt = tablesAt + tables.byteLength;
    const fixedBytes = align16(cutsAt + t.bucketCutoffs.byteLength);
    if (!ensureMemory(memory, fixedBytes)) return null;
    new Float32Array(memory.buffer, 0, t.centroids.length).set(t.centroids);
    new Uint32Array(memory.buffer, tablesAt, tables.length).set(tables);
    new Float32Array(memory.buffer, cutsAt, t.bucketCutoffs.length).set(t.bucketCutoffs);
    const run = exports["binarize"] as WasmBinarizer["run"];
    return new WasmBinarizer(memory, run, t.numCentroids, t.dim, (t.dim * t.nbits) / 8, tablesAt, cutsAt, fixedBytes);
  }

  /**
   * vectors: [rows, dim]; codes: [rows] -> the packed residuals written to out ([>= row + rows,
   * bytesPerVector]) from row `row` on, in slices of at most SLICE_ROWS rows (the kernel's memory
   * never shrinks, so it stays at one slice). false when the memory cannot grow that far (the caller
   * falls back to the reference). A code out of range fails with INPUT_INVALID, as in the reference.
   */
  binarizeInto(vectors: Float32Array, codes: Int32Array, out: Uint8Array, row: number): boolean {
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i] as number;
      // The kernel reads centroid rows unchecked: a bad code must fail here.
      if (!(code >= 0 && code < this.numCentroids)) throw new ColtsError("INPUT_INVALID", `code ${code} out of range [0, ${this.numCentroids})`);
    }
    const sliceRows = Math.min(SLICE_ROWS, codes.length);
    const codesAt = this.fixedBytes;
    const xAt = codesAt + align16(sliceRows * 4);
    const outAt = xAt + sliceRows * this.dim * 4;
    if (!ensureMemory(this.memory, outAt + sliceRows * this.bytesPerVector)) return false;
    const buffer = this.memory.buffer;
    for (let start = 0; start < codes.length; start += sliceRows) {
      const rows = Math.min(sliceRows, codes.length - start);
      new Int32Array(buffer, codesAt, rows).set(codes.subarray(start, start + rows));
      new Float32Array(buffer, xAt, rows * this.dim).set(vectors.subarray(start * this.dim, (start + rows) * this.dim));
      this.run(xAt, xAt + rows * this.dim * 4, codesAt, 0, this.tablesAt, outAt, this.dim * 4, this.cutsAt);
      out.set(new Uint8Array(buffer, outAt, rows * this.bytesPerVector), (row + start) * this.bytesPerVector);
    }
    return true;
  }
}
