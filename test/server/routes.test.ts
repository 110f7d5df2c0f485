/**
 * The HTTP API in-process (fastify inject): every route, auth on and off, every validation error,
 * limits, 503 on a full queue, 504 on timeout, 404 for an unknown index, CORS, metrics, OpenAPI.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { buildServer, type ServerDeps } from "../../src/server/build.js";
import { Engine } from "../../src/server/engine.js";
import { suiteDir } from "../helpers/paths.js";
import { servedFixture, type ServedFixture } from "../helpers/server.js";

interface ErrorBody {
  error: { code: string; message: string };
}
interface Hit {
  id: string;
  score: number;
  metadata: Record<string, unknown> | null;
  explanation?: { queryToken: string; documentToken: string; documentPosition: number; similarity: number }[];
  documentTokens?: string[];
  text?: string;
}

const root = suiteDir("colts-server-");
let fx: ServedFixture;
let engine: Engine;
const apps: FastifyInstance[] = [];

function server(deps: Partial<ServerDeps> = {}): FastifyInstance {
  const { app } = buildServer({ engine, log: () => undefined, ...deps });
  apps.push(app);
  return app;
}

function json<T>(r: LightMyRequestResponse): T {
  return r.json<T>();
}

/** An error answer: status, stable code, JSON, nothing internal in it. */
function assertError(r: LightMyRequestResponse, status: number, code: string): void {
  assert.equal(r.statusCode, status, r.body);
  assert.match(String(r.headers["content-type"]), /application\/json/);
  const body = json<ErrorBody>(r);
  assert.equal(body.error.code, code, r.body);
  assert.equal(typeof body.error.message, "string");
  assert.ok(!r.body.includes(root) && !/\bat .*\.js:\d+/.test(r.body) && !r.body.includes("/tmp/"), `internal details leaked: ${r.body}`);
}

before(async () => {
  fx = await servedFixture(root);
  engine = await Engine.start({ indexes: [{ name: "cacm", dir: fx.index }], workers: 1, batching: { windowMs: 50 } });
});
after(async () => {
  for (const a of apps) await a.close();
  await engine.close();
});

describe("read routes", () => {
  test("health, index list and info; unknown index is 404", async () => {
    const app = server();
    const h = await app.inject({ method: "GET", url: "/health" });
    assert.equal(h.statusCode, 200);
    assert.deepEqual(json(h), { status: "ok" });
    const list = json<{ indexes: { name: string; liveDocuments: number; dim: number; hasText: boolean; model: string }[] }>(await app.inject({ method: "GET", url: "/indexes" }));
    assert.equal(list.indexes.length, 1);
    assert.equal(list.indexes[0]?.name, "cacm");
    assert.equal(list.indexes[0]?.liveDocuments, fx.docs.length);
    assert.equal(list.indexes[0]?.dim, 32);
    assert.equal(list.indexes[0]?.hasText, true);
    assert.ok(!list.indexes[0]?.model.includes("/"), "model label is not a path");
    const info = await app.inject({ method: "GET", url: "/indexes/cacm" });
    assert.equal(json<{ documents: number }>(info).documents, fx.docs.length);
    assertError(await app.inject({ method: "GET", url: "/indexes/nope" }), 404, "INDEX_NOT_FOUND");
    assertError(await app.inject({ method: "POST", url: "/indexes/nope/search", payload: { query: "x" } }), 404, "INDEX_NOT_FOUND");
    assertError(await app.inject({ method: "POST", url: "/indexes/nope/documents", payload: { documents: [{ id: "a", text: "b" }] } }), 404, "INDEX_NOT_FOUND");
    assertError(await app.inject({ method: "GET", url: "/no/such/route" }), 404, "NOT_FOUND");
  });

  test("OpenAPI document lists every route; docs page and UI are served offline", async () => {
    const app = server();
    const doc = json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(await app.inject({ method: "GET", url: "/openapi.json" }));
    assert.equal(doc.openapi, "3.1.0");
    for (const [p, m] of [
      ["/indexes/{name}/search", "post"],
      ["/rerank", "post"],
      ["/encode", "post"],
      ["/indexes/{name}/documents", "post"],
      ["/indexes/{name}/documents", "delete"],
      ["/indexes", "get"],
      ["/indexes/{name}", "get"],
      ["/health", "get"],
      ["/metrics", "get"],
    ] as const) {
      assert.ok(doc.paths[p]?.[m], `${m} ${p} documented`);
    }
    for (const url of ["/", "/docs", "/ui/app.js", "/ui/style.css", "/ui/docs.js"]) {
      const r = await app.inject({ method: "GET", url });
      assert.equal(r.statusCode, 200, url);
      assert.match(String(r.headers["content-security-policy"]), /default-src 'none'/);
      assert.ok(!r.body.includes("http://") && !r.body.includes("https://"), `${url} loads nothing from elsewhere`);
    }
    assertError(await app.inject({ method: "GET", url: "/ui/../package.json" }), 404, "NOT_FOUND");
  });
});

