/**
 * `colts teacher`: adds one teacher's scores to a training JSONL file (see train/teacher.ts), from a
 * cross-encoder ONNX model or a TREC run file.
 */
import fs from "node:fs";
import path from "node:path";
import { openFile, streamLines } from "../../corpus/lines.js";
import { ColtsError } from "../../errors.js";
import { readBeirCorpus, readBeirQueries, readTrecRun } from "../../eval/io.js";
import { CrossEncoder, type CrossEncoderOptions } from "../../encode/cross-encoder.js";
import { parseTrainingExample, serializeTrainingExample, type TrainingExample } from "../../train/format.js";
import { MISSING_POLICIES, runLookup, scoreFromRun, scoreWithModel, type MissingPolicy } from "../../train/teacher.js";
import { intFlag, oneOf, parse, stringFlag, usageError, type CommandSpec } from "../args.js";
import { CROSS_ENCODER_RUNTIME_FLAGS, runtimeOptions } from "../model-flags.js";
import { openOutput, resolvePath, writeOut, type CliIO } from "../io.js";
import { documentText } from "../../corpus/reader.js";

/** `colts teacher`: its flags and help page, the one declaration that parsing and `--help` read. */
export const TEACHER_SPEC: CommandSpec = {
  name: "teacher",
  summary: "add one teacher's scores (a cross-encoder or a TREC run) to training JSONL",
  usage: ["--data triples.jsonl --name <teacher> --output out.jsonl (--cross-encoder <model dir> | --run <run.trec>)"],
  description: `Adds scores[<teacher>] aligned with [positive, ...negatives] to every line (streamed; --output may
be the --data file). --dataset fills in the texts of id-only lines for a cross-encoder.`,
  flags: [
    { name: "data", type: "string", arg: "FILE", help: "training JSONL to score (required)" },
    { name: "name", type: "string", arg: "NAME", help: "teacher name, the key under scores (required)" },
    { name: "output", short: "o", type: "string", arg: "FILE", help: "JSONL to write, atomically (a symlink's target; a device or FIFO in place) (required)" },
    { name: "cross-encoder", type: "string", arg: "DIR", help: "score with this cross-encoder ONNX folder (BERT sequence classification)" },
    { name: "max-length", type: "string", arg: "N", default: "min(512, the model's)", help: "longest query+document pair in tokens, 8..8192" },
    { name: "token-budget", type: "string", arg: "N", default: "16384", help: "padded tokens per cross-encoder run (bounds memory)" },
    { name: "dataset", type: "string", arg: "DIR", help: "BEIR folder with the texts of id-only lines (cross-encoder)" },
    { name: "run", type: "string", arg: "FILE", help: "take the scores from this TREC run instead" },
    { name: "missing", type: "string", arg: MISSING_POLICIES.join("|"), default: "error", help: "a document the run lacks: fail, take the query's lowest run score, or drop the line" },
    ...CROSS_ENCODER_RUNTIME_FLAGS,
  ],
  example: "colts teacher --data triples.jsonl --cross-encoder ce-model --name ce --output scored.jsonl",
};

/** Lines scored per cross-encoder call (and written per chunk): bounds what is held in memory. */
const CHUNK = 512;

interface Line {
  ex: TrainingExample;
  where: string;
}

/**
 * Streams the examples of a JSONL file with the corpus reader's line rules (byte-order mark on line 1
 * dropped, blank lines skipped but counted, gzip read), `where` = "file:line".
 */
async function* readExamples(file: string): AsyncGenerator<Line> {
  const onError = (e: unknown, line: number): Error =>
    e instanceof ColtsError ? e : new ColtsError("INPUT_INVALID", `${file}:${line}: cannot read: ${(e as Error).message}`, { cause: e, details: { file, line } });
  for await (const { first, lines } of streamLines(await openFile(file), onError)) {
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i] as string;
      if (raw.trim() === "") continue;
      const where = `${file}:${first + i}`;
      yield { ex: parseTrainingExample(raw, where), where };
    }
  }
}

