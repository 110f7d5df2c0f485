/**
 * PLAID's residual decompression as a WebAssembly SIMD kernel: v = centroid[code] + the bucket
 * weights of the residual bytes, then v / |v|. Stage 4 and the exhaustive `--exact` search decompress
 * every candidate vector (256 documents x ~64 vectors per query at 1M documents); an onnxruntime graph
 * doing it with two Gathers and an Add was most of stage 4's time, and V8 runs the JavaScript loop
 * (`ResidualCodec.decompressInto`, the reference) one lane at a time with a bounds check per load.
 *
 * One step of the kernel handles 4 (or 8) dimensions with one table lookup: a table row holds the
 * bucket weights of the dimensions one index packs, so a step is a v128 load of the centroid value
 * (already copied into the output row, see `decompressBody`), a v128 load of the table row, an add
 * and a store.
 * - nbits 2: 4 dimensions per byte; the index is the byte, the table `byteWeights` itself ([256, 4]).
 * - nbits 4: 2 dimensions per byte; the index is two bytes read as a little-endian u16, the table
 *   [65,536, 4] built from `byteWeights` (first byte = low bits = the first two dimensions).
 * - nbits 1: 8 dimensions per byte; the index is the byte, the table `byteWeights` ([256, 8], two
 *   v128 per row).
 *
 * Exactness: the adds are the reference's float32 values up to rounding (the reference adds in
 * float64 and rounds once when it stores; here the sum is rounded to float32 before it is squared),
 * and the squared norm is summed in four float32 lanes, not in float64 one term at a time. Vectors
 * agree with the reference within 1e-6 per component (test/plaid/decompress-wasm.test.ts).
 */
import type { CodeArray } from "./codec.js";
import { ColtsError } from "../errors.js";
import { align16, compileModule, emitter, ensureMemory, f32, f32op, get, I32, i32, instantiate, kernelModuleBytes, mem, op, set, SIMD, simd, V128, type WasmMemory } from "../util/wasm.js";

/** What decompression needs of a residual codec (`ResidualCodec` has these). */
export interface ResidualTables {
  /** [numCentroids, dim] row-major. */
  centroids: Float32Array;
  numCentroids: number;
  dim: number;
  /** Packed bits per dimension: 1, 2 or 4. */
  nbits: number;
  /** [256 * 8 / nbits]: for every byte value, the bucket weight of each dimension it packs, first dimension first. */
  byteWeights: Float32Array;
}

/** How one kernel step reads its index and its table row. */
interface Step {
  /** i32.load8_u or i32.load16_u. */
  indexLoad: number;
  /** Residual bytes per step. */
  bytes: number;
  /** v128 values (4 dimensions each) per step. */
  vecs: number;
}

const STEPS: Record<number, Step> = {
  1: { indexLoad: op.load8U, bytes: 1, vecs: 2 },
  2: { indexLoad: op.load8U, bytes: 1, vecs: 1 },
  4: { indexLoad: op.load16U, bytes: 2, vecs: 1 },
};

// Locals of `decompress`: the seven parameters, then i32 scratch, then v128 registers.
const [CODES, CODES_END, RES, CENT, TABLE, OUT, DIM_BYTES] = [0, 1, 2, 3, 4, 5, 6];
const [C, O, O_END, T, BLOCK_END, P] = [7, 8, 9, 10, 11, 12];
const [ACC, X, INV] = [13, 14, 15];
/** Rows per block: the block's centroid rows are copied first, then decoded in place while in L1. */
const BLOCK_ROWS = 16;

/**
 * decompress(codes, codesEnd, res, cent, table, out, dimBytes), byte offsets / sizes as i32:
 *   codes .. codesEnd: [rows] i32; res: [rows, bytesPerVector] u8; cent: [K, dim] f32;
 *   table: [indexes, 4 * vecs] f32; out: [rows, dim] f32, row r = unit(cent[codes[r]] + table rows).
 * Why two passes per block of rows: the centroid rows are random reads from a table of K x dim
 * floats (32 MB at K 65,536), mostly cache misses. A plain copy loop lets the processor run ahead
 * over several rows and keep many misses in flight; with the decoding in the same loop (~500
 * instructions per row) it waited on nearly every row. 16,384 random rows of 128 dimensions, K
 * 65,536, side by side in one process: 4.3-4.5 ms against 5.7-6.0 ms for one pass; unrolling the
 * steps changed nothing (the reads are the cost).
 */
