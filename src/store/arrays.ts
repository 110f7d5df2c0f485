/**
 * The binary container of colts' on-disk data: named typed arrays in one file, no JSON for large
 * arrays, checked on read.
 *
 * Layout (little-endian):
 *   0   8 bytes  magic "COLTSARR"
 *   8   u32      container version (1)
 *   12  u32      header length H
 *   16  H bytes  JSON header: { kind, version, meta, arrays: [{ name, dtype, length, offset }] }
 *   ... arrays, each starting at an 8-byte aligned offset (relative to the file start)
 *   end u32      CRC-32 of every byte before it
 * A reader refuses a wrong magic, an unknown container version, a `kind`/`version` it was not asked
 * for, a size that does not match the header (truncation) and a CRC mismatch (corruption), each with
 * an error that names the file.
 */
import fs from "node:fs";
import zlib from "node:zlib";
import { ColtsError } from "../errors.js";
import { writeFileAtomic } from "./atomic.js";

const MAGIC = Buffer.from("COLTSARR");
const CONTAINER_VERSION = 1;

export type StoredArray = Float32Array | Int32Array | Uint32Array | Uint8Array | Uint16Array | Int8Array | Float64Array | BigInt64Array;

const DTYPES = {
  f32: Float32Array,
  f64: Float64Array,
  i32: Int32Array,
  u32: Uint32Array,
  u16: Uint16Array,
  u8: Uint8Array,
  i8: Int8Array,
  i64: BigInt64Array,
} as const;
type Dtype = keyof typeof DTYPES;

function dtypeOf(a: StoredArray): Dtype {
  for (const [k, C] of Object.entries(DTYPES)) if (a instanceof C) return k as Dtype;
  throw new TypeError("unsupported array type");
}

interface Header {
  kind: string;
  version: number;
  meta: Record<string, unknown>;
  arrays: { name: string; dtype: Dtype; length: number; offset: number }[];
}

export interface ArraysFile {
  kind: string;
  version: number;
  meta: Record<string, unknown>;
  arrays: Map<string, StoredArray>;
}

/** Rounds up to a multiple of 8 (arithmetic, not bitwise: sizes may exceed 2^31). */
const align8 = (n: number): number => Math.ceil(n / 8) * 8;

/** Writes arrays atomically. `kind`/`version` identify the payload format (e.g. "plaid-chunk" v1). */
export function writeArrays(file: string, kind: string, version: number, arrays: Record<string, StoredArray>, meta: Record<string, unknown> = {}): number {
  const { parts, bytes } = encodeArrays(kind, version, arrays, meta);
  writeFileAtomic(file, parts);
  return bytes;
}

/**
 * The container's bytes for arrays, as parts to write one after another (the arrays' own memory, not
 * copied); `bytes` is their total length. For stores other than files (a database's bytea column).
 */
export function encodeArrays(kind: string, version: number, arrays: Record<string, StoredArray>, meta: Record<string, unknown> = {}): { parts: Uint8Array[]; bytes: number } {
  const entries = Object.entries(arrays);
  // Offsets depend on the header length, which depends on the offsets: iterate until stable.
  let headerLen = 0;
  let header: Header = { kind, version, meta, arrays: [] };
  for (;;) {
    let offset = align8(16 + headerLen);
    header = { kind, version, meta, arrays: [] };
    for (const [name, a] of entries) {
      header.arrays.push({ name, dtype: dtypeOf(a), length: a.length, offset });
      offset = align8(offset + a.byteLength);
    }
    const len = Buffer.byteLength(JSON.stringify(header));
    if (len === headerLen) break;
    headerLen = len;
  }
  const headerBytes = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(16);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(CONTAINER_VERSION, 8);
  prefix.writeUInt32LE(headerBytes.length, 12);
  const parts: Uint8Array[] = [prefix, headerBytes];
  let pos = 16 + headerBytes.length;
  let crc = zlib.crc32(headerBytes, zlib.crc32(prefix));
  const pad = (to: number): void => {
    if (to > pos) {
      const z = Buffer.alloc(to - pos);
      parts.push(z);
      crc = zlib.crc32(z, crc);
      pos = to;
    }
  };
  for (const [i, [, a]] of entries.entries()) {
    pad(header.arrays[i]?.offset ?? pos);
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    parts.push(bytes);
    // zlib.crc32 of an empty input returns 0 rather than the running value: skip empty arrays.
    if (bytes.length > 0) crc = zlib.crc32(bytes, crc);
    pos += bytes.length;
  }
  pad(align8(pos));
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(crc >>> 0, 0);
  parts.push(tail);
  return { parts, bytes: pos + 4 };
}

function corrupt(file: string, why: string): ColtsError {
  return new ColtsError("INDEX_CORRUPT", `${file}: ${why}`, { details: { file } });
}

