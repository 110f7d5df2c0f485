/**
 * The codec sample, kept for the index pass. A build trains its codec on a sample of documents
 * (PLAID's sample size: the whole corpus up to about 30k documents, 55% of it at 100k), and those same
 * documents are compressed afterwards like every other one. Keeping their vectors between the two
 * passes means each document is encoded once per build.
 *
 * The vectors stay in memory when they fit the caller's budget; otherwise they go to a float32 file in
 * the index folder (exact: the codes are those of an in-memory build), read back in order, and removed
 * when the build ends, whether it succeeds or fails. A file left by a killed build carries a generation
 * name and is collected by the next write (manifest.ts).
 */
import fs from "node:fs";
import path from "node:path";
import { ColtsError } from "../errors.js";
import type { CodedDoc, EmbeddedDoc } from "./source.js";

/** A kept document without its vectors: they live in one [rows, dim] block, in document order. */
type DocHead = Omit<EmbeddedDoc, "vectors">;

/** Bytes written or read per call when spilling: large enough to be cheap, small enough to bound the copy. */
const IO_BYTES = 64 << 20;

export class KeptSample {
  /** 0-based corpus positions of the kept documents, ascending (the order of `heads`). */
  readonly positions: readonly number[];
  private readonly heads: DocHead[];
  private readonly ids: ReadonlySet<string>;
  private vectors: Float32Array | null;
  private spill: { file: string; fd: number } | null = null;
  private next = 0;
  private row = 0;

  /**
   * vectors: [sum of heads' n, dim] row-major, the documents' rows one after another in `heads` order.
   * They are kept as given when they take at most budgetBytes, else written to `spillFile`.
   */
  constructor(
    positions: readonly number[],
    heads: DocHead[],
    vectors: Float32Array,
    private readonly dim: number,
    budgetBytes: number,
    spillFile: string,
    /** [rows] the rows' codes under the trained codec, when the build assigned them already; else null. */
    private readonly codes: Int32Array | null = null,
  ) {
    if (positions.length !== heads.length) throw new ColtsError("INTERNAL", `kept sample: ${positions.length} positions for ${heads.length} documents`);
    this.positions = positions;
    this.heads = heads;
    this.ids = new Set(heads.map((h) => h.id));
    this.vectors = vectors;
    if (vectors.byteLength > budgetBytes) this.spillToFile(spillFile);
  }

  /** Number of kept documents not yet taken. */
  get remaining(): number {
    return this.heads.length - this.next;
  }

  /** Corpus position of the next document `take` returns; Infinity when none is left. */
  get nextPosition(): number {
    return this.positions[this.next] ?? Infinity;
  }

  /** Whether the vectors went to a file (the sample exceeded the budget). */
  get spilled(): boolean {
    return this.spill !== null;
  }

  /** Whether `id` is one of the kept documents. */
  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** The next kept document, with its vectors (a fresh array when read back from the file) and codes if known. */
  take(): CodedDoc {
    const head = this.heads[this.next];
    if (!head) throw new ColtsError("INTERNAL", "kept sample: no document left");
    const values = head.n * this.dim;
    const vectors = this.vectors ? this.vectors.subarray(this.row * this.dim, this.row * this.dim + values) : this.readRows(values);
    const codes = this.codes?.subarray(this.row, this.row + head.n);
    this.next++;
    this.row += head.n;
    return codes ? { ...head, vectors, codes } : { ...head, vectors };
  }

  /** Drops the vectors and removes the file, if any. Safe to call more than once. */
  close(): void {
    this.vectors = null;
    if (!this.spill) return;
    const { file, fd } = this.spill;
    this.spill = null;
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }

  private spillToFile(file: string): void {
    const v = this.vectors as Float32Array;
    const fd = fs.openSync(file, "w+");
    this.spill = { file, fd };
    try {
      // One byte view per part, never one over the whole sample: a Uint8Array is limited to 2^32
      // elements, and the sample of a 1M-document build holds 5.7 GB of floats.
      for (let off = 0; off < v.byteLength; off += IO_BYTES) {
        const part = new Uint8Array(v.buffer, v.byteOffset + off, Math.min(IO_BYTES, v.byteLength - off));
        let done = 0;
        while (done < part.length) done += fs.writeSync(fd, part, done, part.length - done, off + done);
      }
    } catch (e) {
      this.close(); // e.g. a full disk: nothing is left behind
      throw e;
    }
    this.vectors = null; // the caller's array is garbage from here: the file holds the rows
  }

  /** Reads `values` floats at the current row from the spill file. */
  private readRows(values: number): Float32Array {
    const { fd } = this.spill as { fd: number };
    const out = new Float32Array(values);
    const bytes = new Uint8Array(out.buffer);
    const start = this.row * this.dim * 4;
    let done = 0;
    while (done < bytes.length) {
      const n = fs.readSync(fd, bytes, done, bytes.length - done, start + done);
      if (n === 0) throw new ColtsError("INTERNAL", `the kept sample's file ${path.basename(this.spill?.file ?? "")} ended early (was it changed while the build ran?)`);
      done += n;
    }
    return out;
  }
}
