/**
 * PLAID on real collections with a generated model:
 * index build time, bytes per vector, p50/p95 search latency and recall@10 of PLAID against exact
 * MaxSim, both over the original float vectors and over the decompressed ones (`--exact`), next to
 * exhaustive float MaxSim. Same process, same encoded documents; query encoding is timed apart.
 *
 *   npm run build && node dist/bench/plaid-collections.js [--collections scifact,cacm,cisi,cranfield]
 *     [--dim 128] [--nbits 2] [--no-results]
 *
 * The model is `colts model tiny` with bench/tools/collections.ts' MODEL_ARGS and a projection to
 * `--dim` (default 128, the dimension of the bytes-per-vector target and of colbertv2.0).
 * Collections come from ../shared/datasets (skipped, and said so, when absent). A generated model
 * has random weights: recall against exact MaxSim is meaningful (it is what PLAID approximates);
 * nDCG is not reported here (bench/eval-collections.ts does that).
 */
import { execSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ColBERT } from "../src/encode/colbert.js";
import { loadBeir } from "../src/eval/io.js";
import { encodedCorpusSource } from "../src/plaid/corpus.js";
import { PlaidIndex } from "../src/plaid/plaid-index.js";
import { arraySource, type EmbeddedDoc } from "../src/plaid/source.js";
import { buildIndex } from "../src/plaid/writer.js";
import type { PlaidParams } from "../src/plaid/stages.js";
import { SHARED_DATASETS, beirFolder, benchModel, modelArgs } from "./tools/collections.js";
import type { Nbits } from "../src/plaid/bitpack.js";
import { REPO_ROOT } from "./tools/paths.js";
import { floatExhaustive } from "./tools/float-exhaustive.js";
import { stringFlag as flag } from "./tools/args.js";

const OUT = path.join(REPO_ROOT, "bench", "out", "plaid-collections");
const K = 10;
const DIM = Number(flag("--dim", "128"));
const NBITS = Number(flag("--nbits", "2")) as Nbits;

interface Row {
  collection: string;
  system: string;
  p50: number;
  p95: number;
  recallFloat: number;
  recallExact: number | null;
  queries: number;
}

const ms = (t0: number): number => performance.now() - t0;
function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}
const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
const recallAt = (got: readonly string[], truth: readonly string[]): number => {
  const t = new Set(truth.slice(0, K));
  return got.slice(0, K).filter((id) => t.has(id)).length / Math.max(1, Math.min(K, t.size));
};

async function runCollection(name: string, modelDir: string, model: ColBERT): Promise<{ rows: Row[]; facts: string } | null> {
  const dataset = beirFolder(name, OUT);
  if (!dataset) {
    console.log(`${name}: skipped (${SHARED_DATASETS} has no such collection)`);
    return null;
  }
  const { queries } = await loadBeir(dataset, "test", { corpus: false });
  let t0 = performance.now();
  const docs: EmbeddedDoc[] = [];
  for await (const batch of (await encodedCorpusSource(path.join(dataset, "corpus.jsonl"), model, { storeText: false })).batches()) docs.push(...batch);
  const encodeS = ms(t0) / 1000;
  const indexDir = path.join(OUT, `index-${name}`);
  t0 = performance.now();
  await buildIndex(indexDir, arraySource(docs), model.dim, { overwrite: true, model: modelDir, bm25: false, nbits: NBITS });
  const buildS = ms(t0) / 1000;
  const index = await PlaidIndex.open(indexDir);
  const info = index.info();
  t0 = performance.now();
  const encoded = await model.encodeQueries([...queries.values()]);
  const queryEncodeMs = ms(t0) / Math.max(1, encoded.length);
  const rows: Row[] = [];
  try {
    const float = await floatExhaustive(docs, encoded, model.dim, K);
    const exhaustive = { tops: float.tops.map((t) => t.map((i) => (docs[i] as EmbeddedDoc).id)), lat: float.lat };
    rows.push({ collection: name, system: "exhaustive MaxSim, float vectors", p50: percentile(exhaustive.lat, 50), p95: percentile(exhaustive.lat, 95), recallFloat: 1, recallExact: null, queries: encoded.length });
    const search = async (opts: { exact?: boolean; params?: PlaidParams }): Promise<{ ids: string[][]; lat: number[] }> => {
      const ids: string[][] = [];
      const lat: number[] = [];
      for (const q of encoded) {
        const t = performance.now();
        const hits = await index.search({ vectors: q.vectors, tokens: q.tokens, dim: q.dim }, { k: K, ...opts });
        lat.push(ms(t));
        ids.push(hits.map((h) => h.id));
      }
      return { ids, lat };
    };
    await search({}); // warm-up pass: pages and JIT
    const exact = await search({ exact: true });
    const settings: { system: string; opts: { exact?: boolean; params?: PlaidParams } }[] = [
      { system: "colts PLAID, default (k 10: ncells 1, thr 0.5, ndocs 256)", opts: {} },
      { system: "colts PLAID, ndocs 1024", opts: { params: { ndocs: 1024 } } },
    ];
    const row = (system: string, r: { ids: string[][]; lat: number[] }): Row => ({
      collection: name,
      system,
      p50: percentile(r.lat, 50),
      p95: percentile(r.lat, 95),
      recallFloat: mean(r.ids.map((ids, i) => recallAt(ids, exhaustive.tops[i] ?? []))),
      recallExact: mean(r.ids.map((ids, i) => recallAt(ids, exact.ids[i] ?? []))),
      queries: r.ids.length,
    });
    for (const s of settings) rows.push(row(s.system, await search(s.opts)));
    rows.push(row("colts exact: true (decompressed)", exact));
  } finally {
    await index.close();
  }
  const vectors = docs.reduce((a, d) => a + d.n, 0);
  const facts = `| ${name} | ${docs.length} | ${vectors} | ${info.centroids} | ${encodeS.toFixed(1)} | ${buildS.toFixed(1)} | ${info.bytesPerVector.toFixed(2)} | ${queries.size} | ${queryEncodeMs.toFixed(2)} |`;
  return { rows, facts };
}

