/** PLAID's stages on a hand-made index: candidate generation, pruning, the kernel path == the loops. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeChunk } from "../../src/index/chunk.js";
import { ResidualCodec } from "../../src/index/codec.js";
import { OrtCentroidScorer, OrtMatmulDynamic, matmulABtJs } from "../../src/kernels/matmul.js";
import { candidates, centroidRows, centroidScoresJs, keptCentroids, plaidDefaults, rankExactly, topCentroids, type SearchView } from "../../src/search/plaid.js";
import { Rng } from "../../src/util/rng.js";

test("defaults depend on k and are fresh objects per call", () => {
  assert.deepEqual(plaidDefaults(10), { ncells: 1, centroidScoreThreshold: 0.5, ndocs: 256 });
  assert.deepEqual(plaidDefaults(100), { ncells: 2, centroidScoreThreshold: 0.45, ndocs: 1024 });
  assert.deepEqual(plaidDefaults(1000), { ncells: 4, centroidScoreThreshold: 0.4, ndocs: 4096 });
  assert.deepEqual(plaidDefaults(2000), { ncells: 4, centroidScoreThreshold: 0.4, ndocs: 8000 });
  plaidDefaults(10).ncells = 99;
  assert.equal(plaidDefaults(10).ncells, 1);
});

test("topCentroids picks the best centroids per query vector; scores are [nq, K]", () => {
  // nq = 2, K = 3: q0 prefers c2 then c0; q1 prefers c1 then c2.
  const scores = Float32Array.from([0.5, 0.2, 0.7, 0.1, 0.9, 0.4]);
  assert.deepEqual(topCentroids(scores, 3, 2, 2).map((a) => [...a]), [[2, 0], [1, 2]]);
});

test("topCentroids equals a sort of each query vector's row (ties: lower id), for random and tied scores", () => {
  const rng = new Rng(11);
  for (const [K, nq, n] of [[50, 7, 1], [50, 7, 4], [9, 3, 12], [200, 32, 2]] as const) {
    // Rounded values make ties common.
    const scores = Float32Array.from(rng.normalArray(K * nq, 1), (v) => Math.round(v * 4) / 4);
    const got = topCentroids(scores, K, nq, n).map((a) => [...a]);
    for (let q = 0; q < nq; q++) {
      const ref = Array.from({ length: K }, (_, c) => c)
        .sort((a, b) => scores[q * K + b]! - scores[q * K + a]! || a - b)
        .slice(0, Math.min(n, K));
      assert.deepEqual(got[q], ref, `K ${K} nq ${nq} n ${n} q ${q}`);
    }
  }
});

test("centroid scoring kernel (scores, top-n per query vector, max per centroid) == the JS reference, ties included", async () => {
  const rng = new Rng(12);
  const d = 8;
  for (const [K, nq, n] of [[40, 5, 1], [40, 5, 3], [6, 4, 6]] as const) {
    // Centroids with repeated rows make tied scores.
    const base = rng.normalArray(Math.ceil(K / 2) * d, 1);
    const centroids = Float32Array.from({ length: K * d }, (_, i) => base[i % base.length]!);
    const q = rng.normalArray(nq * d, 1);
    const kernel = await OrtCentroidScorer.create(centroids, K, d, { intraOpThreads: 1 });
    const got = await kernel.run(q, nq, n);
    await kernel.release();
    const scores = matmulABtJs(q, nq, centroids, K, d); // [nq, K]
    got.scores.forEach((v, i) => assert.ok(Math.abs(v - scores[i]!) < 1e-4));
    // Top and max judged on the kernel's own scores, so that ties are ties for both.
    const ref = centroidScoresJs(got.scores, K, nq, n);
    assert.deepEqual([...got.top], [...ref.top], `K ${K} nq ${nq} n ${n}`);
    assert.deepEqual([...got.max], [...ref.max]);
  }
});

test("centroidScoresJs by hand; keptCentroids thresholds the per-centroid maximum", () => {
  // nq = 2, K = 3 (scores [nq, K]): q0 prefers c2 then c0; q1 prefers c1 then c2.
  const cs = centroidScoresJs(Float32Array.from([0.5, 0.2, 0.7, 0.1, 0.9, 0.4]), 3, 2, 2);
  assert.deepEqual([...cs.top], [2, 0, 1, 2]); // [nq, n]
  assert.deepEqual([...cs.max], [0.5, 0.9, 0.7].map(Math.fround));
  assert.deepEqual([...keptCentroids(cs.max, 0.6)], [0, 1, 1]);
});

test("centroidRows: all rows = the [K, nq] transpose; kept rows = those rows only, by slot", () => {
  // nq = 2, K = 3: scores [nq, K]
  const scores = Float32Array.from([0.5, 0.2, 0.7, 0.1, 0.9, 0.4]);
  const all = centroidRows(scores, 3, 2, null);
  assert.equal(all.slot, null);
  assert.deepEqual([...all.data], [0.5, 0.1, 0.2, 0.9, 0.7, 0.4].map(Math.fround));
  const kept = centroidRows(scores, 3, 2, Uint8Array.from([0, 1, 1]));
  assert.deepEqual([...kept.slot!], [-1, 0, 1]);
  assert.deepEqual([...kept.data], [0.2, 0.9, 0.7, 0.4].map(Math.fround));
  // Blocked transpose on a size that is not a multiple of the block.
  const rng = new Rng(13);
  const [K, nq] = [131, 5];
  const big = rng.normalArray(K * nq, 1);
  const t = centroidRows(big, K, nq, null).data;
  for (let c = 0; c < K; c++) for (let q = 0; q < nq; q++) assert.equal(t[c * nq + q], big[q * K + c]);
});

async function smallView(): Promise<SearchView> {
  const rng = new Rng(3);
  const dim = 8;
  const centroids = new Float32Array(4 * dim);
  for (let c = 0; c < 4; c++) centroids[c * dim + c] = 1;
  const held = rng.normalArray(50 * dim, 1);
  const codec = await ResidualCodec.train(centroids, 4, dim, held, 50, { nbits: 2 });
  const vectors = rng.normalArray(10 * dim, 1);
  const { codes, residuals } = await codec.compress(vectors, 10);
  const chunk = makeChunk(Uint32Array.from([0, 1, 2, 3]), Uint32Array.from([2, 3, 1, 4]), codes, residuals, 4);
  return { codec, chunks: [chunk], allowed: null, deleted: new Uint8Array(4) };
}

test("candidates are the union of the probed IVF lists, minus deleted and filtered-out documents", async () => {
  const view = await smallView();
  const chunk = view.chunks[0]!;
  const all = candidates(view, Int32Array.from([0, 1, 2, 3]));
  assert.equal(all.length, 4);
  const expected = new Set<number>();
  for (let p = chunk.ivfOffsets[1]!; p < chunk.ivfOffsets[2]!; p++) expected.add(chunk.ivfDocs[p]!);
  assert.deepEqual(new Set(candidates(view, Int32Array.from([1, -1, 1]))), expected);
  view.deleted[0] = 1;
  assert.ok(!candidates(view, Int32Array.from([0, 1, 2, 3])).includes(0));
  view.allowed = Uint8Array.from([1, 0, 0, 1]);
  assert.deepEqual(candidates(view, Int32Array.from([0, 1, 2, 3])).sort(), [3]);
});

test("stage 4 with the onnxruntime kernel == the plain loops (1e-4)", async () => {
  const view = await smallView();
  const q = new Rng(8).normalArray(3 * 8, 1);
  const slow = await rankExactly(view, [0, 1, 2, 3], q, 3, 4);
  const kernel = await OrtMatmulDynamic.create(8, { intraOpThreads: 1 });
  const fast = await rankExactly({ ...view, kernel }, [0, 1, 2, 3], q, 3, 4);
  await kernel.release();
  assert.deepEqual(fast.map((h) => h.ordinal), slow.map((h) => h.ordinal));
  fast.forEach((h, i) => assert.ok(Math.abs(h.score - slow[i]!.score) < 1e-4));
});
