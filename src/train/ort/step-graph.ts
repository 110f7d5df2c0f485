/**
 * A whole training micro-batch as one onnxruntime run: both encoder passes (queries and documents,
 * shared weights), the MaxSim scores per trained dim, the loss's gradient with respect to those
 * scores, and the backward pass to every weight. Activations stay inside onnxruntime between the
 * forward and backward halves, so nothing is encoded twice (GradCache's recomputation) and nothing
 * is copied out; the price is holding the whole micro-batch's activations at once (the trainer
 * falls back to GradCache above its activation budget).
 *
 * The loss's gradient is computed in the graph from the scores (float32); the loss value itself is
 * computed afterwards in JavaScript (float64, score-losses.ts) from the scores the graph returns.
 * Every loss colts has takes one of two forms, with the teachers combined by the caller:
 *   "softmax" (contrastive, KL): dS = (w·softmax(S·invT + bias) − P)·scale, with P the target
 *     distribution (one-hot positive, or the teachers' weighted probabilities), w the sum of the
 *     teachers' weights (1 for contrastive), bias −1e9 on left-out columns, scale = 1/(B·T);
 *   "margin" (Margin-MSE): with m_j = S_0 − S_j and M_j the teachers' weighted margins,
 *     r_j = (w·m_j − M_j)·scale, scale = 2/(B·(g−1)); dS_0 = Σ_j r_j, dS_j = −r_j.
 * (score-losses.ts derives the same gradients; a test holds the two paths together.)
 *
 * Inputs: the weights; q_<encoder input> for the queries [B, Lq] and d_<encoder input> for the
 * documents (encoder-graph.ts, with the ids' distinct values and, with dropout, keep masks;
 * packed documents also take d_pad_index and d_unpad_index);
 * q_keep [B, Lq]; d_bias (scores-graph.ts layout); the loss inputs: loss_weight [], loss_scale [],
 * and for "softmax" inv_temperature [], loss_bias and loss_target [B, width]; for "margin"
 * teacher_margins [B, g−1].
 * Outputs: scores_<d> [B, width] per trained dim; grad/<weight name>.
 */
import { DiffGraph, type Value } from "../../runtime/autodiff/diff-graph.js";
import type { OnnxModel } from "../../runtime/onnx/proto.js";
import { declareWeights, encodeSequences, unusedWeights, type EncoderGraphSpec } from "./encoder-graph.js";
import { docBiasShape, maxSimScores } from "./scores-graph.js";

/** How the loss's gradient follows from the scores (see the module comment). */
export type LossForm = "softmax" | "margin";

/** What the step graph computes. */
export interface StepGraphSpec extends Omit<EncoderGraphSpec, "backward" | "dtype" | "packed"> {
  /** "all": every query against every document (in-batch negatives); "group": each query against its own group. */
  mode: "all" | "group";
  /** Documents per query. */
  group: number;
  /** The loss's form. */
  loss: LossForm;
  /**
   * Whether the documents come packed (encoder-graph.ts: only their real tokens through every
   * per-token layer; attention still sees [B, S]). Same scores and gradients as padded; the
   * projections and feed-forward layers skip the padding's work. Default false.
   */
  packDocuments?: boolean;
}

/** The built graph and the names a caller reads. */
export interface StepGraph {
  /** The ONNX model. */
  model: OnnxModel;
  /** Every weight input, in a fixed order, with its shape. */
  weights: { name: string; shape: number[] }[];
  /** Score output per dim (`scores_<d>`). */
  scores: Map<number, string>;
  /** The gradient output per weight name (`grad/<name>`). */
  gradOutputs: Map<string, string>;
  /** Weights no trained dim depends on (no gradient). */
  unused: Set<string>;
}

/** The loss inputs of `form`, declared once; returns dS as a function of one dim's scores. */
function lossGradient(dg: DiffGraph, form: LossForm): (scores: Value) => string {
  const g = dg.g;
  const weight = dg.input("loss_weight", []).name;
  const scale = dg.input("loss_scale", []).name;
  if (form === "softmax") {
    const invT = dg.input("inv_temperature", []).name;
    const bias = dg.input("loss_bias", ["B", "W"]).name;
    const target = dg.input("loss_target", ["B", "W"]).name;
    // (w·softmax(S·invT + bias) − P)·scale
    return (scores) => g.mul(g.sub(g.mul(g.softmax(g.add(g.mul(scores.name, invT), bias), -1), weight), target), scale);
  }
  const margins = dg.input("teacher_margins", ["B", "G1"]).name;
  return (scores) => marginGradient(g, scores, weight, scale, margins);
}

/** dS for the "margin" form: r = (w·(S_0 − S_j) − M_j)·scale; dS = [Σ_j r_j, −r]. */
function marginGradient(g: DiffGraph["g"], scores: Value, weight: string, scale: string, margins: string): string {
  const positive = g.slice(scores.name, [0], [1], [1]); // [B, 1]
  const negatives = g.slice(scores.name, [1], [2 ** 31 - 1], [1]); // [B, g-1]
  const r = g.mul(g.sub(g.mul(g.sub(positive, negatives), weight), margins), scale);
  return g.concat([g.reduceSum(r, [1], true), g.op("Neg", [r])], 1);
}

/** Builds the step graph (see the module comment). */
export function buildStepGraph(spec: StepGraphSpec): StepGraph {
  const dg = new DiffGraph({ name: "colbert_train_step" });
  const { W, shapes } = declareWeights(dg, spec);
  const queries = encodeSequences(dg, W, spec, "q_", true);
  const docs = encodeSequences(dg, W, spec, "d_", true, spec.packDocuments ?? false);
  const qKeep = dg.input("q_keep", ["NQ", "LQ"]);
  const dBias = dg.input("d_bias", docBiasShape(spec.mode, spec.group));
  const gradientOf = lossGradient(dg, spec.loss);
  const seeds: { value: Value; grad: string }[] = [];
  const scores = new Map<number, string>();
  for (const d of spec.dims) {
    const s = maxSimScores(dg, queries.get(d) as Value, docs.get(d) as Value, qKeep, dBias, spec.mode, spec.group);
    dg.output(`scores_${d}`, s);
    scores.set(d, `scores_${d}`);
    seeds.push({ value: s, grad: gradientOf(s) });
  }
  const gradOutputs = new Map<string, string>();
  dg.gradients(seeds, shapes.map((s) => W(s.name))).forEach((grad, i) => {
    const s = shapes[i] as { name: string; shape: number[] };
    dg.g.output(`grad/${s.name}`, dg.dtype, s.shape, grad);
    gradOutputs.set(s.name, `grad/${s.name}`);
  });
  return { model: dg.toModel("colts trainer step"), weights: shapes, scores, gradOutputs, unused: unusedWeights(spec, shapes.map((s) => s.name)) };
}
