/** `colts/cli`: the command line, runnable in-process (`runMain(argv, io)` returns the exit code). Re-exports only. */
export { runMain, VERSION } from "./main.js";
export { processIO, type CliIO } from "./io.js";
