/**
 * Crash safety at every step: `add`, `delete` and `compact` run in a child process that counts its
 * file-system changes (test/helpers/kill-hook.ts; SQLite's insert and close are marked as steps
 * too) and is killed with SIGKILL right before the N-th, for every N. After each kill the index must
 * open (its stale lock no obstacle) in exactly the old state when the kill came before the commit
 * (the manifest's rename) and exactly the new one after it: the same live ids, PLAID hits and BM25
 * hits as the pristine index or as a completed write. Then the next write
 * must finish the job: from the old state the same write again, from the new state (where repeating
 * it would refuse the ids or delete nothing) a compaction; either way the folder ends with exactly
 * the files of an uninterrupted run followed by the same writes: no lock, temporary file or old
 * generation is left behind.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ColBERT } from "../../src/encode/colbert.js";
import type { MultiVector } from "../../src/encode/multivector.js";
import { PlaidIndex } from "../../src/plaid/plaid-index.js";
import { arraySource, type EmbeddedDoc } from "../../src/plaid/source.js";
import { readManifest } from "../../src/plaid/validate.js";
import { addToIndex, buildIndex, compactIndex, deleteFromIndex } from "../../src/plaid/writer.js";
import { tinyModel } from "../helpers/models.js";
import { suiteDir } from "../helpers/paths.js";

const HELPERS = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "helpers");
const HOOK = pathToFileURL(path.join(HELPERS, "kill-hook.js")).href;
const OP = path.join(HELPERS, "crash-op.js");

const BASE_TEXTS = ["the cat sat on the mat", "dogs chase cats", "a bird in the hand", "rain falls on the plain", "the river runs to the sea", "cats and dogs and birds", "mountains under snow"];
const ADD_TEXTS = ["a cat naps in the sun", "the sea is calm today", "snow on the mountain road", "birds sing at dawn"];
const QUERIES = ["cat on a mat", "sea and river"];
const DELETE = ["d1", "d4"];

const root = suiteDir("colts-crash-points-");
let queries: MultiVector[] = [];
let addFile = "";
let more: EmbeddedDoc[] = [];
const dirs = { base: "", added: "", deleted: "", compacted: "" };

function embedded(prefix: string, texts: string[], vectors: MultiVector[]): EmbeddedDoc[] {
  return texts.map((text, i) => ({ id: `${prefix}${i}`, text, vectors: (vectors[i] as MultiVector).vectors, n: (vectors[i] as MultiVector).tokens }));
}

/** A copy of `from` (a fresh folder named `name`). */
function copy(from: string, name: string): string {
  const to = path.join(root, name);
  fs.rmSync(to, { recursive: true, force: true });
  fs.cpSync(from, to, { recursive: true });
  return to;
}

before(async () => {
  const model = await ColBERT.load(await tinyModel(root), { workers: 0 });
  const base = embedded("d", BASE_TEXTS, await model.encodeDocuments(BASE_TEXTS));
  more = embedded("a", ADD_TEXTS, await model.encodeDocuments(ADD_TEXTS));
  queries = await model.encodeQueries(QUERIES);
  const dim = model.dim;
  await model.close();
  addFile = path.join(root, "add.json");
  fs.writeFileSync(addFile, JSON.stringify(more.map((d) => ({ ...d, vectors: [...d.vectors] }))));
  dirs.base = path.join(root, "base");
  await buildIndex(dirs.base, arraySource(base), dim, { chunkDocs: 3 });
  dirs.added = copy(dirs.base, "added");
  await addToIndex(dirs.added, arraySource(more), { chunkDocs: 3 });
  dirs.deleted = copy(dirs.base, "deleted");
  await deleteFromIndex(dirs.deleted, DELETE);
  dirs.compacted = copy(dirs.deleted, "compacted");
  await compactIndex(dirs.compacted);
});

/**
 * What a reader sees, independent of generation numbers: live ids, PLAID and BM25 hits for the
 * queries, and the documents per chunk file (which tells a compacted index from the one before).
 */
async function state(dir: string): Promise<unknown> {
  const index = await PlaidIndex.open(dir);
  try {
    const chunks = readManifest(dir).chunks.map((c) => c.docs);
    const ids = [...index.ordinalsForIds([...BASE_TEXTS.map((_, i) => `d${i}`), ...ADD_TEXTS.map((_, i) => `a${i}`)])];
    const bm25 = await index.keywordIndex();
    const hits = [];
    for (const [i, q] of queries.entries()) {
      hits.push((await index.search(q, { k: 20 })).map((h) => `${h.id} ${h.score.toFixed(5)}`));
      hits.push(bm25.search(QUERIES[i]!, 20).map((h) => `${h.id} ${h.score.toFixed(5)}`));
    }
    return { live: index.info().liveDocuments, ids, hits, chunks };
  } finally {
    await index.close();
  }
}

