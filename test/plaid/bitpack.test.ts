import { test } from "node:test";
import assert from "node:assert/strict";
import { packBits, unpackBits, unpackTable, packedBytesPerVector, type Nbits } from "../../src/plaid/bitpack.js";
import { isColtsError } from "../../src/errors.js";
import { Rng } from "../../src/util/rng.js";

test("packBits by hand: LSB-first bits per dimension, numpy.packbits big-endian bytes", () => {
  // nbits 2, buckets [1, 2, 3, 0] -> bits 1,0 0,1 1,1 0,0 -> 0b10011100 (numpy.packbits gives [156])
  assert.deepEqual([...packBits(Uint8Array.of(1, 2, 3, 0), 1, 4, 2)], [0x9c]);
  // nbits 1: dimension 0 is the most significant bit
  assert.deepEqual([...packBits(Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0), 1, 16, 1)], [0x81, 0xc0]);
  // nbits 4: 1 -> 1000, 8 -> 0001 ; 3 -> 1100, 12 -> 0011 ; 5 -> 1010, 0 -> 0000
  assert.deepEqual([...packBits(Uint8Array.of(1, 8, 3, 12, 5, 0), 1, 6, 4)], [0x81, 0xc3, 0xa0]);
  // two vectors: each starts on its own byte
  assert.deepEqual([...packBits(Uint8Array.of(3, 0, 0, 0, 0, 0, 0, 3), 2, 4, 2)], [0xc0, 0x03]);
  assert.equal(packedBytesPerVector(128, 2), 32);
  assert.equal(packedBytesPerVector(96, 1), 12);
});

test("unpackBits inverts packBits on random buckets for every nbits", () => {
  const rng = new Rng(7);
  for (const nbits of [1, 2, 4] as const) {
    for (const [n, dim] of [[1, 8], [5, 16], [37, 128], [3, 96]] as const) {
      const buckets = new Uint8Array(n * dim);
      for (let i = 0; i < buckets.length; i++) buckets[i] = rng.int(1 << nbits);
      const packed = packBits(buckets, n, dim, nbits);
      assert.equal(packed.length, (n * dim * nbits) / 8);
      assert.deepEqual(unpackBits(packed, n, dim, nbits), buckets);
    }
  }
});

/** ColBERT's CPU decoder (residual.py): reversed_bit_map, then itertools.product lookup table. */
function colbertDecodeByte(byte: number, nbits: Nbits): number[] {
  const mask = (1 << nbits) - 1;
  let z = 0;
  for (let j = 8; j > 0; j -= nbits) {
    const x = (byte >> (j - nbits)) & mask;
    let y = 0;
    for (let k = nbits - 1; k >= 0; k--) y += ((x >> (nbits - k - 1)) & 1) * 2 ** k;
    z |= y;
    if (j > nbits) z <<= nbits;
  }
  // product(range(2^nbits), repeat=8/nbits)[z]: z's base-2^nbits digits, most significant first
  const perByte = 8 / nbits;
  const out: number[] = [];
  for (let f = perByte - 1; f >= 0; f--) out.push((z >> (f * nbits)) & mask);
  return out;
}

test("decode table equals ColBERT's reversed_bit_map + decompression_lookup_table for all 256 bytes", () => {
  for (const nbits of [1, 2, 4] as const) {
    const perByte = 8 / nbits;
    const table = unpackTable(nbits);
    for (let byte = 0; byte < 256; byte++) {
      assert.deepEqual([...table.subarray(byte * perByte, (byte + 1) * perByte)], colbertDecodeByte(byte, nbits), `nbits ${nbits} byte ${byte}`);
    }
  }
});

test("bit packing rejects buckets that do not fit and dims that are not whole bytes", () => {
  assert.throws(() => packBits(Uint8Array.of(4, 0, 0, 0), 1, 4, 2), (e) => isColtsError(e, "INPUT_INVALID"));
  assert.throws(() => packBits(new Uint8Array(6), 1, 6, 1), (e) => isColtsError(e, "INPUT_INVALID"));
  assert.throws(() => unpackBits(new Uint8Array(3), 1, 16, 2), (e) => isColtsError(e, "INPUT_INVALID"));
  assert.throws(() => packedBytesPerVector(8, 3 as Nbits), (e) => isColtsError(e, "INPUT_INVALID"));
});
