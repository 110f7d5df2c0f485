import { test } from "node:test";
import assert from "node:assert/strict";
import { kmeans, plaidNumCentroids, plaidSampleSize } from "../../src/plaid/kmeans.js";
import { jsMatmulFactory } from "../../src/plaid/assign.js";
import { assignToCentroids } from "../../src/plaid/nearest.js";
import { matmulABtJs } from "../../src/runtime/kernels/matmul.js";
import { isColtsError } from "../../src/errors.js";
import { Rng } from "../../src/util/rng.js";

/** `clusters` random unit centres, `per` points each: centre + N(0, noise²) per dimension, normalised. */
function clustered(seed: number, clusters: number, per: number, dim: number, noise: number): { points: Float32Array; truth: Int32Array; centres: Float32Array } {
  const rng = new Rng(seed);
  const centres = rng.normalArray(clusters * dim, 1);
  normalise(centres, clusters, dim);
  const n = clusters * per;
  const points = new Float32Array(n * dim);
  const truth = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % clusters;
    truth[i] = c;
    for (let t = 0; t < dim; t++) points[i * dim + t] = centres[c * dim + t]! + rng.normal() * noise;
  }
  normalise(points, n, dim);
  return { points, truth, centres };
}

function normalise(x: Float32Array, n: number, dim: number): void {
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let t = 0; t < dim; t++) s += x[i * dim + t]! ** 2;
    for (let t = 0; t < dim; t++) x[i * dim + t] = x[i * dim + t]! / Math.sqrt(s);
  }
}

function rowNorm(x: Float32Array, row: number, dim: number): number {
  let s = 0;
  for (let t = 0; t < dim; t++) s += x[row * dim + t]! ** 2;
  return Math.sqrt(s);
}

test("plaidSampleSize = min(1 + floor(16 sqrt(120 N)), N) (checked against numpy)", () => {
  assert.equal(plaidSampleSize(0), 0);
  assert.equal(plaidSampleSize(1), 1);
  assert.equal(plaidSampleSize(1000), 1000);
  assert.equal(plaidSampleSize(100_000), 55_426);
  assert.equal(plaidSampleSize(1_000_000), 175_272);
  assert.equal(plaidSampleSize(8_841_823), 521_173); // MS MARCO passages
  assert.throws(() => plaidSampleSize(-1), (e) => isColtsError(e, "INPUT_INVALID"));
});

test("plaidNumCentroids = 2^floor(log2(16 sqrt(tokens))) (checked against numpy)", () => {
  assert.equal(plaidNumCentroids(1), 16);
  assert.equal(plaidNumCentroids(4095), 512);
  assert.equal(plaidNumCentroids(4096), 1024); // 16 * 64 = 2^10 exactly
  assert.equal(plaidNumCentroids(1e6), 8192);
  assert.equal(plaidNumCentroids(1.2e7), 32_768);
  assert.equal(plaidNumCentroids(8_841_823 * 60.5), 262_144); // a fractional token estimate
  assert.throws(() => plaidNumCentroids(0), (e) => isColtsError(e, "INPUT_INVALID"));
});

test("assignToCentroids = brute-force argmax of dot products, whatever the block size and kernel", async () => {
  const rng = new Rng(21);
  const [n, k, dim] = [203, 37, 24];
  const x = rng.normalArray(n * dim, 1);
  const c = rng.normalArray(k * dim, 1);
  const scores = matmulABtJs(x, n, c, k, dim);
  const want = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (scores[i * k + j]! > scores[i * k + best]!) best = j;
    want[i] = best;
  }
  assert.deepEqual(await assignToCentroids(x, n, c, k, dim, { matmul: jsMatmulFactory }), want);
  assert.deepEqual(await assignToCentroids(x, n, c, k, dim, { matmul: jsMatmulFactory, blockRows: 1 }), want);
  assert.deepEqual(await assignToCentroids(x, n, c, k, dim, { blockRows: 7, runtime: { intraOpThreads: 1 } }), want); // onnxruntime
  assert.deepEqual(await assignToCentroids(x, n, c, k, dim), want);
  assert.deepEqual(await assignToCentroids(new Float32Array(0), 0, c, k, dim), new Int32Array(0));
});

