/**
 * The SMART test-collection format (CACM, CISI, Cranfield) and its conversion to BEIR objects.
 *
 * A SMART file is a list of records. `.I <number>` on a line of its own starts a record; a line that is
 * exactly `.<LETTER>` (trailing spaces allowed) starts a field, and the lines up to the next marker
 * are its text. A field marker repeated inside one record appends to that field: Cranfield's
 * documents 240, 576 and 578 carry such stray markers, and ir_datasets reads them the same way.
 * A line such as ".I think" or ".5 mm" is text, not a marker.
 */
import { ColtsError } from "../../src/errors.js";
import { addJudgment, numberedLines, squash } from "../../src/eval/lines.js";
import type { BeirDoc, BeirQuery, Qrels } from "../../src/eval/types.js";

export interface SmartRecord {
  /** The number after .I, as written ("001" stays "001"). */
  id: string;
  /** 1-based line of the .I marker. */
  line: number;
  /** Marker letter -> lines of text (a repeated marker appends). */
  fields: Map<string, string[]>;
}

function bad(file: string, line: number, why: string): ColtsError {
  return new ColtsError("INPUT_INVALID", `${file}:${line}: ${why}`, { details: { file, line } });
}

export function parseSmart(text: string, file: string): SmartRecord[] {
  const records: SmartRecord[] = [];
  const seen = new Map<string, number>();
  let cur: SmartRecord | null = null;
  let field: string[] | null = null;
  for (const [line, raw] of numberedLines(text)) {
    const start = /^\.I\s+(\d+)\s*$/.exec(raw);
    if (start) {
      const id = start[1] ?? "";
      const first = seen.get(id);
      if (first !== undefined) throw bad(file, line, `duplicate .I ${id} (first at ${file}:${first})`);
      seen.set(id, line);
      cur = { id, line, fields: new Map() };
      records.push(cur);
      field = null;
      continue;
    }
    const marker = /^\.([A-Z])\s*$/.exec(raw);
    if (marker && cur) {
      const letter = marker[1] ?? "";
      field = cur.fields.get(letter) ?? [];
      cur.fields.set(letter, field);
      continue;
    }
    if (raw.trim() === "") continue;
    if (!cur) throw bad(file, line, "text before the first .I record");
    if (!field) throw bad(file, line, `record .I ${cur.id} has text before any field marker`);
    field.push(raw);
  }
  return records;
}

/** A field's text with whitespace collapsed ("" when absent). */
export function fieldText(rec: SmartRecord, letter: string): string {
  return squash((rec.fields.get(letter) ?? []).join("\n"));
}

/** SMART ids are numbers, zero-padded in places ("01" in CACM's qrels): compare them as numbers. */
export function normalizeId(raw: string, file: string, line: number): string {
  if (!/^\d+$/.test(raw)) throw bad(file, line, `"${raw}" is not a numeric id`);
  return String(Number(raw));
}

/** How one collection maps onto BEIR. */
export interface SmartCollection {
  name: "cacm" | "cisi" | "cranfield";
  /** Folder under ../shared/datasets. */
  folder: string;
  docsFile: string;
  queriesFile: string;
  qrelsFile: string;
  /** BEIR metadata key -> SMART field of the documents kept as metadata (title is .T, text is .W). */
  docMetadata: Record<string, string>;
  /** SMART fields of a query whose text, in this order, makes the BEIR query text. */
  queryFields: string[];
  /** "marker": the query id is its .I number; "position": its 1-based position in the file. */
  queryIds: "marker" | "position";
  /** Reads the collection's own qrels layout. */
  parseQrels(text: string, file: string): Qrels;
  /** Figures stated in the collection's README, checked after conversion. */
  expected: { docs: number; queries: number; judgedQueries: number };
}

/** CACM qrels.text ("01 1410 0 0") and CISI.REL ("1 28 0 0.000000"): every listed pair is relevant. */
export function parsePairQrels(text: string, file: string): Qrels {
  const qrels: Qrels = new Map();
  const firstLine = new Map<string, number>();
  for (const [line, raw] of numberedLines(text)) {
    const f = raw.trim().split(/\s+/);
    if (raw.trim() === "") continue;
    if (f.length !== 4) throw bad(file, line, `expected 4 fields "qid docid 0 0", found ${f.length}`);
    addJudgment(qrels, firstLine, { file, line }, normalizeId(f[0] ?? "", file, line), normalizeId(f[1] ?? "", file, line), 1);
  }
  return qrels;
}

