/** Runs the CLI in-process with captured output (each call its own streams). */
import { PassThrough, Readable } from "node:stream";
import { runMain } from "../../src/cli/main.js";
import type { CliIO } from "../../src/cli/io.js";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(argv: string[], cwd: string, stdin = ""): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (b: Buffer) => out.push(b));
  stderr.on("data", (b: Buffer) => err.push(b));
  const io: CliIO = { stdin: Readable.from([stdin]), stdout, stderr, env: {}, cwd };
  const code = await runMain(argv, io);
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}
