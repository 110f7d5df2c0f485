/**
 * Margin-MSE distillation experiment (not in CI; reads ../shared): a generated model learns from the
 * SPLADE++ EnsembleDistil scores of the TREC DL 2020 top-100 (training queries), and is evaluated by
 * re-ranking the BM25 top-100 of TREC DL 2019 (held-out queries), nDCG@10 with the project's metrics.
 * Examples: per DL20 query, positives = SPLADE ranks 1..5, 3 negatives sampled from ranks 10..100,
 * teacher = SPLADE scores (z-scored per query: only margins matter, SPLADE's scale is ~1e5).
 * Run: npm run build && node dist/bench/train-distil.js [out-dir]   env: STEPS (80) LR (3e-4) BS (8)
 */
import fs from "node:fs";
import path from "node:path";
import { ColbertTokenizer } from "../src/encode/tokenize.js";
import { readTrecQrels } from "../src/eval/io.js";
import { evaluate } from "../src/eval/metrics.js";
import type { RunEntry } from "../src/eval/types.js";
import { readColbertCheckpoint } from "../src/model/checkpoint.js";
import { readModelFolder } from "../src/model/layout.js";
import { writeTinyModel } from "../src/testing/tiny-model.js";
import { tokenizeDocuments, tokenizeQueries, type ResolvedExample } from "../src/train/data.js";
import { train } from "../src/train/loop.js";
import { maxsimScores, normalizeTruncated, TrainableColbert } from "../test/reference/tfjs/model.js";
import { initTraining, tf } from "../test/reference/tfjs/tf.js";
import { Rng } from "../src/util/rng.js";

interface Hit { content: string; qid: number; docid: string; score: number }
interface Topic { query: string; hits: Hit[] }
const dir = path.resolve("../shared/datasets/trec-dl-rerank-top100");
const read = (f: string): Topic[] => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as Topic[];
const out = process.argv[2] ?? "bench/out/train-distil";
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const t0 = performance.now();
const log = (s: string): void => console.log(`[${((performance.now() - t0) / 1000).toFixed(0)}s] ${s}`);

const rng = new Rng(3);
const examples: ResolvedExample[] = [];
for (const t of read("SPLADE_P_P_ENSEMBLE_DISTIL_retrieve_results_dl20.json")) {
  for (let p = 0; p < 5 && p < t.hits.length; p++) {
    const pool = t.hits.slice(10);
    const negs = [0, 1, 2].map(() => pool.splice(rng.int(pool.length), 1)[0] as Hit);
    const docs = [t.hits[p] as Hit, ...negs];
    examples.push({ query: t.query, docs: docs.map((h) => h.content), scores: { splade: docs.map((h) => h.score) } });
  }
}
const evalTopics = read("BM25_retrieve_results_dl19.json");
const qrels = await readTrecQrels(path.resolve("../shared/datasets/anserini-topics-qrels/qrels/qrels.dl19-passage.txt"));
log(`${examples.length} training examples from DL20; ${evalTopics.length} DL19 queries to re-rank`);

await initTraining();
function rerankNdcg(modelDir: string): number {
  const spec = readModelFolder(modelDir);
  const tok = new ColbertTokenizer(spec.tokenizerJson, spec.tokenizerConfig, spec.settings);
  const m = new TrainableColbert(readColbertCheckpoint(modelDir));
  const run = new Map<string, RunEntry[]>();
  for (const t of evalTopics) {
    const scores = tf.tidy(() => {
      const q = tokenizeQueries(tok, [t.query]);
      const d = tokenizeDocuments(tok, t.hits.map((h) => h.content));
      return maxsimScores(normalizeTruncated(m.project(q), m.dim), tf.tensor2d(q.keep, [q.rows, q.length]), normalizeTruncated(m.project(d), m.dim), tf.tensor2d(d.keep, [d.rows, d.length])).dataSync();
    });
    run.set(String(t.hits[0]?.qid), t.hits.map((h, i) => ({ docid: h.docid, score: scores[i] as number })));
  }
  m.dispose();
  return evaluate(run, qrels, ["ndcg_cut_10"]).mean["ndcg_cut_10"] ?? NaN;
}
const bmRun = new Map(evalTopics.map((t) => [String(t.hits[0]?.qid), t.hits.map((h) => ({ docid: h.docid, score: h.score }))]));
log(`BM25 DL19 nDCG@10 = ${evaluate(bmRun, qrels, ["ndcg_cut_10"]).mean["ndcg_cut_10"]?.toFixed(4)}`);
const start = path.join(out, "start");
await writeTinyModel(start, { hidden: 64, layers: 2, dim: 32, documentLength: 128, seed: 1 });
log(`generated model, re-ranking BM25 top-100: nDCG@10 = ${rerankNdcg(start).toFixed(4)}`);
const r = await train({
  model: start, output: path.join(out, "run"), examples, loss: "margin-mse", teacherNormalization: "zscore",
  steps: Number(process.env["STEPS"] ?? 80), batchSize: Number(process.env["BS"] ?? 8), lr: Number(process.env["LR"] ?? 3e-4), warmup: 10, seed: 1,
});
log(`trained ${r.steps} steps, loss ${r.records[0]?.loss?.toFixed(3)} -> ${r.records.at(-1)?.loss?.toFixed(3)}`);
log(`after Margin-MSE distillation, re-ranking BM25 top-100: nDCG@10 = ${rerankNdcg(r.modelDir as string).toFixed(4)}`);
