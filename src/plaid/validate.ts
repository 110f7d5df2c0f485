/**
 * The one validation pass of an index: nothing a manifest or data file says is used before it is
 * checked here, so a damaged or crafted index fails with INDEX_CORRUPT (or INDEX_VERSION) naming the
 * file and what is wrong, never with a crash, a silently wrong answer, or a file access outside the
 * index folder.
 *
 * - `readManifest` (every reader and every writer): manifest.json is a JSON object with each field of
 *   the right type and range; every file name in it is a plain name (no separator, not `.` or `..`)
 *   of a regular file inside the folder, and no file is named twice.
 * - `loadIndexFiles` (opening for search, compaction): the codec's numbers are finite; each chunk
 *   holds what its manifest entry says, its codes lie within the codec's centroids, its ordinals
 *   below `numDocs`, its inverted lists are well-formed (ascending, inside the chunk); across files
 *   no ordinal is in two chunks, the tombstones are below `numDocs`, every ordinal below `numDocs`
 *   is in a chunk or tombstoned, and `liveDocs` is `numDocs` less the tombstones.
 */
import fs from "node:fs";
import path from "node:path";
import { ColtsError } from "../errors.js";
import { readChunk, type Chunk } from "./chunk.js";
import type { ResidualCodec } from "./codec.js";
import { readCodec, readTombstones } from "./files.js";
import { LOCK_FILE } from "./lock.js";
import { INDEX_FORMAT, INDEX_FORMAT_VERSION, MANIFEST_FILE, type Manifest } from "./manifest.js";

/** Ordinals are stored as u32 and handed to SQLite and Int32Arrays: at most 2^31 documents. */
const MAX_DOCS = 0x80000000;

function corrupt(file: string, why: string): ColtsError {
  return new ColtsError("INDEX_CORRUPT", `${file}: ${why}`, { details: { file } });
}

/** A plain file name: no folder part, nothing that resolves outside the folder on POSIX or Windows. */
function isPlainName(name: unknown): name is string {
  return (
    typeof name === "string" &&
    name.length > 0 &&
    name.length <= 255 &&
    name !== "." &&
    name !== ".." &&
    !/[/\\:\0]/.test(name) &&
    name !== MANIFEST_FILE &&
    name !== LOCK_FILE
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Reads and checks `<dir>/manifest.json` (see the file comment). Throws INDEX_NOT_FOUND when there is
 * none, INDEX_VERSION for a newer format, INDEX_CORRUPT for anything else wrong with it or with the
 * presence of the files it names.
 */
export function readManifest(dir: string): Manifest {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT" || (cause as NodeJS.ErrnoException).code === "ENOTDIR") {
      throw new ColtsError("INDEX_NOT_FOUND", `${dir} is not a colts index (no ${MANIFEST_FILE})`, { details: { dir } });
    }
    throw new ColtsError("INDEX_CORRUPT", `${file}: cannot be read (${(cause as Error).message})`, { cause, details: { file } });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ColtsError("INDEX_CORRUPT", `${file}: not valid JSON (${String(cause)})`, { cause, details: { file } });
  }
  const m = checkManifest(file, raw);
  checkFilesPresent(dir, m);
  return m;
}

