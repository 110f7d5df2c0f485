import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { isColtsError } from "../../src/errors.js";
import { formatTrecRun, parseBeirCorpus, parseBeirQrels, parseBeirQueries, parseTrecQrels, parseTrecRun } from "../../src/eval/formats.js";
import { loadBeir, readBeirCorpus, readTopics, readTrecQrels, readTrecRun, writeBeir, writeTrecRun } from "../../src/eval/io.js";
import { evaluate } from "../../src/eval/metrics.js";
import type { Run } from "../../src/eval/types.js";
import { tempDir } from "../helpers/paths.js";

/** Asserts `fn` throws INPUT_INVALID whose message contains `where` (file:line) and matches `why`. */
function rejects(fn: () => unknown, where: string, why: RegExp): void {
  assert.throws(fn, (e) => {
    assert.ok(isColtsError(e, "INPUT_INVALID"), String(e));
    assert.ok(e.message.includes(where), `"${e.message}" names ${where}`);
    assert.match(e.message, why);
    return true;
  });
}

test("TREC qrels: space or tab separated, 0/Q0 iteration, zero and negative grades kept", () => {
  const q = parseTrecQrels("301 0 d1 2\n301\tQ0\td2\t0\n\n302 0 d1 -1\r\n", "q.txt");
  assert.deepEqual([...q.keys()], ["301", "302"]);
  assert.deepEqual([...(q.get("301") ?? [])], [["d1", 2], ["d2", 0]]);
  assert.equal(q.get("302")?.get("d1"), -1);
});

test("TREC qrels: malformed lines are rejected naming file and line", () => {
  rejects(() => parseTrecQrels("1 0 a 1\n1 0 b\n", "qrels.txt"), "qrels.txt:2:", /expected 4 whitespace-separated fields/);
  rejects(() => parseTrecQrels("1 0 a 1\n\n1 0 b 0.5\n", "qrels.txt"), "qrels.txt:3:", /relevance "0.5" is not an integer/);
  rejects(() => parseTrecQrels("1 0 a 1\n1 0 a 2\n", "qrels.txt"), "qrels.txt:2:", /duplicate judgment .* \(first at qrels\.txt:1\)/);
});

test("TREC run: rank column and trailing fields ignored, comments and blank lines skipped", () => {
  const r = parseTrecRun("# run\n1 Q0 a 7 0.5 tag\n\n1 Q0 b 1 1.5e0 tag extra\n2 Q0 c 1 -3 tag\n", "run.txt");
  assert.deepEqual(r.get("1"), [{ docid: "a", score: 0.5 }, { docid: "b", score: 1.5 }]);
  assert.deepEqual(r.get("2"), [{ docid: "c", score: -3 }]);
  rejects(() => parseTrecRun("1 Q0 a 1 0.5 t\n1 Q0 b 2 0.4\n", "run.txt"), "run.txt:2:", /expected 6 whitespace-separated fields .* found 5/);
  rejects(() => parseTrecRun("1 Q0 a 1 high t\n", "run.txt"), "run.txt:1:", /score "high" is not a number/);
});

test("run file round trip: written in trec_eval order with ranks 1..n, read back to the same scores", async (t) => {
  const run: Run = new Map([
    ["q2", [{ docid: "x", score: 0.1 + 0.2 }, { docid: "y", score: 1e-7 }, { docid: "z", score: 0.1 + 0.2 }]],
    ["q1", [{ docid: "a", score: -2.5 }, { docid: "b", score: 123456.789 }]],
  ]);
  const file = path.join(tempDir(t), "sub", "run.trec");
  await writeTrecRun(file, run, { tag: "bm25" });
  const lines = fs.readFileSync(file, "utf8").trim().split("\n");
  assert.deepEqual(lines.slice(0, 3), ["q2 Q0 z 1 0.30000000000000004 bm25", "q2 Q0 x 2 0.30000000000000004 bm25", "q2 Q0 y 3 1e-7 bm25"]);
  const back = await readTrecRun(file);
  const sorted = (r: Run): [string, string[]][] => [...r].map(([q, es]) => [q, es.map((e) => `${e.docid}=${e.score}`).sort()]);
  assert.deepEqual(sorted(back), sorted(run));
  const qrels = parseTrecQrels("q1 0 a 1\nq2 0 x 1\n", "q");
  assert.deepEqual(evaluate(back, qrels, ["ndcg@10", "mrr"]), evaluate(run, qrels, ["ndcg@10", "mrr"]));
  assert.equal(formatTrecRun(run, { depth: 1 }).trim().split("\n").length, 2);
});

