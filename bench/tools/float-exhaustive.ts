/**
 * Exhaustive MaxSim over documents' float vectors, the truth the benchmarks over real collections
 * score recall against: every query against every document, on onnxruntime, in blocks of whole
 * documents.
 */
import type { MultiVector } from "../../src/encode/multivector.js";
import type { EmbeddedDoc } from "../../src/plaid/source.js";
import { OrtMatmulDynamic, maxsimFromSimilarities } from "../../src/runtime/kernels/matmul.js";

/** Float vectors scored per kernel call (bounds the [nq, rows] product). */
const BLOCK_ROWS = 1 << 17;

/** A query: [tokens, dim] row-major vectors. */
export type FloatQuery = Pick<MultiVector, "vectors" | "tokens">;

/** Top-k documents (indexes into `docs`) per query by exact MaxSim (ties: lower index first), and each query's latency in ms. */
export async function floatExhaustive(docs: readonly EmbeddedDoc[], queries: readonly FloatQuery[], dim: number, k: number): Promise<{ tops: number[][]; lat: number[] }> {
  const kernel = await OrtMatmulDynamic.create(dim);
  const blocks = documentBlocks(docs, dim);
  const tops: number[][] = [];
  const lat: number[] = [];
  try {
    for (const q of queries) {
      const t0 = performance.now();
      const scores = new Float64Array(docs.length);
      for (const b of blocks) {
        // similarities: [q.tokens, rows]; per document, the sum over query tokens of the row maximum
        const s = maxsimFromSimilarities(await kernel.run(q.vectors, q.tokens, b.vectors, b.vectors.length / dim), q.tokens, b.doclens);
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

/** Consecutive documents packed into [rows, dim] blocks of at most BLOCK_ROWS rows (a longer document gets a block of its own). */
function documentBlocks(docs: readonly EmbeddedDoc[], dim: number): { vectors: Float32Array; doclens: number[]; first: number }[] {
  const blocks: { vectors: Float32Array; doclens: number[]; first: number }[] = [];
  for (let d = 0; d < docs.length; ) {
    const first = d;
    const doclens: number[] = [];
    let rows = 0;
    while (d < docs.length && (doclens.length === 0 || rows + (docs[d] as EmbeddedDoc).n <= BLOCK_ROWS)) {
      doclens.push((docs[d] as EmbeddedDoc).n);
      rows += (docs[d] as EmbeddedDoc).n;
      d++;
    }
    const vectors = new Float32Array(rows * dim);
    let r = 0;
    for (let i = first; i < d; i++) {
      const doc = docs[i] as EmbeddedDoc;
      vectors.set(doc.vectors.subarray(0, doc.n * dim), r * dim);
      r += doc.n;
    }
    blocks.push({ vectors, doclens, first });
  }
  return blocks;
}
