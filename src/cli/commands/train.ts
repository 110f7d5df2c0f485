/** `colts train`: fine-tunes / distils a BERT ColBERT model (src/train, on a worker thread) and exports it. */
import { ColtsError } from "../../errors.js";
import { loadBeir } from "../../eval/io.js";
import { readTrainingFile, resolveExamples, type TextLookup } from "../../train/data.js";
import type { EvalSet } from "../../train/evaluate.js";
import type { TeacherNormalization } from "../../train/losses.js";
import type { TrainOptions } from "../../train/loop.js";
import { intFlag, oneOf, parse, stringFlag } from "../args.js";
import { modelLocation, resolvePath, writeOut, type CliIO } from "../io.js";
import { createProgressBar } from "../progress.js";
import { documentText } from "../../corpus/reader.js";

export const TRAIN_USAGE = `colts train --model M --data triples.jsonl --output DIR [--dataset BEIR_DIR] [--loss contrastive|kl|margin-mse]
            [--steps N | --epochs N] [--batch-size 8] [--grad-accum 1] [--lr 1e-5] [--warmup 0] [--weight-decay 0.01]
            [--seed 42] [--negatives N] [--temperature 1] [--in-batch-negatives] [--teachers a,b] [--teacher-weights 1,1]
            [--teacher-norm none|minmax|zscore] [--teacher-mode average|per-teacher] [--matryoshka 128,96,64]
            [--eval-dataset BEIR_DIR --eval-split test --eval-every N] [--save-every N] [--stop-after N] [--resume] [--no-export | --export-always]
  Trains on JSONL examples (text form, or ids into --dataset) with AdamW + linear warm-up/decay; writes
  DIR/metrics.jsonl, DIR/loss.svg, DIR/eval.svg, resumable DIR/state/ and the trained model in DIR/model
  (at the end; --export-always also after --stop-after; --no-export never).`;

function numberFlag(values: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const v = stringFlag(values, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new ColtsError("USAGE", `--${name} must be a number in [${min}, ${max}], got ${v}`);
  return n;
}

function listFlag(values: Record<string, unknown>, name: string): string[] | undefined {
  return stringFlag(values, name)?.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

function numberList(values: Record<string, unknown>, name: string): number[] | undefined {
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
  // Loaded here, not at the top: tfjs takes ~1-2 s to load and no other command needs it.
  const [{ trainColbertInWorker }, { LOSS_KINDS }] = await Promise.all([import("../../train/api.js"), import("../../train/objective.js")]);
  const s = { type: "string" } as const;
  const b = { type: "boolean" } as const;
  const { values, positionals } = parse(argv, {
    model: s, data: s, dataset: s, output: s, loss: s, steps: s, epochs: s, "batch-size": s, "grad-accum": s, lr: s, warmup: s,
    "weight-decay": s, seed: s, negatives: s, temperature: s, "in-batch-negatives": b, teachers: s, "teacher-weights": s,
    "teacher-norm": s, "teacher-mode": s, matryoshka: s, "eval-dataset": s, "eval-split": s, "eval-every": s, "save-every": s,
    "stop-after": s, resume: b, "no-export": b, "export-always": b,
  }, "colts train");
  const model = stringFlag(values, "model");
  const data = stringFlag(values, "data");
  const output = stringFlag(values, "output");
  if (!model || !data || !output || positionals.length > 0) throw new ColtsError("USAGE", `colts train: --model, --data and --output are required\n${TRAIN_USAGE}`);
  if (values["steps"] !== undefined && values["epochs"] !== undefined) throw new ColtsError("USAGE", "colts train: give --steps or --epochs, not both");
  const lookup = await lookupFor(stringFlag(values, "dataset") ? resolvePath(io, stringFlag(values, "dataset") as string) : undefined);
  const examples = resolveExamples(readTrainingFile(resolvePath(io, data)), lookup, intFlag(values, "negatives", 0, 1000));
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
