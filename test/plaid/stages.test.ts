/** PLAID's stages on a hand-made index: candidate generation, pruning, the kernel path == the loops. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeChunk } from "../../src/plaid/chunk.js";
import { ResidualCodec } from "../../src/plaid/codec.js";
import { OrtCentroidScorer, matmulABtJs } from "../../src/runtime/kernels/matmul.js";
import { maxSimByRows, maxSimByRowsWasm, ResidualMaxSim } from "../../src/plaid/residual-maxsim.js";
import { approximateScores, candidates, centroidScoresJs, keptCentroids, approximateScoresWasm, gatherCompressed, noCodeScore, rowBlocks, plaidDefaults, ndocsScale, NDOCS_SCALE_DOCS, storedDocuments, plaidSearch, prunedScores, stage3Scores, topIndexes, topIndexesBySort, rankExactly, topCentroids, type PlaidStage, type SearchView } from "../../src/plaid/stages.js";
import { Rng } from "../../src/util/rng.js";
import { unitRows } from "../helpers/synthetic.js";
import type { ColtsError } from "../../src/errors.js";

test("defaults depend on k and are fresh objects per call", () => {
  assert.deepEqual(plaidDefaults(10), { ncells: 1, centroidScoreThreshold: 0.5, ndocs: 256 });
  assert.deepEqual(plaidDefaults(100), { ncells: 2, centroidScoreThreshold: 0.45, ndocs: 1024 });
  assert.deepEqual(plaidDefaults(1000), { ncells: 4, centroidScoreThreshold: 0.4, ndocs: 4096 });
  assert.deepEqual(plaidDefaults(2000), { ncells: 4, centroidScoreThreshold: 0.4, ndocs: 8000 });
  plaidDefaults(10).ncells = 99;
  assert.equal(plaidDefaults(10).ncells, 1);
});

test("ndocs doubles per doubling of the collection beyond 250,000 documents; up to it PLAID's own", () => {
  assert.equal(ndocsScale(0), 1);
  assert.equal(ndocsScale(NDOCS_SCALE_DOCS), 1);
  assert.equal(ndocsScale(NDOCS_SCALE_DOCS + 1), 2);
  assert.equal(ndocsScale(1_000_000), 4);
  assert.equal(ndocsScale(1_000_001), 8);
  assert.deepEqual(plaidDefaults(10, 100_000), plaidDefaults(10));
  assert.deepEqual(plaidDefaults(10, 1_000_000), { ncells: 1, centroidScoreThreshold: 0.5, ndocs: 1024 });
  assert.deepEqual(plaidDefaults(100, 400_000), { ncells: 2, centroidScoreThreshold: 0.45, ndocs: 2048 });
  assert.deepEqual(plaidDefaults(2000, 600_000), { ncells: 4, centroidScoreThreshold: 0.4, ndocs: 32000 });
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
    // The kernel's scores are centroid-major: [K, nq].
    for (let c = 0; c < K; c++) for (let i = 0; i < nq; i++) assert.ok(Math.abs(got.scores[c * nq + i]! - scores[i * K + c]!) < 1e-4);
    // Top and max judged on the kernel's own scores, so that ties are ties for both.
    const byQuery = Float32Array.from({ length: nq * K }, (_, j) => got.scores[(j % K) * nq + Math.floor(j / K)]!);
    const ref = centroidScoresJs(byQuery, K, nq, n);
    assert.deepEqual([...ref.scores], [...got.scores]);
    assert.deepEqual([...got.top], [...ref.top], `K ${K} nq ${nq} n ${n}`);
    assert.deepEqual([...got.max], [...ref.max]);
  }
});

test("centroidScoresJs by hand: centroid-major scores, top per query vector, max per centroid; keptCentroids thresholds it", () => {
  // nq = 2, K = 3 (input [nq, K]): q0 prefers c2 then c0; q1 prefers c1 then c2.
  const cs = centroidScoresJs(Float32Array.from([0.5, 0.2, 0.7, 0.1, 0.9, 0.4]), 3, 2, 2);
  assert.deepEqual([...cs.scores], [0.5, 0.1, 0.2, 0.9, 0.7, 0.4].map(Math.fround)); // [K, nq]
  assert.deepEqual([...cs.top], [2, 0, 1, 2]); // [nq, n]
  assert.deepEqual([...cs.max], [0.5, 0.9, 0.7].map(Math.fround));
  assert.deepEqual([...keptCentroids(cs.max, 0.6)], [0, 1, 1]);
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
  // Told that nothing is deleted, stage 1 skips the tombstone reads: the same candidates, same order.
  assert.deepEqual(candidates({ ...view, anyDeleted: false }, Int32Array.from([3, 1, 2, 1])), candidates(view, Int32Array.from([3, 1, 2, 1])));
  view.deleted[0] = 1;
  assert.ok(!candidates(view, Int32Array.from([0, 1, 2, 3])).includes(0));
  assert.ok(!candidates({ ...view, anyDeleted: true }, Int32Array.from([0, 1, 2, 3])).includes(0));
  view.allowed = Uint8Array.from([1, 0, 0, 1]);
  assert.deepEqual(candidates(view, Int32Array.from([0, 1, 2, 3])).sort(), [3]);
});

/** A view of `docs` documents of random lengths in 0..maxLen (an empty one included), k-means-free codec. */
async function randomView(seed: number, nbits: 1 | 2 | 4, docs: number, maxLen: number): Promise<SearchView> {
  const rng = new Rng(seed);
  const [dim, K] = [16, 12];
  const centroids = unitRows(rng, K, dim);
  const held = rng.normalArray(200 * dim, 1);
  const codec = await ResidualCodec.train(centroids, K, dim, held, 200, { nbits });
  const doclens = Uint32Array.from({ length: docs }, (_, i) => (i === 3 ? 0 : 1 + Math.floor(rng.next() * maxLen)));
  const total = doclens.reduce((a, b) => a + b, 0);
  const { codes, residuals } = await codec.compress(rng.normalArray(total * dim, 1), total);
  const chunk = makeChunk(Uint32Array.from({ length: docs }, (_, i) => i), doclens, codes, residuals, K);
  return { codec, chunks: [chunk], allowed: null, deleted: new Uint8Array(docs) };
}

