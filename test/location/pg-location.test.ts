/**
 * Index locations (location/): the Searcher and the server on a postgres:// URL against a throwaway
 * server (test/helpers/postgres.ts), compared with the same documents in a folder index. The URL's
 * password appears in no error, log line, API answer or /metrics.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { FastifyInstance } from "fastify";
import { ColBERT } from "../../src/encode/colbert.js";
import { ColtsError } from "../../src/errors.js";
import { FolderIndex } from "../../src/location/folder.js";
import { locationKind, locationName, openIndex, printableLocation } from "../../src/location/open.js";
import { PostgresIndex } from "../../src/location/postgres.js";
import { summarize } from "../../src/location/summary.js";
import { buildAt } from "../../src/location/write.js";
import { encodedCorpusSource } from "../../src/plaid/corpus.js";
import { Searcher, type ExplainedHit } from "../../src/search/searcher.js";
import { buildServer } from "../../src/server/build.js";
import { Engine } from "../../src/server/engine.js";
import { suiteDir } from "../helpers/paths.js";
import { startPostgres, storedIds, type TestPostgres } from "../helpers/postgres.js";
import { servedFixture, spawnServe, type ServedFixture } from "../helpers/server.js";
import path from "node:path";

const root = suiteDir("colts-location-");

describe("index locations: a folder or a postgres:// URL", () => {
  let server: TestPostgres;
  let fx: ServedFixture;
  let url = "";
  let password = "";

  before(async () => {
    server = await startPostgres();
    url = server.url("loc_");
    password = new URL(url).password;
    fx = await servedFixture(root, 40);
    const colbert = await ColBERT.load(fx.model, { workers: 0 });
    try {
      // The fixture's corpus and options, as servedFixture built its folder index.
      await buildAt(url, await encodedCorpusSource(path.join(root, "corpus.jsonl"), colbert, { metadataFields: ["year"] }), colbert.dim, { model: fx.model, numCentroids: 32 });
    } finally {
      await colbert.close();
    }
  });
  after(() => server?.stop());

  test("locationKind, printableLocation and locationName tell a URL from a folder", () => {
    assert.equal(locationKind(url), "postgres");
    assert.equal(locationKind("postgresql://h/db"), "postgres");
    assert.equal(locationKind("idx"), "folder");
    assert.equal(locationKind("./postgres:/x"), "folder");
    assert.ok(!printableLocation(url).includes(password));
    assert.match(printableLocation(url), /^postgres:\/\/colts:\*\*\*@/);
    assert.equal(printableLocation("/some/dir"), "/some/dir");
    assert.equal(locationName(url, (d) => path.basename(d)), "loc");
    assert.equal(locationName("postgres://h/db", (d) => path.basename(d)), "colts");
    assert.equal(locationName("/a/b/idx", (d) => path.basename(d)), "idx");
  });

  test("openIndex and summarize: the same counts and parameters for both kinds", async () => {
    const [folder, pg] = [await summarize(fx.index), await summarize(url)];
    assert.equal(folder.kind, "folder");
    assert.equal(pg.kind, "postgres");
    for (const key of ["generation", "documents", "liveDocuments", "vectors", "dim", "nbits", "centroids", "poolFactor", "model", "hasText", "drifted"] as const) {
      assert.deepEqual(pg[key], folder[key], key);
    }
    assert.equal(pg.liveDocuments, 40);
    assert.ok(!pg.location.includes(password));
    const opened = await openIndex(url);
    try {
      assert.ok(opened instanceof PostgresIndex);
      assert.equal(opened.dim, 32);
      assert.ok(opened.covers(1_000_000), "every statement reads committed rows");
      assert.deepEqual(await opened.texts([0, 39, 999]), [fx.docs[0]?.text, fx.docs[39]?.text, null]);
    } finally {
      await opened.close();
    }
    const f = await openIndex(fx.index);
    try {
      assert.ok(f instanceof FolderIndex);
      assert.ok(f.covers(1) && !f.covers(2));
    } finally {
      await f.close();
    }
  });

  test("the Searcher on the URL equals the Searcher on the folder with exact: hits, scores, metadata, texts, explanations", async () => {
    const onFolder = await Searcher.open(fx.index, { workers: 0 });
    const onPg = await Searcher.open(url, { colbert: onFolder.model });
    try {
      const queries = ["computer programming languages", "matrix inversion", "sorting algorithms"];
      for (const opts of [{ k: 10 }, { k: 5, filter: "year >= 1960" }, { k: 4, ids: [fx.docs[1]!.id, fx.docs[7]!.id, fx.docs[20]!.id, "nope"] }]) {
        const want = await onFolder.search(queries, { ...opts, retriever: "exact", withText: true });
        for (const retriever of ["exact", "plaid"] as const) {
          const got = await onPg.search(queries, { ...opts, retriever, withText: true });
          assert.deepEqual(got, want, `${retriever} ${JSON.stringify(opts)}`);
        }
        assert.ok(want.every((hits) => hits.length > 0 && hits.every((h) => typeof h.text === "string")));
      }
      const explained = async (s: Searcher): Promise<ExplainedHit[]> => (await s.search(["matrix inversion"], { k: 3, retriever: "exact", explain: true }))[0] ?? [];
      const e = await explained(onPg);
      assert.deepEqual(e, await explained(onFolder));
      assert.ok(e[0]?.explanation && e[0].explanation.length > 0);
      for (const retriever of ["bm25", "bm25+rerank"] as const) {
        await assert.rejects(onPg.search(["matrix"], { retriever }), (err: unknown) => err instanceof ColtsError && err.code === "INPUT_INVALID" && /full-text search/.test(err.message));
      }
      // keyword: PostgreSQL full-text search; every hit's text holds the (stemmed) query word.
      const keyword = (await onPg.search(["matrix"], { retriever: "keyword", k: 5, withText: true }))[0] ?? [];
      assert.ok(keyword.length > 0 && keyword.every((h) => /matri/i.test(h.text ?? "")), JSON.stringify(keyword));
      await assert.rejects(onPg.search(["matrix"], { retriever: "keyword", explain: true }), (err: unknown) => err instanceof ColtsError && err.code === "INPUT_INVALID");
    } finally {
      await onPg.close();
      await onFolder.close();
    }
  });

  describe("the server on a URL", () => {
    let engine: Engine;
    let app: FastifyInstance;
    const logs: string[] = [];
    before(async () => {
      engine = await Engine.start({ indexes: [{ name: "pg", dir: url }, { name: "disk", dir: fx.index }], workers: 1, batching: { windowMs: 20 } });
      app = buildServer({ engine, log: (line) => logs.push(line) }).app;
    });
    after(async () => {
      await app?.close();
      await engine?.close();
    });

    test("answers searches as the folder does, reports the index, takes writes, and never shows the password", async () => {
      const list = await app.inject({ method: "GET", url: "/indexes" });
      const indexes = list.json<{ indexes: { name: string; liveDocuments: number; dim: number; hasText: boolean }[] }>().indexes;
      assert.deepEqual(indexes.map((i) => [i.name, i.liveDocuments, i.dim, i.hasText]), [["pg", 40, 32, true], ["disk", 40, 32, true]]);
      const ask = async (name: string, body: Record<string, unknown>): Promise<ExplainedHit[][]> => {
        const r = await app.inject({ method: "POST", url: `/indexes/${name}/search`, payload: body });
        assert.equal(r.statusCode, 200, r.body);
        return r.json<{ results: ExplainedHit[][] }>().results;
      };
      const body = { queries: ["matrix inversion", "compilers"], k: 5, retriever: "exact", filter: "year >= 1960" };
      assert.deepEqual(await ask("pg", body), await ask("disk", body));
      assert.equal((await ask("pg", { query: "compilers", k: 3 }))[0]?.length, 3, "plaid maps to the PostgreSQL search");

      const add = await app.inject({ method: "POST", url: "/indexes/pg/documents", payload: { documents: [{ id: "new-1", text: "quantum chromodynamics lattice simulation", metadata: { year: 2030 } }] } });
      assert.equal(add.statusCode, 200, add.body);
      assert.deepEqual(add.json<{ added: number; liveDocuments: number; generation: number }>(), { generation: 2, liveDocuments: 41, added: 1 });
      assert.equal((await app.inject({ method: "GET", url: "/indexes/pg" })).json<{ generation: number }>().generation, 2);
      assert.deepEqual((await ask("pg", { query: "lattice", k: 5, filter: "year = 2030" }))[0]?.map((h) => h.id), ["new-1"]);
      const del = await app.inject({ method: "DELETE", url: "/indexes/pg/documents", payload: { ids: ["new-1", "never-was"] } });
      assert.equal(del.statusCode, 200, del.body);
      assert.deepEqual(del.json<{ deleted: string[]; missing: string[]; liveDocuments: number }>().liveDocuments, 40);
      assert.deepEqual((await ask("pg", { query: "lattice", k: 5, filter: "year = 2030" }))[0], []);

      const bm25 = await app.inject({ method: "POST", url: "/indexes/pg/search", payload: { query: "lattice", retriever: "bm25" } });
      assert.equal(bm25.statusCode, 400, bm25.body);
      assert.equal(bm25.json<{ error: { code: string } }>().error.code, "INPUT_INVALID");
      const metrics = await app.inject({ method: "GET", url: "/metrics" });
      assert.match(metrics.body, /^colts_index_live_documents\{index="pg"\} 40$/m);
      for (const text of [list.body, metrics.body, bm25.body, ...logs]) assert.ok(!text.includes(password), text);
    });
  });

  test("Engine.start with a wrong password or a missing index: coded errors without the password", async () => {
    const wrong = url.replace(`:${password}@`, ":wrong-pass-7c3e@");
    await assert.rejects(Engine.start({ indexes: [{ name: "x", dir: wrong }] }), (e: unknown) => {
      assert.ok(e instanceof ColtsError && e.code === "DATABASE_UNAVAILABLE", String(e));
      assert.ok(!e.message.includes("wrong-pass-7c3e") && !JSON.stringify(e.details ?? {}).includes("wrong-pass-7c3e"), e.message);
      return true;
    });
    await assert.rejects(Engine.start({ indexes: [{ name: "x", dir: server.url("none_") }] }), (e: unknown) => {
      assert.ok(e instanceof ColtsError && e.code === "INDEX_NOT_FOUND", String(e));
      assert.ok(!e.message.includes(password), e.message);
      return true;
    });
  });

  test("the server on a sharded URL: a stopped shard is a 503 (its log names it); with postgres.allowPartial the other shard's hits, marked partial", async () => {
    const shards = await Promise.all([startPostgres({ password }), startPostgres({ password })]);
    let engine: Engine | undefined;
    let app: FastifyInstance | undefined;
    try {
      const sharded = server.url("locsh_");
      const colbert = await ColBERT.load(fx.model, { workers: 0 });
      try {
        const source = await encodedCorpusSource(path.join(root, "corpus.jsonl"), colbert, { metadataFields: ["year"] });
        await buildAt(sharded, source, colbert.dim, { model: fx.model, numCentroids: 32, shards: shards.map((sh) => sh.url("locsh_")) });
      } finally {
        await colbert.close();
      }
      engine = await Engine.start({ indexes: [{ name: "sh", dir: sharded }], workers: 1 });
      const logs: string[] = [];
      const served = buildServer({ engine, log: (line) => logs.push(line) }).app;
      app = served;
      const ask = (payload: Record<string, unknown>) => served.inject({ method: "POST", url: "/indexes/sh/search", payload });
      const everything = { queries: ["matrix", "compilers"], k: 40, retriever: "exact" };
      const full = await ask(everything);
      assert.equal(full.statusCode, 200, full.body);
      const fullBody = full.json<{ results: ExplainedHit[][]; partial?: unknown }>();
      assert.equal(fullBody.results[0]?.length, 40);
      assert.equal(fullBody.partial, undefined);

      const down = shards[1];
      const port = String(down.config.port);
      const onShard0 = new Set(await storedIds(shards[0], "locsh_"));
      assert.ok(onShard0.size > 0 && onShard0.size < 40, `shard 0 holds ${onShard0.size} of 40`);
      down.halt();
      try {
        const refused = await ask(everything);
        assert.equal(refused.statusCode, 503, refused.body);
        const error = refused.json<{ error: { code: string; message: string } }>().error;
        // A 5xx answer says only the code's summary (errors.ts); the server's log names the shard.
        assert.deepEqual(error, { code: "SHARD_UNAVAILABLE", message: "shard unavailable" });
        assert.ok(logs.some((l) => l.includes(`shard 1 (127.0.0.1:${port}/colts)`)), logs.join("\n"));
        assert.ok(![refused.body, ...logs].some((t) => t.includes(password)));

        const partial = await ask({ ...everything, postgres: { allowPartial: true } });
        assert.equal(partial.statusCode, 200, partial.body);
        const body = partial.json<{ results: ExplainedHit[][]; partial?: { missingShards: string[] } }>();
        assert.deepEqual(body.partial, { missingShards: [`shard 1 (127.0.0.1:${port}/colts)`] });
        body.results.forEach((hits, q) => assert.deepEqual(hits, fullBody.results[q]?.filter((h) => onShard0.has(h.id)), `query ${q}: the full ranking, restricted to shard 0`));
        for (const retriever of ["plaid", "hybrid", "keyword"]) {
          const r = await ask({ query: "matrix", k: 5, retriever, postgres: { allowPartial: true } });
          assert.equal(r.statusCode, 200, `${retriever}: ${r.body}`);
          const b = r.json<{ results: ExplainedHit[][]; partial?: { missingShards: string[] } }>();
          assert.deepEqual(b.partial?.missingShards, [`shard 1 (127.0.0.1:${port}/colts)`], retriever);
          assert.ok(b.results[0]?.every((h) => onShard0.has(h.id)), retriever);
        }
        const explained = await ask({ query: "matrix", k: 3, retriever: "exact", explain: true, postgres: { allowPartial: true } });
        assert.equal(explained.statusCode, 200, explained.body);
        const hits = explained.json<{ results: ExplainedHit[][] }>().results[0] ?? [];
        assert.ok(hits.length === 3 && hits.every((h) => typeof h.text === "string" && (h.explanation?.length ?? 0) > 0), "texts of partial hits come from the shard that answered");
      } finally {
        down.resume();
      }
      const back = await ask({ ...everything, postgres: { allowPartial: true } });
      assert.equal(back.statusCode, 200, back.body);
      assert.deepEqual(back.json<{ results: ExplainedHit[][]; partial?: unknown }>(), { ...fullBody, tookMs: back.json<{ tookMs: number }>().tookMs });
    } finally {
      await app?.close();
      await engine?.close();
      for (const sh of shards) sh.stop();
    }
  });

  test("colts serve <postgres URL>: named by its prefix, answers a search, no password on stderr", async (t) => {
    const { base, stderr } = await spawnServe(t, [url, "--port", "0"], {});
    const list = (await (await fetch(`${base}/indexes`)).json()) as { indexes: { name: string }[] };
    assert.deepEqual(list.indexes.map((i) => i.name), ["loc"]);
    const r = await fetch(`${base}/indexes/loc/search`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "matrix", k: 2 }) });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { results: unknown[][] }).results[0]?.length, 2);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.ok(!metrics.includes(password) && !stderr().includes(password), stderr());
  });
});

