/**
 * The training loop: batches in a seeded order, gradient accumulation, AdamW with warm-up + decay,
 * a metrics log (JSONL) and charts (SVG), periodic evaluation, resumable state, and export of the
 * trained model as a complete folder (writeColbertCheckpoint). The forward and backward passes run
 * in onnxruntime graphs (ort/trainer.ts) on every core; this thread only drives them and updates the
 * weights. api.ts trainColbertInWorker runs the loop on a worker thread instead.
 *
 * Resume semantics: state is saved after whole optimizer steps only. A resumed run reloads weights,
 * moments, step and data position, recomputes the epoch order from (seed, epoch), and so performs
 * the computation an uninterrupted run would: dropout masks are a function of (seed, step,
 * micro-batch, row), and onnxruntime's CPU kernels are deterministic for a fixed thread count.
 */
import fs from "node:fs";
import path from "node:path";
import { ColtsError } from "../errors.js";
import { writeOutputFileSync } from "../store/output.js";
import { ColbertTokenizer } from "../encode/tokenize.js";
import { readColbertCheckpoint, writeColbertCheckpoint } from "../model/checkpoint.js";
import { readModelFolder } from "../model/layout.js";
import { lineChart } from "../util/svg-chart.js";
import { makeBatch, epochOrder, type ResolvedExample } from "./data.js";
import type { ObjectiveOptions } from "./batch.js";
import { evaluateModel, type EvalSet } from "./evaluate.js";
import { AdamW, linearSchedule, type AdamWOptions } from "./optim.js";
import { streamSeed, type DropoutRates } from "./ort/dropout.js";
import { OrtTrainer, type WeightsSnapshot } from "./ort/trainer.js";
import { loadStateTensors, readStateInfo, saveState, type DataPosition } from "./state.js";

/** Options of `trainColbert`: model, data, schedule, evaluation, state and export (loss and optimizer settings inherited). */
export interface TrainOptions extends ObjectiveOptions, Omit<AdamWOptions, "lr"> {
  /** Model folder of a BERT or XLM-R ColBERT model: a safetensors backbone (PyLate or Stanford layout), or an ONNX graph colts wrote (readColbertCheckpoint). */
  model: string;
  /** Output folder: metrics.jsonl, loss.svg, eval.svg, state/, model/ (the export). */
  output: string;
  /** Training examples, texts resolved; their order is shuffled per epoch from `seed`. */
  examples: ResolvedExample[];
  /** Optimizer steps. Default: from `epochs`. */
  steps?: number;
  /** Passes over the data (the last partial batch of an epoch is dropped). Default 1 when steps is unset. */
  epochs?: number;
  /** Queries per micro-batch (each with its group of documents). Default 8. */
  batchSize?: number;
  /** Peak learning rate. Default 1e-5, which suits pretrained models; generated ones need ~1e-4. */
  lr?: number;
  /**
   * Dropout probability of every BERT dropout site (hidden states and attention weights). Default: the
   * model's config.json (`hidden_dropout_prob`, `attention_probs_dropout_prob`; 0.1 each for BERT,
   * and 0.1 when absent, as Hugging Face's BertConfig). 0 turns it off: a step is then a deterministic
   * function of the weights and the batch. Masks are drawn from (seed, step, micro-batch, row), so
   * resume stays exact either way.
   */
  dropout?: number;
  /**
   * GiB of activations a micro-batch may hold to run as one onnxruntime run (forward, loss gradient and
   * backward together, no second forward pass); a larger micro-batch runs as several such runs over
   * parts of whole queries, or, with in-batch negatives, uses GradCache (memory bounded by
   * `batchSize`-independent chunks, ~1.2x slower at the 384 x 12 shape). ~0.5 MB per token at the
   * 384 x 12 shape and 180-token documents. Default 4; 0 always uses GradCache. Range >= 0.
   */
  activationMemoryGiB?: number;
  /** Warm-up steps. Default 0. */
  warmup?: number;
  /** Micro-batches per optimizer step. Default 1. */
  gradAccum?: number;
  /** Seed of the data order. Default 42. */
  seed?: number;
  /** Save state every N steps (always at the end). Default 0: only at the end. */
  saveEvery?: number;
  /** Evaluate every N steps (and at steps 0 and the last). Needs evalSet. Default 0: never. */
  evalEvery?: number;
  /** Held-out corpus, queries and qrels for `evalEvery` (nDCG@10 by default). Default: none. */
  evalSet?: EvalSet;
  /** Stop after this many steps in total (state saved, no export), to be continued with resume. */
  stopAfter?: number;
  /** Continue from `<output>/state`. Default false. */
  resume?: boolean;
  /**
   * Export `<output>/model`: true (default) when training finishes, false never, "always" also when
   * stopped early by `stopAfter` (to evaluate an intermediate checkpoint; resume continues from state/).
   */
  exportModel?: boolean | "always";
  /** Called after each step and each evaluation. */
  onRecord?: (rec: StepRecord) => void;
}

