/**
 * BEIR folder files: corpus.jsonl `{"_id","title","text","metadata"}`, queries.jsonl
 * `{"_id","text","metadata"}`, qrels/<split>.tsv `query-id<TAB>corpus-id<TAB>score` after a header
 * line. Pure string functions; io.ts reads and writes the files. Corpus lines follow the rules of the
 * corpus reader (src/corpus/reader.ts), which every corpus consumer shares.
 */
import { parseCorpusLine, parseCorpusText, type CorpusRecord } from "../corpus/reader.js";
import { ColtsError } from "../errors.js";
import { addJudgment, INTEGER, invalidLine, numberedLines } from "./lines.js";
import type { BeirDoc, BeirQuery, Qrels } from "./types.js";

function parseJsonObject(raw: string, file: string, line: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (e) {
    throw invalidLine(file, line, `invalid JSON (${(e as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidLine(file, line, "expected a JSON object");
  return value as Record<string, unknown>;
}

function stringField(o: Record<string, unknown>, key: string, file: string, line: number, required: boolean): string {
  const v = o[key];
  if (v === undefined && !required) return "";
  if (typeof v !== "string") throw invalidLine(file, line, `expected "${key}" to be a string`);
  return v;
}

function metadataOf(o: Record<string, unknown>, file: string, line: number): { metadata?: Record<string, unknown> } {
  const m = o["metadata"];
  if (m === undefined || m === null) return {};
  if (typeof m !== "object" || Array.isArray(m)) throw invalidLine(file, line, `expected "metadata" to be an object`);
  return { metadata: m as Record<string, unknown> };
}

function idOf(o: Record<string, unknown>, file: string, line: number): string {
  const id = stringField(o, "_id", file, line, true);
  if (id === "") throw invalidLine(file, line, `"_id" is empty`);
  return id;
}

/** A corpus record as a BEIR document. */
export function beirDoc(r: CorpusRecord): BeirDoc {
  return { id: r.id, title: r.title, text: r.text, ...(r.metadata ? { metadata: r.metadata } : {}) };
}

/** Parses one corpus.jsonl line (not blank) by the corpus reader's rules; `title` may be missing, the id and `text` may not. */
export function parseBeirDocLine(raw: string, file: string, line: number): BeirDoc {
  return beirDoc(parseCorpusLine(raw, file, line));
}

/** Parses one queries.jsonl line (not blank). */
export function parseBeirQueryLine(raw: string, file: string, line: number): BeirQuery {
  const o = parseJsonObject(raw, file, line);
  return { id: idOf(o, file, line), text: stringField(o, "text", file, line, true), ...metadataOf(o, file, line) };
}

/** Parses query lines with `parse`, skipping blank lines and rejecting a repeated `_id`. */
function parseJsonl<T extends { id: string }>(text: string, file: string, parse: (raw: string, file: string, line: number) => T): T[] {
  const out: T[] = [];
  const firstLine = new Map<string, number>();
  for (const [line, raw] of numberedLines(text)) {
    if (raw.trim() === "") continue;
    const item = parse(raw, file, line);
    const first = firstLine.get(item.id);
    if (first !== undefined) throw invalidLine(file, line, `duplicate _id "${item.id}" (first at ${file}:${first})`);
    firstLine.set(item.id, line);
    out.push(item);
  }
  return out;
}

/** Parses a whole corpus.jsonl held in memory (see io.ts `readBeirCorpus` to stream a large one). */
export function parseBeirCorpus(text: string, file: string): BeirDoc[] {
  return parseCorpusText(text, file).map(beirDoc);
}

/** Parses a whole queries.jsonl in file order, skipping blank lines and refusing a repeated `_id` (naming both lines). */
export function parseBeirQueries(text: string, file: string): BeirQuery[] {
  return parseJsonl(text, file, parseBeirQueryLine);
}

/**
 * Parses qrels/<split>.tsv. BEIR's loader skips the first line unread; here line 1 is skipped only
 * when it is a header (its score is not an integer), so a header-less file loses no judgment.
 */
export function parseBeirQrels(text: string, file: string): Qrels {
  const qrels: Qrels = new Map();
  const firstLine = new Map<string, number>();
  for (const [line, raw] of numberedLines(text)) {
    if (raw.trim() === "") continue;
    const f = raw.split("\t");
    if (f.length !== 3) throw invalidLine(file, line, `expected 3 tab-separated fields, found ${f.length}`);
    const [qid = "", docid = "", score = ""] = f.map((s) => s.trim());
    if (!INTEGER.test(score)) {
      if (line === 1) continue;
      throw invalidLine(file, line, `score "${score}" is not an integer`);
    }
    if (qid === "" || docid === "") throw invalidLine(file, line, "empty query-id or corpus-id");
    addJudgment(qrels, firstLine, { file, line }, qid, docid, Number(score));
  }
  return qrels;
}

/** One corpus.jsonl line (without newline) in BEIR's field order. */
export function formatBeirDoc(doc: BeirDoc): string {
  return JSON.stringify({ _id: doc.id, title: doc.title, text: doc.text, ...(doc.metadata ? { metadata: doc.metadata } : {}) });
}

/** One queries.jsonl line (without newline). */
export function formatBeirQuery(q: BeirQuery): string {
  return JSON.stringify({ _id: q.id, text: q.text, ...(q.metadata ? { metadata: q.metadata } : {}) });
}

/** A qrels/<split>.tsv file with BEIR's header. Ids containing tabs or newlines are rejected. */
export function formatBeirQrels(qrels: Qrels): string {
  const out = ["query-id\tcorpus-id\tscore\n"];
  for (const [qid, docs] of qrels) {
    for (const [docid, grade] of docs) {
      if (/[\t\r\n]/.test(qid + docid)) throw new ColtsError("INPUT_INVALID", `qrels ids may not contain tabs or newlines: "${qid}" "${docid}"`);
      if (!Number.isInteger(grade)) throw new ColtsError("INPUT_INVALID", `query "${qid}", document "${docid}": grade ${grade} is not an integer`);
      out.push(`${qid}\t${docid}\t${grade}\n`);
    }
  }
  return out.join("");
}
