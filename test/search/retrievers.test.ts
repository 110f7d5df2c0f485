/**
 * Every retriever over one index: k hits in descending score order; bm25+rerank's best is exact
 * MaxSim's best among BM25's candidates; hybrid is reciprocal rank fusion; `colts eval` compares
 * retrievers on a small BEIR dataset.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { runMain } from "../../src/cli/main.js";
import { ColBERT } from "../../src/encode/colbert.js";
import { maxsim } from "../../src/encode/multivector.js";
import { readCorpus } from "../../src/corpus/reader.js";
import { encodedCorpusSource } from "../../src/plaid/corpus.js";
import { buildIndex } from "../../src/plaid/writer.js";
import { RETRIEVERS, Searcher, fuse } from "../../src/search/searcher.js";
import { tinyModel } from "../helpers/models.js";
import { fixture, suiteDir } from "../helpers/paths.js";

test("fuse: reciprocal rank fusion by hand", () => {
  const h = (id: string): { id: string; score: number; ordinal: number; metadata: null } => ({ id, score: 0, ordinal: 0, metadata: null });
  // a: 1/(60+1) + 1/(60+2); b: 1/(60+2) + 1/(60+1); c: 1/(60+3) -> a and b tie, broken by id.
  const fused = fuse([[h("a"), h("b"), h("c")], [h("b"), h("a")]], [1, 1], 60, 3);
  assert.deepEqual(fused.map((x) => x.id), ["a", "b", "c"]);
  assert.ok(Math.abs(fused[0]!.score - (1 / 61 + 1 / 62)) < 1e-12);
  const weighted = fuse([[h("a")], [h("b")]], [1, 2], 60, 2);
  assert.deepEqual(weighted.map((x) => x.id), ["b", "a"]);
});

describe("retrievers on CACM", () => {
  const root = suiteDir();
  let searcher: Searcher;
  let model: ColBERT;
  const queries: string[] = [];
  const texts = new Map<string, string>();
  before(async () => {
    model = await ColBERT.load(await tinyModel(root, { layout: "onnx", hidden: 64, layers: 1, heads: 4, dim: 32, wordEmbeddingStd: 0.2 }), { workers: 0 });
    const dir = path.join(root, "idx");
    await buildIndex(dir, await encodedCorpusSource(fixture("cacm-slice", "corpus.jsonl"), model, { metadataFields: ["year"] }), model.dim, {});
    searcher = await Searcher.open(dir, { colbert: model });
    for await (const { doc } of readCorpus(fixture("cacm-slice", "queries.jsonl"))) queries.push(doc.text);
    for await (const { doc } of readCorpus(fixture("cacm-slice", "corpus.jsonl"))) texts.set(doc.id, doc.text);
  });
  after(async () => {
    await searcher.close();
    await model.close();
  });

  test("each retriever returns k hits with descending scores", async () => {
    for (const retriever of RETRIEVERS) {
      const results = await searcher.search(queries.slice(0, 5), { k: 7, retriever });
      for (const hits of results) {
        assert.equal(hits.length, 7, retriever);
        for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1]!.score >= hits[i]!.score, `${retriever} order`);
        assert.equal(new Set(hits.map((h) => h.id)).size, 7, `${retriever} duplicates`);
      }
    }
  });

  test("bm25+rerank: top-1 is exact MaxSim's best among BM25's candidates", async () => {
    for (const q of queries.slice(0, 5)) {
      const [candidates] = await searcher.search([q], { k: 30, retriever: "bm25" });
      const [reranked] = await searcher.search([q], { k: 1, retriever: "bm25+rerank", depth: 30 });
      const [qv] = await model.encodeQueries([q]);
      const docs = await model.encodeDocuments(candidates!.map((c) => texts.get(c.id) ?? ""));
      const scores = docs.map((d) => maxsim(qv!, d));
      const best = candidates![scores.indexOf(Math.max(...scores))]!.id;
      // The index scores compressed vectors; the reference uses the originals: same winner expected.
      assert.equal(reranked![0]!.id, best);
    }
  });

  test("filters apply to keyword retrievers too", async () => {
    const [hits] = await searcher.search([queries[0]!], { k: 5, retriever: "bm25", filter: "year = 1960" });
    assert.ok(hits!.length > 0);
    for (const h of hits!) assert.equal(h.metadata?.["year"], 1960);
  });
});

describe("colts eval", () => {
  const root = suiteDir();
  before(async () => {
    const ds = path.join(root, "ds");
    fs.mkdirSync(path.join(ds, "qrels"), { recursive: true });
    const docs = [
      ["d1", "Paris is the capital of France."],
      ["d2", "Berlin is the capital of Germany."],
      ["d3", "Bananas are yellow fruit."],
      ["d4", "Mitochondria produce ATP."],
    ];
    fs.writeFileSync(path.join(ds, "corpus.jsonl"), docs.map(([id, text]) => JSON.stringify({ _id: id, title: "", text })).join("\n") + "\n");
    fs.writeFileSync(path.join(ds, "queries.jsonl"), [["q1", "capital of France"], ["q2", "yellow bananas"], ["q3", "unjudged"]].map(([id, text]) => JSON.stringify({ _id: id, text })).join("\n") + "\n");
    fs.writeFileSync(path.join(ds, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\n");
    const model = await tinyModel(root, { layout: "onnx", wordEmbeddingStd: 0.2 });
    const out = new PassThrough();
    out.resume();
    const io = { stdin: Readable.from([""]), stdout: out, stderr: out, env: {}, cwd: root };
    assert.equal(await runMain(["index", "build", "idx", "--model", model, "--input", "ds"], io), 0);
  });

  test("several retrievers in one call: a JSON report, a table, TREC runs per retriever", async () => {
    const chunks: Buffer[] = [];
    const out = new PassThrough();
    out.on("data", (b: Buffer) => chunks.push(b));
    const io = { stdin: Readable.from([""]), stdout: out, stderr: new PassThrough(), env: {}, cwd: root };
    const code = await runMain(["eval", "--index", "idx", "--dataset", "ds", "--retriever", "bm25,plaid", "--metrics", "ndcg@10,mrr@10,recall@100", "--json", "--output", "run.trec", "--report", "r.json"], io);
    assert.equal(code, 0);
    const report = JSON.parse(Buffer.concat(chunks).toString()) as { results: { retriever: string; queries: number; metrics: Record<string, number> }[] };
    assert.deepEqual(report.results.map((r) => r.retriever), ["bm25", "plaid"]);
    const bm25 = report.results[0]!;
    assert.equal(bm25.queries, 2, "only judged queries");
    assert.equal(bm25.metrics["mrr@10"], 1, "BM25 ranks the single relevant document first for both queries");
    assert.equal(bm25.metrics["ndcg@10"], 1);
    assert.ok(fs.existsSync(path.join(root, "run.bm25.trec")) && fs.existsSync(path.join(root, "run.plaid.trec")));
    assert.ok(fs.existsSync(path.join(root, "r.json")));
    const bad = await runMain(["eval", "--index", "idx", "--dataset", "ds", "--metrics", "nope@3"], { ...io, stdout: new PassThrough(), stderr: new PassThrough() });
    assert.notEqual(bad, 0);
  });
});
