/**
 * Dropout keep masks as a pure function of (seed, stream, sizes): the forward pass and the backward
 * pass's recomputation of it get the same masks, and a resumed run draws exactly the masks an
 * uninterrupted one would. One mulberry32 word gives two 16-bit draws; an entry is kept when its
 * draw is >= round(p · 65536), so the effective probability is within 2^-17 of p.
 */
import type { InputTensor } from "../../runtime/session.js";
import { Rng } from "../../util/rng.js";

/** Dropout probabilities: BERT's hidden dropout and its dropout of the attention weights. */
export interface DropoutRates {
  /** After the embeddings and after each block's two output projections. Range [0, 1). */
  hidden: number;
  /** On the attention weights (softmax output). Range [0, 1). */
  attention: number;
}

/** A 32-bit seed for stream `parts` of a run seeded by `seed` (splitmix-style mixing). */
export function streamSeed(seed: number, ...parts: number[]): number {
  let h = seed >>> 0;
  for (const p of [...parts, parts.length]) {
    h = Math.imul(h ^ (p >>> 0), 0x9e3779b1) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
  }
  return h >>> 0;
}

/** `n` keep flags (1 keeps, 0 drops) with drop probability p, from a mulberry32 stream seeded by `seed`. */
export function keepMask(n: number, p: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  if (p <= 0) return out.fill(1);
  const threshold = Math.round(p * 65536);
  const rng = new Rng(seed);
  for (let i = 0; i < n; i += 2) {
    const t = rng.nextUint32();
    out[i] = (t & 0xffff) >= threshold ? 1 : 0;
    if (i + 1 < n) out[i + 1] = t >>> 16 >= threshold ? 1 : 0;
  }
  return out;
}

/**
 * The encoder graph's dropout inputs for rows [firstRow, firstRow + rows) of a batch of S tokens per
 * sequence (see encoder-graph.ts for the names and shapes), drawn from `seed`. Each row has its own
 * stream, so the masks do not depend on how the rows are split into encoder runs.
 *
 * With `lengths` (a packed stream whose row r holds its real tokens first, lengths[r] of them), the
 * hidden-size masks are packed too ([T, H]): row r's are the first lengths[r]·H flags of its stream,
 * which are exactly the flags the padded layout gives those tokens (`keepMask` of a shorter length is
 * a prefix of a longer one), so packed and padded runs drop the same entries.
 */
export function dropoutFeeds(seed: number, rates: DropoutRates, firstRow: number, rows: number, S: number, hidden: number, heads: number, layers: number, lengths?: readonly number[]): Record<string, InputTensor> {
  const feeds: Record<string, InputTensor> = {};
  let stream = 0;
  const add = (name: string, perRow: (r: number) => number, dims: number[], p: number): void => {
    if (p > 0) {
      let size = 0;
      for (let r = 0; r < rows; r++) size += perRow(r);
      const data = new Uint8Array(size);
      for (let r = 0, at = 0; r < rows; at += perRow(r), r++) data.set(keepMask(perRow(r), p, streamSeed(seed, stream, firstRow + r)), at);
      feeds[name] = { data, dims };
    }
    stream++;
  };
  const tokens = lengths ? lengths.reduce((a, b) => a + b, 0) : rows * S;
  const hiddenRow = (r: number): number => (lengths ? (lengths[r] as number) : S) * hidden;
  const hiddenDims = lengths ? [tokens, hidden] : [rows, S, hidden];
  add("drop_emb", hiddenRow, hiddenDims, rates.hidden);
  for (let l = 0; l < layers; l++) {
    add(`drop_${l}_attn`, () => heads * S * S, [rows, heads, S, S], rates.attention);
    add(`drop_${l}_attn_out`, hiddenRow, hiddenDims, rates.hidden);
    add(`drop_${l}_out`, hiddenRow, hiddenDims, rates.hidden);
  }
  return feeds;
}
