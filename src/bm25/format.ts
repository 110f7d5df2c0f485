/**
 * The BM25 file (`bm25.bin`; `bm25-g<N>.bin` inside a PLAID index). Since version 2 it is a
 * store/arrays.ts container, the project's checked format (magic, container version, CRC-32, named
 * typed arrays, atomic write), of kind "colts-bm25":
 *
 *   meta     { similarity: {name, k1, b}, analyzer: descriptor, stats: {documents, liveDocuments,
 *              terms, postings, sumDocumentLength} }
 *   arrays   the nine sections of parts.ts (u32 and u8), raw typed-array bytes, never JSON
 *
 * Version 1 had a container of its own (format-v1.ts); such files are still read, told apart by their
 * magic bytes. Decoding checks everything it relies on (container, version, sizes, checksum, then the
 * arrays' structure) and names the file in every refusal.
 */
import os from "node:os";
import { ColtsError } from "../errors.js";
import { decodeArrays, getArray, isArraysFile, writeArrays } from "../store/arrays.js";
import type { Bm25IndexParts } from "./bm25-index.js";
import { decodeBm25V1, isV1 } from "./format-v1.js";
import { SECTION_NAMES, SECTION_TYPES, checkSections, failFor, sectionsOf, type Bm25FileInfo, type Bm25FileStats, type Bm25Sections, type DecodedBm25 } from "./parts.js";

/** The container kind of a BM25 file. */
export const FORMAT_NAME = "colts-bm25";
/** The version written; version 1 (its own container) is still read. */
export const FORMAT_VERSION = 2;

function requireLittleEndian(): void {
  if (os.endianness() !== "LE") throw new ColtsError("INPUT_INVALID", "bm25 index files are little-endian; big-endian hosts are not supported");
}

/** Writes `parts` to `file` atomically in the current format; returns the bytes written. */
export function writeBm25(file: string, parts: Bm25IndexParts, stats: Bm25FileStats): number {
  requireLittleEndian();
  const meta: Omit<Bm25FileInfo, "version"> = {
    similarity: { name: "lucene-bm25", k1: parts.params.k1, b: parts.params.b },
    analyzer: parts.analyzer.descriptor,
    stats,
  };
  return writeArrays(file, FORMAT_NAME, FORMAT_VERSION, sectionsOf(parts), meta);
}

/**
 * Parses and checks a whole file's bytes, of either version; refusals are INDEX_CORRUPT (or
 * INDEX_VERSION) naming `file`.
 */
export function decodeBm25(file: string, buf: Buffer): DecodedBm25 {
  requireLittleEndian();
  if (isV1(buf)) return decodeBm25V1(file, buf);
  const fail = failFor(file);
  if (!isArraysFile(buf)) fail(`not a colts BM25 index (bad magic bytes${buf.length < 8 ? `; only ${buf.length} bytes` : ""})`);
  const f = decodeArrays(file, buf, { kind: FORMAT_NAME, maxVersion: FORMAT_VERSION });
  // Version 1 never used this container: a file claiming it here was not written by colts.
  if (f.version !== FORMAT_VERSION) fail(`corrupt: ${FORMAT_NAME} version ${f.version} in a store container`);
  const sections = Object.fromEntries(
    SECTION_NAMES.map((name) => [name, SECTION_TYPES[name] === "uint32" ? getArray(f, name, Uint32Array, file) : getArray(f, name, Uint8Array, file)]),
  ) as Bm25Sections;
  const meta = f.meta as Partial<Omit<Bm25FileInfo, "version">>;
  if (typeof meta.similarity !== "object" || meta.similarity === null || typeof meta.analyzer !== "object" || meta.analyzer === null) fail("corrupt header: similarity or analyzer missing");
  const parts = checkSections(sections, meta.stats, fail);
  return { info: { version: f.version, ...(meta as Omit<Bm25FileInfo, "version">) }, parts };
}
