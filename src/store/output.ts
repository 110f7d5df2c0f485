/**
 * Writing a path a user named for output (a run file, a report, a JSONL, a chart). Such a path may
 * be a regular file, a new path, a symbolic link, or a special file (`/dev/null`, `/dev/stdout`, a
 * named pipe another program reads). Only the first two may be replaced by an atomic rename:
 * renaming over a device would delete the device (and leave a regular file in `/dev`), renaming
 * over a symlink would replace the link instead of writing where it points, and a pipe must be
 * written, not replaced.
 *
 * - a symlink is followed (by the kernel; a dangling one by hand) and the rules below apply to what
 *   it points to;
 * - a regular file or a new path: written to a temporary file in the same folder, renamed into place
 *   (an interrupted run never leaves a truncated file that looks complete); an existing file's
 *   permission bits are kept;
 * - anything else that can be opened for writing (character device, FIFO, socket): written in
 *   place, no temporary file, no rename; a folder is refused.
 */
import fs from "node:fs";
import path from "node:path";
import type { Writable } from "node:stream";
import { ColtsError } from "../errors.js";
import { tempNameFor } from "./atomic.js";

/** How an output path will be written: its final target and whether by rename. */
export interface OutputPlan {
  /** The path written: `file` itself, or the end of its symlink chain. */
  target: string;
  /** True: temporary file + rename (regular file or new path); false: written in place (special file). */
  atomic: boolean;
  /** Permission bits to give the new file (an existing regular file's), or undefined for the default. */
  mode: number | undefined;
}

/**
 * Decides how `file` is written. The kernel follows the links (`stat`), so "magic" links such as
 * `/dev/stdout` -> `/proc/self/fd/1` -> `pipe:[...]` are judged by what they open, not by their text.
 * A regular file is replaced at its real path (the link stays); a missing path, or a dangling link's
 * end (followed by hand, at most 40 hops), is created there.
 */
export function planOutput(file: string): OutputPlan {
  const abs = path.resolve(file);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw new ColtsError("INPUT_INVALID", `output ${file}: too many levels of symbolic links`, { cause: e, details: { file } });
    if (code !== "ENOENT") throw e;
  }
  if (st !== undefined) {
    if (st.isDirectory()) throw new ColtsError("INPUT_INVALID", `output ${file} is a folder, not a file`, { details: { file } });
    if (st.isFile()) return { target: fs.realpathSync(abs), atomic: true, mode: st.mode & 0o7777 };
    // A device, FIFO or socket: opened through the path as given, written in place.
    return { target: abs, atomic: false, mode: undefined };
  }
  let target = abs;
  for (let hops = 0; hops <= 40; hops++) {
    let link: fs.Stats;
    try {
      link = fs.lstatSync(target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { target, atomic: true, mode: undefined };
      throw e;
    }
    if (!link.isSymbolicLink()) break;
    target = path.resolve(path.dirname(target), fs.readlinkSync(target));
  }
  throw new ColtsError("INPUT_INVALID", `output ${file}: cannot resolve its symbolic links to a path to create`, { details: { file } });
}

/** Writes `text` to a user-named output path by the rules above (synchronously). */
export function writeOutputFileSync(file: string, text: string | Uint8Array): void {
  const plan = planOutput(file);
  if (!plan.atomic) {
    fs.writeFileSync(plan.target, text);
    return;
  }
  fs.mkdirSync(path.dirname(plan.target), { recursive: true });
  const tmp = tempNameFor(plan.target);
  try {
    fs.writeFileSync(tmp, text, { flag: "wx" });
    if (plan.mode !== undefined) fs.chmodSync(tmp, plan.mode);
    fs.renameSync(tmp, plan.target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** A stream to a user-named output path; nothing replaces the target before `commit()`. */
export interface OutputStream {
  stream: Writable;
  /** Ends the stream; for a regular file, renames the temporary file into place. */
  commit(): Promise<void>;
  /**
   * Stops writing. A temporary file is removed (the target is untouched); a special file keeps what
   * was already written to it (a device or pipe cannot be rolled back).
   */
  abort(): Promise<void>;
}

/** Opens a user-named output path for streaming by the rules above. */
export function openOutputStream(file: string): OutputStream {
  const plan = planOutput(file);
  if (!plan.atomic) {
    // flags "w": O_TRUNC is ignored by devices and pipes; the file is never unlinked or created.
    const stream = fs.createWriteStream(plan.target, { flags: "w" });
    return {
      stream,
      commit: () => new Promise<void>((resolve, reject) => {
        stream.once("error", reject);
        stream.end(() => resolve());
      }),
      abort: () => new Promise<void>((resolve) => {
        if (stream.closed) resolve();
        else {
          stream.once("close", () => resolve());
          stream.destroy();
        }
      }),
    };
  }
  fs.mkdirSync(path.dirname(plan.target), { recursive: true });
  const tmp = tempNameFor(plan.target);
  const stream = fs.createWriteStream(tmp, { flags: "wx", ...(plan.mode !== undefined ? { mode: plan.mode } : {}) });
  return {
    stream,
    commit: () =>
      new Promise<void>((resolve, reject) => {
        stream.once("error", reject);
        stream.end(() => {
          try {
            // The mode passed to open is filtered by the umask: set it exactly.
            if (plan.mode !== undefined) fs.chmodSync(tmp, plan.mode);
            fs.renameSync(tmp, plan.target);
            resolve();
          } catch (e) {
            fs.rmSync(tmp, { force: true });
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        });
      }),
    // The file is opened asynchronously: removing it before the stream has closed would race
    // with that open and leave the temporary file behind.
    abort: () =>
      new Promise<void>((resolve) => {
        const remove = (): void => {
          fs.rmSync(tmp, { force: true });
          resolve();
        };
        if (stream.closed) remove();
        else {
          stream.once("close", remove);
          stream.destroy();
        }
      }),
  };
}