export interface ReadArraysOptions {
  /** Expected payload kind; a different one is refused. */
  kind: string;
  /** Highest payload version this reader understands; a newer file is refused with INDEX_VERSION. */
  maxVersion: number;
  /** Check the CRC-32 (reads every byte once more; ~1 GB/s). Default true. */
  verify?: boolean;
}

/** Reads a file written by writeArrays. Arrays are views over one buffer (memory ≈ file size). */
export function readArrays(file: string, opts: ReadArraysOptions): ArraysFile {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (cause) {
    throw new ColtsError("INDEX_CORRUPT", `${file}: cannot be read (${(cause as Error).message})`, { cause, details: { file } });
  }
  return decodeArrays(file, buf, opts);
}

/** True when `buf` starts with the container's magic bytes (for readers that also know an older format). */
export function isArraysFile(buf: Uint8Array): boolean {
  return buf.length >= MAGIC.length && Buffer.from(buf.buffer, buf.byteOffset, MAGIC.length).equals(MAGIC);
}

/**
 * The header's shape, before any of it is used: a damaged header that is still JSON must fail as
 * INDEX_CORRUPT, not as a TypeError or RangeError further on. Arrays start 8-aligned after the header.
 */
function checkHeader(file: string, h: unknown, dataStart: number): asserts h is Header {
  const obj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!obj(h) || typeof h["kind"] !== "string" || typeof h["version"] !== "number" || !obj(h["meta"]) || !Array.isArray(h["arrays"])) {
    throw corrupt(file, "header lacks kind, version, meta or arrays");
  }
  const names = new Set<string>();
  for (const a of h["arrays"] as unknown[]) {
    const ok =
      obj(a) &&
      typeof a["name"] === "string" &&
      !names.has(a["name"]) &&
      typeof a["dtype"] === "string" &&
      Object.hasOwn(DTYPES, a["dtype"]) &&
      Number.isSafeInteger(a["length"]) &&
      (a["length"] as number) >= 0 &&
      Number.isSafeInteger(a["offset"]) &&
      (a["offset"] as number) >= dataStart &&
      (a["offset"] as number) % 8 === 0;
    if (!ok) throw corrupt(file, `header describes an invalid array (${JSON.stringify(a)?.slice(0, 200)})`);
    names.add(a["name"] as string);
  }
}

/** Decodes the bytes of a file written by writeArrays (already read by the caller); `file` names it in errors. */
export function decodeArrays(file: string, buf: Buffer, opts: ReadArraysOptions): ArraysFile {
  if (buf.length < 20 || !buf.subarray(0, 8).equals(MAGIC)) throw corrupt(file, "not a colts array file (bad magic or too short)");
  const cv = buf.readUInt32LE(8);
  if (cv !== CONTAINER_VERSION) {
    throw new ColtsError("INDEX_VERSION", `${file}: container version ${cv} is not supported (this colts reads ${CONTAINER_VERSION})`, { details: { file, version: cv } });
  }
  const hlen = buf.readUInt32LE(12);
  if (16 + hlen > buf.length) throw corrupt(file, "truncated header");
  let header: Header;
  try {
    header = JSON.parse(buf.subarray(16, 16 + hlen).toString("utf8")) as Header;
  } catch {
    throw corrupt(file, "header is not valid JSON");
  }
  checkHeader(file, header, 16 + hlen);
  if (header.kind !== opts.kind) throw corrupt(file, `holds "${header.kind}", expected "${opts.kind}"`);
  if (!(header.version >= 1 && header.version <= opts.maxVersion)) {
    throw new ColtsError("INDEX_VERSION", `${file}: ${header.kind} version ${header.version} is newer than this colts understands (<= ${opts.maxVersion}); upgrade colts`, {
      details: { file, version: header.version },
    });
  }
  const end = header.arrays.reduce((m, a) => Math.max(m, align8(a.offset + a.length * DTYPES[a.dtype].BYTES_PER_ELEMENT)), align8(16 + hlen));
  if (buf.length !== end + 4) throw corrupt(file, `size ${buf.length} bytes, header describes ${end + 4} (truncated or extended)`);
  if (opts.verify !== false && (zlib.crc32(buf.subarray(0, end)) >>> 0) !== buf.readUInt32LE(end)) throw corrupt(file, "checksum mismatch (file corrupted)");
  // Copy into an 8-aligned ArrayBuffer so every typed view is aligned.
  const ab = new ArrayBuffer(buf.length);
  new Uint8Array(ab).set(buf);
  const arrays = new Map<string, StoredArray>();
  for (const a of header.arrays) arrays.set(a.name, new DTYPES[a.dtype](ab, a.offset, a.length));
  return { kind: header.kind, version: header.version, meta: header.meta, arrays };
}

/** Typed accessor: the named array, of the expected type, or an INDEX_CORRUPT error naming both. */
export function getArray<T extends StoredArray>(f: ArraysFile, name: string, ctor: new (...args: never[]) => T, file: string): T {
  const a = f.arrays.get(name);
  if (!(a instanceof ctor)) throw corrupt(file, `missing or mistyped array "${name}"`);
  return a;
}
