import { test } from "node:test";
import assert from "node:assert/strict";
import { byte4ToInt, int4ToLong, intToByte4, LENGTH_TABLE, longToInt4, MAX_LENGTH, NUM_FREE_VALUES } from "../../src/bm25/norms.js";

test("lengths 0..23 are stored exactly (Lucene's NUM_FREE_VALUES is 24)", () => {
  assert.equal(NUM_FREE_VALUES, 24);
  for (let i = 0; i < 24; i++) {
    assert.equal(intToByte4(i), i);
    assert.equal(byte4ToInt(i), i);
  }
});

test("longer lengths keep 4 significant bits (worked examples)", () => {
  // 24: 24 + longToInt4(0) = 24 -> decodes to 24 + 0.
  assert.equal(intToByte4(24), 24);
  assert.equal(byte4ToInt(24), 24);
  // 100: 100 - 24 = 76 = 0b1001100, 7 bits -> shift 3, top 4 bits 0b1001 -> mantissa 0b001, (3 + 1) << 3 = 32
  //      -> int4 33 -> byte 57; decode (0b1000 | 0b001) << 3 = 72, + 24 = 96.
  assert.equal(longToInt4(76), 33);
  assert.equal(intToByte4(100), 57);
  assert.equal(byte4ToInt(57), 96);
  // 1000: 976 = 0b1111010000, 10 bits -> shift 6, top bits 0b1111 -> mantissa 7, (6 + 1) << 3 = 56 -> 63 -> byte 87;
  //       decode 0b1111 << 6 = 960, + 24 = 984.
  assert.equal(intToByte4(1000), 87);
  assert.equal(byte4ToInt(87), 984);
  // 161 (SciFact's mean length) is stored as 152.
  assert.equal(byte4ToInt(intToByte4(161)), 152);
  // Java's Integer.MAX_VALUE maps to byte 255 (Lucene: intToByte4(MAX_VALUE) == (byte) 255).
  assert.equal(intToByte4(MAX_LENGTH), 255);
});

test("int4 encodes subnormals as is and round-trips every code", () => {
  for (let i = 0; i < 8; i++) assert.equal(longToInt4(i), i);
  for (let code = 0; code <= longToInt4(MAX_LENGTH); code++) assert.equal(longToInt4(int4ToLong(code)), code);
});

test("decode(encode(x)) rounds down, encoding is monotone, and every byte is a fixed point", () => {
  for (let b = 0; b < 256; b++) assert.equal(intToByte4(byte4ToInt(b)), b, `byte ${b}`);
  let prev = 0;
  for (let x = 0; x < 100_000; x += x < 2000 ? 1 : 97) {
    const b = intToByte4(x);
    assert.ok(b >= prev, `monotone at ${x}`);
    prev = b;
    assert.ok(byte4ToInt(b) <= x, `rounds down at ${x}`);
    if (b < 255) assert.ok(x < byte4ToInt(b + 1), `next byte is above ${x}`);
  }
  assert.equal(LENGTH_TABLE.length, 256);
  assert.equal(LENGTH_TABLE[57], 96);
});

test("negative, fractional or too large lengths are refused", () => {
  for (const bad of [-1, 1.5, MAX_LENGTH + 1, Number.NaN]) assert.throws(() => intToByte4(bad), RangeError);
});
