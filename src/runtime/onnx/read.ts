/**
 * Reading ONNX model files without a protobuf dependency: a minimal wire-format reader (field numbers
 * from onnx/onnx.proto) for two uses. `readOnnxFloatInitializers` reads only the float initializers
 * (the weights) along ModelProto.graph (7) -> GraphProto.initializer (5) -> TensorProto {dims 1,
 * data_type 2, float_data 4, name 8, raw_data 9, external_data 13, data_location 14}, skipping
 * everything else unread. `readOnnxModel` reads the whole model into proto.ts' OnnxModel (nodes,
 * attributes, tensors of the data types proto.ts writes, value infos, opset imports, metadata) so that
 * a graph can be rewritten and written back (int8 quantization). Both read what proto.ts and write.ts
 * write (raw_data inline or in an external data file) and also the typed repeated fields (float_data,
 * int32_data, int64_data, double_data) and packed dims, which other serializers use.
 */
import fs from "node:fs";
import path from "node:path";
import { ColtsError } from "../../errors.js";
import {
  DataType,
  type Dim,
  type OnnxAttribute,
  type OnnxAttributeValue,
  type OnnxGraph,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  type OnnxValueInfo,
  type TensorData,
} from "./proto.js";

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

/** One field of a message: its number, wire type, and the varint value (and its bytes) or the payload bytes. */
interface Field {
  field: number;
  wire: number;
  /** A varint's value as a number (exact up to 2^53; see varint64 for int64 fields). */
  value: number;
  /** The payload; for a varint, its encoded bytes. */
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
    if (wire === WIRE_VARINT) {
      // The varint's own bytes ride along, so int64 fields can be decoded exactly (varint64).
      const start = pos;
      const value = varint();
      yield { field, wire, value, bytes: buf.subarray(start, pos) };
    }
    else if (wire === WIRE_LEN) yield { field, wire, value: 0, bytes: take(varint()) };
    else if (wire === WIRE_FIXED32) yield { field, wire, value: 0, bytes: take(4) };
    else if (wire === WIRE_FIXED64) yield { field, wire, value: 0, bytes: take(8) };
    else throw new ColtsError("ONNX_INVALID", `${what}: unsupported protobuf wire type ${wire} (field ${field})`, { details: { file: what } });
  }
}

/** The varint at `pos` as a signed 64-bit integer (protobuf int64: two's complement) and the position after it. */
function readVarint64(buf: Uint8Array, pos: number, what: string): [bigint, number] {
  let result = 0n;
  for (let i = 0; i < 10 && pos < buf.length; i++) {
    const b = buf[pos++] as number;
    result |= BigInt(b & 0x7f) << BigInt(7 * i);
    if (b < 0x80) return [BigInt.asIntN(64, result), pos];
  }
  throw new ColtsError("ONNX_INVALID", `${what}: truncated or overlong varint at byte ${pos}`, { details: { file: what } });
}

/** A varint field's value as a signed 64-bit integer. */
function varint64(f: Field, what: string): bigint {
  return readVarint64(f.bytes, 0, what)[0];
}