/** One line of metrics.jsonl: an optimizer step, or an evaluation at a step. */
export interface StepRecord {
  /** Optimizer steps completed (0 before the first). */
  step: number;
  /** Mean loss over the step's micro-batches (absent on evaluation-only records). */
  loss?: number;
  /** Learning rate of the step, schedule applied. */
  lr?: number;
  /** Global L2 norm of the step's gradients, before clipping. */
  gradNorm?: number;
  /** Wall time of the step in milliseconds. */
  ms?: number;
  /**
   * Resident set size of the whole process right after the step, in bytes (process.memoryUsage().rss:
   * onnxruntime's native arena included, which the JavaScript heap figures miss), so a long run's log
   * shows whether memory stays flat.
   */
  rssBytes?: number;
  /** Evaluation measures at this step. */
  eval?: Record<string, number>;
}

/** What a training run did. */
export interface TrainResult {
  /** Optimizer steps done, those of resumed runs included. */
  steps: number;
  /** True when every step is done; false when `stopAfter` stopped the run early. */
  finished: boolean;
  /** Every record of metrics.jsonl, those of resumed runs included. */
  records: StepRecord[];
  /** Exported model folder, when exported. */
  modelDir: string | null;
  /** Final weights (backbone + head) as arrays. */
  weights: WeightsSnapshot;
}

function totalSteps(o: TrainOptions, n: number, bs: number, accum: number): number {
  if (o.steps !== undefined) return o.steps;
  const perEpoch = Math.floor(Math.floor(n / bs) / accum);
  if (perEpoch < 1) throw new ColtsError("INPUT_INVALID", `${n} examples make no step of ${bs} x ${accum} queries`);
  return Math.max(1, Math.round((o.epochs ?? 1) * perEpoch));
}

/** Next `bs` examples from `pos`, moving to the next epoch when fewer than `bs` remain (drop last). */
function nextExamples(examples: ResolvedExample[], pos: DataPosition, bs: number, seed: number): ResolvedExample[] {
  if (pos.cursor + bs > examples.length) {
    pos.epoch++;
    pos.cursor = 0;
  }
  const order = epochOrder(examples.length, seed, pos.epoch);
  const picked = order.slice(pos.cursor, pos.cursor + bs).map((i) => examples[i] as ResolvedExample);
  pos.cursor += bs;
  return picked;
}

function readLog(file: string, upTo: number): StepRecord[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as StepRecord).filter((r) => r.step <= upTo);
}

/** loss.svg (loss per step) and eval.svg (each measure per step), from the records (a symlinked or special chart path is written through, store/output.ts). */
export function writeCharts(output: string, records: StepRecord[]): void {
  const loss = records.filter((r) => r.loss !== undefined).map((r): [number, number] => [r.step, r.loss as number]);
  if (loss.length > 0) {
    writeOutputFileSync(path.join(output, "loss.svg"), lineChart({ title: "Training loss", xLabel: "step", yLabel: "loss", series: [{ name: "loss", points: loss }] }));
  }
  const measures = [...new Set(records.flatMap((r) => Object.keys(r.eval ?? {})))];
  if (measures.length > 0) {
    const series = measures.map((m) => ({ name: m, points: records.filter((r) => r.eval?.[m] !== undefined).map((r): [number, number] => [r.step, r.eval?.[m] as number]) }));
    writeOutputFileSync(path.join(output, "eval.svg"), lineChart({ title: "Evaluation", xLabel: "step", yLabel: "value", series }));
  }
}