describe("search", () => {
  test("one text query: k hits, best first, with metadata", async () => {
    const app = server();
    const r = await app.inject({ method: "POST", url: "/indexes/cacm/search", payload: { query: "convergence of iterative methods", k: 5 } });
    assert.equal(r.statusCode, 200, r.body);
    const { results, tookMs } = json<{ results: Hit[][]; tookMs: number }>(r);
    assert.equal(results.length, 1);
    const hits = results[0]!;
    assert.equal(hits.length, 5);
    for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1]!.score >= hits[i]!.score);
    for (const h of hits) assert.equal(typeof h.metadata?.["year"], "number");
    assert.ok(tookMs >= 0);
  });

  test("a batch of queries answers one list per query, equal to asking one by one", async () => {
    const app = server();
    const qs = ["sorting algorithms", "matrix inversion", "compiler for algol"];
    const batch = json<{ results: Hit[][] }>(await app.inject({ method: "POST", url: "/indexes/cacm/search", payload: { queries: qs, k: 4, retriever: "exact" } }));
    assert.equal(batch.results.length, 3);
    for (const [i, q] of qs.entries()) {
      const one = json<{ results: Hit[][] }>(await app.inject({ method: "POST", url: "/indexes/cacm/search", payload: { query: q, k: 4, retriever: "exact" } }));
      assert.deepEqual(one.results[0]!.map((h) => h.id), batch.results[i]!.map((h) => h.id));
    }
  });

  test("every retriever, PLAID parameters and a filter", async () => {
    const app = server();
    for (const retriever of ["plaid", "exact", "bm25", "bm25+rerank", "hybrid"]) {
      const r = await app.inject({ method: "POST", url: "/indexes/cacm/search", payload: { query: "numerical integration", k: 3, retriever } });
      assert.equal(r.statusCode, 200, `${retriever}: ${r.body}`);
      assert.equal(json<{ results: Hit[][] }>(r).results[0]!.length, 3, retriever);
    }
    const wide = await app.inject({ method: "POST", url: "/indexes/cacm/search", payload: { query: "numerical integration", k: 3, params: { ncells: 8, centroidScoreThreshold: 0.1, ndocs: 512 } } });
    assert.equal(wide.statusCode, 200, wide.body);
    const year = fx.docs[0]!.year;
    const filtered = json<{ results: Hit[][] }>(await app.inject({ method: "POST", url: "/indexes/cacm/search", payload: { query: "computation", k: 50, filter: `year = ${year}`, retriever: "exact" } }));
    const expected = fx.docs.filter((d) => d.year === year).length;
    assert.equal(filtered.results[0]!.length, Math.min(50, expected));
    for (const h of filtered.results[0]!) assert.equal(h.metadata?.["year"], year);
  });

  test("pre-encoded query vectors (from /encode) rank like the text query", async () => {
    const app = server();
    const enc = json<{ embeddings: { tokens: number; dim: number; vectors: number[][] }[] }>(await app.inject({ method: "POST", url: "/encode", payload: { texts: ["parallel sorting"] } }));
    const e = enc.embeddings[0]!;
    assert.equal(e.dim, 32);
    assert.equal(e.vectors.length, e.tokens);
    const byText = json<{ results: Hit[][] }>(await app.inject({ method: "POST", url: "/indexes/cacm/search", payload: { query: "parallel sorting", k: 5, retriever: "exact" } }));
    const byVec = json<{ results: Hit[][] }>(await app.inject({ method: "POST", url: "/indexes/cacm/search", payload: { query: { vectors: e.vectors }, k: 5, retriever: "exact" } }));
    assert.deepEqual(byVec.results[0]!.map((h) => h.id), byText.results[0]!.map((h) => h.id));
  });

  test("query vectors too large to score (1e38 per value) are refused, never answered with score null", async () => {
    const app = server();
    const huge = await app.inject({ method: "POST", url: "/indexes/cacm/search", payload: { query: { vectors: [Array(32).fill(1e38)] }, k: 3, retriever: "exact" } });
    assertError(huge, 400, "INPUT_INVALID");
    assert.match(json<ErrorBody>(huge).error.message, /query vector 0 has norm .*at most 1000000/);
    assert.ok(!huge.body.includes("null"));
    // Unnormalised but sane rows are fine, and every score is a number.
    const r = await app.inject({ method: "POST", url: "/indexes/cacm/search", payload: { query: { vectors: [Array(32).fill(100)] }, k: 3, retriever: "exact" } });
    assert.equal(r.statusCode, 200, r.body);
    for (const h of json<{ results: Hit[][] }>(r).results[0]!) assert.ok(Number.isFinite(h.score), r.body);
  });

  test("explain with the bm25 retriever is an error, not silently ignored", async () => {
    const app = server();
    const r = await app.inject({ method: "POST", url: "/indexes/cacm/search", payload: { query: "parallel", k: 2, retriever: "bm25", explain: true } });
    assertError(r, 400, "INPUT_INVALID");
    assert.match(json<ErrorBody>(r).error.message, /bm25 retriever does not use/);
    const rerank = await app.inject({ method: "POST", url: "/indexes/cacm/search", payload: { query: "parallel", k: 2, retriever: "bm25+rerank", explain: true } });
    assert.equal(rerank.statusCode, 200, rerank.body);
    assert.ok(json<{ results: Hit[][] }>(rerank).results[0]!.every((h) => Array.isArray(h.explanation)));
  });

  test("messages echo what the caller sent (an index name, a field path) instead of scrubbing it to <path>", async () => {
    const app = server();
    const r = await app.inject({ method: "POST", url: "/indexes/..%2F..%2Fetc%2Fpasswd/search", payload: { query: "x" } });
    assertError(r, 404, "INDEX_NOT_FOUND");
    assert.match(json<ErrorBody>(r).error.message, /no index named "\.\.\/\.\.\/etc\/passwd"/);
    const v = await app.inject({ method: "POST", url: "/indexes/cacm/documents", payload: { documents: [{ id: 1, text: "x" }] } });
    assertError(v, 400, "INPUT_INVALID");
    assert.equal(json<ErrorBody>(v).error.message, "body/documents/0/id must be string");
  });

  test("explain: one match per query token, positions within the document's tokens, similarities summing to the score", async () => {
    const app = server();
    const r = json<{ results: Hit[][] }>(await app.inject({ method: "POST", url: "/indexes/cacm/search", payload: { query: "iterative convergence", k: 2, retriever: "exact", explain: true } }));
    for (const h of r.results[0]!) {
      assert.ok(h.explanation && h.explanation.length > 0);
      assert.ok(h.documentTokens && h.documentTokens.length > 0);
      assert.equal(typeof h.text, "string");
      for (const m of h.explanation) {
        assert.ok(m.documentPosition >= 0 && m.documentPosition < h.documentTokens.length);
        assert.equal(m.documentToken, h.documentTokens[m.documentPosition]);
      }
      // The explanation re-encodes the stored text (full-precision vectors), so its similarities
      // sum to the exact MaxSim /rerank computes, not to the index's score over compressed vectors.
      const sum = h.explanation.reduce((a, m) => a + m.similarity, 0);
      const rr = json<{ hits: { score: number }[] }>(await app.inject({ method: "POST", url: "/rerank", payload: { query: "iterative convergence", documents: [h.text] } }));
      assert.ok(Math.abs(sum - rr.hits[0]!.score) < 1e-3, `sum ${sum} vs exact MaxSim ${rr.hits[0]!.score}`);
    }
  });
});

