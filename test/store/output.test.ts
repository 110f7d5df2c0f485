/**
 * User-named outputs: a regular file or new path is replaced atomically; a symlink is followed (the
 * link stays a link); a FIFO or character device is written in place (never unlinked and replaced
 * by a regular file, which is what renaming a temporary file over `/dev/null` did).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { planOutput, writeOutputFileSync, openOutputStream } from "../../src/store/output.js";
import { writeTrecRun } from "../../src/eval/io.js";
import { runCli } from "../helpers/cli.js";
import { tinyModel } from "../helpers/models.js";
import { tempDir } from "../helpers/paths.js";

/** Reads a FIFO to its end (resolves once the writer closes it). */
function drainFifo(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    fs.createReadStream(file).on("data", (b) => chunks.push(b as Buffer)).on("end", () => resolve(Buffer.concat(chunks).toString())).on("error", reject);
  });
}

test("a regular file is replaced atomically and keeps its permission bits; a new path is created", (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, "report.json");
  fs.writeFileSync(file, "old");
  fs.chmodSync(file, 0o640);
  assert.deepEqual(planOutput(file), { target: fs.realpathSync(file), atomic: true, mode: 0o640 });
  writeOutputFileSync(file, "new");
  assert.equal(fs.readFileSync(file, "utf8"), "new");
  assert.equal(fs.statSync(file).mode & 0o777, 0o640);
  writeOutputFileSync(path.join(dir, "sub", "fresh.txt"), "x");
  assert.equal(fs.readFileSync(path.join(dir, "sub", "fresh.txt"), "utf8"), "x");
  assert.deepEqual(fs.readdirSync(dir).sort(), ["report.json", "sub"], "no temporary file left");
});

test("a symlink is followed: its target is written, the link stays a link (also dangling and chained)", async (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, "real"));
  fs.writeFileSync(path.join(dir, "real", "out.txt"), "old");
  fs.symlinkSync("real/out.txt", path.join(dir, "link1"));
  fs.symlinkSync("link1", path.join(dir, "link2"));
  writeOutputFileSync(path.join(dir, "link2"), "via sync");
  assert.ok(fs.lstatSync(path.join(dir, "link2")).isSymbolicLink());
  assert.ok(fs.lstatSync(path.join(dir, "link1")).isSymbolicLink());
  assert.equal(fs.readFileSync(path.join(dir, "real", "out.txt"), "utf8"), "via sync");

  const out = openOutputStream(path.join(dir, "link1"));
  out.stream.write("via stream\n");
  await out.commit();
  assert.ok(fs.lstatSync(path.join(dir, "link1")).isSymbolicLink());
  assert.equal(fs.readFileSync(path.join(dir, "real", "out.txt"), "utf8"), "via stream\n");
  assert.deepEqual(fs.readdirSync(path.join(dir, "real")), ["out.txt"], "temporary file was next to the target and is gone");

  fs.symlinkSync("real/later.txt", path.join(dir, "dangling"));
  writeOutputFileSync(path.join(dir, "dangling"), "created");
  assert.ok(fs.lstatSync(path.join(dir, "dangling")).isSymbolicLink());
  assert.equal(fs.readFileSync(path.join(dir, "real", "later.txt"), "utf8"), "created");

  fs.symlinkSync("loop-b", path.join(dir, "loop-a"));
  fs.symlinkSync("loop-a", path.join(dir, "loop-b"));
  assert.throws(() => planOutput(path.join(dir, "loop-a")), (e: unknown) => (e as { code?: string }).code === "INPUT_INVALID");
  assert.throws(() => planOutput(path.join(dir, "real")), /is a folder/);
});

test("/dev/stdout is judged by what it opens (a pipe under the test runner), not by its link text", () => {
  const stdoutIsFile = fs.fstatSync(1).isFile();
  const plan = planOutput("/dev/stdout");
  assert.equal(plan.atomic, stdoutIsFile);
  if (!stdoutIsFile) assert.equal(plan.target, "/dev/stdout", "written through the link, in place");
});

test("a FIFO is written in place (stream, sync write, TREC run), and stays a FIFO", async (t) => {
  const dir = tempDir(t);
  const fifo = path.join(dir, "pipe");
  execFileSync("mkfifo", [fifo]);
  assert.equal(planOutput(fifo).atomic, false);

  let reading = drainFifo(fifo);
  const out = openOutputStream(fifo);
  out.stream.write("line 1\n");
  await out.commit();
  assert.equal(await reading, "line 1\n");
  assert.ok(fs.lstatSync(fifo).isFIFO());

  reading = drainFifo(fifo);
  await writeTrecRun(fifo, new Map([["q1", [{ docid: "d1", score: 2 }]]]), { tag: "t" });
  assert.equal(await reading, "q1 Q0 d1 1 2 t\n");
  assert.ok(fs.lstatSync(fifo).isFIFO());
  assert.deepEqual(fs.readdirSync(dir), ["pipe"], "no temporary file beside it");
});

test("a character device (a null device made in the temp folder) is written in place, never replaced", async (t) => {
  const dir = tempDir(t);
  const dev = path.join(dir, "null");
  // Same major/minor as /dev/null: writes are discarded, nothing outside the temp folder is touched.
  execFileSync("mknod", [dev, "c", "1", "3"]);
  assert.ok(fs.lstatSync(dev).isCharacterDevice());
  writeOutputFileSync(dev, "discarded");
  const out = openOutputStream(dev);
  out.stream.write("discarded too");
  await out.commit();
  assert.ok(fs.lstatSync(dev).isCharacterDevice(), "still a device");
  assert.deepEqual(fs.readdirSync(dir), ["null"]);


  // Through the CLI: `colts encode --output` renamed a temporary file over the target.
  const model = await tinyModel(dir, { layout: "onnx" });
  const r = await runCli(["encode", "-m", model, "--queries", "--output", "null"], dir, "hello\n");
  assert.equal(r.code, 0, r.stderr);
  assert.ok(fs.lstatSync(dev).isCharacterDevice(), "encode --output left the device in place");
});