/** The dropout probabilities of a model folder's config.json (0.1 each when absent), or `override` for both. */
export function dropoutRates(modelDir: string, override?: number): DropoutRates {
  if (override !== undefined) {
    if (!(override >= 0 && override < 1)) throw new ColtsError("INPUT_INVALID", `dropout must be in [0, 1), got ${override}`);
    return { hidden: override, attention: override };
  }
  const file = path.join(modelDir, "config.json");
  const cfg = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>) : {};
  const rate = (key: string): number => {
    const v = cfg[key];
    return typeof v === "number" && v >= 0 && v < 1 ? v : 0.1;
  };
  return { hidden: rate("hidden_dropout_prob"), attention: rate("attention_probs_dropout_prob") };
}

/** Runs (or resumes) training; see TrainOptions. */
export async function train(o: TrainOptions): Promise<TrainResult> {
  const ckpt = readColbertCheckpoint(o.model);
  const spec = readModelFolder(o.model);
  const tok = new ColbertTokenizer(spec.tokenizerJson, spec.tokenizerConfig, spec.settings);
  const bs = o.batchSize ?? 8;
  const accum = o.gradAccum ?? 1;
  const seed = o.seed ?? 42;
  const lr = o.lr ?? 1e-5;
  const warmup = o.warmup ?? 0;
  if (o.examples.length < bs) throw new ColtsError("INPUT_INVALID", `${o.examples.length} examples are fewer than one batch of ${bs}`);
  const total = totalSteps(o, o.examples.length, bs, accum);
  const dropout = dropoutRates(o.model, o.dropout);
  const fingerprint = {
    loss: o.loss, lr, warmup, total, bs, accum, seed, examples: o.examples.length, group: o.examples[0]?.docs.length, dropout,
    matryoshka: o.matryoshkaDims ?? [], temperature: o.temperature ?? 1, inBatch: o.inBatchNegatives ?? false,
    teachers: o.teachers ?? null, teacherWeights: o.teacherWeights ?? null, weightDecay: o.weightDecay ?? 0.01, clipNorm: o.clipNorm ?? 1,
    klNormalization: o.klStudentNormalization ?? "none", beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.999, eps: o.eps ?? 1e-8,
    teacherNormalization: o.teacherNormalization ?? null, teacherMode: o.teacherMode ?? "average",
  };
  const mainDim = ckpt.dense[ckpt.dense.length - 1]?.outFeatures ?? ckpt.config.hiddenSize;
  for (const d of o.matryoshkaDims ?? []) {
    if (!Number.isInteger(d) || d < 1 || d > mainDim) throw new ColtsError("DIM_UNSUPPORTED", `Matryoshka dim ${d} is not in [1, ${mainDim}]`);
  }
  fs.mkdirSync(o.output, { recursive: true });
  if (o.activationMemoryGiB !== undefined && !(o.activationMemoryGiB >= 0)) throw new ColtsError("INPUT_INVALID", `activationMemoryGiB must be >= 0, got ${o.activationMemoryGiB}`);
  const budget = o.activationMemoryGiB === undefined ? {} : { activationBudgetBytes: o.activationMemoryGiB * 2 ** 30 };
  const trainer = await OrtTrainer.create(ckpt, { dropout, ...budget, ...(o.matryoshkaDims && o.matryoshkaDims.length > 0 ? { dims: o.matryoshkaDims } : {}) });
  try {
    const shapes = new Map(trainer.weightShapes());
    const opt = new AdamW(trainer.weights, { lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay, clipNorm: o.clipNorm });
    const logFile = path.join(o.output, "metrics.jsonl");
    let pos: DataPosition = { epoch: 0, cursor: 0 };
    let records: StepRecord[] = [];
    if (o.resume) {
      const info = readStateInfo(o.output, fingerprint);
      loadStateTensors(o.output, trainer.weights, opt, info.step);
      pos = { epoch: info.epoch, cursor: info.cursor };
      records = readLog(logFile, info.step);
    }
    fs.writeFileSync(logFile, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
    const record = (r: StepRecord): void => {
      records.push(r);
      fs.appendFileSync(logFile, `${JSON.stringify(r)}\n`);
      o.onRecord?.(r);
    };
    const evaluateNow = async (): Promise<void> => {
      if (o.evalSet) record({ step: opt.step, eval: await evaluateModel(trainer, tok, o.evalSet) });
    };
    if (o.evalEvery && opt.step === 0) await evaluateNow();
    const stop = Math.min(total, o.stopAfter ?? total);
    while (opt.step < stop) {
      const t0 = performance.now();
      let lossSum = 0;
      let grads = new Map<string, Float32Array>();
      for (let a = 0; a < accum; a++) {
        const batch = makeBatch(tok, nextExamples(o.examples, pos, bs, seed));
        const r = await trainer.lossAndGradients(batch, o, { dropoutSeed: streamSeed(seed, opt.step, a) });
        lossSum += r.loss;
        if (a === 0) grads = r.grads;
        else {
          for (const [name, g] of r.grads) {
            const acc = grads.get(name) as Float32Array;
            for (let i = 0; i < g.length; i++) acc[i] = (acc[i] as number) + (g[i] as number);
          }
        }
      }
      if (accum > 1) for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] = (g[i] as number) / accum;
      const stepLr = lr * linearSchedule(opt.step, total, warmup);
      const gradNorm = opt.apply(trainer.weights, grads, stepLr);
      const loss = lossSum / accum;
      if (!Number.isFinite(loss)) throw new ColtsError("INPUT_INVALID", `loss became ${loss} at step ${opt.step}; lower --lr`, { details: { step: opt.step } });
      record({ step: opt.step, loss, lr: stepLr, gradNorm, ms: Math.round(performance.now() - t0), rssBytes: process.memoryUsage().rss });
      if (o.evalEvery && (opt.step % o.evalEvery === 0 || opt.step === total)) await evaluateNow();
      if (o.saveEvery && opt.step % o.saveEvery === 0 && opt.step < stop) saveState(o.output, trainer.weights, shapes, opt, pos, fingerprint);
    }
    saveState(o.output, trainer.weights, shapes, opt, pos, fingerprint);
    writeCharts(o.output, records);
    const finished = opt.step >= total;
    const weights = trainer.snapshot(ckpt);
    let modelDir: string | null = null;
    if ((finished && o.exportModel !== false) || o.exportModel === "always") {
      modelDir = path.join(o.output, "model");
      await exportModel(weights, o.model, modelDir, o.matryoshkaDims);
    }
    return { steps: opt.step, finished, records, modelDir, weights };
  } finally {
    await trainer.release();
  }
}

/** Writes the model's current weights as a complete folder, with the source model's tokenizer and settings. */
export async function exportModel(snapshot: WeightsSnapshot, sourceModel: string, dir: string, matryoshkaDims?: number[]): Promise<string[]> {
  const base = readColbertCheckpoint(sourceModel);
  const { weights, dense, matryoshkaHeads } = snapshot;
  // Declared dims: the trained ones plus every dim with its own head (a head must stay reachable).
  const dims = [...new Set([...(matryoshkaDims ?? []), ...(matryoshkaDims && matryoshkaDims.length > 0 ? matryoshkaHeads.keys() : [])])].sort((a, b) => b - a);
  const settings = dims.length > 0 ? { ...base.settings, matryoshkaDims: dims } : base.settings;
  return writeColbertCheckpoint(dir, { ...base, weights, dense, matryoshkaHeads, settings }, { overwrite: true, producer: "colts train" });
}
