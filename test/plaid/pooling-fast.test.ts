/**
 * The fast token pooling (SIMD distance kernel, square-matrix nearest-neighbour chain) against the
 * slow reference kept in test/helpers/pooling-reference.ts: same labels, same linkage, same pooled
 * vectors, bit for bit, on random documents including duplicate rows and exact distance ties.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { poolTokens, wardLinkage, cosineDistanceCondensed } from "../../src/plaid/pooling.js";
import { distanceMatrix } from "../../src/plaid/pooling-distances.js";
import { distanceMatrixWasm } from "../../src/plaid/pooling-wasm.js";
import { cosineDistanceCondensedReference, poolTokensReference, wardLinkageReference } from "../helpers/pooling-reference.js";
import { Rng } from "../../src/util/rng.js";
import { ColtsError } from "../../src/errors.js";

function normaliseRows(x: Float32Array, n: number, dim: number): Float32Array {
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let t = 0; t < dim; t++) s += x[i * dim + t]! ** 2;
    if (s > 0) for (let t = 0; t < dim; t++) x[i * dim + t] = x[i * dim + t]! / Math.sqrt(s);
  }
  return x;
}

type Kind = "gaussian" | "duplicates" | "grid" | "few-distinct";

/**
 * A random document of the given kind: gaussian unit rows; the same with a quarter of the rows copies
 * of others (distance 0 ties, and dot products rounding above 1); rows with coordinates in
 * {-1, 0, 1} (many exactly equal distances); rows drawn from 3 distinct vectors (ties everywhere).
 */
function randomDoc(rng: Rng, n: number, dim: number, kind: Kind): Float32Array {
  const x = new Float32Array(n * dim);
  if (kind === "grid") {
    for (let i = 0; i < x.length; i++) x[i] = rng.int(3) - 1;
  } else if (kind === "few-distinct") {
    const base = normaliseRows(rng.normalArray(3 * dim, 1), 3, dim);
    for (let i = 0; i < n; i++) {
      const b = rng.int(3);
      x.set(base.subarray(b * dim, (b + 1) * dim), i * dim);
    }
    return x;
  } else {
    x.set(rng.normalArray(n * dim, 1));
  }
  normaliseRows(x, n, dim);
  if (kind === "duplicates" && n > 1) {
    for (let c = 0; c < Math.ceil(n / 4); c++) {
      const from = rng.int(n);
      const to = rng.int(n);
      x.copyWithin(to * dim, from * dim, (from + 1) * dim);
    }
  }
  return x;
}

