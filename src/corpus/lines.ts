/**
 * Text lines of a corpus file or stream: gzip data (found by its magic bytes, so `.gz` files and
 * gzipped standard input alike) is decompressed, "\r\n" and "\n" end lines, a UTF-8 byte-order mark
 * at the very start is dropped. The corpus reader (reader.ts) parses what comes out.
 */
import fsp from "node:fs/promises";
import { Readable, pipeline } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import zlib from "node:zlib";
import { ColtsError } from "../errors.js";

const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** True when `head` starts with the gzip magic bytes. */
export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
}

/** The error for a file that cannot be opened or read (no line to name). */
export function unreadable(file: string, e: unknown): ColtsError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a folder" : (e as Error).message;
  return new ColtsError("INPUT_INVALID", `cannot read ${file}: ${why}`, { cause: e, details: { file } });
}

const toBuffer = (chunk: unknown): Buffer => (typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.from(chunk as Uint8Array));

/**
 * The bytes of `input`, gunzipped when its first two bytes are the gzip magic. Reads until two bytes
 * are in hand (a stream may deliver one byte at a time), then passes every chunk through.
 */
async function* decompressed(input: Readable): AsyncGenerator<Buffer> {
  const it = (input as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  let ended = false;
  while (size < 2) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const b = toBuffer(r.value);
    head.push(b);
    size += b.length;
  }
  async function* all(): AsyncGenerator<Buffer> {
    yield* head;
    while (!ended) {
      const r = await it.next();
      if (r.done) return;
      yield toBuffer(r.value);
    }
  }
  if (!isGzip(Buffer.concat(head))) {
    yield* all();
    return;
  }
  // pipeline() hands an error of either side to the gunzip stream, so the loop below throws it.
  const gunzip = pipeline(Readable.from(all()), zlib.createGunzip(), () => undefined);
  for await (const chunk of gunzip) yield chunk as Buffer;
}

/**
 * The lines of a byte stream, in batches (one per chunk read, so a million-line file costs a few
 * thousand awaits, not a million): `first` is the 1-based number of `lines[0]`. Lines come without
 * their "\n" or "\r\n"; the last line may lack one. A UTF-8 byte-order mark opening line 1 is
 * removed. `onBytesError` turns a read or gunzip error into the caller's error; it gets the number of
 * the line being read when it happened.
 */
export async function* streamLines(input: Readable, onBytesError: (e: unknown, line: number) => Error): AsyncGenerator<{ first: number; lines: string[] }> {
  const decoder = new StringDecoder("utf8");
  const chunks = decompressed(input);
  let rest = "";
  let next = 1;
  const batch = (parts: string[]): { first: number; lines: string[] } => {
    const first = next;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] as string;
      if (p.endsWith("\r")) parts[i] = p.slice(0, -1);
    }
    if (first === 1 && parts[0]?.startsWith("\uFEFF")) parts[0] = parts[0].slice(1);
    next += parts.length;
    return { first, lines: parts };
  };
  try {
    for (;;) {
      let r: IteratorResult<Buffer>;
      try {
        r = await chunks.next();
      } catch (e) {
        throw onBytesError(e, next);
      }
      if (r.done) break;
      // Only the new text is split: a line longer than a chunk is joined up, not re-scanned per chunk.
      const parts = decoder.write(r.value).split("\n");
      parts[0] = rest + (parts[0] as string);
      rest = parts.pop() as string;
      if (parts.length > 0) yield batch(parts);
    }
    rest += decoder.end();
    if (rest !== "") yield batch([rest]);
  } finally {
    await chunks.return(undefined);
    input.destroy();
  }
}

/** Opens a file for {@link streamLines}; a missing or unreadable file is INPUT_INVALID naming it. */
export async function openFile(file: string): Promise<Readable> {
  const handle = await fsp.open(file).catch((e: unknown) => {
    throw unreadable(file, e);
  });
  // Reading a folder fails on the first read, not on open: catch it here with a clear message.
  const stat = await handle.stat();
  if (stat.isDirectory()) {
    await handle.close();
    throw unreadable(file, Object.assign(new Error("is a folder"), { code: "EISDIR" }));
  }
  return handle.createReadStream();
}

/** Splits text held in memory into `[lineNumber, text]` with the same rules as {@link streamLines}. */
export function* textLines(text: string): Generator<[number, string]> {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const parts = body.split("\n");
  if (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
  for (let i = 0; i < parts.length; i++) {
    const raw = parts[i] ?? "";
    yield [i + 1, raw.endsWith("\r") ? raw.slice(0, -1) : raw];
  }
}
