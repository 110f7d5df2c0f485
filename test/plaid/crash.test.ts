/**
 * Crash safety: a child process writing the index is killed (SIGKILL) at random moments, during build
 * and during add; after every kill the index opens and searches in its last committed state, and
 * the next writer takes over the stale lock.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isColtsError } from "../../src/errors.js";
import { PlaidIndex } from "../../src/plaid/plaid-index.js";
import { Rng } from "../../src/util/rng.js";
import { syntheticDocs } from "../helpers/synthetic.js";
import { tempDir } from "../helpers/paths.js";

const WRITER = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "helpers", "crash-writer.js");

/** Runs the writer and kills it after `ms` (or lets it finish); resolves with whether it completed. */
function runAndKill(args: string[], ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [WRITER, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.on("exit", () => {
      clearTimeout(timer);
      resolve(out.includes("done"));
    });
  });
}

/** Opens the index and checks it answers a search consistently with its manifest. */
async function checkOpens(dir: string): Promise<number | null> {
  let index: PlaidIndex;
  try {
    index = await PlaidIndex.open(dir);
  } catch (e) {
    if (isColtsError(e, "INDEX_NOT_FOUND")) return null;
    throw e;
  }
  try {
    const q = syntheticDocs(1, 16, 5)[0]!;
    const hits = await index.search({ vectors: q.vectors, tokens: q.n, dim: 16 }, { k: 5 });
    const info = index.info();
    assert.equal(hits.length, Math.min(5, info.liveDocuments));
    return info.liveDocuments;
  } finally {
    await index.close();
  }
}

test("kill during build: either no index yet or the complete one", { timeout: 240_000 }, async (t) => {
  const rng = new Rng(2024);
  let completed = false;
  for (let i = 0; i < 6 && !completed; i++) {
    const dir = path.join(tempDir(t), `b${i}`);
    const ms = 150 + rng.int(1500);
    completed = await runAndKill([dir, "build", "1"], ms);
    const live = await checkOpens(dir);
    assert.ok(live === null || live === 300, `after a kill at ${ms} ms: ${String(live)} live documents`);
  }
});

test("kill during add: every committed batch is whole; the next writer carries on", { timeout: 240_000 }, async (t) => {
  const dir = path.join(tempDir(t), "a");
  assert.ok(await runAndKill([dir, "build", "1"], 60_000), "initial build completes");
  const rng = new Rng(7);
  let previous = 300;
  for (let i = 0; i < 8; i++) {
    await runAndKill([dir, "add", String(i + 1)], 200 + rng.int(1500));
    const live = await checkOpens(dir);
    assert.ok(live !== null && live >= previous && (live - 300) % 40 === 0, `live ${String(live)} after kill ${i}`);
    previous = live;
  }
  assert.ok(previous > 300, "some batches were committed");
});
