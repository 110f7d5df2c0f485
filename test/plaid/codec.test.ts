import { test } from "node:test";
import assert from "node:assert/strict";
import { ResidualCodec, quantileSorted } from "../../src/plaid/codec.js";
import { kmeans } from "../../src/plaid/kmeans.js";
import { jsMatmulFactory } from "../../src/plaid/assign.js";
import { isColtsError } from "../../src/errors.js";
import { packBits, type Nbits } from "../../src/plaid/bitpack.js";
import { Rng } from "../../src/util/rng.js";

const DIM = 128;

function normalise(x: Float32Array, n: number, dim: number): void {
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let t = 0; t < dim; t++) s += x[i * dim + t]! ** 2;
    for (let t = 0; t < dim; t++) x[i * dim + t] = x[i * dim + t]! / Math.sqrt(s);
  }
}

/** 64 random unit centres, 64 points each (centre + N(0, 0.1²) per dimension, normalised): cos to centre ~0.7. */
function clusteredUnitVectors(): { points: Float32Array; n: number } {
  const rng = new Rng(1);
  const clusters = 64;
  const n = clusters * 64;
  const centres = rng.normalArray(clusters * DIM, 1);
  normalise(centres, clusters, DIM);
  const points = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++) for (let t = 0; t < DIM; t++) points[i * DIM + t] = centres[(i % clusters) * DIM + t]! + rng.normal() * 0.1;
  normalise(points, n, DIM);
  return { points, n };
}

function meanCosine(a: Float32Array, b: Float32Array, n: number, dim: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let c = 0;
    for (let t = 0; t < dim; t++) c += a[i * dim + t]! * b[i * dim + t]!;
    sum += c;
  }
  return sum / n;
}

test("quantiles interpolate linearly like torch.quantile", () => {
  const s = Float32Array.of(1, 2, 3, 4);
  assert.equal(quantileSorted(s, 0), 1);
  assert.equal(quantileSorted(s, 0.5), 2.5);
  assert.equal(quantileSorted(s, 1 / 3), 2);
  assert.ok(Math.abs(quantileSorted(s, 0.9) - 3.7) < 1e-12);
  assert.equal(quantileSorted(s, 1), 4);
});

test("codec by hand: bucketize (cutoffs strictly below), ColBERT packing, centroid + weight, normalised", async () => {
  // two centroids (dim 8): 0 and e0; cutoffs [-0.1, 0, 0.1]; weights [-0.2, -0.05, 0.05, 0.2]
  const centroids = new Float32Array(16);
  centroids[8] = 1;
  const codec = ResidualCodec.deserialize({
    dim: 8,
    nbits: 2,
    numCentroids: 2,
    centroids,
    bucketCutoffs: Float32Array.of(-0.1, 0, 0.1),
    bucketWeights: Float32Array.of(-0.2, -0.05, 0.05, 0.2),
    avgResidual: 0.1,
  });
  const v = Float32Array.of(0.3, -0.3, 0.05, -0.05, 0, 0.1, -0.1, 0.2);
  const { codes, residuals } = await codec.compress(v, 1, { matmul: jsMatmulFactory });
  assert.deepEqual([...codes], [1]); // v·e0 = 0.3 > v·0 = 0
  // residual v - e0 = [-0.7, -0.3, 0.05, -0.05, 0, 0.1, -0.1, 0.2] -> buckets [0, 0, 2, 1, 1, 2, 0, 3]
  // (a residual equal to a cutoff stays below it: torch.bucketize(right=False))
  // bits LSB first: 00 00 01 10 | 10 01 00 11 -> 0x06 0x93
  assert.deepEqual([...residuals], [0x06, 0x93]);
  const out = codec.decompress(codes, residuals);
  const raw = [0.8, -0.2, 0.05, -0.05, -0.05, 0.05, -0.2, 0.2];
  const norm = Math.hypot(...raw);
  for (let t = 0; t < 8; t++) assert.ok(Math.abs(out[t]! - raw[t]! / norm) < 1e-6);
});

test("binarize (bucketize and pack in one pass) equals bucketize-then-packBits, nbits 1, 2 and 4, ties at cutoffs included", () => {
  const rng = new Rng(9);
  const [dim, k, n] = [16, 5, 300];
  for (const nbits of [1, 2, 4] as Nbits[]) {
    const m = 1 << nbits;
    const cutoffs = Float32Array.from({ length: m - 1 }, (_, i) => -0.3 + (0.6 * (i + 1)) / m);
    const codec = ResidualCodec.deserialize({
      dim,
      nbits,
      numCentroids: k,
      centroids: rng.normalArray(k * dim, 0.3),
      bucketCutoffs: cutoffs,
      bucketWeights: Float32Array.from({ length: m }, (_, i) => i / m - 0.5),
      avgResidual: 0.1,
    });
    const codes = Int32Array.from({ length: n }, () => rng.int(k));
    const v = rng.normalArray(n * dim, 0.3);
    // Every tenth value lands exactly on a cutoff (a residual equal to a cutoff stays below it).
    for (let i = 0; i < n * dim; i += 10) v[i] = Math.fround((codec.centroids[(codes[Math.floor(i / dim)] as number) * dim + (i % dim)] as number) + (cutoffs[i % (m - 1)] as number));
    const buckets = new Uint8Array(n * dim);
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < dim; t++) {
        const r = Math.fround((v[i * dim + t] as number) - (codec.centroids[(codes[i] as number) * dim + t] as number));
        buckets[i * dim + t] = cutoffs.filter((c) => c < r).length;
      }
    }
    assert.deepEqual(codec.binarize(v, codes), packBits(buckets, n, dim, nbits), `nbits ${nbits}`);
  }
});

