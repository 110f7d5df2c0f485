/**
 * File wrappers around formats.ts. Errors name the path as given, e.g.
 * `colts: data/scifact/qrels/test.tsv:17: expected 3 tab-separated fields, found 2`.
 * Files whose content starts with the gzip magic bytes are decompressed (Anserini ships topics as
 * .tsv.gz).
 */
import fsp from "node:fs/promises";
import path from "node:path";
import zlib from "node:zlib";
import { isGzip, unreadable } from "../corpus/lines.js";
import { readCorpusRecords } from "../corpus/reader.js";
import { ColtsError } from "../errors.js";
import { openOutputStream } from "../store/output.js";
import { beirDoc } from "./beir.js";
import {
  formatBeirDoc,
  formatBeirQrels,
  formatBeirQuery,
  formatTrecRun,
  parseBeirQrels,
  parseBeirQueries,
  parseTopics,
  parseTrecQrels,
  parseTrecRun,
  type FormatRunOptions,
  type TopicsOptions,
} from "./formats.js";
import type { BeirDoc, BeirQuery, Queries, Qrels, Run, RunEntry } from "./types.js";

/** Reads a UTF-8 text file, gunzipping it when it is gzip data. */
export async function readText(file: string): Promise<string> {
  let buf: Buffer;
  try {
    buf = await fsp.readFile(file);
  } catch (e) {
    throw unreadable(file, e);
  }
  if (!isGzip(buf)) return buf.toString("utf8");
  try {
    return zlib.gunzipSync(buf).toString("utf8");
  } catch (e) {
    throw new ColtsError("INPUT_INVALID", `${file}: corrupt gzip data`, { cause: e, details: { file } });
  }
}

/** Reads a topic file in any of parseTopics' forms (TSV, `<top>`, `<DOC>`). */
export async function readTopics(file: string, opts: TopicsOptions = {}): Promise<Queries> {
  return parseTopics(await readText(file), file, opts);
}

/** Reads a TREC qrels file (`qid iter docid rel`; see parseTrecQrels). */
export async function readTrecQrels(file: string): Promise<Qrels> {
  return parseTrecQrels(await readText(file), file);
}

/** Reads a TREC run file (`qid Q0 docid rank score tag`; see parseTrecRun). */
export async function readTrecRun(file: string): Promise<Run> {
  return parseTrecRun(await readText(file), file);
}

/**
 * Writes a run file (see formatTrecRun for the order and checks), creating parent folders. A regular
 * file is replaced atomically; a symlink is followed; a device or FIFO is written in place
 * (store/output.ts).
 */
export async function writeTrecRun(file: string, run: ReadonlyMap<string, readonly RunEntry[]>, opts: FormatRunOptions = {}): Promise<void> {
  const out = openOutputStream(file);
  try {
    if (!out.stream.write(formatTrecRun(run, opts))) await new Promise<void>((resolve) => out.stream.once("drain", resolve));
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e;
  }
}

/** Options of {@link readBeirCorpus}. */
export interface ReadCorpusOptions {
  /**
   * Reject a repeated `_id`, naming both lines. Needs a set of all ids seen (about 50-100 bytes per
   * document); pass false for corpora of many millions of documents already known clean. Default true.
   */
  checkDuplicates?: boolean;
}

/**
 * Streams corpus.jsonl one document at a time (the corpus reader's rules: gzip, byte-order mark,
 * blank lines, `_id` or `id`, duplicates refused naming both lines), so a large corpus is never held
 * in memory as text and as objects at once.
 */
export async function* readBeirCorpus(file: string, opts: ReadCorpusOptions = {}): AsyncGenerator<BeirDoc> {
  for await (const r of readCorpusRecords(file, { checkDuplicates: opts.checkDuplicates !== false })) yield beirDoc(r);
}

/** Reads a BEIR queries.jsonl: every query of the file, in file order (see parseBeirQueries). */
export async function readBeirQueries(file: string): Promise<BeirQuery[]> {
  return parseBeirQueries(await readText(file), file);
}

/** Reads a BEIR qrels/<split>.tsv; the header line is optional (see parseBeirQrels). */
export async function readBeirQrels(file: string): Promise<Qrels> {
  return parseBeirQrels(await readText(file), file);
}

