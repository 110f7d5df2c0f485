import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { ColbertTokenizer } from "../../src/encode/tokenize.js";
import { readColbertCheckpoint } from "../../src/model/checkpoint.js";
import { readModelFolder } from "../../src/model/layout.js";
import { makeBatch, type ResolvedExample } from "../../src/train/data.js";
import { TrainableColbert } from "../../src/train/model.js";
import { batchLoss, type ObjectiveOptions, type TrainBatch } from "../../src/train/objective.js";
import { initTraining, tf } from "../../src/train/tf.js";
import { tinyModel } from "../helpers/models.js";

const EXAMPLES: ResolvedExample[] = [
  { query: "red apples", docs: ["apples are red fruit", "the sky is blue", "cars have wheels"], scores: { a: [9, 2, 1], b: [0.9, 0.5, 0.1] } },
  { query: "blue sky", docs: ["the sky is blue today", "apples are red", "dogs bark"], scores: { a: [8, 3, 0], b: [0.8, 0.1, 0.3] } },
];

describe("objective: finite-difference gradient checks on a tiny model", () => {
  let model: TrainableColbert;
  let batch: TrainBatch;
  before(async () => {
    await initTraining();
    const dir = await tinyModel({ after: () => undefined }, { hidden: 16, heads: 2, dim: 8, layers: 1, queryLength: 8, documentLength: 12 });
    const spec = readModelFolder(dir);
    model = new TrainableColbert(readColbertCheckpoint(dir));
    batch = makeBatch(new ColbertTokenizer(spec.tokenizerJson, spec.tokenizerConfig, spec.settings), EXAMPLES);
  });

  const lossAt = (opts: ObjectiveOptions): number => tf.tidy(() => batchLoss(model, batch, opts).dataSync()[0] as number);

  /** Central differences on a few coordinates of three weights (head, a FFN matrix, a word embedding in use). */
  function check(opts: ObjectiveOptions): void {
    const vars = [...model.params.values()];
    const grads = tf.tidy(() => {
      const { value, grads: g } = tf.variableGrads(() => batchLoss(model, batch, opts), vars);
      value.dispose();
      return Object.fromEntries(Object.entries(model.gradsByParam(g)).map(([k, t]) => [k, Array.from(t.dataSync())]));
    });
    const wordRow = batch.docs.ids[2] as number; // first content token of the first document
    const probes: [string, number][] = [
      ["dense.0.weight", 0], ["dense.0.weight", 37], ["encoder.layer.0.intermediate.dense.weight", 5],
      ["embeddings.word_embeddings.weight", wordRow * 16 + 3], ["encoder.layer.0.attention.self.query.weight", 11],
    ];
    // Small against the weights (embeddings have std 0.02) so no MaxSim argmax switches inside [-eps, eps].
    const eps = 1e-3;
    for (const [name, idx] of probes) {
      const v = model.params.get(name) as tf.Variable;
      const base = Float32Array.from(v.dataSync());
      const at = (delta: number): number => {
        const changed = base.slice();
        changed[idx] = (changed[idx] as number) + delta;
        tf.tidy(() => v.assign(tf.tensor(changed, v.shape)));
        return lossAt(opts);
      };
      const fd = (at(eps) - at(-eps)) / (2 * eps);
      // float32 rounding of the loss, divided by the step, bounds what the difference can resolve.
      const roundoff = (4 * 1.2e-7 * Math.abs(lossAt(opts))) / eps;
      tf.tidy(() => v.assign(tf.tensor(base, v.shape)));
      const g = grads[name]?.[idx] ?? NaN;
      assert.ok(Math.abs(fd - g) <= 2e-3 + roundoff + 3e-2 * Math.abs(g), `${opts.loss} ${name}[${idx}]: autograd ${g} vs finite difference ${fd}`);
    }
  }

  it("contrastive", () => check({ loss: "contrastive" }));
  it("contrastive with in-batch negatives and temperature", () => check({ loss: "contrastive", inBatchNegatives: true, temperature: 0.5 }));
  it("KL distillation", () => check({ loss: "kl", teachers: ["a"] }));
  it("Margin-MSE", () => check({ loss: "margin-mse", teachers: ["b"] }));
  it("Margin-MSE, two teachers, one loss each", () => check({ loss: "margin-mse", teacherMode: "per-teacher", teacherWeights: [1, 2] }));
  it("Matryoshka (8 and 4 dims)", () => check({ loss: "contrastive", matryoshkaDims: [8, 4] }));

  it("Matryoshka loss is the sum of the losses at each truncation", () => {
    const sum = lossAt({ loss: "kl", teachers: ["b"], matryoshkaDims: [8] }) + lossAt({ loss: "kl", teachers: ["b"], matryoshkaDims: [4] });
    assert.ok(Math.abs(lossAt({ loss: "kl", teachers: ["b"], matryoshkaDims: [8, 4] }) - sum) < 1e-5);
    assert.throws(() => lossAt({ loss: "contrastive", matryoshkaDims: [9] }), /Matryoshka dim 9/);
  });

  it("averaging two teachers equals one loss against their weighted mean (no normalisation)", () => {
    const avg = lossAt({ loss: "margin-mse", teachers: ["a", "b"], teacherWeights: [1, 3], teacherNormalization: "none" });
    const mean = EXAMPLES.map((e) => (e.scores["a"] as number[]).map((v, j) => (v + 3 * ((e.scores["b"] as number[])[j] as number)) / 4));
    const manual = tf.tidy(() => batchLoss(model, { ...batch, scores: { m: mean } }, { loss: "margin-mse" }).dataSync()[0] as number);
    assert.ok(Math.abs(avg - manual) < 1e-5);
    assert.throws(() => lossAt({ loss: "kl", teachers: ["zzz"] }), /teacher "zzz"/);
  });
});
