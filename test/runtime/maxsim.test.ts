import { test } from "node:test";
import assert from "node:assert/strict";
import { matmulABtJs, maxsimFromSimilarities } from "../../src/runtime/kernels/matmul.js";
import { OrtPaddedMaxSim, padDocuments } from "../../src/runtime/kernels/maxsim.js";
import { Rng } from "../../src/util/rng.js";

test("padDocuments by hand: rows repeat the document's first vector; too long is refused", () => {
  // d = 1; documents [1, 2] and [3]
  const padded = padDocuments(Float32Array.from([1, 2, 3]), [0, 2, 3], 3, 1);
  assert.deepEqual([...padded], [1, 2, 1, 3, 3, 3]);
  assert.throws(() => padDocuments(Float32Array.from([1, 2, 3]), [0, 3], 2, 1), { code: "INPUT_INVALID" });
  assert.throws(() => padDocuments(Float32Array.from([1]), [0, 0, 1], 2, 1), { code: "INPUT_INVALID" });
});

test("OrtPaddedMaxSim == JS MaxSim per (document, query), negative similarities included", async () => {
  const rng = new Rng(31);
  const d = 12;
  const queries = 3;
  const queryLen = 4;
  const doclens = [1, 5, 7, 2, 7];
  const offsets = [0];
  for (const n of doclens) offsets.push(offsets[offsets.length - 1]! + n);
  const rows = offsets[offsets.length - 1]!;
  const docs = rng.normalArray(rows * d, 1);
  const q = rng.normalArray(queries * queryLen * d, 1);
  const kernel = await OrtPaddedMaxSim.create(q, queries, queryLen, d, 7, { intraOpThreads: 1 });
  const fast = await kernel.run(docs, offsets);
  await kernel.release();
  assert.equal(fast.length, doclens.length * queries);
  for (let j = 0; j < queries; j++) {
    const qj = q.subarray(j * queryLen * d, (j + 1) * queryLen * d);
    const slow = maxsimFromSimilarities(matmulABtJs(qj, queryLen, docs, rows, d), queryLen, doclens);
    for (let i = 0; i < doclens.length; i++) assert.ok(Math.abs(fast[i * queries + j]! - slow[i]!) < 1e-4, `doc ${i} query ${j}`);
  }
});
