import { test } from "node:test";
import assert from "node:assert/strict";
import { isColtsError } from "../../src/errors.js";
import { COLLECTIONS, parseCranfieldQrels, parsePairQrels, parseSmart, smartDocs, smartQueries } from "../../bench/tools/smart.js";

// Two documents in CACM's layout: a title-only record, then one with an abstract that contains lines
// starting with "." that are text, and a repeated .A marker (as in Cranfield's document 240).
const DOCS = [
  ".I 1",
  ".T",
  "Preliminary Report-International Algebraic Language",
  ".B",
  "CACM December, 1958",
  ".A",
  "Perlis, A. J.",
  ".N",
  "CA581203 JB March 22, 1978  8:28 PM",
  ".X",
  "100\t5\t1",
  ".I 02",
  ".T ",
  "Two-line",
  "title",
  ".W",
  "   An abstract whose lines",
  ".I think are text, and so is",
  ".5 of a line.",
  ".A",
  "Smith, J.",
  ".A",
  "Jones, K.",
  "",
].join("\n");

test("SMART records: markers, multi-line fields, '.I think' is text, repeated markers append", () => {
  const recs = parseSmart(DOCS, "cacm.all");
  assert.deepEqual(recs.map((r) => [r.id, r.line, [...r.fields.keys()]]), [
    ["1", 1, ["T", "B", "A", "N", "X"]],
    ["02", 12, ["T", "W", "A"]],
  ]);
  const docs = smartDocs(recs, COLLECTIONS.cacm, "cacm.all");
  assert.deepEqual(docs[0], {
    id: "1",
    title: "Preliminary Report-International Algebraic Language",
    text: "",
    metadata: { authors: "Perlis, A. J.", date: "CACM December, 1958" },
  });
  assert.deepEqual(docs[1], {
    id: "2",
    title: "Two-line title",
    text: "An abstract whose lines .I think are text, and so is .5 of a line.",
    metadata: { authors: "Smith, J. Jones, K." },
  });
});

test("SMART errors name file and line", () => {
  const rejects = (text: string, where: string, why: RegExp): void =>
    assert.throws(() => parseSmart(text, "x.all"), (e) => isColtsError(e, "INPUT_INVALID") && e.message.includes(where) && why.test(e.message));
  rejects("stray\n.I 1\n.W\nx\n", "x.all:1:", /before the first \.I/);
  rejects(".I 1\nno field yet\n", "x.all:2:", /before any field marker/);
  rejects(".I 1\n.W\na\n.I 1\n.W\nb\n", "x.all:4:", /duplicate \.I 1 \(first at x\.all:1\)/);
});

test("Cranfield: queries numbered by position (the qrels' numbering), codes turned into grades", () => {
  const qry = ".I 001\n.W\nwhat similarity laws\nmust be obeyed .\n.I 002\n.W\nsecond .\n.I 004\n.W\nthird .\n";
  const queries = smartQueries(parseSmart(qry, "cran.qry"), COLLECTIONS.cranfield, "cran.qry");
  assert.deepEqual(queries.map((q) => [q.id, q.text, q.metadata?.["smart_id"]]), [
    ["1", "what similarity laws must be obeyed .", "001"],
    ["2", "second .", "002"],
    ["3", "third .", "004"], // .I 004 is the third query: the qrels call it 3
  ]);
  const qrels = parseCranfieldQrels("1 184 2 \n1 12 1\n1 13 4\n1 486 -1\n3 5 3", "cranqrel");
  assert.deepEqual([...(qrels.get("1") ?? [])], [["184", 3], ["12", 4], ["13", 1], ["486", 0]]);
  assert.equal(qrels.get("3")?.get("5"), 2, "a last line without newline is read");
  assert.throws(() => parseCranfieldQrels("1 2 5\n", "cranqrel"), (e) => isColtsError(e, "INPUT_INVALID") && /cranqrel:1:/.test(e.message));
});

test("CACM/CISI pair qrels: zero-padded ids normalised, every listed pair relevant", () => {
  const qrels = parsePairQrels("01 1410  0 0\n01 1572  0 0\n     2     28\t0\t0.000000\n", "qrels.text");
  assert.deepEqual([...qrels].map(([q, m]) => [q, [...m]]), [["1", [["1410", 1], ["1572", 1]]], ["2", [["28", 1]]]]);
  assert.throws(() => parsePairQrels("01 1410 0 0\n01 1410 0 0\n", "qrels.text"), (e) => isColtsError(e, "INPUT_INVALID") && /qrels\.text:2: duplicate/.test(e.message));
  const cacmQueries = smartQueries(parseSmart(".I 2\n.W\n by Prieve or Udo Pooch\n.A\nPrieve, B.\n.N\n 2. Richard\n", "query.text"), COLLECTIONS.cacm, "query.text");
  assert.equal(cacmQueries[0]?.text, "by Prieve or Udo Pooch Prieve, B.", "CACM queries keep the authors they ask for, drop .N");
});
