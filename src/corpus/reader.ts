/**
 * The one reader of document corpora, used by index build/add, evaluation, mining, training,
 * teachers, re-ranking and `colts encode`. One document per line, with one set of rules:
 *
 * - A line is a JSON object `{"_id", "title", "text", "metadata"}` (BEIR). The id is `_id`, or `id`
 *   when `_id` is absent. It is a non-empty string; a JSON number is accepted when it is a safe
 *   integer written as one (`7`, `-3`) and read as `String(n)`, so `7` and `"7"` are the same id.
 *   A number written otherwise (`1.0`, `1e3`, `-0`) is refused: JSON.parse would read `1.0` as the id
 *   "1", silently merging it with `1` and parting it from a qrels file that says `1.0`; write such
 *   ids as strings.
 * - The values picked by `metadataFields` must be storable JSON: numbers finite (`1e400` parses to
 *   Infinity), nesting at most 100 deep. Checked here so that a bad value stops index build before
 *   anything is encoded, with its line.
 * - `title` is optional (a string, or null); `text` is a string; `metadata`, when present and not
 *   null, is an object.
 * - A UTF-8 byte-order mark opening line 1 is dropped; gzip data (`.gz`) is decompressed; blank lines
 *   are skipped; "\r\n" line ends are read as "\n".
 * - Plain-text lines (not starting with "{") are documents only where the caller asks
 *   (`plainText`, for `colts encode`); they, and JSON lines without an id there, are numbered by their
 *   position among the documents (0-based).
 * - An id seen before is refused, naming the file and line of both occurrences.
 *
 * Every problem is INPUT_INVALID with a message starting `file:line:` (lines 1-based, counted over
 * the file's lines, blank ones included).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ColtsError } from "../errors.js";
import { openFile, streamLines, textLines } from "./lines.js";

/** How corpus lines are read. Every field is optional; the defaults read a BEIR corpus.jsonl. */
export interface CorpusOptions {
  /** Field holding the document id. Default "_id", with "id" read when a line has no "_id". */
  idField?: string;
  /** Field holding the text. Default "text". */
  textField?: string;
  /** Field holding the optional title, joined to the text by {@link documentText}. Default "title". */
  titleField?: string;
  /**
   * Fields picked into {@link CorpusRecord.fields}, each looked up at the top level of the line and
   * then inside its "metadata" object. Default: none.
   */
  metadataFields?: readonly string[];
  /**
   * Accept plain-text lines (a line not starting with "{" is one document's text) and JSON lines
   * without an id; both are numbered by their 0-based position among the documents. Default false.
   */
  plainText?: boolean;
  /**
   * Refuse a repeated id, naming both lines. Keeps every id seen with its line (about 50-100 bytes per
   * document); pass false only for a corpus already checked. Default true.
   */
  checkDuplicates?: boolean;
  /** The name messages give the input (e.g. "<stdin>" for a spooled stream). Default: the file path. */
  name?: string;
}

/** One document line as read. */
export interface CorpusRecord {
  /** The id, as a string. */
  id: string;
  /** The title; "" when the line has none. */
  title: string;
  /** The text field as is (see {@link documentText} for the text an encoder sees). */
  text: string;
  /** The line's "metadata" object, when it has one. */
  metadata?: Record<string, unknown>;
  /** The values of `metadataFields` found on the line; null when none was asked for or found. */
  fields: Record<string, unknown> | null;
  /** 1-based line number in the input. */
  line: number;
}

/**
 * The text the encoder sees for a document: "title text" when the title has a non-blank value, else
 * the text. One rule for indexing, re-ranking inputs, training, mining, teachers and `colts encode`.
 */
export function documentText(title: unknown, text: string): string {
  return typeof title === "string" && title.trim() !== "" ? `${title} ${text}` : text;
}

function invalid(file: string, line: number, why: string, details: Record<string, unknown> = {}): ColtsError {
  return new ColtsError("INPUT_INVALID", `${file}:${line}: ${why}`, { details: { file, line, ...details } });
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `${typeof v} ${JSON.stringify(v)}`;
}

