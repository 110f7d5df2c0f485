/**
 * BM25 on SciFact (BEIR test split, 300 queries): effectiveness against Anserini's flat BM25
 * (nDCG@10 0.679) and speed, from `../shared/datasets/scifact-beir/beir-format/` beside the repo.
 *
 *   npx tsc -p . && node dist/bench/bm25-scifact.js [--k1 0.9] [--b 0.4] [--depth 1000]
 *
 * Documents are title + " " + text (Anserini's BEIR "flat" collection); queries are analysed the same
 * way; each query retrieves `depth` hits (Anserini: 1000). Metrics come from the project's own
 * `evaluate` (src/eval/metrics.ts, trec_eval conventions, as `trec_eval -c -m ndcg_cut.10 -m
 * recall.100`). The index is also saved and loaded back and must rank identically.
 * Exits 0 with a message when the data set is absent; exits 1 when nDCG@10 is below the 0.66 floor.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Bm25Index, type Bm25Hit } from "../src/bm25/bm25-index.js";
import { loadBm25, saveBm25 } from "../src/bm25/store.js";
import { evaluate } from "../src/eval/metrics.js";
import { REPO_ROOT } from "./tools/paths.js";

const FLOOR = 0.66;
const ANSERINI_NDCG10 = 0.679;


const ROOT = REPO_ROOT;
const DATA = path.resolve(ROOT, "..", "shared", "datasets", "scifact-beir", "beir-format");

type Qrels = Map<string, Map<string, number>>;

function readJsonl(file: string): Record<string, unknown>[] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");

function readQrels(file: string): Qrels {
  const qrels: Qrels = new Map();
  for (const [i, line] of fs.readFileSync(file, "utf8").split("\n").entries()) {
    const [qid, docid, rel] = line.trim().split("\t");
    if (i === 0 || qid === undefined || docid === undefined || rel === undefined) continue; // header / blank
    let m = qrels.get(qid);
    if (m === undefined) qrels.set(qid, (m = new Map<string, number>()));
    m.set(docid, Number(rel));
  }
  return qrels;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { k1: { type: "string" }, b: { type: "string" }, depth: { type: "string" } } });
  const k1 = values.k1 === undefined ? 0.9 : Number(values.k1);
  const b = values.b === undefined ? 0.4 : Number(values.b);
  const depth = values.depth === undefined ? 1000 : Number(values.depth);
  const corpusFile = path.join(DATA, "corpus.jsonl");
  if (!fs.existsSync(corpusFile)) {
    console.log(`bm25-scifact: skipped, SciFact not found at ${DATA}`);
    return 0;
  }

  const docs = readJsonl(corpusFile).map((d) => ({ id: str(d._id), text: `${str(d.title)} ${str(d.text)}` }));
  const qrels = readQrels(path.join(DATA, "qrels", "test.tsv"));
  const queryText = new Map(readJsonl(path.join(DATA, "queries.jsonl")).map((q) => [str(q._id), str(q.text)]));
  const queries = [...qrels.keys()].map((id) => ({ id, text: queryText.get(id) ?? "" }));
  const missing = queries.filter((q) => q.text === "").map((q) => q.id);
  if (missing.length > 0) throw new Error(`queries without text: ${missing.join(", ")}`);

  const t0 = performance.now();
  const index = new Bm25Index({ k1, b });
  index.add(docs);
  const indexMs = performance.now() - t0;
  const stats = index.stats();

  // Warm up (JIT, stem cache) on a separate pass so latencies describe steady state.
  for (const q of queries) index.search(q.text, depth);
  const runs = new Map<string, Bm25Hit[]>();
  const latencies: number[] = [];
  for (const q of queries) {
    const s = performance.now();
    runs.set(q.id, index.search(q.text, depth));
    latencies.push(performance.now() - s);
  }
  latencies.sort((x, y) => x - y);

  const run = new Map([...runs].map(([qid, hits]) => [qid, hits.map((h) => ({ docid: h.id, score: h.score }))]));
  const { mean } = evaluate(run, qrels, ["ndcg_cut_10", "recall_100", "recall_1000"], { averageComplete: true });
  const ndcg = mean.ndcg_cut_10 ?? NaN;
  const recall = mean.recall_100 ?? NaN;

  // Persistence round trip: the loaded index must rank exactly as the built one.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "colts-bm25-bench-"));
  let saveMs: number;
  let loadMs: number;
  let bytes: number;
  try {
    const s0 = performance.now();
    ({ bytes } = await saveBm25(dir, index));
    saveMs = performance.now() - s0;
    const l0 = performance.now();
    const loaded = await loadBm25(dir);
    loadMs = performance.now() - l0;
    for (const q of queries) {
      if (JSON.stringify(loaded.search(q.text, depth)) !== JSON.stringify(runs.get(q.id))) throw new Error(`query ${q.id}: loaded index ranks differently`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  console.log(`SciFact BM25 (k1 ${k1}, b ${b}, depth ${depth}), ${os.cpus().length} cores, Node ${process.version}`);
  console.log(`  corpus      ${stats.documents} docs, ${stats.terms} terms, ${stats.postings} postings, avg length ${stats.averageDocumentLength.toFixed(1)}`);
  console.log(`  index       ${indexMs.toFixed(0)} ms (${((stats.documents / indexMs) * 1000).toFixed(0)} docs/s)`);
  console.log(`  persist     save ${saveMs.toFixed(0)} ms, load ${loadMs.toFixed(0)} ms, ${(bytes / 1024 / 1024).toFixed(2)} MiB; loaded index ranks identically`);
  console.log(`  queries     ${queries.length}, latency p50 ${percentile(latencies, 50).toFixed(2)} ms, p95 ${percentile(latencies, 95).toFixed(2)} ms`);
  console.log(`  nDCG@10     ${ndcg.toFixed(4)}   (Anserini flat BM25 ${ANSERINI_NDCG10}, floor ${FLOOR})`);
  console.log(`  Recall@100  ${recall.toFixed(4)}   Recall@1000 ${(mean.recall_1000 ?? NaN).toFixed(4)}`);
  if (ndcg < FLOOR) {
    console.log(`bm25-scifact: FAIL, nDCG@10 ${ndcg.toFixed(4)} < ${FLOOR}`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
