/**
 * Encode throughput: colts `ColBERT.encodeDocuments` against `@huggingface/transformers` (transformers.js)
 * on the same ONNX graph (generated, hidden 384, 12 layers, 12 heads: the shape of
 * answerai-colbert-small-v1), same process, same machine, over SciFact abstracts.
 *
 *   npm run bench:encode -- --docs 512 [--batch-size 32] [--reps 3] [--no-variants] [--int8] [--no-results]
 *
 * `--int8` adds the same model quantised by `quantizeModel` (dynamic int8 MatMulInteger graph,
 * loaded with `quantized: true`) at the default layout and, with variants, at one worker per core.
 * Its vectors are not the fp32 vectors: they are left out of the identity check and their deviation
 * from the transformers.js pipeline is reported instead (max |diff| and mean cosine per vector).
 *
 * Both sides produce the same thing: per document, the L2-normalised 96-d vectors of the kept
 * positions (attended, not skiplisted punctuation). Vectors are checked equal (max abs diff < 1e-4)
 * before any number is reported; the process exits 1 otherwise. See bench/README.md for fairness notes.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { AutoModel, AutoTokenizer, env, matmul, Tensor, type PreTrainedModel, type PreTrainedTokenizer } from "@huggingface/transformers";
import { ColBERT, defaultChunkSize } from "../src/encode/colbert.js";
import { defaultEncoderWorkers, threadsPerWorker } from "../src/workers/pool.js";
import { planBatches } from "../src/encode/encoder.js";
import { applyDense, normalizeRows } from "../src/encode/head.js";
import type { TokenizedText } from "../src/encode/tokenize.js";
import type { DenseLayer } from "../src/model/layout.js";
import { quantizeModel } from "../src/model/quantize.js";
import { parseSafetensors } from "../src/model/safetensors.js";
import { writeTinyModel, type TinyModelOptions } from "../src/testing/tiny-model.js";
import { REPO_ROOT } from "./tools/paths.js";

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
/** Token budget per model call of the small-batch colts variant (about one 300-token document). */
const LARGE_BATCH_TOKENS = 16384;


const ROOT = REPO_ROOT;
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
  int8: boolean;
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
      int8: { type: "boolean", default: false },
      "no-results": { type: "boolean", default: false },
    },
  });
  return {
    docs: positiveInt(values.docs, "docs", 512),
    batchSize: positiveInt(values["batch-size"], "batch-size", 32),
    reps: positiveInt(values.reps, "reps", 3),
    variants: !values["no-variants"],
    int8: values.int8 === true,
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

/** The int8 copy of the model (`quantizeModel`), written once next to it; its folder. */
async function ensureInt8Model(): Promise<string> {
  const dir = `${MODEL_DIR}-int8`;
  const stamp = path.join(dir, ".generated.json");
  const want = JSON.stringify({ ...MODEL_OPTIONS, int8: "quantizeModel" });
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === want) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  await quantizeModel(MODEL_DIR, dir);
  fs.writeFileSync(stamp, want);
  console.log(`model: int8 copy written to ${path.relative(ROOT, dir)}`);
  return dir;
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

/**
 * Loads the transformers.js side from the model folder as its user would: AutoTokenizer, AutoModel
 * (fp32, onnx/model.onnx), the 1_Dense weight, and the marker and skiplist from PyLate's
 * config_sentence_transformers.json (mapped to ids by the transformers.js tokenizer).
 */
async function loadTransformersJs(dense: DenseLayer, intraOpThreads: number): Promise<TjsSide> {
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
    session_options: { intraOpNumThreads: intraOpThreads },
  });
  const st = JSON.parse(fs.readFileSync(path.join(MODEL_DIR, "config_sentence_transformers.json"), "utf8")) as Record<string, unknown>;
  const marker = st["document_prefix"];
  const words = st["skiplist_words"];
  const maxLength = st["document_length"];
  if (typeof marker !== "string" || !Array.isArray(words) || typeof maxLength !== "number") throw new Error("config_sentence_transformers.json lacks document_prefix / skiplist_words / document_length");
  const { inFeatures, outFeatures, weight } = dense;
  const wt = new Float32Array(inFeatures * outFeatures);
  for (let o = 0; o < outFeatures; o++) for (let i = 0; i < inFeatures; i++) wt[i * outFeatures + o] = weight[o * inFeatures + i] as number;
  return {
    tokenizer,
    model,
    headT: new Tensor("float32", wt, [inFeatures, outFeatures]),
    dim: outFeatures,
    skiplist: new Set(words.filter((x): x is string => typeof x === "string").map((x) => tokenizer.convert_tokens_to_ids(x))),
    maxLength,
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
  return { out, hidden };
}

