/**
 * Keeps the layering of docs/ARCHITECTURE.md: every import points to the same layer or one below it,
 * onnxruntime-node is imported by the runtime layer alone, there are no import circles (type-only
 * imports included), the library never imports the server, the CLI or the test-model generators, and
 * no source file imports a public entry (entries re-export; importing them invites circles).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { circles, readImportGraph, type SourceFile } from "../helpers/import-graph.js";

/** Layers bottom up; a file may import files of its own layer or lower ones. Keep in step with docs/ARCHITECTURE.md. */
const LAYERS: readonly (readonly string[])[] = [
  ["errors.ts", "util/"],
  ["store/", "workers/", "text/"],
  ["runtime/"],
  ["model/", "bm25/", "metadata/", "eval/", "corpus/", "muvera/"],
  ["encode/"],
  ["plaid/"],
  ["pg/"],
  ["location/"],
  ["search/", "train/"],
  ["langchain/", "llamaindex/"],
  ["testing/"],
  ["server/"],
  ["mcp/"],
  ["cli/"],
];

/** Public entries: the root and one per subpath export. */
function isEntry(file: string): boolean {
  return file === "index.ts" || /^[a-z0-9-]+\/index\.ts$/.test(file);
}

function layerOf(file: string): number {
  const i = LAYERS.findIndex((prefixes) => prefixes.some((p) => (p.endsWith("/") ? file.startsWith(p) : file === p)));
  if (i < 0) throw new Error(`${file} belongs to no layer: add its folder to LAYERS and docs/ARCHITECTURE.md`);
  return i;
}

const graph: SourceFile[] = readImportGraph();
const library = graph.filter((f) => !isEntry(f.file));

test("the import graph is read (a broken reader would make every rule below pass)", () => {
  assert.ok(graph.length > 100);
  const encoder = graph.find((f) => f.file === "encode/encoder.ts");
  assert.ok(encoder?.local.includes("runtime/session.ts"));
});

test("every source file belongs to a layer, and imports only its own layer or lower ones", () => {
  const upward: string[] = [];
  for (const f of library) {
    for (const to of f.local) if (layerOf(to) > layerOf(f.file)) upward.push(`${f.file} -> ${to}`);
  }
  assert.deepEqual(upward, []);
});

test("onnxruntime-node is imported by the runtime layer only", () => {
  const outside = graph.filter((f) => f.packages.includes("onnxruntime-node") && !f.file.startsWith("runtime/")).map((f) => f.file);
  assert.deepEqual(outside, []);
  assert.ok(graph.some((f) => f.packages.includes("onnxruntime-node")), "the runtime layer imports it");
});

test("pg (node-postgres) is imported by the pg layer only", () => {
  const outside = graph.filter((f) => f.packages.includes("pg") && !f.file.startsWith("pg/")).map((f) => f.file);
  assert.deepEqual(outside, []);
  assert.ok(graph.some((f) => f.packages.includes("pg")), "the pg layer imports it");
});

test("tfjs is no part of the library: no source file imports @tensorflow (the tests keep it as a reference)", () => {
  const importers = graph.filter((f) => f.packages.some((p) => p.startsWith("@tensorflow/"))).map((f) => f.file);
  assert.deepEqual(importers, []);
});

test("no import circles, type-only imports included", () => {
  assert.deepEqual(circles(graph), []);
});

test("library layers import neither the server, the CLI nor the test-model generators", () => {
  const bad: string[] = [];
  for (const f of library) {
    for (const to of f.local) {
      if (to.startsWith("cli/") && !f.file.startsWith("cli/")) bad.push(`${f.file} -> ${to}`);
      // The front ends (server/, mcp/, cli/) may use the server's engine and request rules.
      if (to.startsWith("server/") && !["server/", "mcp/", "cli/"].some((p) => f.file.startsWith(p))) bad.push(`${f.file} -> ${to}`);
      if (to.startsWith("testing/") && !f.file.startsWith("testing/") && !f.file.startsWith("cli/")) bad.push(`${f.file} -> ${to}`);
    }
  }
  assert.deepEqual(bad, []);
});

test("no source file imports a public entry; an entry re-exports from its own folder only", () => {
  const bad: string[] = [];
  for (const f of graph) {
    for (const to of f.local) if (isEntry(to)) bad.push(`${f.file} -> ${to}`);
    if (isEntry(f.file) && f.file !== "index.ts") {
      const folder = f.file.slice(0, f.file.indexOf("/") + 1);
      for (const to of f.local) if (!to.startsWith(folder)) bad.push(`${f.file} -> ${to}`);
    }
  }
  assert.deepEqual(bad, []);
});

test("corpus/ imports only errors.ts, util/ and store/ (besides itself)", () => {
  const allowed = (to: string): boolean => to === "errors.ts" || ["util/", "store/", "corpus/"].some((p) => to.startsWith(p));
  const bad = library.filter((f) => f.file.startsWith("corpus/")).flatMap((f) => f.local.filter((to) => !allowed(to)).map((to) => `${f.file} -> ${to}`));
  assert.deepEqual(bad, []);
  assert.ok(library.some((f) => f.file === "corpus/reader.ts"), "the corpus reader is in the graph");
});

test("muvera/ imports only errors.ts and util/ (besides itself) and no package", () => {
  const allowed = (to: string): boolean => to === "errors.ts" || ["util/", "muvera/"].some((p) => to.startsWith(p));
  const files = library.filter((f) => f.file.startsWith("muvera/"));
  const bad = files.flatMap((f) => [...f.local.filter((to) => !allowed(to)), ...f.packages].map((to) => `${f.file} -> ${to}`));
  assert.deepEqual(bad, []);
  assert.ok(files.some((f) => f.file === "muvera/fde.ts"), "the FDE encoder is in the graph");
});

test("the rules catch what they are meant to (a made-up upward import and a circle)", () => {
  const fake: SourceFile[] = [
    { file: "model/a.ts", local: ["plaid/b.ts"], packages: [] },
    { file: "plaid/b.ts", local: ["model/a.ts"], packages: [] },
  ];
  assert.ok(layerOf("plaid/b.ts") > layerOf("model/a.ts"));
  assert.deepEqual(circles(fake), [["model/a.ts", "plaid/b.ts"]]);
});