/** A parsed line with what the duplicate check says about it: the field that held the id, and whether it was a number. */
interface Parsed {
  record: CorpusRecord;
  idField: string;
  numericId: boolean;
}

/**
 * Parses the lines of one input in order, keeping what the rules need across lines (the ids seen
 * and the count of documents). Use one parser per input.
 */
export class CorpusLineParser {
  private readonly idField: string;
  private readonly textField: string;
  private readonly titleField: string;
  /** Id -> line it was first seen on, negated when the id was a JSON number (for the duplicate message). */
  private readonly firstLine: Map<string, number> | null;
  private documents = 0;

  /** `name` is the input's name in messages (a file path, "<stdin>"). */
  constructor(
    /** The input's name in error messages (a file path, "<stdin>"). */
    readonly name: string,
    private readonly opts: CorpusOptions = {},
  ) {
    this.idField = opts.idField ?? "_id";
    this.textField = opts.textField ?? "text";
    this.titleField = opts.titleField ?? "title";
    this.firstLine = opts.checkDuplicates === false ? null : new Map();
  }

  /** Documents parsed so far. */
  get count(): number {
    return this.documents;
  }

  /**
   * Parses line `line` (1-based, without its line end; a byte-order mark is dropped on line 1).
   * Returns null for a blank line; throws INPUT_INVALID naming `name:line` for a bad one.
   */
  parse(raw: string, line: number): CorpusRecord | null {
    const text = line === 1 && raw.startsWith("\uFEFF") ? raw.slice(1) : raw;
    const trimmed = text.trim();
    if (trimmed === "") return null;
    const parsed = trimmed.startsWith("{") || !this.opts.plainText ? this.parseJson(trimmed, line) : this.plain(text, line);
    this.remember(parsed);
    this.documents++;
    return parsed.record;
  }

  private plain(text: string, line: number): Parsed {
    return { record: { id: String(this.documents), title: "", text, fields: null, line }, idField: "id", numericId: false };
  }

