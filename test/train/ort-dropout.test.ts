/**
 * Dropout in the onnxruntime trainer: masks are a pure function of their seed and row (not of how rows
 * are split into encoder runs), the drop rate is p, the same seed repeats a step exactly, and the
 * backward pass uses the forward pass's masks (a directional derivative of the loss matches the
 * gradient with dropout on).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ColbertTokenizer } from "../../src/encode/tokenize.js";
import { readColbertCheckpoint } from "../../src/model/checkpoint.js";
import { readModelFolder } from "../../src/model/layout.js";
import { makeBatch, type ResolvedExample } from "../../src/train/data.js";
import { dropoutFeeds, keepMask } from "../../src/train/ort/dropout.js";
import { OrtTrainer } from "../../src/train/ort/trainer.js";
import { tinyModel } from "../helpers/models.js";

const EXAMPLES: ResolvedExample[] = [
  { query: "red apples", docs: ["apples are red fruit", "the sky is blue"], scores: {} },
  { query: "blue sky", docs: ["the sky is blue today", "dogs bark"], scores: {} },
];

test("keep masks: drop rate p (to 2^-17), a pure function of the seed, rows independent of chunking", () => {
  const m = keepMask(200_001, 0.1, 42);
  const dropped = m.reduce((a, v) => a + (v === 0 ? 1 : 0), 0) / m.length;
  assert.ok(Math.abs(dropped - 0.1) < 0.003, `dropped ${dropped}`);
  assert.deepEqual(keepMask(1000, 0.1, 42), keepMask(1000, 0.1, 42));
  assert.notDeepEqual(keepMask(1000, 0.1, 42), keepMask(1000, 0.1, 43));
  assert.ok(keepMask(100, 0, 1).every((v) => v === 1));
  const rates = { hidden: 0.1, attention: 0.2 };
  const whole = dropoutFeeds(7, rates, 0, 4, 5, 8, 2, 1);
  const tail = dropoutFeeds(7, rates, 2, 2, 5, 8, 2, 1);
  for (const [name, t] of Object.entries(tail)) {
    const perRow = t.data.length / 2;
    assert.deepEqual(t.data, (whole[name]?.data as Uint8Array).subarray(2 * perRow), name);
  }
});

test("packed keep masks are the padded layout's at the real tokens (odd and even lengths; attention masks unchanged)", () => {
  assert.deepEqual(keepMask(37, 0.3, 9), keepMask(64, 0.3, 9).subarray(0, 37), "a shorter mask is a prefix of a longer one");
  const rates = { hidden: 0.1, attention: 0.2 };
  const [rows, S, H, heads, layers] = [3, 5, 4, 2, 2];
  const lengths = [5, 1, 3];
  const padded = dropoutFeeds(11, rates, 1, rows, S, H, heads, layers);
  const packed = dropoutFeeds(11, rates, 1, rows, S, H, heads, layers, lengths);
  assert.deepEqual(Object.keys(packed).sort(), Object.keys(padded).sort());
  for (const [name, t] of Object.entries(packed)) {
    const full = padded[name]?.data as Uint8Array;
    if (name.endsWith("_attn")) {
      assert.deepEqual(t.data, full, name);
      continue;
    }
    assert.deepEqual(t.dims, [9, H], name);
    const want = lengths.flatMap((n, r) => Array.from(full.subarray(r * S * H, (r * S + n) * H)));
    assert.deepEqual(Array.from(t.data as Uint8Array), want, name);
  }
});

test("trainer with dropout: same seed, same step; other seed, other step; the gradient is the loss's", async (t) => {
  const dir = await tinyModel(t, { hidden: 16, heads: 2, layers: 2, dim: 8, queryLength: 8, documentLength: 12 });
  const spec = readModelFolder(dir);
  const batch = makeBatch(new ColbertTokenizer(spec.tokenizerJson, spec.tokenizerConfig, spec.settings), EXAMPLES);
  const ckpt = readColbertCheckpoint(dir);
  const plain = await OrtTrainer.create(ckpt);
  const off = await OrtTrainer.create(ckpt, { dropout: { hidden: 0, attention: 0 } });
  const on = await OrtTrainer.create(ckpt, { dropout: { hidden: 0.1, attention: 0.1 }, chunkRows: 3 });
  try {
    const objective = { loss: "contrastive" as const };
    const base = await plain.lossAndGradients(batch, objective);
    assert.equal((await off.lossAndGradients(batch, objective, { dropoutSeed: 5 })).loss, base.loss, "dropout 0 is no dropout");
    const a = await on.lossAndGradients(batch, objective, { dropoutSeed: 5 });
    const b = await on.lossAndGradients(batch, objective, { dropoutSeed: 5 });
    const c = await on.lossAndGradients(batch, objective, { dropoutSeed: 6 });
    assert.equal(a.loss, b.loss);
    for (const [name, g] of a.grads) assert.deepEqual(b.grads.get(name), g, name);
    assert.notEqual(a.loss, base.loss);
    assert.notEqual(c.loss, a.loss);
    // Directional derivative along the gradient: (L(w + eps g) - L(w - eps g)) / 2 eps = |g|^2 when the
    // backward pass sees the forward pass's masks.
    let norm2 = 0;
    for (const g of a.grads.values()) for (const v of g) norm2 += v * v;
    const eps = 3e-4 / Math.sqrt(norm2); // small: with dropout the loss curves more (1e-3 is 1% off from curvature alone)
    const shift = (sign: number): void => {
      for (const [name, g] of a.grads) {
        const w = on.weights.get(name) as Float32Array;
        for (let i = 0; i < w.length; i++) w[i] = (w[i] as number) + sign * eps * (g[i] as number);
      }
    };
    shift(1);
    const up = (await on.lossAndGradients(batch, objective, { dropoutSeed: 5 })).loss;
    shift(-2);
    const down = (await on.lossAndGradients(batch, objective, { dropoutSeed: 5 })).loss;
    shift(1);
    const numeric = (up - down) / (2 * eps);
    assert.ok(Math.abs(numeric - norm2) <= 0.005 * norm2, `directional derivative ${numeric} vs |g|^2 ${norm2}`);
  } finally {
    await Promise.all([plain.release(), off.release(), on.release()]);
  }
});
