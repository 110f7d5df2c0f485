/**
 * A training batch and the objective's options, without tfjs: shared by the tfjs engine
 * (objective.ts) and the onnxruntime trainer (ort/trainer.ts).
 */
import { ColtsError } from "../errors.js";
import { combineTeachers, type TeacherNormalization } from "./score-losses.js";

/** A tokenized batch, padded to one length. */
export interface TokenBatch {
  /** [B, S] row-major token ids. */
  ids: Int32Array;
  /** [B, S] attention mask (1 = attended). */
  attention: Float32Array;
  /** [B, S] 1 where the output vector is kept (skiplist and padding removed, expansion kept). */
  keep: Float32Array;
  /** Sequences in the batch (B). */
  rows: number;
  /** Tokens per sequence after padding (S). */
  length: number;
}

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
  /**
   * Contrastive only: other queries' documents are negatives too. Default false. Another query's copy
   * of a query's own positive (same document text) is left out of that query's softmax, not counted
   * as a negative.
   */
  inBatchNegatives?: boolean;
  /**
   * KL only: "minmax" scales each query's student scores to [0, 1] before the softmax, as PyLate's
   * Distillation loss does by default; "none" (default) uses the raw MaxSim scores, as ColBERTv2 and
   * JaColBERT distil.
   */
  klStudentNormalization?: "none" | "minmax";
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
  /** Documents per query (g): the positive, then its negatives. */
  group: number;
  /** Teacher name -> [B][group] scores. */
  scores: Record<string, number[][]>;
  /** Identity of each document row ([B * group]; the text): equal keys are the same document. Default: all distinct. */
  docKeys?: string[];
}

/**
 * The teacher targets of a batch for kl / margin-mse: one combined target ("average") or one per
 * teacher with its share of the weight ("per-teacher").
 */
export function teacherTargets(batch: TrainBatch, opts: ObjectiveOptions): { scores: number[][]; weight: number }[] {
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
