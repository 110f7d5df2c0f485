/**
 * Teacher scores for training examples (`colts teacher`): each example gets `scores[name]`, one
 * score per document aligned with [positive, ...negatives] (train/format.ts), from
 *   - a TREC run file: the run's score of (query id, document id), so examples need ids; a document
 *     the run does not list for its query is handled by a MissingPolicy;
 *   - a cross-encoder: the model's score of (query text, document text), so examples need texts
 *     (from the line, or looked up by id in a BEIR folder by the caller).
 * Scores of other teachers already on a line are kept; a score under the same name is replaced.
 */
import { ColtsError } from "../errors.js";
import type { Run } from "../eval/types.js";
import type { ScorePair } from "../encode/cross-encoder.js";
import type { TrainingExample } from "./format.js";

/**
 * A document of an example absent from the run for its query:
 *   error (default): TEACHER_SCORE_MISSING naming it (the run does not cover the training data);
 *   min: the lowest score the run gives that query (the run ranks the document below everything it
 *        lists, so its score is at most that; margins to it are then underestimated);
 *   drop: the example is left out of the output (counted).
 */
export type MissingPolicy = "error" | "min" | "drop";
/** Every missing-score policy, for validating user input. */
export const MISSING_POLICIES: readonly MissingPolicy[] = ["error", "min", "drop"];

/** Document ids of an example in score order: [positive, ...negatives]. */
export function documentIds(ex: TrainingExample, where: string): string[] {
  if (ex.positiveId === undefined || ex.negativeIds === undefined || ex.queryId === undefined) {
    throw new ColtsError("INPUT_INVALID", `${where}: run-file teacher scores need query_id, positive_id and negative_ids`, { details: { where } });
  }
  return [ex.positiveId, ...ex.negativeIds];
}

/** Document texts of an example in score order: [positive, ...negatives]. */
export function documentTexts(ex: TrainingExample, where: string): { query: string; documents: string[] } {
  if (ex.query === undefined || ex.positive === undefined || (ex.negatives === undefined && (ex.negativeIds?.length ?? 0) > 0)) {
    throw new ColtsError("INPUT_INVALID", `${where}: cross-encoder scores need the query and document texts (give --dataset for id-only lines)`, { details: { where } });
  }
  return { query: ex.query, documents: [ex.positive, ...(ex.negatives ?? [])] };
}

function withScores(ex: TrainingExample, name: string, scores: number[]): TrainingExample {
  return { ...ex, scores: { ...(ex.scores ?? {}), [name]: scores } };
}

/** Per query id: document id -> score, and the lowest score. */
export interface RunLookup {
  /** Query id -> document id -> the run's score. */
  scores: Map<string, Map<string, number>>;
  /** Query id -> the lowest score the run gives it (the "min" policy's value). */
  lowest: Map<string, number>;
}

/** Indexes a run for `scoreFromRun`. */
export function runLookup(run: Run): RunLookup {
  const scores = new Map<string, Map<string, number>>();
  const lowest = new Map<string, number>();
  for (const [qid, entries] of run) {
    scores.set(qid, new Map(entries.map((e) => [e.docid, e.score])));
    lowest.set(qid, Math.min(...entries.map((e) => e.score)));
  }
  return { scores, lowest };
}

/**
 * Adds `scores[name]` from a run to one example; returns null when `missing` is "drop" and a document
 * has no score. `where` names the line in errors.
 */
export function scoreFromRun(ex: TrainingExample, lookup: RunLookup, name: string, missing: MissingPolicy, where: string): TrainingExample | null {
  const docs = documentIds(ex, where);
  const qid = ex.queryId as string;
  const forQuery = lookup.scores.get(qid);
  const scores: number[] = [];
  for (const d of docs) {
    const s = forQuery?.get(d);
    if (s !== undefined) {
      scores.push(s);
      continue;
    }
    if (missing === "drop") return null;
    const low = lookup.lowest.get(qid);
    if (missing === "min" && low !== undefined) {
      scores.push(low);
      continue;
    }
    throw new ColtsError("TEACHER_SCORE_MISSING", `${where}: teacher "${name}" has no score for document "${d}" of query "${qid}"${forQuery ? "" : " (the run does not have the query)"}; pass --missing min or drop to fill or skip`, {
      details: { where, query: qid, document: d },
    });
  }
  return withScores(ex, name, scores);
}

/** Scores (query, document) pairs, in order. */
export type PairScorer = (pairs: readonly ScorePair[]) => Promise<number[]>;

/** Adds `scores[name]` to a chunk of examples with one scorer call over all their pairs. */
export async function scoreWithModel(examples: readonly TrainingExample[], scorer: PairScorer, name: string, where: (i: number) => string): Promise<TrainingExample[]> {
  const pairs: ScorePair[] = [];
  const spans = examples.map((ex, i) => {
    const { query, documents } = documentTexts(ex, where(i));
    const start = pairs.length;
    for (const document of documents) pairs.push({ query, document });
    return [start, pairs.length] as const;
  });
  const scores = await scorer(pairs);
  if (scores.length !== pairs.length || scores.some((s) => !Number.isFinite(s))) {
    throw new ColtsError("INFERENCE_FAILED", `teacher "${name}" returned ${scores.length} scores for ${pairs.length} pairs, or non-finite ones`);
  }
  return examples.map((ex, i) => {
    const [start, end] = spans[i] as readonly [number, number];
    return withScores(ex, name, scores.slice(start, end));
  });
}