function assertSameBits(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: [${i}] ${actual[i]} vs ${expected[i]}`);
  }
}

test("the SIMD distance kernel runs here (the property tests below exercise it, not the fallback)", () => {
  const rng = new Rng(1);
  const x = randomDoc(rng, 5, 8, "gaussian");
  assert.notEqual(distanceMatrixWasm(x, 5, 8), null);
});

test("property: poolTokens equals the reference on random documents (labels, count, vectors bit for bit)", () => {
  const rng = new Rng(2024);
  const kinds: Kind[] = ["gaussian", "duplicates", "grid", "few-distinct"];
  let pooled = 0;
  for (let c = 0; c < 48; c++) {
    const kind = kinds[c % kinds.length]!;
    const n = 1 + rng.int(c < 8 ? 400 : 160); // a few long documents, many short ones
    const dim = 8 + rng.int(121);
    const poolFactor = 1 + rng.int(4);
    const protectedTokens = rng.int(3);
    const x = randomDoc(rng, n, dim, kind);
    const what = `case ${c}: ${kind} n ${n} dim ${dim} poolFactor ${poolFactor} protected ${protectedTokens}`;
    const expected = poolTokensReference(x, n, dim, { poolFactor, protectedTokens });
    const actual = poolTokens(x, n, dim, { poolFactor, protectedTokens });
    assert.equal(actual.count, expected.count, what);
    assert.deepEqual([...actual.labels], [...expected.labels], what);
    assertSameBits(actual.vectors, expected.vectors, what);
    if (actual.count < n) pooled++;
  }
  assert.ok(pooled >= 30, `only ${pooled} documents were actually pooled`);
});

test("property: pool factors 2 and 3 on 300-token, 128-d documents with ties equal the reference", () => {
  const rng = new Rng(7);
  for (const kind of ["gaussian", "duplicates", "grid"] as const) {
    for (const poolFactor of [2, 3]) {
      const x = randomDoc(rng, 300, 128, kind);
      const expected = poolTokensReference(x, 300, 128, { poolFactor });
      const actual = poolTokens(x, 300, 128, { poolFactor });
      assert.deepEqual([...actual.labels], [...expected.labels], `${kind} ${poolFactor}`);
      assertSameBits(actual.vectors, expected.vectors, `${kind} ${poolFactor}`);
    }
  }
});

test("distances: the SIMD kernel, the JavaScript fallback and the reference have the same bits", () => {
  const rng = new Rng(3);
  for (const [n, dim, kind] of [[2, 1, "gaussian"], [3, 5, "grid"], [8, 8, "gaussian"], [9, 3, "duplicates"], [17, 16, "few-distinct"], [64, 128, "gaussian"], [131, 96, "duplicates"]] as const) {
    const x = randomDoc(rng, n, dim, kind);
    const expected = cosineDistanceCondensedReference(x, n, dim);
    assertSameBits(cosineDistanceCondensed(x, n, dim), expected, `condensed n ${n} dim ${dim}`);
    for (const kernel of ["auto", "js"] as const) {
      const { d, stride } = distanceMatrix(x, n, dim, kernel);
      assert.ok(stride >= n);
      let k = 0;
      for (let i = 0; i < n; i++) {
        assert.equal(d[i * stride + i], Infinity, `${kernel} diagonal`);
        for (let j = i + 1; j < n; j++, k++) {
          assert.ok(Object.is(d[i * stride + j], expected[k]) && Object.is(d[j * stride + i], expected[k]), `${kernel} n ${n} (${i}, ${j})`);
        }
      }
    }
  }
});

test("distances of a document too long to keep the kernel's memory (a throwaway instance) are the reference's", () => {
  const rng = new Rng(4);
  const n = 3000; // 8 * 3000^2 bytes > 64 MiB
  const x = randomDoc(rng, n, 4, "grid");
  assertSameBits(cosineDistanceCondensed(x, n, 4), cosineDistanceCondensedReference(x, n, 4), "n 3000");
  // and the kept instance still works afterwards
  const y = randomDoc(rng, 20, 4, "gaussian");
  assertSameBits(cosineDistanceCondensed(y, 20, 4), cosineDistanceCondensedReference(y, 20, 4), "n 20 after");
});

test("property: wardLinkage equals SciPy's loop on arbitrary condensed distances, ties and NaN included", () => {
  const rng = new Rng(5);
  for (let c = 0; c < 200; c++) {
    const n = 2 + rng.int(40);
    const m = (n * (n - 1)) / 2;
    const condensed = new Float64Array(m);
    const mode = c % 4;
    for (let k = 0; k < m; k++) {
      // 0: small integers (ties everywhere); 1: uniform; 2: one value for all; 3: integers with some NaN
      condensed[k] = mode === 1 ? rng.next() * 2 : mode === 2 ? 0.5 : rng.int(4);
      if (mode === 3 && rng.int(10) === 0) condensed[k] = NaN;
    }
    assertSameBits(wardLinkage(condensed, n), wardLinkageReference(condensed, n), `case ${c} n ${n} mode ${mode}`);
  }
});

test("non-finite vectors are INPUT_INVALID, as in the reference", () => {
  const rng = new Rng(6);
  for (const bad of [NaN, Infinity, -3e38]) {
    const x = randomDoc(rng, 12, 8, "gaussian");
    x[3 * 8 + 2] = bad;
    if (bad === -3e38) x[5 * 8 + 2] = 3e38; // a dot product of -inf in float32
    assert.throws(() => poolTokensReference(x, 12, 8, { poolFactor: 2 }), /non-finite/);
    assert.throws(() => poolTokens(x, 12, 8, { poolFactor: 2 }), (e: unknown) => e instanceof ColtsError && e.code === "INPUT_INVALID" && /non-finite/.test(e.message));
  }
});

test("without WebAssembly (node --jitless) pooling falls back to the JavaScript kernel with the same results", () => {
  const url = (rel: string): string => new URL(rel, import.meta.url).href;
  const script = `
    import { poolTokens } from ${JSON.stringify(url("../../src/plaid/pooling.js"))};
    import { distanceMatrixWasm } from ${JSON.stringify(url("../../src/plaid/pooling-wasm.js"))};
    import { poolTokensReference } from ${JSON.stringify(url("../helpers/pooling-reference.js"))};
    import { Rng } from ${JSON.stringify(url("../../src/util/rng.js"))};
    if (distanceMatrixWasm(new Float32Array(8), 2, 4) !== null) throw new Error("WebAssembly ran under --jitless");
    const rng = new Rng(8);
    for (const [n, dim, poolFactor] of [[40, 16, 2], [61, 24, 3], [33, 8, 4]]) {
      const x = rng.normalArray(n * dim, 1);
      x.copyWithin(5 * dim, 2 * dim, 3 * dim);
      const a = poolTokens(x, n, dim, { poolFactor });
      const b = poolTokensReference(x, n, dim, { poolFactor });
      if (a.labels.join() !== b.labels.join()) throw new Error("labels differ");
      if (a.vectors.length !== b.vectors.length || !a.vectors.every((v, i) => Object.is(v, b.vectors[i]))) throw new Error("vectors differ");
    }
    console.log("same");
  `;
  const out = execFileSync(process.execPath, ["--jitless", "--no-warnings", "--input-type=module", "-e", script], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  assert.equal(out.trim(), "same");
});
