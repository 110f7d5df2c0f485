/**
 * Two-level nearest-centroid assignment, for PLAID's default centroid counts on CPUs.
 *
 * Exact assignment costs n * k * dim multiply-adds: at PLAID's default k (2^17 for 64M vectors) that
 * is ~10^15 for compression alone, hours on two cores. Here the k centroids are first clustered into
 * G groups (k-means over the centroids, G ~ sqrt(k)); a vector is scored against the G group means,
 * and then exactly against the members of its `probe` best groups only: n * (G + probe * k / G) * dim,
 * ~100x less at k = 2^17. It is the IVF idea applied to the centroids themselves (faiss' IndexIVFFlat
 * as a coarse quantizer; the same trade as next-plaid's and fast-plaid's GPU-free paths avoid by
 * brute force on accelerators).
 *
 * What it trades: a vector whose best centroid sits in a group outside its top `probe` gets the best
 * centroid of the groups it did look at (a near-best one, so its residual is a little larger and is
 * still encoded). `probe = groups` gives the exact answer. The agreement with exact assignment is
 * measured in test/plaid/two-level.test.ts and by bench/plaid-synthetic.ts (`--assignment`).
 */
import { ColtsError } from "../errors.js";
import { OrtArgmax, OrtArgmaxRows, OrtTopK } from "../runtime/kernels/matmul.js";
import type { RuntimeOptions } from "../runtime/session.js";
import { assignExact, type Assignment } from "./assign.js";
import { bucketRows } from "./buckets.js";
import { assignWithCandidates, nearestCentroidLists } from "./refine.js";
import { lloydKmeans, normalizeRows, type AssignFunction } from "./lloyd.js";

export interface TwoLevelOptions {
  /**
   * Groups of centroids. Default 2^round(log2(sqrt(probe * k))), which minimises the scores per
   * vector (groups + probe * k / groups). Range 1..k. More groups: cheaper fine stage, costlier
   * coarse stage. Measured on a 100k-document build's final centroids (k 32,768, probe 16, 130k
   * vectors, 4 alternating repetitions): 256 groups 2.45 s and 98.72% of codes exact, 512 groups
   * 1.97 s and 98.66%, 1,024 (the default) 2.19 s and 99.23%.
   */
  groups?: number;
  /**
   * Groups searched per vector. Default 16. Range 1..groups (clamped). Higher: closer to exact, slower
   * (the fine stage costs probe * k / groups scores per vector). Measured on clustered dim-128 data,
   * k = 32768, 256 groups: probe 8 -> 97.5% of codes exact, 16 -> 99.1% (14x fewer multiply-adds).
   */
  probe?: number;
  /**
   * Vectors per block. The fine stage makes one kernel call per group and block, so bigger blocks make
   * fewer, larger calls; they cost blockRows * probe * 8 bytes of bookkeeping (8 MiB at the default),
   * and the coarse stage still scores at most COARSE_SCORES / groups of them per call. bench/kmeans-speed.ts
   * (K 32,768, 196,608 vectors) measured 262,144-row blocks at 0.78x the time on a loaded machine
   * but 1.09x on a quiet one, and 65,536 at 0.98x of the previous code quiet: no size wins, so the
   * default stays 65,536. Range: integer >= 1. Results do not depend on it (codes and scores are
   * bit-identical).
   */
  blockRows?: number;
  /** onnxruntime settings (threads). */
  runtime?: RuntimeOptions;
  /** Seed of the k-means over the centroids. Default 17. */
  seed?: number;
  /**
   * Fine stage by hint instead of by probe: a vector's hint is its one nearest group (an arg-max, no
   * top-k), and it is scored against the `candidates` centroids nearest to that group's mean, in
   * batched slots (refine.ts). Default: unset, the probe search. Range: integer >= 1, clamped to k.
   * What it trades: a vector near a group border is not searched in the neighbouring groups' own
   * terms. Measured at k 32,768 (1,024 groups), 262,144 held-out clustered vectors, one process:
   * 512 candidates 2.6 s and 99.68% of codes exact, 256 candidates 2.4 s and 99.40%, the probe
   * search 3.9 s and 99.97%. As the default of a 100k build (512) it was 1.19x faster end to end
   * but its codec recalled 0.819 of the float top-10 against 0.838 (bench/RESULTS.md), so the probe
   * search stays the default.
   */
  candidates?: number;
}

