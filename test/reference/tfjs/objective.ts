/**
 * Reference engine (tfjs on WebAssembly, independent of onnxruntime): the trainer colts had before its
 * onnxruntime trainer, kept for the parity tests (test/train/ort-trainer.test.ts) and the training
 * benchmark. Not part of the package.
 *
 * The training objective of one batch: encode queries and documents with the trainable model, score
 * them with MaxSim, apply the chosen loss, summed over Matryoshka dimensions (truncate, renormalise,
 * rescore: Jina-ColBERT-v2 / Kusupati et al. 2022; a dimension with its own head in the model uses
 * that head instead of truncation, so the head is trained by that dimension's loss). Teacher handling (average or one loss per
 * teacher) lives here too, so the loop only sees "batch -> scalar".
 */
import { ColtsError } from "../../../src/errors.js";
import { teacherTargets, type ObjectiveOptions, type TrainBatch } from "../../../src/train/batch.js";
import { contrastiveLoss, groupScores, klLoss, marginMseLoss } from "./losses.js";
import { maxsimScores, normalizeTruncated, type TokenBatch, type TrainableColbert } from "./model.js";
import { tf } from "./tf.js";

export { LOSS_KINDS, type LossKind, type ObjectiveOptions, type TrainBatch } from "../../../src/train/batch.js";

function keep(b: TokenBatch): tf.Tensor2D {
  return tf.tensor2d(b.keep, [b.rows, b.length]);
}

/** Loss of the batch (a scalar tensor; call inside tf.variableGrads / tf.tidy). */
export function batchLoss(model: TrainableColbert, batch: TrainBatch, opts: ObjectiveOptions): tf.Scalar {
  const dims = opts.matryoshkaDims && opts.matryoshkaDims.length > 0 ? opts.matryoshkaDims : [model.dim];
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 1 || d > model.dim) throw new ColtsError("DIM_UNSUPPORTED", `Matryoshka dim ${d} is not in [1, ${model.dim}]`);
  }
  // Per dim: the main head's output (truncated below) or, where the model has one, that dim's own head.
  const qy = model.projectDims(batch.queries, dims);
  const dy = model.projectDims(batch.docs, dims);
  const qk = keep(batch.queries);
  const dk = keep(batch.docs);
  const targets = opts.loss === "contrastive" ? [] : teacherTargets(batch, opts);
  let total: tf.Scalar = tf.scalar(0);
  for (const d of dims) {
    const all = maxsimScores(normalizeTruncated(qy.get(d) as tf.Tensor3D, d), qk, normalizeTruncated(dy.get(d) as tf.Tensor3D, d), dk); // [B, B*g]
    if (opts.loss === "contrastive") {
      total = tf.add(total, contrastiveLoss(all, batch.group, { temperature: opts.temperature, inBatchNegatives: opts.inBatchNegatives }));
      continue;
    }
    const own = groupScores(all, batch.group);
    for (const t of targets) {
      const teacher = tf.tensor2d(t.scores);
      const l = opts.loss === "kl" ? klLoss(own, teacher, opts.temperature ?? 1) : marginMseLoss(own, teacher);
      total = tf.add(total, tf.mul(l, t.weight));
    }
  }
  return total;
}
