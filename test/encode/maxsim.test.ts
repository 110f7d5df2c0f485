import { test } from "node:test";
import assert from "node:assert/strict";
import { maxsim, maxsimDetailed, type MultiVector } from "../../src/encode/multivector.js";
import { planBatches } from "../../src/encode/encoder.js";
import { applyDense, normalizeRows, truncateColumns } from "../../src/encode/head.js";

const mv = (rows: number[][]): MultiVector => ({
  vectors: Float32Array.from(rows.flat()),
  tokens: rows.length,
  dim: rows[0]?.length ?? 0,
  tokenIds: new Int32Array(rows.length),
});

test("maxsim by hand: each query row takes its best document row, summed", () => {
  // q1·d = [1, 0.6], best 1 (row 0); q2·d = [0, 0.8], best 0.8 (row 1) -> 1.8
  const q = mv([[1, 0], [0, 1]]);
  const d = mv([[1, 0], [0.6, 0.8]]);
  const r = maxsimDetailed(q, d);
  assert.ok(Math.abs(r.score - 1.8) < 1e-6);
  assert.deepEqual([...r.best], [0, 1]);
  assert.ok(Math.abs(maxsim(q, d) - 1.8) < 1e-6);
});

test("maxsim: empty document scores 0; dims must agree", () => {
  assert.equal(maxsim(mv([[1, 0]]), { vectors: new Float32Array(0), tokens: 0, dim: 2, tokenIds: new Int32Array(0) }), 0);
  assert.throws(() => maxsim(mv([[1, 0]]), mv([[1, 0, 0]])), RangeError);
});

test("applyDense: y = x W^T (+ b) with torch's [out, in] layout", () => {
  const layer = { weight: Float32Array.from([1, 2, 3, 4, 5, 6]), bias: Float32Array.from([0.5, -1]), inFeatures: 3, outFeatures: 2, activation: "identity" as const, source: "t" };
  // x = [1, 0, -1] -> [1-3, 4-6] + b = [-1.5, -3]
  assert.deepEqual([...applyDense(Float32Array.from([1, 0, -1]), 1, layer)], [-1.5, -3]);
});

test("normalizeRows: unit rows, zero rows stay zero (eps)", () => {
  assert.deepEqual(normalizeRows(Float32Array.from([3, 4, 0, 0]), 2, 2), Float32Array.from([0.6, 0.8, 0, 0]));
});

test("truncateColumns keeps the leading components of each row", () => {
  assert.deepEqual([...truncateColumns(Float32Array.from([1, 2, 3, 4, 5, 6]), 2, 3, 2)], [1, 2, 4, 5]);
});

test("planBatches: longest first, bounded by count and padded tokens, every row exactly once", () => {
  const rows = [3, 10, 1, 7, 7, 2].map((n) => ({ ids: Array<number>(n).fill(0) }));
  assert.deepEqual(planBatches(rows, 2, 1000), [[1, 3], [4, 0], [5, 2]]);
  assert.deepEqual(planBatches(rows, 10, 14), [[1], [3, 4], [0, 5, 2]]);
  assert.deepEqual(planBatches(rows, 10, 5), [[1], [3], [4], [0], [5, 2]]);
  assert.throws(() => planBatches(rows, 0, 10), { code: "INPUT_INVALID" });
});

test("applyDense: the 4-row path equals row-by-row dot products exactly, with bias and tanh", () => {
  const din = 7;
  const dout = 5;
  const n = 11; // two 4-row groups and a remainder of 3
  const x = Float32Array.from({ length: n * din }, (_, i) => Math.sin(i * 1.3));
  const weight = Float32Array.from({ length: dout * din }, (_, i) => Math.cos(i * 0.7));
  const bias = Float32Array.from({ length: dout }, (_, i) => i / 10);
  for (const activation of ["identity", "tanh"] as const) {
    const y = applyDense(x, n, { weight, bias, inFeatures: din, outFeatures: dout, activation, source: "t" });
    for (let r = 0; r < n; r++) {
      for (let o = 0; o < dout; o++) {
        let acc = 0;
        for (let i = 0; i < din; i++) acc += x[r * din + i]! * weight[o * din + i]!;
        const want = Math.fround(activation === "tanh" ? Math.tanh(acc + bias[o]!) : acc + bias[o]!);
        assert.equal(y[r * dout + o], want);
      }
    }
  }
});
