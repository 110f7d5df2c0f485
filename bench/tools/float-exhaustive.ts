/**
 * Exhaustive MaxSim over documents' float vectors, the truth the benchmarks over real collections
 * score recall against: every query against every document, on onnxruntime, in blocks of whole
 * documents.
 */
import type { MultiVector } from "../../src/encode/multivector.js";
import type { EmbeddedDoc } from "../../src/plaid/source.js";
import { OrtMatmulDynamic, maxsimFromSimilarities } from "../../src/runtime/kernels/matmul.js";
import { packBlocks } from "./blocks.js";

/** Float vectors scored per kernel call (bounds the [nq, rows] product). */
const BLOCK_ROWS = 1 << 17;

/** A query: [tokens, dim] row-major vectors. */
export type FloatQuery = Pick<MultiVector, "vectors" | "tokens">;

/** Top-k documents (indexes into `docs`) per query by exact MaxSim (ties: lower index first), and each query's latency in ms. */
export async function floatExhaustive(docs: readonly EmbeddedDoc[], queries: readonly FloatQuery[], dim: number, k: number): Promise<{ tops: number[][]; lat: number[] }> {
  const kernel = await OrtMatmulDynamic.create(dim);
  const blocks = packBlocks(
    docs.map((d) => d.vectors.subarray(0, d.n * dim)),
    docs.map((d) => d.n),
    BLOCK_ROWS * dim,
  );
  const tops: number[][] = [];
  const lat: number[] = [];
  try {
    for (const q of queries) {
      const t0 = performance.now();
      const scores = new Float64Array(docs.length);
      for (const b of blocks) {
        // similarities: [q.tokens, rows]; per document, the sum over query tokens of the row maximum
        const s = maxsimFromSimilarities(await kernel.run(q.vectors, q.tokens, b.values, b.values.length / dim), q.tokens, b.lens);
        scores.set(s, b.first);
      }
      const order = Array.from(scores.keys()).sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
      tops.push(order.slice(0, k));
      lat.push(performance.now() - t0);
    }
  } finally {
    await kernel.release();
  }
  return { tops, lat };
}