describe("model routes", () => {
  test("rerank orders given texts by MaxSim; k cuts", async () => {
    const app = server();
    const docs = fx.docs.slice(0, 6).map((d) => ({ id: d.id, text: d.text }));
    const r = json<{ hits: { id: string; score: number; index: number }[] }>(await app.inject({ method: "POST", url: "/rerank", payload: { query: docs[3]!.text, documents: docs, k: 4 } }));
    assert.equal(r.hits.length, 4);
    for (let i = 1; i < r.hits.length; i++) assert.ok(r.hits[i - 1]!.score >= r.hits[i]!.score);
    const plain = json<{ hits: { id: string }[] }>(await app.inject({ method: "POST", url: "/rerank", payload: { query: "x", documents: ["a b", "c d"] } }));
    assert.deepEqual(plain.hits.map((h) => h.id).sort(), ["0", "1"]);
  });

  test("concurrent encode requests are micro-batched into fewer worker tasks", async () => {
    const app = server();
    const before = engine.encodeBatches.batches;
    const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => app.inject({ method: "POST", url: "/encode", payload: { texts: [`text number ${i}`], kind: "document" } })));
    for (const r of rs) assert.equal(r.statusCode, 200, r.body);
    const sent = engine.encodeBatches.batches - before;
    assert.ok(sent >= 1 && sent < 8, `8 requests went out as ${sent} batches`);
  });
});

