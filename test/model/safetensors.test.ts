import { test } from "node:test";
import assert from "node:assert/strict";
import { parseSafetensors, serializeSafetensors } from "../../src/model/safetensors.js";

test("safetensors round trip, from a Uint8Array and from a Node Buffer slice", () => {
  const w = Float32Array.from([1, -2.5, 3, 4, 5, 6]);
  const ids = Int32Array.from([7, 8, 9]);
  const bytes = serializeSafetensors([{ name: "w", shape: [2, 3], data: w }, { name: "ids", shape: [3], data: ids }], { format: "pt" });
  // A Buffer view in the middle of a larger allocation (as fs.readFileSync can return).
  const big = Buffer.alloc(bytes.length + 64, 0xaa);
  Buffer.from(bytes).copy(big, 32);
  for (const input of [bytes, big.subarray(32, 32 + bytes.length)]) {
    const t = parseSafetensors(input, "t.safetensors");
    assert.deepEqual(t.get("w")?.shape, [2, 3]);
    assert.deepEqual(t.get("w")?.data, w);
    assert.deepEqual(t.get("ids")?.data, ids);
  }
});

test("a truncated file or a bad header is SAFETENSORS_INVALID naming the file", () => {
  const bytes = serializeSafetensors([{ name: "w", shape: [4], data: new Float32Array(4) }]);
  assert.throws(() => parseSafetensors(bytes.subarray(0, bytes.length - 4), "x.safetensors"), { code: "SAFETENSORS_INVALID", message: /x\.safetensors/ });
  assert.throws(() => parseSafetensors(Uint8Array.from([1, 2, 3]), "y.safetensors"), { code: "SAFETENSORS_INVALID" });
});
