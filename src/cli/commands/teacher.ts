/**
 * `colts teacher`: adds one teacher's scores to a training JSONL file (see train/teacher.ts), from a
 * cross-encoder ONNX model or a TREC run file.
 */
import path from "node:path";
import { ColtsError } from "../../errors.js";
import { readBeirCorpus, readBeirQueries, readText, readTrecRun } from "../../eval/io.js";
import { CrossEncoder } from "../../model/cross-encoder.js";
import { parseTrainingExample, serializeTrainingExample, type TrainingExample } from "../../train/format.js";
import { MISSING_POLICIES, runLookup, scoreFromRun, scoreWithModel, type MissingPolicy } from "../../train/teacher.js";
import { intFlag, oneOf, parse, stringFlag } from "../args.js";
import { openOutput, resolvePath, writeOut, type CliIO } from "../io.js";

export const TEACHER_USAGE = `colts teacher --data triples.jsonl --name <teacher> --output out.jsonl
               (--cross-encoder <model dir> [--max-length 512] [--token-budget 16384] | --run <run.trec> [--missing error|min|drop])
               [--dataset <BEIR dir>]
  Adds scores[<teacher>] aligned with [positive, ...negatives] to every line. --dataset fills in
  the texts of id-only lines for a cross-encoder.`;

/** Lines scored per cross-encoder call: bounds the pairs held in memory at once. */
const CHUNK = 512;

async function readExamples(file: string): Promise<{ ex: TrainingExample; where: string }[]> {
  const name = path.basename(file);
  return (await readText(file))
    .split("\n")
    .map((line, i) => ({ line, where: `${name}:${i + 1}` }))
    .filter(({ line }) => line.trim() !== "")
    .map(({ line, where }) => ({ ex: parseTrainingExample(line, where), where }));
}

/** Fills in missing query / document texts of id-form lines from a BEIR folder. */
async function fillTexts(dir: string, lines: { ex: TrainingExample; where: string }[]): Promise<void> {
  const wantDocs = new Set<string>();
  for (const { ex } of lines) {
    if (ex.positive === undefined && ex.positiveId) wantDocs.add(ex.positiveId);
    if (ex.negatives === undefined) for (const d of ex.negativeIds ?? []) wantDocs.add(d);
  }
  const queries = new Map((await readBeirQueries(path.join(dir, "queries.jsonl"))).map((q) => [q.id, q.text]));
  const docs = new Map<string, string>();
  if (wantDocs.size > 0) {
    for await (const d of readBeirCorpus(path.join(dir, "corpus.jsonl"))) if (wantDocs.has(d.id)) docs.set(d.id, d.title.trim() !== "" ? `${d.title} ${d.text}` : d.text);
  }
  const need = (map: Map<string, string>, id: string, what: string, where: string): string => {
    const t = map.get(id);
    if (t === undefined) throw new ColtsError("INPUT_INVALID", `${where}: ${what} "${id}" is not in ${dir}`, { details: { where, id } });
    return t;
  };
  for (const line of lines) {
    const { ex, where } = line;
    line.ex = {
      ...ex,
      ...(ex.query === undefined && ex.queryId !== undefined ? { query: need(queries, ex.queryId, "query", where) } : {}),
      ...(ex.positive === undefined && ex.positiveId !== undefined ? { positive: need(docs, ex.positiveId, "document", where) } : {}),
      ...(ex.negatives === undefined && ex.negativeIds !== undefined ? { negatives: ex.negativeIds.map((d) => need(docs, d, "document", where)) } : {}),
    };
  }
}

export async function teacherCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      data: { type: "string" },
      name: { type: "string" },
      output: { type: "string", short: "o" },
      "cross-encoder": { type: "string" },
      run: { type: "string" },
      dataset: { type: "string" },
      missing: { type: "string" },
      "max-length": { type: "string" },
      "token-budget": { type: "string" },
    },
    "colts teacher",
  );
  const data = stringFlag(values, "data");
  const name = stringFlag(values, "name");
  const output = stringFlag(values, "output");
  const model = stringFlag(values, "cross-encoder");
  const runFile = stringFlag(values, "run");
  if (!data || !name || !output || positionals.length > 0 || (model === undefined) === (runFile === undefined)) {
    throw new ColtsError("USAGE", `colts teacher: --data, --name, --output and one of --cross-encoder / --run are required\n${TEACHER_USAGE}`);
  }
  const missing = oneOf<MissingPolicy>(values, "missing", MISSING_POLICIES) ?? "error";
  const maxLength = intFlag(values, "max-length", 8, 8192);
  const tokenBudget = intFlag(values, "token-budget", 1, 1 << 24);
  const lines = await readExamples(resolvePath(io, data));
  const dataset = stringFlag(values, "dataset");
  if (dataset && model) await fillTexts(resolvePath(io, dataset), lines);
  const start = performance.now();
  const scored: TrainingExample[] = [];
  let dropped = 0;
  if (runFile) {
    const lookup = runLookup(await readTrecRun(resolvePath(io, runFile)));
    for (const { ex, where } of lines) {
      const r = scoreFromRun(ex, lookup, name, missing, where);
      if (r) scored.push(r);
      else dropped++;
    }
  } else {
    const encoder = await CrossEncoder.load(resolvePath(io, model as string), {
      ...(maxLength !== undefined ? { maxLength } : {}),
      ...(tokenBudget !== undefined ? { tokenBudget } : {}),
    });
    try {
      for (let i = 0; i < lines.length; i += CHUNK) {
        const chunk = lines.slice(i, i + CHUNK);
        scored.push(...(await scoreWithModel(chunk.map((l) => l.ex), (pairs) => encoder.score(pairs), name, (j) => chunk[j]?.where ?? "")));
      }
    } finally {
      await encoder.close();
    }
  }
  const out = openOutput(io, output);
  try {
    for (const ex of scored) await writeOut(out.stream, `${serializeTrainingExample(ex)}\n`);
    await out.commit();
  } catch (e) {
    out.abort();
    throw e;
  }
  const seconds = (performance.now() - start) / 1000;
  io.stderr.write(`teacher "${name}": scored ${scored.length} lines${dropped ? `, dropped ${dropped} (documents missing from the run)` : ""} in ${seconds.toFixed(1)} s\n`);
  return 0;
}
