import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { epochOrder, type ResolvedExample } from "../../src/train/data.js";
import { train, type TrainOptions } from "../../src/train/loop.js";
import { linearSchedule } from "../../src/train/optim.js";
import { ColBERT } from "../../src/encode/colbert.js";
import { readColbertCheckpoint } from "../../src/model/checkpoint.js";
import { tinyModel } from "../helpers/models.js";
import { tempDir } from "../helpers/paths.js";

const WORDS = ["apple", "river", "castle", "engine", "forest", "guitar", "harbor", "island"];
const EXAMPLES: ResolvedExample[] = WORDS.map((w, i) => ({
  query: `${w} facts`,
  docs: [`all about the ${w}`, `the ${WORDS[(i + 3) % 8] as string} story`, `notes on ${WORDS[(i + 5) % 8] as string}`],
  scores: { t: [5, 1, 0] },
}));
const TINY = { hidden: 16, heads: 2, dim: 8, layers: 1, queryLength: 8, documentLength: 12 };

function sameWeights(a: Awaited<ReturnType<typeof train>>["weights"], b: Awaited<ReturnType<typeof train>>["weights"]): void {
  for (const [name, t] of a.weights) assert.deepEqual(b.weights.get(name)?.data, t.data, name);
  for (const [i, l] of a.dense.entries()) assert.deepEqual(b.dense[i]?.weight, l.weight, `dense ${i}`);
}