test("gatherCompressed concatenates the candidates' codes and residual rows, in the candidates' order", async () => {
  const view = await smallView(); // doclens 2, 3, 1, 4
  const chunk = view.chunks[0]!;
  const bpv = view.codec.bytesPerVector;
  const c = (v: number): number => chunk.codes[v]!;
  // document 2 = vector 5; document 0 = vectors 0, 1
  const { codes, residuals, doclens } = gatherCompressed(view, [2, 0]);
  assert.deepEqual([...codes], [c(5), c(0), c(1)]);
  const r = (v: number): number[] => [...chunk.residuals.subarray(v * bpv, (v + 1) * bpv)];
  assert.deepEqual([...residuals], [...r(5), ...r(0), ...r(1)]);
  assert.deepEqual([...doclens], [1, 2]);
});

test("rowBlocks by hand: consecutive documents up to maxRows rows, a longer one alone", () => {
  assert.deepEqual(rowBlocks([3, 4, 2, 10, 0, 1], 9), [
    { start: 0, end: 3 },
    { start: 3, end: 4 },
    { start: 4, end: 6 },
  ]);
  assert.deepEqual(rowBlocks([5, 5], 10), [{ start: 0, end: 2 }]);
  assert.deepEqual(rowBlocks([0, 0], 10), [{ start: 0, end: 2 }]);
  assert.deepEqual(rowBlocks([], 10), []);
});

test("maxSimByRows by hand: per document, the max over its rows per query vector, summed", () => {
  // nq 2; document 0: rows (1, 5), (3, 2); document 1: empty; document 2: row (-1, -2)
  const sims = Float32Array.of(1, 5, 3, 2, -1, -2);
  assert.deepEqual([...maxSimByRows(sims, 2, [2, 0, 1])], [3 + 5, 0, -3]);
  assert.deepEqual([...maxSimByRowsWasm(sims, 2, [2, 0, 1])!], [3 + 5, 0, -3]);
  // The kernel against the loop, to the bit: nq 5 (lanes padded to 8), random lengths with empty documents.
  const rng = new Rng(12);
  const doclens = Array.from({ length: 40 }, (_, i) => (i % 7 === 0 ? 0 : 1 + Math.floor(rng.next() * 9)));
  const big = rng.normalArray(doclens.reduce((a, b) => a + b, 0) * 5, 1);
  assert.deepEqual([...maxSimByRowsWasm(big, 5, doclens)!], [...maxSimByRows(big, 5, doclens)]);
});

