/**
 * Retrieval measures computed as trec_eval 9.0.7 computes them (checked against its own test vectors in
 * test/eval/golden.test.ts). The conventions, with the trec_eval source they come from:
 *
 * - Ranking (form_res_rels.c): a query's documents are sorted by score descending, ties by docid in
 *   descending strcmp order; the run's rank column is ignored (ranking.ts). `maxDocsPerQuery` (-M)
 *   truncates after that sort.
 * - Duplicate docids within a query make trec_eval stop ("duplicate docs"); so does `evaluate`, unless
 *   `duplicates: "keep-max"` keeps each docid's best-scoring copy.
 * - Judgments: a retrieved document missing from the qrels counts as non-relevant; so does a negative
 *   grade ("in the pool, not judged"). Binary measures (P, recall, MAP, MRR, R-prec, success) count a
 *   document relevant when grade >= `relevanceLevel` (-l, default 1); the number of relevant
 *   documents R is the number of qrels entries with grade >= that level, retrieved or not.
 * - nDCG (m_ndcg_cut.c, m_ndcg.c): gain = the grade itself (linear, not 2^g - 1), only grades > 0
 *   gain, discount log2(rank + 1); the ideal ranking is all positive grades of the qrels, highest
 *   first, cut at the same k. `relevanceLevel` does not apply to nDCG. nDCG is 0 when the ideal is 0.
 * - Cutoffs: P@k and judged@k divide by k even when fewer than k documents were retrieved; recall@k
 *   and MAP@k divide by R; MAP@k sums precision only at relevant ranks <= k. Measures over R are 0
 *   for a query with R = 0 (judged, but nothing relevant), and such a query still counts in the mean.
 * - MRR@k (mrr@10) is recip_rank over the top k only; `recip_rank` / `mrr` looks at the whole ranking.
 * - Queries: only queries present in both the run and the qrels are evaluated and averaged (trec_eval
 *   ignores queries without judgments). With `averageComplete` (-c), every qrels query counts: those
 *   the run lacks score 0 on every measure and appear in `perQuery`, and the mean divides by the
 *   number of qrels queries.
 * - judged@k (not in trec_eval 9.0.7; ir_measures' Judged@k): the share of the top k that has any
 *   qrels entry, whatever its grade, over k.
 */
import { ColtsError } from "../errors.js";
import { parseMeasure, type MeasureSpec } from "./measures.js";
import { compareIds, rankEntries } from "./ranking.js";
import type { RunEntry } from "./types.js";

/** Options of {@link evaluate}; each mirrors a trec_eval flag where there is one. */
export interface EvaluateOptions {
  /**
   * Lowest grade counted relevant by the binary measures (trec_eval -l). Integer >= 0; default 1.
   * TREC DL passage tasks use 2 for MAP and recall.
   */
  relevanceLevel?: number;
  /**
   * Average over every query in the qrels, scoring queries absent from the run as 0 (trec_eval -c).
   * Default false: average over queries in both the run and the qrels (trec_eval's default).
   */
  averageComplete?: boolean;
  /** Documents per query evaluated, the best ranked (trec_eval -M). Positive integer; default all. */
  maxDocsPerQuery?: number;
  /**
   * A docid listed twice for one query: "error" stops as trec_eval does (default); "keep-max" keeps
   * the copy with the highest score.
   */
  duplicates?: "error" | "keep-max";
}

/** The result of {@link evaluate}; records are keyed by the measure names as requested. */
export interface Evaluation {
  /** Per evaluated query (in strcmp order of query id), each requested measure. */
  perQuery: Map<string, Record<string, number>>;
  /** Arithmetic mean of each measure over the evaluated queries (see `averageComplete`). */
  mean: Record<string, number>;
  /** Number of queries the mean divides by (trec_eval's num_q). */
  numQueries: number;
}

/** One query's ranking joined with its judgments. */
interface Judged {
  /** Grade of each ranked document, undefined when the qrels do not list it. */
  grades: (number | undefined)[];
  /** Number of relevant documents in the qrels (grade >= relevanceLevel). */
  numRel: number;
  /** Positive grades of the qrels, highest first: the ideal ranking for nDCG. */
  ideal: number[];
}

type Qrel = ReadonlyMap<string, number>;

/**
 * Scores a run against qrels with the named measures, as trec_eval does (see the file comment). Throws
 * INPUT_INVALID for an unknown measure, bad options, a NaN score, a duplicate docid (by default) or no
 * query to evaluate.
 */