test("run writer refuses what trec_eval could not read back", () => {
  const one = (docid: string, score: number): Run => new Map([["q", [{ docid, score }]]]);
  assert.throws(() => formatTrecRun(one("a b", 1)), (e) => isColtsError(e, "INPUT_INVALID"));
  assert.throws(() => formatTrecRun(one("a", NaN)), (e) => isColtsError(e, "INPUT_INVALID"));
  assert.throws(() => formatTrecRun(one("a", 1), { tag: "my run" }), (e) => isColtsError(e, "INPUT_INVALID"));
  const dup: Run = new Map([["q", [{ docid: "a", score: 1 }, { docid: "a", score: 2 }]]]);
  assert.throws(() => formatTrecRun(dup), (e) => isColtsError(e, "INPUT_INVALID"));
});

test("topics: TSV (CRLF, BOM, gzip), classic <top> SGML, and the <DOC><DOCNO> form", async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, "t.tsv"), "\uFEFF1030303\twho is aziz hashim\r\n1037496\twho is rep scalise?\r\n");
  assert.deepEqual([...(await readTopics(path.join(dir, "t.tsv")))], [["1030303", "who is aziz hashim"], ["1037496", "who is rep scalise?"]]);
  fs.writeFileSync(path.join(dir, "t.tsv.gz"), zlib.gzipSync("0\t“ダン”の出身はどこ\n"));
  assert.equal((await readTopics(path.join(dir, "t.tsv.gz"))).get("0"), "“ダン”の出身はどこ");

  const robust = [
    "<top>",
    "<num> Number: 301",
    "<title> International Organized Crime",
    "",
    "<desc> Description:",
    "Identify organizations that participate in international",
    "criminal activity.",
    "",
    "<narr> Narrative:",
    "A relevant document must name the organization.",
    "</top>",
    "",
    "<top>",
    "<num> 302 </num>",
    "<title>",
    "Poliomyelitis and Post-Polio",
    "</title>",
    "</top>",
  ].join("\n");
  const path1 = path.join(dir, "robust.txt");
  fs.writeFileSync(path1, robust);
  assert.deepEqual([...(await readTopics(path1))], [["301", "International Organized Crime"], ["302", "Poliomyelitis and Post-Polio"]]);
  const td = await readTopics(path1, { fields: ["title", "desc"] });
  assert.equal(td.get("301"), "International Organized Crime Identify organizations that participate in international criminal activity.");

  const cacm = "<DOC>\n<DOCNO> 2 </DOCNO>\n\n\n I am interested in articles written either by Prieve or Udo Pooch\n\nPrieve, B.\nPooch, U.\n\n \n</DOC>\n";
  fs.writeFileSync(path.join(dir, "cacm.txt"), cacm);
  assert.equal((await readTopics(path.join(dir, "cacm.txt"))).get("2"), "I am interested in articles written either by Prieve or Udo Pooch Prieve, B. Pooch, U.");
});

test("topics: malformed files are rejected naming file and line", async (t) => {
  const dir = tempDir(t);
  const cases: [string, string, string, RegExp][] = [
    ["a.tsv", "1\tfine\n2 no tab here\n", "a.tsv:2:", /expected "id<TAB>text"/],
    ["b.tsv", "1\tx\n\n1\ty\n", "b.tsv:3:", /duplicate query id "1" \(first at .*b\.tsv:1\)/],
    ["c.txt", "<top>\n<num> 1\n<title> a\n</top>\n\n<top>\n<title> b\n</top>\n", "c.txt:6:", /<top> has no <num>/],
    ["d.txt", "<top>\n<num> 1\n<title> a\n</top>\n<top>\n<num> 2\n<title> b\n", "d.txt:5:", /never closed/],
    ["e.txt", "<top>\n<num> 1\n<title> a\n</top>\nstray words\n", "e.txt:5:", /text outside <top>/],
  ];
  for (const [name, body, where, why] of cases) {
    fs.writeFileSync(path.join(dir, name), body);
    await assert.rejects(readTopics(path.join(dir, name)), (e) => {
      assert.ok(isColtsError(e, "INPUT_INVALID") && e.message.includes(path.join(dir, where)), `${name}: ${String(e)}`);
      assert.match(e.message, why);
      return true;
    });
  }
});

