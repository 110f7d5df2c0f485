/**
 * The `bm25.bin` file format, version 1 (all integers little-endian):
 *
 *   0   8 bytes   magic "CLTSBM25"
 *   8   uint32    H = byte length of the JSON header
 *   12  uint32    0 (reserved)
 *   16  H bytes   JSON header: format, version, similarity (k1, b), analyzer descriptor, stats,
 *                 section table [{name, type, offset, count}], dataBytes, sha256 of the data region
 *   ... zero padding to a multiple of 8: the data region starts here
 *       sections, each at an 8-aligned absolute offset, zero-padded between:
 *         termOffsets uint32[terms+1]  termBytes uint8[]   (UTF-8 terms, term t = bytes off[t]..off[t+1])
 *         postingOffsets uint32[terms+1]  postingDocs uint32[postings]  postingFreqs uint32[postings]
 *         lengths uint32[documents]  deleted uint8[documents]
 *         idOffsets uint32[documents+1]  idBytes uint8[]   (UTF-8 external ids, by ordinal)
 *
 * Big arrays are raw typed-array bytes, never JSON. Decoding checks everything it relies on
 * (magic, version, sizes, checksum, offsets, ordinals, lengths) and names the file in every refusal.
 */
import { createHash } from "node:crypto";
import os from "node:os";
import { ColtsError } from "../errors.js";
import type { AnalyzerDescriptor } from "./analyzer.js";
import type { Bm25IndexParts } from "./bm25-index.js";

export const FORMAT_NAME = "colts-bm25";
export const FORMAT_VERSION = 1;
const MAGIC = Buffer.from("CLTSBM25", "ascii");
const PREFIX = 16;
/** A header above this is not ours (real headers are a few KiB; custom stop lists stay well below). */
const MAX_HEADER = 64 << 20;

type SectionType = "uint8" | "uint32";
const SECTION_NAMES = ["termOffsets", "termBytes", "postingOffsets", "postingDocs", "postingFreqs", "lengths", "deleted", "idOffsets", "idBytes"] as const;
type SectionName = (typeof SECTION_NAMES)[number];
const SECTION_TYPES: Record<SectionName, SectionType> = {
  termOffsets: "uint32",
  termBytes: "uint8",
  postingOffsets: "uint32",
  postingDocs: "uint32",
  postingFreqs: "uint32",
  lengths: "uint32",
  deleted: "uint8",
  idOffsets: "uint32",
  idBytes: "uint8",
};

interface SectionEntry {
  name: SectionName;
  type: SectionType;
  /** Absolute byte offset in the file. */
  offset: number;
  /** Number of elements. */
  count: number;
}

export interface Bm25Header {
  format: string;
  version: number;
  byteOrder: "little-endian";
  similarity: { name: "lucene-bm25"; k1: number; b: number };
  analyzer: AnalyzerDescriptor;
  stats: { documents: number; liveDocuments: number; terms: number; postings: number; sumDocumentLength: number };
  sections: SectionEntry[];
  dataBytes: number;
  sha256: string;
}

const align8 = (n: number): number => Math.ceil(n / 8) * 8;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function requireLittleEndian(): void {
  if (os.endianness() !== "LE") throw new ColtsError("INPUT_INVALID", "bm25 index files are little-endian; big-endian hosts are not supported");
}

function packStrings(strings: readonly string[], what: string): { offsets: Uint32Array; bytes: Uint8Array } {
  const chunks: Buffer[] = [];
  const offsets = new Uint32Array(strings.length + 1);
  let n = 0;
  for (const [i, s] of strings.entries()) {
    // UTF-8 cannot carry lone surrogates: refuse instead of silently changing an id.
    if (LONE_SURROGATE.test(s)) throw new ColtsError("INPUT_INVALID", `bm25 save: ${what} ${JSON.stringify(s)} is not well-formed Unicode`);
    const b = Buffer.from(s, "utf8");
    chunks.push(b);
    n += b.length;
    if (n > 0xffffffff) throw new ColtsError("INPUT_INVALID", `bm25 save: ${what}s exceed 4 GiB`);
    offsets[i + 1] = n;
  }
  return { offsets, bytes: Buffer.concat(chunks, n) };
}

