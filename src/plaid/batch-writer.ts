/**
 * What every index location's writer does with incoming documents: gathers them into batches of a
 * fixed size, compresses each batch with the codec in one call, keeps the drift statistic, and hands
 * the compressed batch to the location (a chunk file, rows of a table).
 */
import type { CodecKernelOptions, ResidualCodec } from "./codec.js";
import type { CodedDoc, EmbeddedDoc } from "./source.js";
import { meanAbsResidual } from "./train-codec.js";

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
  }

  /** Stores one compressed batch. */
  protected abstract write(batch: CompressedBatch): Promise<void> | void;

  private async flush(docs: CodedDoc[]): Promise<void> {
    const dim = this.codec.dim;
    const total = docs.reduce((a, d) => a + d.n, 0);
    const x = new Float32Array(total * dim); // [total, dim]
    let off = 0;
    for (const d of docs) {
      x.set(d.vectors.subarray(0, d.n * dim), off);
      off += d.n * dim;
    }
    const { codes, residuals } = docs.some((d) => d.codes) ? await this.compressCoded(docs, x, total) : await this.codec.compress(x, total, this.kernel);
    this.residualSum += meanAbsResidual(this.codec, x, codes) * total;
    this.residualCount += total;
    await this.write({ docs, total, codes, residuals });
  }

  /** Compresses the batch x: [total, dim] with the documents' own codes where given, the codec's for the rest. */
  private async compressCoded(docs: CodedDoc[], x: Float32Array, total: number): Promise<{ codes: Int32Array; residuals: Uint8Array }> {
    const dim = this.codec.dim;
    const missing = docs.reduce((a, d) => a + (d.codes ? 0 : d.n), 0);
    const rest = new Float32Array(missing * dim); // [missing, dim]: the rows without codes, in order
    let at = 0;
    let row = 0;
    for (const d of docs) {
      if (!d.codes) {
        rest.set(x.subarray(row * dim, (row + d.n) * dim), at * dim);
        at += d.n;
      }
      row += d.n;
    }
    const assigned = missing > 0 ? await this.codec.codes(rest, missing, this.kernel) : new Int32Array(0);
    const codes = new Int32Array(total);
    at = 0;
    row = 0;
    for (const d of docs) {
      if (d.codes) codes.set(d.codes.subarray(0, d.n), row);
      else codes.set(assigned.subarray(at, (at += d.n)), row);
      row += d.n;
    }
    return { codes, residuals: this.codec.binarize(x, codes) };
  }
}
