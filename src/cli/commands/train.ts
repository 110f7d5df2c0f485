/** `colts train`: fine-tunes / distils a BERT or XLM-R ColBERT model (src/train, on a worker thread) and exports it. */
import { ColtsError } from "../../errors.js";
import { loadBeir } from "../../eval/io.js";
import { readTrainingLines, resolveExamples, type TextLookup } from "../../train/data.js";
import type { EvalSet } from "../../train/evaluate.js";
import type { TeacherNormalization } from "../../train/score-losses.js";
import type { TrainOptions } from "../../train/loop.js";
import { intFlag, numberFlag, oneOf, parse, stringFlag, usageError, type CommandSpec, type Values } from "../args.js";
import { modelLocation, resolvePath, writeOut, type CliIO } from "../io.js";
import { createProgressBar } from "../progress.js";
import { documentText } from "../../corpus/reader.js";

/** `colts train`: its flags and help page, the one declaration that parsing and `--help` read. */
export const TRAIN_SPEC: CommandSpec = {
  name: "train",
  summary: "fine-tune or distil a BERT or XLM-R ColBERT model and export it",
  usage: ["--model M --data triples.jsonl --output DIR"],
  description: `Trains on JSONL examples (text form, or ids into --dataset) with AdamW + linear warm-up/decay; writes
DIR/metrics.jsonl, DIR/loss.svg, DIR/eval.svg, resumable DIR/state/ and the trained model in DIR/model
(at the end; --export-always also after --stop-after; --no-export never). Training reads the model's
weights (its safetensors, or for an ONNX-layout folder the fp32 graph colts wrote), so the model flags
of the other commands do not apply.`,
  flags: [
    { name: "model", type: "string", arg: "M", help: "BERT or XLM-R ColBERT folder (PyLate, Stanford, or ONNX layout written by colts) to start from (required)" },
    { name: "data", type: "string", arg: "FILE", help: "training JSONL (required)" },
    { name: "output", type: "string", arg: "DIR", help: "output folder (required)" },
    { name: "dataset", type: "string", arg: "DIR", help: "BEIR folder the ids of id-form lines refer to" },
    { name: "loss", type: "string", arg: "contrastive|kl|margin-mse", default: "contrastive", help: "training objective" },
    { name: "steps", type: "string", arg: "N", default: "from --epochs", help: "optimizer steps (not with --epochs)" },
    { name: "epochs", type: "string", arg: "X", default: "1 when --steps is unset", help: "passes over the data" },
    { name: "batch-size", type: "string", arg: "N", default: "8", help: "queries per micro-batch" },
    { name: "grad-accum", type: "string", arg: "N", default: "1", help: "micro-batches per optimizer step" },
    { name: "lr", type: "string", arg: "X", default: "1e-5", help: "peak learning rate" },
    { name: "warmup", type: "string", arg: "N", default: "0", help: "linear warm-up steps" },
    { name: "weight-decay", type: "string", arg: "X", default: "0.01", help: "AdamW decoupled weight decay" },
    { name: "seed", type: "string", arg: "N", default: "42", help: "seed of the data order" },
    { name: "negatives", type: "string", arg: "N", default: "the smallest count in the file", help: "negatives kept per example" },
    { name: "temperature", type: "string", arg: "X", default: "1", help: "softmax temperature (contrastive, kl)" },
    { name: "kl-normalize", type: "string", arg: "none|minmax", default: "none", help: "kl: min-max scale the student's scores per query first (PyLate's Distillation default)" },
    { name: "activation-memory", type: "string", arg: "GIB", default: "4", help: "peak activation memory of one pass; a bigger micro-batch runs in parts of whole queries (GradCache with in-batch negatives); 0 = always GradCache" },
    { name: "dropout", type: "string", arg: "P", default: "the model's config.json (0.1 for BERT)", help: "dropout probability of every BERT dropout site, 0..0.99; 0 turns it off" },
    { name: "in-batch-negatives", type: "boolean", help: "contrastive: other queries' documents are negatives too" },
    { name: "teachers", type: "string", arg: "a,b", default: "every teacher on the line", help: "teacher scores to distil from (kl, margin-mse)" },
    { name: "teacher-weights", type: "string", arg: "a,b", default: "1 each", help: "weight of each teacher" },
    { name: "teacher-norm", type: "string", arg: "none|minmax|zscore", default: "zscore with several teachers, else none", help: "per-query normalisation of teacher scores" },
    { name: "teacher-mode", type: "string", arg: "average|per-teacher", default: "average", help: "average the teachers, or one loss per teacher" },
    { name: "matryoshka", type: "string", arg: "a,b,...", help: "also train truncated dimensions, e.g. 128,96,64" },
    { name: "eval-dataset", type: "string", arg: "DIR", help: "BEIR folder to evaluate on during training" },
    { name: "eval-split", type: "string", arg: "NAME", default: "test", help: "qrels split of --eval-dataset" },
    { name: "eval-every", type: "string", arg: "N", default: "0 (never)", help: "evaluate every N steps (and at the first and last)" },
    { name: "save-every", type: "string", arg: "N", default: "0 (at the end only)", help: "save resumable state every N steps" },
    { name: "stop-after", type: "string", arg: "N", help: "stop after N steps of this run (continue with --resume)" },
    { name: "resume", type: "boolean", help: "continue from DIR/state" },
    { name: "no-export", type: "boolean", help: "never write DIR/model" },
    { name: "export-always", type: "boolean", help: "also write DIR/model when stopped by --stop-after" },
  ],
  example: "colts train --model start --data triples.jsonl --loss contrastive --steps 300 --lr 3e-4 --warmup 20 --output run",
};