async function main(): Promise<void> {
  if (!fs.existsSync(SHARED_DATASETS)) {
    console.log(`skipped: ${SHARED_DATASETS} is absent (the collections live in ../shared/datasets)`);
    return;
  }
  const names = flag("--collections", "scifact,cacm,cisi,cranfield").split(",");
  fs.mkdirSync(OUT, { recursive: true });
  const modelDir = await benchModel(path.join(OUT, `model-dim${DIM}`), modelArgs(DIM));
  const model = await ColBERT.load(modelDir);
  const facts: string[] = [];
  const rows: Row[] = [];
  try {
    for (const name of names) {
      const r = await runCollection(name, modelDir, model);
      if (!r) continue;
      facts.push(r.facts);
      rows.push(...r.rows);
      console.log(r.facts);
    }
  } finally {
    await model.close();
  }
  let commit = "unknown";
  try {
    commit = execSync("git rev-parse --short HEAD", { cwd: REPO_ROOT }).toString().trim();
  } catch {
    // not a git checkout
  }
  const fmt = (x: number | null, d: number): string => (x === null ? "" : x.toFixed(d));
  const section = [
    `## PLAID on real collections with a generated model (${new Date().toISOString().slice(0, 10)})`,
    "",
    `- Machine: ${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} cores, Node ${process.version}; commit ${commit}.`,
    `- Command: \`npm run build && node dist/bench/plaid-collections.js --collections ${names.join(",")} --dim ${DIM} --nbits ${NBITS}\``,
    `- Model: \`colts model tiny ${modelArgs(DIM).join(" ")}\` (random weights); nbits ${NBITS}, PLAID's default K; test-split queries.`,
    "- Latency: search only, the query already encoded (encoding is the last column of the first table).",
    "",
    "| collection | documents | vectors | centroids | encode s | build s | B/vector | queries | query encode ms |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...facts,
    "",
    "| collection | system | p50 ms | p95 ms | recall@10 vs float exact | recall@10 vs `--exact` | queries |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((r) => `| ${r.collection} | ${r.system} | ${fmt(r.p50, 2)} | ${fmt(r.p95, 2)} | ${fmt(r.recallFloat, 3)} | ${fmt(r.recallExact, 3)} | ${r.queries} |`),
    "",
  ].join("\n");
  console.log(section);
  if (!process.argv.includes("--no-results")) fs.appendFileSync(path.join(REPO_ROOT, "bench", "RESULTS.md"), `\n${section}`);
}

await main();
