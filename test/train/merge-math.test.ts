import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { linearMerge, normalizeWeights, selectKth, slerp, tiesMerge, trimToDensity } from "../../src/train/merge-math.js";
import { Rng } from "../../src/util/rng.js";
import { isColtsError } from "../../src/errors.js";

const f32 = (xs: number[]): Float32Array => Float32Array.from(xs);
function close(a: Float32Array, b: number[], tol = 1e-6): void {
  assert.equal(a.length, b.length);
  a.forEach((x, i) => assert.ok(Math.abs(x - (b[i] ?? NaN)) <= tol, `entry ${i}: ${x} vs ${b[i]}`));
}

describe("linear merge", () => {
  test("weights [1, 0] return the first tensor bit for bit; equal weights average", () => {
    const rng = new Rng(3);
    const a = rng.normalArray(257, 1);
    const b = rng.normalArray(257, 100);
    assert.deepEqual(linearMerge([a, b], normalizeWeights([1, 0])), a);
    close(linearMerge([f32([1, 2]), f32([3, 6])], normalizeWeights([1, 1])), [2, 4]);
    close(linearMerge([f32([1, 2]), f32([3, 6])], normalizeWeights([3, 1])), [1.5, 3]);
  });

  test("weights summing to zero and tensors of different lengths are refused", () => {
    assert.throws(() => normalizeWeights([1, -1]), (e) => isColtsError(e, "INPUT_INVALID"));
    assert.throws(() => linearMerge([f32([1]), f32([1, 2])], [0.5, 0.5]), (e) => isColtsError(e, "MERGE_INCOMPATIBLE"));
  });
});

describe("SLERP", () => {
  test("orthogonal unit vectors at t = 0.5 land on the diagonal; the original norms scale the terms", () => {
    close(slerp(f32([1, 0]), f32([0, 1]), 0.5), [Math.SQRT1_2, Math.SQRT1_2]);
    // theta = pi/2: sin(pi/4) * a + sin(pi/4) * b with a = [2, 0], b = [0, 1].
    close(slerp(f32([2, 0]), f32([0, 1]), 0.5), [Math.SQRT2, Math.SQRT1_2]);
    // t = 0 and t = 1 are the endpoints; at t = 1/3 of a right angle: sin(pi/3), sin(pi/6).
    close(slerp(f32([1, 0]), f32([0, 1]), 0), [1, 0]);
    close(slerp(f32([1, 0]), f32([0, 1]), 1), [0, 1]);
    close(slerp(f32([1, 0]), f32([0, 1]), 1 / 3), [Math.sin(Math.PI / 3), Math.sin(Math.PI / 6)]);
  });

  test("identical tensors return the tensor exactly; nearly collinear ones interpolate linearly", () => {
    const x = new Rng(9).normalArray(1000, 0.05);
    for (const t of [0, 0.3, 0.5, 1]) assert.deepEqual(slerp(x, x, t), x);
    const a = f32([1, 0]);
    const b = f32([1, 0.01]); // cos ~ 0.99995 > 0.9995
    close(slerp(a, b, 0.25), [1, 0.0025]);
    assert.throws(() => slerp(a, b, 1.5), (e) => isColtsError(e, "INPUT_INVALID"));
  });
});

describe("TIES", () => {
  test("trim keeps exactly round(density * n) largest magnitudes, ties in index order", () => {
    assert.deepEqual([...trimToDensity(Float64Array.from([1, -1, 1, 0.5]), 0.5)], [1, -1, 0, 0]);
    assert.deepEqual([...trimToDensity(Float64Array.from([0.1, -3, 2, 0.5]), 0.5)], [0, -3, 2, 0]);
    assert.deepEqual([...trimToDensity(Float64Array.from([0.1, -3, 2, 0.5]), 1)], [0.1, -3, 2, 0.5]);
    assert.throws(() => trimToDensity(new Float64Array(3), 0), (e) => isColtsError(e, "INPUT_INVALID"));
  });

  test("property: quickselect and trim agree with a sort-based reference (duplicates included)", () => {
    const rng = new Rng(12);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + rng.int(300);
      // Few distinct values half of the time, so ties at the threshold are common.
      const values = Float64Array.from({ length: n }, () => (trial % 2 ? rng.int(7) - 3 : rng.normal()));
      const sorted = [...values].sort((a, b) => a - b);
      const k = rng.int(n);
      assert.equal(selectKth(Float64Array.from(values), k), sorted[k]);
      const density = (1 + rng.int(100)) / 100;
      const keep = Math.round(density * n);
      // Reference: indices by magnitude descending, index ascending on ties; the first `keep` survive.
      const order = [...values.keys()].sort((a, b) => Math.abs(values[b]!) - Math.abs(values[a]!) || a - b);
      const want = new Float64Array(n);
      for (const i of order.slice(0, keep)) want[i] = values[i]!;
      assert.deepEqual(trimToDensity(values, density), want);
    }
  });

  test("hand-checked example: trim, elect sign by summed mass, disjoint mean", () => {
    const base = f32([1, 1, 1, 1]);
    // Task vectors: A [3, -1, 0.5, 2] -> trimmed [3, 0, 0, 2]; B [-2, -4, 0.1, 1] -> [-2, -4, 0, 0];
    // C [1, -1, 0, 0] -> [1, -1, 0, 0]. Mass [2, -5, 0, 2] -> signs [+, -, 0, +].
    // Entry 0: A 3 and C 1 agree -> 2; entry 1: B -4 and C -1 -> -2.5; entry 2: nobody -> 0; entry 3: A 2.
    const plus = (xs: number[]): Float32Array => f32(xs.map((x) => x + 1));
    const merged = tiesMerge(base, [plus([3, -1, 0.5, 2]), plus([-2, -4, 0.1, 1]), plus([1, -1, 0, 0])], [1, 1, 1], 0.5);
    close(merged, [3, -1.5, 1, 3]);
    // Two models only: entry 0 elects + from 3 - 2, keeps A alone.
    close(tiesMerge(base, [plus([3, -1, 0.5, 2]), plus([-2, -4, 0.1, 1])], [1, 1], 0.5), [4, -3, 1, 3]);
    // Weights scale the task vectors in the election: B at weight 2 outvotes A on entry 0 (3 vs -4).
    // Entry 0: -(2*2)/2 = -2; entry 1: -8/2 = -4; entry 3: A 2 alone -> 2/1.
    close(tiesMerge(base, [plus([3, -1, 0.5, 2]), plus([-2, -4, 0.1, 1])], [1, 2], 0.5), [-1, -3, 1, 3]);
  });

  test("merging a model with itself at density 1 returns it (up to float32 rounding of the difference)", () => {
    const rng = new Rng(5);
    const base = rng.normalArray(300, 1);
    const m = rng.normalArray(300, 1);
    const merged = tiesMerge(base, [m, m], [1, 1], 1);
    merged.forEach((x, i) => assert.ok(Math.abs(x - (m[i] ?? NaN)) < 1e-6));
  });
});
