/** `colts index ...`, `colts search` and `colts rerank` in-process on a small corpus. */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { runCli } from "../helpers/cli.js";
import { tinyModel } from "../helpers/models.js";
import { suiteDir } from "../helpers/paths.js";

const run = runCli;

const DOCS = [
  { _id: "paris", title: "Paris", text: "Paris is the capital and largest city of France.", lang: "en", year: 2001 },
  { _id: "berlin", title: "Berlin", text: "Berlin is the capital of Germany.", lang: "en", year: 1999 },
  { _id: "kyoto", title: "Kyoto", text: "Kyoto was the imperial capital of Japan for a thousand years.", lang: "en", year: 2010 },
  { _id: "banana", title: "Bananas", text: "Bananas are yellow fruit rich in potassium.", lang: "fr", year: 2005 },
  { _id: "atp", title: "Mitochondria", text: "Mitochondria produce ATP by oxidative phosphorylation.", lang: "de", year: 2015 },
];
const jsonl = (docs: object[]): string => docs.map((d) => JSON.stringify(d)).join("\n") + "\n";

describe("colts index / search / rerank", () => {
  const cwd = suiteDir();
  before(async () => {
    const model = await tinyModel(cwd, { layout: "onnx", wordEmbeddingStd: 0.2 });
    fs.renameSync(model, path.join(cwd, "model"));
    fs.writeFileSync(path.join(cwd, "docs.jsonl"), jsonl(DOCS));
  });

  test("build from a JSONL file, info, search (text and JSON), filters, explanations", async () => {
    const b = await run(["index", "build", "idx", "--model", "model", "--input", "docs.jsonl", "--metadata-fields", "lang,year", "--nbits", "2"], cwd);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /built .*idx: 5 documents/);
    // Every phase's bar ends at 100% (the index pass once reported only flushed chunks: 0% until the end).
    for (const label of ["encoding the codec sample", "k-means rounds", "indexing"]) {
      assert.match(b.stderr, new RegExp(`^${label} 100% .* in `, "m"), b.stderr);
    }
    const info = await run(["index", "info", "idx", "--json"], cwd);
    const i = JSON.parse(info.stdout) as { documents: number; nbits: number; dim: number; model: string };
    assert.equal(i.documents, 5);
    assert.equal(i.nbits, 2);
    assert.equal(i.dim, 16);
    assert.equal(i.model, path.join(cwd, "model"));
    const s = await run(["search", "idx", "capital of France", "-k", "3", "--json"], cwd);
    assert.equal(s.code, 0, s.stderr);
    const hits = JSON.parse(s.stdout) as { id: string; score: number; metadata: { lang: string } }[];
    assert.equal(hits.length, 3);
    const f = JSON.parse((await run(["search", "idx", "capital", "-k", "5", "--json", "--filter", "lang = 'en' AND year >= 2000"], cwd)).stdout) as { id: string }[];
    assert.deepEqual(f.map((h) => h.id).sort(), ["kyoto", "paris"]);
    const e = await run(["search", "idx", "bananas", "-k", "1", "--explain"], cwd);
    assert.match(e.stdout, /bananas\s+-> bananas/);
    const bad = await run(["search", "idx", "x", "--filter", "year >"], cwd);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /FILTER_INVALID/);
  });

  test("--centroids and --assignment reach the codec: two-level with every group probed finds what exact finds", async () => {
    const a = await run(["index", "build", "idx-exact", "--model", "model", "--input", "docs.jsonl", "--centroids", "16", "--assignment", "exact"], cwd);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /16 centroids/);
    const b = await run(["index", "build", "idx-two", "--model", "model", "--input", "docs.jsonl", "--centroids", "16", "--assignment", "two-level"], cwd);
    assert.equal(b.code, 0, b.stderr);
    const top = async (idx: string): Promise<string[]> =>
      (JSON.parse((await run(["search", idx, "capital of Japan", "-k", "5", "--json", "--exact"], cwd)).stdout) as { id: string }[]).map((h) => h.id);
    assert.deepEqual(await top("idx-two"), await top("idx-exact"));
    const bad = await run(["index", "build", "idx-bad", "--model", "model", "--input", "docs.jsonl", "--assignment", "fast"], cwd);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /assignment/);
  });

  test("--queries writes a TREC run; --exact agrees with PLAID on the top hit of a tiny index", async () => {
    fs.writeFileSync(path.join(cwd, "q.tsv"), "q1\tcapital of Germany\nq2\tyellow fruit\n");
    const r = await run(["search", "idx", "--queries", "q.tsv", "--output", "run.trec", "-k", "2"], cwd);
    assert.equal(r.code, 0, r.stderr);
    const lines = fs.readFileSync(path.join(cwd, "run.trec"), "utf8").trim().split("\n");
    assert.equal(lines.length, 4);
    assert.match(lines[0]!, /^q1 Q0 \S+ 1 -?\d+\.\d+ colts$/);
    const exact = JSON.parse((await run(["search", "idx", "yellow fruit", "-k", "1", "--json", "--exact"], cwd)).stdout) as { id: string }[];
    const approx = JSON.parse((await run(["search", "idx", "yellow fruit", "-k", "1", "--json"], cwd)).stdout) as { id: string }[];
    assert.equal(approx[0]?.id, exact[0]?.id);
  });

  test("add from stdin, delete, compact keep ids stable", async () => {
    const add = await run(["index", "add", "idx", "--input", "-"], cwd, jsonl([{ _id: "rome", text: "Rome is the capital of Italy." }]));
    assert.equal(add.code, 0, add.stderr);
    const found = JSON.parse((await run(["search", "idx", "Rome capital Italy", "-k", "6", "--json"], cwd)).stdout) as { id: string }[];
    assert.ok(found.some((h) => h.id === "rome"));
    const del = await run(["index", "delete", "idx", "--ids", "rome,paris,nope,rome,nope"], cwd);
    assert.equal(del.code, 0);
    assert.equal(del.stdout, "deleted 2; not found: nope\n", "each id once");
    assert.equal((await run(["index", "compact", "idx"], cwd)).code, 0);
    const after = JSON.parse((await run(["search", "idx", "capital", "-k", "10", "--json"], cwd)).stdout) as { id: string }[];
    assert.deepEqual(after.map((h) => h.id).sort(), ["atp", "banana", "berlin", "kyoto"]);
    const dup = await run(["index", "add", "idx", "--input", "-"], cwd, jsonl([{ _id: "berlin", text: "again" }]));
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /<stdin>:1: document id "berlin" is already in the index \(delete it first to replace it\) \[INPUT_INVALID\]/);
  });

  test("build: a duplicate id fails naming both lines before the model is loaded or anything is written", async () => {
    const docs = jsonl([{ _id: "a", text: "one" }, { _id: "b", text: "two" }]) + "\n" + jsonl([{ id: "a", text: "three" }]);
    fs.writeFileSync(path.join(cwd, "dup.jsonl"), docs);
    // The model path does not exist: loading it would fail with MODEL_NOT_FOUND, so the corpus error
    // proves the corpus was checked first.
    const r = await run(["index", "build", "idx-dup", "--model", "./no-such-model", "--input", "dup.jsonl"], cwd);
    assert.equal(r.code, 1);
    const file = path.join(cwd, "dup.jsonl");
    assert.ok(r.stderr.includes(`${file}:4: duplicate id "a" (first at ${file}:1) [INPUT_INVALID]`), r.stderr);
    assert.doesNotMatch(r.stderr, /MODEL_NOT_FOUND/);
    assert.equal(fs.existsSync(path.join(cwd, "idx-dup")), false, "no index files written");
    // Standard input is named <stdin>, not the temporary file it is spooled to.
    const piped = await run(["index", "build", "idx-dup", "--model", "model", "--input", "-"], cwd, docs);
    assert.equal(piped.code, 1);
    assert.match(piped.stderr, /<stdin>:4: duplicate id "a" \(first at <stdin>:1\)/);
    assert.equal(fs.existsSync(path.join(cwd, "idx-dup")), false);
  });

  test("add: a duplicate within the input is reported as such with file:line, not as already in the index", async () => {
    const before = JSON.parse((await run(["index", "info", "idx", "--json"], cwd)).stdout) as { documents: number };
    const r = await run(["index", "add", "idx", "--input", "-"], cwd, jsonl([{ _id: "new1", text: "x" }, { _id: "new1", text: "y" }]));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /<stdin>:2: duplicate _id "new1" \(first at <stdin>:1\)/);
    assert.doesNotMatch(r.stderr, /already in the index/);
    const after = JSON.parse((await run(["index", "info", "idx", "--json"], cwd)).stdout) as { documents: number };
    assert.equal(after.documents, before.documents, "nothing was added");
  });

  test("add: an id already in the index is refused with file:line before the model is loaded", async () => {
    const before = JSON.parse((await run(["index", "info", "idx", "--json"], cwd)).stdout) as { documents: number };
    fs.writeFileSync(path.join(cwd, "more.jsonl"), jsonl([{ _id: "fresh", text: "x" }, { _id: "kyoto", text: "again" }]));
    // A model that does not exist: the corpus error must come first.
    const r = await run(["index", "add", "idx", "--model", "./no-such-model", "--input", "more.jsonl"], cwd);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(`${path.join(cwd, "more.jsonl")}:2: document id "kyoto" is already in the index`), r.stderr);
    assert.doesNotMatch(r.stderr, /MODEL_NOT_FOUND/);
    const after = JSON.parse((await run(["index", "info", "idx", "--json"], cwd)).stdout) as { documents: number };
    assert.equal(after.documents, before.documents, "nothing was added");
  });

  test("build: bad input is refused with file:line before the model is loaded (metadata 1e400, empty id, 1.0 id); a BOM is accepted", async () => {
    const cases: [string, string][] = [
      ['{"_id":"a","text":"x","year":1}\n{"_id":"b","text":"y","year":1e400}\n', ':2: metadata "year" is a number beyond the range of a double'],
      ['{"_id":"a","text":"x"}\n\n{"id":"","text":"y"}\n', ':3: "id" is empty'],
      ['{"_id":1,"text":"x"}\n{"_id":1.0,"text":"y"}\n', ':2: "_id" is written 1.0: a number id must be written as an integer (1), or as a string ("1.0")'],
    ];
    for (const [text, why] of cases) {
      fs.writeFileSync(path.join(cwd, "bad.jsonl"), text);
      const r = await run(["index", "build", "idx-bad", "--model", "./no-such-model", "--input", "bad.jsonl", "--metadata-fields", "year"], cwd);
      assert.equal(r.code, 1);
      assert.ok(r.stderr.includes(`${path.join(cwd, "bad.jsonl")}${why}`), r.stderr);
      assert.doesNotMatch(r.stderr, /MODEL_NOT_FOUND/);
      assert.equal(fs.existsSync(path.join(cwd, "idx-bad")), false);
    }
    const bom = await run(["index", "build", "idx-bom", "--model", "model", "--input", "-", "--metadata-fields", "year"], cwd, `\uFEFF${jsonl(DOCS.slice(0, 3))}`);
    assert.equal(bom.code, 0, bom.stderr);
    assert.match(bom.stdout, /idx-bom: 3 documents/);
  });

  test("rerank scores given candidates exactly; errors are usage errors", async () => {
    const r = await run(["rerank", "--model", "model", "--query", "yellow bananas", "--documents", "docs.jsonl", "-k", "2", "--json"], cwd);
    assert.equal(r.code, 0, r.stderr);
    const hits = JSON.parse(r.stdout) as { id: string; score: number }[];
    assert.equal(hits.length, 2);
    assert.ok(hits[0]!.score >= hits[1]!.score);
    assert.equal((await run(["rerank", "--model", "model"], cwd)).code, 2);
    assert.equal((await run(["index", "build", "x"], cwd)).code, 2);
    assert.equal((await run(["index", "info", "nowhere"], cwd)).code, 1);
  });
});
