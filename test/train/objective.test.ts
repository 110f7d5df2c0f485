import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { ColbertTokenizer } from "../../src/encode/tokenize.js";
import { readColbertCheckpoint } from "../../src/model/checkpoint.js";
import { readModelFolder } from "../../src/model/layout.js";
import { makeBatch, type ResolvedExample } from "../../src/train/data.js";
import { TrainableColbert } from "../reference/tfjs/model.js";
import { batchLoss, type ObjectiveOptions, type TrainBatch } from "../reference/tfjs/objective.js";
import { initTraining, tf } from "../reference/tfjs/tf.js";
import { tinyModel } from "../helpers/models.js";
import { suiteDir } from "../helpers/paths.js";

/** The tiny models of this file, removed when it ends. */
const MODELS = suiteDir();

const EXAMPLES: ResolvedExample[] = [
  { query: "red apples", docs: ["apples are red fruit", "the sky is blue", "cars have wheels"], scores: { a: [9, 2, 1], b: [0.9, 0.5, 0.1] } },
  { query: "blue sky", docs: ["the sky is blue today", "apples are red", "dogs bark"], scores: { a: [8, 3, 0], b: [0.8, 0.1, 0.3] } },
];

describe("objective: finite-difference gradient checks on a tiny model", () => {
  let model: TrainableColbert;
  let batch: TrainBatch;
  before(async () => {
    await initTraining();
    const dir = await tinyModel(MODELS, { hidden: 16, heads: 2, dim: 8, layers: 1, queryLength: 8, documentLength: 12 });
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

describe("objective: Matryoshka dims with their own heads", () => {
  const TINY = { hidden: 16, heads: 2, dim: 8, layers: 1, queryLength: 8, documentLength: 12, matryoshkaDims: [8, 4], matryoshkaHeads: true };
  let dir: string;
  let batch: TrainBatch;
  const models: TrainableColbert[] = [];
  before(async () => {
    await initTraining();
    dir = await tinyModel(MODELS, TINY);
    const spec = readModelFolder(dir);
    batch = makeBatch(new ColbertTokenizer(spec.tokenizerJson, spec.tokenizerConfig, spec.settings), EXAMPLES);
  });
  const build = (ckpt: ConstructorParameters<typeof TrainableColbert>[0]): TrainableColbert => {
    const m = new TrainableColbert(ckpt);
    models.push(m);
    return m;
  };
  const lossOf = (m: TrainableColbert, opts: ObjectiveOptions): number => tf.tidy(() => batchLoss(m, batch, opts).dataSync()[0] as number);
  const opts: ObjectiveOptions = { loss: "kl", teachers: ["b"], matryoshkaDims: [8, 4] };

  it("a head equal to the main head's first rows gives exactly the truncation loss; the model's own head gives another", () => {
    const ckpt = readColbertCheckpoint(dir);
    assert.ok(build(ckpt).hasOwnHead(4));
    const main = ckpt.dense[0]!;
    // Rows 0..3 of the [8, 16] main head: the same vectors as truncating its output to 4 dims.
    const truncating = new Map([[4, { ...main, outFeatures: 4, weight: main.weight.slice(0, 4 * 16) }]]);
    const withTruncatingHead = lossOf(build({ ...ckpt, matryoshkaHeads: truncating }), opts);
    const truncation = lossOf(build({ ...ckpt, matryoshkaHeads: new Map() }), opts);
    assert.ok(Math.abs(withTruncatingHead - truncation) < 1e-5, `${withTruncatingHead} vs ${truncation}`);
    assert.ok(Math.abs(lossOf(build(ckpt), opts) - truncation) > 1e-4, "the generated head is not a truncation");
    // The 4-d term alone uses the head: the sum is the sum of the per-dim losses.
    const m = build(ckpt);
    const sum = lossOf(m, { ...opts, matryoshkaDims: [8] }) + lossOf(m, { ...opts, matryoshkaDims: [4] });
    assert.ok(Math.abs(lossOf(m, opts) - sum) < 1e-5);
  });

  it("the head gets gradients only from its dim's loss, and they match finite differences", () => {
    const m = build(readColbertCheckpoint(dir));
    const grads = (o: ObjectiveOptions): Record<string, number[]> =>
      tf.tidy(() => {
        const { value, grads: g } = tf.variableGrads(() => batchLoss(m, batch, o), [...m.params.values()]);
        value.dispose();
        return Object.fromEntries(Object.entries(m.gradsByParam(g)).map(([k, t]) => [k, Array.from(t.dataSync())]));
      });
    assert.equal(grads({ ...opts, matryoshkaDims: [8] })["mhead.4.weight"], undefined, "no 4-d loss, no head gradient");
    const g = grads(opts);
    const eps = 1e-3;
    for (const [name, idx] of [["mhead.4.weight", 0], ["mhead.4.weight", 45], ["dense.0.weight", 3], ["encoder.layer.0.output.dense.weight", 7]] as const) {
      const v = m.params.get(name) as tf.Variable;
      const base = Float32Array.from(v.dataSync());
      const at = (delta: number): number => {
        const changed = base.slice();
        changed[idx] = (changed[idx] as number) + delta;
        tf.tidy(() => v.assign(tf.tensor(changed, v.shape)));
        return lossOf(m, opts);
      };
      const fd = (at(eps) - at(-eps)) / (2 * eps);
      tf.tidy(() => v.assign(tf.tensor(base, v.shape)));
      const roundoff = (4 * 1.2e-7 * Math.abs(lossOf(m, opts))) / eps;
      const ag = g[name]?.[idx] ?? NaN;
      assert.ok(Math.abs(fd - ag) <= 2e-3 + roundoff + 3e-2 * Math.abs(ag), `${name}[${idx}]: autograd ${ag} vs finite difference ${fd}`);
    }
    assert.ok(g["mhead.4.weight"]!.some((x) => x !== 0));
  });

  it("snapshot returns the heads by dim", () => {
    const ckpt = readColbertCheckpoint(dir);
    const snap = build(ckpt).snapshot();
    assert.deepEqual([...snap.matryoshkaHeads.keys()], [4]);
    assert.deepEqual(snap.matryoshkaHeads.get(4)?.weight, ckpt.matryoshkaHeads.get(4)?.weight);
    assert.ok(![...snap.weights.keys()].some((k) => k.startsWith("mhead.")));
    for (const m of models) m.dispose();
  });
});
