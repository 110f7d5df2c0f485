import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { writeBeir } from "../../src/eval/io.js";
import type { Qrels } from "../../src/eval/types.js";
import { parseTrainingExample, type TrainingExample } from "../../src/train/format.js";
import { lineRng, mineTriples, parseWindow, sampleNegatives, type RankWindow } from "../../src/train/mine.js";
import { Rng } from "../../src/util/rng.js";
import { isColtsError } from "../../src/errors.js";
import { runCli } from "../helpers/cli.js";
import { tinyModel } from "../helpers/models.js";
import { tempDir } from "../helpers/paths.js";

function shuffled<T>(xs: readonly T[], rng: Rng): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}

/** A random collection: 60 documents, 25 queries with 1-4 positives and some 0 / -1 grades; rankings are permutations. */
function randomCase(seed: number): { docs: string[]; qrels: Qrels; queries: Map<string, string>; rankings: Map<string, string[]> } {
  const rng = new Rng(seed);
  const docs = Array.from({ length: 60 }, (_, i) => `d${i}`);
  const qrels: Qrels = new Map();
  const queries = new Map<string, string>();
  const rankings = new Map<string, string[]>();
  for (let q = 0; q < 25; q++) {
    const qid = `q${q}`;
    const judged = shuffled(docs.filter((d) => d !== "d3" && d !== "d4"), rng).slice(0, 1 + rng.int(8));
    // At least one positive for most queries; grades 1-2 relevant, 0 and -1 not.
    qrels.set(qid, new Map(judged.map((d, i) => [d, i === 0 && q % 7 !== 0 ? 1 + rng.int(2) : rng.int(4) - 1])));
    queries.set(qid, `text of ${qid}`);
    rankings.set(`text of ${qid}`, shuffled(docs, rng).slice(0, 20 + rng.int(40)));
  }
  return { docs, qrels, queries, rankings };
}

async function mineCase(seed: number, window: RankWindow, negatives: number, order: "forward" | "reverse", short: "drop" | "keep"): Promise<{ lines: TrainingExample[]; c: ReturnType<typeof randomCase> }> {
  const c = randomCase(seed);
  const ids = [...c.queries.keys()];
  const queries = new Map((order === "forward" ? ids : ids.reverse()).map((q) => [q, c.queries.get(q) ?? ""]));
  const lines: TrainingExample[] = [];
  const noText = new Set(["d3", "d4"]); // documents the corpus lacks: never sampled
  await mineTriples(
    { queries, qrels: c.qrels, docText: (id) => (noText.has(id) ? undefined : `body ${id}`) },
    (qs, k) => Promise.resolve(qs.map((q) => (c.rankings.get(q.text) ?? []).slice(0, k + 5))), // may return more than k
    { negatives, window, seed: 11, short, batchSize: 4 },
    (ex) => void lines.push(ex),
  );
  return { lines, c };
}

