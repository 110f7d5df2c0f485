/**
 * Reference engine (tfjs on WebAssembly, independent of onnxruntime): the trainer colts had before its
 * onnxruntime trainer, kept for the parity tests (test/train/ort-trainer.test.ts) and the training
 * benchmark. Not part of the package.
 *
 * Training losses over late-interaction scores, as tfjs ops (differentiable). Layout everywhere:
 * B queries, each with a group of g documents, positive first then its hard negatives:
 *   group scores s: [B, g];  all-pairs scores (in-batch negatives): [B, B*g], query i's group at
 *   columns [i*g, (i+1)*g).
 * Teacher scores t: [B, g] aligned with the same documents. Sources in docs/DESIGN.md "Training".
 */
import { ColtsError } from "../../../src/errors.js";
import { tf } from "./tf.js";

/** Query i's own group out of all-pairs scores: [B, B*g] -> [B, g]. */
export function groupScores(all: tf.Tensor2D, g: number): tf.Tensor2D {
  const B = all.shape[0];
  const eye = tf.reshape(tf.eye(B), [B, B, 1]);
  return tf.sum(tf.mul(tf.reshape(all, [B, B, g]), eye), 1);
}

export interface ContrastiveOptions {
  /** Scores are divided by it before the softmax. Default 1 (ColBERT's raw MaxSim); smaller sharpens. */
  temperature?: number;
  /**
   * Also use every other query's documents as negatives (all-pairs scores required). Default false:
   * JaColBERTv2.5 trains without them; PyLate's Contrastive uses them.
   */
  inBatchNegatives?: boolean;
}

/**
 * ColBERT cross-entropy: mean over queries of -log softmax(s / T)[positive].
 * `scores` is [B, g] (own group) or, with inBatchNegatives, [B, B*g] all pairs.
 */
export function contrastiveLoss(scores: tf.Tensor2D, g: number, opts: ContrastiveOptions = {}): tf.Scalar {
  const T = opts.temperature ?? 1;
  const B = scores.shape[0];
  const logits = tf.div(opts.inBatchNegatives ? scores : scores.shape[1] === g ? scores : groupScores(scores, g), T);
  const width = logits.shape[1] as number;
  const targets = Array.from({ length: B }, (_, i) => (opts.inBatchNegatives ? i * g : 0));
  const oneHot = tf.oneHot(tf.tensor1d(targets, "int32"), width);
  const logp = tf.logSoftmax(logits);
  return tf.neg(tf.mean(tf.sum(tf.mul(logp, oneHot), 1))) as tf.Scalar;
}

/**
 * KL distillation: mean over queries of KL(softmax(t / T) || softmax(s / T)) = sum_j p_t (log p_t - log p_s),
 * i.e. PyTorch KLDivLoss(log_softmax(s), log_softmax(t), log_target=True, reduction="batchmean").
 */
export function klLoss(student: tf.Tensor2D, teacher: tf.Tensor2D, temperature = 1): tf.Scalar {
  const ls = tf.logSoftmax(tf.div(student, temperature));
  const lt = tf.logSoftmax(tf.div(teacher, temperature));
  return tf.mean(tf.sum(tf.mul(tf.exp(lt), tf.sub(lt, ls)), 1));
}

/**
 * Margin-MSE (Hofstaetter et al. 2020): mean over queries and negatives j of
 * ((s_pos - s_j) - (t_pos - t_j))^2. Only margins matter, so teacher scale offsets cancel.
 */
export function marginMseLoss(student: tf.Tensor2D, teacher: tf.Tensor2D): tf.Scalar {
  const [B, g] = student.shape;
  if (g < 2) throw new ColtsError("INPUT_INVALID", "Margin-MSE needs at least one negative per query");
  const margins = (s: tf.Tensor2D): tf.Tensor2D => tf.sub(tf.slice(s, [0, 0], [B, 1]), tf.slice(s, [0, 1], [B, g - 1]));
  return tf.mean(tf.square(tf.sub(margins(student), margins(teacher))));
}

export { combineTeachers, normalizeTeacherScores, type TeacherNormalization } from "../../../src/train/score-losses.js";
