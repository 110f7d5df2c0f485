/** Comparisons of encoder outputs for tests. */
import assert from "node:assert/strict";
import type { MultiVector } from "../../src/encode/multivector.js";

/** Largest absolute difference between two multi-vectors of the same shape (asserted). */
export function maxAbsDiff(a: MultiVector, b: MultiVector): number {
  assert.equal(a.tokens, b.tokens);
  assert.equal(a.dim, b.dim);
  let m = 0;
  for (let i = 0; i < a.vectors.length; i++) m = Math.max(m, Math.abs((a.vectors[i] as number) - (b.vectors[i] as number)));
  return m;
}