/** Serialises `parts` into the chunks of a version-1 file (written in order, they are the file). */
export function encodeBm25(parts: Bm25IndexParts, stats: Bm25Header["stats"]): Uint8Array[] {
  requireLittleEndian();
  const terms = packStrings(parts.terms, "term");
  const ids = packStrings(parts.ids, "document id");
  const arrays: Record<SectionName, Uint8Array | Uint32Array> = {
    termOffsets: terms.offsets,
    termBytes: terms.bytes,
    postingOffsets: parts.postings.offsets,
    postingDocs: parts.postings.docs,
    postingFreqs: parts.postings.freqs,
    lengths: parts.lengths,
    deleted: parts.deleted,
    idOffsets: ids.offsets,
    idBytes: ids.bytes,
  };
  // Lay out sections with offsets relative to the data start, then fix them once the header size is known.
  const rel: { name: SectionName; at: number; bytes: Uint8Array }[] = [];
  let size = 0;
  for (const name of SECTION_NAMES) {
    const a = arrays[name];
    size = align8(size);
    rel.push({ name, at: size, bytes: new Uint8Array(a.buffer, a.byteOffset, a.byteLength) });
    size += a.byteLength;
  }
  const dataBytes = align8(size);
  const data: Uint8Array[] = [];
  let pos = 0;
  for (const r of rel) {
    if (r.at > pos) data.push(new Uint8Array(r.at - pos));
    data.push(r.bytes);
    pos = r.at + r.bytes.length;
  }
  if (dataBytes > pos) data.push(new Uint8Array(dataBytes - pos));
  const hash = createHash("sha256");
  for (const d of data) hash.update(d);
  const sha256 = hash.digest("hex");

  // The header states absolute offsets, which depend on its own length: iterate until stable.
  let dataStart = 0;
  let json = "";
  for (;;) {
    const header: Bm25Header = {
      format: FORMAT_NAME,
      version: FORMAT_VERSION,
      byteOrder: "little-endian",
      similarity: { name: "lucene-bm25", k1: parts.params.k1, b: parts.params.b },
      analyzer: parts.analyzer.descriptor,
      stats,
      sections: rel.map((r) => ({ name: r.name, type: SECTION_TYPES[r.name], offset: dataStart + r.at, count: arrays[r.name].length })),
      dataBytes,
      sha256,
    };
    json = JSON.stringify(header);
    const start = align8(PREFIX + Buffer.byteLength(json, "utf8"));
    if (start === dataStart) break;
    dataStart = start;
  }
  const headerBytes = Buffer.from(json, "utf8");
  const prefix = Buffer.alloc(PREFIX);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(headerBytes.length, 8);
  return [prefix, headerBytes, new Uint8Array(dataStart - PREFIX - headerBytes.length), ...data];
}

/** A decoded file: the index parts minus the analyser (resolved by the caller from `header.analyzer`). */
export interface DecodedBm25 {
  header: Bm25Header;
  parts: Omit<Bm25IndexParts, "analyzer" | "params">;
}

