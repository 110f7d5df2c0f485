/**
 * Text corpora for indexing: a JSONL file (`{"_id", "title", "text", ...}` per line), a BEIR folder
 * (its `corpus.jsonl`), or standard input (spooled to a temporary file first, because building reads
 * the corpus more than once: to count it, to sample it, and to index it). Documents are encoded by a
 * ColBERT model on the fly, so only one batch of float vectors exists at a time.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ColBERT } from "../encode/colbert.js";
import { ColtsError } from "../errors.js";
import type { EmbeddedDoc, EmbeddingSource } from "./source.js";

export interface CorpusOptions {
  /** Field holding the document id. Default "_id" (BEIR); "id" is accepted when "_id" is absent. */
  idField?: string;
  /** Field holding the text. Default "text". */
  textField?: string;
  /** Field holding the title, prepended to the text as "title text" (BEIR/PyLate). Default "title". */
  titleField?: string;
  /**
   * Fields stored as metadata (looked up at the top level, then inside a "metadata" object).
   * Default: none.
   */
  metadataFields?: string[];
}

/**
 * The text the encoder sees for a document: "title text" when the title has a non-blank value, else
 * the text. One rule for indexing, re-ranking inputs, training, mining and teachers.
 */
export function documentText(title: unknown, text: string): string {
  return typeof title === "string" && title.trim() !== "" ? `${title} ${text}` : text;
}

export interface CorpusDoc {
  id: string;
  text: string;
  metadata: Record<string, unknown> | null;
}

/** The JSONL file behind an input: a BEIR folder's corpus.jsonl, or the file itself. */
export function corpusFile(input: string): string {
  if (fs.existsSync(input) && fs.statSync(input).isDirectory()) {
    const f = path.join(input, "corpus.jsonl");
    if (!fs.existsSync(f)) throw new ColtsError("INPUT_INVALID", `${input} is a folder without corpus.jsonl (expected a BEIR folder or a JSONL file)`);
    return f;
  }
  if (!fs.existsSync(input)) throw new ColtsError("INPUT_INVALID", `corpus ${input} does not exist`, { details: { file: input } });
  return input;
}

/** Copies a stream (stdin) to a temporary file; returns its path and a cleanup function. */
export async function spoolToFile(stream: Readable): Promise<{ file: string; cleanup: () => void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "colts-stdin-"));
  const file = path.join(dir, "corpus.jsonl");
  await pipeline(stream, fs.createWriteStream(file));
  return { file, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

function field(o: Record<string, unknown>, name: string): unknown {
  if (name in o) return o[name];
  const meta = o["metadata"];
  return typeof meta === "object" && meta !== null ? (meta as Record<string, unknown>)[name] : undefined;
}

export function parseCorpusLine(line: string, file: string, lineNo: number, opts: CorpusOptions): CorpusDoc {
  let o: Record<string, unknown>;
  try {
    const v = JSON.parse(line) as unknown;
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
    o = v as Record<string, unknown>;
  } catch {
    throw new ColtsError("INPUT_INVALID", `${file}:${lineNo}: not a JSON object`, { details: { file, line: lineNo } });
  }
  const idField = opts.idField ?? "_id";
  const rawId = o[idField] ?? (idField === "_id" ? o["id"] : undefined);
  if (typeof rawId !== "string" && typeof rawId !== "number") {
    throw new ColtsError("INPUT_INVALID", `${file}:${lineNo}: missing id field "${idField}"`, { details: { file, line: lineNo } });
  }
  const text = o[opts.textField ?? "text"];
  if (typeof text !== "string") {
    throw new ColtsError("INPUT_INVALID", `${file}:${lineNo}: missing text field "${opts.textField ?? "text"}"`, { details: { file, line: lineNo } });
  }
  const title = o[opts.titleField ?? "title"];
  let metadata: Record<string, unknown> | null = null;
  for (const f of opts.metadataFields ?? []) {
    const v = field(o, f);
    if (v !== undefined) (metadata ??= {})[f] = v;
  }
  return { id: String(rawId), text: documentText(title, text), metadata };
}

/** Documents of a JSONL corpus with their 0-based positions (blank lines skipped). */
export async function* readCorpus(file: string, opts: CorpusOptions = {}): AsyncGenerator<{ index: number; doc: CorpusDoc }> {
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  let lineNo = 0;
  let index = 0;
  for await (const line of rl) {
    lineNo++;
    if (line.trim() === "") continue;
    yield { index: index++, doc: parseCorpusLine(line, file, lineNo, opts) };
  }
}

export async function countCorpus(file: string): Promise<number> {
  let n = 0;
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) if (line.trim() !== "") n++;
  return n;
}

export interface EncodedSourceOptions extends CorpusOptions {
  /** Documents per encode call. Default 256. */
  batchSize?: number;
  /** Store each document's text in the index (for explanations and re-ranking). Default true. */
  storeText?: boolean;
}

/** An EmbeddingSource that reads a JSONL corpus and encodes it with `model`. */
export async function encodedCorpusSource(file: string, model: ColBERT, opts: EncodedSourceOptions = {}): Promise<EmbeddingSource> {
  const count = await countCorpus(file);
  const batchSize = opts.batchSize ?? 256;
  const encode = async (docs: CorpusDoc[]): Promise<EmbeddedDoc[]> => {
    const vs = await model.encodeDocuments(docs.map((d) => d.text));
    return docs.map((d, i) => {
      const v = vs[i];
      if (!v) throw new ColtsError("WORKER_FAILED", "encoder returned fewer vectors than texts");
      return { id: d.id, vectors: v.vectors, n: v.tokens, metadata: d.metadata, ...(opts.storeText === false ? {} : { text: d.text }) };
    });
  };
  return {
    count,
    async *batches(only?: ReadonlySet<number>) {
      let pending: CorpusDoc[] = [];
      for await (const { index, doc } of readCorpus(file, opts)) {
        if (only && !only.has(index)) continue;
        pending.push(doc);
        if (pending.length >= batchSize) {
          yield await encode(pending);
          pending = [];
        }
      }
      if (pending.length > 0) yield await encode(pending);
    },
  };
}