describe("training loop", () => {
  it("linear warm-up then decay (HF get_linear_schedule_with_warmup)", () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((s) => linearSchedule(s, 6, 2)), [0, 0.5, 1, 0.75, 0.5, 0.25, 0]);
    assert.equal(linearSchedule(0, 10, 0), 1);
  });

  it("epoch orders are seeded permutations", () => {
    const o = epochOrder(10, 3, 0);
    assert.deepEqual([...o].sort((a, b) => a - b), [...Array(10).keys()]);
    assert.deepEqual(epochOrder(10, 3, 0), o);
    assert.notDeepEqual(epochOrder(10, 3, 1), o);
  });

  it("overfits a tiny batch: contrastive loss goes near 0", async (t) => {
    const model = await tinyModel(t, TINY);
    const r = await train({ model, output: tempDir(t), examples: EXAMPLES.slice(0, 4), batchSize: 4, steps: 40, lr: 3e-3, loss: "contrastive", exportModel: false });
    const losses = r.records.map((x) => x.loss ?? NaN);
    assert.ok((losses[0] as number) > 0.5, `first loss ${losses[0]}`);
    assert.ok((losses.at(-1) as number) < 0.05, `last loss ${losses.at(-1)}`);
  });

  it("every step line of metrics.jsonl carries the process's resident set size", async (t) => {
    const model = await tinyModel(t, TINY);
    const out = tempDir(t);
    await train({ model, output: out, examples: EXAMPLES.slice(0, 4), batchSize: 2, steps: 3, lr: 1e-3, loss: "contrastive", exportModel: false });
    const log = fs.readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { step: number; rssBytes?: number });
    assert.deepEqual(log.map((r) => r.step), [1, 2, 3]);
    // A Node process with onnxruntime loaded is at least tens of MiB resident, and no test process reaches 64 GiB.
    for (const r of log) assert.ok(typeof r.rssBytes === "number" && r.rssBytes > 16 * 2 ** 20 && r.rssBytes < 64 * 2 ** 30, `step ${r.step}: rssBytes ${r.rssBytes}`);
  });

  it("gradient accumulation of 2 x 2 queries equals one batch of 4 (per-query mean loss)", async (t) => {
    const model = await tinyModel(t, TINY);
    // No dropout: masks are drawn per micro-batch, so 2 x 2 and 4 would drop different entries.
    const base = { model, examples: EXAMPLES, steps: 3, lr: 1e-3, loss: "contrastive" as const, seed: 4, exportModel: false as const, dropout: 0 };
    const big = await train({ ...base, batchSize: 4, output: tempDir(t) });
    const accum = await train({ ...base, batchSize: 2, gradAccum: 2, output: tempDir(t) });
    for (const [name, w] of big.weights.weights) {
      const other = accum.weights.weights.get(name)?.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < w.data.length; i++) worst = Math.max(worst, Math.abs((w.data[i] as number) - (other[i] as number)));
      assert.ok(worst <= 1e-5, `${name}: max difference ${worst}`);
    }
  });

  it("resume after an interruption gives exactly the weights of an uninterrupted run (dropout on, the model's 0.1)", async (t) => {
    const model = await tinyModel(t, TINY);
    // 8 examples, batch 3: epochs roll over mid-run, and 2 micro-batches per step exercise accumulation.
    const base: Omit<TrainOptions, "output"> = { model, examples: EXAMPLES, batchSize: 3, gradAccum: 2, steps: 5, warmup: 2, lr: 1e-3, loss: "margin-mse", seed: 9, exportModel: false };
    const whole = await train({ ...base, output: tempDir(t) });
    const out = tempDir(t);
    const first = await train({ ...base, output: out, stopAfter: 2 });
    assert.equal(first.steps, 2);
    assert.equal(first.finished, false);
    const resumed = await train({ ...base, output: out, resume: true });
    assert.equal(resumed.steps, 5);
    sameWeights(whole.weights, resumed.weights);
    // The log holds each step once, in order, with the same losses.
    const log = fs.readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { step: number; loss: number });
    assert.deepEqual(log.map((r) => r.step), [1, 2, 3, 4, 5]);
    assert.deepEqual(log.map((r) => r.loss), whole.records.map((r) => r.loss));
    // A different setup is refused rather than silently mixed.
    await assert.rejects(train({ ...base, lr: 2e-3, output: out, resume: true }), (e: unknown) => (e as { code?: string }).code === "TRAIN_STATE_INVALID");
  });

  it("trains a separate Matryoshka head and exports it: the folder loads and encodes at each dim", async (t) => {
    const model = await tinyModel(t, { ...TINY, matryoshkaDims: [8, 4], matryoshkaHeads: true });
    const before = readColbertCheckpoint(model);
    const out = tempDir(t);
    const r = await train({ model, output: out, examples: EXAMPLES, batchSize: 4, steps: 2, lr: 1e-3, loss: "contrastive", matryoshkaDims: [8, 4] });
    const trained = r.weights.matryoshkaHeads.get(4)?.weight as Float32Array;
    assert.ok(trained.some((x, i) => x !== before.matryoshkaHeads.get(4)?.weight[i]), "the 4-d head was updated");
    assert.ok(r.modelDir);
    const exported = readColbertCheckpoint(r.modelDir);
    assert.deepEqual(exported.matryoshkaHeads.get(4)?.weight, trained);
    assert.deepEqual(exported.settings.matryoshkaDims, [8, 4]);
    const colbert = await ColBERT.load(r.modelDir, { workers: 0 });
    try {
      for (const dim of [8, 4]) {
        const [q] = await colbert.encodeQueries(["apple facts"], { dim });
        assert.equal(q?.dim, dim);
        assert.ok(q && q.vectors.every(Number.isFinite));
      }
    } finally {
      await colbert.close();
    }
    // Resuming with heads: the head's weights and moments are part of the state.
    const whole = await train({ model, output: tempDir(t), examples: EXAMPLES, batchSize: 4, steps: 3, lr: 1e-3, loss: "contrastive", matryoshkaDims: [8, 4], exportModel: false });
    const split = tempDir(t);
    const base = { model, examples: EXAMPLES, batchSize: 4, steps: 3, lr: 1e-3, loss: "contrastive" as const, matryoshkaDims: [8, 4], exportModel: false as const };
    await train({ ...base, output: split, stopAfter: 1 });
    const resumed = await train({ ...base, output: split, resume: true });
    assert.deepEqual(resumed.weights.matryoshkaHeads.get(4)?.weight, whole.weights.matryoshkaHeads.get(4)?.weight);
  });
});