test("residual MaxSim kernel (WASM or JS decompression, product on onnxruntime) == decompress + plain-loop MaxSim (1e-4), nbits 1, 2, 4, lengths 0..40", async () => {
  for (const nbits of [1, 2, 4] as const) {
    const view = await randomView(20 + nbits, nbits, 30, 40);
    const q = new Rng(9).normalArray(5 * 16, 1);
    const all = Array.from({ length: 30 }, (_, i) => i);
    const slow = await rankExactly(view, all, q, 5, 30);
    const bySlow = new Map(slow.map((h) => [h.ordinal, h.score]));
    for (const wasm of [true, false]) {
      const kernel = await ResidualMaxSim.create(view.codec, { intraOpThreads: 1 }, wasm);
      assert.equal(kernel.usesWasm, wasm);
      const fast = await rankExactly({ ...view, exactKernel: kernel }, all, q, 5, 30);
      // Concurrent calls: each gets its own documents' scores (the kernel memory is not shared mid-call).
      const [a, b] = await Promise.all([0, 1].map((d) => rankExactly({ ...view, exactKernel: kernel }, [d], q, 5, 1)));
      await kernel.release();
      assert.equal(fast.length, 30);
      for (const h of fast) assert.ok(Math.abs(h.score - bySlow.get(h.ordinal)!) < 1e-4, `nbits ${nbits} wasm ${wasm} doc ${h.ordinal}: ${h.score} vs ${bySlow.get(h.ordinal)}`);
      assert.equal(bySlow.get(3), 0); // the empty document
      assert.equal(fast.find((h) => h.ordinal === 3)!.score, 0);
      assert.ok(Math.abs(a![0]!.score - bySlow.get(0)!) < 1e-4 && Math.abs(b![0]!.score - bySlow.get(1)!) < 1e-4);
    }
  }
});

test("stages 2 and 3: approximateScores and prunedScores == the max over each document's (kept) codes, summed over query vectors", async () => {
  const view = await randomView(31, 2, 40, 20);
  const [K, nq] = [12, 3];
  const byQuery = new Rng(5).normalArray(nq * K, 1);
  const { scores } = centroidScoresJs(byQuery, K, nq, 1);
  const keep = Uint8Array.from({ length: K }, (_, c) => (c % 3 === 0 ? 0 : 1));
  const cands = Array.from({ length: 40 }, (_, i) => 39 - i);
  const chunk = view.chunks[0]!;
  const reference = (doc: number, kept: Uint8Array | null): number => {
    let total = 0;
    let any = false;
    const best = new Array<number>(nq).fill(-Infinity);
    for (let v = chunk.offsets[doc]!; v < chunk.offsets[doc + 1]!; v++) {
      const c = chunk.codes[v]!;
      if (kept && !kept[c]) continue;
      any = true;
      for (let i = 0; i < nq; i++) best[i] = Math.max(best[i]!, byQuery[i * K + c]!);
    }
    if (!any) return noCodeScore(nq);
    for (let i = 0; i < nq; i++) total += best[i]!;
    return total;
  };
  const s2 = approximateScores(view, cands, scores, nq, keep);
  const s3 = approximateScores(view, cands, scores, nq, null);
  // Stage 2 by centroid (IVF lists) == stage 2 by document, to the bit; over a subset of candidates too.
  assert.deepEqual([...prunedScores(view, cands, scores, nq, keep)], [...s2]);
  const some = cands.filter((d) => d % 3 !== 1);
  assert.deepEqual([...prunedScores(view, some, scores, nq, keep)], [...approximateScores(view, some, scores, nq, keep)]);
  cands.forEach((doc, i) => {
    assert.ok(Math.abs(s2[i]! - reference(doc, keep)) < 1e-5, `stage 2 doc ${doc}`);
    assert.ok(Math.abs(s3[i]! - reference(doc, null)) < 1e-5, `stage 3 doc ${doc}`);
  });
  assert.equal(s3[cands.indexOf(3)], noCodeScore(nq)); // the empty document: ColBERT's -9999 per query vector
});

