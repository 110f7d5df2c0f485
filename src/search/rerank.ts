/**
 * Re-ranking: exact MaxSim of one query against given candidate documents (BM25's top-100, another
 * system's output). No index involved; the documents are encoded on the fly.
 */
import type { ColBERT } from "../encode/colbert.js";
import { maxsim } from "../encode/multivector.js";
import { ColtsError } from "../errors.js";

/** A document to re-rank; a plain string stands for `{ id: String(position), text }`. */
export interface RerankCandidate {
  /** Returned in the hit. */
  id: string;
  /** Encoded as a document. */
  text: string;
}

/** A re-ranked candidate. */
export interface RerankHit {
  /** The candidate's id (its position as a string for plain-string candidates). */
  id: string;
  /** Exact MaxSim of the query against the document; higher is better. */
  score: number;
  /** Position of the candidate in the input. */
  index: number;
}

/** Options of `rerank`. */
export interface RerankOptions {
  /** Results to return. Default: all candidates. */
  k?: number;
}

/** Scores every candidate with exact MaxSim; best first (ties keep input order). */
export async function rerank(model: ColBERT, query: string, candidates: readonly (RerankCandidate | string)[], opts: RerankOptions = {}): Promise<RerankHit[]> {
  if (typeof query !== "string") throw new ColtsError("INPUT_INVALID", "query must be a string");
  const docs = candidates.map((c, i) => (typeof c === "string" ? { id: String(i), text: c } : c));
  const [q] = await model.encodeQueries([query]);
  if (!q) throw new ColtsError("WORKER_FAILED", "encoder returned no query vectors");
  const encoded = await model.encodeDocuments(docs.map((d) => d.text));
  const hits = encoded.map((d, index) => ({ id: docs[index]?.id ?? String(index), score: maxsim(q, d), index }));
  hits.sort((a, b) => b.score - a.score || a.index - b.index);
  return hits.slice(0, opts.k ?? hits.length);
}
