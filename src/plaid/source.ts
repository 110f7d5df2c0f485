/**
 * Where an index gets its documents from: already-embedded documents in batches. The text path
 * (a corpus file encoded by a ColBERT model, with optional token pooling) is one implementation;
 * callers with their own embeddings write another.
 */
import { poolTokens } from "./pooling.js";

/** One document with its token vectors, ready to be indexed. */
export interface EmbeddedDoc {
  /** External id, unique among live documents. */
  id: string;
  /** [n, dim] row-major token vectors (unit rows from a ColBERT encoder; pooled rows are means). */
  vectors: Float32Array;
  /** Number of token vectors: the first n * dim values of `vectors` are used. */
  n: number;
  /** Flat JSON metadata stored in the index and usable in filters. */
  metadata?: Record<string, unknown> | null;
  /** Document text, stored for explanations and re-ranking when given. */
  text?: string;
}

/**
 * A document whose vectors a build has already assigned to the codec's centroids (its kept sample,
 * kept-sample.ts): the writer stores these codes instead of assigning them again.
 */
export interface CodedDoc extends EmbeddedDoc {
  /** [n] centroid ids of the vectors, from the codec the document is written with. */
  codes?: Int32Array;
}

/**
 * Documents for `buildIndex` / `addToIndex`. `batches` may be called more than once: a build reads its
 * codec sample first (`only`), then every other document (`except`), so that each document is
 * produced (encoded) once.
 */
export interface EmbeddingSource {
  /** Number of documents the source yields (sizes the codec sample up front). */
  count: number;
  /**
   * The documents in order, in batches: all of them, or with `only` just those at these 0-based
   * positions (the codec sample), or with `except` all but those. A source may still read everything
   * to find them, but must yield exactly the documents asked for, in order: a build checks the count
   * and refuses a document yielded twice.
   */
  batches(only?: ReadonlySet<number>, except?: ReadonlySet<number>): AsyncIterable<EmbeddedDoc[]>;
}

/** Whether position i is asked for by `batches(only, except)`. */
export function selected(i: number, only?: ReadonlySet<number>, except?: ReadonlySet<number>): boolean {
  return (!only || only.has(i)) && !except?.has(i);
}

/** Applies token pooling (PyLate semantics) to a document. poolFactor 1 returns it unchanged. */
export function poolDoc(doc: EmbeddedDoc, dim: number, poolFactor: number, protectedTokens = 1): EmbeddedDoc {
  if (poolFactor <= 1) return doc;
  const pooled = poolTokens(doc.vectors, doc.n, dim, { poolFactor, protectedTokens });
  return { ...doc, vectors: pooled.vectors, n: pooled.count };
}

/** A source over an in-memory array (tests, API callers with their own embeddings). */
export function arraySource(docs: readonly EmbeddedDoc[], batchSize = 1000): EmbeddingSource {
  return {
    count: docs.length,
    async *batches(only?: ReadonlySet<number>, except?: ReadonlySet<number>) {
      const picked = only || except ? docs.filter((_, i) => selected(i, only, except)) : docs;
      for (let i = 0; i < picked.length; i += batchSize) {
        await Promise.resolve();
        yield picked.slice(i, i + batchSize);
      }
    },
  };
}
