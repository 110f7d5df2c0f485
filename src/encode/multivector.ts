/**
 * The result type of encoding, and the exact MaxSim reference scorer every fast path is checked
 * against.
 */

/** One text's token vectors. */
export interface MultiVector {
  /** [tokens, dim] row-major; every row has unit L2 norm. */
  vectors: Float32Array;
  /** Number of vectors (kept tokens). */
  tokens: number;
  /** Length of each vector. */
  dim: number;
  /** Token id of each vector, for explanations (`ColBERT.tokenStrings` maps them to text). */
  tokenIds: Int32Array;
}

/** Row `i` of a multi-vector as a view (no copy). */
export function row(mv: MultiVector, i: number): Float32Array {
  return mv.vectors.subarray(i * mv.dim, (i + 1) * mv.dim);
}

/**
 * Exact late-interaction score: sum over query vectors of the best dot product with any document
 * vector. q: [nq, dim], d: [nd, dim]. An empty document scores 0. Accumulates in float64.
 */
export function maxsim(query: MultiVector, doc: MultiVector): number {
  if (query.dim !== doc.dim) throw new RangeError(`maxsim: query dim ${query.dim} != document dim ${doc.dim}`);
  return maxsimDetailed(query, doc).score;
}

/** MaxSim with, for each query vector, the index of its best document vector and that similarity. */
export function maxsimDetailed(query: MultiVector, doc: MultiVector): { score: number; best: Int32Array; sims: Float64Array } {
  const dim = query.dim;
  const best = new Int32Array(query.tokens).fill(-1);
  const sims = new Float64Array(query.tokens);
  let score = 0;
  for (let i = 0; i < query.tokens; i++) {
    let top = -Infinity;
    for (let j = 0; j < doc.tokens; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += (query.vectors[i * dim + k] as number) * (doc.vectors[j * dim + k] as number);
      if (s > top) {
        top = s;
        best[i] = j;
      }
    }
    if (doc.tokens > 0) {
      sims[i] = top;
      score += top;
    }
  }
  return { score, best, sims };
}
