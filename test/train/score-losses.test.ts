/**
 * The float64 losses of the onnxruntime trainer: gradients against central differences, values against
 * the tfjs engine's losses on the same scores, and the in-batch rule for repeated positives by hand.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { contrastiveLoss, klLoss, marginMseLoss, type LossWithGradient } from "../../src/train/score-losses.js";
import { contrastiveLoss as tfContrastive, klLoss as tfKl, marginMseLoss as tfMarginMse } from "../reference/tfjs/losses.js";
import { initTraining, tf } from "../reference/tfjs/tf.js";
import { Rng } from "../../src/util/rng.js";

function randomScores(seed: number, n: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => 3 * rng.normal());
}

/** Central differences of f at x (step 1e-6), compared with f's own gradient (relative 1e-6 + absolute 1e-9). */
function checkGradient(x: Float64Array, f: (x: Float64Array) => LossWithGradient): void {
  const { grad } = f(x);
  const eps = 1e-6;
  for (let j = 0; j < x.length; j++) {
    const up = Float64Array.from(x);
    const down = Float64Array.from(x);
    up[j] = (up[j] as number) + eps;
    down[j] = (down[j] as number) - eps;
    const numeric = (f(up).loss - f(down).loss) / (2 * eps);
    const a = grad[j] as number;
    assert.ok(Math.abs(a - numeric) <= 1e-6 * (Math.abs(a) + Math.abs(numeric)) + 1e-9, `[${j}]: analytic ${a} vs numeric ${numeric}`);
  }
}

const [B, g] = [3, 4];

before(async () => {
  await initTraining();
});

test("contrastive (own group, in-batch negatives, temperature): gradient = central differences", () => {
  checkGradient(randomScores(1, B * g), (s) => contrastiveLoss(s, B, g));
  checkGradient(randomScores(2, B * g), (s) => contrastiveLoss(s, B, g, { temperature: 0.05 }));
  checkGradient(randomScores(3, B * B * g), (s) => contrastiveLoss(s, B, g, { inBatchNegatives: true, temperature: 0.5 }));
});

test("KL and Margin-MSE: gradient = central differences", () => {
  const teacher = randomScores(4, B * g);
  checkGradient(randomScores(5, B * g), (s) => klLoss(s, teacher, B, g));
  checkGradient(randomScores(6, B * g), (s) => klLoss(s, teacher, B, g, 2));
  checkGradient(randomScores(7, B * g), (s) => marginMseLoss(s, teacher, B, g));
  checkGradient(randomScores(11, B * g), (s) => klLoss(s, teacher, B, g, { studentNormalization: "minmax", temperature: 0.5 }));
});

test("the same values as the tfjs engine's losses", () => {
  const s = randomScores(8, B * g);
  const all = randomScores(9, B * B * g);
  const t = randomScores(10, B * g);
  const tfValue = (x: tf.Scalar): number => x.dataSync()[0] as number;
  const close = (a: number, b: number): void => assert.ok(Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b)), `${a} vs ${b}`);
  const t2 = (x: Float64Array, w: number): tf.Tensor2D => tf.tensor2d(Array.from(x), [B, w]);
  close(contrastiveLoss(s, B, g, { temperature: 0.5 }).loss, tfValue(tfContrastive(t2(s, g), g, { temperature: 0.5 })));
  close(contrastiveLoss(all, B, g, { inBatchNegatives: true }).loss, tfValue(tfContrastive(t2(all, B * g), g, { inBatchNegatives: true })));
  close(klLoss(s, t, B, g, 2).loss, tfValue(tfKl(t2(s, g), t2(t, g), 2)));
  close(marginMseLoss(s, t, B, g).loss, tfValue(tfMarginMse(t2(s, g), t2(t, g))));
});

test("KL stays finite at a tiny temperature; contrastive refuses a query with nothing to contrast", () => {
  const r = klLoss([0, 100, -50], [0, 1, 2], 1, 3, 0.01);
  assert.ok(Number.isFinite(r.loss) && r.grad.every(Number.isFinite), `loss ${r.loss}`);
  assert.throws(() => contrastiveLoss([1, 2], 2, 1), /needs a negative/);
});

test("PyLate's min-max student normalisation for KL, by hand", () => {
  // Scores [1, 3, 2] scale to [0, 1, 0.5] (up to the 1e-8 in the range); teacher uniform.
  const got = klLoss([1, 3, 2], [0, 0, 0], 1, 3, { studentNormalization: "minmax" });
  const e = [0, 1, 0.5].map((v) => Math.exp(v / (1 + 5e-9)));
  const z = e.reduce((a, b) => a + b, 0);
  const want = e.reduce((acc, v) => acc + (1 / 3) * (Math.log(1 / 3) - Math.log(v / z)), 0);
  assert.ok(Math.abs(got.loss - want) < 1e-8, `${got.loss} vs ${want}`);
});

test("in-batch negatives leave out another query's copy of the same positive (by hand)", () => {
  // Two queries, one document each; both positives are document "d": neither is the other's negative.
  const same = contrastiveLoss([2, 1, 0, 3], 2, 1, { inBatchNegatives: true, docIds: ["d", "d"] });
  assert.equal(same.loss, 0); // each softmax has one column left: -log 1
  assert.deepEqual(Array.from(same.grad), [0, 0, 0, 0]);
  // Distinct documents: ordinary in-batch cross-entropy, -log(e^2 / (e^2 + e^1)) and -log(e^3 / (e^0 + e^3)).
  const distinct = contrastiveLoss([2, 1, 0, 3], 2, 1, { inBatchNegatives: true, docIds: ["d", "e"] });
  const want = (Math.log(1 + Math.exp(-1)) + Math.log(1 + Math.exp(-3))) / 2;
  assert.ok(Math.abs(distinct.loss - want) < 1e-15);
});
