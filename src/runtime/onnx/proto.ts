/**
 * ONNX model encoding without a protobuf dependency: a minimal protobuf wire writer plus encoders for
 * the ONNX messages colts emits (field numbers from onnx/onnx.proto). Fields are written in field-number
 * order and repeated scalars unpacked, as onnx's own (proto2) serializer does, so the same model gives
 * the same bytes. Tensor payloads are little-endian `raw_data`, referenced rather than copied until the
 * final concatenation so large models are not copied twice.
 */
import { ColtsError } from "../../errors.js";

/** TensorProto.DataType codes used by colts. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, DOUBLE: 11 } as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

/** Row-major tensor values; BOOL tensors use Uint8Array (0/1). */
export type TensorData = Float32Array | Float64Array | Uint8Array | Int8Array | Int32Array | BigInt64Array;

/** Where an external tensor's bytes live, relative to the .onnx file's folder. */
export interface OnnxExternalData {
  location: string;
  offset: number;
  length: number;
}

/** A TensorProto: exactly one of `data` (inline raw_data) or `external` is set. */
export interface OnnxTensor {
  name: string;
  dataType: DataType;
  dims: number[];
  data?: TensorData;
  external?: OnnxExternalData;
}

/** An attribute value; `type` picks the AttributeProto field (FLOAT=1, INT=2, STRING=3, TENSOR=4, FLOATS=6, INTS=7). */
export type OnnxAttributeValue =
  | { type: "float"; value: number }
  | { type: "int"; value: number | bigint }
  | { type: "string"; value: string | Uint8Array }
  | { type: "tensor"; value: OnnxTensor }
  | { type: "floats"; value: number[] }
  | { type: "ints"; value: (number | bigint)[] };

export type OnnxAttribute = OnnxAttributeValue & { name: string };

/** Constructors for attribute values, so call sites read `attr.ints([0, 2, 1, 3])`. */
export const attr = {
  float: (value: number): OnnxAttributeValue => ({ type: "float", value }),
  int: (value: number | bigint): OnnxAttributeValue => ({ type: "int", value }),
  string: (value: string | Uint8Array): OnnxAttributeValue => ({ type: "string", value }),
  tensor: (value: OnnxTensor): OnnxAttributeValue => ({ type: "tensor", value }),
  floats: (value: number[]): OnnxAttributeValue => ({ type: "floats", value }),
  ints: (value: (number | bigint)[]): OnnxAttributeValue => ({ type: "ints", value }),
};

export interface OnnxNode {
  opType: string;
  /** Value names; "" marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  name?: string;
  /** Operator domain; undefined or "" is the default ONNX domain. */
  domain?: string;
  attributes?: OnnxAttribute[];
}

/** A dimension: a fixed size or a symbolic name such as "batch". */
export type Dim = number | string;