test("BEIR: corpus, queries and qrels parse; malformed lines name file and line", () => {
  const corpus = parseBeirCorpus('{"_id":"d1","title":"T","text":"x","metadata":{"y":1}}\n\n{"_id":"d2","text":"z"}\n', "corpus.jsonl");
  assert.deepEqual(corpus, [{ id: "d1", title: "T", text: "x", metadata: { y: 1 } }, { id: "d2", title: "", text: "z" }]);
  assert.deepEqual(parseBeirQueries('{"_id":"1","text":"q","metadata":{}}\n', "queries.jsonl"), [{ id: "1", text: "q", metadata: {} }]);
  const qrels = parseBeirQrels("query-id\tcorpus-id\tscore\n1\td1\t1\n1\td2\t0\n", "qrels/test.tsv");
  assert.deepEqual([...(qrels.get("1") ?? [])], [["d1", 1], ["d2", 0]]);
  assert.equal(parseBeirQrels("1\td1\t2\n", "h.tsv").get("1")?.get("d1"), 2, "a file without header loses nothing");

  rejects(() => parseBeirQrels("query-id\tcorpus-id\tscore\n1\td1\t1\n1 d2 1\n", "qrels/test.tsv"), "qrels/test.tsv:3: expected 3 tab-separated fields", /found 1/);
  rejects(() => parseBeirQrels("query-id\tcorpus-id\tscore\n1\td1\tyes\n", "qrels/test.tsv"), "qrels/test.tsv:2:", /score "yes" is not an integer/);
  rejects(() => parseBeirCorpus('{"_id":"d1","text":"x"}\n{"_id":"d2", text}\n', "corpus.jsonl"), "corpus.jsonl:2:", /invalid JSON/);
  rejects(() => parseBeirCorpus('{"text":"x"}\n', "corpus.jsonl"), "corpus.jsonl:1:", /"_id" to be a string/);
  rejects(() => parseBeirCorpus('{"_id":"d1","text":7}\n', "corpus.jsonl"), "corpus.jsonl:1:", /"text" to be a string/);
  rejects(() => parseBeirCorpus('[1]\n', "corpus.jsonl"), "corpus.jsonl:1:", /expected a JSON object/);
  rejects(() => parseBeirQueries('{"_id":"1","text":"a"}\n{"_id":"1","text":"b"}\n', "queries.jsonl"), "queries.jsonl:2:", /duplicate _id "1" \(first at queries\.jsonl:1\)/);
});

test("BEIR folder: writeBeir then loadBeir; queries limited to the split; corpus streamed (also gzipped)", async (t) => {
  const dir = tempDir(t);
  const docs = [{ id: "d1", title: "A", text: "alpha" }, { id: "d2", title: "", text: "beta", metadata: { year: 1958 } }];
  await writeBeir(dir, "test", {
    corpus: docs,
    queries: [{ id: "q1", text: "first" }, { id: "q2", text: "second" }],
    qrels: new Map([["q2", new Map([["d2", 1], ["d1", 0]])]]),
  });
  const ds = await loadBeir(dir, "test");
  assert.deepEqual(ds.corpus, docs);
  assert.deepEqual([...ds.queries], [["q2", "second"]]);
  assert.equal(ds.qrels.get("q2")?.get("d1"), 0);
  assert.equal((await loadBeir(dir, "test", { corpus: false })).corpus.length, 0);

  const gz = path.join(dir, "corpus.jsonl.gz");
  fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(ds.corpusPath)));
  const streamed = [];
  for await (const d of readBeirCorpus(gz)) streamed.push(d);
  assert.deepEqual(streamed, docs);

  fs.appendFileSync(ds.corpusPath, '{"_id":"d1","text":"again"}\n');
  await assert.rejects(loadBeir(dir, "test"), (e) => isColtsError(e, "INPUT_INVALID") && /corpus\.jsonl:3: duplicate _id "d1"/.test(e.message));
  fs.appendFileSync(ds.qrelsPath, "q3\td1\t1\n");
  await assert.rejects(loadBeir(dir, "test"), (e) => isColtsError(e, "INPUT_INVALID") && /query "q3" is judged but missing/.test(e.message));
  await assert.rejects(loadBeir(dir, "dev"), (e) => isColtsError(e, "INPUT_INVALID") && /cannot read .*dev\.tsv: no such file/.test(e.message));
  await assert.rejects(readTrecQrels(path.join(dir, "nope.txt")), (e) => isColtsError(e, "INPUT_INVALID"));
});
