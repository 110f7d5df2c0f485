/**
 * Warm-started assignment (refine.ts) against plain-JS references: with every centroid as a
 * candidate it is exact assignment; with fewer it is the best of the hint's nearest centroids; the
 * slot size does not change the answer; k-means with warm-started rounds trains centroids as good as
 * the two-level search in every round.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { assignBlocks } from "../../src/plaid/nearest.js";
import { kmeans } from "../../src/plaid/kmeans.js";
import { centroidNeighbors, refineAssignment } from "../../src/plaid/refine.js";
import { Rng } from "../../src/util/rng.js";
import { clustered } from "../helpers/synthetic.js";


/** bias[j] = -|c_j|^2 / 2: [k]. */
function l2Bias(c: Float32Array, k: number, dim: number): Float32Array {
  const b = new Float32Array(k);
  for (let j = 0; j < k; j++) {
    let s = 0;
    for (let t = 0; t < dim; t++) s += (c[j * dim + t] as number) ** 2;
    b[j] = -s / 2;
  }
  return b;
}

const dot = (a: Float32Array, i: number, b: Float32Array, j: number, dim: number): number => {
  let s = 0;
  for (let t = 0; t < dim; t++) s += (a[i * dim + t] as number) * (b[j * dim + t] as number);
  return s;
};

/** Reference: for each vector, the best of the l centroids nearest its hint (brute force, ties to the nearer neighbour). */
function refineReference(x: Float32Array, n: number, hints: Int32Array, c: Float32Array, k: number, dim: number, bias: Float32Array, l: number): { codes: Int32Array; scores: Float64Array } {
  const codes = new Int32Array(n);
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const h = hints[i] as number;
    const near = Array.from({ length: k }, (_, j) => ({ j, s: dot(c, h, c, j, dim) + (bias[j] as number) }))
      .sort((a, b) => b.s - a.s || a.j - b.j)
      .slice(0, l);
    let best = -Infinity;
    for (const { j } of near) {
      const s = dot(x, i, c, j, dim) + (bias[j] as number);
      if (s > best) [best, codes[i]] = [s, j];
    }
    scores[i] = best;
  }
  return { codes, scores };
}

describe("warm-started assignment", () => {
  const dim = 16;
  const k = 96;
  const n = 1500;
  const centroids = clustered(k, dim, 12, 0.4, 5);
  const bias = l2Bias(centroids, k, dim);
  const x = clustered(n, dim, 12, 0.4, 6);
  const rng = new Rng(7);
  const randomHints = Int32Array.from({ length: n }, () => rng.int(k));

  test("the neighbour lists are each centroid's nearest in L2, itself first (2 x 3 by hand)", async () => {
    // Centroids on a line: 0, 1, 3 (dim 2, second coordinate 0); bias -|c|^2/2 ranks by distance.
    const c = Float32Array.of(0, 0, 1, 0, 3, 0);
    const nb = await centroidNeighbors(c, 3, 2, l2Bias(c, 3, 2), 2);
    assert.deepEqual([...nb], [0, 1, 1, 0, 2, 1]);
  });

  test("with every centroid a candidate it is exact assignment, whatever the hints", async () => {
    const exact = await assignBlocks(x, n, centroids, k, dim, bias, { assignment: "exact" });
    const got = await refineAssignment(x, n, randomHints, centroids, k, dim, bias, { neighbors: k });
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs((got.scores[i] as number) - (exact.scores[i] as number)) < 1e-5, `vector ${i}`);
      if (got.codes[i] !== exact.codes[i]) assert.ok(Math.abs(dot(x, i, centroids, got.codes[i] as number, dim) - dot(x, i, centroids, exact.codes[i] as number, dim) + (bias[got.codes[i] as number] as number) - (bias[exact.codes[i] as number] as number)) < 1e-5, `vector ${i}: only a float tie may differ`);
    }
  });

  test("with 6 candidates it is the best of the hint's 6 nearest centroids (L2 bias and none)", async () => {
    for (const b of [bias, new Float32Array(k)]) {
      const want = refineReference(x, n, randomHints, centroids, k, dim, b, 6);
      const got = await refineAssignment(x, n, randomHints, centroids, k, dim, b === bias ? bias : undefined, { neighbors: 6 });
      let same = 0;
      for (let i = 0; i < n; i++) {
        assert.ok(Math.abs((got.scores[i] as number) - (want.scores[i] as number)) < 1e-5, `vector ${i}`);
        if (got.codes[i] === want.codes[i]) same++;
      }
      assert.ok(same >= n - 2, `${same}/${n} codes equal to the reference`);
    }
  });

  test("the slot size does not change the answer", async () => {
    const base = await refineAssignment(x, n, randomHints, centroids, k, dim, bias, { neighbors: 10, slotRows: 32 });
    for (const slotRows of [1, 5]) {
      const got = await refineAssignment(x, n, randomHints, centroids, k, dim, bias, { neighbors: 10, slotRows });
      assert.deepEqual(got.codes, base.codes, `slotRows ${slotRows}`);
      for (let i = 0; i < n; i++) assert.ok(Math.abs((got.scores[i] as number) - (base.scores[i] as number)) < 1e-6);
    }
  });

  test("bad hints and sizes are INPUT_INVALID", async () => {
    await assert.rejects(refineAssignment(x, n, Int32Array.from({ length: n }, () => k), centroids, k, dim, bias), { code: "INPUT_INVALID", message: /hint 96/ });
    await assert.rejects(refineAssignment(x, n, randomHints.subarray(1), centroids, k, dim, bias), { code: "INPUT_INVALID", message: /hints/ });
    await assert.rejects(refineAssignment(x, n, randomHints, centroids, k, dim, bias, { neighbors: 0 }), { code: "INPUT_INVALID" });
  });
});

