/**
 * Rows of the documents and vectors tables: what PostgreSQL can store, and the bytea layouts of a
 * document's compressed vectors (the chunk file's arrays, one document per row).
 */
import { ColtsError } from "../errors.js";
import { prefixSums, type Chunk } from "../plaid/chunk.js";
import type { EmbeddedDoc } from "../plaid/source.js";

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why PostgreSQL cannot store the string (NUL characters and unpaired surrogates), or null. */
function unstorable(s: string): string | null {
  if (s.includes("\u0000")) return "a NUL character";
  if (LONE_SURROGATE.test(s)) return "an unpaired UTF-16 surrogate";
  return null;
}

function findUnstorable(v: unknown, depth = 0): string | null {
  if (typeof v === "string") return unstorable(v);
  if (typeof v !== "object" || v === null || depth > 200) return null;
  for (const [key, x] of Object.entries(v)) {
    const why = unstorable(key) ?? findUnstorable(x, depth + 1);
    if (why) return why;
  }
  return null;
}

/**
 * Refuses (INPUT_INVALID, naming the document) text or metadata that PostgreSQL's text and jsonb
 * types cannot hold; a folder index stores them, so the check says which document and why.
 */
export function checkStorable(d: EmbeddedDoc): void {
  const why = (typeof d.text === "string" ? unstorable(d.text) : null) ?? findUnstorable(d.metadata ?? null);
  if (why) throw new ColtsError("INPUT_INVALID", `document ${JSON.stringify(d.id)}: its text or metadata holds ${why}, which PostgreSQL cannot store`, { details: { id: d.id } });
}

/** A bytea of int32 little-endian values (a row's codes) as an Int32Array (copied: a Buffer's offset need not be aligned). */
export function int32sOf(bytes: Buffer): Int32Array {
  const out = new Int32Array(bytes.length / 4); // a length not a multiple of 4 throws RangeError, as before
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** A typed array's bytes as a Buffer (shared, not copied; little-endian on every platform Node runs on). */
export function bytesOf(a: Int32Array | Uint8Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** One row of the vectors table as the driver returns it. */
export interface VectorRow {
  ordinal: string;
  doclen: number;
  codes: Buffer;
  residuals: Buffer;
}

/**
 * Vector rows (ordered by ordinal) as one in-memory chunk, so the on-disk search stages score them:
 * its ordinals are the rows' positions (0..n-1; `ordinals` maps them back) and it has no IVF.
 * INDEX_CORRUPT when a row's byte lengths do not match its doclen.
 */
export function rowsToChunk(rows: readonly VectorRow[], bytesPerVector: number, where: string): { chunk: Chunk; ordinals: number[] } {
  const doclens = Uint32Array.from(rows, (r) => r.doclen);
  const offsets = prefixSums(doclens);
  const total = offsets[rows.length] as number;
  const codes = new Int32Array(total); // [total vectors]
  const codeBytes = new Uint8Array(codes.buffer);
  const residuals = new Uint8Array(total * bytesPerVector); // [total vectors, bytesPerVector]
  rows.forEach((r, i) => {
    const start = offsets[i] as number;
    if (r.codes.length !== r.doclen * 4 || r.residuals.length !== r.doclen * bytesPerVector) {
      throw new ColtsError("INDEX_CORRUPT", `${where}: the vectors of ordinal ${r.ordinal} do not match their length ${r.doclen}`, { details: { ordinal: r.ordinal } });
    }
    codeBytes.set(r.codes, start * 4);
    residuals.set(r.residuals, start * bytesPerVector);
  });
  const chunk: Chunk = {
    ordinals: Uint32Array.from(rows, (_, i) => i),
    doclens,
    offsets,
    codes,
    residuals,
    ivfOffsets: new Uint32Array(1),
    ivfDocs: new Uint32Array(0),
  };
  return { chunk, ordinals: rows.map((r) => Number(r.ordinal)) };
}

/**
 * Code rows (ordered by ordinal) as a chunk without residuals, for the centroid pass (stage 3 reads
 * codes only). INDEX_CORRUPT when a row's codes do not match its doclen.
 */
export function codeRowsToChunk(rows: readonly Omit<VectorRow, "residuals">[], where: string): { chunk: Chunk; ordinals: number[] } {
  return rowsToChunk(
    rows.map((r) => ({ ...r, residuals: EMPTY })),
    0,
    where,
  );
}

const EMPTY = Buffer.alloc(0);
