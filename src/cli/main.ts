/**
 * The `colts` command line. `runMain(argv, io)` runs in-process and returns the exit code, so tests
 * call it directly; bin/colts.js wires it to the real process.
 * Exit codes: 0 ok, 1 runtime error, 2 usage error.
 * Help: `colts --help` lists the commands; `colts <command> --help` (or -h) and `colts help <command>`
 * print one command's page, generated from the flag table the command parses with.
 */
import { ColtsError } from "../errors.js";
import { closestNames, formatHelp, type Command } from "./args.js";
import { ENCODE_SPEC, encodeCommand } from "./commands/encode.js";
import { EVAL_SPEC, evalCommand } from "./commands/eval.js";
import { INDEX_COMMANDS } from "./commands/index-cmd.js";
import { MCP_SPEC, mcpCommand } from "./commands/mcp.js";
import { MERGE_SPEC, mergeCommand } from "./commands/merge.js";
import { MINE_SPEC, mineCommand } from "./commands/mine.js";
import { MODEL_COMMANDS } from "./commands/model.js";
import { RERANK_SPEC, SEARCH_SPEC, rerankCommand, searchCommand } from "./commands/search.js";
import { TEACHER_SPEC, teacherCommand } from "./commands/teacher.js";
import { SERVE_SPEC, serveCommand } from "./commands/serve.js";
import { TRAIN_SPEC, trainCommand } from "./commands/train.js";
import { processIO, type CliIO } from "./io.js";

/** The package version that `colts --version` prints; kept equal to package.json's. */
export const VERSION = "0.1.0";

/** A command with sub-commands (`colts index build`). */
interface Group {
  summary: string;
  subcommands: Record<string, Command>;
}

const COMMANDS: Record<string, Command | Group> = {
  encode: { spec: ENCODE_SPEC, run: encodeCommand },
  index: { summary: "write and inspect PLAID indexes", subcommands: INDEX_COMMANDS },
  search: { spec: SEARCH_SPEC, run: searchCommand },
  rerank: { spec: RERANK_SPEC, run: rerankCommand },
  eval: { spec: EVAL_SPEC, run: evalCommand },
  mine: { spec: MINE_SPEC, run: mineCommand },
  teacher: { spec: TEACHER_SPEC, run: teacherCommand },
  train: { spec: TRAIN_SPEC, run: trainCommand },
  merge: { spec: MERGE_SPEC, run: mergeCommand },
  model: { summary: "write generated test models; write int8 copies of models", subcommands: MODEL_COMMANDS },
  serve: { spec: SERVE_SPEC, run: serveCommand },
  mcp: { spec: MCP_SPEC, run: mcpCommand },
};

function isGroup(entry: Command | Group): entry is Group {
  return "subcommands" in entry;
}

/** Every runnable command, sub-commands included, in the order of COMMANDS. */
function allCommands(): Command[] {
  return Object.values(COMMANDS).flatMap((e) => (isGroup(e) ? Object.values(e.subcommands) : [e]));
}

function globalUsage(): string {
  const commands = allCommands();
  const width = Math.max(...commands.map((c) => c.spec.name.length)) + 2;
  return `colts ${VERSION}: ColBERT late-interaction retrieval

Usage: colts <command> [arguments] [flags]

Commands:
${commands.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`).join("\n")}
  ${"help <command>".padEnd(width)}print a command's flags with their defaults, and an example
  ${"--version".padEnd(width)}print the version

Run \`colts help <command>\` (or \`colts <command> --help\`) for a command's flags.
Models: a local folder or a hub id (org/name[@revision]). Hub settings: HF_HOME / HF_HUB_CACHE (cache),
HF_ENDPOINT (mirror), HF_HUB_OFFLINE=1 (cache only), HF_TOKEN.
`;
}

function groupUsage(name: string, group: Group): string {
  const subs = Object.values(group.subcommands);
  const width = Math.max(...subs.map((c) => c.spec.name.length)) + 2;
  return `colts ${name}: ${group.summary}

Usage: colts ${name} <${Object.keys(group.subcommands).join("|")}> [arguments] [flags]

Commands:
${subs.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`).join("\n")}

