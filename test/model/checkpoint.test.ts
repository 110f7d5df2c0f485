import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { ColBERT } from "../../src/encode/colbert.js";
import { readColbertCheckpoint, writeColbertCheckpoint } from "../../src/model/checkpoint.js";
import { readModelFolder } from "../../src/model/layout.js";
import { parseSafetensors, serializeSafetensors } from "../../src/model/safetensors.js";
import { GraphBuilder } from "../../src/runtime/onnx/builder.js";
import { DataType } from "../../src/runtime/onnx/proto.js";
import { writeOnnxModel } from "../../src/runtime/onnx/write.js";
import { tinyModel } from "../helpers/models.js";
import { tempDir } from "../helpers/paths.js";

const TEXTS = ["Parallel computation on multiprocessors.", "A note on the design of compilers!"];

async function encodeWith(dir: string, layout?: "pylate" | "onnx", dim?: number): Promise<Float32Array[]> {
  const model = await ColBERT.load(dir, { workers: 0, ...(layout ? { layout } : {}) });
  try {
    const opts = dim === undefined ? {} : { dim };
    const q = await model.encodeQueries(["design of compilers"], opts);
    const d = await model.encodeDocuments(TEXTS, opts);
    return [...q, ...d].map((m) => m.vectors);
  } finally {
    await model.close();
  }
}

function assertClose(a: Float32Array[], b: Float32Array[], tol: number): void {
  assert.equal(a.length, b.length);
  for (const [i, x] of a.entries()) {
    const y = b[i]!;
    assert.equal(x.length, y.length, `vector set ${i} length`);
    for (let j = 0; j < x.length; j++) assert.ok(Math.abs(x[j]! - y[j]!) <= tol, `set ${i} value ${j}: ${x[j]} vs ${y[j]}`);
  }
}

