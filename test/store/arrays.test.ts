import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { getArray, readArrays, writeArrays } from "../../src/store/arrays.js";
import { removeStaleTemps, writeFileAtomic } from "../../src/store/atomic.js";
import { tempDir } from "../helpers/paths.js";

const opts = { kind: "test-kind", maxVersion: 2 };

test("named typed arrays round-trip with meta; views are aligned", (t) => {
  const file = path.join(tempDir(t), "a.bin");
  const f32 = Float32Array.from([1.5, -2, 3]);
  const u8 = Uint8Array.from([1, 2, 3, 4, 5]);
  const i64 = BigInt64Array.from([1n, -2n]);
  writeArrays(file, "test-kind", 1, { f32, u8, i64, empty: new Int32Array(0) }, { dim: 3 });
  const back = readArrays(file, opts);
  assert.equal(back.version, 1);
  assert.deepEqual(back.meta, { dim: 3 });
  assert.deepEqual(getArray(back, "f32", Float32Array, file), f32);
  assert.deepEqual(getArray(back, "u8", Uint8Array, file), u8);
  assert.deepEqual(getArray(back, "i64", BigInt64Array, file), i64);
  assert.equal(getArray(back, "empty", Int32Array, file).length, 0);
  assert.throws(() => getArray(back, "f32", Int32Array, file), { code: "INDEX_CORRUPT" });
});

test("truncated, corrupted, wrong kind and newer version are refused with codes naming the file", (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, "a.bin");
  writeArrays(file, "test-kind", 1, { x: new Float32Array(100).fill(1) });
  const good = fs.readFileSync(file);

  fs.writeFileSync(file, good.subarray(0, good.length - 10));
  assert.throws(() => readArrays(file, opts), (e: Error & { code?: string }) => e.code === "INDEX_CORRUPT" && e.message.includes(file) && /truncated/.test(e.message));

  const flipped = Buffer.from(good);
  flipped[200] = (flipped[200] ?? 0) ^ 0xff;
  fs.writeFileSync(file, flipped);
  assert.throws(() => readArrays(file, opts), { code: "INDEX_CORRUPT", message: /checksum/ });

  fs.writeFileSync(file, good);
  assert.throws(() => readArrays(file, { kind: "other", maxVersion: 1 }), { code: "INDEX_CORRUPT" });
  writeArrays(file, "test-kind", 3, { x: new Float32Array(1) });
  assert.throws(() => readArrays(file, opts), { code: "INDEX_VERSION", message: /upgrade colts/ });
  fs.writeFileSync(file, "garbage that is long enough to have a header");
  assert.throws(() => readArrays(file, opts), { code: "INDEX_CORRUPT", message: /bad magic/ });
  assert.throws(() => readArrays(path.join(dir, "missing.bin"), opts), { code: "INDEX_CORRUPT" });
});

test("atomic writes replace whole files and leave no temp files; stale temps are removable", (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, "m.json");
  writeFileAtomic(file, "one");
  writeFileAtomic(file, ["tw", "o"]);
  assert.equal(fs.readFileSync(file, "utf8"), "two");
  assert.deepEqual(fs.readdirSync(dir), ["m.json"]);
  fs.writeFileSync(path.join(dir, ".m.json.tmp-1-2-3"), "partial");
  assert.deepEqual(removeStaleTemps(dir), [".m.json.tmp-1-2-3"]);
  assert.deepEqual(fs.readdirSync(dir), ["m.json"]);
});