  private parseJson(trimmed: string, line: number): Parsed {
    const file = this.name;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (e) {
      if (!trimmed.startsWith("{")) throw invalid(file, line, "expected a JSON object, found a line of plain text (plain-text lines are not accepted here)");
      throw invalid(file, line, `invalid JSON (${(e as Error).message})`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid(file, line, `expected a JSON object, found ${describe(value)}`);
    const o = value as Record<string, unknown>;
    const { id, field, numeric } = this.idOf(o, line, trimmed);
    const body = o[this.textField];
    if (typeof body !== "string") throw invalid(file, line, `expected "${this.textField}" to be a string, found ${body === undefined ? "none" : describe(body)}`);
    const rawTitle = o[this.titleField];
    let title = "";
    if (typeof rawTitle === "string") title = rawTitle;
    else if (rawTitle !== undefined && rawTitle !== null) throw invalid(file, line, `expected "${this.titleField}" to be a string, found ${describe(rawTitle)}`);
    const meta = o["metadata"];
    let metadata: Record<string, unknown> | undefined;
    if (typeof meta === "object" && meta !== null && !Array.isArray(meta)) metadata = meta as Record<string, unknown>;
    else if (meta !== undefined && meta !== null) throw invalid(file, line, `expected "metadata" to be an object, found ${describe(meta)}`);
    let fields: Record<string, unknown> | null = null;
    for (const f of this.opts.metadataFields ?? []) {
      const v = f in o ? o[f] : metadata?.[f];
      if (v !== undefined) {
        checkMetadataValue(v, f, file, line, 0);
        (fields ??= {})[f] = v;
      }
    }
    return { record: { id, title, text: body, ...(metadata ? { metadata } : {}), fields, line }, idField: field, numericId: numeric };
  }

  private idOf(o: Record<string, unknown>, line: number, raw: string): { id: string; field: string; numeric: boolean } {
    const file = this.name;
    let field = this.idField;
    let v = o[field];
    // BEIR writes "_id"; many other JSONL corpora write "id". "_id" wins when a line has both.
    if ((v === undefined || v === null) && field === "_id" && o["id"] !== undefined && o["id"] !== null) {
      field = "id";
      v = o["id"];
    }
    if (v === undefined || v === null) {
      if (this.opts.plainText) return { id: String(this.documents), field, numeric: false };
      const also = field === "_id" ? ` ("id" is read when "_id" is absent)` : "";
      throw invalid(file, line, `expected "${field}" to be a string or an integer, found none${also}`);
    }
    if (typeof v === "number") {
      // A number id must name one string: 1.5 has none that all tools agree on, and beyond 2^53 the
      // digits in the file are not the number JSON.parse returns.
      if (!Number.isSafeInteger(v)) {
        throw invalid(file, line, `"${field}" is the number ${v}: a number id must be an integer below 2^53 (write other ids as strings)`);
      }
      const written = numberText(raw, field, v);
      if (written !== null && written !== String(v)) {
        throw invalid(file, line, `"${field}" is written ${written}: a number id must be written as an integer (${String(v)}), or as a string ("${written}"); colts does not merge ${written} into the id "${String(v)}"`);
      }
      return { id: String(v), field, numeric: true };
    }
    if (typeof v !== "string") throw invalid(file, line, `expected "${field}" to be a string or an integer, found ${describe(v)}`);
    if (v === "") throw invalid(file, line, `"${field}" is empty`);
    return { id: v, field, numeric: false };
  }

  private remember({ record, idField, numericId }: Parsed): void {
    if (!this.firstLine) return;
    const seen = this.firstLine.get(record.id);
    if (seen !== undefined) {
      const first = Math.abs(seen);
      const note = numericId || seen < 0 ? `; the number ${record.id} and the string "${record.id}" are the same id` : "";
      throw invalid(this.name, record.line, `duplicate ${idField} "${record.id}" (first at ${this.name}:${first})${note}`, { id: record.id, firstLine: first });
    }
    this.firstLine.set(record.id, numericId ? -record.line : record.line);
  }
}

/** Deepest metadata nesting accepted (the metadata store's limit). */
const MAX_METADATA_DEPTH = 100;

/** Refuses a picked metadata value the metadata store would refuse later, after encoding: non-finite numbers, deep nesting. */
function checkMetadataValue(v: unknown, where: string, file: string, line: number, depth: number): void {
  if (depth > MAX_METADATA_DEPTH) throw invalid(file, line, `metadata "${where}" is nested more than ${MAX_METADATA_DEPTH} deep`, { field: where });
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw invalid(file, line, `metadata "${where}" is a number beyond the range of a double (read as ${v}); write it as a string`, { field: where });
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => checkMetadataValue(x, `${where}[${i}]`, file, line, depth + 1));
  } else if (typeof v === "object" && v !== null) {
    for (const [k, x] of Object.entries(v)) checkMetadataValue(x, `${where}.${k}`, file, line, depth + 1);
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * How the number `value` of key `field` is written in the line `raw` (e.g. "1.0"), or null when no
 * such text is found (a key written with escapes). Keys of nested objects may match too: only a text
 * that reads as the same number counts, so such a match can only repeat the id's own value.
 */
function numberText(raw: string, field: string, value: number): string | null {
  const re = new RegExp(`"${escapeRegExp(field)}"\\s*:\\s*(-?\\d[\\d.eE+-]*)`, "g");
  let found: string | null = null;
  for (const m of raw.matchAll(re)) {
    const text = m[1] as string;
    if (Number(text) !== value) continue;
    if (text !== String(value)) return text;
    found = text;
  }
  return found;
}

/**
 * Parses one corpus line on its own (no duplicate check, no numbering of plain lines): the rules of
 * {@link CorpusLineParser.parse}. `file` and `line` name it in errors. Throws on a blank line.
 */
export function parseCorpusLine(raw: string, file: string, line: number, opts: CorpusOptions = {}): CorpusRecord {
  const record = new CorpusLineParser(file, { ...opts, checkDuplicates: false }).parse(raw, line);
  if (!record) throw invalid(file, line, "blank line");
  return record;
}

/** Parses a whole corpus held in memory (`name` is used in messages). */
export function parseCorpusText(text: string, name: string, opts: CorpusOptions = {}): CorpusRecord[] {
  const parser = new CorpusLineParser(name, opts);
  const out: CorpusRecord[] = [];
  for (const [line, raw] of textLines(text)) {
    const r = parser.parse(raw, line);
    if (r) out.push(r);
  }
  return out;
}

function bytesError(name: string): (e: unknown, line: number) => Error {
  return (e, line) => {
    if (e instanceof ColtsError) return e;
    const code = String((e as NodeJS.ErrnoException).code ?? "");
    const why = code.startsWith("Z_") ? `corrupt gzip data (${(e as Error).message})` : `cannot read: ${(e as Error).message}`;
    return new ColtsError("INPUT_INVALID", `${name}:${line}: ${why}`, { cause: e, details: { file: name, line } });
  };
}

/**
 * Streams the documents of a corpus: a file path, or a stream (standard input; give `opts.name` for
 * messages). Memory holds one chunk of lines (plus the ids seen, when duplicates are checked).
 */
export async function* readCorpusRecords(source: string | Readable, opts: CorpusOptions = {}): AsyncGenerator<CorpusRecord> {
  const name = opts.name ?? (typeof source === "string" ? source : "<stream>");
  const input = typeof source === "string" ? await openFile(source) : source;
  const parser = new CorpusLineParser(name, opts);
  for await (const { first, lines } of streamLines(input, bytesError(name))) {
    for (let i = 0; i < lines.length; i++) {
      const r = parser.parse(lines[i] as string, first + i);
      if (r) yield r;
    }
  }
}

/** A document as the index sees it: its id, the text to encode, the picked metadata. */
export interface CorpusDoc {
  /** The document id. */
  id: string;
  /** The text to encode: {@link documentText} of title and text. */
  text: string;
  /** The `metadataFields` found on the line, or null. */
  metadata: Record<string, unknown> | null;
}

/** Documents of a corpus file with their 0-based positions (blank lines do not count). */
export async function* readCorpus(file: string, opts: CorpusOptions = {}): AsyncGenerator<{ index: number; doc: CorpusDoc }> {
  let index = 0;
  for await (const r of readCorpusRecords(file, opts)) {
    yield { index: index++, doc: { id: r.id, text: documentText(r.title, r.text), metadata: r.fields } };
  }
}

/** A corpus file read once end to end with every rule applied: safe to encode without surprises. */
export interface CheckedCorpus {
  /** The file. */
  readonly file: string;
  /** Its number of documents. */
  readonly count: number;
  /** The options it was checked with; read it again with these (duplicates need no second check). */
  readonly options: CorpusOptions;
}

/**
 * Reads a corpus file through once, applying every rule (duplicates included, unless
 * `checkDuplicates` is false), so that a bad line stops the work before a model encodes anything.
 * A streaming pass: memory holds the ids seen, never the documents.
 */
export async function checkCorpus(file: string, opts: CorpusOptions = {}): Promise<CheckedCorpus> {
  let count = 0;
  for await (const _ of readCorpusRecords(file, opts)) count++;
  return { file, count, options: { ...opts } };
}

/**
 * The file behind a corpus argument: a BEIR folder's corpus.jsonl (or corpus.jsonl.gz), or the path
 * itself.
 */
export function corpusFile(input: string): string {
  if (fs.existsSync(input) && fs.statSync(input).isDirectory()) {
    for (const name of ["corpus.jsonl", "corpus.jsonl.gz"]) {
      const f = path.join(input, name);
      if (fs.existsSync(f)) return f;
    }
    throw new ColtsError("INPUT_INVALID", `${input} is a folder without corpus.jsonl (expected a BEIR folder or a JSONL file)`, { details: { file: input } });
  }
  if (!fs.existsSync(input)) throw new ColtsError("INPUT_INVALID", `corpus ${input} does not exist`, { details: { file: input } });
  return input;
}

/**
 * Copies a stream (standard input) to a temporary file, for readers that pass over a corpus more than
 * once (index build checks, counts, samples and then encodes it). Returns the file and its cleanup.
 */
export async function spoolToFile(stream: Readable): Promise<{ file: string; cleanup: () => void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "colts-stdin-"));
  const file = path.join(dir, "corpus.jsonl");
  await pipeline(stream, fs.createWriteStream(file));
  return { file, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
