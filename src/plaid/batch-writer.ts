/**
 * What every index location's writer does with incoming documents: gathers them into batches of a
 * fixed size, compresses each batch with the codec in one call, keeps the drift statistic, and hands
 * the compressed batch to the location (a chunk file, rows of a table).
 */
import type { CodecKernelOptions, ResidualCodec } from "./codec.js";
import type { CodedDoc, EmbeddedDoc } from "./source.js";
import { addAbsResiduals } from "./train-codec.js";

/** A batch as the codec compressed it: the documents, then their vectors one document after another. */
export interface CompressedBatch {
  docs: EmbeddedDoc[];
  /** Vectors in the batch (sum of the documents' n). */
  total: number;
  /** [total] centroid ids. */
  codes: Int32Array;
  /** [total, bytesPerVector] packed residuals. */
  residuals: Uint8Array;
}

/** Batches, compresses and passes on documents; subclasses store a batch in `write`. */
export abstract class BatchWriter {
  private pending: CodedDoc[] = [];
  private residualSum = 0;
  private residualCount = 0;
  /** The rows a batch must assign, kept between batches (a build's batches are the same size). */
  private scratch = new Float32Array(0);

  constructor(
    protected readonly codec: ResidualCodec,
    /** Documents per batch (>= 1). */
    private readonly batchDocs: number,
    /** Assignment settings for compression (BuildOptions.assignment). */
    private readonly kernel: CodecKernelOptions = {},
  ) {}

  /** Mean |x - centroid| over every vector written so far, null before the first (drift statistic). */
  get avgResidual(): number | null {
    return this.residualCount > 0 ? this.residualSum / this.residualCount : null;
  }

  /** Queues documents; those that carry codes (a build's kept sample) are not assigned again. */
  async push(batch: CodedDoc[]): Promise<void> {
    this.pending.push(...batch);
    while (this.pending.length >= this.batchDocs) await this.flush(this.pending.splice(0, this.batchDocs));
  }

  /** Writes the last, partial batch. The codec's kernels are its owner's to release. */
  async finish(): Promise<void> {
    if (this.pending.length > 0) await this.flush(this.pending.splice(0));
    this.scratch = new Float32Array(0);
  }

  /** Stores one compressed batch. */
  protected abstract write(batch: CompressedBatch): Promise<void> | void;

  /**
   * Compresses and stores one batch. Only the rows the codec must assign are copied (into `scratch`,
   * one [rows, dim] block for its kernel); each document's residuals are packed straight from its own
   * vectors. A build's batches hold 25,000 documents (800 MB of vectors at dim 128): a fresh copy of
   * every row, then of the rows to assign, cost more than packing them (CPU profile of a 100k build).
   */
  private async flush(docs: CodedDoc[]): Promise<void> {
    const { dim, bytesPerVector } = this.codec;
    const total = docs.reduce((a, d) => a + d.n, 0);
    const codes = await this.batchCodes(docs, total);
    const residuals = new Uint8Array(total * bytesPerVector); // [total, bytesPerVector]
    let sum = 0;
    let row = 0;
    for (const d of docs) {
      const x = d.vectors.subarray(0, d.n * dim);
      const own = codes.subarray(row, row + d.n);
      this.codec.binarizeInto(x, own, residuals, row);
      sum = addAbsResiduals(this.codec, x, own, sum);
      row += d.n;
    }
    if (total > 0) {
      this.residualSum += (sum / (total * dim)) * total;
      this.residualCount += total;
    }
    await this.write({ docs, total, codes, residuals });
  }

  /** The batch's codes ([total], one document after another): the documents' own where given, the codec's for the rest. */
  private async batchCodes(docs: CodedDoc[], total: number): Promise<Int32Array> {
    const dim = this.codec.dim;
    const missing = docs.reduce((a, d) => a + (d.codes ? 0 : d.n), 0);
    if (this.scratch.length < missing * dim) this.scratch = new Float32Array(missing * dim);
    const rest = this.scratch.subarray(0, missing * dim); // [missing, dim]: the rows without codes, in order
    let at = 0;
    for (const d of docs) {
      if (d.codes) continue;
      rest.set(d.vectors.subarray(0, d.n * dim), at * dim);
      at += d.n;
    }
    const assigned = missing > 0 ? await this.codec.codes(rest, missing, this.kernel) : new Int32Array(0);
    const codes = new Int32Array(total);
    at = 0;
    let row = 0;
    for (const d of docs) {
      if (d.codes) codes.set(d.codes.subarray(0, d.n), row);
      else codes.set(assigned.subarray(at, (at += d.n)), row);
      row += d.n;
    }
    return codes;
  }
}
