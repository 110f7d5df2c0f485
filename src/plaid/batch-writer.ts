/**
 * What every index location's writer does with incoming documents: gathers them into batches of a
 * fixed size, compresses each batch with the codec in one call, keeps the drift statistic, and hands
 * the compressed batch to the location (a chunk file, rows of a table).
 */
import type { CodecKernelOptions, ResidualCodec } from "./codec.js";
import type { EmbeddedDoc } from "./source.js";
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
  private pending: EmbeddedDoc[] = [];
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

  async push(batch: EmbeddedDoc[]): Promise<void> {
    this.pending.push(...batch);
    while (this.pending.length >= this.batchDocs) await this.flush(this.pending.splice(0, this.batchDocs));
  }

  /** Writes the last, partial batch. The codec's kernels are its owner's to release. */
  async finish(): Promise<void> {
    if (this.pending.length > 0) await this.flush(this.pending.splice(0));
  }

  /** Stores one compressed batch. */
  protected abstract write(batch: CompressedBatch): Promise<void> | void;

  private async flush(docs: EmbeddedDoc[]): Promise<void> {
    const dim = this.codec.dim;
    const total = docs.reduce((a, d) => a + d.n, 0);
    const x = new Float32Array(total * dim); // [total, dim]
    let off = 0;
    for (const d of docs) {
      x.set(d.vectors.subarray(0, d.n * dim), off);
      off += d.n * dim;
    }
    const { codes, residuals } = await this.codec.compress(x, total, this.kernel);
    this.residualSum += meanAbsResidual(this.codec, x, codes) * total;
    this.residualCount += total;
    await this.write({ docs, total, codes, residuals });
  }
}