/** ValueInfoProto of a tensor; `dims` undefined means unknown rank. */
export interface OnnxValueInfo {
  name: string;
  elemType: DataType;
  dims?: Dim[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  valueInfo?: OnnxValueInfo[];
  docString?: string;
}

/** An ONNX ModelProto, the part of it colts writes (`encodeModel` turns it into protobuf bytes). */
export interface OnnxModel {
  /** ONNX IR version of the file format (ir_version). */
  irVersion: number;
  /** Operator sets used: "" is the default ONNX domain, e.g. { domain: "", version: 17 }. */
  opsetImports: { domain: string; version: number }[];
  /** Tool that made the model (informational). */
  producerName?: string;
  /** Version of that tool (informational). */
  producerVersion?: string;
  /** Reverse-DNS name of the model's namespace (informational; kept when a read model is rewritten). */
  domain?: string;
  /** The model's own version number (informational). */
  modelVersion?: number;
  /** Human-readable description of the model (informational). */
  docString?: string;
  /** The computation. */
  graph: OnnxGraph;
  /** metadata_props, written in insertion order. */
  metadata?: Record<string, string>;
}

const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LEN = 2;
/** Payloads at least this large are referenced as separate chunks instead of copied. */
const CHUNK_MIN = 4096;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const SCRATCH = new DataView(new ArrayBuffer(4));
const UTF8 = new TextEncoder();

/** Protobuf wire writer: small writes go to a growing buffer, large payloads are kept as chunks. */
export class ProtoWriter {
  private readonly parts: Uint8Array[] = [];
  private buf = new Uint8Array(256);
  private pos = 0;
  private flushed = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.flushed + this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n, 256));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  private flush(): void {
    if (this.pos === 0) return;
    this.parts.push(this.buf.subarray(0, this.pos));
    this.flushed += this.pos;
    this.buf = this.buf.subarray(this.pos); // keep the spare capacity
    this.pos = 0;
  }

  /** Base-128 varint; negative values are 64-bit two's complement (10 bytes), as protobuf int64 does. */
  varint(v: number | bigint): this {
    if (typeof v === "number") {
      if (!Number.isSafeInteger(v)) throw new RangeError(`varint: ${v} is not a safe integer`);
      if (v >= 0) {
        this.ensure(8);
        while (v > 0x7f) {
          this.buf[this.pos++] = (v % 128) | 0x80;
          v = Math.floor(v / 128);
        }
        this.buf[this.pos++] = v;
        return this;
      }
      v = BigInt(v);
    }
    if (v < -(1n << 63n) || v >= 1n << 64n) throw new RangeError(`varint: ${v} does not fit 64 bits`);
    let u = BigInt.asUintN(64, v);
    this.ensure(10);
    while (u > 0x7fn) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  /** Raw bytes; large arrays are referenced, not copied (the caller must not mutate them before finish). */
  raw(data: Uint8Array): this {
    if (data.length >= CHUNK_MIN) {
      this.flush();
      this.parts.push(data);
      this.flushed += data.length;
    } else {
      this.ensure(data.length);
      this.buf.set(data, this.pos);
      this.pos += data.length;
    }
    return this;
  }

  /** Little-endian IEEE float32 (wire type 5 payload). */
  fixed32Float(v: number): this {
    SCRATCH.setFloat32(0, v, true);
    this.ensure(4);
    for (let i = 0; i < 4; i++) this.buf[this.pos++] = SCRATCH.getUint8(i);
    return this;
  }

  intField(field: number, v: number | bigint): this {
    return this.tag(field, WIRE_VARINT).varint(v);
  }

  floatField(field: number, v: number): this {
    return this.tag(field, WIRE_FIXED32).fixed32Float(v);
  }

  bytesField(field: number, data: Uint8Array): this {
    return this.tag(field, WIRE_LEN).varint(data.length).raw(data);
  }

  stringField(field: number, s: string): this {
    return this.bytesField(field, UTF8.encode(s));
  }

  /** An embedded message, length-prefixed. */
  messageField(field: number, sub: ProtoWriter): this {
    this.tag(field, WIRE_LEN).varint(sub.length);
    for (const part of sub.chunks()) this.raw(part);
    return this;
  }

  /** Packed repeated varints (one length-delimited field). */
  packedVarints(field: number, values: readonly (number | bigint)[]): this {
    const sub = new ProtoWriter();
    for (const v of values) sub.varint(v);
    return this.messageField(field, sub);
  }

  /** Packed repeated float32. */
  packedFloats(field: number, values: readonly number[]): this {
    const sub = new ProtoWriter();
    for (const v of values) sub.fixed32Float(v);
    return this.messageField(field, sub);
  }

  /** The written bytes as a list of chunks (no copy). */
  chunks(): Uint8Array[] {
    this.flush();
    return this.parts.slice();
  }

  /** The written bytes as one array. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const part of this.chunks()) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}

function invalid(message: string): never {
  throw new ColtsError("ONNX_INVALID", message);
}

/** The typed array class that holds each data type's values. */
const ARRAY_FOR_TYPE: Record<DataType, new (length: number) => TensorData> = {
  [DataType.FLOAT]: Float32Array,
  [DataType.UINT8]: Uint8Array,
  [DataType.INT8]: Int8Array,
  [DataType.INT32]: Int32Array,
  [DataType.INT64]: BigInt64Array,
  [DataType.BOOL]: Uint8Array,
  [DataType.DOUBLE]: Float64Array,
};

/** The little-endian bytes of a typed array (a view on little-endian hosts, a swapped copy otherwise). */
export function tensorBytes(data: TensorData): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const size = data.BYTES_PER_ELEMENT;
  if (LITTLE_ENDIAN || size === 1) return view;
  const out = new Uint8Array(view.length);
  for (let i = 0; i < view.length; i += size) for (let j = 0; j < size; j++) out[i + j] = view[i + size - 1 - j] ?? 0;
  return out;
}

function writeTensor(w: ProtoWriter, t: OnnxTensor): void {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if ((t.data === undefined) === (t.external === undefined)) invalid(`tensor ${t.name}: needs exactly one of data and external`);
  if (t.data) {
    const want = ARRAY_FOR_TYPE[t.dataType];
    if (!(t.data instanceof want)) {
      invalid(`tensor ${t.name}: data type ${t.dataType} needs ${want.name}, got ${t.data.constructor.name}`);
    }
    if (t.data.length !== count) invalid(`tensor ${t.name}: dims [${t.dims.join(", ")}] != ${t.data.length} values`);
  }
  for (const d of t.dims) w.intField(1, d);
  w.intField(2, t.dataType);
  w.stringField(8, t.name);
  if (t.data) w.bytesField(9, tensorBytes(t.data));
  if (t.external) {
    const { location, offset, length } = t.external;
    for (const [key, value] of [["location", location], ["offset", String(offset)], ["length", String(length)]] as const) {
      w.messageField(13, new ProtoWriter().stringField(1, key).stringField(2, value));
    }
    w.intField(14, 1); // data_location = EXTERNAL
  }
}

