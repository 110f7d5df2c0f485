/**
 * colts/llamaindex with the real @llamaindex/core: `retrieve` must give the Searcher's ids, order and
 * scores as NodeWithScore; the node post-processor must order a fixed list as `colts rerank` does.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { MetadataMode, TextNode, type NodeWithScore } from "@llamaindex/core/schema";
import { ColtsReranker, ColtsRetriever } from "../../src/llamaindex/index.js";
import { Searcher, type ExplainedHit } from "../../src/search/searcher.js";
import { runCli } from "../helpers/cli.js";
import { suiteDir } from "../helpers/paths.js";
import { servedFixture, type ServedFixture } from "../helpers/server.js";

describe("colts/llamaindex", () => {
  const root = suiteDir();
  let fx: ServedFixture;
  let searcher: Searcher;

  before(async () => {
    fx = await servedFixture(root, 40);
    searcher = await Searcher.open(fx.index, { workers: 0 });
  });
  after(async () => {
    await searcher?.close();
  });

  test("retrieve: the Searcher's hits as TextNodes with scores, for each retriever and option, from a string or a query bundle", async (t) => {
    const retriever = await ColtsRetriever.open(fx.index, { workers: 0 });
    t.after(() => retriever.close());
    for (const [query, search] of [
      ["computer programs for sorting", { k: 5 }],
      ["algebraic language compiler", { k: 7, retriever: "hybrid" as const, filter: "year >= 1960" }],
      ["matrix inversion", { k: 4, retriever: "exact" as const }],
      ["matrix inversion", { k: 3, retriever: "bm25" as const }],
      ["numerical integration", { k: 6, params: { ncells: 4, ndocs: 64 } }],
    ] as const) {
      retriever.search = search;
      const [hits = []] = await searcher.search([query], { ...search, withText: true });
      assert.ok(hits.length > 0);
      for (const nodes of [await retriever.retrieve(query), await retriever.retrieve({ query })]) {
        assert.deepEqual(nodes.map((n) => n.node.id_), hits.map((h) => h.id), `${query} ${JSON.stringify(search)}`);
        nodes.forEach((n, i) => {
          const h = hits[i] as ExplainedHit;
          assert.ok(n.node instanceof TextNode);
          assert.equal(n.node.getContent(MetadataMode.NONE), h.text);
          assert.deepEqual(n.node.metadata, h.metadata ?? {});
          assert.equal(n.score, h.score);
        });
      }
    }
  });

  test("retrieve gives the ids and order of `colts search`", async (t) => {
    const retriever = await ColtsRetriever.open(fx.index, { workers: 0, search: { k: 4 } });
    t.after(() => retriever.close());
    const cli = await runCli(["search", fx.index, "list processing language", "-k", "4", "--json", "--workers", "0"], root);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual((await retriever.retrieve("list processing language")).map((n) => n.node.id_), (JSON.parse(cli.stdout) as ExplainedHit[]).map((h) => h.id));
  });

  test("the node post-processor orders a fixed list as `colts rerank` does, keeps topN, and needs the query", async (t) => {
    const reranker = await ColtsReranker.load(fx.model, { workers: 0 });
    t.after(() => reranker.close());
    const picked = [3, 17, 8, 25, 0, 31].map((i) => fx.docs[i] as ServedFixture["docs"][number]);
    const nodes: NodeWithScore[] = picked.map((d) => ({ node: new TextNode({ id_: d.id, text: d.text, metadata: { year: d.year } }), score: 0 }));
    const query = "computer programs for sorting";
    const file = path.join(root, "candidates.jsonl");
    fs.writeFileSync(file, picked.map((d) => JSON.stringify({ _id: d.id, text: d.text })).join("\n"));
    const cli = await runCli(["rerank", "-m", fx.model, "-q", query, "-d", file, "--json", "--workers", "0"], root);
    assert.equal(cli.code, 0, cli.stderr);
    const expected = JSON.parse(cli.stdout) as { id: string; score: number }[];
    const got = await reranker.postprocessNodes(nodes, query);
    assert.deepEqual(got.map((n) => n.node.id_), expected.map((h) => h.id));
    got.forEach((n, i) => assert.ok(Math.abs((n.score ?? NaN) - (expected[i]?.score ?? NaN)) < 1e-5));
    assert.notDeepEqual(got.map((n) => n.node.id_), picked.map((d) => d.id), "the order changed (else the test shows nothing)");
    reranker.topN = 2;
    assert.deepEqual((await reranker.postprocessNodes(nodes, query)).map((n) => n.node.id_), expected.slice(0, 2).map((h) => h.id));
    await assert.rejects(reranker.postprocessNodes(nodes), /needs the query/);
  });
});