describe("k-means with warm-started rounds", () => {
  const dim = 16;
  const n = 6000;
  const k = 300;
  const points = clustered(n, dim, 60, 0.4, 11);

  /** Mean inner product of each point with its exactly nearest centroid (unit centroids). */
  async function fit(c: Float32Array): Promise<number> {
    const { scores } = await assignBlocks(points, n, c, k, dim, undefined, { assignment: "exact" });
    return scores.reduce((a, s) => a + s, 0) / n;
  }

  test("trains centroids as good as the two-level search in every round (3 seeds)", async () => {
    for (const seed of [1, 2, 3]) {
      const opts = { seed, assignment: "two-level" as const, twoLevel: { groups: 16, probe: 4 } };
      const cold = await kmeans(points, n, dim, k, { ...opts, warmStart: false });
      const warm = await kmeans(points, n, dim, k, { ...opts, refine: { neighbors: 16 } });
      assert.notDeepEqual(warm, cold, "the warm start ran");
      const [fc, fw] = [await fit(cold), await fit(warm)];
      assert.ok(fw > fc - 2e-3, `seed ${seed}: warm ${fw.toFixed(5)} vs two-level ${fc.toFixed(5)}`);
    }
  });

  test("exact assignment ignores the warm start (bit-identical centroids)", async () => {
    const a = await kmeans(points, n, dim, k, { seed: 4, assignment: "exact" });
    const b = await kmeans(points, n, dim, k, { seed: 4, assignment: "exact", warmStart: false });
    assert.deepEqual(a, b);
  });

  test("onLastCodes gives the last round's codes of every point, and nothing when subsampled", async () => {
    let last: Int32Array | null = null;
    const iterations = 3;
    let direct: Int32Array | null = null;
    let round = 0;
    const c = await kmeans(points, n, dim, k, { seed: 5, iterations, assignment: "exact", onLastCodes: (codes) => (last = codes), onIteration: () => round++ });
    assert.equal(round, iterations);
    assert.ok(last !== null);
    assert.equal((last as Int32Array).length, n);
    // The codes of the last round moved each centroid to the mean of its points: recompute one centroid.
    const j = (last as Int32Array)[0] as number;
    const mean = new Float64Array(dim);
    for (let i = 0; i < n; i++) if ((last as Int32Array)[i] === j) for (let t = 0; t < dim; t++) mean[t] = (mean[t] as number) + (points[i * dim + t] as number);
    const norm = Math.sqrt(mean.reduce((a, v) => a + v * v, 0));
    for (let t = 0; t < dim; t++) assert.ok(Math.abs((mean[t] as number) / norm - (c[j * dim + t] as number)) < 1e-5);
    await kmeans(points, n, dim, k, { seed: 5, iterations, maxPointsPerCentroid: 10, onLastCodes: (codes) => (direct = codes) });
    assert.equal(direct, null, "not called on a subsample");
  });
});
