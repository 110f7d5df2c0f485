/** The WebAssembly decompression kernel against the codec's JavaScript decompression (the reference). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ResidualCodec } from "../../src/plaid/codec.js";
import { stepTable, WasmDecompressor } from "../../src/plaid/decompress-wasm.js";
import { Rng } from "../../src/util/rng.js";
import { unitRows } from "../helpers/synthetic.js";
import type { ColtsError } from "../../src/errors.js";

async function randomCodec(seed: number, nbits: 1 | 2 | 4, dim: number, K: number): Promise<{ codec: ResidualCodec; rng: Rng }> {
  const rng = new Rng(seed);
  const centroids = unitRows(rng, K, dim);
  const held = rng.normalArray(300 * dim, 1);
  return { codec: await ResidualCodec.train(centroids, K, dim, held, 300, { nbits }), rng };
}

test("WASM decompression == the codec's decompress (1e-6 per component), nbits 1, 2, 4, dims 8..128", async () => {
  for (const nbits of [1, 2, 4] as const) {
    for (const dim of [8, 16, 128]) {
      const { codec, rng } = await randomCodec(7 + nbits + dim, nbits, dim, 20);
      const rows = 157;
      const { codes, residuals } = await codec.compress(rng.normalArray(rows * dim, 1), rows);
      const kernel = WasmDecompressor.create(codec);
      assert.ok(kernel, "Node 20 has WebAssembly SIMD");
      const got = kernel.decompress(codes, residuals)!;
      const want = codec.decompress(codes, residuals);
      assert.equal(got.length, want.length);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      assert.ok(worst < 1e-6, `nbits ${nbits} dim ${dim}: max |diff| ${worst}`);
      // A second, smaller call reuses the memory and is still right (no state carried over).
      const again = kernel.decompress(codes.subarray(5, 9), residuals.subarray(5 * codec.bytesPerVector, 9 * codec.bytesPerVector))!;
      assert.deepEqual([...again], [...got.slice(5 * dim, 9 * dim)]);
    }
  }
});

test("WASM decompression by hand: one 4-d vector, nbits 2", () => {
  // centroid 1 = (1, 0, 0, 0); byte 0b00_01_10_11 -> buckets 0, 1, 2, 3 for dimensions 0..3.
  const byteWeights = new Float32Array(256 * 4);
  for (let b = 0; b < 256; b++) for (let f = 0; f < 4; f++) byteWeights[b * 4 + f] = [-0.5, 0, 0.5, 2][(b >> (6 - 2 * f)) & 3]!;
  const kernel = WasmDecompressor.create({ centroids: Float32Array.of(0, 0, 0, 1, 1, 0, 0, 0), numCentroids: 2, dim: 4, nbits: 2, byteWeights })!;
  const v = kernel.decompress(Int32Array.of(1), Uint8Array.of(0b00_01_10_11))!;
  // (1 - 0.5, 0, 0.5, 2) / |.| = (0.5, 0, 0.5, 2) / sqrt(4.5)
  const n = Math.sqrt(4.5);
  [0.5 / n, 0, 0.5 / n, 2 / n].forEach((x, i) => assert.ok(Math.abs(v[i]! - x) < 1e-7, `component ${i}`));
});

test("nbits 4 table: index = the two bytes little-endian, first byte's dimensions first", () => {
  const byteWeights = Float32Array.from({ length: 512 }, (_, i) => i);
  const table = stepTable(4, byteWeights);
  // index 0x0302: first byte 2 -> weights 4, 5; second byte 3 -> weights 6, 7
  assert.deepEqual([...table.subarray(0x0302 * 4, 0x0302 * 4 + 4)], [4, 5, 6, 7]);
  assert.equal(stepTable(2, byteWeights), byteWeights);
});

test("WASM decompression refuses a code out of range and a residual length that does not fit", async () => {
  const { codec, rng } = await randomCodec(3, 2, 16, 10);
  const { codes, residuals } = await codec.compress(rng.normalArray(4 * 16, 1), 4);
  const kernel = WasmDecompressor.create(codec)!;
  const bad = Int32Array.from(codes);
  bad[2] = 10;
  assert.throws(() => kernel.decompress(bad, residuals), (e: ColtsError) => e.code === "INPUT_INVALID" && /code 10 out of range/.test(e.message));
  assert.throws(() => kernel.decompress(codes, residuals.subarray(1)), (e: ColtsError) => e.code === "INPUT_INVALID" && /residual bytes/.test(e.message));
});
