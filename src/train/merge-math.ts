/**
 * Element-wise checkpoint-merging kernels on flat tensors (pure math, no I/O). Every function takes
 * tensors of one shape as flat row-major Float32Arrays of equal length, computes in float64 and
 * rounds once to float32 at the end.
 *
 * Sources:
 *  - linear: model soups (Wortsman et al. 2022), weighted average; weights are normalised to sum 1
 *    as mergekit's `linear` method does by default.
 *  - SLERP: mergekit's `slerp` (Goddard et al. 2024, mergekit/merge_methods/slerp.py): the angle is
 *    taken between the L2-normalised tensors, the interpolation is applied to the original
 *    (unnormalised) tensors, and nearly collinear tensors (|cos| > 0.9995) fall back to linear
 *    interpolation, where the sine ratio is numerically unstable.
 *  - TIES: Yadav et al. 2023, "TIES-Merging: Resolving Interference When Merging Models": task vectors
 *    relative to a base are Trimmed to their top-`density` magnitudes, a sign is Elected per entry by
 *    the sign of the summed (weighted) trimmed values, and the values that agree with it are averaged
 *    (disjoint mean), weighted as in mergekit (sum of w_i * tau_i over agreeing models / sum of their w_i).
 */
import { ColtsError } from "../errors.js";

/** mergekit's threshold above which SLERP interpolates linearly. */
export const SLERP_DOT_THRESHOLD = 0.9995;
/** mergekit's epsilon below which a tensor is not normalised (its direction is undefined). */
const NORM_EPS = 1e-8;

function sameLength(tensors: readonly Float32Array[]): number {
  const n = tensors[0]?.length ?? 0;
  if (tensors.some((t) => t.length !== n)) throw new ColtsError("MERGE_INCOMPATIBLE", `tensors of ${tensors.map((t) => t.length).join(" / ")} values cannot be merged`);
  return n;
}

/** Weights that sum to 1 (refuses an all-zero or non-finite list). */
export function normalizeWeights(weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (!Number.isFinite(sum) || sum === 0 || weights.some((w) => !Number.isFinite(w))) {
    throw new ColtsError("INPUT_INVALID", `merge weights must be finite with a non-zero sum, got ${weights.join(", ")}`);
  }
  return weights.map((w) => w / sum);
}

/** sum_i weights[i] * tensors[i]; weights are used as given (normalise them first for an average). */
export function linearMerge(tensors: readonly Float32Array[], weights: readonly number[]): Float32Array {
  const n = sameLength(tensors);
  if (weights.length !== tensors.length) throw new ColtsError("INPUT_INVALID", `${weights.length} weights for ${tensors.length} tensors`);
  const acc = new Float64Array(n);
  tensors.forEach((t, m) => {
    const w = weights[m] ?? 0;
    if (w === 0) return; // exact: a zero weight contributes nothing, even where the tensor is huge
    for (let i = 0; i < n; i++) acc[i] = (acc[i] ?? 0) + w * (t[i] ?? 0);
  });
  return Float32Array.from(acc);
}

function norm(v: Float32Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

/**
 * Spherical interpolation from `a` (t = 0) to `b` (t = 1), as mergekit: cos = <a/|a|, b/|b|>;
 * |cos| > 0.9995 -> (1 - t) a + t b; else sin((1 - t) theta) / sin(theta) * a + sin(t theta) / sin(theta) * b.
 */
export function slerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  const n = sameLength([a, b]);
  if (!(t >= 0 && t <= 1)) throw new ColtsError("INPUT_INVALID", `SLERP t must be in [0, 1], got ${t}`);
  const na = norm(a);
  const nb = norm(b);
  const sa = na > NORM_EPS ? 1 / na : 1;
  const sb = nb > NORM_EPS ? 1 / nb : 1;
  let dot = 0;
  for (let i = 0; i < n; i++) dot += (a[i] ?? 0) * sa * (b[i] ?? 0) * sb;
  if (Math.abs(dot) > SLERP_DOT_THRESHOLD) return linearMerge([a, b], [1 - t, t]);
  const theta = Math.acos(dot);
  const sinTheta = Math.sin(theta);
  return linearMerge([a, b], [Math.sin((1 - t) * theta) / sinTheta, Math.sin(t * theta) / sinTheta]);
}

/**
 * The k-th smallest value (0-based) of `a`, reordering `a` in place: quickselect with a
 * median-of-three pivot, O(n) on average (a full sort of a 12M-entry embedding table is several
 * times slower).
 */
export function selectKth(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    const [x, y, z] = [a[lo] as number, a[mid] as number, a[hi] as number];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i] = a[j] as number;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k] as number;
  }
  return a[k] as number;
}

/**
 * TIES trim: keeps the round(density * n) entries of largest magnitude (ties at the threshold kept in
 * index order, so exactly that many survive) and zeroes the rest. delta: [n]. Returns a new array.
 */
export function trimToDensity(delta: Float64Array, density: number): Float64Array {
  if (!(density > 0 && density <= 1)) throw new ColtsError("INPUT_INVALID", `TIES density must be in (0, 1], got ${density}`);
  const n = delta.length;
  const keep = Math.round(density * n);
  const out = new Float64Array(n);
  if (keep === 0) return out;
  const mags = new Float64Array(n);
  for (let i = 0; i < n; i++) mags[i] = Math.abs(delta[i] as number);
  const threshold = selectKth(mags, n - keep);
  let above = 0;
  for (let i = 0; i < n; i++) if (Math.abs(delta[i] as number) > threshold) above++;
  let tiesLeft = keep - above;
  for (let i = 0; i < n; i++) {
    const m = Math.abs(delta[i] as number);
    if (m > threshold || (m === threshold && tiesLeft-- > 0)) out[i] = delta[i] as number;
  }
  return out;
}

/**
 * TIES merge of `tensors` onto `base`: tau_m = w_m * trim(tensors[m] - base); sign = sign(sum_m tau_m);
 * merged = base + lambda * sum_{m agreeing} tau_m / sum_{m agreeing} w_m (agreeing: tau_m != 0 with
 * the elected sign; entries where no model agrees stay at the base value).
 */
export function tiesMerge(base: Float32Array, tensors: readonly Float32Array[], weights: readonly number[], density: number, lambda = 1): Float32Array {
  const n = sameLength([base, ...tensors]);
  if (weights.length !== tensors.length) throw new ColtsError("INPUT_INVALID", `${weights.length} weights for ${tensors.length} tensors`);
  const taus = tensors.map((t, m) => {
    const delta = new Float64Array(n);
    for (let i = 0; i < n; i++) delta[i] = (t[i] ?? 0) - (base[i] ?? 0);
    const trimmed = trimToDensity(delta, density);
    const w = weights[m] ?? 1;
    for (let i = 0; i < n; i++) trimmed[i] = (trimmed[i] ?? 0) * w;
    return trimmed;
  });
  const out = new Float32Array(n);
  const w = Float64Array.from(weights);
  for (let i = 0; i < n; i++) {
    let mass = 0;
    for (const tau of taus) mass += tau[i] as number;
    let sum = 0;
    let wsum = 0;
    for (let m = 0; m < taus.length; m++) {
      const v = (taus[m] as Float64Array)[i] as number;
      // Agrees with the elected sign (a zero mass elects nothing).
      if ((v > 0 && mass > 0) || (v < 0 && mass < 0)) {
        sum += v;
        wsum += w[m] as number;
      }
    }
    out[i] = (base[i] as number) + (wsum !== 0 ? (lambda * sum) / wsum : 0);
  }
  return out;
}