/** Options of {@link loadBeir}. */
export interface LoadBeirOptions {
  /**
   * Load corpus.jsonl into `corpus`. Default true; pass false to stream it instead with
   * `readBeirCorpus(dataset.corpusPath)` (then `corpus` is empty).
   */
  corpus?: boolean;
}

/** A BEIR dataset folder loaded for one split. */
export interface BeirDataset {
  /** Documents in file order (empty when loaded with `corpus: false`). */
  corpus: BeirDoc[];
  /**
   * The split's queries: those with judgments in qrels/<split>.tsv (queries.jsonl holds every split's
   * queries; BEIR's GenericDataLoader keeps the same subset), in queries.jsonl order.
   */
  queries: Queries;
  /** The judgments of qrels/<split>.tsv: query id -> document id -> grade. */
  qrels: Qrels;
  /** `<dir>/corpus.jsonl`, to stream with {@link readBeirCorpus}. */
  corpusPath: string;
  /** `<dir>/queries.jsonl`. */
  queriesPath: string;
  /** `<dir>/qrels/<split>.tsv`. */
  qrelsPath: string;
}

/** Loads `<dir>/corpus.jsonl`, `<dir>/queries.jsonl` and `<dir>/qrels/<split>.tsv`. */
export async function loadBeir(dir: string, split: string, opts: LoadBeirOptions = {}): Promise<BeirDataset> {
  if (!/^[\w.-]+$/.test(split)) throw new ColtsError("INPUT_INVALID", `split "${split}" is not a plain file name`);
  const corpusPath = path.join(dir, "corpus.jsonl");
  const queriesPath = path.join(dir, "queries.jsonl");
  const qrelsPath = path.join(dir, "qrels", `${split}.tsv`);
  const qrels = await readBeirQrels(qrelsPath);
  const all = await readBeirQueries(queriesPath);
  const queries: Queries = new Map();
  for (const q of all) if (qrels.has(q.id)) queries.set(q.id, q.text);
  for (const qid of qrels.keys()) {
    if (!queries.has(qid)) throw new ColtsError("INPUT_INVALID", `${qrelsPath}: query "${qid}" is judged but missing from ${queriesPath}`, { details: { file: qrelsPath, query: qid } });
  }
  const corpus: BeirDoc[] = [];
  if (opts.corpus !== false) for await (const doc of readBeirCorpus(corpusPath)) corpus.push(doc);
  return { corpus, queries, qrels, corpusPath, queriesPath, qrelsPath };
}

/** What {@link writeBeir} writes: documents may be any iterable, so a converter can stream them. */
export interface BeirOutput {
  /** Documents for corpus.jsonl, written in the order given. */
  corpus: Iterable<BeirDoc> | AsyncIterable<BeirDoc>;
  /** Queries for queries.jsonl, written in the order given. */
  queries: Iterable<BeirQuery>;
  /** Judgments for qrels/<split>.tsv (integer grades; ids without tabs or newlines). */
  qrels: Qrels;
}

/** Writes a BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv (folders created). */
export async function writeBeir(dir: string, split: string, data: BeirOutput): Promise<void> {
  if (!/^[\w.-]+$/.test(split)) throw new ColtsError("INPUT_INVALID", `split "${split}" is not a plain file name`);
  await fsp.mkdir(path.join(dir, "qrels"), { recursive: true });
  const out = await fsp.open(path.join(dir, "corpus.jsonl"), "w");
  try {
    // Lines are gathered into ~1 MB writes: one write per document would be slow, one string for the
    // whole corpus would hold it twice.
    let chunk: string[] = [];
    let size = 0;
    for await (const doc of data.corpus) {
      const line = `${formatBeirDoc(doc)}\n`;
      chunk.push(line);
      size += line.length;
      if (size >= 1 << 20) {
        await out.write(chunk.join(""));
        chunk = [];
        size = 0;
      }
    }
    await out.write(chunk.join(""));
  } finally {
    await out.close();
  }
  await fsp.writeFile(path.join(dir, "queries.jsonl"), [...data.queries].map((q) => `${formatBeirQuery(q)}\n`).join(""));
  await fsp.writeFile(path.join(dir, "qrels", `${split}.tsv`), formatBeirQrels(data.qrels));
}