function listFlag(values: Values, name: string): string[] | undefined {
  return stringFlag(values, name)?.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

function numberList(values: Values, name: string): number[] | undefined {
  const list = listFlag(values, name);
  if (!list) return undefined;
  const nums = list.map(Number);
  if (!nums.every((n) => Number.isFinite(n) && n >= 0)) throw new ColtsError("USAGE", `--${name} must be comma-separated non-negative numbers`);
  return nums;
}

async function lookupFor(dir: string | undefined): Promise<TextLookup | null> {
  if (!dir) return null;
  const { readBeirQueries, readBeirCorpus } = await import("../../eval/io.js");
  const queries = new Map((await readBeirQueries(`${dir}/queries.jsonl`)).map((q) => [q.id, q.text]));
  const corpus = new Map<string, string>();
  for await (const d of readBeirCorpus(`${dir}/corpus.jsonl`)) corpus.set(d.id, documentText(d.title, d.text));
  return { queries, corpus };
}

async function evalSetFor(dir: string | undefined, split: string): Promise<EvalSet | undefined> {
  if (!dir) return undefined;
  const ds = await loadBeir(dir, split);
  return { corpus: ds.corpus, queries: ds.queries, qrels: ds.qrels };
}

export async function trainCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, TRAIN_SPEC);
  // Loaded here, not at the top: tfjs takes ~1-2 s to load and no other command needs it.
  const [{ trainColbertInWorker }, { LOSS_KINDS }] = await Promise.all([import("../../train/api.js"), import("../../train/batch.js")]);
  const model = stringFlag(values, "model");
  const data = stringFlag(values, "data");
  const output = stringFlag(values, "output");
  if (!model || !data || !output || positionals.length > 0) throw usageError(TRAIN_SPEC, "--model, --data and --output are required");
  if (values["steps"] !== undefined && values["epochs"] !== undefined) throw new ColtsError("USAGE", "colts train: give --steps or --epochs, not both");
  const lookup = await lookupFor(stringFlag(values, "dataset") ? resolvePath(io, stringFlag(values, "dataset") as string) : undefined);
  const dataLines = readTrainingLines(resolvePath(io, data));
  const examples = resolveExamples(dataLines.map((l) => l.example), lookup, intFlag(values, "negatives", 0, 1000), dataLines.map((l) => l.where));
  const evalDir = stringFlag(values, "eval-dataset");
  const evalSet = await evalSetFor(evalDir ? resolvePath(io, evalDir) : undefined, stringFlag(values, "eval-split") ?? "test");
  const steps = intFlag(values, "steps", 1, 1e9);
  const bar = createProgressBar({ stream: io.stderr, label: "train", total: steps ?? null });
  const opts: TrainOptions = {
    model: modelLocation(io, model),
    output: resolvePath(io, output),
    examples,
    loss: oneOf(values, "loss", LOSS_KINDS) ?? "contrastive",
    steps,
    epochs: numberFlag(values, "epochs", 0, 1e6),
    batchSize: intFlag(values, "batch-size", 1, 4096),
    gradAccum: intFlag(values, "grad-accum", 1, 4096),
    lr: numberFlag(values, "lr", 0, 1),
    warmup: intFlag(values, "warmup", 0, 1e9),
    weightDecay: numberFlag(values, "weight-decay", 0, 1),
    seed: intFlag(values, "seed", 0, 2 ** 32 - 1),
    temperature: numberFlag(values, "temperature", 1e-6, 1e6),
    dropout: numberFlag(values, "dropout", 0, 0.99),
    activationMemoryGiB: numberFlag(values, "activation-memory", 0, 1e6),
    klStudentNormalization: oneOf(values, "kl-normalize", ["none", "minmax"] as const),
    inBatchNegatives: values["in-batch-negatives"] === true,
    teachers: listFlag(values, "teachers"),
    teacherWeights: numberList(values, "teacher-weights"),
    teacherNormalization: oneOf<TeacherNormalization>(values, "teacher-norm", ["none", "minmax", "zscore"]),
    teacherMode: oneOf(values, "teacher-mode", ["average", "per-teacher"] as const),
    matryoshkaDims: numberList(values, "matryoshka"),
    evalSet,
    evalEvery: evalSet ? (intFlag(values, "eval-every", 1, 1e9) ?? 0) : 0,
    saveEvery: intFlag(values, "save-every", 1, 1e9),
    stopAfter: intFlag(values, "stop-after", 1, 1e9),
    resume: values["resume"] === true,
    exportModel: values["export-always"] === true ? "always" : values["no-export"] !== true,
    onRecord: (r) => {
      if (r.loss !== undefined) bar.update(r.step);
    },
  };
  // The steps run on a worker thread: this thread only draws progress and stays responsive to signals.
  const result = await trainColbertInWorker(opts);
  bar.finish();
  const last = result.records.filter((r) => r.loss !== undefined).at(-1);
  const evals = result.records.filter((r) => r.eval);
  const lines = [
    `trained ${result.steps} steps${result.finished ? "" : " (stopped early; continue with --resume)"}, last loss ${last?.loss?.toFixed(4) ?? "-"}`,
    ...(evals.length > 0 ? [`eval: ${evals.map((r) => `step ${r.step} ${Object.entries(r.eval ?? {}).map(([k, v]) => `${k}=${v.toFixed(4)}`).join(" ")}`).join("; ")}`] : []),
    result.modelDir ? `model: ${result.modelDir}` : `state: ${opts.output}/state`,
  ];
  await writeOut(io.stdout, `${lines.join("\n")}\n`);
  return 0;
}
