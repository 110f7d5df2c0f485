/**
 * The onnxruntime trainer's loss and whole-model gradients equal the tfjs engine's on tiny BERT
 * models, for every loss, with in-batch negatives, temperature and Matryoshka dims (truncated and
 * with separate heads): 1e-5 relative on the loss, 1e-4 of each tensor's largest gradient per entry.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { ColbertTokenizer } from "../../src/encode/tokenize.js";
import { readColbertCheckpoint } from "../../src/model/checkpoint.js";
import { readModelFolder } from "../../src/model/layout.js";
import type { TokenBatch } from "../../src/train/batch.js";
import { makeBatch, type ResolvedExample } from "../../src/train/data.js";
import { TrainableColbert } from "../reference/tfjs/model.js";
import { batchLoss, type ObjectiveOptions, type TrainBatch } from "../reference/tfjs/objective.js";
import { OrtTrainer, packableLengths } from "../../src/train/ort/trainer.js";
import { contrastiveLoss } from "../../src/train/score-losses.js";
import { activationBytes } from "../../src/train/ort/fused-step.js";
import { initTraining, tf } from "../reference/tfjs/tf.js";
import { tinyModel } from "../helpers/models.js";
import { suiteDir } from "../helpers/paths.js";

/** The tiny models of this file, removed when it ends. */
const MODELS = suiteDir();

const EXAMPLES: ResolvedExample[] = [
  { query: "red apples", docs: ["apples are red fruit", "the sky is blue", "cars have wheels"], scores: { a: [9, 2, 1], b: [0.9, 0.5, 0.1] } },
  { query: "blue sky", docs: ["the sky is blue today and tomorrow", "apples are red", "dogs bark"], scores: { a: [8, 3, 0], b: [0.8, 0.1, 0.3] } },
  { query: "loud dogs at night", docs: ["dogs bark", "cats sleep all day", "the sky"], scores: { a: [7, 1, 2], b: [0.7, 0.2, 0.2] } },
];

async function setup(opts: Parameters<typeof tinyModel>[1]): Promise<{ dir: string; batch: TrainBatch }> {
  const dir = await tinyModel(MODELS, { hidden: 16, heads: 2, layers: 2, queryLength: 8, documentLength: 12, ...opts });
  const spec = readModelFolder(dir);
  return { dir, batch: makeBatch(new ColbertTokenizer(spec.tokenizerJson, spec.tokenizerConfig, spec.settings), EXAMPLES) };
}

function tfjsLossAndGrads(model: TrainableColbert, batch: TrainBatch, opts: ObjectiveOptions): { loss: number; grads: Map<string, Float32Array> } {
  const { value, grads } = tf.variableGrads(() => batchLoss(model, batch, opts), [...model.params.values()]);
  const loss = value.dataSync()[0] as number;
  const out = new Map(Object.entries(model.gradsByParam(grads)).map(([k, t]) => [k, new Float32Array(t.dataSync())]));
  value.dispose();
  for (const t of Object.values(grads)) t.dispose();
  return { loss, grads: out };
}

async function compare(dir: string, batch: TrainBatch, opts: ObjectiveOptions, chunkRows: number): Promise<void> {
  const ckpt = readColbertCheckpoint(dir);
  const reference = new TrainableColbert(ckpt);
  const trainer = await OrtTrainer.create(ckpt, { ...(opts.matryoshkaDims ? { dims: opts.matryoshkaDims } : {}), chunkRows });
  try {
    const want = tfjsLossAndGrads(reference, batch, opts);
    const got = await trainer.lossAndGradients(batch, opts);
    assert.ok(Math.abs(got.loss - want.loss) <= 1e-5 * Math.max(1, Math.abs(want.loss)), `loss ${got.loss} vs ${want.loss}`);
    assert.deepEqual([...got.grads.keys()].sort(), [...want.grads.keys()].sort(), "a gradient for every weight");
    for (const [name, w] of want.grads) {
      const g = got.grads.get(name) as Float32Array;
      const scale = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      for (let i = 0; i < w.length; i++) {
        if (Math.abs((g[i] as number) - (w[i] as number)) > 1e-4 * scale + 1e-9) assert.fail(`${JSON.stringify(opts)} ${name}[${i}]: onnxruntime ${g[i]} vs tfjs ${w[i]} (largest |gradient| ${scale})`);
      }
    }
  } finally {
    await trainer.release();
    reference.dispose();
  }
}