describe("checkpoint read/write round trip", () => {
  test("a written checkpoint encodes exactly like its source, through both the PyLate and the ONNX layout", async (t) => {
    const src = await tinyModel(t, { queryLength: 16, documentLength: 40 });
    const ckpt = readColbertCheckpoint(src);
    assert.equal(ckpt.weights.get("embeddings.word_embeddings.weight")?.shape[0], 30522);
    assert.equal(ckpt.dense.length, 1);
    const out = path.join(tempDir(t), "exported");
    const files = await writeColbertCheckpoint(out, ckpt, { producer: "test" });
    for (const f of ["model.safetensors", "config.json", "modules.json", "1_Dense/model.safetensors", "onnx/model.onnx", "model.onnx", "onnx_config.json", "tokenizer.json"]) {
      assert.ok(files.includes(f), `${f} written`);
    }
    assert.deepEqual(readModelFolder(out).layoutsFound, ["pylate", "onnx"]);
    const reference = await encodeWith(src);
    assertClose(await encodeWith(out, "pylate"), reference, 1e-6);
    assertClose(await encodeWith(out, "onnx"), reference, 1e-5);
    // The ONNX layout also declares the head's width.
    assert.deepEqual(readColbertCheckpoint(out).settings, { ...ckpt.settings, embeddingDim: 16 });
  });

  test("separate Matryoshka heads round-trip: same folders and config entry as tiny.ts, same vectors at every dim", async (t) => {
    const src = await tinyModel(t, { queryLength: 16, documentLength: 40, matryoshkaDims: [16, 8, 4], matryoshkaHeads: true });
    const ckpt = readColbertCheckpoint(src);
    assert.deepEqual([...ckpt.matryoshkaHeads.keys()].sort((a, b) => a - b), [4, 8]);
    assert.equal(ckpt.matryoshkaHeads.get(8)?.weight.length, 8 * 32);
    const out = path.join(tempDir(t), "exported");
    const files = await writeColbertCheckpoint(out, ckpt, { producer: "test" });
    for (const f of ["1_Dense_8/config.json", "1_Dense_8/model.safetensors", "1_Dense_4/model.safetensors"]) {
      assert.ok(files.includes(f), `${f} written`);
      assert.deepEqual(fs.readFileSync(path.join(out, f)), fs.readFileSync(path.join(src, f)), `${f} byte for byte`);
    }
    // The in-graph (next-plaid) layout cannot hold separate heads, so it is not written.
    assert.ok(!files.includes("onnx_config.json") && !files.includes("model.onnx"));
    const config = (dir: string): unknown => JSON.parse(fs.readFileSync(path.join(dir, "config_sentence_transformers.json"), "utf8"));
    assert.deepEqual(config(out), config(src));
    const again = readColbertCheckpoint(out);
    for (const [d, head] of ckpt.matryoshkaHeads) assert.deepEqual(again.matryoshkaHeads.get(d)?.weight, head.weight, `head ${d}`);
    for (const dim of [16, 8, 4]) {
      const reference = await encodeWith(src, undefined, dim);
      assert.equal(reference[0]!.length % dim, 0);
      assertClose(await encodeWith(out, undefined, dim), reference, 1e-6);
    }
    // The heads matter: dim 8 is not the truncation of dim 16.
    const full = (await encodeWith(src, undefined, 16))[0]!;
    const eight = (await encodeWith(src, undefined, 8))[0]!;
    assert.ok(Math.abs(full[0]! / Math.hypot(...full.subarray(0, 8)) - eight[0]!) > 1e-3);
  });

  test("a head whose dim is not declared, or that does not read the last layer's input, is refused", async (t) => {
    const ckpt = readColbertCheckpoint(await tinyModel(t, { matryoshkaDims: [16, 8], matryoshkaHeads: true }));
    const head = ckpt.matryoshkaHeads.get(8)!;
    const undeclared = { ...ckpt, settings: { ...ckpt.settings, matryoshkaDims: [16] } };
    await assert.rejects(writeColbertCheckpoint(path.join(tempDir(t), "a"), undeclared), { code: "INPUT_INVALID", message: /not among the declared/ });
    const narrow = { ...ckpt, matryoshkaHeads: new Map([[8, { ...head, inFeatures: 16, weight: head.weight.subarray(0, 128) }]]) };
    await assert.rejects(writeColbertCheckpoint(path.join(tempDir(t), "b"), narrow), { code: "INPUT_INVALID", message: /Matryoshka head 8/ });
  });

  test("a Stanford checkpoint (bert.-prefixed weights) reads into the same arrays", async (t) => {
    const pylate = readColbertCheckpoint(await tinyModel(t, { seed: 3 }));
    const stanford = readColbertCheckpoint(await tinyModel(t, { seed: 3, layout: "stanford" }));
    assert.deepEqual(stanford.weights.get("encoder.layer.0.attention.self.query.weight")?.data, pylate.weights.get("encoder.layer.0.attention.self.query.weight")?.data);
    assert.deepEqual(stanford.dense[0]?.weight, pylate.dense[0]?.weight);
  });

  test("an existing folder is refused unless overwrite is set, and a head that does not chain is refused", async (t) => {
    const ckpt = readColbertCheckpoint(await tinyModel(t));
    const out = path.join(tempDir(t), "m");
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, "keep.txt"), "x");
    await assert.rejects(writeColbertCheckpoint(out, ckpt), { code: "INPUT_INVALID" });
    assert.ok(fs.existsSync(path.join(out, "keep.txt")), "refused write leaves the folder alone");
    await writeColbertCheckpoint(out, ckpt, { overwrite: true });
    assert.ok(!fs.existsSync(path.join(out, "keep.txt")));
    const bad = { ...ckpt, dense: [{ ...ckpt.dense[0]!, inFeatures: 7 }] };
    await assert.rejects(writeColbertCheckpoint(path.join(tempDir(t), "bad"), bad), { code: "INPUT_INVALID" });
    assert.deepEqual(fs.readdirSync(path.dirname(out)).filter((f) => f.includes(".tmp-")), []);
  });

  test("an ONNX-layout folder (no safetensors) reads backbone and head from the graph colts wrote: the PyLate layout's arrays", async (t) => {
    const pylate = readColbertCheckpoint(await tinyModel(t, { seed: 4 }));
    const onnx = readColbertCheckpoint(await tinyModel(t, { seed: 4, layout: "onnx" }));
    assert.deepEqual(onnx.config, pylate.config);
    assert.deepEqual([...onnx.weights.keys()], [...pylate.weights.keys()]);
    for (const [name, w] of pylate.weights) {
      assert.deepEqual(onnx.weights.get(name)?.shape, w.shape, name);
      assert.deepEqual(onnx.weights.get(name)?.data, w.data, name);
    }
    assert.equal(onnx.dense.length, 1);
    assert.deepEqual({ ...onnx.dense[0], source: "" }, { ...pylate.dense[0], source: "" });
  });

  test("a folder without a BERT backbone colts can read is refused with MODEL_NOT_FOUND naming what is missing", async (t) => {
    // Not the BERT family: config.json says modernbert.
    const modern = await tinyModel(t, { layout: "onnx" });
    const configFile = path.join(modern, "config.json");
    fs.writeFileSync(configFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(configFile, "utf8")), model_type: "modernbert" }));
    assert.throws(() => readColbertCheckpoint(modern), { code: "MODEL_NOT_FOUND", message: /"bert" or "xlm-roberta"/ });
    // A graph from another exporter: its initializers have other names.
    const foreign = await tinyModel(t, { layout: "onnx" });
    const g = new GraphBuilder({ name: "other" });
    g.output("y", DataType.FLOAT, [2], g.add(g.input("x", DataType.FLOAT, [2]), g.floats([1, 2], [2], "onnx::Add_1")));
    await writeOnnxModel(path.join(foreign, "model.onnx"), g.toModel());
    assert.throws(() => readColbertCheckpoint(foreign), { code: "MODEL_NOT_FOUND", message: /embeddings\.word_embeddings\.weight/ });
    // An int8 graph holds quantized weights, not the float ones.
    const int8 = await tinyModel(t, { layout: "onnx", int8: true });
    assert.throws(() => readColbertCheckpoint(int8, { quantized: true }), { code: "MODEL_NOT_FOUND", message: /weight_t/ });
  });
});