/** Structure, types, ranges and file names of a parsed manifest; `file` names it in errors. */
function checkManifest(file: string, m: unknown): Manifest {
  if (!isObject(m)) throw corrupt(file, `expected a JSON object, found ${m === null ? "null" : Array.isArray(m) ? "an array" : typeof m}`);
  if (m["format"] !== INDEX_FORMAT) throw corrupt(file, `format is ${JSON.stringify(m["format"])}, expected "${INDEX_FORMAT}"`);
  const version = m["version"];
  if (typeof version !== "number" || !Number.isInteger(version) || version > INDEX_FORMAT_VERSION || version < 1) {
    throw new ColtsError("INDEX_VERSION", `${file}: index format version ${JSON.stringify(version)} is not supported (this colts reads 1..${INDEX_FORMAT_VERSION})`, {
      details: { file, version },
    });
  }
  const int = (k: string, min: number, max: number): number => {
    const v = m[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw corrupt(file, `field ${k} is ${JSON.stringify(v)}, expected an integer in [${min}, ${max}]`);
    return v;
  };
  int("generation", 0, Number.MAX_SAFE_INTEGER);
  int("dim", 1, 1 << 16);
  int("numCentroids", 1, 1 << 30);
  int("poolFactor", 1, 1 << 16);
  const numDocs = int("numDocs", 0, MAX_DOCS);
  int("liveDocs", 0, numDocs);
  if (![1, 2, 4].includes(m["nbits"] as number)) throw corrupt(file, `nbits ${JSON.stringify(m["nbits"])} is invalid (1, 2 or 4)`);
  for (const k of ["createdAt", "updatedAt"]) if (typeof m[k] !== "string") throw corrupt(file, `field ${k} is missing or not a string`);
  if (m["model"] !== null && typeof m["model"] !== "string") throw corrupt(file, "field model is neither a string nor null");
  const drift = m["drift"];
  const finite = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v);
  if (!isObject(drift) || !finite(drift["trainedAvgResidual"]) || (drift["lastAddAvgResidual"] !== null && !finite(drift["lastAddAvgResidual"]))) {
    throw corrupt(file, "field drift is missing or invalid");
  }

  const named = new Set<string>();
  const name = (where: string, v: unknown): void => {
    if (!isPlainName(v)) throw corrupt(file, `${where} ${JSON.stringify(v)} is not a plain file name inside the index folder`);
    if (named.has(v)) throw corrupt(file, `${where} ${JSON.stringify(v)} is named twice`);
    named.add(v);
  };
  name("codecFile", m["codecFile"]);
  name("metadataFile", m["metadataFile"]);
  if (m["tombstonesFile"] !== null) name("tombstonesFile", m["tombstonesFile"]);
  if (m["bm25File"] !== undefined && m["bm25File"] !== null) name("bm25File", m["bm25File"]);
  const chunks = m["chunks"];
  if (!Array.isArray(chunks)) throw corrupt(file, "field chunks is missing or not an array");
  let docs = 0;
  chunks.forEach((c: unknown, i) => {
    if (!isObject(c)) throw corrupt(file, `chunks[${i}] is not an object`);
    name(`chunks[${i}].file`, c["file"]);
    for (const k of ["docs", "vectors"]) {
      const v = c[k];
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw corrupt(file, `chunks[${i}].${k} is ${JSON.stringify(v)}, expected a count`);
    }
    docs += c["docs"] as number;
  });
  if (docs > numDocs) throw corrupt(file, `its chunks hold ${docs} documents, more than numDocs ${numDocs}`);
  return m as unknown as Manifest;
}

/** Every file the manifest names exists as a regular file (not a folder, not a link out of the folder). */
function checkFilesPresent(dir: string, m: Manifest): void {
  const names = [m.codecFile, m.metadataFile, ...m.chunks.map((c) => c.file), ...(m.tombstonesFile ? [m.tombstonesFile] : []), ...(m.bm25File ? [m.bm25File] : [])];
  for (const n of names) {
    const file = path.join(dir, n);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(file);
    } catch (cause) {
      throw new ColtsError("INDEX_CORRUPT", `${file}: named by the manifest but ${(cause as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : `not readable (${(cause as Error).message})`}`, {
        cause,
        details: { file },
      });
    }
    if (!st.isFile()) throw corrupt(file, `named by the manifest but ${st.isSymbolicLink() ? "a symbolic link" : st.isDirectory() ? "a folder" : "not a regular file"}`);
  }
}

/** A codec's numbers are all finite: a NaN or infinite weight would turn scores into NaN (null in JSON). */
export function checkCodec(file: string, codec: ResidualCodec): void {
  const arrays: [string, Float32Array][] = [
    ["centroids", codec.centroids],
    ["bucketCutoffs", codec.bucketCutoffs],
    ["bucketWeights", codec.bucketWeights],
  ];
  for (const [what, a] of arrays) {
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) throw corrupt(file, `${what}[${i}] is ${a[i]}, not a finite number`);
  }
}