// ---------------------------------------------------------------------------------------------
// Checks

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

interface Comparison {
  /** Documents whose kept token ids differ from tokenizeDocument's (or whose vector count differs). */
  idMismatches: number;
  maxDiff: number;
  vectors: number;
}

/** Compares one system's per-document vectors with the expected kept ids and with other vectors. */
function compare(rows: readonly TokenizedText[], got: readonly DocVectors[], want: readonly DocVectors[]): Comparison {
  let idMismatches = 0;
  let maxDiff = 0;
  let vectors = 0;
  rows.forEach((r, i) => {
    const g = got[i];
    const w = want[i];
    const keptIds = r.ids.filter((_, t) => r.keep[t] === 1);
    if (!g || !w || !sameIds(g.tokenIds, keptIds) || !sameIds(w.tokenIds, keptIds)) {
      idMismatches++;
      return;
    }
    maxDiff = Math.max(maxDiff, maxAbsDiff(g.vectors, w.vectors));
    vectors += keptIds.length;
  });
  return { idMismatches, maxDiff, vectors };
}

/** How far approximate (int8) vectors are from fp32 ones: max |diff| and cosine per vector (rows in the same order). */
function deviation(rows: readonly TokenizedText[], got: readonly DocVectors[], want: readonly DocVectors[]): { maxDiff: number; meanCosine: number; minCosine: number } {
  let maxDiff = 0;
  let sum = 0;
  let n = 0;
  let minCosine = 1;
  rows.forEach((_, i) => {
    const g = got[i];
    const w = want[i];
    if (!g || !w || g.vectors.length !== w.vectors.length) throw new Error(`document ${i}: int8 and fp32 kept different tokens`);
    maxDiff = Math.max(maxDiff, maxAbsDiff(g.vectors, w.vectors));
    const dim = g.vectors.length / Math.max(1, g.tokenIds.length);
    for (let t = 0; t < g.tokenIds.length; t++) {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += (g.vectors[t * dim + j] as number) * (w.vectors[t * dim + j] as number);
      sum += dot;
      n++;
      minCosine = Math.min(minCosine, dot);
    }
  });
  return { maxDiff, meanCosine: n > 0 ? sum / n : 1, minCosine };
}

/**
 * The reference vectors: transformers.js last_hidden_state at the positions tokenizeDocument
 * keeps -> 1_Dense (applyDense) -> L2 normalise. Also checks that transformers.js was fed the same ids.
 */
function referenceVectors(rows: readonly TokenizedText[], run: TjsRun, dense: DenseLayer): { vectors: DocVectors[]; inputMismatches: number } {
  const vectors = new Array<DocVectors>(rows.length);
  let inputMismatches = 0;
  for (const { rows: docRows, state, ids } of run.hidden) {
    const [, len, hidden] = state.dims as [number, number, number];
    const h = state.data as Float32Array;
    docRows.forEach((docIndex, b) => {
      const r = rows[docIndex];
      if (!r) return;
      if (r.ids.some((id, t) => Number(ids[b * len + t]) !== id)) inputMismatches++;
      const kept = r.keep.flatMap((k, t) => (k === 1 ? [t] : []));
      const x = new Float32Array(kept.length * hidden);
      kept.forEach((t, j) => x.set(h.subarray((b * len + t) * hidden, (b * len + t + 1) * hidden), j * hidden));
      vectors[docIndex] = {
        vectors: normalizeRows(applyDense(x, kept.length, dense), kept.length, dense.outFeatures),
        tokenIds: Int32Array.from(kept, (t) => r.ids[t] as number),
      };
    });
  }
  return { vectors, inputMismatches };
}

// ---------------------------------------------------------------------------------------------
// Timing

