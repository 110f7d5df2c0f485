/**
 * MaxSim scores of a batch as a differentiable graph, with the query and document vectors as its
 * differentiable inputs: the loss's gradient with respect to the scores (computed in float64 by
 * score-losses.ts) goes in, the gradients with respect to every vector come out, routed to each
 * query token's best document token.
 *
 * Inputs:  q: [nq, Lq, d] unit rows; docs: [nd, Ld, d] unit rows; q_keep: [nq, Lq] (1 = the token
 *          counts); d_bias: 0 for kept document tokens, -1e4 for removed ones (so they never win),
 *          laid out [1, 1, nd, Ld] in "all" mode and [nq, 1, g, Ld] in "group" mode.
 * Output:  scores: [nq, nd] all pairs, or [nq, g] each query against its own group (docs
 *          [i*g, (i+1)*g) of query i) in "group" mode.
 * Backward: input grad_scores (the output's shape); outputs grad_q, grad_docs.
 */
import { DiffGraph, type FloatType, type Value } from "../../runtime/autodiff/diff-graph.js";
import type { OnnxModel } from "../../runtime/onnx/proto.js";

/** What the scores graph computes. */
export interface ScoresGraphSpec {
  /** Vector width. */
  dim: number;
  /** "all": every query against every document (in-batch negatives); "group": each query against its own group. */
  mode: "all" | "group";
  /** Documents per query (group mode). */
  group: number;
  /** Whether to append the backward pass. */
  backward: boolean;
  /** FLOAT for training, DOUBLE for gradient checks. Default FLOAT. */
  dtype?: FloatType;
}

/**
 * MaxSim of queries q [NQ, LQ, d] against documents docs [ND, LD, d] inside `dg` (see the module
 * comment for the layouts of q_keep and d_bias): [NQ, ND] in "all" mode, [NQ, g] in "group" mode.
 */
export function maxSimScores(dg: DiffGraph, q: Value, docs: Value, qKeep: Value, dBias: Value, mode: "all" | "group", group: number): Value {
  const d = q.shape[2] as number;
  const g = dg.g;
  const nqLq = g.shape(q.name, 0, 2);
  let best: Value;
  if (mode === "all") {
    const ndLd = g.shape(docs.name, 0, 2);
    const flatQ = dg.reshape(q, [-1, d], ["NQLQ", d]);
    const flatD = dg.reshape(docs, [-1, d], ["NDLD", d]);
    const sims = dg.reshape(dg.matMul(flatQ, dg.transpose(flatD, [1, 0])), g.concat([nqLq, ndLd], 0), ["NQ", "LQ", "ND", "LD"]);
    best = dg.maxOver(dg.add(sims, dBias), 3); // [NQ, LQ, ND]
  } else {
    const perQuery = dg.reshape(docs, g.concat([g.shape(q.name, 0, 1), g.int64s([-1, d])], 0), ["NQ", "GLD", d]); // [NQ, g*LD, d]
    const sims = dg.matMul(q, dg.transpose(perQuery, [0, 2, 1])); // [NQ, LQ, g*LD]
    const shape4 = g.concat([nqLq, g.int64s([group, -1])], 0);
    best = dg.maxOver(dg.add(dg.reshape(sims, shape4, ["NQ", "LQ", group, "LD"]), dBias), 3); // [NQ, LQ, g]
  }
  return dg.reduceSum(dg.mul(best, dg.reshape(qKeep, [0, 0, 1], ["NQ", "LQ", 1])), [1], false); // [NQ, ND or g]
}

/** The layout of d_bias in `mode` (see the module comment). */
export function docBiasShape(mode: "all" | "group", group: number): (string | number)[] {
  return mode === "all" ? [1, 1, "ND", "LD"] : ["NQ", 1, group, "LD"];
}

/** Builds the scores graph (see the module comment). */
export function buildScoresGraph(spec: ScoresGraphSpec): OnnxModel {
  const d = spec.dim;
  const dg = new DiffGraph({ name: "maxsim_scores", ...(spec.dtype ? { dtype: spec.dtype } : {}) });
  const q = dg.param("q", ["NQ", "LQ", d]);
  const docs = dg.param("docs", ["ND", "LD", d]);
  const qKeep = dg.input("q_keep", ["NQ", "LQ"]);
  const scores = maxSimScores(dg, q, docs, qKeep, dg.input("d_bias", docBiasShape(spec.mode, spec.group)), spec.mode, spec.group);
  dg.output("scores", scores);
  if (spec.backward) {
    const seed = dg.input("grad_scores", scores.shape).name;
    const [gq, gd] = dg.gradients([{ value: scores, grad: seed }], [q, docs]);
    dg.g.output("grad_q", dg.dtype, [...q.shape], gq);
    dg.g.output("grad_docs", dg.dtype, [...docs.shape], gd);
  }
  return dg.toModel("colts trainer scores");
}
