/**
 * End-to-end training experiment at the answerai-colbert-small-v1 shape, driven through the CLI (not
 * in CI; reads ../shared). Every step is a `node bin/colts.js ...` child process, printed before it
 * runs, so each phase's wall time and peak RSS are those of the real commands:
 *
 *   0. `colts model tiny`: hidden 384, 12 layers, 12 heads, FFN 1536 (4 x hidden), dim 96, seeded;
 *   1. self-supervised warm-up on the SciFact corpus: a sentence of a document as query, the document
 *      as positive (a BEIR folder is written for it), BM25 negatives from `colts mine`, `colts train`
 *      contrastive (its metrics.jsonl, with rssBytes per step, doubles as the stability run);
 *   2. SciFact train queries, BM25 negatives from `colts mine`, `colts train` from phase 1's model;
 *   3. Margin-MSE from SPLADE++ on TREC DL 2020 (`colts mine --run` SPLADE++ over the SPLADE++ pool,
 *      `colts teacher --run` SPLADE++), `colts train --loss margin-mse` from phase 2's model;
 *   4. `colts merge phase2 phase3 --method slerp`.
 * After the start model, each phase and the merge: SciFact test nDCG@10 over the whole corpus
 * (`colts index build` + `colts eval`) and TREC DL 2019 nDCG@10 of re-ranking the BM25 top-100
 * (`colts rerank` per query, scored with src/eval), beside BM25's own figures.
 *
 *   npx tsc -p . && node dist/bench/train-real-size.js --quick          # tiny shape, a few minutes
 *   npx tsc -p . && node dist/bench/train-real-size.js [--out DIR]      # the real size (see below)
 *
 * Every size is a flag (`--p1-steps 200`) or the same name as an environment variable (P1_STEPS=200);
 * `--help` lists them with their defaults. The real defaults are sized for a 2-core machine, where
 * the onnxruntime trainer does ~400 padded tokens/s at 384 x 12 without dropout (~17% fewer with the
 * default 0.1) and encoding ~2,300 tokens/s. Documents are cut at --doc-length 128 tokens (the model's
 * document length: training, index and re-ranking alike), which keeps one SciFact encoding pass near
 * 5 minutes. Estimate from those rates (not measured end to end): training ~45-55 minutes (phase 1
 * 200 x 4 x (1+3) ~18, phase 2 100 x 8 x (1+3) ~18, phase 3 80 x 8 x (1+3) <= 15), evaluation
 * ~9-11 minutes per evaluated model (SciFact index build + PLAID eval ~6, DL19: 43 `colts rerank`
 * processes of 100 passages ~3-4), five evaluated models: ~100 minutes in all. `--eval-at
 * phase2,phase3,merge` and `--dropout 0` bring it near 70.
 * Writes (after emptying <out>) <out>/summary.json, each phase's folder (metrics.jsonl, loss.svg, model/) and prints a
 * markdown table. Exits 0 with a message when ../shared is absent.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { readTrecQrels } from "../src/eval/io.js";
import { evaluate } from "../src/eval/metrics.js";
import type { Qrels, RunEntry } from "../src/eval/types.js";
import { Rng } from "../src/util/rng.js";
import { REPO_ROOT } from "./tools/paths.js";

const SHARED = path.resolve(REPO_ROOT, "..", "shared", "datasets");
const SCIFACT = path.join(SHARED, "scifact-beir", "beir-format");
const DL = path.join(SHARED, "trec-dl-rerank-top100");
const QRELS_DIR = path.join(SHARED, "anserini-topics-qrels", "qrels");
const SPLADE20 = path.join(DL, "SPLADE_P_P_ENSEMBLE_DISTIL_trec_results_dl20.txt");
const COLTS = path.join(REPO_ROOT, "bin", "colts.js");
const TIME = "/usr/bin/time";

/** Numeric settings: [real default, --quick default, meaning]. Each is a flag and an environment variable. */
const SETTINGS = {
  hidden: [384, 64, "hidden size"],
  layers: [12, 2, "transformer layers"],
  heads: [12, 4, "attention heads"],
  dim: [96, 32, "output dimension"],
  "doc-length": [128, 64, "document length in tokens (training, index, re-ranking)"],
  "query-length": [32, 32, "query length in tokens"],
  seed: [1, 1, "seed of the model, the sentence sampling and mining"],
  negatives: [3, 3, "negatives per example (every phase)"],
  lr: [3e-4, 1e-3, "peak learning rate (every phase)"],
  warmup: [10, 1, "linear warm-up steps (every phase)"],
  "p1-examples": [2000, 64, "self-supervised examples (one sentence per SciFact document)"],
  "p1-steps": [200, 4, "phase 1 optimizer steps"],
  "p1-batch": [4, 4, "phase 1 queries per step"],
  "p2-steps": [100, 3, "phase 2 optimizer steps"],
  "p2-batch": [8, 4, "phase 2 queries per step"],
  "p3-steps": [80, 3, "phase 3 optimizer steps"],
  "p3-batch": [8, 4, "phase 3 queries per step"],
  dropout: [0.1, 0.1, "dropout of every BERT dropout site in training (0.1 is BERT's; 0 is ~17% faster per step)"],
  "slerp-t": [0.5, 0.5, "slerp factor between phase 2 (0) and phase 3 (1)"],
  "scifact-docs": [0, 400, "SciFact evaluation corpus: 0 = all 5,183 documents, else the judged ones plus others up to N"],
  "dl19-queries": [0, 6, "DL19 queries re-ranked: 0 = all 43"],
} as const;
type Setting = keyof typeof SETTINGS;
const EVAL_POINTS = ["start", "phase1", "phase2", "phase3", "merge"] as const;

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean" },
    help: { type: "boolean" },
    out: { type: "string" },
    "eval-at": { type: "string" },
    retriever: { type: "string" },
    ...Object.fromEntries(Object.keys(SETTINGS).map((k) => [k, { type: "string" as const }])),
  },
});
const quick = flags.quick === true || process.env["QUICK"] === "1";
if (flags.help) {
  console.log("node dist/bench/train-real-size.js [--quick] [--out DIR] [--eval-at start,phase1,phase2,phase3,merge] [--retriever plaid|exact]");
  for (const [k, [real, q, help]] of Object.entries(SETTINGS)) console.log(`  --${k} (${k.toUpperCase().replaceAll("-", "_")})  ${help}; default ${real}, --quick ${q}`);
  process.exit(0);
}
/** A numeric setting: the flag, else the environment variable, else the default of the mode. */
function setting(k: Setting): number {
  const raw = (flags as Record<string, string | boolean | undefined>)[k] ?? process.env[k.toUpperCase().replaceAll("-", "_")];
  const v = raw === undefined ? SETTINGS[k][quick ? 1 : 0] : Number(raw);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${k}: expected a number >= 0, got ${String(raw)}`);
  return v;
}
const S = Object.fromEntries(Object.keys(SETTINGS).map((k) => [k, setting(k as Setting)])) as Record<Setting, number>;
const evalAt = new Set((flags["eval-at"] ?? process.env["EVAL_AT"] ?? EVAL_POINTS.join(",")).split(",").map((s) => s.trim()));
for (const e of evalAt) if (!(EVAL_POINTS as readonly string[]).includes(e)) throw new Error(`--eval-at: ${e} is not one of ${EVAL_POINTS.join(", ")}`);
// PLAID is what a user of the index gets; exact MaxSim (over the index's decompressed vectors) costs ~2 minutes more per model here.
const retriever = flags.retriever ?? process.env["RETRIEVER"] ?? "plaid";
const OUT = path.resolve(flags.out ?? process.env["OUT"] ?? path.join(REPO_ROOT, "bench", "out", quick ? "train-real-size-quick" : "train-real-size"));

const t0 = performance.now();
const log = (s: string): void => console.log(`[${((performance.now() - t0) / 1000).toFixed(0)}s] ${s}`);

/** One child process: its arguments, wall time, peak RSS and what it printed. */
interface CommandRecord {
  argv: string[];
  seconds: number;
  peakRssBytes: number | null;
  stdout: string;
}
const commands: CommandRecord[] = [];

/** Peak RSS of a running child by polling /proc (when /usr/bin/time is absent): VmHWM is the kernel's high-water mark. */
function pollPeak(pid: number, peak: { bytes: number | null }): NodeJS.Timeout {
  return setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) peak.bytes = Math.max(peak.bytes ?? 0, Number(m[1]) * 1024);
    } catch {
      // the process has exited between two polls
    }
  }, 100);
}

/** Runs `node bin/colts.js <args>`, printing the command (and its output unless quiet); throws on a non-zero exit. */
async function colts(args: string[], opts: { quiet?: boolean } = {}): Promise<CommandRecord> {
  // Paths in or beside the repository are shown relative to it (the child's working directory), to keep the log readable.
  const relative = (a: string): string => {
    const r = path.isAbsolute(a) ? path.relative(REPO_ROOT, a) : a;
    return r.startsWith(`..${path.sep}..`) ? a : r;
  };
  const shown = ["node", "bin/colts.js", ...args].map(relative).map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(" ");
  console.log(`$ ${shown}`);
  const useTime = fs.existsSync(TIME);
  const timeFile = path.join(OUT, ".time");
  const [cmd, argv] = useTime ? [TIME, ["-f", "%M", "-o", timeFile, process.execPath, COLTS, ...args]] : [process.execPath, [COLTS, ...args]];
  const start = performance.now();
  const child = spawn(cmd, argv, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const peak: { bytes: number | null } = { bytes: null };
  const timer = useTime ? null : pollPeak(child.pid as number, peak);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => out.push(b));
  child.stderr.on("data", (b: Buffer) => {
    err.push(b);
    if (!opts.quiet) process.stderr.write(b);
  });
  const code = await new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (c) => resolve(c ?? 1));
  });
  if (timer) clearInterval(timer);
  const seconds = (performance.now() - start) / 1000;
  const stdout = Buffer.concat(out).toString();
  if (useTime && fs.existsSync(timeFile)) {
    const kb = Number(fs.readFileSync(timeFile, "utf8").trim().split("\n").at(-1));
    if (Number.isFinite(kb)) peak.bytes = kb * 1024;
    fs.rmSync(timeFile);
  }
  if (code !== 0) throw new Error(`exit ${code}: ${shown}\n${Buffer.concat(err).toString()}`);
  if (!opts.quiet && stdout.trim()) console.log(stdout.trimEnd());
  const rec = { argv: args, seconds, peakRssBytes: peak.bytes, stdout };
  commands.push(rec);
  return rec;
}

const mib = (b: number | null): string => (b === null ? "n/a" : `${(b / 2 ** 20).toFixed(0)} MiB`);
const fmt = (x: number | null | undefined): string => (x === null || x === undefined || Number.isNaN(x) ? "-" : x.toFixed(4));

interface BeirQuery {
  _id: string;
  text: string;
}
const readJsonl = <T>(file: string): T[] => fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
const writeJsonl = (file: string, rows: readonly unknown[]): void => fs.writeFileSync(file, rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
function writeQrels(file: string, qrels: Qrels): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const lines = ["query-id\tcorpus-id\tscore"];
  for (const [q, docs] of qrels) for (const [d, g] of docs) lines.push(`${q}\t${d}\t${g}`);
  fs.writeFileSync(file, `${lines.join("\n")}\n`);
}
function readBeirQrels(file: string): Qrels {
  const q: Qrels = new Map();
  for (const line of fs.readFileSync(file, "utf8").split("\n").slice(1)) {
    const [qid, did, g] = line.split("\t");
    if (!qid || !did) continue;
    if (!q.has(qid)) q.set(qid, new Map());
    q.get(qid)?.set(did, Number(g));
  }
  return q;
}

interface DlHit {
  content: string;
  qid: number;
  docid: string;
  score: number;
}
const readDl = (f: string): { query: string; hits: DlHit[] }[] => JSON.parse(fs.readFileSync(path.join(DL, f), "utf8")) as { query: string; hits: DlHit[] }[];

/** Phase 1 data: one sentence (6+ words) per document as its query, the document as the only relevant one. */
function selfSupervisedBeir(dir: string): number {
  const corpus = readJsonl<{ _id: string; title?: string; text: string }>(path.join(SCIFACT, "corpus.jsonl"));
  const rng = new Rng(S.seed);
  const queries: BeirQuery[] = [];
  const qrels: Qrels = new Map();
  for (const d of corpus) {
    const sentences = d.text.split(/(?<=[.!?])\s+/).filter((s) => s.split(" ").length >= 6);
    // Documents of a single sentence are skipped: the query would be the whole document.
    if (sentences.length < 2) continue;
    const id = `s${d._id}`;
    queries.push({ _id: id, text: sentences[rng.int(sentences.length)] as string });
    qrels.set(id, new Map([[d._id, 1]]));
  }
  // A seeded subset of the documents, so phase 1's data does not follow the corpus order.
  const kept = new Set<string>();
  const ids = queries.map((q) => q._id);
  while (kept.size < Math.min(S["p1-examples"], ids.length)) kept.add(ids.splice(rng.int(ids.length), 1)[0] as string);
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(SCIFACT, "corpus.jsonl"), path.join(dir, "corpus.jsonl"));
  writeJsonl(path.join(dir, "queries.jsonl"), queries.filter((q) => kept.has(q._id)));
  writeQrels(path.join(dir, "qrels", "train.tsv"), new Map([...qrels].filter(([q]) => kept.has(q))));
  return kept.size;
}

/** Phase 3 data: the SPLADE++ DL20 pool (passages with text) as a BEIR folder, qrels limited to pooled passages. */
async function dl20Beir(dir: string): Promise<{ docs: number; queries: number }> {
  const docs = new Map<string, string>();
  const queries = new Map<string, string>();
  for (const q of readDl("SPLADE_P_P_ENSEMBLE_DISTIL_retrieve_results_dl20.json")) {
    for (const h of q.hits) {
      docs.set(h.docid, h.content);
      queries.set(String(h.qid), q.query);
    }
  }
  const all = await readTrecQrels(path.join(QRELS_DIR, "qrels.dl20-passage.txt"));
  const qrels: Qrels = new Map();
  for (const [qid, judged] of all) if (queries.has(qid)) qrels.set(qid, new Map([...judged].filter(([d]) => docs.has(d))));
  fs.mkdirSync(dir, { recursive: true });
  writeJsonl(path.join(dir, "corpus.jsonl"), [...docs].map(([_id, text]) => ({ _id, title: "", text })));
  writeJsonl(path.join(dir, "queries.jsonl"), [...queries].filter(([id]) => qrels.has(id)).map(([_id, text]) => ({ _id, text })));
  writeQrels(path.join(dir, "qrels", "test.tsv"), qrels);
  return { docs: docs.size, queries: qrels.size };
}

/** The SciFact test evaluation folder: the dataset itself, or (--scifact-docs N) its judged documents plus others up to N. */
function scifactEvalDir(dir: string): { dir: string; docs: number } {
  const n = S["scifact-docs"];
  if (n === 0) return { dir: SCIFACT, docs: readJsonl(path.join(SCIFACT, "corpus.jsonl")).length };
  const qrels = readBeirQrels(path.join(SCIFACT, "qrels", "test.tsv"));
  const judged = new Set([...qrels.values()].flatMap((m) => [...m.keys()]));
  const corpus = readJsonl<{ _id: string }>(path.join(SCIFACT, "corpus.jsonl"));
  const kept = corpus.filter((d) => judged.has(d._id));
  for (const d of corpus) if (kept.length < n && !judged.has(d._id)) kept.push(d);
  fs.mkdirSync(path.join(dir, "qrels"), { recursive: true });
  writeJsonl(path.join(dir, "corpus.jsonl"), kept);
  fs.copyFileSync(path.join(SCIFACT, "queries.jsonl"), path.join(dir, "queries.jsonl"));
  fs.copyFileSync(path.join(SCIFACT, "qrels", "test.tsv"), path.join(dir, "qrels", "test.tsv"));
  return { dir, docs: kept.length };
}

/** DL19: one candidate file per query (the BM25 top-100 with text), the BM25 run itself, and the qrels. */
async function dl19Candidates(dir: string): Promise<{ topics: { qid: string; query: string; file: string }[]; bm25: Map<string, RunEntry[]>; qrels: Qrels }> {
  let all = readDl("BM25_retrieve_results_dl19.json");
  if (S["dl19-queries"] > 0) all = all.slice(0, S["dl19-queries"]);
  fs.mkdirSync(dir, { recursive: true });
  const topics = all.map((t) => {
    const qid = String(t.hits[0]?.qid);
    const file = path.join(dir, `${qid}.jsonl`);
    writeJsonl(file, t.hits.map((h) => ({ _id: h.docid, text: h.content })));
    return { qid, query: t.query, file };
  });
  const bm25 = new Map(all.map((t) => [String(t.hits[0]?.qid), t.hits.map((h) => ({ docid: h.docid, score: h.score }))]));
  const qrels = await readTrecQrels(path.join(QRELS_DIR, "qrels.dl19-passage.txt"));
  return { topics, bm25, qrels };
}

/** nDCG@10 of a run over the judged queries it answers (trec_eval's default, as RESULTS.md's DL19 figures). */
const ndcg10 = (run: ReadonlyMap<string, readonly RunEntry[]>, qrels: Qrels): number => evaluate(run, qrels, ["ndcg_cut_10"]).mean["ndcg_cut_10"] ?? NaN;

/** Evaluation figures of one model. */
interface EvalResult {
  scifact: number;
  dl19: number;
  seconds: number;
  peakRssBytes: number | null;
}

async function main(): Promise<void> {
  for (const p of [SCIFACT, DL, QRELS_DIR]) {
    if (!fs.existsSync(p)) {
      console.log(`skipped: ${p} is absent (the experiment reads ../shared/datasets beside the checkout)`);
      return;
    }
  }
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });
  log(`${quick ? "quick" : "real-size"} run into ${OUT}; settings ${JSON.stringify(S)}; eval at ${[...evalAt].join(",")}, retriever ${retriever}`);
  const sci = scifactEvalDir(path.join(OUT, "data", "scifact-eval"));
  const dl19 = await dl19Candidates(path.join(OUT, "data", "dl19-candidates"));
  const bm25Dl19 = ndcg10(dl19.bm25, dl19.qrels);
  log(`SciFact evaluation corpus: ${sci.docs} documents${S["scifact-docs"] > 0 ? " (a subset)" : ""}; DL19: ${dl19.topics.length} queries, BM25 top-100 nDCG@10 ${bm25Dl19.toFixed(4)}`);

  let scifactBm25: number | null = null;
  const evaluateModel = async (name: string, model: string): Promise<EvalResult> => {
    const before = commands.length;
    // BM25's figure comes with the first evaluation (the index holds a BM25 index of the same texts).
    const withBm25 = scifactBm25 === null;
    const idx = path.join(OUT, "eval", name, "index");
    await colts(["index", "build", idx, "--model", model, "--input", sci.dir, "--overwrite"]);
    const report = path.join(OUT, "eval", name, "scifact.json");
    const retrievers = withBm25 ? `${retriever},bm25` : retriever;
    await colts(["eval", "--index", idx, "--dataset", sci.dir, "--split", "test", "--retriever", retrievers, "--metrics", "ndcg@10,recall@100", "--report", report]);
    const results = (JSON.parse(fs.readFileSync(report, "utf8")) as { results: { retriever: string; metrics: Record<string, number> }[] }).results;
    const metric = (r: string): number => {
      const m = results.find((x) => x.retriever === r)?.metrics ?? {};
      return m["ndcg@10"] ?? NaN;
    };
    const run = new Map<string, RunEntry[]>();
    for (const t of dl19.topics) {
      const r = await colts(["rerank", "--model", model, "--query", t.query, "--documents", t.file, "--json"], { quiet: true });
      run.set(t.qid, (JSON.parse(r.stdout) as { id: string; score: number }[]).map((h) => ({ docid: h.id, score: h.score })));
    }
    if (withBm25) scifactBm25 = metric("bm25");
    const mine = commands.slice(before);
    const res: EvalResult = {
      scifact: metric(retriever),
      dl19: ndcg10(run, dl19.qrels),
      seconds: mine.reduce((a, c) => a + c.seconds, 0),
      peakRssBytes: Math.max(...mine.map((c) => c.peakRssBytes ?? 0)) || null,
    };
    log(`${name}: SciFact nDCG@10 ${fmt(res.scifact)}, DL19 re-ranking nDCG@10 ${fmt(res.dl19)} (${res.seconds.toFixed(0)} s, peak ${mib(res.peakRssBytes)})`);
    return res;
  };

  interface Row {
    phase: string;
    steps: number | null;
    batch: string;
    trainSeconds: number | null;
    trainPeakRssBytes: number | null;
    eval: EvalResult | null;
    metrics?: string;
    loss?: [number | null, number | null];
  }
  const rows: Row[] = [];
  const shape = ["--hidden", S.hidden, "--layers", S.layers, "--heads", S.heads, "--dim", S.dim, "--query-length", S["query-length"], "--document-length", S["doc-length"], "--seed", S.seed].map(String);
  const start = path.join(OUT, "start");
  const made = await colts(["model", "tiny", start, ...shape]);
  const startEval = evalAt.has("start") ? await evaluateModel("start", start) : null;
  rows.push({ phase: "start (generated, untrained)", steps: 0, batch: "-", trainSeconds: made.seconds, trainPeakRssBytes: made.peakRssBytes, eval: startEval });

  /** One training phase: data commands, `colts train`, then the evaluation; train wall/RSS cover the data commands too. */
  const phase = async (name: string, label: string, from: string, prepare: () => Promise<{ data: string; extra: string[] }>, steps: number, batch: number): Promise<string> => {
    const before = commands.length;
    const { data, extra } = await prepare();
    const dir = path.join(OUT, name);
    await colts(["train", "--model", from, "--data", data, "--output", dir, "--steps", String(steps), "--batch-size", String(batch), "--lr", String(S.lr), "--warmup", String(Math.min(S.warmup, steps)), "--negatives", String(S.negatives), "--seed", String(S.seed), "--dropout", String(S.dropout), ...extra]);
    const mine = commands.slice(before);
    const metrics = path.join(dir, "metrics.jsonl");
    const steps_ = readJsonl<{ loss?: number; rssBytes?: number }>(metrics).filter((r) => r.loss !== undefined);
    const rss = steps_.map((r) => r.rssBytes ?? NaN);
    log(`${name}: loss ${steps_[0]?.loss?.toFixed(3)} -> ${steps_.at(-1)?.loss?.toFixed(3)}; RSS per step ${mib(rss[0] ?? null)} (step 1), ${mib(Math.max(...rss))} (max), ${mib(rss.at(-1) ?? null)} (last)`);
    const model = path.join(dir, "model");
    rows.push({
      phase: label, steps, batch: `${batch} x (1+${S.negatives})`,
      trainSeconds: mine.reduce((a, c) => a + c.seconds, 0), trainPeakRssBytes: Math.max(...mine.map((c) => c.peakRssBytes ?? 0)) || null,
      eval: evalAt.has(name) ? await evaluateModel(name, model) : null,
      metrics: path.relative(OUT, metrics), loss: [steps_[0]?.loss ?? null, steps_.at(-1)?.loss ?? null],
    });
    return model;
  };
  const neg = String(S.negatives);

  const p1 = await phase("phase1", "1: self-supervised SciFact sentences", start, async () => {
    const beir = path.join(OUT, "data", "selfsup");
    log(`phase 1: ${selfSupervisedBeir(beir)} sentence queries`);
    const data = path.join(OUT, "data", "phase1.jsonl");
    await colts(["mine", "--dataset", beir, "--split", "train", "--negatives", neg, "--window", "10-100", "--seed", String(S.seed), "--output", data]);
    return { data, extra: [] };
  }, S["p1-steps"], S["p1-batch"]);

  const p2 = await phase("phase2", "2: SciFact train, BM25 negatives", p1, async () => {
    const data = path.join(OUT, "data", "phase2.jsonl");
    await colts(["mine", "--dataset", SCIFACT, "--split", "train", "--negatives", neg, "--window", "10-100", "--seed", String(S.seed), "--output", data]);
    return { data, extra: [] };
  }, S["p2-steps"], S["p2-batch"]);

  const p3 = await phase("phase3", "3: Margin-MSE from SPLADE++ (DL20)", p2, async () => {
    const beir = path.join(OUT, "data", "dl20");
    const pool = await dl20Beir(beir);
    log(`phase 3: DL20 SPLADE++ pool of ${pool.docs} passages, ${pool.queries} queries`);
    const mined = path.join(OUT, "data", "phase3-mined.jsonl");
    await colts(["mine", "--dataset", beir, "--split", "test", "--run", SPLADE20, "--positive-grade", "2", "--negatives", neg, "--window", "10-100", "--seed", String(S.seed), "--output", mined]);
    const data = path.join(OUT, "data", "phase3.jsonl");
    await colts(["teacher", "--data", mined, "--run", SPLADE20, "--name", "splade", "--missing", "drop", "--output", data]);
    // SPLADE++ scores are ~1e5: z-scored per query, only their margins (in standard deviations) are learnt.
    return { data, extra: ["--loss", "margin-mse", "--teacher-norm", "zscore"] };
  }, S["p3-steps"], S["p3-batch"]);

  const merged = path.join(OUT, "merge");
  const m = await colts(["merge", p2, p3, "--method", "slerp", "--t", String(S["slerp-t"]), "--output", merged]);
  rows.push({ phase: `merge: slerp(phase 2, phase 3, t ${S["slerp-t"]})`, steps: null, batch: "-", trainSeconds: m.seconds, trainPeakRssBytes: m.peakRssBytes, eval: evalAt.has("merge") ? await evaluateModel("merge", merged) : null });

  const table = [
    `| phase | steps | batch | wall time train | wall time eval | peak RSS train / eval | SciFact nDCG@10 (${retriever}) | DL19 nDCG@10 (re-rank BM25 top-100) |`,
    "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    `| BM25 | - | - | - | - | - | ${fmt(scifactBm25)} | ${fmt(bm25Dl19)} |`,
    ...rows.map((r) => `| ${r.phase} | ${r.steps ?? "-"} | ${r.batch} | ${r.trainSeconds === null ? "-" : `${r.trainSeconds.toFixed(0)} s`} | ${r.eval ? `${r.eval.seconds.toFixed(0)} s` : "-"} | ${mib(r.trainPeakRssBytes)} / ${mib(r.eval?.peakRssBytes ?? null)} | ${fmt(r.eval?.scifact)} | ${fmt(r.eval?.dl19)} |`),
  ].join("\n");
  const total = (performance.now() - t0) / 1000;
  console.log(`\n${table}\n\nTotal wall time ${(total / 60).toFixed(1)} min. SciFact corpus: ${sci.docs} documents; documents cut at ${S["doc-length"]} tokens; DL19: ${dl19.topics.length} queries.`);
  const summary = { quick, settings: S, retriever, evalAt: [...evalAt], scifactDocs: sci.docs, dl19Queries: dl19.topics.length, bm25: { scifact: scifactBm25, dl19: bm25Dl19 }, rows, commands: commands.map(({ argv, seconds, peakRssBytes }) => ({ argv, seconds, peakRssBytes })), totalSeconds: total };
  fs.writeFileSync(path.join(OUT, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  log(`wrote ${path.join(OUT, "summary.json")}`);
}

await main();
