/**
 * What the one-run training step (step-graph.ts) needs besides the encoder inputs: which loss form
 * an objective takes, the loss inputs computed from the batch's labels and teachers, the per-stream
 * input names, and the activation-memory estimate that decides between one run and GradCache.
 * The loss's value is computed from the returned scores by `scoreLoss` (both training paths).
 */
import type { BertConfig } from "../../model/bert-weights.js";
import type { InputTensor } from "../../runtime/session.js";
import type { ObjectiveOptions, TokenBatch, TrainBatch } from "../batch.js";
import { contrastiveLoss, klLoss, marginMseLoss, otherCopyOfPositive, type LossWithGradient } from "../score-losses.js";
import type { LossForm } from "./step-graph.js";

/** A teacher's scores [B][g] and its weight in the loss (batch.ts `teacherTargets`). */
export interface Target {
  scores: number[][];
  weight: number;
}

/**
 * The in-graph form of `objective`'s gradient, or null when it has none (KL on min-max scaled
 * student scores, whose gradient also flows through each row's min and max).
 */
export function fusedLossForm(objective: ObjectiveOptions): LossForm | null {
  if (objective.loss === "margin-mse") return "margin";
  if (objective.loss === "kl" && (objective.klStudentNormalization ?? "none") !== "none") return null;
  return "softmax";
}

/**
 * Estimated bytes of activations the backward pass reads for `rows` sequences of `length` tokens:
 * per token and layer, ~9 hidden-size vectors (layer inputs, Q, K, V, context, LayerNorm inputs and
 * outputs), 3 feed-forward-size ones (GELU input, its erf term, output) and one attention row per
 * head, in float32 (counted from the saved values of the split training graph).
 */
export function activationBytes(config: BertConfig, rows: number, length: number): number {
  const perTokenLayer = 9 * config.hiddenSize + 3 * config.intermediateSize + config.numHeads * length;
  return 4 * rows * length * config.numLayers * perTokenLayer;
}

/** `feeds` with every name prefixed (the step graph's "q_" and "d_" encoder inputs). */
export function prefixed(prefix: string, feeds: Record<string, InputTensor>): Record<string, InputTensor> {
  return Object.fromEntries(Object.entries(feeds).map(([name, t]) => [prefix + name, t]));
}

const scalar = (v: number): InputTensor => ({ data: Float32Array.of(v), dims: [] });

