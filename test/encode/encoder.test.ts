/**
 * The encoder against itself and its references: the projection head applied in TypeScript equals
 * the same head inside the graph; vectors are unit length; batching changes nothing; Matryoshka
 * truncation; int8 graphs; worker threads give the same bytes as the calling thread.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { ColBERT, defaultChunkSize } from "../../src/encode/colbert.js";
import { tinyModel } from "../helpers/models.js";
import { suiteDir, tempDir } from "../helpers/paths.js";
import { maxAbsDiff } from "../helpers/vectors.js";

const TEXTS = [
  "Paris is the capital and most populous city of France.",
  "short",
  "",
  "The mitochondrion is the powerhouse of the cell; it produces ATP through oxidative phosphorylation, " +
    "a process that couples electron transport to the synthesis of adenosine triphosphate.",
];

const root = suiteDir();
const models: Record<string, ColBERT> = {};
before(async () => {
  for (const layout of ["pylate", "stanford", "onnx"] as const) {
    models[layout] = await ColBERT.load(await tinyModel(root, { layout, int8: true }), { workers: 0 });
  }
});
after(async () => {
  for (const m of Object.values(models)) await m.close();
});

describe("projection head", () => {
  test("PyLate/Stanford graphs output hidden states and the head runs in TypeScript; the ONNX export has it in the graph", () => {
    assert.equal(models["pylate"]!.info.headInTypeScript, true);
    assert.equal(models["stanford"]!.info.headInTypeScript, true);
    assert.equal(models["onnx"]!.info.headInTypeScript, false);
    for (const m of Object.values(models)) assert.equal(m.dim, 16);
  });

  test("head in TypeScript == head inside the ONNX graph (1e-5), queries and documents", async () => {
    for (const kind of ["encodeQueries", "encodeDocuments"] as const) {
      const ts = await models["pylate"]![kind](TEXTS);
      const graph = await models["onnx"]![kind](TEXTS);
      const stanford = await models["stanford"]![kind](TEXTS);
      ts.forEach((v, i) => {
        assert.ok(maxAbsDiff(v, graph[i]!) < 1e-5, `${kind}[${i}] TS head vs graph head`);
        assert.ok(maxAbsDiff(v, stanford[i]!) < 1e-5, `${kind}[${i}] PyLate vs Stanford layout`);
      });
    }
  });

  test("every output vector has unit norm (1e-5)", async () => {
    for (const m of Object.values(models)) {
      for (const v of [...(await m.encodeQueries(TEXTS)), ...(await m.encodeDocuments(TEXTS))]) {
        for (let t = 0; t < v.tokens; t++) {
          let s = 0;
          for (let k = 0; k < v.dim; k++) s += (v.vectors[t * v.dim + k] as number) ** 2;
          assert.ok(Math.abs(Math.sqrt(s) - 1) < 1e-5, `norm ${Math.sqrt(s)}`);
        }
      }
    }
  });
});

describe("batching", () => {
  test("a text encoded alone == the same text inside a mixed-length batch (1e-5)", async () => {
    const m = models["pylate"]!;
    const batch = await m.encodeDocuments(TEXTS, { batchSize: 4 });
    for (let i = 0; i < TEXTS.length; i++) {
      const [alone] = await m.encodeDocuments([TEXTS[i]!]);
      assert.ok(maxAbsDiff(alone!, batch[i]!) < 1e-5, `text ${i}`);
    }
    const queries = await m.encodeQueries(TEXTS, { batchSize: 3 });
    const [q0] = await m.encodeQueries([TEXTS[0]!]);
    assert.ok(maxAbsDiff(q0!, queries[0]!) < 1e-5);
  });

  test("results come back in input order with the kept token ids", async () => {
    const m = models["onnx"]!;
    const vs = await m.encodeDocuments(TEXTS, { batchSize: 1 });
    assert.deepEqual(m.tokenStrings(vs[1]!), ["[CLS]", "[unused1]", "short", "[SEP]"]);
    assert.deepEqual(m.tokenStrings(vs[2]!), ["[CLS]", "[unused1]", "[SEP]"]);
    assert.ok(!m.tokenStrings(vs[0]!).includes("."), "punctuation dropped");
    const q = (await m.encodeQueries(["short"]))[0]!;
    assert.equal(q.tokens, 32);
    assert.equal(m.tokenStrings(q).filter((s) => s === "[MASK]").length, 28);
  });

  test("tiny token budgets split batches without changing results", async () => {
    const m = models["pylate"]!;
    const a = await m.encodeDocuments(TEXTS);
    const b = await m.encodeDocuments(TEXTS, { maxBatchTokens: 8 });
    a.forEach((v, i) => assert.ok(maxAbsDiff(v, b[i]!) < 1e-5));
  });
});

describe("Matryoshka dim", () => {
  test("dim = first components of the full vector, re-normalised", async () => {
    const m = models["onnx"]!;
    const [full] = await m.encodeDocuments([TEXTS[0]!]);
    const [cut] = await m.encodeDocuments([TEXTS[0]!], { dim: 8 });
    assert.equal(cut!.dim, 8);
    for (let t = 0; t < full!.tokens; t++) {
      const head = full!.vectors.subarray(t * 16, t * 16 + 8);
      const norm = Math.hypot(...head);
      for (let k = 0; k < 8; k++) assert.ok(Math.abs((head[k] as number) / norm - (cut!.vectors[t * 8 + k] as number)) < 1e-5);
    }
  });

  test("a dim the model cannot give is refused with DIM_UNSUPPORTED", async () => {
    const m = models["onnx"]!;
    await assert.rejects(m.encodeQueries(["x"], { dim: 17 }), { code: "DIM_UNSUPPORTED" });
    await assert.rejects(m.encodeQueries(["x"], { dim: 0 }), { code: "DIM_UNSUPPORTED" });
  });

  test("with declared matryoshka dims only those are accepted", async (t) => {
    const m = await ColBERT.load(await tinyModel(t, { layout: "onnx" }), { workers: 0, settings: { matryoshkaDims: [16, 8] } });
    t.after(() => m.close());
    assert.equal((await m.encodeQueries(["x"], { dim: 8 }))[0]!.dim, 8);
    await assert.rejects(m.encodeQueries(["x"], { dim: 4 }), { code: "DIM_UNSUPPORTED" });
  });
});

describe("int8 and worker threads", () => {
  test("the int8 graph is found and its vectors stay close to fp32 (mean cosine > 0.98)", async (t) => {
    const m = await ColBERT.load(models["onnx"]!.info.dir, { workers: 0, quantized: true });
    t.after(() => m.close());
    assert.match(m.info.onnxPath ?? "", /model_int8\.onnx$/);
    const q8 = await m.encodeDocuments(TEXTS);
    const q32 = await models["onnx"]!.encodeDocuments(TEXTS);
    let cos = 0;
    let n = 0;
    q8.forEach((v, i) => {
      for (let r = 0; r < v.tokens; r++) {
        let s = 0;
        for (let k = 0; k < v.dim; k++) s += (v.vectors[r * v.dim + k] as number) * (q32[i]!.vectors[r * v.dim + k] as number);
        cos += s;
        n++;
      }
    });
    assert.ok(cos / n > 0.98, `mean cosine ${cos / n}`);
  });

  test("a pool of 2 workers returns exactly what the calling thread computes", async (t) => {
    const pooled = await ColBERT.load(models["pylate"]!.info.dir, { workers: 2, threads: 1 });
    t.after(() => pooled.close());
    let progress = 0;
    const texts = Array.from({ length: 40 }, (_, i) => TEXTS[i % TEXTS.length]! + " " + "x ".repeat(i));
    const a = await pooled.encodeDocuments(texts, { chunkSize: 7, onProgress: (done) => (progress = done) });
    const b = await models["pylate"]!.encodeDocuments(texts);
    assert.equal(progress, 40);
    a.forEach((v, i) => assert.deepEqual(v.vectors, b[i]!.vectors));
  });

  test("closed models refuse work; non-string input is INPUT_INVALID", async (t) => {
    const m = await ColBERT.load(models["onnx"]!.info.dir, { workers: 0 });
    t.after(() => m.close());
    await assert.rejects(m.encodeDocuments([1 as unknown as string]), { code: "INPUT_INVALID" });
    await m.close();
    await assert.rejects(m.encodeDocuments(["x"]), { code: "CLOSED" });
  });
});

describe("checkpoints without an ONNX graph", () => {
  test("a BERT safetensors backbone (bare and bert.-prefixed names) is converted and gives the exported graph's vectors", async (t) => {
    for (const layout of ["pylate", "stanford"] as const) {
      const dir = models[layout]!.info.dir;
      const copy = path.join(tempDir(t), layout);
      fs.cpSync(dir, copy, { recursive: true });
      for (const f of ["onnx", "model.onnx", "model_int8.onnx"]) fs.rmSync(path.join(copy, f), { recursive: true, force: true });
      const converted = await ColBERT.load(copy, { workers: 0 });
      t.after(() => converted.close());
      assert.equal(converted.info.onnxPath, null);
      const a = await converted.encodeDocuments(TEXTS);
      const b = await models[layout]!.encodeDocuments(TEXTS);
      a.forEach((v, i) => assert.ok(maxAbsDiff(v, b[i]!) < 1e-5, `${layout} text ${i}`));
    }
  });

  test("no graph and no convertible backbone -> MODEL_NOT_FOUND saying to export", async (t) => {
    const copy = path.join(tempDir(t), "onnx");
    fs.cpSync(models["onnx"]!.info.dir, copy, { recursive: true });
    for (const f of ["model.onnx", "model_int8.onnx"]) fs.rmSync(path.join(copy, f));
    await assert.rejects(ColBERT.load(copy, { workers: 0 }), (e: Error & { code?: string }) => e.code === "MODEL_NOT_FOUND" && /export the model to ONNX/.test(e.message));
  });
});

test("defaultChunkSize: about 8 tasks per worker, at least 1 text, at most 4 batches", () => {
  assert.equal(defaultChunkSize(32, 32, 2), 2);
  assert.equal(defaultChunkSize(256, 32, 2), 16);
  assert.equal(defaultChunkSize(257, 32, 2), 17);
  assert.equal(defaultChunkSize(100_000, 32, 2), 128);
  assert.equal(defaultChunkSize(100_000, 8, 4), 32);
  assert.equal(defaultChunkSize(3, 32, 2), 1);
  assert.equal(defaultChunkSize(0, 32, 2), 1);
  assert.equal(defaultChunkSize(64, 32, 0), 8);
});