/**
 * Cranfield's cranqrel ("qid docid code"). Cleverdon's codes run the wrong way for trec_eval
 * (cranqrel.readme): 1 = complete answer ... 4 = minimum interest. The file bears that out: for query 2
 * ("structural and aeroelastic problems ... of high speed aircraft") code 1 goes to documents 12 and
 * 746, whose titles restate the question. Codes become grades 5 - code (4 = complete answer ... 1 =
 * minimum interest) so that higher is more relevant and nDCG's gains follow the codes; every coded
 * reference stays relevant at rel >= 1. Code -1 appears once per query (for queries 1 and 2 on
 * document 486, seemingly the paper the question was drawn from) and becomes 0, judged non-relevant,
 * which is how trec_eval's binary measures treat it anyway. (ir_datasets keeps the raw codes and
 * labels 4 "complete answer": binary measures agree with it, graded ones do not.)
 */
export function parseCranfieldQrels(text: string, file: string): Qrels {
  const qrels: Qrels = new Map();
  const firstLine = new Map<string, number>();
  for (const [line, raw] of numberedLines(text)) {
    if (raw.trim() === "") continue;
    const f = raw.trim().split(/\s+/);
    if (f.length !== 3) throw bad(file, line, `expected 3 fields "qid docid code", found ${f.length}`);
    const code = f[2] ?? "";
    const grade = code === "-1" ? 0 : /^[1-4]$/.test(code) ? 5 - Number(code) : NaN;
    if (Number.isNaN(grade)) throw bad(file, line, `relevance code "${code}" is not one of 1, 2, 3, 4, -1`);
    addJudgment(qrels, firstLine, { file, line }, normalizeId(f[0] ?? "", file, line), normalizeId(f[1] ?? "", file, line), grade);
  }
  return qrels;
}

export const COLLECTIONS: Record<SmartCollection["name"], SmartCollection> = {
  cacm: {
    name: "cacm",
    folder: "cacm",
    docsFile: "cacm.all",
    queriesFile: "query.text",
    qrelsFile: "qrels.text",
    // .N (entry stamps) and .X (citation triples) are bookkeeping, not text.
    docMetadata: { authors: "A", date: "B", categories: "C", keywords: "K" },
    // A query's .A lists the authors it asks for (query 2: "by Prieve or Udo Pooch"); Anserini's
    // topics.cacm.txt keeps them in the text too. .N names the requester.
    queryFields: ["W", "A"],
    queryIds: "marker",
    parseQrels: parsePairQrels,
    expected: { docs: 3204, queries: 64, judgedQueries: 52 },
  },
  cisi: {
    name: "cisi",
    folder: "cisi",
    docsFile: "CISI.ALL",
    queriesFile: "CISI.QRY",
    qrelsFile: "CISI.REL",
    docMetadata: { authors: "A", bib: "B" },
    // Queries 58 and later are abstracts with a title; their .A/.B (authors, source) describe the
    // example paper rather than the need.
    queryFields: ["T", "W"],
    queryIds: "marker",
    parseQrels: parsePairQrels,
    expected: { docs: 1460, queries: 112, judgedQueries: 76 },
  },
  cranfield: {
    name: "cranfield",
    folder: "cranfield",
    docsFile: "cran.all.1400",
    queriesFile: "cran.qry",
    qrelsFile: "cranqrel",
    docMetadata: { authors: "A", bib: "B" },
    queryFields: ["W"],
    // cran.qry numbers its queries 001..365 with gaps; cranqrel numbers them 1..225 by position.
    queryIds: "position",
    parseQrels: parseCranfieldQrels,
    expected: { docs: 1400, queries: 225, judgedQueries: 225 },
  },
};

export function smartDocs(records: readonly SmartRecord[], c: SmartCollection, file: string): BeirDoc[] {
  return records.map((r) => {
    const metadata: Record<string, unknown> = {};
    for (const [key, letter] of Object.entries(c.docMetadata)) {
      const v = fieldText(r, letter);
      if (v !== "") metadata[key] = v;
    }
    return { id: normalizeId(r.id, file, r.line), title: fieldText(r, "T"), text: fieldText(r, "W"), metadata };
  });
}

export function smartQueries(records: readonly SmartRecord[], c: SmartCollection, file: string): BeirQuery[] {
  return records.map((r, i) => ({
    id: c.queryIds === "position" ? String(i + 1) : normalizeId(r.id, file, r.line),
    text: c.queryFields.map((f) => fieldText(r, f)).filter((s) => s !== "").join(" "),
    // The id as the file writes it, for tracing a position-numbered query back to cran.qry.
    metadata: { smart_id: r.id },
  }));
}
