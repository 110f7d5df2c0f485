/**
 * The two-level assignment as it was before its fine stage ran over bigger blocks (kernel calls of
 * 65,536 coarse rows, one Int32Array per group and block): the reference that
 * test/plaid/two-level.test.ts and bench/kmeans-speed.ts compare the current src/plaid/two-level.ts
 * with, bit for bit. The grouping of the centroids is the library's own (`groupCentroids`); what is
 * kept here is the previous fine stage. Not used by the library.
 */
import { ColtsError } from "../../../src/errors.js";
import { OrtArgmaxRows, OrtTopK } from "../../../src/runtime/kernels/matmul.js";
import type { RuntimeOptions } from "../../../src/runtime/session.js";
import { assignExact, type Assignment } from "../../../src/plaid/assign.js";
import { lloydKmeans, type AssignFunction, type LloydOptions } from "../../../src/plaid/lloyd.js";
import { groupCentroids } from "../../../src/plaid/two-level.js";

interface TwoLevelOptionsV1 {
  /** Groups of centroids. Default 2^round(log2(sqrt(k))). Range 1..k. More groups: cheaper fine stage, costlier coarse stage. */
  groups?: number;
  /**
   * Groups searched per vector. Default 16. Range 1..groups (clamped). Higher: closer to exact, slower
   * (the fine stage costs probe * k / groups scores per vector). Measured on clustered dim-128 data,
   * k = 32768, 256 groups: probe 8 -> 97.5% of codes exact, 16 -> 99.1% (14x fewer multiply-adds).
   */
  probe?: number;
  /** Vectors per coarse block. Default 65,536. Results do not depend on it. */
  blockRows?: number;
  /** onnxruntime settings (threads). */
  runtime?: RuntimeOptions;
  /** Seed of the k-means over the centroids. Default 17. */
  seed?: number;
}

/** Nearest-centroid assignment whose setup (sessions, grouping) is paid once for many calls. */
interface Assigner {
  /** vectors: [n, dim] row-major -> best centroid and its score per vector. */
  assign(vectors: Float32Array, n: number): Promise<Assignment>;
  release(): Promise<void>;
}

interface Group {
  /** Global centroid ids of the members, ascending. */
  members: Int32Array;
  /** The members' centroids: [members, dim] row-major. */
  centroids: Float32Array;
  /** The members' bias: [members] (zeros without a bias). */
  bias: Float32Array;
}

/** Default number of groups for k centroids. */
function defaultGroups(k: number): number {
  return Math.max(1, Math.min(k, 2 ** Math.round(Math.log2(Math.sqrt(k)))));
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

/** top: [m, probe] group ids per row -> for each of the g groups, the rows that probe it (ascending). */
function bucketRows(top: Int32Array, m: number, probe: number, g: number): Int32Array[] {
  const counts = new Int32Array(g);
  for (let i = 0; i < m * probe; i++) {
    const c = top[i] as number;
    counts[c] = (counts[c] as number) + 1;
  }
  const out = Array.from(counts, (n) => new Int32Array(n));
  const fill = new Int32Array(g);
  for (let r = 0; r < m; r++) {
    for (let p = 0; p < probe; p++) {
      const c = top[r * probe + p] as number;
      const at = fill[c] as number;
      (out[c] as Int32Array)[at] = r;
      fill[c] = at + 1;
    }
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
 * Builds a two-level assigner for centroids: [k, dim] row-major and bias: [k] or undefined (see
 * assign.ts `assignBlocks` for the score: x·c_j + bias_j, ties to the lowest j).
 */
export async function createTwoLevelAssignerV1(centroids: Float32Array, k: number, dim: number, bias: Float32Array | undefined, opts: TwoLevelOptionsV1 = {}): Promise<Assigner> {
  const g = opts.groups ?? defaultGroups(k);
  if (!Number.isInteger(g) || g < 1 || g > k) throw new ColtsError("INPUT_INVALID", `groups must be an integer in 1..${k}, got ${g}`);
  const probe = Math.min(opts.probe ?? 16, g);
  if (!Number.isInteger(probe) || probe < 1) throw new ColtsError("INPUT_INVALID", `probe must be an integer >= 1, got ${opts.probe}`);
  const blockRows = opts.blockRows ?? 65_536;
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
  // Coarse score: the L2 proximity to the group mean, x·m - |m|²/2.
  const coarse = await OrtTopK.create(means, nLive, dim, probeLive, sqNormBias(means, nLive, dim), runtime);
  const groups: Group[] = live.map(({ ms }) => {
    const members = Int32Array.from(ms);
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

  async function assignBlock(x: Float32Array, m: number, codes: Int32Array, scores: Float32Array, base: number): Promise<void> {
    const top = await coarse.run(x, m); // [m, probeLive]
    // Bucket rows by group, so each group's kernel runs once per block.
    const rowsOf = bucketRows(top, m, probeLive, nLive);
    for (const [c, group] of groups.entries()) {
      const rows = rowsOf[c] as Int32Array;
      if (rows.length === 0) continue;
      const res = await fine.run(x, m, rows, group.centroids, group.members.length, group.bias);
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
      for (let start = 0; start < n; start += blockRows) {
        const m = Math.min(blockRows, n - start);
        await assignBlock(vectors.subarray(start * dim, (start + m) * dim), m, codes, scores, start);
      }
      return { codes, scores };
    },
    async release(): Promise<void> {
      await Promise.all([coarse.release(), fine.release()]);
    },
  };
}

/**
 * k-means as src/plaid/kmeans.ts ran it with the assignment above: exact below `twoLevelFrom`
 * centroids (default 16,384, the "auto" threshold), two-level from there on. Same contract as `kmeans`.
 */
export function kmeansV1(
  points: Float32Array,
  n: number,
  dim: number,
  k: number,
  options: LloydOptions & { twoLevel?: TwoLevelOptionsV1; twoLevelFrom?: number } = {},
): Promise<Float32Array> {
  const from = options.twoLevelFrom ?? 16_384;
  const assign: AssignFunction = async (x, nx, c, kk, d, bias) => {
    if (kk < from) return assignExact(x, nx, c, kk, d, bias);
    const a = await createTwoLevelAssignerV1(c, kk, d, bias, options.twoLevel);
    try {
      return await a.assign(x, nx);
    } finally {
      await a.release();
    }
  };
  return lloydKmeans(points, n, dim, k, assign, options);
}
