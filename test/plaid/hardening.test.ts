/**
 * An index folder in hostile hands: stale and crafted write locks, files of older generations,
 * manifests naming files outside the folder, damaged files of every kind, and manifests whose counts
 * disagree with their files. Each must end in a coded error naming the file (or a take-over that is
 * logged), never a crash, a wedge, a wrong answer or a file touched outside the folder.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { isColtsError } from "../../src/errors.js";
import { readChunk, writeChunk } from "../../src/plaid/chunk.js";
import { PlaidIndex } from "../../src/plaid/plaid-index.js";
import { processStart, withWriteLock } from "../../src/plaid/lock.js";
import { arraySource, type EmbeddedDoc } from "../../src/plaid/source.js";
import { addToIndex, buildIndex, compactIndex, deleteFromIndex } from "../../src/plaid/writer.js";
import { getArray, readArrays, writeArrays } from "../../src/store/arrays.js";
import { runCli } from "../helpers/cli.js";
import { suiteDir, tempDir, type Cleanup } from "../helpers/paths.js";
import { syntheticDocs } from "../helpers/synthetic.js";

const dim = 16;
const docs: EmbeddedDoc[] = syntheticDocs(90, dim, 5).map((d, i) => ({ ...d, text: `document number ${i} about topic ${i % 7}` }));

interface Man {
  codecFile: string;
  metadataFile: string;
  bm25File: string | null;
  tombstonesFile: string | null;
  numDocs: number;
  liveDocs: number;
  chunks: { file: string; docs: number; vectors: number }[];
}

const readMan = (dir: string): Man => JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")) as Man;
const writeMan = (dir: string, m: unknown): void => fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(m));

/** Rejects with `code`, and the message names `file` (a file name inside the index, or manifest.json). */
async function refused(p: Promise<unknown>, code: string, file: string, what?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isColtsError(e), `not a ColtsError: ${String((e as Error)?.stack ?? e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.includes(file), `"${e.message}" does not name ${file}`);
    if (what) assert.match(e.message, what);
    return true;
  });
}

const open = async (dir: string): Promise<void> => (await PlaidIndex.open(dir)).close();

describe("index folders under attack", () => {
  const root = suiteDir();
  const base = path.join(root, "base");
  before(async () => {
    await buildIndex(base, arraySource(docs.slice(0, 60), 30), dim, { nbits: 2, chunkDocs: 25, numCentroids: 16 });
  });
  /** A fresh copy of the base index (three chunks, 60 documents, with BM25). */
  const copy = (t: Cleanup): string => {
    const dir = path.join(tempDir(t), "idx");
    fs.cpSync(base, dir, { recursive: true });
    return dir;
  };

  describe("the write lock", () => {
    const takeovers = async (fn: () => Promise<unknown>): Promise<string[]> => {
      const seen: string[] = [];
      const on = (w: Error & { code?: string }): void => void (w.code === "COLTS_LOCK_TAKEOVER" && seen.push(w.message));
      process.on("warning", on);
      try {
        await fn();
        await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      } finally {
        process.off("warning", on);
      }
      return seen;
    };

    test("an empty lock (a writer killed between creating and filling it) is taken over, logged, and released", async (t) => {
      const dir = copy(t);
      fs.writeFileSync(path.join(dir, "write.lock"), "");
      const warned = await takeovers(() => addToIndex(dir, arraySource(docs.slice(60, 62))));
      assert.equal(warned.length, 1);
      assert.match(warned[0] as string, /write\.lock: the lock file is empty/);
      assert.equal(fs.existsSync(path.join(dir, "write.lock")), false);
      assert.equal(readMan(dir).numDocs, 62);
    });

    test("pid 0, a negative pid, garbage and a folder are not holders", async (t) => {
      const dir = copy(t);
      const lock = path.join(dir, "write.lock");
      for (const content of ["0", JSON.stringify({ pid: 0, start: null, host: os.hostname() }), JSON.stringify({ pid: -1, start: null, host: os.hostname() }), "\u0000\u0001junk"]) {
        fs.writeFileSync(lock, content);
        assert.equal((await takeovers(() => deleteFromIndex(dir, ["nope"]))).length, 1, content);
        assert.equal(fs.existsSync(lock), false);
      }
      fs.mkdirSync(lock);
      assert.equal((await takeovers(() => deleteFromIndex(dir, ["nope"]))).length, 1);
      assert.equal(fs.existsSync(lock), false);
    });

    test("a live holder makes the writer fail fast; a recycled pid (same pid, other start time) does not", async (t) => {
      const dir = copy(t);
      const lock = path.join(dir, "write.lock");
      const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
      t.after(() => child.kill());
      await new Promise((r) => child.once("spawn", r));
      const pid = child.pid as number;
      fs.writeFileSync(lock, JSON.stringify({ pid, start: processStart(pid), host: os.hostname() }));
      await assert.rejects(addToIndex(dir, arraySource(docs.slice(60, 61))), { code: "INDEX_BUSY", message: new RegExp(`process ${pid}`) });
      assert.equal(fs.existsSync(lock), true, "a live holder's lock is kept");
      if (process.platform === "linux") {
        // The same live pid with another start time: the process that took the lock is gone.
        fs.writeFileSync(lock, JSON.stringify({ pid, start: "another-boot:1", host: os.hostname() }));
        const warned = await takeovers(() => addToIndex(dir, arraySource(docs.slice(60, 61))));
        assert.match(warned[0] ?? "", /its pid now belongs to another process/);
      }
      // An older colts' lock: the bare pid of a live process still counts.
      fs.writeFileSync(lock, String(pid));
      await assert.rejects(deleteFromIndex(dir, ["d0"]), { code: "INDEX_BUSY" });
      child.kill();
      await new Promise((r) => child.once("exit", r));
      assert.equal((await takeovers(() => deleteFromIndex(dir, ["d0"]))).length, 1);
    });

    test("temporary lock files of a killed writer are removed by the next one; a live writer's are kept", async (t) => {
      const dir = copy(t);
      const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
      t.after(() => child.kill());
      await new Promise((r) => child.once("spawn", r));
      const dead = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
      await new Promise((r) => dead.once("exit", r));
      const left = [`write.lock.new-${dead.pid}-1-abc`, `write.lock.stale-${dead.pid}-2-def`];
      const live = `write.lock.new-${child.pid}-3-ghi`;
      for (const name of [...left, live]) fs.writeFileSync(path.join(dir, name), "{}");
      await deleteFromIndex(dir, ["nope"]);
      assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith("write.lock")), [live]);
    });

    test("a second writer in the same process is refused, and the first one's lock survives it", async (t) => {
      const dir = copy(t);
      await withWriteLock(dir, async () => {
        await assert.rejects(deleteFromIndex(dir, ["d0"]), { code: "INDEX_BUSY", message: /this process/ });
        assert.equal(fs.existsSync(path.join(dir, "write.lock")), true);
      });
      assert.equal(fs.existsSync(path.join(dir, "write.lock")), false);
    });
  });

  test("every write collects the files of older generations: one BM25 file after 10 adds, leftovers of crashes removed", async (t) => {
    const dir = copy(t);
    for (let i = 0; i < 10; i++) await addToIndex(dir, arraySource(docs.slice(60 + i * 3, 63 + i * 3)));
    const generational = (): string[] => fs.readdirSync(dir).filter((n) => /-g\d+/.test(n) || n.startsWith("metadata")).sort();
    const referenced = (): string[] => {
      const m = readMan(dir);
      return [m.codecFile, m.metadataFile, ...m.chunks.map((c) => c.file), ...(m.bm25File ? [m.bm25File] : []), ...(m.tombstonesFile ? [m.tombstonesFile] : [])].sort();
    };
    assert.equal(fs.readdirSync(dir).filter((n) => n.startsWith("bm25-g")).length, 1);
    assert.deepEqual(generational(), referenced());
    // A writer killed after writing its files but before its manifest, and one killed after its
    // manifest but before collecting: the next write removes both kinds.
    for (const junk of ["chunk-g99-0.bin", "bm25-g3.bin", "codec-g7.bin", "tombstones-g2.bin", ".chunk-g12-0.bin.tmp-1-2-3", "metadata-g4.sqlite"]) fs.writeFileSync(path.join(dir, junk), "x");
    fs.writeFileSync(path.join(dir, "notes.txt"), "mine");
    await deleteFromIndex(dir, ["d1"]);
    assert.deepEqual(generational(), referenced());
    assert.equal(fs.readFileSync(path.join(dir, "notes.txt"), "utf8"), "mine", "files colts does not write are left alone");
    await compactIndex(dir);
    assert.deepEqual(generational(), referenced());
    // A rebuild over the index drops the old metadata database too.
    await buildIndex(dir, arraySource(docs.slice(0, 30)), dim, { overwrite: true, numCentroids: 8 });
    assert.deepEqual(generational(), referenced());
    await open(dir);
  });

  test("file names in the manifest never lead outside the folder: reads and writes are refused", async (t) => {
    const dir = copy(t);
    const outside = path.join(path.dirname(dir), "outside");
    fs.mkdirSync(outside);
    const m = readMan(dir);
    fs.copyFileSync(path.join(dir, m.chunks[0]!.file), path.join(outside, "chunk.bin"));
    fs.copyFileSync(path.join(dir, m.metadataFile), path.join(outside, "victim.sqlite"));
    const victim = fs.readFileSync(path.join(outside, "victim.sqlite"));
    const cases: [string, Man][] = [
      ["chunks[0].file", { ...m, chunks: [{ ...m.chunks[0]!, file: "../outside/chunk.bin" }, ...m.chunks.slice(1)] }],
      ["metadataFile", { ...m, metadataFile: "../outside/victim.sqlite" }],
      ["metadataFile", { ...m, metadataFile: path.join(outside, "victim.sqlite") }],
      ["codecFile", { ...m, codecFile: "..\\outside\\codec.bin" }],
      ["bm25File", { ...m, bm25File: ".." }],
      ["tombstonesFile", { ...m, tombstonesFile: "" }],
    ];
    for (const [field, bad] of cases) {
      writeMan(dir, bad);
      await refused(open(dir), "INDEX_CORRUPT", "manifest.json", new RegExp(`${field.replace(/[[\]]/g, "\\$&")} .* not a plain file name`));
      await refused(addToIndex(dir, arraySource(docs.slice(60, 62))), "INDEX_CORRUPT", "manifest.json");
      await refused(deleteFromIndex(dir, ["d0"]), "INDEX_CORRUPT", "manifest.json");
    }
    assert.deepEqual(fs.readFileSync(path.join(outside, "victim.sqlite")), victim, "nothing was written outside the folder");
    assert.deepEqual(fs.readdirSync(outside).sort(), ["chunk.bin", "victim.sqlite"]);
    // A link inside the folder that leads out is refused as well.
    writeMan(dir, m);
    fs.rmSync(path.join(dir, m.chunks[0]!.file));
    fs.symlinkSync(path.join(outside, "chunk.bin"), path.join(dir, m.chunks[0]!.file));
    await refused(open(dir), "INDEX_CORRUPT", m.chunks[0]!.file, /symbolic link/);
  });

  test("damaged files fail as INDEX_CORRUPT naming the file, never as a stack trace", async (t) => {
    const dir = copy(t);
    const m = readMan(dir);
    for (const [content, what] of [
      ["null", /expected a JSON object, found null/],
      ["[]", /found an array/],
      ["7", /found number/],
      [JSON.stringify({ ...m, chunks: [null] }), /chunks\[0\] is not an object/],
      [JSON.stringify({ ...m, chunks: null }), /chunks is missing/],
      [JSON.stringify({ ...m, drift: 1 }), /drift/],
    ] as const) {
      fs.writeFileSync(path.join(dir, "manifest.json"), content);
      await refused(open(dir), "INDEX_CORRUPT", "manifest.json", what);
    }
    writeMan(dir, m);
    // The BM25 file replaced by a folder.
    fs.rmSync(path.join(dir, m.bm25File!));
    fs.mkdirSync(path.join(dir, m.bm25File!));
    await refused(open(dir), "INDEX_CORRUPT", m.bm25File!, /a folder/);
    fs.rmSync(path.join(dir, m.bm25File!), { recursive: true });
    fs.copyFileSync(path.join(base, m.bm25File!), path.join(dir, m.bm25File!));
    // A metadata database whose pages after the first are overwritten: open works (the header is
    // fine), every lookup fails with the file named, filters included.
    const db = path.join(dir, m.metadataFile);
    const bytes = fs.readFileSync(db);
    bytes.fill(0x5a, 4096);
    fs.writeFileSync(db, bytes);
    const index = await PlaidIndex.open(dir);
    try {
      const q = { vectors: docs[0]!.vectors, tokens: docs[0]!.n, dim };
      await refused(index.search(q, { k: 3, filter: "group = 1" }), "INDEX_CORRUPT", m.metadataFile);
      await refused(index.search(q, { k: 3 }), "INDEX_CORRUPT", m.metadataFile);
      await refused(Promise.resolve().then(() => index.texts([0])), "INDEX_CORRUPT", m.metadataFile);
      await refused(index.checkIntegrity(), "INDEX_CORRUPT", m.metadataFile);
    } finally {
      await index.close();
    }
  });

  test("counts that disagree with the files, codes outside the codec, non-finite weights: refused on open", async (t) => {
    const dir = copy(t);
    const m = readMan(dir);
    const c0 = m.chunks[0]!;
    const bad: [Partial<Man>, string, RegExp][] = [
      [{ chunks: [c0, c0, ...m.chunks.slice(1)], numDocs: m.numDocs + c0.docs, liveDocs: m.liveDocs + c0.docs }, "manifest.json", /named twice/],
      [{ chunks: [] }, "manifest.json", /numDocs is 60 but the chunks hold 0/],
      [{ chunks: [], numDocs: 600, liveDocs: 600 }, "manifest.json", /numDocs/],
      [{ numDocs: 50, liveDocs: 50 }, "manifest.json", /more than numDocs 50/],
      [{ numDocs: 61, liveDocs: 61 }, "manifest.json", /numDocs is 61/],
      [{ liveDocs: 59 }, "manifest.json", /liveDocs is 59/],
      [{ numDocs: 4e9, liveDocs: 4e9 }, "manifest.json", /numDocs is 4000000000/],
      [{ chunks: [{ ...c0, docs: c0.docs - 1 }, ...m.chunks.slice(1)], numDocs: 59, liveDocs: 59 }, c0.file, /manifest says/],
    ];
    for (const [patch, file, what] of bad) {
      writeMan(dir, { ...m, ...patch });
      await refused(open(dir), "INDEX_CORRUPT", file, what);
    }
    writeMan(dir, m);
    // Crafted chunks and codecs whose checksums are valid (written by the container writer).
    const chunkPath = path.join(dir, c0.file);
    const original = fs.readFileSync(chunkPath);
    // Wide (i32, as version 1 and codecs over 65,536 centroids store them) and narrow (u16) codes.
    for (const [code, Codes] of [[999999, Int32Array], [-1, Int32Array], [16, Int32Array], [16, Uint16Array], [65535, Uint16Array]] as const) {
      const chunk = readChunk(chunkPath, 16, (dim * 2) / 8);
      const codes = Codes.from(chunk.codes);
      codes[3] = code;
      writeChunk(chunkPath, { ...chunk, codes });
      await refused(open(dir), "INDEX_CORRUPT", c0.file, new RegExp(`code ${code}, outside`));
      fs.writeFileSync(chunkPath, original);
    }
    {
      const chunk = readChunk(chunkPath, 16, (dim * 2) / 8);
      const ivfDocs = chunk.ivfDocs.slice();
      ivfDocs[0] = 1000;
      writeChunk(chunkPath, { ...chunk, ivfDocs });
      await refused(open(dir), "INDEX_CORRUPT", c0.file, /inverted list of centroid \d+ holds document 1000/);
      fs.writeFileSync(chunkPath, original);
    }
    const codecPath = path.join(dir, m.codecFile);
    const f = readArrays(codecPath, { kind: "plaid-codec", maxVersion: 1 });
    for (const [name, value] of [["bucketWeights", NaN], ["centroids", Infinity]] as const) {
      const arrays = Object.fromEntries(["centroids", "bucketCutoffs", "bucketWeights"].map((n) => [n, getArray(f, n, Float32Array, codecPath).slice()]));
      arrays[name]![1] = value;
      writeArrays(codecPath, "plaid-codec", 1, arrays, f.meta);
      await refused(open(dir), "INDEX_CORRUPT", m.codecFile, new RegExp(`${name}\\[1\\] is ${value}`));
    }
  });

  test("colts index info checks every checksum unless --no-verify; no failure prints a stack trace", async (t) => {
    const dir = copy(t);
    const cwd = path.dirname(dir);
    const m = readMan(dir);
    const ok = await runCli(["index", "info", "idx", "--json"], cwd);
    assert.equal(ok.code, 0, ok.stderr);
    const flip = (file: string): Buffer => {
      const p = path.join(dir, file);
      const good = fs.readFileSync(p);
      const flipped = Buffer.from(good);
      flipped[flipped.length - 5]! ^= 0x10; // inside the checksummed bytes, after the header
      fs.writeFileSync(p, flipped);
      return good;
    };
    for (const file of [m.codecFile, m.chunks[1]!.file, m.bm25File!]) {
      const good = flip(file);
      const r = await runCli(["index", "info", "idx"], cwd);
      assert.equal(r.code, 1, `${file}: ${r.stdout}`);
      assert.match(r.stderr, new RegExp(`${file.replace(".", "\\.")}: checksum mismatch .*\\[INDEX_CORRUPT\\]`));
      fs.writeFileSync(path.join(dir, file), good);
    }
    // Checksums skipped: a codec with a changed (still finite) weight opens.
    const good = flip(m.codecFile);
    const fast = await runCli(["index", "info", "idx", "--no-verify"], cwd);
    assert.equal(fast.code, 0, fast.stderr);
    fs.writeFileSync(path.join(dir, m.codecFile), good);
    const help = await runCli(["index", "info", "--help"], cwd);
    assert.match(help.stdout, /--no-verify/);
    fs.writeFileSync(path.join(dir, "manifest.json"), "null");
    const r = await runCli(["index", "info", "idx"], cwd);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /manifest\.json: expected a JSON object, found null \[INDEX_CORRUPT\]/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});