/** A chunk against its manifest entry and the codec: counts, code range, ordinal range, inverted lists. */
function checkChunk(file: string, chunk: Chunk, entry: Manifest["chunks"][number], numCentroids: number, numDocs: number): void {
  if (chunk.ordinals.length !== entry.docs || chunk.codes.length !== entry.vectors) {
    throw corrupt(file, `holds ${chunk.ordinals.length} documents / ${chunk.codes.length} vectors, manifest says ${entry.docs} / ${entry.vectors}`);
  }
  const codes = chunk.codes;
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i] as number;
    if (c < 0 || c >= numCentroids) throw corrupt(file, `vector ${i} has code ${c}, outside the codec's ${numCentroids} centroids`);
  }
  for (let i = 0; i < chunk.ordinals.length; i++) {
    if ((chunk.ordinals[i] as number) >= numDocs) throw corrupt(file, `document ${i} has ordinal ${chunk.ordinals[i]}, not below numDocs ${numDocs}`);
  }
  // The inverted lists index the chunk's arrays in stage 1: offsets ascending from 0 to the list
  // length, each list's documents strictly ascending and inside the chunk. (Rebuilding them from the
  // codes and comparing would be stricter but costs ~10x more, ~100 ns a vector.)
  const { ivfOffsets, ivfDocs } = chunk;
  const docs = chunk.ordinals.length;
  if (ivfOffsets[0] !== 0) throw corrupt(file, "its inverted lists do not start at 0");
  for (let c = 0; c < numCentroids; c++) {
    const from = ivfOffsets[c] as number;
    const to = ivfOffsets[c + 1] as number;
    if (to < from) throw corrupt(file, `its inverted list offsets decrease at centroid ${c}`);
    let prev = -1;
    for (let j = from; j < to; j++) {
      const d = ivfDocs[j] as number;
      if (d <= prev || d >= docs) throw corrupt(file, `its inverted list of centroid ${c} holds document ${d} (${docs} in the chunk, ascending)`);
      prev = d;
    }
  }
}

/** The data an opened index searches: codec, chunks in manifest order, tombstoned ordinals. */
export interface IndexFiles {
  codec: ResidualCodec;
  chunks: Chunk[];
  /** Deleted ordinals, each below numDocs. */
  tombstones: Set<number>;
}

/**
 * Reads the codec, the chunks and the tombstones of a checked manifest and checks them, each alone
 * and against each other (see the file comment). `verify` also checks every file's CRC-32.
 */
export function loadIndexFiles(dir: string, m: Manifest, verify: boolean): IndexFiles {
  const codec = readCodec(dir, m, verify);
  checkCodec(path.join(dir, m.codecFile), codec);
  const tombFile = m.tombstonesFile ? path.join(dir, m.tombstonesFile) : "";
  const tombstones = readTombstones(dir, m, verify);
  // Chunks first: their manifest counts are then backed by files, so the coverage array below is
  // no bigger than what the files hold, whatever numDocs a crafted manifest claims.
  const chunks = m.chunks.map((entry) => {
    const file = path.join(dir, entry.file);
    const chunk = readChunk(file, m.numCentroids, codec.bytesPerVector, verify);
    checkChunk(file, chunk, entry, m.numCentroids, m.numDocs);
    return chunk;
  });
  const manifestFile = path.join(dir, MANIFEST_FILE);
  const chunkDocs = m.chunks.reduce((a, c) => a + c.docs, 0);
  if (chunkDocs + tombstones.size < m.numDocs) {
    throw corrupt(manifestFile, `numDocs is ${m.numDocs} but the chunks hold ${chunkDocs} documents and ${tombstones.size} are tombstoned`);
  }
  const seen = new Uint8Array(m.numDocs);
  for (const o of tombstones) {
    if (o >= m.numDocs) throw corrupt(tombFile, `ordinal ${o} is not below numDocs ${m.numDocs}`);
    seen[o] = 2;
  }
  if (m.liveDocs !== m.numDocs - tombstones.size) {
    throw corrupt(manifestFile, `liveDocs is ${m.liveDocs}, but numDocs ${m.numDocs} less ${tombstones.size} tombstoned is ${m.numDocs - tombstones.size}`);
  }
  m.chunks.forEach((entry, i) => {
    for (const o of (chunks[i] as Chunk).ordinals) {
      if ((seen[o] as number) & 1) throw corrupt(path.join(dir, entry.file), `ordinal ${o} is also stored in another chunk`);
      seen[o] = (seen[o] as number) | 1;
    }
  });
  const missing = seen.indexOf(0);
  if (missing >= 0) throw corrupt(manifestFile, `ordinal ${missing} is below numDocs ${m.numDocs} but in no chunk and not tombstoned`);
  return { codec, chunks, tombstones };
}
