/**
 * What every version of the BM25 file holds, and the checks a decoded file must pass whatever its
 * container: the nine arrays below, the similarity, the analyser descriptor and the statistics.
 *
 *   termOffsets u32[terms+1]  termBytes u8[]      UTF-8 terms, term t = bytes off[t]..off[t+1]
 *   postingOffsets u32[terms+1]  postingDocs u32[postings]  postingFreqs u32[postings]
 *   lengths u32[documents]  deleted u8[documents]
 *   idOffsets u32[documents+1]  idBytes u8[]      UTF-8 external ids, by ordinal
 */
import { ColtsError } from "../errors.js";
import type { AnalyzerDescriptor } from "./analyzer.js";
import type { Bm25IndexParts } from "./bm25-index.js";

/** The arrays of a BM25 file, in file order. */
export const SECTION_NAMES = ["termOffsets", "termBytes", "postingOffsets", "postingDocs", "postingFreqs", "lengths", "deleted", "idOffsets", "idBytes"] as const;
/** One array of a BM25 file. */
export type SectionName = (typeof SECTION_NAMES)[number];
/** Element type of each array. */
export const SECTION_TYPES: Record<SectionName, "uint8" | "uint32"> = {
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

/** The arrays of a BM25 file by name. */
export type Bm25Sections = Record<SectionName, Uint8Array | Uint32Array>;

/** Counts stored with the file; decoding checks them against the arrays. */
export interface Bm25FileStats {
  documents: number;
  liveDocuments: number;
  terms: number;
  postings: number;
  sumDocumentLength: number;
}

/** Everything but the arrays: what scoring and analysis need to reopen the index as it was built. */
export interface Bm25FileInfo {
  /** The file's format version (1: its own container; 2: store/arrays.ts). */
  version: number;
  similarity: { name: "lucene-bm25"; k1: number; b: number };
  analyzer: AnalyzerDescriptor;
  stats: Bm25FileStats;
}

/** A decoded file: the index parts minus the analyser (resolved by the caller from `info.analyzer`). */
export interface DecodedBm25 {
  info: Bm25FileInfo;
  parts: Omit<Bm25IndexParts, "analyzer" | "params">;
}

/** Throws INDEX_CORRUPT naming the file. */
export type Fail = (reason: string) => never;

/** The refusal function for `file`. */
export function failFor(file: string): Fail {
  return (reason) => {
    throw new ColtsError("INDEX_CORRUPT", `${file}: ${reason}`, { details: { file } });
  };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** UTF-8 strings as offsets + bytes. Refuses strings UTF-8 cannot carry, and more than 4 GiB. */
export function packStrings(strings: readonly string[], what: string): { offsets: Uint32Array; bytes: Uint8Array } {
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

/** The arrays of `parts`, terms and ids packed. */
export function sectionsOf(parts: Bm25IndexParts): Bm25Sections {
  const terms = packStrings(parts.terms, "term");
  const ids = packStrings(parts.ids, "document id");
  return {
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
}

function unpackStrings(offsets: Uint32Array, bytes: Uint8Array, what: string, fail: Fail): string[] {
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

/**
 * Unpacks and checks the arrays of a decoded file: sizes agree with each other and with `stats`,
 * postings are ordered, in range and non-zero, and each live document's term frequencies add up to
 * its stored length (which catches any misplaced posting). A checksum only proves the bytes are those
 * written; this proves the writer wrote a consistent index.
 */
export function checkSections(s: Bm25Sections, stats: Partial<Bm25FileStats> | undefined, fail: Fail): DecodedBm25["parts"] {
  const u32 = (name: SectionName): Uint32Array => {
    const a = s[name];
    return a instanceof Uint32Array ? a : fail(`corrupt: section ${name} is not uint32`);
  };
  const u8 = (name: SectionName): Uint8Array => {
    const a = s[name];
    return a instanceof Uint8Array ? a : fail(`corrupt: section ${name} is not uint8`);
  };
  const terms = unpackStrings(u32("termOffsets"), u8("termBytes"), "term", fail);
  const ids = unpackStrings(u32("idOffsets"), u8("idBytes"), "id", fail);
  const offsets = u32("postingOffsets");
  const docs = u32("postingDocs");
  const freqs = u32("postingFreqs");
  const lengths = u32("lengths");
  const deleted = u8("deleted");
  const n = ids.length;
  if (lengths.length !== n || deleted.length !== n) fail("corrupt: per-document arrays disagree in length");
  if (stats?.documents !== n || stats.terms !== terms.length || stats.postings !== docs.length) fail("corrupt: header stats disagree with the arrays");
  if (offsets.length !== terms.length + 1 || offsets[0] !== 0 || offsets[terms.length] !== docs.length || freqs.length !== docs.length) {
    fail("corrupt: posting offsets disagree with the posting arrays");
  }
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
  return { terms, ids, postings: { offsets, docs, freqs }, lengths, deleted };
}
