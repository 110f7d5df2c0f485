/**
 * Training data: examples from the JSONL format of format.ts resolved to texts (id form through a
 * BEIR folder), a deterministic order per epoch, and tokenized batches with ColBERT's conventions
 * (ColbertTokenizer: query [MASK] expansion, document skiplist).
 */
import fs from "node:fs";
import { textLines } from "../corpus/lines.js";
import { ColtsError } from "../errors.js";
import type { ColbertTokenizer, TokenizedText } from "../encode/tokenize.js";
import { Rng } from "../util/rng.js";
import { negativeCount, parseTrainingExample, type TrainingExample } from "./format.js";
import type { TokenBatch, TrainBatch } from "./batch.js";

/** An example with every text present and a fixed number of negatives. */
export interface ResolvedExample {
  /** The query text. */
  query: string;
  /** [positive, ...negatives]. */
  docs: string[];
  /** Teacher -> scores aligned with docs. */
  scores: Record<string, number[]>;
}

/** Texts of a BEIR folder, for the id form. */
export interface TextLookup {
  queries: ReadonlyMap<string, string>;
  corpus: ReadonlyMap<string, string>;
}

/**
 * Reads a training JSONL file with the corpus reader's line rules (a byte-order mark opening line 1
 * dropped, "\r\n" read as "\n", blank lines skipped but counted); errors name `file:line`.
 */
export function readTrainingFile(file: string): TrainingExample[] {
  return readTrainingLines(file).map((l) => l.example);
}

/** {@link readTrainingFile} with each example's `file:line`, for messages about it later (resolveExamples' `where`). */
export function readTrainingLines(file: string): { example: TrainingExample; where: string }[] {
  const out: { example: TrainingExample; where: string }[] = [];
  for (const [line, raw] of textLines(fs.readFileSync(file, "utf8"))) {
    const where = `${file}:${line}`;
    if (raw.trim() !== "") out.push({ example: parseTrainingExample(raw, where), where });
  }
  return out;
}

function text(inline: string | undefined, id: string | undefined, table: ReadonlyMap<string, string> | undefined, what: string, where: string, index: number): string {
  if (inline !== undefined) return inline;
  const found = id === undefined ? undefined : table?.get(id);
  if (found === undefined) {
    throw new ColtsError("INPUT_INVALID", `${where}: ${what} "${id ?? "?"}" has no text (pass --dataset with the BEIR folder it refers to)`, {
      details: { example: index, id },
    });
  }
  return found;
}

/**
 * Resolves texts and cuts every example to `negatives` negatives (the first ones, in file order:
 * mining writes them in rank order). Examples with fewer negatives are refused: a batch needs one
 * group size. Default `negatives`: the smallest count in the file. `where[i]` names example i in
 * messages (its `file:line`, from {@link readTrainingLines}); default "example i+1".
 */
export function resolveExamples(examples: TrainingExample[], lookup: TextLookup | null, negatives?: number, where?: readonly string[]): ResolvedExample[] {
  if (examples.length === 0) throw new ColtsError("INPUT_INVALID", "the training file has no examples");
  const n = negatives ?? Math.min(...examples.map(negativeCount));
  return examples.map((ex, i) => {
    const at = where?.[i] ?? `example ${i + 1}`;
    if (negativeCount(ex) < n) throw new ColtsError("INPUT_INVALID", `${at}: the example has ${negativeCount(ex)} negatives, fewer than ${n}`, { details: { example: i } });
    const negs = Array.from({ length: n }, (_, j) => text(ex.negatives?.[j], ex.negativeIds?.[j], lookup?.corpus, "document", at, i));
    const scores = Object.fromEntries(Object.entries(ex.scores ?? {}).map(([t, s]) => [t, s.slice(0, n + 1)]));
    return {
      query: text(ex.query, ex.queryId, lookup?.queries, "query", at, i),
      docs: [text(ex.positive, ex.positiveId, lookup?.corpus, "document", at, i), ...negs],
      scores,
    };
  });
}

/**
 * The order of examples in `epoch`: a Fisher-Yates shuffle seeded by (seed, epoch). A pure function of
 * its arguments, so a resumed run recomputes the same order from the saved position.
 */
export function epochOrder(count: number, seed: number, epoch: number): number[] {
  const rng = new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0);
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

/** Rows padded to the longest with `padId`, attention and keep 0 there. */
export function padBatch(rows: TokenizedText[], padId: number): TokenBatch {
  const length = Math.max(1, ...rows.map((r) => r.ids.length));
  const ids = new Int32Array(rows.length * length).fill(padId);
  const attention = new Float32Array(rows.length * length);
  const keep = new Float32Array(rows.length * length);
  for (const [b, r] of rows.entries()) {
    ids.set(r.ids, b * length);
    attention.set(r.attention, b * length);
    keep.set(r.keep, b * length);
  }
  return { ids, attention, keep, rows: rows.length, length };
}

export function tokenizeQueries(tok: ColbertTokenizer, texts: readonly string[]): TokenBatch {
  return padBatch(texts.map((t) => tok.tokenizeQuery(t)), tok.padId);
}

export function tokenizeDocuments(tok: ColbertTokenizer, texts: readonly string[]): TokenBatch {
  return padBatch(texts.map((t) => tok.tokenizeDocument(t)), tok.padId);
}

/** A training batch of the given examples. */
export function makeBatch(tok: ColbertTokenizer, examples: readonly ResolvedExample[]): TrainBatch {
  const group = examples[0]?.docs.length ?? 0;
  const teachers = Object.keys(examples[0]?.scores ?? {});
  const scores: Record<string, number[][]> = {};
  for (const t of teachers) {
    if (examples.every((e) => e.scores[t])) scores[t] = examples.map((e) => e.scores[t] as number[]);
  }
  return {
    queries: tokenizeQueries(tok, examples.map((e) => e.query)),
    docs: tokenizeDocuments(tok, examples.flatMap((e) => e.docs)),
    group,
    scores,
    docKeys: examples.flatMap((e) => e.docs),
  };
}
