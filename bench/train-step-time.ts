/**
 * Training step time on the tfjs-wasm backend (not in CI):
 *   1. a 2-layer hidden-128 model, batch 16 x 64 tokens, with and without the explicit-transpose
 *      matMul fix of src/train/tf.ts (the reference measurement of that fix);
 *   2. a model shaped like answerai-colbert-small-v1 (hidden 384, 12 layers, 12 heads, FFN 1536,
 *      dim 96) at 8 queries x (1 positive + 3 negatives), query length 32, document length 180.
 * Random weights and token ids: time does not depend on their values.
 * Run: npm run build && node dist/bench/train-step-time.js [--skip-small] [--skip-large]
 */
import os from "node:os";
import { randomBertWeights, type BertConfig } from "../src/model/bert-weights.js";
import { Rng } from "../src/util/rng.js";
import { TrainableColbert, type TokenBatch } from "../test/reference/tfjs/model.js";
import { batchLoss } from "../test/reference/tfjs/objective.js";
import { AdamW } from "../test/reference/tfjs/optim.js";
import { initTraining, tf, useExplicitTranspose } from "../test/reference/tfjs/tf.js";

function tokens(rows: number, length: number, vocab: number, rng: Rng): TokenBatch {
  const ids = new Int32Array(rows * length).map(() => 1000 + rng.int(vocab - 1000));
  return { ids, attention: new Float32Array(rows * length).fill(1), keep: new Float32Array(rows * length).fill(1), rows, length };
}

function model(hidden: number, layers: number, heads: number, inter: number, dim: number): TrainableColbert {
  const cfg: BertConfig = { vocabSize: 30522, hiddenSize: hidden, numLayers: layers, numHeads: heads, intermediateSize: inter, maxPositions: 512, typeVocabSize: 2, layerNormEps: 1e-12 };
  const head = new Rng(3).normalArray(dim * hidden, 1 / Math.sqrt(hidden));
  return new TrainableColbert({ config: cfg, weights: randomBertWeights(cfg, 1), dense: [{ weight: head, bias: null, inFeatures: hidden, outFeatures: dim, activation: "identity", source: "bench" }] });
}

/** Mean ms of `n` full steps (forward, backward, AdamW) after one warm-up step. */
function timeSteps(m: TrainableColbert, q: TokenBatch, d: TokenBatch, group: number, n: number): number {
  const opt = new AdamW(m.params, { lr: 1e-5 });
  const vars = [...m.params.values()];
  const step = (): void => {
    const { value, grads } = tf.variableGrads(() => batchLoss(m, { queries: q, docs: d, group, scores: {} }, { loss: "contrastive" }), vars);
    value.dataSync();
    if (process.env["MEM"]) console.log(`  wasm tensors after backward: ${(tf.memory().numBytes / 2 ** 20).toFixed(0)} MiB`);
    const g = m.gradsByParam(grads);
    opt.apply(m.params, g, 1e-5);
    tf.dispose([value, ...Object.values(g)]);
  };
  let t = performance.now();
  step();
  console.log(`  first step (warm-up): ${(performance.now() - t).toFixed(0)} ms`);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    t = performance.now();
    step();
    console.log(`  step ${i + 1}: ${(performance.now() - t).toFixed(0)} ms`);
  }
  opt.dispose();
  return (performance.now() - t0) / n;
}

await initTraining();
const rng = new Rng(5);
console.log(`machine: ${os.cpus()[0]?.model ?? "?"} x${os.cpus().length}, node ${process.version}, tfjs ${tf.version_core}, backend ${tf.getBackend()}`);
const small = model(128, 2, 2, 512, 64);
// 16 queries x (1 pos + 1 neg) with 64-token sequences: 16 x 64 query tokens, 32 x 64 document tokens.
const sq = tokens(16, 64, 30522, rng);
const sd = tokens(32, 64, 30522, rng);
for (const fix of process.argv.includes("--skip-small") ? [] : [false, true]) {
  useExplicitTranspose(fix);
  console.log(`2 layers, hidden 128, batch 16x64 (+32x64 docs), explicit transpose ${fix ? "on" : "off"}: ${timeSteps(small, sq, sd, 2, 5).toFixed(0)} ms/step`);
}
useExplicitTranspose(true);
small.dispose();
if (!process.argv.includes("--skip-large")) {
  // 8 queries x 4 documents of 180 tokens in one micro-batch exceeds the wasm heap (the backward pass
  // keeps every layer's activations; "memory access out of bounds" here). LARGE_QUERIES (default 2)
  // queries per micro-batch; the realistic batch of 8 is then 8 / LARGE_QUERIES accumulated micro-batches.
  const nq = Number(process.env["LARGE_QUERIES"] ?? 2);
  const large = model(384, 12, 12, 1536, 96);
  const lq = tokens(nq, 32, 30522, rng);
  const ld = tokens(nq * 4, 180, 30522, rng);
  const ms = timeSteps(large, lq, ld, 4, 2);
  console.log(`answerai-colbert-small-v1 shape, ${nq} queries x (1+3) docs of 180 tokens per micro-batch: ${ms.toFixed(0)} ms; ~${((ms * 8) / nq / 1000).toFixed(1)} s per 8-query step`);
  large.dispose();
}
