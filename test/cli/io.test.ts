/** Atomic CLI outputs: a file appears only on commit; abort leaves nothing, even right after opening. */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { openOutput, writeOut, type CliIO } from "../../src/cli/io.js";
import { tempDir } from "../helpers/paths.js";

function io(cwd: string): CliIO {
  return { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough(), env: {}, cwd };
}

test("abort right after opening (before the file is open) leaves no temporary file", async (t) => {
  const dir = tempDir(t);
  for (let i = 0; i < 20; i++) {
    const out = openOutput(io(dir), "out.jsonl");
    await out.abort();
    await new Promise((resolve) => setTimeout(resolve, 5)); // time for a late open to land
    assert.deepEqual(fs.readdirSync(dir), [], `attempt ${i}`);
  }
});

test("abort after writing leaves nothing; commit renames the whole file into place", async (t) => {
  const dir = tempDir(t);
  const aborted = openOutput(io(dir), "out.jsonl");
  await writeOut(aborted.stream, "partial\n");
  await aborted.abort();
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(fs.readdirSync(dir), []);
  const committed = openOutput(io(dir), "out.jsonl");
  await writeOut(committed.stream, "line 1\nline 2\n");
  assert.equal(fs.existsSync(path.join(dir, "out.jsonl")), false, "not visible before commit");
  await committed.commit();
  assert.deepEqual(fs.readdirSync(dir), ["out.jsonl"]);
  assert.equal(fs.readFileSync(path.join(dir, "out.jsonl"), "utf8"), "line 1\nline 2\n");
});
