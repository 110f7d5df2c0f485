/**
 * Pure parsers and writers for the evaluation formats (strings in, typed objects out; file I/O lives in
 * io.ts). `file` arguments are only used in error messages, which read `file:line: why`.
 *
 * - TREC qrels: `qid iter docid rel`, whitespace-separated, iter ignored (anserini uses "0" and "Q0").
 * - TREC run: `qid Q0 docid rank score tag`, whitespace-separated; fields after the tag are ignored and
 *   so is the rank (trec_eval ranks by score, see ranking.ts); lines starting with "#" are comments.
 * - BEIR (beir.ts) and TREC topics (topics.ts) are re-exported from here.
 */
import { ColtsError } from "../errors.js";
import { addJudgment, INTEGER, invalidLine, numberedLines } from "./lines.js";
import { rankEntries } from "./ranking.js";
import type { Qrels, Run, RunEntry } from "./types.js";

export { parseTopics, type TopicsOptions, type TopicField } from "./topics.js";
export {
  formatBeirDoc,
  formatBeirQrels,
  formatBeirQuery,
  parseBeirCorpus,
  parseBeirDocLine,
  parseBeirQrels,
  parseBeirQueries,
  parseBeirQueryLine,
} from "./beir.js";

// What C's atof reads in practice (decimal, optional exponent); "1e-3", "-.5" and "7." included.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parses a TREC qrels file. Grades must be integers; negative and zero grades are kept as they are. */
export function parseTrecQrels(text: string, file: string): Qrels {
  const qrels: Qrels = new Map();
  const firstLine = new Map<string, number>();
  for (const [line, raw] of numberedLines(text)) {
    const trimmed = raw.trim();
    if (trimmed === "") continue;
    const f = trimmed.split(/\s+/);
    if (f.length !== 4) {
      throw invalidLine(file, line, `expected 4 whitespace-separated fields (qid iter docid rel), found ${f.length}`);
    }
    const [qid = "", , docid = "", rel = ""] = f;
    if (!INTEGER.test(rel)) throw invalidLine(file, line, `relevance "${rel}" is not an integer`);
    addJudgment(qrels, firstLine, { file, line }, qid, docid, Number(rel));
  }
  return qrels;
}

/** Parses a TREC run file. Entries keep file order; duplicates are kept for `evaluate` to judge. */
export function parseTrecRun(text: string, file: string): Run {
  const run: Run = new Map();
  for (const [line, raw] of numberedLines(text)) {
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const f = trimmed.split(/\s+/);
    if (f.length < 6) {
      throw invalidLine(file, line, `expected 6 whitespace-separated fields (qid Q0 docid rank score tag), found ${f.length}`);
    }
    const [qid = "", , docid = "", , score = ""] = f;
    if (!DECIMAL.test(score)) throw invalidLine(file, line, `score "${score}" is not a number`);
    let entries = run.get(qid);
    if (!entries) run.set(qid, (entries = []));
    entries.push({ docid, score: Number(score) });
  }
  return run;
}

/** Options of {@link formatTrecRun}. */
export interface FormatRunOptions {
  /** Run tag written in the last column; no whitespace. Default "colts". */
  tag?: string;
  /** Most documents written per query, the best ones (positive integer). Default: all. */
  depth?: number;
}

const NO_SPACE = /^\S+$/;

/**
 * Writes a run in TREC format, each query's documents in trec_eval's rank order with ranks 1..n.
 * Scores are written with `String(score)`, which reads back to the identical double. Rejects what
 * trec_eval could not read back: ids or tag with whitespace, non-finite scores, duplicate docids.
 */
export function formatTrecRun(run: ReadonlyMap<string, readonly RunEntry[]>, opts: FormatRunOptions = {}): string {
  const tag = opts.tag ?? "colts";
  const depth = opts.depth ?? Infinity;
  if (!NO_SPACE.test(tag)) throw new ColtsError("INPUT_INVALID", `run tag "${tag}" must be non-empty without whitespace`);
  if (depth !== Infinity && !(Number.isInteger(depth) && depth > 0)) {
    throw new ColtsError("INPUT_INVALID", `depth must be a positive integer, got ${depth}`);
  }
  const out: string[] = [];
  for (const [qid, entries] of run) {
    if (!NO_SPACE.test(qid)) throw new ColtsError("INPUT_INVALID", `query id "${qid}" must be non-empty without whitespace`);
    const seen = new Set<string>();
    for (const e of entries) {
      if (!NO_SPACE.test(e.docid)) throw new ColtsError("INPUT_INVALID", `query "${qid}": docid "${e.docid}" must be non-empty without whitespace`);
      if (!Number.isFinite(e.score)) throw new ColtsError("INPUT_INVALID", `query "${qid}": document "${e.docid}" has score ${e.score}`);
      if (seen.has(e.docid)) throw new ColtsError("INPUT_INVALID", `query "${qid}": document "${e.docid}" appears twice`);
      seen.add(e.docid);
    }
    const ranked = rankEntries(entries);
    const n = Math.min(ranked.length, depth);
    for (let i = 0; i < n; i++) {
      const e = ranked[i]!;
      out.push(`${qid} Q0 ${e.docid} ${i + 1} ${String(e.score)} ${tag}\n`);
    }
  }
  return out.join("");
}
