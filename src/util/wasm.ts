/**
 * A small assembler for the project's WebAssembly SIMD kernels: instruction encoders and module
 * layout, so that each kernel is a readable instruction list in TypeScript (no build step, no binary
 * blob). Only what the kernels use is here: i32 arithmetic and control flow, v128 loads and stores,
 * and the float lane operations named in `SIMD`.
 */

/** SIMD opcodes (after the 0xfd prefix), from the WebAssembly SIMD binary encoding. */
export const SIMD = {
  load: 0x00,
  load64Splat: 0x0a,
  store: 0x0b,
  const: 0x0c,
  shuffle: 0x0d,
  f32x4Splat: 0x13,
  /** f32x4.extract_lane, lane index as the immediate byte after it. */
  f32x4ExtractLane: 0x1f,
  f64x2Splat: 0x14,
  demoteF64x2Zero: 0x5e,
  promoteLowF32x4: 0x5f,
  /** f32x4.pmax(a, b) = a < b ? b : a per lane: JavaScript's `if (b > a) a = b`, NaN and zeros included. */
  f32x4Pmax: 0xeb,
  f32x4Add: 0xe4,
  f32x4Mul: 0xe6,
  f64x2Add: 0xf0,
  f64x2Sub: 0xf1,
  f64x2Mul: 0xf2,
  f64x2Max: 0xf5,
} as const;
/** Value types. */
export const I32 = 0x7f;
export const V128 = 0x7b;

export function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

export function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** local.get / local.set / i32.const. */
export const get = (i: number): number[] => [0x20, ...uleb(i)];
export const set = (i: number): number[] => [0x21, ...uleb(i)];
export const i32 = (v: number): number[] => [0x41, ...sleb(v)];
/** A SIMD instruction with its immediates. */
export const simd = (op: number, ...imm: number[]): number[] => [0xfd, ...uleb(op), ...imm];
/** memarg: log2 alignment hint, byte offset. */
export const mem = (align: number, offset: number): number[] => [...uleb(align), ...uleb(offset)];
/** i32 operators and structured control flow (block and loop take an empty block type). */
export const op = { add: 0x6a, sub: 0x6b, mul: 0x6c, and: 0x71, shl: 0x74, shrU: 0x76, ltU: 0x49, geU: 0x4f, load: 0x28, load8U: 0x2d, load16U: 0x2f, select: 0x1b, block: [0x02, 0x40], loop: [0x03, 0x40], brIf: 0x0d, br: 0x0c, end: 0x0b } as const;
/** f32 scalar operators. */
export const f32op = { add: 0x92, sqrt: 0x91, div: 0x95, max: 0x97 } as const;
/** f32.const v (rounded to float32). */
export const f32 = (v: number): number[] => [0x43, ...new Uint8Array(Float32Array.of(v).buffer)];

/** n rounded up to a multiple of 16 (v128 alignment of a kernel's memory regions). */
export const align16 = (n: number): number => Math.ceil(n / 16) * 16;

/** Appends instructions (numbers or arrays of numbers) to a code array. */
export function emitter(code: number[]): (...parts: (number | readonly number[])[]) => void {
  return (...parts) => {
    for (const p of parts) {
      if (typeof p === "number") code.push(p);
      else code.push(...p);
    }
  };
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}
function name(s: string): number[] {
  return [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];
}

/** One exported function of a kernel module: i32 parameters, no result. */
export interface KernelFunction {
  name: string;
  params: number;
  /** Local declarations: [count, type] pairs after the parameters. */
  locals: [number, number][];
  body: number[];
}

/**
 * The bytes of a module with one exported memory ("memory", 1 page to start) and the given functions
 * exported under their names.
 */
export function kernelModuleBytes(fns: KernelFunction[]): Uint8Array {
  const types = fns.flatMap((f) => [0x60, ...uleb(f.params), ...new Array<number>(f.params).fill(I32), 0]);
  const exports = fns.flatMap((f, i) => [...name(f.name), 0x00, ...uleb(i)]);
  const bodies = fns.flatMap((f) => {
    const code = [...uleb(f.locals.length), ...f.locals.flatMap(([n, t]) => [...uleb(n), t]), ...f.body, op.end];
    return [...uleb(code.length), ...code];
  });
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [...uleb(fns.length), ...types]),
    ...section(3, [...uleb(fns.length), ...fns.map((_, i) => i)]),
    ...section(5, [1, 0x00, 1]),
    ...section(7, [...uleb(fns.length + 1), ...name("memory"), 0x02, 0, ...exports]),
    ...section(10, [...uleb(fns.length), ...bodies]),
  ]);
}

/** The part of the WebAssembly JavaScript API used here (the project's lib settings do not declare it). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

/** Compiles a module; null where WebAssembly (or its SIMD) is unavailable, e.g. under node --jitless. */
export function compileModule(bytes: Uint8Array): object | null {
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  try {
    return wasm === undefined ? null : new wasm.Module(bytes);
  } catch {
    return null;
  }
}

/** A fresh instance of a compiled module: its exports (memory included). */
export function instantiate(module: object): Record<string, unknown> {
  return new (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly.Instance(module, {}).exports;
}

/** Grows `memory` to at least `bytes`; false when the engine refuses. */
export function ensureMemory(memory: WasmMemory, bytes: number): boolean {
  const have = memory.buffer.byteLength;
  if (have >= bytes) return true;
  try {
    memory.grow(Math.ceil((bytes - have) / 65536));
    return true;
  } catch {
    return false;
  }
}
