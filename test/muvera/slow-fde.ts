/**
 * A slow, literal reference for FDE inner products: for each repetition, every token's SimHash bits
 * and projected vector are computed one by one; tokens are grouped by partition in a Map; the score is
 * the sum over repetitions and partitions of (sum of the query's vectors there) . (mean of the
 * document's vectors there), empty document partitions taking the token nearest in Hamming distance.
 * It shares only the random matrices with the encoder under test.
 */
import type { ResolvedFdeConfig } from "../../src/muvera/config.js";
import type { FdeMatrices, Projection } from "../../src/muvera/random.js";

/** Sign bits of one token, plane 0 first. x: [dim]; planes: [k, dim]. */
function bits(x: Float32Array, planes: Float32Array, k: number, dim: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < k; j++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += x[d]! * planes[j * dim + d]!;
    out.push(s > 0 ? 1 : 0);
  }
  return out;
}

/** Partition of a bit string read as a Gray code: binary bit i = XOR of Gray bits 0..i. */
function grayToPartition(b: number[]): number {
  let p = 0;
  let running = 0;
  for (const bit of b) {
    running ^= bit;
    p = p * 2 + running;
  }
  return p;
}

/** The Gray bits of a partition number, plane 0 first (inverse of grayToPartition). */
function partitionBits(p: number, k: number): number[] {
  const binary: number[] = [];
  for (let i = k - 1; i >= 0; i--) binary.push(Math.floor(p / 2 ** i) % 2);
  return binary.map((bit, i) => (i === 0 ? bit : bit ^ binary[i - 1]!));
}

/** The projection as an explicit [dp, dim] matrix (the sparse one has one ±1 per column). */
function denseMatrix(projection: Projection | null, dp: number, dim: number): Float32Array | null {
  if (projection === null) return null;
  if (projection.kind === "dense") return projection.matrix;
  const m = new Float32Array(dp * dim);
  for (let d = 0; d < dim; d++) m[projection.index[d]! * dim + d] = projection.sign[d]!;
  return m;
}

function project(x: Float32Array, projection: Float32Array | null, dp: number, dim: number): number[] {
  if (projection === null) return Array.from(x);
  const y: number[] = [];
  for (let j = 0; j < dp; j++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += x[d]! * projection[j * dim + d]!;
    y.push(s);
  }
  return y;
}

interface Token {
  bits: number[];
  partition: number;
  y: number[];
}

function tokens(c: ResolvedFdeConfig, m: FdeMatrices, rep: number, v: Float32Array, n: number): Token[] {
  const r = m.repetitions[rep]!;
  const matrix = denseMatrix(r.projection, c.projectionDim, c.dim);
  const out: Token[] = [];
  for (let t = 0; t < n; t++) {
    const x = v.subarray(t * c.dim, (t + 1) * c.dim);
    const b = bits(x, r.simhash, c.simhashBits, c.dim);
    out.push({ bits: b, partition: grayToPartition(b), y: project(x, matrix, c.projectionDim, c.dim) });
  }
  return out;
}

const hamming = (a: number[], b: number[]): number => a.reduce((s, x, i) => s + (x === b[i] ? 0 : 1), 0);

/** The document's vector in partition p: the mean of its tokens there, else the nearest token (filling), else null. */
function documentSide(c: ResolvedFdeConfig, doc: Token[], p: number): number[] | null {
  const inside = doc.filter((t) => t.partition === p);
  if (inside.length > 0) return inside[0]!.y.map((_, j) => inside.reduce((s, t) => s + t.y[j]!, 0) / inside.length);
  if (!c.fillEmptyPartitions || c.simhashBits === 0) return null;
  const target = partitionBits(p, c.simhashBits);
  let best = doc[0]!;
  for (const t of doc) if (hamming(t.bits, target) < hamming(best.bits, target)) best = t;
  return best.y;
}

/** sum over repetitions and partitions of (sum of query vectors in p) . (document's vector for p). q: [nq, dim], d: [nd, dim]. */
export function slowFdeScore(c: ResolvedFdeConfig, m: FdeMatrices, q: Float32Array, nq: number, d: Float32Array, nd: number): number {
  let score = 0;
  for (let rep = 0; rep < c.repetitions; rep++) {
    const query = tokens(c, m, rep, q, nq);
    const doc = tokens(c, m, rep, d, nd);
    for (let p = 0; p < c.partitions; p++) {
      const side = documentSide(c, doc, p);
      if (side === null) continue;
      for (const t of query) if (t.partition === p) score += t.y.reduce((s, y, j) => s + y * side[j]!, 0);
    }
  }
  return score;
}
