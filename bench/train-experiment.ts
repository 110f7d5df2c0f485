/**
 * Training experiment (not in CI; reads ../shared). From a generated model:
 *   stage 1: self-supervised pairs from the SciFact corpus (a sentence as query, its document as
 *            positive, BM25 negatives from ranks 10..40), contrastive loss;
 *   stage 2: SciFact train queries with BM25-mined negatives (ranks 10..40, positives excluded).
 * Reports SciFact test nDCG@10 (exact MaxSim over the whole corpus) before, after each stage, and BM25's.
 * Run: npm run build && node dist/bench/train-experiment.js [out-dir]
 * Sizes via env: HIDDEN (64) LAYERS (2) DIM (32) DOC_LEN (128) STEPS1 (150) STEPS2 (150) LR (3e-4) BS (8) NEG (3)
 */
import fs from "node:fs";
import path from "node:path";
import { Bm25Index } from "../src/bm25/bm25-index.js";
import { loadBeir } from "../src/eval/io.js";
import { evaluate } from "../src/eval/metrics.js";
import type { RunEntry } from "../src/eval/types.js";
import { ColbertTokenizer } from "../src/encode/tokenize.js";
import { readColbertCheckpoint } from "../src/model/checkpoint.js";
import { readModelFolder } from "../src/model/layout.js";
import { writeTinyModel } from "../src/testing/tiny-model.js";
import type { ResolvedExample } from "../src/train/data.js";
import { documentText } from "../src/corpus/reader.js";
import { evaluateModel } from "../src/train/evaluate.js";
import { train } from "../src/train/loop.js";
import { OrtTrainer } from "../src/train/ort/trainer.js";
import { Rng } from "../src/util/rng.js";

const env = (k: string, d: number): number => Number(process.env[k] ?? d);
const out = process.argv[2] ?? "bench/out/train-experiment";
const data = path.resolve("../shared/datasets/scifact-beir/beir-format");
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const t0 = performance.now();
const log = (s: string): void => console.log(`[${((performance.now() - t0) / 1000).toFixed(0)}s] ${s}`);

const test = await loadBeir(data, "test");
const trainSplit = await loadBeir(data, "train", { corpus: false });
const texts = new Map(test.corpus.map((d) => [d.id, documentText(d.title, d.text)]));
const bm25 = new Bm25Index();
bm25.add(test.corpus.map((d) => ({ id: d.id, text: documentText(d.title, d.text) })));
const bmRun = new Map<string, RunEntry[]>();
for (const [qid, q] of test.queries) bmRun.set(qid, bm25.search(q, 100).map((h) => ({ docid: h.id, score: h.score })));
log(`BM25 SciFact test nDCG@10 = ${evaluate(bmRun, test.qrels, ["ndcg_cut_10"]).mean["ndcg_cut_10"]?.toFixed(4)}`);

const rng = new Rng(11);
const NEG = env("NEG", 3);
/** BM25 negatives for `query` from ranks [10, 40), skipping `positives`. */
function mine(query: string, positives: Set<string>): string[] {
  const pool = bm25.search(query, 40).slice(10).map((h) => h.id).filter((id) => !positives.has(id));
  const picked: string[] = [];
  while (picked.length < NEG && pool.length > 0) picked.push(pool.splice(rng.int(pool.length), 1)[0] as string);
  return picked.map((id) => texts.get(id) as string);
}

const selfSup: ResolvedExample[] = [];
for (const d of test.corpus) {
  const sentences = d.text.split(/(?<=[.!?])\s+/).filter((s) => s.split(" ").length >= 6);
  if (sentences.length < 2) continue;
  const query = sentences[rng.int(sentences.length)] as string;
  const negs = mine(query, new Set([d.id]));
  if (negs.length === NEG) selfSup.push({ query, docs: [documentText(d.title, d.text), ...negs], scores: {} });
}
const supervised: ResolvedExample[] = [];
for (const [qid, rels] of trainSplit.qrels) {
  const q = trainSplit.queries.get(qid);
  const pos = [...rels].find(([, g]) => g > 0)?.[0];
  if (!q || !pos || !texts.has(pos)) continue;
  const negs = mine(q, new Set(rels.keys()));
  if (negs.length === NEG) supervised.push({ query: q, docs: [texts.get(pos) as string, ...negs], scores: {} });
}
log(`examples: ${selfSup.length} self-supervised, ${supervised.length} SciFact train`);

const start = path.join(out, "start");
await writeTinyModel(start, { hidden: env("HIDDEN", 64), layers: env("LAYERS", 2), dim: env("DIM", 32), documentLength: env("DOC_LEN", 128), seed: 1 });
const evalSet = { corpus: test.corpus, queries: test.queries, qrels: test.qrels };
async function ndcg(modelDir: string): Promise<number> {
  const spec = readModelFolder(modelDir);
  const tok = new ColbertTokenizer(spec.tokenizerJson, spec.tokenizerConfig, spec.settings);
  const trainer = await OrtTrainer.create(readColbertCheckpoint(modelDir));
  try {
    return (await evaluateModel(trainer, tok, evalSet))["ndcg_cut_10"] ?? NaN;
  } finally {
    await trainer.release();
  }
}
log(`generated model nDCG@10 = ${(await ndcg(start)).toFixed(4)}`);
const common = { loss: "contrastive" as const, batchSize: env("BS", 8), lr: env("LR", 3e-4), warmup: 10, seed: 1 };
const s1 = await train({ ...common, model: start, output: path.join(out, "stage1"), examples: selfSup, steps: env("STEPS1", 150) });
const ms1 = s1.records.map((r) => r.ms ?? 0);
log(`stage 1: ${s1.steps} steps, loss ${s1.records[0]?.loss?.toFixed(3)} -> ${s1.records.at(-1)?.loss?.toFixed(3)}, median step ${ms1.sort((a, b) => a - b)[ms1.length >> 1]} ms`);
log(`after stage 1 nDCG@10 = ${(await ndcg(s1.modelDir as string)).toFixed(4)}`);
const s2 = await train({ ...common, model: s1.modelDir as string, output: path.join(out, "stage2"), examples: supervised, steps: env("STEPS2", 150) });
log(`stage 2: ${s2.steps} steps, loss ${s2.records[0]?.loss?.toFixed(3)} -> ${s2.records.at(-1)?.loss?.toFixed(3)}`);
log(`after stage 2 nDCG@10 = ${(await ndcg(s2.modelDir as string)).toFixed(4)}`);