describe("onnxruntime trainer = tfjs engine (loss and every weight's gradient)", () => {
  before(async () => {
    await initTraining();
  });

  test("contrastive: own group, and in-batch negatives with a temperature; chunked and whole encoder runs", async () => {
    const { dir, batch } = await setup({ dim: 8 });
    await compare(dir, batch, { loss: "contrastive" }, 2);
    // The tfjs engine counts every other column as a negative: compare without document identities.
    const { docKeys: _keys, ...anonymous } = batch;
    await compare(dir, anonymous, { loss: "contrastive", inBatchNegatives: true, temperature: 0.5 }, 32);
  });

  test("in-batch negatives leave out another query's copy of a positive (\"dogs bark\" is example 3's positive and example 2's negative)", async () => {
    const { dir, batch } = await setup({ dim: 8 });
    assert.equal(batch.docKeys?.[5], batch.docKeys?.[6]);
    const trainer = await OrtTrainer.create(readColbertCheckpoint(dir));
    try {
      const opts: ObjectiveOptions = { loss: "contrastive", inBatchNegatives: true };
      const withIds = await trainer.lossAndGradients(batch, opts);
      const scores = withIds.scores.get(8) as Float32Array;
      assert.equal(withIds.loss, contrastiveLoss(scores, 3, 3, { inBatchNegatives: true, docIds: batch.docKeys }).loss);
      const { docKeys: _keys, ...anonymous } = batch;
      const without = await trainer.lossAndGradients(anonymous, opts);
      assert.ok(without.loss > withIds.loss, `counting the copy as a negative raises the loss: ${without.loss} vs ${withIds.loss}`);
    } finally {
      await trainer.release();
    }
  });

  test("KL and Margin-MSE, one teacher and two averaged, one loss per teacher", async () => {
    const { dir, batch } = await setup({ dim: 8 });
    await compare(dir, batch, { loss: "kl", teachers: ["a"], temperature: 2 }, 4);
    await compare(dir, batch, { loss: "margin-mse", teachers: ["a", "b"] }, 4);
    await compare(dir, batch, { loss: "kl", teachers: ["a", "b"], teacherMode: "per-teacher", teacherWeights: [2, 1] }, 4);
  });

  test("Matryoshka: truncated dims, and separate heads", async () => {
    const truncated = await setup({ dim: 8, matryoshkaDims: [8, 4] });
    await compare(truncated.dir, truncated.batch, { loss: "margin-mse", teachers: ["a"], matryoshkaDims: [8, 4] }, 3);
    const heads = await setup({ dim: 8, matryoshkaDims: [8, 4], matryoshkaHeads: true });
    await compare(heads.dir, heads.batch, { loss: "contrastive", matryoshkaDims: [8, 4] }, 3);
    // Training dim 8 alone: the separate head of dim 4 gets no gradient at all (not a zero one that
    // weight decay would still shrink).
    const ckpt = readColbertCheckpoint(heads.dir);
    assert.ok(ckpt.matryoshkaHeads.has(4));
    const trainer = await OrtTrainer.create(ckpt, { dims: [8, 8] });
    try {
      assert.deepEqual(trainer.dims, [8], "repeated dims are trained once");
      const { grads } = await trainer.lossAndGradients(heads.batch, { loss: "contrastive" });
      assert.ok(!grads.has("mhead.4.weight") && grads.has("dense.0.weight"));
    } finally {
      await trainer.release();
    }
  });
});