async function* chunks(lines: AsyncIterable<Line>, size: number): AsyncGenerator<Line[]> {
  let chunk: Line[] = [];
  for await (const l of lines) {
    chunk.push(l);
    if (chunk.length >= size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** Texts of the queries and documents id-only lines refer to, read from a BEIR folder (one pass over the data first). */
async function textsFor(dir: string, file: string): Promise<{ queries: Map<string, string>; docs: Map<string, string> }> {
  const wantDocs = new Set<string>();
  for await (const { ex } of readExamples(file)) {
    if (ex.positive === undefined && ex.positiveId) wantDocs.add(ex.positiveId);
    if (ex.negatives === undefined) for (const d of ex.negativeIds ?? []) wantDocs.add(d);
  }
  const queries = new Map((await readBeirQueries(path.join(dir, "queries.jsonl"))).map((q) => [q.id, q.text]));
  const docs = new Map<string, string>();
  if (wantDocs.size > 0) {
    for await (const d of readBeirCorpus(path.join(dir, "corpus.jsonl"))) if (wantDocs.has(d.id)) docs.set(d.id, documentText(d.title, d.text));
  }
  return { queries, docs };
}

/** Fills in the missing query / document texts of an id-form line. */
function fillTexts(line: Line, texts: { queries: Map<string, string>; docs: Map<string, string> }, dir: string): TrainingExample {
  const { ex, where } = line;
  const need = (map: Map<string, string>, id: string, what: string): string => {
    const t = map.get(id);
    if (t === undefined) throw new ColtsError("INPUT_INVALID", `${where}: ${what} "${id}" is not in ${dir}`, { details: { where, id } });
    return t;
  };
  return {
    ...ex,
    ...(ex.query === undefined && ex.queryId !== undefined ? { query: need(texts.queries, ex.queryId, "query") } : {}),
    ...(ex.positive === undefined && ex.positiveId !== undefined ? { positive: need(texts.docs, ex.positiveId, "document") } : {}),
    ...(ex.negatives === undefined && ex.negativeIds !== undefined ? { negatives: ex.negativeIds.map((d) => need(texts.docs, d, "document")) } : {}),
  };
}

/** Scores one chunk of lines; null entries are dropped lines. */
type ChunkScorer = (chunk: Line[]) => Promise<(TrainingExample | null)[]>;

async function runScorer(io: CliIO, file: string, name: string, missing: MissingPolicy): Promise<{ score: ChunkScorer; close(): Promise<void> }> {
  const lookup = runLookup(await readTrecRun(resolvePath(io, file)));
  return { score: (chunk) => Promise.resolve(chunk.map(({ ex, where }) => scoreFromRun(ex, lookup, name, missing, where))), close: () => Promise.resolve() };
}

async function modelScorer(io: CliIO, model: string, name: string, opts: CrossEncoderOptions, dataset: string | undefined, data: string): Promise<{ score: ChunkScorer; close(): Promise<void> }> {
  const texts = dataset ? await textsFor(resolvePath(io, dataset), data) : undefined;
  const encoder = await CrossEncoder.load(resolvePath(io, model), opts);
  return {
    score: (chunk) => {
      const examples = texts && dataset ? chunk.map((l) => fillTexts(l, texts, dataset)) : chunk.map((l) => l.ex);
      return scoreWithModel(examples, (pairs) => encoder.score(pairs), name, (j) => chunk[j]?.where ?? "");
    },
    close: () => encoder.close(),
  };
}

export async function teacherCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, TEACHER_SPEC);
  const data = stringFlag(values, "data");
  const name = stringFlag(values, "name");
  const output = stringFlag(values, "output");
  const model = stringFlag(values, "cross-encoder");
  const runFile = stringFlag(values, "run");
  if (!data || !name || !output || positionals.length > 0 || (model === undefined) === (runFile === undefined)) {
    throw usageError(TEACHER_SPEC, "--data, --name, --output and one of --cross-encoder / --run are required");
  }
  const missing = oneOf<MissingPolicy>(values, "missing", MISSING_POLICIES) ?? "error";
  const maxLength = intFlag(values, "max-length", 8, 8192);
  const tokenBudget = intFlag(values, "token-budget", 1, 1 << 24);
  const runtime = runtimeOptions(values);
  const start = performance.now();
  const dataFile = resolvePath(io, data);
  if (!fs.existsSync(dataFile)) throw new ColtsError("INPUT_INVALID", `input file ${dataFile} does not exist`, { details: { file: dataFile } });
  // Every line is parsed once before a teacher is loaded or anything scored: a bad line far down the
  // file fails in seconds, naming its file:line, not after an hour of cross-encoder scoring.
  for await (const _ of readExamples(dataFile)) void _;
  const dataset = stringFlag(values, "dataset");
  const scorer = runFile
    ? await runScorer(io, runFile, name, missing)
    : await modelScorer(io, model as string, name, { ...runtime, ...(maxLength !== undefined ? { maxLength } : {}), ...(tokenBudget !== undefined ? { tokenBudget } : {}) }, dataset, dataFile);
  const out = openOutput(io, output);
  let scored = 0;
  let dropped = 0;
  try {
    for await (const chunk of chunks(readExamples(dataFile), CHUNK)) {
      const text: string[] = [];
      for (const ex of await scorer.score(chunk)) {
        if (ex) text.push(`${serializeTrainingExample(ex)}\n`);
        else dropped++;
      }
      scored += text.length;
      await writeOut(out.stream, text.join(""));
    }
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e;
  } finally {
    await scorer.close();
  }
  const seconds = (performance.now() - start) / 1000;
  io.stderr.write(`teacher "${name}": scored ${scored} lines${dropped ? `, dropped ${dropped} (documents missing from the run)` : ""} in ${seconds.toFixed(1)} s\n`);
  return 0;
}