/** Nearest-centroid assignment whose setup (sessions, grouping) is paid once for many calls. */
export interface Assigner {
  /** vectors: [n, dim] row-major -> best centroid and its score per vector. */
  assign(vectors: Float32Array, n: number): Promise<Assignment>;
  release(): Promise<void>;
}

interface Group {
  /** Global centroid ids of the members, ascending (a lone member twice, see createTwoLevelAssigner). */
  members: Int32Array;
  /** The members' centroids: [members, dim] row-major. */
  centroids: Float32Array;
  /** The members' bias: [members] (zeros without a bias). */
  bias: Float32Array;
}

/** Scratch of one `assign` call, reused by its blocks (calls may overlap, so it is not shared across them). */
interface Scratch {
  /** [blockRows, probe] coarse picks: group ids per row. */
  top: Int32Array;
  /** [blockRows * probe] block rows bucketed by group (see `bucketRows`). */
  bucketed: Int32Array;
  /** [groups + 1] bucket starts. */
  start: Int32Array;
  /** [groups] fill positions. */
  cursor: Int32Array;
}

/** Default `blockRows`: vectors per fine-stage block. */
export const DEFAULT_BLOCK_ROWS = 65_536;

/** Most scores of one coarse kernel call ([rows, groups] floats: 64 MiB), which bounds its rows. */
const COARSE_SCORES = 1 << 24;

/** Default groups searched per vector. */
export const DEFAULT_PROBE = 16;

/** Default number of groups for k centroids searched `probe` groups at a time. */
export function defaultGroups(k: number, probe = DEFAULT_PROBE): number {
  return Math.max(1, Math.min(k, 2 ** Math.round(Math.log2(Math.sqrt(probe * k)))));
}

function gatherRows(x: Float32Array, rows: ArrayLike<number>, count: number, dim: number): Float32Array {
  // x: [*, dim] row-major -> [count, dim]: the listed rows.
  const out = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    const r = rows[i] as number;
    out.set(x.subarray(r * dim, (r + 1) * dim), i * dim);
  }
  return out;
}


function sqNormBias(x: Float32Array, rows: number, dim: number): Float32Array {
  const bias = new Float32Array(rows);
  for (let j = 0; j < rows; j++) {
    let s = 0;
    for (let t = j * dim; t < (j + 1) * dim; t++) s += (x[t] as number) * (x[t] as number);
    bias[j] = -0.5 * s;
  }
  return bias;
}

/**
 * Groups centroids: [k, dim] by a seeded k-means into `g` groups; returns the group of each
 * centroid ([k]) and the group means ([g, dim], means of the members as given, not normalised).
 *
 * The grouping is by direction: k-means runs on unit copies of the centroids. Lloyd's centroids
 * between rounds are plain means, whose norms spread (a tight cluster's mean is near unit length,
 * a spread one's much shorter), and L2 k-means over such points collapses into a few huge groups:
 * on the third round of a 100k-document build (norms 0.29-1.0) the largest of 256 groups held
 * 3,216 centroids (median 9), each vector's fine stage scored 30,605 centroids instead of ~2,100,
 * and that round took 8x the others. Unit copies gave groups of 64-193 on the same centroids.
 */
