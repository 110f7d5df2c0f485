/**
 * Crash-safe file writes: data goes to a temporary file in the same folder, is flushed to disk, then
 * renamed over the target (rename is atomic on POSIX file systems), and the folder entry is flushed.
 * A crash at any moment leaves either the old file or the new one, never a mix.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
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

/**
 * Async variant for large outputs written piece by piece (ONNX models with external data, BM25
 * indexes): each chunk goes to its byte offset in a temporary file (gaps stay zero), which is
 * flushed, renamed over `target`, and the folder entry flushed. Returns the file size.
 */
export async function writeChunksAtomic(target: string, chunks: Iterable<{ offset: number; bytes: Uint8Array }>): Promise<number> {
  const tmp = tempNameFor(target);
  const fh = await fsp.open(tmp, "wx");
  let size = 0;
  try {
    for (const { offset, bytes } of chunks) {
      // write() may write less than asked for very large buffers: loop until done.
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await fh.write(bytes, done, Math.min(bytes.length - done, 1 << 30), offset + done);
        done += bytesWritten;
      }
      size = Math.max(size, offset + bytes.length);
    }
    await fh.sync();
    await fh.close();
    await fsp.rename(tmp, target);
  } catch (error) {
    // An I/O failure is not a colts error: clean up and let the caller see the system error as is.
    await fh.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw error;
  }
  fsyncDir(path.dirname(target));
  return size;
}

/** Chunks laid out one after another from offset 0. */
export function* sequentialChunks(chunks: Iterable<Uint8Array>): Generator<{ offset: number; bytes: Uint8Array }> {
  let offset = 0;
  for (const bytes of chunks) {
    yield { offset, bytes };
    offset += bytes.length;
  }
}
