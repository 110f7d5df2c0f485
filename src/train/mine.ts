/**
 * Hard-negative mining (`colts mine`): for every (query, positive) pair of a split's qrels, retrieve
 * with a first-stage retriever and sample negatives from a window of ranks, as RAGatouille's
 * SimpleMiner does (ranks ~10-110): the top ranks are skipped because they often hold unjudged
 * relevant documents (false negatives), the tail because it is too easy.
 *
 * Policy (see docs/DESIGN.md, "Training data and merging"):
 *   - positives: documents with a qrel grade > 0; every one of them is excluded from the negatives of
 *     its query, whichever positive the line is for; lines are written for those with a grade of at
 *     least `positiveGrade` (default 1);
 *   - candidates: ranks window.first..window.last (1-based, inclusive) of the retrieved list, minus
 *     the query's positives and documents without a text;
 *   - sampling: `negatives` candidates without replacement, written in rank order; the random stream
 *     of a line is seeded from (seed, query id, positive id), so a line does not depend on which other
 *     queries are mined or in which order;
 *   - short lines (fewer candidates than `negatives`): dropped (default, every line then has the
 *     same number of documents) or kept with what there is (`short: "keep"`), as long as there is one.
 * The retriever is a function, so this module is pure apart from it.
 */
import { ColtsError } from "../errors.js";
import type { Qrels, Queries } from "../eval/types.js";
import { Rng } from "../util/rng.js";
import type { TrainingExample } from "./format.js";

/** Ranks `first..last`, 1-based and inclusive. */
export interface RankWindow {
  /** Best rank sampled from, >= 1. */
  first: number;
  /** Worst rank sampled from, >= first; also the depth retrieved per query. */
  last: number;
}

/** Parses "10-100" (ranks 10 to 100). */
export function parseWindow(text: string): RankWindow {
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(text);
  const first = Number(m?.[1]);
  const last = Number(m?.[2]);
  if (!m || first < 1 || last < first || last > 100_000) {
    throw new ColtsError("USAGE", `--window must be FIRST-LAST with 1 <= FIRST <= LAST <= 100000 (ranks, 1-based), got ${JSON.stringify(text)}`);
  }
  return { first, last };
}

/** What to do with a line that has fewer candidates than `negatives`: drop it, or keep what there is. */
export type ShortPolicy = "drop" | "keep";

/** Options of `mineTriples`. */
export interface MineOptions {
  /** Negatives per line. Default 8; >= 1. More gives the loss more contrast per query, costs memory per step. */
  negatives?: number;
  /** Ranks sampled from. Default 10-100. */
  window?: RankWindow;
  /** Seed of the sampling. Default 1. */
  seed?: number;
  /** Lines with fewer candidates than `negatives`: "drop" (default) or "keep". */
  short?: ShortPolicy;
  /** Queries retrieved per call of `retrieve`. Default 32. */
  batchSize?: number;
  /**
   * Lowest qrel grade a line's positive may have. Default 1 (every relevant document). TREC DL
   * judges 1 as "related" and counts >= 2 as relevant: 2 there. Documents with grades between 1 and
   * this value get no line but are still never negatives.
   */
  positiveGrade?: number;
}

/** A query as the retriever sees it: its id (for precomputed runs) and its text. */
export interface MineQuery {
  id: string;
  text: string;
}

/** Ranked document ids (best first, at least `k` when the collection has them) for each query. */
export type Retrieve = (queries: MineQuery[], k: number) => Promise<string[][]>;

/** The split to mine: queries, judgments, and the corpus's texts. */
export interface MineInput {
  /** Query id -> text; queries without a judgment >= positiveGrade are skipped. */
  queries: Queries;
  /** Query id -> document id -> grade: positives and the documents never used as negatives. */
  qrels: Qrels;
  /** Text of a document (title + " " + text for BEIR), undefined when unknown. */
  docText: (id: string) => string | undefined;
}

/** Counts of a mining run. */
export interface MineStats {
  /** Queries retrieved for (those with at least one positive). */
  queries: number;
  /** Lines written. */
  lines: number;
  /** (query, positive) pairs dropped for too few candidates. */
  dropped: number;
  /** Negatives written, over all lines. */
  negatives: number;
}

