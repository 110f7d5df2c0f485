import { describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { ColBERT } from "../../src/encode/colbert.js";
import { isColtsError } from "../../src/errors.js";
import { readColbertCheckpoint } from "../../src/model/checkpoint.js";
import { mergeCheckpoints } from "../../src/train/merge.js";
import { runCli } from "../helpers/cli.js";
import { tinyModel } from "../helpers/models.js";
import { suiteDir, tempDir } from "../helpers/paths.js";

const dir = suiteDir();
const models = { a: tinyModel(dir, { seed: 1 }), b: tinyModel(dir, { seed: 2 }), c: tinyModel(dir, { seed: 3 }) };

async function encode(model: string): Promise<Float32Array[]> {
  const m = await ColBERT.load(model, { workers: 0 });
  try {
    return [...(await m.encodeQueries(["merging models"])), ...(await m.encodeDocuments(["Checkpoint averaging of fine-tuned models."]))].map((v) => v.vectors);
  } finally {
    await m.close();
  }
}

describe("merging checkpoints", () => {
  test("linear 1,0 (CLI) writes a loadable model that encodes exactly like the first", async (t) => {
    const out = path.join(tempDir(t), "merged");
    const [a, b] = [await models.a, await models.b];
    const r = await runCli(["merge", a, b, "--method", "linear", "--weights", "1,0", "--output", out], dir);
    assert.equal(r.code, 0, r.stderr);
    const merged = readColbertCheckpoint(out);
    const first = readColbertCheckpoint(a);
    for (const [name, w] of first.weights) assert.deepEqual(merged.weights.get(name)?.data, w.data, name);
    assert.deepEqual(merged.dense[0]?.weight, first.dense[0]?.weight);
    const [x, y] = [await encode(out), await encode(a)];
    x.forEach((v, i) => v.forEach((e, j) => assert.ok(Math.abs(e - (y[i]?.[j] ?? NaN)) < 1e-5)));
  });

  test("equal-weight linear merge is the element-wise mean of backbone and head", async () => {
    const [a, b] = [readColbertCheckpoint(await models.a), readColbertCheckpoint(await models.b)];
    const m = mergeCheckpoints([a, b], { method: "linear" });
    const name = "encoder.layer.0.attention.self.query.weight";
    const [wa, wb, wm] = [a.weights.get(name)!.data, b.weights.get(name)!.data, m.weights.get(name)!.data];
    for (let i = 0; i < wm.length; i += 97) assert.equal(wm[i], Math.fround((wa[i]! + wb[i]!) / 2));
    const [ha, hb, hm] = [a.dense[0]!.weight, b.dense[0]!.weight, m.dense[0]!.weight];
    for (let i = 0; i < hm.length; i++) assert.equal(hm[i], Math.fround((ha[i]! + hb[i]!) / 2));
  });

  test("separate Matryoshka heads are merged like the main head; models whose heads differ are refused", async (t) => {
    const heads = { matryoshkaDims: [16, 8], matryoshkaHeads: true };
    const a = readColbertCheckpoint(await tinyModel(t, { seed: 1, ...heads }));
    const b = readColbertCheckpoint(await tinyModel(t, { seed: 2, ...heads }));
    const m = mergeCheckpoints([a, b], { method: "linear" });
    const [ha, hb, hm] = [a.matryoshkaHeads.get(8)!.weight, b.matryoshkaHeads.get(8)!.weight, m.matryoshkaHeads.get(8)!.weight];
    assert.equal(hm.length, 8 * 32);
    for (let i = 0; i < hm.length; i++) assert.equal(hm[i], Math.fround((ha[i]! + hb[i]!) / 2));
    assert.deepEqual(mergeCheckpoints([a, a], { method: "slerp", t: 0.3 }).matryoshkaHeads.get(8)?.weight, ha);
    const plain = { ...b, matryoshkaHeads: new Map() };
    assert.throws(() => mergeCheckpoints([a, plain], { method: "linear" }), (e: unknown) => isColtsError(e) && e.code === "MERGE_INCOMPATIBLE" && /Matryoshka heads/.test(e.message));
  });

  test("SLERP of a model with itself returns the model; TIES against itself as base returns the base", async () => {
    const a = readColbertCheckpoint(await models.a);
    const s = mergeCheckpoints([a, a], { method: "slerp", t: 0.3 });
    for (const [name, w] of a.weights) assert.deepEqual(s.weights.get(name)?.data, w.data, name);
    assert.deepEqual(s.dense[0]?.weight, a.dense[0]?.weight);
    const ties = mergeCheckpoints([a, a], { method: "ties", base: a, density: 0.5 });
    for (const [name, w] of a.weights) assert.deepEqual(ties.weights.get(name)?.data, w.data, name);
  });

  test("TIES (CLI) needs --base; with it the result moves away from the base towards the models", async (t) => {
    const [a, b, c] = [await models.a, await models.b, await models.c];
    const out = path.join(tempDir(t), "ties");
    const missing = await runCli(["merge", b, c, "--method", "ties", "--output", out], dir);
    assert.equal(missing.code, 2);
    for (const misplaced of [["--method", "slerp", "--weights", "1,1"], ["--t", "0.3"], ["--method", "linear", "--density", "0.5"], ["--base", a]]) {
      assert.equal((await runCli(["merge", b, c, ...misplaced, "--output", out], dir)).code, 2, misplaced.join(" "));
    }
    const r = await runCli(["merge", b, c, "--method", "ties", "--base", a, "--density", "0.2", "--output", out], dir);
    assert.equal(r.code, 0, r.stderr);
    const [base, merged] = [readColbertCheckpoint(a), readColbertCheckpoint(out)];
    const w = merged.weights.get("encoder.layer.0.output.dense.weight")!.data;
    const w0 = base.weights.get("encoder.layer.0.output.dense.weight")!.data;
    const changed = w.filter((x, i) => x !== w0[i]).length;
    // Each task vector keeps 20% of its entries; their union (where a sign agrees) changes 20-40%.
    assert.ok(changed >= 0.2 * w.length * 0.99 && changed <= 0.4 * w.length, `${changed} of ${w.length} changed`);
    assert.ok((await encode(out)).length === 2);
  });

  test("models that differ in shape, head, settings or tokenizer are refused with MERGE_INCOMPATIBLE", async (t) => {
    const a = readColbertCheckpoint(await models.a);
    const wider = readColbertCheckpoint(await tinyModel(t, { hidden: 64, heads: 2 }));
    const otherHead = readColbertCheckpoint(await tinyModel(t, { dim: 8 }));
    const otherSettings = readColbertCheckpoint(await tinyModel(t, { queryLength: 20 }));
    const otherTokenizer = { ...a, tokenizerFiles: new Map([...a.tokenizerFiles].map(([k, v]) => [k, k === "tokenizer.json" ? v.subarray(1) : v])) };
    const q = "encoder.layer.0.attention.self.query.weight";
    const reshaped = { ...a, weights: new Map([...a.weights].map(([k, v]) => [k, k === q ? { shape: [v.data.length], data: v.data } : v])) };
    for (const other of [wider, otherHead, otherSettings, otherTokenizer, reshaped]) {
      assert.throws(() => mergeCheckpoints([a, other], { method: "linear" }), (e) => isColtsError(e, "MERGE_INCOMPATIBLE"));
    }
    const out = path.join(tempDir(t), "no");
    const r = await runCli(["merge", await models.a, await tinyModel(t, { dim: 8 }), "--output", out], dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /MERGE_INCOMPATIBLE/);
  });
});
