/**
 * Training-data tools on real data (not in CI): `colts mine` on SciFact train (BM25 over the corpus),
 * a generated cross-encoder teacher pass over the mined file (throughput), and a SPLADE++ teacher pass
 * on TREC DL 2019: a BEIR folder is built from the re-ranking candidates (BM25 and SPLADE++ top-100
 * with passage text), lines are mined from BM25 ranks 10-100 of that pool, and `colts teacher --run`
 * adds SPLADE++ EnsembleDistil's scores.
 *
 *   npm run build && node dist/bench/train-data.js
 *
 * Exits 0 with a message when ../shared is absent. Prints markdown for bench/RESULTS.md.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { runMain } from "../src/cli/main.js";
import type { CliIO } from "../src/cli/io.js";
import { readTrecQrels, writeBeir } from "../src/eval/io.js";
import type { Qrels } from "../src/eval/types.js";
import { writeTinyCrossEncoder } from "../src/testing/tiny-cross-encoder.js";
import { parseTrainingExample, type TrainingExample } from "../src/train/format.js";
import { REPO_ROOT } from "./tools/paths.js";

const SHARED = path.resolve(REPO_ROOT, "..", "shared", "datasets");
const SCIFACT = path.join(SHARED, "scifact-beir", "beir-format");
const DL = path.join(SHARED, "trec-dl-rerank-top100");
const QRELS = path.join(SHARED, "anserini-topics-qrels", "qrels", "qrels.dl19-passage.txt");

async function cli(argv: string[], cwd: string): Promise<{ code: number; stderr: string; seconds: number }> {
  const err: Buffer[] = [];
  const stderr = new PassThrough();
  stderr.on("data", (b: Buffer) => err.push(b));
  const io: CliIO = { stdin: Readable.from([""]), stdout: new PassThrough(), stderr, env: process.env, cwd };
  const start = performance.now();
  const code = await runMain(argv, io);
  const seconds = (performance.now() - start) / 1000;
  const text = Buffer.concat(err).toString();
  if (code !== 0) throw new Error(`colts ${argv.join(" ")} failed: ${text}`);
  return { code, stderr: text.trim(), seconds };
}

function lines(file: string): TrainingExample[] {
  return fs.readFileSync(file, "utf8").trim().split("\n").map((l, i) => parseTrainingExample(l, `${file}:${i + 1}`));
}

interface DlHit {
  content: string;
  qid: number;
  docid: string;
}

/** TREC DL 2019 candidates as a BEIR folder; qrels restricted to judged passages in the pool. */
async function dlBeir(dir: string): Promise<{ docs: number; queries: number; pairs: number }> {
  const read = (f: string): { query: string; hits: DlHit[] }[] => JSON.parse(fs.readFileSync(path.join(DL, f), "utf8")) as { query: string; hits: DlHit[] }[];
  const runs = [read("BM25_retrieve_results_dl19.json"), read("SPLADE_P_P_ENSEMBLE_DISTIL_retrieve_results_dl19.json")];
  const docs = new Map<string, string>();
  const queries = new Map<string, string>();
  for (const run of runs) {
    for (const q of run) {
      for (const h of q.hits) {
        docs.set(h.docid, h.content);
        queries.set(String(h.qid), q.query);
      }
    }
  }
  const all = await readTrecQrels(QRELS);
  const qrels: Qrels = new Map();
  let pairs = 0;
  for (const [qid, judged] of all) {
    if (!queries.has(qid)) continue;
    const inPool = new Map([...judged].filter(([d]) => docs.has(d)));
    qrels.set(qid, inPool);
    pairs += [...inPool.values()].filter((g) => g >= 2).length;
  }
  await writeBeir(dir, "test", {
    corpus: [...docs].map(([id, text]) => ({ id, title: "", text })),
    queries: [...queries].filter(([id]) => qrels.has(id)).map(([id, text]) => ({ id, text })),
    qrels,
  });
  return { docs: docs.size, queries: qrels.size, pairs };
}

