/**
 * `colts encode --model M (--queries | --documents)`: one JSON line per text {"id", "tokens": [...],
 * "vectors": [[...], ...]}. Texts are read and encoded in chunks so memory stays bounded on large inputs.
 */
import { ColBERT } from "../../encode/colbert.js";
import { createProgressBar } from "../progress.js";
import { intFlag, parse, stringFlag, usageError, type CommandSpec } from "../args.js";
import { MODEL_FLAGS, modelLoadOptions } from "../model-flags.js";
import { modelLocation, openInput, openOutput, writeOut, type CliIO } from "../io.js";
import { documentText, readCorpusRecords, type CorpusRecord } from "../../corpus/reader.js";

/** `colts encode`: its flags and help page, the one declaration that parsing and `--help` read. */
export const ENCODE_SPEC: CommandSpec = {
  name: "encode",
  summary: "encode texts (JSONL or plain lines) into token vectors, one JSON line each",
  usage: ["--model M (--queries | --documents)"],
  description:
    'Input lines: {"_id"|"id", "title", "text"} JSON or plain text (numbered from 0); ids must be unique.\nOutput: one JSON line per text {"id","tokens","vectors"}.\nAn input file is checked whole before the model loads; stdin is checked as it streams (an error there\nstops the run after earlier lines were encoded; an output file is then not written).',
  flags: [
    { name: "model", short: "m", type: "string", arg: "M", help: "model folder or hub id org/name[@revision] (required)" },
    { name: "queries", type: "boolean", help: "encode the texts as queries (one of --queries / --documents)" },
    { name: "documents", type: "boolean", help: "encode the texts as documents" },
    { name: "input", short: "i", type: "string", arg: "FILE", default: "-", help: "input file; - = stdin" },
    { name: "output", short: "o", type: "string", arg: "FILE", default: "-", help: "output file, written atomically (a symlink's target; a device or FIFO in place); - = stdout" },
    { name: "dim", type: "string", arg: "N", default: "the model's dimension", help: "keep the first N dimensions (Matryoshka), renormalised" },
    { name: "batch-size", type: "string", arg: "N", default: "32", help: "texts per model run, 1..1024" },
    { name: "progress", type: "boolean", default: "on when stderr is a terminal", help: "draw a progress bar on stderr" },
    ...MODEL_FLAGS,
  ],
  example: "colts encode --model lightonai/answerai-colbert-small-v1 --documents --input docs.jsonl --output vectors.jsonl",
};

/** Texts per encode call; bounds memory while keeping workers busy. */
const CHUNK = 512;

export async function encodeCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, ENCODE_SPEC);
  if (positionals.length > 0) throw usageError(ENCODE_SPEC, `unexpected argument ${positionals[0]}`);
  const model = stringFlag(values, "model");
  if (!model) throw usageError(ENCODE_SPEC, "--model is required");
  if (values["queries"] === values["documents"]) throw usageError(ENCODE_SPEC, "give exactly one of --queries or --documents");
  const dim = intFlag(values, "dim", 1, 65536);
  const batchSize = intFlag(values, "batch-size", 1, 1024);
  const inputPath = stringFlag(values, "input") ?? "-";
  const showProgress = values["progress"] === true || io.stderr.isTTY === true;
  const loadOptions = modelLoadOptions(values, io);

  const inputName = inputPath === "-" ? "<stdin>" : inputPath;
  // A file can be read twice: every problem is reported (file:line) before anything is encoded.
  if (inputPath !== "-") for await (const _ of readCorpusRecords(openInput(io, inputPath), { plainText: true, name: inputName }));
  const input = openInput(io, inputPath);
  const colbert = await ColBERT.load(modelLocation(io, model), loadOptions);
  const output = openOutput(io, stringFlag(values, "output") ?? "-");
  const bar = showProgress ? createProgressBar({ stream: io.stderr, label: "encoding", unit: "items" }) : null;
  try {
    const encodeOpts = { ...(dim !== undefined ? { dim } : {}), ...(batchSize !== undefined ? { batchSize } : {}) };
    const flush = async (chunk: CorpusRecord[]): Promise<void> => {
      const texts = chunk.map((r) => documentText(r.title, r.text));
      const vs = values["queries"] ? await colbert.encodeQueries(texts, encodeOpts) : await colbert.encodeDocuments(texts, encodeOpts);
      const lines = vs.map((v, i) => {
        const vectors = Array.from({ length: v.tokens }, (_, t) => Array.from(v.vectors.subarray(t * v.dim, (t + 1) * v.dim)));
        return JSON.stringify({ id: chunk[i]?.id, tokens: colbert.tokenStrings(v), vectors });
      });
      await writeOut(output.stream, lines.join("\n") + "\n");
      bar?.tick(chunk.length);
    };
    let chunk: CorpusRecord[] = [];
    for await (const rec of readCorpusRecords(input, { plainText: true, name: inputName })) {
      chunk.push(rec);
      if (chunk.length >= CHUNK) {
        await flush(chunk);
        chunk = [];
      }
    }
    if (chunk.length > 0) await flush(chunk);
    bar?.finish();
    await output.commit();
    return 0;
  } catch (e) {
    await output.abort();
    throw e;
  } finally {
    await colbert.close();
  }
}
