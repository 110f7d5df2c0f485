/**
 * safetensors read/write (https://github.com/huggingface/safetensors, format: 8-byte little-endian
 * header length N, N bytes of JSON header {name: {dtype, shape, data_offsets:[begin,end]}, __metadata__},
 * then the raw little-endian tensor bytes). Pure data code: the caller does the file I/O.
 */
import { ColtsError } from "../errors.js";

export type SafetensorsDtype = "F32" | "F16" | "BF16" | "I64" | "I32" | "I8" | "U8";

export interface SafeTensor {
  dtype: SafetensorsDtype;
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
  const copy = bytes.slice(); // aligned copy
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
  if (bytes.length < 8) fail("file shorter than its 8-byte header length", source);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n <= 0 || 8 + n > bytes.length) fail(`header length ${n} exceeds file size ${bytes.length}`, source);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  } catch (cause) {
    throw new ColtsError("SAFETENSORS_INVALID", `${source}: header is not JSON`, { cause, details: { file: source } });
  }
  const body = bytes.subarray(8 + n);
  const out = new Map<string, SafeTensor>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const info = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const dtype = info.dtype as SafetensorsDtype;
    if (!(dtype in BYTES)) fail(`tensor ${name} has unsupported dtype ${String(info.dtype)}`, source);
    const shape = info.shape ?? [];
    const [begin, end] = info.data_offsets ?? [0, -1];
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * BYTES[dtype] || end > body.length || begin < 0) {
      fail(`tensor ${name} offsets [${begin}, ${end}] do not match shape [${shape.join(", ")}] ${dtype}`, source);
    }
    out.set(name, { dtype, shape, data: decodeTensor(dtype, body.subarray(begin, end)) });
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

export interface TensorToWrite {
  name: string;
  shape: number[];
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
