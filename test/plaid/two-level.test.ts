import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { assignBlocks, usesTwoLevel, TWO_LEVEL_MIN_CENTROIDS } from "../../src/plaid/nearest.js";
import { kmeans } from "../../src/plaid/kmeans.js";
import { createTwoLevelAssigner, defaultGroups, DEFAULT_BLOCK_ROWS, groupCentroids } from "../../src/plaid/two-level.js";
import { createTwoLevelAssignerV1, kmeansV1 } from "../reference/plaid/two-level-v1.js";
import { Rng } from "../../src/util/rng.js";
import { clustered } from "../helpers/synthetic.js";


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

  test("the hinted fine stage is the best of the centroids nearest each vector's nearest group mean (JS reference; every centroid: exact)", async () => {
    const centroids = await kmeans(points, 4000, dim, k, { seed: 3, normalize: false, assignment: "exact" });
    const bias = new Float32Array(k);
    for (let j = 0; j < k; j++) bias[j] = -centroids.subarray(j * dim, (j + 1) * dim).reduce((a, v) => a + v * v, 0) / 2;
    const dotAt = (a: Float32Array, i: number, b: Float32Array, j: number): number => {
      let s = 0;
      for (let t = 0; t < dim; t++) s += a[i * dim + t]! * b[j * dim + t]!;
      return s;
    };
    const groups = 16;
    // Reference: the live groups' means, each vector's nearest (L2), that mean's l nearest centroids, the best of them.
    const { groupOf, means } = await groupCentroids(centroids, k, dim, groups, 17);
    const live = [...new Set(groupOf)].sort((a, b) => a - b);
    const meanBias = live.map((c) => -means.subarray(c * dim, (c + 1) * dim).reduce((a, v) => a + v * v, 0) / 2);
    const exact = await assignBlocks(x, n, centroids, k, dim, bias, { assignment: "exact" });
    for (const l of [24, k]) {
      const a = await createTwoLevelAssigner(centroids, k, dim, bias, { groups, candidates: l });
      try {
        const got = await a.assign(x, n);
        let same = 0;
        for (let i = 0; i < n; i++) {
          let hint = 0;
          live.forEach((c, h) => {
            if (dotAt(x, i, means, c) + meanBias[h]! > dotAt(x, i, means, live[hint]!) + meanBias[hint]!) hint = h;
          });
          const m = live[hint]!;
          const near = Array.from({ length: k }, (_, j) => ({ j, s: dotAt(means, m, centroids, j) + bias[j]! }))
            .sort((p, q) => q.s - p.s || p.j - q.j)
            .slice(0, l);
          const best = Math.max(...near.map(({ j }) => dotAt(x, i, centroids, j) + bias[j]!));
          assert.ok(Math.abs(got.scores[i]! - best) < 1e-5, `l ${l}, vector ${i}`);
          if (got.codes[i] === exact.codes[i]) same++;
        }
        if (l === k) assert.ok(same >= n - 3, `${same}/${n} exact with every centroid a candidate`);
        else assert.ok(same < n && same > n / 2, `${same}/${n} exact with ${l} candidates: the candidates do limit it`);
      } finally {
        await a.release();
      }
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
    // 2^round(log2(sqrt(probe * k))): sqrt(16 * 2^17) = 2^10.5 rounds up, sqrt(16 * 2^12) = 2^8, sqrt(4 * 2^12) = 2^7.
    assert.equal(defaultGroups(1 << 17), 2048);
    assert.equal(defaultGroups(4096), 256);
    assert.equal(defaultGroups(4096, 4), 128);
    assert.equal(defaultGroups(8, 16), 8);
    const c = clustered(32, dim, 4, 0.3, 5);
    await assert.rejects(createTwoLevelAssigner(c, 32, dim, undefined, { groups: 33 }), { code: "INPUT_INVALID" });
  });
});