test("stage 3 by the runs kernel (nq 4, 5: padded lanes) and the pairs kernel (nq 65) == approximateScores to the bit, lengths 0..40", async () => {
  const view = await randomView(41, 2, 60, 40);
  const K = 12;
  for (const nq of [4, 5, 65]) {
    const { scores } = centroidScoresJs(new Rng(6 + nq).normalArray(nq * K, 1), K, nq, 1);
    const cands = Array.from({ length: 60 }, (_, i) => (i * 7) % 60);
    const reference = approximateScores(view, cands, scores, nq, null);
    const got = approximateScoresWasm(view, cands, scores, nq);
    assert.ok(got, "Node 20 has WebAssembly SIMD");
    assert.deepEqual([...got], [...reference], `nq ${nq}`);
    assert.equal(got[cands.indexOf(3)], noCodeScore(nq)); // the empty document
    assert.deepEqual([...stage3Scores(view, cands.slice(0, 7), scores, nq)], [...reference.slice(0, 7)]);
  }
});

test("topIndexes == the first n of a full sort (ties by index), with many ties and any n", () => {
  assert.deepEqual(topIndexes(Float32Array.from([1, 3, 2, 3, 0]), 3), [1, 3, 2]);
  const rng = new Rng(7);
  for (const len of [0, 1, 5, 100, 1000]) {
    const values = Float32Array.from({ length: len }, () => Math.round(rng.next() * 8) / 4); // ties everywhere
    for (const n of [0, 1, 3, 50, len - 1, len, len + 5]) assert.deepEqual(topIndexes(values, n), topIndexesBySort(values, n), `len ${len} n ${n}`);
  }
});

test("topIndexes == the full sort also with -0, -Infinity, NaN and a fractional n", () => {
  const values = Float32Array.from([0, -0, -Infinity, 1, -0, 0, -Infinity, 2, 1]);
  for (const n of [1, 2, 3.7, 5, 8]) assert.deepEqual(topIndexes(values, n), topIndexesBySort(values, n), `n ${n}`);
  assert.deepEqual(topIndexes(Float32Array.from([1, 2, 3]), 1.5), [2]);
  const withNaN = Float32Array.from([NaN, 1, 2]);
  assert.deepEqual(topIndexes(withNaN, 1), topIndexesBySort(withNaN, 1));
  assert.equal(topIndexes(withNaN, 1).length, 1);
});

test("prunedScores over several chunks whose local indexes overlap == approximateScores; a repeated candidate is refused", async () => {
  const a = await randomView(51, 2, 20, 15);
  const b = await randomView(52, 2, 20, 15);
  // Both chunks under one codec (a's): codes and residuals are only read, never decompressed here.
  const view: SearchView = { codec: a.codec, chunks: [a.chunks[0]!, b.chunks[0]!], allowed: null, deleted: new Uint8Array(40) };
  const [K, nq] = [12, 3];
  const { scores } = centroidScoresJs(new Rng(9).normalArray(nq * K, 1), K, nq, 1);
  const keep = Uint8Array.from({ length: K }, (_, c) => (c % 2 === 0 ? 1 : 0));
  const cands = [...Array.from({ length: 20 }, (_, i) => 4294967296 + i), ...Array.from({ length: 20 }, (_, i) => 19 - i)].filter((c) => c % 5 !== 2);
  assert.deepEqual([...prunedScores(view, cands, scores, nq, keep)], [...approximateScores(view, cands, scores, nq, keep)]);
  assert.throws(() => prunedScores(view, [1, 4294967296 + 1, 1], scores, nq, keep), (e: ColtsError) => e.code === "INPUT_INVALID" && /appears twice/.test(e.message));
  // A refused call leaves nothing behind: later calls on the same chunks are right.
  assert.deepEqual([...prunedScores(view, [2, 1], scores, nq, keep)], [...approximateScores(view, [2, 1], scores, nq, keep)]);
  assert.deepEqual([...prunedScores(view, cands, scores, nq, keep)], [...approximateScores(view, cands, scores, nq, keep)]);
});