/** Softmax of one row of x / T, in float64. */
function softmaxRow(row: readonly number[], T: number): number[] {
  const max = Math.max(...row.map((v) => v / T));
  const e = row.map((v) => Math.exp(v / T - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/**
 * The loss inputs of the step graph (see step-graph.ts) for `objective` on `batch`. `totalQueries`
 * is the B the loss averages over: the batch's own, or the whole batch's when `batch` is one part of
 * it (the parts' gradients then add up to the whole batch's).
 */
export function lossFeeds(batch: TrainBatch, objective: ObjectiveOptions, targets: readonly Target[], form: LossForm, totalQueries = batch.queries.rows): Record<string, InputTensor> {
  const B = batch.queries.rows;
  const N = totalQueries;
  const g = batch.group;
  const T = objective.temperature ?? 1;
  if (form === "margin") {
    // Margin-MSE's gradient is linear in the teacher margins: their weighted sum stands for all.
    const margins = new Float32Array(B * (g - 1));
    let weight = 0;
    for (const t of targets) {
      weight += t.weight;
      for (let i = 0; i < B; i++) {
        const row = t.scores[i] as number[];
        for (let j = 1; j < g; j++) margins[i * (g - 1) + j - 1] = (margins[i * (g - 1) + j - 1] as number) + t.weight * ((row[0] as number) - (row[j] as number));
      }
    }
    return { loss_weight: scalar(weight), loss_scale: scalar(2 / (N * (g - 1))), teacher_margins: { data: margins, dims: [B, g - 1] } };
  }
  const inBatch = objective.loss === "contrastive" && objective.inBatchNegatives === true;
  const width = inBatch ? B * g : g;
  const target = new Float32Array(B * width);
  const bias = new Float32Array(B * width);
  let weight = 0;
  if (objective.loss === "contrastive") {
    weight = 1;
    for (let i = 0; i < B; i++) {
      target[i * width + (inBatch ? i * g : 0)] = 1;
      for (let j = 0; j < width; j++) if (inBatch && otherCopyOfPositive(batch.docKeys, i * g, j)) bias[i * width + j] = -1e9;
    }
  } else {
    // KL's gradient is linear in the teachers' probabilities: their weighted sum stands for all.
    for (const t of targets) {
      weight += t.weight;
      for (let i = 0; i < B; i++) softmaxRow(t.scores[i] as number[], T).forEach((p, j) => (target[i * g + j] = (target[i * g + j] as number) + t.weight * p));
    }
  }
  return {
    loss_weight: scalar(weight),
    loss_scale: scalar(1 / (N * T)),
    inv_temperature: scalar(1 / T),
    loss_bias: { data: bias, dims: [B, width] },
    loss_target: { data: target, dims: [B, width] },
  };
}

/**
 * Queries [q0, q1) of `batch` with their documents, teacher scores and document keys: a part of the
 * batch for a loss without in-batch negatives, whose per-query terms do not interact. The token
 * batches keep the whole batch's padded length, so a part's dropout masks are the whole batch's.
 */
export function batchPart(batch: TrainBatch, targets: readonly Target[], q0: number, q1: number): { batch: TrainBatch; targets: Target[] } {
  const g = batch.group;
  const rows = (b: TokenBatch, r0: number, r1: number): TokenBatch => ({
    ids: b.ids.subarray(r0 * b.length, r1 * b.length),
    attention: b.attention.subarray(r0 * b.length, r1 * b.length),
    keep: b.keep.subarray(r0 * b.length, r1 * b.length),
    rows: r1 - r0,
    length: b.length,
  });
  const part: TrainBatch = {
    queries: rows(batch.queries, q0, q1),
    docs: rows(batch.docs, q0 * g, q1 * g),
    group: g,
    scores: Object.fromEntries(Object.entries(batch.scores).map(([name, s]) => [name, s.slice(q0, q1)])),
    ...(batch.docKeys ? { docKeys: batch.docKeys.slice(q0 * g, q1 * g) } : {}),
  };
  return { batch: part, targets: targets.map((t) => ({ scores: t.scores.slice(q0, q1), weight: t.weight })) };
}

/** The loss of one dim's scores, with its gradient with respect to them (float64, score-losses.ts). */
export function scoreLoss(scores: Float32Array, batch: TrainBatch, objective: ObjectiveOptions, targets: readonly Target[]): LossWithGradient {
  const B = batch.queries.rows;
  const g = batch.group;
  const inBatch = objective.loss === "contrastive" && objective.inBatchNegatives === true;
  if (objective.loss === "contrastive") {
    return contrastiveLoss(scores, B, g, { ...(objective.temperature !== undefined ? { temperature: objective.temperature } : {}), inBatchNegatives: inBatch, ...(inBatch && batch.docKeys ? { docIds: batch.docKeys } : {}) });
  }
  const grad = new Float64Array(scores.length);
  let loss = 0;
  for (const t of targets) {
    const teacher = Float64Array.from(t.scores.flat());
    const kl = { temperature: objective.temperature ?? 1, studentNormalization: objective.klStudentNormalization ?? "none" };
    const l = objective.loss === "kl" ? klLoss(scores, teacher, B, g, kl) : marginMseLoss(scores, teacher, B, g);
    loss += t.weight * l.loss;
    for (let i = 0; i < grad.length; i++) grad[i] = (grad[i] as number) + t.weight * (l.grad[i] as number);
  }
  return { loss, grad };
}