/** 32-bit FNV-1a: a stable seed from text. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The sampling stream of one line: depends only on the seed, the query id and the positive id. */
export function lineRng(seed: number, queryId: string, positiveId: string): Rng {
  return new Rng(hash32(`${seed >>> 0}\u0000${queryId}\u0000${positiveId}`));
}

/**
 * Samples `n` negatives from ranks window.first..window.last of `ranked` (best first), never an
 * excluded one (a set, or a predicate); returns them in rank order (fewer when there are fewer
 * candidates). A document listed twice counts once.
 */
export function sampleNegatives(ranked: readonly string[], excluded: ReadonlySet<string> | ((id: string) => boolean), window: RankWindow, n: number, rng: Rng): string[] {
  const isExcluded = typeof excluded === "function" ? excluded : (id: string): boolean => excluded.has(id);
  const seen = new Set<string>();
  const candidates: number[] = []; // ranks (0-based) of eligible documents, ascending
  for (let r = window.first - 1; r < Math.min(window.last, ranked.length); r++) {
    const id = ranked[r] as string;
    if (isExcluded(id) || seen.has(id)) continue;
    seen.add(id);
    candidates.push(r);
  }
  // Partial Fisher-Yates: the first n slots become a uniform sample without replacement.
  const take = Math.min(n, candidates.length);
  for (let i = 0; i < take; i++) {
    const j = i + rng.int(candidates.length - i);
    [candidates[i], candidates[j]] = [candidates[j] as number, candidates[i] as number];
  }
  return candidates.slice(0, take).sort((a, b) => a - b).map((r) => ranked[r] as string);
}

/** Mines every (query, positive) pair; `emit` receives the lines in query order, positives by id. */
export async function mineTriples(input: MineInput, retrieve: Retrieve, opts: MineOptions, emit: (ex: TrainingExample) => Promise<void> | void): Promise<MineStats> {
  const n = opts.negatives ?? 8;
  if (!Number.isInteger(n) || n < 1) throw new ColtsError("INPUT_INVALID", `negatives must be a positive integer, got ${n}`);
  const window = opts.window ?? { first: 10, last: 100 };
  const seed = opts.seed ?? 1;
  const batchSize = opts.batchSize ?? 32;
  const minGrade = Math.max(1, opts.positiveGrade ?? 1);
  const ids = [...input.queries.keys()].filter((q) => [...(input.qrels.get(q)?.values() ?? [])].some((g) => g >= minGrade));
  const stats: MineStats = { queries: 0, lines: 0, dropped: 0, negatives: 0 };
  for (let b = 0; b < ids.length; b += batchSize) {
    const batch = ids.slice(b, b + batchSize);
    const ranked = await retrieve(batch.map((id) => ({ id, text: input.queries.get(id) ?? "" })), window.last);
    for (const [i, qid] of batch.entries()) {
      stats.queries++;
      const judged = input.qrels.get(qid) ?? new Map<string, number>();
      const positiveSet = new Set([...judged].filter(([, g]) => g > 0).map(([d]) => d));
      const positives = [...judged].filter(([, g]) => g >= minGrade).map(([d]) => d).sort();
      // Ranks stay those of the retriever: documents without a text are skipped, not removed.
      const excluded = (d: string): boolean => positiveSet.has(d) || input.docText(d) === undefined;
      for (const pid of positives) {
        const positive = input.docText(pid);
        if (positive === undefined) {
          throw new ColtsError("INPUT_INVALID", `positive document "${pid}" of query "${qid}" is not in the corpus`, { details: { query: qid, document: pid } });
        }
        const negativeIds = sampleNegatives(ranked[i] ?? [], excluded, window, n, lineRng(seed, qid, pid));
        if (negativeIds.length === 0 || (negativeIds.length < n && opts.short !== "keep")) {
          stats.dropped++;
          continue;
        }
        await emit({
          queryId: qid,
          query: input.queries.get(qid) ?? "",
          positiveId: pid,
          positive,
          negativeIds,
          negatives: negativeIds.map((d) => input.docText(d) ?? ""),
        });
        stats.lines++;
        stats.negatives += negativeIds.length;
      }
    }
  }
  return stats;
}