describe("auth", () => {
  test("off: every route answers without a token", async () => {
    const app = server({ token: null });
    assert.equal((await app.inject({ method: "GET", url: "/indexes" })).statusCode, 200);
  });

  test("on: bearer token required everywhere but /health and the static UI files", async () => {
    const app = server({ token: "s3cret-token" });
    for (const [method, url, payload] of [
      ["GET", "/indexes", undefined],
      ["GET", "/indexes/cacm", undefined],
      ["POST", "/indexes/cacm/search", { query: "x" }],
      ["POST", "/encode", { texts: ["x"] }],
      ["POST", "/rerank", { query: "x", documents: ["y"] }],
      ["POST", "/indexes/cacm/documents", { documents: [{ id: "z", text: "z" }] }],
      ["DELETE", "/indexes/cacm/documents", { ids: ["z"] }],
      ["GET", "/metrics", undefined],
      ["GET", "/openapi.json", undefined],
    ] as const) {
      const none = await app.inject({ method, url, ...(payload ? { payload } : {}) });
      assertError(none, 401, "UNAUTHORIZED");
      assert.match(String(none.headers["www-authenticate"]), /Bearer/);
      assertError(await app.inject({ method, url, headers: { authorization: "Bearer s3cret-tokeN" }, ...(payload ? { payload } : {}) }), 401, "UNAUTHORIZED");
      assertError(await app.inject({ method, url, headers: { authorization: "Basic s3cret-token" }, ...(payload ? { payload } : {}) }), 401, "UNAUTHORIZED");
    }
    const ok = await app.inject({ method: "GET", url: "/indexes", headers: { authorization: "Bearer s3cret-token" } });
    assert.equal(ok.statusCode, 200);
    assert.equal((await app.inject({ method: "GET", url: "/health" })).statusCode, 200);
    assert.equal((await app.inject({ method: "GET", url: "/" })).statusCode, 200);
    const doc = json<{ paths: Record<string, Record<string, { security?: unknown }>> }>(await app.inject({ method: "GET", url: "/openapi.json", headers: { authorization: "Bearer s3cret-token" } }));
    assert.ok(doc.paths["/indexes"]?.["get"]?.security, "OpenAPI declares the bearer scheme");
  });
});

