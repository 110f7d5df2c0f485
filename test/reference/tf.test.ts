import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { initTraining, segmentSumRows, tf, useExplicitTranspose } from "./tfjs/tf.js";

describe("training backend (tfjs wasm + kernel fixes)", () => {
  before(async () => {
    await initTraining();
  });

  it("runs on the wasm backend", () => {
    assert.equal(tf.getBackend(), "wasm");
  });

  it("segmentSumRows adds rows into their segments and drops out-of-range ids", () => {
    // x: 4 rows of 2; ids 1, 0, 1, 5 (5 is out of range for 3 segments)
    const out = segmentSumRows(Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), Int32Array.from([1, 0, 1, 5]), 3);
    assert.deepEqual([...out], [3, 4, 6, 8, 0, 0]);
  });

  it("the gather (embedding) gradient works: rows get the count of their lookups", () => {
    const table = tf.ones([4, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, tf.tensor1d([1, 2, 1], "int32"))))(table);
    assert.deepEqual(Array.from(g.dataSync()), [0, 0, 0, 2, 2, 2, 1, 1, 1, 0, 0, 0]);
  });

  it("matMul with transposed operands gives the same values with and without the explicit transpose", () => {
    const a = tf.tensor3d(Array.from({ length: 24 }, (_, i) => Math.sin(i)), [2, 4, 3]);
    const b = tf.tensor3d(Array.from({ length: 30 }, (_, i) => Math.cos(i)), [2, 5, 3]);
    const results: number[][] = [];
    for (const on of [false, true]) {
      useExplicitTranspose(on);
      results.push(Array.from(tf.matMul(a, b, false, true).dataSync()), Array.from(tf.matMul(tf.transpose(a, [0, 2, 1]), tf.transpose(b, [0, 2, 1]), true, false).dataSync()));
    }
    useExplicitTranspose(true);
    const [slowBT, slowAT, fastBT, fastAT] = results as [number[], number[], number[], number[]];
    for (let i = 0; i < slowBT.length; i++) {
      assert.ok(Math.abs((slowBT[i] as number) - (fastBT[i] as number)) < 1e-6);
      assert.ok(Math.abs((slowAT[i] as number) - (fastAT[i] as number)) < 1e-6);
    }
    // a[0] row 0 . b[0] row 0, by hand
    const a0 = [0, 1, 2].map(Math.sin);
    const b0 = [0, 1, 2].map(Math.cos);
    assert.ok(Math.abs((fastBT[0] as number) - a0.reduce((s, v, i) => s + v * (b0[i] as number), 0)) < 1e-6);
  });
});