Run \`colts help ${name} <command>\` for a command's flags.
`;
}

/** `--help` or `-h` among the arguments (before a `--` that ends the flags). */
function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

/** `<prefix>"typed" (did you mean ...? see <help>)` as a USAGE error. */
function unknown(prefix: string, typed: string, known: string[], help: string): ColtsError {
  const close = closestNames(typed, known);
  return new ColtsError("USAGE", `${prefix}"${typed}" (${close.length > 0 ? `did you mean ${close.join(", ")}? ` : ""}see ${help})`);
}

/**
 * The command `words` name (its leading words; the rest are its arguments), or the group when they
 * stop at a group's name. USAGE error for an unknown name.
 */
function resolve(words: string[]): { command: Command; rest: string[] } | { group: Group; name: string; rest: string[] } {
  const [name = "", sub, ...rest] = words;
  const entry = COMMANDS[name];
  if (!entry) throw unknown("unknown command ", name, Object.keys(COMMANDS), "colts --help");
  if (!isGroup(entry)) return { command: entry, rest: words.slice(1) };
  if (sub === undefined || sub === "--help" || sub === "-h") return { group: entry, name, rest: sub === undefined ? [] : [sub, ...rest] };
  const command = entry.subcommands[sub];
  if (!command) throw unknown(`colts ${name}: unknown subcommand `, sub, Object.keys(entry.subcommands), `colts help ${name}`);
  return { command, rest };
}

async function run(argv: string[], io: CliIO): Promise<number> {
  if (argv[0] === "help") {
    if (argv.length === 1) {
      io.stdout.write(globalUsage());
      return 0;
    }
    const r = resolve(argv.slice(1));
    const extra = r.rest.filter((a) => a !== "--help" && a !== "-h");
    if (extra.length > 0) throw new ColtsError("USAGE", `colts help: unexpected ${extra.join(" ")} (give a command's name, e.g. colts help index build)`);
    io.stdout.write("group" in r ? groupUsage(r.name, r.group) : formatHelp(r.command.spec));
    return 0;
  }
  const r = resolve(argv);
  if ("group" in r) {
    if (wantsHelp(r.rest)) {
      io.stdout.write(groupUsage(r.name, r.group));
      return 0;
    }
    throw new ColtsError("USAGE", `colts ${r.name}: give a subcommand\n${groupUsage(r.name, r.group)}`);
  }
  if (wantsHelp(r.rest)) {
    io.stdout.write(formatHelp(r.command.spec));
    return 0;
  }
  return r.command.run(r.rest, io);
}

/**
 * Runs the command line `argv` (without node and the script) and returns the exit code: 0 ok, 1
 * runtime error, 2 usage error (also when no command is given). Errors are printed on `io.stderr`
 * with their code, never thrown. `io` defaults to the real process.
 */
export async function runMain(argv: string[], io: CliIO = processIO()): Promise<number> {
  const [command] = argv;
  if (command === undefined || command === "--help" || command === "-h") {
    io.stdout.write(globalUsage());
    return command === undefined ? 2 : 0;
  }
  if (command === "--version") {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  try {
    return await run(argv, io);
  } catch (e) {
    if (e instanceof ColtsError) {
      // ColtsError prefixes "colts: "; a message that already names its command ("colts search: ...") needs it once.
      io.stderr.write(`${e.message.replace(/^colts: (?=colts )/, "")} [${e.code}]\n`);
      return e.code === "USAGE" ? 2 : 1;
    }
    // A failure colts did not foresee: its message and the INTERNAL code, the stack trace only on
    // request (COLTS_DEBUG=1), since a user can act on neither.
    const debug = io.env["COLTS_DEBUG"] === "1";
    io.stderr.write(`colts: unexpected error: ${e instanceof Error ? ((debug ? e.stack : undefined) ?? e.message) : String(e)} [INTERNAL]${debug ? "" : " (COLTS_DEBUG=1 shows the stack trace)"}\n`);
    return 1;
  }
}