describe("negative sampling", () => {
  test("property: never a positive, always inside the window, distinct, as many as the window allows", async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const window = { first: 1 + (seed % 5), last: 10 + ((seed * 7) % 40) };
      const n = 1 + (seed % 9);
      const { lines, c } = await mineCase(seed, window, n, "forward", "keep");
      const expectedPairs = [...c.qrels].reduce((a, [, m]) => a + ([...m.values()].some((g) => g > 0) ? [...m.values()].filter((g) => g > 0).length : 0), 0);
      let counted = 0;
      for (const ex of lines) {
        const judged = c.qrels.get(ex.queryId ?? "")!;
        assert.ok((judged.get(ex.positiveId ?? "") ?? 0) > 0, "the positive is relevant");
        const ranked = (c.rankings.get(ex.query ?? "") ?? []).slice(0, window.last);
        // Slow reference: the eligible candidates, by scanning the window.
        const eligible = ranked.slice(window.first - 1).filter((d) => !((judged.get(d) ?? 0) > 0) && d !== "d3" && d !== "d4");
        const negs = ex.negativeIds ?? [];
        assert.equal(new Set(negs).size, negs.length, "distinct");
        for (const d of negs) {
          assert.ok(!((judged.get(d) ?? 0) > 0), `positive ${d} returned as a negative`);
          const rank = ranked.indexOf(d) + 1;
          assert.ok(rank >= window.first && rank <= window.last, `rank ${rank} outside ${window.first}-${window.last}`);
        }
        assert.equal(negs.length, Math.min(n, eligible.length));
        assert.deepEqual(negs, [...negs].sort((a, b) => ranked.indexOf(a) - ranked.indexOf(b)), "rank order");
        assert.deepEqual(ex.negatives, negs.map((d) => `body ${d}`));
        counted++;
      }
      // keep: every pair with at least one candidate gives a line (windows here always leave one).
      assert.equal(counted, expectedPairs);
    }
  });

  test("deterministic in the seed and independent of query order; drop removes short lines", async () => {
    const a = await mineCase(4, { first: 3, last: 30 }, 6, "forward", "drop");
    const b = await mineCase(4, { first: 3, last: 30 }, 6, "reverse", "drop");
    const key = (ex: TrainingExample): string => `${ex.queryId}/${ex.positiveId}`;
    const byKey = new Map(b.lines.map((ex) => [key(ex), ex]));
    assert.equal(a.lines.length, b.lines.length);
    for (const ex of a.lines) assert.deepEqual(byKey.get(key(ex)), ex);
    assert.ok(a.lines.every((ex) => ex.negativeIds?.length === 6));
    // Another seed samples other negatives for some line.
    const ranked = Array.from({ length: 50 }, (_, i) => `x${i}`);
    const s1 = sampleNegatives(ranked, new Set(), { first: 1, last: 50 }, 5, lineRng(1, "q", "p"));
    const s2 = sampleNegatives(ranked, new Set(), { first: 1, last: 50 }, 5, lineRng(2, "q", "p"));
    assert.deepEqual(s1, sampleNegatives(ranked, new Set(), { first: 1, last: 50 }, 5, lineRng(1, "q", "p")));
    assert.notDeepEqual(s1, s2);
  });

  test("windows parse as 1-based inclusive ranks; bad ones are usage errors", () => {
    assert.deepEqual(parseWindow("10-100"), { first: 10, last: 100 });
    assert.deepEqual(parseWindow(" 1 - 1 "), { first: 1, last: 1 });
    for (const bad of ["0-10", "10-5", "10", "a-b", "-3-4"]) assert.throws(() => parseWindow(bad), (e) => isColtsError(e, "USAGE"), bad);
    assert.deepEqual(sampleNegatives(["a", "b", "c", "d"], new Set(["c"]), { first: 2, last: 4 }, 10, new Rng(1)), ["b", "d"]);
  });

  test("a positive missing from the corpus is an input error, not a silently lost pair", async () => {
    const input = { queries: new Map([["q", "text"]]), qrels: new Map([["q", new Map([["gone", 1]])]]), docText: (): undefined => undefined };
    await assert.rejects(mineTriples(input, (qs) => Promise.resolve(qs.map(() => ["a"])), {}, () => undefined), (e) => isColtsError(e, "INPUT_INVALID"));
  });
});

const WORDS = ["apple", "river", "stone", "cloud", "engine", "garden", "silver", "window", "forest", "candle", "harbor", "meadow"];

/** A BEIR folder: 24 documents over a few shared words; 6 train queries, each with 1-2 positives. */
async function tinyBeir(dir: string): Promise<void> {
  const corpus = Array.from({ length: 24 }, (_, i) => ({
    id: `doc${i}`,
    title: i % 3 === 0 ? `title ${WORDS[i % WORDS.length]}` : "",
    text: `${WORDS[i % WORDS.length]} ${WORDS[(i * 5) % WORDS.length]} ${WORDS[(i * 7 + 1) % WORDS.length]} number ${i}`,
  }));
  const queries = Array.from({ length: 6 }, (_, q) => ({ id: `q${q}`, text: `${WORDS[q]} ${WORDS[(q * 5) % WORDS.length]}` }));
  const qrels: Qrels = new Map(queries.map((q, i) => [q.id, new Map([[`doc${i}`, 1], [`doc${i + 12}`, q.id === "q1" ? 2 : 0]])]));
  await writeBeir(dir, "train", { corpus, queries, qrels });
}

function readLines(file: string): TrainingExample[] {
  return fs.readFileSync(file, "utf8").trim().split("\n").map((l, i) => parseTrainingExample(l, `${file}:${i + 1}`));
}

