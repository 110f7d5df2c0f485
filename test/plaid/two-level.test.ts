import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { assignBlocks, usesTwoLevel, TWO_LEVEL_MIN_CENTROIDS } from "../../src/plaid/nearest.js";
import { kmeans } from "../../src/plaid/kmeans.js";
import { createTwoLevelAssigner, defaultGroups } from "../../src/plaid/two-level.js";
import { Rng } from "../../src/util/rng.js";

/** Unit vectors around `centres` random centres (the clustered shape PLAID's centroids have). */
function clustered(n: number, dim: number, centres: number, noise: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const c = rng.normalArray(centres * dim, 1);
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const k = rng.int(centres);
    let s = 0;
    for (let t = 0; t < dim; t++) {
      const v = (c[k * dim + t] as number) + noise * rng.normal();
      x[i * dim + t] = v;
      s += v * v;
    }
    for (let t = 0; t < dim; t++) x[i * dim + t] = (x[i * dim + t] as number) / Math.sqrt(s);
  }
  return x;
}

describe("two-level nearest-centroid assignment", () => {
  const dim = 16;
  const k = 256;
  const points = clustered(4000, dim, 64, 0.5, 1);
  const n = 3000;
  const x = clustered(n, dim, 64, 0.5, 2);

  test("probing every group gives exactly the exhaustive assignment (codes and scores)", async () => {
    const centroids = await kmeans(points, 4000, dim, k, { seed: 3, assignment: "exact" });
    const exact = await assignBlocks(x, n, centroids, k, dim, undefined, { assignment: "exact" });
    const a = await createTwoLevelAssigner(centroids, k, dim, undefined, { groups: 16, probe: 16, blockRows: 700 });
    try {
      const two = await a.assign(x, n);
      let same = 0;
      for (let i = 0; i < n; i++) {
        if (two.codes[i] === exact.codes[i]) same++;
        else assert.ok(Math.abs(two.scores[i]! - exact.scores[i]!) < 1e-5, `vector ${i}: only a float tie may differ`);
        assert.ok(Math.abs(two.scores[i]! - exact.scores[i]!) < 1e-5);
      }
      assert.ok(same >= n - 3, `${same}/${n} identical codes`);
    } finally {
      await a.release();
    }
  });

  test("probing half the groups, nearly every vector gets its exact centroid and the rest a near-best one (L2 bias too)", async () => {
    const centroids = await kmeans(points, 4000, dim, k, { seed: 3, normalize: false, assignment: "exact" });
    const bias = new Float32Array(k);
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let t = 0; t < dim; t++) s += centroids[j * dim + t]! ** 2;
      bias[j] = -s / 2;
    }
    const exact = await assignBlocks(x, n, centroids, k, dim, bias, { assignment: "exact" });
    const two = await assignBlocks(x, n, centroids, k, dim, bias, { assignment: "two-level", twoLevel: { groups: 16, probe: 8 } });
    let same = 0;
    let worst = 0;
    for (let i = 0; i < n; i++) {
      if (two.codes[i] === exact.codes[i]) same++;
      assert.ok(two.scores[i]! <= exact.scores[i]! + 1e-5, "never better than exact");
      worst = Math.max(worst, exact.scores[i]! - two.scores[i]!);
    }
    assert.ok(same / n >= 0.97, `agreement ${same / n}`);
    assert.ok(worst < 0.2, `largest score loss ${worst}`);
  });

  test("auto selects two-level only from TWO_LEVEL_MIN_CENTROIDS on, and never with an injected kernel; sizes are checked", async () => {
    assert.equal(usesTwoLevel(TWO_LEVEL_MIN_CENTROIDS - 1, {}), false);
    assert.equal(usesTwoLevel(TWO_LEVEL_MIN_CENTROIDS, {}), true);
    assert.equal(usesTwoLevel(TWO_LEVEL_MIN_CENTROIDS, { assignment: "exact" }), false);
    assert.equal(usesTwoLevel(8, { assignment: "two-level" }), true);
    assert.equal(defaultGroups(1 << 17), 512);
    assert.equal(defaultGroups(4096), 64);
    const c = clustered(32, dim, 4, 0.3, 5);
    await assert.rejects(createTwoLevelAssigner(c, 32, dim, undefined, { groups: 33 }), { code: "INPUT_INVALID" });
  });
});
