/**
 * What a CLI command may touch, passed in so that commands run in-process in tests
 * (`runMain(argv, io)`) exactly as they run from the shell.
 */
import fs from "node:fs";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { ColtsError } from "../errors.js";
import { resolveLocation } from "../location/open.js";
import { openOutputStream, type OutputStream } from "../store/output.js";

/** The streams, environment and folder a command runs with; tests pass their own. */
export interface CliIO {
  /** Read where an input argument is "-". */
  stdin: Readable;
  /** Results and help pages; an output argument "-" writes here. */
  stdout: Writable & { isTTY?: boolean };
  /** Error messages and progress; progress bars redraw in place only when `isTTY`, cut to `columns`. */
  stderr: Writable & { isTTY?: boolean; columns?: number };
  /** Environment: hub settings (HF_HOME, HF_TOKEN, HF_HUB_OFFLINE...) and the server's token variable. */
  env: NodeJS.ProcessEnv;
  /** Base for relative paths. */
  cwd: string;
}

/** The real process: its stdin, stdout, stderr, environment and working folder. */
export function processIO(): CliIO {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

/** Writes and waits for the stream to accept it (back-pressure: large outputs do not pile up in memory). */
export async function writeOut(stream: Writable, text: string): Promise<void> {
  if (!stream.write(text)) await new Promise<void>((resolve) => stream.once("drain", resolve));
}

export function resolvePath(io: CliIO, p: string): string {
  return path.resolve(io.cwd, p);
}

/**
 * An index location argument: a folder relative to the CLI's cwd, or a PostgreSQL URL as typed
 * (`postgres://user@host:port/db?prefix=...`, see location/open.ts).
 */
export function resolveIndexLocation(io: CliIO, location: string): string {
  return resolveLocation(location, (p) => resolvePath(io, p));
}

/** A model argument: a folder relative to the CLI's cwd when one exists there, else a hub id as typed. */
export function modelLocation(io: CliIO, model: string): string {
  const local = resolvePath(io, model);
  return fs.existsSync(local) ? local : model;
}

/** Opens an input: "-" is stdin, anything else a file (error names it when it cannot be read). */
export function openInput(io: CliIO, p: string): Readable {
  if (p === "-") return io.stdin;
  const file = resolvePath(io, p);
  if (!fs.existsSync(file)) throw new ColtsError("INPUT_INVALID", `input file ${file} does not exist`, { details: { file } });
  return fs.createReadStream(file);
}

/**
 * An output a command writes: "-" is stdout; a path follows `store/output.ts` (a regular file or a
 * new path is written under a temporary name and renamed on `commit()`, so an interrupted run never
 * leaves a truncated file that looks complete; a symlink is followed; a device or FIFO is written in
 * place, never replaced).
 */
export type Output = OutputStream;

export function openOutput(io: CliIO, p: string): Output {
  if (p === "-") return { stream: io.stdout, commit: () => Promise.resolve(), abort: () => Promise.resolve() };
  return openOutputStream(resolvePath(io, p));
}
