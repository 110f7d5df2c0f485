/**
 * Training throughput at real size (not in CI): a model shaped like answerai-colbert-small-v1 (hidden
 * 384, 12 layers, 12 heads, FFN 1536, dim 96; random weights and token ids, which do not change the
 * time), queries of 32 tokens, documents of 60..180 tokens padded to the batch's longest.
 *   - the onnxruntime trainer (src/train/ort) at 8 x (1+3) and 32 x (1+7) per optimizer step, full
 *     step (forward, scores and losses, backward, AdamW), with the phase split and RSS after each step;
 *   - the tfjs reference engine (test/reference/tfjs) at 1 x (1+3), the only size it runs.
 * Tokens/s counts every token fed (padded) and the attended ones (unpadded). `--budgets 4,0` compares
 * activation budgets (GiB kept from the forward pass for the backward pass; 0 = recompute every
 * chunk) side by side: one trainer per budget, every step's batch run by each in turn.
 * `--pack on,off` compares one-run steps with packed documents (only real tokens through the
 * per-token layers) and padded ones the same way (default on).
 * `--shapes 8x4,32x8` sets the batches (queries x group size; default those two); `--only` picks one.
 * Run: npm run build && node dist/bench/train-throughput.js [--steps N] [--skip-tfjs] [--chunk N] [--only 8x4|32x8] [--shapes BxG,...] [--dropout P] [--budgets a,b] [--pack on,off]
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { randomBertWeights, type BertConfig } from "../src/model/bert-weights.js";
import type { TokenBatch, TrainBatch } from "../src/train/batch.js";
import { AdamW } from "../src/train/optim.js";
import { OrtTrainer } from "../src/train/ort/trainer.js";
import { Rng } from "../src/util/rng.js";
import { TrainableColbert } from "../test/reference/tfjs/model.js";
import { batchLoss } from "../test/reference/tfjs/objective.js";
import { initTraining, tf } from "../test/reference/tfjs/tf.js";

const { values } = parseArgs({ options: { steps: { type: "string" }, "skip-tfjs": { type: "boolean" }, chunk: { type: "string" }, only: { type: "string" }, dropout: { type: "string" }, budgets: { type: "string" }, shapes: { type: "string" }, pack: { type: "string" } } });
const PACK = (values.pack ?? "on").split(",").map((v) => v === "on");
const BUDGETS = (values.budgets ?? "4").split(",").map(Number);
const DROPOUT = Number(values.dropout ?? 0);
const STEPS = Number(values.steps ?? 3);
const CHUNK = Number(values.chunk ?? 8);
const cfg: BertConfig = { vocabSize: 30522, hiddenSize: 384, numLayers: 12, numHeads: 12, intermediateSize: 1536, maxPositions: 512, typeVocabSize: 2, layerNormEps: 1e-12 };
const DIM = 96;
const ckpt = {
  config: cfg,
  weights: randomBertWeights(cfg, 1),
  dense: [{ weight: new Rng(3).normalArray(DIM * 384, 1 / Math.sqrt(384)), bias: null, inFeatures: 384, outFeatures: DIM, activation: "identity" as const, source: "bench" }],
  matryoshkaHeads: new Map(),
};

/** rows sequences, each of a length drawn from [minLen, maxLen], padded to the longest. */
function tokens(rows: number, minLen: number, maxLen: number, rng: Rng): { batch: TokenBatch; attended: number } {
  const lens = Array.from({ length: rows }, () => minLen + rng.int(maxLen - minLen + 1));
  const S = Math.max(...lens);
  const ids = new Int32Array(rows * S);
  const attention = new Float32Array(rows * S);
  for (let r = 0; r < rows; r++) for (let t = 0; t < (lens[r] as number); t++) {
    ids[r * S + t] = 1000 + rng.int(29000);
    attention[r * S + t] = 1;
  }
  return { batch: { ids, attention, keep: Float32Array.from(attention), rows, length: S }, attended: lens.reduce((a, b) => a + b, 0) };
}

function makeBatch(B: number, g: number, rng: Rng): { batch: TrainBatch; padded: number; attended: number } {
  const q = tokens(B, 32, 32, rng);
  const d = tokens(B * g, 60, 180, rng);
  return { batch: { queries: q.batch, docs: d.batch, group: g, scores: {} }, padded: B * 32 + B * g * d.batch.length, attended: q.attended + d.attended };
}