const search = (app: FastifyInstance, payload: unknown): Promise<LightMyRequestResponse> =>
  app.inject({ method: "POST", url: "/indexes/cacm/search", payload: payload as Record<string, unknown> });

describe("validation and limits", () => {

  test("every malformed search body is a 400 (or 413 over a limit) with a stable code", async () => {
    const app = server({ limits: { batch: 3, textChars: 50, k: 20 } });
    const cases: [unknown, number, string][] = [
      [{}, 400, "INPUT_INVALID"],
      [{ query: "a", queries: ["b"] }, 400, "INPUT_INVALID"],
      [{ query: 5 }, 400, "INPUT_INVALID"],
      [{ query: "a", k: 0 }, 400, "INPUT_INVALID"],
      [{ query: "a", k: 21 }, 400, "INPUT_INVALID"],
      [{ query: "a", k: "5" }, 400, "INPUT_INVALID"],
      [{ query: "a", k: 2.5 }, 400, "INPUT_INVALID"],
      [{ query: "a", retriever: "magic" }, 400, "INPUT_INVALID"],
      [{ query: "a", unknownField: 1 }, 400, "INPUT_INVALID"],
      [{ query: "a", params: { ncells: 0 } }, 400, "INPUT_INVALID"],
      [{ query: "a", params: { bogus: 1 } }, 400, "INPUT_INVALID"],
      [{ query: "a", explain: "yes" }, 400, "INPUT_INVALID"],
      [{ queries: [] }, 400, "INPUT_INVALID"],
      [{ query: { vectors: [] } }, 400, "INPUT_INVALID"],
      [{ query: { vectors: [[1, 2, 3]] } }, 400, "DIM_UNSUPPORTED"],
      [{ query: { vectors: [Array(32).fill(0.1)] }, explain: true }, 400, "INPUT_INVALID"],
      [{ query: "a", filter: "year >>> 3" }, 400, "FILTER_INVALID"],
      [{ queries: ["a", "b", "c", "d"] }, 413, "LIMIT_EXCEEDED"],
      [{ query: "x".repeat(51) }, 413, "LIMIT_EXCEEDED"],
    ];
    for (const [payload, status, code] of cases) assertError(await search(app, payload), status, code);
  });

  test("body problems: not JSON, empty, wrong type, too large", async () => {
    const app = server({ limits: { bodyBytes: 2048 } });
    assertError(await app.inject({ method: "POST", url: "/indexes/cacm/search", headers: { "content-type": "application/json" }, payload: "{not json" }), 400, "INPUT_INVALID");
    assertError(await app.inject({ method: "POST", url: "/indexes/cacm/search", headers: { "content-type": "application/json" }, payload: "" }), 400, "INPUT_INVALID");
    assertError(await app.inject({ method: "POST", url: "/indexes/cacm/search", headers: { "content-type": "text/plain" }, payload: "query" }), 415, "UNSUPPORTED_MEDIA_TYPE");
    assertError(await search(app, { query: "y".repeat(5000) }), 413, "LIMIT_EXCEEDED");
  });

  test("other routes validate their bodies", async () => {
    const app = server({ limits: { batch: 2, documents: 2, textChars: 100 } });
    const cases: [string, string, unknown, number, string][] = [
      ["POST", "/encode", {}, 400, "INPUT_INVALID"],
      ["POST", "/encode", { texts: [] }, 400, "INPUT_INVALID"],
      ["POST", "/encode", { texts: [1] }, 400, "INPUT_INVALID"],
      ["POST", "/encode", { texts: ["a"], kind: "passage" }, 400, "INPUT_INVALID"],
      ["POST", "/encode", { texts: ["a", "b", "c"] }, 413, "LIMIT_EXCEEDED"],
      ["POST", "/encode", { texts: ["a"], index: "nope" }, 404, "INDEX_NOT_FOUND"],
      ["POST", "/rerank", { query: "a" }, 400, "INPUT_INVALID"],
      ["POST", "/rerank", { query: "a", documents: [{ id: "x" }] }, 400, "INPUT_INVALID"],
      ["POST", "/rerank", { query: "a", documents: ["1", "2", "3"] }, 413, "LIMIT_EXCEEDED"],
      ["POST", "/indexes/cacm/documents", {}, 400, "INPUT_INVALID"],
      ["POST", "/indexes/cacm/documents", { documents: [{ id: "a" }] }, 400, "INPUT_INVALID"],
      ["POST", "/indexes/cacm/documents", { documents: [{ id: "", text: "t" }] }, 400, "INPUT_INVALID"],
      ["POST", "/indexes/cacm/documents", { documents: [{ id: "a", text: "t" }, { id: "a", text: "u" }] }, 400, "INPUT_INVALID"],
      ["POST", "/indexes/cacm/documents", { documents: [{ id: fx.docs[0]!.id, text: "already there" }] }, 400, "INPUT_INVALID"],
      ["POST", "/indexes/cacm/documents", { documents: [{ id: "a", text: "x".repeat(101) }] }, 413, "LIMIT_EXCEEDED"],
      ["DELETE", "/indexes/cacm/documents", {}, 400, "INPUT_INVALID"],
      ["DELETE", "/indexes/cacm/documents", { ids: [] }, 400, "INPUT_INVALID"],
      ["DELETE", "/indexes/cacm/documents", { ids: ["a", "b", "c"] }, 413, "LIMIT_EXCEEDED"],
    ];
    for (const [method, url, payload, status, code] of cases) {
      const r = await app.inject({ method: method as "POST", url, payload: payload as Record<string, unknown> });
      assertError(r, status, code);
    }
  });

  test("a full queue answers 503 with Retry-After; the admitted requests succeed", async () => {
    const app = server({ gate: { maxInflight: 1 } });
    const rs = await Promise.all(Array.from({ length: 4 }, () => search(app, { query: "queue", k: 3 })));
    const ok = rs.filter((r) => r.statusCode === 200);
    const busy = rs.filter((r) => r.statusCode === 503);
    assert.ok(ok.length >= 1 && busy.length >= 1, rs.map((r) => r.statusCode).join(","));
    for (const r of busy) {
      assertError(r, 503, "QUEUE_FULL");
      assert.equal(r.headers["retry-after"], "1");
    }
  });

  test("a request past its timeout answers 504", async () => {
    const app = server({ gate: { timeoutMs: 1 } });
    assertError(await search(app, { queries: ["one", "two", "three"], k: 10, retriever: "exact", explain: true }), 504, "TIMEOUT");
  });
});

