/**
 * Reads texts for `colts encode`: one per line, either a JSON object `{"id", "text"}` (also `_id`,
 * and `title` which is prepended as PyLate/BEIR do: "title text") or a plain line of text.
 * Blank lines are skipped. Errors name the source and line.
 */
import readline from "node:readline";
import type { Readable } from "node:stream";
import { ColtsError } from "../errors.js";
import { documentText } from "../plaid/corpus.js";

export interface TextRecord {
  id: string;
  text: string;
  /** 1-based line number in the source. */
  line: number;
}

function bad(source: string, line: number, why: string): ColtsError {
  return new ColtsError("INPUT_INVALID", `${source}:${line}: ${why}`, { details: { source, line } });
}

export function parseRecordLine(raw: string, line: number, ordinal: number, source: string): TextRecord | null {
  const trimmed = raw.trim();
  if (trimmed === "") return null;
  if (!trimmed.startsWith("{")) return { id: String(ordinal), text: raw, line };
  let obj: unknown;
  try {
    obj = JSON.parse(trimmed);
  } catch {
    throw bad(source, line, "line starts with '{' but is not valid JSON");
  }
  const o = obj as Record<string, unknown>;
  const text = o["text"];
  if (typeof text !== "string") throw bad(source, line, 'JSON line needs a string field "text"');
  const rawId = o["id"] ?? o["_id"] ?? ordinal;
  if (typeof rawId !== "string" && typeof rawId !== "number") throw bad(source, line, '"id" must be a string or a number');
  const title = o["title"];
  return { id: String(rawId), text: documentText(title, text), line };
}

export async function* readRecords(input: Readable, source: string): AsyncGenerator<TextRecord> {
  const rl = readline.createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  let ordinal = 0;
  for await (const raw of rl) {
    line++;
    const rec = parseRecordLine(raw, line, ordinal, source);
    if (rec) {
      ordinal++;
      yield rec;
    }
  }
}