const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;

function writeAttribute(w: ProtoWriter, a: OnnxAttribute): void {
  w.stringField(1, a.name);
  switch (a.type) {
    case "float":
      w.floatField(2, a.value);
      break;
    case "int":
      w.intField(3, a.value);
      break;
    case "string":
      w.bytesField(4, typeof a.value === "string" ? UTF8.encode(a.value) : a.value);
      break;
    case "tensor":
      w.messageField(5, message(writeTensor, a.value));
      break;
    case "floats":
      for (const v of a.value) w.floatField(7, v);
      break;
    case "ints":
      for (const v of a.value) w.intField(8, v);
      break;
  }
  w.intField(20, ATTR_TYPE[a.type]);
}

function writeNode(w: ProtoWriter, n: OnnxNode): void {
  for (const s of n.inputs) w.stringField(1, s);
  for (const s of n.outputs) w.stringField(2, s);
  if (n.name !== undefined) w.stringField(3, n.name);
  w.stringField(4, n.opType);
  for (const a of n.attributes ?? []) w.messageField(5, message(writeAttribute, a));
  if (n.domain) w.stringField(7, n.domain);
}

function writeValueInfo(w: ProtoWriter, v: OnnxValueInfo): void {
  w.stringField(1, v.name);
  const tensorType = new ProtoWriter().intField(1, v.elemType);
  if (v.dims) {
    const shape = new ProtoWriter();
    for (const d of v.dims) {
      shape.messageField(1, typeof d === "number" ? new ProtoWriter().intField(1, d) : new ProtoWriter().stringField(2, d));
    }
    tensorType.messageField(2, shape);
  }
  w.messageField(2, new ProtoWriter().messageField(1, tensorType));
}

function writeGraph(w: ProtoWriter, g: OnnxGraph): void {
  for (const n of g.nodes) w.messageField(1, message(writeNode, n));
  w.stringField(2, g.name);
  for (const t of g.initializers) w.messageField(5, message(writeTensor, t));
  if (g.docString !== undefined) w.stringField(10, g.docString);
  for (const v of g.inputs) w.messageField(11, message(writeValueInfo, v));
  for (const v of g.outputs) w.messageField(12, message(writeValueInfo, v));
  for (const v of g.valueInfo ?? []) w.messageField(13, message(writeValueInfo, v));
}

function writeModel(w: ProtoWriter, m: OnnxModel): void {
  w.intField(1, m.irVersion);
  if (m.producerName !== undefined) w.stringField(2, m.producerName);
  if (m.producerVersion !== undefined) w.stringField(3, m.producerVersion);
  if (m.domain !== undefined) w.stringField(4, m.domain);
  if (m.modelVersion !== undefined) w.intField(5, m.modelVersion);
  if (m.docString !== undefined) w.stringField(6, m.docString);
  w.messageField(7, message(writeGraph, m.graph));
  for (const o of m.opsetImports) w.messageField(8, new ProtoWriter().stringField(1, o.domain).intField(2, o.version));
  for (const [key, value] of Object.entries(m.metadata ?? {})) {
    w.messageField(14, new ProtoWriter().stringField(1, key).stringField(2, value));
  }
}

function message<T>(write: (w: ProtoWriter, value: T) => void, value: T): ProtoWriter {
  const w = new ProtoWriter();
  write(w, value);
  return w;
}

/** Protobuf's hard limit on one message; bigger models must put initializers in external data. */
const MAX_PROTO_BYTES = 2 ** 31 - 1;

function modelWriter(model: OnnxModel): ProtoWriter {
  const w = message(writeModel, model);
  if (w.length > MAX_PROTO_BYTES) invalid(`model is ${w.length} bytes, over protobuf's 2 GiB limit: write it with external data`);
  return w;
}

/** The ModelProto as a list of chunks (large tensors are views, not copies), for streaming to a file. */
export function encodeModelChunks(model: OnnxModel): Uint8Array[] {
  return modelWriter(model).chunks();
}

/** The ModelProto bytes (deterministic: the same model gives the same bytes). */
export function encodeModel(model: OnnxModel): Uint8Array {
  return modelWriter(model).finish();
}

/** A single TensorProto's bytes (e.g. for tests or .pb tensor files). */
export function encodeTensor(tensor: OnnxTensor): Uint8Array {
  return message(writeTensor, tensor).finish();
}
