/**
 * TREC topic files, in the three forms found in Anserini's topic collection (the form is detected from
 * the first non-blank line):
 *
 * - TSV `qid<TAB>text` (MS MARCO, DL19/20, BEIR, MIRACL): everything after the first tab is the text.
 * - Classic SGML `<top> <num> Number: 301 <title> ... <desc> Description: ... <narr> ... </top>`, where a
 *   field runs to the next tag and closing tags are optional (robust04 style) or present.
 * - `<DOC> <DOCNO> 1 </DOCNO> text </DOC>` (Anserini's topics.cacm.txt): the text is all of the
 *   block except the DOCNO.
 *
 * SGML texts have their whitespace collapsed to single spaces (the files wrap lines); TSV texts are
 * kept as written.
 */
import { invalidLine, numberedLines, squash } from "./lines.js";
import type { Queries } from "./types.js";

/** A field of a classic `<top>` topic. */
export type TopicField = "title" | "desc" | "narr";

/** Options of {@link parseTopics}. */
export interface TopicsOptions {
  /**
   * Fields of `<top>` topics that make the query text, joined by a space in this order, e.g.
   * `["title", "desc"]`. Default `["title"]` (the usual "title queries"). Ignored by the other forms.
   */
  fields?: TopicField[];
}

/** Labels that TREC puts at the start of a field's text. */
const LABELS: Record<string, RegExp> = {
  num: /^Number:\s*/i,
  title: /^Topic:\s*/i,
  desc: /^Description:\s*/i,
  narr: /^Narrative:\s*/i,
};

/**
 * Parses a topic file in any of the three forms (see the file comment); `file` names it in errors.
 * Throws INPUT_INVALID with `file:line` for a malformed line or block, or a duplicate id.
 */
export function parseTopics(source: string, file: string, opts: TopicsOptions = {}): Queries {
  const text = source.startsWith("\uFEFF") ? source.slice(1) : source;
  for (const [, raw] of numberedLines(text)) {
    const head = raw.trim().toLowerCase();
    if (head === "") continue;
    if (head.startsWith("<top")) return parseSgml(text, file, "top", "num", opts.fields ?? ["title"]);
    if (head.startsWith("<doc")) return parseSgml(text, file, "doc", "docno", null);
    break;
  }
  return parseTsv(text, file);
}

function parseTsv(text: string, file: string): Queries {
  const out: Queries = new Map();
  const firstLine = new Map<string, number>();
  for (const [line, raw] of numberedLines(text)) {
    if (raw.trim() === "") continue;
    const tab = raw.indexOf("\t");
    if (tab < 0) throw invalidLine(file, line, 'expected "id<TAB>text"');
    const id = raw.slice(0, tab).trim();
    if (id === "") throw invalidLine(file, line, "empty query id");
    const first = firstLine.get(id);
    if (first !== undefined) throw invalidLine(file, line, `duplicate query id "${id}" (first at ${file}:${first})`);
    firstLine.set(id, line);
    out.set(id, raw.slice(tab + 1).trim());
  }
  return out;
}

/**
 * One pass over the tags of an SGML topic file. `block` is the element holding one topic, `idTag` the
 * element holding its id; with `fields` null the text is all untagged text of the block (the DOC form),
 * otherwise the listed fields. Line numbers are counted so that errors point at the block's start.
 */
function parseSgml(text: string, file: string, block: string, idTag: string, fields: TopicField[] | null): Queries {
  const out: Queries = new Map();
  const firstLine = new Map<string, number>();
  const tag = /<(\/?)([A-Za-z]+)[^<>]*>/g;
  let line = 1;
  let pos = 0;
  let open: { line: number; parts: Map<string, string[]> } | null = null;
  let field = ""; // "" = untagged text of the block

  const addText = (chunk: string, at: number): void => {
    if (chunk.trim() === "") return;
    if (!open) throw invalidLine(file, at, `text outside <${block}>...</${block}>`);
    const parts = open.parts.get(field);
    if (parts) parts.push(chunk);
    else open.parts.set(field, [chunk]);
  };
  const close = (at: number): void => {
    if (!open) throw invalidLine(file, at, `</${block}> without <${block}>`);
    const get = (name: string): string => squash((open?.parts.get(name) ?? []).join(" ")).replace(LABELS[name] ?? /^$/, "");
    const id = get(idTag);
    if (id === "") throw invalidLine(file, open.line, `<${block}> has no <${idTag}>`);
    const body = fields ? fields.map(get).filter((s) => s !== "").join(" ") : get("");
    if (fields && body === "") throw invalidLine(file, open.line, `topic "${id}" has no ${fields.map((f) => `<${f}>`).join(" or ")}`);
    const first = firstLine.get(id);
    if (first !== undefined) throw invalidLine(file, open.line, `duplicate topic id "${id}" (first at ${file}:${first})`);
    firstLine.set(id, open.line);
    out.set(id, body);
    open = null;
  };

  for (let m = tag.exec(text); m; m = tag.exec(text)) {
    const chunk = text.slice(pos, m.index);
    addText(chunk, line + leadingNewlines(chunk));
    line += countNewlines(chunk);
    const closing = m[1] === "/";
    const name = (m[2] ?? "").toLowerCase();
    if (name === block) {
      if (closing) close(line);
      else if (open) throw invalidLine(file, line, `<${block}> inside <${block}> (missing </${block}> for line ${open.line})`);
      else open = { line, parts: new Map() };
      field = "";
    } else if (!open) {
      throw invalidLine(file, line, `<${closing ? "/" : ""}${name}> outside <${block}>...</${block}>`);
    } else {
      // A closing tag ends its field; an opening tag starts the next one.
      field = closing ? "" : name;
    }
    line += countNewlines(m[0]);
    pos = m.index + m[0].length;
  }
  const rest = text.slice(pos);
  addText(rest, line + leadingNewlines(rest));
  if (open) throw invalidLine(file, open.line, `<${block}> is never closed`);
  return out;
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", i + 1)) n++;
  return n;
}

/** Newlines before the first non-space character: where a stray chunk of text actually starts. */
function leadingNewlines(s: string): number {
  const start = s.search(/\S/);
  return countNewlines(start < 0 ? s : s.slice(0, start));
}
