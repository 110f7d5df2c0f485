/**
 * Where a training step's time goes, per onnxruntime op type (not in CI): the 384 x 12 encoder graph
 * with its backward pass (src/train/ort/encoder-graph.ts) on one chunk of 8 documents of 180 tokens,
 * run with onnxruntime's profiler; prints the summed node time per op type, forward and backward
 * nodes together, after one warm-up run. `--packed` feeds the rows packed (encoder-graph.ts), with
 * lengths drawn from [60, length] as train-throughput.ts draws documents. It then prints the MatMul
 * rate the step reached (the model's MatMul FLOPs over the MatMul kernels' time) beside the rate of
 * one plain [tokens, 384] x [384, 1536] MatMul measured in the same process: how far the step is from
 * the machine's MatMul rate at that moment.
 * Run: npm run build && node dist/bench/train-profile.js [--rows 8] [--length 180] [--packed]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { randomBertWeights, type BertConfig } from "../src/model/bert-weights.js";
import { dedupIds } from "../src/runtime/autodiff/diff-graph.js";
import { encodeModel } from "../src/runtime/onnx/proto.js";
import { buildEncoderGraph } from "../src/train/ort/encoder-graph.js";
import { Rng } from "../src/util/rng.js";

const { values } = parseArgs({ options: { rows: { type: "string" }, length: { type: "string" }, packed: { type: "boolean" } } });
const B = Number(values.rows ?? 8);
const S = Number(values.length ?? 180);
const PACKED = values.packed === true;
const cfg: BertConfig = { vocabSize: 30522, hiddenSize: 384, numLayers: 12, numHeads: 12, intermediateSize: 1536, maxPositions: 512, typeVocabSize: 2, layerNormEps: 1e-12 };
const head = [{ inFeatures: 384, outFeatures: 96, activation: "identity" as const, bias: false }];
const graph = buildEncoderGraph({ config: cfg, head, ownHeads: new Map(), dims: [96], dropout: null, backward: true, packed: PACKED });
const weights = randomBertWeights(cfg, 1);
const rng = new Rng(3);
const feeds: Record<string, ort.Tensor> = {};
for (const w of graph.weights) {
  const data = weights.get(w.name)?.data ?? rng.normalArray(w.shape.reduce((a, b) => a * b, 1), 0.05);
  feeds[w.name] = new ort.Tensor("float32", data, w.shape);
}
const n = B * S;
// Token slots in use: every slot, or (packed) the first lengths[r] of each row.
const lengths = Array.from({ length: B }, (_, r) => (PACKED ? (r === 0 ? S : 60 + rng.int(S - 60 + 1)) : S));
const slots = lengths.flatMap((len, r) => Array.from({ length: len }, (_, j) => r * S + j));
const T = slots.length;
const tokenDims = PACKED ? [T] : [B, S];
feeds["input_ids"] = new ort.Tensor("int64", BigInt64Array.from(slots, () => BigInt(1000 + rng.int(29000))), tokenDims);
feeds["position_ids"] = new ort.Tensor("int64", BigInt64Array.from(slots, (slot) => BigInt(slot % S)), tokenDims);
feeds["token_type_ids"] = new ort.Tensor("int64", new BigInt64Array(T), tokenDims);
for (const name of ["input_ids", "position_ids", "token_type_ids"]) {
  const { unique, inverse } = dedupIds(feeds[name]?.data as BigInt64Array);
  feeds[`${name}_unique`] = new ort.Tensor("int64", unique, [unique.length]);
  feeds[`${name}_inverse`] = new ort.Tensor("int64", inverse, tokenDims);
}
const mask = new Float32Array(n).fill(-1e9);
for (const slot of slots) mask[slot] = 0;
feeds["mask_bias"] = new ort.Tensor("float32", mask, [B, 1, 1, S]);
if (PACKED) {
  const padIndex = new BigInt64Array(n).fill(BigInt(T));
  slots.forEach((slot, t) => (padIndex[slot] = BigInt(t)));
  feeds["pad_index"] = new ort.Tensor("int64", padIndex, [n]);
  feeds["unpad_index"] = new ort.Tensor("int64", BigInt64Array.from(slots, BigInt), [T]);
}
feeds["grad_emb_96"] = new ort.Tensor("float32", rng.normalArray(n * 96, 0.01), [B, S, 96]);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "colts-profile-"));
const session = await ort.InferenceSession.create(encodeModel(graph.model), { enableProfiling: true, profileFilePrefix: path.join(dir, "train") });
const outputs = [...graph.gradOutputs.values()];
await session.run(feeds, outputs); // warm-up (counted in the profile file; subtracted below by taking the last run)
const t0 = performance.now();
await session.run(feeds, outputs);
const wall = performance.now() - t0;
session.endProfiling();
const profile = fs.readdirSync(dir).find((f) => f.endsWith(".json")) ?? fs.readdirSync(".").find((f) => f.startsWith("train") && f.endsWith(".json"));
if (!profile) throw new Error(`no profile file in ${dir}`);
const file = fs.existsSync(path.join(dir, profile)) ? path.join(dir, profile) : profile;
const events = JSON.parse(fs.readFileSync(file, "utf8")) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
const runs = events.filter((e) => e.cat === "Session" && e.name === "model_run");
const lastRun = runs[runs.length - 1] as { ts?: number; dur: number } & Record<string, unknown>;
const start = (lastRun as { ts: number }).ts;
const byOp = new Map<string, number>();
for (const e of events as ({ ts: number } & (typeof events)[number])[]) {
  if (e.cat !== "Node" || !e.name.endsWith("_kernel_time") || e.ts < start) continue;
  const op = e.args?.op_name ?? "?";
  byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
}
const total = [...byOp.values()].reduce((a, b) => a + b, 0);
console.log(`machine: ${os.cpus()[0]?.model ?? "?"} x${os.cpus().length}; ${B} sequences x ${S} tokens${PACKED ? `, packed: ${T} real tokens` : ""}, forward + backward in one run: ${wall.toFixed(0)} ms wall, ${(total / 1000).toFixed(0)} ms summed over nodes`);
for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${op.padEnd(22)} ${(us / 1000).toFixed(0).padStart(6)} ms  ${((100 * us) / total).toFixed(1)}%`);
await session.release();

// MatMul FLOPs of the run: per layer, the four H x H projections and the two feed-forward ones on
// every token fed, and the two attention products on every [S x S] row pair; the head on every
// token; backward = 2x forward (input and weight gradients).
const H = cfg.hiddenSize;
const perToken = cfg.numLayers * 2 * (4 * H * H + 2 * H * cfg.intermediateSize) + 2 * H * 96;
const attention = cfg.numLayers * 2 * 2 * B * S * S * H;
const flops = 3 * (perToken * T + attention);
const matMulMs = ((byOp.get("MatMul") ?? 0) + (byOp.get("FusedMatMul") ?? 0) + (byOp.get("Gemm") ?? 0)) / 1000;
const peak = await plainMatMulRate(T);
console.log(`MatMul: ${(flops / 1e9).toFixed(0)} GFLOP in ${matMulMs.toFixed(0)} ms of MatMul kernels = ${(flops / 1e6 / matMulMs).toFixed(0)} GFLOP/s; a plain [${T}, ${H}] x [${H}, ${cfg.intermediateSize}] MatMul now: ${peak.toFixed(0)} GFLOP/s (best of 10); whole run ${(flops / 1e6 / wall).toFixed(0)} GFLOP/s`);

/** GFLOP/s of one [rows, H] x [H, I] MatMul in onnxruntime, best of 10 runs after a warm-up. */
async function plainMatMulRate(rows: number): Promise<number> {
  const { GraphBuilder } = await import("../src/runtime/onnx/builder.js");
  const { DataType } = await import("../src/runtime/onnx/proto.js");
  const g = new GraphBuilder({ name: "mm", opset: 17 });
  const a = g.input("a", DataType.FLOAT, [rows, H]);
  const w = g.input("w", DataType.FLOAT, [H, cfg.intermediateSize]);
  g.output("y", DataType.FLOAT, [rows, cfg.intermediateSize], g.matMul(a, w));
  const mm = await ort.InferenceSession.create(encodeModel(g.toModel()));
  const mmFeeds = { a: new ort.Tensor("float32", rng.normalArray(rows * H, 1), [rows, H]), w: new ort.Tensor("float32", rng.normalArray(H * cfg.intermediateSize, 0.05), [H, cfg.intermediateSize]) };
  await mm.run(mmFeeds);
  let best = Infinity;
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    await mm.run(mmFeeds);
    best = Math.min(best, performance.now() - t);
  }
  await mm.release();
  return (2 * rows * H * cfg.intermediateSize) / 1e6 / best;
}
if (process.env.KEEP_PROFILE) console.log(`profile kept: ${file}`); else fs.rmSync(dir, { recursive: true, force: true });
