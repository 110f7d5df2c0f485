/**
 * colts/langchain with the real @langchain/core: the retriever inside runnables (invoke, batch, a
 * RunnableSequence that formats documents) must return the Searcher's ids in the Searcher's order
 * (and `colts search`'s); the re-ranker must order a fixed list as `colts rerank` does; addDocuments
 * keeps the ids it is given.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Document, type DocumentInterface } from "@langchain/core/documents";
import { RunnableLambda, RunnableSequence } from "@langchain/core/runnables";
import { ColtsReranker, ColtsRetriever } from "../../src/langchain/index.js";
import { Searcher, type ExplainedHit, type RetrieveOptions } from "../../src/search/searcher.js";
import { runCli } from "../helpers/cli.js";
import { suiteDir } from "../helpers/paths.js";
import { servedFixture, type ServedFixture } from "../helpers/server.js";

describe("colts/langchain", () => {
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

  const want = async (query: string, opts: RetrieveOptions): Promise<ExplainedHit[]> => {
    const [hits = []] = await searcher.search([query], { ...opts, withText: true });
    assert.ok(hits.length > 0, query);
    return hits;
  };

  test("invoke: the Searcher's hits as Documents (stored text, metadata plus id and score) for each retriever and option", async (t) => {
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
      const docs = await retriever.invoke(query);
      const hits = await want(query, search);
      assert.deepEqual(docs.map((d) => d.id), hits.map((h) => h.id), `${query} ${JSON.stringify(search)}`);
      docs.forEach((d, i) => {
        const h = hits[i] as ExplainedHit;
        assert.ok(d instanceof Document);
        assert.equal(d.pageContent, h.text);
        assert.deepEqual(d.metadata, { ...h.metadata, id: h.id, score: h.score });
      });
      if ("filter" in search) assert.ok(docs.every((d) => (d.metadata["year"] as number) >= 1960));
    }
  });

  test("cancellable through LangChain's AbortSignal: an aborted signal rejects with its reason, alone or in a batch", async (t) => {
    const retriever = await ColtsRetriever.open(fx.index, { workers: 0 });
    t.after(() => retriever.close());
    const before = new AbortController();
    before.abort(new Error("stopped by the caller"));
    await assert.rejects(retriever.invoke("apples", { signal: before.signal }), /stopped by the caller/);
    await assert.rejects(retriever.batch(["apples", "rivers"], { signal: before.signal }), /stopped by the caller/);
    const during = new AbortController();
    const pending = retriever.invoke("apples", { signal: during.signal });
    during.abort(new Error("cancelled mid-search"));
    await assert.rejects(pending, /cancelled mid-search/);
    const free = new AbortController();
    const docs = await retriever.invoke("apples", { signal: free.signal });
    assert.ok(docs.length > 0, "a signal that never fires changes nothing");
  });

  test("batch and a RunnableSequence that formats the documents give the same ids and order as `colts search`", async (t) => {
    const retriever = await ColtsRetriever.open(fx.index, { workers: 0, search: { k: 4 } });
    t.after(() => retriever.close());
    const queries = ["computer programs for sorting", "numerical integration", "list processing language"];
    const batched = await retriever.batch(queries);
    for (const [i, q] of queries.entries()) {
      const cli = await runCli(["search", fx.index, q, "-k", "4", "--json", "--workers", "0"], root);
      assert.equal(cli.code, 0, cli.stderr);
      const ids = (JSON.parse(cli.stdout) as ExplainedHit[]).map((h) => h.id);
      assert.deepEqual(batched[i]?.map((d) => d.id), ids, q);
    }
    const chain = RunnableSequence.from([retriever, (docs: DocumentInterface[]) => docs.map((d, i) => `[${i + 1}] ${String(d.metadata["id"])}: ${d.pageContent.slice(0, 20)}`).join("\n")]);
    const formatted = await chain.invoke(queries[0] as string);
    const hits = await want(queries[0] as string, { k: 4 });
    assert.equal(formatted, hits.map((h, i) => `[${i + 1}] ${h.id}: ${(h.text ?? "").slice(0, 20)}`).join("\n"));
  });

  test("the re-ranker orders a fixed list as `colts rerank` does, and keeps k", async (t) => {
    const reranker = await ColtsReranker.load(fx.model, { workers: 0 });
    t.after(() => reranker.close());
    const picked = [3, 17, 8, 25, 0, 31].map((i) => fx.docs[i] as ServedFixture["docs"][number]);
    const docs = picked.map((d) => new Document({ pageContent: d.text, metadata: { year: d.year }, id: d.id }));
    const query = "computer programs for sorting";
    const file = path.join(root, "candidates.jsonl");
    fs.writeFileSync(file, picked.map((d) => JSON.stringify({ _id: d.id, text: d.text })).join("\n"));
    const cli = await runCli(["rerank", "-m", fx.model, "-q", query, "-d", file, "--json", "--workers", "0"], root);
    assert.equal(cli.code, 0, cli.stderr);
    const expected = JSON.parse(cli.stdout) as { id: string; score: number }[];
    const got = await reranker.compressDocuments(docs, query);
    assert.deepEqual(got.map((d) => d.id), expected.map((h) => h.id));
    got.forEach((d, i) => {
      assert.ok(Math.abs((d.metadata["relevanceScore"] as number) - (expected[i]?.score ?? NaN)) < 1e-5);
      assert.equal(d.metadata["year"], picked.find((p) => p.id === d.id)?.year, "metadata is kept");
    });
    assert.notDeepEqual(got.map((d) => d.id), picked.map((d) => d.id), "the order changed (else the test shows nothing)");
    reranker.k = 2;
    assert.deepEqual((await reranker.compressDocuments(docs, query)).map((d) => d.id), expected.slice(0, 2).map((h) => h.id));
    assert.deepEqual(await reranker.compressDocuments([], query), []);
  });

  test("retrieve then re-rank in one chain: the re-ranker's order over the retriever's documents", async (t) => {
    const retriever = await ColtsRetriever.open(fx.index, { workers: 0, search: { k: 6, retriever: "bm25" } });
    t.after(() => retriever.close());
    const reranker = new ColtsReranker({ model: retriever.model, k: 3 });
    const chain = RunnableLambda.from(async (q: string) => reranker.compressDocuments(await retriever.invoke(q), q));
    const query = "algebraic language compiler";
    const got = await chain.invoke(query);
    const candidates = (await want(query, { k: 6, retriever: "bm25" })).map((h) => ({ id: h.id, text: h.text ?? "" }));
    const { rerank } = await import("../../src/search/rerank.js");
    const expected = await rerank(retriever.model, query, candidates, { k: 3 });
    assert.deepEqual(got.map((d) => d.id), expected.map((h) => h.id));
  });

  test("addDocuments keeps ids (given, or the documents' own), refuses a live id, and later queries see the documents", async (t) => {
    const dir = path.join(root, "copy");
    fs.cpSync(fx.index, dir, { recursive: true });
    const retriever = await ColtsRetriever.open(dir, { workers: 0, search: { k: 2, retriever: "bm25" } });
    t.after(() => retriever.close());
    const ids = await retriever.addDocuments(
      [new Document({ pageContent: "zebra zebra striped savanna", metadata: { year: 2024 } }), new Document({ pageContent: "giraffe savanna tall", metadata: { year: 2023 } })],
      { ids: ["zebra-1", "giraffe-1"] },
    );
    assert.deepEqual(ids, ["zebra-1", "giraffe-1"]);
    assert.deepEqual(await retriever.addDocuments([new Document({ pageContent: "okapi forest", id: "okapi-1" })]), ["okapi-1"]);
    const zebra = await retriever.invoke("zebra savanna");
    assert.deepEqual(zebra.map((d): unknown[] => [d.id, d.metadata["year"] as unknown]), [["zebra-1", 2024], ["giraffe-1", 2023]]);
    assert.deepEqual((await retriever.invoke("okapi")).map((d) => d.id)[0], "okapi-1");
    retriever.search = { k: 5, filter: "year >= 2023" };
    assert.deepEqual((await retriever.invoke("savanna animals")).map((d) => d.id).sort(), ["giraffe-1", "zebra-1"]);
    await assert.rejects(retriever.addDocuments([new Document({ pageContent: "again", id: "zebra-1" })]), /zebra-1/);
  });
});