interface Config {
  system: "colts" | "transformers.js";
  label: string;
  paddedTokens: number;
  /** One pass over `texts`; `last` asks transformers.js to keep its hidden states for the check. */
  encode: (texts: readonly string[], last: boolean) => Promise<DocVectors[] | TjsRun>;
  close: () => Promise<void>;
  seconds: number[];
  output: DocVectors[] | null;
  /** int8: not expected to equal the fp32 vectors; its deviation is reported instead. */
  approximate?: boolean;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Rows of a batch plan padded to their batch's longest. */
function paddedOf(rows: readonly TokenizedText[], batches: readonly (readonly number[])[]): number {
  return batches.reduce((sum, b) => sum + b.length * Math.max(...b.map((i) => rows[i]?.ids.length ?? 0)), 0);
}

function chunks(order: readonly number[], size: number): number[][] {
  const out: number[][] = [];
  for (let s = 0; s < order.length; s += size) out.push(order.slice(s, s + size));
  return out;
}

/**
 * Padded tokens colts feeds. The worker pool orders texts by character length and cuts chunks of
 * chunkSize (default: colts' defaultChunkSize; null = no pool); each encoder call plans batches (longest first,
 * batchSize rows, maxBatchTokens). Replicates colbert.ts / encoder.ts for the report only.
 */
function coltsPadded(texts: readonly string[], rows: readonly TokenizedText[], batchSize: number, maxBatchTokens: number, chunkSize: number | null): number {
  const all = texts.map((_, i) => i);
  const parts = chunkSize ? chunks([...all].sort((a, b) => (texts[b]?.length ?? 0) - (texts[a]?.length ?? 0) || a - b), chunkSize) : [all];
  return parts.reduce((sum, part) => {
    const plan = planBatches(part.map((i) => rows[i] as TokenizedText), batchSize, maxBatchTokens).map((b) => b.map((j) => part[j] as number));
    return sum + paddedOf(rows, plan);
  }, 0);
}

function gitCommit(): string {
  const git = (...a: string[]): string => execFileSync("git", a, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  try {
    const sha = git("rev-parse", "--short", "HEAD");
    return git("status", "--porcelain", "--untracked-files=no") ? `${sha} + uncommitted changes` : sha;
  } catch {
    return "unknown (git unavailable)";
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const args = readArgs();
  const texts = readDocuments(args.docs);
  if (texts === null) {
    console.log(`SKIP: SciFact corpus not found at ${CORPUS} (../shared next to the repository). Nothing measured.`);
    return 0;
  }
  await ensureModel();
  const cores = os.availableParallelism();
  const B = args.batchSize;
  const docLength = MODEL_OPTIONS.documentLength ?? 300;

  // colts as a user loads it: the defaults (defaultEncoderWorkers: one worker per core up to 4, cores / workers threads each).
  const colbert = await ColBERT.load(MODEL_DIR);
  const layout = `${defaultEncoderWorkers()} worker(s) x ${threadsPerWorker(defaultEncoderWorkers())} thread(s)`;
  const tok = colbert.tokenizer;
  const rows = texts.map((t) => tok.tokenizeDocument(t));
  const tokens = rows.reduce((s, r) => s + r.ids.length, 0);
  const kept = rows.reduce((s, r) => s + r.keep.reduce((a, k) => a + k, 0), 0);
  const truncated = rows.filter((r) => r.ids.length >= docLength).length;

  // transformers.js, from the same folder and ONNX file, with the same intra-op thread count.
  const denseFile = path.join(MODEL_DIR, "1_Dense", "model.safetensors");
  // A plain Uint8Array copy: parseSafetensors' "aligned copy" is bytes.slice(), which for a Node Buffer
  // is a view of the whole file, so a Buffer argument yields a misplaced, over-long tensor.
  const w = parseSafetensors(new Uint8Array(fs.readFileSync(denseFile)), denseFile).get("linear.weight");
  const [dOut, dIn] = w?.shape ?? [];
  if (!w || !(w.data instanceof Float32Array) || dOut === undefined || dIn === undefined || w.data.length !== dOut * dIn) {
    throw new Error(`${denseFile}: no [out, in] float linear.weight`);
  }
  const dense: DenseLayer = { weight: w.data, bias: null, inFeatures: dIn, outFeatures: dOut, activation: "identity", source: denseFile };
  const tjs = await loadTransformersJs(dense, cores);
  console.log(
    `docs ${texts.length} (SciFact, corpus order), tokens fed ${tokens} (mean ${(tokens / texts.length).toFixed(1)}, ${truncated} truncated to ${docLength}), ` +
      `vectors kept ${kept}, batch ${B}, reps ${args.reps}, cores ${cores}`,
  );

  // Longest text first, by characters (as colts' pool orders texts before chunking).
  const byLength = (ts: readonly string[]): number[] => ts.map((_, i) => i).sort((a, b) => (ts[b]?.length ?? 0) - (ts[a]?.length ?? 0) || a - b);
  const config = (c: Omit<Config, "seconds" | "output">): Config => ({ ...c, seconds: [], output: null });
  /** workers: the pool size (0: on the calling thread), for the padding the default chunking gives (ColBERT's rule). */
  const coltsConfig = (cb: ColBERT, label: string, workers: number, extra: { maxBatchTokens?: number; chunkSize?: number } = {}, approximate = false): Config =>
    config({
      system: "colts",
      label,
      approximate,
      // 512 = the encoder's default token budget on the CPU provider (src/encode/encoder.ts).
      paddedTokens: coltsPadded(texts, rows, B, extra.maxBatchTokens ?? 512, workers > 0 ? (extra.chunkSize ?? defaultChunkSize(texts.length, B, workers)) : null),
      encode: (ts) => cb.encodeDocuments(ts, { batchSize: B, ...extra }),
      close: () => cb.close(),
    });
  const tjsConfig = (label: string, sorted: boolean): Config =>
    config({
      system: "transformers.js",
      label,
      paddedTokens: paddedOf(rows, chunks(sorted ? byLength(texts) : texts.map((_, i) => i), B)),
      encode: (ts, last) => encodeTjs(tjs, ts, B, sorted ? byLength(ts) : ts.map((_, i) => i), last),
      close: () => Promise.resolve(),
    });

  const configs: Config[] = [
    coltsConfig(colbert, `ColBERT.load(dir): ${layout} (default)`, defaultEncoderWorkers()),
    tjsConfig(`AutoModel, batches in corpus order, intraOpNumThreads ${cores}`, false),
  ];
  if (args.variants) {
    configs.push(
      coltsConfig(await ColBERT.load(MODEL_DIR, { workers: 0 }), `workers: 0 (calling thread) x ${cores} threads`, 0),
      coltsConfig(await ColBERT.load(MODEL_DIR, { workers: 1 }), `workers: 1 x ${cores} threads (the former default)`, 1),
      coltsConfig(await ColBERT.load(MODEL_DIR, { workers: 1 }), `workers: 1, maxBatchTokens: ${LARGE_BATCH_TOKENS} (large batches: an older default)`, 1, {
        maxBatchTokens: LARGE_BATCH_TOKENS,
      }),
      tjsConfig(`AutoModel, length-sorted batches (not what a user writes), intraOpNumThreads ${cores}`, true),
    );
  }
  if (args.int8) {
    const int8Dir = await ensureInt8Model();
    configs.push(coltsConfig(await ColBERT.load(int8Dir, { quantized: true }), `int8 (quantizeModel), ${layout} (default layout)`, defaultEncoderWorkers(), {}, true));
    if (args.variants) {
      configs.push(coltsConfig(await ColBERT.load(int8Dir, { workers: 1, quantized: true }), `int8 (quantizeModel), workers: 1 x ${cores} threads`, 1, {}, true));
    }
  }
  const headline = configs[0] as Config;
  const baseline = configs[1] as Config;

  // Warm-up: a few documents through every configuration (its worker, its session).
  const warm = texts.slice(0, Math.min(8, texts.length));
  for (const c of configs) await c.encode(warm, false);

  // Round robin: every repetition runs every configuration once, the starting point rotating, so
  // that drift of the machine hits all alike; ratios are taken within a repetition (paired).
  let reference: ReturnType<typeof referenceVectors> | null = null;
  for (let r = 0; r < args.reps; r++) {
    const last = r === args.reps - 1;
    const line: string[] = [];
    const t0rep = performance.now();
    // The headline pair runs back to back (alternating which goes first), then the variants, rotating.
    const variants = configs.slice(2).map((_, k, v) => 2 + ((k + r) % v.length));
    const order = [...(r % 2 === 0 ? [0, 1] : [1, 0]), ...variants];
    for (const idx of order) {
      const c = configs[idx] as Config;
      const t0 = performance.now();
      const value = await c.encode(texts, last && c === baseline);
      const seconds = (performance.now() - t0) / 1000;
      c.seconds.push(seconds);
      if (last) {
        if (Array.isArray(value)) c.output = value;
        else {
          c.output = value.out;
          if (value.hidden.length > 0) reference = referenceVectors(rows, value, dense);
        }
      }
      line.push(`#${idx} ${(tokens / seconds).toFixed(0)}`);
    }
    const repSeconds = (performance.now() - t0rep) / 1000;
    const eta = r === 0 && args.reps > 1 ? ` (about ${((repSeconds * (args.reps - 1)) / 60).toFixed(1)} min to go)` : "";
    console.log(`  rep ${r + 1}/${args.reps} in ${repSeconds.toFixed(0)} s, tokens/s by configuration: ${line.join(", ")}${eta}`);
  }
  for (const c of configs) await c.close();
  await tjs.model.dispose();

  // Identical vectors: every configuration against the transformers.js pipeline, and colts against
  // the reference (last_hidden_state -> applyDense -> normalise at tokenizeDocument's kept positions).
  if (!reference || !baseline.output) throw new Error("no transformers.js output to compare with");
  const baseOut = baseline.output;
  const checks = configs.map((c) => (c.output && c !== baseline && !c.approximate ? compare(rows, c.output, baseOut) : null));
  const deviations = configs.map((c) => (c.output && c.approximate ? deviation(rows, c.output, baseOut) : null));
  const refCheck = compare(rows, headline.output ?? [], reference.vectors);
  const baseKeep = compare(rows, baseOut, baseOut);
  const worst = Math.max(refCheck.maxDiff, ...checks.map((c) => c?.maxDiff ?? 0));
  const mismatches = reference.inputMismatches + refCheck.idMismatches + baseKeep.idMismatches + checks.reduce((s, c) => s + (c?.idMismatches ?? 0), 0);
  const identical = mismatches === 0 && worst < TOLERANCE;
  const checkLine =
    `${refCheck.vectors} vectors of ${texts.length} docs; input ids fed to transformers.js = tokenizeDocument ids for ${texts.length - reference.inputMismatches}/${texts.length} docs; ` +
    `kept ids mismatches ${mismatches - reference.inputMismatches}; max |colts - reference| ${refCheck.maxDiff.toExponential(2)}; ` +
    `max |any configuration - transformers.js pipeline| ${Math.max(...checks.map((c) => c?.maxDiff ?? 0)).toExponential(2)} (tolerance ${TOLERANCE})`;
  const deviationLine = configs
    .map((c, i) => {
      const d = deviations[i];
      return d ? `#${i} max |diff| ${d.maxDiff.toExponential(2)}, mean cosine ${d.meanCosine.toFixed(6)}, min cosine ${d.minCosine.toFixed(6)}` : "";
    })
    .filter((x) => x !== "")
    .join("; ");
  console.log(`vectors: ${checkLine}${deviationLine ? `\nint8 vs the fp32 transformers.js pipeline: ${deviationLine}` : ""}`);

  // Report.
  const ratioOf = (c: Config): number => median(c.seconds.map((s, r) => (baseline.seconds[r] as number) / s));
  const table = [
    "| # | system | configuration | median s | docs/s | tokens/s | padded tokens fed | x transformers.js (paired median) | x colts default (paired median) |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ...configs.map((c, i) => {
      const s = median(c.seconds);
      const ratio = c === baseline ? "1.00" : ratioOf(c).toFixed(2);
      const vsDefault = c.system === "colts" ? median(c.seconds.map((x, r) => (headline.seconds[r] as number) / x)).toFixed(2) : "";
      const bold = c === headline || c === baseline ? "**" : "";
      return `| ${i} | ${bold}${c.system}${bold} | ${c.label} | ${s.toFixed(2)} | ${(texts.length / s).toFixed(2)} | ${(tokens / s).toFixed(0)} | ${c.paddedTokens} | ${ratio} | ${vsDefault} |`;
    }),
  ].join("\n");
  const ratio = ratioOf(headline);
  const ratioOfMedians = median(baseline.seconds) / median(headline.seconds);
  const perRep = headline.seconds.map((s, r) => ((baseline.seconds[r] as number) / s).toFixed(2)).join(", ");
  const command = `npm run bench:encode -- ${process.argv.slice(2).join(" ")}`.trim();
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const machine = `${cpu}, ${cores} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
  const date = new Date().toISOString();
  const commit = gitCommit();
  const verdict =
    `colts / transformers.js = ${ratio.toFixed(2)}x tokens/s (paired median; per repetition ${perRep}; ratio of medians ${ratioOfMedians.toFixed(2)}); ` +
    `floor 1.5x ${ratio >= 1.5 ? "met" : "NOT met"}; vectors ${identical ? "identical" : "DIFFER"}`;
  console.log(`\n${table}\n\n${verdict}`);

  const section = [
    `## ${date.slice(0, 16).replace("T", " ")} UTC: encode throughput, ${texts.length} SciFact documents, batch ${B}`,
    "",
    `- Machine: ${machine}`,
    `- Commit: ${commit}`,
    `- Command: \`${command}\``,
    `- Model: generated PyLate layout, hidden 384, 12 layers, 12 heads, intermediate 1536, dim 96, document length ${docLength} (\`bench/out/${MODEL_NAME}\`), head in TypeScript`,
    `- Documents: first ${texts.length} of SciFact corpus.jsonl (title + " " + text), ${tokens} tokens fed (mean ${(tokens / texts.length).toFixed(1)}, ${truncated} truncated to ${docLength}), ${kept} vectors kept`,
    `- Threads: colts onnxruntime intra-op threads per worker as stated; transformers.js session_options.intraOpNumThreads ${cores}`,
    `- Timing: ${args.reps} repetitions, round robin over the configurations (rotating start), median seconds; the ratio is the median over repetitions of (transformers.js corpus-order seconds / configuration seconds) within the same repetition; warm-up ${warm.length} docs each`,
    `- Seconds per repetition: ${configs.map((c, i) => `#${i} ${c.seconds.map((x) => x.toFixed(1)).join("/")}`).join("; ")}`,
    `- Vectors: ${checkLine}`,
    ...(deviationLine ? [`- int8 vs the fp32 transformers.js pipeline: ${deviationLine}`] : []),
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
    machine: { cpu, cores, totalMemGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` },
    docs: texts.length,
    batchSize: B,
    reps: args.reps,
    tokens,
    keptVectors: kept,
    identical,
    maxAbsDiff: worst,
    ratio,
    ratioOfMedians,
    configurations: configs.map((c) => ({
      system: c.system,
      label: c.label,
      seconds: c.seconds,
      paddedTokens: c.paddedTokens,
      medianSeconds: median(c.seconds),
      tokensPerSecond: tokens / median(c.seconds),
      docsPerSecond: texts.length / median(c.seconds),
      ratio: c === baseline ? 1 : ratioOf(c),
    })),
  };
  if (args.writeResults) {
    fs.mkdirSync(OUT_DIR, { recursive: true });
    fs.writeFileSync(RESULTS_JSON, `${JSON.stringify(json)}\n`);
    if (!fs.existsSync(RESULTS_MD)) fs.writeFileSync(RESULTS_MD, "# Benchmark results\n\nSections are appended by the benchmarks (see bench/README.md). Newest last.\n\n");
    // Other benchmarks append to the same file: start on a fresh paragraph whatever they left.
    const before = fs.readFileSync(RESULTS_MD, "utf8");
    const gap = before.endsWith("\n\n") || before === "" ? "" : before.endsWith("\n") ? "\n" : "\n\n";
    fs.appendFileSync(RESULTS_MD, `${gap}${section}\n`);
    console.log(`\nappended to ${path.relative(ROOT, RESULTS_MD)}; JSON line in ${path.relative(ROOT, RESULTS_JSON)}`);
  }
  if (!identical) {
    console.error(`FAIL: vectors differ (tolerance ${TOLERANCE}) or token ids mismatch`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
