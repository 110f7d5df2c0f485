/**
 * Intra-op threads vs data-parallel workers for the training graph (not in CI): the 384 x 12 encoder
 * graph with its backward pass (src/train/ort/encoder-graph.ts) on chunks of `rows` sequences of
 * `length` tokens. "threads": one session with 2 intra-op threads runs every chunk in turn.
 * "workers": two worker threads, each with its own single-threaded session, run half the chunks each
 * at the same time (what data-parallel training over the two cores would do, before summing the two
 * gradients). Both settings alternate `--repeats` times in one run; tokens/s = tokens fed / wall.
 * Run: npm run build && node dist/bench/train-threads.js [--rows 8] [--length 180] [--chunks 4] [--repeats 3]
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import { randomBertWeights, type BertConfig } from "../src/model/bert-weights.js";
import { encodeModel } from "../src/runtime/onnx/proto.js";
import { buildEncoderGraph } from "../src/train/ort/encoder-graph.js";
import { Rng } from "../src/util/rng.js";

interface Job {
  rows: number;
  length: number;
  chunks: number;
  threads: number;
}

const cfg: BertConfig = { vocabSize: 30522, hiddenSize: 384, numLayers: 12, numHeads: 12, intermediateSize: 1536, maxPositions: 512, typeVocabSize: 2, layerNormEps: 1e-12 };

/** A session of the training graph and one chunk's feeds. */
async function prepare(job: Job): Promise<{ run: () => Promise<void>; release: () => Promise<void> }> {
  const head = [{ inFeatures: 384, outFeatures: 96, activation: "identity" as const, bias: false }];
  const graph = buildEncoderGraph({ config: cfg, head, ownHeads: new Map(), dims: [96], dropout: null, backward: true });
  const weights = randomBertWeights(cfg, 1);
  const rng = new Rng(3);
  const feeds: Record<string, ort.Tensor> = {};
  for (const w of graph.weights) feeds[w.name] = new ort.Tensor("float32", weights.get(w.name)?.data ?? rng.normalArray(w.shape.reduce((a, b) => a * b, 1), 0.05), w.shape);
  const { rows: B, length: S } = job;
  const n = B * S;
  const ids = BigInt64Array.from({ length: n }, () => BigInt(1000 + rng.int(29000)));
  const positions = BigInt64Array.from({ length: n }, (_, i) => BigInt(i % S));
  const types = new BigInt64Array(n);
  feeds["input_ids"] = new ort.Tensor("int64", ids, [B, S]);
  feeds["position_ids"] = new ort.Tensor("int64", positions, [B, S]);
  feeds["token_type_ids"] = new ort.Tensor("int64", types, [B, S]);
  for (const [name, values] of [["input_ids", ids], ["position_ids", positions], ["token_type_ids", types]] as const) {
    const unique = BigInt64Array.from(new Set(values));
    const index = new Map([...unique].map((v, i) => [v, BigInt(i)] as const));
    feeds[`${name}_unique`] = new ort.Tensor("int64", unique, [unique.length]);
    feeds[`${name}_inverse`] = new ort.Tensor("int64", BigInt64Array.from(values, (v) => index.get(v) as bigint), [B, S]);
  }
  feeds["mask_bias"] = new ort.Tensor("float32", new Float32Array(n), [B, 1, 1, S]);
  feeds["grad_emb_96"] = new ort.Tensor("float32", rng.normalArray(n * 96, 0.01), [B, S, 96]);
  const session = await ort.InferenceSession.create(encodeModel(graph.model), { intraOpNumThreads: job.threads, interOpNumThreads: 1, graphOptimizationLevel: "all" });
  const outputs = [...graph.gradOutputs.values()];
  return { run: async () => void (await session.run(feeds, outputs)), release: () => session.release() };
}

if (!isMainThread) {
  const job = workerData as Job;
  const s = await prepare(job);
  await s.run(); // warm-up
  parentPort?.postMessage("ready");
  await new Promise((resolve) => parentPort?.once("message", resolve));
  for (let i = 0; i < job.chunks; i++) await s.run();
  await s.release();
  parentPort?.postMessage("done");
} else {
  const { values } = parseArgs({ options: { rows: { type: "string" }, length: { type: "string" }, chunks: { type: "string" }, repeats: { type: "string" } } });
  const rows = Number(values.rows ?? 8);
  const length = Number(values.length ?? 180);
  const chunks = Number(values.chunks ?? 4);
  const repeats = Number(values.repeats ?? 3);
  const tokens = rows * length * chunks;
  console.log(`machine: ${os.cpus()[0]?.model ?? "?"} x${os.cpus().length}; ${chunks} chunks of ${rows} x ${length} tokens (forward + backward) per measurement`);
  const threads = async (): Promise<number> => {
    const s = await prepare({ rows, length, chunks, threads: 2 });
    await s.run();
    const t0 = performance.now();
    for (let i = 0; i < chunks; i++) await s.run();
    const ms = performance.now() - t0;
    await s.release();
    return ms;
  };
  const workers = async (): Promise<number> => {
    const ws = [0, 1].map(() => new Worker(new URL(import.meta.url), { workerData: { rows, length, chunks: chunks / 2, threads: 1 } satisfies Job }));
    const next = (w: Worker): Promise<unknown> => new Promise((resolve, reject) => w.once("message", resolve).once("error", reject));
    await Promise.all(ws.map(next));
    const t0 = performance.now();
    const done = ws.map(next);
    for (const w of ws) w.postMessage("go");
    await Promise.all(done);
    const ms = performance.now() - t0;
    await Promise.all(ws.map((w) => w.terminate()));
    return ms;
  };
  for (let r = 0; r < repeats; r++) {
    for (const [name, f] of [["threads (1 session, 2 intra-op threads)", threads], ["workers (2 sessions x 1 thread)", workers]] as const) {
      const ms = await f();
      console.log(`  repeat ${r + 1} ${name.padEnd(40)} ${ms.toFixed(0).padStart(7)} ms  ${((tokens / ms) * 1000).toFixed(0).padStart(5)} tokens/s`);
    }
  }
}
