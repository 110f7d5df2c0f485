import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { combineTeachers, contrastiveLoss, groupScores, klLoss, marginMseLoss, normalizeTeacherScores } from "../reference/tfjs/losses.js";
import { initTraining, tf } from "../reference/tfjs/tf.js";

const val = (t: tf.Tensor): number => t.dataSync()[0] as number;
const close = (a: number, b: number, tol = 1e-5): void => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

describe("training losses (hand-checked values)", () => {
  before(async () => {
    await initTraining();
  });

  it("contrastive: -log softmax of the positive, with temperature", () => {
    const s = tf.tensor2d([[2, 1, 0]]);
    close(val(contrastiveLoss(s, 3)), -Math.log(Math.exp(2) / (Math.exp(2) + Math.exp(1) + 1)));
    close(val(contrastiveLoss(s, 3, { temperature: 0.5 })), -Math.log(Math.exp(4) / (Math.exp(4) + Math.exp(2) + 1)));
  });

  it("contrastive with in-batch negatives uses every document of the batch", () => {
    // 2 queries x groups of 2: row i's positive at column 2i.
    const all = tf.tensor2d([[3, 1, 0, 2], [1, 0, 2, 1]]);
    const l0 = -Math.log(Math.exp(3) / (Math.exp(3) + Math.exp(1) + 1 + Math.exp(2)));
    const l1 = -Math.log(Math.exp(2) / (Math.exp(1) + 1 + Math.exp(2) + Math.exp(1)));
    close(val(contrastiveLoss(all, 2, { inBatchNegatives: true })), (l0 + l1) / 2);
    // Without them, the own groups [3, 1] and [2, 1] only.
    const own = (-Math.log(Math.exp(3) / (Math.exp(3) + Math.exp(1))) - Math.log(Math.exp(2) / (Math.exp(2) + Math.exp(1)))) / 2;
    close(val(contrastiveLoss(all, 2)), own);
    assert.deepEqual(Array.from(groupScores(all, 2).dataSync()), [3, 1, 2, 1]);
  });

  it("KL: zero for equal distributions, the textbook value otherwise", () => {
    close(val(klLoss(tf.tensor2d([[1, 2, 3]]), tf.tensor2d([[11, 12, 13]]))), 0); // shift-invariant
    const s = [0, 0];
    const t = [Math.log(3), 0]; // p_t = [0.75, 0.25], p_s = [0.5, 0.5]
    close(val(klLoss(tf.tensor2d([s]), tf.tensor2d([t]))), 0.75 * Math.log(0.75 / 0.5) + 0.25 * Math.log(0.25 / 0.5));
  });

  it("Margin-MSE: squared difference of margins, averaged over negatives and queries", () => {
    // q0: student margins 2, 3; teacher margins 1, 1 -> (1 + 4) ; q1: student 0, teacher 2 and 0 -> (4 + 0)
    const s = tf.tensor2d([[3, 1, 0], [1, 1, 1]]);
    const t = tf.tensor2d([[5, 4, 4], [7, 5, 7]]);
    close(val(marginMseLoss(s, t)), (1 + 4 + 4 + 0) / 4);
    close(val(marginMseLoss(s, tf.add<tf.Tensor2D>(t, 100))), (1 + 4 + 4 + 0) / 4); // offsets cancel
  });

  it("teacher normalisation and weighted combination", () => {
    assert.deepEqual(normalizeTeacherScores([[2, 4, 3], [5, 5, 5]], "minmax"), [[0, 1, 0.5], [0, 0, 0]]);
    const z = normalizeTeacherScores([[1, 3]], "zscore")[0] as number[];
    assert.deepEqual(z, [-1, 1]);
    // weights 3:1 of two teachers, no normalisation: (3 * a + b) / 4
    assert.deepEqual(combineTeachers([[[4, 0]], [[0, 8]]], [3, 1], "none"), [[3, 2]]);
    assert.throws(() => combineTeachers([[[1]]], [1, 2], "none"), /weights/);
  });
});
