import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { ColBERT } from "../../src/encode/colbert.js";
import { isColtsError } from "../../src/errors.js";
import { readColbertCheckpoint, type ColbertCheckpoint } from "../../src/model/checkpoint.js";
import { bertBaseUncasedVocab } from "../../src/testing/tiny-model.js";
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

/** Shapes small enough that two CLI training steps take a second or two. */
const TINY = { hidden: 16, heads: 2, layers: 1, dim: 8, queryLength: 8, documentLength: 16 };
const TRIPLES = [
  { query: "where do apples grow", positive: "apples grow on trees", negatives: ["castles have towers"] },
  { query: "where do rivers go", positive: "rivers flow to the sea", negatives: ["engines burn fuel"] },
];

function refused(pattern: RegExp): (e: unknown) => boolean {
  return (e) => isColtsError(e, "MERGE_INCOMPATIBLE") && pattern.test(e.message);
}

describe("a fine-tuned model merges with its base, whatever layout the base was written in, BERT or XLM-R", () => {
  const cases = [["pylate", "bert"], ["stanford", "bert"], ["onnx", "bert"], ["pylate", "xlm-roberta"], ["onnx", "xlm-roberta"]] as const;
  for (const [layout, arch] of cases) {
    test(`${arch} ${layout} base: 2 CLI training steps, then linear, slerp and ties merges with the base load and encode`, async (t) => {
      const cwd = tempDir(t);
      const base = await tinyModel(cwd, { layout, arch, ...TINY });
      fs.writeFileSync(path.join(cwd, "t.jsonl"), TRIPLES.map((x) => JSON.stringify(x)).join("\n"));
      const trained = await runCli(["train", "--model", base, "--data", "t.jsonl", "--loss", "contrastive", "--steps", "2", "--batch-size", "2", "--lr", "1e-3", "--output", "run"], cwd);
      assert.equal(trained.code, 0, trained.stderr);
      const tuned = path.join(cwd, "run/model");
      const baseCkpt = readColbertCheckpoint(base);
      const q = "encoder.layer.0.attention.self.query.weight";
      assert.notDeepEqual(readColbertCheckpoint(tuned).weights.get(q)?.data, baseCkpt.weights.get(q)?.data, "training changed the weights");
      const runs: [string, string[], string[]][] = [
        ["linear", [base, tuned], ["--weights", "1,0"]],
        ["linear", [tuned, base], ["--weights", "0,1"]],
        ["slerp", [base, tuned], ["--t", "0.5"]],
        ["ties", [base, tuned], ["--base", base]],
      ];
      for (const [i, [method, models, flags]] of runs.entries()) {
        const out = path.join(cwd, `merged-${i}`);
        const r = await runCli(["merge", ...models, "--method", method, ...flags, "--output", out], cwd);
        assert.equal(r.code, 0, `${method} ${models.map((m) => path.basename(m)).join(" ")}: ${r.stderr}`);
        const colbert = await ColBERT.load(out, { workers: 0 });
        try {
          const [v] = await colbert.encodeQueries(["where do apples grow"]);
          assert.equal(v?.dim, 8);
          assert.ok(v.vectors.every(Number.isFinite), method);
        } finally {
          await colbert.close();
        }
        const merged = readColbertCheckpoint(out);
        assert.deepEqual(merged.config, baseCkpt.config, "the base's config (XLM-R: RoBERTa positions) is kept");
        if (method === "linear") {
          // All the weight on the base: the base's weights exactly, backbone and head.
          for (const [name, w] of baseCkpt.weights) assert.deepEqual(merged.weights.get(name)?.data, w.data, `${method} ${i}: ${name}`);
          assert.deepEqual(merged.dense[0]?.weight, baseCkpt.dense[0]?.weight);
          const [x, y] = [await encode(out), await encode(base)];
          x.forEach((vec, j) => vec.forEach((e, k) => assert.ok(Math.abs(e - (y[j]?.[k] ?? NaN)) < 1e-5, `${layout} vector ${j}[${k}]`)));
        } else {
          assert.notDeepEqual(merged.weights.get(q)?.data, baseCkpt.weights.get(q)?.data, `${method} moved away from the base`);
        }
      }
    });
  }

  test("a genuinely different setting or vocabulary is still refused, naming the setting and both values", async (t) => {
    const cwd = tempDir(t);
    const base = await tinyModel(cwd, TINY);
    const longer = await tinyModel(cwd, { ...TINY, queryLength: 12 });
    const r = await runCli(["merge", base, longer, "--method", "slerp", "--output", "x"], cwd);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /MERGE_INCOMPATIBLE/);
    assert.match(r.stderr, /queryLength is 12 in .* but 8 in /);
    // Same size, one token renamed: the tokenizer says which entry differs.
    const vocab = bertBaseUncasedVocab().map((w) => (w === "apple" ? "apfel" : w));
    const otherVocab = readColbertCheckpoint(await tinyModel(cwd, { ...TINY, vocab }));
    const a = readColbertCheckpoint(base);
    assert.throws(() => mergeCheckpoints([a, otherVocab], { method: "linear" }), refused(/tokenizer file tokenizer\.json differs between model 0 and model 1: model\.vocab\.apple is \d+ in model 0 but absent in model 1/));
    // Layouts that really encode differently: the ONNX tiny layout lower-cases, the PyLate one does not.
    const onnx = readColbertCheckpoint(await tinyModel(cwd, { ...TINY, layout: "onnx" }));
    assert.throws(() => mergeCheckpoints([a, onnx], { method: "linear" }), refused(/lowercase is true in .* but false in /));
    const otherDoc = { ...a, settings: { ...a.settings, documentLength: 20 } };
    assert.throws(() => mergeCheckpoints([a, otherDoc], { method: "linear" }), refused(/documentLength is 20 in model 1 but 16 in model 0/));
    const attended = { ...a, settings: { ...a.settings, attendToExpansionTokens: true } };
    assert.throws(() => mergeCheckpoints([a, attended], { method: "linear" }), refused(/attendToExpansionTokens is true in model 1 but false/));
  });

  test("what a layout merely spells differently is not a difference", async (t) => {
    const a = readColbertCheckpoint(await tinyModel(t, TINY));
    const variants: [string, ColbertCheckpoint][] = [
      ["embeddingDim declared = the head's output", { ...a, settings: { ...a.settings, embeddingDim: 8 } }],
      ["skiplist in another order", { ...a, settings: { ...a.settings, skiplistWords: [...a.settings.skiplistWords].reverse() } }],
      ["no special_tokens_map.json", { ...a, tokenizerFiles: new Map([...a.tokenizerFiles].filter(([f]) => f !== "special_tokens_map.json")) }],
      ["tokenizer.json without indentation", { ...a, tokenizerFiles: new Map([...a.tokenizerFiles].map(([f, v]) => [f, f === "tokenizer.json" ? Buffer.from(JSON.stringify(JSON.parse(Buffer.from(v).toString()))) : v])) }],
    ];
    assert.equal(a.settings.embeddingDim, null);
    for (const [why, b] of variants) assert.doesNotThrow(() => mergeCheckpoints([a, b], { method: "linear" }), why);
    // A model trained with --matryoshka declares truncations its base does not: it merges, and the
    // result declares every dim either model declared.
    const matryoshka = { ...a, settings: { ...a.settings, matryoshkaDims: [8, 4] } };
    assert.deepEqual(mergeCheckpoints([a, matryoshka], { method: "slerp" }).settings.matryoshkaDims, [8, 4]);
    assert.deepEqual(mergeCheckpoints([{ ...a, settings: { ...a.settings, matryoshkaDims: [6] } }, matryoshka], { method: "linear" }).settings.matryoshkaDims, [8, 6, 4]);
    // Attention to expansion tokens is ignored without expansion.
    const off = { ...a, settings: { ...a.settings, doQueryExpansion: false } };
    assert.doesNotThrow(() => mergeCheckpoints([off, { ...off, settings: { ...off.settings, attendToExpansionTokens: true } }], { method: "linear" }));
    const noConfig = { ...a, tokenizerFiles: new Map([...a.tokenizerFiles].filter(([f]) => f !== "tokenizer_config.json")) };
    assert.throws(() => mergeCheckpoints([a, noConfig], { method: "linear" }), refused(/has a tokenizer_config\.json, .* has none/));
  });
});