function decompressBody(step: Step): number[] {
  const c: number[] = [];
  const emit = emitter(c);
  emit(op.block, op.loop); // blocks
  emit(get(CODES), get(CODES_END), op.geU, op.brIf, 1);
  emit(get(CODES), i32(4 * BLOCK_ROWS), op.add, get(CODES_END), get(CODES), i32(4 * BLOCK_ROWS), op.add, get(CODES_END), op.ltU, op.select, set(BLOCK_END));
  copyCentroidRows(emit);
  decodeRows(emit, step);
  emit(op.br, 0, op.end, op.end);
  return c;
}

/** Pass 1 of a block: out rows = the block's centroid rows. */
function copyCentroidRows(emit: ReturnType<typeof emitter>): void {
  emit(get(CODES), set(P), get(OUT), set(O));
  emit(op.loop); // rows of the block
  emit(get(P), op.load, ...mem(2, 0), get(DIM_BYTES), op.mul, get(CENT), op.add, set(C));
  emit(get(O), get(DIM_BYTES), op.add, set(O_END));
  emit(op.loop); // 16-byte lanes of the row
  emit(get(O), get(C), simd(SIMD.load, ...mem(4, 0)), simd(SIMD.store, ...mem(4, 0)));
  emit(get(C), i32(16), op.add, set(C), get(O), i32(16), op.add, set(O));
  emit(get(O), get(O_END), op.ltU, op.brIf, 0, op.end);
  emit(get(P), i32(4), op.add, set(P));
  emit(get(P), get(BLOCK_END), op.ltU, op.brIf, 0, op.end);
}

/** Pass 2 of a block: each row += its residual's bucket weights, then divided by its norm; advances CODES, RES and OUT. */
function decodeRows(emit: ReturnType<typeof emitter>, step: Step): void {
  const rowShift = step.vecs === 2 ? 5 : 4;
  emit(op.loop); // rows of the block
  emit(get(OUT), get(DIM_BYTES), op.add, set(O_END));
  emit(get(OUT), set(O));
  emit(simd(SIMD.const, ...new Array<number>(16).fill(0)), set(ACC));
  emit(op.loop); // steps of the row (dim >= 4 * vecs)
  emit(get(RES), step.indexLoad, ...mem(0, 0), i32(rowShift), op.shl, get(TABLE), op.add, set(T));
  for (let v = 0; v < step.vecs; v++) {
    emit(get(O), simd(SIMD.load, ...mem(4, 16 * v)), get(T), simd(SIMD.load, ...mem(4, 16 * v)), simd(SIMD.f32x4Add), set(X));
    emit(get(O), get(X), simd(SIMD.store, ...mem(4, 16 * v)));
    emit(get(ACC), get(X), get(X), simd(SIMD.f32x4Mul), simd(SIMD.f32x4Add), set(ACC));
  }
  emit(get(RES), i32(step.bytes), op.add, set(RES));
  emit(get(O), i32(16 * step.vecs), op.add, set(O));
  emit(get(O), get(O_END), op.ltU, op.brIf, 0, op.end);
  // inv = 1 / max(sqrt(sum of the four lanes), 1e-12), as the reference's 1 / max(|v|, 1e-12)
  emit(f32(1));
  emit(get(ACC), simd(SIMD.f32x4ExtractLane, 0), get(ACC), simd(SIMD.f32x4ExtractLane, 1), f32op.add);
  emit(get(ACC), simd(SIMD.f32x4ExtractLane, 2), f32op.add, get(ACC), simd(SIMD.f32x4ExtractLane, 3), f32op.add);
  emit(f32op.sqrt, f32(1e-12), f32op.max, f32op.div, simd(SIMD.f32x4Splat), set(INV));
  emit(get(OUT), set(O));
  emit(op.loop); // scale the row
  emit(get(O), get(O), simd(SIMD.load, ...mem(4, 0)), get(INV), simd(SIMD.f32x4Mul), simd(SIMD.store, ...mem(4, 0)));
  emit(get(O), i32(16), op.add, set(O));
  emit(get(O), get(O_END), op.ltU, op.brIf, 0, op.end);
  emit(get(O_END), set(OUT));
  emit(get(CODES), i32(4), op.add, set(CODES));
  emit(get(CODES), get(BLOCK_END), op.ltU, op.brIf, 0, op.end);
}

