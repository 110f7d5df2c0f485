/**
 * The training-example file format (JSONL, one example per line), shared by `colts mine` and
 * `colts teacher` (writers) and `colts train` (reader). Two forms, mixable in one file:
 *
 *   text form: {"query": "...", "positive": "...", "negatives": ["...", ...], "scores": {...}}
 *   id form:   {"query_id": "q1", "positive_id": "d1", "negative_ids": ["d7", ...], "scores": {...}}
 *
 * The id form refers to a BEIR folder (queries.jsonl, corpus.jsonl) given separately; a line may
 * carry both ids and texts (mining writes both, so a file is readable without the corpus).
 * `scores` is optional: teacher name -> one score per document, aligned with [positive, ...negatives].
 * Pure data: no I/O here.
 */
import { ColtsError } from "../errors.js";

/** One line of a training file, in the text form, the id form or both (see the file comment). */
export interface TrainingExample {
  /** Query text ("query"); absent in the pure id form. */
  query?: string;
  /** Query id in the BEIR folder ("query_id"); absent in the pure text form. */
  queryId?: string;
  /** Text of the relevant document ("positive"). */
  positive?: string;
  /** Id of the relevant document ("positive_id"). */
  positiveId?: string;
  /** Texts of the negatives, in order (may be absent in the id form). */
  negatives?: string[];
  /** Ids of the negatives, in order (may be absent in the text form). */
  negativeIds?: string[];
  /** Teacher name -> scores aligned with [positive, ...negatives]. */
  scores?: Record<string, number[]>;
}

function fail(where: string, why: string): never {
  throw new ColtsError("INPUT_INVALID", `${where}: ${why}`, { details: { where } });
}

function optString(o: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string") fail(where, `"${key}" must be a string`);
  return v;
}

function optStrings(o: Record<string, unknown>, key: string, where: string): string[] | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) fail(where, `"${key}" must be an array of strings`);
  return v;
}

function parseScores(v: unknown, docs: number, where: string): Record<string, number[]> | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(where, `"scores" must be an object of teacher -> number[]`);
  const out: Record<string, number[]> = {};
  for (const [teacher, s] of Object.entries(v as Record<string, unknown>)) {
    if (!Array.isArray(s) || !s.every((x) => typeof x === "number" && Number.isFinite(x))) fail(where, `scores of "${teacher}" must be finite numbers`);
    if (s.length !== docs) fail(where, `scores of "${teacher}" has ${s.length} values for ${docs} documents (positive + negatives)`);
    out[teacher] = s as number[];
  }
  return out;
}

/** Parses and validates one JSONL line; `where` (e.g. "triples.jsonl:12") prefixes error messages. */
export function parseTrainingExample(line: string, where: string): TrainingExample {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (cause) {
    throw new ColtsError("INPUT_INVALID", `${where}: not valid JSON (${String(cause)})`, { cause, details: { where } });
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) fail(where, "each line must be a JSON object");
  const o = raw as Record<string, unknown>;
  const ex: TrainingExample = {
    query: optString(o, "query", where),
    queryId: optString(o, "query_id", where),
    positive: optString(o, "positive", where),
    positiveId: optString(o, "positive_id", where),
    negatives: optStrings(o, "negatives", where),
    negativeIds: optStrings(o, "negative_ids", where),
  };
  if (ex.query === undefined && ex.queryId === undefined) fail(where, `needs "query" or "query_id"`);
  if (ex.positive === undefined && ex.positiveId === undefined) fail(where, `needs "positive" or "positive_id"`);
  if (ex.negatives && ex.negativeIds && ex.negatives.length !== ex.negativeIds.length) {
    fail(where, `"negatives" (${ex.negatives.length}) and "negative_ids" (${ex.negativeIds.length}) differ in length`);
  }
  const scores = parseScores(o["scores"], 1 + negativeCount(ex), where);
  return dropUndefined({ ...ex, scores });
}

/** Number of negatives of an example, whichever form it uses. */
export function negativeCount(ex: TrainingExample): number {
  return ex.negatives?.length ?? ex.negativeIds?.length ?? 0;
}

function dropUndefined(ex: TrainingExample): TrainingExample {
  return Object.fromEntries(Object.entries(ex).filter(([, v]) => v !== undefined));
}

/** One JSONL line (no newline), keys in the documented snake_case form. */
export function serializeTrainingExample(ex: TrainingExample): string {
  return JSON.stringify({
    query_id: ex.queryId,
    query: ex.query,
    positive_id: ex.positiveId,
    positive: ex.positive,
    negative_ids: ex.negativeIds,
    negatives: ex.negatives,
    scores: ex.scores,
  });
}