async function main(): Promise<void> {
  if (!fs.existsSync(SCIFACT) || !fs.existsSync(DL)) {
    console.log(`skipped: ${SCIFACT} or ${DL} is absent`);
    return;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "colts-train-data-"));
  try {
    const out: string[] = [];
    // 1. SciFact train, BM25 over the corpus.
    const mined = path.join(tmp, "scifact.jsonl");
    const m = await cli(["mine", "--dataset", SCIFACT, "--split", "train", "--negatives", "8", "--window", "10-100", "--seed", "1", "--output", mined], tmp);
    out.push(`| SciFact train: colts mine (BM25, 8 negatives, ranks 10-100) | ${m.seconds.toFixed(1)} s | ${m.stderr} |`);
    // 2. A generated cross-encoder (skip with --no-cross-encoder: it is the slow step) over the mined pairs (hidden 128, 2 layers, max 256 tokens).
    if (!process.argv.includes("--no-cross-encoder")) {
    const ce = path.join(tmp, "ce");
    await writeTinyCrossEncoder(ce, { hidden: 128, layers: 2, heads: 2, seed: 1 });
    const scored = path.join(tmp, "scifact-ce.jsonl");
    const pairs = lines(mined).reduce((a, ex) => a + 1 + (ex.negativeIds?.length ?? 0), 0);
    const c = await cli(["teacher", "--data", mined, "--cross-encoder", ce, "--name", "ce", "--max-length", "256", "--output", scored], tmp);
    out.push(`| SciFact train: colts teacher --cross-encoder (generated, hidden 128, 2 layers, max 256 tokens) | ${c.seconds.toFixed(1)} s | ${pairs} pairs, ${(pairs / c.seconds).toFixed(0)} pairs/s |`);
    }
    // 3. TREC DL 2019: mine from the candidate pool, SPLADE++ scores from its run file.
    const beir = path.join(tmp, "dl19");
    const pool = await dlBeir(beir);
    const dlMined = path.join(tmp, "dl19.jsonl");
    const dm = await cli(["mine", "--dataset", beir, "--split", "test", "--positive-grade", "2", "--negatives", "8", "--window", "10-100", "--output", dlMined], tmp);
    out.push(`| DL19 pool (${pool.docs} passages, ${pool.queries} queries, ${pool.pairs} relevant pairs): colts mine (BM25, positives graded >= 2) | ${dm.seconds.toFixed(1)} s | ${dm.stderr} |`);
    const run = path.join(DL, "SPLADE_P_P_ENSEMBLE_DISTIL_trec_results_dl19.txt");
    const bm25Run = path.join(DL, "BM25_trec_results_dl19.txt");
    const positiveFirst = (file: string, teacher: string): string => {
      const kept = lines(file);
      const ordered = kept.filter((ex) => {
        const s = ex.scores?.[teacher] ?? [];
        return s.slice(1).every((x) => x < (s[0] ?? 0));
      }).length;
      return `${teacher} scores the positive above every negative on ${ordered}/${kept.length} lines`;
    };
    // Negatives mined by BM25 over the pool are mostly outside SPLADE++'s top 100.
    const strict = await cli(["teacher", "--data", dlMined, "--run", run, "--name", "splade", "--output", path.join(tmp, "strict.jsonl")], tmp).then(
      () => "accepted",
      (e: Error) => `refused (${/TEACHER_SCORE_MISSING/.exec(e.message)?.[0] ?? e.message.slice(0, 80)})`,
    );
    const drop = await cli(["teacher", "--data", dlMined, "--run", run, "--name", "splade", "--missing", "drop", "--output", path.join(tmp, "drop.jsonl")], tmp);
    out.push(`| DL19, BM25-mined lines: colts teacher --run SPLADE++ | ${drop.seconds.toFixed(2)} s | default policy: ${strict}; --missing drop: ${drop.stderr} |`);
    // Mining from the SPLADE++ run itself: every negative has a SPLADE++ score.
    const spladeMined = path.join(tmp, "dl19-splade-mined.jsonl");
    const sm = await cli(["mine", "--dataset", beir, "--split", "test", "--positive-grade", "2", "--run", run, "--negatives", "8", "--window", "10-100", "--output", spladeMined], tmp);
    out.push(`| DL19: colts mine --run SPLADE++ (ranks 10-100, positives graded >= 2) | ${sm.seconds.toFixed(2)} s | ${sm.stderr} |`);
    const scored1 = path.join(tmp, "dl19-s1.jsonl");
    const t1 = await cli(["teacher", "--data", spladeMined, "--run", run, "--name", "splade", "--missing", "drop", "--output", scored1], tmp);
    out.push(`| DL19: colts teacher --run SPLADE++ --missing drop | ${t1.seconds.toFixed(2)} s | ${t1.stderr}; ${positiveFirst(scored1, "splade")} |`);
    const scored2 = path.join(tmp, "dl19-s2.jsonl");
    const t2 = await cli(["teacher", "--data", scored1, "--run", bm25Run, "--name", "bm25", "--missing", "min", "--output", scored2], tmp);
    out.push(`| DL19: + colts teacher --run BM25 --missing min (second teacher) | ${t2.seconds.toFixed(2)} s | ${t2.stderr}; ${positiveFirst(scored2, "bm25")} |`);
    console.log("| step | time | result |\n| --- | ---: | --- |");
    console.log(out.join("\n"));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
