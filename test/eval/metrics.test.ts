import { test } from "node:test";
import assert from "node:assert/strict";
import { isColtsError } from "../../src/errors.js";
import { parseMeasure } from "../../src/eval/measures.js";
import { evaluate } from "../../src/eval/metrics.js";
import { compareIds, rankEntries } from "../../src/eval/ranking.js";
import type { Qrels, Run } from "../../src/eval/types.js";

const close = (got: number | undefined, want: number): void => {
  assert.ok(got !== undefined && Math.abs(got - want) < 1e-12, `got ${got}, want ${want}`);
};
const qrelsOf = (o: Record<string, Record<string, number>>): Qrels =>
  new Map(Object.entries(o).map(([q, d]) => [q, new Map(Object.entries(d))]));
const runOf = (o: Record<string, [string, number][]>): Run =>
  new Map(Object.entries(o).map(([q, d]) => [q, d.map(([docid, score]) => ({ docid, score }))]));

// Three documents, graded judgments; one relevant document (d4) is never retrieved.
//   rank 1: d2 grade 0 (judged non-relevant)   rank 2: d1 grade 2   rank 3: d3 grade 1
const qrels = qrelsOf({ q1: { d1: 2, d2: 0, d3: 1, d4: 3 } });
const run = runOf({ q1: [["d1", 2.0], ["d3", 1.0], ["d2", 3.0]] });

test("a 3-document run computed by hand: nDCG, MRR, P, recall, MAP, R-prec, judged", () => {
  const m = evaluate(run, qrels, ["ndcg@1", "ndcg@2", "ndcg@3", "ndcg", "mrr@1", "mrr@10", "p@3", "p@10", "recall@3", "map", "map@2", "Rprec", "success@1", "success@2", "judged@3", "judged@5"]).mean;
  // DCG@k sums grade / log2(rank + 1); the ideal ranking is d4 (3), d1 (2), d3 (1).
  const idcg2 = 3 + 2 / Math.log2(3);
  const idcg3 = 3 + 2 / Math.log2(3) + 1 / 2;
  close(m["ndcg@1"], 0 / 3); // d2 has grade 0; the ideal first document has 3
  close(m["ndcg@2"], 2 / Math.log2(3) / idcg2);
  close(m["ndcg@3"], (2 / Math.log2(3) + 1 / 2) / idcg3);
  close(m["ndcg"], (2 / Math.log2(3) + 1 / 2) / idcg3); // whole ranking: the ideal is also 3 long
  close(m["mrr@1"], 0);
  close(m["mrr@10"], 1 / 2);
  close(m["p@3"], 2 / 3);
  close(m["p@10"], 2 / 10); // divides by k even though only 3 were retrieved
  close(m["recall@3"], 2 / 3); // R = 3: d1, d3, d4
  close(m["map"], (1 / 2 + 2 / 3) / 3); // precision at ranks 2 and 3, over R
  close(m["map@2"], 1 / 2 / 3);
  close(m["Rprec"], 2 / 3);
  close(m["success@1"], 0);
  close(m["success@2"], 1);
  close(m["judged@3"], 1);
  close(m["judged@5"], 3 / 5);
});

test("relevanceLevel (trec_eval -l) moves the binary threshold but not nDCG's gains", () => {
  const m = evaluate(run, qrels, ["p@3", "mrr", "map", "recall@3", "ndcg@3"], { relevanceLevel: 2 }).mean;
  close(m["p@3"], 1 / 3); // only d1 (2) at rank 2
  close(m["mrr"], 1 / 2);
  close(m["map"], 1 / 2 / 2); // R = 2: d1, d4
  close(m["recall@3"], 1 / 2);
  close(m["ndcg@3"], (2 / Math.log2(3) + 1 / 2) / (3 + 2 / Math.log2(3) + 1 / 2));
  const zero = evaluate(run, qrels, ["p@3", "mrr"], { relevanceLevel: 0 }).mean;
  close(zero["p@3"], 1); // grade 0 counts as relevant at -l0
  close(zero["mrr"], 1);
});

test("unjudged and negative grades are non-relevant; judged@k counts any qrels entry", () => {
  const q = qrelsOf({ q: { a: 1, b: -1, c: 0 } });
  const r = runOf({ q: [["x", 0.9], ["b", 0.8], ["a", 0.7]] });
  const m = evaluate(r, q, ["mrr", "p@3", "ndcg@3", "judged@3", "map"]).mean;
  close(m["mrr"], 1 / 3);
  close(m["p@3"], 1 / 3);
  close(m["ndcg@3"], 1 / 2 / 1); // gain 1 at rank 3 over an ideal of 1 at rank 1
  close(m["judged@3"], 2 / 3);
  close(m["map"], 1 / 3);
});

