/** The batching shared by the ColBERT encoder and the cross-encoder: plans and padded int64 feeds. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { padBatch, planBatches } from "../../src/encode/batching.js";
import { planBatches as crossPlan } from "../../src/encode/cross-encoder.js";
import { buildFeeds, planBatches as encoderPlan } from "../../src/encode/encoder.js";
import { Rng } from "../../src/util/rng.js";

// The two planners as they were written before they shared batching.ts, kept as references: each
// caller must still get exactly the batches it got then.
function encoderReference(lengths: readonly number[], batchSize: number, maxTokens: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => (lengths[b] ?? 0) - (lengths[a] ?? 0) || a - b);
  const batches: number[][] = [];
  let current: number[] = [];
  let longest = 0;
  for (const i of order) {
    const len = lengths[i] ?? 0;
    const wouldBe = Math.max(longest, len) * (current.length + 1);
    if (current.length > 0 && (current.length >= batchSize || wouldBe > maxTokens)) {
      batches.push(current);
      current = [];
      longest = 0;
    }
    current.push(i);
    longest = Math.max(longest, len);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

function crossReference(lengths: readonly number[], tokenBudget: number, maxBatch: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => (lengths[b] ?? 0) - (lengths[a] ?? 0) || a - b);
  const batches: number[][] = [];
  let current: number[] = [];
  let longest = 0;
  for (const i of order) {
    const len = lengths[i] ?? 0;
    const width = Math.max(longest, len);
    if (current.length > 0 && (current.length >= maxBatch || (current.length + 1) * width > tokenBudget)) {
      batches.push(current);
      current = [];
    }
    longest = current.length === 0 ? len : Math.max(longest, len);
    current.push(i);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

test("planBatches: a hand-checked plan (longest first, ties in input order, cut by rows and padded tokens)", () => {
  // Sorted: 1 (10), 3 (7), 4 (7), 0 (3), 5 (2), 2 (1). Budget 14: [10] alone (10+10 > 14), [7,7] = 14, then 3 x 3 = 9.
  assert.deepEqual(planBatches([3, 10, 1, 7, 7, 2], { maxRows: 10, maxTokens: 14 }), [[1], [3, 4], [0, 5, 2]]);
  assert.deepEqual(planBatches([3, 10, 1, 7, 7, 2], { maxRows: 2, maxTokens: 1000 }), [[1, 3], [4, 0], [5, 2]]);
  assert.deepEqual(planBatches([], { maxRows: 4, maxTokens: 10 }), []);
});

test("both callers get exactly the batches of their former planners, on random inputs", () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 300; trial++) {
    const lengths = Array.from({ length: rng.int(80) }, () => 1 + rng.int(120));
    const rows = 1 + rng.int(40);
    const tokens = 1 + rng.int(2000);
    const asRows = lengths.map((n) => ({ ids: new Array<number>(n).fill(0) }));
    assert.deepEqual(encoderPlan(asRows, rows, tokens), encoderReference(lengths, rows, tokens));
    assert.deepEqual(crossPlan(lengths, tokens, rows), crossReference(lengths, tokens, rows));
    assert.deepEqual(crossPlan(lengths, tokens), crossReference(lengths, tokens, 256));
  }
});

test("padBatch: int64 [rows, longest], ids padded with padId, mask and types 0 past each row", () => {
  const f = padBatch(
    [
      { ids: [101, 7, 102], attention: [1, 1, 0] },
      { ids: [101, 102], types: [0, 1] },
    ],
    9,
  );
  assert.deepEqual(f.input_ids.dims, [2, 3]);
  assert.deepEqual([...f.input_ids.data], [101n, 7n, 102n, 101n, 102n, 9n]);
  assert.deepEqual([...f.attention_mask.data], [1n, 1n, 0n, 1n, 1n, 0n], "given mask kept; default mask 1 per token");
  assert.deepEqual([...f.token_type_ids.data], [0n, 0n, 0n, 0n, 1n, 0n]);
});

test("the encoder's feeds: token types only when the graph takes them, all 0", () => {
  const rows = [
    { ids: [1, 2, 3], attention: [1, 1, 1], keep: [1, 1, 1] },
    { ids: [1, 4], attention: [1, 1], keep: [1, 1] },
  ];
  const without = buildFeeds(rows, 0, false);
  assert.deepEqual(Object.keys(without), ["input_ids", "attention_mask"]);
  assert.deepEqual([...without.input_ids.data], [1n, 2n, 3n, 1n, 4n, 0n]);
  const withTypes = buildFeeds(rows, 0, true);
  assert.deepEqual([...(withTypes.token_type_ids?.data ?? [])], [0n, 0n, 0n, 0n, 0n, 0n]);
});
