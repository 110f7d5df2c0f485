/** The WebAssembly maxima of stages 2 and 3 (pairs and runs): used in Node, and bit-identical to the JavaScript loop. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { makeChunk } from "../../src/plaid/chunk.js";
import { ResidualCodec } from "../../src/plaid/codec.js";
import { copyRows, pairMaximaWasm, prunedMaximaWasm, runMaximaWasm } from "../../src/plaid/pruned-wasm.js";
import { approximateScores, noCodeScore, prunedScores, prunedScoresJs, type SearchView } from "../../src/plaid/stages.js";
import { Rng } from "../../src/util/rng.js";

/** A codec of K unit-axis centroids (prunedScores reads only the chunks; the view needs one). */
async function axisCodec(K: number, dim: number): Promise<ResidualCodec> {
  const centroids = new Float32Array(K * dim);
  for (let c = 0; c < K; c++) centroids[c * dim + (c % dim)] = 1;
  return ResidualCodec.train(centroids, K, dim, new Rng(1).normalArray(20 * dim, 1), 20, { nbits: 2 });
}

/** One chunk whose documents hold the given codes (residual bytes are never read here). */
function chunkOf(docs: number[][], K: number, bytesPerVector: number): ReturnType<typeof makeChunk> {
  const codes = Int32Array.from(docs.flat());
  return makeChunk(
    Uint32Array.from(docs, (_, i) => i),
    Uint32Array.from(docs, (d) => d.length),
    codes,
    new Uint8Array(codes.length * bytesPerVector),
    K,
  );
}

test("the kernel is available in Node: stage 2 runs in WebAssembly, not the fallback", () => {
  const got = prunedMaximaWasm([0], Float32Array.of(1, 2, 3), 3, 1, (pairs, any) => {
    // One pair: candidate 0 takes kept row 0.
    pairs.set([0, 0]);
    any[0] = 1;
    return 1;
  }, 1);
  assert.ok(got !== null);
  assert.equal(got.lanes, 4);
  assert.deepEqual([...got.best], [1, 2, 3, -Infinity]);
  assert.deepEqual([...got.any], [1]);
});

test("by hand: two documents, nq 2 (padded to 4 lanes), one centroid not kept", async () => {
  const K = 3;
  const codec = await axisCodec(K, 4);
  // doc 0 holds codes 0 and 1, doc 1 codes 1 and 2; centroid 2 is not kept.
  const view: SearchView = { codec, chunks: [chunkOf([[0, 1], [1, 2]], K, codec.bytesPerVector)], allowed: null, deleted: new Uint8Array(2) };
  const scores = Float32Array.of(0.125, 0.875, 0.5, 0.25, 0.375, 1); // [K, nq]
  const keep = Uint8Array.of(1, 1, 0);
  // doc 0: max(0.125, 0.5) + max(0.875, 0.25) = 1.375; doc 1: centroid 1 alone, 0.5 + 0.25 = 0.75.
  assert.deepEqual([...prunedScores(view, [0, 1], scores, 2, keep)], [1.375, 0.75]);
  // Nothing kept: both documents score as having no code.
  assert.deepEqual([...prunedScores(view, [1, 0], scores, 2, Uint8Array.of(0, 0, 0))], [noCodeScore(2), noCodeScore(2)]);
});

test("property: prunedScores (kernel) == prunedScoresJs to the bit, and == approximateScores, over random views", async () => {
  const rng = new Rng(77);
  const K = 40;
  const codec = await axisCodec(K, 8);
  for (const nq of [1, 3, 4, 5, 32]) {
    for (let trial = 0; trial < 4; trial++) {
      // Two chunks whose local indexes overlap; lengths 0..9 (an empty document included).
      const docs = (n: number): number[][] => Array.from({ length: n }, (_, i) => (i === 2 ? [] : Array.from({ length: 1 + rng.int(9) }, () => rng.int(K))));
      const a = chunkOf(docs(30), K, codec.bytesPerVector);
      const b = chunkOf(docs(25), K, codec.bytesPerVector);
      const view: SearchView = { codec, chunks: [a, b], allowed: null, deleted: new Uint8Array(55) };
      // Rounded scores make ties; signed zeros and -Infinity must pass through as the loop leaves them.
      const scores = Float32Array.from({ length: K * nq }, () => {
        const u = rng.next();
        if (u < 0.05) return -0;
        if (u < 0.1) return 0;
        if (u < 0.12) return -Infinity;
        return Math.round(rng.normal() * 8) / 8;
      });
      const keep = Uint8Array.from({ length: K }, () => (rng.next() < [0, 0.2, 0.6, 1][trial]! ? 1 : 0));
      const cands = [...Array.from({ length: 30 }, (_, i) => i), ...Array.from({ length: 25 }, (_, i) => 4294967296 + i)].filter(() => rng.next() < 0.7);
      const fast = prunedScores(view, cands, scores, nq, keep);
      const slow = prunedScoresJs(view, cands, scores, nq, keep);
      assert.equal(fast.length, cands.length);
      fast.forEach((v, i) => assert.ok(Object.is(v, slow[i]), `nq ${nq} trial ${trial} candidate ${i}: ${v} vs ${slow[i]}`));
      assert.deepEqual([...fast], [...approximateScores(view, cands, scores, nq, keep)]);
    }
  }
});