export function evaluate(
  run: ReadonlyMap<string, readonly RunEntry[]>,
  qrels: ReadonlyMap<string, Qrel>,
  metrics: readonly string[],
  opts: EvaluateOptions = {},
): Evaluation {
  const level = opts.relevanceLevel ?? 1;
  const depth = opts.maxDocsPerQuery ?? Infinity;
  if (!Number.isSafeInteger(level) || level < 0) throw new ColtsError("INPUT_INVALID", `relevanceLevel must be an integer >= 0, got ${level}`);
  if (depth !== Infinity && !(Number.isSafeInteger(depth) && depth > 0)) {
    throw new ColtsError("INPUT_INVALID", `maxDocsPerQuery must be a positive integer, got ${depth}`);
  }
  if (metrics.length === 0) throw new ColtsError("INPUT_INVALID", "no measures requested");
  const specs = [...new Set(metrics)].map(parseMeasure);

  const qids = [...run.keys()].filter((q) => qrels.has(q));
  if (opts.averageComplete) qids.push(...[...qrels.keys()].filter((q) => !run.has(q)));
  qids.sort(compareIds);
  const numQueries = opts.averageComplete ? qrels.size : qids.length;
  if (numQueries === 0) {
    throw new ColtsError("INPUT_INVALID", `no query to evaluate: none of the run's ${run.size} query ids has judgments in the qrels (${qrels.size} queries)`);
  }

  const perQuery = new Map<string, Record<string, number>>();
  const sums = new Map<string, number>(specs.map((s) => [s.name, 0]));
  for (const qid of qids) {
    const judged = judge(qid, run.get(qid) ?? [], qrels.get(qid) ?? new Map<string, number>(), level, depth, opts.duplicates ?? "error");
    const rec: Record<string, number> = {};
    for (const spec of specs) {
      const v = score(spec, judged, level);
      rec[spec.name] = v;
      sums.set(spec.name, (sums.get(spec.name) ?? 0) + v);
    }
    perQuery.set(qid, rec);
  }
  const mean: Record<string, number> = {};
  for (const spec of specs) mean[spec.name] = (sums.get(spec.name) ?? 0) / numQueries;
  return { perQuery, mean, numQueries };
}

function judge(qid: string, entries: readonly RunEntry[], qrel: Qrel, level: number, depth: number, duplicates: "error" | "keep-max"): Judged {
  const best = new Map<string, RunEntry>();
  for (const e of entries) {
    if (Number.isNaN(e.score)) throw new ColtsError("INPUT_INVALID", `query "${qid}": document "${e.docid}" has score NaN`);
    const prev = best.get(e.docid);
    if (prev && duplicates === "error") {
      throw new ColtsError("INPUT_INVALID", `query "${qid}": document "${e.docid}" is retrieved twice (trec_eval rejects duplicates; duplicates: "keep-max" keeps the best copy)`);
    }
    if (!prev || e.score > prev.score) best.set(e.docid, e);
  }
  const ranked = rankEntries([...best.values()]);
  if (ranked.length > depth) ranked.length = depth;

  let numRel = 0;
  const ideal: number[] = [];
  for (const [docid, grade] of qrel) {
    if (!Number.isFinite(grade)) throw new ColtsError("INPUT_INVALID", `qrels: query "${qid}", document "${docid}" has grade ${grade}`);
    if (grade >= level) numRel++;
    if (grade > 0) ideal.push(grade);
  }
  ideal.sort((a, b) => b - a);
  return { grades: ranked.map((e) => qrel.get(e.docid)), numRel, ideal };
}

/** trec_eval's "rel >= relevance_level"; negative grades never pass since the level is >= 0. */
function isRel(g: number | undefined, level: number): boolean {
  return g !== undefined && g >= level;
}

function countRel(j: Judged, n: number, level: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) if (isRel(j.grades[i], level)) c++;
  return c;
}

/** DCG of the first n gains; summed in rank order as trec_eval does, so the doubles agree. */
function dcg(gains: readonly (number | undefined)[], n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const g = gains[i];
    if (g !== undefined && g > 0) sum += g / Math.log2(i + 2);
  }
  return sum;
}

function score(spec: MeasureSpec, j: Judged, level: number): number {
  const retrieved = j.grades.length;
  const k = spec.cutoff ?? retrieved;
  const n = Math.min(k, retrieved);
  switch (spec.kind) {
    case "P":
      return countRel(j, n, level) / k;
    case "recall":
      return j.numRel === 0 ? 0 : countRel(j, n, level) / j.numRel;
    case "Rprec":
      return j.numRel === 0 ? 0 : countRel(j, Math.min(j.numRel, retrieved), level) / j.numRel;
    case "success":
      return countRel(j, n, level) > 0 ? 1 : 0;
    case "recip_rank": {
      for (let i = 0; i < n; i++) if (isRel(j.grades[i], level)) return 1 / (i + 1);
      return 0;
    }
    case "map": {
      if (j.numRel === 0) return 0;
      let rel = 0;
      let sum = 0;
      for (let i = 0; i < n; i++) {
        if (isRel(j.grades[i], level)) sum += ++rel / (i + 1);
      }
      return sum / j.numRel;
    }
    case "ndcg": {
      const ideal = dcg(j.ideal, spec.cutoff === undefined ? j.ideal.length : Math.min(spec.cutoff, j.ideal.length));
      return ideal > 0 ? dcg(j.grades, n) / ideal : 0;
    }
    case "judged": {
      let c = 0;
      for (let i = 0; i < n; i++) if (j.grades[i] !== undefined) c++;
      return c / k;
    }
  }
}
