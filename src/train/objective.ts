/**
 * The training objective of one batch: encode queries and documents with the trainable model, score
 * them with MaxSim, apply the chosen loss, summed over Matryoshka dimensions (truncate, renormalise,
 * rescore: Jina-ColBERT-v2 / Kusupati et al. 2022; a dimension with its own head in the model uses
 * that head instead of truncation, so the head is trained by that dimension's loss). Teacher handling (average or one loss per
 * teacher) lives here too, so the loop only sees "batch -> scalar".
 */
import { ColtsError } from "../errors.js";
import { combineTeachers, contrastiveLoss, groupScores, klLoss, marginMseLoss, type TeacherNormalization } from "./losses.js";
import { maxsimScores, normalizeTruncated, type TokenBatch, type TrainableColbert } from "./model.js";
import { tf } from "./tf.js";

export const LOSS_KINDS = ["contrastive", "kl", "margin-mse"] as const;
/**
 * The loss: "contrastive" (cross-entropy of the positive within its group, no teacher), "kl" (KL
 * distillation towards the teacher's softmax), "margin-mse" (match the teacher's positive-negative margins).
 */
export type LossKind = (typeof LOSS_KINDS)[number];

/** The training objective: the loss, its temperature and negatives, the teachers, the Matryoshka dims. */
export interface ObjectiveOptions {
  /** Which loss (see `LossKind`); kl and margin-mse need teacher scores in the data. */
  loss: LossKind;
  /** Softmax temperature of the contrastive and KL losses. Default 1. */
  temperature?: number;
  /** Contrastive only: other queries' documents are negatives too. Default false. */
  inBatchNegatives?: boolean;
  /** Teacher names (keys of `scores` in the data) used by kl / margin-mse. Default: every teacher of the batch. */
  teachers?: string[];
  /** One weight per teacher. Default all 1. */
  teacherWeights?: number[];
  /** Per-query rescaling of each teacher before combining. Default "none" with one teacher, "zscore" with several. */
  teacherNormalization?: TeacherNormalization;
  /** "average": one loss against the weighted average teacher; "per-teacher": weighted sum of one loss per teacher. Default "average". */
  teacherMode?: "average" | "per-teacher";
  /** Matryoshka dimensions (each <= model dim); the loss is summed over them. Default: the model's dim only. */
  matryoshkaDims?: number[];
}

/** One training batch, tokenized. */
export interface TrainBatch {
  /** B queries. */
  queries: TokenBatch;
  /** B * group documents; query i's group (positive first) at rows [i*group, (i+1)*group). */
  docs: TokenBatch;
  group: number;
  /** Teacher name -> [B][group] scores. */
  scores: Record<string, number[][]>;
}

function keep(b: TokenBatch): tf.Tensor2D {
  return tf.tensor2d(b.keep, [b.rows, b.length]);
}

function teacherTargets(batch: TrainBatch, opts: ObjectiveOptions): { scores: number[][]; weight: number }[] {
  const names = opts.teachers ?? Object.keys(batch.scores).sort();
  if (names.length === 0) throw new ColtsError("INPUT_INVALID", `loss ${opts.loss} needs teacher scores in the data ("scores")`);
  const weights = opts.teacherWeights ?? names.map(() => 1);
  const per = names.map((n) => {
    const s = batch.scores[n];
    if (!s) throw new ColtsError("INPUT_INVALID", `teacher "${n}" has no scores in this batch`, { details: { teacher: n } });
    return s;
  });
  const how = opts.teacherNormalization ?? (names.length > 1 ? "zscore" : "none");
  if ((opts.teacherMode ?? "average") === "average") return [{ scores: combineTeachers(per, weights, how), weight: 1 }];
  const total = weights.reduce((a, b) => a + b, 0);
  return per.map((s, k) => ({ scores: combineTeachers([s], [1], how), weight: (weights[k] ?? 0) / total }));
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
