/**
 * `import "colts"` loads the library, not the CLI, the server (fastify) or the training engine (tfjs):
 * checked by loading the built root entry in a child process that reports every module it resolves.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { repoRoot } from "../helpers/paths.js";

function modulesLoadedBy(entry: string): string[] {
  const trace = pathToFileURL(path.join(repoRoot, "dist/test/helpers/load-trace.js")).href;
  const target = pathToFileURL(path.join(repoRoot, entry)).href;
  const r = spawnSync(process.execPath, ["--import", trace, "--input-type=module", "-e", `await import(${JSON.stringify(target)});`], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stderr
    .split("\n")
    .filter((l) => l.startsWith("LOADED "))
    .map((l) => l.slice("LOADED ".length));
}

test("the root entry loads neither the CLI, the server, fastify, the training code nor tfjs", () => {
  const loaded = modulesLoadedBy("dist/src/index.js");
  assert.ok(loaded.some((u) => u.endsWith("/dist/src/encode/colbert.js")), "the trace sees the library's own modules");
  const unwanted = loaded.filter((u) => /\/dist\/src\/(cli|server|train|testing)\//.test(u) || /node_modules\/(fastify|@tensorflow)\//.test(u));
  assert.deepEqual(unwanted, []);
});

test("the trace would see them: colts/cli loads the CLI modules", () => {
  const loaded = modulesLoadedBy("dist/src/cli/index.js");
  assert.ok(loaded.some((u) => u.endsWith("/dist/src/cli/main.js")));
});

test("node-postgres loads on first use of a postgres:// location, not with the root or the CLI entry", () => {
  for (const entry of ["dist/src/index.js", "dist/src/cli/index.js"]) {
    assert.deepEqual(modulesLoadedBy(entry).filter((u) => /node_modules\/pg\//.test(u)), [], entry);
  }
  assert.ok(modulesLoadedBy("dist/src/location/postgres.js").some((u) => /node_modules\/pg\//.test(u)), "the trace would see node-postgres");
});

/** The optional packages of the integrations: loaded only by `colts mcp` and the integration subpaths. */
const OPTIONAL = /node_modules\/(@modelcontextprotocol|@langchain|@llamaindex)\//;

test("neither the root entry nor the CLI entry loads an optional package (the MCP SDK loads when colts mcp runs)", () => {
  for (const entry of ["dist/src/index.js", "dist/src/cli/index.js"]) {
    assert.deepEqual(modulesLoadedBy(entry).filter((u) => OPTIONAL.test(u)), [], entry);
  }
  assert.ok(modulesLoadedBy("dist/src/mcp/server.js").some((u) => /node_modules\/@modelcontextprotocol\/sdk\//.test(u)), "the trace would see the SDK");
});

test("colts/langchain loads @langchain/core (its optional peer) and neither the CLI nor the server", () => {
  const loaded = modulesLoadedBy("dist/src/langchain/index.js");
  assert.ok(loaded.some((u) => /node_modules\/@langchain\/core\//.test(u)));
  assert.deepEqual(loaded.filter((u) => /\/dist\/src\/(cli|server|mcp|train|testing)\//.test(u) || /node_modules\/(fastify|@modelcontextprotocol)\//.test(u)), []);
});

test("colts/llamaindex loads @llamaindex/core (its optional peer) and not LangChain, the CLI or the server", () => {
  const loaded = modulesLoadedBy("dist/src/llamaindex/index.js");
  assert.ok(loaded.some((u) => /node_modules\/@llamaindex\/core\//.test(u)));
  assert.deepEqual(loaded.filter((u) => /\/dist\/src\/(cli|server|mcp|train|testing|langchain)\//.test(u) || /node_modules\/(fastify|@modelcontextprotocol|@langchain)\//.test(u)), []);
});

test("colts/muvera loads its own modules, errors.ts and util/ only: no model runtime, no package", () => {
  const loaded = modulesLoadedBy("dist/src/muvera/index.js").filter((u) => u.startsWith("file:"));
  assert.ok(loaded.some((u) => u.endsWith("/dist/src/muvera/fde.js")), "the trace sees the FDE module");
  assert.deepEqual(loaded.filter((u) => !/\/dist\/src\/(muvera\/|util\/|errors\.js$)/.test(u)), []);
});
