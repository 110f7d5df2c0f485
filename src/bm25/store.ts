/**
 * Saving and loading a BM25 index as `<dir>/bm25.bin` (format in format.ts: store/arrays.ts'
 * container; files of the older version 1 still load), beside the PLAID index files of the same
 * folder. Writes are atomic: a temp file in the same folder is written, fsynced and renamed over the
 * target, so readers see the old file or the new one, never a mix.
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { ColtsError, isColtsError } from "../errors.js";
import type { Analyzer } from "./analyzer.js";
import { analyzerFromDescriptor } from "./analyzers.js";
import { decodeBm25, writeBm25 } from "./format.js";
import { Bm25Index } from "./bm25-index.js";
import { resolveParams, type Bm25Params } from "./similarity.js";

/** The file name inside an index folder. */
export const BM25_FILE_NAME = "bm25.bin";

/** What {@link saveBm25} wrote. */
export interface SaveBm25Result {
  /** Path of the file written: `<dir>/<fileName>`. */
  readonly file: string;
  /** Size of that file in bytes. */
  readonly bytes: number;
}

/**
 * Writes `index` to `<dir>/<fileName>` (default bm25.bin; `dir` created if needed), replacing any
 * previous file atomically. Compacts the index first (drops postings of deleted documents; search
 * results are unchanged).
 */
export async function saveBm25(dir: string, index: Bm25Index, fileName: string = BM25_FILE_NAME): Promise<SaveBm25Result> {
  const parts = index.toParts();
  const s = index.stats();
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, fileName);
  const bytes = writeBm25(file, parts, {
    documents: s.documents,
    liveDocuments: s.liveDocuments,
    terms: s.terms,
    postings: s.postings,
    sumDocumentLength: s.sumDocumentLength,
  });
  return { file, bytes };
}

/** Options of {@link loadBm25}; all optional. */
export interface LoadBm25Options {
  /**
   * The analyser to use. Default: rebuilt from the descriptor stored in the file (built-in analysers).
   * Needed for a custom analyser; its descriptor must equal the stored one, otherwise queries would be
   * analysed differently from the documents and the load is refused.
   */
  readonly analyzer?: Analyzer;
  /** File name inside `dir`. Default bm25.bin (indexes name theirs per generation). */
  readonly fileName?: string;
  /**
   * Overrides the stored k1 (see `Bm25Params.k1`: >= 0, Anserini 0.9). Norms do not depend on k1 or b,
   * so an index can be searched with other values without rebuilding. Default: the value saved.
   */
  readonly k1?: number;
  /** Overrides the stored b (see `Bm25Params.b`: 0..1, Anserini 0.4). Default: the value saved. */
  readonly b?: number;
}

/** Reads `<dir>/bm25.bin`. Missing: INDEX_NOT_FOUND; unreadable (e.g. a folder), truncated or corrupt: INDEX_CORRUPT; unknown version: INDEX_VERSION; each names the file. */
export async function loadBm25(dir: string, options: LoadBm25Options = {}): Promise<Bm25Index> {
  const file = path.join(dir, options.fileName ?? BM25_FILE_NAME);
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new ColtsError("INDEX_CORRUPT", `${file}: cannot be read (${(cause as Error).message})`, { cause, details: { file } });
    }
    throw new ColtsError("INDEX_NOT_FOUND", `no BM25 index at ${file} (build one with saveBm25 / colts index build)`, { cause, details: { file } });
  }
  const { info, parts } = decodeBm25(file, buf);
  const analyzer = options.analyzer ?? rebuildAnalyzer(file, info.analyzer);
  if (stableJson(analyzer.descriptor) !== stableJson(info.analyzer)) {
    throw new ColtsError("INPUT_INVALID", `${file}: the given analyser differs from the one that built the index (${stableJson(info.analyzer)})`, {
      details: { file },
    });
  }
  let params: Bm25Params;
  try {
    params = resolveParams({ k1: options.k1 ?? info.similarity?.k1, b: options.b ?? info.similarity?.b });
  } catch (cause) {
    throw new ColtsError("INPUT_INVALID", `${file}: bad BM25 parameters: ${(cause as Error).message}`, { cause, details: { file } });
  }
  try {
    return Bm25Index.fromParts({ ...parts, analyzer, params });
  } catch (cause) {
    // Parts that disagree with each other may fail anywhere in the rebuild: every failure is the file's.
    throw new ColtsError("INDEX_CORRUPT", `${file}: corrupt: ${(cause as Error).message}`, { cause, details: { file } });
  }
}

function rebuildAnalyzer(file: string, descriptor: Analyzer["descriptor"]): Analyzer {
  try {
    return analyzerFromDescriptor(descriptor);
  } catch (cause) {
    if (!isColtsError(cause)) throw cause;
    throw new ColtsError("INPUT_INVALID", `${file}: ${cause.message.replace(/^colts: /, "")}`, { cause, details: { file } });
  }
}

/** JSON with sorted object keys, so equal descriptors compare equal whatever their key order. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === "object" && v !== null && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