test("plaidSearch's default ndocs follows the documents stored in the view: 2 x 256 beyond 250,000", async () => {
  const small = await randomView(63, 2, 1200, 8);
  // A second chunk of 300,000 empty documents (never candidates) makes the collection 301,200 documents.
  const n = 300_000;
  const empty = makeChunk(Uint32Array.from({ length: n }, (_, i) => 1200 + i), new Uint32Array(n), new Uint16Array(0), new Uint8Array(0), 12);
  const big: SearchView = { ...small, chunks: [...small.chunks, empty], deleted: new Uint8Array(1200 + n) };
  assert.equal(storedDocuments(small), 1200);
  assert.equal(storedDocuments(big), 301_200);
  const nq = 3;
  const q = new Rng(64).normalArray(nq * 16, 1);
  const byQuery = matmulABtJs(q, nq, small.codec.centroids, 12, 16);
  const scorer = (c: number): Promise<ReturnType<typeof centroidScoresJs>> => Promise.resolve(centroidScoresJs(byQuery, 12, nq, c));
  const kept = async (view: SearchView): Promise<number[]> => {
    const counts: number[] = [];
    await plaidSearch(view, q, nq, scorer, 10, { ncells: 12, centroidScoreThreshold: -1 }, { onStage: (stage, _ms, count) => (stage === "stage2" || stage === "stage3" ? counts.push(count) : 0) });
    return counts;
  };
  assert.deepEqual(await kept(small), [256, 64]);
  assert.deepEqual(await kept(big), [512, 128]);
});

test("plaidSearch refuses parameters that would return nothing", async () => {
  const view = await randomView(53, 2, 10, 8);
  const q = new Rng(10).normalArray(3 * 16, 1);
  const byQuery = matmulABtJs(q, 3, view.codec.centroids, 12, 16);
  const scorer = (n: number): Promise<ReturnType<typeof centroidScoresJs>> => Promise.resolve(centroidScoresJs(byQuery, 12, 3, n));
  for (const params of [{ ndocs: 100.5 }, { ncells: 0 }, { centroidScoreThreshold: Number.NaN }]) {
    await assert.rejects(plaidSearch(view, q, 3, scorer, 2, params), (e: ColtsError) => e.code === "INPUT_INVALID", JSON.stringify(params));
  }
  assert.equal((await plaidSearch(view, q, 3, scorer, 2, { centroidScoreThreshold: -1 })).length, 2);
});

test("plaidSearch's stage hook: each stage once, in order, with a non-negative time and what it passed on; same hits as without it", async () => {
  const view = await randomView(61, 2, 200, 8);
  const nq = 3;
  const q = new Rng(62).normalArray(nq * 16, 1);
  const byQuery = matmulABtJs(q, nq, view.codec.centroids, 12, 16);
  const scorer = (n: number): Promise<ReturnType<typeof centroidScoresJs>> => Promise.resolve(centroidScoresJs(byQuery, 12, nq, n));
  const params = { ncells: 2, ndocs: 40, centroidScoreThreshold: -1 };
  const seen: [PlaidStage, number, number][] = [];
  const hits = await plaidSearch(view, q, nq, scorer, 5, params, { onStage: (stage, ms, count) => seen.push([stage, ms, count]) });
  assert.deepEqual(hits, await plaidSearch(view, q, nq, scorer, 5, params));
  assert.deepEqual(seen.map(([stage]) => stage), ["centroids", "candidates", "stage2", "stage3", "stage4"]);
  for (const [stage, ms] of seen) assert.ok(Number.isFinite(ms) && ms >= 0, `${stage}: ${ms} ms`);
  const counts = seen.map(([, , count]) => count);
  assert.equal(counts[0], nq * 2, "probed cells");
  assert.ok(counts[1]! > 40, `candidates ${counts[1]}: enough for stage 2 to prune`);
  assert.deepEqual(counts.slice(2), [40, 10, 5], "ndocs, ndocs / 4, k");
  // No candidates (every document deleted): the search stops after candidate generation.
  const none: PlaidStage[] = [];
  const empty = await plaidSearch({ ...view, deleted: new Uint8Array(200).fill(1) }, q, nq, scorer, 5, params, { onStage: (stage) => none.push(stage) });
  assert.deepEqual(empty, []);
  assert.deepEqual(none, ["centroids", "candidates"]);
});
