/**
 * Crash-safe file writes: data goes to a temporary file in the same folder, is flushed to disk, then
 * renamed over the target (rename is atomic on POSIX file systems), and the folder entry is flushed.
 * A crash at any moment leaves either the old file or the new one, never a mix.
 */
import fs from "node:fs";
import path from "node:path";

let counter = 0;

/** A temporary name next to `file` that no other writer in this or another process uses. */
export function tempNameFor(file: string): string {
  counter++;
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${Date.now()}-${counter}`);
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // Some platforms (Windows) cannot open a directory; the rename is still atomic there.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes `parts` (in order) to `file` atomically. */
export function writeFileAtomic(file: string, parts: Uint8Array | string | (Uint8Array | string)[]): void {
  const tmp = tempNameFor(file);
  const list = Array.isArray(parts) ? parts : [parts];
  const fd = fs.openSync(tmp, "wx");
  try {
    for (const p of list) {
      const bytes = typeof p === "string" ? Buffer.from(p) : p;
      let off = 0;
      while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    }
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

/** Removes temporary files left by interrupted writes in `dir`. */
export function removeStaleTemps(dir: string): string[] {
  const removed: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (/^\..+\.tmp-\d+-\d+-\d+$/.test(name)) {
      fs.rmSync(path.join(dir, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}
