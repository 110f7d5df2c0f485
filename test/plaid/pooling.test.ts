import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { poolTokens, wardLinkage, fclusterMaxclust, cosineDistanceCondensed } from "../../src/plaid/pooling.js";
import { fixture } from "../helpers/paths.js";
import { Rng } from "../../src/util/rng.js";

interface GoldenResult {
  poolFactor: number;
  identity?: boolean;
  clusters: number;
  labels: number[];
  Z: number[];
  count: number;
  pooled: number[];
}
interface GoldenCase {
  name: string;
  n: number;
  dim: number;
  protectedTokens: number;
  vectors: number[];
  results: GoldenResult[];
}

function loadGolden(): GoldenCase[] {
  const dir = fixture("pooling");
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(`${dir}/${f}`, "utf8")) as GoldenCase);
}

function unitRows(rng: Rng, n: number, dim: number): Float32Array {
  const x = rng.normalArray(n * dim, 1);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let t = 0; t < dim; t++) s += x[i * dim + t]! ** 2;
    for (let t = 0; t < dim; t++) x[i * dim + t] = x[i * dim + t]! / Math.sqrt(s);
  }
  return x;
}

test("pooling matches SciPy/PyLate golden fixtures: linkage, fcluster labels (exact), pooled vectors (1e-5)", () => {
  const cases = loadGolden();
  assert.ok(cases.length >= 6);
  let compared = 0;
  for (const c of cases) {
    const x = Float32Array.from(c.vectors);
    const p = c.protectedTokens;
    for (const r of c.results) {
      const what = `${c.name} poolFactor ${r.poolFactor}`;
      const out = poolTokens(x, c.n, c.dim, { poolFactor: r.poolFactor, protectedTokens: p });
      if (r.identity) {
        assert.deepEqual(out.vectors, x, what);
        continue;
      }
      compared++;
      const m = c.n - p;
      // The linkage itself: same merges in the same order, same distances.
      const z = wardLinkage(cosineDistanceCondensed(x.subarray(p * c.dim), m, c.dim), m);
      assert.equal(z.length, r.Z.length, what);
      for (let i = 0; i < z.length; i++) {
        if (i % 4 === 2) assert.ok(Math.abs(z[i]! - r.Z[i]!) <= 1e-6 * Math.max(1, Math.abs(r.Z[i]!)), `${what}: Z[${i}] ${z[i]} vs ${r.Z[i]}`);
        else assert.equal(z[i], r.Z[i], `${what}: Z[${i}]`);
      }
      assert.deepEqual([...fclusterMaxclust(z, m, r.clusters)], r.labels, what);
      assert.deepEqual([...out.labels], r.labels, what);
      assert.equal(out.count, r.count, what);
      assert.equal(out.vectors.length, r.pooled.length, what);
      for (let i = 0; i < r.pooled.length; i++) {
        assert.ok(Math.abs(out.vectors[i]! - r.pooled[i]!) <= 1e-5, `${what}: pooled[${i}] ${out.vectors[i]} vs ${r.pooled[i]}`);
      }
    }
  }
  assert.ok(compared >= 15);
});

test("protected rows come first, bit for bit; clusters = floor(n' / poolFactor)", () => {
  const rng = new Rng(11);
  const dim = 24;
  for (const [n, protectedTokens, poolFactor] of [[40, 1, 2], [41, 1, 3], [100, 3, 4], [9, 0, 2], [3, 1, 2]] as const) {
    const x = unitRows(rng, n, dim);
    const out = poolTokens(x, n, dim, { poolFactor, protectedTokens });
    const m = n - protectedTokens;
    assert.equal(out.count, protectedTokens + Math.max(Math.floor(m / poolFactor), 1), `n ${n}`);
    assert.equal(out.vectors.length, out.count * dim);
    assert.deepEqual(out.vectors.subarray(0, protectedTokens * dim), x.subarray(0, protectedTokens * dim));
    // every pooled row is the mean of the rows carrying its label
    for (let c = 1; c <= out.count - protectedTokens; c++) {
      const members = [...out.labels.keys()].filter((i) => out.labels[i] === c);
      assert.ok(members.length > 0);
      for (let t = 0; t < dim; t++) {
        let s = 0;
        for (const i of members) s += x[(protectedTokens + i) * dim + t]!;
        assert.ok(Math.abs(out.vectors[(protectedTokens + c - 1) * dim + t]! - s / members.length) < 1e-6);
      }
    }
  }
});

test("pool factor 1 and too-short documents are the identity", () => {
  const rng = new Rng(3);
  const dim = 16;
  const x = unitRows(rng, 30, dim);
  const same = poolTokens(x, 30, dim, { poolFactor: 1 });
  assert.equal(same.count, 30);
  assert.deepEqual(same.vectors, x);
  assert.deepEqual([...poolTokens(x, 30, dim).vectors], [...x]); // default poolFactor 1
  // one unprotected row, or none: nothing to pool
  assert.equal(poolTokens(x.subarray(0, 2 * dim), 2, dim, { poolFactor: 2 }).count, 2);
  assert.equal(poolTokens(x.subarray(0, 1 * dim), 1, dim, { poolFactor: 4, protectedTokens: 3 }).count, 1);
  assert.equal(poolTokens(new Float32Array(0), 0, dim, { poolFactor: 2 }).count, 0);
  // 1 + 2 rows, factor 2: the two unprotected rows become their mean
  const three = poolTokens(x.subarray(0, 3 * dim), 3, dim, { poolFactor: 2 });
  assert.equal(three.count, 2);
  assert.ok(Math.abs(three.vectors[dim]! - (x[dim]! + x[2 * dim]!) / 2) < 1e-7);
});

test("duplicate rows (dot product rounding above 1) pool together instead of failing", () => {
  const rng = new Rng(5);
  const dim = 32;
  const x = unitRows(rng, 20, dim);
  x.copyWithin(5 * dim, 4 * dim, 5 * dim); // row 5 = row 4
  x.copyWithin(9 * dim, 4 * dim, 5 * dim); // row 9 = row 4
  const out = poolTokens(x, 20, dim, { poolFactor: 2 });
  assert.equal(out.count, 1 + 9);
  assert.equal(out.labels[3], out.labels[4]);
  assert.equal(out.labels[3], out.labels[8]);
  for (const v of out.vectors) assert.ok(Number.isFinite(v));
});

test("bad pooling options are INPUT_INVALID", () => {
  const x = new Float32Array(4 * 8);
  assert.throws(() => poolTokens(x, 4, 8, { poolFactor: 0.5 }), /poolFactor/);
  assert.throws(() => poolTokens(x, 4, 8, { protectedTokens: -1 }), /protectedTokens/);
  assert.throws(() => poolTokens(x, 5, 8), /expected 40 values/);
});