const files = (dir: string): string[] => fs.readdirSync(dir).sort();

/** Runs a write in this process; counts the stale-lock takeovers it reports instead of printing them. */
let takeovers = 0;
async function write(fn: () => Promise<unknown>): Promise<void> {
  const emit = Object.getOwnPropertyDescriptor(process, "emitWarning");
  process.emitWarning = ((w: string, o?: { code?: string }) => {
    if (o?.code === "COLTS_LOCK_TAKEOVER") takeovers++;
    else Reflect.apply(emit?.value as () => void, process, [w, o]);
  }) as typeof process.emitWarning;
  try {
    await fn();
  } finally {
    if (emit) Object.defineProperty(process, "emitWarning", emit);
  }
}

/** Runs the write in a child with the kill hook; KILL_AT=0: to the end. */
function runChild(dir: string, args: string[], killAt: number): { steps: string[]; killed: boolean } {
  const r = spawnSync(process.execPath, ["--import", HOOK, OP, dir, ...args], { env: { ...process.env, KILL_AT: String(killAt) }, encoding: "utf8" });
  if (r.signal === "SIGKILL") return { steps: [], killed: true };
  assert.equal(r.status, 0, r.stderr);
  const line = r.stdout.split("\n").find((l) => l.startsWith("STEPS "));
  return { steps: line ? (JSON.parse(line.slice(6)) as string[]) : [], killed: false };
}

const cases = [
  { name: "add", from: () => dirs.base, to: () => dirs.added, args: () => ["add", addFile], again: (dir: string) => addToIndex(dir, arraySource(more), { chunkDocs: 3 }) },
  { name: "delete", from: () => dirs.base, to: () => dirs.deleted, args: () => ["delete", DELETE.join(",")], again: (dir: string) => deleteFromIndex(dir, DELETE) },
  { name: "compact", from: () => dirs.deleted, to: () => dirs.compacted, args: () => ["compact"], again: (dir: string) => compactIndex(dir) },
];

for (const c of cases) {
  test(`${c.name} killed before each file-system step: the old state up to the commit, the new one after, and the next write finishes`, { timeout: 240_000 }, async (t) => {
    const oldState = await state(c.from());
    const newState = await state(c.to());
    assert.notDeepEqual(oldState, newState, "the write changes what a reader sees");
    // An uninterrupted run: the steps, and the files the folder ends with.
    const clean = copy(c.from(), `${c.name}-clean`);
    const { steps, killed } = runChild(clean, c.args(), 0);
    assert.ok(!killed && steps.length > 10, `steps: ${steps.join(", ")}`);
    assert.deepEqual(await state(clean), newState);
    const cleanFiles = files(clean);
    // After a committed write, the next write (a compaction) must clean up what the kill left.
    await compactIndex(clean);
    const cleanThenCompact = { state: await state(clean), files: files(clean) };
    // The commit is the manifest's rename: a kill before it leaves the old state, after it the new one.
    const commit = steps.findIndex((s) => s.endsWith("-> manifest.json")) + 1;
    assert.ok(commit > 1 && commit < steps.length, `steps: ${steps.join(", ")}`);
    t.diagnostic(`${steps.length} steps, the commit is step ${commit}`);
    const takeoversBefore = takeovers;
    for (let n = 1; n <= steps.length; n++) {
      const at = `killed before step ${n}/${steps.length} (${steps[n - 1]})`;
      const dir = copy(c.from(), `${c.name}-kill`);
      assert.ok(runChild(dir, c.args(), n).killed, at);
      if (n <= commit) {
        assert.deepEqual(await state(dir), oldState, `${at}: not the old state`);
        await write(() => c.again(dir));
        assert.deepEqual(await state(dir), newState, `${at}, then run again`);
        assert.deepEqual(files(dir), cleanFiles, `${at}, then run again`);
      } else {
        assert.deepEqual(await state(dir), newState, `${at}: not the new state`);
        await write(() => compactIndex(dir));
        assert.deepEqual(await state(dir), cleanThenCompact.state, `${at}, then compacted`);
        assert.deepEqual(files(dir), cleanThenCompact.files, `${at}, then compacted`);
      }
    }
    // Kills while the lock was held left it behind: the next writer took it over.
    assert.ok(takeovers > takeoversBefore, "no stale lock was taken over");
  });
}
