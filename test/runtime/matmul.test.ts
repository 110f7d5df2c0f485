import { test } from "node:test";
import assert from "node:assert/strict";
import { OrtArgmax, OrtArgmaxRows, OrtMatmul, OrtMatmulDynamic, matmulABtJs, maxsimFromSimilarities } from "../../src/runtime/kernels/matmul.js";
import { Rng } from "../../src/util/rng.js";

test("matmulABtJs by hand: [[1,2],[3,4]] · [[1,0],[0,1],[1,1]]ᵀ", () => {
  const c = matmulABtJs(Float32Array.from([1, 2, 3, 4]), 2, Float32Array.from([1, 0, 0, 1, 1, 1]), 3, 2);
  assert.deepEqual([...c], [1, 2, 3, 3, 4, 7]);
});

test("onnxruntime MatMul kernel == JS reference (1e-4) on random shapes", async () => {
  const rng = new Rng(5);
  for (const [m, n, d] of [[1, 1, 1], [7, 300, 128], [33, 64, 96]] as const) {
    const a = rng.normalArray(m * d, 1);
    const b = rng.normalArray(n * d, 1);
    const kernel = await OrtMatmul.create(b, n, d, { intraOpThreads: 1 });
    const fast = await kernel.run(a, m);
    await kernel.release();
    const slow = matmulABtJs(a, m, b, n, d);
    const tKernel = await OrtMatmul.create(b, n, d, { intraOpThreads: 1 }, true);
    const transposed = await tKernel.run(a, m);
    await tKernel.release();
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) assert.ok(Math.abs((transposed[j * m + i] as number) - (slow[i * n + j] as number)) < 1e-3);
    assert.equal(fast.length, m * n);
    for (let i = 0; i < slow.length; i++) assert.ok(Math.abs((fast[i] as number) - (slow[i] as number)) < 1e-4 * Math.max(1, Math.abs(slow[i] as number)));
  }
});

test("maxsimFromSimilarities by hand; dynamic kernel == JS reference", async () => {
  // 2 query vectors, documents of 2 and 1 vectors: sims rows [0.1, 0.9 | 0.5], [0.3, 0.2 | -1]
  const sims = Float32Array.from([0.1, 0.9, 0.5, 0.3, 0.2, -1]);
  const scores = maxsimFromSimilarities(sims, 2, [2, 1, 0]);
  assert.ok(Math.abs((scores[0] as number) - 1.2) < 1e-6);
  assert.ok(Math.abs((scores[1] as number) + 0.5) < 1e-6);
  assert.equal(scores[2], 0);
  const rng = new Rng(9);
  const a = rng.normalArray(5 * 16, 1);
  const b = rng.normalArray(40 * 16, 1);
  const kernel = await OrtMatmulDynamic.create(16, { intraOpThreads: 1 });
  const fast = await kernel.run(a, 5, b, 40);
  await kernel.release();
  const slow = matmulABtJs(a, 5, b, 40, 16);
  for (let i = 0; i < slow.length; i++) assert.ok(Math.abs((fast[i] as number) - (slow[i] as number)) < 1e-4);
});

/** A random arg-max problem: a: [m, d], b: [n, d], bias: [n], and the JS products a·bᵀ: [m, n]. */
function argmaxProblem(seed: number, m: number, n: number, d: number): { a: Float32Array; b: Float32Array; bias: Float32Array; slow: Float32Array } {
  const rng = new Rng(seed);
  const a = rng.normalArray(m * d, 1);
  const b = rng.normalArray(n * d, 1);
  const bias = rng.normalArray(n, 0.5);
  return { a, b, bias, slow: matmulABtJs(a, m, b, n, d) };
}

/** The JS arg-max of row `row` of products: [*, n] plus an optional bias (ties: the first). */
function jsArgmax(slow: Float32Array, n: number, row: number, bias: Float32Array | null): { best: number; value: number } {
  const v = (j: number): number => slow[row * n + j]! + (bias ? bias[j]! : 0);
  let best = 0;
  for (let j = 1; j < n; j++) if (v(j) > v(best)) best = j;
  return { best, value: v(best) };
}

test("OrtArgmax: codes and best scores equal the JS arg-max over the same products (with and without bias)", async () => {
  const [m, n, d] = [300, 57, 24];
  const { a, b, bias, slow } = argmaxProblem(21, m, n, d);
  for (const withBias of [false, true]) {
    const kernel = await OrtArgmax.create(b, n, d, withBias ? bias : undefined, { intraOpThreads: 1 });
    const { codes, scores } = await kernel.run(a, m);
    await kernel.release();
    for (let i = 0; i < m; i++) {
      const { best, value } = jsArgmax(slow, n, i, withBias ? bias : null);
      assert.equal(codes[i], best, `row ${i} bias ${withBias}`);
      assert.ok(Math.abs(scores[i]! - value) < 1e-4);
    }
  }
});

test("OrtArgmaxRows: the arg-max of the picked rows (repeats, any order) equals the JS arg-max of those rows", async () => {
  const [m, n, d] = [50, 9, 16];
  const { a, b, bias, slow } = argmaxProblem(22, m, n, d);
  const rows = Int32Array.from([49, 0, 7, 7, 23, 0, 48]);
  const kernel = await OrtArgmaxRows.create(d, { intraOpThreads: 1 });
  const { codes, scores } = await kernel.run(a, m, rows, b, n, bias);
  const empty = await kernel.run(a, m, new Int32Array(0), b, n, bias);
  await kernel.release();
  assert.equal(codes.length, rows.length);
  assert.equal(empty.codes.length, 0);
  rows.forEach((r, i) => {
    const { best, value } = jsArgmax(slow, n, r, bias);
    assert.equal(codes[i], best, `row ${r}`);
    assert.ok(Math.abs(scores[i]! - value) < 1e-4);
  });
});
