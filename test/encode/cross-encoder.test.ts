import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { bertForward } from "../../src/testing/bert-reference.js";
import { CrossEncoder, layoutPair, planBatches } from "../../src/encode/cross-encoder.js";
import { tinyCrossEncoderWeights, writeTinyCrossEncoder, type TinyCrossEncoderOptions } from "../../src/testing/tiny-cross-encoder.js";
import { Rng } from "../../src/util/rng.js";
import { tempDir } from "../helpers/paths.js";

const PAIRS = [
  { query: "what is late interaction", document: "ColBERT scores a query against a document with MaxSim over token vectors." },
  { query: "late interaction", document: "Cats sleep." },
  { query: "how do cross-encoders score pairs of texts jointly", document: "A cross-encoder reads the query and the document together." },
  { query: "bm25", document: "BM25 is a bag-of-words ranking function used by search engines, with term frequency saturation and length normalisation." },
  { query: "pooling", document: "" },
  { query: "x", document: "The [CLS] token is pooled, passed through tanh, then a linear classifier." },
];

/** Float64 reference: BERT forward, [CLS] row, tanh(pooler), classifier. */
function referenceScores(opts: TinyCrossEncoderOptions, rows: { ids: number[]; types: number[] }[]): number[] {
  const { config, weights, classifier: c } = tinyCrossEncoderWeights(opts);
  const H = config.hiddenSize;
  return rows.map((r) => {
    const [hidden] = bertForward(config, weights, { inputIds: [r.ids], attentionMask: [r.ids.map(() => 1)], tokenTypeIds: [r.types] });
    const cls = hidden!.subarray(0, H);
    const pooled = Array.from({ length: H }, (_, o) => Math.tanh(c.poolerBias[o]! + cls.reduce((a, x, i) => a + x * c.poolerWeight[o * H + i]!, 0)));
    const logits = Array.from({ length: c.labels }, (_, l) => c.bias[l]! + pooled.reduce((a, x, i) => a + x * c.weight[l * H + i]!, 0));
    return c.labels === 1 ? logits[0]! : logits[1]! - logits[0]!;
  });
}

describe("cross-encoder", () => {
  test("pairs are laid out [CLS] q [SEP] d [SEP] with segment ids, truncated longest-first", () => {
    assert.deepEqual(layoutPair([1, 2, 3], [4, 5, 6, 7, 8], 101, 102, 8), { ids: [101, 1, 2, 3, 102, 4, 5, 102], types: [0, 0, 0, 0, 0, 1, 1, 1] });
    assert.deepEqual(layoutPair([1, 2, 3, 4, 5, 6], [7], 101, 102, 7).ids, [101, 1, 2, 3, 102, 7, 102]);
    assert.deepEqual(layoutPair([1], [2], 101, 102, 64), { ids: [101, 1, 102, 2, 102], types: [0, 0, 0, 1, 1] });
  });

  test("batches hold at most the token budget of padded tokens, longest first; every pair exactly once", () => {
    assert.deepEqual(planBatches([5, 10, 3, 10, 7], 20), [[1, 3], [4, 0], [2]]);
    assert.deepEqual(planBatches([50, 2], 20), [[0], [1]]); // too long for the budget: alone
    assert.deepEqual(planBatches([1, 1, 1, 1, 1], 100, 2), [[0, 1], [2, 3], [4]]);
    const rng = new Rng(2);
    for (let trial = 0; trial < 50; trial++) {
      const lengths = Array.from({ length: 1 + rng.int(60) }, () => 1 + rng.int(100));
      const budget = 1 + rng.int(400);
      const batches = planBatches(lengths, budget);
      assert.deepEqual(batches.flat().sort((a, b) => a - b), lengths.map((_, i) => i));
      for (const b of batches) assert.ok(b.length === 1 || b.length * Math.max(...b.map((i) => lengths[i]!)) <= budget);
    }
  });

  for (const labels of [1, 2] as const) {
    test(`ONNX scores (${labels} label${labels === 1 ? "" : "s"}) equal the float64 reference, in any order and batching`, async (t) => {
      const dir = tempDir(t);
      const opts = { labels, seed: 4 };
      await writeTinyCrossEncoder(dir, opts);
      const ce = await CrossEncoder.load(dir, { tokenBudget: 60 }); // several batches of mixed lengths
      try {
        const order = [3, 0, 5, 1, 4, 2];
        const shuffled = order.map((i) => PAIRS[i]!);
        const got = await ce.score(shuffled);
        const want = referenceScores(opts, shuffled.map((p) => ce.tokenize(p)));
        got.forEach((s, i) => assert.ok(Math.abs(s - want[i]!) < 1e-4, `pair ${order[i]}: ${s} vs ${want[i]}`));
        assert.ok(new Set(got.map((s) => s.toFixed(4))).size === got.length, "scores differ between pairs");
        // One pair at a time gives the same numbers as batched runs.
        for (const [i, p] of shuffled.entries()) assert.ok(Math.abs((await ce.score([p]))[0]! - got[i]!) < 1e-5);
      } finally {
        await ce.close();
      }
    });
  }

  test("generation is deterministic (same options, same bytes)", async (t) => {
    const [a, b] = [tempDir(t), tempDir(t)];
    await writeTinyCrossEncoder(a, { seed: 9 });
    await writeTinyCrossEncoder(b, { seed: 9 });
    for (const f of ["onnx/model.onnx", "model.safetensors", "config.json"]) assert.ok(fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f))), f);
  });
});
