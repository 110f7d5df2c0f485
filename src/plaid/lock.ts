/**
 * One writer per index: `write.lock` names its holder as JSON `{ pid, start, host }`. `start`
 * identifies the process instance, not just its number: on Linux the boot id and the start time
 * from /proc/<pid>/stat, so a pid recycled by a later process (or after a reboot) is not mistaken for
 * the holder; where /proc is missing it is null and the pid alone is checked (process.kill(pid, 0)).
 *
 * The lock is written complete under another name and hard-linked into place (the link fails when
 * the lock exists), so no writer ever sees a half-written lock. A lock whose holder is gone, or that
 * is empty or unreadable (left by a writer killed while creating it, or by an older colts), is taken
 * over with a process warning (code COLTS_LOCK_TAKEOVER). The temporary lock files a killed writer
 * left beside the lock are removed by the next writer that holds it. A live holder makes the second writer fail
 * fast with INDEX_BUSY rather than interleave files; so does a holder on another host, which cannot
 * be checked from here.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ColtsError } from "../errors.js";

export const LOCK_FILE = "write.lock";

/** Who holds a lock. */
interface Holder {
  pid: number;
  /** Process instance identity (see the file comment), or null where it cannot be read. */
  start: string | null;
  host: string;
}

let bootId: string | null | undefined;

/** The identity of process `pid`'s instance: Linux boot id + start time in clock ticks; null when unknown. */
export function processStart(pid: number): string | null {
  if (!Number.isInteger(pid) || pid < 1) return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces and parentheses): state is field 3, starttime field 22.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = fields[19];
    if (ticks === undefined || !/^\d+$/.test(ticks)) return null;
    if (bootId === undefined) {
      try {
        bootId = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
      } catch {
        bootId = null;
      }
    }
    return `${bootId ?? "boot"}:${ticks}`;
  } catch {
    return null;
  }
}

/** Whether /proc describes processes here (then a process without a /proc entry is gone). */
function hasProc(): boolean {
  return processStart(process.pid) !== null;
}

function self(): Holder {
  return { pid: process.pid, start: processStart(process.pid), host: os.hostname() };
}

/** The holder a lock file names; null when it is empty or malformed. A bare pid is an older colts' lock. */
function parseHolder(text: string): Holder | null {
  const t = text.trim();
  if (/^\d+$/.test(t)) return { pid: Number(t), start: null, host: os.hostname() };
  try {
    const h = JSON.parse(t) as Partial<Holder>;
    if (typeof h !== "object" || h === null || typeof h.pid !== "number" || typeof h.host !== "string") return null;
    return { pid: h.pid, start: typeof h.start === "string" ? h.start : null, host: h.host };
  } catch {
    return null;
  }
}

/** Whether the holder still runs; why not when it does not. Holders on other hosts count as running. */
function holderState(h: Holder): { alive: true } | { alive: false; why: string } {
  if (!Number.isInteger(h.pid) || h.pid < 1) return { alive: false, why: `it names no valid process (${h.pid})` };
  if (h.host !== os.hostname()) return { alive: true };
  if (hasProc()) {
    const now = processStart(h.pid);
    if (now === null) return { alive: false, why: `process ${h.pid} has exited` };
    if (h.start !== null && now !== h.start) return { alive: false, why: `process ${h.pid} has exited (its pid now belongs to another process)` };
    return { alive: true };
  }
  try {
    process.kill(h.pid, 0);
    return { alive: true };
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM" ? { alive: true } : { alive: false, why: `process ${h.pid} has exited` };
  }
}

/** Creates the lock holding `content` unless it exists; true when created. */
function create(file: string, content: string): boolean {
  const tmp = `${file}.new-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  fs.writeFileSync(tmp, content, { flag: "wx" });
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EXDEV") throw e;
    // A file system without hard links: exclusive create, then write (a crash in between leaves an
    // empty lock, which the next writer takes over).
    try {
      fs.writeFileSync(file, content, { flag: "wx" });
      return true;
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw e2;
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** The lock's content; `null` when it vanished; "\0unreadable" when it cannot be read as a file. */
function readLock(file: string): string | null {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? null : "\0unreadable";
  }
}

function busy(dir: string, message: string, details: Record<string, unknown> = {}): ColtsError {
  return new ColtsError("INDEX_BUSY", `${dir} ${message}`, { details: { dir, ...details } });
}

/**
 * Removes the stale lock that read `seen`: it is renamed aside first and compared, so a lock another
 * writer created meanwhile is put back rather than removed.
 */
function removeStale(dir: string, file: string, seen: string): void {
  const aside = `${file}.stale-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  try {
    fs.renameSync(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // someone else removed it
    throw e;
  }
  if (readLock(aside) !== seen) {
    // Another writer replaced the stale lock between our read and the rename: restore its lock.
    try {
      fs.linkSync(aside, file);
    } catch {
      // A third writer holds the lock now; theirs stands.
    }
    fs.rmSync(aside, { recursive: true, force: true });
    throw busy(dir, "is being written by another process; try again when it finishes");
  }
  fs.rmSync(aside, { recursive: true, force: true });
}

/** Names of the files `create` and `removeStale` write beside the lock; they carry the writer's pid. */
const LOCK_TEMP = new RegExp(`^${LOCK_FILE.replace(".", "\\.")}\\.(?:new|stale)-(\\d+)-`);

/**
 * Removes what writers killed while creating or taking over the lock left beside it (their temporary
 * lock files), once their process is gone; a live writer's file is its own to remove. Run holding the lock.
 */
function removeLockLeftovers(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const pid = Number(LOCK_TEMP.exec(name)?.[1] ?? 0);
    if (pid === 0 || pid === process.pid || holderState({ pid, start: null, host: os.hostname() }).alive) continue;
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

function acquire(dir: string): { file: string; content: string } {
  const file = path.join(dir, LOCK_FILE);
  const content = JSON.stringify(self());
  for (let attempt = 0; attempt < 3; attempt++) {
    if (create(file, content)) {
      removeLockLeftovers(dir);
      return { file, content };
    }
    const seen = readLock(file);
    if (seen === null) continue; // released meanwhile
    const holder = seen === "\0unreadable" ? null : parseHolder(seen);
    let why: string;
    if (holder === null) why = seen.trim() === "" ? "the lock file is empty" : "the lock file is unreadable or malformed";
    else {
      if (holder.pid === process.pid && holder.host === os.hostname() && (holder.start === null || holder.start === processStart(process.pid))) {
        throw busy(dir, "is already being written by this process");
      }
      const state = holderState(holder);
      if (state.alive) {
        const where = holder.host === os.hostname() ? "" : ` on host ${holder.host} (if no writer runs there, delete ${file})`;
        throw busy(dir, `is being written by process ${holder.pid}${where}; try again when it finishes`, { pid: holder.pid, host: holder.host });
      }
      why = state.why;
    }
    removeStale(dir, file, seen);
    process.emitWarning(`colts: took over the write lock ${file}: ${why}`, { code: "COLTS_LOCK_TAKEOVER", type: "ColtsWarning" });
  }
  throw busy(dir, "could not be locked for writing (its lock kept changing); try again");
}

/** Runs `fn` holding the index's write lock; the lock is released after, if it is still this writer's. */
export async function withWriteLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const { file, content } = acquire(dir);
  try {
    return await fn();
  } finally {
    if (readLock(file) === content) fs.rmSync(file, { force: true });
  }
}