describe("two-level assignment against its previous implementation (bit for bit)", () => {
  /** Same codes, and scores equal as float32 bit patterns (Object.is also tells -0 from 0). */
  function assertSame(a: { codes: Int32Array; scores: Float32Array }, b: { codes: Int32Array; scores: Float32Array }): void {
    assert.deepEqual(a.codes, b.codes);
    for (let i = 0; i < a.scores.length; i++) assert.ok(Object.is(a.scores[i], b.scores[i]), `score ${i}: ${a.scores[i]} vs ${b.scores[i]}`);
  }

  test("random data: codes and scores do not depend on blockRows (one-row blocks included); codes equal the previous ones", async () => {
    const rng = new Rng(11);
    const [k, dim, n] = [96, 12, 1500];
    const centroids = rng.normalArray(k * dim, 1);
    const x = rng.normalArray(n * dim, 1);
    const bias = rng.normalArray(k, 0.3);
    for (const b of [undefined, bias]) {
      const ref = await createTwoLevelAssignerV1(centroids, k, dim, b, { groups: 8, probe: 3 });
      const previous = await ref.assign(x, n);
      await ref.release();
      let first: { codes: Int32Array; scores: Float32Array } | null = null;
      for (const blockRows of [DEFAULT_BLOCK_ROWS, 1, 2, 37, 700]) {
        const a = await createTwoLevelAssigner(centroids, k, dim, b, { groups: 8, probe: 3, blockRows });
        try {
          const got = await a.assign(x, n);
          first ??= got;
          assertSame(got, first);
        } finally {
          await a.release();
        }
      }
      // The previous implementation scored one-member groups with onnxruntime's matrix-vector path
      // (last-bit differences only); the codes agree.
      assert.ok(first);
      assert.deepEqual(first.codes, previous.codes);
      for (let i = 0; i < n; i++) assert.ok(Math.abs(first.scores[i]! - previous.scores[i]!) <= 1e-6 * Math.abs(previous.scores[i]!), `score ${i}`);
    }
  });

  test("a block larger than one coarse call (512 groups: 32,768 rows per coarse call, two calls for the first 65,536-row block)", async () => {
    const [k, dim, n] = [4096, 8, 70_000];
    const centroids = clustered(k, dim, 16, 0.4, 21);
    const x = clustered(n, dim, 16, 0.4, 22);
    const ref = await createTwoLevelAssignerV1(centroids, k, dim, undefined, { groups: 512, probe: 2 });
    const a = await createTwoLevelAssigner(centroids, k, dim, undefined, { groups: 512, probe: 2 });
    try {
      // Codes equal; scores to the last bits (the previous code scored one-member groups, which 512
      // groups of 4,096 centroids have, with onnxruntime's matrix-vector path).
      const [got, want] = [await a.assign(x, n), await ref.assign(x, n)];
      assert.deepEqual(got.codes, want.codes);
      for (let i = 0; i < n; i++) assert.ok(Math.abs(got.scores[i]! - want.scores[i]!) <= 1e-6 * Math.abs(want.scores[i]!), `score ${i}`);
    } finally {
      await Promise.all([a.release(), ref.release()]);
    }
  });

  test("k-means with two-level assignment trains bit-identical centroids (3 seeds)", async () => {
    const dim = 16;
    const points = clustered(2000, dim, 40, 0.3, 31);
    for (const seed of [1, 2, 3]) {
      const twoLevel = { groups: 16, probe: 4, blockRows: 500 };
      const want = await kmeansV1(points, 2000, dim, 200, { seed, twoLevelFrom: 1, twoLevel });
      const got = await kmeans(points, 2000, dim, 200, { seed, assignment: "two-level", warmStart: false, twoLevel: { ...twoLevel, blockRows: 1300 } });
      assert.deepEqual(got, want);
    }
  });

  test("centroids of unequal norms (Lloyd's means between rounds) still form balanced groups", async () => {
    // Directions around 1,024 centres in dim 64 (more centres than groups, so groups are diffuse),
    // 90% of lengths 0.85..0.95 and 10% 0.3..0.8, as plain means have. L2 k-means over the centroids
    // as they are gives groups of up to 416 here (median 11): the few short-mean groups near the
    // origin are nearer to most points than any direction's group.
    const [k, dim, g] = [4096, 64, 64];
    const rng = new Rng(41);
    const centres = rng.normalArray(1024 * dim, 1);
    const c = new Float32Array(k * dim);
    for (let j = 0; j < k; j++) {
      const at = rng.int(1024);
      let s = 0;
      for (let t = 0; t < dim; t++) {
        const v = (centres[at * dim + t] as number) + 0.3 * rng.normal();
        c[j * dim + t] = v;
        s += v * v;
      }
      const len = rng.next() < 0.1 ? 0.3 + 0.5 * rng.next() : 0.85 + 0.1 * rng.next();
      for (let t = 0; t < dim; t++) c[j * dim + t] = ((c[j * dim + t] as number) * len) / Math.sqrt(s);
    }
    const { groupOf, means } = await groupCentroids(c, k, dim, g, 17);
    const sizes = new Array<number>(g).fill(0);
    for (const x of groupOf) sizes[x] = (sizes[x] as number) + 1;
    const largest = Math.max(...sizes);
    assert.ok(largest <= (3 * k) / g, `largest group ${largest} of ${k} centroids in ${g} groups (sizes ${[...sizes].sort((a, b) => b - a).slice(0, 5).join(", ")})`);
    // A group's mean is the mean of its members as given (not of their unit copies).
    const first = groupOf.indexOf(groupOf[0] as number);
    assert.equal(first, 0);
    let sum = 0;
    let count = 0;
    for (let j = 0; j < k; j++) {
      if (groupOf[j] !== groupOf[0]) continue;
      sum += c[j * dim] as number;
      count++;
    }
    assert.ok(Math.abs((means[(groupOf[0] as number) * dim] as number) - sum / count) < 1e-5);
  });

  test("blockRows must be a positive integer", async () => {
    const c = clustered(32, 16, 4, 0.3, 5);
    await assert.rejects(createTwoLevelAssigner(c, 32, 16, undefined, { blockRows: 0 }), { code: "INPUT_INVALID" });
    await assert.rejects(createTwoLevelAssigner(c, 32, 16, undefined, { blockRows: 2.5 }), { code: "INPUT_INVALID" });
  });
});
