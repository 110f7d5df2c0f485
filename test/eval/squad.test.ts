/** SQuAD-format QA files as retrieval sets (JSQuAD slice fixture: see its README.txt for the counts). */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { parseSquadRetrieval } from "../../src/eval/squad.js";
import { isColtsError } from "../../src/errors.js";
import { fixture } from "../helpers/paths.js";

const file = fixture("jsquad-slice", "valid-slice.json");

test("JSQuAD slice: 74 paragraphs, 301 questions, each judged against its own paragraph", () => {
  const set = parseSquadRetrieval(fs.readFileSync(file, "utf8"), file);
  assert.equal(set.corpus.length, 74);
  assert.equal(set.queries.length, 301);
  assert.equal(set.qrels.size, 301);
  const byTitle = (t: string): number => set.corpus.filter((d) => d.title === t).length;
  assert.equal(byTitle("梅雨"), 49);
  assert.equal(byTitle("グスタフ・マーラー"), 25);
  const first = set.corpus[0];
  assert.equal(first?.id, "a10336p0");
  assert.ok(first?.text.startsWith("梅雨（つゆ、ばいう）は、"), "the '<title> [SEP] ' prefix is removed");
  assert.deepEqual([...(set.qrels.get("a10336p0q0") ?? new Map())], [["a10336p0", 1]]);
  assert.equal(set.queries[0]?.text, "日本で梅雨がないのは北海道とどこか。");
  const docIds = new Set(set.corpus.map((d) => d.id));
  for (const judged of set.qrels.values()) for (const d of judged.keys()) assert.ok(docIds.has(d));
});

test("plain SQuAD without JGLUE ids: documents are <article>p<paragraph>", () => {
  const json = JSON.stringify({ data: [{ title: "T", paragraphs: [{ context: "c0", qas: [{ id: "x", question: "q?" }] }, { context: "c1", qas: [] }] }] });
  const set = parseSquadRetrieval(json, "mem.json");
  assert.deepEqual(set.corpus, [{ id: "0p0", title: "T", text: "c0" }, { id: "0p1", title: "T", text: "c1" }]);
  assert.deepEqual([...(set.qrels.get("x") ?? new Map())], [["0p0", 1]]);
});

test("malformed input is INPUT_INVALID naming the file", () => {
  for (const bad of ["not json", "[]", '{"data": 3}', '{"data":[{"paragraphs":[{"qas":[]}]}]}', '{"data":[{"paragraphs":[{"context":"c","qas":[{"id":"a","question":"q"},{"id":"a","question":"q"}]}]}]}']) {
    assert.throws(() => parseSquadRetrieval(bad, "bad.json"), (e: unknown) => isColtsError(e, "INPUT_INVALID") && e.message.includes("bad.json"), bad);
  }
});