export async function groupCentroids(centroids: Float32Array, k: number, dim: number, g: number, seed: number, runtime: RuntimeOptions = {}): Promise<{ groupOf: Int32Array; means: Float32Array }> {
  const exact: AssignFunction = (x, n, c, kk, d, bias) => assignExact(x, n, c, kk, d, bias, { runtime });
  const unit = new Float32Array(centroids);
  normalizeRows(unit, k, dim);
  const means0 = await lloydKmeans(unit, k, dim, g, exact, { seed, iterations: 8, normalize: false, maxPointsPerCentroid: Infinity });
  const fused = await OrtArgmax.create(means0, g, dim, sqNormBias(means0, g, dim), runtime);
  let groupOf: Int32Array;
  try {
    groupOf = (await fused.run(unit, k)).codes;
  } finally {
    await fused.release();
  }
  // Means of the final groups (an empty group keeps its k-means centre and gets no member).
  const means = new Float32Array(means0);
  const counts = new Float64Array(g);
  const sums = new Float64Array(g * dim);
  for (let j = 0; j < k; j++) {
    const c = groupOf[j] as number;
    counts[c] = (counts[c] as number) + 1;
    for (let t = 0; t < dim; t++) sums[c * dim + t] = (sums[c * dim + t] as number) + (centroids[j * dim + t] as number);
  }
  for (let c = 0; c < g; c++) {
    const cnt = counts[c] as number;
    if (cnt > 0) for (let t = 0; t < dim; t++) means[c * dim + t] = (sums[c * dim + t] as number) / cnt;
  }
  return { groupOf, means };
}

/**
 * Builds a two-level assigner for centroids: [k, dim] row-major and bias: [k] or undefined (see
 * assign.ts `assignBlocks` for the score: x·c_j + bias_j, ties to the lowest j).
 */
export async function createTwoLevelAssigner(centroids: Float32Array, k: number, dim: number, bias: Float32Array | undefined, opts: TwoLevelOptions = {}): Promise<Assigner> {
  const g = opts.groups ?? defaultGroups(k, opts.probe ?? DEFAULT_PROBE);
  if (!Number.isInteger(g) || g < 1 || g > k) throw new ColtsError("INPUT_INVALID", `groups must be an integer in 1..${k}, got ${g}`);
  const probe = Math.min(opts.probe ?? DEFAULT_PROBE, g);
  if (!Number.isInteger(probe) || probe < 1) throw new ColtsError("INPUT_INVALID", `probe must be an integer >= 1, got ${opts.probe}`);
  const blockRows = opts.blockRows ?? DEFAULT_BLOCK_ROWS;
  if (!Number.isInteger(blockRows) || blockRows < 1) throw new ColtsError("INPUT_INVALID", `blockRows must be an integer >= 1, got ${opts.blockRows}`);
  const runtime = opts.runtime ?? {};
  const grouped = await groupCentroids(centroids, k, dim, g, opts.seed ?? 17, runtime);
  // Groups that kept members (k-means can leave one empty); the coarse stage only sees these.
  const memberLists = Array.from({ length: g }, () => [] as number[]);
  grouped.groupOf.forEach((c, j) => memberLists[c]?.push(j));
  const live = memberLists.map((ms, c) => ({ ms, c })).filter((e) => e.ms.length > 0);
  const nLive = live.length;
  const means = new Float32Array(nLive * dim);
  live.forEach((e, i) => means.set(grouped.means.subarray(e.c * dim, (e.c + 1) * dim), i * dim));
  const probeLive = Math.min(probe, nLive);
  const coarseRows = Math.max(1, Math.floor(COARSE_SCORES / nLive));
  if (opts.candidates !== undefined) return createHintedAssigner(centroids, k, dim, bias, means, nLive, Math.min(opts.candidates, k), coarseRows, runtime);
  // Coarse score: the L2 proximity to the group mean, x·m - |m|²/2.
  const coarse = await OrtTopK.create(means, nLive, dim, probeLive, sqNormBias(means, nLive, dim), runtime);
  const groups: Group[] = live.map(({ ms }) => {
    // A one-member group is scored as two copies of its member (ties go to the first): a product
    // with one column, like one with one row (see assignBlock), takes onnxruntime's matrix-vector
    // path, whose sums can differ in the last bit with the number of rows.
    const members = Int32Array.from(ms.length === 1 ? [ms[0] as number, ms[0] as number] : ms);
    return {
      members,
      centroids: gatherRows(centroids, members, members.length, dim),
      bias: bias ? Float32Array.from(members, (j) => bias[j] as number) : new Float32Array(members.length),
    };
  });
  let fine: OrtArgmaxRows;
  try {
    fine = await OrtArgmaxRows.create(dim, runtime);
  } catch (e) {
    await coarse.release();
    throw e;
  }

  async function assignBlock(x: Float32Array, m: number, codes: Int32Array, scores: Float32Array, base: number, scratch: Scratch): Promise<void> {
    // x: [m, dim]. Coarse picks in calls of at most coarseRows rows (bounds onnxruntime's
    // [rows, groups] score block); the fine stage then runs once per group over all m rows.
    const { top, bucketed, start, cursor } = scratch;
    for (let r0 = 0; r0 < m; r0 += coarseRows) {
      const mc = Math.min(coarseRows, m - r0);
      top.set(await coarse.run(x.subarray(r0 * dim, (r0 + mc) * dim), mc), r0 * probeLive); // [mc, probeLive]
    }
    bucketRows(top, m, probeLive, start, cursor, bucketed);
    for (const [c, group] of groups.entries()) {
      const from = start[c] as number;
      const to = start[c + 1] as number;
      if (to === from) continue;
      const rows = bucketed.subarray(from, to);
      // A one-row product takes onnxruntime's matrix-vector path, whose sums can differ in the last
      // bit from the matrix path's; scoring the row twice keeps every score independent of blockRows.
      const feed = rows.length === 1 ? Int32Array.of(rows[0] as number, rows[0] as number) : rows;
      const res = await fine.run(x, m, feed, group.centroids, group.members.length, group.bias);
      for (let i = 0; i < rows.length; i++) {
        const at = base + (rows[i] as number);
        const s = res.scores[i] as number;
        const id = group.members[res.codes[i] as number] as number;
        if (s > (scores[at] as number) || (s === scores[at] && id < (codes[at] as number))) {
          scores[at] = s;
          codes[at] = id;
        }
      }
    }
  }

  return {
    async assign(vectors: Float32Array, n: number): Promise<Assignment> {
      if (vectors.length !== n * dim) throw new ColtsError("INPUT_INVALID", `vectors: expected ${n * dim} values, got ${vectors.length}`);
      const codes = new Int32Array(n).fill(k);
      const scores = new Float32Array(n).fill(-Infinity);
      const most = Math.min(n, blockRows) * probeLive;
      const scratch: Scratch = { top: new Int32Array(most), bucketed: new Int32Array(most), start: new Int32Array(nLive + 1), cursor: new Int32Array(nLive) };
      for (let start = 0; start < n; start += blockRows) {
        const m = Math.min(blockRows, n - start);
        await assignBlock(vectors.subarray(start * dim, (start + m) * dim), m, codes, scores, start, scratch);
      }
      return { codes, scores };
    },
    async release(): Promise<void> {
      await Promise.all([coarse.release(), fine.release()]);
    },
  };
}