/** a's loss and gradients equal b's: 1e-6 relative on the loss, 1e-4 of each tensor's largest gradient per entry. */
function assertSameStep(a: { loss: number; grads: Map<string, Float32Array> }, b: { loss: number; grads: Map<string, Float32Array> }, label: string): void {
  assert.ok(Math.abs(a.loss - b.loss) <= 1e-6 * Math.abs(b.loss), `${label} loss ${a.loss} vs ${b.loss}`);
  assert.deepEqual([...a.grads.keys()].sort(), [...b.grads.keys()].sort(), label);
  // The key bias's true gradient is 0 (softmax ignores a shift shared by every key): its float noise
  // is compared against the largest gradient of all.
  const largest = Math.max(...[...b.grads.values()].map((g) => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
  for (const [name, want] of b.grads) {
    const got = a.grads.get(name) as Float32Array;
    const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (let i = 0; i < want.length; i++) {
      if (Math.abs((got[i] as number) - (want[i] as number)) > 1e-4 * scale + 1e-6 * largest) assert.fail(`${label} ${name}[${i}]: ${got[i]} vs ${want[i]}`);
    }
  }
}

test("packable rows: real tokens first, padding after, nothing kept that is not attended", () => {
  const batch = (attention: number[], keep: number[]): TokenBatch => ({ ids: new Int32Array(attention.length), attention: Float32Array.from(attention), keep: Float32Array.from(keep), rows: attention.length / 3, length: 3 });
  assert.deepEqual(packableLengths(batch([1, 1, 0, 1, 0, 0], [1, 0, 0, 1, 0, 0]), 0, 2), [2, 1], "a skipped punctuation token is attended: packable");
  assert.deepEqual(packableLengths(batch([1, 1, 0, 1, 0, 0], [1, 1, 0, 1, 0, 0]), 1, 2), [1], "rows r0..r1 only");
  assert.equal(packableLengths(batch([1, 0, 1], [1, 0, 1]), 0, 1), null, "an attended token after padding");
  assert.equal(packableLengths(batch([1, 1, 0], [1, 1, 1]), 0, 1), null, "a kept token that is not attended (a query's [MASK] expansion)");
});

test("one run (forward, loss gradient, backward together) and GradCache, packed or padded, all equal, for every loss form, with dropout and separate Matryoshka heads", async () => {
  const { dir, batch } = await setup({ dim: 8, matryoshkaDims: [8, 4], matryoshkaHeads: true });
  // Packing only changes something when the documents' lengths differ: they do here.
  const lengths = Array.from({ length: batch.docs.rows }, (_, r) => batch.docs.attention.subarray(r * batch.docs.length, (r + 1) * batch.docs.length).reduce((a, v) => a + v, 0));
  assert.ok(new Set(lengths).size >= 3 && Math.min(...lengths) < batch.docs.length, `document lengths ${lengths.join(", ")} of ${batch.docs.length}`);
  const ckpt = readColbertCheckpoint(dir);
  const base = { dims: [8, 4], chunkRows: 2, dropout: { hidden: 0.1, attention: 0.1 } };
  const [packed, padded, packedCache, gradCache] = await Promise.all([
    OrtTrainer.create(ckpt, base),
    OrtTrainer.create(ckpt, { ...base, packSequences: false }),
    OrtTrainer.create(ckpt, { ...base, activationBudgetBytes: 0 }),
    OrtTrainer.create(ckpt, { ...base, activationBudgetBytes: 0, packSequences: false }),
  ]);
  try {
    const objectives: ObjectiveOptions[] = [
      { loss: "contrastive", inBatchNegatives: true, temperature: 0.5, matryoshkaDims: [8, 4] },
      { loss: "contrastive", matryoshkaDims: [8, 4] },
      { loss: "kl", teachers: ["a", "b"], teacherMode: "per-teacher", teacherWeights: [2, 1], temperature: 2, matryoshkaDims: [8, 4] },
      { loss: "margin-mse", teachers: ["a", "b"], teacherMode: "per-teacher", teacherWeights: [1, 3], matryoshkaDims: [8, 4] },
    ];
    for (const objective of objectives) {
      const step = (t: OrtTrainer): ReturnType<OrtTrainer["lossAndGradients"]> => t.lossAndGradients(batch, objective, { dropoutSeed: 3 });
      const [a, p, c, b] = await Promise.all([step(packed), step(padded), step(packedCache), step(gradCache)]);
      const label = JSON.stringify(objective);
      assert.ok(a.oneRun && p.oneRun && !c.oneRun && !b.oneRun, label);
      assertSameStep(a, b, `packed one run vs padded GradCache ${label}`);
      assertSameStep(p, b, `padded one run vs padded GradCache ${label}`);
      assertSameStep(c, b, `packed GradCache vs padded GradCache ${label}`);
    }
    // KL on min-max scaled student scores has no in-graph gradient form: it takes GradCache.
    const minmax = await packed.lossAndGradients(batch, { loss: "kl", teachers: ["a"], klStudentNormalization: "minmax", matryoshkaDims: [8, 4] });
    assert.equal(minmax.oneRun, false);
  } finally {
    await Promise.all([packed.release(), padded.release(), packedCache.release(), gradCache.release()]);
  }
});

test("over the activation budget without in-batch negatives: one run per query part = GradCache (losses, scores, every gradient; with dropout)", async () => {
  const { dir, batch } = await setup({ dim: 8, matryoshkaDims: [8, 4] });
  const ckpt = readColbertCheckpoint(dir);
  const c = ckpt.config;
  const whole = activationBytes(c, 3, batch.queries.length) + activationBytes(c, 9, batch.docs.length);
  const base = { dims: [8, 4], chunkRows: 2, dropout: { hidden: 0.1, attention: 0.1 } };
  // A budget of 1.5 queries' share: the 3 queries run as 3 parts of 1.
  const [parts, gradCache] = await Promise.all([OrtTrainer.create(ckpt, { ...base, activationBudgetBytes: whole / 2 }), OrtTrainer.create(ckpt, { ...base, activationBudgetBytes: 0, packSequences: false })]);
  try {
    const objectives: ObjectiveOptions[] = [
      { loss: "contrastive", temperature: 0.5, matryoshkaDims: [8, 4] },
      { loss: "kl", teachers: ["a", "b"], teacherMode: "per-teacher", teacherWeights: [2, 1], temperature: 2, matryoshkaDims: [8, 4] },
      { loss: "margin-mse", teachers: ["a", "b"], matryoshkaDims: [8, 4] },
    ];
    for (const objective of objectives) {
      const label = JSON.stringify(objective);
      const [a, b] = await Promise.all([parts.lossAndGradients(batch, objective, { dropoutSeed: 5 }), gradCache.lossAndGradients(batch, objective, { dropoutSeed: 5 })]);
      assert.ok(a.oneRun && a.parts === 3 && !b.oneRun, `${label}: ${a.parts} parts`);
      assertSameStep(a, b, `parts vs GradCache ${label}`);
      for (const [d, want] of b.scores) assert.ok(want.every((v, i) => Math.abs(v - ((a.scores.get(d) as Float32Array)[i] as number)) < 1e-4), `${label} scores at dim ${d}`);
    }
    // In-batch negatives couple the queries: over the budget they take GradCache.
    const inBatch = await parts.lossAndGradients(batch, { loss: "contrastive", inBatchNegatives: true, matryoshkaDims: [8, 4] });
    assert.equal(inBatch.oneRun, false);
  } finally {
    await Promise.all([parts.release(), gradCache.release()]);
  }
});
