import { test } from "node:test";
import assert from "node:assert/strict";
import type { Analyzer } from "../../src/bm25/analyzer.js";
import { Bm25Index, type Bm25Document, type Bm25Hit } from "../../src/bm25/bm25-index.js";
import { isColtsError } from "../../src/errors.js";

/** Splits on spaces and nothing else, so the arithmetic below is about BM25 only. */
const spaces: Analyzer = {
  descriptor: { name: "test-spaces", version: 1, options: {} },
  analyze: (text) => text.split(" ").filter((t) => t !== ""),
};

const THREE: Bm25Document[] = [
  { id: "d1", text: "apple banana apple" }, // length 3
  { id: "d2", text: "banana cherry" }, // length 2
  { id: "d3", text: "cherry cherry cherry date" }, // length 4
];

function three(): Bm25Index {
  const index = new Bm25Index({ analyzer: spaces });
  index.add(THREE);
  return index;
}

function close(actual: Bm25Hit[], expected: [string, number][]): void {
  assert.deepEqual(
    actual.map((h) => h.id),
    expected.map(([id]) => id),
  );
  for (const [i, [, score]] of expected.entries()) {
    const got = actual[i]!.score;
    assert.ok(Math.abs(got - score) < 1e-6 * score, `${expected[i]![0]}: ${got} vs ${score}`);
  }
}

// N = 3 documents, total length 9, avgdl = 3; k1 = 0.9, b = 0.4 (Anserini). Lucene 8+ BM25:
//   idf = ln(1 + (N - df + 0.5) / (df + 0.5)),  score = idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))
// Lengths below 24 are exact in Lucene's norm byte, so dl is the true length here.
//   K(dl=2) = 0.9 * (0.6 + 0.4 * 2/3) = 0.78;  K(dl=3) = 0.9 * (0.6 + 0.4) = 0.9;  K(dl=4) = 0.9 * (0.6 + 0.4 * 4/3) = 1.02
//   idf(df=1) = ln(1 + 2.5/1.5) = ln(8/3);  idf(df=2) = ln(1 + 1.5/2.5) = ln(1.6)
const IDF1 = Math.log(8 / 3); // 0.980829
const IDF2 = Math.log(1.6); // 0.470004

test("hand-computed BM25 scores on three documents", () => {
  const index = three();
  // "apple": only d1, tf 2, dl 3 -> ln(8/3) * 2 / (2 + 0.9) = 0.676434
  close(index.search("apple", 10), [["d1", (IDF1 * 2) / 2.9]]);
  // "cherry": d3 tf 3 dl 4 -> ln(1.6) * 3 / 4.02 = 0.350749;  d2 tf 1 dl 2 -> ln(1.6) * 1 / 1.78 = 0.264047
  close(index.search("cherry", 10), [
    ["d3", (IDF2 * 3) / 4.02],
    ["d2", IDF2 / 1.78],
  ]);
  // "banana cherry": d2 = banana 0.264047 + cherry 0.264047 = 0.528094;  d3 = 0.350749;  d1 = banana ln(1.6) / 1.9 = 0.247370
  close(index.search("banana cherry", 10), [
    ["d2", (2 * IDF2) / 1.78],
    ["d3", (IDF2 * 3) / 4.02],
    ["d1", IDF2 / 1.9],
  ]);
  // Unknown terms add nothing; an all-unknown query matches nothing.
  close(index.search("banana zebra", 1), [["d2", IDF2 / 1.78]]);
  assert.deepEqual(index.search("zebra", 10), []);
});

test("each query occurrence counts: a repeated term weighs double (Anserini's boosted clause)", () => {
  const index = three();
  const once = index.search("apple", 1)[0]!.score;
  const twice = index.search("apple apple", 1)[0]!.score;
  assert.equal(twice, Math.fround(2 * once));
});

test("scores are Lucene's float32 values, computed with the quantised length", () => {
  // d-long has 100 terms: Lucene stores length 96 (norm byte 57). Two short docs keep df = 1 for "x".
  const long = ["x", ...Array.from({ length: 99 }, (_, i) => `w${i}`)].join(" ");
  const index = new Bm25Index({ analyzer: spaces });
  index.add([
    { id: "long", text: long },
    { id: "s1", text: "y" },
    { id: "s2", text: "z" },
  ]);
  const f = Math.fround;
  const N = 3;
  const avgdl = f(102 / N); // exact mean length (34), only dl is quantised
  const idf = f(Math.log(1 + (N - 1 + 0.5) / (1 + 0.5)));
  const lucene = (dl: number): number => {
    const inv = f(1 / f(f(0.9) * f(f(1 - f(0.4)) + f(f(f(0.4) * dl) / avgdl))));
    return f(idf - f(idf / f(1 + f(1 * inv))));
  };
  const got = index.search("x", 1)[0]!.score;
  assert.equal(got, lucene(96), "bit-equal to Lucene with dl = 96");
  assert.notEqual(got, lucene(100), "and not what the true length gives");
  assert.equal(got, Math.fround(got), "a float32 value");
});

