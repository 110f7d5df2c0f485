/** The WebAssembly compression kernel against the codec's JavaScript packing (the reference). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ResidualCodec } from "../../src/plaid/codec.js";
import { placementTables, WasmBinarizer } from "../../src/plaid/binarize-wasm.js";
import { Rng } from "../../src/util/rng.js";
import { unitRows } from "../helpers/synthetic.js";
import type { ColtsError } from "../../src/errors.js";

async function randomCodec(seed: number, nbits: 1 | 2 | 4, dim: number, K: number): Promise<{ codec: ResidualCodec; rng: Rng }> {
  const rng = new Rng(seed);
  const centroids = unitRows(rng, K, dim);
  const held = rng.normalArray(300 * dim, 0.3);
  return { codec: await ResidualCodec.train(centroids, K, dim, held, 300, { nbits }), rng };
}

/** Vectors whose residuals hit every bucket, sit exactly on every cutoff, and include NaN, +-0 and +-Infinity. */
function hardVectors(codec: ResidualCodec, rng: Rng, rows: number): { x: Float32Array; codes: Int32Array } {
  const { dim, numCentroids, centroids, bucketCutoffs } = codec;
  const codes = Int32Array.from({ length: rows }, () => rng.int(numCentroids));
  const x = rng.normalArray(rows * dim, 0.3);
  const specials = [NaN, 0, -0, Infinity, -Infinity];
  for (let i = 0; i < rows; i++) {
    for (let t = 0; t < dim; t++) {
      const at = i * dim + t;
      const c = centroids[(codes[i] as number) * dim + t] as number;
      if (i % 3 === 0) x[at] = Math.fround(c + (bucketCutoffs[t % bucketCutoffs.length] as number)); // r lands on a cutoff (up to rounding)
      else if (i % 7 === 1) x[at] = c; // r = 0 exactly
      if (i === 5) x[at] = specials[t % specials.length] as number;
    }
  }
  return { x, codes };
}

test("WASM compression == the codec's JavaScript packing, byte for byte, nbits 1, 2, 4, dims 8..128", async () => {
  for (const nbits of [1, 2, 4] as const) {
    for (const dim of [8, 16, 24, 128]) {
      const { codec, rng } = await randomCodec(11 + nbits + dim, nbits, dim, 40);
      const kernel = WasmBinarizer.create(codec);
      assert.ok(kernel, "Node 20 has WebAssembly SIMD");
      const rows = 301;
      const { x, codes } = hardVectors(codec, rng, rows);
      const want = codec.binarizeJs(x, codes);
      const got = new Uint8Array(want.length);
      assert.equal(kernel.binarizeInto(x, codes, got, 0), true);
      assert.deepEqual(got, want, `nbits ${nbits} dim ${dim}`);
      // The codec's own entry point takes the kernel and gives the same bytes.
      assert.deepEqual(codec.binarize(x, codes), want);
      // Written at a row offset, into a larger array: the rows before are untouched.
      const shifted = new Uint8Array(want.length + 3 * codec.bytesPerVector).fill(0xaa);
      codec.binarizeInto(x.subarray(0, 10 * dim), codes.subarray(0, 10), shifted, 3);
      assert.deepEqual(shifted.subarray(0, 3 * codec.bytesPerVector), new Uint8Array(3 * codec.bytesPerVector).fill(0xaa));
      assert.deepEqual(shifted.subarray(3 * codec.bytesPerVector, 13 * codec.bytesPerVector), want.subarray(0, 10 * codec.bytesPerVector));
    }
  }
});

test("WASM compression over more rows than one kernel call (slices of 16,384 rows) == the reference", async () => {
  const { codec, rng } = await randomCodec(5, 2, 8, 16);
  const rows = 40_000;
  const x = rng.normalArray(rows * 8, 0.3);
  const codes = Int32Array.from({ length: rows }, () => rng.int(16));
  assert.deepEqual(codec.binarize(x, codes), codec.binarizeJs(x, codes));
});

test("WASM compression by hand: one 8-d vector, nbits 2", () => {
  // Cutoffs -0.5, 0, 0.5: residuals -1, -0.5, 0, 0.25, 0.5, 1, -0, 0.75 -> buckets 0, 0, 1, 2, 2, 3, 1, 3
  // (a cutoff equal to r is not strictly below it). Bucket b is packed bit-reversed, 2 bits per
  // dimension, first dimension in the high bits: buckets 0,0,1,2 -> 00 00 10 01 = 0x09; 2,3,1,3 -> 01 11 10 11 = 0x7b.
  const kernel = WasmBinarizer.create({ centroids: new Float32Array(8), numCentroids: 1, dim: 8, nbits: 2, bucketCutoffs: Float32Array.of(-0.5, 0, 0.5) })!;
  const out = new Uint8Array(2);
  kernel.binarizeInto(Float32Array.of(-1, -0.5, 0, 0.25, 0.5, 1, -0, 0.75), Int32Array.of(0), out, 0);
  assert.deepEqual([...out], [0x09, 0x7b]);
});

test("placement tables: bit s of the index goes to bit s * nbits + k of the step's big-endian bit string", () => {
  const t2 = placementTables(2);
  // nbits 2, dimension 0's bit 0 (k 0): string bit 0 = bit 7 of byte 0; its bit 1 (k 1): string bit 1 = bit 6.
  assert.equal(t2[1], 0x80);
  assert.equal(t2[256 + 1], 0x40);
  // dimension 4 (index bit 4), k 0: string bit 8 = bit 7 of byte 1 = bit 15 of the little-endian value.
  assert.equal(t2[1 << 4], 1 << 15);
  // nbits 1: the 8 dimensions fill one byte, first dimension in the high bit.
  assert.equal(placementTables(1)[0b0000_0001], 0x80);
  assert.equal(placementTables(1)[0b1000_0000], 0x01);
});

test("WASM compression refuses a code out of range (INPUT_INVALID) and declines dims that are not a multiple of 8", async () => {
  const { codec, rng } = await randomCodec(3, 2, 16, 10);
  const x = rng.normalArray(2 * 16, 1);
  assert.throws(() => codec.binarize(x, Int32Array.of(0, 10)), (e: ColtsError) => e.code === "INPUT_INVALID" && /code 10 out of range/.test(e.message));
  assert.throws(() => codec.binarize(x, Int32Array.of(-1, 0)), (e: ColtsError) => e.code === "INPUT_INVALID");
  assert.equal(WasmBinarizer.create({ centroids: new Float32Array(12), numCentroids: 1, dim: 12, nbits: 2, bucketCutoffs: Float32Array.of(-0.5, 0, 0.5) }), null);
  // The codec still packs such a dim, with the reference.
  const { codec: odd, rng: r2 } = await randomCodec(4, 2, 12, 5);
  const y = r2.normalArray(3 * 12, 0.3);
  const codes = Int32Array.of(0, 4, 2);
  assert.deepEqual(odd.binarize(y, codes), odd.binarizeJs(y, codes));
});
