/**
 * safetensors read/write (https://github.com/huggingface/safetensors, format: 8-byte little-endian
 * header length N, N bytes of JSON header {name: {dtype, shape, data_offsets:[begin,end]}, __metadata__},
 * then the raw little-endian tensor bytes). Pure data code: the caller does the file I/O.
 */
import { ColtsError } from "../errors.js";

/** The element types read and written (safetensors' names). */
export type SafetensorsDtype = "F32" | "F16" | "BF16" | "I64" | "I32" | "I8" | "U8";

/** One tensor read from a file. */
export interface SafeTensor {
  /** The element type stored in the file. */
  dtype: SafetensorsDtype;
  /** Dimensions, outermost first; [] for a scalar. */
  shape: number[];
  /** Values as float32 (F16/BF16 are widened), or the integer array for integer dtypes. */
  data: Float32Array | Int32Array | Int8Array | Uint8Array | BigInt64Array;
}

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I8: 1, U8: 1 };

function fail(what: string, source: string): never {
  throw new ColtsError("SAFETENSORS_INVALID", `${source}: ${what}`, { details: { file: source } });
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function decodeTensor(dtype: SafetensorsDtype, bytes: Uint8Array): SafeTensor["data"] {
  // A fresh, exactly sized, aligned copy: `bytes.slice()` would be a view when `bytes` is a Node
  // Buffer, and its `.buffer` the whole (pooled) file.
  const copy = new Uint8Array(bytes);
  const buf = copy.buffer;
  switch (dtype) {
    case "F32":
      return new Float32Array(buf);
    case "I32":
      return new Int32Array(buf);
    case "I64":
      return new BigInt64Array(buf);
    case "I8":
      return new Int8Array(buf);
    case "U8":
      return copy;
    case "F16": {
      const h = new Uint16Array(buf);
      return Float32Array.from(h, halfToFloat);
    }
    case "BF16": {
      const h = new Uint16Array(buf);
      const out = new Float32Array(h.length);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < h.length; i++) u[i] = (h[i] ?? 0) << 16;
      return out;
    }
  }
}

/** Parses a whole safetensors file. `source` names the file in error messages. */
export function parseSafetensors(bytes: Uint8Array, source = "<safetensors>"): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const [name, entry] of parseSafetensorsHeader(bytes, source)) {
    if (entry.begin < 0 || entry.end < entry.begin || entry.end > bytes.length) {
      fail(`tensor ${name} offsets [${entry.begin}, ${entry.end}] fall outside the file (${bytes.length} bytes)`, source);
    }
    out.set(name, decodeSafetensor(entry, bytes.subarray(entry.begin, entry.end), name, source));
  }
  return out;
}

/** Looks a tensor up and checks its shape; the error says which tensor and shape were expected. */
export function requireTensor(tensors: Map<string, SafeTensor>, name: string, shape: number[] | null, source: string): SafeTensor {
  const t = tensors.get(name);
  if (!t) fail(`missing tensor "${name}" (has: ${[...tensors.keys()].join(", ") || "none"})`, source);
  if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => shape[i] !== -1 && d !== shape[i]))) {
    fail(`tensor "${name}" has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}]`, source);
  }
  return t;
}

/** One tensor to serialise; its dtype follows from the array type. */
export interface TensorToWrite {
  /** Key in the header; unique within a file. */
  name: string;
  /** Dimensions; their product must equal data.length. */
  shape: number[];
  /** Row-major values. */
  data: Float32Array | Int32Array | Int8Array | Uint8Array | BigInt64Array;
}

function dtypeOf(data: TensorToWrite["data"]): SafetensorsDtype {
  if (data instanceof Float32Array) return "F32";
  if (data instanceof Int32Array) return "I32";
  if (data instanceof BigInt64Array) return "I64";
  if (data instanceof Int8Array) return "I8";
  return "U8";
}

/**
 * Serialises tensors in the given order (deterministic bytes for the same input). The header is padded
 * with spaces to a multiple of 8 bytes, as the reference implementation does.
 */
export function serializeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header["__metadata__"] = metadata;
  let offset = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new ColtsError("SAFETENSORS_INVALID", `tensor ${t.name}: shape [${t.shape.join(", ")}] != ${t.data.length} values`);
    }
    header[t.name] = { dtype: dtypeOf(t.data), shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += " ";
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let pos = 8 + head.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range inside the file (absolute offsets). */
  begin: number;
  end: number;
}

/**
 * Parses only the header, given the file's first bytes, so large checkpoints can be read tensor by
 * tensor. `headerBytes` must hold at least the first 8 + N bytes (N from the first 8).
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, source: string): Map<string, SafetensorsEntry> {
  if (headerBytes.length < 8) fail("file shorter than its 8-byte header length", source);
  const n = Number(new DataView(headerBytes.buffer, headerBytes.byteOffset, 8).getBigUint64(0, true));
  if (8 + n > headerBytes.length) fail(`header of ${n} bytes is longer than the bytes given`, source);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(headerBytes.subarray(8, 8 + n))) as Record<string, unknown>;
  } catch (cause) {
    throw new ColtsError("SAFETENSORS_INVALID", `${source}: header is not JSON`, { cause, details: { file: source } });
  }
  const out = new Map<string, SafetensorsEntry>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const info = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const dtype = info.dtype as SafetensorsDtype;
    if (!(dtype in BYTES)) fail(`tensor ${name} has unsupported dtype ${String(info.dtype)}`, source);
    const [b, e] = info.data_offsets ?? [0, -1];
    out.set(name, { dtype, shape: info.shape ?? [], begin: 8 + n + b, end: 8 + n + e });
  }
  return out;
}

/** Decodes one tensor's bytes (as cut from the file with an entry's begin/end). */
export function decodeSafetensor(entry: SafetensorsEntry, bytes: Uint8Array, name: string, source: string): SafeTensor {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== count * BYTES[entry.dtype]) {
    fail(`tensor ${name}: ${bytes.length} bytes do not match shape [${entry.shape.join(", ")}] ${entry.dtype}`, source);
  }
  return { dtype: entry.dtype, shape: entry.shape, data: decodeTensor(entry.dtype, bytes) };
}
