/**
 * The reader of version-1 BM25 files, written by colts before the file moved to store/arrays.ts'
 * container (format.ts): indexes built then still open. Nothing writes this format any more.
 * Layout (little-endian):
 *
 *   0   8 bytes   magic "CLTSBM25"
 *   8   uint32    H = byte length of the JSON header
 *   12  uint32    0 (reserved)
 *   16  H bytes   JSON header: format, version, similarity (k1, b), analyzer descriptor, stats,
 *                 section table [{name, type, offset, count}], dataBytes, sha256 of the data region
 *   ... zero padding to a multiple of 8: the data region starts here; the sections of parts.ts,
 *       each at an 8-aligned absolute offset, zero-padded between
 */
import { createHash } from "node:crypto";
import { ColtsError } from "../errors.js";
import { SECTION_NAMES, SECTION_TYPES, checkSections, failFor, type Bm25FileInfo, type Bm25Sections, type DecodedBm25, type SectionName } from "./parts.js";

/** The magic bytes that open a version-1 file. */
export const V1_MAGIC = Buffer.from("CLTSBM25", "ascii");
const PREFIX = 16;
/** A header above this is not ours (real headers are a few KiB; custom stop lists stay well below). */
const MAX_HEADER = 64 << 20;

interface SectionEntry {
  name: SectionName;
  type: "uint8" | "uint32";
  offset: number;
  count: number;
}

interface V1Header extends Omit<Bm25FileInfo, "version"> {
  format: string;
  version: number;
  sections: SectionEntry[];
  dataBytes: number;
  sha256: string;
}

const align8 = (n: number): number => Math.ceil(n / 8) * 8;

/** True when `buf` opens with the version-1 magic. */
export function isV1(buf: Buffer): boolean {
  return buf.length >= V1_MAGIC.length && buf.subarray(0, V1_MAGIC.length).equals(V1_MAGIC);
}

/** Parses and checks a whole version-1 file; refusals are INDEX_CORRUPT (or INDEX_VERSION) naming `file`. */
export function decodeBm25V1(file: string, buf: Buffer): DecodedBm25 {
  const fail = failFor(file);
  if (buf.length < PREFIX) fail(`truncated: ${buf.length} bytes is shorter than the ${PREFIX}-byte preamble`);
  if (!isV1(buf)) fail("not a colts BM25 index (bad magic bytes)");
  const h = buf.readUInt32LE(8);
  if (h > MAX_HEADER) fail(`corrupt: header length ${h} is implausible`);
  if (PREFIX + h > buf.length) fail(`truncated: header needs ${PREFIX + h} bytes, file has ${buf.length}`);
  let header: V1Header;
  try {
    header = JSON.parse(buf.toString("utf8", PREFIX, PREFIX + h)) as V1Header;
  } catch (cause) {
    throw new ColtsError("INDEX_CORRUPT", `${file}: corrupt header (not JSON)`, { cause, details: { file } });
  }
  if (typeof header !== "object" || header === null || header.format !== "colts-bm25") fail(`not a colts BM25 index (format ${String(header?.format)})`);
  if (header.version !== 1) {
    throw new ColtsError("INDEX_VERSION", `${file}: unsupported bm25 format version ${String(header.version)} (this colts reads versions 1 and 2): rebuild the index`, {
      details: { file, version: header.version },
    });
  }
  const dataStart = align8(PREFIX + h);
  if (!Number.isSafeInteger(header.dataBytes) || header.dataBytes < 0) fail("corrupt header: bad dataBytes");
  const expected = dataStart + header.dataBytes;
  if (buf.length < expected) fail(`truncated: expected ${expected} bytes, found ${buf.length}`);
  if (buf.length > expected) fail(`corrupt: ${buf.length - expected} unexpected bytes after the data`);
  const sha = createHash("sha256").update(buf.subarray(dataStart, expected)).digest("hex");
  if (sha !== header.sha256) fail("corrupt: checksum mismatch (the file was damaged after it was written)");

  const table = new Map<string, SectionEntry>();
  for (const s of Array.isArray(header.sections) ? (header.sections as unknown[]) : []) {
    if (typeof s === "object" && s !== null && "name" in s && typeof s.name === "string") table.set(s.name, s as SectionEntry);
  }
  const view = (name: SectionName): Uint8Array | Uint32Array => {
    const s = table.get(name);
    if (s === undefined) return fail(`corrupt header: section ${name} missing`);
    if (s.type !== SECTION_TYPES[name] || !Number.isSafeInteger(s.offset) || !Number.isSafeInteger(s.count) || s.count < 0) {
      return fail(`corrupt header: section ${name} is malformed`);
    }
    const width = s.type === "uint32" ? 4 : 1;
    if (s.offset < dataStart || s.offset + s.count * width > expected) fail(`corrupt header: section ${name} lies outside the data`);
    const at = buf.byteOffset + s.offset;
    if (width === 1) return new Uint8Array(buf.buffer, at, s.count);
    // Typed arrays need aligned offsets; a pooled small Buffer may not be, then copy.
    if (at % 4 === 0) return new Uint32Array(buf.buffer, at, s.count);
    return new Uint32Array(new Uint8Array(buf.subarray(s.offset, s.offset + s.count * 4)).buffer);
  };
  const sections = Object.fromEntries(SECTION_NAMES.map((n) => [n, view(n)])) as Bm25Sections;
  const parts = checkSections(sections, header.stats, fail);
  return { info: { version: 1, similarity: header.similarity, analyzer: header.analyzer, stats: header.stats }, parts };
}