/** Parses and checks a whole file's bytes; refusals are INDEX_CORRUPT (or INDEX_VERSION) naming `file`. */
export function decodeBm25(file: string, buf: Buffer): DecodedBm25 {
  requireLittleEndian();
  const fail = (reason: string): never => {
    throw new ColtsError("INDEX_CORRUPT", `${file}: ${reason}`, { details: { file } });
  };
  if (buf.length < PREFIX) fail(`truncated: ${buf.length} bytes is shorter than the ${PREFIX}-byte preamble`);
  if (!buf.subarray(0, 8).equals(MAGIC)) fail("not a colts BM25 index (bad magic bytes)");
  const h = buf.readUInt32LE(8);
  if (h > MAX_HEADER) fail(`corrupt: header length ${h} is implausible`);
  if (PREFIX + h > buf.length) fail(`truncated: header needs ${PREFIX + h} bytes, file has ${buf.length}`);
  let header: Bm25Header;
  try {
    header = JSON.parse(buf.toString("utf8", PREFIX, PREFIX + h)) as Bm25Header;
  } catch (cause) {
    throw new ColtsError("INDEX_CORRUPT", `${file}: corrupt header (not JSON)`, { cause, details: { file } });
  }
  if (typeof header !== "object" || header === null || header.format !== FORMAT_NAME) fail(`not a colts BM25 index (format ${String(header?.format)})`);
  if (header.version !== FORMAT_VERSION) {
    throw new ColtsError("INDEX_VERSION", `${file}: unsupported bm25 format version ${String(header.version)} (this colts reads version ${FORMAT_VERSION}): rebuild the index`, {
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

  const sections = new Map<string, SectionEntry>();
  for (const s of Array.isArray(header.sections) ? (header.sections as unknown[]) : []) {
    if (typeof s === "object" && s !== null && "name" in s && typeof s.name === "string") sections.set(s.name, s as SectionEntry);
  }
  const u8 = (name: SectionName): Uint8Array => view(name, 1) as Uint8Array;
  const u32 = (name: SectionName): Uint32Array => view(name, 4) as Uint32Array;
  function view(name: SectionName, width: 1 | 4): Uint8Array | Uint32Array {
    const s = sections.get(name);
    if (s === undefined) return fail(`corrupt header: section ${name} missing`);
    if (s.type !== SECTION_TYPES[name] || !Number.isSafeInteger(s.offset) || !Number.isSafeInteger(s.count) || s.count < 0) {
      return fail(`corrupt header: section ${name} is malformed`);
    }
    if (s.offset < dataStart || s.offset + s.count * width > expected) fail(`corrupt header: section ${name} lies outside the data`);
    const at = buf.byteOffset + s.offset;
    if (width === 1) return new Uint8Array(buf.buffer, at, s.count);
    // Typed arrays need aligned offsets; a pooled small Buffer may not be, then copy.
    if (at % 4 === 0) return new Uint32Array(buf.buffer, at, s.count);
    return new Uint32Array(new Uint8Array(buf.subarray(s.offset, s.offset + s.count * 4)).buffer);
  }

  const terms = unpackStrings(u32("termOffsets"), u8("termBytes"), "term", fail);
  const ids = unpackStrings(u32("idOffsets"), u8("idBytes"), "id", fail);
  const offsets = u32("postingOffsets");
  const docs = u32("postingDocs");
  const freqs = u32("postingFreqs");
  const lengths = u32("lengths");
  const deleted = u8("deleted");
  const n = ids.length;
  if (lengths.length !== n || deleted.length !== n) fail("corrupt: per-document arrays disagree in length");
  const st = header.stats as Partial<Bm25Header["stats"]> | undefined;
  if (st?.documents !== n || st.terms !== terms.length || st.postings !== docs.length) fail("corrupt: header stats disagree with the arrays");
  if (offsets.length !== terms.length + 1 || offsets[0] !== 0 || offsets[terms.length] !== docs.length || freqs.length !== docs.length) {
    fail("corrupt: posting offsets disagree with the posting arrays");
  }
  // Each document's term frequencies must add up to its stored length (catches any misplaced posting).
  const sums = new Float64Array(n);
  for (let t = 0; t < terms.length; t++) {
    const start = offsets[t] ?? 0;
    const end = offsets[t + 1] ?? 0;
    if (end < start) fail(`corrupt: posting offsets decrease at term ${t}`);
    let prev = -1;
    for (let i = start; i < end; i++) {
      const d = docs[i] ?? 0;
      const f = freqs[i] ?? 0;
      if (d <= prev || d >= n || f === 0) fail(`corrupt: bad posting for term ${JSON.stringify(terms[t])}`);
      prev = d;
      sums[d] = (sums[d] ?? 0) + f;
    }
  }
  for (let d = 0; d < n; d++) {
    const del = deleted[d] ?? 0;
    if (del > 1) fail("corrupt: deleted flags must be 0 or 1");
    if (del === 0 && sums[d] !== lengths[d]) fail(`corrupt: postings of document ${JSON.stringify(ids[d])} do not add up to its length`);
  }
  return { header, parts: { terms, ids, postings: { offsets, docs, freqs }, lengths, deleted } };
}

function unpackStrings(offsets: Uint32Array, bytes: Uint8Array, what: string, fail: (reason: string) => never): string[] {
  if (offsets.length === 0 || offsets[0] !== 0 || offsets[offsets.length - 1] !== bytes.length) fail(`corrupt: ${what} offsets do not match ${what} bytes`);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: string[] = new Array<string>(offsets.length - 1);
  for (let i = 0; i + 1 < offsets.length; i++) {
    const start = offsets[i] ?? 0;
    const end = offsets[i + 1] ?? 0;
    if (end < start) fail(`corrupt: ${what} offsets decrease at ${i}`);
    out[i] = buf.toString("utf8", start, end);
  }
  return out;
}
