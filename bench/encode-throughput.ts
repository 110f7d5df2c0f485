/**
 * Encode throughput: colts `ColBERT.encodeDocuments` against `@huggingface/transformers` (transformers.js)
 * on the same ONNX graph (generated, hidden 384, 12 layers, 12 heads: the shape of
 * answerai-colbert-small-v1), same process, same machine, over SciFact abstracts.
 *
 *   npm run bench:encode -- --docs 512 [--batch-size 32] [--reps 3] [--no-variants] [--no-results]
 *
 * Both sides produce the same thing: per document, the L2-normalised 96-d vectors of the kept
 * positions (attended, not skiplisted punctuation). Vectors are checked equal (max abs diff < 1e-4)
 * before any number is reported; the process exits 1 otherwise. See bench/README.md for fairness notes.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { AutoModel, AutoTokenizer, env, matmul, Tensor, type PreTrainedModel, type PreTrainedTokenizer } from "@huggingface/transformers";
import { ColBERT } from "../src/encode/colbert.js";
import { planBatches } from "../src/encode/encoder.js";
import { applyDense, normalizeRows } from "../src/encode/kernels.js";
import type { MultiVector } from "../src/encode/multivector.js";
import type { TokenizedText } from "../src/encode/tokenize.js";
import type { DenseLayer } from "../src/model/layout.js";
import { parseSafetensors } from "../src/model/safetensors.js";
import { writeTinyModel, type TinyModelOptions } from "../src/model/tiny.js";

// ---------------------------------------------------------------------------------------------
// Setup

const MODEL_OPTIONS: TinyModelOptions = {
  layout: "pylate",
  hidden: 384,
  layers: 12,
  heads: 12,
  intermediate: 1536,
  dim: 96,
  documentLength: 300,
  seed: 1,
};
const MODEL_NAME = "colbert-h384-l12-seed1";
const TOLERANCE = 1e-4;

function findRoot(start: string): string {
  let dir = start;
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${start}`);
    dir = up;
  }
  return dir;
}

const ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
const OUT_DIR = path.join(ROOT, "bench", "out");
const MODEL_DIR = path.join(OUT_DIR, MODEL_NAME);
const CORPUS = path.resolve(ROOT, "..", "shared", "datasets", "scifact-beir", "beir-format", "corpus.jsonl");
const RESULTS_MD = path.join(ROOT, "bench", "RESULTS.md");
const RESULTS_JSON = path.join(OUT_DIR, "encode-throughput.json");

interface Args {
  docs: number;
  batchSize: number;
  reps: number;
  variants: boolean;
  writeResults: boolean;
}

function positiveInt(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
  return n;
}

function readArgs(): Args {
  const { values } = parseArgs({
    options: {
      docs: { type: "string" },
      "batch-size": { type: "string" },
      reps: { type: "string" },
      "no-variants": { type: "boolean", default: false },
      "no-results": { type: "boolean", default: false },
    },
  });
  return {
    docs: positiveInt(values.docs, "docs", 512),
    batchSize: positiveInt(values["batch-size"], "batch-size", 32),
    reps: positiveInt(values.reps, "reps", 3),
    variants: !values["no-variants"],
    writeResults: !values["no-results"],
  };
}

/** Generates the model once; a stamp file marks a complete generation with these options. */
async function ensureModel(): Promise<void> {
  const stamp = path.join(MODEL_DIR, ".generated.json");
  const want = JSON.stringify(MODEL_OPTIONS);
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === want) {
    console.log(`model: reusing ${path.relative(ROOT, MODEL_DIR)}`);
    return;
  }
  console.log(`model: generating ${path.relative(ROOT, MODEL_DIR)} (hidden 384, 12 layers, 12 heads, dim 96) ...`);
  const t0 = performance.now();
  fs.rmSync(MODEL_DIR, { recursive: true, force: true });
  await writeTinyModel(MODEL_DIR, MODEL_OPTIONS);
  fs.writeFileSync(stamp, want);
  console.log(`model: generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** The first `n` SciFact documents, in corpus order, as title + " " + text (BEIR / PyLate). */
function readDocuments(n: number): string[] | null {
  if (!fs.existsSync(CORPUS)) return null;
  const texts: string[] = [];
  for (const line of fs.readFileSync(CORPUS, "utf8").split("\n")) {
    if (texts.length >= n) break;
    if (line.trim() === "") continue;
    const doc = JSON.parse(line) as { title?: unknown; text?: unknown };
    const title = typeof doc.title === "string" ? doc.title : "";
    const text = typeof doc.text === "string" ? doc.text : "";
    texts.push(`${title} ${text}`);
  }
  return texts;
}

// ---------------------------------------------------------------------------------------------
// The transformers.js side: what a user of that library writes to get ColBERT document vectors.

interface DocVectors {
  vectors: Float32Array;
  tokenIds: Int32Array;
}

interface TjsSide {
  tokenizer: PreTrainedTokenizer;
  model: PreTrainedModel;
  /** Projection head weight transposed to [hidden, dim], as a transformers.js tensor. */
  headT: Tensor;
  dim: number;
  skiplist: ReadonlySet<number>;
  maxLength: number;
  /** [CLS], document marker, [SEP] ids, looked up in the transformers.js tokenizer. */
  ids: { cls: number; marker: number; sep: number };
}

interface TjsRun {
  out: DocVectors[];
  paddedTokens: number;
  /** last_hidden_state per batch with its row indexes, kept when asked (for the vector check). */
  hidden: { rows: number[]; state: Tensor; ids: BigInt64Array }[];
}

function asTensor(v: unknown, what: string): Tensor {
  if (!(v instanceof Tensor)) throw new Error(`transformers.js: ${what} is not a Tensor`);
  return v;
}

function field(v: unknown, key: string): unknown {
  return typeof v === "object" && v !== null ? (v as Record<string, unknown>)[key] : undefined;
}

async function loadTransformersJs(dense: DenseLayer, skiplist: ReadonlySet<number>, marker: string, intraOpThreads: number | null): Promise<TjsSide> {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = OUT_DIR;
  env.useFSCache = false;
  env.useBrowserCache = false;
  const tokenizer = await AutoTokenizer.from_pretrained(MODEL_NAME);
  const model = await AutoModel.from_pretrained(MODEL_NAME, {
    dtype: "fp32",
    subfolder: "onnx",
    model_file_name: "model",
    ...(intraOpThreads === null ? {} : { session_options: { intraOpNumThreads: intraOpThreads } }),
  });
  const { inFeatures, outFeatures, weight } = dense;
  const wt = new Float32Array(inFeatures * outFeatures);
  for (let o = 0; o < outFeatures; o++) for (let i = 0; i < inFeatures; i++) wt[i * outFeatures + o] = weight[o * inFeatures + i] as number;
  return {
    tokenizer,
    model,
    headT: new Tensor("float32", wt, [inFeatures, outFeatures]),
    dim: outFeatures,
    skiplist,
    maxLength: MODEL_OPTIONS.documentLength ?? 300,
    ids: { cls: tokenizer.convert_tokens_to_ids("[CLS]"), marker: tokenizer.convert_tokens_to_ids(marker), sep: tokenizer.sep_token_id },
  };
}

/**
 * transformers.js pipeline, as PyLate lays documents out: the tokenizer encodes the text without
 * special tokens, the content is cut to documentLength - 3, then [CLS] marker content [SEP]; rows
 * are padded to the batch's longest with the pad token (what `padding: true` does). (The tokenizer's
 * own `truncation: true` cuts [SEP] off long documents, so it cannot be used: see bench/README.md.)
 * Then the model, the head as a transformers.js matmul (native onnxruntime), L2 normalise, and the
 * attended non-punctuation rows are kept. Batches in the given order (corpus order by default).
 */
async function encodeTjs(side: TjsSide, texts: readonly string[], batchSize: number, order: readonly number[], keepHidden: boolean): Promise<TjsRun> {
  const out = new Array<DocVectors>(texts.length);
  const hidden: TjsRun["hidden"] = [];
  const { tokenizer, ids: special } = side;
  let paddedTokens = 0;
  for (let start = 0; start < order.length; start += batchSize) {
    const rows = order.slice(start, start + batchSize);
    const seqs = rows.map((i) => {
      const content = tokenizer.encode((texts[i] ?? "").trim(), { add_special_tokens: false }).slice(0, side.maxLength - 3);
      return [special.cls, special.marker, ...content, special.sep];
    });
    const n = seqs.length;
    const len = Math.max(...seqs.map((s) => s.length));
    const ids = new BigInt64Array(n * len).fill(BigInt(tokenizer.pad_token_id));
    const mask = new BigInt64Array(n * len);
    seqs.forEach((s, b) => {
      for (let t = 0; t < s.length; t++) {
        ids[b * len + t] = BigInt(s[t] as number);
        mask[b * len + t] = 1n;
      }
    });
    const dims = [n, len];
    const result: unknown = await side.model._call({
      input_ids: new Tensor("int64", ids, dims),
      attention_mask: new Tensor("int64", mask, dims),
      token_type_ids: new Tensor("int64", new BigInt64Array(n * len), dims),
    });
    const state = asTensor(field(result, "last_hidden_state"), "last_hidden_state");
    const projected = (await matmul(state, side.headT)).normalize(2, -1);
    paddedTokens += n * len;
    const data = projected.data as Float32Array;
    const dim = side.dim;
    rows.forEach((docIndex, b) => {
      const kept: number[] = [];
      for (let t = 0; t < len; t++) {
        const k = b * len + t;
        if (mask[k] === 1n && !side.skiplist.has(Number(ids[k]))) kept.push(k);
      }
      const vectors = new Float32Array(kept.length * dim);
      kept.forEach((k, j) => vectors.set(data.subarray(k * dim, (k + 1) * dim), j * dim));
      out[docIndex] = { vectors, tokenIds: Int32Array.from(kept, (k) => Number(ids[k])) };
    });
    if (keepHidden) hidden.push({ rows, state, ids });
  }
  return { out, paddedTokens, hidden };
}

// ---------------------------------------------------------------------------------------------
// Checks

interface CheckResult {
  /** Max abs difference, colts vs the timed transformers.js pipeline (head by matmul). */
  maxDiffPipeline: number;
  /** Max abs difference, colts vs last_hidden_state -> applyDense -> normalise -> keep (the reference check). */
  maxDiffReference: number;
  idMismatches: number;
  docsChecked: number;
  vectorsChecked: number;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

function sameIds(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function checkVectors(rows: readonly TokenizedText[], colts: readonly MultiVector[], tjs: TjsRun, dense: DenseLayer): CheckResult {
  let maxDiffPipeline = 0;
  let maxDiffReference = 0;
  let idMismatches = 0;
  let vectorsChecked = 0;
  const expectedKept = rows.map((r) => Int32Array.from(r.ids.filter((_, t) => r.keep[t] === 1)));
  rows.forEach((_, i) => {
    const c = colts[i];
    const t = tjs.out[i];
    const want = expectedKept[i];
    if (!c || !t || !want || !sameIds(c.tokenIds, want) || !sameIds(t.tokenIds, want)) {
      idMismatches++;
      return;
    }
    maxDiffPipeline = Math.max(maxDiffPipeline, maxAbsDiff(c.vectors, t.vectors));
    vectorsChecked += c.tokens;
  });
  // Reference: transformers.js last_hidden_state at the positions tokenizeDocument keeps -> 1_Dense
  // (applyDense) -> L2 normalise, compared with colts.
  for (const { rows: docRows, state, ids } of tjs.hidden) {
    const [, len, hidden] = state.dims as [number, number, number];
    const h = state.data as Float32Array;
    docRows.forEach((docIndex, b) => {
      const r = rows[docIndex];
      const c = colts[docIndex];
      if (!r || !c) return;
      for (let t = 0; t < r.ids.length; t++) {
        if (Number(ids[b * len + t]) !== r.ids[t]) {
          idMismatches++;
          return;
        }
      }
      const kept = r.keep.flatMap((k, t) => (k === 1 ? [t] : []));
      const x = new Float32Array(kept.length * hidden);
      kept.forEach((t, j) => x.set(h.subarray((b * len + t) * hidden, (b * len + t + 1) * hidden), j * hidden));
      const y = normalizeRows(applyDense(x, kept.length, dense), kept.length, dense.outFeatures);
      maxDiffReference = Math.max(maxDiffReference, maxAbsDiff(c.vectors, y));
    });
  }
  return { maxDiffPipeline, maxDiffReference, idMismatches, docsChecked: rows.length, vectorsChecked };
}

// ---------------------------------------------------------------------------------------------
// Timing

interface Measurement {
  system: "colts" | "transformers.js";
  config: string;
  /** Seconds per repetition. */
  seconds: number[];
  paddedTokens: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Padded tokens colts feeds: the pool orders texts by character length, cuts chunks of 4 x batch, each worker plans batches. */
function coltsPaddedTokens(texts: readonly string[], rows: readonly TokenizedText[], batchSize: number, pooled: boolean): number {
  const plan = (idx: number[]): number =>
    planBatches(
      idx.map((i) => rows[i] as TokenizedText),
      batchSize,
      16384,
    ).reduce((sum, b) => sum + b.length * Math.max(...b.map((j) => (rows[idx[j] as number] as TokenizedText).ids.length)), 0);
  const all = texts.map((_, i) => i);
  if (!pooled) return plan(all);
  const order = all.sort((a, b) => (texts[b]?.length ?? 0) - (texts[a]?.length ?? 0) || a - b);
  let sum = 0;
  for (let s = 0; s < order.length; s += 4 * batchSize) sum += plan(order.slice(s, s + 4 * batchSize));
  return sum;
}

function tjsPaddedTokens(rows: readonly TokenizedText[], order: readonly number[], batchSize: number): number {
  let sum = 0;
  for (let s = 0; s < order.length; s += batchSize) {
    const b = order.slice(s, s + batchSize);
    sum += b.length * Math.max(...b.map((i) => rows[i]?.ids.length ?? 0));
  }
  return sum;
}

async function time<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { seconds: (performance.now() - t0) / 1000, value };
}

function gitCommit(): string {
  try {
    const sha = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return dirty ? `${sha} (+ uncommitted changes)` : sha;
  } catch {
    return "unknown";
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const args = readArgs();
  const texts = readDocuments(args.docs);
  if (texts === null) {
    console.log(`SKIP: SciFact corpus not found at ${CORPUS} (needs ../shared next to the repo). Nothing measured.`);
    return 0;
  }
  await ensureModel();
  const cores = os.availableParallelism();
  const threads = Math.max(1, cores);

  // colts, the configuration under test: 1 worker thread, onnxruntime intra-op threads = cores.
  const colbert = await ColBERT.load(MODEL_DIR, { workers: 1 });
  const tok = colbert.tokenizer;
  const rows = texts.map((t) => tok.tokenizeDocument(t));
  const tokens = rows.reduce((s, r) => s + r.ids.length, 0);
  const kept = rows.reduce((s, r) => s + r.keep.reduce((a, k) => a + k, 0), 0);
  const truncated = rows.filter((r) => r.ids.length >= (MODEL_OPTIONS.documentLength ?? 300)).length;
  const marker = tok.settings.documentPrefix;
  if (marker === null) throw new Error("the generated model has no document marker");

  const denseFile = path.join(MODEL_DIR, "1_Dense", "model.safetensors");
  const w = parseSafetensors(fs.readFileSync(denseFile), denseFile).get("linear.weight");
  if (!w || !(w.data instanceof Float32Array) || w.shape.length !== 2) throw new Error(`${denseFile}: no 2-D float linear.weight`);
  const [dOut, dIn] = w.shape as [number, number];
  const dense: DenseLayer = { weight: w.data, bias: null, inFeatures: dIn, outFeatures: dOut, activation: "identity", source: denseFile };

  const tjs = await loadTransformersJs(dense, tok.skiplist, marker, threads);
  const corpusOrder = texts.map((_, i) => i);
  const B = args.batchSize;

  console.log(
    `docs ${texts.length} (SciFact, corpus order), tokens fed ${tokens} (mean ${(tokens / texts.length).toFixed(1)}, ${truncated} truncated at 300), ` +
      `vectors kept ${kept}, batch ${B}, reps ${args.reps}, threads ${threads}`,
  );

  // Warm-up: a few documents through each.
  const warm = texts.slice(0, Math.min(8, texts.length));
  await colbert.encodeDocuments(warm, { batchSize: B });
  await encodeTjs(tjs, warm, B, warm.map((_, i) => i), false);

  const main: Measurement = { system: "colts", config: `workers 1 x ${threads} threads`, seconds: [], paddedTokens: coltsPaddedTokens(texts, rows, B, true) };
  const base: Measurement = {
    system: "transformers.js",
    config: `corpus-order batches, intraOpNumThreads ${threads}`,
    seconds: [],
    paddedTokens: tjsPaddedTokens(rows, corpusOrder, B),
  };
  let coltsOut: MultiVector[] = [];
  let tjsOut: TjsRun | null = null;
  // Alternate the two so that any drift of the machine hits both alike.
  for (let r = 0; r < args.reps; r++) {
    const c = await time(() => colbert.encodeDocuments(texts, { batchSize: B }));
    main.seconds.push(c.seconds);
    coltsOut = c.value;
    const last = r === args.reps - 1;
    const t = await time(() => encodeTjs(tjs, texts, B, corpusOrder, last));
    base.seconds.push(t.seconds);
    if (last) tjsOut = t.value;
    console.log(`  rep ${r + 1}: colts ${c.seconds.toFixed(2)} s, transformers.js ${t.seconds.toFixed(2)} s`);
  }
  await colbert.close();
  if (!tjsOut) throw new Error("no transformers.js run");

  const check = checkVectors(rows, coltsOut, tjsOut, dense);
  tjsOut = null;
  console.log(
    `vectors: ${check.docsChecked} docs, ${check.vectorsChecked} vectors; id mismatches ${check.idMismatches}; ` +
      `max |colts - transformers.js| = ${check.maxDiffPipeline.toExponential(2)} (pipeline), ${check.maxDiffReference.toExponential(2)} (last_hidden_state -> applyDense -> normalise)`,
  );
  const identical = check.idMismatches === 0 && check.maxDiffPipeline < TOLERANCE && check.maxDiffReference < TOLERANCE;

  const measurements: Measurement[] = [main, base];
  if (args.variants && identical) {
    // Secondary configurations, one repetition set each (same reps), for context.
    const variantsColts: { config: string; workers: number; threads: number; pooled: boolean }[] = [
      { config: `workers 0 (calling thread) x ${threads} threads`, workers: 0, threads, pooled: false },
      { config: `workers ${cores} x 1 thread`, workers: cores, threads: 1, pooled: true },
    ];
    for (const v of variantsColts) {
      if (v.workers === 1) continue;
      const cb = await ColBERT.load(MODEL_DIR, { workers: v.workers, threads: v.threads });
      await cb.encodeDocuments(warm, { batchSize: B });
      const m: Measurement = { system: "colts", config: v.config, seconds: [], paddedTokens: coltsPaddedTokens(texts, rows, B, v.pooled) };
      for (let r = 0; r < args.reps; r++) m.seconds.push((await time(() => cb.encodeDocuments(texts, { batchSize: B }))).seconds);
      await cb.close();
      console.log(`  colts ${v.config}: ${m.seconds.map((s) => s.toFixed(2)).join(", ")} s`);
      measurements.push(m);
    }
    // transformers.js with the batching colts does (longest first), to separate batching from runtime.
    const sorted = texts.map((_, i) => i).sort((a, b) => (rows[b]?.ids.length ?? 0) - (rows[a]?.ids.length ?? 0) || a - b);
    const ms: Measurement = {
      system: "transformers.js",
      config: `length-sorted batches, intraOpNumThreads ${threads}`,
      seconds: [],
      paddedTokens: tjsPaddedTokens(rows, sorted, B),
    };
    for (let r = 0; r < args.reps; r++) ms.seconds.push((await time(() => encodeTjs(tjs, texts, B, sorted, false))).seconds);
    console.log(`  transformers.js ${ms.config}: ${ms.seconds.map((s) => s.toFixed(2)).join(", ")} s`);
    measurements.push(ms);
  }
  await tjs.model.dispose();

  // Report.
  const baseline = tokens / median(base.seconds);
  const table = [
    "| system | configuration | median s | docs/s | tokens/s | padded tokens fed | x transformers.js |",
    "|---|---|---:|---:|---:|---:|---:|",
    ...measurements.map((m) => {
      const s = median(m.seconds);
      return `| ${m.system} | ${m.config} | ${s.toFixed(2)} | ${(texts.length / s).toFixed(1)} | ${(tokens / s).toFixed(0)} | ${m.paddedTokens} | ${(tokens / s / baseline).toFixed(2)} |`;
    }),
  ].join("\n");
  const ratio = tokens / median(main.seconds) / baseline;
  const command = `npm run bench:encode -- ${process.argv.slice(2).join(" ")}`.trim();
  const machine = `${os.cpus()[0]?.model ?? "unknown CPU"}, ${cores} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
  const date = new Date().toISOString();
  const commit = gitCommit();
  const verdict = `colts / transformers.js = **${ratio.toFixed(2)}x** tokens/s (floor 1.3x: ${ratio >= 1.3 ? "met" : "NOT met"}); vectors ${identical ? "identical" : "DIFFER"}`;
  console.log(`\n${table}\n\n${verdict}`);

  const section = [
    `## ${date.slice(0, 10)} — encode throughput, ${texts.length} SciFact docs, batch ${B}`,
    "",
    `- Machine: ${machine}`,
    `- Commit: ${commit}`,
    `- Command: \`${command}\``,
    `- Model: generated PyLate layout, hidden 384, 12 layers, 12 heads, intermediate 1536, dim 96, document length 300 (\`bench/out/${MODEL_NAME}\`)`,
    `- Documents: first ${texts.length} of SciFact corpus.jsonl (title + " " + text); ${tokens} tokens fed (mean ${(tokens / texts.length).toFixed(1)}, ${truncated} truncated to 300), ${kept} vectors kept`,
    `- Threads: colts onnxruntime intra-op ${threads} (per worker unless stated); transformers.js session_options.intraOpNumThreads ${threads}`,
    `- Repetitions: ${args.reps}, median reported; colts and transformers.js alternated; warm-up of ${warm.length} docs each`,
    `- Vectors: ${check.vectorsChecked} vectors of ${check.docsChecked} docs, id mismatches ${check.idMismatches}, max abs diff ${check.maxDiffPipeline.toExponential(2)} vs the transformers.js pipeline, ${check.maxDiffReference.toExponential(2)} vs last_hidden_state -> applyDense -> normalise (tolerance ${TOLERANCE})`,
    "",
    table,
    "",
    `Result: ${verdict}.`,
    "",
  ].join("\n");
  const json = {
    date,
    commit,
    command,
    machine: { cpu: os.cpus()[0]?.model ?? null, cores, totalMemGiB: os.totalmem() / 2 ** 30, node: process.version, platform: `${os.platform()} ${os.release()}` },
    docs: texts.length,
    batchSize: B,
    reps: args.reps,
    tokens,
    keptVectors: kept,
    check,
    identical,
    ratio,
    measurements: measurements.map((m) => ({
      ...m,
      medianSeconds: median(m.seconds),
      docsPerSecond: texts.length / median(m.seconds),
      tokensPerSecond: tokens / median(m.seconds),
    })),
  };
  if (args.writeResults) {
    fs.mkdirSync(OUT_DIR, { recursive: true });
    fs.writeFileSync(RESULTS_JSON, `${JSON.stringify(json)}\n`);
    if (!fs.existsSync(RESULTS_MD)) fs.writeFileSync(RESULTS_MD, "# Benchmark results\n\nAppended by `npm run bench:encode` (bench/encode-throughput.ts). Newest last.\n\n");
    fs.appendFileSync(RESULTS_MD, `${section}\n`);
    console.log(`\nappended to ${path.relative(ROOT, RESULTS_MD)}; JSON in ${path.relative(ROOT, RESULTS_JSON)}`);
  }
  if (!identical) {
    console.error(`FAIL: vectors differ (tolerance ${TOLERANCE}) or token ids mismatch`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
