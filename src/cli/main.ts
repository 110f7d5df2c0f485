/**
 * The `colts` command line. `runMain(argv, io)` runs in-process and returns the exit code, so tests
 * call it directly; bin/colts.js wires it to the real process.
 * Exit codes: 0 ok, 1 runtime error, 2 usage error.
 */
import { ColtsError } from "../errors.js";
import { ENCODE_USAGE, encodeCommand } from "./commands/encode.js";
import { EVAL_USAGE, evalCommand } from "./commands/eval.js";
import { INDEX_USAGE, indexCommand } from "./commands/index-cmd.js";
import { MERGE_USAGE, mergeCommand } from "./commands/merge.js";
import { MINE_USAGE, mineCommand } from "./commands/mine.js";
import { MODEL_USAGE, modelCommand } from "./commands/model.js";
import { SEARCH_USAGE, rerankCommand, searchCommand } from "./commands/search.js";
import { TEACHER_USAGE, teacherCommand } from "./commands/teacher.js";
import { SERVE_USAGE, serveCommand } from "./commands/serve.js";
import { TRAIN_USAGE, trainCommand } from "./commands/train.js";
import { processIO, type CliIO } from "./io.js";

export const VERSION = "0.1.0";

const USAGE = `colts ${VERSION}: ColBERT late-interaction retrieval

Usage:
  ${ENCODE_USAGE.replace(/\n/g, "\n  ")}
  ${INDEX_USAGE.replace(/\n/g, "\n  ")}
  ${SEARCH_USAGE.replace(/\n/g, "\n  ")}
  ${EVAL_USAGE.replace(/\n/g, "\n  ")}
  ${MODEL_USAGE.replace(/\n/g, "\n  ")}
  ${MINE_USAGE.replace(/\n/g, "\n  ")}
  ${TEACHER_USAGE.replace(/\n/g, "\n  ")}
  ${MERGE_USAGE.replace(/\n/g, "\n  ")}
  ${SERVE_USAGE.replace(/\n/g, "\n  ")}
  ${TRAIN_USAGE.replace(/\n/g, "\n  ")}
  colts --version | --help

Models: a local folder or a hub id (org/name[@revision]). Hub settings: HF_HOME / HF_HUB_CACHE (cache),
HF_ENDPOINT (mirror), HF_HUB_OFFLINE=1 (cache only), HF_TOKEN.
`;

const COMMANDS: Record<string, (argv: string[], io: CliIO) => Promise<number>> = {
  encode: encodeCommand,
  index: indexCommand,
  search: searchCommand,
  rerank: rerankCommand,
  eval: evalCommand,
  model: modelCommand,
  mine: mineCommand,
  teacher: teacherCommand,
  merge: mergeCommand,
  serve: serveCommand,
  train: trainCommand,
};

export async function runMain(argv: string[], io: CliIO = processIO()): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    io.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === "--version") {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const run = COMMANDS[command];
  try {
    if (!run) throw new ColtsError("USAGE", `unknown command "${command}" (try colts --help)`);
    return await run(rest, io);
  } catch (e) {
    if (e instanceof ColtsError) {
      io.stderr.write(`${e.message} [${e.code}]\n`);
      return e.code === "USAGE" ? 2 : 1;
    }
    io.stderr.write(`colts: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}
