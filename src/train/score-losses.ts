/**
 * The training losses over a batch's MaxSim scores, in float64, each with its hand-derived gradient
 * with respect to the scores (the onnxruntime trainer feeds that gradient back through the scores
 * and encoder graphs). Layout: B queries, each with a group of g documents, positive first;
 * group scores s: [B, g] row-major; all-pairs scores: [B, B*g], query i's group at columns
 * [i*g, (i+1)*g). Teacher scores t: [B, g], aligned with the group. Sources: docs/DESIGN.md "Training".
 */
import { ColtsError } from "../errors.js";

/** A loss value and its gradient with respect to the scores (same layout as the scores). */
export interface LossWithGradient {
  /** The loss (a mean over queries, or over query-negative pairs for Margin-MSE). */
  loss: number;
  /** dLoss / dScores, row-major like the scores. */
  grad: Float64Array;
}

/** Options of the contrastive loss. */
export interface ContrastiveLossOptions {
  /** Scores are divided by it before the softmax. Default 1; smaller sharpens. Range > 0. */
  temperature?: number;
  /** The scores are all pairs [B, B*g] and every other query's documents are negatives too. Default false. */
  inBatchNegatives?: boolean;
  /**
   * With in-batch negatives: the id of each document column ([B*g]). A column holding the same
   * document as query i's positive (another query's copy of it) is left out of query i's softmax
   * rather than counted as a negative. Default: columns are all distinct documents.
   */
  docIds?: readonly string[];
}

/** log Σ exp over the kept entries of one row (max-shifted). */
function logSumExp(row: Float64Array, kept: (j: number) => boolean): number {
  let max = -Infinity;
  for (let j = 0; j < row.length; j++) if (kept(j) && (row[j] as number) > max) max = row[j] as number;
  let sum = 0;
  for (let j = 0; j < row.length; j++) if (kept(j)) sum += Math.exp((row[j] as number) - max);
  return max + Math.log(sum);
}

function checkShape(scores: ArrayLike<number>, B: number, width: number, what: string): void {
  if (scores.length !== B * width) throw new ColtsError("INPUT_INVALID", `${what}: ${scores.length} scores for ${B} x ${width}`);
}

/**
 * Whether column j holds another copy of the document in column `target` (the query's positive), by
 * document id: in-batch negatives leave such a column out of that query's softmax. No ids: never.
 */
export function otherCopyOfPositive(docIds: readonly string[] | undefined, target: number, j: number): boolean {
  return docIds !== undefined && j !== target && docIds[j] === docIds[target];
}

/**
 * ColBERT's cross-entropy: mean over queries of −log softmax(s_i / T)[positive of i]. Gradient:
 * (softmax − one-hot) / (B·T) on the kept columns, 0 on the left-out ones.
 */
export function contrastiveLoss(scores: ArrayLike<number>, B: number, g: number, opts: ContrastiveLossOptions = {}): LossWithGradient {
  const T = opts.temperature ?? 1;
  if (!(T > 0)) throw new ColtsError("INPUT_INVALID", `temperature must be > 0, got ${T}`);
  const width = opts.inBatchNegatives ? B * g : g;
  if (width < 2) throw new ColtsError("INPUT_INVALID", "the contrastive loss needs a negative: at least 2 documents per query, or in-batch negatives with several queries");
  checkShape(scores, B, width, "contrastive loss");
  if (opts.docIds && opts.docIds.length !== B * g) throw new ColtsError("INPUT_INVALID", `${opts.docIds.length} document ids for ${B * g} columns`);
  const grad = new Float64Array(B * width);
  let loss = 0;
  for (let i = 0; i < B; i++) {
    const target = opts.inBatchNegatives ? i * g : 0;
    const kept = (j: number): boolean => !(opts.inBatchNegatives === true && otherCopyOfPositive(opts.docIds, target, j));
    const row = Float64Array.from({ length: width }, (_, j) => (scores[i * width + j] as number) / T);
    const lse = logSumExp(row, kept);
    loss += lse - (row[target] as number);
    for (let j = 0; j < width; j++) {
      if (!kept(j)) continue;
      grad[i * width + j] = (Math.exp((row[j] as number) - lse) - (j === target ? 1 : 0)) / (B * T);
    }
  }
  return { loss: loss / B, grad };
}

