/**
 * The data an evaluation works on, in the shapes trec_eval and BEIR use. Ids are strings everywhere
 * (TREC and BEIR ids are text: "0301", "MED-10", "2681119#1"), never parsed as numbers.
 */

/** Query id -> query text (TREC topics, BEIR queries.jsonl). */
export type Queries = Map<string, string>;

/**
 * Query id -> document id -> relevance grade (an integer). Grades follow trec_eval: >= 1 relevant by
 * default, 0 judged non-relevant, negative "in the pool but not judged" (counted as non-relevant).
 */
export type Qrels = Map<string, Map<string, number>>;

/** One retrieved document of a run. */
export interface RunEntry {
  /** The document's id. */
  docid: string;
  /** Higher is better. Ranks are derived from scores (trec_eval ignores a run file's rank column). */
  score: number;
}

/** Query id -> retrieved documents, in any order (evaluation and writing sort them). */
export type Run = Map<string, RunEntry[]>;

/** A BEIR corpus document (one line of corpus.jsonl). */
export interface BeirDoc {
  /** The line's "_id". */
  id: string;
  /** "" when the line has no title. */
  title: string;
  /** The document's body. */
  text: string;
  /** The line's "metadata" object when it has one. */
  metadata?: Record<string, unknown>;
}

/** A BEIR query (one line of queries.jsonl). */
export interface BeirQuery {
  /** The line's "_id". */
  id: string;
  /** The query. */
  text: string;
  /** The line's "metadata" object when it has one. */
  metadata?: Record<string, unknown>;
}