test("results are sorted by score desc, ties by id asc, cut at k", () => {
  const index = new Bm25Index({ analyzer: spaces });
  index.add([
    { id: "b", text: "same words" },
    { id: "c", text: "same words" },
    { id: "a", text: "same words" },
    { id: "z", text: "same same words" },
  ]);
  assert.deepEqual(
    index.search("same", 10).map((h) => h.id),
    ["z", "a", "b", "c"],
  );
  assert.deepEqual(
    index.search("same", 2).map((h) => h.id),
    ["z", "a"],
  );
  assert.deepEqual(index.search("same", 0), []);
  for (const bad of [-1, 1.5, Number.NaN]) assert.throws(() => index.search("same", bad), (e: unknown) => isColtsError(e, "INPUT_INVALID"));
});

test("filters: a predicate on ordinals or a set of allowed ids", () => {
  const index = three();
  assert.equal(index.ordinalOf("d2"), 1);
  assert.equal(index.idOf(2), "d3");
  assert.deepEqual(
    index.search("cherry", 10, { filter: (ord) => ord !== index.ordinalOf("d3") }).map((h) => h.id),
    ["d2"],
  );
  assert.deepEqual(
    index.search("banana cherry", 10, { filter: new Set(["d1", "d3"]) }).map((h) => h.id),
    ["d3", "d1"],
  );
  // Filtering does not change scores (statistics are the whole collection's).
  assert.equal(index.search("cherry", 10, { filter: new Set(["d2"]) })[0]!.score, index.search("cherry", 10)[1]!.score);
});

test("delete is immediate and scores as if the document had never been added", () => {
  const index = three();
  assert.equal(index.delete(["d3", "nope"]), 1);
  assert.equal(index.delete(["d3"]), 0, "already deleted");
  const rebuilt = new Bm25Index({ analyzer: spaces });
  rebuilt.add(THREE.filter((d) => d.id !== "d3"));
  for (const q of ["cherry", "banana cherry", "apple", "date"]) assert.deepEqual(index.search(q, 10), rebuilt.search(q, 10), q);
  assert.deepEqual(index.search("date", 10), []);
  assert.equal(index.size, 2);
  assert.equal(index.has("d3"), false);
  assert.equal(index.isDeleted(2), true);
  const s = index.stats();
  assert.deepEqual([s.documents, s.liveDocuments, s.scoredDocuments, s.sumDocumentLength], [3, 2, 2, 5]);

  // Compaction drops the dead postings and changes no result.
  const before = index.search("banana cherry", 10);
  index.compact();
  assert.equal(index.stats().postings, 4);
  assert.deepEqual(index.search("banana cherry", 10), before);

  // A deleted id can be added again: it gets a new ordinal; the old one stays a tombstone.
  index.add([{ id: "d3", text: "date" }]);
  assert.equal(index.ordinalOf("d3"), 3);
  assert.deepEqual(
    index.search("date", 10).map((h) => h.id),
    ["d3"],
  );
});

test("adding in batches equals adding at once", () => {
  const once = three();
  const batched = new Bm25Index({ analyzer: spaces });
  batched.add(THREE.slice(0, 1));
  batched.add(THREE.slice(1));
  for (const q of ["apple", "banana cherry", "cherry date"]) assert.deepEqual(batched.search(q, 10), once.search(q, 10));
});

test("add is all or nothing: duplicate or missing ids throw before anything changes", () => {
  const index = three();
  const bad: Bm25Document[][] = [
    [{ id: "d4", text: "x" }, { id: "d1", text: "y" }],
    [{ id: "d4", text: "x" }, { id: "d4", text: "y" }],
    [{ id: "", text: "x" }],
    [{ id: "d5", text: 3 as unknown as string }],
  ];
  for (const batch of bad) assert.throws(() => index.add(batch), (e: unknown) => isColtsError(e, "INPUT_INVALID"));
  assert.equal(index.size, 3);
  assert.deepEqual(index.search("x", 10), []);
});

test("documents without terms are not counted in N; stop-word-only queries match nothing", () => {
  const index = new Bm25Index(); // English analyser
  index.add([
    { id: "empty", text: "the of and" },
    { id: "a", text: "Running studies" },
  ]);
  assert.equal(index.stats().scoredDocuments, 1);
  assert.equal(index.size, 2);
  assert.deepEqual(index.search("the and", 10), []);
  // The query goes through the same analyser: "run" and "studied" match "Running studies".
  assert.deepEqual(
    index.search("run studied", 10).map((h) => h.id),
    ["a"],
  );
});

test("k1 and b are validated", () => {
  for (const bad of [{ k1: -1 }, { b: 1.5 }, { b: Number.NaN }]) {
    assert.throws(() => new Bm25Index(bad), (e: unknown) => isColtsError(e, "INPUT_INVALID"));
  }
  assert.deepEqual(new Bm25Index().params, { k1: 0.9, b: 0.4 });
});