/** Log-softmax of one row of x / T. */
function logSoftmaxRow(x: ArrayLike<number>, offset: number, n: number, T: number): Float64Array {
  const row = Float64Array.from({ length: n }, (_, j) => (x[offset + j] as number) / T);
  const lse = logSumExp(row, () => true);
  return row.map((v) => v - lse);
}

/**
 * PyLate's student normalisation for KL: each query's scores min-max scaled to [0, 1],
 * s' = (s − min) / (max − min + 1e-8). Returns the scaled scores and a function that maps a gradient
 * with respect to s' back to s (the min and max entries, the first on ties, also move the scale).
 */
function minMaxRows(x: ArrayLike<number>, B: number, g: number): { scaled: Float64Array; back: (grad: Float64Array) => Float64Array } {
  const scaled = new Float64Array(B * g);
  const lo = new Int32Array(B);
  const hi = new Int32Array(B);
  for (let i = 0; i < B; i++) {
    for (let j = 1; j < g; j++) {
      if ((x[i * g + j] as number) < (x[i * g + (lo[i] as number)] as number)) lo[i] = j;
      if ((x[i * g + j] as number) > (x[i * g + (hi[i] as number)] as number)) hi[i] = j;
    }
    const min = x[i * g + (lo[i] as number)] as number;
    const range = (x[i * g + (hi[i] as number)] as number) - min + 1e-8;
    for (let j = 0; j < g; j++) scaled[i * g + j] = ((x[i * g + j] as number) - min) / range;
  }
  const back = (grad: Float64Array): Float64Array => {
    const out = new Float64Array(B * g);
    for (let i = 0; i < B; i++) {
      const min = x[i * g + (lo[i] as number)] as number;
      const range = (x[i * g + (hi[i] as number)] as number) - min + 1e-8;
      let toMax = 0;
      let toMin = 0;
      for (let j = 0; j < g; j++) {
        const gj = grad[i * g + j] as number;
        out[i * g + j] = gj / range;
        const t = ((x[i * g + j] as number) - min) / (range * range);
        toMax -= gj * t;
        toMin += gj * (t - 1 / range);
      }
      out[i * g + (hi[i] as number)] = (out[i * g + (hi[i] as number)] as number) + toMax;
      out[i * g + (lo[i] as number)] = (out[i * g + (lo[i] as number)] as number) + toMin;
    }
    return out;
  };
  return { scaled, back };
}

/** Options of the KL loss. */
export interface KlLossOptions {
  /** Both score sets are divided by it before the softmax. Default 1. Range > 0. */
  temperature?: number;
  /**
   * "minmax" scales each query's student scores to [0, 1] first, as PyLate's Distillation loss does
   * (its default); "none" (colts' default, as ColBERTv2 and JaColBERT distil) uses the raw scores.
   */
  studentNormalization?: "none" | "minmax";
}

/**
 * KL distillation: mean over queries of KL(softmax(t/T) ‖ softmax(s/T)) = Σ_j p_t (log p_t − log p_s),
 * PyTorch's KLDivLoss(log_softmax(s/T), log_softmax(t/T), log_target=True, reduction="batchmean").
 * Gradient: (p_s − p_t) / (B·T), through the min-max scaling when it is on.
 */