/**
 * The hinted fine stage (TwoLevelOptions.candidates): each vector's nearest group mean (means:
 * [groups, dim]) is its hint, and the l centroids nearest that mean are its candidates.
 */
async function createHintedAssigner(centroids: Float32Array, k: number, dim: number, bias: Float32Array | undefined, means: Float32Array, groups: number, l: number, coarseRows: number, runtime: RuntimeOptions): Promise<Assigner> {
  if (!Number.isInteger(l) || l < 1) throw new ColtsError("INPUT_INVALID", `candidates must be an integer >= 1, got ${l}`);
  const candidates = { table: await nearestCentroidLists(means, groups, centroids, k, dim, bias, l, runtime), l };
  const nearestGroup = await OrtArgmax.create(means, groups, dim, sqNormBias(means, groups, dim), runtime);
  return {
    async assign(vectors: Float32Array, n: number): Promise<Assignment> {
      if (vectors.length !== n * dim) throw new ColtsError("INPUT_INVALID", `vectors: expected ${n * dim} values, got ${vectors.length}`);
      const hints = new Int32Array(n);
      for (let r0 = 0; r0 < n; r0 += coarseRows) {
        const m = Math.min(coarseRows, n - r0);
        hints.set((await nearestGroup.run(vectors.subarray(r0 * dim, (r0 + m) * dim), m)).codes, r0);
      }
      return assignWithCandidates(vectors, n, hints, candidates, centroids, k, dim, bias, { runtime });
    },
    release: () => nearestGroup.release(),
  };
}