/** Packed repeated int64 varints. */
function packedVarints64(bytes: Uint8Array, what: string): bigint[] {
  const out: bigint[] = [];
  for (let pos = 0; pos < bytes.length; ) {
    const [v, next] = readVarint64(bytes, pos, what);
    out.push(v);
    pos = next;
  }
  return out;
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

/** A TensorProto's fields as stored: header plus the undecoded payload. */
interface RawTensor {
  name: string;
  dims: number[];
  dataType: number;
  /** raw_data (null when absent or external). */
  raw: Uint8Array | null;
  /** The typed repeated fields (float_data 4, int32_data 5, int64_data 7, double_data 10), as written. */
  repeated: Map<number, Field[]>;
  /** Set when the payload lives in an external data file (what the file's external_data said). */
  external: Map<string, string> | null;
}

/** Reads one TensorProto's fields; external data stays on disk until tensorValues needs it. */
function readRawTensor(bytes: Uint8Array, file: string): RawTensor {
  const t: RawTensor = { name: "", dims: [], dataType: 0, raw: null, repeated: new Map(), external: null };
  const external = new Map<string, string>();
  let isExternal = false;
  for (const f of fields(bytes, file)) {
    if (f.field === 1) t.dims.push(...(f.wire === WIRE_LEN ? packedVarints(f.bytes, file) : [f.value]));
    else if (f.field === 2) t.dataType = f.value;
    else if (f.field === 8) t.name = UTF8.decode(f.bytes);
    else if (f.field === 9) t.raw = f.bytes;
    else if (f.field === 4 || f.field === 5 || f.field === 7 || f.field === 10) t.repeated.set(f.field, [...(t.repeated.get(f.field) ?? []), f]);
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
  if (isExternal) t.external = external;
  return t;
}

/** Little-endian bytes -> a typed array of `type` (a copy, aligned). */
function fromBytes<T extends TensorData>(bytes: Uint8Array, type: { new (buffer: ArrayBuffer, offset: number, length: number): T; BYTES_PER_ELEMENT: number }): T {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const size = type.BYTES_PER_ELEMENT;
  if (!LITTLE_ENDIAN && size > 1) for (let i = 0; i + size <= copy.length; i += size) copy.subarray(i, i + size).reverse();
  return new type(copy.buffer, 0, Math.floor(copy.length / size));
}

/** The values of a repeated varint field (packed or not), as numbers or as signed 64-bit integers. */
function repeatedVarints(list: Field[] | undefined, file: string): number[] {
  const out: number[] = [];
  for (const f of list ?? []) out.push(...(f.wire === WIRE_LEN ? packedVarints(f.bytes, file) : [f.value]));
  return out;
}
/** int32_data / int64_data values exactly (negative int32 values are sign-extended 64-bit varints). */
function repeatedInt64(list: Field[] | undefined, file: string): bigint[] {
  const out: bigint[] = [];
  for (const f of list ?? []) {
    if (f.wire === WIRE_LEN) out.push(...packedVarints64(f.bytes, file));
    else out.push(varint64(f, file));
  }
  return out;
}
/** Repeated fixed-size floats (packed or one per field). */
function repeatedFixed(list: Field[] | undefined): Uint8Array {
  const parts = (list ?? []).map((f) => f.bytes);
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The values of a tensor as the typed array proto.ts writes for its data type (FLOAT, DOUBLE, INT8,
 * UINT8, BOOL, INT32, INT64); null for any other data type.
 */
function tensorValues(t: RawTensor, file: string): TensorData | null {
  if (!Object.values(DataType).includes(t.dataType as DataType)) return null;
  if (t.external) t = { ...t, raw: externalBytes(file, t.external, t.name) };
  const r = t.repeated;
  switch (t.dataType) {
    case DataType.FLOAT:
      return t.raw ? fromBytes(t.raw, Float32Array) : fromBytes(repeatedFixed(r.get(4)), Float32Array);
    case DataType.DOUBLE:
      return t.raw ? fromBytes(t.raw, Float64Array) : fromBytes(repeatedFixed(r.get(10)), Float64Array);
    case DataType.INT64:
      return t.raw ? fromBytes(t.raw, BigInt64Array) : BigInt64Array.from(repeatedInt64(r.get(7), file));
    case DataType.INT32:
      return t.raw ? fromBytes(t.raw, Int32Array) : Int32Array.from(repeatedInt64(r.get(5), file), Number);
    case DataType.INT8:
      return t.raw ? fromBytes(t.raw, Int8Array) : Int8Array.from(repeatedInt64(r.get(5), file), Number);
    case DataType.UINT8:
    case DataType.BOOL:
      return t.raw ? fromBytes(t.raw, Uint8Array) : Uint8Array.from(repeatedVarints(r.get(5), file));
    default:
      return null;
  }
}

/** Checks that a tensor's values fill its dims. */
function checkCount(t: RawTensor, length: number, file: string): void {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (length !== count) {
    throw new ColtsError("ONNX_INVALID", `${file}: tensor ${t.name} has dims [${t.dims.join(", ")}] but ${length} values`, { details: { file, tensor: t.name } });
  }
}

/** One TensorProto, or null when it is not a float tensor. */
function readTensor(bytes: Uint8Array, file: string): [string, OnnxFloatTensor] | null {
  const t = readRawTensor(bytes, file);
  if (t.dataType !== DataType.FLOAT) return null;
  const data = tensorValues(t, file) as Float32Array;
  checkCount(t, data.length, file);
  return [t.name, { dims: t.dims, data }];
}

/**
 * The float initializers of the ONNX model in `file`, by name (initializers of other types are
 * skipped). Tensors in an external data file are read from it. Throws ONNX_INVALID when the file is
 * not a readable ModelProto.
 */
export function readOnnxFloatInitializers(file: string): Map<string, OnnxFloatTensor> {
  const bytes = readModelBytes(file);
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

/** A whole model as read: the ModelProto as proto.ts represents it, and whether it used external data. */
export interface ReadOnnxResult {
  /** The model; every tensor's values are in memory (`data`), external ones included. */
  model: OnnxModel;
  /** True when at least one initializer was stored in an external data file. */
  externalData: boolean;
}

/** Refuses a part of ONNX that proto.ts cannot represent (so a rewrite would lose it). */
function unsupported(file: string, what: string): never {
  throw new ColtsError("ONNX_INVALID", `${file}: ${what} is not supported by colts' ONNX reader, so the model cannot be rewritten`, { details: { file } });
}

/** Reads the file whole; a missing file is MODEL_NOT_FOUND. */
function readModelBytes(file: string): Uint8Array {
  try {
    return fs.readFileSync(file);
  } catch (cause) {
    throw new ColtsError("MODEL_NOT_FOUND", `cannot read ${file}`, { cause, details: { file } });
  }
}

/** A TensorProto as an OnnxTensor with its values in memory; `external` is set when they came from a side file. */
function readFullTensor(bytes: Uint8Array, file: string, state: { external: boolean }): OnnxTensor {
  const t = readRawTensor(bytes, file);
  const data = tensorValues(t, file);
  if (!data) unsupported(file, `tensor ${t.name} of ONNX data type ${t.dataType}`);
  checkCount(t, data.length, file);
  if (t.external) state.external = true;
  return { name: t.name, dataType: t.dataType as DataType, dims: t.dims, data };
}

/** AttributeProto.type codes proto.ts can write, by code. */
const ATTRIBUTE_KINDS: Record<number, OnnxAttributeValue["type"]> = { 1: "float", 2: "int", 3: "string", 4: "tensor", 6: "floats", 7: "ints" };

function readAttribute(bytes: Uint8Array, file: string, state: { external: boolean }): OnnxAttribute {
  let name = "";
  let type = 0;
  let f = 0;
  let i = 0n;
  let s: Uint8Array = new Uint8Array(0);
  let t: OnnxTensor | null = null;
  const floatsList: Field[] = [];
  const intsList: Field[] = [];
  for (const x of fields(bytes, file)) {
    if (x.field === 1) name = UTF8.decode(x.bytes);
    else if (x.field === 20) type = x.value;
    else if (x.field === 2) f = new DataView(x.bytes.buffer, x.bytes.byteOffset, 4).getFloat32(0, true);
    else if (x.field === 3) i = varint64(x, file);
    else if (x.field === 4) s = x.bytes.slice();
    else if (x.field === 5) t = readFullTensor(x.bytes, file, state);
    else if (x.field === 7) floatsList.push(x);
    else if (x.field === 8) intsList.push(x);
    else if (x.field === 21) unsupported(file, `attribute ${name} referring to a function attribute`);
    else if (x.field !== 13 && x.field !== 20) unsupported(file, `attribute ${name} (field ${x.field}: a graph, string list, tensor list or sparse tensor)`);
  }
  const kind = ATTRIBUTE_KINDS[type];
  if (!kind) unsupported(file, `attribute ${name} of type ${type}`);
  switch (kind) {
    case "float":
      return { name, type: kind, value: f };
    case "int":
      return { name, type: kind, value: Number.isSafeInteger(Number(i)) ? Number(i) : i };
    case "string":
      return { name, type: kind, value: s };
    case "tensor":
      return t ? { name, type: kind, value: t } : unsupported(file, `tensor attribute ${name} without a tensor`);
    case "floats":
      return { name, type: kind, value: Array.from(fromBytes(repeatedFixed(floatsList), Float32Array)) };
    case "ints":
      return { name, type: kind, value: repeatedInt64(intsList, file).map((v) => (Number.isSafeInteger(Number(v)) ? Number(v) : v)) };
  }
}

function readNode(bytes: Uint8Array, file: string, state: { external: boolean }): OnnxNode {
  const node: OnnxNode = { opType: "", inputs: [], outputs: [] };
  const attributes: OnnxAttribute[] = [];
  for (const f of fields(bytes, file)) {
    if (f.field === 1) node.inputs.push(UTF8.decode(f.bytes));
    else if (f.field === 2) node.outputs.push(UTF8.decode(f.bytes));
    else if (f.field === 3) node.name = UTF8.decode(f.bytes);
    else if (f.field === 4) node.opType = UTF8.decode(f.bytes);
    else if (f.field === 5) attributes.push(readAttribute(f.bytes, file, state));
    else if (f.field === 7) node.domain = UTF8.decode(f.bytes);
    else if (f.field === 8 && f.bytes.length > 0) unsupported(file, `node ${node.name ?? node.opType} with a function overload`);
    // 6 doc_string: informational, dropped.
  }
  if (attributes.length > 0) node.attributes = attributes;
  return node;
}

/** ValueInfoProto of a tensor; null when it carries no type (allowed for value_info hints). Unknown dims get names. */
function readValueInfo(bytes: Uint8Array, file: string, unknownDims: { n: number }): OnnxValueInfo | null {
  let name = "";
  let typeBytes: Uint8Array | null = null;
  for (const f of fields(bytes, file)) {
    if (f.field === 1) name = UTF8.decode(f.bytes);
    else if (f.field === 2) typeBytes = f.bytes;
  }
  if (!typeBytes) return null;
  let tensorType: Uint8Array | null = null;
  for (const f of fields(typeBytes, file)) {
    if (f.field === 1) tensorType = f.bytes;
    else if (f.field !== 6) unsupported(file, `value ${name} of a non-tensor type (TypeProto field ${f.field})`);
  }
  if (!tensorType) unsupported(file, `value ${name} without a tensor type`);
  const info: OnnxValueInfo = { name, elemType: 0 as DataType };
  for (const f of fields(tensorType, file)) {
    if (f.field === 1) info.elemType = f.value as DataType;
    else if (f.field === 2) {
      info.dims = [];
      for (const d of fields(f.bytes, file)) {
        if (d.field !== 1) continue;
        let dim: Dim | null = null;
        for (const x of fields(d.bytes, file)) {
          if (x.field === 1) dim = Number(varint64(x, file));
          else if (x.field === 2) dim = UTF8.decode(x.bytes);
        }
        // A dim with neither value nor name: give it a fresh name, as onnx's shape inference does.
        info.dims.push(dim ?? `unk__${unknownDims.n++}`);
      }
    }
  }
  return info;
}

function readGraph(bytes: Uint8Array, file: string, state: { external: boolean }): OnnxGraph {
  const graph: OnnxGraph = { name: "", nodes: [], initializers: [], inputs: [], outputs: [] };
  const valueInfo: OnnxValueInfo[] = [];
  const unknownDims = { n: 0 };
  const info = (b: Uint8Array, what: string): OnnxValueInfo => readValueInfo(b, file, unknownDims) ?? unsupported(file, `${what} without a type`);
  for (const f of fields(bytes, file)) {
    if (f.field === 1) graph.nodes.push(readNode(f.bytes, file, state));
    else if (f.field === 2) graph.name = UTF8.decode(f.bytes);
    else if (f.field === 5) graph.initializers.push(readFullTensor(f.bytes, file, state));
    else if (f.field === 10) graph.docString = UTF8.decode(f.bytes);
    else if (f.field === 11) graph.inputs.push(info(f.bytes, "a graph input"));
    else if (f.field === 12) graph.outputs.push(info(f.bytes, "a graph output"));
    else if (f.field === 13) {
      const v = readValueInfo(f.bytes, file, unknownDims);
      if (v) valueInfo.push(v);
    } else if (f.field === 14) unsupported(file, "a quantization annotation");
    else if (f.field === 15) unsupported(file, "a sparse initializer");
  }
  if (valueInfo.length > 0) graph.valueInfo = valueInfo;
  return graph;
}

/**
 * Reads a whole ONNX model (nodes, attributes, initializers of every data type proto.ts writes,
 * inputs, outputs, value_info, opset imports, metadata) with external data loaded into memory, so it
 * can be changed and written back with writeOnnxModel. Doc strings of nodes and values are dropped
 * (informational); parts proto.ts cannot represent (subgraphs, functions, sparse tensors, training
 * info, float16 and string tensors) are refused with ONNX_INVALID rather than lost.
 */
export function readOnnxModel(file: string): ReadOnnxResult {
  const bytes = readModelBytes(file);
  const state = { external: false };
  const model: OnnxModel = { irVersion: 0, opsetImports: [], graph: { name: "", nodes: [], initializers: [], inputs: [], outputs: [] } };
  let sawGraph = false;
  const metadata: Record<string, string> = {};
  for (const f of fields(bytes, file)) {
    if (f.field === 1) model.irVersion = f.value;
    else if (f.field === 2) model.producerName = UTF8.decode(f.bytes);
    else if (f.field === 3) model.producerVersion = UTF8.decode(f.bytes);
    else if (f.field === 4) model.domain = UTF8.decode(f.bytes);
    else if (f.field === 5) model.modelVersion = Number(varint64(f, file));
    else if (f.field === 6) model.docString = UTF8.decode(f.bytes);
    else if (f.field === 7) {
      model.graph = readGraph(f.bytes, file, state);
      sawGraph = true;
    } else if (f.field === 8) {
      let domain = "";
      let version = 0;
      for (const o of fields(f.bytes, file)) {
        if (o.field === 1) domain = UTF8.decode(o.bytes);
        else if (o.field === 2) version = o.value;
      }
      model.opsetImports.push({ domain, version });
    } else if (f.field === 14) {
      let key = "";
      let value = "";
      for (const e of fields(f.bytes, file)) {
        if (e.field === 1) key = UTF8.decode(e.bytes);
        else if (e.field === 2) value = UTF8.decode(e.bytes);
      }
      metadata[key] = value;
    } else if (f.field === 20) unsupported(file, "training info");
    else if (f.field === 25) unsupported(file, "a model-local function");
  }
  if (!sawGraph) throw new ColtsError("ONNX_INVALID", `${file} is not an ONNX model (no graph)`, { details: { file } });
  if (Object.keys(metadata).length > 0) model.metadata = metadata;
  return { model, externalData: state.external };
}