test("k-means is deterministic per seed, returns unit centroids, and differs across seeds", async () => {
  const { points } = clustered(1, 6, 40, 32, 0.3);
  const a = await kmeans(points, 240, 32, 12, { seed: 5 });
  const b = await kmeans(points, 240, 32, 12, { seed: 5 });
  const c = await kmeans(points, 240, 32, 12, { seed: 6 });
  assert.equal(a.length, 12 * 32);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  for (let j = 0; j < 12; j++) assert.ok(Math.abs(rowNorm(a, j, 32) - 1) < 1e-6);
  // normalize: false keeps the raw means (norm < 1 for means of unit vectors)
  const raw = await kmeans(points, 240, 32, 12, { seed: 5, normalize: false });
  assert.ok(rowNorm(raw, 0, 32) < 0.999);
});

test("k-means recovers well-separated clusters (k >= clusters: every centroid pure, every cluster covered)", async () => {
  const [clusters, per, dim, k] = [4, 100, 32, 16];
  const { points, truth, centres } = clustered(2, clusters, per, dim, 0.05);
  const n = clusters * per;
  for (const matmul of [undefined, jsMatmulFactory]) {
    const cents = await kmeans(points, n, dim, k, { seed: 123, iterations: 10, ...(matmul ? { matmul } : {}) });
    const codes = await assignToCentroids(points, n, cents, k, dim, { matmul: jsMatmulFactory });
    const owner = new Int32Array(k).fill(-1);
    const covered = new Set<number>();
    for (let i = 0; i < n; i++) {
      const j = codes[i]!;
      if (owner[j] === -1) owner[j] = truth[i]!;
      assert.equal(owner[j], truth[i], `centroid ${j} mixes clusters ${owner[j]} and ${truth[i]}`);
      covered.add(truth[i]!);
    }
    assert.equal(covered.size, clusters);
    for (let j = 0; j < k; j++) {
      if (owner[j] === -1) continue;
      let cos = 0;
      for (let t = 0; t < dim; t++) cos += cents[j * dim + t]! * centres[owner[j]! * dim + t]!;
      assert.ok(cos > 0.9, `centroid ${j}: cos ${cos} to its cluster centre`); // points themselves sit at cos ~0.96
    }
  }
});

test("onnxruntime and JS kernels train the same centroids", async () => {
  const { points } = clustered(3, 8, 50, 16, 0.2);
  const ort = await kmeans(points, 400, 16, 8, { seed: 9, blockRows: 64 });
  const js = await kmeans(points, 400, 16, 8, { seed: 9, matmul: jsMatmulFactory });
  for (let i = 0; i < ort.length; i++) assert.ok(Math.abs(ort[i]! - js[i]!) < 1e-5);
});

test("empty clusters are re-seeded deterministically (duplicate points)", async () => {
  const dim = 8;
  // 3 distinct points repeated: any initial pair of equal centroids leaves one empty.
  const base = Float32Array.of(1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0);
  const points = new Float32Array(30 * dim);
  for (let i = 0; i < 30; i++) points.set(base.subarray((i % 3) * dim, (i % 3 + 1) * dim), i * dim);
  const a = await kmeans(points, 30, dim, 6, { seed: 1, matmul: jsMatmulFactory });
  const b = await kmeans(points, 30, dim, 6, { seed: 1, matmul: jsMatmulFactory });
  assert.deepEqual(a, b);
  for (const v of a) assert.ok(Number.isFinite(v));
  for (let j = 0; j < 6; j++) assert.ok(Math.abs(rowNorm(a, j, dim) - 1) < 1e-6);
  // each of the 3 points is (about) some centroid
  const codes = await assignToCentroids(base, 3, a, 6, dim, { matmul: jsMatmulFactory });
  for (let p = 0; p < 3; p++) assert.ok(a[codes[p]! * dim + p]! > 0.999);
});

test("k-means subsamples to k * maxPointsPerCentroid points, deterministically", async () => {
  const { points } = clustered(4, 4, 250, 16, 0.2);
  const a = await kmeans(points, 1000, 16, 4, { seed: 2, maxPointsPerCentroid: 10 });
  const b = await kmeans(points, 1000, 16, 4, { seed: 2, maxPointsPerCentroid: 10 });
  const all = await kmeans(points, 1000, 16, 4, { seed: 2 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, all);
});

test("k-means rejects k > n and bad options", async () => {
  const x = new Float32Array(5 * 4);
  await assert.rejects(kmeans(x, 5, 4, 6), (e) => isColtsError(e, "INPUT_INVALID"));
  await assert.rejects(kmeans(x, 5, 4, 0), (e) => isColtsError(e, "INPUT_INVALID"));
  await assert.rejects(kmeans(x, 6, 4, 2), (e) => isColtsError(e, "INPUT_INVALID"));
  await assert.rejects(kmeans(x, 5, 4, 2, { iterations: -1 }), (e) => isColtsError(e, "INPUT_INVALID"));
});
