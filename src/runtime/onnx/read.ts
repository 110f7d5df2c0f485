/**
 * Reading the float initializers (the weights) back out of an ONNX model file, without a protobuf
 * dependency: a minimal wire-format reader for the path ModelProto.graph (7) -> GraphProto.initializer
 * (5) -> TensorProto {dims 1, data_type 2, float_data 4, name 8, raw_data 9, external_data 13,
 * data_location 14} (field numbers from onnx/onnx.proto). It reads what proto.ts and write.ts write
 * (raw_data inline or in an external data file) and also float_data and packed dims, which other
 * serializers use. Everything else in the model is skipped unread.
 */
import fs from "node:fs";
import path from "node:path";
import { ColtsError } from "../../errors.js";
import { DataType } from "./proto.js";

/** A float initializer: its dims and its row-major values. */
export interface OnnxFloatTensor {
  /** Shape, outermost first; [] for a scalar. */
  dims: number[];
  /** The values (a copy, independent of the file's bytes). */
  data: Float32Array;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const UTF8 = new TextDecoder();

/** One field of a message: its number, wire type, and the varint value or the payload bytes. */
interface Field {
  field: number;
  wire: number;
  value: number;
  bytes: Uint8Array;
}

/** The base-128 varint at `pos` and the position after it (values above 2^53 lose precision; ONNX sizes stay far below). */
function readVarint(buf: Uint8Array, pos: number, what: string): [number, number] {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 10 && pos < buf.length; i++) {
    const b = buf[pos++] as number;
    result += (b & 0x7f) * scale;
    if (b < 0x80) return [result, pos];
    scale *= 128;
  }
  throw new ColtsError("ONNX_INVALID", `${what}: truncated or overlong varint at byte ${pos}`, { details: { file: what } });
}

/** Iterates the fields of one protobuf message; `what` names the file for errors. */
function* fields(buf: Uint8Array, what: string): Generator<Field> {
  const empty = new Uint8Array(0);
  let pos = 0;
  const varint = (): number => {
    const [v, next] = readVarint(buf, pos, what);
    pos = next;
    return v;
  };
  const take = (n: number): Uint8Array => {
    if (pos + n > buf.length) throw new ColtsError("ONNX_INVALID", `${what}: a field runs past the end of its message`, { details: { file: what } });
    const out = buf.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === WIRE_VARINT) yield { field, wire, value: varint(), bytes: empty };
    else if (wire === WIRE_LEN) yield { field, wire, value: 0, bytes: take(varint()) };
    else if (wire === WIRE_FIXED32) yield { field, wire, value: 0, bytes: take(4) };
    else if (wire === WIRE_FIXED64) yield { field, wire, value: 0, bytes: take(8) };
    else throw new ColtsError("ONNX_INVALID", `${what}: unsupported protobuf wire type ${wire} (field ${field})`, { details: { file: what } });
  }
}

/** Packed repeated varints (one LEN payload of untagged varints). */
function packedVarints(bytes: Uint8Array, what: string): number[] {
  const out: number[] = [];
  for (let pos = 0; pos < bytes.length; ) {
    const [v, next] = readVarint(bytes, pos, what);
    out.push(v);
    pos = next;
  }
  return out;
}

/** Little-endian float32 bytes -> a new Float32Array. */
function floats(bytes: Uint8Array): Float32Array {
  // A copy (Buffer's slice would be a view on the whole file) at offset 0, so it is 4-byte aligned.
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (!LITTLE_ENDIAN) for (let i = 0; i + 3 < copy.length; i += 4) copy.subarray(i, i + 4).reverse();
  return new Float32Array(copy.buffer, 0, Math.floor(copy.length / 4));
}

/** Reads `length` bytes at `offset` of an external data file (relative to the model's folder). */
function externalBytes(modelFile: string, entries: Map<string, string>, name: string): Uint8Array {
  const location = entries.get("location");
  if (!location || path.isAbsolute(location) || location.split(/[\\/]/).includes("..")) {
    throw new ColtsError("ONNX_INVALID", `${modelFile}: tensor ${name} has an unusable external data location ${JSON.stringify(location)}`, { details: { file: modelFile } });
  }
  const file = path.join(path.dirname(modelFile), location);
  const offset = Number(entries.get("offset") ?? 0);
  const size = fs.existsSync(file) ? fs.statSync(file).size : -1;
  const length = entries.has("length") ? Number(entries.get("length")) : size - offset;
  if (size < 0 || !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new ColtsError("ONNX_INVALID", `${modelFile}: tensor ${name} points at bytes ${offset}..${offset + length} of ${file}, which ${size < 0 ? "does not exist" : `has ${size} bytes`}`, {
      details: { file: modelFile, tensor: name },
    });
  }
  const out = new Uint8Array(length);
  const fd = fs.openSync(file, "r");
  try {
    fs.readSync(fd, out, 0, length, offset);
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

/** One TensorProto, or null when it is not a float tensor. */
function readTensor(bytes: Uint8Array, file: string): [string, OnnxFloatTensor] | null {
  const dims: number[] = [];
  let dataType = 0;
  let name = "";
  let raw: Uint8Array | null = null;
  const floatData: number[] = [];
  let packedFloatData: Float32Array | null = null;
  const external = new Map<string, string>();
  let isExternal = false;
  for (const f of fields(bytes, file)) {
    if (f.field === 1) dims.push(...(f.wire === WIRE_LEN ? packedVarints(f.bytes, file) : [f.value]));
    else if (f.field === 2) dataType = f.value;
    else if (f.field === 4 && f.wire === WIRE_LEN) packedFloatData = floats(f.bytes);
    else if (f.field === 4 && f.wire === WIRE_FIXED32) floatData.push(...floats(f.bytes));
    else if (f.field === 8) name = UTF8.decode(f.bytes);
    else if (f.field === 9) raw = f.bytes;
    else if (f.field === 13) {
      let key = "";
      let value = "";
      for (const e of fields(f.bytes, file)) {
        if (e.field === 1) key = UTF8.decode(e.bytes);
        else if (e.field === 2) value = UTF8.decode(e.bytes);
      }
      external.set(key, value);
    } else if (f.field === 14) isExternal = f.value === 1;
  }
  if (dataType !== DataType.FLOAT) return null;
  const count = dims.reduce((a, b) => a * b, 1);
  const data = isExternal ? floats(externalBytes(file, external, name)) : raw ? floats(raw) : (packedFloatData ?? Float32Array.from(floatData));
  if (data.length !== count) {
    throw new ColtsError("ONNX_INVALID", `${file}: initializer ${name} has dims [${dims.join(", ")}] but ${data.length} values`, { details: { file, tensor: name } });
  }
  return [name, { dims, data }];
}

/**
 * The float initializers of the ONNX model in `file`, by name (initializers of other types are
 * skipped). Tensors in an external data file are read from it. Throws ONNX_INVALID when the file is
 * not a readable ModelProto.
 */
export function readOnnxFloatInitializers(file: string): Map<string, OnnxFloatTensor> {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (cause) {
    throw new ColtsError("MODEL_NOT_FOUND", `cannot read ${file}`, { cause, details: { file } });
  }
  const out = new Map<string, OnnxFloatTensor>();
  for (const m of fields(bytes, file)) {
    if (m.field !== 7 || m.wire !== WIRE_LEN) continue;
    for (const g of fields(m.bytes, file)) {
      if (g.field !== 5 || g.wire !== WIRE_LEN) continue;
      const t = readTensor(g.bytes, file);
      if (t) out.set(t[0], t[1]);
    }
  }
  return out;
}