/** Compiled modules by nbits; null where WebAssembly (SIMD) is unavailable. */
const compiled = new Map<number, object | null>();
function moduleFor(nbits: number): object | null {
  const key = nbits;
  if (!compiled.has(key)) {
    const body = decompressBody(STEPS[nbits] as Step);
    compiled.set(key, compileModule(kernelModuleBytes([{ name: "decompress", params: 7, locals: [[6, I32], [3, V128]], body }])));
  }
  return compiled.get(key) ?? null;
}

/** The kernel's lookup table: [indexes, dimensions per step] (see the file comment). */
export function stepTable(nbits: number, byteWeights: Float32Array): Float32Array {
  if (nbits !== 4) return byteWeights;
  const table = new Float32Array(65536 * 4);
  for (let i = 0; i < 65536; i++) {
    const lo = (i & 255) * 2;
    const hi = (i >> 8) * 2;
    table.set([byteWeights[lo] as number, byteWeights[lo + 1] as number, byteWeights[hi] as number, byteWeights[hi + 1] as number], i * 4);
  }
  return table;
}

/**
 * One codec's decompression kernel. Its memory holds the centroids and the table from `create` on,
 * then each call's codes, residual bytes and output after them. One call at a time: the returned
 * vectors are a view of the kernel's memory, valid until the next call.
 */
export class WasmDecompressor {
  private constructor(
    private readonly memory: WasmMemory,
    private readonly run: (codes: number, codesEnd: number, res: number, cent: number, table: number, out: number, dimBytes: number) => void,
    readonly numCentroids: number,
    readonly dim: number,
    readonly bytesPerVector: number,
    /** Bytes taken by the centroids and the table; each call's data starts here. */
    private readonly fixedBytes: number,
    private readonly tableOffset: number,
  ) {}

  /** The kernel for a codec, or null where WebAssembly (SIMD) is unavailable or the shapes do not fit it. */
  static create(t: ResidualTables): WasmDecompressor | null {
    const step = STEPS[t.nbits];
    const bpv = (t.dim * t.nbits) / 8;
    if (step === undefined || t.dim % (4 * step.vecs) !== 0 || !Number.isInteger(bpv)) return null;
    const module = moduleFor(t.nbits);
    if (module === null) return null;
    const exports = instantiate(module);
    const memory = exports["memory"] as WasmMemory;
    const table = stepTable(t.nbits, t.byteWeights);
    const tableOffset = align16(t.centroids.byteLength);
    const fixedBytes = align16(tableOffset + table.byteLength);
    if (!ensureMemory(memory, fixedBytes)) return null;
    new Float32Array(memory.buffer, 0, t.centroids.length).set(t.centroids);
    new Float32Array(memory.buffer, tableOffset, table.length).set(table);
    const run = exports["decompress"] as WasmDecompressor["run"];
    return new WasmDecompressor(memory, run, t.numCentroids, t.dim, bpv, fixedBytes, tableOffset);
  }

  /**
   * codes: [rows] (valid centroid ids: the caller's stored codes); residuals: [rows, bytesPerVector]
   * -> [rows, dim] unit rows, a view of the kernel's memory (valid until the next call), or null when
   * the memory cannot grow that far.
   */
  decompress(codes: CodeArray, residuals: Uint8Array): Float32Array | null {
    const rows = codes.length;
    const codesAt = this.fixedBytes;
    const resAt = codesAt + align16(rows * 4);
    const outAt = resAt + align16(rows * this.bytesPerVector);
    const end = outAt + rows * this.dim * 4;
    if (residuals.length !== rows * this.bytesPerVector) throw new ColtsError("INPUT_INVALID", `decompress: expected ${rows * this.bytesPerVector} residual bytes ([${rows}, ${this.bytesPerVector}]), got ${residuals.length}`);
    if (end > 2 ** 31 || !ensureMemory(this.memory, end)) return null;
    const buffer = this.memory.buffer;
    const at = new Int32Array(buffer, codesAt, rows);
    at.set(codes);
    // The kernel reads centroid rows unchecked: a bad code must fail here, as in the reference.
    for (let i = 0; i < rows; i++) {
      const code = at[i] as number;
      if (!(code >= 0 && code < this.numCentroids)) throw new ColtsError("INPUT_INVALID", `code ${code} out of range [0, ${this.numCentroids})`);
    }
    new Uint8Array(buffer, resAt, residuals.length).set(residuals);
    this.run(codesAt, codesAt + rows * 4, resAt, 0, this.tableOffset, outAt, this.dim * 4);
    return new Float32Array(buffer, outAt, rows * this.dim);
  }
}