export function klLoss(student: ArrayLike<number>, teacher: ArrayLike<number>, B: number, g: number, opts: KlLossOptions | number = {}): LossWithGradient {
  const o: KlLossOptions = typeof opts === "number" ? { temperature: opts } : opts;
  const temperature = o.temperature ?? 1;
  checkShape(student, B, g, "KL loss");
  checkShape(teacher, B, g, "KL loss teacher");
  const norm = o.studentNormalization === "minmax" ? minMaxRows(student, B, g) : null;
  const s = norm ? norm.scaled : student;
  const grad = new Float64Array(B * g);
  let loss = 0;
  for (let i = 0; i < B; i++) {
    // Log-probabilities as v - logsumexp (not log of a softmax that can underflow to 0 at small T).
    const ls = logSoftmaxRow(s, i * g, g, temperature);
    const lt = logSoftmaxRow(teacher, i * g, g, temperature);
    for (let j = 0; j < g; j++) {
      const t = Math.exp(lt[j] as number);
      if (t > 0) loss += t * ((lt[j] as number) - (ls[j] as number));
      grad[i * g + j] = (Math.exp(ls[j] as number) - t) / (B * temperature);
    }
  }
  return { loss: loss / B, grad: norm ? norm.back(grad) : grad };
}

/**
 * Margin-MSE (Hofstätter et al. 2020): mean over queries i and negatives j of
 * ((s_i0 − s_ij) − (t_i0 − t_ij))². With m_ij that difference and N = B·(g−1):
 * ∂/∂s_i0 = Σ_j 2·m_ij / N, ∂/∂s_ij = −2·m_ij / N.
 */
export function marginMseLoss(student: ArrayLike<number>, teacher: ArrayLike<number>, B: number, g: number): LossWithGradient {
  if (g < 2) throw new ColtsError("INPUT_INVALID", "Margin-MSE needs at least one negative per query");
  checkShape(student, B, g, "Margin-MSE");
  checkShape(teacher, B, g, "Margin-MSE teacher");
  const N = B * (g - 1);
  const grad = new Float64Array(B * g);
  let loss = 0;
  for (let i = 0; i < B; i++) {
    const s0 = student[i * g] as number;
    const t0 = teacher[i * g] as number;
    for (let j = 1; j < g; j++) {
      const m = s0 - (student[i * g + j] as number) - (t0 - (teacher[i * g + j] as number));
      loss += m * m;
      grad[i * g] = (grad[i * g] as number) + (2 * m) / N;
      grad[i * g + j] = (-2 * m) / N;
    }
  }
  return { loss: loss / N, grad };
}

/** How each teacher's scores are rescaled per query before they are combined. */
export type TeacherNormalization = "none" | "minmax" | "zscore";

/**
 * Per query (row of t: [B, g]): "minmax" maps to [0, 1] (a constant row maps to 0), "zscore" to mean 0
 * and unit standard deviation (a constant row maps to 0), "none" leaves scores as they are. Plain
 * numbers: teacher scores are data, not something gradients flow into.
 */
export function normalizeTeacherScores(t: number[][], how: TeacherNormalization): number[][] {
  if (how === "none") return t.map((r) => r.slice());
  return t.map((r) => {
    if (how === "minmax") {
      const lo = Math.min(...r);
      const span = Math.max(...r) - lo;
      return r.map((v) => (span > 0 ? (v - lo) / span : 0));
    }
    const mean = r.reduce((a, b) => a + b, 0) / r.length;
    const sd = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / r.length);
    return r.map((v) => (sd > 0 ? (v - mean) / sd : 0));
  });
}

/**
 * Weighted average of several teachers' (normalised) scores, [B, g] each. For Margin-MSE this is the
 * weighted average of the teachers' margins (margins are linear in the scores).
 */
export function combineTeachers(teachers: number[][][], weights: number[], how: TeacherNormalization): number[][] {
  if (teachers.length === 0 || teachers.length !== weights.length) {
    throw new ColtsError("INPUT_INVALID", `${teachers.length} teachers but ${weights.length} weights`);
  }
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new ColtsError("INPUT_INVALID", "teacher weights must sum to a positive number");
  const normed = teachers.map((t) => normalizeTeacherScores(t, how));
  const first = normed[0] as number[][];
  return first.map((row, b) => row.map((_, j) => normed.reduce((acc, t, k) => acc + ((weights[k] as number) * (t[b]?.[j] ?? 0)) / total, 0)));
}