describe("writes", () => {
  test("added documents are searchable at once; deleted ones disappear; generation moves", async () => {
    const app = server();
    const gen0 = json<{ generation: number }>(await app.inject({ method: "GET", url: "/indexes/cacm" })).generation;
    const add = await app.inject({ method: "POST", url: "/indexes/cacm/documents", payload: { documents: [{ id: "new-1", text: "quantum chromodynamics lattice simulation", metadata: { year: 2030 } }, { id: "new-2", text: "gardening with tomatoes" }] } });
    assert.equal(add.statusCode, 200, add.body);
    assert.equal(json<{ added: number; generation: number }>(add).added, 2);
    const info = json<{ generation: number; liveDocuments: number }>(await app.inject({ method: "GET", url: "/indexes/cacm" }));
    assert.equal(info.generation, gen0 + 1);
    assert.equal(info.liveDocuments, fx.docs.length + 2);
    const found = json<{ results: Hit[][] }>(await search(app, { query: "lattice", k: 5, filter: "year = 2030", retriever: "exact" }));
    assert.deepEqual(found.results[0]!.map((h) => h.id), ["new-1"]);
    const del = await app.inject({ method: "DELETE", url: "/indexes/cacm/documents", payload: { ids: ["new-1", "new-2", "never-was"] } });
    assert.equal(del.statusCode, 200, del.body);
    const d = json<{ deleted: string[]; missing: string[]; generation: number }>(del);
    assert.deepEqual(d.deleted, ["new-1", "new-2"]);
    assert.deepEqual(d.missing, ["never-was"]);
    const gone = json<{ results: Hit[][] }>(await search(app, { query: "lattice", k: 5, filter: "year = 2030", retriever: "exact" }));
    assert.deepEqual(gone.results[0], []);
  });

  test("a metadata number beyond a double (1e400) is refused by its place in the body, before encoding", async () => {
    const app = server();
    const before = json<{ generation: number }>(await app.inject({ method: "GET", url: "/indexes/cacm" })).generation;
    const payload = '{"documents":[{"id":"m1","text":"a"},{"id":"m2","text":"b","metadata":{"year":1,"tags":[2,-1e400]}}]}';
    const r = await app.inject({ method: "POST", url: "/indexes/cacm/documents", payload, headers: { "content-type": "application/json" } });
    assertError(r, 400, "INPUT_INVALID");
    assert.equal(json<ErrorBody>(r).error.message, "documents[1].metadata.tags[1] is a number beyond the range of a double; send it as a string");
    assert.equal(json<{ generation: number }>(await app.inject({ method: "GET", url: "/indexes/cacm" })).generation, before, "nothing written");
  });

  test("an id given twice in one DELETE is deleted once and reported once", async () => {
    const app = server();
    const add = await app.inject({ method: "POST", url: "/indexes/cacm/documents", payload: { documents: [{ id: "w1", text: "twice deleted" }] } });
    assert.equal(add.statusCode, 200, add.body);
    const del = await app.inject({ method: "DELETE", url: "/indexes/cacm/documents", payload: { ids: ["w1", "w1", "gone", "gone"] } });
    assert.equal(del.statusCode, 200, del.body);
    const d = json<{ deleted: string[]; missing: string[] }>(del);
    assert.deepEqual([d.deleted, d.missing], [["w1"], ["gone"]]);
  });
});

