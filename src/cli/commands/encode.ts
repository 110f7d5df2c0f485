/**
 * `colts encode --model M (--queries | --documents) [--input file.jsonl | -] [--dim N] [--output file | -]`
 * One JSON line per text: {"id", "tokens": [...], "vectors": [[...], ...]}. Texts are read and encoded
 * in chunks so memory stays bounded on large inputs.
 */
import { ColBERT } from "../../encode/colbert.js";
import { ColtsError } from "../../errors.js";
import { hubProgressPrinter, createProgressBar } from "../progress.js";
import { intFlag, oneOf, parse, stringFlag } from "../args.js";
import { modelLocation, openInput, openOutput, writeOut, type CliIO } from "../io.js";
import { documentText, readCorpusRecords, type CorpusRecord } from "../../corpus/reader.js";

export const ENCODE_USAGE = `colts encode --model M (--queries | --documents) [--input file.jsonl | -] [--output file | -]
             [--dim N] [--batch-size 32] [--workers 1] [--threads N] [--quantized] [--provider cpu|cuda]
             [--revision R] [--offline] [--progress]
  Input lines: {"_id"|"id", "title", "text"} JSON or plain text (numbered from 0); ids must be unique. Output: one JSON line per text {"id","tokens","vectors"}.`;

/** Texts per encode call; bounds memory while keeping workers busy. */
const CHUNK = 512;

export async function encodeCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      model: { type: "string", short: "m" },
      queries: { type: "boolean" },
      documents: { type: "boolean" },
      input: { type: "string", short: "i" },
      output: { type: "string", short: "o" },
      dim: { type: "string" },
      "batch-size": { type: "string" },
      workers: { type: "string" },
      threads: { type: "string" },
      quantized: { type: "boolean" },
      revision: { type: "string" },
      offline: { type: "boolean" },
      progress: { type: "boolean" },
      provider: { type: "string" },
    },
    "colts encode",
  );
  if (positionals.length > 0) throw new ColtsError("USAGE", `colts encode: unexpected argument ${positionals[0]}\n${ENCODE_USAGE}`);
  const model = stringFlag(values, "model");
  if (!model) throw new ColtsError("USAGE", `colts encode: --model is required\n${ENCODE_USAGE}`);
  if (values["queries"] === values["documents"]) throw new ColtsError("USAGE", `colts encode: give exactly one of --queries or --documents\n${ENCODE_USAGE}`);
  const dim = intFlag(values, "dim", 1, 65536);
  const batchSize = intFlag(values, "batch-size", 1, 1024);
  const workers = intFlag(values, "workers", 0, 64);
  const threads = intFlag(values, "threads", 1, 256);
  const revision = stringFlag(values, "revision");
  const inputPath = stringFlag(values, "input") ?? "-";
  const showProgress = values["progress"] === true || io.stderr.isTTY === true;

  const input = openInput(io, inputPath);
  const colbert = await ColBERT.load(modelLocation(io, model), {
    ...(workers !== undefined ? { workers } : {}),
    ...(threads !== undefined ? { threads } : {}),
    ...(revision ? { revision } : {}),
    ...(values["quantized"] ? { quantized: true } : {}),
    ...(values["offline"] ? { localFilesOnly: true } : {}),
    executionProvider: oneOf(values, "provider", ["cpu", "cuda"] as const) ?? "cpu",
    env: io.env,
    onProgress: hubProgressPrinter(io.stderr),
  });
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
    for await (const rec of readCorpusRecords(input, { plainText: true, name: inputPath === "-" ? "<stdin>" : inputPath })) {
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
    output.abort();
    throw e;
  } finally {
    await colbert.close();
  }
}
