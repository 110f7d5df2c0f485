/**
 * Where a training step's time goes, per onnxruntime op type (not in CI): the 384 x 12 encoder graph
 * with its backward pass (src/train/ort/encoder-graph.ts) on one chunk of 8 documents of 180 tokens,
 * run with onnxruntime's profiler; prints the summed node time per op type, forward and backward
 * nodes together, after one warm-up run.
 * Run: npm run build && node dist/bench/train-profile.js [--rows 8] [--length 180]
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

const { values } = parseArgs({ options: { rows: { type: "string" }, length: { type: "string" } } });
const B = Number(values.rows ?? 8);
const S = Number(values.length ?? 180);
const cfg: BertConfig = { vocabSize: 30522, hiddenSize: 384, numLayers: 12, numHeads: 12, intermediateSize: 1536, maxPositions: 512, typeVocabSize: 2, layerNormEps: 1e-12 };
const head = [{ inFeatures: 384, outFeatures: 96, activation: "identity" as const, bias: false }];
const graph = buildEncoderGraph({ config: cfg, head, ownHeads: new Map(), dims: [96], dropout: null, backward: true });
const weights = randomBertWeights(cfg, 1);
const rng = new Rng(3);
const feeds: Record<string, ort.Tensor> = {};
for (const w of graph.weights) {
  const data = weights.get(w.name)?.data ?? rng.normalArray(w.shape.reduce((a, b) => a * b, 1), 0.05);
  feeds[w.name] = new ort.Tensor("float32", data, w.shape);
}
const n = B * S;
feeds["input_ids"] = new ort.Tensor("int64", BigInt64Array.from({ length: n }, () => BigInt(1000 + rng.int(29000))), [B, S]);
feeds["position_ids"] = new ort.Tensor("int64", BigInt64Array.from({ length: n }, (_, i) => BigInt(i % S)), [B, S]);
feeds["token_type_ids"] = new ort.Tensor("int64", new BigInt64Array(n), [B, S]);
for (const name of ["input_ids", "position_ids", "token_type_ids"]) {
  const { unique, inverse } = dedupIds(feeds[name]?.data as BigInt64Array);
  feeds[`${name}_unique`] = new ort.Tensor("int64", unique, [unique.length]);
  feeds[`${name}_inverse`] = new ort.Tensor("int64", inverse, [B, S]);
}
feeds["mask_bias"] = new ort.Tensor("float32", new Float32Array(n), [B, 1, 1, S]);
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
console.log(`machine: ${os.cpus()[0]?.model ?? "?"} x${os.cpus().length}; ${B} sequences x ${S} tokens, forward + backward in one run: ${wall.toFixed(0)} ms wall, ${(total / 1000).toFixed(0)} ms summed over nodes`);
for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${op.padEnd(22)} ${(us / 1000).toFixed(0).padStart(6)} ms  ${((100 * us) / total).toFixed(1)}%`);
await session.release();
if (process.env.KEEP_PROFILE) console.log(`profile kept: ${file}`); else fs.rmSync(dir, { recursive: true, force: true });