describe("CORS and metrics", () => {
  test("CORS is off unless an origin is configured", async () => {
    const off = await server().inject({ method: "GET", url: "/indexes", headers: { origin: "https://evil.example" } });
    assert.equal(off.headers["access-control-allow-origin"], undefined);
    const app = server({ corsOrigin: "https://app.example" });
    const on = await app.inject({ method: "GET", url: "/indexes", headers: { origin: "https://app.example" } });
    assert.equal(on.headers["access-control-allow-origin"], "https://app.example");
    const other = await app.inject({ method: "GET", url: "/indexes", headers: { origin: "https://evil.example" } });
    assert.equal(other.headers["access-control-allow-origin"], undefined);
    const pre = await app.inject({ method: "OPTIONS", url: "/indexes/cacm/search", headers: { origin: "https://app.example", "access-control-request-method": "POST" } });
    assert.equal(pre.statusCode, 204);
    assert.match(String(pre.headers["access-control-allow-headers"]), /authorization/);
  });

  test("/metrics: request counters by route pattern, latency histogram, queue depth, index sizes", async () => {
    const app = server();
    await search(app, { query: "metrics", k: 2 });
    await app.inject({ method: "GET", url: "/indexes/nope" });
    const r = await app.inject({ method: "GET", url: "/metrics" });
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers["content-type"]), /text\/plain/);
    assert.match(r.body, /colts_http_requests_total\{method="POST",route="\/indexes\/:name\/search",status="200"\} 1/);
    assert.match(r.body, /colts_http_requests_total\{method="GET",route="\/indexes\/:name",status="404"\} 1/);
    assert.match(r.body, /colts_http_request_duration_seconds_bucket\{route="\/indexes\/:name\/search",le="\+Inf"\} 1/);
    assert.match(r.body, /^colts_queue_depth \d+$/m);
    assert.match(r.body, /^colts_index_live_documents\{index="cacm"\} \d+$/m);
    assert.match(r.body, /^colts_index_vectors\{index="cacm"\} [1-9]\d*$/m);
  });
});
