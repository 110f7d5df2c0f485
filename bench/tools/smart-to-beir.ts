/**
 * Converts a SMART test collection from ../shared/datasets into a BEIR folder (corpus.jsonl,
 * queries.jsonl, qrels/test.tsv) and checks the result against the collection's README.
 *
 *   node dist/bench/tools/smart-to-beir.js cacm|cisi|cranfield <outDir>
 *
 * Exit status: 0 converted and all checks pass, 1 a check failed or the data is missing, 2 usage.
 */
import fs from "node:fs";
import path from "node:path";
import { writeBeir } from "../../src/eval/io.js";
import type { BeirDoc, BeirQuery, Qrels } from "../../src/eval/types.js";
import { COLLECTIONS, parseSmart, smartDocs, smartQueries, type SmartCollection } from "./smart.js";
import { REPO_ROOT } from "./paths.js";


interface Check {
  what: string;
  ok: boolean;
  detail: string;
}

function checks(c: SmartCollection, docs: BeirDoc[], queries: BeirQuery[], qrels: Qrels, qrelsSourceLines: number): Check[] {
  const docIds = new Set(docs.map((d) => d.id));
  const queryIds = new Set(queries.map((q) => q.id));
  const pairs = [...qrels.values()].reduce((n, m) => n + m.size, 0);
  const unknownQueries = [...qrels.keys()].filter((q) => !queryIds.has(q));
  const unknownDocs = [...qrels.values()].flatMap((m) => [...m.keys()]).filter((d) => !docIds.has(d));
  const eq = (what: string, got: number, want: number): Check => ({ what, ok: got === want, detail: `${got} (README: ${want})` });
  return [
    eq("documents", docs.length, c.expected.docs),
    eq("queries", queries.length, c.expected.queries),
    eq("queries with judgments", qrels.size, c.expected.judgedQueries),
    { what: "qrels lines", ok: pairs === qrelsSourceLines, detail: `${pairs} (source ${c.qrelsFile}: ${qrelsSourceLines} lines)` },
    { what: "judged queries exist", ok: unknownQueries.length === 0, detail: unknownQueries.length ? `missing: ${unknownQueries.slice(0, 5).join(", ")}` : "all" },
    { what: "judged documents exist", ok: unknownDocs.length === 0, detail: unknownDocs.length ? `missing: ${unknownDocs.slice(0, 5).join(", ")}` : "all" },
  ];
}

function gradeHistogram(qrels: Qrels): string {
  const h = new Map<number, number>();
  for (const m of qrels.values()) for (const g of m.values()) h.set(g, (h.get(g) ?? 0) + 1);
  return [...h].sort((a, b) => b[0] - a[0]).map(([g, n]) => `${g}:${n}`).join(" ");
}

async function main(argv: string[]): Promise<number> {
  const [name, outDir] = argv;
  const c = name !== undefined && Object.hasOwn(COLLECTIONS, name) ? COLLECTIONS[name as SmartCollection["name"]] : undefined;
  if (!c || outDir === undefined || argv.length !== 2) {
    console.error("usage: node dist/bench/tools/smart-to-beir.js cacm|cisi|cranfield <outDir>");
    return 2;
  }
  const dataDir = path.resolve(REPO_ROOT, "..", "shared", "datasets", c.folder);
  if (!fs.existsSync(dataDir)) {
    console.error(`${dataDir} is absent: the SMART collections are read from ../shared/datasets beside the checkout; nothing converted.`);
    return 1;
  }
  const read = (f: string): string => fs.readFileSync(path.join(dataDir, f), "utf8");
  const docs = smartDocs(parseSmart(read(c.docsFile), c.docsFile), c, c.docsFile);
  const queries = smartQueries(parseSmart(read(c.queriesFile), c.queriesFile), c, c.queriesFile);
  const qrelsText = read(c.qrelsFile);
  const qrels = c.parseQrels(qrelsText, c.qrelsFile);
  await writeBeir(outDir, "test", { corpus: docs, queries, qrels });

  const results = checks(c, docs, queries, qrels, qrelsText.split("\n").filter((l) => l.trim() !== "").length);
  console.log(`${c.name}: ${dataDir} -> ${path.resolve(outDir)}`);
  for (const r of results) console.log(`  ${r.ok ? "ok  " : "FAIL"} ${r.what}: ${r.detail}`);
  console.log(`  info documents without .W text: ${docs.filter((d) => d.text === "").length}`);
  console.log(`  info queries with a relevant document: ${[...qrels.values()].filter((m) => [...m.values()].some((g) => g >= 1)).length}`);
  console.log(`  info grades (grade:count): ${gradeHistogram(qrels)}`);
  return results.every((r) => r.ok) ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