describe("colts mine", () => {
  test("BM25 over the corpus: ids and texts, never a positive, same bytes for the same seed", async (t) => {
    const cwd = tempDir(t);
    await tinyBeir(path.join(cwd, "ds"));
    const r = await runCli(["mine", "--dataset", "ds", "--output", "a.jsonl", "--negatives", "3", "--window", "1-10"], cwd);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /mined 7 lines/);
    const lines = readLines(path.join(cwd, "a.jsonl"));
    assert.equal(lines.length, 7); // 6 queries, q1 has 2 positives
    const corpus = fs.readFileSync(path.join(cwd, "ds/corpus.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { _id: string; title: string; text: string });
    const text = new Map(corpus.map((d) => [d._id, d.title ? `${d.title} ${d.text}` : d.text]));
    for (const ex of lines) {
      assert.equal(ex.negativeIds?.length, 3);
      assert.equal(ex.positive, text.get(ex.positiveId ?? ""));
      assert.deepEqual(ex.negatives, ex.negativeIds?.map((d) => text.get(d)));
      const q = Number(ex.queryId?.slice(1));
      assert.ok(!ex.negativeIds?.includes(`doc${q}`));
      if (ex.queryId === "q1") assert.ok(!ex.negativeIds?.includes("doc13"), "a second positive is excluded too");
    }
    // --positive-grade 2: only q1's grade-2 positive gets a line.
    assert.equal((await runCli(["mine", "--dataset", "ds", "--output", "g.jsonl", "--negatives", "3", "--window", "1-10", "--positive-grade", "2"], cwd)).code, 0);
    assert.deepEqual(readLines(path.join(cwd, "g.jsonl")).map((ex) => `${ex.queryId}/${ex.positiveId}`), ["q1/doc13"]);
    assert.equal((await runCli(["mine", "--dataset", "ds", "--output", "b.jsonl", "--negatives", "3", "--window", "1-10"], cwd)).code, 0);
    assert.equal(fs.readFileSync(path.join(cwd, "a.jsonl"), "utf8"), fs.readFileSync(path.join(cwd, "b.jsonl"), "utf8"));
    const bad = await runCli(["mine", "--dataset", "ds", "--output", "c.jsonl", "--retriever", "plaid"], cwd);
    assert.equal(bad.code, 2);
  });

  test("a precomputed run is the ranking: negatives come from its ranks, by query id", async (t) => {
    const cwd = tempDir(t);
    await tinyBeir(path.join(cwd, "ds"));
    // Every query ranks doc20, doc19, ..., doc0 (scores descending); q0's positive doc0 is last, doc12 (grade 0) allowed.
    const run = Array.from({ length: 6 }, (_, q) => Array.from({ length: 21 }, (_, r) => `q${q} Q0 doc${20 - r} ${r + 1} ${100 - r} x`).join("\n")).join("\n");
    fs.writeFileSync(path.join(cwd, "run.trec"), run);
    const r = await runCli(["mine", "--dataset", "ds", "--run", "run.trec", "--output", "r.jsonl", "--negatives", "3", "--window", "1-3"], cwd);
    assert.equal(r.code, 0, r.stderr);
    for (const ex of readLines(path.join(cwd, "r.jsonl"))) {
      const q = Number(ex.queryId?.slice(1));
      // Ranks 1-3 are doc20, doc19, doc18 unless one is a positive of the query (doc q, doc q+12 for q1).
      const excluded = new Set([`doc${q}`, ...(q === 1 ? ["doc13"] : [])]);
      assert.deepEqual(ex.negativeIds, ["doc20", "doc19", "doc18"].filter((d) => !excluded.has(d)));
    }
    assert.equal((await runCli(["mine", "--dataset", "ds", "--run", "run.trec", "--retriever", "bm25", "--output", "x.jsonl"], cwd)).code, 2);
  });

  test("PLAID over an index: negatives are indexed documents from the window", async (t) => {
    const cwd = tempDir(t);
    await tinyBeir(path.join(cwd, "ds"));
    const model = await tinyModel(t);
    assert.equal((await runCli(["index", "build", "idx", "--model", model, "--input", "ds"], cwd)).code, 0);
    const r = await runCli(["mine", "--dataset", "ds", "--index", "idx", "--retriever", "exact", "--output", "p.jsonl", "--negatives", "2", "--window", "2-8"], cwd);
    assert.equal(r.code, 0, r.stderr);
    const lines = readLines(path.join(cwd, "p.jsonl"));
    assert.equal(lines.length, 7);
    for (const ex of lines) {
      assert.equal(ex.negativeIds?.length, 2);
      assert.ok(!ex.negativeIds?.includes(ex.positiveId ?? ""));
    }
    // The index's BM25 side (no model needed) ranks like BM25 over the same corpus.
    fs.rmSync(model, { recursive: true });
    const args = ["--dataset", "ds", "--negatives", "3", "--window", "1-10"];
    assert.equal((await runCli(["mine", ...args, "--index", "idx", "--retriever", "bm25", "--output", "i.jsonl"], cwd)).code, 0);
    assert.equal((await runCli(["mine", ...args, "--output", "c.jsonl"], cwd)).code, 0);
    assert.equal(fs.readFileSync(path.join(cwd, "i.jsonl"), "utf8"), fs.readFileSync(path.join(cwd, "c.jsonl"), "utf8"));
  });
});
