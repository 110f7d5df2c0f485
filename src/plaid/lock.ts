/**
 * One writer per index: `write.lock` is created exclusively and holds the writer's pid. A lock left by
 * a process that no longer exists (a crash) is taken over; a live holder makes the second writer fail
 * fast with INDEX_BUSY rather than interleave files.
 */
import fs from "node:fs";
import path from "node:path";
import { ColtsError } from "../errors.js";

const LOCK = "write.lock";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function acquire(dir: string): string {
  const file = path.join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx" });
      return file;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const holder = Number(fs.readFileSync(file, "utf8"));
      if (Number.isInteger(holder) && holder !== process.pid && alive(holder)) {
        throw new ColtsError("INDEX_BUSY", `${dir} is being written by process ${holder}; try again when it finishes`, { details: { dir, pid: holder } });
      }
      if (holder === process.pid) throw new ColtsError("INDEX_BUSY", `${dir} is already being written by this process`, { details: { dir } });
      fs.rmSync(file, { force: true }); // stale: its writer died
    }
  }
  throw new ColtsError("INDEX_BUSY", `${dir}: could not take the write lock`, { details: { dir } });
}

export async function withWriteLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const file = acquire(dir);
  try {
    return await fn();
  } finally {
    fs.rmSync(file, { force: true });
  }
}