/** The runs as the kernel takes them: ids one item after another, cumulative ends, any. */
function runsFill(runs: number[][]): (codes: Int32Array, ends: Int32Array, any: Uint8Array) => void {
  return (codes, ends, any) => {
    let n = 0;
    runs.forEach((run, i) => {
      for (const r of run) codes[n++] = r;
      ends[i] = n;
      if (run.length > 0) any[i] = 1;
    });
  };
}

test("runs kernel by hand: three items (one empty, one repeating a row), nq 5 padded to 8 lanes", () => {
  const rows = Float32Array.of(1, 2, 3, 4, 5, 9, 0, -1, 0.5, 7, -2, 8, 8, 8, -8); // [3, 5]
  const runs = [[0, 2, 0], [], [1]];
  const got = runMaximaWasm(3, 5, (table, lanes) => copyRows(rows, 5, table, lanes, null, 3), 3, runsFill(runs), 4);
  assert.ok(got !== null, "Node 20 has WebAssembly SIMD");
  assert.equal(got.lanes, 8);
  const lane = (i: number): number[] => [...got.best.subarray(i * 8, i * 8 + 5)];
  assert.deepEqual(lane(0), [1, 8, 8, 8, 5]); // max of rows 0 and 2
  assert.deepEqual(lane(1), [-Infinity, -Infinity, -Infinity, -Infinity, -Infinity]);
  assert.deepEqual(lane(2), [9, 0, -1, 0.5, 7]);
  assert.deepEqual([...got.any], [1, 0, 1]);
});

test("property: runs kernel == pairs kernel to the bit (ties, signed zeros, NaN, -Infinity), nq 1..64; longer rows are left to the pairs", () => {
  const rng = new Rng(91);
  const value = (): number => {
    const u = rng.next();
    if (u < 0.05) return -0;
    if (u < 0.1) return 0;
    if (u < 0.12) return -Infinity;
    if (u < 0.14) return NaN;
    return Math.round(rng.normal() * 8) / 8;
  };
  for (const nq of [1, 3, 4, 5, 8, 31, 32, 64]) {
    const K = 1 + rng.int(50);
    const table = Float32Array.from({ length: K * nq }, value);
    const runs = Array.from({ length: 1 + rng.int(40) }, () => Array.from({ length: rng.int(12) }, () => rng.int(K)));
    const total = runs.reduce((a, r) => a + r.length, 0);
    const write = (t: Float32Array, lanes: number): void => copyRows(table, nq, t, lanes, null, K);
    const byRuns = runMaximaWasm(K, nq, write, runs.length, runsFill(runs), total);
    assert.ok(byRuns !== null);
    const best = Float32Array.from(byRuns.best);
    const pairs = runs.flatMap((run, i) => run.map((r) => [i, r]));
    const byPairs = pairMaximaWasm(K, nq, write, runs.length, (p, any) => {
      pairs.forEach(([i, r], e) => p.set([i!, r!], 2 * e));
      pairs.forEach(([i]) => (any[i!] = 1));
      return pairs.length;
    }, pairs.length);
    assert.ok(byPairs !== null);
    assert.equal(byRuns.lanes, byPairs.lanes);
    best.forEach((v, j) => assert.ok(Object.is(v, byPairs.best[j]), `nq ${nq} value ${j}: ${v} vs ${byPairs.best[j]}`));
    assert.deepEqual([...byRuns.any], [...byPairs.any]);
  }
  assert.equal(runMaximaWasm(1, 65, () => undefined, 1, () => undefined, 0), null);
});
