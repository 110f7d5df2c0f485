/**
 * BM25 exactly as Lucene 9's `BM25Similarity` computes it (the Lucene inside current Anserini), in
 * the same float32 steps (`Math.fround` after each Java float operation) so scores are bit-equal:
 *
 *   idf(t)   = (float) ln(1 + (N - df + 0.5) / (df + 0.5))            computed in double, then float
 *   weight   = boost * idf                                            boost = occurrences of t in the query
 *   invNorm  = 1 / (k1 * ((1 - b) + b * LENGTH_TABLE[norm] / avgdl))  one entry per norm byte
 *   score    = weight - weight / (1 + tf * invNorm)                   = weight * tf / (tf + k1 * (...))
 *
 * Lucene 8.0 (LUCENE-8563) dropped the constant `(k1 + 1)` numerator factor of classic BM25: it scales
 * every score equally and changes no ranking. We follow Lucene 8+/Anserini, so scores are the classic
 * ones divided by (k1 + 1). `avgdl` is the exact mean length (sum of lengths / N, as float); `dl` is
 * the quantised one (see norms.ts). N and df count only documents that have at least one term.
 */
import { ColtsError } from "../errors.js";
import { LENGTH_TABLE } from "./norms.js";

/** BM25 parameters. Anserini's defaults (k1 0.9, b 0.4) are tuned on MS MARCO and work well on BEIR. */
export interface Bm25Params {
  /**
   * Term-frequency saturation. Default 0.9 (Anserini); usual range 0.5..2, must be >= 0. Higher lets
   * repeated terms keep adding score (helps long, verbose documents); 0 makes BM25 a binary
   * "term present" model scored by idf alone.
   */
  readonly k1: number;
  /**
   * Length normalisation, 0..1. Default 0.4 (Anserini; Lucene's own default is 0.75). 1 fully divides
   * term frequency by relative document length (favours short documents); 0 ignores length.
   */
  readonly b: number;
}

/** Anserini's BM25 parameters, used for whatever `Bm25IndexOptions` leaves out: k1 0.9, b 0.4. */
export const DEFAULT_BM25_PARAMS: Bm25Params = Object.freeze({ k1: 0.9, b: 0.4 });

/** Checks k1 and b, filling defaults; throws INPUT_INVALID naming the bad value. */
export function resolveParams(params: Partial<Bm25Params> = {}): Bm25Params {
  const k1 = params.k1 ?? DEFAULT_BM25_PARAMS.k1;
  const b = params.b ?? DEFAULT_BM25_PARAMS.b;
  if (!Number.isFinite(k1) || k1 < 0) throw new ColtsError("INPUT_INVALID", `bm25 k1 must be a finite number >= 0, got ${k1}`);
  if (!Number.isFinite(b) || b < 0 || b > 1) throw new ColtsError("INPUT_INVALID", `bm25 b must be in [0, 1], got ${b}`);
  return { k1, b };
}

const f = Math.fround;

/** Lucene's `idf`: double arithmetic, float result. */
export function idf(docFreq: number, docCount: number): number {
  return f(Math.log(1 + (docCount - docFreq + 0.5) / (docFreq + 0.5)));
}

/** Lucene's `avgFieldLength`: sumTotalTermFreq / docCount in double, float result. */
export function avgFieldLength(sumTotalTermFreq: number, docCount: number): number {
  return f(sumTotalTermFreq / docCount);
}

/** `1 / (k1 * ((1 - b) + b * dl / avgdl))` for each of the 256 norm bytes (Lucene's per-query cache). */
export function normInverseCache(params: Bm25Params, avgdl: number): Float32Array {
  const k1 = f(params.k1);
  const b = f(params.b);
  const oneMinusB = f(1 - b);
  const cache = new Float32Array(256);
  for (let i = 0; i < 256; i++) {
    const len = LENGTH_TABLE[i] ?? 0;
    cache[i] = f(1 / f(k1 * f(oneMinusB + f(f(b * f(len)) / avgdl))));
  }
  return cache;
}

/** Lucene `BM25Scorer.score`: `weight - weight / (1 + tf * invNorm)` in float. */
export function termScore(weight: number, tf: number, invNorm: number): number {
  return f(weight - f(weight / f(1 + f(f(tf) * invNorm))));
}
