/**
 * `colts mcp` as an MCP client sees it: the real SDK client starts the command as a child process
 * over stdio, lists the tools and resources, and calls them. Hits must equal the Searcher's on the
 * same index; malformed arguments must be protocol errors (the server keeps answering); write tools
 * exist only with --allow-writes.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { Searcher, type ExplainedHit } from "../../src/search/searcher.js";
import { repoRoot, suiteDir } from "../helpers/paths.js";
import { servedFixture, type ServedFixture } from "../helpers/server.js";
import { runCli } from "../helpers/cli.js";

interface Connected {
  client: Client;
  stderr: () => string;
}

/** Starts `colts mcp <args>` as a child process and connects the SDK's client to it. */
async function connect(args: string[]): Promise<Connected> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [path.join(repoRoot, "bin", "colts.js"), "mcp", ...args, "--workers", "1", "--threads", "1"],
    stderr: "pipe",
  });
  let err = "";
  transport.stderr?.on("data", (b: Buffer) => (err += b.toString()));
  const client = new Client({ name: "colts-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, stderr: () => err };
}

/** A tool call's JSON result (the text content), failing the test on an error result. */
async function call(c: Client, name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const r = await c.callTool({ name, arguments: args });
  const content = r.content as { type: string; text: string }[];
  assert.notEqual(r.isError, true, content[0]?.text);
  const parsed = JSON.parse(content[0]?.text ?? "") as Record<string, unknown>;
  assert.deepEqual(r.structuredContent, parsed, "structured and text content agree");
  return parsed;
}

/** The protocol error a call is rejected with. */
async function protocolError(c: Client, name: string, args: Record<string, unknown>): Promise<McpError> {
  try {
    await c.callTool({ name, arguments: args });
  } catch (e) {
    assert.ok(e instanceof McpError, String(e));
    return e;
  }
  assert.fail(`${name} ${JSON.stringify(args).slice(0, 80)} was accepted`);
}

type McpHits = { id: string; score: number; metadata: Record<string, unknown> | null; snippet?: string }[];

describe("colts mcp over stdio (read-only)", () => {
  const root = suiteDir();
  let fx: ServedFixture;
  let searcher: Searcher;
  let server: Connected;

  before(async () => {
    fx = await servedFixture(root, 40);
    searcher = await Searcher.open(fx.index, { workers: 0 });
    server = await connect([`cacm=${fx.index}`]);
  });
  after(async () => {
    await server?.client.close();
    await searcher?.close();
  });

  test("tools are search and explain, without add and delete; each declares its argument schema", async () => {
    const { tools } = await server.client.listTools();
    assert.deepEqual(tools.map((t) => t.name), ["search", "explain"]);
    const search = tools[0];
    assert.deepEqual(search?.inputSchema.required, ["query"]);
    assert.deepEqual(Object.keys(search?.inputSchema.properties ?? {}).sort(), ["depth", "filter", "ids", "index", "k", "params", "query", "retriever"]);
    assert.deepEqual((search?.inputSchema.properties?.["k"] as { maximum: number }).maximum, 1000, "the HTTP server's limit");
    assert.match(server.stderr(), /colts mcp: serving cacm over stdio \(read-only\)/);
  });

  test("search gives the Searcher's hits (ids, order, scores, metadata) with snippets of the stored text", async () => {
    for (const [query, options] of [
      ["computer programs for sorting", { k: 5 }],
      ["algebraic language compiler", { k: 7, retriever: "hybrid" as const, filter: "year >= 1960" }],
      ["matrix inversion", { k: 4, retriever: "exact" as const, params: { ncells: 2 } }],
      ["matrix inversion", { k: 4, retriever: "bm25" as const }],
    ] as const) {
      const got = (await call(server.client, "search", { query, ...options })).results as McpHits;
      const [want = []] = await searcher.search([query], { ...options, withText: true });
      assert.ok(want.length > 0, query);
      assert.deepEqual(got.map((h) => h.id), want.map((h) => h.id), `${query} ${JSON.stringify(options)}`);
      got.forEach((h, i) => {
        const w = want[i] as ExplainedHit;
        assert.ok(Math.abs(h.score - w.score) < 1e-5, `${h.id}: ${h.score} vs ${w.score}`);
        assert.deepEqual(h.metadata, w.metadata);
        const text = w.text ?? "";
        assert.equal(h.snippet, text.length > 300 ? `${text.slice(0, 300)}...` : text);
      });
      if ("filter" in options) assert.ok(got.every((h) => (h.metadata?.["year"] as number) >= 1960));
    }
  });

  test("search answers like `colts search --json` on the same index", async () => {
    const cli = await runCli(["search", fx.index, "numerical integration", "-k", "6", "--json", "--workers", "0"], root);
    assert.equal(cli.code, 0, cli.stderr);
    const want = JSON.parse(cli.stdout) as ExplainedHit[];
    const got = (await call(server.client, "search", { query: "numerical integration", k: 6, index: "cacm" })).results as McpHits;
    assert.deepEqual(got.map((h) => h.id), want.map((h) => h.id));
  });

  test("explain gives a hit's exact score and, per query token, the matched document token (their sum is the score up to compression)", async () => {
    const [[top] = []] = await searcher.search(["computer programs for sorting"], { k: 1, retriever: "exact" });
    assert.ok(top);
    const got = await call(server.client, "explain", { query: "computer programs for sorting", id: top.id });
    assert.equal(got["id"], top.id);
    assert.ok(Math.abs((got["score"] as number) - top.score) < 1e-5);
    const explanation = got["explanation"] as { queryToken: string; documentToken: string; similarity: number; documentPosition: number }[];
    const [[want] = []] = await searcher.search(["computer programs for sorting"], { k: 1, retriever: "exact", ids: [top.id], explain: true });
    assert.deepEqual(explanation, want?.explanation);
    // The matches come from the freshly encoded text, the score from the index's compressed vectors:
    // their sum is the score up to the codec's error (a few percent at this index's bits).
    const sum = explanation.reduce((a, m) => a + m.similarity, 0);
    assert.ok(Math.abs(sum - top.score) < 0.1 * top.score, `${sum} vs ${top.score}`);
    const tokens = got["documentTokens"] as string[];
    for (const m of explanation) assert.equal(tokens[m.documentPosition], m.documentToken);
    const missing = await server.client.callTool({ name: "explain", arguments: { query: "x", id: "no-such-doc" } });
    assert.equal(missing.isError, true);
    assert.equal((JSON.parse((missing.content as { text: string }[])[0]?.text ?? "") as { error: { code: string } }).error.code, "NOT_FOUND");
  });

  test("malformed arguments are protocol errors with the HTTP API's codes; the server keeps answering", async () => {
    const noQuery = await protocolError(server.client, "search", { k: 3 });
    assert.equal(noQuery.code, -32602);
    assert.match(noQuery.message, /query/);
    assert.deepEqual(noQuery.data, { code: "INPUT_INVALID" });
    assert.equal((await protocolError(server.client, "search", { query: "x", k: "many" })).code, -32602);
    assert.equal((await protocolError(server.client, "search", { query: "x", k: 1001 })).code, -32602);
    assert.equal((await protocolError(server.client, "search", { query: "x", retriever: "magic" })).code, -32602);
    assert.equal((await protocolError(server.client, "search", { query: "x", colour: "red" })).code, -32602);
    const long = await protocolError(server.client, "search", { query: "a".repeat(8193) });
    assert.deepEqual(long.data, { code: "LIMIT_EXCEEDED" });
    assert.match((await protocolError(server.client, "add", { documents: [{ id: "x", text: "y" }] })).message, /no tool named "add"/);
    assert.equal((await protocolError(server.client, "delete", { ids: ["x"] })).code, -32602);
    const badFilter = await server.client.callTool({ name: "search", arguments: { query: "x", filter: "year >>> 3" } });
    assert.equal(badFilter.isError, true);
    assert.equal((JSON.parse((badFilter.content as { text: string }[])[0]?.text ?? "") as { error: { code: string } }).error.code, "FILTER_INVALID");
    const unknownIndex = await server.client.callTool({ name: "search", arguments: { query: "x", index: "nope" } });
    assert.match((unknownIndex.content as { text: string }[])[0]?.text ?? "", /INDEX_NOT_FOUND/);
    const after = (await call(server.client, "search", { query: "sorting", k: 2 })).results as McpHits;
    assert.equal(after.length, 2);
  });

  test("each index is a resource holding its statistics", async () => {
    const { resources } = await server.client.listResources();
    assert.deepEqual(resources.map((r) => [r.name, r.uri]), [["cacm", "colts://indexes/cacm"]]);
    const read = await server.client.readResource({ uri: "colts://indexes/cacm" });
    const summary = JSON.parse((read.contents[0] as { text: string }).text) as { name: string; liveDocuments: number; hasText: boolean };
    assert.equal(summary.name, "cacm");
    assert.equal(summary.liveDocuments, 40);
    assert.equal(summary.hasText, true);
    await assert.rejects(server.client.readResource({ uri: "colts://indexes/other" }), (e: unknown) => e instanceof McpError && e.code === -32602);
  });
});

describe("colts mcp --allow-writes", () => {
  const root = suiteDir();
  let server: Connected;
  let index: string;

  before(async () => {
    const fx = await servedFixture(root, 20);
    index = path.join(root, "copy");
    fs.cpSync(fx.index, index, { recursive: true });
    server = await connect([`docs=${index}`, "--allow-writes"]);
  });
  after(async () => {
    await server?.client.close();
  });

  test("add and delete are offered, checked like the HTTP API, and searches see their writes", async () => {
    const { tools } = await server.client.listTools();
    assert.deepEqual(tools.map((t) => t.name), ["search", "explain", "add", "delete"]);
    const twice = await server.client.callTool({ name: "add", arguments: { documents: [{ id: "n1", text: "a" }, { id: "n1", text: "b" }] } });
    assert.match((twice.content as { text: string }[])[0]?.text ?? "", /INPUT_INVALID.*appears twice/);
    assert.equal((await protocolError(server.client, "add", { documents: [{ id: "n1" }] })).code, -32602);
    const added = await call(server.client, "add", { documents: [{ id: "zebra-doc", text: "zebra zebra striped zebra savanna", metadata: { year: 2024 } }] });
    assert.equal(added["index"], "docs");
    const hits = (await call(server.client, "search", { query: "zebra savanna", k: 1, retriever: "bm25" })).results as McpHits;
    assert.deepEqual(hits.map((h) => [h.id, h.metadata]), [["zebra-doc", { year: 2024 }]]);
    await call(server.client, "delete", { ids: ["zebra-doc", "zebra-doc"] });
    const gone = (await call(server.client, "search", { query: "zebra savanna", k: 20, retriever: "bm25" })).results as McpHits;
    assert.ok(!gone.some((h) => h.id === "zebra-doc"));
  });
});
