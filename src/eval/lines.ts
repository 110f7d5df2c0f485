/** Helpers shared by the eval parsers: line iteration, the error shape `file:line: why`, qrels building. */
import { textLines } from "../corpus/lines.js";
import { ColtsError } from "../errors.js";
import type { Qrels } from "./types.js";

/** A qrels grade or BEIR score: trec_eval reads grades as integers. */
export const INTEGER = /^[+-]?\d+$/;

export function invalidLine(file: string, line: number, why: string): ColtsError {
  return new ColtsError("INPUT_INVALID", `${file}:${line}: ${why}`, { details: { file, line } });
}

/**
 * Yields `[lineNumber, text]` (1-based), with "\r" of CRLF files and a leading byte-order mark removed
 * (Windows-made topic files such as topics.dl20.txt have both). A final newline adds no empty line.
 * The corpus reader splits text held in memory the same way.
 */
export const numberedLines = textLines;

/** Collapses runs of whitespace (newlines of SGML topics, SMART fields) to one space and trims. */
export function squash(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** Adds one judgment; trec_eval stops on a duplicate (form_res_rels.c), so do we, naming both lines. */
export function addJudgment(
  qrels: Qrels,
  firstLine: Map<string, number>,
  at: { file: string; line: number },
  qid: string,
  docid: string,
  grade: number,
): void {
  let docs = qrels.get(qid);
  if (!docs) qrels.set(qid, (docs = new Map<string, number>()));
  const key = `${qid}\u0000${docid}`;
  const first = firstLine.get(key);
  if (first !== undefined) {
    throw invalidLine(at.file, at.line, `duplicate judgment for query "${qid}", document "${docid}" (first at ${at.file}:${first})`);
  }
  firstLine.set(key, at.line);
  docs.set(docid, grade);
}