describe("XLM-RoBERTa checkpoints (RoBERTa position ids, no token types)", () => {
  const XLMR = { arch: "xlm-roberta" as const, queryLength: 16, documentLength: 40 };

  test("PyLate, ONNX and roberta.-prefixed layouts read into the same arrays and config (padding idx 1, one token type)", async (t) => {
    const pylate = readColbertCheckpoint(await tinyModel(t, { ...XLMR, seed: 5 }));
    assert.deepEqual(pylate.config, { vocabSize: pylate.config.vocabSize, hiddenSize: 32, numLayers: 1, numHeads: 2, intermediateSize: 128, maxPositions: 42, typeVocabSize: 1, layerNormEps: 1e-5, roberta: { paddingIdx: 1 } });
    const onnxDir = await tinyModel(t, { ...XLMR, seed: 5, layout: "onnx" });
    const onnx = readColbertCheckpoint(onnxDir);
    assert.deepEqual(onnx.config, pylate.config);
    // An XLMRobertaForX checkpoint keeps the backbone under "roberta.".
    const prefixedDir = await tinyModel(t, { ...XLMR, seed: 5 });
    const file = path.join(prefixedDir, "model.safetensors");
    const tensors = [...parseSafetensors(fs.readFileSync(file))].map(([name, x]) => ({ name: `roberta.${name}`, shape: x.shape, data: x.data as Float32Array }));
    fs.writeFileSync(file, serializeSafetensors(tensors));
    const prefixed = readColbertCheckpoint(prefixedDir);
    for (const other of [onnx, prefixed]) {
      assert.deepEqual([...other.weights.keys()], [...pylate.weights.keys()]);
      for (const [name, w] of pylate.weights) assert.deepEqual(other.weights.get(name)?.data, w.data, name);
    }
    assert.deepEqual(onnx.dense[0]?.weight, pylate.dense[0]?.weight);
    assert.ok(onnx.tokenizerFiles.has("tokenizer.json"));
  });

  test("a written XLM-R checkpoint is an XLM-R model folder that encodes exactly like its source, through both layouts", async (t) => {
    const src = await tinyModel(t, XLMR);
    const ckpt = readColbertCheckpoint(src);
    const out = path.join(tempDir(t), "exported");
    await writeColbertCheckpoint(out, ckpt, { producer: "test" });
    const config = JSON.parse(fs.readFileSync(path.join(out, "config.json"), "utf8")) as Record<string, unknown>;
    assert.deepEqual([config["model_type"], config["architectures"], config["pad_token_id"], config["type_vocab_size"]], ["xlm-roberta", ["XLMRobertaModel"], 1, 1]);
    const onnxConfig = JSON.parse(fs.readFileSync(path.join(out, "onnx_config.json"), "utf8")) as Record<string, unknown>;
    const tiny = JSON.parse(fs.readFileSync(path.join(await tinyModel(t, { ...XLMR, layout: "onnx" }), "onnx_config.json"), "utf8")) as Record<string, unknown>;
    for (const k of ["model_type", "mask_token_id", "pad_token_id", "uses_token_type_ids", "query_prefix_id", "document_prefix_id"]) assert.deepEqual(onnxConfig[k], tiny[k], k);
    assert.equal(onnxConfig["uses_token_type_ids"], false);
    assert.deepEqual(fs.readFileSync(path.join(out, "tokenizer.json")), fs.readFileSync(path.join(src, "tokenizer.json")));
    assert.deepEqual(readColbertCheckpoint(out).config, ckpt.config);
    // The two documents differ in length: the shorter is padded (id 1, position 1) in its batch.
    const reference = await encodeWith(src);
    assertClose(await encodeWith(out, "pylate"), reference, 1e-6);
    assertClose(await encodeWith(out, "onnx"), reference, 1e-5);
    // Without any graph, the safetensors backbone is converted on load with the same conventions.
    fs.rmSync(path.join(out, "onnx"), { recursive: true });
    fs.rmSync(path.join(out, "model.onnx"));
    fs.rmSync(path.join(out, "onnx_config.json"));
    assertClose(await encodeWith(out, "pylate"), reference, 1e-6);
  });
});
