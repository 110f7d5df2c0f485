/**
 * Preloaded with `node --import` by the crash-point test: wraps the node:fs functions that change
 * the disk and counts the calls ("steps"). With KILL_AT=N in the environment the process kills
 * itself with SIGKILL right before its N-th step, so nothing after it (not even a `finally`) runs;
 * without it, the labels of all steps are printed to stdout as one `STEPS <json>` line at exit.
 * Writes that happen in native code (SQLite) are marked as steps by the caller through `step`.
 * Opening a file for writing through node:fs/promises is a step, but writes through the returned
 * FileHandle are not counted (index writes go through the synchronous calls).
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";

const killAt = Number(process.env.KILL_AT ?? 0);
const labels: string[] = [];
const print = fs.writeSync.bind(fs);

/** Marks one step: dies here when it is the KILL_AT-th. */
export function step(label: string): void {
  labels.push(label);
  if (labels.length === killAt) process.kill(process.pid, "SIGKILL");
}

/** The last part of a path argument (labels stay readable and free of temp-dir names). */
function name(p: unknown): string {
  return typeof p === "string" ? (p.split("/").pop() ?? p).replace(/-\d+-\d+-\w+$/, "-*") : typeof p;
}

/** Open flags that can change the file ("r", "rs" and numeric O_RDONLY do not). */
function writes(flags: unknown): boolean {
  return flags !== undefined && flags !== "r" && flags !== "rs" && flags !== fs.constants.O_RDONLY;
}

/** Calls made by a wrapped call (writeFileSync opens, writes and closes through fs) are part of its step. */
let depth = 0;
type Fn = (...args: never[]) => unknown;
/** Replaces `obj[key]` with a wrapper that calls `step(label(args))` first (when it is not null). */
function wrap<T extends object>(obj: T, key: keyof T & string, label: (args: unknown[]) => string | null, after?: (result: unknown, args: unknown[]) => void): void {
  const original = obj[key] as Fn;
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    const l = depth === 0 ? label(args) : null;
    if (l !== null) step(l);
    depth++;
    try {
      const result: unknown = Reflect.apply(original, this, args);
      if (l !== null) after?.(result, args);
      return result;
    } finally {
      depth--;
    }
  };
  Object.defineProperty(obj, key, { value: wrapped, writable: true, configurable: true });
}

/**
 * File descriptors opened for writing: their first write, their fsync and their close are steps.
 * Further writes into the same file are not: a file being written is a temporary one that nothing
 * reads before its rename, so a kill between two of its writes leaves what a kill before the fsync
 * leaves (a temporary file, whatever its length).
 */
const open = new Map<number, "new" | "written">();
const synced = new Set<number>();
for (const key of ["writeFileSync", "renameSync", "linkSync", "unlinkSync", "rmSync", "mkdirSync"] as const) {
  wrap(fs, key, (a) => `${key} ${name(a[0])}${key === "renameSync" || key === "linkSync" ? ` -> ${name(a[1])}` : ""}`);
}
wrap(fs, "openSync", (a) => (writes(a[1]) ? `openSync ${name(a[0])} ${String(a[1])}` : null), (fd) => open.set(fd as number, "new"));
wrap(fs, "writeSync", (a) => (open.get(a[0] as number) === "new" ? (open.set(a[0] as number, "written"), "writeSync") : null));
wrap(fs, "fsyncSync", (a) => (synced.add(a[0] as number), "fsyncSync"));
wrap(fs, "closeSync", (a) => (open.delete(a[0] as number) || synced.delete(a[0] as number) ? "closeSync" : null));
const plain = (what: string) => (a: unknown[]) => `${what} ${name(a[0])}`;
for (const key of ["writeFile", "rename", "rm", "unlink", "mkdir"] as const) wrap(fsp, key, plain(`fsp.${key}`));
wrap(fsp, "open", (a) => (writes(a[1]) ? `fsp.open ${name(a[0])}` : null));
syncBuiltinESMExports();

if (!killAt) process.on("exit", () => print(1, `STEPS ${JSON.stringify(labels)}\n`));