const gib = (): string => (process.memoryUsage().rss / 2 ** 30).toFixed(2);
console.log(`machine: ${os.cpus()[0]?.model ?? "?"} x${os.cpus().length}, node ${process.version}; steps per setting ${STEPS}, chunk ${CHUNK} sequences, dropout ${DROPOUT}`);

const SHAPES = (values.shapes ?? "8x4,32x8").split(",").map((x) => x.split("x").map(Number) as [number, number]);
for (const [B, g] of SHAPES) {
  if (values.only && values.only !== `${B}x${g}`) continue;
  const rssBefore = process.memoryUsage().rss;
  const runs = [];
  for (const budget of BUDGETS) {
    for (const pack of PACK) {
      const trainer = await OrtTrainer.create(ckpt, { chunkRows: CHUNK, dropout: { hidden: DROPOUT, attention: DROPOUT }, activationBudgetBytes: budget * 2 ** 30, packSequences: pack });
      runs.push({ label: `budget ${budget} GiB${PACK.length > 1 ? (pack ? " packed" : " padded") : ""}`, trainer, opt: new AdamW(trainer.weights, { lr: 1e-5 }), ms: 0, padded: 0, attended: 0 });
    }
  }
  const rng = new Rng(7);
  for (let step = 0; step <= STEPS; step++) {
    const { batch, padded, attended } = makeBatch(B, g, rng);
    // Alternate which setting goes first, so a slow phase of the machine does not favour one.
    for (const run of step % 2 === 0 ? runs : [...runs].reverse()) {
      const t0 = performance.now();
      const r = await run.trainer.lossAndGradients(batch, { loss: "contrastive" }, { dropoutSeed: step });
      const t1 = performance.now();
      run.opt.apply(run.trainer.weights, r.grads, 1e-5);
      const ms = performance.now() - t0;
      const warm = step === 0 ? " (warm-up, not counted)" : "";
      console.log(`ort ${B}x(1+${g - 1}) ${run.label} step ${step}: loss ${r.loss.toFixed(4)}, ${r.oneRun ? (r.parts > 1 ? `one run per part, ${r.parts} parts` : "one run") : "GradCache"}, ${ms.toFixed(0)} ms = embed ${r.timings.embedMs.toFixed(0)} + scores ${r.timings.scoresMs.toFixed(0)} + backward ${r.timings.backwardMs.toFixed(0)} + AdamW ${(performance.now() - t1).toFixed(0)}; ${padded} tokens fed (${attended} attended): ${((padded / ms) * 1000).toFixed(0)} tokens/s padded, ${((attended / ms) * 1000).toFixed(0)} unpadded; RSS ${gib()} GiB${warm}`);
      if (step > 0) {
        run.ms += ms;
        run.padded += padded;
        run.attended += attended;
      }
    }
  }
  for (const run of runs) {
    console.log(`ort ${B}x(1+${g - 1}) ${run.label} mean over ${STEPS} steps: ${(run.ms / STEPS).toFixed(0)} ms/step, ${((run.padded / run.ms) * 1000).toFixed(0)} tokens/s padded, ${((run.attended / run.ms) * 1000).toFixed(0)} unpadded; RSS grew ${((process.memoryUsage().rss - rssBefore) / 2 ** 30).toFixed(2)} GiB over this shape's run`);
    await run.trainer.release();
  }
}

if (!values["skip-tfjs"]) {
  await initTraining();
  const model = new TrainableColbert(ckpt);
  const rng = new Rng(7);
  const vars = [...model.params.values()];
  for (let step = 0; step <= Math.min(STEPS, 2); step++) {
    const { batch, padded, attended } = makeBatch(1, 4, rng);
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(() => batchLoss(model, batch, { loss: "contrastive" }), vars);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
    const ms = performance.now() - t0;
    console.log(`tfjs 1x(1+3) step ${step} (forward + backward, no optimizer): ${ms.toFixed(0)} ms, ${((padded / ms) * 1000).toFixed(0)} tokens/s padded, ${((attended / ms) * 1000).toFixed(0)} unpadded; RSS ${gib()} GiB${step === 0 ? " (warm-up)" : ""}`);
  }
  model.dispose();
}
