/**
 * The random matrices of an FDE, all drawn from `util/rng.ts` with seeds derived from the config's
 * seed, so that the same config gives the same matrices on every platform. Each repetition and each
 * purpose (SimHash, projection, final count sketch) has its own stream: changing d_proj leaves the
 * SimHash partitions unchanged, and adding repetitions leaves the earlier ones unchanged.
 *
 * The reference implementation (google/graph-mining, sketching/point_cloud) seeds std::mt19937 with
 * seed + repetition; colts cannot reproduce mt19937's normal distribution bit for bit across
 * platforms, so its FDEs follow the same construction but not the same random numbers.
 */
import { Rng } from "../util/rng.js";
import type { ResolvedFdeConfig } from "./config.js";

/** The matrices of one repetition. */
export interface RepetitionMatrices {
  /** SimHash planes, [simhashBits, dim] row-major, N(0, 1) entries. */
  simhash: Float32Array;
  /** The token projection of this repetition; null without projection (identity). */
  projection: Projection | null;
}

/** A token projection to d_proj dimensions. */
export type Projection =
  /** [projectionDim, dim] row-major, entries ±1/sqrt(projectionDim). */
  | { kind: "dense"; matrix: Float32Array }
  /** Input coordinate d is added to output coordinate `index[d]` with sign `sign[d]` (both [dim]). */
  | { kind: "sparse"; index: Uint32Array; sign: Int8Array };

/** Count sketch of the final projection: input coordinate i goes to `index[i]` with sign `sign[i]`. */
export interface CountSketch {
  /** [innerSize] output coordinate of each input coordinate, uniform in [0, finalDim). */
  index: Uint32Array;
  /** [innerSize] ±1. */
  sign: Int8Array;
}

/** Every random matrix an FDE config needs. */
export interface FdeMatrices {
  /** One entry per repetition. */
  repetitions: RepetitionMatrices[];
  /** The final projection, or null when the config has no `finalDim`. */
  countSketch: CountSketch | null;
}

const PURPOSE_SIMHASH = 1;
const PURPOSE_PROJECTION = 2;
const PURPOSE_COUNT_SKETCH = 3;

/** A well-mixed 32-bit seed for (seed, repetition, purpose): murmur3's finaliser over a combination. */
export function derivedSeed(seed: number, repetition: number, purpose: number): number {
  let h = (seed ^ Math.imul(repetition + 1, 0x9e3779b1) ^ Math.imul(purpose, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function repetitionMatrices(c: ResolvedFdeConfig, rep: number): RepetitionMatrices {
  const simhash = new Rng(derivedSeed(c.seed, rep, PURPOSE_SIMHASH)).normalArray(c.simhashBits * c.dim, 1);
  const rng = new Rng(derivedSeed(c.seed, rep, PURPOSE_PROJECTION));
  switch (c.projection) {
    case "identity":
      return { simhash, projection: null };
    case "dense": {
      const scale = 1 / Math.sqrt(c.projectionDim);
      const matrix = new Float32Array(c.projectionDim * c.dim);
      for (let i = 0; i < matrix.length; i++) matrix[i] = rng.next() < 0.5 ? -scale : scale;
      return { simhash, projection: { kind: "dense", matrix } };
    }
    case "sparse": {
      const index = new Uint32Array(c.dim);
      const sign = new Int8Array(c.dim);
      for (let d = 0; d < c.dim; d++) {
        index[d] = rng.int(c.projectionDim);
        sign[d] = rng.next() < 0.5 ? -1 : 1;
      }
      return { simhash, projection: { kind: "sparse", index, sign } };
    }
  }
}

function countSketch(c: ResolvedFdeConfig, finalDim: number): CountSketch {
  // One stream for the whole FDE, as in the reference (seeded once, not per repetition).
  const rng = new Rng(derivedSeed(c.seed, 0, PURPOSE_COUNT_SKETCH));
  const index = new Uint32Array(c.innerSize);
  const sign = new Int8Array(c.innerSize);
  for (let i = 0; i < c.innerSize; i++) {
    index[i] = rng.int(finalDim);
    sign[i] = rng.next() < 0.5 ? -1 : 1;
  }
  return { index, sign };
}

/** Draws all matrices of a resolved config (deterministic in the config). */
export function fdeMatrices(c: ResolvedFdeConfig): FdeMatrices {
  const repetitions: RepetitionMatrices[] = [];
  for (let r = 0; r < c.repetitions; r++) repetitions.push(repetitionMatrices(c, r));
  return { repetitions, countSketch: c.finalDim === null ? null : countSketch(c, c.finalDim) };
}