test("ties: score descending, then docid descending in strcmp order; input order and ranks are irrelevant", () => {
  const q = qrelsOf({ q: { a: 1 } });
  close(evaluate(runOf({ q: [["a", 1], ["b", 1], ["c", 1]] }), q, ["mrr"]).mean["mrr"], 1 / 3);
  close(evaluate(runOf({ q: [["c", 1], ["a", 1], ["b", 1]] }), q, ["mrr"]).mean["mrr"], 1 / 3);
  // Lexical, not numeric: "9" > "10", so "9" ranks first.
  close(evaluate(runOf({ q: [["10", 5], ["9", 5]] }), qrelsOf({ q: { "10": 1 } }), ["mrr"]).mean["mrr"], 1 / 2);
  assert.deepEqual(
    rankEntries([{ docid: "a", score: 1 }, { docid: "z", score: 0 }, { docid: "b", score: 1 }]).map((e) => e.docid),
    ["b", "a", "z"],
  );
  // Code point order (UTF-8 byte order as C's strcmp sees it), not UTF-16 code unit order.
  assert.ok(compareIds("\uffff", "\u{10000}") < 0);
  assert.ok("\uffff" > "\u{10000}", "JavaScript's own order differs here");
});

test("duplicate docids: rejected like trec_eval, or the best copy kept on request", () => {
  const q = qrelsOf({ q: { a: 1 } });
  const dup = runOf({ q: [["b", 3], ["a", 1], ["a", 5]] });
  assert.throws(() => evaluate(dup, q, ["mrr"]), (e) => isColtsError(e, "INPUT_INVALID") && /"a" is retrieved twice/.test(e.message));
  close(evaluate(dup, q, ["mrr"], { duplicates: "keep-max" }).mean["mrr"], 1);
});

test("queries: run-only queries are ignored; averageComplete (-c) averages over every qrels query", () => {
  const q = qrelsOf({ q1: { a: 1 }, q2: { b: 1 }, q3: { c: 0 } });
  const r = runOf({ q1: [["a", 1]], q3: [["c", 1]], q9: [["z", 1]] });
  const plain = evaluate(r, q, ["p@1", "ndcg@10"]);
  assert.deepEqual([...plain.perQuery.keys()], ["q1", "q3"]); // q3 has no relevant doc but is judged: it counts
  assert.equal(plain.numQueries, 2);
  close(plain.mean["p@1"], 1 / 2);
  const complete = evaluate(r, q, ["p@1", "ndcg@10"], { averageComplete: true });
  assert.deepEqual([...complete.perQuery.keys()], ["q1", "q2", "q3"]);
  assert.deepEqual(complete.perQuery.get("q2"), { "p@1": 0, "ndcg@10": 0 });
  assert.equal(complete.numQueries, 3);
  close(complete.mean["p@1"], 1 / 3);
});

test("maxDocsPerQuery (-M) truncates after ranking", () => {
  const m = evaluate(run, qrels, ["p@3", "mrr"], { maxDocsPerQuery: 1 }).mean;
  close(m["p@3"], 0);
  close(m["mrr"], 0);
});

test("measure names: trec_eval spellings and aliases; bad names and options rejected", () => {
  assert.deepEqual(parseMeasure("ndcg_cut_10"), { name: "ndcg_cut_10", kind: "ndcg", cutoff: 10 });
  assert.deepEqual(parseMeasure("nDCG@10"), { name: "nDCG@10", kind: "ndcg", cutoff: 10 });
  assert.deepEqual(parseMeasure("P_5"), { name: "P_5", kind: "P", cutoff: 5 });
  assert.deepEqual(parseMeasure("MRR@10"), { name: "MRR@10", kind: "recip_rank", cutoff: 10 });
  assert.deepEqual(parseMeasure("recip_rank"), { name: "recip_rank", kind: "recip_rank", cutoff: undefined });
  assert.deepEqual(parseMeasure("map@100"), { name: "map@100", kind: "map", cutoff: 100 });
  for (const bad of ["ndcg_cut_0", "p", "p@0", "bpref", "rprec@5", "P_x", "ndcg@"]) {
    assert.throws(() => parseMeasure(bad), (e) => isColtsError(e, "INPUT_INVALID"), bad);
  }
  assert.throws(() => evaluate(run, qrels, ["map"], { relevanceLevel: -1 }), (e) => isColtsError(e, "INPUT_INVALID"));
  assert.throws(() => evaluate(run, qrels, ["map"], { maxDocsPerQuery: 0 }), (e) => isColtsError(e, "INPUT_INVALID"));
  assert.throws(() => evaluate(run, qrels, []), (e) => isColtsError(e, "INPUT_INVALID"));
  assert.throws(
    () => evaluate(runOf({ other: [["a", 1]] }), qrels, ["map"]),
    (e) => isColtsError(e, "INPUT_INVALID") && /no query to evaluate/.test(e.message),
  );
});
