/**
 * A SQuAD-format QA set (SQuAD v1.1 JSON, as JSQuAD / JGLUE and JaQuAD ship) as a retrieval
 * evaluation: every paragraph is a document, every question a query whose one relevant document is
 * its own paragraph (JaColBERT's JSQuAD setting, Recall@k). Pure string -> data.
 *
 * Ids: a document is "<article index>p<paragraph index>" unless the question ids carry their own
 * paragraph prefix (JSQuAD "a10336p0q0" -> "a10336p0"); a query keeps the question id. JGLUE contexts
 * start with "<title> [SEP] ": that prefix becomes the document title and is removed from the text.
 * Unanswerable questions (`is_impossible: true`) are kept: their paragraph is still the relevant one.
 */
import { ColtsError } from "../errors.js";
import type { BeirDoc, BeirQuery, Qrels } from "./types.js";

/** A SQuAD set as retrieval data: paragraphs, questions, and each question's paragraph as its one relevant document. */
export interface SquadRetrievalSet {
  /** One document per distinct paragraph, in file order. */
  corpus: BeirDoc[];
  /** One query per question, in file order. */
  queries: BeirQuery[];
  /** Question id -> its paragraph's id -> grade 1. */
  qrels: Qrels;
}

type Json = Record<string, unknown>;

function bad(file: string, why: string): ColtsError {
  return new ColtsError("INPUT_INVALID", `${file} is not SQuAD-format JSON: ${why}`, { details: { file } });
}

function array(v: unknown, file: string, what: string): Json[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === "object" && x !== null && !Array.isArray(x))) throw bad(file, `${what} must be an array of objects`);
  return v as Json[];
}

/** JGLUE's "<title> [SEP] <text>" context, split. */
function splitTitle(context: string, title: string): { title: string; text: string } {
  const sep = context.indexOf(" [SEP] ");
  if (sep >= 0) return { title: context.slice(0, sep), text: context.slice(sep + 7) };
  return { title, text: context };
}

/** Parses SQuAD v1.1 JSON (`file` names it in errors); throws INPUT_INVALID for anything not in that shape. */
export function parseSquadRetrieval(text: string, file: string): SquadRetrievalSet {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (cause) {
    throw new ColtsError("INPUT_INVALID", `${file}: invalid JSON (${(cause as Error).message})`, { cause, details: { file } });
  }
  if (typeof root !== "object" || root === null || Array.isArray(root)) throw bad(file, "the top level must be an object");
  const corpus: BeirDoc[] = [];
  const queries: BeirQuery[] = [];
  const qrels: Qrels = new Map();
  const docIds = new Set<string>();
  array((root as Json)["data"], file, '"data"').forEach((article, a) => {
    const title = typeof article["title"] === "string" ? article["title"] : "";
    array(article["paragraphs"], file, `data[${a}].paragraphs`).forEach((p, k) => {
      if (typeof p["context"] !== "string") throw bad(file, `data[${a}].paragraphs[${k}].context must be a string`);
      const qas = array(p["qas"] ?? [], file, `data[${a}].paragraphs[${k}].qas`);
      const firstId = qas[0]?.["id"];
      const prefix = typeof firstId === "string" ? /^(.*p\d+)q\d+$/.exec(firstId)?.[1] : undefined;
      let docId = prefix ?? `${a}p${k}`;
      if (docIds.has(docId)) docId = `${a}p${k}`;
      if (docIds.has(docId)) throw bad(file, `paragraph id ${docId} repeats`);
      docIds.add(docId);
      corpus.push({ id: docId, ...splitTitle(p["context"], title) });
      for (const qa of qas) {
        const id = qa["id"];
        const question = qa["question"];
        if (typeof id !== "string" || typeof question !== "string") throw bad(file, `a question of paragraph ${docId} lacks a string id or question`);
        if (qrels.has(id)) throw bad(file, `question id ${id} repeats`);
        queries.push({ id, text: question });
        qrels.set(id, new Map([[docId, 1]]));
      }
    });
  });
  return { corpus, queries, qrels };
}