test("codec round trip on clustered unit vectors (dim 128): mean cosine per nbits above measured bounds", async () => {
  const { points, n } = clusteredUnitVectors();
  const nHeld = Math.floor(n * 0.05);
  const nTrain = n - nHeld;
  const k = 128;
  const centroids = await kmeans(points.subarray(0, nTrain * DIM), nTrain, DIM, k, { seed: 1 });
  // measured: 1 bit 0.878, 2 bits 0.955, 4 bits 0.993 (centroid alone: 0.679)
  const bounds = { 1: 0.87, 2: 0.95, 4: 0.99 } as const;
  let previous = 0;
  for (const nbits of [1, 2, 4] as const) {
    const codec = await ResidualCodec.train(centroids, k, DIM, points.subarray(nTrain * DIM), nHeld, { nbits });
    const m = 1 << nbits;
    assert.equal(codec.bucketCutoffs.length, m - 1);
    assert.equal(codec.bucketWeights.length, m);
    // weights interleave with the cutoffs: w0 <= c0 <= w1 <= ... <= c_{m-2} <= w_{m-1}
    for (let i = 0; i < m - 1; i++) {
      assert.ok(codec.bucketWeights[i]! <= codec.bucketCutoffs[i]! && codec.bucketCutoffs[i]! <= codec.bucketWeights[i + 1]!);
    }
    assert.ok(codec.avgResidual > 0);
    const { codes, residuals } = await codec.compress(points, n);
    assert.equal(codes.length, n);
    assert.equal(residuals.length, (n * DIM * nbits) / 8);
    const back = codec.decompress(codes, residuals);
    for (let i = 0; i < n; i += 97) assert.ok(Math.abs(meanCosine(back.subarray(i * DIM), back.subarray(i * DIM), 1, DIM) - 1) < 1e-5); // unit rows
    const cos = meanCosine(points, back, n, DIM);
    assert.ok(cos >= bounds[nbits], `${nbits} bits: mean cosine ${cos} < ${bounds[nbits]}`);
    assert.ok(cos > previous, `${nbits} bits should beat fewer bits`);
    previous = cos;
  }
});

test("serialize / deserialize keeps the codec exactly; bad parameters are rejected", async () => {
  const rng = new Rng(4);
  const dim = 16;
  const pts = rng.normalArray(200 * dim, 1);
  normalise(pts, 200, dim);
  const cents = await kmeans(pts, 200, dim, 8, { seed: 3, matmul: jsMatmulFactory });
  const codec = await ResidualCodec.train(cents, 8, dim, pts.subarray(0, 40 * dim), 40, { nbits: 4, matmul: jsMatmulFactory });
  const params = codec.serialize();
  const copy = ResidualCodec.deserialize(structuredClone(params));
  assert.deepEqual(copy.serialize(), params);
  const a = await codec.compress(pts, 200, { matmul: jsMatmulFactory });
  const b = await copy.compress(pts, 200, { matmul: jsMatmulFactory });
  assert.deepEqual(a, b);
  assert.deepEqual(copy.decompress(b.codes, b.residuals), codec.decompress(a.codes, a.residuals));

  const bad = (patch: Partial<typeof params>): void =>
    assert.throws(() => ResidualCodec.deserialize({ ...params, ...patch }), (e) => isColtsError(e, "INPUT_INVALID"));
  bad({ nbits: 3 as 1 });
  bad({ bucketCutoffs: new Float32Array(3) });
  bad({ bucketWeights: new Float32Array(4) });
  bad({ centroids: new Float32Array(7 * dim) });
  bad({ bucketCutoffs: Float32Array.from({ length: 15 }, (_, i) => -i) });
  bad({ dim: 5, centroids: new Float32Array(8 * 5) }); // 5 * 4 bits is not a whole number of bytes
  assert.throws(() => codec.decompress(Int32Array.of(0), new Uint8Array(3)), (e) => isColtsError(e, "INPUT_INVALID"));
  assert.throws(() => codec.decompress(Int32Array.of(8), new Uint8Array(8)), (e) => isColtsError(e, "INPUT_INVALID"));
});
